import { unaryLayer } from './unary.js';

/** Identity: Caffe's Dropout only drops (and rescales) in TRAIN; crema runs nets for inference (TEST). */
export const dropoutLayer = unaryLayer('Dropout', () => (x, y) => {
  if (x !== y) y.set(x);
});
