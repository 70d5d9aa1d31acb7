// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (dilation 1, any pad, groups): each 2x2 block of outputs
// ("tile") is computed from its 4x4 input patch d as Y = A^T [U . (B^T d B)] A, where U = G g G^T is the
// filter transformed once at load (src/kernels/winograd.ts). The 16 elementwise products, summed over input
// channels, are 16 independent GEMMs (M x C) x (C x tiles): 16 multiply-adds per tile and channel pair
// instead of im2col's 36, so 2.25x fewer. F(2x2, 3x3)'s transforms only add and subtract (B, A have entries 0,
// +-1; G has 1/2, exact in float32), so the error stays at the level of the plain GEMM's (F(4x4, 3x3)
// multiplies by up to 8 and 1/24: docs/PERFORMANCE.md, round three, has the measured errors).
//
// Two jobs per layer (written by src/kernels/winograd.ts):
//  - pad: copies each input plane into a zero-bordered one of (2 tilesY + 2) x (2 tilesX + 2), so every tile's
//    patch is inside it (no border cases in the transforms). Fields: 3 x, 4 planes, 5 H, 6 W, 7 Hp, 8 Wp, 9 ph,
//    10 pw, 11 padded copy, 12 planes per chunk.
//  - tiles: chunk -> (image-group, block of nt tiles, block of output rows). Input transform of the block's
//    tiles into thread scratch, laid out as 16 packed-B matrices (C x nt, assembly/kernels.ts's layout); the 16
//    GEMMs (through gemmStrips, the same micro-kernel as every convolution) into 16 M x nt row-major matrices;
//    the output transform adds bias and leaky ReLU and writes y. Fields: 3 padded copy, 4 C, 5 Hp, 6 Wp,
//    7 tilesY, 8 tilesX, 9 outH, 10 outW, 11 M (rows per group), 12 U (packed A per group and position),
//    13 y, 14 bias (0: none), 15 relu on, 16 slope, 17 groups, 18 nt (multiple of 8), 19 tile blocks per
//    image-group, 20 KC, 21 rows per chunk (multiple of 4), 22 row blocks.
// Tiles are numbered row-major over the output (tile t at ty = t / tilesX, tx = t % tilesX); four tiles in one
// tile row, starting at a multiple of 4 in the block, are transformed at once (one f32x4 lane each), the rest
// one at a time.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { gemmStrips } from './kernels';
import { relu } from './simd';

const NR: i32 = 8;
const MR: i32 = 4;

@inline function word(p: usize, i: i32): i32 {
  return load<i32>(p + (<usize>i << 2));
}
@inline function addr(p: usize, i: i32): usize {
  return <usize>load<u32>(p + (<usize>i << 2));
}

/** The pad job: planes [chunk * per, ...) of x copied into the zero-bordered planes of the padded copy. */
export function winogradPadChunk(p: usize, chunk: i32): void {
  const x = addr(p, 3), planes = word(p, 4), H = word(p, 5), W = word(p, 6), Hp = word(p, 7), Wp = word(p, 8);
  const ph = word(p, 9), pw = word(p, 10), xp = addr(p, 11), per = word(p, 12);
  const end = min(planes, chunk * per + per);
  const rowBytes = <usize>Wp << 2;
  for (let c = chunk * per; c < end; c++) {
    const src = x + ((<usize>c * H * W) << 2), dst = xp + <usize>c * Hp * rowBytes;
    for (let r = 0; r < Hp; r++) {
      const row = dst + <usize>r * rowBytes, iy = r - ph;
      if (<u32>iy >= <u32>H) {
        memory.fill(row, 0, rowBytes);
        continue;
      }
      memory.fill(row, 0, <usize>pw << 2);
      memory.copy(row + (<usize>pw << 2), src + ((<usize>iy * W) << 2), <usize>W << 2);
      memory.fill(row + (<usize>(pw + W) << 2), 0, <usize>(Wp - pw - W) << 2);
    }
  }
}

