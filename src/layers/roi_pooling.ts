import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { float, ints } from '../onnx/builder.js';
import { type LayerContext, fail } from '../onnx/context.js';
import { type Shape, shapeString, sizeOf } from '../tensor.js';
import { expectCounts, LayerError, type LayerType, need, need4d } from './layer.js';

const f32 = Math.fround;

interface RoiPoolingParam {
  pooled_h: number;
  pooled_w: number;
  spatial_scale: number;
  pad_ratio: number;
}

/** C's round(): halves away from zero (Math.round takes -2.5 to -2). */
export const cRound = (v: number) => Math.sign(v) * Math.round(Math.abs(v));

/** Checks the ROIs bottom: R rows of [batch index, x1, y1, x2, y2] (R x 5, or R x 5 x 1 x 1). */
export function checkRois(def: LayerParameter, rois: Shape): void {
  need(def, rois.length >= 2 && sizeOf(rois) === rois[0] * 5, () => `the ROIs (bottom 1) must be (R, 5): [batch index, x1, y1, x2, y2] per row, got ${shapeString(rois)}`);
}

/** ROI n's batch index (truncated, as the forks' int conversion), refused when the features have no such image. */
export function roiBatch(def: LayerParameter, rois: Float32Array, n: number, num: number): number {
  const batch = Math.trunc(rois[n * 5]);
  if (!(batch >= 0 && batch < num)) throw new LayerError(def, `ROI ${n} names batch index ${rois[n * 5]}, but the features have ${num} image(s)`);
  return batch;
}

/** roi_pooling_param as ROIPooling and cascade-rcnn's ROIAlign read it (the pooled sizes checked). */
export function roiPoolingParams(def: LayerParameter): { scale: number; pad: number; ph: number; pw: number } {
  const p = paramsOf<RoiPoolingParam>(def, 'roi_pooling_param');
  need(def, p.pooled_h > 0 && p.pooled_w > 0, () => `pooled_h and pooled_w must be positive, got ${p.pooled_h} and ${p.pooled_w}`);
  return { scale: f32(p.spatial_scale), pad: f32(p.pad_ratio), ph: p.pooled_h, pw: p.pooled_w };
}

/** The top of a layer pooling 4-D features over R ROIs into `h` x `w` bins: (R, C, h, w). */
export function roiTop(def: LayerParameter, x: Shape, rois: Shape, h: number, w: number): Shape {
  expectCounts(def, [2, 2], [1, 1]);
  need4d(def, [x], ['the features']);
  checkRois(def, rois);
  return [rois[0], x[1], h, w];
}

/** ROI n's corners [x1, y1, x2, y2] grown by `pad` of its size (+ 1) each side (cascade-rcnn's pad_ratio), in float. */
export function paddedRoi(r: Float32Array, n: number, pad: number): number[] {
  const [x1, y1, x2, y2] = [r[n * 5 + 1], r[n * 5 + 2], r[n * 5 + 3], r[n * 5 + 4]];
  const padW = pad && f32(f32(f32(x2 - x1) + 1) * pad), padH = pad && f32(f32(f32(y2 - y1) + 1) * pad);
  return [f32(x1 - padW), f32(y1 - padH), f32(x2 + padW), f32(y2 + padH)];
}

/**
 * ROIPooling (rbgirshick/caffe-fast-rcnn, Fast/Faster R-CNN): bottoms (features (N, C, H, W), rois (R, 5) of
 * [batch index, x1, y1, x2, y2] in image pixels); top (R, C, pooled_h, pooled_w), each bin the MAX over its part of
 * the ROI scaled by spatial_scale and rounded, an empty bin 0 (roi_pooling_layer.cpp, in its float arithmetic).
 * zhaoweicai/cascade-rcnn's pad_ratio first grows the ROI by that part of its width (height) each side.
 * ONNX: MaxRoiPool, which ONNX Runtime computes the same way (without pad_ratio).
 */
export const roiPoolingLayer: LayerType = {
  type: 'ROIPooling',
  create(def) {
    const { scale, pad, ph, pw } = roiPoolingParams(def);
    return {
      reshape: ([x, rois]) => [roiTop(def, x, rois, ph, pw)],
      forward([x, rois], [top]) {
        const [num, channels, height, width] = x.dims, plane = height * width;
        const r = rois.data, y = top.data;
        const hBins = new Int32Array(2 * ph), wBins = new Int32Array(2 * pw);
        for (let n = 0; n < rois.dims[0]; n++) {
          const batch = roiBatch(def, r, n, num);
          const [x1, y1, x2, y2] = paddedRoi(r, n, pad).map((v) => cRound(f32(v * scale)));
          bins(y1, y2, ph, height, hBins);
          bins(x1, x2, pw, width, wBins);
          for (let c = 0; c < channels; c++) {
            const xo = (batch * channels + c) * plane, yo = ((n * channels + c) * ph) * pw;
            for (let i = 0; i < ph; i++)
              for (let j = 0; j < pw; j++) y[yo + i * pw + j] = binMax(x.data, xo, width, hBins[2 * i], hBins[2 * i + 1], wBins[2 * j], wBins[2 * j + 1]);
          }
        }
      },
    };
  },
  onnx: roiPoolingToOnnx,
};

/** [start, end) of each bin along one axis: floor / ceil of multiples of the float bin size, offset and clamped. */
function bins(start: number, end: number, pooled: number, size: number, out: Int32Array): void {
  const length = Math.max(end - start + 1, 1);
  const bin = Math.fround(length / pooled);
  const clamp = (v: number) => Math.min(Math.max(v + start, 0), size);
  for (let i = 0; i < pooled; i++) {
    out[2 * i] = clamp(Math.floor(Math.fround(i * bin)));
    out[2 * i + 1] = clamp(Math.ceil(Math.fround((i + 1) * bin)));
  }
}

/** MAX over rows [h0, h1) and columns [w0, w1) of one plane; 0 for an empty bin. */
function binMax(x: Float32Array, xo: number, width: number, h0: number, h1: number, w0: number, w1: number): number {
  if (h1 <= h0 || w1 <= w0) return 0;
  let best = -3.4028234663852886e38; // -FLT_MAX, where the fork starts
  for (let h = h0; h < h1; h++)
    for (let i = xo + h * width + w0, end = xo + h * width + w1; i < end; i++) if (x[i] > best) best = x[i];
  return best;
}

function roiPoolingToOnnx(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf<RoiPoolingParam>(layer.def, 'roi_pooling_param');
  if (p.pad_ratio !== 0) fail(c, `pad_ratio ${p.pad_ratio} (cascade-rcnn's grown ROIs) has no ONNX form in MaxRoiPool; crema runs it natively only`);
  const rois = layer.bottomShapes[1];
  const flat = rois.length === 2 ? c.bottom(1) : c.node('Reshape', [c.bottom(1), c.b.int64s(`${layer.name}/rois_shape`, [rois[0], 5])], [c.tmp('rois')]);
  c.node('MaxRoiPool', [c.bottom(0), flat], [c.top(0)], { pooled_shape: ints([p.pooled_h, p.pooled_w]), spatial_scale: float(p.spatial_scale) });
}
