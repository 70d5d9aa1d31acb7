// 2-D Winograd F(4x4, 5x5) for 5x5 stride-1 kernels, the whole kernel at once: 8 x 8 values per tile of 4 x 4
// outputs (points 0, +-1, +-2, +-1/2 and infinity: F(6, 3)'s B^T), so 64 GEMMs of K = C where F(4x4, 3x3) on the
// kernel's four 3x3 blocks (assembly/winograd.ts) ran 36 of K = 4 C: 4 multiply-adds per output and input
// channel instead of 9 (im2col: 25), and U is 2.56x the weights instead of 5.8x. Float32 error simulated at 48
// channels: 3.6e-6 of the output's range against F(4x4, 3x3)'s 1.6e-6 (docs/PERFORMANCE.md, round five). Called
// from winogradChunk / winogradFiltersChunk when the job's value count (field 27 / 17) is 64. Tiles go four at
// a time as lanes (a tile row's last one to three as the first lanes of a vector).

// The same 8 points give F(6x6, 3x3) (m = 6, for 3x3 kernels on large planes): the same B^T d B on patches 6 apart,
// G 8 x 3 (filtersWhole with 3 taps) and A^T 6 x 8 (outputTile6): 64 / 36 = 1.78 multiply-adds per output and input channel
// against F(4x4, 3x3)'s 2.25, and 64 transformed values per 36 outputs instead of 36 per 16. Float32 error
// simulated (He-scaled weights, ReLU-like inputs): 4.9e-6 / 9.7e-6 / 1.1e-5 of the output's range at 32 / 64 /
// 192 channels, F(4x4, 3x3) 3.2e-6 / 4.5e-6 / 7.7e-6 (docs/PERFORMANCE.md, round six). And F(5x5, 4x4) (m = 5, the
// 4x4 kernel of a 7x7 stride 2 on its space-to-depth: ResNet-50's conv1): patches 5 apart, G 8 x 4, A^T 5 x 8 (F(6, 3)'s
// rows 0..4, infinity in row 4): 64 values per 25 outputs against F(3x3, 4x4)'s 36 per 9 (docs/PERFORMANCE.md, round
// fifty-three).
// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { NR, copyRow, madd, relu } from './simd';
import { SKEW, stripAt } from './winograd';
import { acc3, column, outputTile7, point, put, putRow, putTiles } from './winograd7';
import { outputTile27 } from './winograd27';

/** init + ca a + cb b. */
@inline function acc2(init: v128, a: v128, ca: f32, b: v128, cb: f32): v128 {
  return madd(madd(init, a, f32x4.splat(ca)), b, f32x4.splat(cb));
}

/** B^T d over one line of eight (lanes = tiles), value i stored at dst + i * ds. Rows for +-p: E +- O. */
@inline export function lineB8(d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128, d6: v128, d7: v128, dst: usize, ds: usize): void {
  v128.store(dst, acc3(d6, d4, -5.25, d2, 5.25, d0, -1));
  v128.store(dst + 7 * ds, acc3(d7, d5, -5.25, d3, 5.25, d1, -1));
  pair8(madd(f32x4.add(d6, d2), d4, f32x4.splat(-4.25)), madd(f32x4.add(d5, d1), d3, f32x4.splat(-4.25)), dst + ds, ds);
  pair8(acc2(d6, d4, -1.25, d2, 0.25), f32x4.mul(acc2(d5, d3, -1.25, d1, 0.25), f32x4.splat(2)), dst + 3 * ds, ds);
  pair8(acc2(d6, d4, -5, d2, 4), f32x4.mul(acc2(d5, d3, -5, d1, 4), f32x4.splat(0.5)), dst + 5 * ds, ds);
}

@inline function pair8(e: v128, o: v128, dst: usize, ds: usize): void {
  v128.store(dst, f32x4.add(e, o));
  v128.store(dst + ds, f32x4.sub(e, o));
}

/**
 * The column pass of a B^T d B whose down direction is these 8 points (F(4x4, 5x5), F(2x2, 7x7), F(6x6, 3x3) and
 * F(2x4, 7x7)'s, assembly/winograd27.ts): B^T down each of the row pass's `cols` columns (column c's 8 vectors
 * at tmp + 128 c), value r of column c to packed-B matrix cols r + c (put: tiles j.., the first `lanes`; out is
 * tile j's column). col: 8 vectors.
 */
