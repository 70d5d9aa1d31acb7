import { paramsOf } from '../caffe/schema.js';
import { unaryLayer } from './unary.js';

/** y = x > threshold ? 1 : 0. */
export const thresholdLayer = unaryLayer('Threshold', (def) => {
  const t: number = paramsOf(def, 'threshold_param').threshold;
  return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = x[i] > t ? 1 : 0;
  };
});
