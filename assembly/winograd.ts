// Winograd F(m x m, 3x3), m = 2 or 4, for 3x3 stride-1 convolutions (dilation 1, any pad, groups), and
// F(3x3, 4x4) ("m = 3": the same 6 points, B^T and 36 GEMMs; G is 6 x 4, A^T 3 x 6) for the 4x4 kernels of
// strided convolutions run on their space-to-depth (7x7 stride 2 with CREMA_WINOGRAD=3; by default F(5x5, 4x4),
// assembly/winograd5.ts, src/kernels/winograd.ts fourTile): each m x m
// block of outputs ("tile") is computed from its (m + 2)^2 input patch d as Y = A^T [U . (B^T d B)] A, where
// U = G g G^T is the filter transformed once (src/kernels/winograd.ts). The (m + 2)^2 elementwise products,
// summed over input channels, are that many independent GEMMs (M x C) x (C x tiles): per output, 16 / 4 = 4
// (F(2x2)) or 36 / 16 = 2.25 (F(4x4)) multiply-adds per input channel instead of im2col's 9. F(2x2)'s transforms
// only add and subtract (G's 1/2 is exact), so its error is the plain GEMM's; F(4x4)'s multiply by up to 8 (G by
// 1/24) and its error is about 10x larger, still 1e-5 - 1e-6 of the output's range (docs/PERFORMANCE.md).
//
// Two jobs per layer (written by src/kernels/winograd.ts):
//  - pad: copies each input plane into a zero-bordered one of (m tilesY + 2) x (m tilesX + 2), so every tile's
//    patch is inside it (no border cases in the transforms). Fields: 3 x, 4 planes, 5 H, 6 W, 7 Hp, 8 Wp, 9 ph,
//    10 pw, 11 padded copy, 12 planes per chunk, 13 set when x is not all finite, 14 / 15 stride: above 1, the
//    planes are x's space-to-depth (gatherPlane), for a strided convolution run as a stride-1 one.
//  - tiles: chunk -> (image-group, block of nt tiles, block of output rows). Input transform of the block's
//    tiles into thread scratch, laid out as (m + 2)^2 packed-B matrices (C x nt, assembly/kernels.ts's layout);
//    the GEMMs (through gemmStrips, the micro-kernel of every convolution) into as many M x nt row-major matrices;
//    the output transform adds bias and leaky ReLU and writes y. Fields: 3 padded copy, 4 C, 5 Hp, 6 Wp,
//    7 tilesY, 8 tilesX, 9 outH, 10 outW, 11 M (rows per group), 12 U (packed A per group and position),
//    13 y, 14 bias (0: none), 15 relu on, 16 slope, 17 groups, 18 nt (multiple of 8), 19 tile blocks per
//    image-group, 20 KC, 21 rows per chunk (multiple of 4), 22 row blocks, 23 m, 24 / 25 the kernel's 3x3
//    blocks down / across (1 / 1 for 3x3; 2 / 2 for 5x5, 3 / 3 for 7x7: see inputTransform), 26 1-D direction
//    (0: 2-D), 27 values per tile when not 16 / 36 per block (1-D 6: F(4, 3) on 1 x 3 blocks; 10: F(4, 7),
//    assembly/winograd7.ts; 64: F(4x4, 5x5), assembly/winograd5.ts (F(2x2, 7x7) with m = 2); 80: F(2x4, 7x7),
//    assembly/winograd27.ts), 28 0, or for F(4x4, 3x3) with U made in
//    the chunk (gemmsMadeU) the filters made at a time, field 12 then being the weights in Caffe's layout.
// Tiles are numbered row-major over the output (tile t at ty = t / tilesX, tx = t % tilesX). Input transform:
// four tiles in one tile row, starting at a multiple of 4 in the block, at once (one f32x4 lane each; F(4x4), F(4, 3)
// and F(4, 7): any four, gathered across a row's end: inputTiles6, inputGather7), the rest
// one at a time. Output transform: 2-D F(4x4, 3x3) / F(6x6, 3x3) every tile in fours (a row's last four overlapping
// the previous ones) where the plane is at least 4 tiles wide, else one at a time; F(4, 3) four in one tile row at
// once, the rest one at a time (outputTiles1); F(4, 7) any four consecutive tiles, those across a row's end stored
// tile by tile (outputTile7); the other whole-kernel ones four of one tile row at a time (outputWhole).

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { gemmStrips, stripColumns } from './kernels';
import { MR, NR, addr, copyRow, madd, relu, reluf, word, zeroRow } from './simd';
import { filtersWhole, inputTransform5, outputWhole } from './winograd5';
import { column } from './winograd7';
import { filters7, inputTransform7 } from './winograd7';
import { filters27, inputTransform27 } from './winograd27';
import { inputTransform24, outputTransform24 } from './winograd24';



/**
 * The pad job: planes [chunk * per, ...) of x copied into the zero-bordered planes of the padded copy. Sets
 * field 13 when one of them holds a NaN or an infinity (v - v is NaN then): the transforms would spread it over
 * whole tiles, so the caller takes the im2col path instead.
 */
export function winogradPadChunk(p: usize, chunk: i32): void {
  const x = addr(p, 3), planes = word(p, 4), H = word(p, 5), W = word(p, 6), Hp = word(p, 7), Wp = word(p, 8);
  const ph = word(p, 9), pw = word(p, 10), xp = addr(p, 11), per = word(p, 12), sh = word(p, 14), sw = word(p, 15);
  const end = min(planes, chunk * per + per), phases = sh * sw;
  const rowBytes = <usize>Wp << 2;
  if (phases > 1) {
    for (let c = chunk * per; c < end; ) {
      if (sw == 4 && (c & 3) == 0 && c + 4 <= end) {
        gatherFour(x, c, H, W, Hp, Wp, ph, pw, sh, xp + <usize>c * Hp * rowBytes);
        c += 4;
        continue;
      }
      gatherPlane(x, c, H, W, Hp, Wp, ph, pw, sh, sw, xp + <usize>c * Hp * rowBytes);
      c++;
    }
    // The source planes these phases come from (a plane may be checked by two chunks).
    const first = x + ((<usize>((chunk * per) / phases) * H * W) << 2), last = x + ((<usize>((end + phases - 1) / phases) * H * W) << 2);
    if (first < last && !finite(first, last)) store<i32>(p + 13 * 4, 1);
    return;
  }
  // Each row copied and checked in one pass (v - v: 0 for a finite lane, NaN otherwise): finite() after the
  // copy read x a second time, from L3 for a plane set past L2 (Inception-v3's stem: 2.8 MB).
  let acc = f32x4.splat(0);
  for (let c = chunk * per; c < end; c++) {
    const src = x + ((<usize>c * H * W) << 2), dst = xp + <usize>c * Hp * rowBytes;
    for (let r = 0; r < Hp; r++) {
      const row = dst + <usize>r * rowBytes, iy = r - ph;
      if (<u32>iy >= <u32>H) {
        zeroRow(row, Wp);
        continue;
      }
      zeroRow(row, pw);
      acc = copyRowChecked(src + ((<usize>iy * W) << 2), W, row + (<usize>pw << 2), acc);
      zeroRow(row + (<usize>(pw + W) << 2), Wp - pw - W);
    }
  }
  if (!v128.all_true<i32>(f32x4.eq(acc, acc))) store<i32>(p + 13 * 4, 1);
}

/**
 * Plane c of a strided convolution's space-to-depth (src/kernels/winograd.ts spaceToDepth), zero-bordered as the
 * stride-1 planes are: phase (p, q) = ((c / sw) % sh, c % sw) of x's plane c / (sh sw), row r and column v of it
 * x[sh r + p - ph, sw v + q - pw], zero outside x (Caffe's padding, and past it).
 */
function gatherPlane(x: usize, c: i32, H: i32, W: i32, Hp: i32, Wp: i32, ph: i32, pw: i32, sh: i32, sw: i32, dst: usize): void {
  const phases = sh * sw, plane = c / phases, p = (c / sw) % sh, q = c % sw, rowBytes = <usize>Wp << 2;
  const src = x + ((<usize>plane * H * W) << 2);
  // Columns v whose source column sw v + q - pw lies in [0, W): [v0, v1).
  let v0 = 0;
  while (v0 < Wp && sw * v0 + q - pw < 0) v0++;
  let v1 = v0;
  while (v1 < Wp && sw * v1 + q - pw < W) v1++;
  for (let r = 0; r < Hp; r++) {
    const row = dst + <usize>r * rowBytes, iy = sh * r + p - ph;
    if (<u32>iy >= <u32>H) {
      zeroRow(row, Wp);
      continue;
    }
    zeroRow(row, v0);
    const from = src + ((<usize>iy * W + <usize>(sw * v0 + q - pw)) << 2), step = <usize>sw << 2;
    for (let v = v0, at = from; v < v1; v++, at += step) store<f32>(row + (<usize>v << 2), load<f32>(at));
    zeroRow(row + (<usize>v1 << 2), Wp - v1);
  }
}

/**
 * gatherPlane of the four planes c0 .. c0 + 3 (c0 a multiple of 4) of a stride-4-across space-to-depth: the phases
 * q = 0..3 of one source plane and row phase, from one pass over the source rows. Where all four phases' columns
 * lie inside x, four columns v .. v + 3 of each come from 16 consecutive floats (four vectors, transposed); the
 * rest, and the zeros past x, float by float. The same floats as gatherPlane's, in SIMD (AlexNet's conv1: 48 planes
 * of 58 x 58 from 3 x 227 x 227, each source row read once instead of four times at a stride of 4).
 */
