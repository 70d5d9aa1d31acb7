import { unary } from '../onnx/context.js';
import { unaryLayer } from './unary.js';

/** y = log(1 + e^x), computed as x + log(1 + e^-x) for x > 0 so that e^x never overflows (as Caffe does). */
export const bnllLayer = unaryLayer('BNLL', () => (x, y) => {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
  }
}, unary('Softplus'));
