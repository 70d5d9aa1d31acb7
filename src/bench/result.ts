import type { Summary } from './stats.js';

/** One layer's time in a forward pass (`crema bench` per-layer rows, as `caffe time` prints them). */
export interface LayerTime {
  name: string;
  type: string;
  median_ms: number;
}

/** What `crema bench --json` prints per backend: whole-forward timings and per-layer medians. */
export interface BackendResult extends Summary {
  backend: 'native' | 'onnx';
  threads: number;
  batch: number;
  layers: LayerTime[];
  /**
   * Native only, with the WebAssembly kernels: the core probe's rate over the rounds (G multiply-adds a second of
   * the GEMM micro-kernel on cached data, src/bench/probe.ts), its median and fastest. A median well below the
   * fastest: another thread shared the core during the runs, which slows the native engine and not ONNX Runtime.
   */
  core?: { median_gmacs: number; max_gmacs: number };
}

export const BACKENDS = ['native', 'onnx'] as const;
export type Backend = (typeof BACKENDS)[number];
