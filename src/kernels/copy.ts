// Copies of runs of floats between resident blobs as one parallel job (assembly/copy.ts): Concat's copies at
// batch > 1, where its bottoms cannot be views of its top (GoogLeNet's nine Concats: 3.5 ms of a batch-8 forward
// on the calling thread alone). Plain arrays, and small copies, stay on the caller's loops.

import { KIND_COPY, MIN_CHUNK_FLOATS, wasmEngine } from './wasm.js';

/** Floats a job copies at least: below this a thread's wake-up costs more than it saves. */
const MIN_FLOATS = 1 << 16;

/** One run: `n` floats from src[from] to dst[to]. */
export interface CopyRun {
  src: Float32Array;
  from: number;
  dst: Float32Array;
  to: number;
  n: number;
}

/** @internal Whether copies run as a job of the native engine's pool (tests and benchmarks compare). */
export const copyPool = { enabled: true };

/**
 * Copies the runs (none overlapping another's destination, no destination overlapping a source) on the native
 * engine's pool; false, with nothing done, when there is no engine, an array is not resident or the runs are small.
 */
export function copyRunsWasm(runs: readonly CopyRun[]): boolean {
  const e = copyPool.enabled ? wasmEngine() : null;
  if (!e || runs.length === 0) return false;
  let total = 0;
  for (const r of runs) total += r.n;
  if (total < MIN_FLOATS || total >= 2 ** 31) return false;
  const srcAt = runs.map((r) => e.addressOf(r.src)), dstAt = runs.map((r) => e.addressOf(r.dst));
  if (srcAt.includes(0) || dstAt.includes(0)) return false;
  const table = e.scratch(runs.length * 16);
  const t = new Uint32Array(e.u32.buffer, table, runs.length * 4);
  let at = 0;
  runs.forEach((r, i) => {
    t[4 * i] = srcAt[i] + r.from * 4; t[4 * i + 1] = dstAt[i] + r.to * 4; t[4 * i + 2] = r.n; t[4 * i + 3] = at;
    at += r.n;
  });
  const chunks = e.chunkCount(Math.ceil(total / MIN_CHUNK_FLOATS), total);
  const per = Math.ceil(total / chunks / 16) * 16;
  const p = e.job(KIND_COPY);
  p[3] = table; p[4] = runs.length; p[5] = per;
  e.run(Math.ceil(total / per));
  return true;
}
