// The wasm kernels' paths for batch > 1 (docs/PERFORMANCE.md, "Batch"): against real Caffe at batch 3
// (test/fixtures/layers/batch_paths, computed by BVLC Caffe 1.0 with make-fixtures.mjs) and against the TypeScript
// kernels at odd batch sizes, with groups, pads and fused ReLU, on 1 and 2 threads. Needs `npm run build`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConvGeometry } from '../src/kernels/im2col.js';
import { kernelsInUse, setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { winogradLimits, winogradTile } from '../src/kernels/winograd.js';
import type { FusableLayer } from '../src/layers/convolution.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { layerDef, randomArray, randomInt, relDiff, rng, runLayer } from './helpers/compute.js';
import { TOLERANCE, referenceBlob, referenceCases, relativeError, weightsOf } from './helpers/reference.js';

beforeAll(() => {
  useKernels('wasm');
  expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
});
afterAll(() => useKernels('wasm'));

/** The first `n` images of a batch tensor. */
function firstImages(t: Tensor, n: number): Tensor {
  const per = t.data.length / t.dims[0];
  return new Tensor([n, ...t.dims.slice(1)], t.data.slice(0, n * per));
}

describe('which Winograd tile a batch takes', () => {
  const plane = (size: number, channels: number): ConvGeometry => ({
    channels, height: size, width: size, kernelH: 3, kernelW: 3, padH: 1, padW: 1, strideH: 1, strideW: 1,
    dilationH: 1, dilationW: 1, outH: size, outW: size,
  });
  it('F(4x4) on 12x12 and 13x13 planes with 96 or more input channels at batch > 1; batch 1 takes F(2x4, 3x3) on 12x12 (F(4x4) from 14x14 and on 13x13), both below', () => {
    const sizes = [28, 16, 15, 14, 13, 12, 10, 8, 7];
    expect(sizes.map((n) => winogradTile(plane(n, 128), 64, undefined, 8))).toEqual([4, 4, 4, 4, 4, 4, 24, 24, 24]);
    expect(sizes.map((n) => winogradTile(plane(n, 128), 64, undefined, 1))).toEqual([4, 4, 4, 4, 4, 24, 24, 24, 24]);
    expect([64, 95, 96, 512].map((c) => winogradTile(plane(13, c), 64, undefined, 2))).toEqual([2, 2, 4, 4]);
    expect(['0', '2'].map((s) => winogradTile(plane(14, 128), 64, s, 8))).toEqual([0, 2]);
  });
});

for (const threads of [1, 2]) {
  describe(`batch > 1, ${threads} thread(s)`, () => {
    beforeAll(async () => {
      await setThreads(threads, 2); // 2 threads even on a one-core machine: the pool's paths must run
      expect(wasmEngine()!.activeThreads()).toBe(threads);
    });

    it('against Caffe at batch 3 (test/fixtures/layers/batch_paths); the same net at batch 1 and back at 3', async () => {
      const c = referenceCases('fixtures').find((r) => r.name === 'batch_paths')!;
      const net = await Net.load(c.prototxt, weightsOf(c), { threads });
      const x = readNpy(c.input);
      const check = (images: number): void => {
        for (const b of c.blobs) {
          const ref = referenceBlob(c, b);
          expect(relativeError(net.blobs.get(b)!, images === ref.dims[0] ? ref : firstImages(ref, images)), `${b} at batch ${images}`).toBeLessThanOrEqual(TOLERANCE);
        }
      };
      net.forward({ data: x });
      check(3);
      // conv3 takes F(2x2) at batch 1 and F(4x4) at 3: each made once, both right after the switch back.
      net.forward({ data: firstImages(x, 1) });
      check(1);
      net.forward({ data: x });
      check(3);
    });

    it('Winograd at odd batches (2, 3, 5) with groups, pads 0-2 and fused ReLU vs the TypeScript kernels', () => {
      const random = rng(11 + threads);
      for (let t = 0; t < 6; t++) {
        const num = [2, 3, 5][t % 3], group = t % 2 ? 2 : 1, pad = t % 3, size = randomInt(random, 12, 15);
        const cinG = randomInt(random, 96, 110), coutG = randomInt(random, 16, 30);
        const x = new Tensor([num, cinG * group, size, size], randomArray(num * cinG * group * size * size, random));
        const w = new Tensor([coutG * group, cinG, 3, 3], randomArray(coutG * group * cinG * 9, random));
        const b = new Tensor([coutG * group], randomArray(coutG * group, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: coutG * group, group, kernel_size: [3], pad: [pad] } });
        const relu = t % 2 ? 0.1 : undefined;
        const [got, want] = both(def, [w, b], x, relu);
        const label = `case ${t}: N ${num} group ${group} cin/g ${cinG} cout/g ${coutG} ${size}x${size} pad ${pad} relu ${relu}`;
        expect([...got.dims], label).toEqual([...want.dims]);
        // F(4x4): its transforms' float32 error is ~10x F(2x2)'s (test/wasm-kernels.test.ts).
        expect(relDiff(got.data, want.data), label).toBeLessThan(5e-5);
      }
    });

    it('a batch whose bordered input copy passes the bound runs Winograd in groups of images (1 and 2 a group, a NaN in the last)', () => {
      const random = rng(23 + threads);
      const [num, C, size, cout] = [5, 16, 14, 24];
      const x = new Tensor([num, C, size, size], randomArray(num * C * size * size, random));
      const w = new Tensor([cout, C, 3, 3], randomArray(cout * C * 9, random)), b = new Tensor([cout], randomArray(cout, random));
      const def = layerDef('Convolution', { convolution_param: { num_output: cout, kernel_size: [3], pad: [1] } });
      const image = C * 16 * 16 * 4; // F(2x2) on 14x14: 7 x 7 tiles, patches of 16 x 16
      const saved = winogradLimits.padBytes;
      try {
        for (const fit of [1, 2]) {
          winogradLimits.padBytes = fit * image;
          const [got, want] = both(def, [w, b], x);
          expect(relDiff(got.data, want.data), `${fit} a group`).toBeLessThan(1e-5);
        }
        x.data[(num - 1) * C * size * size + 3 * size * size + 40] = NaN; // in image 5: the whole batch takes im2col
        const [got, want] = both(def, [w, b], x);
        expect([...got.data].map(Number.isNaN)).toEqual([...want.data].map(Number.isNaN));
        expect(got.data.filter(Number.isNaN).length).toBeGreaterThan(0);
        expect(relDiff(got.data.map((v) => (Number.isNaN(v) ? 0 : v)), want.data.map((v) => (Number.isNaN(v) ? 0 : v)))).toBeLessThan(1e-5);
      } finally {
        winogradLimits.padBytes = saved;
      }
    });
  });
}

/** A layer run on the TypeScript kernels and on the wasm kernels: [wasm, TypeScript]. */
function both(def: ReturnType<typeof layerDef>, weights: Tensor[], x: Tensor, relu?: number): [Tensor, Tensor] {
  const fuse = (l: unknown): void => {
    if (relu !== undefined) (l as FusableLayer).fuseRelu(relu);
  };
  useKernels('js');
  const [want] = runLayer(def, weights, [x], fuse);
  useKernels('wasm');
  const [got] = runLayer(def, weights, [x], fuse);
  return [got, want];
}
