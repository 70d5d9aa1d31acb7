// Every reference case (Caffe's own numbers) through the whole pipeline: load, infer shapes, run natively.
import { describe, expect, it } from 'vitest';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { type ReferenceCase, TOLERANCE, referenceBlob, referenceCases, relativeError, weightsOf } from './helpers/reference.js';
import { sharedMissing } from './helpers/shared.js';

function checkCase(c: ReferenceCase) {
  it(`${c.name}: shapes and every stored blob match Caffe`, async () => {
    const net = await Net.load(c.prototxt, weightsOf(c));
    const input = readNpy(c.input);
    net.reshape({ [c.inputName]: input.dims });
    for (const b of c.blobs) expect([...net.shapes.get(b)!], `shape of ${b}`).toEqual([...referenceBlob(c, b).dims]);
    net.forward({ [c.inputName]: input });
    const errors = Object.fromEntries(c.blobs.map((b) => [b, relativeError(net.blobs.get(b)!, referenceBlob(c, b))]));
    for (const [b, e] of Object.entries(errors)) expect(e, `blob ${b}`).toBeLessThanOrEqual(TOLERANCE);
  });
}

describe.skipIf(sharedMissing())('one-layer sweeps of ../shared/reference/sweep', () => {
  for (const c of referenceCases('sweep')) checkCase(c);
});

describe.skipIf(sharedMissing())('whole models of ../shared/reference/zoo', () => {
  for (const c of referenceCases('zoo')) checkCase(c);
});

describe('layer fixtures computed by real Caffe (test/fixtures/layers)', () => {
  const cases = referenceCases('fixtures');
  it('has fixtures', () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) checkCase(c);
});
