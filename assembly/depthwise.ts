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

import { addr, madd, word } from './simd';


export function depthwiseChunk(p: usize, chunk: i32, scratch: usize): void {
  const perChunk = word(p, 24), planes = word(p, 25);
  const first = chunk * perChunk, end = min(planes, first + perChunk);
  const cout = word(p, 17), mult = word(p, 18);
  const cin = word(p, 4), H = word(p, 5), W = word(p, 6);
  const kh = word(p, 7), kw = word(p, 8);
  const outH = word(p, 15), outW = word(p, 16);
  const x = addr(p, 3), weights = addr(p, 19), y = addr(p, 20), bias = addr(p, 21);
  if (paddedFits(p, scratch)) {
    paddedPlanes(p, first, end, scratch);
    return;
  }
  for (let plane = first; plane < end; plane++) {
    const n = plane / cout, o = plane - n * cout;
    const c = o / mult;
    const xPlane = x + ((<usize>(n * cin + c) * H * W) << 2);
    const yPlane = y + ((<usize>plane * outH * outW) << 2);
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>o << 2)) : 0;
    depthwisePlane(p, xPlane, weights + (<usize>(o * kh * kw) << 2), b, yPlane);
  }
}

// ---- 3x3 planes through a zero-padded copy (thread scratch): no border cases at all, which matters for the
// small planes of a net's last layers (7x7, 14x14), where the border is a good part of the plane.

/** Row stride (floats) of the padded copy: the padded row, plus room for the last vector's over-reads. */
@inline function paddedWidth(p: usize): i32 {
  const W = word(p, 6), pw = word(p, 10), sw = word(p, 12), outW = word(p, 16);
  return (max(W + 2 * pw, (outW + 4) * sw + 12) + 3) & ~3;
}

function paddedFits(p: usize, scratch: usize): bool {
  const kh = word(p, 7), kw = word(p, 8), sw = word(p, 12), dh = word(p, 13), dw = word(p, 14);
  if (kh != 3 || kw != 3 || dh != 1 || dw != 1 || (sw != 1 && sw != 2)) return false;
  const rows = word(p, 5) + 2 * word(p, 9);
  const floats = <u64>rows * <u64>paddedWidth(p) + 32;
  return floats * 4 + 128 <= <u64>addr(p, 2);
}

function paddedPlanes(p: usize, first: i32, end: i32, scratch: usize): void {
  const cin = word(p, 4), H = word(p, 5), W = word(p, 6), ph = word(p, 9), pw = word(p, 10), sh = word(p, 11), sw = word(p, 12);
  const outH = word(p, 15), outW = word(p, 16), cout = word(p, 17), mult = word(p, 18);
  const x = addr(p, 3), weights = addr(p, 19), y = addr(p, 20), bias = addr(p, 21);
  const reluOn = word(p, 22) != 0, slope = load<f32>(p + 23 * 4);
  const Wp = paddedWidth(p), rows = H + 2 * ph;
  const tmp = scratch, buffer = scratch + 64;
  const rowBytes = <usize>Wp << 2;
  // Zero once: the pad stays zero, each plane only overwrites the image part.
  const total = <usize>(rows * Wp + 32);
  for (let i: usize = 0; i < total; i += 4) v128.store(buffer + (i << 2), f32x4.splat(0));
  let loaded = -1;
  for (let plane = first; plane < end; plane++) {
    const n = plane / cout, o = plane - n * cout;
    const c = n * cin + o / mult;
    if (c != loaded) {
      copyIntoPadded(x + ((<usize>c * H * W) << 2), H, W, buffer + (<usize>ph * rowBytes) + (<usize>pw << 2), rowBytes);
      loaded = c;
    }
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>o << 2)) : 0;
    const bv = f32x4.splat(b);
    const w = weights + (<usize>(o * 9) << 2);
    const yPlane = y + ((<usize>plane * outH * outW) << 2);
    for (let oy = 0; oy < outH; oy++) {
      const row = buffer + <usize>(oy * sh) * rowBytes;
      const yRow = yPlane + (<usize>(oy * outW) << 2);
      const ox = rows3x3(row, Wp, w, bv, yRow, 0, outW, sw, reluOn, slope);
      if (ox < outW) {
        // The last, partial vector: computed whole into tmp (its extra lanes read the slack), stored lane by lane.
        rows3x3(row, Wp, w, bv, tmp - (<usize>ox << 2), ox, ox + 4, sw, reluOn, slope);
        for (let j = ox; j < outW; j++) store<f32>(yRow + (<usize>j << 2), load<f32>(tmp + (<usize>(j - ox) << 2)));
      }
    }
  }
}

@inline function copyIntoPadded(src: usize, H: i32, W: i32, dst: usize, dstRowBytes: usize): void {
  for (let r = 0; r < H; r++) {
    const s = src + (<usize>(r * W) << 2), d = dst + <usize>r * dstRowBytes;
    let i = 0;
    for (; i + 4 <= W; i += 4) v128.store(d + (<usize>i << 2), v128.load(s + (<usize>i << 2)));
    for (; i < W; i++) store<f32>(d + (<usize>i << 2), load<f32>(s + (<usize>i << 2)));
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
