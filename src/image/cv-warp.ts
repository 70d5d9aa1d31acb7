import { checkImageMemory } from './image.js';
import { CremaError } from '../util/errors.js';
import { roundHalfEven } from '../util/round.js';

// OpenCV 4.5.1's cv::warpAffine(src, dst, M, Size(outW, outH), flags, BORDER_CONSTANT, Scalar(0, 0, 0)) on an 8-bit
// image, M = [[scale, 0, 0], [0, scale, 0]] (CV_64F), as OpenPose's resizeFixedAspectRatio calls it: INTER_CUBIC when
// scale > 1, else INTER_AREA, which warpAffine (and remap) turn into INTER_LINEAR. Restated from the generic CPU code
// of modules/imgproc/src/imgwarp.cpp (Debian bullseye's build: no IPP, no custom HAL; OpenCL only for UMat):
// - M is a forward map (WARP_INVERSE_MAP unset), so warpAffine inverts it in double: D = M0*M4 - M1*M3, D = 1/D,
//   A11 = M4*D, A22 = M0*D, M1 *= -D, M3 *= -D, b1 = -A11*M2 - M1*M5, b2 = -M3*M2 - A22*M5. Here the off-diagonal
//   terms are (-)0, so a destination (x, y) maps to (A11*x, A22*y), A11 = A22 = scale * (1 / (scale*scale)).
// - Fixed point with AB_BITS = 10 (AB_SCALE = 1024): per column adelta[x] = cvRound(A11*x*1024), per row
//   Y0 = cvRound((A22*y + b2)*1024) + 16 (X0 likewise with (-0)*y + b1 = 0); cvRound halves to even (SSE2 cvtsd2si);
//   16 = AB_SCALE / INTER_TAB_SIZE / 2 rounds the coordinate to the nearest 1/32. X = (X0 + adelta[x]) >> 5 keeps
//   INTER_BITS = 5 fraction bits: the source column is X >> 5 (saturated to short), its fraction X & 31 (likewise Y).
//   The SSE4.1 / AVX2 / universal-intrinsics blocks that compute these (WarpAffineInvoker_Blockline_SSE41,
//   warpAffineBlockline) are the same integer adds, arithmetic shifts and saturating packs: same numbers.
// - remap then reads a 2-D table of short weights per (fy, fx) = (Y & 31, X & 31), summing to 1 << 15
//   (INTER_REMAP_COEF_BITS = 15); see `weightTable`. The result is saturate_cast<uchar>((sum + (1 << 14)) >> 15) of
//   the int sum of pixel * weight (FixedPtCast), so the SIMD bilinear path (RemapVec_8u, int16 dot products into
//   int32) gives the same bytes as the scalar one; the bicubic path has no SIMD.
// - BORDER_CONSTANT with 0: a tap outside the image reads 0. remapBilinear / remapBicubic take a fast path when all
//   taps are inside (0 <= sx < w-1, 0 <= sy < h-1 for bilinear; 1 <= sx <= w-3, 1 <= sy <= h-3 for bicubic), give
//   the border value outright when all taps are outside, and otherwise sum (S - cval) * w over the inside taps on
//   cval * 32768: with cval = 0 every branch is the sum over the inside taps, as here.
// OpenPose copies instead when scale is 1 and the size unchanged; warping then gives the same bytes (see weightTable).
// test/cv-warp.test.ts checks all of it byte for byte against cv2 4.5.1 (Debian bullseye's python3-opencv).

const AB_BITS = 10;
const AB_SCALE = 1 << AB_BITS;
const INTER_BITS = 5;
const INTER_TAB_SIZE = 1 << INTER_BITS;
const INTER_REMAP_COEF_BITS = 15;
const INTER_REMAP_COEF_SCALE = 1 << INTER_REMAP_COEF_BITS;
/** Rounds the 1/1024 fixed point to the nearest 1/32 before the shift (INTER_NEAREST would use AB_SCALE / 2). */
const ROUND_DELTA = AB_SCALE / INTER_TAB_SIZE / 2;

const f32 = Math.fround;

export type CvWarpInterpolation = 'cubic' | 'linear';

/** An 8-bit image: height x width x channels, interleaved (HWC), as cv::Mat CV_8UC(channels) holds it. */
export interface ByteImage {
  height: number;
  width: number;
  channels: number;
  data: Uint8Array;
}

