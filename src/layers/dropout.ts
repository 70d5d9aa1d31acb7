import { paramsOf } from '../caffe/schema.js';
import { withScalar } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import { type LayerType, need } from './layer.js';
import { unaryLayer } from './unary.js';

interface DropoutParam {
  dropout_ratio: number;
  scale_train: boolean;
  sample_weights_test: boolean;
}

/**
 * Caffe's Dropout only drops (and rescales) in TRAIN; crema runs nets for inference (TEST): the identity. With
 * rbgirshick/caffe-fast-rcnn's `scale_train: false` TRAIN did not rescale, so TEST multiplies by 1 - dropout_ratio
 * (the fork's 1 / scale_, scale_ = 1 / (1 - ratio) held as a float). With alexgkendall/caffe-segnet's
 * `sample_weights_test` (Bayesian SegNet's Monte Carlo dropout) TEST drops as TRAIN does: each value kept with
 * probability 1 - ratio and scaled by scale_, a new mask every forward (crema's generator, seeded per layer: the
 * fork's is Caffe's global one, so no two runs of it agree either).
 */
const unary = unaryLayer('Dropout', (def) => {
    if (sampling(def)) return sampler(def);
    const factor = testFactor(def);
    if (factor === 1) return (x, y) => {
      if (x !== y) y.set(x);
    };
    return (x, y) => {
      for (let i = 0; i < x.length; i++) y[i] = x[i] * factor;
    };
});

export const dropoutLayer: LayerType = {
  ...unary,
  create(def, weights, net) {
    const layer = unary.create(def, weights, net);
    if (!sampling(def)) return layer;
    return { ...layer, notes: [`samples its masks at TEST too (sample_weights_test, Bayesian SegNet): every forward draws new ones; average several forwards, or a batch of copies of the image, as its test script does`] };
  },
  onnx: (c) => {
    if (sampling(c.layer.def)) {
      // ONNX Dropout in training mode: kept values scaled by 1 / (1 - ratio), as Caffe's; ONNX Runtime draws the masks.
      const ratio = c.b.floats(`${c.layer.name}/ratio`, Float32Array.of(paramsOf<DropoutParam>(c.layer.def, 'dropout_param').dropout_ratio), []);
      const training = c.b.bool(`${c.layer.name}/training_mode`, true);
      c.node('Dropout', [c.bottom(0), ratio, training], [c.top(0)]);
      return;
    }
    const factor = testFactor(c.layer.def);
    if (factor === 1) c.alias(0, c.bottom(0));
    else withScalar(c, 'Mul', c.bottom(0), factor, c.top(0));
  },
};

/** Whether TEST samples masks (caffe-segnet's sample_weights_test). */
function sampling(def: LayerParameter): boolean {
  const p = paramsOf<DropoutParam>(def, 'dropout_param');
  if (!p.sample_weights_test) return false;
  need(def, p.scale_train, 'sample_weights_test (caffe-segnet) and scale_train: false (caffe-fast-rcnn) are two forks\' fields: no Caffe has both');
  need(def, p.dropout_ratio >= 0 && p.dropout_ratio < 1, () => `dropout_ratio must be in [0, 1) to sample, got ${p.dropout_ratio}`);
  return true;
}

/**
 * caffe_rng_bernoulli(count, 1 - ratio) times scale_ = 1 / (1 - ratio) (float), on Marsaglia's 32-bit xorshift128
 * seeded by the layer's name (FNV-1a): each value's uniform in [0, 1) against the ratio. In 32-bit integer steps: a
 * 64-bit generator in BigInt took 460 ms for Bayesian SegNet's 2.8 M values a layer, this 28.
 */
function sampler(def: LayerParameter): (x: Float32Array, y: Float32Array) => void {
  const ratio = Math.fround(paramsOf<DropoutParam>(def, 'dropout_param').dropout_ratio);
  const scale = Math.fround(1 / (1 - ratio));
  let seed = 0x811c9dc5;
  for (const ch of def.name ?? '') seed = Math.imul(seed ^ ch.codePointAt(0)!, 0x01000193);
  let a = seed | 1, b = 0x6c078965, c = 0x9e3779b9, d = 0x7f4a7c15;
  return (x, y) => {
    for (let i = 0; i < x.length; i++) {
      const t = a ^ (a << 11);
      a = b;
      b = c;
      c = d;
      d = d ^ (d >>> 19) ^ t ^ (t >>> 8);
      y[i] = (d >>> 0) / 2 ** 32 < ratio ? 0 : x[i] * scale;
    }
  };
}

/** What TEST multiplies by: 1 (the identity) unless the fork's `scale_train: false`. */
export function testFactor(def: LayerParameter): number {
  const p = paramsOf<DropoutParam>(def, 'dropout_param');
  if (p.scale_train) return 1;
  const scale = Math.fround(1 / (1 - Math.fround(p.dropout_ratio)));
  return Math.fround(1 / scale);
}
