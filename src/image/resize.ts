import { type FloatImage, checkImageMemory, makeImage } from './image.js';
import { CremaError } from '../util/errors.js';

// pycaffe's caffe.io.resize_image(im, (h, w)) with its default interp_order=1, reimplemented on float data.
//
// Why not sharp's resize: resize_image stretches the image to [0, 1], then calls skimage.transform.resize(order=1,
// mode='constant'), which (skimage 0.18, the version pycaffe runs with) first blurs with a Gaussian of
// sigma = (factor - 1) / 2 per axis when it shrinks (anti_aliasing defaults on), zero-padded; then samples
// bilinearly at (i + 0.5) * factor - 0.5 with zeros outside the image; then clips to the blurred image's range.
// No sharp kernel reproduces that: on test/fixtures/images/rgb45x61.png -> 32x32, sharp's linear, cubic, mitchell
// and lanczos3 differ from pycaffe by 13-19 (max) and 3-4.5 (mean) in 0..255 units. This port differs by < 1e-3
// (float rounding; test/preprocess.test.ts states and checks the tolerance).

/** Resizes an HWC float image to height x width, as caffe.io.resize_image. `exhaustive`: blur the whole image (tests). */
export function resizeImage(im: FloatImage, height: number, width: number, exhaustive = false): FloatImage {
  // 0 gave an empty image, -5 a RangeError: a size is whole pixels.
  if (!Number.isSafeInteger(height) || !Number.isSafeInteger(width) || height < 1 || width < 1)
    throw new CremaError(`resizeImage: height and width are whole numbers of pixels, 1 or more, got ${String(height)} x ${String(width)}`);
  // The normalized copy (and the blur's two when growing), the float64 samples and the result.
  const growing = exhaustive || im.height < height || im.width < width;
  checkImageMemory(4 * im.data.length * (growing ? 3 : 1) + 12 * height * width * im.channels,
    () => `resizing the ${im.width} x ${im.height} image to ${width} x ${height}`);
  const [lo, hi] = extremes(im.data);
  const out = makeImage(height, width, im.channels);
  if (!(hi > lo)) return (out.data.fill(lo), out); // a constant image: pycaffe fills, avoiding 0/0
  const range = Math.fround(hi - lo);
  const normalized = makeImage(im.height, im.width, im.channels, normalize(im.data, lo, range));
  const sampled = growing ? blurAndSample(normalized, height, width) : shrink(normalized, height, width);
  for (let i = 0; i < sampled.length; i++) out.data[i] = sampled[i] * range + lo;
  return out;
}

// The loops below are functions of one loop each: V8 optimizes a long loop while it runs (on-stack replacement)
// with the feedback seen so far, and code after the loop that has not run yet throws that work away (a deopt) on
// every one of the first calls; a classify of 64 photos ran its resizes 2.5x slower than the steady state.

function extremes(data: Float32Array): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** float32 like numpy's (im - im_min) / (im_max - im_min). */
function normalize(data: Float32Array, lo: number, range: number): Float32Array {
  const std = scratch(0, data.length);
  for (let i = 0; i < std.length; i++) std[i] = Math.fround(data[i] - lo) / range;
  return std;
}

/** skimage's steps on the whole image: blur, sample, clip to the blurred image's range. */
function blurAndSample(im: FloatImage, height: number, width: number): Float64Array {
  const fy = im.height / height, fx = im.width / width;
  const src = gaussianBlur(im, Math.max(0, (fy - 1) / 2), Math.max(0, (fx - 1) / 2));
  const sampled = sampleBilinear(src, height, width, fy, fx);
  clipToRange(sampled, src.data);
  return sampled;
}

/**
 * The same result when shrinking on both axes, computing the blur only where it is sampled: the rows the bilinear
 * taps read (rows pass), then at those rows only the columns they read (columns pass). Each computed value goes
 * through exactly the operations of the whole-image blur, so the result is identical. Clipping is a no-op here:
 * when shrinking, every tap lies inside the image, and a bilinear mix never leaves the range of its four pixels.
 * A 3000x2000 photo to 227x227 takes under a second instead of ~5 s.
 */
