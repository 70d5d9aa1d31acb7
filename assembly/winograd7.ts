// 1-D Winograd F(4, 7) for 7 x 1 (dir 1: tiles of 4 rows x 1 column) and 1 x 7 (dir 2: 1 row x 4 columns)
// kernels, the whole kernel at once: 10 values per tile (points 0, +-1, +-2, +-1/2, +-3/2 and infinity), so 10
// GEMMs of K = C where F(4, 3) on the kernel's three 1 x 3 blocks (assembly/winograd.ts, inputLine) ran 6 of
// K = 3 C: 2.5 multiply-adds per output and input channel instead of 4.5 (im2col: 7). The points are the ones
// whose float32 error stayed lowest (about 1e-5 of the output's range against F(4, 3)'s 1.3e-6, simulated with
// 192 channels; docs/PERFORMANCE.md, round five). Called from winogradChunk / winogradFiltersChunk when the job's
// 1-D point count (field 27 / 17) is 10.
//
// Tiles go four at a time as lanes, from a multiple of 4 in the block (so each value of four tiles is one store
// into a strip of NR tiles of the packed B): four side by side in one tile row as loaded, four across a row's end
// and the next row's start gathered tile by tile (inputGather7; the output transform stores each tile's four on
// its own). Fewer only at the block's end: the other lanes are not stored. (Fours that restarted at each tile row
// ran 8 lane slots for 5 tiles on Inception-v3's 17 x 17 1 x 7, and half their stores lane by lane: round fifty.)

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { NR, madd, relu } from './simd';
import { SKEW, lanes4, line6, stripAt } from './winograd';

/**
 * V (10 packed-B matrices of kc x nt, SKEW floats apart) = B^T d for input channels [k0, k0 + kc) (K = C: one block) and tiles
 * [j0, j0 + n) of one image-group's padded planes; tiles n..nt are zero.
 */
export function inputTransform7(xp: usize, k0: i32, kc: i32, Hp: i32, Wp: i32, tilesX: i32, j0: i32, n: i32, nt: i32, dir: i32, V: usize): void {
  const xiBytes = (<usize>(kc * nt + SKEW)) << 2, rowBytes = <usize>Wp << 2, stripBytes = <usize>(NR * kc) << 2;
  for (let k = k0; k < k0 + kc; k++) {
    const base = V + (<usize>((k - k0) * NR) << 2), plane = xp + <usize>k * Hp * rowBytes;
    // Tiles j .. j + 3 (fewer at the block's end: lanes), at offset 0 or 4 of a strip (a put is one store but for
    // the block's last one to three tiles, stored lane by lane).
    for (let j = 0; j < n; j += 4) {
      const ty = (j0 + j) / tilesX, tx = j0 + j - ty * tilesX, lanes = min(4, n - j);
      const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      if (tx + lanes > tilesX) {
        // Across tile rows (a row's end and the next row's start): each tile's ten inputs gathered.
        inputGather7(plane, rowBytes, tilesX, j0 + j, j0 + n - 1, dir, out, xiBytes, j & 7, lanes, stripBytes);
      } else if (dir == 1) {
        // Rows 4 ty .. 4 ty + 9 of columns tx .. tx + 3 (lanes).
        const s = plane + <usize>(4 * ty) * rowBytes + (<usize>tx << 2);
        lineB10(v128.load(s), v128.load(s + rowBytes), v128.load(s + 2 * rowBytes), v128.load(s + 3 * rowBytes), v128.load(s + 4 * rowBytes),
          v128.load(s + 5 * rowBytes), v128.load(s + 6 * rowBytes), v128.load(s + 7 * rowBytes), v128.load(s + 8 * rowBytes), v128.load(s + 9 * rowBytes),
          out, xiBytes, j & 7, lanes, stripBytes);
      } else {
        // Columns 4 tx .. 4 tx + 21 of row ty: tile i's input l is float 4 i + l; three 4x4 transposes.
        const s = plane + <usize>ty * rowBytes + (<usize>(4 * tx) << 2);
        const r0 = v128.load(s), r1 = v128.load(s, 16), r2 = v128.load(s, 32), r3 = v128.load(s, 48), r4 = v128.load(s, 64), r5 = v128.load(s, 80);
        lineB10(column(r0, r1, r2, r3, 0), column(r0, r1, r2, r3, 1), column(r0, r1, r2, r3, 2), column(r0, r1, r2, r3, 3),
          column(r1, r2, r3, r4, 0), column(r1, r2, r3, r4, 1), column(r1, r2, r3, r4, 2), column(r1, r2, r3, r4, 3),
          column(r2, r3, r4, r5, 0), column(r2, r3, r4, r5, 1), out, xiBytes, j & 7, lanes, stripBytes);
      }
    }
    for (let j = n; j < nt; j++) {
      const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      for (let xi = 0; xi < 10; xi++) store<f32>(out + <usize>xi * xiBytes, 0);
    }
  }
}

