import { paramsOf } from '../caffe/schema.js';
import { withScalar } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import type { LayerType } from './layer.js';
import { unaryLayer } from './unary.js';

/**
 * Caffe's Dropout only drops (and rescales) in TRAIN; crema runs nets for inference (TEST): the identity. With
 * rbgirshick/caffe-fast-rcnn's `scale_train: false` TRAIN did not rescale, so TEST multiplies by 1 - dropout_ratio
 * (the fork's 1 / scale_, scale_ = 1 / (1 - ratio) held as a float).
 */
export const dropoutLayer: LayerType = {
  ...unaryLayer('Dropout', (def) => {
    const factor = testFactor(def);
    if (factor === 1) return (x, y) => {
      if (x !== y) y.set(x);
    };
    return (x, y) => {
      for (let i = 0; i < x.length; i++) y[i] = x[i] * factor;
    };
  }),
  onnx: (c) => {
    const factor = testFactor(c.layer.def);
    if (factor === 1) c.alias(0, c.bottom(0));
    else withScalar(c, 'Mul', c.bottom(0), factor, c.top(0));
  },
};

/** What TEST multiplies by: 1 (the identity) unless the fork's `scale_train: false`. */
export function testFactor(def: LayerParameter): number {
  const p = paramsOf<{ dropout_ratio: number; scale_train: boolean }>(def, 'dropout_param');
  if (p.scale_train) return 1;
  const scale = Math.fround(1 / (1 - Math.fround(p.dropout_ratio)));
  return Math.fround(1 / scale);
}
