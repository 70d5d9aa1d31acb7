import { unary } from '../onnx/context.js';
import { sigmoidWasm } from '../kernels/exp.js';
import { unaryLayer } from './unary.js';

/**
 * y = 1 / (1 + e^-x) (exp overflows to Infinity for very negative x, giving 0 as it should): on the wasm engine in
 * float (src/kernels/exp.ts), else in double here.
 */
export const sigmoidLayer = unaryLayer('Sigmoid', () => (x, y) => {
  if (sigmoidWasm(x, y)) return;
  for (let i = 0; i < x.length; i++) y[i] = 1 / (1 + Math.exp(-x[i]));
}, unary('Sigmoid'));
