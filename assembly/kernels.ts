// WebAssembly SIMD kernels for crema's native engine (AssemblyScript, compiled by `npm run build` with asc).
//
// Everything here works on byte addresses inside one (shared) linear memory that the JavaScript side manages
// (src/kernels/wasm.ts): the module has no heap, no static data and no runtime, so any number of instances,
// one per worker thread, can run over the same memory at once.
//
// GEMM layout (as BLIS): K is cut into blocks of KC. "Packed A" holds MR-row strips: for K block kb starting at
// k0 (kc rows long) and strip s, element (i, k) sits at aBase + (k0 * mPad + s * MR * kc + (k - k0) * MR + i % MR).
// "Packed B" is the same with NR-column strips. The micro-kernel computes an MR x NR tile of C with 8 f32x4
// accumulators, one splatted A value and two B vectors per k.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { copyChunk } from './copy';
import { depthwiseChunk } from './depthwise';
import { directChunk } from './direct';
import { fewRows } from './fewrows';
import { eltwiseChunk } from './eltwise';
import { lrnChunk } from './lrnjob';
import { MR, NR, addr, madd, relu, reluf, word } from './simd';
import { poolChunk } from './pooling';
import { pointwiseChunk } from './pointwise';
import { expChunk } from './exp';
import { col2imChunk } from './col2im';
import { normalizeChunk } from './normalize';
import { latticeChunk } from './lattice';
import { correlationChunk } from './correlation';
import { gemvRows, packRowsAsB } from './rowmajor';
import { winogradChunk, winogradFiltersChunk, winogradPadChunk } from './winograd';


/** Bias modes for gemmStrips: none, one value per row of C (convolution), one per column (inner product). */
const BIAS_NONE: i32 = 0;
const BIAS_ROW: i32 = 1;
const BIAS_COL: i32 = 2;

/**
 * One MR x NR tile: C[rows x cols] (=|+=) Apanel * Bpanel over kc, then (on the last K block) bias, the residual
 * R (a tile at `res` in C's layout, when not 0: an Eltwise SUM fused into the convolution) and leaky ReLU.
 * `tmp` is 128 bytes of scratch for edge tiles.
 */
