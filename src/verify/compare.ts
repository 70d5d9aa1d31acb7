import { type Tensor, sameShape, shapeString } from '../tensor.js';

/** How two values of one blob agree: max |a - b|, and that over the reference's scale max(1, max |ref|). */
export interface PairResult {
  abs: number;
  rel: number;
  pass: boolean;
  /** Why abs and rel are Infinity: the shapes differ, or a value is NaN or infinite on one side only. */
  mismatch?: string;
  /**
   * A pooling mask's (compareIndices): how many indices differ, of how many; abs and rel are then over the values the
   * differing indices point at in the pooled bottom.
   */
  indices?: { differing: number; of: number };
  /** Values that are NaN on both sides, or the same infinity: counted as agreeing (set when there are any). */
  nonfinite?: number;
}

/**
 * Compares `ours` with `ref` as the project measures agreement with Caffe:
 * max|ours - ref| <= tolerance * max(1, max|ref|). A NaN on both sides, or the same infinity, agrees (two engines
 * that give NaN for a NaN input agree); a NaN or infinity on one side only fails.
 */
export function comparePair(ours: Tensor, ref: Tensor, tolerance: number): PairResult {
  if (!sameShape(ours.dims, ref.dims))
    return { abs: Infinity, rel: Infinity, pass: false, mismatch: `shape ${shapeString(ours.dims)} vs ${shapeString(ref.dims)}` };
  const { abs, rel, nonfinite } = agreement(ours.data, ref.data);
  const oneSided = Number.isFinite(abs) ? {} : { mismatch: 'NaN or infinity on one side only' };
  return { abs, rel, pass: rel <= tolerance, ...oneSided, ...(nonfinite ? { nonfinite } : {}) };
}

/** max|ours - ref|, that over max(1, max finite |ref|), and how many non-finite values agree exactly. */
export function agreement(ours: ArrayLike<number>, ref: ArrayLike<number>): { abs: number; rel: number; nonfinite: number } {
  let maxErr = 0, maxRef = 0, nonfinite = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = ours[i], b = ref[i];
    const r = Math.abs(b);
    if (r < Infinity) {
      if (r > maxRef) maxRef = r;
    } else if (a === b || (a !== a && b !== b)) {
      nonfinite++; // the same infinity, or NaN on both sides
      continue;
    }
    const e = Math.abs(a - b);
    if (!(e <= maxErr)) maxErr = Number.isNaN(e) ? Infinity : e; // a NaN or infinity on one side only
  }
  return { abs: maxErr, rel: maxErr / Math.max(1, maxRef), nonfinite };
}