/**
 * B^T d of 1-D tiles t .. t + 3 wherever they lie (lanes; tiles past `last` read its inputs, and only the first
 * `lanes` are stored): ten inputs a tile, down a column (dir 1) or along a row (dir 2: 10 floats a tile, transposed).
 */
function inputGather7(plane: usize, rowBytes: usize, tilesX: i32, t: i32, last: i32, dir: i32, out: usize, xiBytes: usize, at: i32, lanes: i32, stripBytes: usize): void {
  const s0 = line6(plane, rowBytes, tilesX, t, last, dir), s1 = line6(plane, rowBytes, tilesX, t + 1, last, dir);
  const s2 = line6(plane, rowBytes, tilesX, t + 2, last, dir), s3 = line6(plane, rowBytes, tilesX, t + 3, last, dir);
  if (dir == 2) {
    const a0 = v128.load(s0), a1 = v128.load(s1), a2 = v128.load(s2), a3 = v128.load(s3);
    const b0 = v128.load(s0, 16), b1 = v128.load(s1, 16), b2 = v128.load(s2, 16), b3 = v128.load(s3, 16);
    const p = v128.shuffle<f32>(v128.load64_zero(s0, 32), v128.load64_zero(s1, 32), 0, 4, 1, 5);
    const q = v128.shuffle<f32>(v128.load64_zero(s2, 32), v128.load64_zero(s3, 32), 0, 4, 1, 5);
    lineB10(column(a0, a1, a2, a3, 0), column(a0, a1, a2, a3, 1), column(a0, a1, a2, a3, 2), column(a0, a1, a2, a3, 3),
      column(b0, b1, b2, b3, 0), column(b0, b1, b2, b3, 1), column(b0, b1, b2, b3, 2), column(b0, b1, b2, b3, 3),
      v128.shuffle<f32>(p, q, 0, 1, 4, 5), v128.shuffle<f32>(p, q, 2, 3, 6, 7), out, xiBytes, at, lanes, stripBytes);
    return;
  }
  lineB10(lanes4(s0, s1, s2, s3, 0), lanes4(s0, s1, s2, s3, rowBytes), lanes4(s0, s1, s2, s3, 2 * rowBytes), lanes4(s0, s1, s2, s3, 3 * rowBytes),
    lanes4(s0, s1, s2, s3, 4 * rowBytes), lanes4(s0, s1, s2, s3, 5 * rowBytes), lanes4(s0, s1, s2, s3, 6 * rowBytes), lanes4(s0, s1, s2, s3, 7 * rowBytes),
    lanes4(s0, s1, s2, s3, 8 * rowBytes), lanes4(s0, s1, s2, s3, 9 * rowBytes), out, xiBytes, at, lanes, stripBytes);
}

/** init + ca a + cb b + cc c. */
@inline export function acc3(init: v128, a: v128, ca: f32, b: v128, cb: f32, c: v128, cc: f32): v128 {
  return madd(madd(madd(init, a, f32x4.splat(ca)), b, f32x4.splat(cb)), c, f32x4.splat(cc));
}

/**
 * B^T d (d0..d9: one vector of four tiles each), value xi stored at out + xi * xiBytes. The rows of B^T for +p
 * and -p share their even and odd halves (row(+-p) = E +- O), and O is p times E's coefficients on d1, d3, ...
 */