function gatherFour(x: usize, c0: i32, H: i32, W: i32, Hp: i32, Wp: i32, ph: i32, pw: i32, sh: i32, dst: usize): void {
  const plane = c0 / (sh * 4), p = (c0 >> 2) % sh, rowBytes = <usize>Wp << 2, planeBytes = <usize>Hp * rowBytes;
  const src = x + ((<usize>plane * H * W) << 2);
  // [vs, ve): the columns v whose four source columns 4 v + q - pw (q = 0..3) all lie in [0, W).
  let vs = 0;
  while (4 * vs - pw < 0) vs++;
  let ve = vs;
  while (ve < Wp && 4 * ve + 3 - pw < W) ve++;
  const vecEnd = vs + ((ve - vs) & ~3);
  for (let r = 0; r < Hp; r++) {
    const row = dst + <usize>r * rowBytes, iy = sh * r + p - ph;
    if (<u32>iy >= <u32>H) {
      for (let q = 0; q < 4; q++) zeroRow(row + <usize>q * planeBytes, Wp);
      continue;
    }
    const srow = src + ((<usize>iy * W) << 2);
    for (let q = 0; q < 4; q++) gatherCols(srow, row + <usize>q * planeBytes, q - pw, W, 0, vs);
    for (let v = vs; v < vecEnd; v += 4) {
      const s = srow + (<usize>(4 * v - pw) << 2), out = row + (<usize>v << 2);
      const a0 = v128.load(s), a1 = v128.load(s, 16), a2 = v128.load(s, 32), a3 = v128.load(s, 48);
      const t0 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5);
      const t2 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7);
      v128.store(out, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
      v128.store(out + planeBytes, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
      v128.store(out + 2 * planeBytes, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
      v128.store(out + 3 * planeBytes, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
    }
    for (let q = 0; q < 4; q++) gatherCols(srow, row + <usize>q * planeBytes, q - pw, W, vecEnd, Wp);
  }
}

/** Columns [from, to) of a stride-4 phase row: column v is x's srow[4 v + offset], zero outside [0, W). */
@inline function gatherCols(srow: usize, row: usize, offset: i32, W: i32, from: i32, to: i32): void {
  for (let v = from; v < to; v++) {
    const col = 4 * v + offset;
    store<f32>(row + (<usize>v << 2), <u32>col < <u32>W ? load<f32>(srow + (<usize>col << 2)) : 0);
  }
}

/**
 * copyRow (assembly/simd.ts) that also adds each float's v - v to acc (0 where finite, NaN otherwise: NaN stays),
 * returned: the pad job's finiteness check in the copy's own pass.
 */
@inline function copyRowChecked(src: usize, W: i32, dst: usize, acc: v128): v128 {
  if (W < 4) {
    let s: f32 = 0;
    for (let i = 0; i < W; i++) {
      const v = load<f32>(src + (<usize>i << 2));
      store<f32>(dst + (<usize>i << 2), v);
      s += v - v;
    }
    return f32x4.add(acc, f32x4.splat(s));
  }
  const last = <usize>(W - 4) << 2;
  for (let at: usize = 0; at < last; at += 16) {
    const v = v128.load(src + at);
    v128.store(dst + at, v);
    acc = f32x4.add(acc, f32x4.sub(v, v));
  }
  const v = v128.load(src + last); // may overlap the one before: the same values
  v128.store(dst + last, v);
  return f32x4.add(acc, f32x4.sub(v, v));
}

/** Whether the floats in [from, to) are all finite. */
function finite(from: usize, to: usize): bool {
  let acc = f32x4.splat(0);
  let q = from;
  for (; q + 16 <= to; q += 16) {
    const v = v128.load(q);
    acc = f32x4.add(acc, f32x4.sub(v, v)); // 0 for finite lanes, NaN otherwise (and NaN stays)
  }
  let s: f32 = 0;
  for (; q < to; q += 4) {
    const v = load<f32>(q);
    s += v - v;
  }
  return s == s && v128.all_true<i32>(f32x4.eq(acc, acc));
}

export function winogradChunk(p: usize, chunk: i32, scratch: usize): void {
  const xp = addr(p, 3), C = word(p, 4), Hp = word(p, 5), Wp = word(p, 6), tilesY = word(p, 7), tilesX = word(p, 8);
  const outH = word(p, 9), outW = word(p, 10), M = word(p, 11), U = addr(p, 12), y = addr(p, 13), bias = addr(p, 14);
  const reluOn = word(p, 15) != 0, slope = load<f32>(p + 16 * 4), groups = word(p, 17), nt = word(p, 18);
  const blocks = word(p, 19), KC = word(p, 20), rowsPer = word(p, 21), rowBlocks = word(p, 22), m = word(p, 23);
  const subH = word(p, 24), subW = word(p, 25), dir = word(p, 26), points = word(p, 27), uRows = word(p, 28);
  const ig = chunk / (blocks * rowBlocks), rest = chunk - ig * blocks * rowBlocks;
  const block = rest / rowBlocks, row0 = (rest - block * rowBlocks) * rowsPer;
  const j0 = block * nt, n = min(nt, tilesY * tilesX - j0), rows = min(rowsPer, M - row0);
  if (n <= 0 || rows <= 0) return;
  // The GEMMs run the strips that hold this block's tiles: the last block of a plane may hold fewer than nt
  // (VGG-16's 28 x 28, 49 tiles in blocks of 32: 17 in the second, 3 strips of 4 computed before round seven).
  const strips = (n + NR - 1) / NR;
  // A last strip of 1 to 4 tiles runs as columns, not as a whole strip of 8 (49 tiles: 28 x 28 in F(4x4), AlexNet's
  // conv2 in F(4x4, 5x5); 35 x 35's 81).
  const gemmN = stripColumns(n);
  const g = ig % groups, mPad = (M + MR - 1) / MR * MR, count = points != 0 ? points : m == 2 ? 16 : 36, K = C * subH * subW;
  const tmp = scratch, Mb = scratch + SCRATCH_HEAD, V = Mb + ((<usize>count * (rows * nt + SKEW)) << 2);
  const Ug = U + ((<usize>g * count * mPad * K) << 2), x = xp + ((<usize>ig * C * Hp * Wp) << 2);
  // One K block at a time: its transformed inputs (count x kc x nt) fit in scratch whatever K is, so blocks of
  // many tiles (each U value is reused once per tile) stay possible for 7x7 kernels (K = 9 C).
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    if (points == 64) inputTransform5(x, k0, kc, Hp, Wp, tilesX, j0, n, nt, V, tmp + 128, m);
    else if (points == 80) inputTransform27(x, k0, kc, Hp, Wp, tilesX, j0, n, nt, V, tmp + 128);
    else if (points == 10) inputTransform7(x, k0, kc, Hp, Wp, tilesX, j0, n, nt, dir, V);
    else if (points == 24) inputTransform24(x, k0, kc, Hp, Wp, tilesX, j0, n, nt, V);
    else inputTransform(x, C, subW, k0, kc, Hp, Wp, tilesX, j0, n, nt, m, dir, V, tmp + 128);
    if (uRows != 0) {
      gemmsMadeU(U, C, g * M + row0, rows, uRows, k0, kc, K, nt, gemmN, strips, V, Mb, V + ((<usize>count * (kc * nt + SKEW)) << 2), tmp);
      continue;
    }
    for (let xi = 0; xi < count; xi++) {
      const pa = Ug + ((<usize>xi * mPad * K + <usize>k0 * mPad + <usize>row0 * kc) << 2);
      const v = V + ((<usize>xi * (kc * nt + SKEW)) << 2), mx = Mb + ((<usize>xi * (rows * nt + SKEW)) << 2);
      gemmStrips(rows, gemmN, kc, pa, v, 0, strips, mx, nt, 0, k0 == 0, k0 + kc >= K, 0, 0, false, 0, tmp, 0);
    }
  }
  const yRows = y + ((<usize>(ig * M + row0) * outH * outW) << 2);
  const bRows: usize = bias == 0 ? 0 : bias + (<usize>(g * M + row0) << 2);
  if (points == 64 || points == 10 || points == 80) outputWhole(Mb, rows, nt, j0, n, tilesX, outH, outW, dir, points, yRows, bRows, reluOn, slope, tmp + 128, m);
  else if (points == 24) outputTransform24(Mb, rows, nt, j0, n, tilesX, outH, outW, yRows, bRows, reluOn, slope, tmp + 128);
  else outputTransform(Mb, rows, nt, j0, n, tilesX, outH, outW, m, dir, yRows, bRows, reluOn, slope, tmp + 128);
}

/**
 * F(4x4, 3x3)'s 36 GEMMs for GEMM rows (input channels) [k0, k0 + kc) with U made here from the weights (w: Caffe's
 * layout, Cout x C x 3 x 3) instead of read from a U made at load: `uRows` filters at a time (the chunk's rows from
 * filter o0 on), their U (36 packed A matrices of uRows x kc, SKEW apart, at Ub) made by filtersStrip and used by
 * the 36 GEMMs at once, while it is in L1 / L2. U is 4x the weights: on AlexNet's 13 x 13 layers (16 tiles a
 * plane) this keeps F(4x4)'s 2.25 multiply-adds an output without holding it (src/kernels/winograd.ts uPerForward).
 */
function gemmsMadeU(w: usize, C: i32, o0: i32, rows: i32, uRows: i32, k0: i32, kc: i32, K: i32, nt: i32, gemmN: i32, strips: i32, V: usize, Mb: usize, Ub: usize, tmp: usize): void {
  const vBytes = (<usize>(kc * nt + SKEW)) << 2, mBytes = (<usize>(rows * nt + SKEW)) << 2;
  scaleV(V, kc, nt);
  for (let r0 = 0; r0 < rows; r0 += uRows) {
    const rr = min(uRows, rows - r0), uBytes = (<usize>(((rr + MR - 1) & ~(MR - 1)) * kc + SKEW)) << 2;
    for (let s = 0; s < rr; s += MR) filtersStrip(w, C, o0 + r0 + s, min(MR, rr - s), k0, kc, Ub + (<usize>(s * kc) << 2), uBytes, tmp + 128);
    for (let xi = 0; xi < 36; xi++) {
      const mx = Mb + <usize>xi * mBytes + (<usize>(r0 * nt) << 2);
      gemmStrips(rr, gemmN, kc, Ub + <usize>xi * uBytes, V + <usize>xi * vBytes, 0, strips, mx, nt, 0, k0 == 0, k0 + kc >= K, 0, 0, false, 0, tmp, 0);
    }
  }
}

/**
 * U' = G' g G'^T of F(4x4, 3x3) for filters o0 .. o0 + valid - 1 (one MR strip: lanes) and input channels
 * [k0, k0 + kc), in float32, stored as the strip of each of the 36 packed A matrices (xiBytes apart) that
 * gemmStrips reads: channel k's four lanes at out + 16 (k - k0). G' is G without its row scales (G = D G', D =
 * diag(1/4, -1/6, -1/6, 1/24, 1/24, 1)): whole numbers, so each line is 7 additions; the scales D_i D_x go on the
 * transformed inputs instead (scaleV), 36 x kc x nt products where here they would be 36 x kc x rows. Lanes past
 * `valid` are zero.
 */
function filtersStrip(w: usize, C: i32, o0: i32, valid: i32, k0: i32, kc: i32, out: usize, xiBytes: usize, tmp: usize): void {
  const filterBytes = <usize>C * 36, f0 = w + <usize>o0 * filterBytes + <usize>k0 * 36;
  // A lane past `valid` reads 36 zero bytes at tmp and stays there.
  const zero = tmp;
  v128.store(zero, f32x4.splat(0)); v128.store(zero, f32x4.splat(0), 16); v128.store(zero, f32x4.splat(0), 32);
  let f1 = valid > 1 ? f0 + filterBytes : zero, f2 = valid > 2 ? f0 + 2 * filterBytes : zero, f3 = valid > 3 ? f0 + 3 * filterBytes : zero;
  const step1: usize = valid > 1 ? 36 : 0, step2: usize = valid > 2 ? 36 : 0, step3: usize = valid > 3 ? 36 : 0;
  let f = f0, at = out;
  for (let k = 0; k < kc; k++) {
    // The four filters' 9 taps (rows of 4 + 4 + 1), transposed so that lanes are filters.
    const a0 = v128.load(f), a1 = v128.load(f1), a2 = v128.load(f2), a3 = v128.load(f3);
    const b0 = v128.load(f, 16), b1 = v128.load(f1, 16), b2 = v128.load(f2, 16), b3 = v128.load(f3, 16);
    let e = v128.load32_splat(f, 32);
    e = v128.load32_lane(f1, e, 1, 32); e = v128.load32_lane(f2, e, 2, 32); e = v128.load32_lane(f3, e, 3, 32);
    const s0 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), s1 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5), s2 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7), s3 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7);
    const u0 = v128.shuffle<f32>(b0, b1, 0, 4, 1, 5), u1 = v128.shuffle<f32>(b2, b3, 0, 4, 1, 5), u2 = v128.shuffle<f32>(b0, b1, 2, 6, 3, 7), u3 = v128.shuffle<f32>(b2, b3, 2, 6, 3, 7);
    // Taps by kernel row r (taps 3 r .. 3 r + 2): g[r][j].
    const g00 = v128.shuffle<f32>(s0, s1, 0, 1, 4, 5), g01 = v128.shuffle<f32>(s0, s1, 2, 3, 6, 7), g02 = v128.shuffle<f32>(s2, s3, 0, 1, 4, 5);
    const g10 = v128.shuffle<f32>(s2, s3, 2, 3, 6, 7), g11 = v128.shuffle<f32>(u0, u1, 0, 1, 4, 5), g12 = v128.shuffle<f32>(u0, u1, 2, 3, 6, 7);
    const g20 = v128.shuffle<f32>(u2, u3, 0, 1, 4, 5), g21 = v128.shuffle<f32>(u2, u3, 2, 3, 6, 7), g22 = e;
    // Rows of G' g: (a, a + b + d, a - b + d, a + 2 b + 4 d, a - 2 b + 4 d, d) of kernel rows a, b, d, each
    // then times G'^T (lineG6) into U's values 6 i .. 6 i + 5.
    const four = f32x4.splat(4);
    lineG6(g00, g01, g02, at, xiBytes);
    const s00 = f32x4.add(g00, g20), s01 = f32x4.add(g01, g21), s02 = f32x4.add(g02, g22);
    lineG6(f32x4.add(s00, g10), f32x4.add(s01, g11), f32x4.add(s02, g12), at + 6 * xiBytes, xiBytes);
    lineG6(f32x4.sub(s00, g10), f32x4.sub(s01, g11), f32x4.sub(s02, g12), at + 12 * xiBytes, xiBytes);
    const q0 = madd(g00, g20, four), q1 = madd(g01, g21, four), q2 = madd(g02, g22, four);
    const d0 = f32x4.add(g10, g10), d1 = f32x4.add(g11, g11), d2 = f32x4.add(g12, g12);
    lineG6(f32x4.add(q0, d0), f32x4.add(q1, d1), f32x4.add(q2, d2), at + 18 * xiBytes, xiBytes);
    lineG6(f32x4.sub(q0, d0), f32x4.sub(q1, d1), f32x4.sub(q2, d2), at + 24 * xiBytes, xiBytes);
    lineG6(g20, g21, g22, at + 30 * xiBytes, xiBytes);
    f += 36; f1 += step1; f2 += step2; f3 += step3; at += 16;
  }
}