/** resize.cpp's / imgwarp.cpp's interpolateCubic (A = -0.75) on a float fraction, in float as OpenCV computes it. */
export function cvCubicCoeffs(x: number, out: Float32Array | Float64Array, at = 0): void {
  const A = -0.75, x1 = f32(x + 1), u = f32(1 - x);
  // ((A*(x + 1) - 5*A)*(x + 1) + 8*A)*(x + 1) - 4*A: 5*A, 8*A, 4*A fold to exact constants.
  const c0 = f32(f32(f32(f32(f32(f32(A * x1) - 5 * A) * x1) + 8 * A) * x1) - 4 * A);
  // ((A + 2)*x - (A + 3))*x*x + 1, left to right.
  const c1 = f32(f32(f32(f32(f32((A + 2) * x) - (A + 3)) * x) * x) + 1);
  const c2 = f32(f32(f32(f32(f32((A + 2) * u) - (A + 3)) * u) * u) + 1);
  out[at] = c0;
  out[at + 1] = c1;
  out[at + 2] = c2;
  out[at + 3] = f32(f32(f32(1 - c0) - c1) - c2);
}

const tables = new Map<number, Int16Array>();

/**
 * initInterTab2D's fixed-point table for ksize 2 (bilinear) or 4 (bicubic): for each fraction pair (fy, fx) in
 * 1/32 steps, entry fy*32 + fx holds ksize x ksize shorts, row k1 (source row offset) by column k2:
 * saturate_cast<short>(cvRound(float(ty[k1] * tx[k2]) * 32768)), the 1-D float coefficients of i/32 (1.f/32 * i).
 * Where the shorts do not sum to 32768, the difference goes to one weight: OpenCV scans (k1, k2) in
 * [ksize/2, ksize/2 + 2)^2 for the smallest and largest (strict <, else strict >, from (ksize/2, ksize/2)); a sum too
 * small raises the largest, a sum too large lowers the smallest. That window is the lower-right of the 2 x 2 centre
 * for bicubic (taps 2, 3, not 1, 2), and runs past the entry for bilinear (indices 3..6 of 4): it reads the next
 * entry, still zero while the table is filled in order. Bilinear needs it only at (0, 0), whose 1 * 32768 saturates
 * to 32767: that entry is [32767, 0, 0, 1], so a pixel on the grid is (32767*S00 + S11 + 16384) >> 15 (= S00).
 */
function weightTable(ksize: number): Int16Array {
  let tab = tables.get(ksize);
  if (tab) return tab;
  const n = ksize * ksize;
  tab = new Int16Array((INTER_TAB_SIZE * INTER_TAB_SIZE + 1) * n); // one spare entry: the bilinear scan's overrun
  const oneD = new Float32Array(INTER_TAB_SIZE * ksize), step = f32(1 / INTER_TAB_SIZE);
  for (let i = 0; i < INTER_TAB_SIZE; i++) {
    const x = f32(i * step);
    if (ksize === 4) cvCubicCoeffs(x, oneD, i * 4);
    else oneD.set([f32(1 - x), x], i * 2);
  }
  for (let i = 0; i < INTER_TAB_SIZE; i++)
    for (let j = 0; j < INTER_TAB_SIZE; j++) {
      const e = (i * INTER_TAB_SIZE + j) * n;
      let isum = 0;
      for (let k1 = 0; k1 < ksize; k1++)
        for (let k2 = 0; k2 < ksize; k2++) {
          const v = f32(oneD[i * ksize + k1] * oneD[j * ksize + k2]);
          const s = Math.min(32767, Math.max(-32768, roundHalfEven(v * INTER_REMAP_COEF_SCALE)));
          tab[e + k1 * ksize + k2] = s;
          isum += s;
        }
      if (isum === INTER_REMAP_COEF_SCALE) continue;
      const h = ksize / 2;
      let min = e + h * ksize + h, max = min;
      for (let k1 = h; k1 < h + 2; k1++)
        for (let k2 = h; k2 < h + 2; k2++) {
          const at = e + k1 * ksize + k2;
          if (tab[at] < tab[min]) min = at;
          else if (tab[at] > tab[max]) max = at;
        }
      const diff = isum - INTER_REMAP_COEF_SCALE;
      if (diff < 0) tab[max] -= diff;
      else tab[min] -= diff;
    }
  tables.set(ksize, tab);
  return tab;
}

/** saturate_cast<short>. */
const toShort = (v: number) => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);

