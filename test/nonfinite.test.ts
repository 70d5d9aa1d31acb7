// NaN and infinities against real BVLC Caffe (test/fixtures/nonfinite: nan_lrn and nan_argmax made by
// test/fixtures/layers/make-fixtures.mjs, cifar10_inf by caffe-ref forward on cifar10_full with one infinite pixel).
// Caffe's WITHIN_CHANNEL LRN sums each window anew, so a NaN or infinity stays in the outputs whose window holds
// it; ArgMax orders (value, index) pairs with std::partial_sort, where a NaN compares equal to anything.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useLrnSimd } from '../src/kernels/lrn.js';
import { Net } from '../src/runtime/net.js';
import type { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { agreement } from '../src/verify/compare.js';
import { cli } from './helpers/cli.js';

const root = 'test/fixtures/nonfinite';
const nans = (t: Tensor) => t.data.reduce((n, v) => n + (Number.isNaN(v) ? 1 : 0), 0);

/** Our blob against Caffe's: NaNs and infinities at the same places, the rest within the project's tolerance. */
function expectCaffe(ours: Tensor, caffe: Tensor, what: string): void {
  expect([...ours.dims], what).toEqual([...caffe.dims]);
  const nonfinite = caffe.data.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0);
  const a = agreement(ours.data, caffe.data);
  expect(a.rel, what).toBeLessThanOrEqual(1e-4); // a NaN or infinity on one side only would be Infinity
  expect(a.nonfinite, what).toBe(nonfinite);
}

afterAll(() => useLrnSimd(true));

describe('NaN and infinities as real Caffe computes them', () => {
  for (const simd of [true, false]) {
    it(`nan_lrn: WITHIN_CHANNEL LRN keeps them in their windows (${simd ? 'SIMD' : 'TypeScript'} kernels)`, async () => {
      useLrnSimd(simd);
      const dir = path.join(root, 'nan_lrn');
      const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'));
      net.forward({ data: readNpy(path.join(dir, 'input.npy')) });
      const { blobs } = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { blobs: string[] };
      for (const b of blobs) expectCaffe(net.blobs.get(b)!, readNpy(path.join(dir, 'blobs', `${b}.npy`)), b);
      // Two NaNs and two infinities in 297 values: Caffe's local windows give 20 NaNs at 3 x 3 (the running
      // sums gave 141), 43 at 5 x 5 (167).
      expect([nans(net.blobs.get('within3')!), nans(net.blobs.get('within5')!)]).toEqual([20, 43]);
    });
  }

  it('cifar10_full with one infinite pixel: norm1 has Caffe\'s 176 NaNs, not planes of them', async () => {
    const dir = path.join(root, 'cifar10_inf');
    const net = await Net.load('models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel');
    net.forward({ data: readNpy(path.join(dir, 'input.npy')) });
    const caffe = readNpy(path.join(dir, 'norm1.npy'));
    expectCaffe(net.blobs.get('norm1')!, caffe, 'norm1');
    expect(nans(net.blobs.get('norm1')!)).toBe(176);
  });

  it('nan_argmax: ArgMax of [NaN, 1, 2] is 2, and every top-k order is Caffe\'s', async () => {
    const dir = path.join(root, 'nan_argmax');
    const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'));
    net.forward({ data: readNpy(path.join(dir, 'input.npy')) });
    for (const b of ['am1', 'am3v', 'am_all', 'am_ax0']) expectCaffe(net.blobs.get(b)!, readNpy(path.join(dir, 'blobs', `${b}.npy`)), b);
    expect([...net.blobs.get('am1')!.data]).toEqual([2, 4, 4, 4]); // rows [NaN 1 2 0 1], [2 NaN 2 NaN 1], ...
  });
});

describe('verify with NaN or infinite values', () => {
  it('counts them as equal where both engines have them, and says so', async () => {
    const r = await cli('verify', 'models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel', '--input', path.join(root, 'cifar10_inf/input.npy'));
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain("note: 'norm1': 176 values are NaN or infinite on both sides, counted as equal");
    expect(r.stdout).toMatch(/verify: PASS: all 11 blobs within tolerance/);
    const json = await cli('verify', 'models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel', '--input', path.join(root, 'cifar10_inf/input.npy'), '--json');
    const report = JSON.parse(json.stdout) as { blobs: { blob: string; pairs: { native_onnx: { nonfinite?: number } } }[] };
    expect(report.blobs.find((b) => b.blob === 'norm1')!.pairs.native_onnx.nonfinite).toBe(176);
  });

  it('still fails a NaN on one side only', () => {
    expect(agreement(Float32Array.of(1, NaN), Float32Array.of(1, 2)).rel).toBe(Infinity);
    expect(agreement(Float32Array.of(1, 2), Float32Array.of(1, NaN)).rel).toBe(Infinity);
    expect(agreement(Float32Array.of(Infinity), Float32Array.of(-Infinity)).rel).toBe(Infinity);
    expect(agreement(Float32Array.of(NaN, -Infinity, 3), Float32Array.of(NaN, -Infinity, 3))).toEqual({ abs: 0, rel: 0, nonfinite: 2 });
  });
});
