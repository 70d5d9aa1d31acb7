import type { LayerParameter } from '../caffe/types.js';
import type { Message } from '../caffe/message.js';
import { paramsOf } from '../caffe/schema.js';
import { type LayerContext, reduce, withScalar } from '../onnx/context.js';
import { float } from '../onnx/builder.js';
import { pointwiseWasm } from '../kernels/pointwise.js';
import { type Shape, type Tensor, shapeString, sizeOf } from '../tensor.js';
import { countRange, expectAtMostBlobs, hasParam } from './axes.js';
import { type Layer, type LayerType, expectCounts, expectWeight, need } from './layer.js';

/**
 * BatchNorm: y = (x - mean[c]) / sqrt(var[c] + eps) per channel (axis 1). With use_global_stats (the default
 * at TEST) mean and var are the stored sums divided by the stored factor (blobs 0, 1, 2; a factor of 0 gives
 * 0). Without it, mean and (biased) var are the batch's own over N and the spatial axes, as Caffe trains.
 * The affine part is a separate Scale layer.
 */
export const batchNormLayer: LayerType = {
  type: 'BatchNorm',
  onnx: batchNormToOnnx,
  create(def: LayerParameter, weights: Tensor[]): Layer {
    expectCounts(def, [1, 1], [1, 1]);
    const p = paramsOf(def, 'batch_norm_param');
    const globalStats: boolean = hasParam(def, 'batch_norm_param', 'use_global_stats') ? p.use_global_stats : (def.phase ?? 'TEST') === 'TEST';
    const eps: number = p.eps;
    expectAtMostBlobs(def, 3, weights.length, 'mean, variance, moving-average factor');
    let mean = new Float32Array(0), std = new Float32Array(0);
    let stored: Tensor[] = [];
    return {
      inPlace: true,
      reshape(bottoms: Shape[]): Shape[] {
        const shape = bottoms[0];
        need(def, shape.length >= 2, () => `needs a bottom with a channel axis (N, C, ...), got ${shapeString(shape)}`);
        const channels = shape[1];
        // Batch statistics need no stored blobs, but a file that has them must still fit (Caffe copies them in).
        if (globalStats || weights.length > 0)
          stored = [
            expectWeight(def, weights, 0, 'mean', [channels]),
            expectWeight(def, weights, 1, 'variance', [channels]),
            expectWeight(def, weights, 2, 'moving-average factor', [1]),
          ];
        mean = new Float32Array(channels);
        std = new Float32Array(channels);
        return [[...shape]];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        const x = bottoms[0];
        const spatial = countRange(x.dims, 2);
        if (globalStats) storedNormalization(stored, eps, mean, std);
        else {
          batchStatistics(x.data, x.dims[0], spatial, mean, std);
          for (let c = 0; c < std.length; c++) std[c] = Math.sqrt(std[c] + eps);
        }
        normalize(x.data, tops[0].data, x.dims[0], spatial, mean, std);
      },
      macs: (bottoms: Shape[]) => sizeOf(bottoms[0]),
    };
  },
};

/**
 * mean = b0 / b2 and std = sqrt(b1 / b2 + eps), each rounded to float as Caffe's float blobs hold them (Caffe
 * multiplies by 1/b2, and by 0 when b2 is 0). Also src/runtime/fold.ts, for a BatchNorm chain in one pass.
 */
export function storedNormalization([sums, squares, factor]: Tensor[], eps: number, mean: Float32Array, std: Float32Array): void {
  const f = factor.data[0] === 0 ? 0 : Math.fround(1 / factor.data[0]);
  for (let c = 0; c < mean.length; c++) {
    mean[c] = sums.data[c] * f;
    std[c] = squares.data[c] * f;
    std[c] = Math.sqrt(std[c] + eps);
  }
}

