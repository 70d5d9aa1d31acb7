// Sigmoid and Softmax on the wasm engine (assembly/exp.ts: e^x in float, four lanes at a time): one parallel job a
// layer. The TypeScript loops of src/layers/sigmoid.ts and softmax.ts stay the fallback and the tests' reference.

import { KIND_EXP, wasmEngine } from './wasm.js';

/** Floats below which the loops in TypeScript cost less than a job (an SE block's Sigmoid: 64-2048 of them). */
export const MIN_EXP_FLOATS = 4096;

/** y = 1 / (1 + e^-x) (y may be x); false, with nothing done, without an engine or below MIN_EXP_FLOATS. */
export function sigmoidWasm(x: Float32Array, y: Float32Array): boolean {
  const e = wasmEngine(), n = x.length;
  if (!e || n < MIN_EXP_FLOATS || y.length !== n) return false;
  const { xAt, yAt } = e.stage(x, y);
  const per = Math.ceil(n / e.chunkCount(n, n) / 4) * 4;
  const p = e.job(KIND_EXP);
  p[3] = xAt; p[4] = yAt; p[5] = 0; p[6] = n; p[7] = per;
  e.run(Math.ceil(n / per));
  e.unstage(y, yAt);
  return true;
}

/**
 * Softmax over the channels of `blocks` blocks of (channels, inner) floats (y may be x); false, with nothing done,
 * without an engine or below MIN_EXP_FLOATS.
 */
export function softmaxWasm(x: Float32Array, y: Float32Array, blocks: number, channels: number, inner: number): boolean {
  const e = wasmEngine(), n = x.length;
  if (!e || n < MIN_EXP_FLOATS || y.length !== n || n !== blocks * channels * inner || channels === 0) return false;
  const { xAt, yAt } = e.stage(x, y);
  const p = e.job(KIND_EXP);
  p[3] = xAt; p[4] = yAt; p[5] = 1; p[6] = blocks; p[7] = channels; p[8] = inner;
  let count: number;
  if (inner === 1) {
    p[9] = Math.ceil(blocks / e.chunkCount(blocks, n));
    count = Math.ceil(blocks / p[9]);
  } else {
    [p[9], p[10]] = e.innerPieces(blocks, inner, n);
    count = blocks * p[10];
  }
  e.run(count);
  e.unstage(y, yAt);
  return true;
}
