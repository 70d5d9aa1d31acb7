import { unary } from '../onnx/context.js';
import { refuseInPlace } from './axes.js';
import { unaryLayer } from './unary.js';

/** y = |x|. Caffe refuses to run AbsVal in place, so crema does too. */
export const absValLayer = unaryLayer('AbsVal', (def) => {
  refuseInPlace(def);
  return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = Math.abs(x[i]);
  };
}, unary('Abs'));
