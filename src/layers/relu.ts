import { paramsOf } from '../caffe/schema.js';
import { type LayerContext } from '../onnx/context.js';
import { float } from '../onnx/builder.js';
import { unaryLayer } from './unary.js';

/** y = x > 0 ? x : negative_slope * x (Caffe's max(x, 0) + slope * min(x, 0)). */
export const reluLayer = unaryLayer('ReLU', (def) => {
  const slope: number = paramsOf(def, 'relu_param').negative_slope;
  return (x, y) => {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      y[i] = v > 0 ? v : v * slope + 0; // + 0: Caffe gives +0, not -0, for negative x at slope 0
    }
  };
}, reluToOnnx);

/** Relu, or LeakyRelu with the slope. */
function reluToOnnx(c: LayerContext): void {
  const slope = paramsOf(c.layer.def, 'relu_param').negative_slope as number;
  if (slope === 0) c.node('Relu', [c.bottom(0)], [c.top(0)]);
  else c.node('LeakyRelu', [c.bottom(0)], [c.top(0)], { alpha: float(slope) });
}

