// The sign of a MAX pool's zero, bit for bit. Caffe scans each window row by row from -FLT_MAX with a strict >, so
// of values equal to the maximum the first in row-major order is the output: with +0 and -0 (equal) in a window
// whose maximum is 0, the earliest zero's sign. Checked against real Caffe (test/fixtures/nonfinite/pool_zeros,
// made by test/fixtures/layers/make-fixtures.mjs: every wasm pool path, global pooling) and, on random windows of
// -1, -0, +0 (and NaN, infinities), the wasm kernel against the TypeScript one (Caffe's loop) on every path.
// Needs `npm run build` (dist/kernels.wasm).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelsInUse, setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { Tensor } from '../src/tensor.js';
import { expectBits, expectFixtureBits, layerDef, randomInt, rng, runLayer } from './helpers/compute.js';

beforeAll(() => {
  useKernels('wasm');
  expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
});
afterAll(async () => {
  useKernels('wasm');
  await setThreads(1, 2);
});

for (const threads of [1, 2]) {
  describe(`MAX pooling's zeros, ${threads} thread(s)`, () => {
    beforeAll(async () => {
      await setThreads(threads, 2);
      expect(wasmEngine()!.activeThreads()).toBe(threads);
    });

    for (const kernels of ['wasm', 'js'] as const) {
      it(`every pool of test/fixtures/nonfinite/pool_zeros has real Caffe's bits, ${kernels} kernels`, async () => {
        const dir = 'test/fixtures/nonfinite/pool_zeros';
        useKernels(kernels);
        try {
          let negativeZeros = 0;
          for (const want of await expectFixtureBits(dir)) negativeZeros += want.filter((v) => Object.is(v, -0)).length;
          expect(negativeZeros).toBeGreaterThan(100); // the fixture holds windows whose first zero is -0
        } finally {
          useKernels('wasm');
        }
      });
    }

    it('random windows of -1, -0, +0 (some NaN, infinities, positives): the wasm kernel gives the TypeScript loop\'s bits on every path', () => {
      const random = rng(71 + threads);
      const values = [-1, -0, 0, -0, 0, -0.5, -0, 0];
      const shapes: [string, Record<string, unknown>, number, number][] = [
        ['3x3 s2', { kernel_size: 3, stride: 2 }, 0, 0],
        ['3x3 s2 floor', { kernel_size: 3, stride: 2, round_mode: 'FLOOR' }, 0, 0],
        ['3x3 s1 p1', { kernel_size: 3, stride: 1, pad: 1 }, 0, 0],
        ['2x2 s2', { kernel_size: 2, stride: 2 }, 0, 0],
        ['2x2 s2 floor', { kernel_size: 2, stride: 2, round_mode: 'FLOOR' }, 0, 0],
        ['2x2 s2 on 9 x 9 (4 outputs of two columns, the last of one)', { kernel_size: 2, stride: 2 }, 9, 9],
        ['2x2 s2 on 8 x 7 (3 outputs of two columns: the row path)', { kernel_size: 2, stride: 2 }, 8, 7],
        ['2x2 s2 on 1 x 16 (one row: the window reads it twice)', { kernel_size: 2, stride: 2 }, 1, 16],
        ['2x2 s1', { kernel_size: 2, stride: 1 }, 0, 0],
        ['3x3 s2 p1', { kernel_size: 3, stride: 2, pad: 1 }, 0, 0],
        ['3x3 s2 p1 floor', { kernel_size: 3, stride: 2, pad: 1, round_mode: 'FLOOR' }, 0, 0],
        ['3x3 s2 p1 on 1 x 9 (one row: no row above or below)', { kernel_size: 3, stride: 2, pad: 1 }, 1, 9],
        ['3x3 s2 p1 on 2 x 2', { kernel_size: 3, stride: 2, pad: 1 }, 2, 2],
        ['3x3 s1', { kernel_size: 3, stride: 1 }, 0, 0],
        ['3x3 s3', { kernel_size: 3, stride: 3 }, 0, 0],
        ['4x4 s2 p1', { kernel_size: 4, stride: 2, pad: 1 }, 0, 0],
        ['5x5 s3 p2', { kernel_size: 5, stride: 3, pad: 2 }, 0, 0],
        ['3x2 s(2,1) p(1,0)', { kernel_h: 3, kernel_w: 2, stride_h: 2, stride_w: 1, pad_h: 1, pad_w: 0 }, 0, 0],
        ['1x3 s1 p(0,1)', { kernel_h: 1, kernel_w: 3, stride: 1, pad_h: 0, pad_w: 1 }, 0, 0],
        ['global', { global_pooling: true }, 0, 0],
        ['7x7 on a 7x7 plane', { kernel_size: 7, stride: 1 }, 7, 7],
        ['3x3 s2 SqueezeNet pool1 (bands)', { kernel_size: 3, stride: 2 }, 111, 111],
        ['3x3 s2 p1 rows longer than a band', { kernel_size: 3, stride: 2, pad: 1 }, 6, 4200],
      ];
      for (const [name, fields, h, w] of shapes) {
        for (let t = 0; t < 6; t++) {
          const H = h || randomInt(random, 5, 40), W = w || randomInt(random, 8, 45), C = randomInt(random, 1, 5);
          const data = Float32Array.from({ length: C * H * W }, () => values[Math.floor(random() * values.length)]);
          for (let i = 0; i < data.length; i += 1 + Math.floor(random() * 300)) data[i] = [NaN, -Infinity, Infinity, 0.5][Math.floor(random() * 4)];
          const def = layerDef('Pooling', { pooling_param: { pool: 'MAX', ...fields } });
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
