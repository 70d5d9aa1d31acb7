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
    if (kh == 3 && kw == 3 && dh == 1 && dw == 1 && ky0 == 0 && ky1 == 3 && (sw == 1 || sw == 2)) {
      ox = rows3x3(x + (<usize>(iy0 * W - pw) << 2), W, w, bv, yRow, lo, hi, sw, reluOn, slope);
    } else if (sw == 1 || sw == 2) {
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

/**
 * The common case (3x3, dilation 1, all three input rows inside the image): taps unrolled, the nine weights
 * splatted once per row. `x` is the address of input row iy0, column -pw. Returns the first column not done.
 */
@inline function rows3x3(x: usize, W: i32, w: usize, bv: v128, yRow: usize, lo: i32, hi: i32, sw: i32, reluOn: bool, slope: f32): i32 {
  const w0 = v128.load32_splat(w), w1 = v128.load32_splat(w, 4), w2 = v128.load32_splat(w, 8);
  const w3 = v128.load32_splat(w, 12), w4 = v128.load32_splat(w, 16), w5 = v128.load32_splat(w, 20);
  const w6 = v128.load32_splat(w, 24), w7 = v128.load32_splat(w, 28), w8 = v128.load32_splat(w, 32);
  const rowBytes = <usize>W << 2;
  const slopeV = f32x4.splat(slope), zero = f32x4.splat(0);
  let ox = lo;
  for (; ox + 4 <= hi; ox += 4) {
    const r0 = x + (<usize>(ox * sw) << 2), r1 = r0 + rowBytes, r2 = r1 + rowBytes;
    let acc = bv;
    if (sw == 1) {
      acc = madd(acc, w0, v128.load(r0)); acc = madd(acc, w1, v128.load(r0, 4)); acc = madd(acc, w2, v128.load(r0, 8));
      acc = madd(acc, w3, v128.load(r1)); acc = madd(acc, w4, v128.load(r1, 4)); acc = madd(acc, w5, v128.load(r1, 8));
      acc = madd(acc, w6, v128.load(r2)); acc = madd(acc, w7, v128.load(r2, 4)); acc = madd(acc, w8, v128.load(r2, 8));
    } else {
      // Stride 2: taps 0 and 1 are the even and odd lanes of columns 0..7, tap 2 the even lanes of columns 2..9.
      acc = madd(acc, w0, even(r0, 0)); acc = madd(acc, w1, odd(r0)); acc = madd(acc, w2, even(r0, 8));
      acc = madd(acc, w3, even(r1, 0)); acc = madd(acc, w4, odd(r1)); acc = madd(acc, w5, even(r1, 8));
      acc = madd(acc, w6, even(r2, 0)); acc = madd(acc, w7, odd(r2)); acc = madd(acc, w8, even(r2, 8));
    }
    if (reluOn) acc = v128.bitselect(acc, f32x4.mul(acc, slopeV), f32x4.gt(acc, zero));
    v128.store(yRow + (<usize>ox << 2), acc);
  }
  return ox;
}

/** Floats 0, 2, 4, 6 from address p + offset. */
@inline function even(p: usize, offset: usize): v128 {
  return i32x4.shuffle(v128.load(p + offset), v128.load(p + offset, 16), 0, 2, 4, 6);
}
/** Floats 1, 3, 5, 7 from address p. */
@inline function odd(p: usize): v128 {
  return i32x4.shuffle(v128.load(p), v128.load(p, 16), 1, 3, 5, 7);
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
