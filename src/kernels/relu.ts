// Caffe's ReLU on one float, for the TypeScript kernels and layers (the wasm kernels: relu and reluf in assembly/simd.ts).

/**
 * max(x, 0) + slope * min(x, 0) as Caffe's relu_layer.cpp and prelu_layer.cpp compute it in float, with
 * std::max(a, b) = a < b ? b : a and std::min(a, b) = b < a ? b : a: x for x > 0, -0 for x = -0 (slope >= 0), NaN for
 * NaN; for x < 0 the float product plus +0, so +0 (never -0) at slope 0 or where slope * x underflows, and NaN for
 * x = -Infinity at slope 0 (0 * -Infinity). `slope` must be a float (Math.fround of a prototxt's double, as Caffe's
 * float field): the product is rounded to float before the + 0, as in Caffe (in double it would keep its sign).
 */
export function caffeRelu(x: number, slope: number): number {
  return (x < 0 ? 0 : x) + Math.fround(slope * (0 < x ? 0 : x));
}

/** y[i] = caffeRelu(y[i], slope) for i in [start, end). */
export function reluRange(y: Float32Array, start: number, end: number, slope: number): void {
  const s = Math.fround(slope);
  for (let i = start; i < end; i++) y[i] = caffeRelu(y[i], s);
}

/**
 * y = caffeRelu(a + b, slope) (no ReLU when `slope` is undefined) with Caffe's roundings for an Eltwise SUM of
 * coefficients 1 then a ReLU: the sum from +0 (so -0 + -0 is +0), rounded to float. y may be a or b. The
 * TypeScript path of ResNet's joins: the fold's Eltwise + ReLU and a convolution's fused residual.
 */
export function sumRelu(a: Float32Array, b: Float32Array, y: Float32Array, slope: number | undefined): void {
  const s = Math.fround(slope ?? 0);
  for (let i = 0; i < y.length; i++) {
    const v = Math.fround(a[i] + b[i]) + 0;
    y[i] = slope === undefined ? v : caffeRelu(v, s);
  }
}
