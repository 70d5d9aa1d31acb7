// The normalization and affine layers (BatchNorm, Scale, Bias, MVN) against Caffe's own numbers, layer by
// layer, and their errors on bad shapes and weights.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type Shape, Tensor } from '../src/tensor.js';
import { layerOf, runLayerByLayer } from './helpers/compute.js';
import { TOLERANCE } from './helpers/reference.js';
import { sharedDir, sharedMissing } from './helpers/shared.js';

// Flatten and Reduction feed some of the cases (Reduction makes Scale's and Bias's second bottoms).
const LAYERS = new Set(['Input', 'BatchNorm', 'Scale', 'Bias', 'MVN', 'Flatten', 'Reduction']);
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/layers');

function expectMatchesCaffe(dir: string) {
  return async () => {
    const results = await runLayerByLayer(dir, LAYERS);
    expect(results.filter((r) => r.computed).map((r) => r.blob)).toEqual(results.slice(1).map((r) => r.blob));
    for (const r of results) {
      expect(r.ours, `shape of ${r.blob}`).toEqual(r.caffe);
      expect(r.error, `max|ours - caffe| / max(1, max|caffe|) of ${r.blob}`).toBeLessThanOrEqual(TOLERANCE);
    }
  };
}

describe.skipIf(sharedMissing())('normalization layers vs Caffe: ../shared/reference/sweep', () => {
  it('batchnorm_scale', expectMatchesCaffe(path.join(sharedDir ?? '', 'reference/sweep/batchnorm_scale')));
});

describe('normalization layers vs Caffe: test/fixtures/layers (computed by BVLC Caffe 1.0)', () => {
  // batchnorm: batch statistics (4-D and 2-D), stored factor 2.5 and 0, custom eps, batch 3, in place.
  it('batchnorm', expectMatchesCaffe(path.join(fixtures, 'batchnorm')));
  // scale_bias: scale/bias from a second bottom (axis 0), with bias_term; per channel; scalar; axis -2 to the end; in place.
  it('scale_bias', expectMatchesCaffe(path.join(fixtures, 'scale_bias')));
  // mvn: per channel, across channels, mean only, eps 0.5 (added to the std), a 2-D bottom (top padded to 4-D).
  it('mvn', expectMatchesCaffe(path.join(fixtures, 'mvn')));
});

const tensor = (dims: number[], values: number[]) => new Tensor(dims, Float32Array.from(values));
const reshape = (text: string, weights: Tensor[], ...bottoms: Shape[]) => layerOf(text, weights).reshape(bottoms);

