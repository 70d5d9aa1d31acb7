import { unary } from '../onnx/context.js';
import { unaryLayer } from './unary.js';

/** y = 1 / (1 + e^-x) (exp overflows to Infinity for very negative x, giving 0 as it should). */
export const sigmoidLayer = unaryLayer('Sigmoid', () => (x, y) => {
  for (let i = 0; i < x.length; i++) y[i] = 1 / (1 + Math.exp(-x[i]));
}, unary('Sigmoid'));
