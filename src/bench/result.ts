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
}

export const BACKENDS = ['native', 'onnx'] as const;
export type Backend = (typeof BACKENDS)[number];
