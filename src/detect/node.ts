// The library's detect for Node: an image file or its bytes (read by sharp), run by crema's engine or, with
// `backend: 'onnx'`, by onnxruntime-node; the detection itself is detect.ts's, as the CLI's and the browser's.
import { loadImage } from '../image/load.js';
import { CremaError } from '../util/errors.js';
import { geometryOf } from '../image/preprocess.js';
import type { OnnxSessions } from '../onnx/run.js';
import { type FloatImage, isFloatImage } from '../image/image.js';
import { Net } from '../runtime/net.js';
import { Tensor, sizeOf } from '../tensor.js';
import { detectImage, detectOnnx } from './detect.js';
import type { Forward } from './forward.js';
import { type EdgeMap, type Segmentation, edgesInImage, segmentImage } from './dense.js';
import { onnxForwardOf } from './forward.js';
import { posesInImage } from './openpose.js';
import { type Person, type PoseDetectOptions, type PosePartOptions, checkPoseOptions } from './pose-models.js';
import { type ColorizeOptions, type Detection, type DetectOptions, checkBackend, checkColorizeOptions, checkDetectOptions, type DenseDetectOptions, type EdgeDetectOptions, checkDenseOptions } from './options.js';
import { colorizeImage } from './colorize.js';
import { type Flow, flowInputs } from './flow.js';
import { FlowNets, checkFlowNet, flowOfCheckedNet, onnxFlowForward } from './flow-net.js';
import { DISPARITY_BLOB, type Disparity, disparityInputs, disparityOf, fillDisparityTemplate, isDisparityTemplate } from './disparity.js';
import { parsePrototxt } from '../caffe/prototxt.js';
import { type Bytes, type Source, bytesOf, namingTemplate, resolveSource } from '../util/source.js';
import { checkOptionKeys } from '../util/options.js';

/**
 * Runs an SSD- or YOLO-style net (ending in a detection layer) on an image file or its bytes: pycaffe's
 * preprocessing (the same options as classify), then the detections scoring at least `threshold` (default 0.5; a
 * makefile/frcnn net's: its config's test_score_thresh),
 * in the image's pixels, as plain objects. A Faster R-CNN net (a Proposal layer, py-faster-rcnn's test net) runs
 * as py-faster-rcnn's im_detect and demo.py do (scale, maxSize; the boxes clipped to the image), an SSH net as its
 * demo.py does (its image pyramid; `pyramid: false`, its test.py at one scale). `backend: 'onnx'`
 * runs the forward in onnxruntime-node (the net converted once and kept until `net.dispose()`; a Faster R-CNN net
 * again for each new image size).
 */
export async function detect(net: Net, image: Source, options: DetectOptions = {}): Promise<Detection[]> {
  checkDetectOptions(options);
  const geo = geometryOf(net.shapes.get(net.inputs[0]) ?? [], net.inputs[0]);
  const decoded = await loadImage(image, geo.channels === 3);
  if (options.backend !== 'onnx') return detectImage(net, decoded, options);
  return inTurn(net, async () => detectOnnx(await sessionsOf(net), net, decoded, options));
}

/**
 * A photo colorized as the colorization demo does it (richzhang/colorization's colorize.py; colorize.ts): RGB bytes
 * (interleaved) of the image's size. The net is colorization_deploy_v2.prototxt's; its class8_ab layer needs no
 * weights. `backend: 'onnx'` runs the net in onnxruntime-node.
 */
export async function colorize(net: Net, image: Source, options: ColorizeOptions = {}): Promise<{ width: number; height: number; data: Uint8Array }> {
  checkColorizeOptions(options);
  const decoded = await loadImage(image, true);
  return { width: decoded.width, height: decoded.height, data: await byBackend(net, options.backend, (run) => colorizeImage(net, decoded, run)) };
}

/**
 * The people in an image file (or its bytes) as OpenPose finds them with its BODY_25, COCO or MPI net
 * (openpose.ts): per person a keypoint a part, [x, y, score] in the image's pixels ([0, 0, 0]: not found).
 * `backend: 'onnx'` runs the net in onnxruntime-node (converted again for each new net input size).
 */
export async function detectPoses(net: Net, image: Source, options: PoseDetectOptions & PosePartOptions<Net> = {}): Promise<Person[]> {
  checkPoseOptions(options);
  const { backend, ...rest } = options;
  const decoded = await loadImage(image, true);
  return byBackend(net, backend, (run) => posesInImage(net, decoded, rest, run));
}

