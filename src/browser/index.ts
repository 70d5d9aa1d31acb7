// crema's browser entry (package.json `exports` condition "browser"): the same engine as Node's, running in a Web
// Worker (the engine worker, crema-worker.js beside this bundle) so that a forward never blocks the page. A Net here
// has the library's asynchronous API: `await Net.load({ prototxt, weights })`, `await net.run(feeds)`, `dispose()`.
import type { Dialect } from '../caffe/dialects.js';
import { type ColorizeOptions, type DenseDetectOptions, type Detection, type DetectOptions, type EdgeDetectOptions, type EdgeMap, type Segmentation, checkColorizeOptions, checkDenseOptions, checkDetectOptions } from '../detect/options.js';
import { type FloatImage, isFloatImage } from '../image/image.js';
import { geometryOf } from '../image/preprocess.js';
import { checkEveryInput, checkFeeds, checkFetches } from '../runtime/feeds.js';
import { Tensor } from '../tensor.js';
import { CremaError, kindOf } from '../util/errors.js';
import { type Face, type FaceOptions, checkFaceOptions } from '../detect/options.js';
import { type Person, type PoseDetectOptions, type PosePartOptions, checkPoseOptions } from '../detect/pose-models.js';
import { checkNames, checkOptionKeys } from '../util/options.js';
import { SpareBuffers } from '../util/spare.js';
import { decodeImage } from './image.js';
import { readBlob } from './read.js';
import type { Backend, BrowserVerifyReport, EngineReady, FileNames, FlowResult, LayerInfo, LayerTiming, NetInfo, Reply, Request, TensorData } from './protocol.js';

export { decodeImage } from './image.js';
export { parseLabels } from '../detect/options.js';
export { readBlob } from './read.js';
export { fileChannels } from '../image/header.js';
export { geometryOf, preprocess, type InputGeometry, type PreprocessOptions } from '../image/preprocess.js';
export { tileGrid, type Picture } from '../image/grid.js';
export { seededInput } from '../verify/blobs.js';
export { Tensor, CremaError };
export type { Backend, BrowserVerifyReport, Detection, DetectOptions, Dialect, EngineReady, FileNames, FloatImage, FlowResult, LayerInfo, LayerTiming, NetInfo };
export { type Flow, fillFlowTemplate, floBytes, flowColors } from '../detect/flow.js';
export type { BlobVerdict } from '../verify/blobs.js';
export type { Face, FaceOptions, MtcnnOptions } from '../detect/options.js';
export type { Person, PoseDetectOptions, PoseModelName, PosePartOptions } from '../detect/pose-models.js';
export type { DenseDetectOptions, EdgeDetectOptions } from '../detect/options.js';
export type { EdgeMap, SegmentClass, Segmentation } from '../detect/options.js';
export type { PairResult } from '../verify/compare.js';

export interface EngineOptions {
  /**
   * Where onnxruntime-web (an optional peer dependency) is, for the ONNX backend and verify: the URL of its ESM build
   * (`ort.wasm.bundle.min.mjs`, with `ort-wasm-simd-threaded.wasm` beside it; `crema ui` serves them at `/ort/`),
   * absolute or relative to the page (`'/ort/ort.wasm.bundle.min.mjs'`).
   * Default: the module 'onnxruntime-web/wasm', as the application's bundler resolves it.
   */
  onnxRuntime?: string | URL;
  /**
   * Where h5wasm (an optional peer dependency) is, for HDF5 weights: the URL of its ESM build (`hdf5_hl.js`, with
   * `hdf5_util.js` beside it; `crema ui` serves them at `/h5wasm/`), absolute or relative to the page. Default: the module 'h5wasm', as the
   * application's bundler resolves it.
   */
  h5wasm?: string | URL;
}

/**
 * A module's URL as the page means it: a relative one ('/ort/ort.wasm.bundle.min.mjs', 'ort/…') against the page's
 * base, made absolute here because the worker imports it, which would resolve it against crema-worker.js's URL (and
 * cannot use a root-relative URL as the base of onnxruntime-web's .wasm files at all: "Invalid base URL").
 */
