// The layers without bottoms that compute their tops: BVLC's DummyData (constant fillers) and Parameter, against
// real Caffe (test/fixtures/layers/dummy_param, by make-fixtures.mjs; natively and through ONNX Runtime with the
// other fixtures in reference.test.ts and onnx-reference.test.ts: an LSTM's cont of ones among them), and their errors.
// (A DummyData of random values becomes an input of the net: test/phase.test.ts.)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor.js';
import { layerOf, runLayerByLayer } from './helpers/compute.js';
import { TOLERANCE } from './helpers/reference.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/layers/dummy_param');
const dummy = (tops: string, param: string) => `layer { name: "dd" type: "DummyData" ${tops} dummy_data_param { ${param} } }`;

describe('DummyData and Parameter', () => {
  it('match Caffe', async () => {
    const results = await runLayerByLayer(fixture, new Set(['DummyData', 'Parameter']));
    expect(results.filter((r) => r.computed).map((r) => r.blob)).toEqual(['cont', 'zeros', 'half', 'minus2', 'p']);
    for (const r of results) {
      expect(r.ours, `shape of ${r.blob}`).toEqual(r.caffe);
      expect(r.error, `max|ours - caffe| / max(1, max|caffe|) of ${r.blob}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('refuse what Caffe refuses, and random fillers, naming the layer', () => {
    expect(() => layerOf(dummy('top: "x"', 'shape { dim: 2 } data_filler { type: "gaussian" std: 1 }'))).toThrow(
      "layer 'dd' (DummyData): data_filler 'gaussian' draws new random values at every forward in Caffe, which crema cannot reproduce; it runs constant fillers only");
    expect(() => layerOf(dummy('top: "x" top: "y" top: "z"', 'shape { dim: 2 } data_filler { value: 1 } data_filler { value: 2 }'))).toThrow(
      "layer 'dd' (DummyData): takes 0, 1 or 3 (one per top) data_filler, got 2");
    expect(() => layerOf(dummy('top: "x" top: "y" top: "z"', 'shape { dim: 2 } shape { dim: 3 }'))).toThrow("layer 'dd' (DummyData): gives 2 shapes for 3 tops");
    expect(() => layerOf(dummy('top: "x"', 'shape { dim: 100000 dim: 100000 dim: 100000 }'))).toThrow(
      "layer 'dd' (DummyData): top 'x' would have shape [100000, 100000, 100000], which is not a sane blob size");
    const p = 'layer { name: "p" type: "Parameter" top: "p" parameter_param { shape { dim: 2 dim: 4 } } }';
    expect(layerOf(p, [Tensor.zeros([2, 4])]).reshape([])).toEqual([[2, 4]]);
    expect(() => layerOf(p, [Tensor.zeros([8])]).reshape([])).toThrow("layer 'p' (Parameter): the parameter (blob 0) has shape [8] but the layer needs [2, 4]");
    expect(() => layerOf(p, [Tensor.zeros([2, 4]), Tensor.zeros([1])])).toThrow("layer 'p' (Parameter): has 2 weight blobs but takes 1 (the parameter)");
    expect(() => layerOf('layer { name: "p" type: "Parameter" bottom: "x" top: "p" }')).toThrow("layer 'p' (Parameter): takes 0 bottom(s), got 1");
  });
});
