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

// ---- 3x3 planes, stride 1 or 2 (the same both ways), through a zero-padded copy in thread scratch, computed as
// one flat loop over the plane. With the copy's row stride Wp and output rows Wo = Wp / s long, output (oy, ox) at
// j = oy * Wo + ox reads the copy at s * j + (the tap's offset), the same for every j: no border cases and no
// per-row work, which is most of the cost on a net's small planes (14x14, 7x7: rows of 2-4 vectors). For stride 2
// the copy keeps even and odd rows apart (even rows from 0, odd rows from `odd`, both with stride Wp = 2 Wo), so
// that 2j lands on row 2 oy. The Wo - outW columns after each output row are computed too (reading the pad) and
// dropped when the rows are copied out of `out` into y.

/** Row stride (floats) of the padded copy: the padded row, made even for stride 2. */
@inline function flatWidth(p: usize): i32 {
  const w = word(p, 6) + 2 * word(p, 10);
  return word(p, 12) == 2 ? (w + 1) & ~1 : w;
}

/** Where the odd rows start (stride 2; stride 1 has one block) and where `out` starts, in floats from the copy. */
@inline function oddBlock(p: usize): i32 {
  const rows = word(p, 5) + 2 * word(p, 9);
  return word(p, 12) == 2 ? ((rows + 1) >> 1) * flatWidth(p) + 32 : 0;
}
@inline function outBlock(p: usize): i32 {
  const rows = word(p, 5) + 2 * word(p, 9);
  const copy = word(p, 12) == 2 ? oddBlock(p) + (rows >> 1) * flatWidth(p) + 32 : rows * flatWidth(p) + 32;
  return (copy + 3) & ~3;
}

function paddedFits(p: usize, scratch: usize): bool {
  const kh = word(p, 7), kw = word(p, 8), sh = word(p, 11), sw = word(p, 12), dh = word(p, 13), dw = word(p, 14);
  if (kh != 3 || kw != 3 || dh != 1 || dw != 1 || sh != sw || (sw != 1 && sw != 2)) return false;
  const Wo = flatWidth(p) / sw;
  const floats = <u64>outBlock(p) + <u64>word(p, 15) * <u64>Wo + 16;
  return floats * 4 <= <u64>addr(p, 2);
}

function paddedPlanes(p: usize, first: i32, end: i32, scratch: usize): void {
  const cin = word(p, 4), H = word(p, 5), W = word(p, 6), ph = word(p, 9), pw = word(p, 10), s = word(p, 12);
  const outH = word(p, 15), outW = word(p, 16), cout = word(p, 17), mult = word(p, 18);
  const x = addr(p, 3), weights = addr(p, 19), y = addr(p, 20), bias = addr(p, 21);
  const reluOn = word(p, 22) != 0, slope = load<f32>(p + 23 * 4);
  const Wp = flatWidth(p), Wo = Wp / s, n = outH * Wo;
  const buffer = scratch, odd = buffer + (<usize>oddBlock(p) << 2), out = buffer + (<usize>outBlock(p) << 2);
  // Zero once: the pad stays zero, each plane only overwrites the image part.
  for (let a = buffer; a < out; a += 16) v128.store(a, f32x4.splat(0));
  let loaded = -1;
  for (let plane = first; plane < end; plane++) {
    const i = plane / cout, o = plane - i * cout;
    const c = i * cin + o / mult;
    if (c != loaded) {
      const src = x + ((<usize>c * H * W) << 2);
      for (let r = 0; r < H; r++) {
        const R = r + ph, block = s == 2 && (R & 1) != 0 ? odd : buffer;
        copyRow(src + (<usize>(r * W) << 2), W, block + (<usize>((s == 2 ? R >> 1 : R) * Wp + pw) << 2));
      }
      loaded = c;
    }
    const bv = f32x4.splat(bias != 0 ? load<f32>(bias + (<usize>o << 2)) : 0);
    const w = weights + (<usize>(o * 9) << 2);
    if (s == 1) flat3x3(buffer, buffer + (<usize>Wp << 2), buffer + (<usize>(2 * Wp) << 2), 1, w, bv, out, n, reluOn, slope);
    else flat3x3(buffer, odd, buffer + (<usize>Wp << 2), 2, w, bv, out, n, reluOn, slope);
    // The outW valid columns of each row into y; a row's last vector may spill into the next rows, written after
    // it, but never past the plane (with outW < 4 it would reach the next plane, another thread's).
    const yPlane = y + ((<usize>plane * outH * outW) << 2);
    for (let oy = 0; oy < outH; oy++) {
      const from = out + (<usize>(oy * Wo) << 2), to = yPlane + (<usize>(oy * outW) << 2);
      const vectorEnd = min(outW, (outH - oy) * outW - 3);
      let k = 0;
      for (; k < vectorEnd; k += 4) v128.store(to + (<usize>k << 2), v128.load(from + (<usize>k << 2)));
      for (; k < outW; k++) store<f32>(to + (<usize>k << 2), load<f32>(from + (<usize>k << 2)));
    }
  }
}

