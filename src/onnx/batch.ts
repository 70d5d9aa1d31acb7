// Whether a converted model serves every batch size, or every input height and width: Triton's max_batch_size and
// `crema convert --any-batch / --any-size` (src/onnx/triton.ts, src/cli/commands/convert.ts) and the ONNX backend's
// sessions (src/onnx/run.ts, OnnxSessions) ask. Both by one routine: convert the graph at other input shapes and
// compare the models, layer by layer, with the varying axes made symbolic.
import { type Graph, type GraphLayer, inferShapes } from '../graph/graph.js';
import { type Shape, shapeString } from '../tensor.js';
import { LayerError } from '../layers/layer.js';
import { CremaError } from '../util/errors.js';
import { type ConvertOptions, type LayerSpan, type OnnxConversion, convertGraph } from './convert.js';
import { DataType, type ModelObj, type NodeObj, type TensorObj, type ValueInfoObj } from './proto.js';

/** The graph at the given input shapes (shapes inferred again), as `crema convert` and the sessions reshape it. */
export type ReshapeTo = (shapes: Record<string, readonly number[]>) => Graph;

/**
 * ReshapeTo for a graph: its shapes inferred again, no buffer allocated (a Net's stay at its own shapes, which the
 * checks put back): a check at other sizes costs no memory of theirs.
 */
export function graphReshaper(graph: Graph): ReshapeTo {
  return (shapes) => {
    inferShapes(graph, shapes);
    return graph;
  };
}

/**
 * Undefined when `graph` converted at another batch size is the same model as `conversion` (its conversion at the
 * graph's own); else what differs, in one line. `reshape(batch)` gives the graph at that batch size (and back).
 */
export function batchDependence(graph: Graph, conversion: OnnxConversion, reshape: (batch: number) => Graph, options: ConvertOptions): string | undefined {
  const batch = graph.blobShapes.get(graph.inputs[0])?.[0];
  if (batch === undefined || graph.inputs.some((n) => graph.blobShapes.get(n)!.length === 0)) return 'the net has no batched input';
  const result = compareAt(graph, conversion, options, {
    what: 'batch size',
    variants: [batch + 1],
    reshape: (b) => reshape(b),
    restore: () => void reshape(batch),
    // A layer that takes one batch size (py-faster-rcnn's Proposal: one image's scores and its im_info) refuses the other.
    refused: (err) => `a layer takes no other batch size: ${err.message}`,
    stuck: (grown, blob) => (grown.blobShapes.get(blob)![0] !== batch + 1 ? `output '${blob}' does not follow the batch size` : undefined),
    free: (model) => freeBatchDimension(model),
  });
  return typeof result === 'string' ? result : undefined;
}

/** Makes dimension 0 of every graph input and output the symbolic "batch". */
export function freeBatchDimension(model: ModelObj): void {
  for (const v of [...model.graph.input, ...model.graph.output]) {
    const dims = v.type.tensor_type.shape?.dim as { dim_value?: number; dim_param?: string }[] | undefined;
    if (dims?.length) dims[0] = { dim_param: 'batch' };
  }
}

/**
 * sizeDependence's other sizes: two as steps to the height and width, odd and even, so that a pooling's rounding and
 * its clip go both ways; times m for a net that takes only multiples of m (a Reorg, or branches that meet after
 * strided layers: an FPN takes multiples of 32), the first m (1, 2, 4, ... 64, then those times the odd part of the
 * net's own step, sizeMultiples: a stride-3 Reorg takes multiples of 3) at which the net takes them. And the
 * size about doubled (in steps of m): a few pixels more vanish in a deep net's strides (age_net's 227 and 230 both
 * give pool5 7 x 7, so its fc6 takes both), twice as many reach every blob that is not a global pooling's.
 */
const SIZE_STEPS: readonly (readonly [number, number])[] = [[3, 5], [8, 1]];
/**
 * For a net whose every spatial input is square, when no multiple serves at SIZE_STEPS: the steps kept square (the
 * YOLOv2 fork's head reads a square grid, its side the width, and refuses others, as crema does). Odd and even.
 */
const SQUARE_STEPS: readonly (readonly [number, number])[] = [[3, 3], [8, 8]];
const SIZE_MULTIPLES = [1, 2, 4, 8, 16, 32, 64];
/** The odd step (oddSizeStep) beyond which no odd multiples are tried: 64 of them would reach 2^16 pixels. */
const MOST_ODD_STEP = 1024;
/** The least height and width sizeDependence also tries, for a net whose input is smaller (see `grownBy` in sizeVariation). */
const ROOMY = 64;