@inline export function columnsB8(tmp: usize, cols: i32, col: usize, out: usize, xiBytes: usize, j: i32, lanes: i32, stripBytes: usize): void {
  // Four lanes in one strip of NR tiles: each column's 8 values straight into V (through `col` and put they took
  // 16 more loads and stores a column: 4 % of F(6x6)'s instructions on Inception-v3's 32 -> 32 at 147 x 147).
  const whole = lanes == 4 && (j & 7) <= NR - 4;
  for (let c = 0; c < cols; c++) {
    const t = tmp + (<usize>c << 7);
    if (whole) {
      lineB8(v128.load(t), v128.load(t, 16), v128.load(t, 32), v128.load(t, 48), v128.load(t, 64), v128.load(t, 80), v128.load(t, 96), v128.load(t, 112), out + <usize>c * xiBytes, <usize>cols * xiBytes);
      continue;
    }
    lineB8(v128.load(t), v128.load(t, 16), v128.load(t, 32), v128.load(t, 48), v128.load(t, 64), v128.load(t, 80), v128.load(t, 96), v128.load(t, 112), col, 16);
    for (let r = 0; r < 8; r++) put(out + <usize>(cols * r + c) * xiBytes, v128.load(col + (<usize>r << 4)), j & 7, lanes, stripBytes);
  }
}

/**
 * V (64 packed-B matrices of kc x nt, SKEW floats apart, matrix 8 r + c = row r, column c of B^T d B) for input channels
 * [k0, k0 + kc) (K = C) and tiles [j0, j0 + n) of one image-group's padded planes; tiles n..nt are zero. tmp: 72
 * vectors (the row pass's 64, then one column's 8).
 */
export function inputTransform5(xp: usize, k0: i32, kc: i32, Hp: i32, Wp: i32, tilesX: i32, j0: i32, n: i32, nt: i32, V: usize, tmp: usize, m: i32): void {
  const xiBytes = (<usize>(kc * nt + SKEW)) << 2, rowBytes = <usize>Wp << 2, stripBytes = <usize>(NR * kc) << 2, col = tmp + 1024;
  for (let k = k0; k < k0 + kc; k++) {
    const base = V + (<usize>((k - k0) * NR) << 2), plane = xp + <usize>k * Hp * rowBytes;
    for (let j = 0; j < n; ) {
      const ty = (j0 + j) / tilesX, tx = j0 + j - ty * tilesX, lanes = min(4, min(n - j, tilesX - tx));
      const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      const src = plane + <usize>(m * ty) * rowBytes + (<usize>(m * tx) << 2);
      // Rows: tile i's column c is float m i + c of the patch row (two 4x4 transposes); d B to tmp + (8 c + r) * 16.
      for (let r = 0; r < 8; r++) {
        const s = src + <usize>r * rowBytes;
        if (m == 2) { // F(2x2, 7x7): tile i's column c is float 2 i + c (floats 0..13 of the four), from the even and odd floats
          const a = v128.load(s), b = v128.load(s, 16), c2 = v128.load(s, 32), d = v128.load(s, 48);
          const e0 = v128.shuffle<f32>(a, b, 0, 2, 4, 6), e1 = v128.shuffle<f32>(c2, d, 0, 2, 4, 6);
          const o0 = v128.shuffle<f32>(a, b, 1, 3, 5, 7), o1 = v128.shuffle<f32>(c2, d, 1, 3, 5, 7);
          lineB8(e0, o0, v128.shuffle<f32>(e0, e1, 1, 2, 3, 4), v128.shuffle<f32>(o0, o1, 1, 2, 3, 4), v128.shuffle<f32>(e0, e1, 2, 3, 4, 5),
            v128.shuffle<f32>(o0, o1, 2, 3, 4, 5), v128.shuffle<f32>(e0, e1, 3, 4, 5, 6), v128.shuffle<f32>(o0, o1, 3, 4, 5, 6), tmp + (<usize>r << 4), 128);
          continue;
        }
        if (m == 5 || m == 6) { // F(6x6, 3x3), F(5x5, 4x4): each tile's 8 columns as two vectors (the last tile's end 3 m + 8 floats on)
          const step = <usize>m << 2, a0 = v128.load(s), b0 = v128.load(s, 16), a1 = v128.load(s + step), b1 = v128.load(s + step + 16);
          const a2 = v128.load(s + 2 * step), b2 = v128.load(s + 2 * step + 16), a3 = v128.load(s + 3 * step), b3 = v128.load(s + 3 * step + 16);
          lineB8(column(a0, a1, a2, a3, 0), column(a0, a1, a2, a3, 1), column(a0, a1, a2, a3, 2), column(a0, a1, a2, a3, 3),
            column(b0, b1, b2, b3, 0), column(b0, b1, b2, b3, 1), column(b0, b1, b2, b3, 2), column(b0, b1, b2, b3, 3), tmp + (<usize>r << 4), 128);
          continue;
        }
        const r0 = v128.load(s), r1 = v128.load(s, 16), r2 = v128.load(s, 32), r3 = v128.load(s, 48), r4 = v128.load(s, 64);
        lineB8(column(r0, r1, r2, r3, 0), column(r0, r1, r2, r3, 1), column(r0, r1, r2, r3, 2), column(r0, r1, r2, r3, 3),
          column(r1, r2, r3, r4, 0), column(r1, r2, r3, r4, 1), column(r1, r2, r3, r4, 2), column(r1, r2, r3, r4, 3), tmp + (<usize>r << 4), 128);
      }
      columnsB8(tmp, 8, col, out, xiBytes, j, lanes, stripBytes);
      j += lanes;
    }
    for (let j = n; j < nt; j++) {
      const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      for (let xi = 0; xi < 64; xi++) store<f32>(out + <usize>xi * xiBytes, 0);
    }
  }
}