function pageUrl(url: string | URL | undefined, option: string): string | undefined {
  if (url === undefined) return undefined;
  const base = (globalThis as { document?: { baseURI: string } }).document?.baseURI ?? (globalThis as { location?: { href: string } }).location?.href;
  try {
    return new URL(url, base).href;
  } catch {
    throw new CremaError(`new Engine: options.${option} '${String(url)}' is not a URL (absolute, or relative to the page)`);
  }
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** One engine worker; nets loaded on it run one request at a time. */
export class Engine {
  private readonly pending = new Map<number, Pending>();
  /** Input buffers the worker gave back after a forward, to copy the next inputs into (see SpareBuffers). */
  private readonly spare = new SpareBuffers();
  private nextId = 1;
  private failure: Error | undefined;
  /** How the engine computes (kernels, threads); resolves once the kernels are compiled. */
  readonly ready: Promise<EngineReady>;

  /** The URL of onnxruntime-web's module, when given (see EngineOptions). */
  readonly onnxRuntime: string | undefined;
  /** The URL of h5wasm's module, when given (see EngineOptions). */
  readonly h5wasm: string | undefined;

  constructor(
    readonly url: URL | string = new URL('./crema-worker.js', import.meta.url),
    options: EngineOptions = {},
  ) {
    checkOptionKeys(options, ['onnxRuntime', 'h5wasm'], 'new Engine');
    this.onnxRuntime = pageUrl(options.onnxRuntime, 'onnxRuntime');
    this.h5wasm = pageUrl(options.h5wasm, 'h5wasm');
    const worker = new Worker(url, { type: 'module', name: 'crema engine' });
    this.worker = worker;
    this.ready = new Promise<EngineReady>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<Reply>) => {
        const m = e.data;
        if ('ready' in m) resolve(m.ready);
        else if ('failed' in m) reject(this.fail(`the crema engine did not start: ${m.failed}`));
        else this.settle(m);
      };
      // A worker that cannot start (script missing, blocked, a syntax error) reports here: said, not swallowed.
      worker.onerror = (e) => {
        e.preventDefault();
        reject(this.fail(`the crema engine worker (${String(url)}) failed: ${e.message || 'it did not start (is crema-worker.js served beside crema.js?)'}`));
      };
    });
    this.ready.catch(() => undefined); // reported to every call instead
  }

  private readonly worker: Worker;

  private fail(message: string): Error {
    this.failure ??= new CremaError(message);
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    return this.failure;
  }

  private settle(m: Extract<Reply, { id: number }>): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok && m.spare) this.spare.keep(m.spare);
    if (m.ok) p.resolve(m.result);
    else p.reject(remoteError(m.error));
  }

  /** Sends a request; resolves with the engine's answer, rejects with its error (a CremaError for bad input). */
  async call<T>(req: Request, transfer: Transferable[] = []): Promise<T> {
    await this.ready;
    if (this.failure) throw this.failure;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, ...req }, transfer);
    });
  }

  /** @internal A copy of `data` to transfer to the worker, in a buffer it gave back when one has the size. */
  copyOf(data: Float32Array): Float32Array<ArrayBuffer> {
    return this.spare.copyOf(data);
  }

  /** Stops the worker: its nets and memory go with it. */
  terminate(): void {
    this.worker.terminate();
    this.fail('the crema engine was terminated');
  }
}

/** An error from the worker as the caller's: CremaError (bad input, one line) stays a CremaError. */
function remoteError(e: { name: string; message: string; code?: string }): Error {
  const err = e.name === 'CremaError' || e.name === 'LayerError' ? new CremaError(e.message) : new Error(e.message);
  if (e.code) Object.assign(err, { code: e.code });
  return err;
}

let defaultEngine: Engine | undefined;

/** The engine nets load on unless given one: started on first use. */
export function engine(): Engine {
  return (defaultEngine ??= new Engine());
}

