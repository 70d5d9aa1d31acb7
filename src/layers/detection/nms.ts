// The SSD fork's box arithmetic (src/caffe/util/bbox_util.cpp), in its float precision (Math.fround where the
// fork rounds to float), so that NMS decisions at the threshold come out as the fork's.

import { formatFloat32 } from '../../caffe/prototxt.js';

const f32 = Math.fround;

export type CodeType = 'CORNER' | 'CENTER_SIZE' | 'CORNER_SIZE';

/** BBoxSize of a normalized box: width * height in float, 0 when inverted. */
function boxSize(xmin: number, ymin: number, xmax: number, ymax: number): number {
  if (xmax < xmin || ymax < ymin) return 0;
  return f32(f32(xmax - xmin) * f32(ymax - ymin));
}

/**
 * DecodeBBox for `count` predictions `loc` (4 per prior, from `locAt`, `locStride` apart) against the priors and
 * their variances (`priors`: [2, count * 4], PriorBox's layout), as [xmin, ymin, xmax, ymax] quadruples with each
 * box's BBoxSize (0 for an inverted box). Boxes are decoded when `decode` asks for them: NMS and the output read only
 * the candidates' (the top_k above the threshold), and the fork's decoding of all of them cost more than the rest of
 * the layer (res10's 8892 priors: 1.05 ms). The fork's decoding of all of them also refuses a prior of zero size
 * (checkPriors).
 */
export class Boxes {
  readonly coords: Float32Array;
  readonly sizes: Float32Array;
  private readonly done: Uint8Array;

  constructor(
    private readonly loc: Float32Array, private readonly locAt: number, private readonly locStride: number,
    private readonly priors: Float32Array, count: number, private readonly code: CodeType, private readonly varianceInTarget: boolean,
  ) {
    this.coords = new Float32Array(count * 4);
    this.sizes = new Float32Array(count);
    this.done = new Uint8Array(count);
  }

  /** Decodes the boxes `indices` not decoded yet. */
  decode(indices: readonly number[]): void {
    for (const i of indices) if (!this.done[i]) this.decodeOne(i);
  }

  private decodeOne(i: number): void {
    const { loc, priors, coords, code, varianceInTarget } = this;
    const p = i * 4, l = this.locAt + i * this.locStride, o = i * 4, varAt = this.sizes.length * 4;
    const pxmin = priors[p], pymin = priors[p + 1], pxmax = priors[p + 2], pymax = priors[p + 3];
    // With variance_encoded_in_target the predictions are used as they are (variance 1).
    const v0 = varianceInTarget ? 1 : priors[varAt + p], v1 = varianceInTarget ? 1 : priors[varAt + p + 1];
    const v2 = varianceInTarget ? 1 : priors[varAt + p + 2], v3 = varianceInTarget ? 1 : priors[varAt + p + 3];
    if (code === 'CORNER') {
      coords[o] = pxmin + f32(v0 * loc[l]);
      coords[o + 1] = pymin + f32(v1 * loc[l + 1]);
      coords[o + 2] = pxmax + f32(v2 * loc[l + 2]);
      coords[o + 3] = pymax + f32(v3 * loc[l + 3]);
    } else {
      const pw = f32(pxmax - pxmin), ph = f32(pymax - pymin);
      if (code === 'CENTER_SIZE') {
        const pcx = f32(pxmin + pxmax) / 2, pcy = f32(pymin + pymax) / 2;
        const cx = f32(f32(f32(v0 * loc[l]) * pw) + pcx), cy = f32(f32(f32(v1 * loc[l + 1]) * ph) + pcy);
        const w = f32(f32(Math.exp(f32(v2 * loc[l + 2]))) * pw), h = f32(f32(Math.exp(f32(v3 * loc[l + 3]))) * ph);
        coords[o] = cx - w / 2;
        coords[o + 1] = cy - h / 2;
        coords[o + 2] = cx + w / 2;
        coords[o + 3] = cy + h / 2;
      } else {
        coords[o] = pxmin + f32(f32(v0 * loc[l]) * pw);
        coords[o + 1] = pymin + f32(f32(v1 * loc[l + 1]) * ph);
        coords[o + 2] = pxmax + f32(f32(v2 * loc[l + 2]) * pw);
        coords[o + 3] = pymax + f32(f32(v3 * loc[l + 3]) * ph);
      }
    }
    this.sizes[i] = boxSize(coords[o], coords[o + 1], coords[o + 2], coords[o + 3]);
    this.done[i] = 1;
  }
}

/**
 * Throws a message for a prior of zero size, which the fork's decoding of every box refuses (CHECK_GT) for the
 * center/size codes: once a forward, whichever boxes the candidates need.
 */
export function checkPriors(priors: Float32Array, count: number, code: CodeType): void {
  if (code === 'CORNER') return;
  for (let i = 0, p = 0; i < count; i++, p += 4) {
    const pw = f32(priors[p + 2] - priors[p]), ph = f32(priors[p + 3] - priors[p + 1]);
    if (!(pw > 0 && ph > 0)) throw new Error(`prior ${i} has no area (width ${formatFloat32(pw)}, height ${formatFloat32(ph)}), which ${code} decoding cannot use`);
  }
}

