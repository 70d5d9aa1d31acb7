import { type Tensor, sameShape, shapeString } from '../tensor.js';
import type { PairResult } from './compare.js';

/**
 * Compares a max Pooling's mask (its second top: each output's argmax as h * width + w in its bottom's channel plane,
 * as BVLC Caffe writes it) by the indices themselves, not their difference: a near-tie in the bottom flips an index
 * by any amount. A differing index agrees when the values both point at in `bottom` (the pooled blob) are equal
 * within the tolerance (its scale max(1, max |bottom|)); abs and rel are then the largest such value difference.
 */
export function compareIndices(ours: Tensor, ref: Tensor, bottom: Tensor, tolerance: number): PairResult {
  if (!sameShape(ours.dims, ref.dims))
    return { abs: Infinity, rel: Infinity, pass: false, mismatch: `shape ${shapeString(ours.dims)} vs ${shapeString(ref.dims)}` };
  const plane = ours.dims.length === 4 ? ours.dims[2] * ours.dims[3] : 1;
  const bottomPlane = bottom.dims.length === 4 ? bottom.dims[2] * bottom.dims[3] : 1, b = bottom.data;
  const inside = (m: number) => Number.isInteger(m) && m >= 0 && m < bottomPlane;
  let differing = 0, abs = 0, scale = 1, outside = false;
  for (const v of b) if (Math.abs(v) > scale) scale = Math.abs(v);
  for (let i = 0; i < ref.data.length; i++) {
    const x = ours.data[i], y = ref.data[i];
    if (x === y) continue;
    differing++;
    const at = Math.floor(i / plane) * bottomPlane;
    const out = !inside(x) || !inside(y);
    outside ||= out;
    const [vx, vy] = out ? [0, Infinity] : [b[at + x], b[at + y]];
    const e = vx === vy ? 0 : Math.abs(vx - vy); // equal infinities are a tie too
    if (!(e <= abs)) abs = Number.isNaN(e) ? Infinity : e;
  }
  const indices = { differing, of: ref.data.length }, rel = abs / scale;
  if (abs === Infinity)
    return { abs, rel, pass: false, indices, mismatch: `${differing} of ${ref.data.length} indices differ, ${outside ? "some outside the bottom's plane" : 'some at values not finite and unequal'}` };
  return { abs, rel, pass: rel <= tolerance, indices };
}
