// FlowNet's Correlation and DispNet's Correlation1D on the wasm engine (assembly/correlation.ts): both bottoms copied
// zero-padded and channels last into the engine's scratch (one job), then the lane sums of every top pixel and
// displacement (one job split by top rows). The TypeScript loops of src/layers/correlation.ts and correlation1d.ts
// stay the fallback and the tests' reference: the same bits.

import { KIND_CORRELATION, wasmEngine } from './wasm.js';

/**
 * What the kernel needs of a layer's geometry: the 2-D layer's is square (pad, first row and column max_displacement,
 * a grid of (2r + 1)^2 from (-r, -r)); the 1-D layer's pads along x only, its patches start at the top row's own row,
 * and its one row of displacements starts at -r (or 0: single_direction 1).
 */
export interface CorrelationGeometry {
  /** Zeros each side along x and along y. */
  pad: number;
  padY: number;
  kernel: number;
  /** The patch's top-left corner at top (x, y)·stride_1 + (maxDisp, top0) of the padded bottoms. */
  maxDisp: number;
  top0: number;
  stride1: number;
  stride2: number;
  /** Displacements a row and rows of them (the top's channels: gridW · gridH, row by row). */
  gridW: number;
  gridH: number;
  /** The first displacement's indices: bottom 1 moved by (shiftX + i, shiftY + j)·stride_2. */
  shiftX: number;
  shiftY: number;
  topH: number;
  topW: number;
  /** correlation_type SUBTRACT: the mean of |a - b| (one sum in order), not of a·b (32 lanes). */
  subtract: boolean;
}

const align = (bytes: number) => Math.ceil(bytes / 64) * 64;

/**
 * The top of bottoms `a` and `b` (num, channels, height, width) into `top`; false, with nothing done, without an
 * engine or when its memory cannot hold the padded copies. Those live in the engine's per-call scratch (no memory
 * of the layer's own), each pixel's channels rounded up to a multiple of 4 with zeros.
 */
export function correlationWasm(a: Float32Array, b: Float32Array, top: Float32Array, [num, channels, height, width]: readonly number[], g: CorrelationGeometry): boolean {
  const e = wasmEngine();
  if (!e) return false;
  const cp = Math.ceil(channels / 4) * 4, ph = height + 2 * g.padY, pw = width + 2 * g.pad;
  const staged = (x: Float32Array) => (e.addressOf(x) ? 0 : align(x.length * 4));
  const padded = align(num * ph * pw * cp * 4);
  let base: number;
  try {
    base = e.scratch(staged(a) + staged(b) + 2 * padded + staged(top));
  } catch {
    return false; // the 4 GiB of wasm memory are full: the loop's copies are JavaScript arrays
  }
  const aAt = e.placed(a, base), bAt = e.placed(b, base + staged(a));
  const raAt = base + staged(a) + staged(b), rbAt = raAt + padded, topAt = e.addressOf(top) || rbAt + padded;
  const rows = num * ph, perCopy = Math.ceil(rows / e.chunkCount(rows, num * ph * pw * cp));
  let p = e.job(KIND_CORRELATION);
  p[3] = 0; p[4] = aAt; p[5] = raAt; p[6] = bAt; p[7] = rbAt;
  p[8] = channels; p[9] = height; p[10] = width; p[11] = g.pad; p[12] = cp; p[13] = perCopy; p[14] = g.padY; p[19] = num;
  e.run(2 * Math.ceil(rows / perCopy));
  // A chunk of at least MIN_CHUNK_FLOATS (wasm.ts) multiply-adds of four lanes: a thread's wake-up costs more than less.
  const topRows = num * g.topH, work = (num * g.gridW * g.gridH * g.topH * g.topW * g.kernel * g.kernel * cp) / 4;
  const per = Math.ceil(topRows / e.chunkCount(topRows, work));
  p = e.job(KIND_CORRELATION);
  p[3] = 1; p[4] = raAt; p[5] = rbAt; p[6] = topAt; p[7] = cp; p[8] = ph; p[9] = pw;
  p[10] = g.kernel; p[11] = g.maxDisp; p[12] = g.stride1; p[13] = g.stride2; p[14] = g.gridW; p[15] = g.topH; p[16] = g.topW;
  p[17] = per; p[19] = num; p[20] = g.top0; p[21] = g.gridH; p[22] = g.shiftX; p[23] = g.shiftY; p[24] = g.subtract ? 1 : 0;
  e.setFloat(p, 18, Math.fround(g.kernel * g.kernel * channels));
  e.run(Math.ceil(topRows / per));
  e.unstage(top, topAt);
  return true;
}