/**
 * An image file's (or its bytes') label map as FCN's infer.py computes it (dense.ts): the net at the image's size,
 * each pixel's class the first maximum of the score blob ('score') over its channels, and the classes present.
 */
export async function segment(net: Net, image: Source, options: DenseDetectOptions = {}): Promise<Segmentation> {
  return dense(net, image, options, 'segment', segmentImage);
}

/**
 * An image file's (or its bytes') edge map as HED's tutorial and RCF's test compute it (dense.ts): the net at the
 * image's size, channel 0 of its 'sigmoid-fuse' (1: an edge); edgeBytes gives the PNG's bytes as RCF saves them.
 */
export async function edges(net: Net, image: Source, options: EdgeDetectOptions = {}): Promise<EdgeMap> {
  return dense(net, image, options, 'edges', edgesInImage);
}

async function dense<T, O extends DenseDetectOptions>(net: Net, image: Source, options: O, what: 'segment' | 'edges', core: (net: Net, image: FloatImage, options: Omit<O, 'backend'>, run?: Forward) => Promise<T>): Promise<T> {
  checkDenseOptions(options, what);
  const { backend, ...rest } = options;
  const decoded = await loadImage(image, true, false); // as PIL's Image.open: a JPEG's EXIF orientation not applied
  return byBackend(net, backend, (run) => core(net, decoded, rest, run));
}

/** A pipeline on crema's engine (its own default forward), or in turn through the net's onnxruntime-node sessions. */
function byBackend<T>(net: Net, backend: 'native' | 'onnx' | undefined, core: (run?: Forward) => Promise<T>): Promise<T> {
  if (backend !== 'onnx') return core();
  return inTurn(net, () => core(onnxEachNet));
}

/** Each net through its own sessions (OpenPose's body, hand and face nets in one pipeline). */
const onnxEachNet: Forward = async (net, input, outputs) => onnxForwardOf(await sessionsOf(net))(net, input, outputs);

/** Per net, the ONNX Runtime sessions its detections run in: converting the net for every image would dominate. */
const sessions = new WeakMap<Net, Promise<OnnxSessions>>();

function sessionsOf(net: Net): Promise<OnnxSessions> {
  net.usable(); // a disposed net, or one handed to its worker, says so (its sessions were released with it)
  let made = sessions.get(net);
  if (!made) {
    // onnxruntime-node is imported on first use only; the net releases the sessions when it goes (net.companions)
    made = import('../onnx/run.js').then(({ OnnxSessions }) => {
      const held = new OnnxSessions(net, { threads: net.threads, anySize: true });
      net.companions.add(held);
      return held;
    });
    sessions.set(net, made);
    made.catch(() => sessions.delete(net)); // a failure (onnxruntime-node missing) is said again next time
  }
  return made;
}

/** Per net, the last ONNX detection: the next waits for it (its sessions convert again for a new image size, releasing the old). */
const turns = new WeakMap<Net, Promise<unknown>>();

function inTurn<T>(net: Net, run: () => Promise<T>): Promise<T> {
  const next = (turns.get(net) ?? Promise.resolve()).then(run);
  turns.set(net, next.catch(() => undefined));
  return next;
}

export interface FlowOptions {
  backend?: 'native' | 'onnx';
  /** Threads for the native kernels or ONNX Runtime (default: one per core). */
  threads?: number;
  /** Called with each of the net's loading notes (weights left out, the flownet dialect taken): the CLI prints them. */
  onNote?: (note: string) => void;
}

/** A template (or filled net) and an image pair, both images decoded as the scripts read them (no EXIF rotation). */
async function templateAndPair(template: Source, img0: Source, img1: Source, fallback: [string, string]) {
  const source = resolveSource('template', template);
  const [a, b] = await Promise.all([loadImage(img0, true, false), loadImage(img1, true, false)]);
  // A path or file: URL names its image by its path (the URL's, resolved as loadImage read it); bytes by the fallback.
  const name = (img: Source, or: string): string => (typeof img === 'string' || img instanceof URL ? resolveSource('image', img).label : or);
  const names: [string, string] = [name(img0, fallback[0]), name(img1, fallback[1])];
  return { source, a, b, names, text: Buffer.from(bytesOf(source)).toString('utf8') };
}

