import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { int, ints } from '../onnx/builder.js';
import type { LayerContext } from '../onnx/context.js';
import { type Shape, type Tensor, shapeString, sizeOf } from '../tensor.js';
import { type LayerType, expectCounts, expectWeight, need } from './layer.js';

interface BNParam {
  bn_mode: 'LEARN' | 'INFERENCE';
  eps: number;
}

/** Fields only one fork's BNParameter has: a layer that names one is that fork's. */
const SEGNET_FIELDS = ['bn_mode', 'scale_filler', 'shift_filler'];
const PSPNET_FIELDS = ['slope_filler', 'bias_filler', 'momentum', 'eps', 'frozen', 'engine'];

/** caffe-segnet: blobs (scale, shift); PSPNet: (slope, bias, mean, variance). */
type Fork = 'segnet' | 'pspnet';

/** The fork whose BN this is: by the blob count (2 or 4) when there are weights, else by the fields named. */
function forkOf(def: LayerParameter, weights: Tensor[]): Fork {
  const raw = (def.bn_param ?? {}) as Record<string, unknown>;
  const named = (fields: string[]) => fields.filter((f) => raw[f] !== undefined);
  const segnet = named(SEGNET_FIELDS), pspnet = named(PSPNET_FIELDS);
  need(def, segnet.length === 0 || pspnet.length === 0, () => `mixes caffe-segnet's bn_param fields (${segnet.join(', ')}) with PSPNet's (${pspnet.join(', ')})`);
  if (weights.length === 0) return pspnet.length > 0 ? 'pspnet' : 'segnet';
  need(def, weights.length === 2 || weights.length === 4, () =>
    `has ${weights.length} weight blobs; BN has 2 (caffe-segnet: scale, shift) or 4 (PSPNet: slope, bias, mean, variance)`);
  const fork: Fork = weights.length === 2 ? 'segnet' : 'pspnet';
  const foreign = fork === 'segnet' ? pspnet : segnet;
  need(def, foreign.length === 0, () => `its weights are ${fork === 'segnet' ? "caffe-segnet's (2 blobs)" : "PSPNet's (4 blobs)"} but bn_param names ${foreign.join(', ')}, which only the other fork has`);
  return fork;
}

/** SegNet's LEARN mode divides by sqrt(var + 1e-9) (var_eps_ is fixed in bn_layer.cpp). */
const SEGNET_EPS = 1e-9;

/**
 * BN, the fused normalize-scale-shift layer of the segmentation forks, per channel (axis 1):
 * - caffe-segnet (SegNet, ENet): bn_mode INFERENCE: y = x * scale + shift; LEARN (the default, also at test time):
 *   the batch's own mean and variance (E[x^2] - E[x]^2 over num and space, eps 1e-9) normalize x first, and
 *   optional tops 1 and 2 get that mean and variance (1, C, 1, 1).
 * - hszhao/PSPNet: y = (x - mean) / sqrt(var + eps) * slope + bias with the stored statistics (TEST phase).
 * The fork is told by the blob count (2 or 4). ONNX: Mul + Add by per-channel constants (LEARN: the statistics
 * computed with ReduceMean).
 */
export const bnLayer: LayerType = {
  type: 'BN',
  create(def, weights) {
    const fork = forkOf(def, weights);
    const p = paramsOf<BNParam>(def, 'bn_param');
    const learn = fork === 'segnet' && p.bn_mode === 'LEARN';
    let affine: { a: Float32Array; b: Float32Array } | undefined;
    return {
      inPlace: true,
      reshape([shape]) {
        expectCounts(def, [1, 1], [1, learn ? 3 : 1]);
        need(def, shape.length >= 2, () => `needs a bottom with channels (axis 1), got ${shapeString(shape)}`);
        const blobs = channelBlobs(def, weights, fork, shape[1]);
        affine = learn || weights.length === 0 ? undefined : storedAffine(blobs, fork, p.eps);
        return (def.top ?? []).map((_, i) => (i === 0 ? shape : [1, shape[1], 1, 1]));
      },
      forward([bottom], tops) {
        const [num, channels] = bottom.dims, plane = sizeOf(bottom.dims.slice(2));
        if (affine) {
          scaleShift(bottom.data, tops[0].data, num, channels, plane, affine.a, affine.b);
          return;
        }
        const [scale, shift] = [weights[0].data, weights[1].data];
        const { mean, variance } = batchStatistics(bottom.data, num, channels, plane);
        tops[1]?.data.set(mean);
        tops[2]?.data.set(variance);
        const a = new Float32Array(channels), b = new Float32Array(channels);
        for (let ch = 0; ch < channels; ch++) {
          a[ch] = scale[ch] / Math.sqrt(variance[ch] + SEGNET_EPS);
          b[ch] = shift[ch] - mean[ch] * a[ch];
        }
        scaleShift(bottom.data, tops[0].data, num, channels, plane, a, b);
      },
    };
  },
  onnx: bnToOnnx,
};

