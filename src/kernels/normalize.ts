// The SSD fork's Normalize across channels on the wasm engine (assembly/normalize.ts): one parallel job a layer
// over every image's inner positions. The TypeScript loops of src/layers/normalize.ts stay the fallback and the
// tests' reference.

import { KIND_NORMALIZE, wasmEngine } from './wasm.js';

/** Floats below which the TypeScript loops cost less than a job. */
export const MIN_NORMALIZE_FLOATS = 4096;

/**
 * y = x / sqrt(eps + sum over channels of x^2) * scale for `num` images of (channels, inner) floats (y may be x;
 * `scale` one a channel, or one in all); false, with nothing done, without an engine or below MIN_NORMALIZE_FLOATS.
 */
export function normalizeChannelsWasm(x: Float32Array, y: Float32Array, num: number, channels: number, inner: number, scale: Float32Array, eps: number): boolean {
  const e = wasmEngine(), n = x.length;
  if (!e || n < MIN_NORMALIZE_FLOATS || y.length !== n || n !== num * channels * inner || channels === 0) return false;
  const { xAt, yAt, extra } = e.stage(x, y, Math.ceil(scale.length / 4) * 16);
  const scaleAt = e.placed(scale, extra);
  const p = e.job(KIND_NORMALIZE);
  p[3] = xAt; p[4] = yAt; p[5] = channels; p[6] = inner;
  [p[7], p[8]] = e.innerPieces(num, inner, n);
  p[9] = scaleAt; p[10] = scale.length === 1 ? 1 : 0;
  e.setFloat(p, 11, eps);
  e.run(num * p[8]);
  e.unstage(y, yAt);
  return true;
}
