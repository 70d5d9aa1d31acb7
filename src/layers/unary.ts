import type { LayerParameter } from '../caffe/types.js';
import type { Converter } from '../onnx/context.js';
import { type LayerType, expectCounts } from './layer.js';

/**
 * An elementwise kernel: y[i] = f(x[i]) for every i. `x` and `y` may be the same array (in place), so a kernel
 * reads x[i] before it writes y[i] and never looks at other elements.
 */
export type UnaryKernel = (x: Float32Array, y: Float32Array) => void;

/**
 * The layer type of an elementwise function of one bottom (Caffe's NeuronLayer): one bottom, one top of the
 * same shape, in place allowed. `makeKernel` reads the layer's parameters once and returns its loop; `onnx` is its
 * ONNX export.
 */
export function unaryLayer(type: string, makeKernel: (def: LayerParameter) => UnaryKernel, onnx?: Converter): LayerType {
  return {
    type,
    onnx,
    create(def) {
      const kernel = makeKernel(def);
      return {
        inPlace: true,
        reshape(bottoms) {
          expectCounts(def, [1, 1], [1, 1]);
          return [bottoms[0]];
        },
        forward([bottom], [top]) {
          kernel(bottom.data, top.data);
        },
      };
    },
  };
}