@inline
function microTile(
  kc: i32, pa: usize, pb: usize, c: usize, ldcBytes: usize, rows: i32, cols: i32,
  first: bool, last: bool, biasMode: i32, bias: usize, reluOn: bool, slope: f32, tmp: usize, res: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  // The loop runs on B's pointer, no counter: V8's code for it is 18 instructions per k (8 FMAs, 6 loads, 2
  // pointer adds, the compare and branch) where a counter made it 19, and on a core whose other hardware thread
  // is busy the kernels run at the core's instruction rate: 5-6 % off ResNet-50 and MobileNet forwards, both
  // load orders (docs/PERFORMANCE.md, round seventeen).
  const end = pb + (<usize>kc << 5);
  while (pb < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(c00, a, b0);
    c01 = madd(c01, a, b1);
    a = v128.load32_splat(pa, 4);
    c10 = madd(c10, a, b0);
    c11 = madd(c11, a, b1);
    a = v128.load32_splat(pa, 8);
    c20 = madd(c20, a, b0);
    c21 = madd(c21, a, b1);
    a = v128.load32_splat(pa, 12);
    c30 = madd(c30, a, b0);
    c31 = madd(c31, a, b1);
    pa += 16;
    pb += 32;
  }
  const full = rows == MR && cols == NR;
  // Full tiles read and write C directly; edge tiles go through tmp (MR x NR, row stride 32 bytes).
  let dst: usize = full ? c : tmp;
  const ld: usize = full ? ldcBytes : 32;
  if (!full) {
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) store<f32>(tmp + i * 32 + j * 4, first ? 0 : load<f32>(c + <usize>i * ldcBytes + <usize>j * 4));
  }
  if (!first || !full) {
    c00 = f32x4.add(c00, v128.load(dst)); c01 = f32x4.add(c01, v128.load(dst, 16));
    c10 = f32x4.add(c10, v128.load(dst + ld)); c11 = f32x4.add(c11, v128.load(dst + ld, 16));
    c20 = f32x4.add(c20, v128.load(dst + 2 * ld)); c21 = f32x4.add(c21, v128.load(dst + 2 * ld, 16));
    c30 = f32x4.add(c30, v128.load(dst + 3 * ld)); c31 = f32x4.add(c31, v128.load(dst + 3 * ld, 16));
  }
  if (last) {
    if (biasMode == BIAS_ROW) {
      let v = v128.load32_splat(bias); c00 = f32x4.add(c00, v); c01 = f32x4.add(c01, v);
      v = v128.load32_splat(bias, 4); c10 = f32x4.add(c10, v); c11 = f32x4.add(c11, v);
      v = v128.load32_splat(bias, 8); c20 = f32x4.add(c20, v); c21 = f32x4.add(c21, v);
      v = v128.load32_splat(bias, 12); c30 = f32x4.add(c30, v); c31 = f32x4.add(c31, v);
    } else if (biasMode == BIAS_COL) {
      const v0 = v128.load(bias), v1 = v128.load(bias, 16);
      c00 = f32x4.add(c00, v0); c01 = f32x4.add(c01, v1);
      c10 = f32x4.add(c10, v0); c11 = f32x4.add(c11, v1);
      c20 = f32x4.add(c20, v0); c21 = f32x4.add(c21, v1);
      c30 = f32x4.add(c30, v0); c31 = f32x4.add(c31, v1);
    }
    if (res != 0 && full) {
      // Caffe's Eltwise SUM of the convolution's output (as stored: bias added) and R, then the ReLU on the sum.
      c00 = f32x4.add(c00, v128.load(res)); c01 = f32x4.add(c01, v128.load(res, 16));
      c10 = f32x4.add(c10, v128.load(res + ld)); c11 = f32x4.add(c11, v128.load(res + ld, 16));
      c20 = f32x4.add(c20, v128.load(res + 2 * ld)); c21 = f32x4.add(c21, v128.load(res + 2 * ld, 16));
      c30 = f32x4.add(c30, v128.load(res + 3 * ld)); c31 = f32x4.add(c31, v128.load(res + 3 * ld, 16));
      // + 0: Caffe's sum starts from +0 (caffe_set(0), then axpy), so -0 + -0 is +0 there.
      const z = f32x4.splat(0);
      c00 = f32x4.add(c00, z); c01 = f32x4.add(c01, z); c10 = f32x4.add(c10, z); c11 = f32x4.add(c11, z);
      c20 = f32x4.add(c20, z); c21 = f32x4.add(c21, z); c30 = f32x4.add(c30, z); c31 = f32x4.add(c31, z);
    }
    if (reluOn && (res == 0 || full)) {
      c00 = relu(c00, slope); c01 = relu(c01, slope);
      c10 = relu(c10, slope); c11 = relu(c11, slope);
      c20 = relu(c20, slope); c21 = relu(c21, slope);
      c30 = relu(c30, slope); c31 = relu(c31, slope);
    }
  }
  v128.store(dst, c00); v128.store(dst, c01, 16);
  v128.store(dst + ld, c10); v128.store(dst + ld, c11, 16);
  v128.store(dst + 2 * ld, c20); v128.store(dst + 2 * ld, c21, 16);
  v128.store(dst + 3 * ld, c30); v128.store(dst + 3 * ld, c31, 16);
  if (!full) {
    if (last && res != 0) {
      // Edge tile with a residual: the sum and the ReLU per element, as the lanes above do them.
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
        const at = <usize>i * ldcBytes + <usize>j * 4;
        let v: f32 = load<f32>(tmp + i * 32 + j * 4) + load<f32>(res + at) + 0;
        if (reluOn) v = reluf(v, slope);
        store<f32>(c + at, v);
      }
    } else {
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) store<f32>(c + <usize>i * ldcBytes + <usize>j * 4, load<f32>(tmp + i * 32 + j * 4));
    }
  }
}

/**
 * One element of an edge tile's output, with the roundings of microTile's edge path: C (=|+=) v, then on the last
 * K block the bias (row or column), the residual and the leaky ReLU. `at`: the element's byte offset from C(0, 0)
 * of the tile (also from R's); `row`, `col`: its row and column in the tile.
 */
@inline
function edgeOut(
  v: f32, c: usize, at: usize, row: i32, col: i32, first: bool, last: bool, biasMode: i32, bias: usize, reluOn: bool, slope: f32, res: usize,
): void {
  v += first ? <f32>0 : load<f32>(c + at);
  if (last) {
    if (biasMode == BIAS_ROW) v += load<f32>(bias + (<usize>row << 2));
    else if (biasMode == BIAS_COL) v += load<f32>(bias + (<usize>col << 2));
    if (res != 0) v += load<f32>(res + at) + 0;
    if (reluOn) v = reluf(v, slope);
  }
  store<f32>(c + at, v);
}

