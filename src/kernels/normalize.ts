// The SSD fork's Normalize across channels on the wasm engine (assembly/normalize.ts): one parallel job a layer
// over every image's inner positions. The TypeScript loops of src/layers/normalize.ts stay the fallback and the
// tests' reference.

import { KIND_NORMALIZE, wasmEngine } from './wasm.js';

/** Floats below which the TypeScript loops cost less than a job. */
export const MIN_NORMALIZE_FLOATS = 4096;
/** Floats a chunk takes at least: below this a thread's wake-up costs more than it saves. */
const MIN_CHUNK = 16384;

/**
 * y = x / sqrt(eps + sum over channels of x^2) * scale for `num` images of (channels, inner) floats (y may be x;
 * `scale` one a channel, or one in all); false, with nothing done, without an engine or below MIN_NORMALIZE_FLOATS.
 */
export function normalizeChannelsWasm(x: Float32Array, y: Float32Array, num: number, channels: number, inner: number, scale: Float32Array, eps: number): boolean {
  const e = wasmEngine(), n = x.length;
  if (!e || n < MIN_NORMALIZE_FLOATS || y.length !== n || n !== num * channels * inner || channels === 0) return false;
  const { xAt, yAt, extra } = e.stage(x, y, Math.ceil(scale.length / 4) * 16);
  let scaleAt = e.addressOf(scale);
  if (!scaleAt) {
    scaleAt = extra;
    e.f32.set(scale, extra / 4);
  }
  const chunks = Math.max(1, Math.min(e.chunkCount(num * Math.ceil(inner / 4)), Math.floor(n / MIN_CHUNK)));
  // Each image's inner positions cut into pieces of whole vectors, as many an image as the chunks need.
  const perImage = Math.max(1, Math.min(Math.ceil(inner / 4), Math.ceil(chunks / num)));
  const per = Math.ceil(inner / perImage / 4) * 4;
  const p = e.job(KIND_NORMALIZE);
  p[3] = xAt; p[4] = yAt; p[5] = channels; p[6] = inner; p[7] = per; p[8] = Math.ceil(inner / per);
  p[9] = scaleAt; p[10] = scale.length === 1 ? 1 : 0;
  e.setFloat(p, 11, eps);
  e.run(num * p[8]);
  e.unstage(y, yAt);
  return true;
}