/** The output axes that vary with the input size (graph output name -> axes), for freeSizeDimensions. */
export type VaryingAxes = Map<string, number[]>;

/**
 * Undefined when `conversion` (the graph's, converted with `anySize`) is the model the graph converts to at every
 * input height and width (three others tried; for a square input, square ones when no others serve); else one line naming the first layer that builds the size in, or
 * refuses another. `reshape` gives the graph at other input shapes; the graph's own are put back.
 */
export function sizeDependence(graph: Graph, conversion: OnnxConversion, reshape: ReshapeTo, options: ConvertOptions): string | undefined {
  const result = sizeVariation(graph, conversion, reshape, options);
  return typeof result === 'string' ? result : undefined;
}

/**
 * sizeDependence, and where the model serves every size, frees its sizes (freeSizeDimensions): the line saying
 * why not, or undefined when done.
 */
export function freeSize(graph: Graph, conversion: OnnxConversion, reshape: ReshapeTo, options: ConvertOptions): string | undefined {
  const result = sizeVariation(graph, conversion, reshape, options);
  if (typeof result === 'string') return result;
  freeSizeDimensions(conversion.model, result);
  return undefined;
}

/** sizeDependence's answer: why not, or the output axes that vary (for freeSizeDimensions). */
export function sizeVariation(graph: Graph, conversion: OnnxConversion, reshape: ReshapeTo, options: ConvertOptions): string | VaryingAxes {
  const own = Object.fromEntries(graph.inputs.map((n) => [n, graph.blobShapes.get(n)!]));
  if (!graph.inputs.some((n) => own[n].length >= 3)) return 'the net has no input with a height or width (axes 2 and up)';
  // The inputs' shapes with each height and width (axes 2 and up, rank 3 or more) d at axis i as size(d, i).
  const sized = (size: (d: number, axis: number) => number) => Object.fromEntries(graph.inputs.map((n) => [n, own[n].map((d, i) => (i >= 2 && own[n].length >= 3 ? size(d, i) : d))]));
  const grown = (steps: readonly [number, number], m: number) => sized((d, i) => d + m * steps[(i - 2) % 2]);
  // Each d grown by `more(d)` rounded up to a multiple of m: about doubled (more = d), or to ROOMY and up.
  const grownBy = (m: number, more: (d: number) => number) => sized((d) => d + m * Math.ceil(more(d) / m));
  // A prototxt's placeholder input (OpenPose's hand and face nets: 1 x 1) stays a few pixels at the sizes above, where
  // a deep net's outputs are 1 wide at all of them and would be declared so: one size of ROOMY or more too.
  const small = graph.inputs.some((n) => own[n].length >= 3 && own[n].slice(2).some((d) => d < ROOMY));
  const square = graph.inputs.every((n) => own[n].length < 3 || own[n].slice(2).every((d) => d === own[n][2]));
  let deepest: { line: string; depth: number } | undefined;
  const multiples = sizeMultiples(graph);
  for (const [steps, m] of (square ? [SIZE_STEPS, SQUARE_STEPS] : [SIZE_STEPS]).flatMap((st) => multiples.map((m) => [st, m] as const))) {
    let refusal: { line: string; depth: number } | undefined;
    const result = compareAt(graph, conversion, { ...options, anySize: true }, {
      what: "input's size",
      variants: [...steps.map((step) => grown(step, m)), grownBy(m, (d) => d), ...(small ? [grownBy(m, (d) => Math.max(0, ROOMY - d))] : [])],
      reshape: (shapes) => reshape(shapes),
      restore: () => void reshape(own),
      refused: (err, at) => (refusal = { line: `at ${at}, ${err.message}`, depth: refusalDepth(graph, err) }).line,
      free: (model, varying) => freeSizeDimensions(model, varying),
    });
    if (!refusal) return result;
    // No multiple served: said for the layer the sizes got furthest to (SE-BN-Inception's Concat takes only
    // multiples of 32; at those, its classifier's InnerProduct refuses them, which is what binds it to one size;
    // a square net's first such refusal, at sizes that are not square, stands before one at square sizes).
    if (!deepest || refusal.depth > deepest.depth) deepest = refusal;
  }
  return deepest!.line;
}

