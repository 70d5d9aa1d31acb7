import { type FloatImage, checkImageMemory, makeImage } from './image.js';
import { CremaError } from '../util/errors.js';

// OpenCV's cv2.resize(im, None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR) on a float32 image, as py-faster-rcnn's
// _get_image_blob calls it (OpenCV 4.5's generic path, modules/imgproc/src/resize.cpp; its float path has no
// fixed point, and the chroot's build has no IPP). Not resizeImage: that is pycaffe's skimage resize (a blur first,
// another sampling grid). cv2's arithmetic, restated:
// - the size: round(w * fx) x round(h * fy) in double, halves to even (saturate_cast<int>); the same size is a copy;
// - exactly half the size (1 / fx == 2 on both axes) is its INTER_AREA fast path (areaFast at 2 x 2);
// - else, per destination column x: s = (float)((x + 0.5) * (1 / fx) - 0.5), sx = floor(s), a = s - sx (float);
//   left of the image (sx < 0) it is column 0 alone, right of it (sx >= w - 1) column w - 1 alone; otherwise the
//   row is S[sx] * (1 - a) + S[sx + 1] * a, each product rounded to float (SSE2: no fused multiply-add);
// - per destination row y the same s, sy, b, but rows are clamped to [0, h - 1] and NOT given weight 0 at the
//   borders: the first rows are row 0 * (1 - b) + row 0 * b, as cv2 computes them.
import { roundHalfEven } from '../util/round.js';

const f32 = Math.fround;

/** The size cv2.resize gives an image of `size` pixels scaled by `factor`. */
export function cvResizedSize(size: number, factor: number): number {
  return roundHalfEven(size * factor);
}

/** Each destination index's source index and weight of the next one (cv2's float taps). */
function taps(dst: number, src: number, factor: number): { at: Int32Array; weight: Float32Array } {
  const scale = 1 / factor, at = new Int32Array(dst), weight = new Float32Array(dst);
  for (let d = 0; d < dst; d++) {
    let s = f32((d + 0.5) * scale - 0.5);
    const i = Math.floor(s);
    s = f32(s - i);
    at[d] = i;
    weight[d] = s;
  }
  return { at, weight };
}

/** cv::resize's destination for factors fx, fy (its rounding of the size); refused when it has no pixels or too many. */
function resizeTarget(what: string, im: FloatImage, fx: number, fy: number): { width: number; height: number; k: number; out: FloatImage } {
  const width = cvResizedSize(im.width, fx), height = cvResizedSize(im.height, fy), k = im.channels;
  if (!(fx > 0 && fy > 0) || !Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1)
    throw new CremaError(`${what}: scaling ${im.width} x ${im.height} by ${fx} x ${fy} gives no pixels`);
  checkImageMemory(4 * (height * width * k + 2 * width * k), () => `resizing the ${im.width} x ${im.height} image to ${width} x ${height}`);
  return { width, height, k, out: makeImage(height, width, k) };
}

/**
 * An HWC float image scaled by fx (columns) and fy (rows) as cv2.resize(im, None, fx=fx, fy=fy,
 * interpolation=cv2.INTER_LINEAR) does it for float32 images (see above).
 */
export function cvResizeLinear(im: FloatImage, fx: number, fy: number): FloatImage {
  const { width, height, k, out } = resizeTarget('cvResizeLinear', im, fx, fy);
  if (width === im.width && height === im.height) return (out.data.set(im.data), out);
  if (1 / fx === 2 && 1 / fy === 2) return areaFast(im, out, 2, 2);
  const xs = taps(width, im.width, fx), ys = taps(height, im.height, fy);
  const src = im.data, rowLen = width * k;
  // Each source row resized horizontally once, kept while the destination rows read it.
  const rows = new Map<number, Float32Array>();
  const row = (r: number): Float32Array => {
    let h = rows.get(r);
    if (h) return h;
    h = new Float32Array(rowLen);
    const base = r * im.width * k;
    for (let x = 0; x < width; x++) {
      const sx = xs.at[x], a = xs.weight[x];
      if (sx < 0 || sx >= im.width - 1) {
        const at = base + (sx < 0 ? 0 : im.width - 1) * k;
        for (let c = 0; c < k; c++) h[x * k + c] = src[at + c];
      } else {
        const a0 = f32(1 - a), at = base + sx * k;
        for (let c = 0; c < k; c++) h[x * k + c] = f32(f32(src[at + c] * a0) + f32(src[at + k + c] * a));
      }
    }
    rows.set(r, h);
    return h;
  };
  const clampRow = (r: number) => Math.min(Math.max(r, 0), im.height - 1);
  for (let y = 0; y < height; y++) {
    const sy = ys.at[y], b = ys.weight[y], b0 = f32(1 - b);
    const r0 = row(clampRow(sy)), r1 = row(clampRow(sy + 1));
    for (const r of rows.keys()) if (r < clampRow(sy)) rows.delete(r);
    const o = y * rowLen;
    for (let i = 0; i < rowLen; i++) out.data[o + i] = f32(f32(r0[i] * b0) + f32(r1[i] * b));
  }
  return out;
}

/**
 * cv2's INTER_AREA fast path (resizeAreaFast_Invoker) at whole inverse factors kx x ky: a cell of whole source rows
 * and columns is the float sum of its pixels in row order, 4 at a time (CV_ENABLE_UNROLLED: sum += ((a + b) + c) + d,
 * then the rest one by one), times 1.f / (kx * ky); a cell the right or bottom border cuts (any cell of a destination
 * row whose ky source rows run past the image, else the columns past width / kx), the float sum of its pixels row by
 * row over their count. At 2 x 2 with 1 or 4 channels its SIMD (ResizeAreaFastVec_SIMD_32f, 4 lanes) takes the
 * whole cells first (1 channel: the first multiple of 4 of them): ((a + b) + (c + d)) * 0.25, a and b the top row's.
 */
