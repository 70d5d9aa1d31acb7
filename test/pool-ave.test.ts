// AVE pooling's sum, bit for bit. Caffe adds each window's values from +0 row by row, left to right (for h, for w),
// then divides by the window clipped to the padded image; a float sum in another order (column sums first, as the
// wasm kernel did before round thirteen, or a double sum, as the TypeScript loop did) can differ in the last bit.
// Checked against real Caffe (test/fixtures/nonfinite/pool_ave, made by test/fixtures/layers/make-fixtures.mjs:
// every wasm AVE path) and, on random planes of mixed magnitudes, the wasm kernel against the TypeScript loop
// (Caffe's) on every path. Needs `npm run build` (dist/kernels.wasm).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelsInUse, setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { expectBits, expectFixtureBits, layerDef, randomInt, rng, runLayer } from './helpers/compute.js';

/** The sum Caffe computes for each output, in another order (column sums first): where the two differ. */
function orderMatters(x: Float32Array, H: number, W: number, k: number): number {
  let differ = 0;
  for (let oy = 0; oy + k <= H; oy++)
    for (let ox = 0; ox + k <= W; ox++) {
      let rows = 0, cols = 0;
      for (let h = 0; h < k; h++) for (let w = 0; w < k; w++) rows = Math.fround(rows + x[(oy + h) * W + ox + w]);
      for (let w = 0; w < k; w++) {
        let c = 0;
        for (let h = 0; h < k; h++) c = Math.fround(c + x[(oy + h) * W + ox + w]);
        cols = Math.fround(cols + c);
      }
      if (rows !== cols) differ++;
    }
  return differ;
}

beforeAll(() => {
  useKernels('wasm');
  expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
});
afterAll(async () => {
  useKernels('wasm');
  await setThreads(1, 2);
});

const dir = 'test/fixtures/nonfinite/pool_ave';
const MIXED = [0.1, -3.7, 1e-3, 250.3, -0.06, 7.9e-2, 1.3, -41.7, 0.71, 3.1e-4, -9.9, 17.2, -0.33, 5.5e3];

it('the fixture shows the order: a sum of column sums differs from Caffe\'s in many 3x3 windows', () => {
  const x = readNpy(path.join(dir, 'input.npy')).data;
  expect(orderMatters(x.subarray(0, 35 * 38), 35, 38, 3)).toBeGreaterThan(100);
});

for (const threads of [1, 2]) {
  describe(`AVE pooling's sums in Caffe's order, ${threads} thread(s)`, () => {
    beforeAll(async () => {
      await setThreads(threads, 2);
      expect(wasmEngine()!.activeThreads()).toBe(threads);
    });

    for (const kernels of ['wasm', 'js'] as const) {
      it(`every pool of ${dir} has real Caffe's bits, ${kernels} kernels`, async () => {
        useKernels(kernels);
        try {
          await expectFixtureBits(dir);
        } finally {
          useKernels('wasm');
        }
      });
    }

    it('random planes of mixed magnitudes (some NaN, infinities, -0): the wasm kernel gives the TypeScript loop\'s bits on every path', () => {
      const random = rng(83 + threads);
      const shapes: [string, Record<string, unknown>, number, number][] = [
        ['3x3 s1 p1', { kernel_size: 3, stride: 1, pad: 1 }, 0, 0],
        ['3x3 s1 p1 on 2x2', { kernel_size: 3, stride: 1, pad: 1 }, 2, 2],
        ['3x3 s1 p1 on 35x35', { kernel_size: 3, stride: 1, pad: 1 }, 35, 35],
        ['3x3 s2', { kernel_size: 3, stride: 2 }, 0, 0],
        ['2x2 s2', { kernel_size: 2, stride: 2 }, 0, 0],
        ['2x2 s1', { kernel_size: 2, stride: 1 }, 0, 0],
        ['3x3 s2 p1', { kernel_size: 3, stride: 2, pad: 1 }, 0, 0],
        ['3x3 s1', { kernel_size: 3, stride: 1 }, 0, 0],
        ['3x3 s3', { kernel_size: 3, stride: 3 }, 0, 0],
        ['4x4 s2 p1', { kernel_size: 4, stride: 2, pad: 1 }, 0, 0],
        ['5x5 s3 (GoogLeNet\'s loss branches)', { kernel_size: 5, stride: 3 }, 14, 14],
        ['5x5 s3 p2', { kernel_size: 5, stride: 3, pad: 2 }, 0, 0],
        ['3x2 s(2,1) p(1,0)', { kernel_h: 3, kernel_w: 2, stride_h: 2, stride_w: 1, pad_h: 1, pad_w: 0 }, 0, 0],
        ['1x3 s1 p(0,1)', { kernel_h: 1, kernel_w: 3, stride: 1, pad_h: 0, pad_w: 1 }, 0, 0],
        ['global', { global_pooling: true }, 0, 0],
        ['global 8x8 (Inception-v3)', { global_pooling: true }, 8, 8],
        ['7x7 on a 7x7 plane', { kernel_size: 7, stride: 1 }, 7, 7],
        ['3x3 s2 p1 rows longer than 4096 floats', { kernel_size: 3, stride: 2, pad: 1 }, 6, 4200],
      ];
      for (const [name, fields, h, w] of shapes) {
        for (let t = 0; t < 6; t++) {
          const H = h || randomInt(random, 5, 40), W = w || randomInt(random, 8, 45), C = randomInt(random, 1, 9);
          const data = Float32Array.from({ length: C * H * W }, () => MIXED[Math.floor(random() * MIXED.length)] * (random() < 0.5 ? 1 : 1 + random()));
          for (let i = 0; i < data.length; i += 1 + Math.floor(random() * 900)) data[i] = [NaN, -Infinity, Infinity, -0][Math.floor(random() * 4)];
          const def = layerDef('Pooling', { pooling_param: { pool: 'AVE', ...fields } });
          const x = new Tensor([1, C, H, W], data);
          useKernels('js');
          const [want] = runLayer(def, [], [x]);
          useKernels('wasm');
          const [got] = runLayer(def, [], [x]);
          expectBits(got.data, want.data, `${name} on ${C}x${H}x${W} (${t})`);
        }
      }
    });
  });
}