/**
 * The multiples of the steps sizeVariation tries: SIZE_MULTIPLES, then (a net whose size step has an odd factor: a
 * stride-3 Reorg, a Slice into 3 parts, a stride of 3 or 5 before branches meet) those times that factor.
 */
function sizeMultiples(graph: Graph): number[] {
  const odd = oddSizeStep(graph);
  return odd > 1 && odd <= MOST_ODD_STEP ? [...SIZE_MULTIPLES, ...SIZE_MULTIPLES.map((m) => m * odd)] : SIZE_MULTIPLES;
}

/**
 * The odd part of the step of the input sizes the net's layers ask for (SIZE_MULTIPLES gives the powers of 2): the
 * lcm of what each needs of its bottom (a Reorg's stride, a spatial Slice's equal parts) times the strides from the
 * input to that bottom, and where spatial bottoms meet (an Eltwise, a Concat) the strides before each. An
 * overestimate costs nothing (a multiple of the step serves as well); past MOST_ODD_STEP it stays there + 1.
 */
function oddSizeStep(graph: Graph): number {
  const scale = new Map<string, number>(); // blob -> the odd part of the strides from the input to it (lcm over paths)
  let step = 1;
  for (const layer of graph.layers) {
    const spatial = layer.bottoms.filter((_, i) => layer.bottomShapes[i].length >= 3);
    const at = spatial.reduce((s, b) => oddLcm(s, scale.get(b) ?? 1), 1);
    if (new Set(spatial).size > 1) step = oddLcm(step, at);
    const { stride, parts } = layerStep(layer);
    step = oddLcm(step, at * oddLcm(parts, 1));
    for (const top of layer.tops) scale.set(top, oddLcm(at * stride, 1));
  }
  return step;
}

/**
 * The params that divide a bottom's height or width (their top's step is theirs times the bottom's): Convolution's
 * and Pooling's stride, stride_h and stride_w (a repeated stride of Convolution's too), C3D's temporal_stride (axis
 * 2 of its 5-D blobs), Interp's shrink_factor ((n - 1) / s + 1) and Correlation's stride_1 (its grid's step;
 * stride_2 spaces the displacements, not the grid). Kernel, pad and rounding move a size by a constant, not its step.
 */
const DIVIDING = ['stride', 'stride_h', 'stride_w', 'temporal_stride', 'shrink_factor', 'stride_1'];
/** Layers whose stride multiplies the size ((n - 1) s + k - 2p): their top steps as their bottom does. */
const MULTIPLYING = new Set(['Deconvolution', 'Deconvolution3D']);

/**
 * A layer's stride (DIVIDING's params, their odd parts' lcm) and the parts its bottom's height or width must divide
 * into (a Reorg's stride, a spatial Slice's equal parts).
 */
function layerStep({ type, def, tops, bottomShapes, topShapes }: GraphLayer): { stride: number; parts: number } {
  if (type === 'Slice') {
    const axis = bottomShapes[0]?.findIndex((d, i) => topShapes[0]?.[i] !== d) ?? -1;
    const points = (def.slice_param as { slice_point?: number[] } | undefined)?.slice_point ?? [];
    return { stride: 1, parts: axis >= 2 && points.length === 0 ? tops.length : 1 };
  }
  const params = Object.entries(def).filter(([k, v]) => k.endsWith('_param') && typeof v === 'object' && v !== null).map(([, v]) => v as Record<string, unknown>);
  if (MULTIPLYING.has(type) || params.some((p) => p.global_pooling === true)) return { stride: 1, parts: 1 };
  const strides = params.flatMap((p) => DIVIDING.map((k) => p[k]).flat()).filter((s): s is number => Number.isSafeInteger(s) && (s as number) > 0);
  const stride = strides.reduce(oddLcm, 1);
  if (type === 'Reorg') return (def.reorg_param as { reverse?: boolean } | undefined)?.reverse ? { stride: 1, parts: 1 } : { stride, parts: stride };
  return { stride, parts: 1 };
}

/** The lcm of the odd parts of a and b (positive safe integers), MOST_ODD_STEP + 1 when beyond it. */
function oddLcm(a: number, b: number): number {
  const [x, y] = [oddPart(a), oddPart(b)];
  return x > MOST_ODD_STEP || y > MOST_ODD_STEP ? MOST_ODD_STEP + 1 : Math.min((x / gcd(x, y)) * y, MOST_ODD_STEP + 1);
}

