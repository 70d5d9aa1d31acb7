// 2-D Winograd F(2x4, 3x3) for 3x3 stride-1 kernels on small planes (7 x 7 to 12 x 12: ResNet-50's res5, GoogLeNet's
// inception_5a/5b, Inception-v3's 8 x 8): tiles of 2 rows x 4 columns of outputs, F(2, 3)'s 4 points down (B^T, G
// and A^T of F(2x2, 3x3)) and F(4, 3)'s 6 across (Lavin and Gray's, as F(4x4, 3x3)): 24 values per 8 outputs, 3
// multiply-adds an output and input channel where F(2x2) makes 4, with U 24 / 9 of the weights (F(4x4): 36 / 9).
// On 7 x 7 its 8 tiles (4 down, 2 across: 8 x 8 as F(2x2)'s 16 tiles and F(4x4)'s 4) are one whole strip of NR
// columns: 24 GEMMs at the 4 x 8 micro-kernel's rate, where F(4x4)'s 4 tiles ran a column at a time and read U (4x
// the weights) for 4 columns (docs/PERFORMANCE.md, round fifty-three). Value (r, c), r down (4), c across (6), is
// GEMM matrix 6 r + c. Called from winogradChunk when the job's value count (field 27) is 24; U is made by filters3
// (assembly/winograd.ts, m = 24).

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { NR, relu } from './simd';
import { SKEW } from './winograd';
import { column } from './winograd7';

/**
 * V (24 packed-B matrices of kc x nt, SKEW floats apart) for input channels [k0, k0 + kc) (K = C) and tiles
 * [j0, j0 + n) of one image-group's padded planes (tile t's 4 x 6 patch at row 2 ty, column 4 tx); tiles n..nt are
 * zero. Tile by tile: B^T down on the patch's rows as vectors (lanes = columns), a 4x4 transpose (lanes = the 4
 * rows of B^T d), F(4, 3)'s B^T across; each vector's 4 lanes are 4 of the tile's values. Its patch's last row
 * vector reads 2 floats past the tile (the next row's, or the padded copy's slack): lanes never used.
 */
export function inputTransform24(xp: usize, k0: i32, kc: i32, Hp: i32, Wp: i32, tilesX: i32, j0: i32, n: i32, nt: i32, V: usize): void {
  const xiBytes = (<usize>(kc * nt + SKEW)) << 2, rowBytes = <usize>Wp << 2, stripBytes = <usize>(NR * kc) << 2;
  for (let k = k0; k < k0 + kc; k++) {
    const base = V + (<usize>((k - k0) * NR) << 2), plane = xp + <usize>k * Hp * rowBytes;
    for (let j = 0; j < nt; j++) {
      const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      if (j >= n) {
        for (let xi = 0; xi < 24; xi++) store<f32>(out + <usize>xi * xiBytes, 0);
        continue;
      }
      const ty = (j0 + j) / tilesX, tx = j0 + j - ty * tilesX;
      const s = plane + <usize>(2 * ty) * rowBytes + (<usize>(4 * tx) << 2);
      const a0 = v128.load(s), a1 = v128.load(s + rowBytes), a2 = v128.load(s + 2 * rowBytes), a3 = v128.load(s + 3 * rowBytes);
      const b0 = v128.load(s, 16), b1 = v128.load(s + rowBytes, 16), b2 = v128.load(s + 2 * rowBytes, 16), b3 = v128.load(s + 3 * rowBytes, 16);
      // B^T d (F(2, 3): d0 - d2, d1 + d2, d2 - d1, d1 - d3), patch columns 0-3 in t* and 4-5 in u*.
      const t0 = f32x4.sub(a0, a2), t1 = f32x4.add(a1, a2), t2 = f32x4.sub(a2, a1), t3 = f32x4.sub(a1, a3);
      const u0 = f32x4.sub(b0, b2), u1 = f32x4.add(b1, b2), u2 = f32x4.sub(b2, b1), u3 = f32x4.sub(b1, b3);
      // Column c of B^T d, lanes = its 4 rows; then F(4, 3)'s B^T across the 6 columns.
      const c0 = column(t0, t1, t2, t3, 0), c1 = column(t0, t1, t2, t3, 1), c2 = column(t0, t1, t2, t3, 2), c3 = column(t0, t1, t2, t3, 3);
      const c4 = column(u0, u1, u2, u3, 0), c5 = column(u0, u1, u2, u3, 1);
      const four = f32x4.splat(4), five = f32x4.splat(5), two = f32x4.splat(2);
      const e1 = f32x4.add(c1, c2), e2 = f32x4.sub(c1, c2);
      put4(out, xiBytes, 0, f32x4.add(f32x4.sub(f32x4.mul(four, c0), f32x4.mul(five, c2)), c4));
      put4(out, xiBytes, 1, f32x4.add(f32x4.sub(c4, f32x4.mul(four, e1)), c3));
      put4(out, xiBytes, 2, f32x4.sub(f32x4.add(c4, f32x4.mul(four, e2)), c3));
      put4(out, xiBytes, 3, f32x4.add(f32x4.sub(c4, c2), f32x4.mul(two, f32x4.sub(c3, c1))));
      put4(out, xiBytes, 4, f32x4.sub(f32x4.sub(c4, c2), f32x4.mul(two, f32x4.sub(c3, c1))));
      put4(out, xiBytes, 5, f32x4.add(f32x4.sub(f32x4.mul(four, c1), f32x4.mul(five, c3)), c5));
    }
  }
}