/**
 * One column of an edge strip of B (a plane of 7 x 7, 13 x 13 ...: N = 8 n + 1; or 14 x 14: 8 n + 4) against 6
 * strips of A (24 rows) at once: 6 accumulators of 4 rows, the column's B value splatted. A 4 x 8 tile costs as
 * much for 4 rows and all 8 columns of the strip, so a strip of c <= 4 columns costs c / 6 of it this way. Six
 * accumulators, not eight: with eight, V8 spills one (15 vector registers) and the loop runs ~3.5x slower.
 * sb: bytes from one A strip to the next; pb, c, res: the column's first element. Same sums as microTile.
 */
@inline
function tile24x1(
  kc: i32, pa: usize, sb: usize, pb: usize, c: usize, ldcBytes: usize, row0: i32, col: i32, first: bool, last: bool,
  biasMode: i32, bias: usize, reluOn: bool, slope: f32, tmp: usize, res: usize,
): void {
  let r0 = f32x4.splat(0), r1 = f32x4.splat(0), r2 = f32x4.splat(0);
  let r3 = f32x4.splat(0), r4 = f32x4.splat(0), r5 = f32x4.splat(0);
  const s2 = sb + sb;
  let p = pa, q = pa + s2 + sb;
  for (let k = 0; k < kc; k++) {
    const b = v128.load32_splat(pb);
    r0 = madd(r0, v128.load(p), b);
    r1 = madd(r1, v128.load(p + sb), b);
    r2 = madd(r2, v128.load(p + s2), b);
    r3 = madd(r3, v128.load(q), b);
    r4 = madd(r4, v128.load(q + sb), b);
    r5 = madd(r5, v128.load(q + s2), b);
    p += 16;
    q += 16;
    pb += 32;
  }
  v128.store(tmp, r0); v128.store(tmp, r1, 16); v128.store(tmp, r2, 32);
  v128.store(tmp, r3, 48); v128.store(tmp, r4, 64); v128.store(tmp, r5, 80);
  for (let i = 0; i < 6 * MR; i++) {
    edgeOut(load<f32>(tmp + (<usize>i << 2)), c, <usize>i * ldcBytes, row0 + i, col, first, last, biasMode, bias, reluOn, slope, res);
  }
}

/**
 * C (row-major, ldc floats) for rows [0, M) and the columns of B strips [t0, t1) over one K block:
 * a: packed A block (all M strips, kc long each), b: packed B block (strip t at b + t * NR * kc * 4),
 * c: address of C(0, 0); colBase: C column of strip 0 (so strip t covers colBase + t * NR ...); N: valid columns.
 * Strips outer, rows inner: one B strip (NR x kc) stays in L1 while all of A's block streams from L2.
 * bias: per row (biasMode 1, address of row 0's bias) or per column (biasMode 2, address of column colBase's
 * bias, padded to whole strips). res: 0, or the address of R(0, 0), a matrix in C's layout (ldc) added to C
 * after the bias on the last K block, before the ReLU (a convolution with ResNet's Eltwise SUM fused in).
 */
export function gemmStrips(
  M: i32, N: i32, kc: i32, a: usize, b: usize, t0: i32, t1: i32, c: usize, ldc: i32, colBase: i32,
  first: bool, last: bool, biasMode: i32, bias: usize, reluOn: bool, slope: f32, tmp: usize, res: usize,
): void {
  const ldcBytes = <usize>ldc << 2;
  const sb = <usize>(MR * kc) * 4;
  // A last strip of 1 to 4 columns (planes of 7 x 7, 13 x 13, 14 x 14 ...) runs 24 rows a column at a time
  // (tile24x1); after a whole strip, interleaved with it six row strips at a time, so that those rows of A are
  // read from L1 (a block of A larger than L2 would otherwise stream from L3 six times as fast as the tiles need).
  const edge = t1 - 1, edgeCols = min(NR, N - edge * NR);
  const split = columnsEdge(edgeCols);
  for (let t = t0; t < t1; t++) {
    const col = t * NR;
    const cols = min(NR, N - col);
    if (cols <= 0) break;
    if (split && t == edge && t > t0) break; // done with the strip before it
    let s = 0;
    const withEdge = split && t + 1 == edge;
    if (split && (t == edge || withEdge)) {
      for (; (s + 6) * MR <= M; s += 6) {
        if (withEdge) for (let u = s; u < s + 6; u++) stripTile(M, N, kc, a, b, t, u, c, ldcBytes, colBase, first, last, biasMode, bias, reluOn, slope, tmp, res);
        const row = s * MR, at = <usize>row * ldcBytes, ecol = <usize>(colBase + edge * NR) << 2;
        const pbias = biasMode == BIAS_ROW ? bias : bias + (<usize>(edge * NR) << 2);
        const pb = b + <usize>(edge * NR * kc) * 4;
        for (let j = 0; j < edgeCols; j++) {
          const cj = at + ecol + (<usize>j << 2);
          tile24x1(kc, a + <usize>s * sb, sb, pb + (<usize>j << 2), c + cj, ldcBytes, row, j, first, last, biasMode, pbias, reluOn, slope, tmp, res == 0 ? 0 : res + cj);
        }
      }
      if (withEdge) for (let u = s; u * MR < M; u++) stripTile(M, N, kc, a, b, edge, u, c, ldcBytes, colBase, first, last, biasMode, bias, reluOn, slope, tmp, res);
    }
    for (; s * MR < M; s++) stripTile(M, N, kc, a, b, t, s, c, ldcBytes, colBase, first, last, biasMode, bias, reluOn, slope, tmp, res);
  }
}

