// Caffe's ReLU bit for bit: max(x, 0) + slope * min(x, 0) in float, std::max(a, b) = a < b ? b : a and
// std::min(a, b) = b < a ? b : a. So +0 (never -0) for a negative x at slope 0 and where slope * x underflows, -0 for
// -0, NaN for NaN and for -Infinity at slope 0. Checked against real Caffe (test/fixtures/nonfinite/relu_zeros, made
// by test/fixtures/layers/make-fixtures.mjs) for the ReLU and PReLU layers and the Eltwise + ReLU fold, and on every
// fused path of the wasm and TypeScript kernels: the fused output has the bits of caffeRelu over the unfused one.
// Needs `npm run build` (dist/kernels.wasm).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LayerParameter } from '../src/caffe/types.js';
import { directFits } from '../src/kernels/direct.js';
import { eltwiseSumWasm } from '../src/kernels/eltwise.js';
import type { ConvGeometry } from '../src/kernels/im2col.js';
const caffeRelu = (x: number, s: number) => (x < 0 ? 0 : x) + Math.fround(s * (0 < x ? 0 : x));
import { kernelsInUse, setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { winogradTile } from '../src/kernels/winograd.js';
import type { FusableLayer } from '../src/layers/convolution.js';
import { Net } from '../src/runtime/net.js';
import { forwardOnnx } from '../src/onnx/run.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { expectBits, layerDef, randomArray, rng, runLayer } from './helpers/compute.js';

const caffeReluOf = (x: ArrayLike<number>, slope: number) => Float32Array.from(x, (v) => caffeRelu(v, Math.fround(slope)));

// The edge values: zeros of both signs, infinities, NaN, subnormals whose products with a slope underflow.
const EDGES = [-0, 0, -1, 1, -Infinity, Infinity, NaN, -1e-45, 1e-45, -1e-44, -1e-40, -1.1754944e-38, -3.4e38, 3.4e38, -2.5, -1e-20];
// Slopes: ReLU, leaky, negative (Caffe allows it), and so small (a float subnormal) that slope * x underflows.
const SLOPES = [0, 0.1, -0.5, 1e-45];

describe("caffeRelu: Caffe's formula", () => {
  it('gives +0 for negatives at slope 0, -0 for -0, NaN for -Infinity at slope 0, +0 where the product underflows', () => {
    expect(Object.is(caffeRelu(-1, 0), 0)).toBe(true);
    expect(Object.is(caffeRelu(-0, 0), -0)).toBe(true);
    expect(Object.is(caffeRelu(-0, 0.1), -0)).toBe(true);
    expect(Object.is(caffeRelu(-0, -0.5), 0)).toBe(true); // -0 + (-0.5 * -0 = +0)
    expect(caffeRelu(-Infinity, 0)).toBeNaN();
    expect(caffeRelu(-Infinity, Math.fround(0.1))).toBe(-Infinity);
    expect(caffeRelu(Infinity, 0)).toBe(Infinity);
    expect(caffeRelu(NaN, 0)).toBeNaN();
    expect(Object.is(caffeRelu(Math.fround(-1e-45), Math.fround(0.1)), 0)).toBe(true); // the float product is -0
    expect(caffeRelu(-2, Math.fround(0.1))).toBe(Math.fround(-2 * Math.fround(0.1)));
  });
});

describe('ReLU, PReLU and Eltwise + ReLU against real Caffe (test/fixtures/nonfinite/relu_zeros)', () => {
  const dir = 'test/fixtures/nonfinite/relu_zeros';
  afterAll(() => useKernels('wasm'));
  for (const kernels of ['wasm', 'js'] as const) {
    it(`every blob has Caffe's bits (NaN as NaN), ${kernels} kernels`, async () => {
      useKernels(kernels);
      const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'));
      net.forward({ data: readNpy(path.join(dir, 'input.npy')) });
      const { blobs } = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { blobs: string[] };
      for (const b of blobs) {
        const want = readNpy(path.join(dir, 'blobs', `${b}.npy`)).data, got = net.blobs.get(b)!.data;
        expectBits(got, want, b);
      }
      // The cases that were wrong: -0 from a negative at slope 0, 0 (not NaN) from -Infinity, -0 from a sum of -0s.
      expect(Object.is(net.blobs.get('r0')!.data[2], 0)).toBe(true);
      expect(net.blobs.get('r0')!.data[4]).toBeNaN();
      expect(Object.is(net.blobs.get('r0')!.data[0], -0)).toBe(true);
      expect(Object.is(net.blobs.get('sum')!.data[0], 0)).toBe(true);
    });
  }
});

describe('Eltwise SUM with a coefficient 0 against real Caffe (test/fixtures/nonfinite/eltwise_coeff0)', () => {
  // Caffe's axpy returns at once for a coefficient 0, so an Infinity or NaN in that bottom never reaches the top
  // (0 * Infinity would be NaN): e10 = pos, e00 = +0, e02r = relu(2 pos) (the fold), e3 = pos - pos / 2.
  const dir = 'test/fixtures/nonfinite/eltwise_coeff0';
  const input = () => ({ data: readNpy(path.join(dir, 'input.npy')) });
  const want = (b: string) => readNpy(path.join(dir, 'blobs', `${b}.npy`)).data;
  afterAll(() => useKernels('wasm'));
  for (const kernels of ['wasm', 'js'] as const) {
    it(`every blob has Caffe's bits, ${kernels} kernels`, async () => {
      useKernels(kernels);
      const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'));
      net.forward(input());
      for (const b of ['pos', 'e10', 'e00', 'e02r', 'e3']) expectBits(net.blobs.get(b)!.data, want(b), b);
      expect(net.blobs.get('e10')!.data[9]).toBe(-Infinity); // data's Infinity times 0 skipped, not NaN
    });
  }
  it('through ONNX Runtime: the same bits (but relu(-Infinity), which ORT gives as 0)', async () => {
    const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'));
    const { blobs } = await forwardOnnx(net, input(), { blobs: 'all' });
    for (const b of ['e10', 'e00', 'e3']) expectBits(blobs.get(b)!.data, want(b), b);
  });
});

describe('Eltwise SUM with coefficients against real Caffe (test/fixtures/nonfinite/eltwise_fma): each product exact', () => {
  // Caffe's axpy (OpenBLAS) is a fused multiply-add, its vector kernel and its C tail alike: a * x is exact before
  // the add. -3e38 + 2 * 3e38 is 3e38 there (Infinity with the product rounded), and the random values' sums differ
  // in the last bit where the product's rounding matters. 45 floats a bottom: the wasm kernel's vectors and its
  // scalar tail.
  const dir = 'test/fixtures/nonfinite/eltwise_fma';
  const blobs = ['e12', 'e_frac', 'e3'];
  afterAll(() => useKernels('wasm'));
  for (const kernels of ['wasm', 'js'] as const) {
    it(`every blob has Caffe's bits, ${kernels} kernels`, async () => {
      useKernels(kernels);
      const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'));
      net.forward({ data: readNpy(path.join(dir, 'input.npy')) });
      for (const b of blobs) expectBits(net.blobs.get(b)!.data, readNpy(path.join(dir, 'blobs', `${b}.npy`)).data, b);
      for (const i of [1, 33, 44]) expect(net.blobs.get('e12')!.data[i]).toBe(Math.fround(3e38));
    });
  }
  // The engine is process-wide, so each build runs in a child (from dist/): the plain one computes in f64.
  for (const fma of ['1', '0']) {
    it(`CREMA_FMA=${fma}: the ${fma === '1' ? 'relaxed-SIMD' : 'plain SIMD'} build gives Caffe's bits`, async () => {
      const { execFileSync } = await import('node:child_process');
      const script = `
        await import('./dist/platform/node.js');
        const { Net } = await import('./dist/index.js');
        const { wasmBuild } = await import('./dist/kernels/wasm.js');
        const { readNpy } = await import('./dist/util/npy.js');
        const dir = ${JSON.stringify(dir)};
        const net = await Net.load(dir + '/net.prototxt', dir + '/weights.caffemodel', { threads: 1 });
        net.forward({ data: readNpy(dir + '/input.npy') });
        const differ = [];
        for (const b of ${JSON.stringify(blobs)}) {
          const got = net.blobs.get(b).data, want = readNpy(dir + '/blobs/' + b + '.npy').data;
          for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) differ.push(b + '[' + i + '] ' + got[i] + ' not ' + want[i]);
        }
        console.log(JSON.stringify({ build: wasmBuild(), differ }));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, CREMA_FMA: fma, CREMA_KERNELS: '' }, encoding: 'utf8' });
      const { build, differ } = JSON.parse(out.trim().split('\n').pop()!) as { build: string; differ: string[] };
      expect(build).toBe(fma === '1' ? 'fma' : 'simd');
      expect(differ.slice(0, 5).join(', ')).toBe('');
    });
  }
});

/** The layer run with `slope` fused, and without a ReLU; kernels as set. */
function fusedAndPlain(def: LayerParameter, weights: Tensor[], x: Tensor, slope: number): [Float32Array, Float32Array] {
  const run = (fuse: boolean): Float32Array => runLayer(def, weights, [x], (l) => fuse && (l as unknown as FusableLayer).fuseRelu(slope))[0].data;
  return [run(true), run(false)];
}

interface Case { name: string; def: LayerParameter; weights: Tensor[]; x: Tensor; check?: () => void; env?: string }

/** A convolution case with random x, weights and bias (values in [-1, 1): half the outputs negative). */
function conv(name: string, seed: number, N: number, C: number, H: number, W: number, cout: number, param: Record<string, unknown>, scale = 1): Case {
  const random = rng(seed);
  const kh = (param.kernel_h ?? (param.kernel_size as number[])[0]) as number, kw = (param.kernel_w ?? (param.kernel_size as number[])[0]) as number;
  const group = (param.group as number | undefined) ?? 1;
  const x = new Tensor([N, C, H, W], randomArray(N * C * H * W, random).map((v) => v * scale));
  const w = new Tensor([cout, C / group, kh, kw], randomArray((cout * C * kh * kw) / group, random));
  const b = new Tensor([cout], randomArray(cout, random));
  return { name, def: layerDef('Convolution', { convolution_param: { num_output: cout, ...param } }), weights: [w, b], x };
}
const geometry = (C: number, H: number, W: number, k: number, pad: number, stride: number): ConvGeometry => ({
  channels: C, height: H, width: W, kernelH: k, kernelW: k, padH: pad, padW: pad, strideH: stride, strideW: stride, dilationH: 1, dilationW: 1,
  outH: Math.floor((H + 2 * pad - k) / stride) + 1, outW: Math.floor((W + 2 * pad - k) / stride) + 1,
});

const cases: Case[] = [
  conv('GEMM tile (3x3 stride 2, 8 channels; edge tiles)', 1, 2, 8, 13, 15, 13, { kernel_size: [3], stride: [2], pad: [1] }),
  conv('GEMM 1x1 (pointwise)', 2, 1, 20, 7, 9, 17, { kernel_size: [1] }),
  conv('1x1 on 1 x 1 planes (row-major inner product)', 3, 1, 40, 1, 1, 37, { kernel_size: [1] }),
  { ...conv('direct (3 channels, 3x3 stride 2)', 4, 1, 3, 21, 41, 9, { kernel_size: [3], stride: [2] }, 50), check: () => expect(directFits(geometry(3, 21, 41, 3, 0, 2), 1)).toBe(true) },
  { ...conv('Winograd F(2x2, 3x3)', 5, 1, 16, 6, 5, 16, { kernel_size: [3], pad: [1] }), check: () => expect(winogradTile(geometry(16, 6, 5, 3, 1, 1), 16, undefined)).toBe(2) },
  { ...conv('Winograd F(2x4, 3x3)', 20, 1, 16, 10, 11, 16, { kernel_size: [3], pad: [1] }), check: () => expect(winogradTile(geometry(16, 10, 11, 3, 1, 1), 16, undefined)).toBe(24) },
  { ...conv('Winograd F(4x4, 3x3)', 6, 1, 16, 20, 21, 16, { kernel_size: [3], pad: [1] }), check: () => expect(winogradTile(geometry(16, 20, 21, 3, 1, 1), 16, undefined)).toBe(4) },
  { ...conv('Winograd F(6x6, 3x3)', 7, 1, 16, 68, 73, 16, { kernel_size: [3] }), check: () => expect(winogradTile(geometry(16, 68, 73, 3, 0, 1), 16, undefined)).toBe(6) },
  conv('Winograd F(4x4, 5x5)', 8, 1, 16, 14, 15, 16, { kernel_size: [5], pad: [1] }),
  conv('Winograd F(2x4, 7x7)', 9, 1, 16, 14, 17, 16, { kernel_size: [7], pad: [2] }),
  { ...conv('Winograd F(2x2, 7x7) (CREMA_WINOGRAD=2)', 10, 1, 16, 14, 17, 16, { kernel_size: [7], pad: [2] }), env: '2' },
  conv('1-D Winograd F(4, 7) (1 x 7)', 11, 1, 16, 9, 23, 16, { kernel_h: 1, kernel_w: 7, pad_h: 0, pad_w: 3 }),
  conv('1-D Winograd F(4, 3) (3 x 1)', 12, 1, 16, 19, 9, 16, { kernel_h: 3, kernel_w: 1, pad_h: 1, pad_w: 0 }),
  conv('strided Winograd (7x7 stride 2)', 13, 1, 16, 29, 31, 16, { kernel_size: [7], stride: [2], pad: [3] }),
  conv('depthwise 3x3 stride 1 (bands)', 14, 1, 4, 19, 23, 4, { kernel_size: [3], pad: [1], group: 4 }),
  conv('depthwise 3x3 stride 2 (flat)', 15, 1, 4, 19, 23, 4, { kernel_size: [3], pad: [1], stride: [2], group: 4 }),
  conv('depthwise 5x5 (general)', 16, 1, 3, 17, 19, 3, { kernel_size: [5], pad: [2], group: 3 }),
  conv('depthwise 3x3 on tiny planes (one value a column)', 17, 2, 3, 3, 2, 3, { kernel_size: [3], pad: [1], group: 3 }),
  { name: 'InnerProduct batch 1 (GEMV)', ...ip(18, 1, 300, 37) },
  { name: 'InnerProduct batch 3 (GEMM)', ...ip(19, 3, 70, 29) },
];
function ip(seed: number, M: number, K: number, N: number): Omit<Case, 'name'> {
  const random = rng(seed);
  return {
    def: layerDef('InnerProduct', { inner_product_param: { num_output: N } }),
    weights: [new Tensor([N, K], randomArray(N * K, random)), new Tensor([N], randomArray(N, random))],
    x: new Tensor([M, K], randomArray(M * K, random)),
  };
}

beforeAll(() => {
  useKernels('wasm');
  expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
});
afterAll(() => useKernels('wasm'));

for (const threads of [1, 2]) {
  describe(`every fused ReLU gives caffeRelu's bits over the unfused output, ${threads} thread(s)`, () => {
    beforeAll(async () => {
      await setThreads(threads, 2);
      expect(wasmEngine()!.activeThreads()).toBe(threads);
    });

    for (const c of cases) {
      it(`${c.name}: wasm and TypeScript kernels, slopes ${SLOPES.join(', ')}`, () => {
        c.check?.();
        if (c.env) process.env.CREMA_WINOGRAD = c.env;
        try {
          for (const kernels of ['wasm', 'js'] as const) {
            useKernels(kernels);
            for (const slope of SLOPES) {
              const [fused, plain] = fusedAndPlain(c.def, c.weights, c.x, slope);
              const label = `${kernels} slope ${slope}`;
              expect(plain.filter((v) => v < 0).length, label).toBeGreaterThan(fused.length / 8);
              expectBits(fused, caffeReluOf(plain, slope), label);
              if (slope === 0 || slope === 1e-45) expect(fused.some((v) => Object.is(v, 0)), label).toBe(true);
            }
          }
        } finally {
          delete process.env.CREMA_WINOGRAD;
          useKernels('wasm');
        }
      });
    }

    it('a -Infinity through the GEMM (1x1, positive weights): NaN at slope 0, as Caffe', () => {
      const x = new Tensor([1, 4, 3, 5], Float32Array.from({ length: 60 }, (_, i) => (i === 7 ? -Infinity : i % 3 === 0 ? -0.5 : 0.25)));
      const w = new Tensor([9, 4, 1, 1], new Float32Array(36).fill(0.5));
      const def = layerDef('Convolution', { convolution_param: { num_output: 9, kernel_size: [1], bias_term: false } });
      for (const kernels of ['wasm', 'js'] as const) {
        useKernels(kernels);
        const [fused, plain] = fusedAndPlain(def, [w], x, 0);
        expect(plain[7], kernels).toBe(-Infinity);
        expect(fused[7], kernels).toBeNaN();
        expectBits(fused, caffeReluOf(plain, 0), kernels);
      }
      useKernels('wasm');
    });

    it('Eltwise SUM + ReLU (the fold\'s kernel): edge values, 2 bottoms of coefficient 1 and 3 with coefficients, vector and scalar tails; -0 + -0 is +0 as in Caffe (caffe_set(0), then axpy)', () => {
      const e = wasmEngine()!;
      const resident = (a: Float32Array) => {
        const r = e.residentArray(a.length)!;
        r.set(a);
        return r;
      };
      for (const n of [16 * 4 + 3, 16 * 8]) {
        const a = Float32Array.from({ length: n }, (_, i) => EDGES[i % 16]), zeros = new Float32Array(n).fill(-0);
        const b = Float32Array.from({ length: n }, (_, i) => EDGES[(i * 7 + 3) % 16] * (i % 5 === 0 ? -0 : 1));
        for (const [xs, coeffs] of [[[a, zeros], [1, 1]], [[a, b], [1, 1]], [[a, zeros, b], [2, -0.5, 1]]] as const) {
          // Caffe: y = +0, then y += c_b * x_b (a fused multiply-add in its OpenBLAS, exact in double here).
          const sum = Float32Array.from({ length: n }, (_, i) => xs.reduce((y, x, k) => Math.fround(y + coeffs[k] * x[i]), 0));
          for (const slope of [undefined, ...SLOPES]) {
            const want = slope === undefined ? sum : caffeReluOf(sum, slope);
            const y = resident(new Float32Array(n));
            expect(eltwiseSumWasm(xs.map(resident), Float32Array.from(coeffs), y, slope)).toBe(true);
            expectBits(y, want, `wasm n ${n} coeffs ${coeffs} slope ${slope}`);
          }
        }
      }
    });
  });
}
