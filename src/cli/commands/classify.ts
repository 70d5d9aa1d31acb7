import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { example } from '../examples.js';
import { type FloatImage } from '../../image/image.js';
import { IMAGE_EXTENSIONS, isImageFile, loadImage } from '../../image/load.js';
import { type InputGeometry, type PreprocessOptions, geometryOf, inputsPerImage, preprocessImage } from '../../image/preprocess.js';
import { Net } from '../../runtime/net.js';
import { Tensor } from '../../tensor.js';
import { CremaError } from '../../util/errors.js';
import { checkReadable } from '../../util/files.js';
import { EXIT_CHECK_FAILED, exitState } from '../main.js';
import { type ImageArgs, imageArgs, preprocessOptionsFrom } from '../preprocess-options.js';
import { type Progress, startProgress } from '../progress.js';
import { printJson } from '../json.js';
import { backendArg, checkPositive, labelsFor, loadNetFor, netArgs, type NetArgs, printNotes, threadsArg, topK } from '../shared.js';

interface ClassifyArgs extends NetArgs, ImageArgs {
  weights: string;
  images: string[];
  labels?: string;
  top: number;
  batch: number;
  json: boolean;
  backend: 'native' | 'onnx';
}

export const classifyCommand = {
  builder: (y: Argv) =>
    backendArg(imageArgs(threadsArg(netArgs(y))))
      .positional('images', { type: 'string', array: true, describe: 'image files (.jpg .jpeg .png .webp) or directories (walked)' })
      .option('labels', { type: 'string', describe: 'class names, one a line (default: labels.txt beside the net, if any)' })
      .option('top', { type: 'number', default: 5, describe: 'how many classes to print per image' })
      .option('batch', { type: 'number', default: 8, describe: 'images per forward pass' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object when done: {"images": [{"image", "top": [{"index", "label", "prob"}]}], "skipped": [{"image", "error"}]}' })
      .option('oversample', { type: 'boolean', group: 'Images:', describe: 'average 10 crops (corners, center, mirrored) as caffe.Classifier does' })
      .example(example('$0 classify models/lenet/deploy.prototxt models/lenet/weights.caffemodel models/lenet/examples/ --raw-scale 1'), 'digits (LeNet takes 0..1)')
      .example(example('$0 classify models/cifar10_full/deploy.prototxt models/cifar10_full/weights.caffemodel models/cifar10_full/examples/cat.jpg --channel-swap 0,1,2 --mean 125,123,114'), 'a photo (CIFAR-10 nets read RGB minus the data set\'s mean)')
      .example(example('$0 classify models/lenet/deploy.prototxt models/lenet/weights.caffemodel models/lenet/examples/ --raw-scale 1 --top 1 --json'), 'a directory, as one JSON object')
      .epilog('Images that cannot be read are reported on stderr and skipped; the exit code is then 1 (2 if none could be read).'),
  handler: async (args: ClassifyArgs) => {
    checkPositive('--batch', args.batch);
    checkPositive('--top', args.top);
    const files = collectImages(args.images);
    if (files.length === 0) throw new CremaError(`${args.images.join(', ')}: no image files in it (crema reads ${IMAGE_EXTENSIONS.join(' ')})`);
    const net = await loadNetFor(args, args.backend === 'native', undefined, undefined, []); // the output alone is read
    printNotes(net, args); // stderr: never mixed into --json output
    const input = net.inputs[0];
    if (!input) throw new CremaError(`${args.net}: the net has no input to feed images to`);
    const geo = geometryOf(net.shapes.get(input)!, input);
    const options = preprocessOptionsFrom(args, geo);
    const rows = Math.min(args.batch, files.length) * inputsPerImage(options); // a whole batch's forward
    const classifier: Classifier = { input, geo, options, labels: labelsFor(args, net), forward: await forwardWith(net, input, rows, args) };
    const progress = startProgress('classify', files.length, { unit: 'images' });
    const json: JsonResults<{ image: string; top: { index: number; label: string | null; prob: number }[] }> = { images: [], skipped: [] };
    let classified = 0, skipped = 0;
    try {
      for await (const result of classifyAll(classifier, files, args.batch, progress)) {
        if ('error' in result) {
          skipped++;
          json.skipped.push(result);
          progress.warn(`crema: skipped ${result.image}: ${result.error}`);
        } else {
          classified++;
          if (args.json) json.images.push({ image: result.image, top: topClasses(result.scores, args.top, classifier.labels) });
          else printResult(result, args.top, classifier.labels, progress);
        }
      }
    } finally {
      progress.stop();
      await classifier.forward.release?.();
    }
    if (classified === 0) throw new CremaError(`no image could be read (${skipped} skipped)`);
    if (args.json) printJson(json);
    if (skipped) exitState.code = EXIT_CHECK_FAILED;
  },
};

/** `--json` of classify and detect: one object when done, every image read, and those skipped with the reason. */
export interface JsonResults<T> {
  images: T[];
  skipped: { image: string; error: string }[];
}

interface Classifier {
  input: string;
  geo: InputGeometry;
  options: PreprocessOptions;
  labels?: string[];
  forward: Forward;
}

/** A batch in, the net's first output out (a row per input row): natively, or in ONNX Runtime. */
interface Forward {
  (batch: Tensor): Promise<Tensor>;
  release?: () => Promise<void>;
}

/**
 * ONNX Runtime runs a session made for one shape: a shorter batch (the last one, or one with images skipped) is
 * padded with zeros to `rows` and its rows of the output kept, rather than converting the net and making a session
 * again (ResNet-50: ~1 s, a few batches' work). Natively a shorter batch just reshapes the net.
 */
async function forwardWith(net: Net, input: string, rows: number, args: ClassifyArgs): Promise<Forward> {
  const output = net.outputs[0];
  if (args.backend === 'native') return async (batch) => net.forward({ [input]: batch })[output];
  const { OnnxSessions } = await import('../../onnx/run.js'); // the converter and ONNX Runtime: only when asked for
  const sessions = new OnnxSessions(net, { threads: args.threads, outputs: [output] });
  const forward = async (batch: Tensor): Promise<Tensor> => {
    const n = batch.dims[0];
    if (n === rows) return (await sessions.run({ [input]: batch })).get(output)!;
    const full = new Float32Array((batch.size / n) * rows);
    full.set(batch.data);
    const out = (await sessions.run({ [input]: new Tensor([rows, ...batch.dims.slice(1)], full) })).get(output)!;
    return new Tensor([n, ...out.dims.slice(1)], out.data.subarray(0, (out.size / rows) * n));
  };
  return Object.assign(forward, { release: () => sessions.release() });
}

type Result = { image: string; scores: Float32Array } | { image: string; error: string };

/** Files as given, directories walked (sorted, recursively) for image files. Missing paths become skip reports. */
export function collectImages(paths: string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(p);
    } catch {
      // missing, or under a file (ENOTDIR): loadOne says so, as a skip
    }
    if (stat?.isDirectory()) files.push(...walk(p));
    else files.push(p);
  }
  return files;
}

