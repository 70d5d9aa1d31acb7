import type { Dialect } from '../caffe/dialects.js';
import type { LayerParameter } from '../caffe/types.js';
import type { Converter } from '../onnx/context.js';
import { Tensor, type Shape, shapeString, sizeOf, viewOf, viewedShares } from '../tensor.js';
import { CremaError } from '../util/errors.js';

/**
 * One layer instance, split like Caffe's: `reshape` (shape inference and checks, run again whenever the
 * input shape changes) apart from `forward` (the compute). A layer is created once per net load.
 */
export interface Layer {
  /** Checks the bottom shapes (and the weights against them) and returns the top shapes. Throws LayerError. */
  reshape(bottoms: Shape[]): Shape[];
  /**
   * Computes the tops from the bottoms. Tops are preallocated with the shapes `reshape` returned.
   * When the layer is in place (top name == bottom name) the runtime passes the same Tensor as bottom and top
   * only if `inPlace` is true; otherwise it passes a scratch top and copies it back.
   */
  forward(bottoms: Tensor[], tops: Tensor[]): void;
  /** True when forward is correct with tops[i] === bottoms[i] (elementwise layers). */
  readonly inPlace?: boolean;
  /**
   * True when the layer only takes its bottoms in (no tops: Silence, HDF5Output): it does not count as their reader,
   * so they stay the net's outputs (graph.ts netOutputs).
   */
  readonly sink?: boolean;
  /**
   * The HDF5 file a sink writes its bottoms to after each whole forward of `crema run` and Net.run where the platform
   * writes files (HDF5Output; src/runtime/layer-files.ts): dataset `datasets[i]` holds bottom i as `dims` makes it.
   */
  readonly hdf5File?: { file: string; datasets: readonly string[]; dims(bottom: Shape): Shape };
  /** Multiply-adds of one forward at the current shapes (for `crema info`); 0 when not meaningful. */
  macs?(bottoms: Shape[], tops: Shape[]): number;
  /** What the layer accepts but does not do (a fork's side effects), for the net's notes. */
  readonly notes?: readonly string[];
  /**
   * Readies the weights for the fast kernels now (after the first reshape) rather than on the first forward,
   * so that the first forward runs at the speed of the next ones. Net.load calls it; optional.
   */
  prepare?(): void;
  /**
   * The most engine scratch (bytes) a forward at the current shapes asks for beyond the tables every layer's
   * kernels keep small, over 1 to `threads` active threads with blocks for `poolThreads` (Net.load writes that
   * much ahead, after prepare). Optional: a layer without it asks for none.
   */
  scratchBytes?(threads: number, poolThreads: number): number;
  /**
   * The forward sizes the tops, as a Caffe layer that reshapes its tops in Forward (py-faster-rcnn's Proposal: as
   * many rows as boxes survive NMS): the forward gets tops of the most rows (`mostTops`, else what `reshape` gives)
   * and gives each its rows with `keepRows`; the net then shapes the layers after it again (Net: growTops,
   * afterSizing).
   */
  readonly sizesTops?: boolean;
  /**
   * The forward starts from a state the last forward left in the layer (LSTM and RNN without expose_hidden, as
   * Caffe's): running it again is not running it as the forward did, and moves the state (verify's reruns skip it).
   */
  readonly carriesState?: boolean;
  /**
   * For a layer that carriesState: starts the next forward from the state a fresh layer has (zeros), and gives back
   * a function that puts the state it had back (verify runs a net as ONNX Runtime does, from zeros, and leaves the
   * net's sequence where it was).
   */
  freshState?(): () => void;
  /**
   * For a layer that sizes its tops: the most rows each can get at these bottoms, when `reshape` gives fewer (the
   * fork's set-up shapes: a cascade's stages would otherwise each multiply the rows the layers after them are
   * shaped for when the net loads).
   */
  mostTops?(bottoms: Shape[]): Shape[];
  /**
   * Whether the layer runs with bottom `i` at 0 items (a Filter that selected none) when its tops are not empty, as
   * Caffe runs it: a bottom it reads only the shape of (Crop's reference, PriorBox's), or Concat's (an empty bottom
   * adds no rows). Net.runLayer skips a layer with an empty bottom whose tops are empty, and refuses the rest.
   */
  takesEmpty?(i: number): boolean;
}

