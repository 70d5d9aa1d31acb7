// net.keepBlobs against real Caffe's blobs: every reference case run with a memory plan whose shared storage holds
// NaN before the forward (what another blob, or a larger image's forward, left there), so a layer that reads a top
// it did not write (accumulates into it, keeps values from a reshape, skips a region) or a blob released while still
// read shows in the numbers. Kept: the blobs the case compares (the rest planned), or none (the outputs compared).
import { describe, expect, it } from 'vitest';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { type ReferenceCase, TOLERANCE, referenceBlob, referenceCases, relativeError, weightsOf } from './helpers/reference.js';
import { sharedMissing } from './helpers/shared.js';

/** The plan's shared arrays (Net's private `slots`), filled with NaN: a forward must write every value it reads. */
function poison(net: Net): number {
  const slots = (net as unknown as { slots: Float32Array[] }).slots;
  for (const s of slots) s.fill(NaN);
  return slots.length;
}

function checkCase(c: ReferenceCase, keep: 'compared' | 'none') {
  it(`${c.name}: ${keep === 'compared' ? 'the compared blobs kept' : 'no blob kept (the outputs compared)'}, the plan's storage poisoned`, async () => {
    const net = await Net.load(c.prototxt, weightsOf(c), { keepBlobs: keep === 'compared' ? c.blobs : [] });
    const input = readNpy(c.input);
    net.reshape({ [c.inputName]: input.dims });
    poison(net);
    net.forward({ [c.inputName]: input });
    const blobs = keep === 'compared' ? c.blobs : c.blobs.filter((b) => net.outputs.includes(b));
    for (const b of blobs) expect(relativeError(net.blobs.get(b)!, referenceBlob(c, b)), `blob ${b}`).toBeLessThanOrEqual(TOLERANCE);
    net.dispose();
  }, 600_000);
}

describe('layer fixtures computed by real Caffe (test/fixtures/layers) under a poisoned memory plan', () => {
  const cases = referenceCases('fixtures');
  it('plans most of them (else the poison proves nothing)', async () => {
    let planned = 0;
    for (const c of cases) {
      const net = await Net.load(c.prototxt, weightsOf(c), { keepBlobs: [] });
      if (poison(net) > 0) planned++;
      net.dispose();
    }
    expect(planned).toBeGreaterThanOrEqual((2 / 3) * cases.length); // 21 of 31: the others' blobs are all outputs or compared
  });
  for (const c of cases) for (const keep of ['compared', 'none'] as const) checkCase(c, keep);
});

describe.skipIf(sharedMissing())('one-layer sweeps of ../shared/reference/sweep under a poisoned memory plan', () => {
  for (const c of referenceCases('sweep')) checkCase(c, 'compared');
});

describe.skipIf(sharedMissing())('whole models of ../shared/reference/zoo under a poisoned memory plan', () => {
  for (const c of referenceCases('zoo')) checkCase(c, 'compared');
});