/** Output i of A^T over a line of eight (lanes = tiles). */
@inline export function lineA8(m0: v128, m1: v128, m2: v128, m3: v128, m4: v128, m5: v128, m6: v128, m7: v128, i: i32): v128 {
  const s1 = f32x4.add(m1, m2), s2 = f32x4.add(m3, m4), s3 = f32x4.add(m5, m6);
  const t1 = f32x4.sub(m1, m2), t2 = f32x4.sub(m3, m4), t3 = f32x4.sub(m5, m6);
  if (i == 0) return f32x4.add(f32x4.add(m0, s1), f32x4.add(s2, s3));
  if (i == 1) return madd(madd(t1, t2, f32x4.splat(2)), t3, f32x4.splat(0.5));
  if (i == 2) return madd(madd(s1, s2, f32x4.splat(4)), s3, f32x4.splat(0.25));
  return madd(madd(f32x4.add(t1, m7), t2, f32x4.splat(8)), t3, f32x4.splat(0.125));
}

/**
 * The column pass of A^T m A where the down direction has these 8 points: A^T down each of the `cols` columns of
 * the GEMM results at mo (value r of column c: matrix cols r + c, xiBytes apart), `rows` 4 (F(4x4, 5x5): lineA8's
 * four) or 2 (F(2x2, 7x7) and F(2x4, 7x7), assembly/winograd27.ts: F(2, 7)'s 2 x 8, lineA8's 0 and its 1 plus m7,
 * infinity); output row a of column c to tmp + (cols a + c) * 16.
 */
@inline export function columnsA8(mo: usize, xiBytes: usize, cols: i32, rows: i32, tmp: usize): void {
  const s: usize = <usize>cols * xiBytes, ts: usize = <usize>cols << 4;
  for (let c = 0; c < cols; c++) {
    const p = mo + <usize>c * xiBytes;
    const m0 = v128.load(p), m1 = v128.load(p + s), m2 = v128.load(p + 2 * s), m3 = v128.load(p + 3 * s);
    const m4 = v128.load(p + 4 * s), m5 = v128.load(p + 5 * s), m6 = v128.load(p + 6 * s), m7 = v128.load(p + 7 * s);
    const t = tmp + (<usize>c << 4);
    v128.store(t, lineA8(m0, m1, m2, m3, m4, m5, m6, m7, 0));
    if (rows == 2) {
      v128.store(t + ts, f32x4.add(lineA8(m0, m1, m2, m3, m4, m5, m6, m7, 1), m7));
      continue;
    }
    v128.store(t + ts, lineA8(m0, m1, m2, m3, m4, m5, m6, m7, 1));
    v128.store(t + 2 * ts, lineA8(m0, m1, m2, m3, m4, m5, m6, m7, 2));
    v128.store(t + 3 * ts, lineA8(m0, m1, m2, m3, m4, m5, m6, m7, 3));
  }
}