/** A file for Net.load: its bytes, a Blob / File, or (for the prototxt) its text. */
export type NetSource = Uint8Array | ArrayBuffer | Blob | string;

/** A Net.load source's bytes (or text) to transfer to the worker; `name` names a Blob in errors (its file's, else its role). */
async function bytesOf(source: NetSource, role: string, name = role): Promise<Uint8Array | string> {
  if (typeof source === 'string') return source;
  if (source instanceof Uint8Array) return source.slice(); // a copy: it is transferred to the worker
  if (source instanceof ArrayBuffer) return new Uint8Array(source.slice(0));
  if (source instanceof Blob) return readBlob(source, name);
  throw new CremaError(`${role}: expected bytes (Uint8Array, ArrayBuffer, Blob) or text`);
}

/** An input: crema's Tensor, or a plain `{ dims, data }` of float32 (an onnxruntime-web Tensor is one). */
export type Feed = Tensor | { dims: readonly number[]; data: Float32Array; type?: string };

/** The feeds' copies for the worker (in buffers it gave back when it can: Engine's `spare`), and what to transfer. */
function feedData(engine: Engine, feeds: Record<string, Feed>): [Record<string, TensorData>, Transferable[]] {
  const out: Record<string, TensorData> = {};
  for (const [name, t] of Object.entries(feeds)) {
    if (!(t.data instanceof Float32Array)) throw new CremaError(`input '${name}': float32 data only (got ${(t.data as unknown as object)?.constructor?.name ?? typeof t.data})`);
    out[name] = { dims: [...t.dims], data: engine.copyOf(t.data) };
  }
  return [out, Object.values(out).map((t) => t.data.buffer as ArrayBuffer)];
}

/** An image argument decoded (`color`: in colour) or, when already decoded, copied: its data is transferred to the worker and the caller's stays whole. */
async function imageCopy(image: FloatImage | Blob | ArrayBuffer | Uint8Array, color: boolean, what: string, upright = true): Promise<FloatImage> {
  if (isFloatImage(image)) return { ...image, data: image.data.slice() };
  if (image instanceof Blob || image instanceof ArrayBuffer || image instanceof Uint8Array) return decodeImage(image, color, 'image', upright);
  throw new CremaError(`${what}: the image is decodeImage's result, a Blob or bytes (Uint8Array, ArrayBuffer), got ${kindOf(image)}`);
}

/** A Caffe net running in the engine worker. */
export class Net {
  private disposed = false;

  private constructor(
    readonly engine: Engine,
    readonly info: NetInfo,
  ) {}