/** The batch's per-channel mean and biased variance E((x - mean)^2), over N and the spatial positions. */
function batchStatistics(x: Float32Array, num: number, spatial: number, mean: Float32Array, variance: Float32Array): void {
  const channels = mean.length, m = num * spatial;
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let n = 0; n < num; n++) for (let i = (n * channels + c) * spatial, end = i + spatial; i < end; i++) sum += x[i];
    const mu = sum / m;
    let sq = 0;
    for (let n = 0; n < num; n++)
      for (let i = (n * channels + c) * spatial, end = i + spatial; i < end; i++) sq += (x[i] - mu) * (x[i] - mu);
    mean[c] = mu;
    variance[c] = sq / m;
  }
}

/** y = (x - mean[c]) / std[c]; safe in place. */
function normalize(x: Float32Array, y: Float32Array, num: number, spatial: number, mean: Float32Array, std: Float32Array): void {
  const channels = mean.length;
  if (spatial > 0 && pointwiseWasm(x, y, num * channels, spatial, channels, { norm: { mean, std } })) return;
  let at = 0;
  for (let n = 0; n < num; n++)
    for (let c = 0; c < channels; c++) {
      const mu = mean[c], s = std[c];
      // Caffe's two float passes: the difference rounded to float, then the quotient (rounded as it is stored).
      for (const end = at + spatial; at < end; at++) y[at] = Math.fround(x[at] - mu) / s;
    }
}

/** BatchNormalization with Caffe's running sums divided by the factor; with batch statistics, the subgraph below. */
function batchNormToOnnx(c: LayerContext): void {
  const { layer } = c;
  const def = layer.def;
  const p = paramsOf(def, 'batch_norm_param');
  const x = layer.bottomShapes[0];
  const eps = p.eps as number;
  const useGlobal = (def.batch_norm_param as Message | undefined)?.use_global_stats ?? def.phase !== 'TRAIN';
  if (!useGlobal) {
    batchStatsNorm(c, x, eps);
    return;
  }
  const channels = x.length > 1 ? x[1] : 1;
  const mean = expectWeight(def, layer.weights, 0, 'mean', [channels]).data;
  const variance = expectWeight(def, layer.weights, 1, 'variance', [channels]).data;
  const factor = expectWeight(def, layer.weights, 2, 'moving average factor', [1]).data[0];
  // Caffe stores running sums: the statistics are blob / factor, and all zero when the factor is 0.
  const scale = factor === 0 ? 0 : Math.fround(1 / factor);
  const m = new Float32Array(channels), v = new Float32Array(channels);
  for (let i = 0; i < channels; i++) {
    m[i] = mean[i] * scale;
    v[i] = variance[i] * scale;
  }
  const ones = new Float32Array(channels).fill(1), zeros = new Float32Array(channels);
  c.node('BatchNormalization', [
    c.bottom(0),
    c.b.floats(`${layer.name}/gamma`, ones, [channels]),
    c.b.floats(`${layer.name}/beta`, zeros, [channels]),
    c.b.floats(`${layer.name}/mean`, m, [channels]),
    c.b.floats(`${layer.name}/variance`, v, [channels]),
  ], [c.top(0)], { epsilon: float(eps) });
}

/** BatchNorm with use_global_stats false: normalizes with this batch's mean and (biased) variance. */
function batchStatsNorm(c: LayerContext, x: Shape, eps: number): void {
  const axes = [0, ...Array.from({ length: x.length - 2 }, (_, i) => i + 2)];
  const reduceMean = (v: string, what: string): string => reduce(c, 'ReduceMean', v, axes, true, c.tmp(what));
  const mean = reduceMean(c.bottom(0), 'batch_mean');
  const centered = c.node('Sub', [c.bottom(0), mean], [c.tmp('centered')]);
  const variance = reduceMean(c.node('Mul', [centered, centered], [c.tmp('squared')]), 'batch_variance');
  const std = c.node('Sqrt', [withScalar(c, 'Add', variance, eps)], [c.tmp('std')]);
  c.node('Div', [centered, std], [c.top(0)]);
}
