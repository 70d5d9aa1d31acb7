import { CremaError, kindOf } from './util/errors.js';

/** A dense float32 tensor, shaped like onnxruntime's Tensor (`dims`, `type`, `data`). Row-major, Caffe's NCHW. */
export class Tensor {
  readonly type = 'float32' as const;
  constructor(
    public dims: readonly number[],
    public data: Float32Array,
  ) {
    // A user's `new Tensor([1, 3, 32, 32])` (no data) met a TypeError, a Float64Array went through: one line instead.
    if (!(data instanceof Float32Array) && Object.prototype.toString.call(data) !== '[object Float32Array]')
      throw new CremaError(`new Tensor(dims, data): data must be a Float32Array, got ${kindOf(data)} (Tensor.zeros(dims) makes one of zeros)`);
    if (data.length !== (Array.isArray(dims) ? sizeOf(dims) : NaN)) {
      if (!Array.isArray(dims)) throw new CremaError(`new Tensor(dims, data): dims must be an array of sizes, got ${kindOf(dims)}`);
      throw new CremaError(`tensor data has ${data.length} values, dims [${dims.join(', ')}] need ${sizeOf(dims)}`);
    }
  }
  get size(): number {
    return this.data.length;
  }
  static zeros(dims: readonly number[]): Tensor {
    return new Tensor(dims, new Float32Array(sizeOf(dims)));
  }
}

export type Shape = readonly number[];

export function sizeOf(dims: Shape): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function shapeString(dims: Shape): string {
  return `[${dims.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Weights a layer may view in whatever shape of their count it asks (layers/layer.ts expectWeight): a parameter a
 * layer shares by name with share_mode PERMISSIVE, as Caffe's Blob::ShareData lets it (caffe/share.ts).
 */
export const viewedShares = new WeakSet<Tensor>();

/**
 * A net's weight tensors whose arrays something else may hold: given out by net.params (a caller), or read by
 * another layer too (a param shared by name). No layer packs one of them in place (packConvWeightsInPlace).
 */
export const heldTensors = new WeakSet<Tensor>();

/** A view -> the whole array it is part of (see `viewOf`): kept alive, with its block, while the view is. */
const wholes = new WeakMap<Float32Array, Float32Array>();

/**
 * `a.subarray(start, end)`, which keeps the whole array `a` is part of alive as long as the view lives. A resident
 * array's block (src/kernels/wasm.ts) belongs to the array `residentArray` returned, not to its subarrays (the
 * buffer they share is the whole memory): a caller keeping a view of a net's blob (a Filter's output, the start of the room the net keeps;
 * a Concat's bottom) after dropping the net would otherwise see its values change as another net's blob lands
 * in the freed block.
 */
export function viewOf(a: Float32Array, start: number, end: number): Float32Array {
  const view = a.subarray(start, end);
  wholes.set(view, wholes.get(a) ?? a);
  return view;
}
