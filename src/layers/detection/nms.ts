// The SSD fork's box arithmetic (src/caffe/util/bbox_util.cpp), in its float precision (Math.fround where the
// fork rounds to float), so that NMS decisions at the threshold come out as the fork's.

const f32 = Math.fround;

export type CodeType = 'CORNER' | 'CENTER_SIZE' | 'CORNER_SIZE';

/** Boxes as [xmin, ymin, xmax, ymax] quadruples, with each box's BBoxSize (0 for an inverted box). */
export interface Boxes {
  coords: Float32Array;
  sizes: Float32Array;
}

/** BBoxSize of a normalized box: width * height in float, 0 when inverted. */
function boxSize(xmin: number, ymin: number, xmax: number, ymax: number): number {
  if (xmax < xmin || ymax < ymin) return 0;
  return f32(f32(xmax - xmin) * f32(ymax - ymin));
}

/**
 * DecodeBBox for `count` predictions `loc` (4 per prior, from `locAt`) against the priors and their
 * variances (`priors`: [2, count * 4], PriorBox's layout). Throws a message for a prior of zero size, which the
 * fork refuses (CHECK_GT) for the center/size codes.
 */
export function decodeBoxes(
  loc: Float32Array, locAt: number, locStride: number, priors: Float32Array, count: number,
  code: CodeType, varianceInTarget: boolean,
): Boxes {
  const coords = new Float32Array(count * 4), sizes = new Float32Array(count);
  const varAt = count * 4;
  for (let i = 0; i < count; i++) {
    const p = i * 4, l = locAt + i * locStride, o = i * 4;
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
      if (!(pw > 0 && ph > 0)) throw new Error(`prior ${i} has no area (width ${pw}, height ${ph}), which ${code} decoding cannot use`);
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
    sizes[i] = boxSize(coords[o], coords[o + 1], coords[o + 2], coords[o + 3]);
  }
  return { coords, sizes };
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
  const kept: number[] = [];
  let threshold = f32(s.nmsThreshold);
  for (const idx of candidates) {
    if (!kept.every((k) => jaccard(boxes, idx, k) <= threshold)) continue;
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
  const sorted = keys.subarray(0, n).sort(), take = topK > -1 ? Math.min(topK, n) : n;
  const out = new Array<number>(take);
  for (let j = 0; j < take; j++) out[j] = INDEX_SPAN - 1 - (sorted[n - 1 - j] % INDEX_SPAN);
  return out;
}