/** G' (a, b, d)^T = (a, a + b + d, a - b + d, a + 2 b + 4 d, a - 2 b + 4 d, d) into out, `step` bytes apart (lanes: filters). */
@inline function lineG6(a: v128, b: v128, d: v128, out: usize, step: usize): void {
  const ad = f32x4.add(a, d), q = madd(a, d, f32x4.splat(4)), b2 = f32x4.add(b, b);
  v128.store(out, a);
  v128.store(out + step, f32x4.add(ad, b));
  v128.store(out + 2 * step, f32x4.sub(ad, b));
  v128.store(out + 3 * step, f32x4.add(q, b2));
  v128.store(out + 4 * step, f32x4.sub(q, b2));
  v128.store(out + 5 * step, d);
}

/** The scales G' leaves out (filtersStrip): transformed input xi = 6 i + x (kc x nt floats at v) times D_i D_x. */
function scaleV(V: usize, kc: i32, nt: i32): void {
  const bytes = <usize>(kc * nt) << 2, vBytes = (<usize>(kc * nt + SKEW)) << 2;
  for (let xi = 0; xi < 36; xi++) {
    const f = f32x4.splat(<f32>(lineScale(xi / 6) * lineScale(xi % 6))), v = V + <usize>xi * vBytes;
    for (let at: usize = 0; at < bytes; at += 16) v128.store(v + at, f32x4.mul(v128.load(v + at), f));
  }
}

/** Row i's scale of F(4x4, 3x3)'s G (Lavin and Gray's points): 1/4, -1/6, -1/6, 1/24, 1/24, 1. */
@inline function lineScale(i: i32): f64 {
  return i == 0 ? 0.25 : i < 3 ? -1.0 / 6.0 : i < 5 ? 1.0 / 24.0 : 1;
}

/**
 * Thread scratch before the GEMM results: 128 bytes for gemmStrips' edge tiles, 36 vectors for F(4x4)'s passes,
 * 36 for four tiles' outputs on their way to the ones that are written (outputTransform reads up to 3 floats
 * before the GEMM results: these).
 */
const SCRATCH_HEAD: usize = 128 + 88 * 16;

/**
 * Floats between consecutive transformed-input (V) and GEMM-result (Mb) matrices beyond their size: the
 * transforms touch the same element of all 16 / 36 matrices at once, and at a stride that is a multiple of 4 KiB
 * (M x nt floats: M = 64, nt a multiple of 16) those all fall in one L1 set (src/kernels/winograd.ts SKEW).
 */
export const SKEW: i32 = 16;

/**
 * V ((m + 2)^2 packed-B matrices of kc x nt, matrix xi = (m + 2) r + c at V + xi * (kc * nt + SKEW) floats) = B^T d B
 * for GEMM rows [k0, k0 + kc) and the tiles [j0, j0 + n) of one image-group's padded planes; tiles n..nt of the
 * block are zero. GEMM row k is input channel k % C read at the offset of 3x3 sub-kernel k / C (row 3 (s / subW),
 * column 3 (s % subW)): a larger kernel is the sum of the 3x3 convolutions of its 3x3 blocks over shifted inputs.
 * A 1-D job (dir != 0) has 6 matrices and 1 x 3 blocks (inputLine).
 */
function inputTransform(xp: usize, C: i32, subW: i32, k0: i32, kc: i32, Hp: i32, Wp: i32, tilesX: i32, j0: i32, n: i32, nt: i32, m: i32, dir: i32, V: usize, tmp: usize): void {
  const count = dir != 0 ? 6 : m == 2 ? 16 : 36, r = m == 3 ? 4 : 3; // r: the kernel's blocks are r x r
  const xiBytes = (<usize>(kc * nt + SKEW)) << 2, rowBytes = <usize>Wp << 2, stripBytes = <usize>(NR * kc) << 2;
  for (let k = k0; k < k0 + kc; k++) {
    const base = V + (<usize>((k - k0) * NR) << 2);
    const s = k / C, c = k - s * C, sy = s / subW, sx = s - sy * subW;
    const plane = xp + <usize>c * Hp * rowBytes + <usize>(r * sy) * rowBytes + (<usize>(r * sx) << 2);
    if ((m == 4 && dir == 0) || dir != 0) {
      inputTiles6(plane, rowBytes, tilesX, j0, n, nt, dir, base, stripBytes, xiBytes, tmp);
      continue;
    }
    for (let j = 0; j < nt; ) {
      const ty = (j0 + j) / tilesX, tx = j0 + j - ty * tilesX;
      const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      if (j >= n) {
        for (let xi = 0; xi < count; xi++) store<f32>(out + <usize>xi * xiBytes, 0);
        j++;
        continue;
      }
      const four = (j & 3) == 0 && j + 4 <= n && tx + 4 <= tilesX;
      j += four ? 4 : 1;
      if (dir != 0) {
        inputLine(plane, ty, tx, dir, four, rowBytes, out, xiBytes);
        continue;
      }
      const src = plane + <usize>(m * ty) * rowBytes + (<usize>(m * tx) << 2);
      if (m == 4) {
        if (four) inputFour6(src, rowBytes, out, xiBytes, tmp);
        else inputOne6(src, rowBytes, out, xiBytes, tmp);
      } else if (m == 3) {
        if (four) inputFour63(src, rowBytes, out, xiBytes, tmp);
        else inputOne6(src, rowBytes, out, xiBytes, tmp);
      } else if (four) inputFour(src, rowBytes, out, xiBytes);
      else inputOne(src, rowBytes, out, xiBytes);
    }
  }
}