/** Whether gemmStrips runs a last strip of `cols` columns a column at a time (tile24x1): 1 to 4 of them. */
@inline function columnsEdge(cols: i32): bool {
  return cols >= 1 && cols <= 4;
}

/**
 * The column count to give gemmStrips for `n` columns stored in whole strips of NR (room for them all): `n` where its
 * last strip runs as columns, else the whole strips (5 to 7 columns cost about what 8 do; tmp's edge tile would copy).
 */
export function stripColumns(n: i32): i32 {
  return columnsEdge(n % NR) ? n : (n + NR - 1) / NR * NR;
}

/** gemmStrips' tile of B strip t and A strip s (microTile with its addresses). */
@inline
function stripTile(
  M: i32, N: i32, kc: i32, a: usize, b: usize, t: i32, s: i32, c: usize, ldcBytes: usize, colBase: i32,
  first: bool, last: bool, biasMode: i32, bias: usize, reluOn: bool, slope: f32, tmp: usize, res: usize,
): void {
  const col = t * NR, row = s * MR;
  const pa = a + <usize>(row * kc) * 4;
  const pb = b + <usize>(col * kc) * 4;
  const at = <usize>row * ldcBytes + <usize>(colBase + col) * 4;
  const pbias = biasMode == BIAS_ROW ? bias + <usize>row * 4 : bias + <usize>col * 4;
  microTile(kc, pa, pb, c + at, ldcBytes, min(MR, M - row), min(NR, N - col), first, last, biasMode, pbias, reluOn, slope, tmp, res == 0 ? 0 : res + at);
}

/**
 * Packs columns [j0, j1) of B (rows [k0, k0 + kc)) into NR-column strips at dst (strip (j - j0) / NR at
 * dst + strip * NR * kc floats), zero-filling the last strip. B(k, j) = src[k * rs + j * cs] (floats).
 */
export function packB(src: usize, rs: i32, cs: i32, k0: i32, kc: i32, j0: i32, j1: i32, dst: usize): void {
  const n = j1 - j0;
  const strips = (n + NR - 1) / NR;
  for (let t = 0; t < strips; t++) {
    const cols = min(NR, n - t * NR);
    let out = dst + <usize>(t * NR * kc) * 4;
    const colStart = j0 + t * NR;
    if (cols == NR && cs == 1) {
      let p = src + (<usize>k0 * rs + colStart) * 4;
      const step = <usize>rs * 4;
      for (let k = 0; k < kc; k++) {
        v128.store(out, v128.load(p));
        v128.store(out, v128.load(p, 16), 16);
        out += 32;
        p += step;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const row = src + (<usize>(k0 + k) * rs) * 4;
        for (let c = 0; c < NR; c++) store<f32>(out + c * 4, c < cols ? load<f32>(row + <usize>(colStart + c) * cs * 4) : 0);
        out += 32;
      }
    }
  }
}

/**
 * Packs rows [0, M) of A (columns [k0, k0 + kc)) into MR-row strips at dst, zero-filling the last strip.
 * A(i, k) = src[i * rs + k * cs] (floats).
 */
