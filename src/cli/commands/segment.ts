import os from 'node:os';
import type { Argv } from 'yargs';
import { DEMO_MEAN, type DenseOptions, type Segmentation, checkDenseNet, colourLabels, edgesDialectOf, segmentClassLine, segmentImage, vocPalette } from '../../detect/dense.js';
import type { Forward } from '../../detect/forward.js';
import { onnxForwardOf } from '../../detect/forward.js';
import type { FloatImage } from '../../image/image.js';
import { IMAGE_EXTENSIONS } from '../../image/load.js';
import { rgbPng } from '../../image/png.js';
import { inferShapes } from '../../graph/graph.js';
import { wasmEngine } from '../../kernels/wasm.js';
import type { Net } from '../../runtime/net.js';
import { CremaError } from '../../util/errors.js';
import { eachImage, type ImageLoop } from '../image-loop.js';
import { backendArg, commaNumbers, loadNetFor, netArgs, type NetArgs, printNotes, readLabels, threadsArg } from '../shared.js';
import { collectImages } from './classify.js';

export interface DenseArgs extends NetArgs {
  weights: string;
  images: string[];
  blob?: string;
  mean: string;
  json: boolean;
  output?: string;
  backend: 'native' | 'onnx';
}

interface SegmentArgs extends DenseArgs {
  labels?: string;
}

