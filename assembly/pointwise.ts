// The elementwise layers that no convolution took into its output (src/runtime/fold.ts folds them where one
// precedes them): DenseNet's and res10's BatchNorm -> Scale -> ReLU on concatenations, the ReLU after SE-ResNet's
// Axpy or Xception's sums, PReLU. One pass a layer over resident blobs, each step rounded to float as the
// TypeScript loops of src/layers/ round it (their reference), so the bits are theirs.
//
// Job fields (32-bit words at p, written by src/kernels/pointwise.ts): 3 x, 4 y (may be x), 5 planes in all
// (images x channels), 6 floats a plane, 7 channels (the parameters' period over planes), 8 steps (bits below),
// 9 mean, 10 std (BatchNorm: (x - mean) / std), 11 scale, 12 bias (Scale: x * scale + bias), 13 slopes (one a
// channel) or 0, 14 the slope when 13 is 0 (f32), 15 addend (Axpy: addend + scale * x, the scale one a plane),
// 16 planes a chunk, 17 floats in all (the last plane may be shorter: a ReLU's blob cut into planes for the threads).

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { addr, maddExact, maddExactf, relu, reluf, word } from './simd';

const NORM: i32 = 1;
const SCALE: i32 = 2;
const BIAS: i32 = 4;
const RELU: i32 = 8;
const AXPY: i32 = 16;

export function pointwiseChunk(p: usize, chunk: i32): void {
  const x = addr(p, 3), y = addr(p, 4), planes = word(p, 5), inner = word(p, 6), channels = word(p, 7), steps = word(p, 8);
  const perChunk = word(p, 16), first = chunk * perChunk, end = min(planes, first + perChunk), total = word(p, 17);
  for (let plane = first; plane < end; plane++) {
    const c = <usize>(plane % channels) << 2, at = <usize>plane * <usize>inner << 2;
    const n = min(inner, total - plane * inner);
    const slope = addr(p, 13) ? load<f32>(addr(p, 13) + c) : load<f32>(p + 14 * 4);
    if (steps == RELU) reluPlane(x + at, y + at, n, slope);
    else if (steps == AXPY) axpyPlane(x + at, addr(p, 15) + at, y + at, n, load<f32>(addr(p, 11) + c));
    else {
      const mean = steps & NORM ? load<f32>(addr(p, 9) + c) : 0, std = steps & NORM ? load<f32>(addr(p, 10) + c) : 1;
      const scale = steps & SCALE ? load<f32>(addr(p, 11) + c) : 1, bias = steps & BIAS ? load<f32>(addr(p, 12) + c) : 0;
      affinePlane(x + at, y + at, n, steps, mean, std, scale, bias, slope);
    }
  }
}

/** Caffe's ReLU (PReLU: the channel's slope), two vectors a step. */
function reluPlane(x: usize, y: usize, n: i32, slope: f32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    const a = relu(v128.load(x + o), slope), b = relu(v128.load(x + o, 16), slope);
    v128.store(y + o, a);
    v128.store(y + o, b, 16);
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), reluf(load<f32>(x + (<usize>i << 2)), slope));
}

/** The fork's Axpy: addend + scale * x, the product exact before the sum (as src/layers/axpy.ts in double). */
function axpyPlane(x: usize, addend: usize, y: usize, n: i32, scale: f32): void {
  const s = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, maddExact(v128.load(addend + o), s, v128.load(x + o)));
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), maddExactf(load<f32>(addend + (<usize>i << 2)), scale, load<f32>(x + (<usize>i << 2))));
}

/** The steps in order, each rounded to float: (x - mean) / std, * scale, + bias, ReLU. */
function affinePlane(x: usize, y: usize, n: i32, steps: i32, mean: f32, std: f32, scale: f32, bias: f32, slope: f32): void {
  const m = f32x4.splat(mean), d = f32x4.splat(std), s = f32x4.splat(scale), b = f32x4.splat(bias);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    let v = v128.load(x + o);
    if (steps & NORM) v = f32x4.div(f32x4.sub(v, m), d);
    if (steps & SCALE) v = f32x4.mul(v, s);
    if (steps & BIAS) v = f32x4.add(v, b);
    if (steps & RELU) v = relu(v, slope);
    v128.store(y + o, v);
  }
  for (; i < n; i++) {
    let v = load<f32>(x + (<usize>i << 2));
    if (steps & NORM) v = (v - mean) / std;
    if (steps & SCALE) v = v * scale;
    if (steps & BIAS) v = v + bias;
    if (steps & RELU) v = reluf(v, slope);
    store<f32>(y + (<usize>i << 2), v);
  }
}