export function packA(src: usize, rs: i32, cs: i32, M: i32, k0: i32, kc: i32, dst: usize): void {
  const strips = (M + MR - 1) / MR;
  for (let s = 0; s < strips; s++) {
    let out = dst + <usize>(s * MR * kc) * 4;
    for (let k = 0; k < kc; k++) {
      for (let r = 0; r < MR; r++) {
        const i = s * MR + r;
        store<f32>(out + r * 4, i < M ? load<f32>(src + (<usize>i * rs + <usize>(k0 + k) * cs) * 4) : 0);
      }
      out += 16;
    }
  }
}

/**
 * im2col straight into the packed-B layout: rows [k0, k0 + kc) of the column matrix (k = (c, ky, kx)) and its
 * columns [j0, j1) (j = oy * outW + ox), for one image plane stack at x (C x H x W floats).
 * Per k and output row: the columns whose input is outside the image (left and right pad) are zeros, the rest
 * are copied, four at a time with vector loads at strides 1 and 2 once the packed position is 4-aligned.
 */
export function im2colPacked(
  x: usize, H: i32, W: i32, kh: i32, kw: i32, ph: i32, pw: i32, sh: i32, sw: i32, dh: i32, dw: i32, outW: i32,
  k0: i32, kc: i32, j0: i32, j1: i32, dst: usize,
): void {
  const n = j1 - j0;
  const strips = (n + NR - 1) / NR;
  const stripBytes = <usize>(NR * kc) * 4;
  const taps = kh * kw;
  for (let k = k0; k < k0 + kc; k++) {
    const ch = k / taps, r = k - ch * taps;
    const ky = r / kw, kx = r - ky * kw;
    const plane = x + <usize>(ch * H * W) * 4;
    const out = dst + <usize>((k - k0) * NR) * 4;
    const xShift = kx * dw - pw;
    // Output columns whose input column ox * sw + xShift is inside [0, W).
    const lo = min(outW, xShift >= 0 ? 0 : (-xShift + sw - 1) / sw);
    const hi = max(lo, min(outW, W - xShift <= 0 ? 0 : (W - xShift + sw - 1) / sw));
    let oy = j0 / outW, ox0 = j0 - oy * outW;
    let jj = 0;
    while (jj < n) {
      const seg = min(outW - ox0, n - jj);
      const iy = oy * sh + ky * dh - ph;
      if (<u32>iy >= <u32>H) {
        for (let e = jj + seg; jj < e; jj++) store<f32>(packedAt(out, stripBytes, jj), 0);
      } else {
        const row = plane + <usize>(iy * W) * 4;
        const a = max(ox0, lo), b = min(ox0 + seg, hi);
        let ox = ox0;
        for (; ox < a; ox++, jj++) store<f32>(packedAt(out, stripBytes, jj), 0);
        if (sw <= 2) {
          for (; ox < b && (jj & 3) != 0; ox++, jj++) store<f32>(packedAt(out, stripBytes, jj), load<f32>(row + <usize>(ox * sw + xShift) * 4));
          for (; ox + 4 <= b; ox += 4, jj += 4) {
            const src = row + <usize>(ox * sw + xShift) * 4;
            const v = sw == 1 ? v128.load(src) : i32x4.shuffle(v128.load(src), v128.load(src, 16), 0, 2, 4, 6);
            v128.store(packedAt(out, stripBytes, jj), v);
          }
        }
        for (; ox < b; ox++, jj++) store<f32>(packedAt(out, stripBytes, jj), load<f32>(row + <usize>(ox * sw + xShift) * 4));
        for (const e = ox0 + seg; ox < e; ox++, jj++) store<f32>(packedAt(out, stripBytes, jj), 0);
      }
      ox0 = 0;
      oy++;
    }
    for (let e = strips * NR; jj < e; jj++) store<f32>(packedAt(out, stripBytes, jj), 0);
  }
}

/** Address of packed column jj (within its strip of NR) for the K row whose strip-0 entry is at `out`. */
@inline
function packedAt(out: usize, stripBytes: usize, jj: i32): usize {
  return out + <usize>(jj >> 3) * stripBytes + <usize>(jj & 7) * 4;
}

/**
 * y[j] (+)= sum_k x[k] B(k, j) for B strips [t0, t1) of a packed B over all of K (blocks of KC), then bias and
 * leaky ReLU: the inner product at batch 1, reading each weight once with 2 vector loads per k.
 */