@inline export function lineB10(d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128, d6: v128, d7: v128, d8: v128, d9: v128, out: usize, xiBytes: usize, at: i32, lanes: i32, stripBytes: usize): void {
  put(out, madd(acc3(d8, d6, -7.5, d4, 17.0625, d2, -12.8125), d0, f32x4.splat(2.25)), at, lanes, stripBytes);
  put(out + 9 * xiBytes, madd(acc3(d9, d7, -7.5, d5, 17.0625, d3, -12.8125), d1, f32x4.splat(2.25)), at, lanes, stripBytes);
  pair(acc3(d8, d6, -6.5, d4, 10.5625, d2, -2.25), acc3(d7, d5, -6.5, d3, 10.5625, d1, -2.25), out + xiBytes, xiBytes, at, lanes, stripBytes);
  pair(acc3(d8, d6, -3.5, d4, 3.0625, d2, -0.5625), f32x4.mul(acc3(d7, d5, -3.5, d3, 3.0625, d1, -0.5625), f32x4.splat(2)), out + 3 * xiBytes, xiBytes, at, lanes, stripBytes);
  pair(acc3(d8, d6, -7.25, d4, 15.25, d2, -9), f32x4.mul(acc3(d7, d5, -7.25, d3, 15.25, d1, -9), f32x4.splat(0.5)), out + 5 * xiBytes, xiBytes, at, lanes, stripBytes);
  pair(acc3(d8, d6, -5.25, d4, 5.25, d2, -1), f32x4.mul(acc3(d7, d5, -5.25, d3, 5.25, d1, -1), f32x4.splat(1.5)), out + 7 * xiBytes, xiBytes, at, lanes, stripBytes);
}

@inline function pair(e: v128, o: v128, out: usize, xiBytes: usize, at: i32, lanes: i32, stripBytes: usize): void {
  put(out, f32x4.add(e, o), at, lanes, stripBytes);
  put(out + xiBytes, f32x4.sub(e, o), at, lanes, stripBytes);
}

/**
 * The first `lanes` lanes of v to the packed B columns of tiles j.. (out: tile j's, at = j % NR): one store when
 * all four are in one strip of NR tiles, else lane by lane (lane i of strip column at + i, past NR in the next strip).
 */
@inline export function put(out: usize, v: v128, at: i32, lanes: i32, stripBytes: usize): void {
  if (lanes == 4 && at <= NR - 4) {
    v128.store(out, v);
    return;
  }
  store<f32>(out, f32x4.extract_lane(v, 0));
  if (lanes > 1) store<f32>(lane(out, at, 1, stripBytes), f32x4.extract_lane(v, 1));
  if (lanes > 2) store<f32>(lane(out, at, 2, stripBytes), f32x4.extract_lane(v, 2));
  if (lanes > 3) store<f32>(lane(out, at, 3, stripBytes), f32x4.extract_lane(v, 3));
}

@inline export function lane(out: usize, at: i32, i: i32, stripBytes: usize): usize {
  const c = at + i;
  return out - (<usize>at << 2) + <usize>(c / NR) * stripBytes + (<usize>(c % NR) << 2);
}

/**
 * A^T m + bias, leaky ReLU of the 1-D tiles t.. at mo (column j of the 10 GEMM results, xiBytes apart: lanes = tiles,
 * the first `lanes` of them written) into the output plane (outputWhole's loop, assembly/winograd5.ts). Tiles in
 * one tile row go as vectors; four across a row's end and the next row's start (their GEMM columns are consecutive
 * all the same: 5 tiles a row on Inception-v3's 17 x 17) each take a column of the 4x4 transpose, stored on its own.
 */
