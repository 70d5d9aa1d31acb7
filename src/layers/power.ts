import { paramsOf } from '../caffe/schema.js';
import { unaryLayer } from './unary.js';

/** y = (shift + scale x)^power. As in Caffe, power * scale == 0 makes y a constant: 1 if power is 0, else shift^power. */
export const powerLayer = unaryLayer('Power', (def) => {
  const { power, scale, shift } = paramsOf<{ power: number; scale: number; shift: number }>(def, 'power_param');
  if (power * scale === 0) {
    const value = power === 0 ? 1 : Math.pow(shift, power);
    return (_x, y) => y.fill(value);
  }
  if (power === 1) return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = shift + scale * x[i];
  };
  if (power === 2) return (x, y) => {
    for (let i = 0; i < x.length; i++) {
      const b = shift + scale * x[i];
      y[i] = b * b;
    }
  };
  return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = Math.pow(shift + scale * x[i], power);
  };
});
