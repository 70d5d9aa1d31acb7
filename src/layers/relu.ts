import { paramsOf } from '../caffe/schema.js';
import { type LayerContext } from '../onnx/context.js';
import { float } from '../onnx/builder.js';
import { pointwiseWasm } from '../kernels/pointwise.js';
import { caffeRelu } from '../kernels/relu.js';
import { unaryLayer } from './unary.js';

/** Caffe's max(x, 0) + negative_slope * min(x, 0), bit for bit (see caffeRelu). */
export const reluLayer = unaryLayer('ReLU', (def) => {
  const slope = Math.fround(paramsOf<{ negative_slope: number }>(def, 'relu_param').negative_slope);
  return (x, y) => {
    if (pointwiseWasm(x, y, 1, x.length, 1, { relu: slope })) return;
    for (let i = 0; i < x.length; i++) y[i] = caffeRelu(x[i], slope);
  };
}, reluToOnnx);

/** Relu, or LeakyRelu with the slope. */
function reluToOnnx(c: LayerContext): void {
  const slope = paramsOf(c.layer.def, 'relu_param').negative_slope as number;
  if (slope === 0) c.node('Relu', [c.bottom(0)], [c.top(0)]);
  else c.node('LeakyRelu', [c.bottom(0)], [c.top(0)], { alpha: float(slope) });
}

