// Caffe's Convolution, Deconvolution and InnerProduct sum their products from +0 (its GEMM, GEMV and col2im) and
// add the bias after, so a sum of -0 products with a -0 bias is +0, never -0. Checked against real Caffe 1.0
// (test/fixtures/nonfinite/neg_zero_bias, made by test/fixtures/layers/make-fixtures.mjs: an input of +0, every
// weight negative, every bias -0) on each path: im2col GEMM, Winograd F(2x2), F(4x4) and F(6x6) (CREMA_WINOGRAD),
// strided and dilated, 1x1 with 1, 2, 3 and 8 outputs, the direct kernel, groups, a 1-D kernel, the whole-window
// inner product, depthwise, deconvolution, InnerProduct at batch 2 and 1; on the TypeScript kernels, both wasm
// builds at 1 and 2 threads, and ONNX Runtime. Needs `npm run build` (dist/).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useKernels } from '../src/kernels/wasm.js';
import { forwardOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';

const dir = 'test/fixtures/nonfinite/neg_zero_bias';
const { blobs } = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { blobs: string[] };
const tops = blobs.filter((b) => b !== 'data');
const want = (b: string) => readNpy(path.join(dir, 'blobs', `${b}.npy`)).data;
const input = () => ({ data: readNpy(path.join(dir, 'input.npy')) });
const load = (threads = 1) => Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'), { threads });

/** "top[i] got" for each value not bit for bit Caffe's (Object.is: -0 is not +0), the first few. */
function unlike(get: (b: string) => Float32Array): string {
  const out: string[] = [];
  for (const b of tops) {
    const got = get(b), caffe = want(b);
    for (let i = 0; i < caffe.length && out.length < 5; i++) if (!Object.is(got[i], caffe[i])) out.push(`${b}[${i}] ${Object.is(got[i], -0) ? '-0' : got[i]}`);
  }
  return out.join(', ');
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
      const script = `
        await import('./dist/platform/node.js');
        const { Net } = await import('./dist/index.js');
        const { wasmBuild } = await import('./dist/kernels/wasm.js');
        const { readNpy } = await import('./dist/util/npy.js');
        const dir = ${JSON.stringify(dir)}, differ = [];
        for (const threads of [1, 2]) {
          const net = await Net.load(dir + '/net.prototxt', dir + '/weights.caffemodel', { threads });
          net.forward({ data: readNpy(dir + '/input.npy') });
          for (const b of ${JSON.stringify(tops)}) {
            const got = net.blobs.get(b).data, want = readNpy(dir + '/blobs/' + b + '.npy').data;
            for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) differ.push(threads + ' ' + b + '[' + i + '] ' + (Object.is(got[i], -0) ? '-0' : got[i]));
          }
        }
        console.log(JSON.stringify({ build: wasmBuild(), differ }));`;
      for (const winograd of ['', '0', '2', '4', '6']) {
        const env = { ...process.env, CREMA_FMA: fma, CREMA_KERNELS: '', CREMA_WINOGRAD: winograd };
        const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
        const { build, differ } = JSON.parse(out.trim().split('\n').pop()!) as { build: string; differ: string[] };
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