/**
 * y (rows planes of outH x outW) = the output transform + bias, leaky ReLU, of the whole-kernel Winograds (values
 * 64: F(4x4, 5x5), outputTile5; 10: F(4, 7), outputTile7 in assembly/winograd7.ts) for tiles [j0, j0 + n): m is
 * the GEMM results (m = 6: F(6x6, 3x3), outputTile6; matrix xi at Mb + xi * (rows * nt + SKEW) floats, row o, column j), four tiles at a time as
 * lanes: four of one tile row (a tile row's last one to three as the first lanes), but for values 10 any four
 * consecutive tiles, across a row's end too (outputTile7; fewer only at the block's end). tmp: 32 vectors.
 */
export function outputWhole(Mb: usize, rows: i32, nt: i32, j0: i32, n: i32, tilesX: i32, outH: i32, outW: i32, dir: i32, values: i32, y: usize, bias: usize, reluOn: bool, slope: f32, tmp: usize, m: i32): void {
  const xiBytes = (<usize>(rows * nt + SKEW)) << 2, rowBytes = <usize>outW << 2;
  for (let o = 0; o < rows; o++) {
    const bo: f32 = bias != 0 ? load<f32>(bias + (<usize>o << 2)) : 0, b = f32x4.splat(bo);
    const plane = y + <usize>o * outH * rowBytes;
    for (let j = 0; j < n; ) {
      const ty = (j0 + j) / tilesX, tx = j0 + j - ty * tilesX, lanes = min(4, min(n - j, tilesX - tx));
      const mo = Mb + ((<usize>o * nt + j) << 2);
      if (values == 10) {
        // F(4, 7): four tiles wherever they lie (5 a tile row on Inception-v3's 17 x 17).
        outputTile7(mo, xiBytes, plane, rowBytes, tilesX, j0 + j, min(4, n - j), outH, outW, dir, bo, reluOn, slope);
        j += 4;
        continue;
      }
      if (values == 80) outputTile27(mo, xiBytes, plane, rowBytes, ty, tx, lanes, outH, outW, bo, reluOn, slope, tmp);
      else if (values == 64 && m == 2) outputTile2(mo, xiBytes, plane, rowBytes, ty, tx, lanes, outH, outW, b, reluOn, slope, tmp);
      else if (values == 64 && m == 6) outputTile6(mo, xiBytes, plane, rowBytes, ty, tx, lanes, outH, outW, b, reluOn, slope, tmp, false);
      else if (values == 64 && m == 5) outputTile6(mo, xiBytes, plane, rowBytes, ty, tx, lanes, outH, outW, b, reluOn, slope, tmp, true);
      else outputTile5(mo, xiBytes, plane, rowBytes, ty, tx, lanes, outH, outW, b, reluOn, slope, tmp);
      j += lanes;
    }
  }
}

/** A^T m A + bias, leaky ReLU of the tiles at mo (lanes = tiles j.., the first `lanes` written) into the plane. */
function outputTile5(mo: usize, xiBytes: usize, plane: usize, rowBytes: usize, ty: i32, tx: i32, lanes: i32, outH: i32, outW: i32, b: v128, reluOn: bool, slope: f32, tmp: usize): void {
  columnsA8(mo, xiBytes, 8, 4, tmp);
  const rowsIn = min(4, outH - 4 * ty), cols = outW - 4 * tx;
  for (let a = 0; a < rowsIn; a++) {
    const t = tmp + (<usize>a << 7);
    const q0 = v128.load(t), q1 = v128.load(t, 16), q2 = v128.load(t, 32), q3 = v128.load(t, 48);
    const q4 = v128.load(t, 64), q5 = v128.load(t, 80), q6 = v128.load(t, 96), q7 = v128.load(t, 112);
    let y0 = f32x4.add(lineA8(q0, q1, q2, q3, q4, q5, q6, q7, 0), b), y1 = f32x4.add(lineA8(q0, q1, q2, q3, q4, q5, q6, q7, 1), b);
    let y2 = f32x4.add(lineA8(q0, q1, q2, q3, q4, q5, q6, q7, 2), b), y3 = f32x4.add(lineA8(q0, q1, q2, q3, q4, q5, q6, q7, 3), b);
    if (reluOn) {
      y0 = relu(y0, slope); y1 = relu(y1, slope); y2 = relu(y2, slope); y3 = relu(y3, slope);
    }
    // Lanes are tiles, vectors the row's outputs: a 4x4 transpose puts each tile's four together.
    putTiles(plane + <usize>(4 * ty + a) * rowBytes + (<usize>(4 * tx) << 2), y0, y1, y2, y3, lanes, cols);
  }
}

