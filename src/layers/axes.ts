import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, shapeString, sizeOf } from '../tensor.js';
import { canonicalAxis, need } from './layer.js';

// Shape arithmetic shared by the structural layers (Caffe's Blob::count(start, end) and friends).

/** Product of shape[start..end) (Caffe's Blob::count(start, end)); 1 for an empty range. */
export function countRange(shape: Shape, start: number, end: number = shape.length): number {
  let n = 1;
  for (let i = start; i < end; i++) n *= shape[i];
  return n;
}

/** Caffe refuses top == bottom for layers that only re-describe or share their bottom (Split, Flatten, Reshape), and for AbsVal. */
export function refuseInPlace(def: LayerParameter): void {
  const bottoms = def.bottom ?? [];
  for (const t of def.top ?? [])
    need(def, !bottoms.includes(t), `does not allow in-place computation (top '${t}' is also a bottom)`);
}

/** True when the prototxt sets this field of the parameter message (proto2 `has_...`), defaults aside. */
export function hasParam(def: LayerParameter, param: string, field: string): boolean {
  const msg = def[param] as Record<string, unknown> | undefined;
  return msg !== undefined && msg !== null && msg[field] !== undefined;
}

/** Checks that the layer got no more weight blobs than it uses (Caffe: "Incompatible number of blobs"). */
export function expectAtMostBlobs(def: LayerParameter, count: number, have: number, what: string): void {
  need(def, have <= count, () => `the weights have ${have} blobs for this layer, but it takes ${count} (${what})`);
}

/** How a per-position parameter (Scale's factors, Bias's offsets) lines up with a bottom: outer x dim x inner. */
export interface Broadcast {
  outer: number;
  dim: number;
  inner: number;
}

/**
 * The shape a learned Scale/Bias parameter has: bottom axes [axis, axis + numAxes), or to the end for -1
 * (Caffe's LayerSetUp when the parameter is a blob of the layer).
 */
export function learnedParamShape(def: LayerParameter, bottom: Shape, axisParam: number, numAxes: number): Shape {
  const axis = canonicalAxis(def, axisParam, bottom.length);
  need(def, numAxes >= -1, () => `num_axes ${numAxes} must be >= 0, or -1 to extend to the end of bottom[0]`);
  const end = numAxes === -1 ? bottom.length : axis + numAxes;
  need(def, end <= bottom.length, () =>
    `axis ${axis} + num_axes ${numAxes} extends past bottom[0]'s shape ${shapeString(bottom)}`);
  return bottom.slice(axis, end);
}

/**
 * Lines a parameter of shape `param` up with `bottom` from `axisParam` on (Caffe's Scale/Bias Reshape): the
 * parameter's dims must equal the bottom's there. A scalar parameter (no axes) applies everywhere.
 */
export function broadcastOver(def: LayerParameter, bottom: Shape, param: Shape, axisParam: number, what: string): Broadcast {
  const axis = param.length === 0 ? 0 : canonicalAxis(def, axisParam, bottom.length);
  const fits = axis + param.length <= bottom.length && param.every((d, i) => d === bottom[axis + i]);
  need(def, fits, () =>
    `${what} of shape ${shapeString(param)} does not match bottom[0] ${shapeString(bottom)} from axis ${axis} on`);
  return { outer: countRange(bottom, 0, axis), dim: sizeOf(param), inner: countRange(bottom, axis + param.length) };
}

/** dst[to .. to+n) = src[from .. from+n). Short runs are copied by hand: a subarray view per row costs more than the copy. */
export function copyRun(src: Float32Array, from: number, dst: Float32Array, to: number, n: number): void {
  if (n < 32) for (let i = 0; i < n; i++) dst[to + i] = src[from + i];
  else dst.set(src.subarray(from, from + n), to);
}

/**
 * The axis Concat and Slice join or cut along, for a bottom of `rank` axes: the parameter's `axis` (negative
 * counts from the end), or its legacy non-negative `legacy` field (concat_dim, slice_dim). Checks now that the
 * prototxt does not give both.
 */
export function joinAxis(def: LayerParameter, param: string, legacy: string): (rank: number) => number {
  const p = paramsOf(def, param);
  const legacyDim = hasParam(def, param, legacy);
  need(def, !(legacyDim && hasParam(def, param, 'axis')), `give either axis or ${legacy}, not both`);
  return (rank) => {
    if (!legacyDim) return canonicalAxis(def, p.axis, rank);
    need(def, p[legacy] < rank, () => `${legacy} ${p[legacy]} is out of range for a ${rank}-D blob`);
    return p[legacy];
  };
}

/**
 * The runs in which `whole` is its `parts` side by side along `axis` (Concat's top of its bottoms, Slice's bottom
 * of its tops): for each part and each index before the axis, `run(part, partAt, wholeAt, n)` for the n floats at
 * part.data[partAt] and at whole[wholeAt].
 */
export function axisRuns(whole: Shape, parts: Tensor[], axis: number, run: (part: Tensor, partAt: number, wholeAt: number, n: number) => void): void {
  const outer = countRange(whole, 0, axis);
  const inner = countRange(whole, axis + 1);
  const wholeRow = whole[axis] * inner;
  let offset = 0;
  for (const part of parts) {
    const row = part.dims[axis] * inner;
    for (let n = 0; n < outer; n++) run(part, n * row, n * wholeRow + offset, row);
    offset += row;
  }
}