/**
 * F(4x4)'s B^T d B (dir 0), or 1-D F(4, 3)'s B^T d (dir 1: down, 2: across), for one GEMM row (the plane at
 * `plane`): every tile of the block four at a time as lanes, four side by side in one tile row from the row as
 * loaded (inputFour6, inputLine), any other four (a row's end and the next row's start) gathered tile by tile
 * (inputGather6, inputGatherLine), lanes past the block's n tiles repeating its last; tiles from the next multiple
 * of 4 to nt zero. (Taking a row's end one tile at a time, with every lane the same, took half the tiles of a
 * 35 x 35 plane, 9 tiles a row, and every tile of an 8 x 8 plane's 1 x 3: 2 tiles a row.)
 */
function inputTiles6(plane: usize, rowBytes: usize, tilesX: i32, j0: i32, n: i32, nt: i32, dir: i32, base: usize, stripBytes: usize, xiBytes: usize, tmp: usize): void {
  let j = 0;
  for (; j < n; j += 4) {
    const ty = (j0 + j) / tilesX, tx = j0 + j - ty * tilesX;
    const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2), four = j + 4 <= n && tx + 4 <= tilesX;
    if (dir != 0) {
      if (four) inputLine(plane, ty, tx, dir, true, rowBytes, out, xiBytes);
      else inputGatherLine(plane, rowBytes, tilesX, j0 + j, j0 + n - 1, dir, out, xiBytes);
    } else if (four) inputFour6(plane + <usize>(4 * ty) * rowBytes + (<usize>(4 * tx) << 2), rowBytes, out, xiBytes, tmp);
    else inputGather6(plane, rowBytes, tilesX, j0 + j, j0 + n - 1, out, xiBytes, tmp);
  }
  const count = dir != 0 ? 6 : 36;
  for (; j < nt; j++) {
    const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
    for (let xi = 0; xi < count; xi++) store<f32>(out + <usize>xi * xiBytes, 0);
  }
}

/** The first input of 1-D tile t (tiles past `last` read tile `last`'s): 4 rows (dir 1) or 4 columns (dir 2) a tile (F(4, 3) and F(4, 7)). */
@inline export function line6(plane: usize, rowBytes: usize, tilesX: i32, t: i32, last: i32, dir: i32): usize {
  const u = min(t, last), ty = u / tilesX, tx = u - ty * tilesX;
  return dir == 1 ? plane + <usize>(4 * ty) * rowBytes + (<usize>tx << 2) : plane + <usize>ty * rowBytes + (<usize>(4 * tx) << 2);
}

/** B^T d of 1-D tiles t.. t + 3 wherever they lie (lanes): six inputs a tile, down a column (dir 1) or along a row. */
function inputGatherLine(plane: usize, rowBytes: usize, tilesX: i32, t: i32, last: i32, dir: i32, out: usize, xiBytes: usize): void {
  const s0 = line6(plane, rowBytes, tilesX, t, last, dir), s1 = line6(plane, rowBytes, tilesX, t + 1, last, dir);
  const s2 = line6(plane, rowBytes, tilesX, t + 2, last, dir), s3 = line6(plane, rowBytes, tilesX, t + 3, last, dir);
  if (dir == 2) {
    const a0 = v128.load(s0), a1 = v128.load(s1), a2 = v128.load(s2), a3 = v128.load(s3);
    const p = v128.shuffle<f32>(v128.load64_zero(s0, 16), v128.load64_zero(s1, 16), 0, 4, 1, 5);
    const q = v128.shuffle<f32>(v128.load64_zero(s2, 16), v128.load64_zero(s3, 16), 0, 4, 1, 5);
    lineB6(column(a0, a1, a2, a3, 0), column(a0, a1, a2, a3, 1), column(a0, a1, a2, a3, 2), column(a0, a1, a2, a3, 3),
      v128.shuffle<f32>(p, q, 0, 1, 4, 5), v128.shuffle<f32>(p, q, 2, 3, 6, 7), out, xiBytes, false);
    return;
  }
  lineB6(lanes4(s0, s1, s2, s3, 0), lanes4(s0, s1, s2, s3, rowBytes), lanes4(s0, s1, s2, s3, 2 * rowBytes), lanes4(s0, s1, s2, s3, 3 * rowBytes),
    lanes4(s0, s1, s2, s3, 4 * rowBytes), lanes4(s0, s1, s2, s3, 5 * rowBytes), out, xiBytes, false);
}

/** The floats at s0 + o .. s3 + o as the lanes of one vector. */
@inline export function lanes4(s0: usize, s1: usize, s2: usize, s3: usize, o: usize): v128 {
  return f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(v128.load32_splat(s0 + o), 1, load<f32>(s1 + o)), 2, load<f32>(s2 + o)), 3, load<f32>(s3 + o));
}

/** Tile t's 6x6 patch (tiles past `last` read tile `last`'s). */
@inline function patch6(plane: usize, rowBytes: usize, tilesX: i32, t: i32, last: i32): usize {
  const u = min(t, last), ty = u / tilesX, tx = u - ty * tilesX;
  return plane + <usize>(4 * ty) * rowBytes + (<usize>(4 * tx) << 2);
}

/** B^T d B of tiles t.. t + 3 wherever they lie (lanes), each patch row's 6 floats loaded per tile and transposed. */
function inputGather6(plane: usize, rowBytes: usize, tilesX: i32, t: i32, last: i32, out: usize, xiBytes: usize, tmp: usize): void {
  const s0 = patch6(plane, rowBytes, tilesX, t, last), s1 = patch6(plane, rowBytes, tilesX, t + 1, last);
  const s2 = patch6(plane, rowBytes, tilesX, t + 2, last), s3 = patch6(plane, rowBytes, tilesX, t + 3, last);
  for (let r = 0; r < 6; r++) {
    const o = <usize>r * rowBytes;
    const a0 = v128.load(s0 + o), a1 = v128.load(s1 + o), a2 = v128.load(s2 + o), a3 = v128.load(s3 + o);
    const p = v128.shuffle<f32>(v128.load64_zero(s0 + o, 16), v128.load64_zero(s1 + o, 16), 0, 4, 1, 5);
    const q = v128.shuffle<f32>(v128.load64_zero(s2 + o, 16), v128.load64_zero(s3 + o, 16), 0, 4, 1, 5);
    lineB6(column(a0, a1, a2, a3, 0), column(a0, a1, a2, a3, 1), column(a0, a1, a2, a3, 2), column(a0, a1, a2, a3, 3),
      v128.shuffle<f32>(p, q, 0, 1, 4, 5), v128.shuffle<f32>(p, q, 2, 3, 6, 7), tmp + <usize>r * 96, 16, false);
  }
  columnsB6(tmp, out, xiBytes, false);
}

/**
 * B^T d B of four horizontally adjacent tiles (patch rows at src + r * rowBytes), stored one vector per xi.
 * B^T first, on the patch rows as loaded (12 floats from the first tile's column 0: shuffles are linear), then
 * each combined row is split into the tiles' columns and multiplied by B.
 */
@inline function inputFour(src: usize, rowBytes: usize, out: usize, xiBytes: usize): void {
  const a0 = v128.load(src), b0 = v128.load(src, 16), e0 = v128.load(src, 32);
  src += rowBytes;
  const a1 = v128.load(src), b1 = v128.load(src, 16), e1 = v128.load(src, 32);
  src += rowBytes;
  const a2 = v128.load(src), b2 = v128.load(src, 16), e2 = v128.load(src, 32);
  src += rowBytes;
  const a3 = v128.load(src), b3 = v128.load(src, 16), e3 = v128.load(src, 32);
  rowFour(f32x4.sub(a0, a2), f32x4.sub(b0, b2), f32x4.sub(e0, e2), out, xiBytes);
  rowFour(f32x4.add(a1, a2), f32x4.add(b1, b2), f32x4.add(e1, e2), out + 4 * xiBytes, xiBytes);
  rowFour(f32x4.sub(a2, a1), f32x4.sub(b2, b1), f32x4.sub(e2, e1), out + 8 * xiBytes, xiBytes);
  rowFour(f32x4.sub(a1, a3), f32x4.sub(b1, b3), f32x4.sub(e1, e3), out + 12 * xiBytes, xiBytes);
}

/** One row of B^T d (12 floats a, b, e: tile i's column c is float 2 i + c) times B, four tiles as lanes. */
@inline function rowFour(a: v128, b: v128, e: v128, out: usize, xiBytes: usize): void {
  const c0 = v128.shuffle<f32>(a, b, 0, 2, 4, 6), c1 = v128.shuffle<f32>(a, b, 1, 3, 5, 7);
  const c2 = v128.shuffle<f32>(c0, e, 1, 2, 3, 4), c3 = v128.shuffle<f32>(c1, e, 1, 2, 3, 5);
  v128.store(out, f32x4.sub(c0, c2));
  v128.store(out + xiBytes, f32x4.add(c1, c2));
  v128.store(out + 2 * xiBytes, f32x4.sub(c2, c1));
  v128.store(out + 3 * xiBytes, f32x4.sub(c1, c3));
}