export const segmentCommand = {
  builder: (y: Argv) =>
    denseArgs(y)
      .option('blob', { type: 'string', default: 'score', describe: 'the class scores (N x C x H x W) whose argmax over C is the label map' })
      .option('labels', { type: 'string', describe: 'class names, one a line (line k: label k), for the summary' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object when done: {"images": [{"image", "width", "height", "map": {"width", "height"}, "classes": [{"label", "name"?, "pixels"}]}], "skipped": [{"image", "error"}]}' })
      .option('output', { alias: 'o', type: 'string', describe: 'write each label map in PASCAL VOC\'s colours as DIR/<name>.png (RGB, as infer.py saves it)' })
      .example('$0 segment voc-fcn8s/deploy.prototxt fcn8s-heavy-pascal.caffemodel street.jpg -o labels/', 'FCN-8s on PASCAL VOC (its files: no FCN model ships with crema)')
      .example('$0 segment voc-fcn8s/deploy.prototxt fcn8s-heavy-pascal.caffemodel photos/ --json --labels voc.txt', 'the classes in each photo, named, as one JSON object')
      .epilog("As FCN's infer.py (shelhamer/fcn.berkeleyvision.org): the image's bytes as PIL reads them (a JPEG's EXIF orientation not applied) as float32, BGR, less the mean (in float64), the net reshaped to the image's size, each pixel's class the first maximum of the score over its channels; -o colours it by vis.make_palette (PASCAL VOC's colour map) as an RGB PNG. A score that is not the image's size (a net that does not crop back to its input) is said and kept at its size. Images that cannot be read are reported on stderr and skipped; the exit code is then 1 (2 if none could be read)."),
  handler: async (args: SegmentArgs) => {
    const names = args.labels === undefined ? undefined : readLabels(args.labels);
    await denseLoop(args, 'segment', (net, options, forward) => {
      const channels = net.shapes.get(args.blob!)?.[1];
      if (names && channels !== undefined && names.length !== channels)
        console.error(`warning: ${args.labels} has ${names.length} labels, the net's '${args.blob}' has ${channels} classes`);
      return {
        label: 'segment', key: 'classes',
        found: async (image: FloatImage) => [await segmentImage(net, image, options, forward)],
        text: (file: string, image: FloatImage, [s]: Segmentation[]) => describe(file, image, s, args.blob!, names),
        draw: (_: FloatImage, [s]: Segmentation[]) => rgbPng(s.width, s.height, colourLabels(s.labels, vocPalette(s.channels))),
        jsonOf: ([s]: Segmentation[]) => ({ map: { width: s.width, height: s.height }, classes: s.classes.map((c) => ({ label: c.label, ...(names ? { name: names[c.label] ?? null } : {}), pixels: c.pixels })) }),
      };
    });
  },
};

/** The options segment and edges share: the net's, the images, --mean, --backend. */
export function denseArgs(y: Argv) {
  return backendArg(threadsArg(netArgs(y)))
    .positional('images', { type: 'string', array: true, describe: 'image files (.jpg .jpeg .png .webp) or directories (walked)' })
    .option('mean', { type: 'string', default: DEMO_MEAN.join(','), describe: 'the mean subtracted, B,G,R (the demos\' default)' });
}

/** What segment and edges do with each image (the rest of the loop is theirs alike). */
type DenseLoop<T> = Pick<ImageLoop<T>, 'label' | 'key' | 'found' | 'text' | 'draw' | 'jsonOf'>;

/** Loads the net (natively or into ONNX Runtime), checks it has the blob, then runs `loop` on each image. */
export async function denseLoop<T>(args: DenseArgs, kind: 'segment' | 'edges', make: (net: Net, options: DenseOptions, forward?: Forward) => DenseLoop<T>): Promise<void> {
  const options = { blob: args.blob, mean: parseMean(args.mean) }; // the mean before the net is read
  const files = collectImages(args.images);
  if (files.length === 0) throw new CremaError(`${args.images.join(', ')}: no image files in it (crema reads ${IMAGE_EXTENSIONS.join(' ')})`);
  // edges: HED's Crops without crop_param in the hed dialect unless --dialect is given, decided in the one load.
  // Not prepared: each image reshapes the net, so what a prepare makes for the prototxt's shape (blobs, packed
  // weights, Winograd's U) goes unused; the first forward at each size makes what that size runs.
  const net = await loadNetFor(args, args.backend === 'native', kind === 'edges' ? edgesDialectOf('--dialect hed') : undefined, false);
  printNotes(net, args);
  const blob = checkDenseNet(net, kind, args.blob); // before any image is read
  if (args.backend === 'native') net.keepBlobs = [blob]; // the other blobs' storage reused as the forward goes
  const sessions = args.backend === 'onnx' ? new (await import('../../onnx/run.js')).OnnxSessions(net, { threads: args.threads, anySize: true }) : undefined;
  const loop = make(net, options, sessions ? onnxForwardOf(sessions) : undefined);
  const check = sessions ? undefined : blobRoomCheck(net);
  await eachImage({ ...loop, check, files, geo: { channels: 3, height: 1, width: 1 }, json: args.json, output: args.output, upright: false }, async () => sessions?.release());
}

const gib = (bytes: number): string => (bytes < 2 ** 30 ? `${Math.ceil(bytes / 2 ** 20)} MiB` : `${(bytes / 2 ** 30).toFixed(1)} GiB`);

/**
 * Refuses, before its forward, an image at whose size the net's blobs cannot fit in the wasm kernels' memory: HED
 * on a phone's 3000 x 2000 photo ran 46 s of layers before the heap said it could not fit 1558 MiB more, naming
 * no image. The blobs' bytes come from the shapes alone (the graph shaped to the image and back, nothing allocated),
 * once per image size: a folder of photos from one camera shapes the graph once, not twice an image before the
 * forward's own reshape. What fits is the memory's limit less what is held, the net's blobs at their present size
 * counted as free.
 */
export function blobRoomCheck(net: Net): (image: FloatImage) => void {
  const needs = new Map<string, number>(); // the blobs' bytes by image size, "height x width"
  return (image) => {
    const heap = wasmEngine()?.heap;
    if (!heap) return; // CREMA_KERNELS=js: blobs in JavaScript, bounded by the graph's 16 GiB only
    const size = `${image.height} x ${image.width}`;
    let need = needs.get(size);
    if (need === undefined) needs.set(size, (need = blobBytesAt(net, image)));
    const fits = heap.limit - heap.used + blobBytes(net);
    if (need > fits) throw new CremaError(tooLarge(image, need, fits));
  };
}

/**
 * The refusal, its claims checked by hand (round fifty-one, 1 x 1 convolutions of 3, 512, 3 channels at the real
 * 4 GiB): the size named is where the blobs alone fill the room (they grow with the pixels), so an upper bound, the
 * kernels taking scratch besides (at 1439 x 1439, the bound named for 1450 x 1450, that net ran); CREMA_KERNELS=js
 * keeps the blobs in JavaScript arrays, out of the wasm memory, and ran the refused 1450 x 1450 where this machine's
 * free memory held them (its peak resident size about the blobs' bytes).
 */
function tooLarge(image: FloatImage, need: number, fits: number): string {
  const side = Math.sqrt(fits / need);
  const free = os.freemem(); // MemAvailable on Linux
  const js = need < free ? `CREMA_KERNELS=js runs it in JavaScript, slower (its blobs take ${gib(need)}, this machine has ${gib(free)} free)` : `nor does this machine's free memory (${gib(free)}) hold them for CREMA_KERNELS=js, which keeps them in JavaScript`;
  return `${image.width} x ${image.height}: the net's blobs at this size need ${gib(need)}, the wasm kernels' memory has room for ${gib(fits)}: use a smaller image (below about ${Math.floor(image.width * side)} x ${Math.floor(image.height * side)} the blobs fit, the kernels' scratch besides); ${js}`;
}

/** The bytes of the net's blobs at their present shapes (the memory plan's, as the dense commands keep one blob). */
const blobBytes = (net: Net): number => net.blobBytes();

/** The bytes of the net's blobs with the image as its input, the graph shaped back after (the graph's 16 GiB bound refuses there). */
function blobBytesAt(net: Net, image: FloatImage): number {
  const input = net.inputs[0], before = net.graph.blobShapes.get(input)!;
  inferShapes(net.graph, { [input]: [1, 3, image.height, image.width] });
  try {
    return blobBytes(net);
  } finally {
    inferShapes(net.graph, { [input]: before });
  }
}

/** --mean B,G,R: three numbers. */
export function parseMean(text: string): [number, number, number] {
  const v = commaNumbers(text);
  if (v.length !== 3 || !v.every(Number.isFinite)) throw new CremaError(`--mean: B,G,R, three numbers (the demos': ${DEMO_MEAN.join(',')}), got '${text}'`);
  return v as [number, number, number];
}

function describe(file: string, image: FloatImage, s: Segmentation, blob: string, names?: string[]): string {
  const lines = [`---------- Classes in ${file} (${image.width} x ${image.height}) ----------`];
  if (s.width !== image.width || s.height !== image.height)
    lines.push(`(the score '${blob}' is ${s.width} x ${s.height}, not the image's size: labels at its size)`);
  const total = s.width * s.height;
  for (const c of s.classes) lines.push(`${' '.repeat(Math.max(0, 3 - String(c.label).length))}${segmentClassLine(c, total, names)}`);
  return lines.join('\n');
}