/**
 * warpAffine's fixed-point source coordinates along one axis of `n` destination pixels, source = a * d + b: the
 * integer source index (saturated to short) and the 1/32 fraction of each. Across (`across`), the offset and the
 * column's term are rounded apart (X0 = cvRound(b * 1024) + 16 a row, adelta[x] = cvRound(a * x * 1024) a column);
 * down, together (Y0 = cvRound((a * y + b) * 1024) + 16). For a diagonal M the two axes are independent: X depends
 * on x only, Y on y only.
 */
function axis(n: number, a: number, b: number, across: boolean): { at: Int32Array; frac: Int32Array } {
  const at = new Int32Array(n), frac = new Int32Array(n), b0 = roundHalfEven(b * AB_SCALE);
  for (let d = 0; d < n; d++) {
    const fixed = across ? b0 + roundHalfEven(a * d * AB_SCALE) : roundHalfEven((a * d + b) * AB_SCALE);
    const X = (ROUND_DELTA + fixed) >> (AB_BITS - INTER_BITS);
    at[d] = toShort(X >> INTER_BITS);
    frac[d] = X & (INTER_TAB_SIZE - 1);
  }
  return { at, frac };
}

/**
 * `src` (height x width x channels bytes, HWC) scaled by `scale` into an outWidth x outHeight image as OpenCV
 * 4.5.1's cv::warpAffine with M = [[scale, 0, 0], [0, scale, 0]], BORDER_CONSTANT 0, and INTER_CUBIC ('cubic') or
 * INTER_LINEAR / INTER_AREA ('linear') does it (see above): OpenPose's resizeFixedAspectRatio.
 */
export function cvWarpAffineScale(src: ByteImage, scale: number, outWidth: number, outHeight: number, interpolation: CvWarpInterpolation): ByteImage {
  if (!(scale > 0 && Number.isFinite(scale)))
    throw new CremaError(`cvWarpAffineScale: the scale must be a positive number, not ${scale}`);
  // The inversion, in double: D = scale*scale - 0*0, then 1/D; A11 = M4*D, A22 = M0*D; the offsets b1, b2 are (-)0.
  const det = scale * scale - 0 * 0, D = det !== 0 ? 1 / det : 0;
  return cvWarpAffineInverse(src, [scale * D, 0, scale * D, 0], outWidth, outHeight, interpolation);
}

/**
 * cv::warpAffine(src, dst, M, Size(outWidth, outHeight), interpolation | WARP_INVERSE_MAP, BORDER_CONSTANT, 0) on
 * an 8-bit image with M = [[ax, 0, bx], [0, ay, by]] (CV_64F): destination (x, y) reads the source at
 * (ax * x + bx, ay * y + by). ax may be negative (a mirror): OpenPose's crops of hands and faces.
 */
export function cvWarpAffineInverse(src: ByteImage, [ax, bx, ay, by]: readonly [number, number, number, number], outWidth: number, outHeight: number, interpolation: CvWarpInterpolation): ByteImage {
  const { width, height, channels: k } = src;
  if (![ax, bx, ay, by].every(Number.isFinite) || ax === 0 || ay === 0)
    throw new CremaError(`cvWarpAffine: the map [${ax}, ${bx}, ${ay}, ${by}] is not an invertible affine map`);
  for (const n of [width, height, outWidth, outHeight, k])
    if (!Number.isSafeInteger(n) || n < 1) throw new CremaError(`cvWarpAffine: ${width} x ${height} x ${k} to ${outWidth} x ${outHeight} is not an image size`);
  if (src.data.length !== width * height * k)
    throw new CremaError(`cvWarpAffine: ${src.data.length} bytes for a ${width} x ${height} x ${k} image`);
  // OpenCV keeps the fixed-point coordinates in int (overflow) and the source index in short (saturated): refuse
  // maps where int would not hold them, far beyond any image.
  if (Math.max(outWidth * Math.abs(ax) + Math.abs(bx), outHeight * Math.abs(ay) + Math.abs(by)) * AB_SCALE >= 2 ** 31 - AB_SCALE)
    throw new CremaError(`cvWarpAffine: ${outWidth} x ${outHeight} through [${ax}, ${bx}, ${ay}, ${by}] reaches past OpenCV's fixed-point coordinates`);
  checkImageMemory(outWidth * outHeight * k + 16 * (outWidth + outHeight),
    () => `warping the ${width} x ${height} image to ${outWidth} x ${outHeight}`);
  const out: ByteImage = { height: outHeight, width: outWidth, channels: k, data: new Uint8Array(outWidth * outHeight * k) };
  const xs = axis(outWidth, ax, bx, true), ys = axis(outHeight, ay, by, false);
  if (interpolation === 'cubic') remapBicubic(src, out, xs, ys);
  else if (interpolation === 'linear') remapBilinear(src, out, xs, ys);
  else throw new CremaError(`cvWarpAffine: interpolation '${String(interpolation)}' is not 'cubic' or 'linear'`);
  return out;
}