/**
 * F(2x2, 7x7): A^T m A + bias, leaky ReLU of the tiles at mo (lanes = tiles j.., the first `lanes` written) into the
 * plane. A^T is 2 x 8: row 0 lineA8's 0, row 1 its 1 plus m7 (infinity). tmp: 16 vectors.
 */
function outputTile2(mo: usize, xiBytes: usize, plane: usize, rowBytes: usize, ty: i32, tx: i32, lanes: i32, outH: i32, outW: i32, b: v128, reluOn: bool, slope: f32, tmp: usize): void {
  columnsA8(mo, xiBytes, 8, 2, tmp);
  const rowsIn = min(2, outH - 2 * ty), cols = min(2 * lanes, outW - 2 * tx);
  for (let a = 0; a < rowsIn; a++) {
    const t = tmp + (<usize>a << 7);
    const q0 = v128.load(t), q1 = v128.load(t, 16), q2 = v128.load(t, 32), q3 = v128.load(t, 48);
    const q4 = v128.load(t, 64), q5 = v128.load(t, 80), q6 = v128.load(t, 96), q7 = v128.load(t, 112);
    let y0 = f32x4.add(lineA8(q0, q1, q2, q3, q4, q5, q6, q7, 0), b), y1 = f32x4.add(f32x4.add(lineA8(q0, q1, q2, q3, q4, q5, q6, q7, 1), q7), b);
    if (reluOn) {
      y0 = relu(y0, slope); y1 = relu(y1, slope);
    }
    // Lanes are tiles, y0 / y1 their two outputs: interleaved, tile i's pair at floats 2 i, 2 i + 1.
    const dst = plane + <usize>(2 * ty + a) * rowBytes + (<usize>(2 * tx) << 2);
    putRow(dst, v128.shuffle<f32>(y0, y1, 0, 4, 1, 5), cols);
    if (cols > 4) putRow(dst + 16, v128.shuffle<f32>(y0, y1, 2, 6, 3, 7), cols - 4);
  }
}

/** Output i of F(6, 3)'s A^T over a line of eight, from its sums s (m1 + m2, m3 + m4, m5 + m6) and differences t. */
@inline function lineA6(m0: v128, m7: v128, s1: v128, s2: v128, s3: v128, t1: v128, t2: v128, t3: v128, i: i32): v128 {
  if (i == 0) return f32x4.add(f32x4.add(m0, s1), f32x4.add(s2, s3));
  if (i == 1) return madd(madd(t1, t2, f32x4.splat(2)), t3, f32x4.splat(0.5));
  if (i == 2) return madd(madd(s1, s2, f32x4.splat(4)), s3, f32x4.splat(0.25));
  if (i == 3) return madd(madd(t1, t2, f32x4.splat(8)), t3, f32x4.splat(0.125));
  if (i == 4) return madd(madd(s1, s2, f32x4.splat(16)), s3, f32x4.splat(0.0625));
  return madd(madd(f32x4.add(t1, m7), t2, f32x4.splat(32)), t3, f32x4.splat(0.03125));
}

/**
 * Output i of F(6, 3)'s A^T, or with `five` of F(5, 4)'s (the same 8 points: A^T 5 x 8, rows 0..4 of F(6, 3)'s with
 * infinity, m7, in the last row: row 4 plus m7).
 */
@inline function lineA65(m0: v128, m7: v128, s1: v128, s2: v128, s3: v128, t1: v128, t2: v128, t3: v128, i: i32, five: bool): v128 {
  return five && i == 4 ? f32x4.add(lineA6(m0, m7, s1, s2, s3, t1, t2, t3, 4), m7) : lineA6(m0, m7, s1, s2, s3, t1, t2, t3, i);
}