describe('weights and shapes are checked, naming the layer', () => {
  const bn = 'layer { name: "bn" type: "BatchNorm" bottom: "x" top: "y" }';
  it('BatchNorm weights must fit the channels', () => {
    const stats = [tensor([3], [0, 0, 0]), tensor([3], [1, 1, 1]), tensor([1], [1])];
    expect(reshape(bn, stats, [2, 3, 4])).toEqual([[2, 3, 4]]);
    expect(() => reshape(bn, stats, [2, 4, 4])).toThrow("layer 'bn' (BatchNorm): mean (blob 0) has shape [3] but the layer needs [4]");
    expect(() => reshape(bn, stats.slice(0, 2), [2, 3, 4])).toThrow(
      "layer 'bn' (BatchNorm): needs moving-average factor of shape [1] (blob 2) but the weights have none",
    );
    expect(() => reshape(bn, stats, [6])).toThrow("layer 'bn' (BatchNorm): needs a bottom with a channel axis (N, C, ...), got [6]");
    expect(() => layerOf(bn, [...stats, tensor([1], [0])])).toThrow(
      "layer 'bn' (BatchNorm): the weights have 4 blobs for this layer, but it takes 3 (mean, variance, moving-average factor)",
    );
  });
  it('Scale and Bias parameters must line up with the bottom', () => {
    expect(() => reshape('layer { name: "s" type: "Scale" bottom: "x" bottom: "f" top: "y" }', [], [2, 3, 4], [4])).toThrow(
      "layer 's' (Scale): bottom[1] (the scale) of shape [4] does not match bottom[0] [2, 3, 4] from axis 1 on",
    );
    expect(() => reshape('layer { name: "s" type: "Scale" bottom: "x" top: "y" scale_param { axis: 2 num_axes: 2 } }', [], [2, 3, 4])).toThrow(
      "layer 's' (Scale): axis 2 + num_axes 2 extends past bottom[0]'s shape [2, 3, 4]",
    );
    expect(() => reshape('layer { name: "s" type: "Scale" bottom: "x" top: "y" scale_param { bias_term: true } }', [tensor([3], [1, 2, 3])], [2, 3])).toThrow(
      "layer 's' (Scale): needs bias of shape [3] (blob 1) but the weights have none",
    );
    expect(() => reshape('layer { name: "b" type: "Bias" bottom: "x" top: "y" }', [tensor([4], [1, 2, 3, 4])], [2, 3])).toThrow(
      "layer 'b' (Bias): bias (blob 0) has shape [4] but the layer needs [3]",
    );
    expect(() => reshape('layer { name: "m" type: "MVN" bottom: "x" top: "y" }', [], [1, 2, 3, 4, 5])).toThrow(
      "layer 'm' (MVN): works on blobs of at most 4 axes (Caffe's legacy N, C, H, W), got [1, 2, 3, 4, 5]",
    );
  });
  it('legacy 4-D weight blobs fit right-aligned, as in V1 caffemodels', () => {
    const scale = layerOf('layer { name: "s" type: "Scale" bottom: "x" top: "y" }', [tensor([1, 1, 1, 2], [2, -1])]);
    expect(scale.reshape([[1, 2, 2]])).toEqual([[1, 2, 2]]);
    const out = Tensor.zeros([1, 2, 2]);
    scale.forward([tensor([1, 2, 2], [1, 2, 3, 4])], [out]);
    expect([...out.data]).toEqual([2, 4, -3, -4]);
  });
});

describe('small cases worked by hand', () => {
  it('BatchNorm divides the stored sums by the factor, and a factor of 0 means mean = var = 0', () => {
    const x = tensor([1, 2, 1], [3, 5]);
    const run = (factor: number) => {
      const bn = layerOf('layer { name: "bn" type: "BatchNorm" bottom: "x" top: "y" batch_norm_param { eps: 0 } }', [
        tensor([2], [2, 4]), tensor([2], [8, 2]), tensor([1], [factor]),
      ]);
      bn.reshape([x.dims]);
      const y = Tensor.zeros(x.dims);
      bn.forward([x], [y]);
      return [...y.data];
    };
    // factor 2: mean (1, 2), var (4, 1) -> ((3-1)/2, (5-2)/1)
    expect(run(2)).toEqual([1, 3]);
    // factor 0: x / sqrt(0 + eps) with eps 0 -> infinities, as Caffe computes
    expect(run(0)).toEqual([Infinity, Infinity]);
  });
  it('BatchNorm without global stats uses the batch mean and biased variance, and works in place', () => {
    const bn = layerOf('layer { name: "bn" type: "BatchNorm" bottom: "x" top: "x" batch_norm_param { use_global_stats: false eps: 0 } }');
    expect(bn.inPlace).toBe(true);
    const x = tensor([2, 1, 2], [1, 3, 5, 7]);
    bn.reshape([x.dims]);
    bn.forward([x], [x]);
    // mean 4, var (9 + 1 + 1 + 9) / 4 = 5
    const s = Math.sqrt(5);
    expect([...x.data].map((v) => v * s)).toEqual([-3, -1, 1, 3].map((v) => expect.closeTo(v, 5)));
  });
  it('MVN adds eps to the standard deviation, not to the variance', () => {
    const mvn = layerOf('layer { name: "m" type: "MVN" bottom: "x" top: "y" mvn_param { eps: 1 } }');
    expect(mvn.reshape([[1, 1, 2]])).toEqual([[1, 1, 2, 1]]);
    const y = Tensor.zeros([1, 1, 2, 1]);
    mvn.forward([tensor([1, 1, 2], [1, 5])], [y]);
    // mean 3, std 2: (x - 3) / (2 + 1)
    expect([...y.data]).toEqual([-2 / 3, 2 / 3].map((v) => expect.closeTo(v, 6)));
  });
});