  /**
   * Loads a net from its files' bytes (or the prototxt's text). Errors name a File by its name, other bytes as
   * "weights (Uint8Array, 1.2 MB)" unless `names` gives them one. `dialect`, `lenient`, `dataShapes` and `warn`: as the Node
   * library's (LoadOptions): a fork's fields skipped, each told to `warn` once the net has loaded. `edgesDialect`: without
   * `dialect`, a net that Net.edges runs (info.dense 'edges') whose every Crop lacks crop_param, as HED's, is read in
   * the hed dialect, as `crema edges` reads it, a note saying so (the page's Find edges; by default BVLC's Crop).
   * `frcnnConfig`: makefile/frcnn's JSON config (its text), for FrcnnProposal layers and their detect (LoadOptions').
   * `keepBlobs`: the Node library's memory plan (LoadOptions'): with a list, `run`'s `fetches` may name only the inputs,
   * the outputs and the blobs listed (another is refused in one line), the others' storage reused as the forward goes;
   * `verify` lays it aside for its forward.
   */
  static async load(
    files: { prototxt: NetSource; weights?: NetSource },
    options: {
      threads?: number;
      engine?: Engine;
      names?: FileNames;
      dialect?: Dialect;
      edgesDialect?: boolean;
      lenient?: boolean;
      dataShapes?: Record<string, number[]>;
      warn?: (message: string) => void;
      frcnnConfig?: string;
      keepBlobs?: 'all' | readonly string[];
    } = {},
  ): Promise<Net> {
    if (files === null || typeof files !== 'object' || !('prototxt' in files)) throw new CremaError(`Net.load: expected { prototxt, weights }, got ${kindOf(files)}${files && typeof files === 'object' ? " without 'prototxt'" : ''}`);
    checkOptionKeys(files, ['prototxt', 'weights'], 'Net.load({ prototxt, weights })');
    checkOptionKeys(options, ['threads', 'engine', 'names', 'dialect', 'edgesDialect', 'lenient', 'dataShapes', 'warn', 'frcnnConfig', 'keepBlobs'], 'Net.load');
    const e = options.engine ?? engine();
    const nameOf = (s: NetSource | undefined) => (typeof File !== 'undefined' && s instanceof File ? s.name : undefined);
    const names = { prototxt: options.names?.prototxt ?? nameOf(files.prototxt), weights: options.names?.weights ?? nameOf(files.weights) };
    const prototxt = await bytesOf(files.prototxt, 'prototxt', names.prototxt);
    const weights = files.weights === undefined ? undefined : ((await bytesOf(files.weights, 'weights', names.weights)) as Uint8Array);
    const transfer = [prototxt, weights].filter((b): b is Uint8Array => b instanceof Uint8Array).map((b) => b.buffer as ArrayBuffer);
    const { dialect, edgesDialect, lenient, dataShapes, frcnnConfig, keepBlobs } = options;
    if (frcnnConfig !== undefined && typeof frcnnConfig !== 'string') throw new CremaError(`Net.load: options.frcnnConfig is the config's text, got ${kindOf(frcnnConfig)}`);
    const info = await e.call<NetInfo>({ op: 'load', prototxt, weights, names, threads: options.threads ?? (await e.ready).threads, dialect, edgesDialect, lenient, dataShapes, frcnnConfig, keepBlobs, h5wasm: e.h5wasm }, transfer);
    for (const w of info.warnings ?? []) options.warn?.(w);
    return new Net(e, info);
  }

  get inputs(): string[] {
    return this.info.inputs;
  }
  get outputs(): string[] {
    return this.info.outputs;
  }
  /** Every blob's shape, in net order. */
  get shapes(): Map<string, number[]> {
    return new Map(Object.entries(this.info.blobs));
  }
  get layers(): LayerInfo[] {
    return this.info.layers;
  }

  private call<T>(req: Request, transfer?: Transferable[]): Promise<T> {
    if (this.disposed) return Promise.reject(new CremaError('this net was disposed'));
    return this.engine.call<T>(req, transfer);
  }

