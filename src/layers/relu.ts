import { paramsOf } from '../caffe/schema.js';
import { unaryLayer } from './unary.js';

/** y = x > 0 ? x : negative_slope * x (Caffe's max(x, 0) + slope * min(x, 0)). */
export const reluLayer = unaryLayer('ReLU', (def) => {
  const slope: number = paramsOf(def, 'relu_param').negative_slope;
  return (x, y) => {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      y[i] = v > 0 ? v : v * slope + 0; // + 0: Caffe gives +0, not -0, for negative x at slope 0
    }
  };
});
