import { type LayerContext, reduce, runtimeAxesCopied, withScalar } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, shapeString, sizeOf } from '../tensor.js';
import { type Layer, type LayerType, expectCounts, need } from './layer.js';

/**
 * MVN: subtracts the mean of each item's channel (or, across_channels, of each whole item) and, with
 * normalize_variance, divides by (std + eps): Caffe adds eps to the standard deviation, not the variance.
 * Caffe shapes the top through the legacy 4-D accessors, so a bottom with fewer axes gives an (N, C, H, W)
 * top padded with 1s, and more than 4 axes is refused.
 */
export const mvnLayer: LayerType = {
  type: 'MVN',
  onnx: mvnToOnnx,
  create(def: LayerParameter): Layer {
    expectCounts(def, [1, 1], [1, 1]);
    const p = paramsOf(def, 'mvn_param');
    const normalizeVariance: boolean = p.normalize_variance, acrossChannels: boolean = p.across_channels;
    const eps: number = p.eps;
    return {
      inPlace: true,
      reshape(bottoms: Shape[]): Shape[] {
        const shape = bottoms[0];
        need(def, shape.length <= 4, () => `works on blobs of at most 4 axes (Caffe's legacy N, C, H, W), got ${shapeString(shape)}`);
        return [[0, 1, 2, 3].map((i) => shape[i] ?? 1)];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        const dims = tops[0].dims;
        const groups = acrossChannels ? dims[0] : dims[0] * dims[1];
        const dim = groups === 0 ? 0 : bottoms[0].size / groups;
        const x = bottoms[0].data, y = tops[0].data;
        for (let g = 0; g < groups; g++) normalizeGroup(x, y, g * dim, dim, normalizeVariance, eps);
      },
      macs: (bottoms: Shape[]) => sizeOf(bottoms[0]),
    };
  },
};

/** One group's y = (x - mean) [/ (std + eps)]; reads each x before writing it, so safe in place. */
function normalizeGroup(x: Float32Array, y: Float32Array, start: number, dim: number, scaleVariance: boolean, eps: number): void {
  const end = start + dim;
  let sum = 0;
  for (let i = start; i < end; i++) sum += x[i];
  const mean = Math.fround(sum / dim);
  let sq = 0;
  for (let i = start; i < end; i++) {
    const centred = Math.fround(x[i] - mean);
    y[i] = centred;
    sq += centred * centred;
  }
  if (!scaleVariance) return;
  const denom = Math.fround(Math.sqrt(sq / dim) + eps);
  for (let i = start; i < end; i++) y[i] /= denom;
}

function mvnToOnnx(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'mvn_param');
  const top = layer.topShapes[0];
  // Caffe shapes MVN's top as (N, C, H, W), padding a shorter bottom with 1s.
  const x = layer.bottomShapes[0].length === 4 ? c.bottom(0) : c.node('Reshape', [c.bottom(0), c.b.int64s(`${layer.name}/nchw`, runtimeAxesCopied(c, top))], [c.tmp('nchw')]);
  const axes = p.across_channels ? [1, 2, 3] : [2, 3];
  const mean = reduce(c, 'ReduceMean', x, axes, true, c.tmp('mean'));
  if (!p.normalize_variance) {
    c.node('Sub', [x, mean], [c.top(0)]);
    return;
  }
  const centred = c.node('Sub', [x, mean], [c.tmp('centred')]);
  const variance = reduce(c, 'ReduceMean', c.node('Mul', [centred, centred], [c.tmp('squared')]), axes, true, c.tmp('variance'));
  // Caffe adds eps to the standard deviation, not to the variance.
  const denominator = withScalar(c, 'Add', c.node('Sqrt', [variance], [c.tmp('std')]), p.eps as number);
  c.node('Div', [centred, denominator], [c.top(0)]);
}
