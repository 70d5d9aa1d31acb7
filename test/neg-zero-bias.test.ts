// Caffe's Convolution, Deconvolution and InnerProduct sum their products from +0 (its GEMM, GEMV and col2im) and
// add the bias after, so a sum of -0 products with a -0 bias is +0, never -0. Checked against real Caffe 1.0
// (test/fixtures/nonfinite/neg_zero_bias, made by test/fixtures/layers/make-fixtures.mjs: an input of +0, every
// weight negative, every bias -0) on each path: im2col GEMM, Winograd F(2x2), F(4x4) and F(6x6) (CREMA_WINOGRAD),
// strided and dilated, 1x1 with 1, 2, 3 and 8 outputs, the direct kernel, groups, a 1-D kernel, the whole-window
// inner product, depthwise, deconvolution, InnerProduct at batch 2 and 1; on the TypeScript kernels, both wasm
// builds at 1 and 2 threads, and ONNX Runtime. Needs `npm run build` (dist/).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useKernels } from '../src/kernels/wasm.js';
import { forwardOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { differences } from './helpers/depthwise.js';
import { childDifferences } from './helpers/fixture-child.js';

const dir = 'test/fixtures/nonfinite/neg_zero_bias';
const { blobs } = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { blobs: string[] };
const tops = blobs.filter((b) => b !== 'data');
const want = (b: string) => readNpy(path.join(dir, 'blobs', `${b}.npy`)).data;
const input = () => ({ data: readNpy(path.join(dir, 'input.npy')) });
const load = (threads = 1) => Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'), { threads });

/** Each top's values that are not Caffe's bits (-0 is not +0): differences at tolerance 0, by blob. */
function unlike(get: (b: string) => Float32Array): string {
  return tops.flatMap((b) => differences(get(b), want(b), 0).map((d) => b + d)).slice(0, 5).join(', ');
}

describe('a -0 bias over -0 products: +0 as in real Caffe, every convolution and inner product path', () => {
  it('the fixture holds what it is for: every weight negative, every bias -0, Caffe\'s tops all +0', async () => {
    const net = await load();
    expect(input().data.data.every((v) => Object.is(v, 0))).toBe(true);
    for (const [name, [w, b]] of net.params) {
      expect(w.data.every((v) => v < 0), name).toBe(true);
      if (b) expect(b.data.every((v) => Object.is(v, -0)), name).toBe(true);
    }
    expect(tops.length).toBe(26);
    for (const b of tops) expect(want(b).every((v) => Object.is(v, 0)), b).toBe(true);
  });

  afterAll(() => useKernels('wasm'));
  for (const kernels of ['wasm', 'js'] as const) {
    it(`${kernels} kernels, 2 threads`, async () => {
      useKernels(kernels);
      const net = await load(2);
      net.forward(input());
      expect(unlike((b) => net.blobs.get(b)!.data)).toBe('');
    });
  }

  // The engine and CREMA_WINOGRAD are process-wide, so each build runs in a child (from dist/).
  for (const fma of ['1', '0']) {
    it(`CREMA_FMA=${fma}: 1 and 2 threads, Winograd as chosen and forced to F(2x2), F(4x4), F(6x6) and off`, () => {
      for (const winograd of ['', '0', '2', '4', '6']) {
        const { build, differ } = childDifferences(dir, tops, 0, { CREMA_FMA: fma, CREMA_WINOGRAD: winograd });
        expect(build).toBe(fma === '1' ? 'fma' : 'simd');
        expect(differ.slice(0, 5).join(', '), `CREMA_WINOGRAD=${winograd}`).toBe('');
      }
    }, 60_000);
  }

  it('through ONNX Runtime', async () => {
    const { blobs: got } = await forwardOnnx(await load(), input(), { blobs: 'all' });
    expect(unlike((b) => got.get(b)!.data)).toBe('');
  });
});