const oddPart = (x: number): number => (x % 2 === 0 && x > 0 ? oddPart(x / 2) : x);
const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));

/** The index of the layer that refused a size (-1 when the error names none), to tell how far the sizes got. */
function refusalDepth(graph: Graph, err: CremaError): number {
  return err instanceof LayerError ? graph.layers.findIndex((l) => l.name === err.layer && l.type === err.layerType) : -1;
}

/**
 * Makes axes 2 and up of every graph input of rank 3 or more symbolic ("height" and "width" when the net has one
 * such input of rank 4, else `<input>_<axis>`), and the output axes `varying` names: the input's symbol where the
 * output's size is an input's at every size tried (an FCN's score map), else `<output>_<axis>` (shared by the later
 * outputs of the same sizes: P-Net's two heads).
 */
export function freeSizeDimensions(model: ModelObj, varying: VaryingAxes): void {
  const spatial = model.graph.input.filter((v) => dimsOf(v).length >= 3);
  const symbols = new Map<string, string>(); // "<sizes at every shape tried>" -> symbol
  const single = spatial.length === 1 && dimsOf(spatial[0]).length === 4;
  for (const v of spatial) {
    const dims = dimsOf(v);
    for (let axis = 2; axis < dims.length; axis++) {
      const symbol = single ? (axis === 2 ? 'height' : 'width') : `${v.name}_${axis}`;
      const sizes = inputSizes.get(v)?.[axis];
      if (sizes) symbols.set(sizes, symbol);
      dims[axis] = { dim_param: symbol };
    }
  }
  for (const v of model.graph.output) {
    const dims = dimsOf(v), sizes = outputSizes.get(v), own = new Set<string>();
    for (const axis of varying.get(v.name) ?? []) {
      const key = sizes?.[axis], shared = key !== undefined ? symbols.get(key) : undefined;
      // Never one symbol for two axes of one output: its height and width can take the same sizes at every size
      // tried (colorization's class8_ab, a quarter of 227 x 229 and of 232 x 225 alike) and differ at others.
      const symbol = shared !== undefined && !own.has(shared) ? shared : `${v.name}_${axis}`;
      if (key !== undefined && shared === undefined) symbols.set(key, symbol); // a later output of the same sizes shares it
      own.add(symbol);
      dims[axis] = { dim_param: symbol };
    }
  }
}

// The sizes each input and output axis took over the shapes tried, as a key ("227,230,235"), recorded by compareAt
// on the model it checked, so that freeSizeDimensions can tell an output axis that is an input's.
const inputSizes = new WeakMap<ValueInfoObj, string[]>();
const outputSizes = new WeakMap<ValueInfoObj, string[]>();

type Dim = { dim_value?: number; dim_param?: string };
const dimsOf = (v: ValueInfoObj): Dim[] => (v.type.tensor_type.shape?.dim ?? []) as Dim[];

/** How the shapes vary, for compareAt. */
interface Variation<V> {
  /** What varies, in messages ("batch size", "input's size"). */
  what: string;
  variants: V[];
  /** The graph at a variant (shapes inferred again). */
  reshape(variant: V): Graph;
  /** Puts the graph's own shapes back. */
  restore(): void;
  /** The line for a layer that refuses a variant (`at`: the variant's input shapes). */
  refused(err: CremaError, at: string): string;
  /** Why a wanted blob does not vary as it must, if it does not. */
  stuck?(graph: Graph, blob: string): string | undefined;
  /** Makes the varying axes of a model symbolic. */
  free(model: ModelObj, varying: VaryingAxes): void;
}

/**
 * Converts the graph at each variant and compares with `conversion`, the varying axes of the outputs freed in both:
 * the output axes that vary when the models are the same, else the line naming the first layer whose nodes or
 * constants differ (or that refuses a variant). `conversion.model` is left as it was.
 */