/** The six outputs of F(6, 3)'s A^T (five of F(5, 4)'s) over m0..m7 (lanes = tiles) to dst + i * ds. */
@inline function lineA6All(m0: v128, m1: v128, m2: v128, m3: v128, m4: v128, m5: v128, m6: v128, m7: v128, dst: usize, ds: usize, five: bool): void {
  const s1 = f32x4.add(m1, m2), s2 = f32x4.add(m3, m4), s3 = f32x4.add(m5, m6);
  const t1 = f32x4.sub(m1, m2), t2 = f32x4.sub(m3, m4), t3 = f32x4.sub(m5, m6);
  const outputs = five ? 5 : 6;
  for (let i = 0; i < outputs; i++) v128.store(dst + <usize>i * ds, lineA65(m0, m7, s1, s2, s3, t1, t2, t3, i, five));
}

/**
 * F(6x6, 3x3), or with `five` F(5x5, 4x4) (a 7x7 stride 2 on its space-to-depth: ResNet-50's and GoogLeNet's conv1):
 * A^T m A + bias, leaky ReLU of the tiles at mo (lanes = tiles j.., the first `lanes` written) into the plane. tmp:
 * 54 vectors (A^T down the columns, then one output row's 24 values).
 */
@inline function outputTile6(mo: usize, xiBytes: usize, plane: usize, rowBytes: usize, ty: i32, tx: i32, lanes: i32, outH: i32, outW: i32, b: v128, reluOn: bool, slope: f32, tmp: usize, five: bool): void {
  const s: usize = 8 * xiBytes, m = five ? 5 : 6;
  // A^T down each column c: output row a's value at tmp + (8 a + c) * 16.
  for (let c = 0; c < 8; c++) {
    const p = mo + <usize>c * xiBytes;
    lineA6All(v128.load(p), v128.load(p + s), v128.load(p + 2 * s), v128.load(p + 3 * s), v128.load(p + 4 * s), v128.load(p + 5 * s),
      v128.load(p + 6 * s), v128.load(p + 7 * s), tmp + (<usize>c << 4), 128, five);
  }
  const rowsIn = min(m, outH - m * ty), cols = min(m * lanes, outW - m * tx), row = tmp + 768;
  for (let a = 0; a < rowsIn; a++) {
    const t = tmp + (<usize>a << 7);
    const m0 = v128.load(t), m7 = v128.load(t, 112);
    const q1 = v128.load(t, 16), q2 = v128.load(t, 32), q3 = v128.load(t, 48), q4 = v128.load(t, 64), q5 = v128.load(t, 80), q6 = v128.load(t, 96);
    const s1 = f32x4.add(q1, q2), s2 = f32x4.add(q3, q4), s3 = f32x4.add(q5, q6), t1 = f32x4.sub(q1, q2), t2 = f32x4.sub(q3, q4), t3 = f32x4.sub(q5, q6);
    let y0 = f32x4.add(lineA6(m0, m7, s1, s2, s3, t1, t2, t3, 0), b), y1 = f32x4.add(lineA6(m0, m7, s1, s2, s3, t1, t2, t3, 1), b);
    let y2 = f32x4.add(lineA6(m0, m7, s1, s2, s3, t1, t2, t3, 2), b), y3 = f32x4.add(lineA6(m0, m7, s1, s2, s3, t1, t2, t3, 3), b);
    let y4 = f32x4.add(lineA65(m0, m7, s1, s2, s3, t1, t2, t3, 4, five), b);
    if (reluOn) {
      y0 = relu(y0, slope); y1 = relu(y1, slope); y2 = relu(y2, slope); y3 = relu(y3, slope); y4 = relu(y4, slope);
    }
    const dst = cols == 4 * m ? plane + <usize>(m * ty + a) * rowBytes + (<usize>(m * tx) << 2) : row;
    if (five) storeFive(dst, y0, y1, y2, y3, y4);
    else {
      let y5 = f32x4.add(lineA6(m0, m7, s1, s2, s3, t1, t2, t3, 5), b);
      if (reluOn) y5 = relu(y5, slope);
      storeSix(dst, y0, y1, y2, y3, y4, y5);
    }
    if (cols != 4 * m) copyRow(row, cols, plane + <usize>(m * ty + a) * rowBytes + (<usize>(m * tx) << 2));
  }
}

