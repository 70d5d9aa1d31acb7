import { paramsOf } from '../caffe/schema.js';
import { normalizeChannelsWasm } from '../kernels/normalize.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
import { expectAtMostBlobs } from './axes.js';
import type { LayerParameter } from '../caffe/types.js';
import { type Layer, type LayerType, expectCounts, expectWeight, need } from './layer.js';
import { ints } from '../onnx/builder.js';
import { type LayerContext, runtimeAxesCopied } from '../onnx/context.js';

/** (num, channels, spatial) of a 2- to 4-D blob, as Caffe's legacy num()/channels()/height()*width() see it. */
function layout(shape: Shape): [number, number, number] {
  return [shape[0], shape[1], (shape[2] ?? 1) * (shape[3] ?? 1)];
}

/**
 * The SSD fork's Normalize (normalize_layer.cpp): x / sqrt(sum x^2 + eps), the sum over each image
 * (across_spatial) or over the channels at each position, times a learned scale (one value, or one per channel).
 * Over the channels on the wasm engine in the fork's float steps (src/kernels/normalize.ts), else here in double.
 */
export const normalizeLayer: LayerType = {
  type: 'Normalize',
  create(def, weights) {
    if (def.normalize_param !== undefined) return featureNormalize(def, weights.length);
    expectCounts(def, [1, 1], [1, 1]);
    const p = paramsOf(def, 'norm_param');
    const acrossSpatial: boolean = p.across_spatial, shared: boolean = p.channel_shared, eps: number = p.eps;
    expectAtMostBlobs(def, 1, weights.length, 'the scale');
    let scale: Float32Array = new Float32Array(0);
    return {
      inPlace: true,
      reshape([shape]) {
        need(def, shape.length >= 2 && shape.length <= 4, () => `needs a 2- to 4-D bottom, got ${shapeString(shape)}`);
        // The fork's blob: 0-D when shared (vector<int>(0)), one a channel else; net.params reads it so.
        scale = expectWeight(def, weights, 0, 'the scale', shared ? [] : [shape[1]]).data;
        return [shape];
      },
      forward([bottom], [top]) {
        const [num, channels, spatial] = layout(bottom.dims);
        if (!acrossSpatial && normalizeChannelsWasm(bottom.data, top.data, num, channels, spatial, scale, eps)) return;
        for (let n = 0; n < num; n++) {
          const at = n * channels * spatial;
          if (acrossSpatial) normalizeImage(bottom.data, top.data, at, channels * spatial, eps);
          else normalizePositions(bottom.data, top.data, at, channels, spatial, eps);
          scaleImage(top.data, at, channels, spatial, scale);
        }
      },
      macs([shape]) {
        return 3 * shape.reduce((a, b) => a * b, 1);
      },
    };
  },
  onnx: (c) => (c.layer.def.normalize_param !== undefined ? featureNormalizeToOnnx(c) : normalizeToOnnx(c)),
};

/**
 * happynear/caffe-windows' Normalize (normalize_param; NormFace's and AM-Softmax's face features), normalize_layer.cpp:
 * at each position, norm = sqrt(sum_c x^2 + 1e-6) (L2) or sum_c |x| + 1e-6 (L1), the sums in float in channel
 * order, y = x / norm; a second top gets the norm (N x 1 x H x W). Its tops are 4-D, as the fork's legacy
 * Reshape(num, channels, height, width) makes them (a face feature N x C becomes N x C x 1 x 1). No blobs.
 */
function featureNormalize(def: LayerParameter, blobs: number): Layer {
  expectCounts(def, [1, 1], [1, 2]);
  const type = paramsOf(def, 'normalize_param').normalize_type as string;
  need(def, type === 'L2' || type === 'L1', () => `normalize_type '${type}': the fork computes L2 and L1`);
  expectAtMostBlobs(def, 0, blobs, 'none: it has no weights');
  return {
    reshape([shape]) {
      need(def, shape.length >= 2 && shape.length <= 4, () => `needs a 2- to 4-D bottom, got ${shapeString(shape)}`);
      const [n, c, h, w] = [shape[0], shape[1], shape[2] ?? 1, shape[3] ?? 1];
      return [[n, c, h, w], [n, 1, h, w]].slice(0, def.top!.length);
    },
    forward([bottom], [top, normTop]) {
      const [num, channels, spatial] = layout(bottom.dims);
      const x = bottom.data, y = top.data, fround = Math.fround, l2 = type === 'L2';
      for (let n = 0; n < num; n++) {
        const at = n * channels * spatial;
        for (let s = 0; s < spatial; s++) {
          let norm = 0;
          for (let c = 0; c < channels; c++) {
            const v = x[at + c * spatial + s];
            norm = fround(norm + (l2 ? fround(v * v) : Math.abs(v)));
          }
          norm = fround(norm + 1e-6);
          if (l2) norm = fround(Math.sqrt(norm));
          for (let c = 0; c < channels; c++) y[at + c * spatial + s] = x[at + c * spatial + s] / norm;
          if (normTop) normTop.data[n * spatial + s] = norm;
        }
      }
    },
  };
}

