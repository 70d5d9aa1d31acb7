// Depthwise convolution (one input channel per group, as MobileNet's 3x3 layers) in WebAssembly SIMD.
//
// Job fields (32-bit words at p, written by src/kernels/depthwise.ts): 3 x, 4 input channels per image, 5 H,
// 6 W, 7 kh, 8 kw, 9 ph, 10 pw, 11 sh, 12 sw, 13 dh, 14 dw, 15 outH, 16 outW, 17 output channels per image,
// 18 multiplier (outputs per input channel), 19 weights (Cout x kh x kw floats), 20 y, 21 bias (0: none),
// 22 relu on, 23 slope (f32), 24 planes per chunk, 25 planes in all (images x Cout).
// A chunk is a run of output planes. 3x3 stride 2 reads x in place (inPlacePlanes), and 3x3 stride 1 with pads
// 0-2 left and right (inPlace1Planes); other 3x3 planes go through a zero-padded copy (paddedPlanes); the rest row by row, four output columns at a time where the whole kernel row
// is inside the image (stride 1 and 2 vectorized), scalar at the borders (depthwisePlane). Each output is
// bias + sum over taps (ky, kx) in that order, as the TypeScript kernel (depthwisePlane) adds them; every path
// adds w * 0 for a tap in the padding, as Caffe's im2col zeros (an infinite or NaN weight gives NaN there).

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { addr, copyRow, madd, maddf, relu, reluf, splitRow, word } from './simd';


