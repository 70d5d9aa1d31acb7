// A 1x1 convolution (stride 1, pad 0) with 1 to 4 output channels a group: HED's score layers (64..512 -> 1 on
// planes up to 568 x 568), colorization's class8_ab (313 -> 2), MTCNN P-Net's heads (32 -> 2, 32 -> 4). The GEMM
// path packs every column of x into thread scratch (a copy of the whole input) for a 4 x 8 register tile of which
// these use 1 to 4 rows: HED's score-dsn1 ran at 1.8 G multiply-adds a second, the copy and the unused rows
// costing more than reading x. Here each column's sum is taken straight from x, 32 (one row) or eight columns a
// step, with the GEMM's arithmetic to the bit: per K block (KC input channels) a multiply-add chain from zero in
// channel order with the packed weights (MR rows a channel, zero past M), then the edges of microTile
// (assembly/kernels.ts): a full tile (4 rows, a whole strip of 8 columns) stores its first block's sum as it is,
// every other tile adds it to +0; the bias after the last block, then the residual and + 0, then the leaky ReLU.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { MR, NR, madd, relu, reluf } from './simd';

/**
 * Columns [j0, j1) of one image-group: y (M x N at c, rows ldc = N) = W (packed A: strips of MR rows per K block at
 * a, `mPad` rows) times x (K x N at x), then bias (per row, 0: none), residual (R at res in y's layout, 0: none)
 * and leaky ReLU. M is 1 to 4.
 */
export function fewRows(x: usize, N: i32, K: i32, KC: i32, M: i32, a: usize, mPad: i32, c: usize, j0: i32, j1: i32, bias: usize, reluOn: bool, slope: f32, res: usize): void {
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0), first = k0 == 0, last = k0 + kc >= K;
    const ak = a + (<usize>k0 * mPad) * 4, xk = x + (<usize>k0 * N) * 4;
    let j = j0;
    if (M == 1) for (; j + 32 <= j1; j += 32) oneRow32(xk, N, kc, ak, c, j, first, last, bias, reluOn, slope, res);
    for (; j + NR <= j1; j += NR) fourRows8(xk, N, kc, ak, c, j, M, first, last, bias, reluOn, slope, res);
    // The columns past the last whole step, one at a time (a partial strip: never a full tile).
    for (; j < j1; j++) for (let r = 0; r < M; r++) column(xk, N, kc, ak, c, j, r, first, last, bias, reluOn, slope, res);
  }
}

/** One row, 32 columns from j: two lines of every channel a step (M = 1 < MR: no full tile, +0 on the first block). */
function oneRow32(x: usize, N: i32, kc: i32, a: usize, c: usize, j: i32, first: bool, last: bool, bias: usize, reluOn: bool, slope: f32, res: usize): void {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  let s4 = f32x4.splat(0), s5 = f32x4.splat(0), s6 = f32x4.splat(0), s7 = f32x4.splat(0);
  const step = <usize>N << 2;
  let p = x + (<usize>j << 2), w = a;
  const end = a + (<usize>kc << 4);
  while (w < end) {
    const b = v128.load32_splat(w);
    s0 = madd(s0, b, v128.load(p)); s1 = madd(s1, b, v128.load(p, 16));
    s2 = madd(s2, b, v128.load(p, 32)); s3 = madd(s3, b, v128.load(p, 48));
    s4 = madd(s4, b, v128.load(p, 64)); s5 = madd(s5, b, v128.load(p, 80));
    s6 = madd(s6, b, v128.load(p, 96)); s7 = madd(s7, b, v128.load(p, 112));
    p += step;
    w += MR << 2;
  }
  const at = c + (<usize>j << 2), r = offset(res, <usize>j << 2);
  finish8(s0, s1, at, false, first, last, bias, reluOn, slope, r);
  finish8(s2, s3, at + 32, false, first, last, bias, reluOn, slope, offset(r, 32));
  finish8(s4, s5, at + 64, false, first, last, bias, reluOn, slope, offset(r, 64));
  finish8(s6, s7, at + 96, false, first, last, bias, reluOn, slope, offset(r, 96));
}

