// Eltwise SUM (+ leaky ReLU) on the wasm engine (assembly/eltwise.ts): one parallel job over the elements, reading
// and writing resident blobs in place. Only for resident arrays: a copy in and out would cost as much as the sum,
// so plain arrays stay on the TypeScript loops (src/layers/eltwise.ts, src/runtime/fold.ts), which are the
// fallback and the tests' reference.

import { KIND_ELTWISE, type WasmEngine, wasmEngine } from './wasm.js';

/**
 * y = relu(sum_b coeffs[b] * xs[b]) (no ReLU when `reluSlope` is undefined) on the wasm engine; false, with
 * nothing done, when there is no engine or an array is not resident. y may be one of the xs.
 */
export function eltwiseSumWasm(xs: readonly Float32Array[], coeffs: Float32Array, y: Float32Array, reluSlope: number | undefined): boolean {
  const e = wasmEngine();
  if (!e || xs.length === 0) return false;
  const yAt = e.addressOf(y), at = xs.map((x) => e.addressOf(x));
  if (!yAt || at.includes(0) || xs.some((x) => x.length !== y.length)) return false;
  runEltwise(e, at, coeffs, yAt, y.length, reluSlope);
  return true;
}

function runEltwise(e: WasmEngine, at: number[], coeffs: Float32Array, yAt: number, n: number, reluSlope: number | undefined): void {
  const tableBytes = Math.ceil((at.length * 4) / 16) * 16;
  const base = e.scratch(2 * tableBytes);
  new Uint32Array(e.u32.buffer, base, at.length).set(at);
  new Float32Array(e.u32.buffer, base + tableBytes, at.length).set(coeffs);
  const chunks = e.chunkCount(Math.ceil(n / 4), n);
  const perChunk = Math.ceil(n / chunks / 4) * 4;
  const p = e.job(KIND_ELTWISE);
  p[3] = n; p[4] = at.length; p[5] = base; p[6] = base + tableBytes; p[7] = yAt;
  p[8] = reluSlope === undefined ? 0 : 1;
  e.setFloat(p, 9, reluSlope ?? 0);
  p[10] = perChunk;
  p[11] = coeffs.every((c) => c === 1) ? 1 : 0;
  e.run(Math.ceil(n / perChunk));
}