export function gemvStrips(K: i32, KC: i32, nPad: i32, N: i32, x: usize, b: usize, t0: i32, t1: i32, y: usize, bias: usize, hasBias: bool, reluOn: bool, slope: f32, tmp: usize): void {
  for (let t = t0; t < t1; t++) {
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
    let acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = min(KC, K - k0);
      let pb = b + (<usize>k0 * nPad + <usize>(t * NR * kc)) * 4;
      let px = x + <usize>k0 * 4;
      let k = 0;
      for (; k + 2 <= kc; k += 2) {
        const a0 = v128.load32_splat(px), a1 = v128.load32_splat(px, 4);
        acc0 = madd(acc0, a0, v128.load(pb));
        acc1 = madd(acc1, a0, v128.load(pb, 16));
        acc2 = madd(acc2, a1, v128.load(pb, 32));
        acc3 = madd(acc3, a1, v128.load(pb, 48));
        px += 8;
        pb += 64;
      }
      if (k < kc) {
        const a0 = v128.load32_splat(px);
        acc0 = madd(acc0, a0, v128.load(pb));
        acc1 = madd(acc1, a0, v128.load(pb, 16));
      }
    }
    acc0 = f32x4.add(acc0, acc2);
    acc1 = f32x4.add(acc1, acc3);
    const col = t * NR;
    if (hasBias) {
      acc0 = f32x4.add(acc0, v128.load(bias + <usize>col * 4));
      acc1 = f32x4.add(acc1, v128.load(bias + <usize>col * 4, 16));
    }
    if (reluOn) {
      acc0 = relu(acc0, slope);
      acc1 = relu(acc1, slope);
    }
    const cols = min(NR, N - col);
    if (cols == NR) {
      v128.store(y + <usize>col * 4, acc0);
      v128.store(y + <usize>col * 4, acc1, 16);
    } else {
      v128.store(tmp, acc0);
      v128.store(tmp, acc1, 16);
      for (let j = 0; j < cols; j++) store<f32>(y + <usize>(col + j) * 4, load<f32>(tmp + j * 4));
    }
  }
}

// ---- Jobs: one layer's work cut into chunks that any thread may run (see src/kernels/pool.ts) ----
//
// A job is described by 32-bit words at `p`: 0 kind (KIND_* in src/kernels/wasm.ts), 1 thread scratch, 2 its
// stride (written by WasmEngine.job), the rest per kind (by src/kernels/packed.ts, depthwise.ts, pooling.ts);
// runChunk(p, chunk, thread) runs one chunk. Thread t owns the scratch at scratch + t * stride (packed B
// columns, then 128 bytes for edge tiles).

const KIND_CONV: i32 = 1;
const KIND_GEMV: i32 = 2;
const KIND_IP: i32 = 3;
// 4 and 5 were the convolution's split by output rows (removed in round seven): free numbers.
const KIND_DEPTHWISE: i32 = 6;
const KIND_POOL: i32 = 7;
const KIND_GEMV_ROWS: i32 = 8;
const KIND_IP_ROWS: i32 = 9;
const KIND_WINOGRAD_PAD: i32 = 10;
const KIND_WINOGRAD: i32 = 11;
const KIND_WINOGRAD_FILTERS: i32 = 12;
const KIND_ELTWISE: i32 = 13;
const KIND_CONV_DIRECT: i32 = 14;
const KIND_LRN: i32 = 15;
const KIND_COPY: i32 = 16;
const KIND_POINTWISE: i32 = 17;
const KIND_EXP: i32 = 18;
const KIND_COL2IM: i32 = 19;
const KIND_NORMALIZE: i32 = 20;
const KIND_LATTICE: i32 = 21;
const KIND_CORRELATION: i32 = 22;


export function runChunk(p: usize, chunk: i32, thread: i32): void {
  const kind = word(p, 0);
  const scratch = addr(p, 1) + <usize>thread * addr(p, 2);
  if (kind == KIND_CONV) convChunk(p, chunk, scratch);
  else if (kind == KIND_GEMV) gemvChunk(p, chunk, scratch);
  else if (kind == KIND_IP) ipChunk(p, chunk, scratch);
  else if (kind == KIND_DEPTHWISE) depthwiseChunk(p, chunk, scratch);
  else if (kind == KIND_POOL) poolChunk(p, chunk, scratch);
  else if (kind == KIND_GEMV_ROWS) gemvRowsChunk(p, chunk);
  else if (kind == KIND_IP_ROWS) ipRowsChunk(p, chunk, scratch);
  else if (kind == KIND_WINOGRAD_PAD) winogradPadChunk(p, chunk);
  else if (kind == KIND_WINOGRAD) winogradChunk(p, chunk, scratch);
  else if (kind == KIND_WINOGRAD_FILTERS) winogradFiltersChunk(p, chunk, scratch);
  else if (kind == KIND_ELTWISE) eltwiseChunk(p, chunk);
  else if (kind == KIND_CONV_DIRECT) directChunk(p, chunk, scratch);
  else if (kind == KIND_LRN) lrnChunk(p, chunk, scratch);
  else if (kind == KIND_COPY) copyChunk(p, chunk);
  else if (kind == KIND_POINTWISE) pointwiseChunk(p, chunk);
  else if (kind == KIND_EXP) expChunk(p, chunk, scratch);
  else if (kind == KIND_COL2IM) col2imChunk(p, chunk);
  else if (kind == KIND_NORMALIZE) normalizeChunk(p, chunk, scratch);
  else if (kind == KIND_LATTICE) latticeChunk(p, chunk, scratch);
  else if (kind == KIND_CORRELATION) correlationChunk(p, chunk, scratch);
}


