import type { LayerContext } from '../onnx/context.js';
import { unaryLayer } from './unary.js';

/**
 * Mish (the YOLOv4 Caffe port, ChenYingpeng/caffe-yolov3's mish_layer.cpp): y = x tanh(softplus(x)), its softplus
 * x above 20, e^x below -20, else log(e^x + 1); its tanh 2 / (1 + e^-2s) - 1. ONNX: Softplus, Tanh, Mul.
 */
export const mishLayer = unaryLayer('Mish', () => (x, y) => {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const softplus = v > 20 ? v : v < -20 ? Math.exp(v) : Math.log(Math.exp(v) + 1);
    y[i] = v * (2 / (1 + Math.exp(-2 * softplus)) - 1);
  }
}, mishToOnnx);

function mishToOnnx(c: LayerContext): void {
  const softplus = c.node('Softplus', [c.bottom(0)], [c.tmp('softplus')]);
  c.node('Mul', [c.bottom(0), c.node('Tanh', [softplus], [c.tmp('tanh')])], [c.top(0)]);
}
