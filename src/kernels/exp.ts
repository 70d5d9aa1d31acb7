// Sigmoid and Softmax on the wasm engine (assembly/exp.ts: e^x in float, four lanes at a time): one parallel job a
// layer. The TypeScript loops of src/layers/sigmoid.ts and softmax.ts stay the fallback and the tests' reference.

import { KIND_EXP, wasmEngine } from './wasm.js';

/** Floats below which the loops in TypeScript cost less than a job (an SE block's Sigmoid: 64-2048 of them). */
export const MIN_EXP_FLOATS = 4096;
/** Floats a chunk takes at least: below this a thread's wake-up costs more than it saves. */
const MIN_CHUNK = 16384;

/** y = 1 / (1 + e^-x) (y may be x); false, with nothing done, without an engine or below MIN_EXP_FLOATS. */
export function sigmoidWasm(x: Float32Array, y: Float32Array): boolean {
  const e = wasmEngine(), n = x.length;
  if (!e || n < MIN_EXP_FLOATS || y.length !== n) return false;
  const { xAt, yAt } = e.stage(x, y);
  const chunks = Math.max(1, Math.min(e.chunkCount(n), Math.floor(n / MIN_CHUNK)));
  const per = Math.ceil(n / chunks / 4) * 4;
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
  const chunks = Math.max(1, Math.min(e.chunkCount(blocks * Math.ceil(inner / 4)), Math.floor(n / MIN_CHUNK)));
  let count: number;
  if (inner === 1) {
    p[9] = Math.ceil(blocks / chunks);
    count = Math.ceil(blocks / p[9]);
  } else {
    // Each block's inner positions cut into pieces of whole vectors, as many a block as the chunks need.
    const perBlock = Math.max(1, Math.min(Math.ceil(inner / 4), Math.ceil(chunks / blocks)));
    p[9] = Math.ceil(inner / perBlock / 4) * 4;
    p[10] = Math.ceil(inner / p[9]);
    count = blocks * p[10];
  }
  e.run(count);
  e.unstage(y, yAt);
  return true;
}
