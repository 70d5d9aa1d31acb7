// Depthwise convolution (one input channel per group, as MobileNet's 3x3 layers) in WebAssembly SIMD.
//
// Job fields (32-bit words at p, written by src/kernels/depthwise.ts): 3 x, 4 input channels per image, 5 H,
// 6 W, 7 kh, 8 kw, 9 ph, 10 pw, 11 sh, 12 sw, 13 dh, 14 dw, 15 outH, 16 outW, 17 output channels per image,
// 18 multiplier (outputs per input channel), 19 weights (Cout x kh x kw floats), 20 y, 21 bias (0: none),
// 22 relu on, 23 slope (f32), 24 planes per chunk, 25 planes in all (images x Cout).
// A chunk is a run of output planes; each plane is computed row by row, four output columns at a time where the
// whole kernel row is inside the image (stride 1 and 2 vectorized), scalar at the borders. Each output is
// bias + sum over taps (ky, kx) in that order, as the TypeScript kernel (depthwisePlane) adds them.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { madd } from './simd';

@inline function word(p: usize, i: i32): i32 {
  return load<i32>(p + (<usize>i << 2));
}
@inline function addr(p: usize, i: i32): usize {
  return <usize>load<u32>(p + (<usize>i << 2));
}

export function depthwiseChunk(p: usize, chunk: i32): void {
  const perChunk = word(p, 24), planes = word(p, 25);
  const first = chunk * perChunk, end = min(planes, first + perChunk);
  const cout = word(p, 17), mult = word(p, 18);
  const cin = word(p, 4), H = word(p, 5), W = word(p, 6);
  const kh = word(p, 7), kw = word(p, 8);
  const outH = word(p, 15), outW = word(p, 16);
  const x = addr(p, 3), weights = addr(p, 19), y = addr(p, 20), bias = addr(p, 21);
  for (let plane = first; plane < end; plane++) {
    const n = plane / cout, o = plane - n * cout;
    const c = o / mult;
    const xPlane = x + ((<usize>(n * cin + c) * H * W) << 2);
    const yPlane = y + ((<usize>plane * outH * outW) << 2);
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>o << 2)) : 0;
    depthwisePlane(p, xPlane, weights + (<usize>(o * kh * kw) << 2), b, yPlane);
  }
}

/** First output column at or after which ox * s + shift >= 0, and the first at which ox * s + shift >= W. */
@inline function firstAtLeast(shift: i32, s: i32, bound: i32): i32 {
  const need = bound - shift;
  return need <= 0 ? 0 : (need + s - 1) / s;
}

function depthwisePlane(p: usize, x: usize, w: usize, b: f32, y: usize): void {
  const H = word(p, 5), W = word(p, 6), kh = word(p, 7), kw = word(p, 8), ph = word(p, 9), pw = word(p, 10);
  const sh = word(p, 11), sw = word(p, 12), dh = word(p, 13), dw = word(p, 14), outH = word(p, 15), outW = word(p, 16);
  const reluOn = word(p, 22) != 0, slope = load<f32>(p + 23 * 4);
  // Interior columns: the kernel row's first tap (ox*sw - pw) >= 0 and last tap (+ (kw-1)*dw) < W.
  const lo = min(outW, firstAtLeast(-pw, sw, 0));
  const hi = max(lo, min(outW, firstAtLeast(-pw + (kw - 1) * dw, sw, W)));
  const bv = f32x4.splat(b);
  const slopeV = f32x4.splat(slope), zero = f32x4.splat(0);
  for (let oy = 0; oy < outH; oy++) {
    const iy0 = oy * sh - ph;
    // Kernel rows inside the image for this output row.
    const ky0 = iy0 >= 0 ? 0 : (-iy0 + dh - 1) / dh;
    const ky1 = min(kh, iy0 < H ? (H - 1 - iy0) / dh + 1 : 0);
    const yRow = y + (<usize>(oy * outW) << 2);
    let ox = lo;
    if (sw == 1 || sw == 2) {
      for (; ox + 4 <= hi; ox += 4) {
        let acc = bv;
        for (let ky = ky0; ky < ky1; ky++) {
          const xRow = x + (<usize>((iy0 + ky * dh) * W + ox * sw - pw) << 2);
          const wRow = w + (<usize>(ky * kw) << 2);
          for (let kx = 0; kx < kw; kx++) {
            const src = xRow + (<usize>(kx * dw) << 2);
            let v: v128;
            if (sw == 1) v = v128.load(src);
            else v = i32x4.shuffle(v128.load(src), v128.load(src, 16), 0, 2, 4, 6);
            acc = madd(acc, v128.load32_splat(wRow + (<usize>kx << 2)), v);
          }
        }
        if (reluOn) acc = v128.bitselect(acc, f32x4.mul(acc, slopeV), f32x4.gt(acc, zero));
        v128.store(yRow + (<usize>ox << 2), acc);
      }
    }
    for (; ox < hi; ox++) store<f32>(yRow + (<usize>ox << 2), tap(x, w, b, H, W, kh, kw, dh, dw, iy0, ox * sw - pw, ky0, ky1, reluOn, slope));
    for (let bx = 0; bx < lo; bx++) store<f32>(yRow + (<usize>bx << 2), tap(x, w, b, H, W, kh, kw, dh, dw, iy0, bx * sw - pw, ky0, ky1, reluOn, slope));
    for (let bx = hi; bx < outW; bx++) store<f32>(yRow + (<usize>bx << 2), tap(x, w, b, H, W, kh, kw, dh, dw, iy0, bx * sw - pw, ky0, ky1, reluOn, slope));
  }
}

/** One output value with its window clipped to the image (borders, and what the vector loop leaves). */
@inline function tap(x: usize, w: usize, b: f32, H: i32, W: i32, kh: i32, kw: i32, dh: i32, dw: i32, iy0: i32, ix0: i32, ky0: i32, ky1: i32, reluOn: bool, slope: f32): f32 {
  let acc = b;
  for (let ky = ky0; ky < ky1; ky++) {
    const row = x + (<usize>((iy0 + ky * dh) * W) << 2);
    for (let kx = 0; kx < kw; kx++) {
      const ix = ix0 + kx * dw;
      if (<u32>ix < <u32>W) acc += load<f32>(w + (<usize>(ky * kw + kx) << 2)) * load<f32>(row + (<usize>ix << 2));
    }
  }
  if (reluOn && !(acc > 0)) acc *= slope;
  return acc;
}
