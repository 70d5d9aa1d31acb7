import { paramsOf } from '../caffe/schema.js';
import { normalizeChannelsWasm } from '../kernels/normalize.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
import { expectAtMostBlobs } from './axes.js';
import { type LayerType, expectCounts, expectWeight, need } from './layer.js';
import { ints } from '../onnx/builder.js';
import type { LayerContext } from '../onnx/context.js';

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
    expectCounts(def, [1, 1], [1, 1]);
    const p = paramsOf(def, 'norm_param');
    const acrossSpatial: boolean = p.across_spatial, shared: boolean = p.channel_shared, eps: number = p.eps;
    expectAtMostBlobs(def, 1, weights.length, 'the scale');
    let scale: Float32Array = new Float32Array(0);
    return {
      inPlace: true,
      reshape([shape]) {
        need(def, shape.length >= 2 && shape.length <= 4, () => `needs a 2- to 4-D bottom, got ${shapeString(shape)}`);
        scale = expectWeight(def, weights, 0, 'the scale', [shared ? 1 : shape[1]]).data;
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
  onnx: normalizeToOnnx,
};

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
