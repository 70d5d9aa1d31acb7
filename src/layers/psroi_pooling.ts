import { fail } from '../onnx/context.js';
import { shapeString } from '../tensor.js';
import { type LayerType, expectCounts, need } from './layer.js';
import { cRound, checkRois, roiBatch } from './roi_pooling.js';

interface PsroiPoolingParam {
  spatial_scale?: number;
  output_dim?: number;
  group_size?: number;
}


/**
 * PSROIPooling (daijifeng001/caffe-rfcn, R-FCN): position-sensitive average pooling. Bottoms (score maps
 * (N, output_dim * group^2, H, W), rois (R, 5) of [batch index, x1, y1, x2, y2]); top (R, output_dim, group, group):
 * bin (i, j) of output channel c averages channel (c * group + i) * group + j over its part of the ROI, whose corners
 * are rounded, then scaled, the far ones one pixel further (psroi_pooling_layer.cu, the fork's only forward; its
 * float arithmetic kept). An empty bin is 0. No ONNX operator computes it: refused by name in ONNX export.
 */
export const psroiPoolingLayer: LayerType = {
  type: 'PSROIPooling',
  create(def) {
    // All three fields are `required` in the fork's caffe.proto: no defaults.
    const p = (def.psroi_pooling_param ?? {}) as PsroiPoolingParam;
    need(def, p.spatial_scale !== undefined && p.output_dim !== undefined && p.group_size !== undefined, 'psroi_pooling_param needs spatial_scale, output_dim and group_size');
    const scale = Math.fround(p.spatial_scale!), outputDim = p.output_dim!, group = p.group_size!;
    need(def, outputDim > 0 && group > 0, () => `output_dim and group_size must be positive, got ${outputDim} and ${group}`);
    return {
      reshape([x, rois]) {
        expectCounts(def, [2, 2], [1, 1]);
        need(def, x.length === 4, () => `needs 4-D score maps (num, channels, height, width), got ${shapeString(x)}`);
        need(def, x[1] === outputDim * group * group, () => `has ${x[1]} input channels but output_dim x group_size^2 is ${outputDim * group * group}`);
        checkRois(def, rois);
        return [[rois[0], outputDim, group, group]];
      },
      forward([x, rois], [top]) {
        const [num, channels, height, width] = x.dims, plane = height * width;
        const r = rois.data, y = top.data;
        const hBins = new Int32Array(2 * group), wBins = new Int32Array(2 * group);
        for (let n = 0; n < rois.dims[0]; n++) {
          const batch = roiBatch(def, r, n, num);
          psBins(r[n * 5 + 2], r[n * 5 + 4], scale, group, height, hBins);
          psBins(r[n * 5 + 1], r[n * 5 + 3], scale, group, width, wBins);
          for (let c = 0; c < outputDim; c++)
            for (let i = 0; i < group; i++)
              for (let j = 0; j < group; j++) {
                const xo = (batch * channels + (c * group + i) * group + j) * plane;
                y[((n * outputDim + c) * group + i) * group + j] = binMean(x.data, xo, width, hBins[2 * i], hBins[2 * i + 1], wBins[2 * j], wBins[2 * j + 1]);
              }
        }
      },
    };
  },
  onnx: (c) => fail(c, 'PSROIPooling has no ONNX operator (position-sensitive average pooling over ROIs given at run time); crema runs it natively only'),
};

/** [start, end) of each bin along one axis, in the fork's float arithmetic, clamped to [0, size]. */
function psBins(from: number, to: number, scale: number, group: number, size: number, out: Int32Array): void {
  const start = Math.fround(cRound(from) * scale);
  const end = Math.fround(Math.fround(cRound(to) + 1) * scale);
  const length = Math.fround(Math.max(Math.fround(end - start), 0.1)); // too small a ROI counts as 0.1 pixel
  const bin = Math.fround(length / group);
  const clamp = (v: number) => Math.min(Math.max(v, 0), size);
  for (let i = 0; i < group; i++) {
    out[2 * i] = clamp(Math.floor(Math.fround(Math.fround(i * bin) + start)));
    out[2 * i + 1] = clamp(Math.ceil(Math.fround(Math.fround((i + 1) * bin) + start)));
  }
}

/** The mean over rows [h0, h1) and columns [w0, w1) of one plane, summed in float as the fork; 0 for an empty bin. */
function binMean(x: Float32Array, xo: number, width: number, h0: number, h1: number, w0: number, w1: number): number {
  if (h1 <= h0 || w1 <= w0) return 0;
  let sum = 0;
  for (let h = h0; h < h1; h++)
    for (let i = xo + h * width + w0, end = xo + h * width + w1; i < end; i++) sum = Math.fround(sum + x[i]);
  return Math.fround(sum / Math.fround((h1 - h0) * (w1 - w0)));
}
