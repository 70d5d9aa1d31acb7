// The last few columns of a GEMM block (a plane of N = 8 s + r positions: 7 x 7 = 49, 13 x 13 = 169, 17 x 17 =
// 289), one column at a time instead of a whole NR = 8 strip of padding: kernels.ts's gemmStrips computes a
// partial strip at the cost of a full one (N = 49 took as long as N = 56, 1.16x N = 48, 1x1 layers alone), so
// 7 x 7 layers spent 1/7 of their time on one column. Here a column of C is computed for 32 rows (eight MR-row
// strips of packed A) a pass: eight accumulators of four rows, one splatted B value per k; the same multiply-adds
// per k as the 4 x 8 tile, all of them on real columns. Each output adds its products in k order, then C's
// previous value (not the first K block), the bias, the residual (a fused Eltwise SUM) and the leaky ReLU, as
// microTile does: the same floats.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { MR, madd, relu } from './simd';

/**
 * Columns [0, cols) of the packed B strip at `b` (column j at b + j * 4, k at + k * NR * 4) times packed A's
 * block at `a` (all ceil(M / MR) strips, kc long each) into C rows [0, M) at c (ldc floats a row, column 0 of the
 * strip). `first`: C is written, else added to; `last`: bias (one per row, padded to whole strips), the
 * residual at `res` (C's layout, 0: none) and ReLU.
 */
export function gemmColumns(
  M: i32, kc: i32, a: usize, b: usize, cols: i32, c: usize, ldc: i32,
  first: bool, last: bool, bias: usize, reluOn: bool, slope: f32, res: usize,
): void {
  const strips = (M + MR - 1) / MR;
  const stripBytes = <usize>(MR * kc) << 2;
  const ldcBytes = <usize>ldc << 2;
  for (let j = 0; j < cols; j++) {
    const pb0 = b + (<usize>j << 2), cj = c + (<usize>j << 2), rj = res != 0 ? res + (<usize>j << 2) : 0;
    let s = 0;
    for (; s + 8 <= strips; s += 8) {
      let pa = a + <usize>s * stripBytes, pb = pb0;
      let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
      let c4 = f32x4.splat(0), c5 = f32x4.splat(0), c6 = f32x4.splat(0), c7 = f32x4.splat(0);
      for (let k = 0; k < kc; k++) {
        const v = v128.load32_splat(pb);
        c0 = madd(c0, v128.load(pa), v);
        c1 = madd(c1, v128.load(pa + stripBytes), v);
        c2 = madd(c2, v128.load(pa + 2 * stripBytes), v);
        c3 = madd(c3, v128.load(pa + 3 * stripBytes), v);
        c4 = madd(c4, v128.load(pa + 4 * stripBytes), v);
        c5 = madd(c5, v128.load(pa + 5 * stripBytes), v);
        c6 = madd(c6, v128.load(pa + 6 * stripBytes), v);
        c7 = madd(c7, v128.load(pa + 7 * stripBytes), v);
        pa += 16;
        pb += 32;
      }
      const row = s * MR;
      finish(c0, row, M, cj, ldcBytes, first, last, bias, reluOn, slope, rj);
      finish(c1, row + 4, M, cj, ldcBytes, first, last, bias, reluOn, slope, rj);
      finish(c2, row + 8, M, cj, ldcBytes, first, last, bias, reluOn, slope, rj);
      finish(c3, row + 12, M, cj, ldcBytes, first, last, bias, reluOn, slope, rj);
      finish(c4, row + 16, M, cj, ldcBytes, first, last, bias, reluOn, slope, rj);
      finish(c5, row + 20, M, cj, ldcBytes, first, last, bias, reluOn, slope, rj);
      finish(c6, row + 24, M, cj, ldcBytes, first, last, bias, reluOn, slope, rj);
      finish(c7, row + 28, M, cj, ldcBytes, first, last, bias, reluOn, slope, rj);
    }
    for (; s < strips; s++) {
      let pa = a + <usize>s * stripBytes, pb = pb0;
      let c0 = f32x4.splat(0);
      for (let k = 0; k < kc; k++) {
        c0 = madd(c0, v128.load(pa), v128.load32_splat(pb));
        pa += 16;
        pb += 32;
      }
      finish(c0, s * MR, M, cj, ldcBytes, first, last, bias, reluOn, slope, rj);
    }
  }
}

/** Rows [row, row + 4) (those below M) of one column at cj: the sums plus C's value, bias and ReLU, stored. */
@inline
function finish(v: v128, row: i32, M: i32, cj: usize, ldcBytes: usize, first: bool, last: bool, bias: usize, reluOn: bool, slope: f32, rj: usize): void {
  const at = cj + <usize>row * ldcBytes;
  const rows = min(4, M - row);
  if (!first) {
    v = f32x4.replace_lane(v, 0, f32x4.extract_lane(v, 0) + load<f32>(at));
    if (rows > 1) v = f32x4.replace_lane(v, 1, f32x4.extract_lane(v, 1) + load<f32>(at + ldcBytes));
    if (rows > 2) v = f32x4.replace_lane(v, 2, f32x4.extract_lane(v, 2) + load<f32>(at + 2 * ldcBytes));
    if (rows > 3) v = f32x4.replace_lane(v, 3, f32x4.extract_lane(v, 3) + load<f32>(at + 3 * ldcBytes));
  }
  if (last) {
    if (bias != 0) v = f32x4.add(v, v128.load(bias + (<usize>row << 2)));
    if (rj != 0) {
      const r = rj + <usize>row * ldcBytes;
      v = f32x4.replace_lane(v, 0, f32x4.extract_lane(v, 0) + load<f32>(r));
      if (rows > 1) v = f32x4.replace_lane(v, 1, f32x4.extract_lane(v, 1) + load<f32>(r + ldcBytes));
      if (rows > 2) v = f32x4.replace_lane(v, 2, f32x4.extract_lane(v, 2) + load<f32>(r + 2 * ldcBytes));
      if (rows > 3) v = f32x4.replace_lane(v, 3, f32x4.extract_lane(v, 3) + load<f32>(r + 3 * ldcBytes));
    }
    if (reluOn) v = relu(v, slope);
  }
  store<f32>(at, f32x4.extract_lane(v, 0));
  if (rows > 1) store<f32>(at + ldcBytes, f32x4.extract_lane(v, 1));
  if (rows > 2) store<f32>(at + 2 * ldcBytes, f32x4.extract_lane(v, 2));
  if (rows > 3) store<f32>(at + 3 * ldcBytes, f32x4.extract_lane(v, 3));
}