function walk(dir: string): string[] {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return entries.flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return isImageFile(p) ? [p] : [];
  });
}

/** Loads batch i+1 while batch i runs through the net (decoding runs on sharp's threads). */
async function* classifyAll(c: Classifier, files: string[], batch: number, progress: Progress): AsyncGenerator<Result> {
  const batches: string[][] = [];
  for (let i = 0; i < files.length; i += batch) batches.push(files.slice(i, i + batch));
  let next = batches.length ? loadBatch(batches[0], c.geo) : undefined;
  for (let b = 0; b < batches.length; b++) {
    const loaded = await next!;
    next = b + 1 < batches.length ? loadBatch(batches[b + 1], c.geo) : undefined;
    yield* await runBatch(c, batches[b], loaded);
    progress.tick(batches[b].length);
  }
}

function loadBatch(files: string[], geo: InputGeometry): Promise<(FloatImage | Error)[]> {
  return Promise.all(files.map((f) => loadOne(f, geo).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
}

/** One image file as pycaffe loads it (color or gray for the input), or an error saying why it cannot be read. */
export async function loadOne(file: string, geo: InputGeometry, upright = true): Promise<FloatImage> {
  checkReadable(file); // `no such file`, `permission denied`, ... before the name's extension is judged
  if (!isImageFile(file)) throw new Error(`not an image file (crema reads ${IMAGE_EXTENSIONS.join(' ')})`);
  return loadImage(file, geo.channels === 3, upright);
}

async function runBatch(c: Classifier, files: string[], loaded: (FloatImage | Error)[]): Promise<Result[]> {
  const crops = inputsPerImage(c.options);
  const size = c.geo.channels * c.geo.height * c.geo.width;
  const ok: { image: string; slot: number }[] = [];
  const data = new Float32Array(files.length * crops * size);
  const results: Result[] = files.map((image, i) => {
    const im = loaded[i];
    if (im instanceof Error) return { image, error: stripFile(im.message, image) };
    try {
      preprocessImage(im, c.geo, c.options, data, ok.length * crops * size);
    } catch (e) {
      return { image, error: e instanceof Error ? e.message : String(e) };
    }
    ok.push({ image, slot: ok.length });
    return { image, scores: new Float32Array(0) };
  });
  if (ok.length) {
    const batch = new Tensor([ok.length * crops, c.geo.channels, c.geo.height, c.geo.width], data.subarray(0, ok.length * crops * size));
    const out = await c.forward(batch);
    const classes = out.size / (ok.length * crops);
    let k = 0;
    for (const r of results) if ('scores' in r) r.scores = averageCrops(out.data, k++, crops, classes);
  }
  return results;
}

/** caffe.Classifier averages the predictions of an image's crops. */
function averageCrops(out: Float32Array, image: number, crops: number, classes: number): Float32Array {
  const scores = new Float32Array(classes);
  for (let j = 0; j < crops; j++) {
    const from = (image * crops + j) * classes;
    for (let i = 0; i < classes; i++) scores[i] += out[from + i];
  }
  if (crops > 1) for (let i = 0; i < classes; i++) scores[i] /= crops;
  return scores;
}

function stripFile(message: string, file: string): string {
  return message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
}

function topClasses(scores: Float32Array, k: number, labels: string[] | undefined): { index: number; label: string | null; prob: number }[] {
  return topK(scores, k).map(({ index, score }) => ({ index, label: labels?.[index] ?? null, prob: score }));
}

/** The layout of Caffe's examples/cpp_classification. */
function printResult(r: { image: string; scores: Float32Array }, k: number, labels: string[] | undefined, progress: Progress): void {
  progress.print(`---------- Prediction for ${r.image} ----------`);
  for (const { index, score } of topK(r.scores, k)) progress.print(`${score.toFixed(4)} - "${labels?.[index] ?? `class ${index}`}"`);
}