// test/fixtures/layers/fold_chains: BatchNorm / Scale / ReLU chains folded into their convolutions (hidden blobs),
// in place and not, and an Eltwise sum of the input: the plan across forwards that start or stop inside a chain,
// batches of 1, 2 and 3 in turn (each reshape lays the plan out again), and 2 threads.
describe('a memory plan over fused chains, partial forwards and reshapes (fold_chains, against real Caffe)', () => {
  const c = referenceCases('fixtures').find((f) => f.name === 'fold_chains')!;
  const input = readNpy(c.input), image = input.data.length / input.dims[0];
  const batch = (n: number) => new Tensor([n, ...input.dims.slice(1)], Float32Array.from({ length: n * image }, (_, i) => input.data[i % (2 * image)]));
  const caffe = referenceBlob(c, 'block');
  /** Caffe's block for `n` images: the fixture's two, repeated. */
  const want = (n: number) => new Tensor([n, ...caffe.dims.slice(1)], Float32Array.from({ length: (n * caffe.data.length) / 2 }, (_, i) => caffe.data[i % caffe.data.length]));

  it('a forward stopped inside a chain and one started after its stop give Caffe\'s block; starting over a hidden blob the fused forward never wrote is refused in one line', async () => {
    const net = await Net.load(c.prototxt, weightsOf(c), { keepBlobs: [] });
    poison(net);
    net.forward({ data: input }, { end: 'dwise_bn' });
    expect(relativeError(net.forward({}, { start: 'dwise_scale' }).block, caffe)).toBeLessThanOrEqual(TOLERANCE);
    net.forward({ data: input });
    expect(() => net.forward({}, { start: 'dwise_bn' })).toThrow(/^forward: layer 'dwise_bn' reads a released blob: blob 'dwise' holds no value: net\.keepBlobs keeps only the outputs and the blobs it lists, [^\n]*$/);
    net.dispose();
  });

  it('keepBlobs changed between forwards (a hidden blob of a chain kept, none, another): each forward gives Caffe\'s values for what it keeps', async () => {
    const net = await Net.load(c.prototxt, weightsOf(c), { keepBlobs: ['dwise_bn'] });
    for (const keep of [['dwise_bn'], [], ['linear', 'expand'], ['dwise_bn']]) {
      net.keepBlobs = keep;
      poison(net);
      expect(relativeError(net.forward({ data: input }).block, caffe), `${keep}: block`).toBeLessThanOrEqual(TOLERANCE);
      for (const b of keep) expect(relativeError(net.blobs.get(b)!, referenceBlob(c, b)), `${keep}: ${b}`).toBeLessThanOrEqual(TOLERANCE);
    }
    net.dispose();
  });

  for (const threads of [1, 2])
    it(`batches of 1, 2, 3 and 1 in turn at ${threads} thread(s), the plan's storage poisoned before each: Caffe's block each time`, async () => {
      const net = await Net.load(c.prototxt, weightsOf(c), { keepBlobs: [], threads });
      for (const n of [1, 2, 3, 1]) {
        net.reshape({ data: [n, ...input.dims.slice(1)] });
        expect(poison(net)).toBeGreaterThan(0);
        expect(relativeError(net.forward({ data: batch(n) }).block, want(n)), `batch ${n}`).toBeLessThanOrEqual(TOLERANCE);
      }
      net.dispose();
    });
});

// Whole zoo nets (Concat views: GoogLeNet's inceptions; folded BatchNorm chains and fused residual sums: ResNet-50's,
// MobileNet v2's) at several input shapes in turn: the plan laid out again at each reshape, its storage poisoned,
// gives the bits of the same net keeping every blob (the referee at the reference's size, above: real Caffe).
describe.skipIf(sharedMissing())('zoo nets at several input shapes: a poisoned plan gives the bits of every blob kept', () => {
  // Each net's other size: one whose last plane stays 7 x 7 (the classifier's weights fix it).
  for (const [name, delta] of [['googlenet', 4], ['resnet50', -8], ['mobilenet_v2', -8]] as const) {
    it(`${name}: ${delta > 0 ? '+' : ''}${delta} pixels each way, a batch of 2, and back`, async () => {
      const c = referenceCases('zoo').find((z) => z.name === name)!;
      const [every, planned] = await Promise.all(['all' as const, []].map((keepBlobs) => Net.load(c.prototxt, weightsOf(c), { keepBlobs })));
      const x = readNpy(c.input), [n, channels, h, w] = x.dims;
      for (const [images, height, width] of [[n, h, w], [n, h + delta, w + delta], [2, h, w], [n, h, w]]) {
        const image = new Tensor([images, channels, height, width], Float32Array.from({ length: images * channels * height * width }, (_, i) => x.data[i % x.data.length]));
        const want = every.forward({ [c.inputName]: image });
        planned.reshape({ [c.inputName]: image.dims });
        expect(poison(planned)).toBeGreaterThan(0);
        const got = planned.forward({ [c.inputName]: image });
        for (const out of every.outputs) expect(got[out].data, `${out} at ${images} x ${height} x ${width}`).toEqual(want[out].data);
      }
      every.dispose();
      planned.dispose();
    }, 600_000);
  }
});
