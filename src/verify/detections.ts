import { Tensor, shapeString } from '../tensor.js';
import type { PairResult } from './compare.js';

/** Boxes match when their IoU is at least this, or their corners agree within 1e-4 (relative beyond 1: near) with the same image and label, and scores within the tolerance. */
export const MIN_IOU = 0.99;

/**
 * Two coordinates within 1e-4 of max(1, the smaller |coordinate|), or the same infinity (a box decoded from huge offsets under
 * synthetic weights reaches +-Infinity: the same row on both sides must still match, as verify counts equal
 * infinities equal elsewhere). Relative beyond 1, as verify's tolerance: such a box lies thousands of images away
 * (MobileNet-SSD's at x = 3393.79 and 3393.793, its offsets ~1e8 within 1.2e-6 relative on both sides), where
 * float32 cannot hold 1e-4 absolute; and having no area it has no IoU either. The scale stays finite, so an infinity
 * is near only itself.
 */
const near = (x: number, y: number) => x === y || Math.abs(x - y) <= 1e-4 * Math.max(1, Math.min(Math.abs(x), Math.abs(y), Number.MAX_VALUE));

/** A row's box with its corners in order (the fork leaves inverted boxes inverted). */
function corners(x: Float32Array, i: number): [number, number, number, number] {
  const [x1, y1, x2, y2] = [x[i + 3], x[i + 4], x[i + 5], x[i + 6]];
  return [Math.min(x1, x2), Math.min(y1, y2), Math.max(x1, x2), Math.max(y1, y2)];
}

/**
 * Whether two rows' boxes (corners ordered) are the same box: IoU >= MIN_IOU, or every corner within 1e-4 (of the
 * normalized image: below a pixel; or the same infinity: near). The second is what thin boxes need: a YOLO box of an exp(-15) anchor is a few
 * hundred float ulps wide, where the engines' rounding moves its IoU by a percent; and boxes without area (the "no
 * detection" rows' [-1, -1, -1, -1]) have no IoU.
 */
function sameBox(a: Float32Array, i: number, b: Float32Array, j: number): boolean {
  const p = corners(a, i), q = corners(b, j);
  if (p.every((v, k) => near(v, q[k]))) return true;
  const area = (r: number[]) => (r[2] - r[0]) * (r[3] - r[1]);
  const w = Math.min(p[2], q[2]) - Math.max(p[0], q[0]), h = Math.min(p[3], q[3]) - Math.max(p[1], q[1]);
  const inter = w > 0 && h > 0 ? w * h : 0;
  return inter / (area(p) + area(q) - inter) >= MIN_IOU;
}

/** Whether the values after the box (TextBoxes++'s outline: normalized points, a normalized height) agree within 1e-4. */
function sameOutline(a: Float32Array, i: number, b: Float32Array, j: number, width: number): boolean {
  for (let k = 7; k < width; k++) if (!near(a[i + k], b[j + k])) return false;
  return true;
}

/**
 * Compares two detection blobs ([1, 1, N, 7] rows of image, label, score, xmin, ymin, xmax, ymax; TextBoxes++'s
 * rows carry their outline after the box, 15 or 12 values) as sets: every row of `ref` must pair with its own row of
 * `ours` of the same image and label, the same box (sameBox) and outline (within 1e-4) and |score difference| <=
 * `tolerance`, and the counts must be equal. The order is not compared: the fork's std::sort leaves equal scores'
 * order unspecified (real Caffe's may be another than crema's, which ONNX Runtime's follows), OpenCV's detections come
 * by score, and other detection layers' (YOLO's, the two-stage nets') as their ONNX exports give them. `abs` and
 * `rel` are the largest score difference.
 */
export function compareDetections(ours: Tensor, ref: Tensor, tolerance: number): PairResult {
  const width = ref.dims[3];
  const rowsOf = (t: Tensor) => t.data.length / width;
  if (ours.dims.length !== 4 || ref.dims.length !== 4 || ours.dims[3] !== width || !(width >= 7))
    return { abs: Infinity, rel: Infinity, pass: false, mismatch: `shape ${shapeString(ours.dims)} vs ${shapeString(ref.dims)}: not detections` };
  const a = ours.data, b = ref.data, used = new Uint8Array(rowsOf(ours));
  let worst = 0, unmatched = 0;
  for (let j = 0; j < rowsOf(ref); j++) {
    let best = -1, bestDiff = Infinity;
    const r = j * width;
    for (let i = 0; i < used.length; i++) {
      const o = i * width;
      if (used[i] || a[o] !== b[r] || a[o + 1] !== b[r + 1]) continue;
      const diff = Math.abs(a[o + 2] - b[r + 2]);
      if (diff <= tolerance && diff < bestDiff && sameBox(a, o, b, r) && sameOutline(a, o, b, r, width)) [best, bestDiff] = [i, diff];
    }
    if (best < 0) unmatched++;
    else {
      used[best] = 1;
      worst = Math.max(worst, bestDiff);
    }
  }
  const extra = used.length - used.reduce((n, u) => n + u, 0);
  if (unmatched || extra)
    return { abs: Infinity, rel: Infinity, pass: false, mismatch: `detections: ${unmatched} of ${rowsOf(ref)} without a match (IoU >= ${MIN_IOU} or corners within 1e-4 (relative beyond 1), ${width > 7 ? 'outline within 1e-4, ' : ''}score within ${tolerance}), ${extra} extra` };
  return { abs: worst, rel: worst, pass: true };
}

/**
 * Whether both detection blobs were cut at `keep` rows (keep_top_k) for `image` with several rows of each at the same
 * lowest score: then which of the tied boxes are kept is the sort's order, which the fork's std::sort leaves
 * unspecified (an SSD under synthetic weights scores thousands of boxes 1.0), so real Caffe and crema may keep
 * different ones (ONNX Runtime keeps crema's: its TopK and NonMaxSuppression take equal scores by index, as crema).
 * Gives that score and how many rows of each side have it. keep_top_k applies per image: each image is cut alone.
 */
export function tiedAtCut(ours: Tensor, theirs: Tensor, keep: number, image = 0): { score: number; ours: number; theirs: number } | undefined {
  const scores = (t: Tensor) => rowsOfImage(t, image).map((r) => t.data[r * t.dims[3] + 2]);
  const [a, b] = [scores(ours), scores(theirs)];
  if (a.length !== keep || b.length !== keep) return undefined;
  const score = Math.min(...a);
  const [na, nb] = [a.filter((s) => s === score).length, b.filter((s) => s === score).length];
  return score === Math.min(...b) && na > 1 && nb > 1 ? { score, ours: na, theirs: nb } : undefined;
}

/** The indices of the rows of `image` (column 0). */
function rowsOfImage(t: Tensor, image: number): number[] {
  const width = t.dims[3];
  return Array.from({ length: t.data.length / width }, (_, r) => r).filter((r) => t.data[r * width] === image);
}

/** The rows of `image` alone, as a detection blob [1, 1, rows, width]. */
export function imageRows(t: Tensor, image: number): Tensor {
  const width = t.dims[3], rows = rowsOfImage(t, image);
  return new Tensor([1, 1, rows.length, width], Float32Array.from(rows.flatMap((r) => Array.from(t.data.subarray(r * width, (r + 1) * width)))));
}