/** JaccardOverlap of boxes a and b (normalized), in float as the fork computes it. */
export function jaccard(boxes: Boxes, a: number, b: number): number {
  const c = boxes.coords, i = a * 4, j = b * 4;
  if (c[j] > c[i + 2] || c[j + 2] < c[i] || c[j + 1] > c[i + 3] || c[j + 3] < c[i + 1]) return 0;
  const w = f32(Math.min(c[i + 2], c[j + 2]) - Math.max(c[i], c[j]));
  const h = f32(Math.min(c[i + 3], c[j + 3]) - Math.max(c[i + 1], c[j + 1]));
  if (!(w > 0 && h > 0)) return 0;
  const inter = f32(w * h);
  return f32(inter / f32(f32(boxes.sizes[a] + boxes.sizes[b]) - inter));
}

export interface NmsSettings {
  /** Scores must be above it (the fork's default is -FLT_MAX: every box). */
  confidenceThreshold: number;
  nmsThreshold: number;
  /** Candidates kept before NMS, -1 for all. */
  topK: number;
  /** Adaptive NMS: the threshold is multiplied by eta after each kept box while it is above 0.5. */
  eta: number;
}

/**
 * ApplyNMSFast: the indices of the boxes kept for one class, by descending score (ties by index, as the
 * fork's stable_sort).
 */
export function nmsFast(boxes: Boxes, scores: Float32Array, scoreAt: number, scoreStride: number, count: number, s: NmsSettings): number[] {
  const candidates = ranked(scores, scoreAt, scoreStride, count, s.confidenceThreshold, s.topK);
  boxes.decode(candidates);
  const kept: number[] = [];
  let threshold = f32(s.nmsThreshold);
  next: for (const idx of candidates) {
    // The fork's `keep = overlap <= threshold` for every kept box (a NaN overlap keeps it out).
    for (let j = 0; j < kept.length; j++) if (!(jaccard(boxes, idx, kept[j]) <= threshold)) continue next;
    kept.push(idx);
    if (s.eta < 1 && threshold > 0.5) threshold = f32(threshold * s.eta);
  }
  return kept;
}

/** Indices below this fit beside a score's 32-bit key in a double (2^32 * 2^21 = 2^53): the SSD nets have 2-25 k priors. */
const INDEX_SPAN = 2 ** 21;

/**
 * The boxes scoring above `threshold`, by descending score, equal scores by index (the fork's stable_sort of the
 * candidates in index order), the first `topK` (-1: all). Each candidate is one double, the score's order-preserving
 * bits then the index reversed, sorted natively: 0.70 ms where the comparator sort took 1.27 on res10's 8892
 * priors (7179 above its 0.01; its DetectionOutput 1.89 -> 1.51 ms).
 */
export function ranked(scores: Float32Array, scoreAt: number, scoreStride: number, count: number, threshold: number, topK: number): number[] {
  if (count > INDEX_SPAN) {
    const all: number[] = [];
    for (let i = 0; i < count; i++) if (scores[scoreAt + i * scoreStride] > threshold) all.push(i);
    all.sort((a, b) => scores[scoreAt + b * scoreStride] - scores[scoreAt + a * scoreStride] || a - b);
    return topK > -1 && topK < all.length ? all.slice(0, topK) : all;
  }
  const keys = new Float64Array(count), word = new Uint32Array(1), float = new Float32Array(word.buffer);
  let n = 0;
  for (let i = 0; i < count; i++) {
    const v = scores[scoreAt + i * scoreStride];
    if (!(v > threshold)) continue;
    float[0] = v + 0; // -0 as +0: equal scores, ordered by index
    const bits = word[0], key = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    keys[n++] = key * INDEX_SPAN + (INDEX_SPAN - 1 - i);
  }
  const take = topK > -1 ? Math.min(topK, n) : n;
  // The largest `take` keys (all distinct: the index is in them), then only they sorted: res10's 400 of ~4-7 k.
  const sorted = (take < n / 4 ? largest(keys, n, take) : keys.subarray(0, n)).sort(), m = sorted.length;
  const out = new Array<number>(take);
  for (let j = 0; j < take; j++) out[j] = INDEX_SPAN - 1 - (sorted[m - 1 - j] % INDEX_SPAN);
  return out;
}

/** The k largest of keys[0, n) in any order: a min-heap of k, its root the smallest kept. */
function largest(keys: Float64Array, n: number, k: number): Float64Array {
  const heap = keys.slice(0, k);
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(heap, i, heap[i]);
  for (let i = k; i < n; i++) if (keys[i] > heap[0]) siftDown(heap, 0, keys[i]);
  return heap;
}

/** Puts `v` at slot i of the min-heap and moves it down to its place. */
function siftDown(heap: Float64Array, i: number, v: number): void {
  const k = heap.length;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= k) break;
    if (c + 1 < k && heap[c + 1] < heap[c]) c++;
    if (heap[c] >= v) break;
    heap[i] = heap[c];
    i = c;
  }
  heap[i] = v;
}
