// LRN ACROSS_CHANNELS as a job of the native engine's pool (src/kernels/lrn.ts, lrnAcrossWasm): the kernels of
// assembly/lrn.ts (compiled into this module too) over resident blobs, cut by image and by runs of pixels, so two
// threads share the layer and a batch's images, and nothing is copied in or out (the standalone LRN module copies
// each image into its own memory and back, on the calling thread alone).
//
// Job fields (32-bit words at p): 3 x, 4 y, 5 channels, 6 plane (floats a channel), 7 pre (window's half-width,
// clamped to the channels), 8 the power's mode (lrn.ts), 9 pixel runs an image, 10 pixels a run (a multiple of 4);
// bytes 48 alpha / n and 56 k (f64). Chunk -> (image, run). Each pixel's sums and power are those of acrossImage
// (acrossRun: the same steps in the same order whatever the run): the same bits as the standalone module.

// @ts-nocheck: AssemblyScript types (i32, f64, usize) are not TypeScript's.

import { acrossRun } from './lrn';
import { addr, word } from './simd';

export function lrnChunk(p: usize, chunk: i32, scratch: usize): void {
  const x = addr(p, 3), y = addr(p, 4), channels = word(p, 5), plane = word(p, 6), pre = word(p, 7), mode = word(p, 8);
  const runs = word(p, 9), per = word(p, 10);
  const alphaOverN = load<f64>(p + 48), k = load<f64>(p + 56);
  const img = chunk / runs, run = chunk - img * runs;
  const p0 = run * per, len = min(plane - p0, per);
  if (len <= 0) return;
  // Thread scratch: the run's float64 sums, then len zeros (the channels outside the blob).
  const sum = scratch, zeros = scratch + ((<usize>len << 3) + 15 & ~15);
  memory.fill(zeros, 0, <usize>len << 2);
  const at = (<usize>img * channels * plane + p0) << 2;
  acrossRun(x + at, y + at, zeros, sum, channels, plane, len, pre, alphaOverN, k, mode);
}