/** Checks the blobs (each (1, C, 1, 1), or C) and returns their data. */
function channelBlobs(def: LayerParameter, weights: Tensor[], fork: Fork, channels: number): Float32Array[] {
  const names = fork === 'segnet' ? ['the scale', 'the shift'] : ['the slope', 'the bias', 'the mean', 'the variance'];
  return names.map((what, i) => expectWeight(def, weights, i, what, [1, channels, 1, 1]).data);
}

/** y = a x + b per channel for the stored parameters: SegNet INFERENCE (scale, shift) or PSPNet (folded statistics). */
function storedAffine(blobs: Float32Array[], fork: Fork, eps: number): { a: Float32Array; b: Float32Array } {
  if (fork === 'segnet') return { a: blobs[0], b: blobs[1] };
  const [slope, bias, mean, variance] = blobs;
  const a = new Float32Array(slope.length), b = new Float32Array(slope.length);
  for (let ch = 0; ch < a.length; ch++) {
    const invStd = Math.fround(Math.pow(Math.fround(variance[ch] + Math.fround(eps)), -0.5)); // powf in float, as the fork
    a[ch] = slope[ch] * invStd;
    b[ch] = bias[ch] - mean[ch] * invStd * slope[ch];
  }
  return { a, b };
}

function scaleShift(x: Float32Array, y: Float32Array, num: number, channels: number, plane: number, a: Float32Array, b: Float32Array): void {
  for (let n = 0; n < num; n++)
    for (let ch = 0; ch < channels; ch++) {
      const s = a[ch], t = b[ch];
      for (let i = (n * channels + ch) * plane, end = i + plane; i < end; i++) y[i] = x[i] * s + t;
    }
}

/** Mean and E[x^2] - mean^2 per channel over num and space (sums in double). */
function batchStatistics(x: Float32Array, num: number, channels: number, plane: number): { mean: Float32Array; variance: Float32Array } {
  const mean = new Float32Array(channels), variance = new Float32Array(channels);
  for (let ch = 0; ch < channels; ch++) {
    let sum = 0, squares = 0;
    for (let n = 0; n < num; n++)
      for (let i = (n * channels + ch) * plane, end = i + plane; i < end; i++) {
        sum += x[i];
        squares += x[i] * x[i];
      }
    const m = sum / (num * plane);
    mean[ch] = m;
    variance[ch] = squares / (num * plane) - m * m;
  }
  return { mean, variance };
}

function bnToOnnx(c: LayerContext): void {
  const { layer } = c;
  const def = layer.def, x: Shape = layer.bottomShapes[0];
  const fork = forkOf(def, layer.weights);
  const p = paramsOf<BNParam>(def, 'bn_param');
  const blobs = channelBlobs(def, layer.weights, fork, x[1]);
  const perChannel: Shape = [x[1], ...x.slice(2).map(() => 1)];
  if (fork === 'pspnet' || p.bn_mode === 'INFERENCE') {
    const { a, b } = storedAffine(blobs, fork, p.eps);
    const scaled = c.node('Mul', [c.bottom(0), c.b.floats(`${layer.name}/scale`, a, perChannel)], [c.tmp('scaled')]);
    c.node('Add', [scaled, c.b.floats(`${layer.name}/shift`, b, perChannel)], [c.top(0)]);
    return;
  }
  // LEARN: the batch statistics, as the native forward computes them.
  const axes = [0, ...x.slice(2).map((_, i) => i + 2)];
  const reduceMean = (value: string, what: string, out?: string) =>
    c.opset >= 18
      ? c.node('ReduceMean', [value, c.b.int64s(`${layer.name}/axes`, axes)], [out ?? c.tmp(what)], { keepdims: int(1) })
      : c.node('ReduceMean', [value], [out ?? c.tmp(what)], { axes: ints(axes), keepdims: int(1) });
  const mean = reduceMean(c.bottom(0), 'mean');
  const meanOfSquares = reduceMean(c.node('Mul', [c.bottom(0), c.bottom(0)], [c.tmp('squares')]), 'mean_of_squares');
  const variance = c.node('Sub', [meanOfSquares, c.node('Mul', [mean, mean], [c.tmp('mean_squared')])], [c.tmp('variance')]);
  const std = c.node('Sqrt', [c.node('Add', [variance, c.b.scalar(SEGNET_EPS)], [c.tmp('variance_eps')])], [c.tmp('std')]);
  const normalized = c.node('Div', [c.node('Sub', [c.bottom(0), mean], [c.tmp('centered')]), std], [c.tmp('normalized')]);
  const scaled = c.node('Mul', [normalized, c.b.floats(`${layer.name}/scale`, blobs[0], perChannel)], [c.tmp('scaled')]);
  c.node('Add', [scaled, c.b.floats(`${layer.name}/shift`, blobs[1], perChannel)], [c.top(0)]);
  const statShape = c.b.int64s(`${layer.name}/stat_shape`, [1, x[1], 1, 1]);
  if (layer.tops.length > 1) c.node('Reshape', [mean, statShape], [c.top(1)]);
  if (layer.tops.length > 2) c.node('Reshape', [variance, statShape], [c.top(2)]);
}