/**
 * Convolution: chunk -> (image, group, column range, row range). For each K block, the chunk's columns are packed
 * (im2col, or the input itself for 1x1 / stride 1 / pad 0) into thread scratch, then multiplied by the row strips
 * of its range of the group's pre-packed weights (all of them unless the job cuts rows: word 30 row blocks, 31
 * rows a block, a multiple of MR), bias (word 29: the residual, when not 0) and ReLU fused in the last block.
 */
function convChunk(p: usize, chunk: i32, scratch: usize): void {
  const x = addr(p, 3), C = word(p, 4), H = word(p, 5), W = word(p, 6);
  const kh = word(p, 7), kw = word(p, 8), ph = word(p, 9), pw = word(p, 10), sh = word(p, 11), sw = word(p, 12);
  const dh = word(p, 13), dw = word(p, 14), outH = word(p, 15), outW = word(p, 16);
  const M = word(p, 17), K = word(p, 18), KC = word(p, 19), a = addr(p, 20), c = addr(p, 21), bias = addr(p, 22);
  const reluOn = word(p, 23) != 0, slope = load<f32>(p + 24 * 4), pointwise = word(p, 25) != 0;
  const groups = word(p, 26), chunkCols = word(p, 27), perGroup = word(p, 28), res = addr(p, 29);
  const rowBlocks = max(1, word(p, 30)), rowsPer = rowBlocks > 1 ? word(p, 31) : M;
  const N = outH * outW;
  const mPad = (M + MR - 1) / MR * MR;
  const rb = chunk % rowBlocks;
  chunk /= rowBlocks;
  const img = chunk / (groups * perGroup);
  const rest = chunk - img * groups * perGroup;
  const g = rest / perGroup, cc = rest - g * perGroup;
  const j0 = cc * chunkCols, j1 = min(N, j0 + chunkCols);
  const r0 = rb * rowsPer, r1 = min(M, r0 + rowsPer);
  if (j0 >= j1 || r0 >= r1) return;
  const xg = x + (<usize>((img * groups + g) * C) * H * W) * 4;
  const cg = c + (<usize>((img * groups + g) * M + r0) * N) * 4;
  const rg: usize = res == 0 ? 0 : res + (<usize>((img * groups + g) * M + r0) * N) * 4;
  const ag = a + (<usize>g * mPad * K) * 4;
  const bg = bias + <usize>(g * M + r0) * 4;
  const biasMode = bias != 0 ? BIAS_ROW : BIAS_NONE;
  // 1 to 4 output channels of a 1x1 (word 32: allowed): straight from x, the same bits (assembly/fewrows.ts).
  if (pointwise && M <= MR && rowBlocks == 1 && word(p, 32) != 0) {
    fewRows(xg, N, K, KC, M, ag, mPad, cg, j0, j1, bias != 0 ? bg : 0, reluOn, slope, rg);
    return;
  }
  // A last strip of 1 to 4 columns runs a column at a time inside gemmStrips (tile24x1).
  const whole = (j1 - j0 + NR - 1) / NR;
  const buffer = scratch + 128;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    if (pointwise) packB(xg, N, 1, k0, kc, j0, j1, buffer);
    else im2colPacked(xg, H, W, kh, kw, ph, pw, sh, sw, dh, dw, outW, k0, kc, j0, j1, buffer);
    const ak = ag + (<usize>k0 * mPad + <usize>r0 * kc) * 4;
    gemmStrips(r1 - r0, j1 - j0, kc, ak, buffer, 0, whole, cg, N, j0, k0 == 0, k0 + kc >= K, biasMode, bg, reluOn, slope, scratch, rg);
  }
}