/** A top of a layer that `sizesTops`: its first `rows` rows (of the most its reshape gave) are its value. */
export function keepRows(top: Tensor, rows: number): void {
  top.dims = [rows, ...top.dims.slice(1)];
  top.data = viewOf(top.data, 0, sizeOf(top.dims));
}

/** What a layer may need to know of the net it is made in. */
export interface NetContext {
  dialect?: Dialect;
  /**
   * Each blob's first producer among the layers before this one (in-place layers do not replace it): for a layer
   * whose settings come from the net upstream of it (RCF's AutoCrop).
   */
  producers?: ReadonlyMap<string, LayerParameter>;
  /** LoadOptions.frcnnConfig: the text of makefile/frcnn's JSON config, for FrcnnProposal. */
  frcnnConfig?: string;
}

/** How a layer type is made. `weights` are the layer's blobs from the caffemodel (possibly empty). */
export interface LayerType {
  /** Caffe's type string, e.g. "Convolution". */
  type: string;
  create(def: LayerParameter, weights: Tensor[], net?: NetContext): Layer;
  /** Its ONNX export (optional: a type without one is refused by name by `convert`). */
  onnx?: Converter;
  /**
   * What ONNX Runtime's refusal of one of its nodes at run time (`status`, ONNX Runtime's Status Message) means in
   * Caffe's terms, where the layer knows (ArgMax's top_k above a size a Filter set): OnnxRunner throws it as the
   * layer's one line.
   */
  onnxRunFailure?(def: LayerParameter, status: string, bottomShapes: readonly Shape[]): string | undefined;
}

/** An error about one layer, naming it. */
export class LayerError extends CremaError {
  override name = 'LayerError';
  override readonly code: string = 'ERR_CREMA_LAYER';
  /** The layer's name ('' for an unnamed layer) and type. */
  readonly layer: string;
  readonly layerType: string;
  constructor(def: { name: string; type: string }, message: string) {
    super(`${def.name ? `layer '${def.name}'` : 'an unnamed layer'} (${def.type}): ${message}`);
    this.layer = def.name;
    this.layerType = def.type;
  }
}

/** The weight shapes each layer declared (through expectWeight) at its current bottom shapes. */
export const declaredWeights = new WeakMap<LayerParameter, Shape[]>();
/** The blobs (by index) a layer without weights took from its prototxt's fillers (graph.ts keeps them). */
export const filledWeights = new WeakMap<LayerParameter, Tensor[]>();

type Filler = { type?: string; value?: number; diag_val?: number[] };

/**
 * The filler the prototxt gives a layer's blob ("bias", or its weights, scale or slope) when it is written there and
 * its values are the net's own: a constant (FillerParameter's default type), bilinear (FCN-style upsampling
 * Deconvolutions, `lr_mult: 0`, often left out of a caffemodel) or FlowNet 2.0's diagonal (its deploy nets'
 * scale_conv1, in no released caffemodel); undefined otherwise: Caffe's default fillers and the
 * random ones (gaussian, xavier, msra, uniform) give values no run repeats.
 */
function fixedFiller(def: LayerParameter, what: string): Filler | undefined {
  if (def.type === 'Filter') return { type: 'constant', value: 1 }; // caffe-pro's LayerSetUp: a missing selector is ones
  const p = def as unknown as Record<string, Record<string, Filler | undefined> | undefined>;
  const bias = /(^|\s)bias$/.test(what) && def.type !== 'Bias'; // 'bias', 'the bias'; a Bias layer's own is its filler
  const filler = [p.convolution_param, p.inner_product_param, p.embed_param, p.scale_param, p.bias_param, p.prelu_param]
    .map((params) => (bias ? params?.bias_filler : (params?.weight_filler ?? params?.filler)))
    .find((x) => x !== undefined);
  return filler && ['constant', 'bilinear', 'diagonal'].includes(filler.type ?? 'constant') ? filler : undefined;
}