  /**
   * A forward pass; resolves with fresh tensors of the outputs (or of the blobs in `fetches`). `backend: 'onnx'`
   * runs the net converted to ONNX in onnxruntime-web instead of crema's engine (`crema run --backend onnx`).
   */
  async run(feeds: Record<string, Feed>, options: { fetches?: string[]; backend?: Backend } = {}): Promise<Record<string, Tensor>> {
    checkFeeds(feeds, 'run');
    checkOptionKeys(options, ['fetches', 'backend'], 'run');
    checkNames(options.fetches, 'run: options.fetches');
    checkEveryInput(this.inputs, (n) => this.info.blobs[n], feeds);
    checkFetches(options.fetches, this.shapes);
    const [data, transfer] = feedData(this.engine, feeds);
    const { fetches, backend } = options;
    const out = await this.call<Record<string, TensorData>>({ op: 'run', net: this.info.id, feeds: data, fetches, backend, ort: this.engine.onnxRuntime }, transfer);
    return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, new Tensor(t.dims, t.data)]));
  }

  /**
   * The objects an SSD- or YOLO-style net (a detection layer) or a Faster R-CNN net (a Proposal layer) finds in an
   * image, as the Node library's `detect` and `crema detect` find them (the same code, in the engine worker): the
   * image prepared with the options (threshold, labels, the preprocessing, scale / maxSize for Faster R-CNN, pyramid
   * for SSH, quadNms), boxes in its pixels. `image`: decoded (decodeImage), or a file's bytes decoded here. `backend: 'onnx'`
   * runs the forward in onnxruntime-web (the net converted once; a Faster R-CNN net again for each image size).
   */
  async detect(image: FloatImage | Blob | ArrayBuffer | Uint8Array, options: DetectOptions = {}): Promise<Detection[]> {
    checkDetectOptions(options);
    const decoded = await imageCopy(image, this.colorInput(), 'detect');
    // The options are copied as a message copies them (a mean image's Tensor arrives as its dims and data).
    return this.call({ op: 'detect', net: this.info.id, image: decoded, options, ort: this.engine.onnxRuntime }, [decoded.data.buffer]);
  }

  /**
   * The people an OpenPose net (BODY_25, COCO, MPI, BODY_25B, BODY_135) finds in an image, as the Node library's `detectPoses` and
   * `crema pose` find them (the same code, in the engine worker): per person [x, y, score] a part, in the image's
   * pixels. Options: netResolution ([width, height], one may be -1; default [-1, 368]), model, backend ('onnx':
   * onnxruntime-web, converted again for each net input size; each net its own), hand and face (OpenPose's hand and
   * face nets, Nets on this net's engine: each person's handLeft / handRight and face, as `crema pose --hand --face`),
   * handNetResolution and faceNetResolution (their inputs' sides, default 368), handScaleNumber and handScaleRange
   * (OpenPose's --hand_scale_number / --hand_scale_range: the hand net at several scales, default 1). `image`: decoded in colour, or a file's bytes.
   */
  async detectPoses(image: FloatImage | Blob | ArrayBuffer | Uint8Array, options: PoseDetectOptions & PosePartOptions<Net> = {}): Promise<Person[]> {
    checkPoseOptions(options, (n) => n instanceof Net);
    const { hand, face, ...rest } = options;
    // the worker runs the part nets beside the body's: they must live in its engine
    if ([hand, face].some((n) => n && n.engine !== this.engine)) throw new CremaError('detectPoses: the hand and face nets must be loaded on the body net\'s engine (Net.load(files, { engine }))');
    const parts = { ...(hand ? { hand: hand.info.id } : {}), ...(face ? { face: face.info.id } : {}) };
    const decoded = await imageCopy(image, true, 'detectPoses');
    return this.call({ op: 'pose', net: this.info.id, parts, image: decoded, options: rest, ort: this.engine.onnxRuntime }, [decoded.data.buffer]);
  }

  /**
   * An FCN net's label map of an image, as the Node library's `segment` and `crema segment` compute it (FCN's
   * infer.py; the same code, in the engine worker): each pixel's class, row by row, and the classes present. Options:
   * blob ('score'), mean (B, G, R), backend. `image`: decoded as PIL reads it (decodeImage(blob, true, name, false):
   * a JPEG's EXIF orientation not applied), or a file's bytes decoded so here.
   */
  async segment(image: FloatImage | Blob | ArrayBuffer | Uint8Array, options: DenseDetectOptions = {}): Promise<Segmentation> {
    checkDenseOptions(options, 'segment');
    const decoded = await imageCopy(image, true, 'segment', false);
    return this.call({ op: 'segment', net: this.info.id, image: decoded, options, ort: this.engine.onnxRuntime }, [decoded.data.buffer]);
  }

  /**
   * A HED or RCF net's edge map of an image, as the Node library's `edges` and `crema edges` compute it (the same
   * code, in the engine worker): channel 0 of 'sigmoid-fuse' at the image's size, float32 row by row (1: an edge).
   * Options: blob, mean, scales (RCF's multi-scale test), backend. `image` as for segment.
   */
  async edges(image: FloatImage | Blob | ArrayBuffer | Uint8Array, options: EdgeDetectOptions = {}): Promise<EdgeMap> {
    checkDenseOptions(options, 'edges');
    const decoded = await imageCopy(image, true, 'edges', false);
    return this.call({ op: 'edges', net: this.info.id, image: decoded, options, ort: this.engine.onnxRuntime }, [decoded.data.buffer]);
  }

  /**
   * A photo colorized by the colorization net (colorization_deploy_v2.prototxt), as the Node library's `colorize` and
   * `crema colorize` make it (the same code, in the engine worker): RGB bytes (interleaved) of the image's size.
   * `image`: decoded in colour (decodeImage(blob, true)), or a file's bytes decoded here. Options: backend.
   */
  async colorize(image: FloatImage | Blob | ArrayBuffer | Uint8Array, options: ColorizeOptions = {}): Promise<{ width: number; height: number; data: Uint8Array }> {
    checkColorizeOptions(options);
    const decoded = await imageCopy(image, true, 'colorize');
    return this.call({ op: 'colorize', net: this.info.id, image: decoded, options, ort: this.engine.onnxRuntime }, [decoded.data.buffer]);
  }

  /**
   * The optical flow from img0 to img1 through a FlowNet (info.flow), as the Node library's `flow` and `crema flow`
   * compute it (FlowNet 2.0's run-flownet.py; the same code, in the engine worker): a net loaded from its deploy
   * template is filled again for the images' size (and kept while the size holds: info and shapes follow it), a net
   * filled already takes images of its size. Both images of one size, decoded as scipy.misc.imread reads them (a
   * JPEG's EXIF orientation not applied: decodeImage(blob, true, name, false)), or a file's bytes decoded so here.
   * Resolves with the flow (height x width x 2, u then v per pixel) and its picture (RGB bytes, flow_vis's colours, as
   * `crema flow --png` draws it). Options: backend ('onnx': onnxruntime-web, converted again for each size).
   */
  async flow(img0: FloatImage | Blob | ArrayBuffer | Uint8Array, img1: FloatImage | Blob | ArrayBuffer | Uint8Array, options: { backend?: Backend } = {}): Promise<{ width: number; height: number; data: Float32Array; colors: Uint8Array }> {
    checkOptionKeys(options, ['backend'], 'flow');
    if (options.backend !== undefined && options.backend !== 'native' && options.backend !== 'onnx') throw new CremaError(`flow: options.backend is 'native' or 'onnx', got ${JSON.stringify(options.backend)}`);
    const images: [FloatImage, FloatImage] = [await imageCopy(img0, true, 'flow', false), await imageCopy(img1, true, 'flow', false)];
    const got = await this.call<FlowResult>({ op: 'flow', net: this.info.id, images, options, ort: this.engine.onnxRuntime }, images.map((im) => im.data.buffer));
    if (got.info) Object.assign(this.info, got.info); // the template filled for a new size: the net's shapes are its
    return { width: got.width, height: got.height, data: got.data, colors: got.colors };
  }

  /** Whether images are decoded in colour for this net: its first input has 3 channels (the Node library's detect asks the same). */
  private colorInput(): boolean {
    const input = this.inputs[0];
    return geometryOf(this.info.blobs[input] ?? [], input).channels === 3;
  }

  /**
   * `crema verify` in the browser: the net run by crema's engine and by onnxruntime-web on the same inputs, every
   * blob compared (max|native − onnx| ≤ tolerance · max(1, max|native|)).
   */
  async verify(feeds: Record<string, Feed>, options: { tolerance?: number } = {}): Promise<BrowserVerifyReport> {
    checkOptionKeys(options, ['tolerance'], 'verify');
    const [data, transfer] = feedData(this.engine, feeds);
    return this.call({ op: 'verify', net: this.info.id, feeds: data, tolerance: options.tolerance, ort: this.engine.onnxRuntime }, transfer);
  }

  /** Per-layer times (median of `iterations` forwards, after one warm-up), as `crema bench` measures them. */
  async timeLayers(feeds: Record<string, Feed>, iterations = 5): Promise<{ layers: LayerTiming[]; total_ms: number }> {
    const [data, transfer] = feedData(this.engine, feeds);
    return this.call({ op: 'time', net: this.info.id, feeds: data, iterations }, transfer);
  }

  /**
   * The net as an ONNX model (the bytes of a .onnx file), as `crema convert` writes it; `anySize` / `anyBatch`: its
   * height and width / its batch symbolic, refused in one line for a net that builds them in (`--any-size`).
   */
  async convert(options: { opset?: number; outputs?: 'net' | 'all'; anySize?: boolean; anyBatch?: boolean } = {}): Promise<Uint8Array> {
    checkOptionKeys(options, ['opset', 'outputs', 'anySize', 'anyBatch'], 'convert');
    return this.call({ op: 'convert', net: this.info.id, ...options });
  }

  /** Releases the net in the engine; using it afterwards is an error. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.engine.call({ op: 'dispose', net: this.info.id });
  }
}

/** MTCNN's nets, loaded on one engine: det1 (P-Net), det2 (R-Net), det3 (O-Net), and MTCNNv2's det4 (LNet). */
export interface MtcnnNets {
  pnet: Net;
  rnet: Net;
  onet: Net;
  lnet?: Net;
}