function areaFast(im: FloatImage, out: FloatImage, kx: number, ky: number): FloatImage {
  const k = im.channels, src = im.data, stride = im.width * k, area = kx * ky, scale = f32(1 / area);
  const ofs = Int32Array.from({ length: area }, (_, i) => Math.floor(i / kx) * stride + (i % kx) * k);
  const whole = Math.floor(im.width / kx); // dwidth1: the cells the right border does not cut
  const simd = kx === 2 && ky === 2 ? (k === 1 ? whole - (whole % 4) : k === 4 ? whole : 0) : 0;
  for (let y = 0; y < out.height; y++) {
    const sy0 = y * ky, w = sy0 + ky <= im.height ? whole : 0;
    for (let x = 0; x < out.width; x++)
      for (let c = 0; c < k; c++) {
        const at = sy0 * stride + x * kx * k + c, o = (y * out.width + x) * k + c;
        let sum = 0;
        if (x < Math.min(w, simd)) {
          const top = f32(src[at] + src[at + k]), bottom = f32(src[at + stride] + src[at + stride + k]);
          out.data[o] = f32(f32(top + bottom) * 0.25);
          continue;
        }
        if (x < w) {
          let i = 0;
          for (; i <= area - 4; i += 4) sum = f32(sum + f32(f32(f32(src[at + ofs[i]] + src[at + ofs[i + 1]]) + src[at + ofs[i + 2]]) + src[at + ofs[i + 3]]));
          for (; i < area; i++) sum = f32(sum + src[at + ofs[i]]);
          out.data[o] = f32(sum * scale);
          continue;
        }
        let count = 0;
        for (let dy = 0; dy < ky && sy0 + dy < im.height; dy++)
          for (let dx = 0; dx < kx && x * kx + dx < im.width; dx++, count++) sum = f32(sum + src[at + dy * stride + dx * k]);
        out.data[o] = f32(sum / count);
      }
  }
  return out;
}

/** resize's test for its fast path: 1 / fx and 1 / fy whole (cv2: within DBL_EPSILON of an int, the same for these). */
function wholeInverse(fx: number, fy: number): boolean {
  return Number.isInteger(1 / fx) && Number.isInteger(1 / fy);
}

/**
 * cv2.resize(im, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) of a float32 image made smaller (makefile/frcnn's
 * frcnn_api.cpp shrinks its test images so), OpenCV 4.5's generic ResizeArea_Invoker: each destination pixel the
 * source pixels its cell covers, weighted by the part covered over the cell's width (computeResizeAreaTab's weights,
 * in double, kept as float), summed along a row in float then those rows down the column in float. Exactly half
 * the size (or any whole inverse factors, 1/3, 1/4, ...) is its fast path, areaFast: another sum order and its own
 * border cells (test/cv-resize-area.test.ts: cv2 4.5.1's own, bit for bit).
 */
export function cvResizeArea(im: FloatImage, fx: number, fy: number): FloatImage {
  if (!(fx > 0 && fx <= 1 && fy > 0 && fy <= 1)) throw new CremaError(`cvResizeArea: INTER_AREA here only shrinks (factors ${fx} x ${fy})`);
  const { width, height, k, out } = resizeTarget('cvResizeArea', im, fx, fy);
  if (width === im.width && height === im.height) return (out.data.set(im.data), out);
  if (wholeInverse(fx, fy)) return areaFast(im, out, 1 / fx, 1 / fy);
  const xs = areaTab(im.width, width, 1 / fx), ys = areaTab(im.height, height, 1 / fy);
  const rowLen = width * k, buf = new Float32Array(rowLen), sum = new Float32Array(rowLen);
  const flush = (dy: number) => out.data.set(sum, dy * rowLen);
  let prev = ys[0]?.d ?? 0;
  for (const { d: dy, s: sy, a: beta } of ys) {
    buf.fill(0);
    const base = sy * im.width * k;
    for (const { d, s, a } of xs) for (let c = 0; c < k; c++) buf[d * k + c] = f32(buf[d * k + c] + f32(im.data[base + s * k + c] * a));
    if (dy !== prev) {
      flush(prev);
      for (let i = 0; i < rowLen; i++) sum[i] = f32(beta * buf[i]);
      prev = dy;
    } else for (let i = 0; i < rowLen; i++) sum[i] = f32(sum[i] + f32(beta * buf[i]));
  }
  flush(prev);
  return out;
}

/** computeResizeAreaTab: each destination index's (d) source indices (s) and weights (a, float32) for a cell of `scale` source pixels. */
function areaTab(src: number, dst: number, scale: number): { d: number; s: number; a: number }[] {
  const tab: { d: number; s: number; a: number }[] = [];
  for (let d = 0; d < dst; d++) {
    const lo = d * scale, hi = lo + scale, cell = Math.min(scale, src - lo);
    const s2 = Math.min(Math.floor(hi), src - 1), s1 = Math.min(Math.ceil(lo), s2);
    if (s1 - lo > 1e-3) tab.push({ d, s: s1 - 1, a: f32((s1 - lo) / cell) });
    for (let s = s1; s < s2; s++) tab.push({ d, s, a: f32(1 / cell) });
    if (hi - s2 > 1e-3) tab.push({ d, s: s2, a: f32(Math.min(Math.min(hi - s2, 1), cell) / cell) });
  }
  return tab;
}