function compareAt<V>(graph: Graph, conversion: OnnxConversion, options: ConvertOptions, v: Variation<V>): string | VaryingAxes {
  const others: OnnxConversion[] = [];
  try {
    for (const variant of v.variants) {
      let shaped: Graph;
      try {
        shaped = v.reshape(variant);
      } catch (err) {
        if (err instanceof CremaError) return v.refused(err, describeShapes(graph, variant));
        throw err;
      }
      const other = convertGraph(shaped, options);
      for (const blob of other.outputs.keys()) {
        const stuck = v.stuck?.(shaped, blob);
        if (stuck) return stuck;
      }
      others.push(other);
    }
  } finally {
    v.restore();
  }
  const mine = { ...conversion.model, graph: { ...conversion.model.graph, input: conversion.model.graph.input.map(clone), output: conversion.model.graph.output.map(clone) } };
  const models = [mine, ...others.map((o) => o.model)];
  const varying = varyingAxes(models);
  recordSizes(conversion.model, models);
  for (const m of models) v.free(m, varying);
  for (const [i, other] of others.entries()) {
    const differs = firstDifference(conversion, mine, other);
    if (differs) return `${differs.layer} builds the ${v.what} in (${differs.detail(describeShapes(graph, v.variants[i]))})`;
    if (JSON.stringify(mine.graph.input) !== JSON.stringify(other.model.graph.input) || JSON.stringify(mine.graph.output) !== JSON.stringify(other.model.graph.output))
      return `the converted graph's inputs or outputs have the ${v.what} built in`;
  }
  return varying;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Per graph output, the axes whose size is not the same in every model. */
function varyingAxes(models: ModelObj[]): VaryingAxes {
  const varying: VaryingAxes = new Map();
  models[0].graph.output.forEach((out, o) => {
    const axes = dimsOf(out).map((_, axis) => axis).filter((axis) => new Set(models.map((m) => dimsOf(m.graph.output[o])[axis]?.dim_value)).size > 1);
    if (axes.length) varying.set(out.name, axes);
  });
  return varying;
}

/** Records, on `model`'s own inputs and outputs, the sizes each axis took in `models` (for freeSizeDimensions). */
function recordSizes(model: ModelObj, models: ModelObj[]): void {
  const sizes = (pick: (m: ModelObj) => ValueInfoObj) => dimsOf(pick(model)).map((_, axis) => models.map((m) => dimsOf(pick(m))[axis]?.dim_value).join(','));
  model.graph.input.forEach((v, i) => inputSizes.set(v, sizes((m) => m.graph.input[i])));
  model.graph.output.forEach((v, i) => outputSizes.set(v, sizes((m) => m.graph.output[i])));
}

/** The variant's input shapes, for a message: "at [1, 3, 230, 232]" (the inputs that have a shape). */
function describeShapes(graph: Graph, variant: unknown): string {
  if (typeof variant === 'number') return `batch ${variant}`;
  const shapes = variant as Record<string, Shape>;
  const named = graph.inputs.filter((n) => shapes[n].length >= 3);
  return named.length === 1 ? shapeString(shapes[named[0]]) : named.map((n) => `${n} ${shapeString(shapes[n])}`).join(', ');
}

/**
 * The first layer whose nodes or constants differ between the two models (`mine`: `conversion`'s model with its
 * inputs and outputs freed), and what differs, worded for the other's input shapes.
 */
function firstDifference(conversion: OnnxConversion, mine: ModelObj, other: OnnxConversion): { layer: string; detail: (at: string) => string } | undefined {
  const a = mine.graph, b = other.model.graph;
  const spans: LayerSpan[] = conversion.spans;
  const tail = (s: LayerSpan[]): LayerSpan => ({ name: '', type: '', nodes: [s.at(-1)?.nodes[1] ?? 0, Infinity], initializers: [s.at(-1)?.initializers[1] ?? 0, Infinity] });
  for (const [i, span] of [...spans, tail(spans)].entries()) {
    const theirs = other.spans[i] ?? tail(other.spans);
    const layer = span.name ? `layer '${span.name}' (${span.type})` : 'the graph outputs';
    const [myInits, theirInits] = [a.initializer.slice(...span.initializers), b.initializer.slice(...theirs.initializers)];
    for (let t = 0; t < Math.max(myInits.length, theirInits.length); t++)
      if (!sameTensor(myInits[t], theirInits[t])) return { layer, detail: (at) => constantDetail(myInits[t], theirInits[t], at) };
    const [myNodes, theirNodes] = [a.node.slice(...span.nodes), b.node.slice(...theirs.nodes)];
    for (let n = 0; n < Math.max(myNodes.length, theirNodes.length); n++)
      if (JSON.stringify(myNodes[n]) !== JSON.stringify(theirNodes[n])) return { layer, detail: (at) => nodeDetail(myNodes[n], theirNodes[n], at) };
  }
  return undefined;
}

function sameTensor(a: TensorObj | undefined, b: TensorObj | undefined): boolean {
  if (!a || !b) return a === b;
  return a.name === b.name && a.data_type === b.data_type && JSON.stringify(a.dims) === JSON.stringify(b.dims) && sameBytes(a.raw_data, b.raw_data);
}

/** "its constant 'fc6/shape' is [1, 9216] here, [1, 10816] at [1, 3, 230, 232]" (values when short, else dims). */
function constantDetail(a: TensorObj | undefined, b: TensorObj | undefined, at: string): string {
  if (!a || !b) return `it holds ${a ? 'a constant' : 'no constant'} here and ${b ? 'one' : 'none'} at ${at}`;
  const shown = (t: TensorObj) => {
    const values = t.data_type === DataType.INT64 && t.raw_data.length <= 64 ? [...new BigInt64Array(t.raw_data.slice().buffer)].map(Number) : undefined;
    return values ? shapeString(values) : `of shape ${shapeString(t.dims)}`;
  };
  const [x, y] = [shown(a), shown(b)];
  return x === y ? `its constant '${a.name}' ${x} holds other values at ${at}` : `its constant '${a.name}' is ${x} here, ${y} at ${at}`;
}

/** "its MaxPool node's pads are [0, 0, 1, 1] here, [0, 0, 0, 0] at [...]" or the node that is there in one only. */
function nodeDetail(a: NodeObj | undefined, b: NodeObj | undefined, at: string): string {
  if (!a || !b) return `it has ${a ? `a ${a.op_type} node` : 'no node'} here and ${b ? `a ${b.op_type} node` : 'none'} at ${at}`;
  if (a.op_type !== b.op_type) return `its node '${a.name}' is ${a.op_type} here, ${b.op_type} at ${at}`;
  const attr = a.attribute.find((x, i) => JSON.stringify(x) !== JSON.stringify(b.attribute[i]));
  if (attr) {
    const theirs = b.attribute.find((x) => x.name === attr.name);
    const value = (x: typeof attr | undefined) => (x ? (x.ints ? shapeString(x.ints) : String(x.i ?? x.f ?? '')) : 'not set');
    return `its ${a.op_type} node's ${attr.name} is ${value(attr)} here, ${value(theirs)} at ${at}`;
  }
  return `its ${a.op_type} node '${a.name}' differs at ${at}`;
}

/** The weights are views of the same floats at every shape: equal without reading them; constants compared. */
function sameBytes(a: Uint8Array, b: Uint8Array | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  if (a.buffer === b.buffer && a.byteOffset === b.byteOffset) return true;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The graph's input shapes with the batch (axis 0) set to `batch`. */
export function batchShapes(graph: Graph, batch: number): Record<string, number[]> {
  return Object.fromEntries(graph.inputs.map((n) => [n, [batch, ...graph.blobShapes.get(n)!.slice(1)]]));
}

/** Whether the batch axis is to be free: not asked ('fixed'), asked ('any': refused if it cannot be), or where it can ('where free'). */
export type BatchMode = 'fixed' | 'any' | 'where free';

/**
 * The graph converted with `options`, its height and width symbolic when `options.anySize` asks (refused in one
 * line naming the first layer that builds the size in, when the net depends on it), and its batch as `batch` says.
 * `fixedBatchReason`: why the batch stays fixed, with 'where free'. `reshape` gives the graph at other input shapes.
 */
export function convertFree(graph: Graph, reshape: ReshapeTo, options: ConvertOptions, batch: BatchMode = 'fixed'): { conversion: OnnxConversion; fixedBatchReason?: string } {
  const conversion = convertGraph(graph, options);
  let fixedBatchReason: string | undefined;
  // Both checks compare against the model as converted, so the batch is asked before the sizes are freed.
  if (batch !== 'fixed') {
    fixedBatchReason = batchDependence(graph, conversion, (b) => reshape(batchShapes(graph, b)), options);
    if (fixedBatchReason && batch === 'any') throw new CremaError(`options.anyBatch: the net does not serve every batch size: ${fixedBatchReason}`);
  }
  if (options.anySize) {
    const why = freeSize(graph, conversion, reshape, options);
    if (why) throw new CremaError(`options.anySize: the net does not serve every input size: ${why}`);
  }
  if (batch !== 'fixed' && !fixedBatchReason) freeBatchDimension(conversion.model);
  return { conversion, fixedBatchReason };
}
