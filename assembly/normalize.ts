// The SSD fork's Normalize across channels (across_spatial false: SSD300's conv4_3_norm, the res10 face detector's)
// on the wasm engine, in the fork's float steps: norm = eps + the channels' squares (each rounded to float, as
// caffe_sqr stores them) added in channel order, its square root, y = x / norm, then y * the channel's scale. As a
// TypeScript loop (its sums in double: the fallback and reference, within a few ulp) it took 0.73 ms of res10's
// ~37 at 1 thread, against ONNX Runtime's 0.2.
//
// Job fields (32-bit words at p, written by src/kernels/normalize.ts): 3 x, 4 y (may be x), 5 channels, 6 inner
// positions of an image, 7 inner positions a chunk (a multiple of 4), 8 chunks an image, 9 scale (one a channel, or
// one in all when 10 is 1), 11 eps (f32).

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { addr, word } from './simd';

/** Inner positions a chunk keeps the norms of in thread scratch while it walks the channels. */
const TILE: i32 = 512;

export function normalizeChunk(p: usize, chunk: i32, scratch: usize): void {
  const x = addr(p, 3), y = addr(p, 4), channels = word(p, 5), inner = word(p, 6), per = word(p, 7), perImage = word(p, 8);
  const scale = addr(p, 9), shared = word(p, 10) == 1, eps = load<f32>(p + 11 * 4);
  const image = chunk / perImage, j0 = (chunk % perImage) * per, j1 = min(inner, j0 + per);
  const rowBytes = <usize>inner << 2, imageBytes = <usize>channels * rowBytes * <usize>image;
  for (let j = j0; j < j1; j += TILE) {
    const at = imageBytes + (<usize>j << 2);
    normalizeTile(x + at, y + at, channels, rowBytes, min(j1, j + TILE) - j, scale, shared, eps, scratch);
  }
}

function normalizeTile(x: usize, y: usize, channels: i32, rowBytes: usize, n: i32, scale: usize, shared: bool, eps: f32, norms: usize): void {
  const v = <usize>(n & ~3) << 2, end = <usize>n << 2, e = f32x4.splat(eps);
  for (let i: usize = 0; i < v; i += 16) v128.store(norms + i, e);
  for (let i = v; i < end; i += 4) store<f32>(norms + i, eps);
  for (let c = 0; c < channels; c++) {
    const row = x + <usize>c * rowBytes;
    for (let i: usize = 0; i < v; i += 16) {
      const a = v128.load(row + i);
      v128.store(norms + i, f32x4.add(v128.load(norms + i), f32x4.mul(a, a)));
    }
    for (let i = v; i < end; i += 4) {
      const a = load<f32>(row + i);
      store<f32>(norms + i, load<f32>(norms + i) + a * a);
    }
  }
  for (let i: usize = 0; i < v; i += 16) v128.store(norms + i, f32x4.sqrt(v128.load(norms + i)));
  for (let i = v; i < end; i += 4) store<f32>(norms + i, sqrt<f32>(load<f32>(norms + i)));
  for (let c = 0; c < channels; c++) {
    const off = <usize>c * rowBytes, xr = x + off, yr = y + off;
    const s = load<f32>(scale + (shared ? 0 : <usize>c << 2)), sv = f32x4.splat(s);
    for (let i: usize = 0; i < v; i += 16) v128.store(yr + i, f32x4.mul(f32x4.div(v128.load(xr + i), v128.load(norms + i)), sv));
    for (let i = v; i < end; i += 4) store<f32>(yr + i, (load<f32>(xr + i) / load<f32>(norms + i)) * s);
  }
}
