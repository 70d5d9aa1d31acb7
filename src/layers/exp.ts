import { paramsOf } from '../caffe/schema.js';
import { need } from './layer.js';
import { unaryLayer } from './unary.js';

/** y = base^(shift + scale x); base -1 (the default) means e. Computed as Caffe does: base^shift * e^(ln(base) scale x). */
export const expLayer = unaryLayer('Exp', (def) => {
  const { base, scale, shift } = paramsOf<{ base: number; scale: number; shift: number }>(def, 'exp_param');
  need(def, base === -1 || base > 0, `base must be strictly positive (or -1 for e), got ${base}`);
  const logBase = base === -1 ? 1 : Math.log(base);
  const inner = logBase * scale;
  const outer = shift === 0 ? 1 : base === -1 ? Math.exp(shift) : Math.pow(base, shift);
  return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = outer * Math.exp(inner * x[i]);
  };
});