/** The filled net loaded (prepared natively, or for ONNX Runtime); its errors name the template, whose lines it keeps. */
async function loadFilled(prototxt: Bytes, weights: Source | undefined, native: boolean, load: { threads?: number; dataShapes?: Record<string, number[]> }, template: string): Promise<Net> {
  return (native ? Net.load({ prototxt, weights }, load) : Net.loadUnprepared(prototxt, weights, load)).catch((err: unknown) => {
    throw namingTemplate(err, prototxt, template);
  });
}

/**
 * The optical flow from img0 to img1 as FlowNet 2.0's scripts/run-flownet.py computes it (flow.ts): `template` (a
 * deploy .prototxt.template's path or bytes) filled for the images' size, or a net already filled for it; `weights`
 * its caffemodel. Both images of one size, read as scipy.misc.imread reads them (no EXIF rotation). The flow is
 * height x width x 2 (u, v). `backend: 'onnx'` runs the net in onnxruntime-node. For many pairs, loadFlow.
 */
export async function flow(template: Source, weights: Source | undefined, img0: Source, img1: Source, options: FlowOptions = {}): Promise<Flow> {
  const nets = loadFlow(template, weights, options);
  try {
    return await nets.flow(img0, img1);
  } finally {
    await nets.dispose();
  }
}

/** A FlowNet kept loaded for many pairs (loadFlow). */
export interface FlowRunner {
  /** The flow from img0 to img1 (files, bytes, or loadImage's images read in colour), as flow() computes it. */
  flow(img0: Source | FloatImage, img1: Source | FloatImage): Promise<Flow>;
  /** Releases the net (and its ONNX Runtime sessions). */
  dispose(): Promise<void>;
}

/**
 * A FlowNet for many pairs, as FlowNet 2.0's scripts/run-flownet-many.py runs its list: `template` read once, the
 * net filled and loaded again only when the images' size changes (`crema flow --list`). Options as flow()'s;
 * `onNote` hears the first net's loading notes once. Pairs run one after another (await each).
 */
export function loadFlow(template: Source, weights: Source | undefined, options: FlowOptions = {}): FlowRunner {
  checkOptionKeys(options, ['backend', 'threads', 'onNote'], 'flow');
  checkBackend(options.backend, 'flow');
  const source = resolveSource('template', template);
  const native = options.backend !== 'onnx';
  const load = { threads: native ? options.threads : 1 };
  const sessions = new Map<Net, OnnxSessions>();
  let nets: FlowNets | undefined;
  const netsOf = () =>
    (nets ??= new FlowNets(bytesOf(source), source.label, (prototxt) => loadFilled(prototxt, weights, native, load, source.label), async (net) => {
      await sessions.get(net)?.release();
      sessions.delete(net);
    }));
  const decoded = (image: Source | FloatImage) => (isFloatImage(image) ? image : loadImage(image, true, false));
  return {
    flow: async (img0, img1) => {
      const [a, b] = await Promise.all([decoded(img0), decoded(img1)]);
      const name = (img: typeof img0, role: string) => (typeof img === 'string' ? img : role);
      const inputs = flowInputs(a, b, [name(img0, 'img0'), name(img1, 'img1')]);
      const flowNets = netsOf(), first = flowNets.loaded === 0;
      const net = await flowNets.netFor(a.width, a.height);
      checkFlowNet(net, a.height, a.width, source.label); // before the notes: a net refused tells none
      if (first) net.notes.forEach((note) => options.onNote?.(note));
      if (native) return flowOfCheckedNet(net, [inputs.img0, inputs.img1]);
      let held = sessions.get(net);
      if (!held) {
        const { OnnxSessions } = await import('../onnx/run.js');
        sessions.set(net, (held = new OnnxSessions(net, { threads: options.threads })));
      }
      return flowOfCheckedNet(net, [inputs.img0, inputs.img1], onnxFlowForward(held));
    },
    dispose: async () => nets?.dispose(),
  };
}

/** What a DispNet deploy net reads and writes: its ImageData tops (left, right) and the PFMWriter's bottom. */
interface DisparityWiring { images?: [string, string]; output: string }

/**
 * The template's ImageData layers (the left image's reads tmp/img1.txt, the right's tmp/img2.txt, as demo.py writes
 * them; else their order) and its PFMWriter's bottom.
 */