/**
 * out[j] = bias + sum of the nine taps for j in [0, n) (rounded up to 8), taps in the order (ky, kx) as
 * rows3x3, so the results are the same to the bit. r0, r1, r2: where kernel rows 0, 1, 2 read for j = 0; s: stride.
 * Two vectors a step: two independent chains of multiply-adds.
 */
@inline function flat3x3(r0: usize, r1: usize, r2: usize, s: i32, w: usize, bv: v128, out: usize, n: i32, reluOn: bool, slope: f32): void {
  const w0 = v128.load32_splat(w), w1 = v128.load32_splat(w, 4), w2 = v128.load32_splat(w, 8);
  const w3 = v128.load32_splat(w, 12), w4 = v128.load32_splat(w, 16), w5 = v128.load32_splat(w, 20);
  const w6 = v128.load32_splat(w, 24), w7 = v128.load32_splat(w, 28), w8 = v128.load32_splat(w, 32);
  for (let j = 0; j < n; j += 8) {
    const at = <usize>(j * s) << 2, step = <usize>(4 * s) << 2;
    let a = bv, b = bv;
    if (s == 1) {
      a = madd(a, w0, v128.load(r0 + at)); b = madd(b, w0, v128.load(r0 + at, 16));
      a = madd(a, w1, v128.load(r0 + at, 4)); b = madd(b, w1, v128.load(r0 + at, 20));
      a = madd(a, w2, v128.load(r0 + at, 8)); b = madd(b, w2, v128.load(r0 + at, 24));
      a = madd(a, w3, v128.load(r1 + at)); b = madd(b, w3, v128.load(r1 + at, 16));
      a = madd(a, w4, v128.load(r1 + at, 4)); b = madd(b, w4, v128.load(r1 + at, 20));
      a = madd(a, w5, v128.load(r1 + at, 8)); b = madd(b, w5, v128.load(r1 + at, 24));
      a = madd(a, w6, v128.load(r2 + at)); b = madd(b, w6, v128.load(r2 + at, 16));
      a = madd(a, w7, v128.load(r2 + at, 4)); b = madd(b, w7, v128.load(r2 + at, 20));
      a = madd(a, w8, v128.load(r2 + at, 8)); b = madd(b, w8, v128.load(r2 + at, 24));
    } else {
      // Stride 2: taps 0 and 1 are the even and odd lanes of entries 0..7, tap 2 the even lanes of entries 2..9.
      a = madd(a, w0, even(r0 + at, 0)); b = madd(b, w0, even(r0 + at + step, 0));
      a = madd(a, w1, odd(r0 + at)); b = madd(b, w1, odd(r0 + at + step));
      a = madd(a, w2, even(r0 + at, 8)); b = madd(b, w2, even(r0 + at + step, 8));
      a = madd(a, w3, even(r1 + at, 0)); b = madd(b, w3, even(r1 + at + step, 0));
      a = madd(a, w4, odd(r1 + at)); b = madd(b, w4, odd(r1 + at + step));
      a = madd(a, w5, even(r1 + at, 8)); b = madd(b, w5, even(r1 + at + step, 8));
      a = madd(a, w6, even(r2 + at, 0)); b = madd(b, w6, even(r2 + at + step, 0));
      a = madd(a, w7, odd(r2 + at)); b = madd(b, w7, odd(r2 + at + step));
      a = madd(a, w8, even(r2 + at, 8)); b = madd(b, w8, even(r2 + at + step, 8));
    }
    if (reluOn) {
      a = v128.bitselect(a, f32x4.mul(a, f32x4.splat(slope)), f32x4.gt(a, f32x4.splat(0)));
      b = v128.bitselect(b, f32x4.mul(b, f32x4.splat(slope)), f32x4.gt(b, f32x4.splat(0)));
    }
    v128.store(out + (<usize>j << 2), a);
    v128.store(out + (<usize>j << 2), b, 16);
  }
}

@inline function copyRow(src: usize, W: i32, dst: usize): void {
  let i = 0;
  for (; i + 4 <= W; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < W; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
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
