import { type Tensor, sameShape, shapeString } from '../tensor.js';

/** How two values of one blob agree: max |a - b|, and that over the reference's scale max(1, max |ref|). */
export interface PairResult {
  abs: number;
  rel: number;
  pass: boolean;
  /** Set when the shapes differ (then abs and rel are Infinity). */
  mismatch?: string;
}

/**
 * Compares `ours` with `ref` as the project measures agreement with Caffe:
 * max|ours - ref| <= tolerance * max(1, max|ref|). A NaN anywhere on either side fails.
 */
export function comparePair(ours: Tensor, ref: Tensor, tolerance: number): PairResult {
  if (!sameShape(ours.dims, ref.dims))
    return { abs: Infinity, rel: Infinity, pass: false, mismatch: `shape ${shapeString(ours.dims)} vs ${shapeString(ref.dims)}` };
  const a = ours.data, b = ref.data;
  let maxErr = 0, maxRef = 0;
  for (let i = 0; i < b.length; i++) {
    const r = Math.abs(b[i]);
    if (r > maxRef) maxRef = r;
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= maxErr)) maxErr = Number.isNaN(e) ? Infinity : e; // a NaN on either side makes e NaN
  }
  const rel = maxErr / Math.max(1, maxRef);
  return { abs: maxErr, rel, pass: rel <= tolerance };
}