export function outputTile7(mo: usize, xiBytes: usize, plane: usize, rowBytes: usize, tilesX: i32, t: i32, lanes: i32, outH: i32, outW: i32, dir: i32, bias: f32, reluOn: bool, slope: f32): void {
  const b = f32x4.splat(bias); // the bias as a scalar: exported functions exchange no v128 (AssemblyScript warns)
  const m0 = v128.load(mo), m9 = v128.load(mo + 9 * xiBytes);
  const m1 = v128.load(mo + xiBytes), m2 = v128.load(mo + 2 * xiBytes), m3 = v128.load(mo + 3 * xiBytes), m4 = v128.load(mo + 4 * xiBytes);
  const m5 = v128.load(mo + 5 * xiBytes), m6 = v128.load(mo + 6 * xiBytes), m7 = v128.load(mo + 7 * xiBytes), m8 = v128.load(mo + 8 * xiBytes);
  let y0 = lineA10(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, b, 0), y1 = lineA10(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, b, 1);
  let y2 = lineA10(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, b, 2), y3 = lineA10(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, b, 3);
  if (reluOn) {
    y0 = relu(y0, slope); y1 = relu(y1, slope); y2 = relu(y2, slope); y3 = relu(y3, slope);
  }
  const ty = t / tilesX, tx = t - ty * tilesX;
  if (tx + lanes > tilesX) {
    putTile7(plane, rowBytes, tilesX, t, outH, outW, dir, column(y0, y1, y2, y3, 0));
    if (lanes > 1) putTile7(plane, rowBytes, tilesX, t + 1, outH, outW, dir, column(y0, y1, y2, y3, 1));
    if (lanes > 2) putTile7(plane, rowBytes, tilesX, t + 2, outH, outW, dir, column(y0, y1, y2, y3, 2));
    if (lanes > 3) putTile7(plane, rowBytes, tilesX, t + 3, outH, outW, dir, column(y0, y1, y2, y3, 3));
    return;
  }
  if (dir == 1) {
    // Output rows 4 ty + i of columns tx.. (lanes).
    const dst = plane + <usize>(4 * ty) * rowBytes + (<usize>tx << 2), inside = min(4, outH - 4 * ty);
    putRow(dst, y0, lanes);
    if (inside > 1) putRow(dst + rowBytes, y1, lanes);
    if (inside > 2) putRow(dst + 2 * rowBytes, y2, lanes);
    if (inside > 3) putRow(dst + 3 * rowBytes, y3, lanes);
    return;
  }
  // Lanes are tiles, vectors outputs: a 4x4 transpose puts each tile's four outputs together.
  putTiles(plane + <usize>ty * rowBytes + (<usize>(4 * tx) << 2), y0, y1, y2, y3, lanes, outW - 4 * tx);
}

/** Tile u's four outputs v (output i in lane i) into the plane: down its column (dir 1) or along its row, clipped to it. */
@inline function putTile7(plane: usize, rowBytes: usize, tilesX: i32, u: i32, outH: i32, outW: i32, dir: i32, v: v128): void {
  const ty = u / tilesX, tx = u - ty * tilesX;
  if (dir == 2) {
    putRow(plane + <usize>ty * rowBytes + (<usize>(4 * tx) << 2), v, outW - 4 * tx);
    return;
  }
  const dst = plane + <usize>(4 * ty) * rowBytes + (<usize>tx << 2), inside = outH - 4 * ty;
  store<f32>(dst, f32x4.extract_lane(v, 0));
  if (inside > 1) store<f32>(dst + rowBytes, f32x4.extract_lane(v, 1));
  if (inside > 2) store<f32>(dst + 2 * rowBytes, f32x4.extract_lane(v, 2));
  if (inside > 3) store<f32>(dst + 3 * rowBytes, f32x4.extract_lane(v, 3));
}

/**
 * Output i of F(4, 7)'s A^T (4 x 10) over a line of ten (lanes = tiles), plus b (output 0 adds it to m0 first: the
 * order its float32 sums always had). Called with a constant i four times: the sums and differences fold.
 */
@inline export function lineA10(m0: v128, m1: v128, m2: v128, m3: v128, m4: v128, m5: v128, m6: v128, m7: v128, m8: v128, m9: v128, b: v128, i: i32): v128 {
  const s1 = f32x4.add(m1, m2), s2 = f32x4.add(m3, m4), s3 = f32x4.add(m5, m6), s4 = f32x4.add(m7, m8);
  const t1 = f32x4.sub(m1, m2), t2 = f32x4.sub(m3, m4), t3 = f32x4.sub(m5, m6), t4 = f32x4.sub(m7, m8);
  if (i == 0) return f32x4.add(f32x4.add(f32x4.add(m0, b), f32x4.add(s1, s2)), f32x4.add(s3, s4));
  if (i == 1) return f32x4.add(acc3(t1, t2, 2, t3, 0.5, t4, 1.5), b);
  if (i == 2) return f32x4.add(acc3(s1, s2, 4, s3, 0.25, s4, 2.25), b);
  return f32x4.add(acc3(f32x4.add(t1, m9), t2, 8, t3, 0.125, t4, 3.375), b);
}

