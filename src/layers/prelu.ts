import { paramsOf } from '../caffe/schema.js';
import { pointwiseWasm } from '../kernels/pointwise.js';
import { caffeRelu } from '../kernels/relu.js';
import type { LayerParameter } from '../caffe/types.js';
import { type LayerContext, fail } from '../onnx/context.js';
import { type Shape, type Tensor, shapeString, sizeOf } from '../tensor.js';
import { type LayerType, expectCounts, expectWeight, need } from './layer.js';

/**
 * y = max(x, 0) + a_c min(x, 0) (caffeRelu) with a learned slope per channel (axis 1), or one slope for all when channel_shared.
 * Weights: (C), or one value when shared. A net without weights gets Caffe's own initial slopes when they are
 * deterministic (no filler: 0.25; a constant filler: its value).
 */
interface PReLUParam {
  channel_shared: boolean;
  filler?: { type?: string; value?: number };
}

/** Caffe's initial slope when the net has no weights and the filler is deterministic (none: 0.25; constant: its value). */
function initialSlope(def: LayerParameter, weights: Tensor[]): number | undefined {
  const filler = paramsOf<PReLUParam>(def, 'prelu_param').filler;
  const deterministic = weights.length === 0 && (!filler || (filler.type ?? 'constant') === 'constant');
  return deterministic ? (filler ? (filler.value ?? 0) : 0.25) : undefined;
}

/**
 * The slopes' blob as Caffe holds it: a shared slope is 0-D (vector<int>(0)), else one a channel. expectWeight gives
 * a file's blob this shape (net.params reads as pycaffe's), so the native layer and its ONNX form ask the same.
 */
function slopesShape(shared: boolean, channels: number): Shape {
  return shared ? [] : [channels];
}

export const preluLayer: LayerType = {
  type: 'PReLU',
  create(def, weights) {
    const p = paramsOf<PReLUParam>(def, 'prelu_param');
    const fillerSlope = initialSlope(def, weights);
    let slopes: Float32Array = new Float32Array(0);
    return {
      inPlace: true,
      reshape([shape]: Shape[]) {
        expectCounts(def, [1, 1], [1, 1]);
        need(def, shape.length >= 2, () => `needs a bottom with at least 2 axes (num, channels, ...), got ${shapeString(shape)}`);
        const want = slopesShape(p.channel_shared, shape[1]);
        if (fillerSlope !== undefined) slopes = new Float32Array(sizeOf(want)).fill(fillerSlope);
        else slopes = expectWeight(def, weights, 0, 'the negative slopes', want).data;
        return [shape];
      },
      forward([bottom], [top]) {
        const x = bottom.data, y = top.data, dims = bottom.dims;
        const channels = dims[1], inner = x.length / (dims[0] * channels || 1);
        if (inner > 0 && pointwiseWasm(x, y, dims[0] * channels, inner, p.channel_shared ? 1 : channels, { relu: p.channel_shared ? slopes[0] : slopes })) return;
        let i = 0;
        for (let img = 0; img < dims[0]; img++) {
          for (let c = 0; c < channels; c++) {
            const a = p.channel_shared ? slopes[0] : slopes[c];
            for (const end = i + inner; i < end; i++) y[i] = caffeRelu(x[i], a); // Caffe's max(x, 0) + a * min(x, 0)
          }
        }
      },
    };
  },
  onnx: preluToOnnx,
};

/** ONNX PRelu with the slopes broadcast over the axes after the channels (the initial slopes when there are no weights). */
function preluToOnnx(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf<PReLUParam>(layer.def, 'prelu_param');
  const x = layer.bottomShapes[0];
  if (x.length < 2) fail(c, 'PReLU needs at least 2 axes');
  const count = p.channel_shared ? 1 : x[1];
  const initial = initialSlope(layer.def, layer.weights);
  const slopes = initial !== undefined ? new Float32Array(count).fill(initial) : expectWeight(layer.def, layer.weights, 0, 'slopes', slopesShape(p.channel_shared, count)).data;
  const dims = p.channel_shared ? [1] : [count, ...x.slice(2).map(() => 1)];
  c.node('PRelu', [c.bottom(0), c.b.floats(`${layer.name}/slope`, slopes, dims)], [c.top(0)]);
}
