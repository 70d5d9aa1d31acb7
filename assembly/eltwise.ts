// Eltwise SUM (Caffe's coefficients), with an optional leaky ReLU in the same pass (ResNet's shortcut joins:
// Eltwise then an in-place ReLU, see src/runtime/fold.ts), in WebAssembly SIMD over resident blobs.
//
// Job fields (32-bit words at p, written by src/kernels/eltwise.ts): 3 floats in all, 4 bottoms, 5 table of the
// bottoms' addresses (u32 each), 6 coefficients (f32 each), 7 y, 8 relu on, 9 slope (f32), 10 floats per chunk
// (a multiple of 4), 11 1 when every coefficient is 1. y may be one of the bottoms: each element is read from
// every bottom before it is written. Each partial sum is rounded to float in bottom order, as Caffe's axpys, and
// each product is exact before its add (Caffe's axpy is a fused multiply-add).

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { addr, maddExact, maddExactf, relu, reluf, word } from './simd';

export function eltwiseChunk(p: usize, chunk: i32): void {
  const n = word(p, 3), bottoms = word(p, 4), table = addr(p, 5), coeffs = addr(p, 6), y = addr(p, 7);
  const reluOn = word(p, 8) != 0, slope = load<f32>(p + 9 * 4), perChunk = word(p, 10), ones = word(p, 11) != 0;
  const first = chunk * perChunk, end = min(n, first + perChunk);
  const x0 = <usize>load<u32>(table), x1 = <usize>load<u32>(table, 4);
  let i = first;
  // Caffe sums from +0 (caffe_set(0), then one axpy a bottom): -0 + -0 is +0 there. With coefficients 1,
  // (x0 + x1) + 0 is (0 + x0) + x1; otherwise the first term is added to +0 as Caffe's axpy does it.
  const zero = f32x4.splat(0);
  if (bottoms == 2 && ones) {
    // ResNet's case: two bottoms, coefficients 1. Two vectors a step, so the loads of one overlap the other's adds.
    for (; i + 8 <= end; i += 8) {
      const o = <usize>i << 2;
      let a = f32x4.add(f32x4.add(v128.load(x0 + o), v128.load(x1 + o)), zero);
      let b = f32x4.add(f32x4.add(v128.load(x0 + o, 16), v128.load(x1 + o, 16)), zero);
      if (reluOn) {
        a = relu(a, slope);
        b = relu(b, slope);
      }
      v128.store(y + o, a);
      v128.store(y + o, b, 16);
    }
  }
  // Each term added with its product exact (Caffe's axpy is a fused multiply-add; see maddExact): with
  // coefficients 1 a plain add, which is that.
  if (ones) {
    for (; i + 4 <= end; i += 4) {
      const o = <usize>i << 2;
      let acc = f32x4.add(zero, v128.load(x0 + o));
      for (let b = 1; b < bottoms; b++) acc = f32x4.add(acc, v128.load(<usize>load<u32>(table + (<usize>b << 2)) + o));
      if (reluOn) acc = relu(acc, slope);
      v128.store(y + o, acc);
    }
  }
  for (; i + 4 <= end; i += 4) {
    const o = <usize>i << 2;
    let acc = maddExact(zero, f32x4.splat(load<f32>(coeffs)), v128.load(x0 + o));
    for (let b = 1; b < bottoms; b++) {
      const x = <usize>load<u32>(table + (<usize>b << 2));
      acc = maddExact(acc, f32x4.splat(load<f32>(coeffs + (<usize>b << 2))), v128.load(x + o));
    }
    if (reluOn) acc = relu(acc, slope);
    v128.store(y + o, acc);
  }
  for (; i < end; i++) {
    const o = <usize>i << 2;
    let acc = maddExactf(0, load<f32>(coeffs), load<f32>(x0 + o));
    for (let b = 1; b < bottoms; b++) acc = maddExactf(acc, load<f32>(coeffs + (<usize>b << 2)), load<f32>(<usize>load<u32>(table + (<usize>b << 2)) + o));
    if (reluOn) acc = reluf(acc, slope);
    store<f32>(y + o, acc);
  }
}
