import { paramsOf } from '../caffe/schema.js';
import { fail } from '../onnx/context.js';
import { shapeString, sizeOf } from '../tensor.js';
import { type LayerType, expectCounts, need } from './layer.js';
import { checkRoiBottoms, roiBatch, roundHalfAway } from './roi_pooling.js';

const f32 = Math.fround;

/**
 * R-FCN's position-sensitive ROI pooling (daijifeng001/caffe-rfcn psroi_pooling_layer.cu; the fork has no CPU
 * forward): bin (i, j) of output channel k averages input channel (k group + i) group + j over its window of the
 * ROI (rounded, + 1 at the end, then scaled; float bin edges floored and ceiled, clipped; 0 when empty).
 * Top: (R, output_dim, group_size, group_size).
 */
export const psroiPoolingLayer: LayerType = {
  type: 'PSROIPooling',
  create(def) {
    expectCounts(def, [2, 2], [1, 1]);
    const p = paramsOf<{ spatial_scale: number; output_dim: number; group_size: number }>(def, 'psroi_pooling_param');
    const g = p.group_size, dim = p.output_dim;
    need(def, g > 0 && dim > 0, () => `psroi_pooling_param needs output_dim and group_size > 0, got ${dim} and ${g}`);
    return {
      reshape(bottoms) {
        const r = checkRoiBottoms(def, bottoms);
        need(def, bottoms[0][1] === dim * g * g, () =>
          `bottom[0] ${shapeString(bottoms[0])} must have output_dim x group_size^2 = ${dim * g * g} channels`);
        return [[r, dim, g, g]];
      },
      forward([x, rois], [top]) {
        const [batch, channels, height, width] = x.dims;
        const s = f32(p.spatial_scale);
        for (let r = 0; r < top.dims[0]; r++) {
          const b = roiBatch(def, rois.data, r, batch);
          const at = (k: number, plus: number) => f32((roundHalfAway(rois.data[r * 5 + k]) + plus) * s);
          const x1 = at(1, 0), y1 = at(2, 0), x2 = at(3, 1), y2 = at(4, 1);
          const binH = f32(Math.max(f32(y2 - y1), 0.1) / g), binW = f32(Math.max(f32(x2 - x1), 0.1) / g);
          for (let k = 0; k < dim; k++)
            for (let i = 0; i < g; i++) {
              const h0 = clip(Math.floor(f32(f32(i * binH) + y1)), height), h1 = clip(Math.ceil(f32(f32((i + 1) * binH) + y1)), height);
              for (let j = 0; j < g; j++) {
                const w0 = clip(Math.floor(f32(f32(j * binW) + x1)), width), w1 = clip(Math.ceil(f32(f32((j + 1) * binW) + x1)), width);
                const base = (b * channels + (k * g + i) * g + j) * height * width;
                top.data[((r * dim + k) * g + i) * g + j] = windowMean(x.data, base, width, h0, h1, w0, w1);
              }
            }
        }
      },
      macs: (_, [t]) => sizeOf(t),
    };
  },
  // ONNX has no position-sensitive ROI pooling; a gather per bin would need the ROIs' sizes, known only at run time.
  onnx: (c) => fail(c, 'PSROIPooling has no exact ONNX form (ONNX has no position-sensitive ROI pooling); crema runs it natively only'),
};

const clip = (v: number, size: number) => Math.min(Math.max(v, 0), size);

function windowMean(x: Float32Array, base: number, width: number, h0: number, h1: number, w0: number, w1: number): number {
  if (h1 <= h0 || w1 <= w0) return 0;
  let sum = 0;
  for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) sum = f32(sum + x[base + h * width + w]);
  return f32(sum / ((h1 - h0) * (w1 - w0)));
}