export function winogradChunk(p: usize, chunk: i32, scratch: usize): void {
  const xp = addr(p, 3), C = word(p, 4), Hp = word(p, 5), Wp = word(p, 6), tilesY = word(p, 7), tilesX = word(p, 8);
  const outH = word(p, 9), outW = word(p, 10), M = word(p, 11), U = addr(p, 12), y = addr(p, 13), bias = addr(p, 14);
  const reluOn = word(p, 15) != 0, slope = load<f32>(p + 16 * 4), groups = word(p, 17), nt = word(p, 18);
  const blocks = word(p, 19), KC = word(p, 20), rowsPer = word(p, 21), rowBlocks = word(p, 22);
  const ig = chunk / (blocks * rowBlocks), rest = chunk - ig * blocks * rowBlocks;
  const block = rest / rowBlocks, row0 = (rest - block * rowBlocks) * rowsPer;
  const j0 = block * nt, n = min(nt, tilesY * tilesX - j0), rows = min(rowsPer, M - row0);
  if (n <= 0 || rows <= 0) return;
  const g = ig % groups, mPad = (M + MR - 1) / MR * MR;
  const tmp = scratch, V = scratch + 128, Mb = V + ((<usize>16 * C * nt) << 2);
  inputTransform(xp + ((<usize>ig * C * Hp * Wp) << 2), C, Hp, Wp, tilesX, j0, n, nt, KC, V);
  const Ug = U + ((<usize>g * 16 * mPad * C) << 2);
  for (let xi = 0; xi < 16; xi++) {
    const u = Ug + ((<usize>xi * mPad * C) << 2), v = V + ((<usize>xi * C * nt) << 2);
    const m = Mb + ((<usize>xi * rows * nt) << 2);
    for (let k0 = 0; k0 < C; k0 += KC) {
      const kc = min(KC, C - k0);
      const pa = u + ((<usize>k0 * mPad + <usize>row0 * kc) << 2);
      gemmStrips(rows, nt, kc, pa, v + ((<usize>k0 * nt) << 2), 0, nt / NR, m, nt, 0, k0 == 0, k0 + kc >= C, 0, 0, false, 0, tmp);
    }
  }
  const yRows = y + ((<usize>(ig * M + row0) * outH * outW) << 2);
  const bRows: usize = bias == 0 ? 0 : bias + (<usize>(g * M + row0) << 2);
  outputTransform(Mb, rows, nt, j0, n, tilesX, outH, outW, yRows, bRows, reluOn, slope);
}

/**
 * V (16 packed-B matrices of C x nt, matrix xi = 4 r + c at V + xi * C * nt floats) = B^T d B of the tiles
 * [j0, j0 + n) of one image-group's padded planes; tiles n..nt of the block are zero.
 */
function inputTransform(xp: usize, C: i32, Hp: i32, Wp: i32, tilesX: i32, j0: i32, n: i32, nt: i32, KC: i32, V: usize): void {
  const xiBytes = (<usize>C * nt) << 2, rowBytes = <usize>Wp << 2;
  for (let c = 0; c < C; c++) {
    const k0 = c / KC * KC, kc = min(KC, C - k0);
    const stripBytes = <usize>(NR * kc) << 2;
    const base = V + ((<usize>k0 * nt + <usize>(c - k0) * NR) << 2);
    const plane = xp + <usize>c * Hp * rowBytes;
    for (let j = 0; j < nt; ) {
      const ty = (j0 + j) / tilesX, tx = j0 + j - ty * tilesX;
      const out = base + <usize>(j >> 3) * stripBytes + (<usize>(j & 7) << 2);
      if (j >= n) {
        for (let xi = 0; xi < 16; xi++) store<f32>(out + <usize>xi * xiBytes, 0);
        j++;
        continue;
      }
      const src = plane + <usize>(2 * ty) * rowBytes + (<usize>(2 * tx) << 2);
      const four = (j & 3) == 0 && j + 4 <= n && tx + 4 <= tilesX;
      if (four) inputFour(src, rowBytes, out, xiBytes);
      else inputOne(src, rowBytes, out, xiBytes);
      j += four ? 4 : 1;
    }
  }
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
 * (matrix xi at Mb + xi * rows * nt floats, row o, column j). Four tiles in one tile row whose outputs are all
 * inside the plane go as vectors (lanes = tiles), the rest tile by tile.
 */
function outputTransform(Mb: usize, rows: i32, nt: i32, j0: i32, n: i32, tilesX: i32, outH: i32, outW: i32, y: usize, bias: usize, reluOn: bool, slope: f32): void {
  const xiBytes = (<usize>rows * nt) << 2, rowBytes = <usize>outW << 2;
  for (let o = 0; o < rows; o++) {
    const b: f32 = bias != 0 ? load<f32>(bias + (<usize>o << 2)) : 0;
    const plane = y + <usize>o * outH * rowBytes;
    for (let j = 0; j < n; ) {
      const ty = (j0 + j) / tilesX, tx = j0 + j - ty * tilesX;
      const m = Mb + ((<usize>o * nt + j) << 2);
      const dst = plane + <usize>(2 * ty) * rowBytes + (<usize>(2 * tx) << 2);
      const four = (j & 3) == 0 && j + 4 <= n && tx + 4 <= tilesX && 2 * tx + 8 <= outW && 2 * ty + 2 <= outH;
      if (four) outputFour(m, xiBytes, dst, rowBytes, b, reluOn, slope);
      else outputOne(m, xiBytes, dst, rowBytes, min(2, outW - 2 * tx), min(2, outH - 2 * ty), b, reluOn, slope);
      j += four ? 4 : 1;
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
      if (!(v0 > 0)) v0 *= slope;
      if (!(v1 > 0)) v1 *= slope;
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
