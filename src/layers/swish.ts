import { type LayerContext, withScalar } from '../onnx/context.js';
import { paramsOf } from '../caffe/schema.js';
import { unaryLayer } from './unary.js';

/** y = x sigmoid(beta x). */
export const swishLayer = unaryLayer('Swish', (def) => {
  const beta: number = paramsOf(def, 'swish_param').beta;
  return (x, y) => {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      y[i] = v / (1 + Math.exp(-beta * v));
    }
  };
}, swishToOnnx);

function swishToOnnx(c: LayerContext): void {
  const beta = paramsOf(c.layer.def, 'swish_param').beta as number;
  const gate = c.node('Sigmoid', [withScalar(c, 'Mul', c.bottom(0), beta)], [c.tmp('gate')]);
  c.node('Mul', [c.bottom(0), gate], [c.top(0)]);
}