export function depthwiseChunk(p: usize, chunk: i32, scratch: usize): void {
  const perChunk = word(p, 24), planes = word(p, 25);
  const first = chunk * perChunk, end = min(planes, first + perChunk);
  const cout = word(p, 17), mult = word(p, 18);
  const cin = word(p, 4), H = word(p, 5), W = word(p, 6);
  const kh = word(p, 7), kw = word(p, 8);
  const outH = word(p, 15), outW = word(p, 16);
  const x = addr(p, 3), weights = addr(p, 19), y = addr(p, 20), bias = addr(p, 21);
  if (inPlaceFits(p)) {
    inPlacePlanes(p, first, end, scratch);
    return;
  }
  if (inPlace1Fits(p)) {
    inPlace1Planes(p, first, end, scratch);
    return;
  }
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

// ---- 3x3 stride 2 read in place: no padded copy. Each output row reads its three input rows straight from x (a
// row above or below the image is a row of zeros in thread scratch), four output columns at a time: three vector
// loads a row (input columns c .. c + 11, c = 2 ox - pw) and three shuffles give the three taps' vectors (even
// lanes, odd lanes, the even lanes one column on), and the sums go into y with the activation. The deinterleaving
// copy this replaces (paddedPlanes) wrote the whole padded input once more and read it back, and copied the
// outputs out: four loads, four shuffles and five stores more every four outputs, most of the stride-2 time (its
// planes, 112 x 112 in, are past L1). The columns whose window crosses the left or right edge (one or two a row)
// go through tap (w * 0 for the columns past the edge). Same sums as the padded path: bias, then the taps (ky, kx) in order, rows outside the
// image adding 0 * w as the padded copy's zeros did.

/**
 * Whether a plane runs inPlacePlanes: 3x3, stride 2 both ways, no dilation, pad 0-2 on the left (the first vector
 * takes those columns as zero lanes), four output columns at least, and room for the zero row.
 */
function inPlaceFits(p: usize): bool {
  if (word(p, 7) != 3 || word(p, 8) != 3 || word(p, 11) != 2 || word(p, 12) != 2 || word(p, 13) != 1 || word(p, 14) != 1) return false;
  const zeroBytes = <u64>(word(p, 6) + 8) << 2;
  return word(p, 10) <= 2 && inPlaceHi(p) >= 4 && zeroBytes <= <u64>addr(p, 2);
}

/** First output column whose window ends past the image (2 ox - pw + 2 >= W): the vectors stop there. */
@inline function inPlaceHi(p: usize): i32 {
  return min(word(p, 16), firstAtLeast(2 - word(p, 10), 2, word(p, 6)));
}

function inPlacePlanes(p: usize, first: i32, end: i32, scratch: usize): void {
  const W = word(p, 6), reluOn = word(p, 22) != 0, slope = load<f32>(p + 23 * 4);
  // The zero row: the vector loop reads up to 3 floats past a row's last column.
  for (let a = scratch, e = scratch + (<usize>(W + 8) << 2); a < e; a += 4) store<f32>(a, 0);
  // Three copies of the loop (as band3x3s1): the leaky ReLU's constants would spill the nine weights.
  if (!reluOn) inPlaceRun(p, first, end, scratch, ACT_NONE, slope);
  else if (slope == 0) inPlaceRun(p, first, end, scratch, ACT_RELU, slope);
  else inPlaceRun(p, first, end, scratch, ACT_LEAKY, slope);
}

@inline function inPlaceRun(p: usize, first: i32, end: i32, zeros: usize, mode: i32, slope: f32): void {
  const H = word(p, 5), W = word(p, 6), ph = word(p, 9), pw = word(p, 10), outH = word(p, 15), outW = word(p, 16);
  const hi = inPlaceHi(p);
  for (let plane = first; plane < end; plane++) {
    const xPlane = planeInput(p, plane), yPlane = planeOutput(p, plane), w = planeWeights(p, plane), b = planeBias(p, plane);
    const bv = f32x4.splat(b);
    const w0 = v128.load32_splat(w), w1 = v128.load32_splat(w, 4), w2 = v128.load32_splat(w, 8);
    const w3 = v128.load32_splat(w, 12), w4 = v128.load32_splat(w, 16), w5 = v128.load32_splat(w, 20);
    const w6 = v128.load32_splat(w, 24), w7 = v128.load32_splat(w, 28), w8 = v128.load32_splat(w, 32);
    for (let oy = 0; oy < outH; oy++) {
      const iy0 = 2 * oy - ph;
      const r0 = rowOrZeros(xPlane, iy0, H, W, zeros), r1 = rowOrZeros(xPlane, iy0 + 1, H, W, zeros), r2 = rowOrZeros(xPlane, iy0 + 2, H, W, zeros);
      const yRow = yPlane + (<usize>(oy * outW) << 2);
      // Columns 0-3: their windows start at 2 ox - pw, the first pw of them left of the image (zero lanes).
      let acc = bv;
      acc = taps3First(acc, r0, pw, w0, w1, w2);
      acc = taps3First(acc, r1, pw, w3, w4, w5);
      acc = taps3First(acc, r2, pw, w6, w7, w8);
      v128.store(yRow, activate(acc, mode, slope));
      // Then eight a step (two independent chains; the first vector's last load is the second's first), then
      // four a step up to hi, the last step ending at hi (overlapping the one before: the same values). Eight a
      // step in the fused build only: 0.95x its time there, 1.04x in the plain one (a multiply and an add need a
      // register more each, and V8 spills).
      let col = 4;
      for (; ASC_FEATURE_RELAXED_SIMD && col + 8 <= hi; col += 8) {
        const at = <usize>(2 * col - pw) << 2;
        let a0 = bv, a1 = bv;
        let u = v128.load(r0 + at), v = v128.load(r0 + at, 16), t = v128.load(r0 + at, 32);
        a0 = taps3Of(a0, u, v, t, w0, w1, w2);
        u = v128.load(r0 + at, 48); v = v128.load(r0 + at, 64);
        a1 = taps3Of(a1, t, u, v, w0, w1, w2);
        u = v128.load(r1 + at); v = v128.load(r1 + at, 16); t = v128.load(r1 + at, 32);
        a0 = taps3Of(a0, u, v, t, w3, w4, w5);
        u = v128.load(r1 + at, 48); v = v128.load(r1 + at, 64);
        a1 = taps3Of(a1, t, u, v, w3, w4, w5);
        u = v128.load(r2 + at); v = v128.load(r2 + at, 16); t = v128.load(r2 + at, 32);
        a0 = taps3Of(a0, u, v, t, w6, w7, w8);
        u = v128.load(r2 + at, 48); v = v128.load(r2 + at, 64);
        a1 = taps3Of(a1, t, u, v, w6, w7, w8);
        const d = yRow + (<usize>col << 2);
        v128.store(d, activate(a0, mode, slope));
        v128.store(d, activate(a1, mode, slope), 16);
      }
      for (; col < hi; col += 4) {
        const ox = min(col, hi - 4);
        const at = <usize>(2 * ox - pw) << 2;
        acc = bv;
        acc = taps3(acc, r0 + at, w0, w1, w2);
        acc = taps3(acc, r1 + at, w3, w4, w5);
        acc = taps3(acc, r2 + at, w6, w7, w8);
        v128.store(yRow + (<usize>ox << 2), activate(acc, mode, slope));
      }
      // Columns whose window ends past the image (odd widths, right pads): one at a time, w * 0 past the edge.
      for (let ox = hi; ox < outW; ox++) store<f32>(yRow + (<usize>ox << 2), tap(xPlane, w, b, H, W, 3, 3, 1, 1, iy0, 2 * ox - pw, mode != ACT_NONE, slope));
    }
  }
}

/** Output plane `plane`'s input plane (image plane / Cout, channel o / multiplier) in x. */
@inline function planeInput(p: usize, plane: i32): usize {
  const cout = word(p, 17), i = plane / cout, o = plane - i * cout;
  return addr(p, 3) + ((<usize>(i * word(p, 4) + o / word(p, 18)) * word(p, 5) * word(p, 6)) << 2);
}

/** Output plane `plane` in y. */
@inline function planeOutput(p: usize, plane: i32): usize {
  return addr(p, 20) + ((<usize>plane * word(p, 15) * word(p, 16)) << 2);
}

/** The nine weights of output plane `plane`'s channel (3x3 layers). */
@inline function planeWeights(p: usize, plane: i32): usize {
  return addr(p, 19) + (<usize>(plane % word(p, 17) * 9) << 2);
}

/** The bias of output plane `plane`'s channel, or 0 without one. */
@inline function planeBias(p: usize, plane: i32): f32 {
  const bias = addr(p, 21);
  return bias != 0 ? load<f32>(bias + (<usize>(plane % word(p, 17)) << 2)) : 0;
}

/** Input row iy of the plane at x, or the zero row when iy is outside the image. */
@inline function rowOrZeros(x: usize, iy: i32, H: i32, W: i32, zeros: usize): usize {
  return <u32>iy < <u32>H ? x + (<usize>(iy * W) << 2) : zeros;
}

/**
 * acc + the three taps of one kernel row for four outputs of stride 2 whose windows start at input columns
 * q, q + 2, q + 4, q + 6 (q at address a): tap 0 the even lanes of columns q .. q + 7, tap 1 the odd lanes, tap 2
 * the even lanes of q + 2 .. q + 9 (tap 0's lanes 1-3 and column q + 8).
 */
@inline function taps3(acc: v128, a: usize, wa: v128, wb: v128, wc: v128): v128 {
  return taps3Of(acc, v128.load(a), v128.load(a, 16), v128.load(a, 32), wa, wb, wc);
}

/** taps3 for output columns 0-3 of row r (q = -pw, pw 0-2): columns left of the image are zero lanes of u. */
@inline function taps3First(acc: v128, r: usize, pw: i32, wa: v128, wb: v128, wc: v128): v128 {
  if (pw == 0) return taps3(acc, r, wa, wb, wc);
  const z = f32x4.splat(0), l = v128.load(r);
  if (pw == 1) return taps3Of(acc, i32x4.shuffle(z, l, 3, 4, 5, 6), v128.load(r, 12), v128.load(r, 28), wa, wb, wc);
  return taps3Of(acc, i32x4.shuffle(z, l, 2, 3, 4, 5), v128.load(r, 8), v128.load(r, 24), wa, wb, wc);
}

/** taps3 on input columns q .. q + 11 in u, v, t. */
@inline function taps3Of(acc: v128, u: v128, v: v128, t: v128, wa: v128, wb: v128, wc: v128): v128 {
  const even = i32x4.shuffle(u, v, 0, 2, 4, 6);
  acc = madd(acc, wa, even);
  acc = madd(acc, wb, i32x4.shuffle(u, v, 1, 3, 5, 7));
  return madd(acc, wc, i32x4.shuffle(even, t, 1, 2, 3, 4));
}

// ---- 3x3 stride 1 read in place: no padded copy. Bands of four output rows as band3x3s1, each band's six input
// rows straight from x (a row above or below the image is the zero row in thread scratch). For stride 1, outW is
// exactly W + 2 pw - 2, so a row's first vector (output columns 0-3) has its pw columns left of the image and its
// last (outW - 4 .. outW - 1) its pw columns right of it: both take those columns as zero lanes of a shuffle (a
// load at column 0 or W - 4 and zeros), the vectors between are plain loads, the last of them overlapping the one
// before. No scalar column: every output adds the bias then all nine taps (ky, kx) in order, a tap outside the
// image adding w * 0 as the padded copy's zeros did, so the sums are the padded path's to the bit (a clipped
// scalar tap would skip them: -0 sums and infinite weights would differ). The copy this replaces wrote every
// plane into scratch once more (its load, store and the band's loads read back; 112 x 112 planes' copy past L1).

/** Whether a plane runs inPlace1Planes: 3x3, stride 1, no dilation, pw 0-2, 4 x 4 outputs, room for the zero row. */
function inPlace1Fits(p: usize): bool {
  if (word(p, 7) != 3 || word(p, 8) != 3 || word(p, 11) != 1 || word(p, 12) != 1 || word(p, 13) != 1 || word(p, 14) != 1) return false;
  const W = word(p, 6), pw = word(p, 10);
  // W + pw >= 6: the first vector's loads (columns -pw .. 5 - pw) and the last's (W + pw - 6 ..) stay in the row.
  return pw <= 2 && W + pw >= 6 && word(p, 15) >= 4 && (<u64>W + 8) << 2 <= <u64>addr(p, 2);
}

function inPlace1Planes(p: usize, first: i32, end: i32, scratch: usize): void {
  const W = word(p, 6), reluOn = word(p, 22) != 0, slope = load<f32>(p + 23 * 4);
  for (let a = scratch, e = scratch + (<usize>(W + 8) << 2); a < e; a += 4) store<f32>(a, 0);
  // Three copies of the loop, as band3x3s1: the leaky ReLU's constants would spill the nine weights.
  // pw 1 (every MobileNet layer) a constant in its own copies: the edge vectors' choice of shuffles folds away.
  const pw = word(p, 10);
  if (pw == 1) {
    if (!reluOn) inPlace1Run(p, first, end, scratch, ACT_NONE, slope, 1);
    else if (slope == 0) inPlace1Run(p, first, end, scratch, ACT_RELU, slope, 1);
    else inPlace1Run(p, first, end, scratch, ACT_LEAKY, slope, 1);
  } else {
    if (!reluOn) inPlace1Run(p, first, end, scratch, ACT_NONE, slope, pw);
    else if (slope == 0) inPlace1Run(p, first, end, scratch, ACT_RELU, slope, pw);
    else inPlace1Run(p, first, end, scratch, ACT_LEAKY, slope, pw);
  }
}

@inline function inPlace1Run(p: usize, first: i32, end: i32, zeros: usize, mode: i32, slope: f32, pw: i32): void {
  const H = word(p, 5), W = word(p, 6), ph = word(p, 9), outH = word(p, 15), outW = word(p, 16);
  const yRow = <usize>outW << 2, last = outW - 4;
  for (let plane = first; plane < end; plane++) {
    const xPlane = planeInput(p, plane), yPlane = planeOutput(p, plane), w = planeWeights(p, plane);
    const bv = f32x4.splat(planeBias(p, plane));
    const w0 = v128.load32_splat(w), w1 = v128.load32_splat(w, 4), w2 = v128.load32_splat(w, 8);
    const w3 = v128.load32_splat(w, 12), w4 = v128.load32_splat(w, 16), w5 = v128.load32_splat(w, 20);
    const w6 = v128.load32_splat(w, 24), w7 = v128.load32_splat(w, 28), w8 = v128.load32_splat(w, 32);
    for (let band = 0; band < outH; band += 4) {
      const oy = min(band, outH - 4), iy = oy - ph;
      const r0 = rowOrZeros(xPlane, iy, H, W, zeros), r1 = rowOrZeros(xPlane, iy + 1, H, W, zeros);
      const r2 = rowOrZeros(xPlane, iy + 2, H, W, zeros), r3 = rowOrZeros(xPlane, iy + 3, H, W, zeros);
      const r4 = rowOrZeros(xPlane, iy + 4, H, W, zeros), r5 = rowOrZeros(xPlane, iy + 5, H, W, zeros);
      const yr = yPlane + <usize>oy * yRow;
      bandVec(r0, r1, r2, r3, r4, r5, 0, EDGE_LEFT, pw, w0, w1, w2, w3, w4, w5, w6, w7, w8, bv, yr, yRow, mode, slope);
      // Between the edges: plain loads at column ox - pw, the last vector ending at outW - 5 (overlapping), never
      // left of column pw (outW < pw + 8) so that its loads start inside the row.
      for (let col = 4; col < last; col += 4) {
        const ox = max(pw, min(col, last - 4));
        bandVec(r0, r1, r2, r3, r4, r5, <usize>(ox - pw) << 2, EDGE_NONE, pw, w0, w1, w2, w3, w4, w5, w6, w7, w8, bv, yr + (<usize>ox << 2), yRow, mode, slope);
      }
      bandVec(r0, r1, r2, r3, r4, r5, <usize>(W - 4) << 2, EDGE_RIGHT, pw, w0, w1, w2, w3, w4, w5, w6, w7, w8, bv, yr + (<usize>last << 2), yRow, mode, slope);
    }
  }
}

const EDGE_NONE: i32 = 0;
const EDGE_LEFT: i32 = 1;
const EDGE_RIGHT: i32 = 2;

/**
 * Tap kx's four input columns of row r for a vector of outputs: EDGE_NONE, columns at r + at + kx; EDGE_LEFT
 * (outputs 0-3), columns kx - pw .. kx - pw + 3, those left of the image zero lanes; EDGE_RIGHT (outputs outW - 4
 * ..), columns W + pw - 6 + kx .., those right of the image zero lanes (`at` the byte offset of column W - 4).
 */
@inline function tapVec(r: usize, at: usize, kx: i32, edge: i32, pw: i32): v128 {
  if (edge == EDGE_NONE) return v128.load(r + at + (<usize>kx << 2));
  const z = f32x4.splat(0);
  if (edge == EDGE_LEFT) {
    const shift = kx - pw; // -2 .. 2
    if (shift >= 0) return v128.load(r + (<usize>shift << 2));
    const l = v128.load(r);
    return shift == -1 ? i32x4.shuffle(z, l, 3, 4, 5, 6) : i32x4.shuffle(z, l, 2, 3, 4, 5);
  }
  const shift = kx + pw - 2; // columns W - 4 + shift ..: -2 .. 2
  if (shift <= 0) return v128.load(r + at - (<usize>(-shift) << 2));
  const m = v128.load(r + at);
  return shift == 1 ? i32x4.shuffle(m, z, 1, 2, 3, 4) : i32x4.shuffle(m, z, 2, 3, 4, 5);
}

/**
 * One vector of four output columns for the four rows of a band (input rows r0 .. r5), into d, d + yRow, ..:
 * band3x3s1's step, each input row's three tap vectors loaded once (tapVec) and used for every row they reach.
 */
@inline function bandVec(r0: usize, r1: usize, r2: usize, r3: usize, r4: usize, r5: usize, at: usize, edge: i32, pw: i32, w0: v128, w1: v128, w2: v128, w3: v128, w4: v128, w5: v128, w6: v128, w7: v128, w8: v128, bv: v128, d: usize, yRow: usize, mode: i32, slope: f32): void {
  let v: v128;
  let a0 = bv, a1 = bv, a2 = bv, a3 = bv;
  v = tapVec(r0, at, 0, edge, pw); a0 = madd(a0, w0, v);
  v = tapVec(r0, at, 1, edge, pw); a0 = madd(a0, w1, v);
  v = tapVec(r0, at, 2, edge, pw); a0 = madd(a0, w2, v);
  v = tapVec(r1, at, 0, edge, pw); a0 = madd(a0, w3, v); a1 = madd(a1, w0, v);
  v = tapVec(r1, at, 1, edge, pw); a0 = madd(a0, w4, v); a1 = madd(a1, w1, v);
  v = tapVec(r1, at, 2, edge, pw); a0 = madd(a0, w5, v); a1 = madd(a1, w2, v);
  v = tapVec(r2, at, 0, edge, pw); a0 = madd(a0, w6, v); a1 = madd(a1, w3, v); a2 = madd(a2, w0, v);
  v = tapVec(r2, at, 1, edge, pw); a0 = madd(a0, w7, v); a1 = madd(a1, w4, v); a2 = madd(a2, w1, v);
  v = tapVec(r2, at, 2, edge, pw); a0 = madd(a0, w8, v); a1 = madd(a1, w5, v); a2 = madd(a2, w2, v);
  v128.store(d, activate(a0, mode, slope));
  v = tapVec(r3, at, 0, edge, pw); a1 = madd(a1, w6, v); a2 = madd(a2, w3, v); a3 = madd(a3, w0, v);
  v = tapVec(r3, at, 1, edge, pw); a1 = madd(a1, w7, v); a2 = madd(a2, w4, v); a3 = madd(a3, w1, v);
  v = tapVec(r3, at, 2, edge, pw); a1 = madd(a1, w8, v); a2 = madd(a2, w5, v); a3 = madd(a3, w2, v);
  v128.store(d + yRow, activate(a1, mode, slope));
  v = tapVec(r4, at, 0, edge, pw); a2 = madd(a2, w6, v); a3 = madd(a3, w3, v);
  v = tapVec(r4, at, 1, edge, pw); a2 = madd(a2, w7, v); a3 = madd(a3, w4, v);
  v = tapVec(r4, at, 2, edge, pw); a2 = madd(a2, w8, v); a3 = madd(a3, w5, v);
  v128.store(d + 2 * yRow, activate(a2, mode, slope));
  v = tapVec(r5, at, 0, edge, pw); a3 = madd(a3, w6, v);
  v = tapVec(r5, at, 1, edge, pw); a3 = madd(a3, w7, v);
  v = tapVec(r5, at, 2, edge, pw); a3 = madd(a3, w8, v);
  v128.store(d + 3 * yRow, activate(a3, mode, slope));
}

// ---- 3x3 planes, stride 1 or 2 (the same both ways; stride 2 only where inPlacePlanes declines: fewer than four
// output columns whose windows end inside the image, or pads over 2), through a zero-padded copy in thread scratch, computed as
// one flat loop over the plane. With the copy's row stride Wp and output rows Wo = Wp / s long, output (oy, ox) at
// j = oy * Wo + ox reads every tap at j + (the tap's offset), the same for every j: no border cases and no per-row
// work, which is most of the cost on a net's small planes (14x14, 7x7: rows of 2-4 vectors). For stride 2 the copy
// is split into four blocks, even / odd rows by even / odd columns, each with rows Wo = Wp / 2 apart: the columns
// are deinterleaved once as the rows are copied in (two shuffles per eight input floats), so that every tap of
// the loop is a plain vector load (taps 0, 1, 2 of a row: even columns at j, odd at j, even at j + 1), not the
// two loads and a shuffle per tap of reading 2j. The Wo - outW columns after each output row are computed too
// (reading the pad) and dropped when the rows are copied out of `out` into y, with the leaky ReLU.
// Stride 1 (planes of at least 4 x 4 outputs that inPlace1Planes declines: pads over 2, W + pw < 6) runs bands of
// four output rows instead (band3x3s1), each loaded input vector used for every row it reaches, into y.

/** Floats of room after each block of the copy: the loop's last step reads up to 31 floats past a block's rows. */
const SLACK: i32 = 64;
/** Output vectors a step of the loop: eight independent chains of nine multiply-adds hide the FMA latency. */
const STEP: i32 = 32;

/** Row stride (floats) of the padded copy: the padded row, made even for stride 2. */
@inline function flatWidth(p: usize): i32 {
  const w = word(p, 6) + 2 * word(p, 10);
  return word(p, 12) == 2 ? (w + 1) & ~1 : w;
}

/** Floats of one block of the copy: the whole padded plane (stride 1), or a quarter of it (stride 2). */
@inline function blockFloats(p: usize): i32 {
  const rows = word(p, 5) + 2 * word(p, 9);
  const floats = word(p, 12) == 2 ? ((rows + 1) >> 1) * (flatWidth(p) >> 1) : rows * flatWidth(p);
  return (floats + SLACK + 3) & ~3;
}

/** Where `out` starts, in floats from the copy. */
@inline function outBlock(p: usize): i32 {
  return word(p, 12) == 2 ? 4 * blockFloats(p) : blockFloats(p);
}

/** Outputs the flat loop computes for a plane: outH rows of Wo, rounded up to whole steps. */
@inline function flatOutputs(p: usize): i32 {
  return (word(p, 15) * (flatWidth(p) / word(p, 12)) + STEP - 1) / STEP * STEP;
}

/**
 * Whether a plane runs the band loop (band3x3s1, stride 1, into y): at least 4 output rows of at least 4 columns.
 * Stride 2 stays with the flat loop: the same bands over its four blocks (21 loads for 27 multiply-adds, into y)
 * took 1.04-1.20x its time (its cost is the deinterleaving copy in, not the loop).
 */
@inline function banded(s: i32, outH: i32, outW: i32): bool {
  return s == 1 && outH >= 4 && outW >= 4;
}

function paddedFits(p: usize, scratch: usize): bool {
  const kh = word(p, 7), kw = word(p, 8), sh = word(p, 11), sw = word(p, 12), dh = word(p, 13), dw = word(p, 14);
  if (kh != 3 || kw != 3 || dh != 1 || dw != 1 || sh != sw || (sw != 1 && sw != 2)) return false;
  const floats = <u64>outBlock(p) + <u64>flatOutputs(p);
  return floats * 4 <= <u64>addr(p, 2);
}

function paddedPlanes(p: usize, first: i32, end: i32, scratch: usize): void {
  const cin = word(p, 4), H = word(p, 5), W = word(p, 6), ph = word(p, 9), pw = word(p, 10), s = word(p, 12);
  const outH = word(p, 15), outW = word(p, 16), cout = word(p, 17), mult = word(p, 18);
  const x = addr(p, 3), weights = addr(p, 19), y = addr(p, 20), bias = addr(p, 21);
  const reluOn = word(p, 22) != 0, slope = load<f32>(p + 23 * 4);
  const Wp = flatWidth(p), Wo = Wp / s, n = flatOutputs(p);
  const buffer = scratch, q = <usize>blockFloats(p) << 2, out = buffer + (<usize>outBlock(p) << 2);
  // Zero once: the pad stays zero, each plane only overwrites the image part (and `out` holds no stale NaNs).
  for (let a = buffer, e = out + (<usize>n << 2); a < e; a += 16) v128.store(a, f32x4.splat(0));
  let loaded = -1;
  for (let plane = first; plane < end; plane++) {
    const i = plane / cout, o = plane - i * cout;
    const c = i * cin + o / mult;
    if (c != loaded) {
      const src = x + ((<usize>c * H * W) << 2);
      for (let r = 0; r < H; r++) {
        const R = r + ph, from = src + (<usize>(r * W) << 2);
        if (s == 1) copyRow(from, W, buffer + (<usize>(R * Wp + pw) << 2));
        else splitRow(from, W, pw, buffer + ((R & 1) != 0 ? 2 * q : 0) + (<usize>((R >> 1) * Wo) << 2), q);
      }
      loaded = c;
    }
    const b = bias != 0 ? load<f32>(bias + (<usize>o << 2)) : 0;
    const w = weights + (<usize>(o * 9) << 2);
    const rowBytes = <usize>Wp << 2;
    const yPlane = y + ((<usize>plane * outH * outW) << 2);
    if (banded(s, outH, outW)) {
      // Three copies of the loop: its nine weights and four sums leave no register for the leaky ReLU's two
      // constants (V8 spilled them: 1.05x the time with the copy out), so ReLU (slope 0) has only the zero.
      if (!reluOn) band3x3s1(buffer, rowBytes, w, b, yPlane, outH, outW, ACT_NONE, slope);
      else if (slope == 0) band3x3s1(buffer, rowBytes, w, b, yPlane, outH, outW, ACT_RELU, slope);
      else band3x3s1(buffer, rowBytes, w, b, yPlane, outH, outW, ACT_LEAKY, slope);
      continue;
    }
    if (s == 1) flat3x3(buffer, buffer + 4, buffer + rowBytes, buffer + rowBytes + 4, buffer + 2 * rowBytes, buffer + 2 * rowBytes + 4, 8, w, b, out, n);
    else flat3x3(buffer, buffer + q, buffer + 2 * q, buffer + 3 * q, buffer + (<usize>Wo << 2), buffer + q + (<usize>Wo << 2), 4, w, b, out, n);
    copyOut(out, Wo, outH, outW, yPlane, reluOn, slope);
  }
}

/**
 * out[j] = bias + sum of the nine taps for j in [0, n) (a multiple of STEP), taps in the order (ky, kx) as the
 * TypeScript kernel adds them. Kernel row ky reads tap 0 at a_ky + 4j, tap 1 at b_ky + 4j, tap 2 at a_ky + 4j +
 * `last` bytes. Eight vectors a step (eight independent chains: the multiply-add's latency hidden), each tap's
 * weight splatted once for all eight.
 */
@inline function flat3x3(a0: usize, b0: usize, a1: usize, b1: usize, a2: usize, b2: usize, last: usize, w: usize, bias: f32, out: usize, n: i32): void {
  const bv = f32x4.splat(bias);
  for (let j = 0; j < n; j += STEP) {
    const at = <usize>j << 2;
    let v0 = bv, v1 = bv, v2 = bv, v3 = bv, v4 = bv, v5 = bv, v6 = bv, v7 = bv;
    // A loop over the kernel rows, not nine taps in a line: the accumulators stay in registers across its
    // iterations, where straight-line code let the optimizer hoist all nine loads of a vector (spilled by V8).
    for (let ky = 0; ky < 3; ky++) {
      const a = (ky == 0 ? a0 : ky == 1 ? a1 : a2) + at, b = (ky == 0 ? b0 : ky == 1 ? b1 : b2) + at, c = a + last;
      const wk = w + (<usize>(ky * 3) << 2);
      const x0 = v128.load32_splat(wk), x1 = v128.load32_splat(wk, 4), x2 = v128.load32_splat(wk, 8);
      v0 = madd(madd(madd(v0, x0, v128.load(a)), x1, v128.load(b)), x2, v128.load(c));
      v1 = madd(madd(madd(v1, x0, v128.load(a, 16)), x1, v128.load(b, 16)), x2, v128.load(c, 16));
      v2 = madd(madd(madd(v2, x0, v128.load(a, 32)), x1, v128.load(b, 32)), x2, v128.load(c, 32));
      v3 = madd(madd(madd(v3, x0, v128.load(a, 48)), x1, v128.load(b, 48)), x2, v128.load(c, 48));
      v4 = madd(madd(madd(v4, x0, v128.load(a, 64)), x1, v128.load(b, 64)), x2, v128.load(c, 64));
      v5 = madd(madd(madd(v5, x0, v128.load(a, 80)), x1, v128.load(b, 80)), x2, v128.load(c, 80));
      v6 = madd(madd(madd(v6, x0, v128.load(a, 96)), x1, v128.load(b, 96)), x2, v128.load(c, 96));
      v7 = madd(madd(madd(v7, x0, v128.load(a, 112)), x1, v128.load(b, 112)), x2, v128.load(c, 112));
    }
    const d = out + at;
    v128.store(d, v0); v128.store(d, v1, 16); v128.store(d, v2, 32); v128.store(d, v3, 48);
    v128.store(d, v4, 64); v128.store(d, v5, 80); v128.store(d, v6, 96); v128.store(d, v7, 112);
  }
}

/**
 * Stride 1 in bands of four output rows, straight into y (no `out`, no copy out): for each vector of four
 * output columns of rows oy .. oy + 3, each input row's three tap vectors (padded columns ox, ox + 1, ox + 2) are
 * loaded once and used for every output row of the band they reach, the nine weights held in registers: 18 loads
 * for 36 multiply-adds, against one a multiply-add in flat3x3 (bands of three: 15 for 27, 1.05-1.12x the time).
 * The last vector of a row starts at outW - 4 and the last band at outH - 4, overlapping the ones before (the
 * same values, written again), so every store is inside the plane. Each output adds the bias, then the taps in
 * the order (ky, kx), as flat3x3 (the same floats), then the activation (`mode`). Needs outW >= 4 and outH >= 4.
 */
@inline function band3x3s1(x: usize, rowBytes: usize, w: usize, bias: f32, y: usize, outH: i32, outW: i32, mode: i32, slope: f32): void {
  const bv = f32x4.splat(bias);
  const w0 = v128.load32_splat(w), w1 = v128.load32_splat(w, 4), w2 = v128.load32_splat(w, 8);
  const w3 = v128.load32_splat(w, 12), w4 = v128.load32_splat(w, 16), w5 = v128.load32_splat(w, 20);
  const w6 = v128.load32_splat(w, 24), w7 = v128.load32_splat(w, 28), w8 = v128.load32_splat(w, 32);
  const yRow = <usize>outW << 2;
  for (let band = 0; band < outH; band += 4) {
    const oy = min(band, outH - 4);
    const xr = x + <usize>oy * rowBytes, yr = y + <usize>oy * yRow;
    for (let col = 0; col < outW; col += 4) {
      const ox = <usize>min(col, outW - 4) << 2;
      const p0 = xr + ox, p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes, p4 = p3 + rowBytes, p5 = p4 + rowBytes;
      let v: v128;
      let a0 = bv, a1 = bv, a2 = bv, a3 = bv;
      v = v128.load(p0); a0 = madd(a0, w0, v);
      v = v128.load(p0, 4); a0 = madd(a0, w1, v);
      v = v128.load(p0, 8); a0 = madd(a0, w2, v);
      v = v128.load(p1); a0 = madd(a0, w3, v); a1 = madd(a1, w0, v);
      v = v128.load(p1, 4); a0 = madd(a0, w4, v); a1 = madd(a1, w1, v);
      v = v128.load(p1, 8); a0 = madd(a0, w5, v); a1 = madd(a1, w2, v);
      v = v128.load(p2); a0 = madd(a0, w6, v); a1 = madd(a1, w3, v); a2 = madd(a2, w0, v);
      v = v128.load(p2, 4); a0 = madd(a0, w7, v); a1 = madd(a1, w4, v); a2 = madd(a2, w1, v);
      v = v128.load(p2, 8); a0 = madd(a0, w8, v); a1 = madd(a1, w5, v); a2 = madd(a2, w2, v);
      const d = yr + ox;
      v128.store(d, activate(a0, mode, slope));
      v = v128.load(p3); a1 = madd(a1, w6, v); a2 = madd(a2, w3, v); a3 = madd(a3, w0, v);
      v = v128.load(p3, 4); a1 = madd(a1, w7, v); a2 = madd(a2, w4, v); a3 = madd(a3, w1, v);
      v = v128.load(p3, 8); a1 = madd(a1, w8, v); a2 = madd(a2, w5, v); a3 = madd(a3, w2, v);
      v128.store(d + yRow, activate(a1, mode, slope));
      v = v128.load(p4); a2 = madd(a2, w6, v); a3 = madd(a3, w3, v);
      v = v128.load(p4, 4); a2 = madd(a2, w7, v); a3 = madd(a3, w4, v);
      v = v128.load(p4, 8); a2 = madd(a2, w8, v); a3 = madd(a3, w5, v);
      v128.store(d + 2 * yRow, activate(a2, mode, slope));
      v = v128.load(p5); a3 = madd(a3, w6, v);
      v = v128.load(p5, 4); a3 = madd(a3, w7, v);
      v = v128.load(p5, 8); a3 = madd(a3, w8, v);
      v128.store(d + 3 * yRow, activate(a3, mode, slope));
    }
  }
}

const ACT_NONE: i32 = 0;
const ACT_RELU: i32 = 1;
const ACT_LEAKY: i32 = 2;

/**
 * The activation after a sum: none, Caffe's ReLU (relu at slope 0: pmax(v, 0) alone would give 0, not Caffe's NaN,
 * for -Infinity), or the leaky one.
 */
@inline function activate(v: v128, mode: i32, slope: f32): v128 {
  if (mode == ACT_RELU) return relu(v, 0);
  if (mode == ACT_LEAKY) return relu(v, slope);
  return v;
}

/** The outW valid columns of each of the outH rows (Wo apart in `from`) into y, leaky ReLU on the way. */
@inline function copyOut(from: usize, Wo: i32, outH: i32, outW: i32, y: usize, reluOn: bool, slope: f32): void {
  for (let oy = 0; oy < outH; oy++) {
    const src = from + (<usize>(oy * Wo) << 2), dst = y + (<usize>(oy * outW) << 2);
    if (outW < 4) {
      for (let k = 0; k < outW; k++) {
        let v = load<f32>(src + (<usize>k << 2));
        if (reluOn) v = reluf(v, slope);
        store<f32>(dst + (<usize>k << 2), v);
      }
      continue;
    }
    // Whole vectors, the last one ending at the row's end (it may overlap the one before: same values).
    for (let k = 0; k < outW; k += 4) {
      const at = <usize>min(k, outW - 4) << 2;
      const v = v128.load(src + at);
      v128.store(dst + at, reluOn ? relu(v, slope) : v);
    }
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
  for (let oy = 0; oy < outH; oy++) {
    const iy0 = oy * sh - ph;
    // Kernel rows inside the image for this output row: [ky0, ky1), ky0 at most kh (a pad past the kernel's reach
    // leaves no row inside; the zero-tap loops below must not read another channel's weights then).
    const ky0 = iy0 >= 0 ? 0 : min(kh, (-iy0 + dh - 1) / dh);
    const ky1 = min(kh, iy0 < H ? (H - 1 - iy0) / dh + 1 : 0);
    const yRow = y + (<usize>(oy * outW) << 2);
    let ox = lo;
    if (kh == 3 && kw == 3 && dh == 1 && dw == 1 && ky0 == 0 && ky1 == 3 && (sw == 1 || sw == 2)) {
      ox = rows3x3(x + (<usize>(iy0 * W - pw) << 2), W, w, bv, yRow, lo, hi, sw, reluOn, slope);
    } else if (sw == 1 || sw == 2) {
      for (; ox + 4 <= hi; ox += 4) {
        let acc = bv;
        // Kernel rows above or below the image add w * 0, as Caffe's im2col zeros (NaN for an infinite w).
        for (let ky = 0; ky < ky0; ky++) acc = zeroTaps(acc, w + (<usize>(ky * kw) << 2), kw);
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
        for (let ky = ky1; ky < kh; ky++) acc = zeroTaps(acc, w + (<usize>(ky * kw) << 2), kw);
        if (reluOn) acc = relu(acc, slope);
        v128.store(yRow + (<usize>ox << 2), acc);
      }
    }
    for (; ox < hi; ox++) store<f32>(yRow + (<usize>ox << 2), tap(x, w, b, H, W, kh, kw, dh, dw, iy0, ox * sw - pw, reluOn, slope));
    for (let bx = 0; bx < lo; bx++) store<f32>(yRow + (<usize>bx << 2), tap(x, w, b, H, W, kh, kw, dh, dw, iy0, bx * sw - pw, reluOn, slope));
    for (let bx = hi; bx < outW; bx++) store<f32>(yRow + (<usize>bx << 2), tap(x, w, b, H, W, kh, kw, dh, dw, iy0, bx * sw - pw, reluOn, slope));
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
    if (reluOn) acc = relu(acc, slope);
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

/** acc + w[kx] * 0 for the kw weights of one kernel row outside the image (Caffe's padded taps). */
@inline function zeroTaps(acc: v128, wRow: usize, kw: i32): v128 {
  const z = f32x4.splat(0);
  for (let kx = 0; kx < kw; kx++) acc = madd(acc, v128.load32_splat(wRow + (<usize>kx << 2)), z);
  return acc;
}

/**
 * One output value (borders, and what the vector loop leaves): bias, then every tap (ky, kx) in order, a tap
 * outside the image adding w * 0 as Caffe's im2col zeros do (NaN for an infinite or NaN weight, not a skip).
 */
@inline function tap(x: usize, w: usize, b: f32, H: i32, W: i32, kh: i32, kw: i32, dh: i32, dw: i32, iy0: i32, ix0: i32, reluOn: bool, slope: f32): f32 {
  let acc = b;
  for (let ky = 0; ky < kh; ky++) {
    const iy = iy0 + ky * dh, inside = <u32>iy < <u32>H;
    const row = x + (<usize>(iy * W) << 2);
    for (let kx = 0; kx < kw; kx++) {
      const ix = ix0 + kx * dw;
      const v: f32 = inside && <u32>ix < <u32>W ? load<f32>(row + (<usize>ix << 2)) : 0;
      acc = maddf(acc, load<f32>(w + (<usize>(ky * kw + kx) << 2)), v);
    }
  }
  if (reluOn) acc = reluf(acc, slope);
  return acc;
}