/** x / norm over the channels (ReduceSumSquare then Sqrt, or ReduceL1), the tops 4-D; the norm the second top. */
function featureNormalizeToOnnx(c: LayerContext): void {
  const { layer } = c;
  const l2 = paramsOf(layer.def, 'normalize_param').normalize_type === 'L2';
  const shape = layer.bottomShapes[0], top = layer.topShapes[0];
  const x = shape.length === 4 ? c.bottom(0) : c.node('Reshape', [c.bottom(0), c.b.int64s(`${layer.name}/shape4`, runtimeAxesCopied(c, top))], [c.tmp('x4')]);
  const reduce = (op: string) => c.opset >= 18
    ? c.node(op, [x, c.b.int64s(`${layer.name}/axes`, [1])], [c.tmp('sum')], { keepdims: { int: 1 } })
    : c.node(op, [x], [c.tmp('sum')], { axes: ints([1]), keepdims: { int: 1 } });
  const plus = c.node('Add', [reduce(l2 ? 'ReduceSumSquare' : 'ReduceL1'), c.b.scalar(1e-6)], [l2 ? c.tmp('plus_eps') : layer.tops.length > 1 ? c.top(1) : c.tmp('norm')]);
  const norm = l2 ? c.node('Sqrt', [plus], [layer.tops.length > 1 ? c.top(1) : c.tmp('norm')]) : plus;
  c.node('Div', [x, norm], [c.top(0)]);
}

/** One image over all its values: y = x * (1 / sqrt(sum x^2 + eps)), the factor rounded to float as the fork does. */
function normalizeImage(x: Float32Array, y: Float32Array, at: number, count: number, eps: number): void {
  let sum = 0;
  for (let i = at; i < at + count; i++) sum += x[i] * x[i];
  const factor = Math.fround(1 / Math.fround(Math.sqrt(Math.fround(sum) + eps)));
  for (let i = at; i < at + count; i++) y[i] = x[i] * factor;
}

/** Each position over the channels: y = x / sqrt(eps + sum_c x^2). */
function normalizePositions(x: Float32Array, y: Float32Array, at: number, channels: number, spatial: number, eps: number): void {
  const norms = new Float64Array(spatial).fill(eps);
  for (let c = 0; c < channels; c++) {
    const row = at + c * spatial;
    for (let s = 0; s < spatial; s++) norms[s] += x[row + s] * x[row + s];
  }
  for (let s = 0; s < spatial; s++) norms[s] = Math.fround(Math.sqrt(Math.fround(norms[s])));
  for (let c = 0; c < channels; c++) {
    const row = at + c * spatial;
    for (let s = 0; s < spatial; s++) y[row + s] = x[row + s] / norms[s];
  }
}

function scaleImage(y: Float32Array, at: number, channels: number, spatial: number, scale: Float32Array): void {
  for (let c = 0; c < channels; c++) {
    const factor = scale.length === 1 ? scale[0] : scale[c], row = at + c * spatial;
    for (let s = 0; s < spatial; s++) y[row + s] *= factor;
  }
}

/** x / sqrt(ReduceSumSquare + eps) * scale, the sum over (C, H, W) or over C. */
function normalizeToOnnx(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'norm_param');
  const shape = layer.bottomShapes[0];
  const axes = p.across_spatial ? shape.map((_, i) => i).slice(1) : [1];
  const sumSq = c.opset >= 18
    ? c.node('ReduceSumSquare', [c.bottom(0), c.b.int64s(`${layer.name}/axes`, axes)], [c.tmp('sum_squares')], { keepdims: { int: 1 } })
    : c.node('ReduceSumSquare', [c.bottom(0)], [c.tmp('sum_squares')], { axes: ints(axes), keepdims: { int: 1 } });
  const norm = c.node('Sqrt', [c.node('Add', [sumSq, c.b.scalar(p.eps as number)], [c.tmp('plus_eps')])], [c.tmp('norm')]);
  const normalized = c.node('Div', [c.bottom(0), norm], [c.tmp('normalized')]);
  const scale = layer.weights[0] as Tensor | undefined;
  need(layer.def, scale, 'has no scale blob in the weights');
  const channels = shape[1];
  const dims = p.channel_shared ? [] : [channels, ...shape.slice(2).map(() => 1)];
  const factor = c.b.floats(`${layer.name}/scale`, scale.data, dims);
  c.node('Mul', [normalized, factor], [c.top(0)]);
}