/** FixedPtCast<int, uchar, 15>: (sum + 2^14) >> 15 (arithmetic: floors negatives), saturated to 0..255. */
const toByte = (sum: number) => {
  const v = (sum + (1 << (INTER_REMAP_COEF_BITS - 1))) >> INTER_REMAP_COEF_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

type Axis = { at: Int32Array; frac: Int32Array };

/** remapBicubic (8U, BORDER_CONSTANT 0): the 4 x 4 taps from (sx - 1, sy - 1), the inside ones summed in int. */
function remapBicubic(src: ByteImage, out: ByteImage, xs: Axis, ys: Axis): void {
  const tab = weightTable(4), S = src.data, D = out.data, k = src.channels;
  const w = src.width, h = src.height, stride = w * k;
  let o = 0;
  for (let y = 0; y < out.height; y++) {
    const sy = ys.at[y] - 1, rowTab = ys.frac[y] * INTER_TAB_SIZE;
    const rowsInside = sy >= 0 && sy + 3 < h;
    for (let x = 0; x < out.width; x++, o += k) {
      const sx = xs.at[x] - 1, wt = (rowTab + xs.frac[x]) * 16;
      if (rowsInside && sx >= 0 && sx + 3 < w) {
        for (let c = 0, base = sy * stride + sx * k; c < k; c++) {
          let sum = 0;
          for (let i = 0, p = base + c, q = wt; i < 4; i++, p += stride, q += 4)
            sum += S[p] * tab[q] + S[p + k] * tab[q + 1] + S[p + 2 * k] * tab[q + 2] + S[p + 3 * k] * tab[q + 3];
          D[o + c] = toByte(sum);
        }
        continue;
      }
      if (sx >= w || sx + 4 <= 0 || sy >= h || sy + 4 <= 0) continue; // all taps outside: the border value 0
      for (let c = 0; c < k; c++) {
        let sum = 0;
        for (let i = 0; i < 4; i++) {
          const r = sy + i;
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < 4; j++) {
            const s = sx + j;
            if (s >= 0 && s < w) sum += S[r * stride + s * k + c] * tab[wt + i * 4 + j];
          }
        }
        D[o + c] = toByte(sum);
      }
    }
  }
}

/** remapBilinear (8U, BORDER_CONSTANT 0): the 2 x 2 taps from (sx, sy), the inside ones summed in int. */
function remapBilinear(src: ByteImage, out: ByteImage, xs: Axis, ys: Axis): void {
  const tab = weightTable(2), S = src.data, D = out.data, k = src.channels;
  const w = src.width, h = src.height, stride = w * k;
  let o = 0;
  for (let y = 0; y < out.height; y++) {
    const sy = ys.at[y], rowTab = ys.frac[y] * INTER_TAB_SIZE;
    const rowsInside = sy >= 0 && sy + 1 < h;
    for (let x = 0; x < out.width; x++, o += k) {
      const sx = xs.at[x], wt = (rowTab + xs.frac[x]) * 4;
      const w0 = tab[wt], w1 = tab[wt + 1], w2 = tab[wt + 2], w3 = tab[wt + 3];
      if (rowsInside && sx >= 0 && sx + 1 < w) {
        for (let c = 0, p = sy * stride + sx * k; c < k; c++, p++)
          D[o + c] = toByte(S[p] * w0 + S[p + k] * w1 + S[p + stride] * w2 + S[p + stride + k] * w3);
        continue;
      }
      if (sx >= w || sx + 1 < 0 || sy >= h || sy + 1 < 0) continue; // all taps outside: the border value 0
      const in00 = sy >= 0 && sx >= 0, in01 = sy >= 0 && sx + 1 < w, in10 = sy + 1 < h && sx >= 0, in11 = sy + 1 < h && sx + 1 < w;
      for (let c = 0, p = sy * stride + sx * k; c < k; c++, p++)
        D[o + c] = toByte((in00 ? S[p] * w0 : 0) + (in01 ? S[p + k] * w1 : 0) + (in10 ? S[p + stride] * w2 : 0) + (in11 ? S[p + stride + k] * w3 : 0));
    }
  }
}