/**
 * The values `filler` gives a blob of `shape`, as Caffe 1.0's ConstantFiller and BilinearFiller (filler.hpp) fill it,
 * or lmb-freiburg/flownet2's DiagonalFiller: 0 but for output n's kernel over input n, diag_val[n] (else 1) / the
 * kernel's area.
 */
function fillValues(def: LayerParameter, what: string, filler: Filler, shape: Shape): Float32Array {
  const n = sizeOf(shape);
  if ((filler.type ?? 'constant') === 'constant') return new Float32Array(n).fill(filler.value ?? 0);
  if (filler.type === 'diagonal') return diagonalValues(filler.diag_val ?? [], shape);
  const [height, width] = shape.slice(-2);
  if (shape.length !== 4 || height !== width)
    throw new LayerError(def, `the bilinear filler of its ${what.replace(/^the /, '')} fills a 4-D blob of a square kernel (Caffe: "Filter must be square"), not ${shapeString(shape)}`);
  // Each step in float32 as Caffe's float Dtype computes it: the weights bit for bit (test/fixtures/fillers/bilinear).
  const f32 = Math.fround, f = Math.ceil(width / 2), c = f32((width - 1) / (2 * f));
  const tent = (x: number) => f32(1 - Math.abs(f32(f32(x / f) - c)));
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = f32(tent(i % width) * tent(Math.floor(i / width) % height));
  return values;
}

function diagonalValues(diag: readonly number[], shape: Shape): Float32Array {
  const values = new Float32Array(sizeOf(shape));
  const [num, channels, ...kernel] = shape.length >= 2 ? shape : [1, 1, ...shape], area = sizeOf(kernel);
  for (let o = 0; o < num && o < channels; o++) values.fill(Math.fround((diag[o] ?? 1) / area), area * (channels * o + o), area * (channels * o + o + 1));
  return values;
}

/**
 * Whether every blob the layer needs has a fixed filler in its prototxt (then it runs without weights from the
 * file, as in Caffe): its weights (or scale, slopes), and its bias when it has one (bias_term: Convolution's,
 * InnerProduct's and Embed's default true, Scale's false).
 */
export function prototxtFilled(def: LayerParameter): boolean {
  const p = def as unknown as Record<string, { bias_term?: boolean } | undefined>;
  const withBias = def.type === 'Scale' ? p.scale_param?.bias_term === true
    : ['PReLU', 'Bias', 'BatchNorm'].includes(def.type ?? '') ? false
    : (p.convolution_param ?? p.inner_product_param ?? p.embed_param)?.bias_term !== false;
  return def.type !== 'BatchNorm' && fixedFiller(def, 'weights') !== undefined && (!withBias || fixedFiller(def, 'bias') !== undefined);
}

/**
 * Checks a weight blob against the shape the layer needs and returns it with the needed dims.
 * Legacy (num, channels, height, width) blobs are matched right-aligned, as Caffe does: (1,1,N,K) fits (N,K).
 * A net loaded without any weights still infers shapes: the layer gets an empty placeholder, and the runtime
 * refuses to run a layer whose weights are missing (see `declaredWeights`).
 */
