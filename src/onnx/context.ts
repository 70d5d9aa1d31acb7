import type { GraphLayer } from '../graph/graph.js';
import { LayerError, type NetContext } from '../layers/layer.js';
import { type Attr, type OnnxBuilder, int, ints } from './builder.js';
import type { Shape } from '../tensor.js';

export type LrnMode = 'native' | 'decomposed';

/** What a layer converter sees: the layer, the builder, and the ONNX values of its bottoms and tops. */
export interface LayerContext {
  b: OnnxBuilder;
  layer: GraphLayer;
  opset: number;
  lrn: LrnMode;
  /** The net's context as its layers were made in (the dialect). */
  net: NetContext;
  /**
   * The model serves every input height and width (ConvertOptions.anySize): nodes compute what follows from the
   * spatial size at run time (from Shape) instead of holding it as constants. sizeDependence checks the result.
   */
  anySize: boolean;
  /** The ONNX value holding bottom i now. */
  bottom(i: number): string;
  /** The name to give the value of top i (call once per top, for the node that computes it). */
  top(i: number): string;
  /** Top i is the value `value` itself (no node: Dropout, Split). */
  alias(i: number, value: string): void;
  /** A fresh name for a helper value of this layer. */
  tmp(what: string): string;
  /** Adds a node named after the layer; returns its first output. */
  node(op: string, inputs: string[], outputs: string[], attrs?: Record<string, Attr>): string;
  /** Something the converted model does not reproduce exactly, for the model's notes (doc_string) and `convert`'s output. */
  note(text: string): void;
  /** Top i's size along `axes` depends on the data (DetectionOutput's row count): outputs declare them symbolic. */
  dynamicShape(i: number, axes: number[]): void;
  /** The axes of bottom i whose size depends on the data (Proposal's rows, and every blob after them): [] for none. */
  dynamicAxes(i: number): readonly number[];
}

/** A layer's ONNX export: adds the nodes computing its tops from its bottoms. */
export type Converter = (c: LayerContext) => void;

/** Refuses the layer's export with a LayerError naming it. */
export const fail = (c: LayerContext, message: string): never => {
  throw new LayerError(c.layer.def, message);
};

/** A unary elementwise op on bottom 0. */
export const unary = (op: string, attrs: (c: LayerContext) => Record<string, Attr> = () => ({})): Converter => (c) => {
  c.node(op, [c.bottom(0)], [c.top(0)], attrs(c));
};

/** Applies `op` with a scalar constant unless the constant is the identity of `op`. */
export function withScalar(c: LayerContext, op: 'Mul' | 'Add', x: string, value: number, out?: string): string {
  const identity = op === 'Mul' ? 1 : 0;
  if (value === identity && !out) return x;
  return c.node(op, [x, c.b.scalar(value)], [out ?? c.tmp(op.toLowerCase())]);
}

/**
 * A bilinear GridSample (opset 16) of `x` at `grid` (N, H, W, 2: x, y): the mode is 'bilinear' until opset 20 and
 * 'linear' from it (ONNX Runtime refuses 'bilinear' there).
 */
export function gridSample(c: LayerContext, x: string, grid: string, out: string, alignCorners: boolean, padding: 'zeros' | 'border'): string {
  const mode = c.opset >= 20 ? 'linear' : 'bilinear';
  return c.node('GridSample', [x, grid], [out], { align_corners: int(alignCorners ? 1 : 0), mode: { string: mode }, padding_mode: { string: padding } });
}

/** Reshapes `value` to the static `shape` as top 0. */
export function reshapeTo(c: LayerContext, value: string, shape: Shape): void {
  c.node('Reshape', [value, c.b.int64s(`${c.layer.name}/shape`, shape)], [c.top(0)]);
}

/**
 * `shape` (a load-time shape: a top's, or a Reshape's target) with the axes bottom `i` sizes at run time (a Filter's
 * items: `dynamicAxes`) as 0, which Reshape copies from its input: for a Reshape whose input has those axes where
 * `shape` has them. The load-time size there is wrong after a Filter that selected fewer, and a -1 in its place
 * fails when it selected none (ONNX Runtime cannot infer a -1 on an empty tensor).
 */
export function runtimeAxesCopied(c: LayerContext, shape: Shape, i = 0): number[] {
  const dynamic = c.dynamicAxes(i);
  return shape.map((d, axis) => (dynamic.includes(axis) ? 0 : d));
}

/**
 * Whether bottom `i`'s only axis sized at run time, if any, is its items (axis 0): runtimeAxesCopied then holds for a
 * Reshape that keeps axis 0 and merges or splits the others (where DetectionOutput's rows, axis 2, are sized at run
 * time, the merged axes' 0 would copy the wrong one).
 */
export function onlyItemsDynamic(c: LayerContext, i = 0): boolean {
  return c.dynamicAxes(i).every((axis) => axis === 0);
}

/** A Reduce* node over `axes`: the axes are an attribute before opset 18 (ReduceSum: before 13), an input after. */
export function reduce(c: LayerContext, op: string, x: string, axes: number[], keepdims: boolean, out: string): string {
  const asInput = op === 'ReduceSum' ? c.opset >= 13 : c.opset >= 18;
  return asInput
    ? c.node(op, [x, int64Once(c, axes)], [out], { keepdims: int(keepdims ? 1 : 0) })
    : c.node(op, [x], [out], { axes: ints(axes), keepdims: int(keepdims ? 1 : 0) });
}