function shrink(im: FloatImage, height: number, width: number): Float64Array {
  const fy = im.height / height, fx = im.width / width, k = im.channels;
  const rowTaps = taps(height, fy, im.height), colTaps = taps(width, fx, im.width);
  const rows = usedIndices(rowTaps, im.height), cols = usedIndices(colTaps, im.width);
  const sigmaY = Math.max(0, (fy - 1) / 2), sigmaX = Math.max(0, (fx - 1) / 2);
  // Rows pass: the used rows, all columns.
  const rowLen = im.width * k;
  const byRows = scratch(1, rows.list.length * rowLen);
  const wy = sigmaY > 1e-15 ? gaussianWeights(sigmaY) : undefined;
  rows.list.forEach((r, i) => {
    if (wy) blurAt(im.data, r, im.height, rowLen, rowLen, wy, byRows, i * rowLen);
    else byRows.set(im.data.subarray(r * rowLen, (r + 1) * rowLen), i * rowLen);
  });
  // Columns pass: at the used rows, the used columns.
  const nc = cols.list.length;
  const blurred = blurColumns(byRows, rows.list.length, im.width, k, Int32Array.from(cols.list), sigmaX > 1e-15 ? gaussianWeights(sigmaX) : ONE);
  const compact = makeImage(rows.list.length, nc, k, blurred);
  return sampleBilinear(compact, height, width, fy, fx, remap(rowTaps, rows.index), remap(colTaps, cols.index));
}

/** blurAt at each of `cols` of each of `rows` lines of `width` pixels of k channels. */
function blurColumns(lines: Float32Array, rows: number, width: number, k: number, cols: Int32Array, w: Float64Array): Float32Array {
  const out = scratch(2, rows * cols.length * k);
  for (let i = 0, to = 0; i < rows; i++)
    for (let j = 0; j < cols.length; j++, to += k) blurAt(lines, cols[j], width, k, k, w, out, to, i * width * k);
  return out;
}

/** The sorted source indices some tap reads, and each one's position in that list. */
function usedIndices(t: Taps, size: number): { list: number[]; index: Int32Array } {
  const used = new Uint8Array(size);
  for (let i = 0; i < t.lo.length; i++) {
    if (t.lo[i] >= 0) used[t.lo[i]] = 1;
    if (t.hi[i] >= 0) used[t.hi[i]] = 1;
  }
  const index = new Int32Array(size).fill(-1), list: number[] = [];
  for (let x = 0; x < size; x++) if (used[x]) index[x] = list.push(x) - 1;
  return { list, index };
}

function remap(t: Taps, index: Int32Array): Taps {
  return { lo: t.lo.map((x) => (x >= 0 ? index[x] : -1)), hi: t.hi.map((x) => (x >= 0 ? index[x] : -1)), frac: t.frac };
}

/**
 * The resize's intermediates (every element written before it is read), kept from one call to the next up to
 * KEEP_BYTES each. A fresh buffer costs a page fault per 4 KiB first touched: ~10 us each in the VMs this runs in
 * (2.6 ms a megabyte), and whether the allocator hands back fresh pages or reused ones depends on its history: the
 * same 451 x 260 -> 224 x 224 resize took 8 ms or 20 ms, 1,300 faults a call.
 */
const kept: (ArrayBuffer | undefined)[] = [];
const KEEP_BYTES = 16 << 20;

function scratchBytes(slot: number, bytes: number): ArrayBuffer {
  const have = kept[slot];
  if (have && have.byteLength >= bytes) return have;
  const fresh = new ArrayBuffer(bytes);
  kept[slot] = bytes <= KEEP_BYTES ? fresh : undefined;
  return fresh;
}

const scratch = (slot: number, n: number) => new Float32Array(scratchBytes(slot, 4 * n), 0, n);
const scratch64 = (slot: number, n: number) => new Float64Array(scratchBytes(slot, 8 * n), 0, n);

/** No blur: the one weight 1 (x * 1 is x, so the copy is exact). */
const ONE = new Float64Array([1]);

/**
 * The blur at position `at` of an axis of length `len` whose steps are `axisStride` apart, for the `count`
 * adjacent values there (a row's columns x channels, or one pixel's channels), read from `src` at `from` on and
 * written to `dst` at `to`; as blurAxis computes it. Offsets, not subarrays: the columns pass calls it per pixel.
 */
function blurAt(src: Float32Array, at: number, len: number, axisStride: number, count: number, w: Float64Array, dst: Float32Array, to: number, from = 0): void {
  const r = (w.length - 1) / 2;
  for (let s = 0; s < count; s++) {
    const base = from + s;
    let acc = src[base + at * axisStride] * w[r];
    for (let j = 1; j <= r; j++) {
      const before = at - j >= 0 ? src[base + (at - j) * axisStride] : 0;
      const after = at + j < len ? src[base + (at + j) * axisStride] : 0;
      acc += (after + before) * w[r + j];
    }
    dst[to + s] = acc;
  }
}

