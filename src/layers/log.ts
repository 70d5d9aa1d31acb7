import { paramsOf } from '../caffe/schema.js';
import { need } from './layer.js';
import { unaryLayer } from './unary.js';

/** y = log_base(shift + scale x); base -1 (the default) means e. */
export const logLayer = unaryLayer('Log', (def) => {
  const { base, scale, shift } = paramsOf<{ base: number; scale: number; shift: number }>(def, 'log_param');
  need(def, base === -1 || base > 0, `base must be strictly positive (or -1 for e), got ${base}`);
  // Caffe checks 1 / log(base) is finite: base 1 has no logarithm.
  need(def, base !== 1, 'base 1 has no logarithm (1 / log(base) is infinite)');
  const invLogBase = base === -1 ? 1 : 1 / Math.log(base);
  return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = Math.log(shift + scale * x[i]) * invLogBase;
  };
});
