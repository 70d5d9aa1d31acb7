/** A dense float32 tensor, shaped like onnxruntime's Tensor (`dims`, `type`, `data`). Row-major, Caffe's NCHW. */
export class Tensor {
  readonly type = 'float32' as const;
  constructor(
    public dims: readonly number[],
    public data: Float32Array,
  ) {
    if (data.length !== sizeOf(dims)) throw new Error(`tensor data has ${data.length} values, dims [${dims.join(', ')}] need ${sizeOf(dims)}`);
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