/**
 * The faces MTCNN finds in an image, as the Node library's `detectFaces` and `crema faces` find them (the same code,
 * in the engine worker): boxes in the image's pixels, O-Net's score, five landmarks. `image`: decoded in colour
 * (decodeImage(blob, true)), or a file's bytes decoded here. Options: minSize, thresholds, factor (the demo's), backend
 * ('onnx': each net in onnxruntime-web, P-Net converted again for each scale of the pyramid).
 */
export async function detectFaces(nets: MtcnnNets, image: FloatImage | Blob | ArrayBuffer | Uint8Array, options: FaceOptions = {}): Promise<Face[]> {
  checkFaceOptions(options);
  const roles = ['pnet', 'rnet', 'onet'] as const;
  if (nets === null || typeof nets !== 'object' || !roles.every((r) => nets[r] instanceof Net) || (nets.lnet !== undefined && !(nets.lnet instanceof Net)))
    throw new CremaError(`detectFaces: expected { pnet, rnet, onet } (and lnet for MTCNNv2), each a Net from Net.load, got ${kindOf(nets)}`);
  const all = [...roles.map((r) => nets[r]), ...(nets.lnet ? [nets.lnet] : [])];
  if (all.some((n) => n.engine !== nets.pnet.engine)) throw new CremaError('detectFaces: the nets must be loaded on one engine (Net.load(files, { engine }))');
  const decoded = await imageCopy(image, true, 'detectFaces');
  const ids = { pnet: nets.pnet.info.id, rnet: nets.rnet.info.id, onet: nets.onet.info.id, ...(nets.lnet ? { lnet: nets.lnet.info.id } : {}) };
  return nets.pnet.engine.call({ op: 'faces', nets: ids, image: decoded, options, ort: nets.pnet.engine.onnxRuntime }, [decoded.data.buffer]);
}

/**
 * The optical flow from img0 to img1 as the Node library's `flow(template, weights, img0, img1)` computes it: the
 * FlowNet's deploy template (or a net filled for the images' size) and its weights loaded on the engine, Net.flow,
 * the net released. For many pairs, load the net once (Net.load) and call its `flow` for each.
 */
export async function flow(
  files: { prototxt: NetSource; weights?: NetSource },
  img0: FloatImage | Blob | ArrayBuffer | Uint8Array,
  img1: FloatImage | Blob | ArrayBuffer | Uint8Array,
  options: { backend?: Backend; engine?: Engine; names?: FileNames } = {},
): Promise<{ width: number; height: number; data: Float32Array; colors: Uint8Array }> {
  checkOptionKeys(options, ['backend', 'engine', 'names'], 'flow');
  const net = await Net.load(files, { engine: options.engine, names: options.names });
  try {
    if (!net.info.flow) throw new CremaError(`flow: ${options.names?.prototxt ?? 'the net'} is no FlowNet deploy net (two image inputs and the blob 'predict_flow_final')`);
    return await net.flow(img0, img1, { backend: options.backend });
  } finally {
    await net.dispose();
  }
}
