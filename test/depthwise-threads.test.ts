// The depthwise in-place paths (3x3 stride 1 and 2 read from x, no padded copy) at 3 threads: chunks of planes
// that do not divide evenly, each thread with its own zero row in scratch. In a file of their own: vitest runs
// each file in its own process (pool 'forks'), and the worker pool grows but never shrinks, so 3 threads here
// cannot reach the tests that count the pool's threads (test/wasm-kernels.test.ts). Against the TypeScript kernel
// (depthwisePlane), which adds w * 0 at padded taps as Caffe does (test/depthwise-padded-taps.test.ts checks it
// against real Caffe): NaN and zeros exact, the rest within 2e-6. (A Net caps its threads at the cores: not used.)
// Needs `npm run build` (dist/kernels.wasm).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConvGeometry } from '../src/kernels/im2col.js';
import { kernelsInUse, setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { randomArray, randomInt, rng } from './helpers/compute.js';
import { depthwiseBoth, differences } from './helpers/depthwise.js';

beforeAll(async () => {
  useKernels('wasm');
  expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
  await setThreads(3, 3); // 3 even on a two-core machine: three chunks' paths must run
  expect(wasmEngine()!.activeThreads()).toBe(3);
});
afterAll(async () => void (await setThreads(1)));

describe('depthwise 3x3 read in place, 3 threads', () => {
  for (const stride of [1, 2]) {
    it(`stride ${stride}: pads 0-2, odd and even widths, 4-14 planes (batch 1-2, multiplier 1-2), ReLU and leaky, an infinite or NaN weight now and then`, () => {
      const e = wasmEngine()!, random = rng(300 + stride);
      for (let t = 0; t < 40; t++) {
        const pad = t % 3, mult = t % 4 === 3 ? 2 : 1, N = t % 2 === 0 ? 2 : 1, C = randomInt(random, 2, 7);
        const H = randomInt(random, 5, 30), W = randomInt(random, 9, 40), relu = t % 3 === 0 ? undefined : t % 3 === 1 ? 0 : 0.1;
        const outH = Math.floor((H + 2 * pad - 3) / stride) + 1, outW = Math.floor((W + 2 * pad - 3) / stride) + 1, cout = C * mult;
        const g: ConvGeometry = { channels: C, height: H, width: W, kernelH: 3, kernelW: 3, padH: pad, padW: pad, strideH: stride, strideW: stride, dilationH: 1, dilationW: 1, outH, outW };
        const xs = randomArray(N * C * H * W, random), x = t % 2 === 1 ? e.residentArray(xs.length)!.fill(0) : xs;
        x.set(xs);
        const w = randomArray(cout * 9, random), b = t % 5 !== 4 ? randomArray(cout, random) : undefined;
        // Every fourth case a non-finite weight at a corner or edge tap (NaN at that border through w * 0).
        if (t % 4 === 1) w[randomInt(random, 0, cout - 1) * 9 + [0, 2, 5, 8][t % 16 >> 2]] = [Infinity, -Infinity, NaN, Infinity][t % 16 >> 2];
        const label = `case ${t}: ${N}x${C}x${H}x${W} stride ${stride} pad ${pad} x${mult} relu ${relu} bias ${b !== undefined}: ${outH}x${outW}`;
        const [y, want] = depthwiseBoth(g, N, mult, x, xs, w, b, relu, label);
        expect(differences(y, want, 2e-6).join(', '), label).toBe('');
      }
    });
  }
});
