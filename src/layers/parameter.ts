import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import type { LayerContext } from '../onnx/context.js';
import type { Shape } from '../tensor.js';
import { type LayerType, expectCounts, expectWeight, need, needSaneShape } from './layer.js';

/** Caffe's Parameter (parameter_layer.hpp): no bottom; its top is its one blob, of parameter_param's shape. */
export const parameterLayer: LayerType = {
  type: 'Parameter',
  onnx: (c: LayerContext) => {
    const shape = parameterShape(c.layer.def);
    c.node('Identity', [c.b.floats(`${c.layer.name}/blob`, expectWeight(c.layer.def, c.layer.weights, 0, 'the parameter', shape).data, shape)], [c.top(0)]);
  },
  create(def, weights) {
    expectCounts(def, [0, 0], [1, 1]);
    const shape = parameterShape(def);
    needSaneShape(def, def.top![0], shape);
    need(def, weights.length <= 1, () => `has ${weights.length} weight blobs but takes 1 (the parameter)`);
    let blob: Float32Array = new Float32Array(0);
    return {
      reshape() {
        blob = expectWeight(def, weights, 0, 'the parameter', shape).data;
        return [shape];
      },
      forward(_, [top]) {
        top.data.set(blob);
      },
    };
  },
};

function parameterShape(def: LayerParameter): Shape {
  const p = paramsOf<{ shape?: { dim?: number[] } }>(def, 'parameter_param');
  return [...(p.shape?.dim ?? [])].map(Number);
}