/** Column i of the 4x4 matrix whose rows are a, b, c, d (a transpose, one column at a time: shared shuffles fold). */
@inline export function column(a: v128, b: v128, c: v128, d: v128, i: i32): v128 {
  const lo = i < 2;
  const ab = lo ? v128.shuffle<f32>(a, b, 0, 4, 1, 5) : v128.shuffle<f32>(a, b, 2, 6, 3, 7);
  const cd = lo ? v128.shuffle<f32>(c, d, 0, 4, 1, 5) : v128.shuffle<f32>(c, d, 2, 6, 3, 7);
  return (i & 1) == 0 ? v128.shuffle<f32>(ab, cd, 0, 1, 4, 5) : v128.shuffle<f32>(ab, cd, 2, 3, 6, 7);
}

/**
 * Four tiles' outputs along a row (y0..y3: output i of each tile, lanes = tiles) to dst: tile t's four at dst +
 * 16 t, for the first `lanes` tiles, each clipped to the `cols - 4 t` columns left in the plane.
 */
@inline export function putTiles(dst: usize, y0: v128, y1: v128, y2: v128, y3: v128, lanes: i32, cols: i32): void {
  putRow(dst, column(y0, y1, y2, y3, 0), cols);
  if (lanes > 1) putRow(dst + 16, column(y0, y1, y2, y3, 1), cols - 4);
  if (lanes > 2) putRow(dst + 32, column(y0, y1, y2, y3, 2), cols - 8);
  if (lanes > 3) putRow(dst + 48, column(y0, y1, y2, y3, 3), cols - 12);
}

/** The first `count` (up to 4) lanes of v to dst.. (consecutive floats). */
@inline export function putRow(dst: usize, v: v128, count: i32): void {
  if (count >= 4) {
    v128.store(dst, v);
    return;
  }
  store<f32>(dst, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(dst, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(dst, f32x4.extract_lane(v, 2), 8);
}

/** Finite point j of F(4, 7): 0, 1, -1, 2, -2, 1/2, -1/2, 3/2, -3/2 (the tenth is infinity). No static data: the heap starts at 0. */
@inline export function point(j: i32): f64 {
  const q = (j + 1) >> 1, size: f64 = q == 0 ? 0 : q == 1 ? 1 : q == 2 ? 2 : q == 3 ? 0.5 : 1.5;
  return j & 1 ? size : -size;
}

/**
 * The 7 taps of filter o, input channel c in [from, to) (K = C: column c) as G g, its 10 values in strip row r of T
 * (stripAt, `stride` floats apart): in float64 (row j < 9: sum_k p_j^k g_k / prod_(l != j) (p_j - p_l); row 9: g_6),
 * rounded once.
 */
export function filters7(w: usize, o: i32, C: i32, T: usize, stride: usize, r: i32, scratch: usize, from: i32, to: i32): void {
  // Each row's denominator once per filter, in scratch (they depend on the points only).
  for (let j = 0; j < 9; j++) {
    const p = point(j);
    let den: f64 = 1;
    for (let l = 0; l < 9; l++) if (l != j) den *= p - point(l);
    store<f64>(scratch + (<usize>j << 3), den);
  }
  for (let c = from; c < to; c++) {
    const f = w + ((<usize>(o * C + c) * 7) << 2);
    const at = stripAt(T, r, c, from);
    for (let j = 0; j < 9; j++) {
      const p = point(j);
      let v: f64 = 0, pk: f64 = 1;
      for (let k = 0; k < 7; k++) {
        v += pk * <f64>load<f32>(f + (<usize>k << 2));
        pk *= p;
      }
      store<f32>(at + ((<usize>j * stride) << 2), <f32>(v / load<f64>(scratch + (<usize>j << 3))));
    }
    store<f32>(at + ((<usize>9 * stride) << 2), load<f32>(f, 24));
  }
}