/** M rows (1 to 4; the packed rows past M are zero and not stored), eight columns from j: one strip. */
function fourRows8(x: usize, N: i32, kc: i32, a: usize, c: usize, j: i32, M: i32, first: bool, last: bool, bias: usize, reluOn: bool, slope: f32, res: usize): void {
  let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
  let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
  const step = <usize>N << 2;
  let p = x + (<usize>j << 2), w = a;
  const end = a + (<usize>kc << 4);
  while (w < end) {
    const b0 = v128.load(p), b1 = v128.load(p, 16);
    let v = v128.load32_splat(w);
    s00 = madd(s00, v, b0); s01 = madd(s01, v, b1);
    v = v128.load32_splat(w, 4);
    s10 = madd(s10, v, b0); s11 = madd(s11, v, b1);
    v = v128.load32_splat(w, 8);
    s20 = madd(s20, v, b0); s21 = madd(s21, v, b1);
    v = v128.load32_splat(w, 12);
    s30 = madd(s30, v, b0); s31 = madd(s31, v, b1);
    p += step;
    w += MR << 2;
  }
  const full = M == MR, rowBytes = <usize>N << 2, at = c + (<usize>j << 2), r = offset(res, <usize>j << 2);
  finish8(s00, s01, at, full, first, last, bias, reluOn, slope, r);
  if (M < 2) return;
  finish8(s10, s11, at + rowBytes, full, first, last, offset(bias, 4), reluOn, slope, offset(r, rowBytes));
  if (M < 3) return;
  finish8(s20, s21, at + 2 * rowBytes, full, first, last, offset(bias, 8), reluOn, slope, offset(r, 2 * rowBytes));
  if (M < 4) return;
  finish8(s30, s31, at + 3 * rowBytes, full, first, last, offset(bias, 12), reluOn, slope, offset(r, 3 * rowBytes));
}

/** An optional address (0: none) `bytes` further on. */
@inline function offset(p: usize, bytes: usize): usize {
  return p == 0 ? 0 : p + bytes;
}

/** Eight consecutive outputs of one row: `finish` on each half. */
@inline function finish8(s0: v128, s1: v128, at: usize, full: bool, first: bool, last: bool, bias: usize, reluOn: bool, slope: f32, res: usize): void {
  finish(s0, at, full, first, last, bias, reluOn, slope, res);
  finish(s1, at + 16, full, first, last, bias, reluOn, slope, offset(res, 16));
}

/**
 * Four outputs of one row at `at`: microTile's roundings. A full tile's first block stores the sum as it is, other
 * tiles add it to +0 (their first block reads zeros); later blocks add the stored value. On the last block the bias
 * (the row's float at `bias`, 0: none), then with a residual the sum with it and + 0, then the ReLU.
 */
@inline function finish(s: v128, at: usize, full: bool, first: bool, last: bool, bias: usize, reluOn: bool, slope: f32, res: usize): void {
  let v = first ? (full ? s : f32x4.add(s, f32x4.splat(0))) : f32x4.add(s, v128.load(at));
  if (last) {
    if (bias != 0) v = f32x4.add(v, v128.load32_splat(bias));
    if (res != 0) v = f32x4.add(f32x4.add(v, v128.load(res)), f32x4.splat(0));
    if (reluOn) v = relu(v, slope);
  }
  v128.store(at, v);
}

/** Column j of row r alone (a partial strip's column), its chain in lane 0 of the same operations. */
function column(x: usize, N: i32, kc: i32, a: usize, c: usize, j: i32, r: i32, first: bool, last: bool, bias: usize, reluOn: bool, slope: f32, res: usize): void {
  let s = f32x4.splat(0);
  const step = <usize>N << 2;
  let p = x + (<usize>j << 2), w = a + (<usize>r << 2);
  const end = w + (<usize>kc << 4);
  while (w < end) {
    s = madd(s, v128.load32_splat(w), v128.load32_zero(p));
    p += step;
    w += MR << 2;
  }
  const at = c + (<usize>r * N + j) * 4;
  let v: f32 = f32x4.extract_lane(s, 0) + (first ? <f32>0 : load<f32>(at));
  if (last) {
    if (bias != 0) v += load<f32>(bias + (<usize>r << 2));
    if (res != 0) v = v + load<f32>(res + (<usize>r * N + j) * 4) + 0;
    if (reluOn) v = reluf(v, slope);
  }
  store<f32>(at, v);
}