function disparityWiring(text: string, label: string): DisparityWiring {
  type Layer = { type?: string; top?: string[]; bottom?: string[]; image_data_param?: { source?: string } };
  const layers = ((parsePrototxt(text, label).layer ?? []) as Layer[]);
  const data = layers.filter((l) => l.type === 'ImageData' && l.top?.length);
  if (data.length > 2) throw new CremaError(`${label} has ${data.length} ImageData layers; a DispNet deploy net reads two images`);
  const bySource = (n: string) => data.find((l) => (l.image_data_param?.source ?? '').endsWith(`img${n}.txt`));
  const [left, right] = bySource('1') && bySource('2') ? [bySource('1')!, bySource('2')!] : data;
  const writer = layers.find((l) => l.type === 'PFMWriter' && l.bottom?.length);
  return { images: left && right ? [left.top![0], right.top![0]] : undefined, output: writer?.bottom?.[0] ?? DISPARITY_BLOB };
}

/**
 * The disparity of a stereo pair as DispNet's (or DispNetCorr1D's) demo.py computes it (disparity.ts): `template`
 * (model/deploy.tpl.prototxt's path or bytes) filled for the images' size, or a net already filled for it; `weights`
 * its caffemodel. Both images of one size, read as its ImageData reads them (OpenCV in colour, no EXIF rotation). The
 * disparity is what its PFMWriter writes: height x width, positive. `backend: 'onnx'` runs the net in onnxruntime-node.
 */
export async function disparity(template: Source, weights: Source | undefined, left: Source, right: Source, options: FlowOptions = {}): Promise<Disparity> {
  checkOptionKeys(options, ['backend', 'threads', 'onNote'], 'disparity');
  checkBackend(options.backend, 'disparity');
  const { source, a, b, names, text: raw } = await templateAndPair(template, left, right, ['left', 'right']);
  const images = disparityInputs(a, b, names);
  const text = isDisparityTemplate(raw) ? fillDisparityTemplate(raw, a.width, a.height, source.label) : raw;
  const wiring = disparityWiring(text, source.label);
  const shape = [1, 3, a.height, a.width];
  const native = options.backend !== 'onnx';
  const load = { threads: native ? options.threads : 1, ...(wiring.images ? { dataShapes: { [wiring.images[0]]: shape, [wiring.images[1]]: shape } } : {}) };
  const net = await loadFilled(Buffer.from(text), weights, native, load, source.label);
  try {
    const [l, r] = wiring.images ?? net.inputs;
    checkDisparityNet(net, [l, r], wiring.output, a.height, a.width, source.label);
    const feeds: Record<string, Tensor> = {};
    for (const input of net.inputs) feeds[input] = input === l ? images[0] : input === r ? images[1] : new Tensor(net.shapes.get(input)!, new Float32Array(sizeOf(net.shapes.get(input)!)));
    net.notes.forEach((note) => options.onNote?.(note));
    if (native) {
      net.forward(feeds);
      return disparityOf(net.blobs.get(wiring.output)!);
    }
    const { OnnxSessions } = await import('../onnx/run.js');
    const sessions = new OnnxSessions(net, { threads: options.threads });
    try {
      return disparityOf((await sessions.run(feeds, [wiring.output])).get(wiring.output)!);
    } finally {
      await sessions.release();
    }
  } finally {
    net.dispose();
  }
}

/** Refuses, naming `label`, a net that is not a DispNet deploy net filled for h x w images. */
function checkDisparityNet(net: Net, images: (string | undefined)[], output: string, h: number, w: number, label: string): void {
  for (const input of images) {
    const want = input === undefined ? undefined : net.shapes.get(input);
    if (!want || want[2] !== h || want[3] !== w)
      throw new CremaError(`${label}: ${input === undefined ? 'no second input' : `its input '${input}' is ${want ? want.join(' x ') : 'not an input'}`}, not 1 x 3 x ${h} x ${w}: give the template (with $TARGET_WIDTH ...) or a net filled for the images' size`);
  }
  // the ImageData labels (one value an image, read by Silence layers) are fed zeros
  const others = net.inputs.filter((i) => !images.includes(i) && net.shapes.get(i)!.length !== 1);
  if (others.length) throw new CremaError(`${label} has other inputs (${others.join(', ')}) than the two images and their labels`);
  const out = net.shapes.get(output);
  if (!out || out.length !== 4 || out[0] !== 1 || out[1] !== 1 || out[2] !== h || out[3] !== w)
    throw new CremaError(`${label} has no blob '${output}' of 1 x 1 x ${h} x ${w} (${out ? `it is ${out.join(' x ')}` : 'none'}): demo.py's PFMWriter writes the disparity from it`);
}