/** d B for one patch row held in a vector (lanes = columns): [d0 - d2, d1 + d2, d2 - d1, d1 - d3]. */
@inline function rowB(d: v128): v128 {
  const l = v128.shuffle<f32>(d, d, 0, 1, 2, 1), r = v128.shuffle<f32>(d, d, 2, 2, 1, 3);
  return f32x4.add(l, f32x4.mul(r, f32x4(-1, 1, -1, -1)));
}

/** B^T d B of one tile, lanes = patch columns; each of the 16 values stored to its matrix. */
@inline function inputOne(src: usize, rowBytes: usize, out: usize, xiBytes: usize): void {
  const d0 = v128.load(src), d1 = v128.load(src + rowBytes), d2 = v128.load(src + 2 * rowBytes), d3 = v128.load(src + 3 * rowBytes);
  storeLanes(rowB(f32x4.sub(d0, d2)), out, xiBytes);
  storeLanes(rowB(f32x4.add(d1, d2)), out + 4 * xiBytes, xiBytes);
  storeLanes(rowB(f32x4.sub(d2, d1)), out + 8 * xiBytes, xiBytes);
  storeLanes(rowB(f32x4.sub(d1, d3)), out + 12 * xiBytes, xiBytes);
}

@inline function storeLanes(v: v128, out: usize, stride: usize): void {
  store<f32>(out, f32x4.extract_lane(v, 0));
  store<f32>(out + stride, f32x4.extract_lane(v, 1));
  store<f32>(out + 2 * stride, f32x4.extract_lane(v, 2));
  store<f32>(out + 3 * stride, f32x4.extract_lane(v, 3));
}

/**
 * y (rows planes of outH x outW) = A^T m A + bias, leaky ReLU, for tiles [j0, j0 + n): m is the 16 GEMM results
 * (matrix xi at Mb + xi * (rows * nt + SKEW) floats, row o, column j). Four tiles in one tile row whose outputs are all
 * inside the plane go as vectors (lanes = tiles), the rest tile by tile.
 */
function outputTransform(Mb: usize, rows: i32, nt: i32, j0: i32, n: i32, tilesX: i32, outH: i32, outW: i32, m: i32, dir: i32, y: usize, bias: usize, reluOn: bool, slope: f32, tmp: usize): void {
  const xiBytes = (<usize>(rows * nt + SKEW)) << 2, rowBytes = <usize>outW << 2;
  const lanes = tmp + 36 * 16, lanesRow = <usize>(16 * m); // four tiles' outputs (m rows of 4 m) when not stored straight
  for (let o = 0; o < rows; o++) {
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>o << 2)) : 0;
    const plane = y + <usize>o * outH * rowBytes;
    for (let j = 0; j < n; ) {
      const ty = (j0 + j) / tilesX, tx = j0 + j - ty * tilesX;
      const mo = Mb + ((<usize>o * nt + j) << 2);
      if (dir != 0) {
        j += outputTiles1(mo, xiBytes, plane, rowBytes, ty, tx, j + 4 <= n && tx + 4 <= tilesX, outH, outW, dir, b, reluOn, slope);
        continue;
      }
      const dst = plane + <usize>(m * ty) * rowBytes + (<usize>(m * tx) << 2);
      const rowsIn = min(m, outH - m * ty);
      if (tilesX < 4) {
        const cols = min(m, outW - m * tx);
        if (m != 2) outputOne6(mo, xiBytes, dst, rowBytes, cols, rowsIn, b, reluOn, slope, tmp, m == 3);
        else outputOne(mo, xiBytes, dst, rowBytes, cols, rowsIn, b, reluOn, slope);
        j++;
        continue;
      }
      // Four tiles of this tile row, the row's last four when fewer are left (lanes skip.. are the new ones), as
      // vectors; those past the plane's edge or the block, and the skipped ones (possibly another block's: their
      // Mb columns, up to 3 floats before this row's, are not theirs), go through `lanes` and are not written.
      const skip = tx - min(tx, tilesX - 4), news = min(4 - skip, n - j);
      const from = mo - (<usize>skip << 2);
      if (skip == 0 && news == 4 && m * (tx + 4) <= outW && rowsIn == m) {
        if (m == 4) outputFour6(from, xiBytes, dst, rowBytes, b, reluOn, slope, tmp);
        else if (m == 3) outputFour63(from, xiBytes, dst, rowBytes, b, reluOn, slope, tmp);
        else outputFour(from, xiBytes, dst, rowBytes, b, reluOn, slope);
      } else {
        if (m == 4) outputFour6(from, xiBytes, lanes, lanesRow, b, reluOn, slope, tmp);
        else if (m == 3) outputFour63(from, xiBytes, lanes, lanesRow, b, reluOn, slope, tmp);
        else outputFour(from, xiBytes, lanes, lanesRow, b, reluOn, slope);
        const first = lanes + (<usize>(skip * m) << 2);
        const floats = min(news * m, outW - m * tx);
        for (let a = 0; a < rowsIn; a++) copyRow(first + <usize>a * lanesRow, floats, dst + <usize>a * rowBytes);
      }
      j += news;
    }
  }
}

/** A^T m for one column c of four tiles: [m0c + m1c + m2c, m1c - m2c - m3c]. */
@inline function outputFour(m: usize, xiBytes: usize, dst: usize, rowBytes: usize, b: f32, reluOn: bool, slope: f32): void {
  const s00 = colSum(m, xiBytes, 0), s01 = colSum(m, xiBytes, 1), s02 = colSum(m, xiBytes, 2), s03 = colSum(m, xiBytes, 3);
  const s10 = colDiff(m, xiBytes, 0), s11 = colDiff(m, xiBytes, 1), s12 = colDiff(m, xiBytes, 2), s13 = colDiff(m, xiBytes, 3);
  const bv = f32x4.splat(b);
  let y00 = f32x4.add(f32x4.add(f32x4.add(s00, s01), s02), bv), y01 = f32x4.add(f32x4.sub(f32x4.sub(s01, s02), s03), bv);
  let y10 = f32x4.add(f32x4.add(f32x4.add(s10, s11), s12), bv), y11 = f32x4.add(f32x4.sub(f32x4.sub(s11, s12), s13), bv);
  if (reluOn) {
    y00 = relu(y00, slope); y01 = relu(y01, slope); y10 = relu(y10, slope); y11 = relu(y11, slope);
  }
  // Output row 2 ty + a, columns 2 tx + 2 i + b: interleave the b = 0 and b = 1 vectors.
  v128.store(dst, v128.shuffle<f32>(y00, y01, 0, 4, 1, 5));
  v128.store(dst, v128.shuffle<f32>(y00, y01, 2, 6, 3, 7), 16);
  v128.store(dst + rowBytes, v128.shuffle<f32>(y10, y11, 0, 4, 1, 5));
  v128.store(dst + rowBytes, v128.shuffle<f32>(y10, y11, 2, 6, 3, 7), 16);
}

@inline function colSum(m: usize, xiBytes: usize, c: i32): v128 {
  const a = v128.load(m + <usize>c * xiBytes), b = v128.load(m + <usize>(4 + c) * xiBytes), d = v128.load(m + <usize>(8 + c) * xiBytes);
  return f32x4.add(f32x4.add(a, b), d);
}

@inline function colDiff(m: usize, xiBytes: usize, c: i32): v128 {
  const a = v128.load(m + <usize>(4 + c) * xiBytes), b = v128.load(m + <usize>(8 + c) * xiBytes), d = v128.load(m + <usize>(12 + c) * xiBytes);
  return f32x4.sub(f32x4.sub(a, b), d);
}

/** One tile, lanes = columns c of m: writes its cols x rows (1 or 2 each) outputs that lie inside the plane. */
function outputOne(m: usize, xiBytes: usize, dst: usize, rowBytes: usize, cols: i32, rows: i32, b: f32, reluOn: bool, slope: f32): void {
  const r0 = gather(m, xiBytes, 0), r1 = gather(m, xiBytes, 4), r2 = gather(m, xiBytes, 8), r3 = gather(m, xiBytes, 12);
  const s0 = f32x4.add(f32x4.add(r0, r1), r2), s1 = f32x4.sub(f32x4.sub(r1, r2), r3);
  for (let a = 0; a < rows; a++) {
    const s = a == 0 ? s0 : s1;
    const e0 = f32x4.extract_lane(s, 0), e1 = f32x4.extract_lane(s, 1), e2 = f32x4.extract_lane(s, 2), e3 = f32x4.extract_lane(s, 3);
    let v0: f32 = e0 + e1 + e2 + b, v1: f32 = e1 - e2 - e3 + b;
    if (reluOn) {
      v0 = reluf(v0, slope);
      v1 = reluf(v1, slope);
    }
    store<f32>(dst + <usize>a * rowBytes, v0);
    if (cols > 1) store<f32>(dst + <usize>a * rowBytes, v1, 4);
  }
}

/** m[r][0..3] of one tile as a vector (matrices 4 r + c, c = lane). */
@inline function gather(m: usize, xiBytes: usize, first: i32): v128 {
  let v = f32x4.splat(load<f32>(m + <usize>first * xiBytes));
  v = f32x4.replace_lane(v, 1, load<f32>(m + <usize>(first + 1) * xiBytes));
  v = f32x4.replace_lane(v, 2, load<f32>(m + <usize>(first + 2) * xiBytes));
  return f32x4.replace_lane(v, 3, load<f32>(m + <usize>(first + 3) * xiBytes));
}