/** Value column c's 4 lanes (rows r = 0..3 of the tile's values) to matrices 6 r + c. */
@inline function put4(out: usize, xiBytes: usize, c: i32, v: v128): void {
  store<f32>(out + <usize>c * xiBytes, f32x4.extract_lane(v, 0));
  store<f32>(out + <usize>(6 + c) * xiBytes, f32x4.extract_lane(v, 1));
  store<f32>(out + <usize>(12 + c) * xiBytes, f32x4.extract_lane(v, 2));
  store<f32>(out + <usize>(18 + c) * xiBytes, f32x4.extract_lane(v, 3));
}

/**
 * y (rows planes of outH x outW) = A^T m A + bias, leaky ReLU, for tiles [j0, j0 + n): m is the 24 GEMM results
 * (matrix xi at Mb + xi * (rows * nt + SKEW) floats, row o, column j). Four consecutive tiles as lanes (across a
 * tile row's end too): F(2, 3)'s A^T down each of the 6 columns, F(4, 3)'s across each of the 2 rows; then each
 * tile's outputs inside the plane stored from tmp (8 vectors).
 */
export function outputTransform24(Mb: usize, rows: i32, nt: i32, j0: i32, n: i32, tilesX: i32, outH: i32, outW: i32, y: usize, bias: usize, reluOn: bool, slope: f32, tmp: usize): void {
  const xiBytes = (<usize>(rows * nt + SKEW)) << 2, rowBytes = <usize>outW << 2;
  for (let o = 0; o < rows; o++) {
    const b = f32x4.splat(bias != 0 ? load<f32>(bias + (<usize>o << 2)) : 0);
    const plane = y + <usize>o * outH * rowBytes;
    for (let j = 0; j < n; j += 4) {
      const mo = Mb + ((<usize>o * nt + j) << 2);
      for (let a = 0; a < 2; a++) {
        // Row a of A^T m (a = 0: m0 + m1 + m2, 1: m1 - m2 - m3) in each of the 6 columns.
        const s0 = down(mo, xiBytes, 0, a), s1 = down(mo, xiBytes, 1, a), s2 = down(mo, xiBytes, 2, a);
        const s3 = down(mo, xiBytes, 3, a), s4 = down(mo, xiBytes, 4, a), s5 = down(mo, xiBytes, 5, a);
        const p = f32x4.add(s1, s2), q = f32x4.sub(s1, s2), r = f32x4.add(s3, s4), d = f32x4.sub(s3, s4);
        let y0 = f32x4.add(f32x4.add(f32x4.add(s0, p), r), b);
        let y1 = f32x4.add(f32x4.add(q, f32x4.mul(f32x4.splat(2), d)), b);
        let y2 = f32x4.add(f32x4.add(p, f32x4.mul(f32x4.splat(4), r)), b);
        let y3 = f32x4.add(f32x4.add(f32x4.add(q, f32x4.mul(f32x4.splat(8), d)), s5), b);
        if (reluOn) {
          y0 = relu(y0, slope); y1 = relu(y1, slope); y2 = relu(y2, slope); y3 = relu(y3, slope);
        }
        const t = tmp + (<usize>a << 6);
        v128.store(t, y0); v128.store(t, y1, 16); v128.store(t, y2, 32); v128.store(t, y3, 48);
      }
      for (let l = 0; l < min(4, n - j); l++) {
        const ty = (j0 + j + l) / tilesX, tx = j0 + j + l - ty * tilesX;
        const rowsIn = min(2, outH - 2 * ty), cols = min(4, outW - 4 * tx);
        for (let a = 0; a < rowsIn; a++) {
          const dst = plane + <usize>(2 * ty + a) * rowBytes + (<usize>(4 * tx) << 2), t = tmp + (<usize>a << 6) + (<usize>l << 2);
          for (let c = 0; c < cols; c++) store<f32>(dst + (<usize>c << 2), load<f32>(t + (<usize>c << 4)));
        }
      }
    }
  }
}

/** Row a of F(2, 3)'s A^T times value column c (matrices c, 6 + c, 12 + c, 18 + c), four tiles as lanes. */
@inline function down(mo: usize, xiBytes: usize, c: i32, a: i32): v128 {
  const m0 = v128.load(mo + <usize>c * xiBytes), m1 = v128.load(mo + <usize>(6 + c) * xiBytes);
  const m2 = v128.load(mo + <usize>(12 + c) * xiBytes), m3 = v128.load(mo + <usize>(18 + c) * xiBytes);
  return a == 0 ? f32x4.add(f32x4.add(m0, m1), m2) : f32x4.sub(f32x4.sub(m1, m2), m3);
}
