import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, sizeOf } from '../tensor.js';
import { type Broadcast, broadcastOver, expectAtMostBlobs, learnedParamShape } from './axes.js';
import { type Layer, type LayerType, expectCounts, expectWeight } from './layer.js';
import { scaleOrBiasToOnnx } from './scale.js';

/**
 * Bias: y = x + b, b covering bottom axes [axis, axis + num_axes) and broadcast over the rest; b is the
 * layer's blob 0, or bottom[1] when there are two bottoms (then its shape decides the axes).
 */
export const biasLayer: LayerType = {
  type: 'Bias',
  onnx: (c) => scaleOrBiasToOnnx(c, false),
  create(def: LayerParameter, weights: Tensor[]): Layer {
    expectCounts(def, [1, 2], [1, 1]);
    const p = paramsOf(def, 'bias_param');
    const biasFromBottom = (def.bottom?.length ?? 0) === 2;
    expectAtMostBlobs(def, biasFromBottom ? 0 : 1, weights.length, biasFromBottom ? 'the bias comes from bottom[1]' : 'bias');
    let bias: Tensor | undefined;
    let shape: Broadcast = { outer: 0, dim: 0, inner: 0 };
    return {
      inPlace: true,
      reshape(bottoms: Shape[]): Shape[] {
        const biasShape = biasFromBottom ? bottoms[1] : learnedParamShape(def, bottoms[0], p.axis, p.num_axes);
        if (!biasFromBottom) bias = expectWeight(def, weights, 0, 'bias', biasShape);
        shape = broadcastOver(def, bottoms[0], biasShape, p.axis, biasFromBottom ? 'bottom[1] (the bias)' : 'bias');
        return [[...bottoms[0]]];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        addRows(bottoms[0].data, tops[0].data, biasFromBottom ? bottoms[1].data : bias!.data, shape);
      },
      macs: (bottoms: Shape[]) => sizeOf(bottoms[0]),
    };
  },
};

/** y = x + b[d] for every (outer, d, inner) position; safe in place. */
function addRows(x: Float32Array, y: Float32Array, b: Float32Array, { outer, dim, inner }: Broadcast): void {
  let at = 0;
  for (let n = 0; n < outer; n++) {
    for (let d = 0; d < dim; d++) {
      const offset = b[d], end = at + inner;
      for (; at < end; at++) y[at] = x[at] + offset;
    }
  }
}
