// Depthwise convolution (the wasm kernels and the TypeScript one) against Caffe's im2col + GEMM transcribed here:
// for each output, +0 plus w * x over every tap (ky, kx) in order, x = 0 at a tap in the padding, then + bias, then
// Caffe's ReLU. Random shapes the fixed tests miss: planes 1-13 high and 1-13 wide (every fifth up to 40: the
// in-place 3x3 paths' vector columns), kernels 1-5 (not square), pads 0-2 and strides 1-3 (each axis its own, pads
// past the kernel's reach), dilation 1-2, multipliers 1-2, batches 1-3, at 1, 2 and 3 threads; an infinite or NaN
// weight now and then (NaN at the borders it reaches through w * 0). NaN, infinities and zeros exact, the rest
// within 2e-6 of max(1, |Caffe's|) (its order of sums is not crema's). Outputs between guards.
// In a file of its own (3 threads: see test/depthwise-threads.test.ts). Needs `npm run build` (dist/kernels.wasm).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConvGeometry } from '../src/kernels/im2col.js';
import { caffeRelu } from '../src/kernels/relu.js';
import { kernelsInUse, setThreads, useKernels } from '../src/kernels/wasm.js';
import { randomArray, randomInt, rng } from './helpers/compute.js';
import { depthwiseBoth, differences } from './helpers/depthwise.js';

beforeAll(() => {
  useKernels('wasm');
  expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
});
afterAll(async () => void (await setThreads(1)));

/** Caffe's numbers: im2col's zeros in the padding, the GEMM's sum from +0, the bias after, its ReLU. */
function caffeDepthwise(g: ConvGeometry, N: number, mult: number, x: Float32Array, w: Float32Array, b: Float32Array | undefined, relu: number | undefined): Float32Array {
  const { channels: C, height: H, width: W, kernelH: kh, kernelW: kw, outH, outW } = g, cout = C * mult;
  const y = new Float32Array(N * cout * outH * outW);
  for (let n = 0, at = 0; n < N; n++) {
    for (let o = 0; o < cout; o++) {
      const plane = (n * C + Math.floor(o / mult)) * H * W;
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++, at++) {
          let sum = 0;
          for (let ky = 0; ky < kh; ky++) {
            for (let kx = 0; kx < kw; kx++) {
              const iy = oy * g.strideH - g.padH + ky * g.dilationH, ix = ox * g.strideW - g.padW + kx * g.dilationW;
              const v = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[plane + iy * W + ix] : 0;
              sum = Math.fround(sum + Math.fround(w[(o * kh + ky) * kw + kx] * v));
            }
          }
          if (b) sum = Math.fround(sum + b[o]);
          y[at] = relu === undefined ? sum : caffeRelu(sum, relu);
        }
      }
    }
  }
  return y;
}

describe('depthwise convolution on random shapes against Caffe transcribed', () => {
  for (const threads of [1, 2, 3]) {
    it(`${threads} thread${threads > 1 ? 's' : ''}: 300 shapes, wasm and TypeScript kernels`, async () => {
      await setThreads(threads, threads);
      const random = rng(520 + threads);
      let cases = 0;
      for (let t = 0; t < 300; t++) {
        const kh = randomInt(random, 1, 5), kw = t % 3 === 0 ? kh : randomInt(random, 1, 5);
        const [sh, sw] = [randomInt(random, 1, 3), t % 2 ? randomInt(random, 1, 3) : 0], [ph, pw] = [randomInt(random, 0, 2), randomInt(random, 0, 2)];
        const dh = t % 5 === 4 ? 2 : 1, dw = t % 7 === 6 ? 2 : dh;
        const H = randomInt(random, 1, 13), W = randomInt(random, 1, t % 5 === 2 ? 40 : 13), C = randomInt(random, 1, 6), mult = t % 4 === 3 ? 2 : 1, N = randomInt(random, 1, 3);
        const sW = sw || sh;
        const outH = Math.floor((H + 2 * ph - ((kh - 1) * dh + 1)) / sh) + 1, outW = Math.floor((W + 2 * pw - ((kw - 1) * dw + 1)) / sW) + 1;
        if (outH < 1 || outW < 1) continue;
        const g: ConvGeometry = { channels: C, height: H, width: W, kernelH: kh, kernelW: kw, padH: ph, padW: pw, strideH: sh, strideW: sW, dilationH: dh, dilationW: dw, outH, outW };
        const cout = C * mult, x = randomArray(N * C * H * W, random), w = randomArray(cout * kh * kw, random);
        const b = t % 6 === 5 ? undefined : randomArray(cout, random), relu = t % 3 === 0 ? undefined : t % 3 === 1 ? 0 : 0.1;
        if (t % 4 === 1) w[randomInt(random, 0, w.length - 1)] = [Infinity, -Infinity, NaN][t % 3];
        const label = `case ${t}: ${N}x${C}x${H}x${W} k ${kh}x${kw} s ${sh},${sW} p ${ph},${pw} d ${dh},${dw} x${mult} relu ${relu} bias ${b !== undefined}: ${outH}x${outW}`;
        const caffe = caffeDepthwise(g, N, mult, x, w, b, relu), [y, ts] = depthwiseBoth(g, N, mult, x, x, w, b, relu, label);
        expect(differences(y, caffe, 2e-6).join(', '), `wasm, ${label}`).toBe('');
        expect(differences(ts, caffe, 2e-6).join(', '), `TypeScript, ${label}`).toBe('');
        cases++;
      }
      expect(cases).toBeGreaterThan(220);
    });
  }
});
