import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { float, ints } from '../onnx/builder.js';
import { type LayerContext } from '../onnx/context.js';
import { type Shape, shapeString, sizeOf } from '../tensor.js';
import { type LayerType, LayerError, expectCounts, need } from './layer.js';

const f32 = Math.fround;
/** C's round(): halves away from zero (Math.round rounds them up). */
export const roundHalfAway = (v: number) => Math.sign(v) * Math.round(Math.abs(v));

/** Checks (data, rois): data 4-D, rois (R, 5) or (R, 5, 1, 1) as [batch index, x1, y1, x2, y2]. */
export function checkRoiBottoms(def: LayerParameter, [data, rois]: Shape[]): number {
  need(def, data.length === 4, () => `needs a 4-D bottom[0] (num, channels, height, width), got ${shapeString(data)}`);
  need(def, rois.length >= 1 && sizeOf(rois.slice(1)) === 5, () => `bottom[1] holds the ROIs, 5 values each ([batch index, x1, y1, x2, y2]): (R, 5) or (R, 5, 1, 1), got ${shapeString(rois)}`);
  return rois[0];
}

/** The ROI's batch index, checked as Caffe does (CHECK_GE 0, CHECK_LT batch). */
export function roiBatch(def: LayerParameter, rois: Float32Array, r: number, batch: number): number {
  const b = Math.trunc(rois[r * 5]);
  if (!(b >= 0 && b < batch)) throw new LayerError(def, `ROI ${r} has batch index ${rois[r * 5]}, the batch has ${batch} item(s)`);
  return b;
}

/**
 * Fast R-CNN's ROIPooling (rbgirshick/caffe-fast-rcnn roi_pooling_layer.cpp): each ROI, scaled by spatial_scale and
 * rounded, is divided into pooled_h x pooled_w bins (floor/ceil of float bin edges); each bin takes the max of its
 * window, 0 when the window is empty. Top: (R, C, pooled_h, pooled_w).
 */
export const roiPoolingLayer: LayerType = {
  type: 'ROIPooling',
  create(def) {
    expectCounts(def, [2, 2], [1, 1]);
    const p = paramsOf<{ pooled_h: number; pooled_w: number; spatial_scale: number }>(def, 'roi_pooling_param');
    need(def, p.pooled_h > 0 && p.pooled_w > 0, () => `roi_pooling_param needs pooled_h and pooled_w > 0, got ${p.pooled_h} x ${p.pooled_w}`);
    return {
      reshape(bottoms) {
        const r = checkRoiBottoms(def, bottoms);
        return [[r, bottoms[0][1], p.pooled_h, p.pooled_w]];
      },
      forward([x, rois], [top]) {
        const [batch, channels, height, width] = x.dims;
        const plane = height * width, pooled = p.pooled_h * p.pooled_w;
        for (let r = 0; r < top.dims[0]; r++) {
          const b = roiBatch(def, rois.data, r, batch);
          const at = (k: number) => roundHalfAway(f32(rois.data[r * 5 + k] * p.spatial_scale));
          const x1 = at(1), y1 = at(2), x2 = at(3), y2 = at(4);
          const binH = f32(Math.max(y2 - y1 + 1, 1) / p.pooled_h), binW = f32(Math.max(x2 - x1 + 1, 1) / p.pooled_w);
          const hs = edges(p.pooled_h, binH, y1, height), ws = edges(p.pooled_w, binW, x1, width);
          for (let c = 0; c < channels; c++) {
            const src = (b * channels + c) * plane, dst = (r * channels + c) * pooled;
            for (let ph = 0; ph < p.pooled_h; ph++)
              for (let pw = 0; pw < p.pooled_w; pw++)
                top.data[dst + ph * p.pooled_w + pw] = windowMax(x.data, src, width, hs[2 * ph], hs[2 * ph + 1], ws[2 * pw], ws[2 * pw + 1]);
          }
        }
      },
      macs: (_, [t]) => sizeOf(t),
    };
  },
  onnx: roiPoolingToOnnx,
};

/** Start and end of each bin along one axis: [floor(i bin), ceil((i + 1) bin)) + offset, clipped to [0, size]. */
function edges(count: number, bin: number, offset: number, size: number): Int32Array {
  const e = new Int32Array(2 * count);
  const clip = (v: number) => Math.min(Math.max(v + offset, 0), size);
  for (let i = 0; i < count; i++) {
    e[2 * i] = clip(Math.floor(f32(i * bin)));
    e[2 * i + 1] = clip(Math.ceil(f32((i + 1) * bin)));
  }
  return e;
}

function windowMax(x: Float32Array, base: number, width: number, h0: number, h1: number, w0: number, w1: number): number {
  if (h1 <= h0 || w1 <= w0) return 0;
  let m = -3.4028234663852886e38; // Caffe starts from -FLT_MAX
  for (let h = h0; h < h1; h++)
    for (let i = base + h * width + w0, end = base + h * width + w1; i < end; i++) if (x[i] > m) m = x[i];
  return m;
}

/** ONNX's MaxRoiPool computes Fast R-CNN's ROI pooling (its rounding, bins and empty windows). */
function roiPoolingToOnnx(c: LayerContext): void {
  const p = paramsOf<{ pooled_h: number; pooled_w: number; spatial_scale: number }>(c.layer.def, 'roi_pooling_param');
  const rois = c.layer.bottomShapes[1];
  const r = rois.length === 2 ? c.bottom(1) : c.node('Reshape', [c.bottom(1), c.b.int64s(`${c.layer.name}/rois_shape`, [rois[0], 5])], [c.tmp('rois')]);
  c.node('MaxRoiPool', [c.bottom(0), r], [c.top(0)], { pooled_shape: ints([p.pooled_h, p.pooled_w]), spatial_scale: float(p.spatial_scale) });
}
