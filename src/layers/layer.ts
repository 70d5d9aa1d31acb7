import type { Dialect } from '../caffe/load.js';
import type { LayerParameter } from '../caffe/types.js';
import type { Converter } from '../onnx/context.js';
import { Tensor, type Shape, shapeString, sizeOf, viewedShares } from '../tensor.js';
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
   * For a layer that sizes its tops: the most rows each can get at these bottoms, when `reshape` gives fewer (the
   * fork's set-up shapes: a cascade's stages would otherwise each multiply the rows the layers after them are
   * shaped for when the net loads).
   */
  mostTops?(bottoms: Shape[]): Shape[];
}

/** A top of a layer that `sizesTops`: its first `rows` rows (of the most its reshape gave) are its value. */
export function keepRows(top: Tensor, rows: number): void {
  top.dims = [rows, ...top.dims.slice(1)];
  top.data = top.data.subarray(0, sizeOf(top.dims));
}

/** What a layer may need to know of the net it is made in. */
export interface NetContext {
  dialect?: Dialect;
  /**
   * Each blob's first producer among the layers before this one (in-place layers do not replace it): for a layer
   * whose settings come from the net upstream of it (RCF's AutoCrop).
   */
  producers?: ReadonlyMap<string, LayerParameter>;
}

/** How a layer type is made. `weights` are the layer's blobs from the caffemodel (possibly empty). */
export interface LayerType {
  /** Caffe's type string, e.g. "Convolution". */
  type: string;
  create(def: LayerParameter, weights: Tensor[], net?: NetContext): Layer;
  /** Its ONNX export (optional: a type without one is refused by name by `convert`). */
  onnx?: Converter;
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
/** The blobs (by index) a layer without weights took from its prototxt's constant fillers (graph.ts keeps them). */
export const filledWeights = new WeakMap<LayerParameter, Tensor[]>();

type Filler = { type?: string; value?: number; diag_val?: number[] };

/** The filler the prototxt writes for a layer's blob ("bias", or its weights, scale or slope), if any. */
function fillerOf(def: LayerParameter, what: string): Filler | undefined {
  const p = def as unknown as Record<string, Record<string, Filler | undefined> | undefined>;
  const bias = /(^|\s)bias$/.test(what) && def.type !== 'Bias'; // 'bias', 'the bias'; a Bias layer's own is its filler
  return [p.convolution_param, p.inner_product_param, p.embed_param, p.scale_param, p.bias_param, p.prelu_param]
    .map((params) => (bias ? params?.bias_filler : (params?.weight_filler ?? params?.filler)))
    .find((x) => x !== undefined);
}

/**
 * The constant the prototxt's filler gives a layer's blob ("bias", or its weights, scale or slope), when the filler is
 * written there and is a constant (FillerParameter's default type); undefined otherwise: Caffe's default fillers and
 * random ones are no values of the net's own.
 */
export function constantFiller(def: LayerParameter, what: string): number | undefined {
  const filler = fillerOf(def, what);
  if (!filler || (filler.type ?? 'constant') !== 'constant') return undefined;
  return filler.value ?? 0;
}

/**
 * The values a deterministic filler of the prototxt gives a blob of `shape`: a constant, or the 'diagonal' filler of
 * FlowNet 2.0's Caffe (lmb-freiburg/flownet2 filler.hpp DiagonalFiller; its deploy nets' scale_conv1, which no
 * caffemodel holds): 0 but for output n's kernel over input n, diag_val[n] (else 1) / the kernel's area. Undefined
 * for any other filler.
 */
function filledValues(def: LayerParameter, what: string, shape: Shape): Float32Array | undefined {
  const filler = fillerOf(def, what), type = filler?.type ?? 'constant';
  if (!filler || (type !== 'constant' && type !== 'diagonal')) return undefined;
  const values = new Float32Array(sizeOf(shape));
  if (type === 'constant') return values.fill(filler.value ?? 0);
  const [num, channels, ...kernel] = shape.length >= 2 ? shape : [1, 1, ...shape], area = sizeOf(kernel);
  for (let n = 0; n < num && n < channels; n++)
    values.fill(Math.fround((filler.diag_val?.[n] ?? 1) / area), area * (channels * n + n), area * (channels * n + n + 1));
  return values;
}

/**
 * Whether every blob the layer needs has a constant filler in its prototxt, or FlowNet's diagonal one (then it runs
 * without weights from the file, as in Caffe): its weights (or scale, slopes), and its bias when it has one (bias_term: Convolution's,
 * InnerProduct's and Embed's default true, Scale's false).
 */
export function constantFilled(def: LayerParameter): boolean {
  const p = def as unknown as Record<string, { bias_term?: boolean } | undefined>;
  const withBias = def.type === 'Scale' ? p.scale_param?.bias_term === true
    : ['PReLU', 'Bias', 'BatchNorm'].includes(def.type ?? '') ? false
    : (p.convolution_param ?? p.inner_product_param ?? p.embed_param)?.bias_term !== false;
  const filled = (what: string) => {
    const filler = fillerOf(def, what);
    return filler !== undefined && ['constant', 'diagonal'].includes(filler.type ?? 'constant');
  };
  return def.type !== 'BatchNorm' && filled('weights') && (!withBias || filled('bias'));
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
    // A layer the weights file leaves out: Caffe fills it from the prototxt's fillers. A constant one is the net's
    // own value (colorization's conv8_313_rh: 2.606), kept; any other stays missing, refused when the layer runs.
    const values = filledValues(def, what, shape);
    if (values === undefined) return Object.assign(Object.create(Tensor.prototype) as Tensor, { type: 'float32', dims: shape, data: new Float32Array(0) });
    const filled = filledWeights.get(def) ?? [];
    filled[index] = new Tensor(shape, values);
    filledWeights.set(def, filled);
    return filled[index];
  }
  if (!w) throw new LayerError(def, `needs ${what} of shape ${shapeString(shape)} (blob ${index}) but the weights have none`);
  if (!fitsRightAligned(w.dims, shape) && !(viewedShares.has(w) && sizeOf(w.dims) === sizeOf(shape)))
    throw new LayerError(def, `${what} (blob ${index}) has shape ${shapeString(w.dims)} but the layer needs ${shapeString(shape)}`);
  return w.dims.length === shape.length && !viewedShares.has(w) ? w : new Tensor(shape, w.data);
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