// ---- F(4x4, 3x3): 6x6 patches, 36 matrices. B^T, G, A^T are Lavin and Gray's (points 0, +-1, +-2). Lanes are
// four tiles (or, for a single tile, every lane the same value); the two passes go through 36 vectors at tmp.

/** t = B^T d for one line of six (each value a vector), stored at dst + i * ds (one = lane 0 only). */
@inline function lineB6(d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128, dst: usize, ds: usize, one: bool): void {
  const f4 = f32x4.splat(4), f5 = f32x4.splat(5), f2 = f32x4.splat(2);
  const p = f32x4.add(d3, d4), q = f32x4.sub(d4, d3), r = f32x4.sub(d4, d2), s = f32x4.mul(f2, f32x4.sub(d3, d1));
  put(dst, f32x4.add(f32x4.sub(f32x4.mul(f4, d0), f32x4.mul(f5, d2)), d4), one);
  put(dst + ds, f32x4.sub(p, f32x4.mul(f4, f32x4.add(d1, d2))), one);
  put(dst + 2 * ds, f32x4.add(q, f32x4.mul(f4, f32x4.sub(d1, d2))), one);
  put(dst + 3 * ds, f32x4.add(r, s), one);
  put(dst + 4 * ds, f32x4.sub(r, s), one);
  put(dst + 5 * ds, f32x4.add(f32x4.sub(f32x4.mul(f4, d1), f32x4.mul(f5, d3)), d5), one);
}

@inline function put(dst: usize, v: v128, one: bool): void {
  if (one) store<f32>(dst, f32x4.extract_lane(v, 0));
  else v128.store(dst, v);
}

/** B^T applied down the columns of the 6x6 vectors at tmp (row r, column c at tmp + (6 r + c) * 16). */
@inline function columnsB6(tmp: usize, out: usize, xiBytes: usize, one: bool): void {
  for (let c = 0; c < 6; c++) {
    const t = tmp + (<usize>c << 4);
    lineB6(v128.load(t), v128.load(t, 96), v128.load(t, 192), v128.load(t, 288), v128.load(t, 384), v128.load(t, 480), out + <usize>c * xiBytes, 6 * xiBytes, one);
  }
}

/** B^T d B of four horizontally adjacent 6x6 patches (tile i's column c is row float 4 i + c). */
function inputFour6(src: usize, rowBytes: usize, out: usize, xiBytes: usize, tmp: usize): void {
  for (let r = 0; r < 6; r++) {
    const row = src + <usize>r * rowBytes;
    const r0 = v128.load(row), r1 = v128.load(row, 16), r2 = v128.load(row, 32), r3 = v128.load(row, 48), r4 = v128.load(row, 64);
    const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
    const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
    const c0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), c1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
    const c2 = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), c3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
    const c4 = v128.shuffle<f32>(c0, r4, 1, 2, 3, 4), c5 = v128.shuffle<f32>(c1, r4, 1, 2, 3, 5);
    lineB6(c0, c1, c2, c3, c4, c5, tmp + <usize>r * 96, 16, false);
  }
  columnsB6(tmp, out, xiBytes, false);
}

/** B^T d B of four 6x6 patches 3 columns apart (F(3x3, 4x4): tile i's column c is row float 3 i + c). */
function inputFour63(src: usize, rowBytes: usize, out: usize, xiBytes: usize, tmp: usize): void {
  for (let r = 0; r < 6; r++) {
    const row = src + <usize>r * rowBytes;
    const r0 = v128.load(row), r1 = v128.load(row, 16), r2 = v128.load(row, 32), r3 = v128.load(row, 48);
    // c_k = floats (k, 3 + k, 6 + k, 9 + k), k = 0..5 (floats 0..14 of the row; the 16th is read, not used).
    const a0 = v128.shuffle<f32>(r0, r1, 0, 3, 6, 7), a1 = v128.shuffle<f32>(r0, r1, 1, 4, 7, 7), a2 = v128.shuffle<f32>(r0, r1, 2, 5, 7, 7);
    const c0 = v128.shuffle<f32>(a0, r2, 0, 1, 2, 5), c1 = v128.shuffle<f32>(a1, r2, 0, 1, 2, 6), c2 = v128.shuffle<f32>(a2, r2, 0, 1, 4, 7);
    const u3 = v128.shuffle<f32>(r0, r1, 3, 6, 3, 6), v3 = v128.shuffle<f32>(r2, r3, 1, 4, 1, 4);
    const b4 = v128.shuffle<f32>(r1, r2, 0, 3, 6, 7), b5 = v128.shuffle<f32>(r1, r2, 1, 4, 7, 7);
    const c3 = v128.shuffle<f32>(u3, v3, 0, 1, 4, 5), c4 = v128.shuffle<f32>(b4, r3, 0, 1, 2, 5), c5 = v128.shuffle<f32>(b5, r3, 0, 1, 2, 6);
    lineB6(c0, c1, c2, c3, c4, c5, tmp + <usize>r * 96, 16, false);
  }
  columnsB6(tmp, out, xiBytes, false);
}

/** B^T d B of one 6x6 patch (every lane the same). */
function inputOne6(src: usize, rowBytes: usize, out: usize, xiBytes: usize, tmp: usize): void {
  for (let r = 0; r < 6; r++) {
    const row = src + <usize>r * rowBytes;
    lineB6(v128.load32_splat(row), v128.load32_splat(row, 4), v128.load32_splat(row, 8), v128.load32_splat(row, 12),
      v128.load32_splat(row, 16), v128.load32_splat(row, 20), tmp + <usize>r * 96, 16, false);
  }
  columnsB6(tmp, out, xiBytes, true);
}

/** A^T over one line of six: [m0 + m1 + m2 + m3 + m4, (m1 - m2) + 2 (m3 - m4), (m1 + m2) + 4 (m3 + m4), (m1 - m2) + 8 (m3 - m4) + m5]. */
@inline function lineA0(m1: v128, m2: v128, m3: v128, m4: v128, m0: v128): v128 {
  return f32x4.add(f32x4.add(m0, f32x4.add(m1, m2)), f32x4.add(m3, m4));
}
@inline function lineA1(m1: v128, m2: v128, m3: v128, m4: v128): v128 {
  return f32x4.add(f32x4.sub(m1, m2), f32x4.mul(f32x4.splat(2), f32x4.sub(m3, m4)));
}
@inline function lineA2(m1: v128, m2: v128, m3: v128, m4: v128): v128 {
  return f32x4.add(f32x4.add(m1, m2), f32x4.mul(f32x4.splat(4), f32x4.add(m3, m4)));
}
@inline function lineA3(m1: v128, m2: v128, m3: v128, m4: v128, m5: v128): v128 {
  return f32x4.add(f32x4.add(f32x4.sub(m1, m2), f32x4.mul(f32x4.splat(8), f32x4.sub(m3, m4))), m5);
}

/**
 * A^T down the columns of the 36 matrices (row r, column c at m + (6 r + c) * xiBytes) into tmp (4 x 6 vectors);
 * F(3x3, 4x4) (three): 3 rows, the third m1 + m2 + 4 (m3 + m4) + m5.
 */
@inline function rowsA6(m: usize, xiBytes: usize, tmp: usize, one: bool, three: bool): void {
  for (let c = 0; c < 6; c++) {
    const p = m + <usize>c * xiBytes, s: usize = 6 * xiBytes;
    const m0 = one ? v128.load32_splat(p) : v128.load(p), m1 = one ? v128.load32_splat(p + s) : v128.load(p + s);
    const m2 = one ? v128.load32_splat(p + 2 * s) : v128.load(p + 2 * s), m3 = one ? v128.load32_splat(p + 3 * s) : v128.load(p + 3 * s);
    const m4 = one ? v128.load32_splat(p + 4 * s) : v128.load(p + 4 * s), m5 = one ? v128.load32_splat(p + 5 * s) : v128.load(p + 5 * s);
    const t = tmp + (<usize>c << 4);
    v128.store(t, lineA0(m1, m2, m3, m4, m0));
    v128.store(t, lineA1(m1, m2, m3, m4), 96);
    v128.store(t, three ? f32x4.add(lineA2(m1, m2, m3, m4), m5) : lineA2(m1, m2, m3, m4), 192);
    if (!three) v128.store(t, lineA3(m1, m2, m3, m4, m5), 288);
  }
}

/** Output row a of the tile(s): A^T along the row of tmp, bias, leaky ReLU; y_a0..y_a3 (lanes = tiles). */
@inline function outputRow6(tmp: usize, a: i32, b: f32, reluOn: bool, slope: f32, i: i32, three: bool = false): v128 {
  const t = tmp + <usize>a * 96;
  return outputLine(v128.load(t), v128.load(t, 16), v128.load(t, 32), v128.load(t, 48), v128.load(t, 64), v128.load(t, 80), i, b, reluOn, slope, three);
}