export function expectWeight(def: LayerParameter, weights: Tensor[], index: number, what: string, shape: Shape): Tensor {
  const declared = declaredWeights.get(def) ?? [];
  declared[index] = shape;
  declaredWeights.set(def, declared);
  const w = weights[index];
  if (!w && weights.length === 0) {
    // A layer the weights file leaves out: Caffe fills it from the prototxt's fillers. A constant or bilinear one is
    // the net's own value (colorization's conv8_313_rh: 2.606; an upsampling Deconvolution's), kept; any other stays
    // missing, refused when the layer runs.
    const filler = fixedFiller(def, what);
    if (!filler) return Object.assign(Object.create(Tensor.prototype) as Tensor, { type: 'float32', dims: shape, data: new Float32Array(0) });
    const filled = filledWeights.get(def) ?? [];
    filled[index] = new Tensor(shape, fillValues(def, what, filler, shape));
    filledWeights.set(def, filled);
    return filled[index];
  }
  const needed = shape.length ? shapeString(shape) : '[] (one value)'; // Caffe's 0-D blob (PReLU's shared slope)
  if (!w) throw new LayerError(def, `needs ${what} of shape ${needed} (blob ${index}) but the weights have none`);
  if (!fitsRightAligned(w.dims, shape) && !(viewedShares.has(w) && sizeOf(w.dims) === sizeOf(shape)))
    throw new LayerError(def, `${what} (blob ${index}) has shape ${shapeString(w.dims)} but the layer needs ${needed}`);
  // A legacy blob takes the layer's shape itself, as Caffe's Blob::FromProto(proto, reshape = false) keeps the
  // layer's: net.params then reads as pycaffe's (a V1 ip1's weights (10, 1024), its bias (10,), not 1 x 1 x 10 x 1024).
  // So does a PERMISSIVE sharer's view (its own tensor, made for it by shareParams): Caffe's layer keeps its shape.
  if (viewedShares.has(w) || w.dims.length !== shape.length) w.dims = shape;
  return w;
}

export function fitsRightAligned(have: Shape, want: Shape): boolean {
  if (sizeOf(have) !== sizeOf(want)) return false;
  // Skip leading 1s of the longer shape down to the other's length (indices, not shift(): linear in the axes).
  let i = 0, j = 0;
  while (have.length - i > want.length - j && have[i] === 1) i++;
  while (want.length - j > have.length - i && want[j] === 1) j++;
  if (have.length - i !== want.length - j) return false;
  for (; i < have.length; i++, j++) if (have[i] !== want[j]) return false;
  return true;
}

/** Throws a LayerError unless `cond` holds. */
export function need(def: LayerParameter, cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new LayerError(def, typeof message === 'string' ? message : message());
}

/**
 * Refuses the first of `shapes` (bottoms 0, 1, ... in order) that is not 4-D, in one wording for the layers that read
 * (N, C, H, W); `roles` names a bottom where it helps ('the score maps').
 */
export function need4d(def: LayerParameter, shapes: readonly Shape[], roles: readonly string[] = []): void {
  shapes.forEach((s, i) => need(def, s.length === 4, () => `bottom ${i}${roles[i] ? ` (${roles[i]})` : ''} must be 4-D (N, C, H, W), got ${shapeString(s)}`));
}

/** Refuse shapes whose element count is beyond this (2^31 floats = 8 GiB; Caffe: "blob size exceeds INT_MAX"). */
export const MAX_BLOB_ELEMENTS = 2 ** 31;

/**
 * Throws a LayerError unless `shape` is a blob crema can hold. inferShapes checks every top; a layer that builds
 * tables from its output size (Pooling's windows) checks before building them.
 */
export function needSaneShape(def: LayerParameter, top: string, shape: Shape): void {
  need(def, shape.every((d) => Number.isSafeInteger(d) && d >= 0) && sizeOf(shape) <= MAX_BLOB_ELEMENTS,
    () => `top '${top}' would have shape ${shapeString(shape)}, which is not a sane blob size`);
}

/** Checks the number of bottoms and tops against the allowed counts. */
export function expectCounts(def: LayerParameter, bottoms: [min: number, max: number], tops: [min: number, max: number]): void {
  const nb = def.bottom?.length ?? 0, nt = def.top?.length ?? 0;
  const range = ([lo, hi]: [number, number]) => (lo === hi ? `${lo}` : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`);
  need(def, nb >= bottoms[0] && nb <= bottoms[1], () => `takes ${range(bottoms)} bottom(s), got ${nb}`);
  need(def, nt >= tops[0] && nt <= tops[1], () => `gives ${range(tops)} top(s), got ${nt}`);
}

/** Caffe's CanonicalAxisIndex: a negative axis counts from the end. */
export function canonicalAxis(def: LayerParameter, axis: number, numAxes: number): number {
  need(def, axis >= -numAxes && axis < numAxes, `axis ${axis} is out of range for a ${numAxes}-D blob`);
  return axis < 0 ? axis + numAxes : axis;
}
