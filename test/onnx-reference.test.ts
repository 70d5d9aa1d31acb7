// Every reference case (Caffe's own numbers) converted to ONNX and run in ONNX Runtime: each stored blob,
// intermediate ones included (`outputs: 'all'`), must match Caffe's within the project's tolerance.
import { describe, expect, it } from 'vitest';
import { loadNet } from '../src/caffe/load.js';
import { buildGraph, inferShapes } from '../src/graph/graph.js';
import { MAX_OPSET, MIN_OPSET } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { readNpy } from '../src/util/npy.js';
import { type ReferenceCase, TOLERANCE, referenceBlob, referenceCases, relativeError, weightsOf } from './helpers/reference.js';
import { sharedMissing } from './helpers/shared.js';

async function checkCase(c: ReferenceCase, lrn: 'native' | 'decomposed', opset?: number) {
  const { net, weights } = await loadNet(c.prototxt, weightsOf(c));
  const graph = buildGraph(net, weights);
  const input = readNpy(c.input);
  inferShapes(graph, { [c.inputName]: input.dims });
  const blobs = await runOnnx(graph, { [c.inputName]: input }, { outputs: 'all', lrn, threads: 1, opset });
  const errors = Object.fromEntries(c.blobs.map((b) => [b, relativeError(blobs.get(b)!, referenceBlob(c, b))]));
  for (const [b, e] of Object.entries(errors)) expect(e, `blob ${b}`).toBeLessThanOrEqual(TOLERANCE);
}

describe.skipIf(sharedMissing())('ONNX Runtime on the one-layer sweeps of ../shared/reference/sweep', () => {
  for (const c of referenceCases('sweep')) {
    it(`${c.name}: every stored blob matches Caffe`, () => checkCase(c, 'native'));
    if (c.name.startsWith('lrn_across') || c.name.startsWith('lrn_then'))
      it(`${c.name} with --lrn decomposed: every stored blob matches Caffe`, () => checkCase(c, 'decomposed'));
  }
});

describe.skipIf(sharedMissing())('ONNX Runtime on the whole models of ../shared/reference/zoo', () => {
  for (const c of referenceCases('zoo')) it(`${c.name}: every stored blob matches Caffe`, () => checkCase(c, 'native'), 120_000);
});

const fixtures = referenceCases('fixtures');
describe.skipIf(fixtures.length === 0)('ONNX Runtime on the layer fixtures computed by real Caffe (test/fixtures/layers)', () => {
  for (const c of fixtures) it(`${c.name}: every stored blob matches Caffe`, () => checkCase(c, 'native'));
});

describe.skipIf(sharedMissing())('the sweeps at the oldest and newest opsets crema writes, LRN decomposed', () => {
  for (const opset of [MIN_OPSET, MAX_OPSET])
    it(`opset ${opset}: every sweep case matches Caffe`, async () => {
      for (const c of referenceCases('sweep')) await checkCase(c, 'decomposed', opset);
    });
});