/** Each layer's int64 initializers by their values (int64Once), and its Shape and Slice nodes by what they read (runtimeDims). */
const int64sMade = new WeakMap<LayerContext, Map<string, string>>();
const dimsRead = new WeakMap<LayerContext, Map<string, string>>();

/** The layer's map in `maps`, made on first use. */
function madeFor(maps: WeakMap<LayerContext, Map<string, string>>, c: LayerContext): Map<string, string> {
  let made = maps.get(c);
  if (!made) maps.set(c, (made = new Map()));
  return made;
}

/**
 * A 1-D int64 initializer of `values`, written once a layer however often its nodes read it: a Reduce's axes
 * (Correlation: one, not one a displacement), a Slice's bounds (the unrolled LSTM: one set, not one a step). Named
 * by its values (`layer/int64_0`; a long list by its length), what every reader shares: named for its first reader,
 * a Slice's axis 0 was `dims_from`, the LSTM's gate bounds `g1_start` as another gate's end.
 */
export function int64Once(c: LayerContext, values: readonly number[]): string {
  const made = madeFor(int64sMade, c), key = values.join(',');
  const name = made.get(key) ?? c.b.int64s(`${c.layer.name}/int64_${values.length <= 8 ? values.join('_') : `${values.length}_values`}`, values);
  made.set(key, name);
  return name;
}

/**
 * Dimensions [from, to) of `value` at run time, as a 1-D int64 tensor: Shape then Slice (Shape's own start and end
 * arrived in opset 15; crema writes 13 and up). For the size-free conversion (`c.anySize`). A layer reads the Shape
 * of a value once, and each range of it once, however many of its steps ask (runtimeGrid's grid and positions,
 * PSROIPooling's height, width and images). Not for a subgraph's nodes (b.collect): the values are the main graph's.
 */
export function runtimeDims(c: LayerContext, value: string, from: number, to: number): string {
  const made = madeFor(dimsRead, c), key = `dims ${from}:${to}:${value}`;
  const known = made.get(key);
  if (known) return known;
  const shape = made.get(`shape:${value}`) ?? c.node('Shape', [value], [c.tmp('shape')]);
  made.set(`shape:${value}`, shape);
  const dims = c.node('Slice', [shape, int64Once(c, [from]), int64Once(c, [to]), int64Once(c, [0])], [c.tmp('dims')]);
  made.set(key, dims);
  return dims;
}

/**
 * A 1-D int64 shape of constant parts (numbers) and run-time ones (int64 values: runtimeDims' or computed from them)
 * in order, by one Concat: the size-free conversion's shapes (`c.anySize`). A constant part is named `what`_head
 * first, `what`_tail after.
 */
export function joinedDims(c: LayerContext, what: string, parts: readonly (string | readonly number[])[]): string {
  const values = parts.map((p, i) => (typeof p === 'string' ? p : c.b.int64s(`${c.layer.name}/${what}_${i === 0 ? 'head' : 'tail'}`, p)));
  return c.node('Concat', values, [c.tmp(what)], { axis: int(0) });
}

/**
 * The positions 0 .. D - 1 along axis `axis` of `value` (D at run time) as floats [D] (exact below 2^24), a size-free
 * grid's column or row numbers or a window's positions; and D as a [1] float. `dims`: D as runtimeDims gives it, where
 * the caller has it already.
 */
export function runtimePositions(c: LayerContext, value: string, axis: number, dims = runtimeDims(c, value, axis, axis + 1)): { positions: string; size: string } {
  const size = c.node('Cast', [dims], [c.tmp('size')], { to: int(1) }); // FLOAT
  const last = c.node('Squeeze', [size, int64Once(c, [0])], [c.tmp('size_scalar')]);
  return { positions: c.node('Range', [c.b.scalar(0), last, c.b.scalar(1)], [c.tmp('positions')]), size };
}

/**
 * A size-free grid over the (H, W) `value` has at run time, with `count` anchors per cell ((h, w, a) order: Proposal's
 * and TextProposal's) or none (YOLO's cells): `shifts` the positions along axis 2 or 3 times `stride`, reshaped to
 * `dims` to broadcast over the grid; `rows` a value broadcast to the grid and flattened to `flat` (default (cells, 1)).
 */
export function runtimeGrid(c: LayerContext, value: string, stride = 1, count?: number): { shifts(axis: number, dims: number[], what: string): string; rows(x: string, what: string, flat?: number[]): string } {
  const n = c.layer.name, hw = runtimeDims(c, value, 2, 4);
  const grid = count === undefined ? hw : joinedDims(c, 'grid_shape', [hw, [count]]);
  return {
    shifts: (axis, dims, what) => {
      const scaled = withScalar(c, 'Mul', runtimePositions(c, value, axis).positions, stride);
      return c.node('Reshape', [scaled, c.b.int64s(`${n}/${what}_shift_shape`, dims)], [c.tmp(`${what}_shift`)]);
    },
    rows: (x, what, flat = [-1, 1]) => c.node('Reshape', [c.node('Expand', [x, grid], [c.tmp(`${what}_grid`)]), c.b.int64s(`${n}/${what}_rows`, flat)], [c.tmp(what)]),
  };
}