/** A^T m A of four horizontally adjacent tiles: each output row is a 4x4 transpose (tile i's 4 outputs contiguous). */
function outputFour6(m: usize, xiBytes: usize, dst: usize, rowBytes: usize, b: f32, reluOn: bool, slope: f32, tmp: usize): void {
  rowsA6(m, xiBytes, tmp, false, false);
  for (let a = 0; a < 4; a++) {
    // Row a of A^T m (six vectors, loaded once), then A^T along it: outputs 0..3.
    const t = tmp + <usize>a * 96, m0 = v128.load(t), m1 = v128.load(t, 16), m2 = v128.load(t, 32), m3 = v128.load(t, 48), m4 = v128.load(t, 64), m5 = v128.load(t, 80);
    const y0 = outputLine(m0, m1, m2, m3, m4, m5, 0, b, reluOn, slope), y1 = outputLine(m0, m1, m2, m3, m4, m5, 1, b, reluOn, slope);
    const y2 = outputLine(m0, m1, m2, m3, m4, m5, 2, b, reluOn, slope), y3 = outputLine(m0, m1, m2, m3, m4, m5, 3, b, reluOn, slope);
    const t0 = v128.shuffle<f32>(y0, y1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(y2, y3, 0, 4, 1, 5);
    const t2 = v128.shuffle<f32>(y0, y1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(y2, y3, 2, 6, 3, 7);
    const row = dst + <usize>a * rowBytes;
    v128.store(row, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
    v128.store(row, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
    v128.store(row, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
    v128.store(row, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
  }
}

/** A^T m A of four horizontally adjacent F(3x3, 4x4) tiles: each output row's 3 x 4 values interleaved (tile i's 3 outputs contiguous). */
function outputFour63(m: usize, xiBytes: usize, dst: usize, rowBytes: usize, b: f32, reluOn: bool, slope: f32, tmp: usize): void {
  rowsA6(m, xiBytes, tmp, false, true);
  for (let a = 0; a < 3; a++) {
    const t0 = tmp + <usize>a * 96, m0 = v128.load(t0), m1 = v128.load(t0, 16), m2 = v128.load(t0, 32), m3 = v128.load(t0, 48), m4 = v128.load(t0, 64), m5 = v128.load(t0, 80);
    const y0 = outputLine(m0, m1, m2, m3, m4, m5, 0, b, reluOn, slope, true), y1 = outputLine(m0, m1, m2, m3, m4, m5, 1, b, reluOn, slope, true);
    const y2 = outputLine(m0, m1, m2, m3, m4, m5, 2, b, reluOn, slope, true);
    const t = v128.shuffle<f32>(y0, y1, 0, 4, 1, 5), t2 = v128.shuffle<f32>(y0, y1, 2, 6, 3, 7); // y0_0 y1_0 y0_1 y1_1, y0_2 y1_2 y0_3 y1_3
    const u = v128.shuffle<f32>(t, y2, 3, 5, 3, 5); // y1_1 y2_1
    const row = dst + <usize>a * rowBytes;
    v128.store(row, v128.shuffle<f32>(t, y2, 0, 1, 4, 2));
    v128.store(row, v128.shuffle<f32>(u, t2, 0, 1, 4, 5), 16);
    v128.store(row, v128.shuffle<f32>(y2, t2, 2, 6, 7, 3), 32);
  }
}

/** A^T m A of one tile: its cols x rows (1..m each) outputs that lie inside the plane (three: F(3x3, 4x4)). */
function outputOne6(m: usize, xiBytes: usize, dst: usize, rowBytes: usize, cols: i32, rows: i32, b: f32, reluOn: bool, slope: f32, tmp: usize, three: bool = false): void {
  rowsA6(m, xiBytes, tmp, true, three);
  for (let a = 0; a < rows; a++) {
    for (let i = 0; i < cols; i++) store<f32>(dst + <usize>a * rowBytes + (<usize>i << 2), f32x4.extract_lane(outputRow6(tmp, a, b, reluOn, slope, i, three), 0));
  }
}

// ---- 1-D Winograd F(4, 3) for K x 1 (dir 1: tiles of 4 rows x 1 column) and 1 x K (dir 2: 1 row x 4 columns)
// kernels, K = 3 to 9 as 1 x 3 blocks: 6 GEMMs (B^T d, G g and A^T of F(4x4) along one axis): 1.5 multiply-adds
// per output and 1 x 3 block instead of 3 (Inception-v3's 1x7 and 7x1: 4.5 instead of 7). Lanes are four tiles
// side by side in one tile row; the rest go one at a time.

/** B^T d of a 1-D tile (or four side by side: lanes) of the plane, its 6 values stored one per matrix. */
@inline function inputLine(plane: usize, ty: i32, tx: i32, dir: i32, four: bool, rowBytes: usize, out: usize, xiBytes: usize): void {
  if (dir == 1) {
    // Rows 4 ty .. 4 ty + 5 of column tx (and the next three columns: lanes).
    const src = plane + <usize>(4 * ty) * rowBytes + (<usize>tx << 2);
    if (four) lineB6(v128.load(src), v128.load(src + rowBytes), v128.load(src + 2 * rowBytes), v128.load(src + 3 * rowBytes), v128.load(src + 4 * rowBytes), v128.load(src + 5 * rowBytes), out, xiBytes, false);
    else lineB6(v128.load32_splat(src), v128.load32_splat(src + rowBytes), v128.load32_splat(src + 2 * rowBytes), v128.load32_splat(src + 3 * rowBytes), v128.load32_splat(src + 4 * rowBytes), v128.load32_splat(src + 5 * rowBytes), out, xiBytes, true);
    return;
  }
  // Columns 4 tx .. 4 tx + 5 of row ty; four tiles: columns 4 tx .. 4 tx + 17, tile i's column c at 4 i + c.
  const src = plane + <usize>ty * rowBytes + (<usize>(4 * tx) << 2);
  if (!four) {
    lineB6(v128.load32_splat(src), v128.load32_splat(src, 4), v128.load32_splat(src, 8), v128.load32_splat(src, 12), v128.load32_splat(src, 16), v128.load32_splat(src, 20), out, xiBytes, true);
    return;
  }
  const r0 = v128.load(src), r1 = v128.load(src, 16), r2 = v128.load(src, 32), r3 = v128.load(src, 48), r4 = v128.load(src, 64);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  const c0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), c1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
  const c2 = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), c3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
  lineB6(c0, c1, c2, c3, v128.shuffle<f32>(c0, r4, 1, 2, 3, 4), v128.shuffle<f32>(c1, r4, 1, 2, 3, 5), out, xiBytes, false);
}

/** Output i of a tile line: A^T m (m0..m5), plus bias, leaky ReLU (lanes = tiles). */
@inline function outputLine(m0: v128, m1: v128, m2: v128, m3: v128, m4: v128, m5: v128, i: i32, b: f32, reluOn: bool, slope: f32, three: bool = false): v128 {
  let v = i == 0 ? lineA0(m1, m2, m3, m4, m0) : i == 1 ? lineA1(m1, m2, m3, m4) : i == 2 ? lineA2(m1, m2, m3, m4) : lineA3(m1, m2, m3, m4, m5);
  if (three && i == 2) v = f32x4.add(v, m5); // F(3x3, 4x4)'s last row of A^T
  v = f32x4.add(v, f32x4.splat(b));
  return reluOn ? relu(v, slope) : v;
}

/**
 * A^T m + bias, leaky ReLU of the 1-D tile at mo (column j of the 6 matrices, row o) and, when `four` (the next
 * three are in this block and tile row), those three too as lanes: writes their outputs inside the plane and
 * returns how many tiles that was.
 */
function outputTiles1(mo: usize, xiBytes: usize, plane: usize, rowBytes: usize, ty: i32, tx: i32, fourTiles: bool, outH: i32, outW: i32, dir: i32, b: f32, reluOn: bool, slope: f32): i32 {
  // Outputs of the tile inside the plane: rows (dir 1) or columns (dir 2) of its 4.
  const inside = dir == 1 ? min(4, outH - 4 * ty) : min(4, outW - 4 * tx);
  const four = fourTiles && (dir == 1 || 4 * (tx + 4) <= outW), one = !four;
  const m0 = one ? v128.load32_splat(mo) : v128.load(mo), m1 = one ? v128.load32_splat(mo + xiBytes) : v128.load(mo + xiBytes);
  const m2 = one ? v128.load32_splat(mo + 2 * xiBytes) : v128.load(mo + 2 * xiBytes), m3 = one ? v128.load32_splat(mo + 3 * xiBytes) : v128.load(mo + 3 * xiBytes);
  const m4 = one ? v128.load32_splat(mo + 4 * xiBytes) : v128.load(mo + 4 * xiBytes), m5 = one ? v128.load32_splat(mo + 5 * xiBytes) : v128.load(mo + 5 * xiBytes);
  if (dir == 1) {
    // Output rows 4 ty + i of columns tx.. (lanes): one vector (or one float) per row.
    const dst = plane + <usize>(4 * ty) * rowBytes + (<usize>tx << 2);
    for (let i = 0; i < inside; i++) {
      const v = outputLine(m0, m1, m2, m3, m4, m5, i, b, reluOn, slope);
      if (four) v128.store(dst + <usize>i * rowBytes, v);
      else store<f32>(dst + <usize>i * rowBytes, f32x4.extract_lane(v, 0));
    }
    return four ? 4 : 1;
  }
  const dst = plane + <usize>ty * rowBytes + (<usize>(4 * tx) << 2);
  const y0 = outputLine(m0, m1, m2, m3, m4, m5, 0, b, reluOn, slope), y1 = outputLine(m0, m1, m2, m3, m4, m5, 1, b, reluOn, slope);
  const y2 = outputLine(m0, m1, m2, m3, m4, m5, 2, b, reluOn, slope), y3 = outputLine(m0, m1, m2, m3, m4, m5, 3, b, reluOn, slope);
  if (one) {
    store<f32>(dst, f32x4.extract_lane(y0, 0));
    if (inside > 1) store<f32>(dst, f32x4.extract_lane(y1, 0), 4);
    if (inside > 2) store<f32>(dst, f32x4.extract_lane(y2, 0), 8);
    if (inside > 3) store<f32>(dst, f32x4.extract_lane(y3, 0), 12);
    return 1;
  }
  // Lanes are tiles, vectors outputs: a 4x4 transpose puts each tile's four outputs together.
  const t0 = v128.shuffle<f32>(y0, y1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(y2, y3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(y0, y1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(y2, y3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16);
  v128.store(dst, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32);
  v128.store(dst, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48);
  return 4;
}

// ---- The filter transform U = G g G^T (run once per layer, at its first forward), as a job: chunk -> strips of MR
// output channels [chunk * per, ...) (of all groups: rows padded to MR each). Fields: 3 weights (Cout x C x kh x kw),
// 4 C, 5 kh, 6 kw, 7 rows (output channels per group), 8 per, 9 m, 10 blocks across, 11 blocks down, 12 rows padded
// to MR, 13 KC, 14 U (every float written: the rows past `rows` zero), 15 strips, 16 1-D direction, 17 values per
// tile as field 27 of the tiles job (10: filters7, 64: filtersWhole, 80: filters27).
// Each 3x3 block (4x4 for m = 3) s of filter (o, c) (zeros past the kernel's edge) goes to column s C + c of the (m + 2)^2
// packed A matrices of o's group, in float64 and rounded once (the layout of src/kernels/packed.ts's
// packConvWeights). In wasm, across the threads, because in JavaScript it took longer than the layer's forward.

export function winogradFiltersChunk(p: usize, chunk: i32, scratch: usize): void {
  const w = addr(p, 3), C = word(p, 4), kh = word(p, 5), kw = word(p, 6), rows = word(p, 7), per = word(p, 8);
  const m = word(p, 9), subW = word(p, 10), subH = word(p, 11), rowsPad = word(p, 12), KC = word(p, 13), U = addr(p, 14);
  const K = C * subH * subW, matrix = <usize>rowsPad * K, oneD = word(p, 16) != 0, points = word(p, 17);
  const n = points != 0 ? points : oneD ? 6 : m == 2 ? 16 : 36, strips = rowsPad / MR, end = min(word(p, 15), chunk * per + per);
  // A strip's values for a K block go to T (value xi's kc columns of MR rows, U's own layout for that block, KC MR + 16
  // floats apart), then each value's run of kc MR floats to U at once. Written straight into U, a filter's values went
  // to n matrices a whole matrix apart (64 KB for 128 -> 128: one cache set), each line of U written 16 times, a miss
  // each: 128 -> 128 7x7 F(2x4) 740 ns a filter and channel, 190 this way; F(6x6) 3x3 310-450 -> 75-81, F(4x4) 3x3
  // 264 -> 79, F(4x4, 5x5) 430 -> 108 (with filtersOuter's vectors; alternated in one process, one thread).
  const T = scratch + FILTER_SCRATCH, tFloats = <usize>KC * MR + 16; // + 16: values' runs not 4 KB apart (one cache set)
  for (let q = chunk * per; q < end; q++) {
    const gi = q / strips, s = q - gi * strips, live = min(MR, rows - s * MR);
    const Ug = U + ((<usize>gi * n * matrix) << 2);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = min(KC, K - k0), k1 = k0 + kc;
      if (live < MR) memory.fill(T, 0, (<usize>n * tFloats) << 2); // the strip's rows past the filters: zeros
      for (let rr = 0; rr < live; rr++) {
        const o = gi * rows + s * MR + rr;
        // Each function writes value xi of column k at stripAt(T, rr, k, k0) + xi * tFloats floats.
        if (points == 64) filtersWhole(w, o, C, T, tFloats, rr, scratch, 9 - (m == 4 ? 4 : m), k0, k1); // F(4x4, 5x5), F(6x6, 3x3), F(5x5, 4x4), F(2x2, 7x7)
        else if (points == 80) filters27(w, o, C, T, tFloats, rr, scratch, k0, k1); // F(2x4, 7x7)
        else if (points == 10) filters7(w, o, C, T, tFloats, rr, scratch, k0, k1);
        else if (oneD) filters1(w, o, C, kh * kw, T, tFloats, rr, scratch, k0, k1);
        else filters3(w, o, C, kh, kw, m, subW, T, tFloats, rr, scratch, k0, k1);
      }
      const run = <usize>(kc * MR) << 2, at = Ug + ((<usize>k0 * rowsPad + <usize>(s * MR * kc)) << 2);
      for (let xi = 0; xi < n; xi++) {
        const to = at + ((<usize>xi * matrix) << 2), from = T + ((<usize>xi * tFloats) << 2);
        for (let b: usize = 0; b < run; b += 16) v128.store(to + b, v128.load(from + b));
      }
    }
  }
}

/**
 * Where the filter functions write value 0 of column k for strip row r: T (winogradFiltersChunk's strip of one K block,
 * starting at column `from`) holds column k's MR rows together, value xi `stride` floats further.
 */
@inline export function stripAt(T: usize, r: i32, k: i32, from: i32): usize {
  return T + (<usize>((k - from) * MR + r) << 2);
}

/** Bytes of a thread's scratch the filter functions use (G, its products) below winogradFiltersChunk's T. */
const FILTER_SCRATCH: usize = 8192;

/**
 * Columns [from, to) (k = s C + c: 3x3 block s, 4x4 for m = 3, of input channel c) of filter o (zeros past the
 * kernel's edge) as G g G^T, its (m + 2)^2 values in column k of strip row ro of T (stripAt, values `stride` floats
 * apart), in float64 and rounded once (Lavin and Gray's G; lineG4 for F(3x3, 4x4)); m = 24: F(2x4, 3x3)'s 4 x 6,
 * F(2x2)'s G down and F(4x4)'s across.
 */
function filters3(w: usize, o: i32, C: i32, kh: i32, kw: i32, m: i32, subW: i32, T: usize, stride: usize, ro: i32, scratch: usize, from: i32, to: i32): void {
  const mDown = m == 24 ? 2 : m, mAcross = m == 24 ? 4 : m;
  const alpha = mDown == 2 ? 4 : 6, across = mAcross == 2 ? 4 : 6, r = m == 3 ? 4 : 3;
  for (let k = from; k < to; k++) {
    const s = k / C, c = k - s * C, y0 = r * (s / subW), x0 = r * (s - (s / subW) * subW);
    const f = w + ((<usize>(o * C + c) * kh * kw) << 2);
    for (let j = 0; j < r; j++) {
      const x = x0 + j;
      const a = tap(f, kh, kw, y0, x), b = tap(f, kh, kw, y0 + 1, x), d = tap(f, kh, kw, y0 + 2, x);
      const out = scratch + (<usize>(j * alpha) << 3); // G g, by block column
      if (r == 4) lineG4(a, b, d, tap(f, kh, kw, y0 + 3, x), out, 8);
      else lineG(mDown, a, b, d, out, 8);
    }
    const at = stripAt(T, ro, k, from), row = scratch + 256;
    for (let i = 0; i < alpha; i++) {
      const g0 = load<f64>(scratch + (<usize>i << 3)), g1 = load<f64>(scratch + (<usize>(alpha + i) << 3)), g2 = load<f64>(scratch + (<usize>(2 * alpha + i) << 3));
      if (r == 4) lineG4(g0, g1, g2, load<f64>(scratch + (<usize>(3 * alpha + i) << 3)), row, 8); // row i of (G g) G^T
      else lineG(mAcross, g0, g1, g2, row, 8);
      for (let x = 0; x < across; x++) store<f32>(at + ((<usize>(across * i + x) * stride) << 2), <f32>load<f64>(row + (<usize>x << 3)));
    }
  }
}

/** Tap (y, x) of a kh x kw filter at f, in float64; 0 past its edge (blocks reach past it). */
@inline function tap(f: usize, kh: i32, kw: i32, y: i32, x: i32): f64 {
  return x < kw && y < kh ? <f64>load<f32>(f + ((<usize>(y * kw + x)) << 2)) : 0;
}

/** F(3x3, 4x4)'s G (a, b, c, d)^T: F(4x4, 3x3)'s points and scales (Vandermonde rows of 4 at 0, 1, -1, 2, -2, infinity). */
@inline function lineG4(a: f64, b: f64, c: f64, d: f64, out: usize, step: usize): void {
  store<f64>(out, a / 4); store<f64>(out + step, -(a + b + c + d) / 6); store<f64>(out + 2 * step, -(a - b + c - d) / 6);
  store<f64>(out + 3 * step, a / 24 + b / 12 + c / 6 + d / 3); store<f64>(out + 4 * step, a / 24 - b / 12 + c / 6 - d / 3); store<f64>(out + 5 * step, d);
}

/** G (a, b, d)^T into out, `step` bytes apart: F(2x2)'s 4 values or F(4x4)'s 6 (Lavin and Gray's points). */
@inline function lineG(m: i32, a: f64, b: f64, d: f64, out: usize, step: usize): void {
  if (m == 2) {
    store<f64>(out, a); store<f64>(out + step, (a + b + d) / 2); store<f64>(out + 2 * step, (a - b + d) / 2); store<f64>(out + 3 * step, d);
    return;
  }
  store<f64>(out, a / 4); store<f64>(out + step, -(a + b + d) / 6); store<f64>(out + 2 * step, -(a - b + d) / 6);
  store<f64>(out + 3 * step, a / 24 + b / 12 + d / 6); store<f64>(out + 4 * step, a / 24 - b / 12 + d / 6); store<f64>(out + 5 * step, d);
}

/**
 * A K x 1 or 1 x K filter o (its taps in a row: both layouts flatten the same), 1 x 3 block s of input channel c
 * (zeros past its end) as column s C + c (columns [from, to)): its 6 values in strip row r of T (stripAt, `stride`
 * floats apart), G g in float64, rounded once.
 */
function filters1(w: usize, o: i32, C: i32, taps: i32, T: usize, stride: usize, r: i32, scratch: usize, from: i32, to: i32): void {
  for (let k = from; k < to; k++) {
    const s = k / C, c = k - s * C, f = w + ((<usize>(o * C + c) * taps) << 2), t = 3 * s;
    const a = t < taps ? <f64>load<f32>(f + (<usize>t << 2)) : 0;
    const b = t + 1 < taps ? <f64>load<f32>(f + (<usize>(t + 1) << 2)) : 0;
    const d = t + 2 < taps ? <f64>load<f32>(f + (<usize>(t + 2) << 2)) : 0;
    lineG(4, a, b, d, scratch, 8);
    const at = stripAt(T, r, k, from);
    for (let xi = 0; xi < 6; xi++) store<f32>(at + ((<usize>xi * stride) << 2), <f32>load<f64>(scratch + (<usize>xi << 3)));
  }
}
