// 2-D Winograd F(2x4, 7x7) for 7x7 stride-1 kernels, the whole kernel at once, on tiles of 2 rows x 4 columns of
// outputs: down, F(2, 7) on F(4x4, 5x5)'s 8 points (0, +-1, +-2, +-1/2, infinity: B^T lineB8, A^T 2 x 8); across,
// F(4, 7) on its 10 points (and +-3/2: B^T lineB10, A^T 4 x 10, assembly/winograd7.ts). 8 x 10 = 80 values per
// 8 outputs, 10 multiply-adds an output and input channel where F(2x2, 7x7) (assembly/winograd5.ts, m = 2) makes
// 16, and U 80 / 49 = 1.6x the weights. Called from winogradChunk / winogradFiltersChunk when the job's value
// count (field 27 / 17) is 80. Value (r, c), r down (8 points), c across (10), is GEMM matrix 10 r + c. Tiles go
// four at a time as lanes, four side by side in a tile row (a row's last one to three as the first lanes: the
// other lanes read neighbouring memory and are not stored), as in F(4, 7)'s 1 x 7.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { NR, relu } from './simd';
import { SKEW } from './winograd';
import { columnsA8, columnsB8, filtersOuter, gRow } from './winograd5';
import { column, lineA10, lineB10, point, putTiles } from './winograd7';

/**
 * V (80 packed-B matrices of kc x nt, SKEW floats apart) for input channels [k0, k0 + kc) (K = C) and tiles
 * [j0, j0 + n) of one image-group's padded planes; tiles n..nt are zero. tmp: 88 vectors (the row pass's 80, then
 * one column's 8).
 */
export function inputTransform27(xp: usize, k0: i32, kc: i32, Hp: i32, Wp: i32, tilesX: i32, j0: i32, n: i32, nt: i32, V: usize, tmp: usize): void {
  const xiBytes = (<usize>(kc * nt + SKEW)) << 2, rowBytes = <usize>Wp << 2, stripBytes = <usize>(NR * kc) << 2, col = tmp + 1280;
  for (let k = k0; k < k0 + kc; k++) {
    const base = V + (<usize>((k - k0) * NR) << 2), plane = xp + <usize>k * Hp * rowBytes;
    for (let j = 0; j < n; ) {
      const ty = (j0 + j) / tilesX, tx = j0 + j - ty * tilesX, lanes = min(4, min(n - j, tilesX - tx));
      const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      const src = plane + <usize>(2 * ty) * rowBytes + (<usize>(4 * tx) << 2);
      // Rows: tile i's column l is float 4 i + l of the patch row (three 4x4 transposes, as F(4, 7)'s 1 x 7); the
      // 10 values of row r across to tmp + (8 c + r) * 16.
      for (let r = 0; r < 8; r++) {
        const s = src + <usize>r * rowBytes;
        const r0 = v128.load(s), r1 = v128.load(s, 16), r2 = v128.load(s, 32), r3 = v128.load(s, 48), r4 = v128.load(s, 64), r5 = v128.load(s, 80);
        lineB10(column(r0, r1, r2, r3, 0), column(r0, r1, r2, r3, 1), column(r0, r1, r2, r3, 2), column(r0, r1, r2, r3, 3),
          column(r1, r2, r3, r4, 0), column(r1, r2, r3, r4, 1), column(r1, r2, r3, r4, 2), column(r1, r2, r3, r4, 3),
          column(r2, r3, r4, r5, 0), column(r2, r3, r4, r5, 1), tmp + (<usize>r << 4), 128, 0, 4, 0);
      }
      // Columns: B^T (8 points) down column c, value r to matrix 10 r + c.
      columnsB8(tmp, 10, col, out, xiBytes, j, lanes, stripBytes);
      j += lanes;
    }
    for (let j = n; j < nt; j++) {
      const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      for (let xi = 0; xi < 80; xi++) store<f32>(out + <usize>xi * xiBytes, 0);
    }
  }
}

/**
 * A^T m A + bias, leaky ReLU of the tiles at mo (matrix xi xiBytes apart; lanes = tiles j.., the first `lanes`
 * written) into the plane: A^T (2 x 8) down each of the 10 columns, then F(4, 7)'s A^T (4 x 10) across each of
 * the two rows. tmp: 20 vectors.
 */
export function outputTile27(mo: usize, xiBytes: usize, plane: usize, rowBytes: usize, ty: i32, tx: i32, lanes: i32, outH: i32, outW: i32, bias: f32, reluOn: bool, slope: f32, tmp: usize): void {
  const b = f32x4.splat(bias); // the bias as a scalar: exported functions exchange no v128 (AssemblyScript warns)
  // Down column c: output row a's value at tmp + (10 a + c) * 16.
  columnsA8(mo, xiBytes, 10, 2, tmp);
  const rowsIn = min(2, outH - 2 * ty);
  for (let a = 0; a < rowsIn; a++) {
    const t = tmp + <usize>a * 160;
    const m0 = v128.load(t), m1 = v128.load(t, 16), m2 = v128.load(t, 32), m3 = v128.load(t, 48), m4 = v128.load(t, 64);
    const m5 = v128.load(t, 80), m6 = v128.load(t, 96), m7 = v128.load(t, 112), m8 = v128.load(t, 128), m9 = v128.load(t, 144);
    let y0 = lineA10(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, b, 0), y1 = lineA10(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, b, 1);
    let y2 = lineA10(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, b, 2), y3 = lineA10(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, b, 3);
    if (reluOn) {
      y0 = relu(y0, slope); y1 = relu(y1, slope); y2 = relu(y2, slope); y3 = relu(y3, slope);
    }
    // Lanes are tiles, vectors outputs: a 4x4 transpose puts each tile's four outputs together.
    putTiles(plane + <usize>(2 * ty + a) * rowBytes + (<usize>(4 * tx) << 2), y0, y1, y2, y3, lanes, outW - 4 * tx);
  }
}

/**
 * The 7x7 taps of filter o, input channel c in [from, to) (K = C: column c) as G8 g G10^T (G8: F(2, 7)'s 8 x 7, gRow; G10:
 * F(4, 7)'s 10 x 7, filters7's rows), its 80 values (value 10 i + j) in strip row r of T (filtersOuter).
 * In float64 (scratch: G8, G10, then G8 g), rounded once.
 */
export function filters27(w: usize, o: i32, C: i32, T: usize, stride: usize, r: i32, scratch: usize, from: i32, to: i32): void {
  const G8 = scratch, G10 = scratch + 56 * 8, t = G10 + 70 * 8;
  for (let i = 0; i < 56; i++) store<f64>(G8 + (<usize>i << 3), gRow(i / 7, i % 7, 7));
  for (let j = 0; j < 9; j++) {
    const p = point(j);
    let den: f64 = 1, pk: f64 = 1;
    for (let l = 0; l < 9; l++) if (l != j) den *= p - point(l);
    for (let k = 0; k < 7; k++) {
      store<f64>(G10 + (<usize>(j * 7 + k) << 3), pk / den);
      pk *= p;
    }
  }
  for (let k = 0; k < 7; k++) store<f64>(G10 + (<usize>(63 + k) << 3), k == 6 ? 1 : 0);
  filtersOuter(w, o, C, T, stride, r, 7, G8, G10, 10, t, from, to);
}
