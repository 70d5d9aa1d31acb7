import { wasmEngine, type WasmEngine } from '../kernels/wasm.js';
import { type Contender, summarize } from './stats.js';

/**
 * A probe of how fast this core runs crema's kind of code right now: the GEMM micro-kernel of every convolution
 * (gemmStrips, 4 x 8 tiles) on panels that stay in L1, about a third of a millisecond a run. Timed as one more
 * contender among the forwards, it tells a run measured on a shared core from a quiet one: when another thread
 * shares the physical core (an SMT sibling: another VM's on a cloud host, a browser's on a laptop), the kernels'
 * ~2.3 instructions per 128-bit multiply-add compete for the core's dispatch and crema's layers slow down by up to
 * 1.6x, while ONNX Runtime's AVX2 / AVX-512 kernels, with a fraction of the instructions per multiply-add, barely
 * move (docs/PERFORMANCE.md, round seventeen). Its rate, against the fastest of the same run, is that factor.
 */
export const CORE_PROBE = 'core';

const M = 24, N = 32, KC = 256, CALLS = 32;
/** Multiply-adds in one run of the probe. */
export const PROBE_MACS = M * N * KC * CALLS;

const panels = new WeakMap<WasmEngine, number>();

/** The probe as a contender (name CORE_PROBE), or undefined where the WebAssembly kernels do not run. */
export function coreProbe(): Contender | undefined {
  const e = wasmEngine();
  if (!e) return undefined;
  let base = panels.get(e);
  if (base === undefined) {
    const floats = (M + N) * KC + M * N;
    base = e.heap.alloc(floats * 4 + 4096);
    // Normal floats (no subnormals: the probe times the kernel, not the core's slow paths).
    new Float32Array(e.memory.buffer, base, floats).fill(0.5);
    panels.set(e, base);
  }
  const a = base, b = a + M * KC * 4, c = b + N * KC * 4, tmp = c + M * N * 4;
  const gemm = e.exports.gemmStrips;
  return {
    name: CORE_PROBE,
    run: () => {
      for (let i = 0; i < CALLS; i++) gemm(M, N, KC, a, b, 0, N / 8, c, N, 0, 1, 1, 0, 0, 0, 0, tmp, 0);
    },
  };
}

/** G multiply-adds a second of one probe run that took `ms`. */
export function probeRate(ms: number): number {
  return PROBE_MACS / ms / 1e6;
}

/** The probe's median and fastest rate over its runs' times, to 0.1 (undefined for none). */
export function coreSpeed(times: readonly number[] | undefined): { median_gmacs: number; max_gmacs: number } | undefined {
  if (!times?.length) return undefined;
  const { median_ms, min_ms } = summarize(times);
  return { median_gmacs: round1(probeRate(median_ms)), max_gmacs: round1(probeRate(min_ms)) };
}

const round1 = (x: number) => Math.round(x * 10) / 10;
