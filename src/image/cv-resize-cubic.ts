import { checkImageMemory } from './image.js';
import { cvCubicCoeffs } from './cv-warp.js';
import { CremaError } from '../util/errors.js';

// OpenCV 4.5.1's cv::resize(src, dst, Size(outW, outH), 0, 0, INTER_CUBIC) on a CV_32FC1 plane, as OpenPose upsamples
// each heatmap channel. Debian bullseye's build runs the generic path of modules/imgproc/src/resize.cpp (no IPP, no
// custom HAL; OpenCL only for UMat), compiled for its SSE2 baseline (no FMA), so:
// - the same size is a copy;
// - scale = 1. / ((double)outW / w) in double (not w / outW); per destination column fx = (float)((dx + 0.5)*scale
//   - 0.5), sx = cvFloor(fx), fx -= sx (float), the coefficients interpolateCubic(fx) in float (A = -0.75, the
//   fourth 1 - c0 - c1 - c2); the same per row;
// - horizontally (HResizeCubic, no SIMD), each source row: columns whose taps sx-1..sx+2 are all inside
//   (xmin <= dx < xmax: sx >= 1 and sx + 2 < w, scanning dx in order) sum S[sx-1]*a0 + S[sx]*a1 + S[sx+1]*a2 +
//   S[sx+2]*a3 left to right; the others clamp each tap to [0, w-1] and sum from 0 (0 + p0 + p1 + p2 + p3: the
//   same but for the sign of a zero), every product and sum rounded to float;
// - vertically (VResizeCubic), rows sy-1..sy+2 clamped to [0, h-1]: VResizeCubicVec_32f does 4 floats at a time
//   (SSE2's v_float32x4) as v_muladd(S0, b0, v_muladd(S1, b1, v_muladd(S2, b2, S3*b3))), v_muladd being a multiply
//   then an add without FMA: S0*b0 + (S1*b1 + (S2*b2 + S3*b3)), summed right to left; the last outW % 4 columns are
//   the scalar loop's ((S0*b0 + S1*b1) + S2*b2) + S3*b3, left to right. The two orders differ in the last bit.

const f32 = Math.fround;

/** Per destination index along one axis: the source index sx (unclamped) and the 4 cubic coefficients. */
function cubicTaps(dst: number, src: number): { at: Int32Array; coef: Float32Array } {
  const scale = 1 / (dst / src), at = new Int32Array(dst), coef = new Float32Array(4 * dst);
  for (let d = 0; d < dst; d++) {
    const f = f32((d + 0.5) * scale - 0.5), s = Math.floor(f);
    at[d] = s;
    cvCubicCoeffs(f32(f - s), coef, 4 * d);
  }
  return { at, coef };
}

/**
 * A width x height float32 plane (row-major) resized to outWidth x outHeight as OpenCV 4.5.1's cv::resize with
 * INTER_CUBIC does it for CV_32FC1 (see above), bit for bit.
 */
export function cvResizeCubic(src: Float32Array, width: number, height: number, outWidth: number, outHeight: number): Float32Array {
  for (const n of [width, height, outWidth, outHeight])
    if (!Number.isSafeInteger(n) || n < 1) throw new CremaError(`cvResizeCubic: ${width} x ${height} to ${outWidth} x ${outHeight} is not a plane size`);
  if (src.length !== width * height) throw new CremaError(`cvResizeCubic: ${src.length} values for a ${width} x ${height} plane`);
  checkImageMemory(4 * (outWidth * outHeight + height * outWidth + 5 * (outWidth + outHeight)),
    () => `resizing the ${width} x ${height} plane to ${outWidth} x ${outHeight}`);
  if (width === outWidth && height === outHeight) return src.slice();
  const xs = cubicTaps(outWidth, width), ys = cubicTaps(outHeight, height);
  // xmin: past the last column with sx < 1 (its left tap is clamped); xmax: the first with sx + 2 >= w.
  let xmin = 0, xmax = outWidth;
  for (let dx = 0; dx < outWidth; dx++) {
    if (xs.at[dx] < 1) xmin = dx + 1;
    if (xs.at[dx] + 2 >= width) xmax = Math.min(xmax, dx);
  }
  // Each source row resized horizontally once, when a destination row first needs it.
  const rows = new Float32Array(height * outWidth), done = new Uint8Array(height);
  const row = (r: number): number => {
    const o = r * outWidth;
    if (!done[r]) {
      hresize(src, r * width, width, rows, o, xs, xmin, xmax);
      done[r] = 1;
    }
    return o;
  };
  const out = new Float32Array(outWidth * outHeight), vecEnd = outWidth - (outWidth % 4);
  const clampRow = (r: number) => (r < 0 ? 0 : r >= height ? height - 1 : r);
  const at = (r: number) => {
    const o = row(r);
    return rows.subarray(o, o + outWidth);
  };
  for (let dy = 0; dy < outHeight; dy++) {
    const sy = ys.at[dy], b = ys.coef, j = 4 * dy;
    const r0 = at(clampRow(sy - 1)), r1 = at(clampRow(sy)), r2 = at(clampRow(sy + 1)), r3 = at(clampRow(sy + 2));
    const b0 = b[j], b1 = b[j + 1], b2 = b[j + 2], b3 = b[j + 3], o = out.subarray(dy * outWidth, (dy + 1) * outWidth);
    // The store into the Float32Array rounds the last sum to float.
    let x = 0;
    for (; x < vecEnd; x++) o[x] = f32(r0[x] * b0) + f32(f32(r1[x] * b1) + f32(f32(r2[x] * b2) + f32(r3[x] * b3)));
    for (; x < outWidth; x++) o[x] = f32(f32(f32(r0[x] * b0) + f32(r1[x] * b1)) + f32(r2[x] * b2)) + f32(r3[x] * b3);
  }
  return out;
}

/** HResizeCubic on one source row (at `from`, `width` long) into `dst` at `to`: clamped taps outside [xmin, xmax). */
function hresize(src: Float32Array, from: number, width: number, dst: Float32Array, to: number,
  xs: { at: Int32Array; coef: Float32Array }, xmin: number, xmax: number): void {
  const n = xs.at.length, a = xs.coef;
  for (let dx = 0; dx < n; dx++) {
    const sx = xs.at[dx], j = 4 * dx;
    if (dx >= xmin && dx < xmax) {
      const p = from + sx;
      dst[to + dx] = f32(f32(f32(f32(src[p - 1] * a[j]) + f32(src[p] * a[j + 1])) + f32(src[p + 1] * a[j + 2])) + f32(src[p + 2] * a[j + 3]));
      continue;
    }
    let v = 0;
    for (let t = 0; t < 4; t++) {
      const s = sx - 1 + t, c = s < 0 ? 0 : s >= width ? width - 1 : s;
      v = f32(v + f32(src[from + c] * a[j + t]));
    }
    dst[to + dx] = v;
  }
}
