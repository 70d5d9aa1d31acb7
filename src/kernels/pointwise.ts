// The elementwise layers no convolution took in (ReLU, PReLU, BatchNorm, Scale, Axpy) on the wasm engine
// (assembly/pointwise.ts): one parallel job over planes of resident blobs, each step rounded to float as the
// layers' TypeScript loops round it. Only for resident arrays (a copy in and out would cost as much as the
// work); the TypeScript loops stay the fallback and the tests' reference. As TypeScript scalar loops these ran
// at ~0.3 G floats/s: DenseNet-121's BatchNorm, Scale and ReLU took 55 of its 141 ms, SE-ResNet-50's ReLUs and
// Axpys 26 of 139.

import { KIND_POINTWISE, wasmEngine } from './wasm.js';

/** A ReLU's blob (no channels) cut into planes of this many floats, for the threads. */
const FLAT_PLANE = 4096;

/** What a pass does to each plane, in this order; per-channel arrays have `channels` entries (Axpy: one a plane). */
export interface PointwiseSteps {
  /** BatchNorm: (x - mean) / std. */
  norm?: { mean: Float32Array; std: Float32Array };
  /** Scale: x * scale (+ bias). */
  scale?: Float32Array;
  bias?: Float32Array;
  /** Caffe's ReLU at this slope, or PReLU's slopes (one a channel). */
  relu?: number | Float32Array;
  /** Axpy: addend + scale * x (with `scale`, nothing else). */
  addend?: Float32Array;
}

const NORM = 1, SCALE = 2, BIAS = 4, RELU = 8, AXPY = 16;

/**
 * y = steps(x) over `planes` planes of `inner` floats, the parameters of plane p those of channel p % channels; false,
 * with nothing done, when there is no engine or an array is not resident. y may be x (Axpy: y may be the addend).
 */
export function pointwiseWasm(x: Float32Array, y: Float32Array, planes: number, inner: number, channels: number, steps: PointwiseSteps): boolean {
  const e = wasmEngine();
  if (!e || x.length !== planes * inner || y.length !== x.length) return false;
  const xAt = e.addressOf(x), yAt = e.addressOf(y), addAt = steps.addend ? e.addressOf(steps.addend) : 0;
  if (!xAt || !yAt || (steps.addend && (!addAt || steps.addend.length !== x.length))) return false;
  if (channels === 1 && x.length > FLAT_PLANE) [planes, inner] = [Math.ceil(x.length / FLAT_PLANE), FLAT_PLANE];
  const params = [steps.norm?.mean, steps.norm?.std, steps.scale, steps.bias, steps.relu instanceof Float32Array ? steps.relu : undefined];
  const padded = Math.ceil(channels / 4) * 4; // each array 16-byte aligned (the kernel reads one float at a time)
  const base = e.scratch(params.length * padded * 4);
  const at = params.map((a, i) => (a ? (e.f32.set(a.subarray(0, channels), base / 4 + i * padded), base + i * padded * 4) : 0));
  const total = x.length;
  const chunks = e.chunkCount(planes, total);
  const perChunk = Math.ceil(planes / chunks);
  const p = e.job(KIND_POINTWISE);
  p[3] = xAt; p[4] = yAt; p[5] = planes; p[6] = inner; p[7] = channels;
  p[8] = (steps.norm ? NORM : 0) | (steps.scale && !steps.addend ? SCALE : 0) | (steps.bias ? BIAS : 0) | (steps.relu !== undefined ? RELU : 0) | (steps.addend ? AXPY : 0);
  p[9] = at[0]; p[10] = at[1]; p[11] = at[2]; p[12] = at[3]; p[13] = at[4];
  e.setFloat(p, 14, typeof steps.relu === 'number' ? steps.relu : 0);
  p[15] = addAt; p[16] = perChunk; p[17] = total;
  e.run(Math.ceil(planes / perChunk));
  return true;
}
