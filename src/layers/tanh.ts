import { unary } from '../onnx/context.js';
import { unaryLayer } from './unary.js';

/** y = tanh(x). */
export const tanhLayer = unaryLayer('TanH', () => (x, y) => {
  for (let i = 0; i < x.length; i++) y[i] = Math.tanh(x[i]);
}, unary('Tanh'));