/** Lanes are tiles, vectors outputs: tile i's six outputs to floats 6 i .. 6 i + 5 (a 4x4 transpose of y0..y3, y4 and y5 paired in between). */
@inline function storeSix(dst: usize, y0: v128, y1: v128, y2: v128, y3: v128, y4: v128, y5: v128): void {
  const p = v128.shuffle<f32>(y4, y5, 0, 4, 1, 5), q = v128.shuffle<f32>(y4, y5, 2, 6, 3, 7);
  const c1 = column(y0, y1, y2, y3, 1), c3 = column(y0, y1, y2, y3, 3);
  v128.store(dst, column(y0, y1, y2, y3, 0));
  v128.store(dst, v128.shuffle<f32>(p, c1, 0, 1, 4, 5), 16);
  v128.store(dst, v128.shuffle<f32>(c1, p, 2, 3, 6, 7), 32);
  v128.store(dst, column(y0, y1, y2, y3, 2), 48);
  v128.store(dst, v128.shuffle<f32>(q, c3, 0, 1, 4, 5), 64);
  v128.store(dst, v128.shuffle<f32>(c3, q, 2, 3, 6, 7), 80);
}

/** Lanes are tiles, vectors outputs: tile i's five outputs to floats 5 i .. 5 i + 4 (a 4x4 transpose of y0..y3, y4's lanes in between). */
@inline function storeFive(dst: usize, y0: v128, y1: v128, y2: v128, y3: v128, y4: v128): void {
  const c0 = column(y0, y1, y2, y3, 0), c1 = column(y0, y1, y2, y3, 1), c2 = column(y0, y1, y2, y3, 2), c3 = column(y0, y1, y2, y3, 3);
  v128.store(dst, c0);
  v128.store(dst, v128.shuffle<f32>(y4, c1, 0, 4, 5, 6), 16); // t0's 5th, t1's 1st..3rd
  v128.store(dst, v128.shuffle<f32>(v128.shuffle<f32>(c1, y4, 3, 5, 3, 5), c2, 0, 1, 4, 5), 32); // t1's 4th, 5th, t2's 1st, 2nd
  v128.store(dst, v128.shuffle<f32>(v128.shuffle<f32>(c2, y4, 2, 3, 6, 6), c3, 0, 1, 2, 4), 48); // t2's 3rd..5th, t3's 1st
  v128.store(dst, v128.shuffle<f32>(c3, y4, 1, 2, 3, 7), 64); // t3's 2nd..5th
}

/** G[j][k] of F(m, taps), m + taps = 9: p_j^k / prod_(l != j) (p_j - p_l) over the 7 finite points; row 7 (infinity) is the last tap. */
@inline export function gRow(j: i32, k: i32, taps: i32): f64 {
  if (j == 7) return k == taps - 1 ? 1 : 0;
  const p = point(j);
  let den: f64 = 1, pk: f64 = 1;
  for (let l = 0; l < 7; l++) if (l != j) den *= p - point(l);
  for (let i = 0; i < k; i++) pk *= p;
  return pk / den;
}

/**
 * The taps x taps taps of filter o, input channel c in [from, to) (K = C: column c) as G g G^T, its 64 values (value
 * 8 i + j) in strip row r of T (filtersOuter): F(4x4, 5x5) (taps 5), F(6x6, 3x3) (taps 3: G 8 x 3, gRow's rows with 3
 * taps) or F(2x2, 7x7) (taps 7). In float64 (scratch: G's 8 taps doubles, then filtersOuter's), rounded once.
 */
export function filtersWhole(w: usize, o: i32, C: i32, T: usize, stride: usize, r: i32, scratch: usize, taps: i32, from: i32, to: i32): void {
  // G once per filter, not per use (gRow per use took 100 ms of AlexNet's Net.load: 520 calls a channel).
  const G = scratch;
  for (let i = 0; i < 8 * taps; i++) store<f64>(G + (<usize>i << 3), gRow(i / taps, i % taps, taps));
  filtersOuter(w, o, C, T, stride, r, taps, G, G, 8, G + (<usize>(8 * taps) << 3), from, to);
}

/**
 * Every whole-kernel filter transform: U = Ga g Gb^T for each input channel c in [from, to) of filter o (g: taps x
 * taps; Ga: 8 x taps and Gb: nb x taps, nb 8 or 10, rows of doubles at ga and gb), its 8 x nb values (value nb i + j)
 * in strip row r of T (stripAt in assembly/winograd.ts: column c's, `stride` floats apart). In float64, rounded once: each value a sum from 0 in ascending y (Ga g),
 * then x (times Gb^T), two values a vector with a multiply and an add apiece (no fused multiply-add), so each value's
 * bits are those of the scalar loops this replaced, at 0.25-0.3 of their time once winogradFiltersChunk stopped
 * scattering the stores (docs/PERFORMANCE.md, round twenty-eight). t: scratch for taps (24 + nb + taps) doubles.
 */