/** scipy.ndimage.gaussian_filter (truncate 4, mode constant 0) over rows then columns, float32 between passes. */
function gaussianBlur(im: FloatImage, sigmaY: number, sigmaX: number): FloatImage {
  let data = im.data;
  if (sigmaY > 1e-15) data = blurAxis(data, im.height, im.width * im.channels, 1, gaussianWeights(sigmaY));
  if (sigmaX > 1e-15) data = blurAxis(data, im.width, im.channels, im.height, gaussianWeights(sigmaX), im.width * im.channels);
  return { ...im, data };
}

function gaussianWeights(sigma: number): Float64Array {
  const radius = Math.floor(4 * sigma + 0.5);
  const w = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let x = -radius; x <= radius; x++) sum += w[x + radius] = Math.exp((-0.5 / (sigma * sigma)) * x * x);
  for (let i = 0; i < w.length; i++) w[i] /= sum;
  return w;
}

/**
 * Correlates along one axis of length `len` whose elements are `stride` apart; `lines` x `stride` parallel lines
 * per block, blocks `blockStride` apart. Outside the image counts as 0. Symmetric kernels sum pairs as scipy does.
 */
function blurAxis(src: Float32Array, len: number, stride: number, blocks: number, w: Float64Array, blockStride = 0): Float32Array {
  const out = new Float32Array(src.length);
  const r = (w.length - 1) / 2;
  for (let b = 0; b < blocks; b++) {
    const base = b * blockStride;
    for (let s = 0; s < stride; s++) {
      for (let i = 0; i < len; i++) {
        let acc = src[base + i * stride + s] * w[r];
        for (let j = 1; j <= r; j++) {
          const before = i - j >= 0 ? src[base + (i - j) * stride + s] : 0;
          const after = i + j < len ? src[base + (i + j) * stride + s] : 0;
          acc += (after + before) * w[r + j];
        }
        out[base + i * stride + s] = acc;
      }
    }
  }
  return out;
}

/** skimage's bilinear_interpolation at ((i + 0.5) * fy - 0.5, (j + 0.5) * fx - 0.5), mode 'C' (0 outside). */
function sampleBilinear(im: FloatImage, height: number, width: number, fy: number, fx: number, rows = taps(height, fy, im.height), cols = taps(width, fx, im.width)): Float64Array {
  const k = im.channels, d = im.data;
  const out = scratch64(3, height * width * k);
  const rowLen = im.width * k;
  for (let i = 0; i < height; i++) {
    const r0 = rows.lo[i], r1 = rows.hi[i], dr = rows.frac[i];
    for (let j = 0; j < width; j++) {
      const c0 = cols.lo[j], c1 = cols.hi[j], dc = cols.frac[j];
      for (let ch = 0; ch < k; ch++) {
        // index -1 means outside the image: the constant 0
        const tl = r0 >= 0 && c0 >= 0 ? d[r0 * rowLen + c0 * k + ch] : 0;
        const tr = r0 >= 0 && c1 >= 0 ? d[r0 * rowLen + c1 * k + ch] : 0;
        const bl = r1 >= 0 && c0 >= 0 ? d[r1 * rowLen + c0 * k + ch] : 0;
        const br = r1 >= 0 && c1 >= 0 ? d[r1 * rowLen + c1 * k + ch] : 0;
        const top = (1 - dc) * tl + dc * tr;
        const bottom = (1 - dc) * bl + dc * br;
        out[(i * width + j) * k + ch] = (1 - dr) * top + dr * bottom;
      }
    }
  }
  return out;
}

/** Per output index along one axis: floor and ceil of the source coordinate (-1 when outside) and the fraction. */
interface Taps {
  lo: Int32Array;
  hi: Int32Array;
  frac: Float64Array;
}

function taps(n: number, factor: number, size: number): Taps {
  const lo = new Int32Array(n), hi = new Int32Array(n), frac = new Float64Array(n);
  const inside = (x: number) => (x >= 0 && x < size ? x : -1);
  for (let i = 0; i < n; i++) {
    const x = factor * (i + 0.5) - 0.5;
    const x0 = Math.floor(x);
    lo[i] = inside(x0);
    hi[i] = inside(Math.ceil(x));
    frac[i] = x - x0;
  }
  return { lo, hi, frac };
}

/** skimage's _clip_warp_output: clip to the input's range, keeping exact cval (0) pixels when 0 is outside it. */
function clipToRange(out: Float64Array, input: Float32Array): void {
  let lo = Infinity, hi = -Infinity;
  for (const v of input) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const keepZeros = !(lo <= 0 && 0 <= hi);
  for (let i = 0; i < out.length; i++) {
    if (keepZeros && out[i] === 0) continue;
    out[i] = Math.min(hi, Math.max(lo, out[i]));
  }
}