/** Inner product at batch 1: chunk -> a range of output strips. */
function gemvChunk(p: usize, chunk: i32, scratch: usize): void {
  const K = word(p, 3), KC = word(p, 4), N = word(p, 5), x = addr(p, 6), b = addr(p, 7), y = addr(p, 8);
  const bias = addr(p, 9), reluOn = word(p, 10) != 0, slope = load<f32>(p + 11 * 4), chunkStrips = word(p, 12);
  const nPad = (N + NR - 1) / NR * NR;
  const t0 = chunk * chunkStrips, t1 = min(nPad / NR, t0 + chunkStrips);
  gemvStrips(K, KC, nPad, N, x, b, t0, t1, y, bias, bias != 0, reluOn, slope, scratch);
}

/** Inner product at batch M > 1: y (M x N) = packed x (A) times packed weights (B); chunk -> output strips. */
function ipChunk(p: usize, chunk: i32, scratch: usize): void {
  const K = word(p, 3), KC = word(p, 4), N = word(p, 5), a = addr(p, 6), b = addr(p, 7), y = addr(p, 8);
  const bias = addr(p, 9), reluOn = word(p, 10) != 0, slope = load<f32>(p + 11 * 4), chunkStrips = word(p, 12);
  const M = word(p, 13);
  const nPad = (N + NR - 1) / NR * NR, mPad = (M + MR - 1) / MR * MR;
  const t0 = chunk * chunkStrips, t1 = min(nPad / NR, t0 + chunkStrips);
  const biasMode = bias != 0 ? BIAS_COL : BIAS_NONE;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    gemmStrips(M, N, kc, a + (<usize>k0 * mPad) * 4, b + (<usize>k0 * nPad) * 4, t0, t1, y, N, 0, k0 == 0, k0 + kc >= K, biasMode, bias, reluOn, slope, scratch, 0);
  }
}

// Inner product over row-major weights (assembly/rowmajor.ts). Batch 1: chunk -> a range of output rows
// (fields 3 K, 4 N, 5 x, 6 W, 7 y, 8 bias, 9 relu on, 10 slope, 11 rows per chunk).
function gemvRowsChunk(p: usize, chunk: i32): void {
  const K = word(p, 3), N = word(p, 4), x = addr(p, 5), w = addr(p, 6), y = addr(p, 7), bias = addr(p, 8);
  const reluOn = word(p, 9) != 0, slope = load<f32>(p + 10 * 4), rowsPerChunk = word(p, 11);
  const n0 = chunk * rowsPerChunk;
  gemvRows(w, K, x, y, bias, n0, min(N, n0 + rowsPerChunk), reluOn, slope);
}

/** Strips of packed B that fit in a thread's scratch per K block (THREAD_SCRATCH: KC x 512 floats). */
const SCRATCH_STRIPS: i32 = 64;

/**
 * Batch M > 1 over row-major W: fields as ipChunk's, 7 = W (N x K row-major). For each group of up to 64 of the
 * chunk's strips and each K block, the strips are packed from W into thread scratch and multiplied by packed x.
 */
function ipRowsChunk(p: usize, chunk: i32, scratch: usize): void {
  const K = word(p, 3), KC = word(p, 4), N = word(p, 5), a = addr(p, 6), w = addr(p, 7), y = addr(p, 8);
  const bias = addr(p, 9), reluOn = word(p, 10) != 0, slope = load<f32>(p + 11 * 4), chunkStrips = word(p, 12);
  const M = word(p, 13);
  const mPad = (M + MR - 1) / MR * MR;
  const t0 = chunk * chunkStrips, t1 = min((N + NR - 1) / NR, t0 + chunkStrips);
  const biasMode = bias != 0 ? BIAS_COL : BIAS_NONE;
  const buffer = scratch + 128;
  for (let s0 = t0; s0 < t1; s0 += SCRATCH_STRIPS) {
    const strips = min(SCRATCH_STRIPS, t1 - s0), col = s0 * NR, cols = min(N, (s0 + strips) * NR) - col;
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = min(KC, K - k0);
      packRowsAsB(w, K, k0, kc, col, col + cols, buffer);
      gemmStrips(M, cols, kc, a + (<usize>k0 * mPad) * 4, buffer, 0, strips, y, N, col, k0 == 0, k0 + kc >= K, biasMode, bias + <usize>col * 4, reluOn, slope, scratch, 0);
    }
  }
}