export function filtersOuter(w: usize, o: i32, C: i32, T: usize, stride: usize, r: i32, taps: i32, ga: usize, gb: usize, nb: i32, t: usize, from: i32, to: i32): void {
  // Ga by column (y: its 8 rows side by side) and Gb^T (x: U's columns side by side), once per filter; then per channel
  // g's taps in float64 and Ga g by column (x: its 8 rows side by side). Four vectors of sums at once in each loop.
  const gaT = t, gbT = gaT + (<usize>(taps * 8) << 3), gd = gbT + (<usize>(taps * nb) << 3), tT = gd + (<usize>(taps * taps) << 3);
  for (let y = 0; y < taps; y++) for (let i = 0; i < 8; i++) store<f64>(gaT + (<usize>(y * 8 + i) << 3), load<f64>(ga + (<usize>(i * taps + y) << 3)));
  for (let x = 0; x < taps; x++) for (let j = 0; j < nb; j++) store<f64>(gbT + (<usize>(x * nb + j) << 3), load<f64>(gb + (<usize>(j * taps + x) << 3)));
  const nbBytes = <usize>nb << 3, tapBytes = <usize>taps << 3, m4 = stride << 2;
  for (let c = from; c < to; c++) {
    const f = w + ((<usize>(o * C + c) * taps * taps) << 2);
    for (let k = 0; k < taps * taps; k++) store<f64>(gd + (<usize>k << 3), <f64>load<f32>(f + (<usize>k << 2)));
    for (let x = 0; x < taps; x++) { // (Ga g)[0..7][x]
      let v0 = f64x2.splat(0), v1 = v0, v2 = v0, v3 = v0, pa = gaT, pg = gd + (<usize>x << 3);
      for (let y = 0; y < taps; y++, pa += 64, pg += tapBytes) {
        const g = f64x2.splat(load<f64>(pg));
        v0 = f64x2.add(v0, f64x2.mul(v128.load(pa), g)); v1 = f64x2.add(v1, f64x2.mul(v128.load(pa, 16), g));
        v2 = f64x2.add(v2, f64x2.mul(v128.load(pa, 32), g)); v3 = f64x2.add(v3, f64x2.mul(v128.load(pa, 48), g));
      }
      const out = tT + (<usize>x << 6);
      v128.store(out, v0); v128.store(out, v1, 16); v128.store(out, v2, 32); v128.store(out, v3, 48);
    }
    const at = stripAt(T, r, c, from);
    for (let i = 0; i < 8; i++) { // U[i][0..7], then U[i][8..9] where nb is 10
      let v0 = f64x2.splat(0), v1 = v0, v2 = v0, v3 = v0, pb = gbT, pt = tT + (<usize>i << 3);
      for (let x = 0; x < taps; x++, pb += nbBytes, pt += 64) {
        const e = f64x2.splat(load<f64>(pt));
        v0 = f64x2.add(v0, f64x2.mul(e, v128.load(pb))); v1 = f64x2.add(v1, f64x2.mul(e, v128.load(pb, 16)));
        v2 = f64x2.add(v2, f64x2.mul(e, v128.load(pb, 32))); v3 = f64x2.add(v3, f64x2.mul(e, v128.load(pb, 48)));
      }
      const dst = at + <usize>(nb * i) * m4;
      putPair(dst, m4, v0); putPair(dst + 2 * m4, m4, v1); putPair(dst + 4 * m4, m4, v2); putPair(dst + 6 * m4, m4, v3);
      if (nb > 8) {
        let v = f64x2.splat(0);
        pb = gbT + 64; pt = tT + (<usize>i << 3);
        for (let x = 0; x < taps; x++, pb += nbBytes, pt += 64) v = f64x2.add(v, f64x2.mul(f64x2.splat(load<f64>(pt)), v128.load(pb)));
        putPair(dst + 8 * m4, m4, v);
      }
    }
  }
}

/** A vector's two doubles rounded to float at dst and dst + step. */
@inline function putPair(dst: usize, step: usize, v: v128): void {
  store<f32>(dst, <f32>f64x2.extract_lane(v, 0));
  store<f32>(dst + step, <f32>f64x2.extract_lane(v, 1));
}
