// Direct convolution for few input channels (a net's first layer: 3 x 3 x 3 at stride 2 in MobileNet, SqueezeNet,
// Inception-v3), in WebAssembly SIMD. im2col + GEMM spends most of its time there packing K = C kh kw (27) rows
// of columns for a GEMM whose K is too short to pay for it; here the GEMM's micro-kernel (4 output channels by 8
// output columns) reads its B vectors straight from the input rows: for tap k = (c, ky, kx) and output columns
// ox..ox+7 of output row oy, B(k, ox..ox+7) is 8 consecutive floats of a zero-padded copy of input row
// oy s + ky - ph, starting at column ox + kx (stride 1). For stride 2 each row is copied with its even padded
// columns first, then its odd ones, so that columns 2 ox + kx are again consecutive: even kx at ox + kx / 2 of
// the first half, odd kx at ox + (kx - 1) / 2 of the second. Each output row looks up the K rows' addresses once.
//
// Job fields (32-bit words at p, written by src/kernels/direct.ts): 3 x, 4 C, 5 H, 6 W, 7 kh, 8 kw, 9 ph, 10 pw,
// 11 stride (1 or 2, both ways), 12 outH, 13 outW (>= 8), 14 M (output channels), 15 packed weights (packed A of
// assembly/kernels.ts, one K block: K <= KC), 16 y, 17 bias (0: none; padded to whole strips), 18 relu on,
// 19 slope (f32), 20 output rows per chunk, 21 chunks per image.
// Each output is (sum over k of w(k) x(k)) + bias, the sum in k order as the GEMM adds it.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { MR, addr, copyRow, madd, relu, splitRow, word } from './simd';

/** Floats of one padded row in the copy: the padded width, made even for stride 2 (two halves of Wp / 2). */
@inline function rowFloats(W: i32, pw: i32, s: i32): i32 {
  const w = W + 2 * pw;
  return ((s == 2 ? (w + 1) & ~1 : w) + 3) & ~3;
}

export function directChunk(p: usize, chunk: i32, scratch: usize): void {
  const C = word(p, 4), H = word(p, 5), W = word(p, 6), kh = word(p, 7), kw = word(p, 8);
  const ph = word(p, 9), pw = word(p, 10), s = word(p, 11), outH = word(p, 12), outW = word(p, 13);
  const rowsPerChunk = word(p, 20), perImage = word(p, 21);
  const n = chunk / perImage, oy0 = (chunk - n * perImage) * rowsPerChunk, oy1 = min(outH, oy0 + rowsPerChunk);
  if (oy0 >= oy1) return;
  const K = C * kh * kw, Wr = rowFloats(W, pw, s), rows = (oy1 - 1 - oy0) * s + kh, iy0 = oy0 * s - ph;
  // Scratch: a zero row (the taps above and below the image read it), the K tap addresses, the rows' copies.
  const zero = scratch, taps = zero + (<usize>Wr << 2), copy = taps + (<usize>((K + 3) & ~3) << 2);
  const end = copy + (<usize>(C * rows * Wr) << 2);
  for (let a = zero; a < taps; a += 16) v128.store(a, f32x4.splat(0));
  for (let a = copy; a < end; a += 16) v128.store(a, f32x4.splat(0));
  const x = addr(p, 3) + ((<usize>n * C * H * W) << 2);
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < rows; r++) {
      const iy = iy0 + r;
      if (<u32>iy >= <u32>H) continue;
      const src = x + ((<usize>(c * H + iy) * W) << 2), dst = copy + ((<usize>(c * rows + r) * Wr) << 2);
      if (s == 1) copyRow(src, W, dst + (<usize>pw << 2));
      else splitRow(src, W, pw, dst, <usize>(Wr >> 1) << 2);
    }
  }
  for (let oy = oy0; oy < oy1; oy++) {
    for (let c = 0, k = 0; c < C; c++) {
      for (let ky = 0; ky < kh; ky++) {
        const r = oy * s + ky - ph - iy0, iy = iy0 + r;
        const row = <u32>iy < <u32>H ? copy + ((<usize>(c * rows + r) * Wr) << 2) : zero;
        for (let kx = 0; kx < kw; kx++, k++) {
          const column = s == 1 ? kx : (kx & 1) * (Wr >> 1) + (kx >> 1);
          store<u32>(taps + (<usize>k << 2), <u32>(row + (<usize>column << 2)));
        }
      }
    }
    outputRow(p, n, oy, K, taps);
  }
}

/** Output row oy of image n for every output channel: strips of MR channels by tiles of 8 columns. */
function outputRow(p: usize, n: i32, oy: i32, K: i32, taps: usize): void {
  const outH = word(p, 12), outW = word(p, 13), M = word(p, 14), a = addr(p, 15), y = addr(p, 16), bias = addr(p, 17);
  const reluOn = word(p, 18) != 0, slope = load<f32>(p + 19 * 4);
  const plane = <usize>(outH * outW) << 2;
  for (let row = 0; row < M; row += MR) {
    const pa = a + (<usize>(row * K) << 2);
    const yRow = y + ((<usize>((n * M + row) * outH + oy) * outW) << 2);
    const rows = min(MR, M - row);
    // The last tile ends at the row's end, overlapping the one before (the same values written twice).
    for (let t = 0; t < outW; t += 8) {
      const ox = min(t, outW - 8);
      tile(K, taps, <usize>ox << 2, pa, bias + (<usize>row << 2), yRow + (<usize>ox << 2), plane, rows, reluOn, slope);
    }
  }
}

/** MR x 8 outputs: rows of y `plane` bytes apart (output channels), each written only when < rows. */
@inline function tile(K: i32, taps: usize, at: usize, pa: usize, bias: usize, y: usize, plane: usize, rows: i32, reluOn: bool, slope: f32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < K; k++) {
    const b = <usize>load<u32>(taps + (<usize>k << 2)) + at;
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let w = v128.load32_splat(pa);
    c00 = madd(c00, w, b0); c01 = madd(c01, w, b1);
    w = v128.load32_splat(pa, 4);
    c10 = madd(c10, w, b0); c11 = madd(c11, w, b1);
    w = v128.load32_splat(pa, 8);
    c20 = madd(c20, w, b0); c21 = madd(c21, w, b1);
    w = v128.load32_splat(pa, 12);
    c30 = madd(c30, w, b0); c31 = madd(c31, w, b1);
    pa += 16;
  }
  if (bias != 0) {
    let v = v128.load32_splat(bias); c00 = f32x4.add(c00, v); c01 = f32x4.add(c01, v);
    v = v128.load32_splat(bias, 4); c10 = f32x4.add(c10, v); c11 = f32x4.add(c11, v);
    v = v128.load32_splat(bias, 8); c20 = f32x4.add(c20, v); c21 = f32x4.add(c21, v);
    v = v128.load32_splat(bias, 12); c30 = f32x4.add(c30, v); c31 = f32x4.add(c31, v);
  }
  if (reluOn) {
    c00 = relu(c00, slope); c01 = relu(c01, slope); c10 = relu(c10, slope); c11 = relu(c11, slope);
    c20 = relu(c20, slope); c21 = relu(c21, slope); c30 = relu(c30, slope); c31 = relu(c31, slope);
  }
  v128.store(y, c00); v128.store(y, c01, 16);
  if (rows > 1) { v128.store(y + plane, c10); v128.store(y + plane, c11, 16); }
  if (rows > 2) { v128.store(y + 2 * plane, c20); v128.store(y + 2 * plane, c21, 16); }
  if (rows > 3) { v128.store(y + 3 * plane, c30); v128.store(y + 3 * plane, c31, 16); }
}
