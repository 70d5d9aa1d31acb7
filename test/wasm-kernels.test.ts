// The WebAssembly SIMD kernels (assembly/kernels.ts via src/kernels/wasm.ts) against the plain TypeScript kernels,
// which are the reference: Convolution and InnerProduct on seeded random shapes chosen to hit every edge (rows
// not a multiple of the 4-row tile, columns not a multiple of 8, K over the 256 block, groups, 1x1, batches),
// fused (leaky) ReLU, on 1 and 2 threads; plus ReLU fusion in Net (in place only) and the job chunking under
// threads. Needs `npm run build` (dist/kernels.wasm); fails, rather than skips, without it.
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LayerParameter } from '../src/caffe/types.js';
import { Judge, ThreadPool } from '../src/kernels/pool.js';
import { KC, KIND_GEMV, MR, THREAD_SCRATCH, kernelsInUse, setThreads, useKernels, wasmBuild, wasmEngine } from '../src/kernels/wasm.js';
import { type FusableLayer, convolutionLayer } from '../src/layers/convolution.js';
import { innerProductLayer } from '../src/layers/inner_product.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { allFinite, packWinogradWeights, uPerForward, winogradLimits, winogradSplit, winogradTile } from '../src/kernels/winograd.js';
import { eltwiseSumWasm } from '../src/kernels/eltwise.js';
import { caffeRelu } from '../src/kernels/relu.js';
import { directFits } from '../src/kernels/direct.js';
import { chunkStrips, convRowSplit, convSplit } from '../src/kernels/packed.js';
import { type ConvGeometry, depthwisePlane } from '../src/kernels/im2col.js';
import { depthwiseWasm, packDepthwiseWeights } from '../src/kernels/depthwise.js';
import { depthwiseBoth } from './helpers/depthwise.js';
import { CremaError } from '../src/util/errors.js';
import { readNpy } from '../src/util/npy.js';
import { layerDef, randomArray, randomInt, relDiff, rng, runLayer } from './helpers/compute.js';
import { referenceBlob, referenceCases, relativeError, weightsOf } from './helpers/reference.js';

/** A 3x3 stride-1 geometry with C input channels and an outH x outW output (no pad). */
const f6Plane = (C: number, outH: number, outW: number): ConvGeometry => ({
  channels: C, height: outH + 2, width: outW + 2, kernelH: 3, kernelW: 3, padH: 0, padW: 0, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, outH, outW,
});

/** A module of the build (dist/), for code that runs in a worker thread or a child, outside vitest. */
const dist = (file: string): string => path.resolve('dist', file);

/** The wasm kernels' output of the layer with Winograd off (CREMA_WINOGRAD=0: im2col), the setting cleared after. */
function im2colKernel(def: LayerParameter, weights: Tensor[], x: Tensor, relu?: number): Tensor {
  process.env.CREMA_WINOGRAD = '0';
  try {
    return bothKernels(def, weights, x, relu)[0];
  } finally {
    delete process.env.CREMA_WINOGRAD;
  }
}

function bothKernels(def: LayerParameter, weights: Tensor[], x: Tensor, relu?: number): [Tensor, Tensor] {
  const fuse = (l: unknown) => relu !== undefined && (l as FusableLayer).fuseRelu(relu);
  useKernels('js');
  const [want] = runLayer(def, weights, [x], fuse);
  useKernels('wasm');
  const [got] = runLayer(def, weights, [x], fuse);
  return [got, want];
}

beforeAll(() => {
  useKernels('wasm');
  expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
});
afterAll(() => useKernels('wasm'));

for (const threads of [1, 2]) {
  describe(`wasm kernels vs TypeScript kernels, ${threads} thread(s)`, () => {
    beforeAll(async () => {
      await setThreads(threads, 2); // 2 threads even on a one-core machine: the pool's paths must run
      expect(wasmEngine()!.activeThreads()).toBe(threads);
    });

    it('Convolution: random geometries (groups, pad, stride, dilation, 1x1, batches, K > 256)', () => {
      const random = rng(7 + threads);
      for (let t = 0; t < 40; t++) {
        const group = randomInt(random, 1, 3);
        const cinG = t % 5 === 0 ? randomInt(random, 30, 60) : randomInt(random, 2, 9);
        const coutG = randomInt(random, 1, 13);
        const pointwise = t % 4 === 0;
        const k = pointwise ? 1 : randomInt(random, 1, 5), pad = pointwise ? 0 : randomInt(random, 0, 2);
        const stride = pointwise ? 1 : randomInt(random, 1, 3), dil = pointwise ? 1 : randomInt(random, 1, 2);
        const H = randomInt(random, k * dil, 20), W = randomInt(random, k * dil, 23), N = randomInt(random, 1, 3);
        const x = new Tensor([N, cinG * group, H, W], randomArray(N * cinG * group * H * W, random));
        const w = new Tensor([coutG * group, cinG, k, k], randomArray(coutG * group * cinG * k * k, random));
        const b = new Tensor([coutG * group], randomArray(coutG * group, random));
        const bias = t % 3 !== 2;
        const def = layerDef('Convolution', {
          convolution_param: { num_output: coutG * group, group, kernel_size: [k], pad: [pad], stride: [stride], dilation: [dil], bias_term: bias },
        });
        const relu = t % 4 === 1 ? 0 : t % 4 === 2 ? 0.1 : undefined;
        const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
        const label = `case ${t}: N ${N} group ${group} cin/g ${cinG} cout/g ${coutG} k ${k} pad ${pad} stride ${stride} dil ${dil} ${H}x${W} relu ${relu}`;
        expect([...got.dims], label).toEqual([...want.dims]);
        expect(relDiff(got.data, want.data), label).toBeLessThan(1e-5);
      }
    });

    it('Convolution with large weights and few positions (many chunks of few columns on 2 threads), groups, 1x1, batch 2', () => {
      const random = rng(3);
      const cases = [
        { N: 1, cin: 64, cout: 132, k: 3, pad: 1, group: 1, H: 9, W: 7 },
        { N: 1, cin: 128, cout: 136, k: 3, pad: 1, group: 2, H: 6, W: 6 },
        { N: 2, cin: 300, cout: 250, k: 1, pad: 0, group: 1, H: 5, W: 4 },
      ];
      for (const c of cases) {
        const x = new Tensor([c.N, c.cin, c.H, c.W], randomArray(c.N * c.cin * c.H * c.W, random));
        const w = new Tensor([c.cout, c.cin / c.group, c.k, c.k], randomArray((c.cout * c.cin * c.k * c.k) / c.group, random));
        const b = new Tensor([c.cout], randomArray(c.cout, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: c.cout, group: c.group, kernel_size: [c.k], pad: [c.pad] } });
        const [got, want] = bothKernels(def, [w, b], x, 0);
        expect(relDiff(got.data, want.data), JSON.stringify(c)).toBeLessThan(1e-5);
      }
    });

    it('1x1 Convolution and InnerProduct with a last strip of 1 to 4 columns (7 x 7, 14 x 14 ...: 24 rows a column, with the strip before it) and of 5 to 7, rows not of 24, K over 256, ReLU', () => {
      const random = rng(29 + threads);
      const planes = [[7, 7], [14, 14], [5, 5], [3, 6], [1, 3], [2, 2], [1, 1], [3, 4], [13, 13], [6, 5]];
      planes.forEach(([H, W], t) => {
        const cin = t % 3 === 0 ? 300 : randomInt(random, 2, 40), cout = [30, 50, 24, 100, 7, 61, 48, 25, 29, 73][t];
        const N = t % 4 === 3 ? 2 : 1, bias = t % 5 !== 4, relu = t % 3 === 1 ? 0 : t % 3 === 2 ? 0.1 : undefined;
        const x = new Tensor([N, cin, H, W], randomArray(N * cin * H * W, random));
        const w = new Tensor([cout, cin, 1, 1], randomArray(cout * cin, random));
        const b = new Tensor([cout], randomArray(cout, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: cout, kernel_size: [1], bias_term: bias } });
        const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
        expect(relDiff(got.data, want.data), `conv ${H}x${W} cin ${cin} cout ${cout} N ${N}`).toBeLessThan(1e-5);
        // The inner product's rows are the batch: 30 images, outputs of the plane's size (a bias per column).
        const outputs = H * W, K = t % 2 ? 300 : 40;
        const xi = new Tensor([30, K], randomArray(30 * K, random));
        const wi = new Tensor([outputs, K], randomArray(outputs * K, random));
        const bi = new Tensor([outputs], randomArray(outputs, random));
        const ip = layerDef('InnerProduct', { inner_product_param: { num_output: outputs } });
        const [gotI, wantI] = bothKernels(ip, [wi, bi], xi, relu);
        expect(relDiff(gotI.data, wantI.data), `inner product 30 x ${K} -> ${outputs}`).toBeLessThan(1e-5);
      });
    });

    // 1x1 convolutions with 1 to 4 output channels a group run straight from x (assembly/fewrows.ts): the same bits
    // as the packed GEMM (convSplit.fewRows off), -0 and the residual's + 0 included, and the TypeScript kernels'
    // numbers. Columns of every residue mod 16, two K blocks (K over 256), groups, batches, bias or none, ReLU.
    it('1x1 Convolution with 1 to 4 output channels: the GEMM\'s bits, K blocks, partial strips, groups, batches, bias, ReLU', () => {
      const random = rng(61 + threads);
      const cases = [
        { cin: 64, cout: 1, H: 37, W: 29, group: 1, N: 1 }, { cin: 300, cout: 1, H: 9, W: 7, group: 1, N: 2 },
        { cin: 313, cout: 2, H: 11, W: 13, group: 1, N: 1 }, { cin: 32, cout: 4, H: 17, W: 23, group: 1, N: 1 },
        { cin: 520, cout: 3, H: 5, W: 5, group: 1, N: 1 }, { cin: 24, cout: 8, H: 6, W: 9, group: 2, N: 2 },
        { cin: 10, cout: 2, H: 1, W: 3, group: 1, N: 1 }, { cin: 40, cout: 4, H: 16, W: 16, group: 1, N: 1 },
        { cin: 5, cout: 5, H: 9, W: 9, group: 1, N: 1 },
      ];
      cases.forEach((c, t) => {
        const cinG = c.cin / c.group, bias = t % 3 !== 2, relu = t % 3 === 1 ? 0 : t % 4 === 0 ? 0.1 : undefined;
        const data = randomArray(c.N * c.cin * c.H * c.W, random);
        for (let i = 0; i < data.length; i += 7) data[i] = i % 2 ? -0 : 0; // zeros of both signs: the sums' -0
        const x = new Tensor([c.N, c.cin, c.H, c.W], data);
        const wd = randomArray(c.cout * cinG, random);
        if (t === 3) wd.fill(-0, 0, 8); // the first channel's weights -0: a column of zeros sums to -0
        const w = new Tensor([c.cout, cinG, 1, 1], wd);
        const b = new Tensor([c.cout], t === 7 ? new Float32Array(c.cout).fill(-0) : randomArray(c.cout, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: c.cout, group: c.group, kernel_size: [1], bias_term: bias } });
        const label = `case ${t}: ${JSON.stringify(c)} bias ${bias} relu ${relu}`;
        const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
        convSplit.fewRows = false;
        let gemm: Tensor;
        try {
          [gemm] = bothKernels(def, bias ? [w, b] : [w], x, relu);
        } finally {
          convSplit.fewRows = true;
        }
        expect(relDiff(got.data, want.data), label).toBeLessThan(1e-5);
        expect(new Uint32Array(got.data.buffer, got.data.byteOffset, got.data.length), label).toEqual(new Uint32Array(gemm.data.buffer, gemm.data.byteOffset, gemm.data.length));
      });
    });

    it('Convolution whose last column strip holds 1 or 2 columns (7 x 7, 13 x 13, 5 x 10: computed a column at a time), 32-row passes and their tails, K blocks, groups, batches, ReLU', () => {
      const random = rng(29 + threads);
      const cases = [
        { N: 1, cin: 64, cout: 1024, k: 1, pad: 0, group: 1, H: 7, W: 7, relu: 0, bias: true },
        { N: 2, cin: 300, cout: 45, k: 1, pad: 0, group: 1, H: 5, W: 10, relu: undefined, bias: true },
        { N: 1, cin: 96, cout: 70, k: 1, pad: 0, group: 2, H: 13, W: 13, relu: 0.1, bias: false },
        { N: 2, cin: 40, cout: 36, k: 3, pad: 1, group: 1, H: 7, W: 7, relu: 0, bias: true },
        { N: 1, cin: 520, cout: 33, k: 1, pad: 0, group: 1, H: 1, W: 9, relu: undefined, bias: false },
        { N: 3, cin: 16, cout: 130, k: 1, pad: 0, group: 1, H: 17, W: 17, relu: 0, bias: true },
      ];
      for (const c of cases) {
        const x = new Tensor([c.N, c.cin, c.H, c.W], randomArray(c.N * c.cin * c.H * c.W, random));
        const w = new Tensor([c.cout, c.cin / c.group, c.k, c.k], randomArray((c.cout * c.cin * c.k * c.k) / c.group, random));
        const b = new Tensor([c.cout], randomArray(c.cout, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: c.cout, group: c.group, kernel_size: [c.k], pad: [c.pad], bias_term: c.bias } });
        process.env.CREMA_WINOGRAD = '0';
        const [got, want] = bothKernels(def, c.bias ? [w, b] : [w], x, c.relu);
        delete process.env.CREMA_WINOGRAD;
        expect(relDiff(got.data, want.data), JSON.stringify(c)).toBeLessThan(1e-5);
      }
    });

    it('Convolution 1x1 on 1 x 1 planes (a classifier, as MobileNets\' fc7): an inner product over the row-major weights, batches, ReLU', () => {
      const random = rng(17 + threads);
      const cases = [
        { N: 1, cin: 1024, cout: 1000, bias: true, relu: undefined },
        { N: 1, cin: 37, cout: 13, bias: false, relu: 0 },
        { N: 3, cin: 300, cout: 21, bias: true, relu: 0.1 },
        { N: 2, cin: 5, cout: 9, bias: true, relu: undefined },
        { N: 1, cin: 260, cout: 1, bias: true, relu: 0 },
      ];
      for (const c of cases) {
        const x = new Tensor([c.N, c.cin, 1, 1], randomArray(c.N * c.cin, random));
        const w = new Tensor([c.cout, c.cin, 1, 1], randomArray(c.cout * c.cin, random));
        const b = new Tensor([c.cout], randomArray(c.cout, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: c.cout, kernel_size: [1], bias_term: c.bias } });
        const [got, want] = bothKernels(def, c.bias ? [w, b] : [w], x, c.relu);
        expect([...got.dims], JSON.stringify(c)).toEqual([c.N, c.cout, 1, 1]);
        expect(relDiff(got.data, want.data), JSON.stringify(c)).toBeLessThan(1e-5);
        // The path taken: the weights moved into wasm memory as they are (the tensor views them), not packed.
        expect(w.data.buffer instanceof SharedArrayBuffer, JSON.stringify(c)).toBe(true);
      }
    });

    it("Convolution whose window is the whole unpadded input (FCN's fc6 on a small image: 7x7 on 7 x 7): an inner product over the row-major weights, batches, strides, ReLU", () => {
      const random = rng(23 + threads);
      const cases = [
        { N: 1, cin: 64, cout: 70, kh: 7, kw: 7, stride: 1, bias: true, relu: 0 },
        { N: 2, cin: 9, cout: 13, kh: 3, kw: 5, stride: 2, bias: false, relu: undefined },
        { N: 3, cin: 20, cout: 8, kh: 4, kw: 4, stride: 3, bias: true, relu: 0.1 },
      ];
      for (const c of cases) {
        const x = new Tensor([c.N, c.cin, c.kh, c.kw], randomArray(c.N * c.cin * c.kh * c.kw, random));
        const w = new Tensor([c.cout, c.cin, c.kh, c.kw], randomArray(c.cout * c.cin * c.kh * c.kw, random));
        const b = new Tensor([c.cout], randomArray(c.cout, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: c.cout, kernel_h: c.kh, kernel_w: c.kw, stride: [c.stride], bias_term: c.bias } });
        const [got, want] = bothKernels(def, c.bias ? [w, b] : [w], x, c.relu);
        expect([...got.dims], JSON.stringify(c)).toEqual([c.N, c.cout, 1, 1]);
        expect(relDiff(got.data, want.data), JSON.stringify(c)).toBeLessThan(1e-5);
        // The weights moved into wasm memory as they are (the tensor views them): no packed copy, no Winograd U.
        expect(viewsWasmMemory(w.data), JSON.stringify(c)).toBe(true);
      }
    });

    it('a convolution reshaped from a plane to its whole-window input frees its packed GEMM weights (one copy), and packs them again when reshaped back', () => {
      const random = rng(29 + threads);
      const [cin, cout, k] = [48, 200, 5];
      const w = new Tensor([cout, cin, k, k], randomArray(cout * cin * k * k, random));
      const b = new Tensor([cout], randomArray(cout, random));
      const def = layerDef('Convolution', { convolution_param: { num_output: cout, kernel_size: [k] } });
      const layer = convolutionLayer.create(def, [w, b]);
      const e = wasmEngine()!;
      const run = (H: number): Float32Array => {
        const x = new Tensor([1, cin, H, H], randomArray(cin * H * H, rng(H)));
        const [shape] = layer.reshape([x.dims]);
        const y = Tensor.zeros(shape);
        layer.forward([x], [y]);
        useKernels('js');
        const want = runLayer(def, [w, b], [x])[0].data;
        useKernels('wasm');
        expect(relDiff(y.data, want), `${H} x ${H}`).toBeLessThan(1e-5);
        return y.data;
      };
      const wBytes = cout * cin * k * k * 4;
      process.env.CREMA_WINOGRAD = '0'; // the GEMM on packed weights on the plane
      try {
        run(k); // the weights move into wasm memory (the one copy)
        expect(viewsWasmMemory(w.data)).toBe(true);
        const moved = e.heap.used;
        run(9);
        expect(e.heap.used - moved).toBeGreaterThanOrEqual(wBytes); // packed for the GEMM
        run(k);
        expect(e.heap.used - moved).toBeLessThan(wBytes / 2); // the pack freed (the staging scratch may have grown)
        run(9);
        expect(e.heap.used - moved).toBeGreaterThanOrEqual(wBytes); // packed again
      } finally {
        delete process.env.CREMA_WINOGRAD;
      }
    });

    // F(4x4, 3x3)'s transforms multiply by up to 8 (and its filter transform by 1/24): its float32 error is ~10x
    // F(2x2)'s, measured up to 1.5e-5 of the output's range here (C = 283, weights uniform in +-1) and 2e-6 - 9e-6
    // on real layer shapes with trained-like weights (docs/PERFORMANCE.md); the project's tolerance is 1e-4.
    // F(6x6, 3x3) ('6': 3x3 kernels; the larger ones run F(4x4) blocks) multiplies by up to 32 (A^T) and 5.25 (B^T).
    // F(2x4, 3x3) ('24': F(2x2)'s points down, F(4x4)'s across; larger kernels as '4') within F(4x4)'s bound.
    for (const [tile, tolerance] of [['2', 1e-5], ['4', 5e-5], ['6', 5e-5], ['24', 5e-5]] as const) {
      it(`Winograd F(${tile === '24' ? '2x4' : `${tile}x${tile}`}, 3x3): random stride-1 shapes (kernels 3x3 to 7x7 and 3x5, odd sizes, pads 0-3, groups, batches, K over 256, ReLU) vs TypeScript and im2col`, () => {
        const random = rng(41 + threads);
        for (let t = 0; t < 24; t++) {
          const group = t % 5 === 3 ? 2 : 1;
          const cinG = t % 7 === 0 ? randomInt(random, 257, 300) : randomInt(random, 16, 70);
          const coutG = randomInt(random, 16, 75), pad = randomInt(random, 0, 3), N = randomInt(random, 1, 3);
          // Larger kernels run as sums of 3x3 blocks (5x5: 4, 7x7: 9, 3x5: 2, 4x4: 4 with zeros past the edge).
          const [kh, kw] = ([[3, 3], [3, 3], [5, 5], [7, 7], [3, 5], [4, 4]] as const)[t % 6];
          const H = randomInt(random, Math.max(1, kh - 2 * pad), t % 6 === 0 ? 40 : 15), W = randomInt(random, Math.max(1, kw - 2 * pad), t % 6 === 0 ? 37 : 17);
          const x = new Tensor([N, cinG * group, H, W], randomArray(N * cinG * group * H * W, random));
          const w = new Tensor([coutG * group, cinG, kh, kw], randomArray(coutG * group * cinG * kh * kw, random));
          const b = new Tensor([coutG * group], randomArray(coutG * group, random));
          const bias = t % 4 !== 2;
          const def = layerDef('Convolution', { convolution_param: { num_output: coutG * group, group, kernel_h: kh, kernel_w: kw, pad: [pad], bias_term: bias } });
          const relu = t % 3 === 1 ? 0 : t % 3 === 2 ? 0.2 : undefined;
          const label = `case ${t}: N ${N} group ${group} cin/g ${cinG} cout/g ${coutG} kernel ${kh}x${kw} pad ${pad} ${H}x${W} relu ${relu}`;
          process.env.CREMA_WINOGRAD = tile;
          const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
          const im2col = im2colKernel(def, bias ? [w, b] : [w], x, relu);
          expect([...got.dims], label).toEqual([...want.dims]);
          // A 7x7 runs whole, not on its 3x3 blocks: '2' F(2x2, 7x7) (8 points, as F(4x4, 5x5)) within F(4x4)'s
          // bound; '4' and '6' F(2x4, 7x7) (8 points down, 10 across: ~5x F(2x2, 7x7)'s error, up to 6.6e-5 here at
          // C = 274) within the project's tolerance, 1e-4 (see the F(2x4, 7x7) tests below).
          const bound = kh === 7 ? (tile === '2' ? 5e-5 : 1e-4) : tolerance;
          expect(relDiff(got.data, want.data), label).toBeLessThan(bound);
          expect(relDiff(got.data, im2col.data), label).toBeLessThan(bound);
        }
      });
    }

    // Few output channels (the SSD face detector's 3x3 heads: 128 -> 8, 256 -> 12) and 8 to 15 input channels take
    // Winograd by default since round twenty-five (src/kernels/winograd.ts MIN_CHANNELS): rows of U not of 4, one
    // row, strided ones whose space-to-depth has the channels (11x11 stride 4 3 -> 8, 7x7 stride 2 64 -> 5).
    it('Winograd by default with 1 to 15 output channels and 8 to 15 input channels (3x3, 5x5, 7x7, strided), groups, batches, ReLU vs TypeScript and im2col', () => {
      const random = rng(53 + threads);
      const cases = [
        { cin: 128, cout: 8, k: 3, stride: 1, pad: 1, H: 38, W: 38, group: 1, N: 1 },
        { cin: 256, cout: 12, k: 3, stride: 1, pad: 1, H: 19, W: 19, group: 1, N: 1 },
        { cin: 70, cout: 1, k: 3, stride: 1, pad: 1, H: 23, W: 17, group: 1, N: 2 },
        { cin: 40, cout: 6, k: 3, stride: 1, pad: 0, H: 13, W: 13, group: 2, N: 1 },
        { cin: 300, cout: 3, k: 3, stride: 1, pad: 1, H: 9, W: 11, group: 1, N: 1 },
        { cin: 8, cout: 32, k: 3, stride: 1, pad: 1, H: 30, W: 29, group: 1, N: 1 },
        { cin: 26, cout: 40, k: 3, stride: 1, pad: 2, H: 16, W: 21, group: 2, N: 2 },
        { cin: 64, cout: 5, k: 5, stride: 1, pad: 2, H: 28, W: 27, group: 1, N: 1 },
        { cin: 48, cout: 2, k: 7, stride: 1, pad: 3, H: 20, W: 20, group: 1, N: 1 },
        { cin: 3, cout: 8, k: 11, stride: 4, pad: 0, H: 67, W: 71, group: 1, N: 1 },
        { cin: 64, cout: 5, k: 7, stride: 2, pad: 3, H: 28, W: 30, group: 1, N: 1 },
      ];
      cases.forEach((c, t) => {
        const cinG = c.cin / c.group, coutG = c.cout / c.group;
        const x = new Tensor([c.N, c.cin, c.H, c.W], randomArray(c.N * c.cin * c.H * c.W, random));
        const w = new Tensor([c.cout, cinG, c.k, c.k], randomArray(c.cout * cinG * c.k * c.k, random));
        const b = new Tensor([c.cout], randomArray(c.cout, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: c.cout, group: c.group, kernel_size: [c.k], pad: [c.pad], stride: [c.stride] } });
        const relu = t % 3 === 1 ? 0 : t % 3 === 2 ? 0.2 : undefined, label = `case ${t}: ${JSON.stringify(c)} relu ${relu}`;
        const outH = Math.floor((c.H + 2 * c.pad - c.k) / c.stride) + 1, outW = Math.floor((c.W + 2 * c.pad - c.k) / c.stride) + 1;
        const g: ConvGeometry = { channels: cinG, height: c.H, width: c.W, kernelH: c.k, kernelW: c.k, padH: c.pad, padW: c.pad, strideH: c.stride, strideW: c.stride, dilationH: 1, dilationW: 1, outH, outW };
        expect(winogradTile(g, coutG, undefined, c.N), label).not.toBe(0);
        const [got, want] = bothKernels(def, [w, b], x, relu);
        const im2col = im2colKernel(def, [w, b], x, relu);
        expect([...got.dims], label).toEqual([c.N, c.cout, outH, outW]);
        const bound = c.k === 7 ? 1e-4 : 5e-5; // F(4x4)'s and F(2x4, 7x7)'s bounds of the random-shape tests above
        expect(relDiff(got.data, want.data), label).toBeLessThan(bound);
        expect(relDiff(got.data, im2col.data), label).toBeLessThan(bound);
      });
    });

    // A dilated stride-1 convolution runs Winograd on its input's dh x dw phases (src/kernels/phases.ts): phases
    // of unequal sizes (outputs not a multiple of the dilation), pads below, at and above the dilation, rectangular
    // dilation, groups, batches, bias and ReLU, against the TypeScript kernels and im2col (which reads x dilated).
    it('dilated convolutions as Winograd on the phases: dilations 2-6 (separate down / across), pads 0 to d + 1, odd sizes, groups, batches, ReLU vs TypeScript and im2col', () => {
      const random = rng(97 + threads);
      for (let t = 0; t < 16; t++) {
        const dh = [2, 3, 2, 6, 1, 4][t % 6], dw = [2, 2, 3, 6, 2, 1][t % 6], k = t % 5 === 4 ? 5 : 3;
        const group = t % 4 === 3 ? 2 : 1, cinG = randomInt(random, 16, 40), coutG = randomInt(random, 16, 40), N = randomInt(random, 1, 2);
        const ph = randomInt(random, 0, dh + 1), pw = randomInt(random, 0, dw + 1);
        // Phases of 6 to 9 outputs each way (smaller ones run im2col: MIN_PHASE_OUTPUTS), not always a multiple of d.
        const H = dh * (k - 1) - 2 * ph + dh * randomInt(random, 5, 8) + randomInt(random, 1, dh), W = dw * (k - 1) - 2 * pw + dw * randomInt(random, 5, 8) + randomInt(random, 1, dw);
        const x = new Tensor([N, cinG * group, H, W], randomArray(N * cinG * group * H * W, random));
        const w = new Tensor([coutG * group, cinG, k, k], randomArray(coutG * group * cinG * k * k, random));
        const b = new Tensor([coutG * group], randomArray(coutG * group, random));
        const bias = t % 4 !== 2, relu = t % 3 === 1 ? 0 : t % 3 === 2 ? 0.2 : undefined;
        const def = layerDef('Convolution', { convolution_param: { num_output: coutG * group, group, kernel_size: [k], pad_h: ph, pad_w: pw, dilation: [dh, dw], bias_term: bias } });
        const label = `case ${t}: N ${N} group ${group} cin/g ${cinG} cout/g ${coutG} kernel ${k} dilation ${dh}x${dw} pad ${ph}x${pw} ${H}x${W} relu ${relu}`;
        const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
        const im2col = im2colKernel(def, bias ? [w, b] : [w], x, relu);
        expect([...got.dims], label).toEqual([...want.dims]);
        expect(relDiff(got.data, want.data), label).toBeLessThan(5e-5);
        expect(relDiff(got.data, im2col.data), label).toBeLessThan(5e-5);
        expect(relDiff(got.data, im2col.data), label).toBeGreaterThan(0); // the phases ran, not im2col twice
      }
    });

    /** One random case of a kh x kw kernel (bias and ReLU by t): Winograd against the TypeScript kernels and im2col within 5e-5. */
    const lineCase = (random: () => number, t: number, c: Record<'kh' | 'kw' | 'group' | 'cinG' | 'coutG' | 'N' | 'ph' | 'pw' | 'H' | 'W', number>, bound = 5e-5): void => {
      const { kh, kw, group, cinG, coutG, N, ph, pw, H, W } = c;
      const x = new Tensor([N, cinG * group, H, W], randomArray(N * cinG * group * H * W, random));
      const w = new Tensor([coutG * group, cinG, kh, kw], randomArray(coutG * group * cinG * kh * kw, random));
      const b = new Tensor([coutG * group], randomArray(coutG * group, random));
      const bias = t % 4 !== 2, relu = t % 3 === 1 ? 0 : t % 3 === 2 ? 0.2 : undefined;
      const def = layerDef('Convolution', { convolution_param: { num_output: coutG * group, group, kernel_h: kh, kernel_w: kw, pad_h: ph, pad_w: pw, bias_term: bias } });
      const label = `case ${t}: N ${N} group ${group} cin/g ${cinG} cout/g ${coutG} kernel ${kh}x${kw} pad ${ph}x${pw} ${H}x${W} relu ${relu}`;
      const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
      const im2col = im2colKernel(def, bias ? [w, b] : [w], x, relu);
      expect([...got.dims], label).toEqual([...want.dims]);
      expect(relDiff(got.data, want.data), label).toBeLessThan(bound);
      expect(relDiff(got.data, im2col.data), label).toBeLessThan(bound);
      expect(relDiff(got.data, im2col.data), label).toBeGreaterThan(0); // Winograd ran, not im2col twice
    };

    it('1-D Winograd F(4, 3) (F(4, 7) for 7 taps): random K x 1 and 1 x K kernels (K 3 to 9), odd sizes, separate pads, groups, batches, K over 256, ReLU vs TypeScript and im2col', () => {
      const random = rng(61 + threads);
      for (let t = 0; t < 24; t++) {
        const [kh, kw] = ([[1, 7], [7, 1], [1, 3], [3, 1], [1, 5], [9, 1], [1, 4], [8, 1]] as const)[t % 8];
        const group = t % 5 === 3 ? 2 : 1, cinG = t % 7 === 0 ? randomInt(random, 86, 100) : randomInt(random, 16, 70);
        const coutG = randomInt(random, 16, 75), N = randomInt(random, 1, 3), ph = randomInt(random, 0, 4), pw = randomInt(random, 0, 4);
        const H = randomInt(random, Math.max(1, kh - 2 * ph), 23), W = randomInt(random, Math.max(1, kw - 2 * pw), 21);
        lineCase(random, t, { kh, kw, group, cinG, coutG, N, ph, pw, H, W });
      }
    });

    // F(4, 7) (assembly/winograd7.ts: the whole 7-tap kernel, 10 points up to +-2 and +-3/2) errs ~5x more than
    // F(4, 3) on 1 x 3 blocks: up to 1.2e-5 of the output's range here (weights uniform in +-1, C up to 300) and 6e-6
    // on Inception-v3 against Caffe (docs/PERFORMANCE.md, round five); the project's tolerance is 1e-4.
    it('1-D Winograd F(4, 7): 7 x 1 and 1 x 7 on every plane width mod 4 and 17 x 17, C over the 256 K block, groups, batches, pads, ReLU vs TypeScript and im2col', () => {
      const random = rng(71 + threads);
      for (let t = 0; t < 16; t++) {
        const [kh, kw] = t % 2 === 0 ? [1, 7] : [7, 1];
        const group = t % 5 === 3 ? 2 : 1, cinG = t % 4 === 1 ? randomInt(random, 257, 300) : randomInt(random, 16, 90);
        const coutG = randomInt(random, 16, 60), N = t % 3 === 2 ? 2 : 1, ph = kh === 7 ? randomInt(random, 0, 4) : randomInt(random, 0, 1);
        const pw = kw === 7 ? randomInt(random, 0, 4) : randomInt(random, 0, 1);
        // Output widths / heights 1 to 21: rows of tiles that end at every offset of the packed B's strips of 8.
        const H = kh === 7 ? randomInt(random, Math.max(1, 7 - 2 * ph), 27) : 8 + (t % 9), W = kw === 7 ? randomInt(random, Math.max(1, 7 - 2 * pw), 27) : 8 + (t % 9);
        lineCase(random, t, { kh, kw, group, cinG, coutG, N, ph, pw, H, W });
      }
      // Inception-v3's 17 x 17 (1 x 7: 5 tiles a tile row; 7 x 1: 17): fours of tiles across a row's end and the next
      // row's start, gathered (assembly/winograd7.ts inputGather7, outputTile7), in a batch of two.
      for (const [t, kh, kw] of [[16, 1, 7], [17, 7, 1]]) lineCase(random, t, { kh, kw, group: 1, cinG: 48, coutG: 40, N: 2, ph: (kh - 1) / 2, pw: (kw - 1) / 2, H: 17, W: 17 });
    });

    // A strided convolution runs as a stride-1 one on its space-to-depth (kernel ceil(K / s)); the rule that picks
    // it (winogradLimits.stridedMacs) is lifted so that every shape here takes Winograd.
    it('strided Winograd (space-to-depth): random strides 2-4 (separate down / across), kernels up to 11 (not multiples of the stride), odd sizes, pads 0-3, groups, batches, ReLU vs TypeScript and im2col', () => {
      const random = rng(83 + threads), saved = winogradLimits.stridedMacs;
      winogradLimits.stridedMacs = Infinity;
      try {
        for (let t = 0; t < 24; t++) {
          // Every fourth case a new kernel of 4x4 (7x7 or 8x8 stride 2, 10x10 or 11x11 stride 3): F(3x3, 4x4), every
          // other one of them F(5x5, 4x4) (CREMA_WINOGRAD=5).
          const f3 = t % 4 === 0, sh = randomInt(random, 2, f3 ? 3 : 4), sw = f3 ? sh : t % 3 === 0 ? randomInt(random, 2, 4) : sh;
          // Kernels giving a new kernel of 3 to 4 each way (2 s + 1 .. 4 s, capped at 11): AlexNet's conv1 is 11 / 4 -> 3.
          const newKernel = (s: number): number => Math.min(11, f3 ? randomInt(random, 3 * s + 1, 4 * s) : randomInt(random, 2 * s + 1, 4 * s));
          const kh = newKernel(sh), kw = newKernel(sw);
          const group = t % 5 === 3 ? 2 : 1, cinG = randomInt(random, Math.max(2, Math.ceil(16 / (sh * sw))), 7), coutG = randomInt(random, 16, 40);
          const ph = randomInt(random, 0, 3), pw = t % 2 ? randomInt(random, 0, 3) : ph, N = randomInt(random, 1, 3);
          const H = randomInt(random, Math.max(1, kh - 2 * ph), 45), W = randomInt(random, Math.max(1, kw - 2 * pw), 43);
          // Raw pixel values (a mean-subtracted image reaches ~150), as a first layer sees them.
          const x = new Tensor([N, cinG * group, H, W], randomArray(N * cinG * group * H * W, random).map((v) => 150 * v));
          const w = new Tensor([coutG * group, cinG, kh, kw], randomArray(coutG * group * cinG * kh * kw, random));
          const b = new Tensor([coutG * group], randomArray(coutG * group, random));
          const bias = t % 4 !== 2, relu = t % 3 === 1 ? 0 : t % 3 === 2 ? 0.2 : undefined, tile = t % 8 === 4 ? '5' : t % 2 ? '2' : '4';
          const def = layerDef('Convolution', { convolution_param: { num_output: coutG * group, group, kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: sw, pad_h: ph, pad_w: pw, bias_term: bias } });
          const label = `case ${t}: F(${tile}) N ${N} group ${group} cin/g ${cinG} cout/g ${coutG} kernel ${kh}x${kw} stride ${sh}x${sw} pad ${ph}x${pw} ${H}x${W} relu ${relu}`;
          process.env.CREMA_WINOGRAD = tile;
          const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
          const im2col = im2colKernel(def, bias ? [w, b] : [w], x, relu);
          // Caffe's output size: floor((H + 2 p - K) / s) + 1.
          expect([...got.dims], label).toEqual([N, coutG * group, Math.floor((H + 2 * ph - kh) / sh) + 1, Math.floor((W + 2 * pw - kw) / sw) + 1]);
          expect([...want.dims], label).toEqual([...got.dims]);
          expect(relDiff(got.data, want.data), label).toBeLessThan(5e-5);
          expect(relDiff(got.data, im2col.data), label).toBeLessThan(5e-5);
          expect(relDiff(got.data, im2col.data), label).toBeGreaterThan(0); // Winograd ran, not im2col twice
        }
      } finally {
        winogradLimits.stridedMacs = saved;
      }
    });

    // A stride of 4 across gathers its four column phases' planes from one pass over each source row, four columns
    // a step where all four phases lie inside the row (assembly/winograd.ts gatherFour), float by float at its ends
    // (a left pad of 1-3, widths of every residue mod 4 and rows that end within a step) and past it (zeros).
    it('strided Winograd at stride 4 across (AlexNet conv1): widths of every residue mod 4, pads 0-3 each way, 3 and 5 channels, batches vs TypeScript and im2col', () => {
      const random = rng(89 + threads), saved = winogradLimits.stridedMacs;
      winogradLimits.stridedMacs = Infinity;
      try {
        for (let t = 0; t < 16; t++) {
          const kw = t % 2 ? 11 : 9 + (t % 3), kh = t % 4 === 3 ? 7 : kw, sh = t % 4 === 3 ? 2 : 4, pw = t % 4, ph = (t >> 2) % 4;
          const C = t % 3 === 2 ? 5 : 3, N = t % 5 === 4 ? 2 : 1, M = 16 + (t % 5) * 4, H = 30 + (t % 7), W = 27 + t;
          const x = new Tensor([N, C, H, W], randomArray(N * C * H * W, random).map((v) => 150 * v));
          const w = new Tensor([M, C, kh, kw], randomArray(M * C * kh * kw, random));
          const b = new Tensor([M], randomArray(M, random));
          const relu = t % 3 === 1 ? 0 : undefined;
          const def = layerDef('Convolution', { convolution_param: { num_output: M, kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: 4, pad_h: ph, pad_w: pw } });
          const label = `case ${t}: N ${N} C ${C} M ${M} kernel ${kh}x${kw} stride ${sh}x4 pad ${ph}x${pw} ${H}x${W}`;
          process.env.CREMA_WINOGRAD = '4';
          const [got, want] = bothKernels(def, [w, b], x, relu);
          const im2col = im2colKernel(def, [w, b], x, relu);
          expect([...got.dims], label).toEqual([N, M, Math.floor((H + 2 * ph - kh) / sh) + 1, Math.floor((W + 2 * pw - kw) / 4) + 1]);
          expect(relDiff(got.data, want.data), label).toBeLessThan(5e-5);
          expect(relDiff(got.data, im2col.data), label).toBeLessThan(5e-5);
          expect(relDiff(got.data, im2col.data), label).toBeGreaterThan(0); // Winograd ran, not im2col twice
        }
      } finally {
        winogradLimits.stridedMacs = saved;
      }
    });

    // F(4x4, 5x5) (assembly/winograd5.ts: 8 x 8 values a tile, the points of F(4x4, 3x3) and +-1/2) errs ~2x more
    // than F(4x4, 3x3) on the kernel's 3x3 blocks (docs/PERFORMANCE.md, round five); the project's tolerance is 1e-4.
    it('Winograd F(4x4, 5x5): 5x5 on every plane width mod 4 (the choice, not forced), C over the 256 K block, groups, batches, pads, ReLU vs TypeScript and im2col', () => {
      const random = rng(81 + threads);
      for (let t = 0; t < 12; t++) {
        const group = t % 5 === 3 ? 2 : 1, cinG = t % 4 === 1 ? randomInt(random, 257, 290) : randomInt(random, 16, 60);
        const coutG = randomInt(random, 16, 50), N = t % 3 === 2 ? 2 : 1, ph = randomInt(random, 0, 4), pw = randomInt(random, 0, 4);
        const H = randomInt(random, Math.max(1, 5 - 2 * ph), 23), W = Math.max(5 - 2 * pw, 1) + (t % 12);
        lineCase(random, t, { kh: 5, kw: 5, group, cinG, coutG, N, ph, pw, H, W });
      }
    });

    // 7x7 kernels run whole: F(2x4, 7x7) by default (assembly/winograd27.ts: 8 points down, F(4, 7)'s 10 across,
    // 80 values a tile of 2 x 4 outputs), F(2x2, 7x7) with CREMA_WINOGRAD=2 (assembly/winograd5.ts with m = 2:
    // F(4x4, 5x5)'s 8 points, 64 values a 2 x 2 tile). Against a float64 sum they err 2.9e-5 to 4.5e-5 and 5.6e-6
    // to 9.6e-6 of the output's range (C 64 to 274, uniform or He-scaled weights; the nine 3x3 blocks in F(4x4):
    // ~5e-6; docs/PERFORMANCE.md, round nine): F(2x2, 7x7) is held within F(4x4)'s 5e-5, F(2x4, 7x7) within the
    // project's tolerance, 1e-4 (against the TypeScript kernels, themselves float32, it measured up to 6.6e-5).
    for (const tile of ['4', '2'] as const) {
      it(`Winograd F(2x${tile}, 7x7): 7x7 on every plane width mod 8 (${tile === '4' ? 'the choice, not forced' : 'CREMA_WINOGRAD=2'}), C over the 256 K block, groups, batches, pads, ReLU vs TypeScript and im2col`, () => {
        const random = rng(87 + threads + Number(tile));
        for (let t = 0; t < 12; t++) {
          const group = t % 5 === 3 ? 2 : 1, cinG = t % 4 === 1 ? randomInt(random, 257, 290) : randomInt(random, 16, 60);
          const coutG = randomInt(random, 16, 50), N = t % 3 === 2 ? 2 : 1, ph = randomInt(random, 0, 3), pw = randomInt(random, 0, 3);
          // Output widths 1 to 12 and 17 to 20: tile rows of 1 to 10 tiles, ending at every lane of four and strip offset.
          const H = randomInt(random, Math.max(1, 7 - 2 * ph), 24), W = Math.max(7 - 2 * pw, 1) + (t < 8 ? t : t + 8);
          const geometry: ConvGeometry = { channels: cinG, height: H, width: W, kernelH: 7, kernelW: 7, padH: ph, padW: pw, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, outH: H + 2 * ph - 6, outW: W + 2 * pw - 6 };
          expect(winogradTile(geometry, coutG, undefined), `case ${t}`).toBe(4); // the default choice: F(2x4), whole kernel
          expect(winogradTile(geometry, coutG, tile), `case ${t}`).toBe(Number(tile));
          if (tile === '2') process.env.CREMA_WINOGRAD = tile;
          try {
            lineCase(random, t, { kh: 7, kw: 7, group, cinG, coutG, N, ph, pw, H, W }, tile === '2' ? 5e-5 : 1e-4);
          } finally {
            delete process.env.CREMA_WINOGRAD;
          }
        }
      });
    }

    it('Winograd 7x7: F(2x4, 7x7) by default and F(2x2, 7x7) with CREMA_WINOGRAD=2 are two paths, within 1e-4 and 5e-5 of the TypeScript kernels', () => {
      const random = rng(89 + threads);
      const x = new Tensor([1, 20, 11, 13], randomArray(20 * 11 * 13, random)), w = new Tensor([17, 20, 7, 7], randomArray(17 * 20 * 49, random));
      const def = layerDef('Convolution', { convolution_param: { num_output: 17, kernel_size: [7], pad: [2], bias_term: false } });
      const [got, want] = bothKernels(def, [w], x, undefined);
      process.env.CREMA_WINOGRAD = '2';
      const [f2] = bothKernels(def, [w], x, undefined);
      delete process.env.CREMA_WINOGRAD;
      expect(relDiff(got.data, want.data)).toBeLessThan(1e-4);
      expect(relDiff(f2.data, want.data)).toBeLessThan(5e-5);
      expect(relDiff(got.data, f2.data)).toBeGreaterThan(0);
    });

    // A plane's last block of tiles holds fewer than the others (its GEMMs run only the strips that hold its tiles):
    // 100 tiles of F(4x4) in blocks of 56 at 1 thread (44 in the second: 6 strips of 7), 24 or more at 2.
    it('Winograd: the last tile block of a plane smaller than the others by strips (40 x 40, C over the 256 K block) vs TypeScript and im2col', () => {
      const random = rng(97 + threads), C = 300, M = 64, H = 40;
      const { nt, blocks } = winogradSplit(threads, 100, 1, 36, C, M);
      expect(blocks * nt - 100, `blocks ${blocks} x ${nt}`).toBeGreaterThanOrEqual(8);
      const x = new Tensor([1, C, H, H], randomArray(C * H * H, random));
      const w = new Tensor([M, C, 3, 3], randomArray(M * C * 9, random));
      const b = new Tensor([M], randomArray(M, random));
      const def = layerDef('Convolution', { convolution_param: { num_output: M, kernel_size: [3], pad: [1] } });
      process.env.CREMA_WINOGRAD = '4';
      const [got, want] = bothKernels(def, [w, b], x, 0);
      const im2col = im2colKernel(def, [w, b], x, 0);
      expect(relDiff(got.data, want.data)).toBeLessThan(5e-5);
      expect(relDiff(got.data, im2col.data)).toBeLessThan(5e-5);
    });

    // F(4x4, 3x3) with U made in every forward (AlexNet's conv3 and conv4, 13 x 13; here every size: the bound
    // winogradLimits.madeUBytes is lifted): U in float32 with G's row scales on the transformed inputs.
    it('Winograd F(4x4) with U made per forward: 13 x 13 and 13 x 14 planes, filters not of 4 or 16, C over the 256 K block, groups, pads, ReLU vs TypeScript, im2col and U made at load', () => {
      const random = rng(91 + threads), saved = winogradLimits.madeUBytes;
      winogradLimits.madeUBytes = 0;
      try {
        for (let t = 0; t < 10; t++) {
          const group = t % 3 === 1 ? 2 : 1, cinG = t % 4 === 2 ? randomInt(random, 257, 300) : randomInt(random, 16, 70);
          const coutG = t === 0 ? 384 : randomInt(random, 16, 75), pad = t % 2, H = 15 - 2 * pad, W = H + (t % 5 === 4 ? 1 : 0);
          const x = new Tensor([1, cinG * group, H, W], randomArray(cinG * group * H * W, random));
          const w = new Tensor([coutG * group, cinG, 3, 3], randomArray(coutG * group * cinG * 9, random));
          const b = new Tensor([coutG * group], randomArray(coutG * group, random));
          const bias = t % 4 !== 3, relu = t % 3 === 1 ? 0 : t % 3 === 2 ? 0.2 : undefined;
          const def = layerDef('Convolution', { convolution_param: { num_output: coutG * group, group, kernel_size: [3], pad: [pad], bias_term: bias } });
          const label = `case ${t}: group ${group} cin/g ${cinG} cout/g ${coutG} pad ${pad} ${H}x${W} relu ${relu}`;
          const weights = bias ? [w, b] : [w];
          const [got, want] = bothKernels(def, weights, x, relu);
          // The weights moved into the kernels' (shared) memory: U was made per forward. (Not `memory.buffer` itself:
          // a shared memory that grew since gives a new SharedArrayBuffer object for the same bytes.)
          expect(w.data.buffer, label).toBeInstanceOf(SharedArrayBuffer);
          const other = (setting: string): Tensor => {
            process.env.CREMA_WINOGRAD = setting;
            try {
              return bothKernels(def, weights, x, relu)[0];
            } finally {
              delete process.env.CREMA_WINOGRAD;
            }
          };
          const [im2col, stored] = [other('0'), other('4')];
          expect([...got.dims], label).toEqual([...want.dims]);
          expect(relDiff(got.data, want.data), label).toBeLessThan(5e-5);
          expect(relDiff(got.data, im2col.data), label).toBeLessThan(5e-5);
          expect(relDiff(got.data, stored.data), label).toBeLessThan(5e-5);
          expect(relDiff(got.data, stored.data), label).toBeGreaterThan(0); // U made here, not the one made at load
        }
      } finally {
        winogradLimits.madeUBytes = saved;
      }
    });

    it('Winograd F(6x6, 3x3): 3x3 on 66-row planes of every width mod 6 (the choice, not forced), C over the 256 K block, groups, batches, pads, ReLU vs TypeScript and im2col', () => {
      const random = rng(91 + threads);
      for (let t = 0; t < 7; t++) {
        const group = t % 4 === 3 ? 2 : 1, cinG = t % 4 === 1 ? randomInt(random, 257, 290) : randomInt(random, 16, 32);
        const coutG = t % 4 === 1 ? 16 : randomInt(random, 16, 40), N = t % 3 === 2 ? 2 : 1, ph = randomInt(random, 0, 2), pw = randomInt(random, 0, 2);
        const outW = 71 + (t % 6), H = 66 + 2 - 2 * ph, W = outW + 2 - 2 * pw;
        expect(winogradTile(f6Plane(cinG, 66, outW), coutG, undefined), `case ${t}`).toBe(6);
        lineCase(random, t, { kh: 3, kw: 3, group, cinG, coutG, N, ph, pw, H, W });
      }
    });

    // F(2x4, 3x3) (assembly/winograd24.ts) is the choice on 3x3 planes of 7 x 7 to 12 x 12 (src/kernels/winograd.ts
    // twoByFour): F(2x2)'s points down, F(4x4)'s across, within F(4x4)'s bound.
    it('Winograd F(2x4, 3x3): 3x3 on 7 x 7 to 12 x 12 outputs (the choice, not forced), C over the 256 K block, groups, batches, pads, ReLU vs TypeScript and im2col', () => {
      const random = rng(97 + threads);
      const planes = [[7, 7], [7, 8], [8, 8], [8, 7], [11, 11], [12, 12], [7, 7], [9, 9], [10, 11]];
      for (let t = 0; t < planes.length; t++) {
        const [outH, outW] = planes[t];
        const group = t % 4 === 3 ? 2 : 1, cinG = t === 6 ? randomInt(random, 257, 290) : randomInt(random, 16, 70);
        const coutG = randomInt(random, 5, 40), N = t % 3 === 2 ? 2 : 1, ph = randomInt(random, 0, 2), pw = randomInt(random, 0, 2);
        expect(winogradTile(f6Plane(cinG, outH, outW), coutG, undefined), `case ${t}`).toBe(24);
        lineCase(random, t, { kh: 3, kw: 3, group, cinG, coutG, N, ph, pw, H: outH + 2 - 2 * ph, W: outW + 2 - 2 * pw });
      }
    });

    it('depthwise Convolution (one input channel per group): strides 1-3, pad, dilation, multipliers, batches, ReLU', () => {
      const random = rng(17 + threads);
      for (let t = 0; t < 40; t++) {
        const channels = randomInt(random, 1, 9), multiplier = t % 5 === 4 ? randomInt(random, 2, 3) : 1;
        // group 1 with one input channel is the same kernel (a grayscale first layer).
        const group = t % 7 === 6 ? 1 : channels, cin = group === 1 ? 1 : channels;
        const cout = (group === 1 ? randomInt(random, 1, 5) : channels) * multiplier;
        const k = t % 3 === 0 ? 3 : randomInt(random, 1, 5), pad = randomInt(random, 0, 2);
        const stride = t % 4 === 0 ? 2 : randomInt(random, 1, 3), dil = t % 6 === 5 ? 2 : 1;
        const extent = dil * (k - 1) + 1;
        const H = randomInt(random, Math.max(1, extent - 2 * pad), 30), W = randomInt(random, Math.max(1, extent - 2 * pad), 37);
        const N = randomInt(random, 1, 2);
        const x = new Tensor([N, cin, H, W], randomArray(N * cin * H * W, random));
        const w = new Tensor([cout, 1, k, k], randomArray(cout * k * k, random));
        const b = new Tensor([cout], randomArray(cout, random));
        const bias = t % 3 !== 1;
        const def = layerDef('Convolution', {
          convolution_param: { num_output: cout, group, kernel_size: [k], pad: [pad], stride: [stride], dilation: [dil], bias_term: bias },
        });
        const relu = t % 4 === 1 ? 0 : t % 4 === 2 ? 0.1 : undefined;
        const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
        const label = `case ${t}: N ${N} cin ${cin} cout ${cout} group ${group} k ${k} pad ${pad} stride ${stride} dil ${dil} ${H}x${W} relu ${relu}`;
        expect([...got.dims], label).toEqual([...want.dims]);
        expect(relDiff(got.data, want.data), label).toBeLessThan(1e-5);
      }
    });

    it('depthwise 3x3 on planes too large for the padded copy in thread scratch (the clipped-border path)', () => {
      // Pad 3: over the in-place paths' 2 (at stride 1 and 2 alike), and 306 x 476 floats padded (stride 2: four
      // blocks of 153 x 238 and 152 x 238 outputs) more than the 512 KB of thread scratch: depthwisePlane, its
      // vector rows, its kernel rows above and below the image (w * 0) and its border columns (tap).
      const random = rng(29);
      for (const [stride, pad, relu] of [[1, 3, 0], [2, 3, undefined], [2, 3, 0.3]] as const) {
        const H = 300, W = 470;
        const x = new Tensor([1, 2, H, W], randomArray(2 * H * W, random));
        const w = new Tensor([2, 1, 3, 3], randomArray(18, random)), b = new Tensor([2], randomArray(2, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: 2, group: 2, kernel_size: [3], pad: [pad], stride: [stride] } });
        const [got, want] = bothKernels(def, [w, b], x, relu);
        expect(relDiff(got.data, want.data), `stride ${stride} pad ${pad}`).toBeLessThan(1e-5);
      }
    });

    it('Depthwise 3x3 (the flat padded path): strides 1 and 2, pads 0-2, odd and tiny planes, multiplier 2, batches, ReLU', () => {
      const random = rng(37 + threads);
      for (let t = 0; t < 36; t++) {
        const stride = t % 2 === 0 ? 1 : 2, strideW = t % 9 === 4 ? 3 - stride : stride; // sh != sw: the general path
        const pad = t % 3, mult = t % 5 === 2 ? 2 : 1;
        const H = randomInt(random, Math.max(1, 3 - 2 * pad), 20), W = randomInt(random, Math.max(1, 3 - 2 * pad), 21);
        const C = randomInt(random, 1, 7), N = t % 4 === 3 ? 2 : 1;
        const x = new Tensor([N, C, H, W], randomArray(N * C * H * W, random));
        const w = new Tensor([C * mult, 1, 3, 3], randomArray(C * mult * 9, random));
        const b = new Tensor([C * mult], randomArray(C * mult, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: C * mult, group: C, kernel_size: [3], pad: [pad], stride_h: stride, stride_w: strideW } });
        const relu = t % 3 === 1 ? 0.1 : undefined;
        const [got, want] = bothKernels(def, [w, b], x, relu);
        const label = `case ${t}: ${N}x${C}x${H}x${W} stride ${stride}/${strideW} pad ${pad} x${mult} relu ${relu}`;
        expect([...got.dims], label).toEqual([...want.dims]);
        expect(relDiff(got.data, want.data), label).toBeLessThan(1e-5);
      }
    });

    it('Depthwise 3x3 stride 1 in bands of four output rows into y: outputs 1-40 rows by 1-45 columns (the last band and vector overlapping), pads 0-2, multiplier 2, batches, ReLU and leaky ReLU', () => {
      const random = rng(53 + threads);
      for (let t = 0; t < 36; t++) {
        const pad = t % 3, mult = t % 5 === 2 ? 2 : 1, N = t % 4 === 3 ? 2 : 1, C = randomInt(random, 1, 6);
        // Every third case has 3-8 columns (whole and overlapping vectors at the band loop's smallest), the
        // others any; heights give 0-3 rows past the last whole band (and planes of 1-3 rows: the flat loop).
        const outW = t % 3 === 0 ? randomInt(random, 3, 8) : randomInt(random, 1, 45), outH = randomInt(random, 1, 40);
        const W = outW + 2 - 2 * pad, H = outH + 2 - 2 * pad;
        if (W < 1 || H < 1) continue;
        const x = new Tensor([N, C, H, W], randomArray(N * C * H * W, random));
        const w = new Tensor([C * mult, 1, 3, 3], randomArray(C * mult * 9, random));
        const b = new Tensor([C * mult], randomArray(C * mult, random));
        const bias = t % 6 !== 5;
        const def = layerDef('Convolution', { convolution_param: { num_output: C * mult, group: C, kernel_size: [3], pad: [pad], bias_term: bias } });
        const relu = t % 4 === 1 ? 0 : t % 4 === 2 ? 0.1 : undefined;
        const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
        const label = `case ${t}: ${N}x${C}x${H}x${W} pad ${pad} x${mult} relu ${relu} bias ${bias}`;
        expect([...got.dims], label).toEqual([N, C * mult, outH, outW]);
        expect(relDiff(got.data, want.data), label).toBeLessThan(1e-5);
      }
    });

    it('Depthwise 3x3 writes inside its planes only: outputs 1-9 rows by 1-9 columns (the band loop\'s last band and vector at outH - 4, outW - 4), strides 1 and 2, pads 0-2, y between two guards of a sentinel in wasm memory', () => {
      // A band or vector starting past outH - 4 / outW - 4 writes past its plane: into the next plane, which a later
      // plane may overwrite, or past y, which no output shows. Here y is resident with a guard each side.
      const e = wasmEngine()!, random = rng(61 + threads), GUARD = 64, SENTINEL = 12345.5;
      for (let outH = 1; outH <= 9; outH++) {
        for (let outW = 1; outW <= 9; outW++) {
          const stride = (outH + outW) % 4 === 0 ? 2 : 1, pad = (outH * outW) % 3, C = 1 + ((outH + 2 * outW) % 3);
          const H = (outH - 1) * stride + 3 - 2 * pad, W = (outW - 1) * stride + 3 - 2 * pad;
          if (H < 1 || W < 1) continue;
          const g: ConvGeometry = { channels: C, height: H, width: W, kernelH: 3, kernelW: 3, padH: pad, padW: pad, strideH: stride, strideW: stride, dilationH: 1, dilationW: 1, outH, outW };
          const x = randomArray(C * H * W, random), w = randomArray(C * 9, random), b = randomArray(C, random);
          const n = C * outH * outW, room = e.residentArray(GUARD + n + GUARD)!.fill(SENTINEL), y = room.subarray(GUARD, GUARD + n);
          depthwiseWasm(e, packDepthwiseWeights(e, room, w, b), g, C, C, 1, x, y, undefined);
          const label = `${C}x${H}x${W} stride ${stride} pad ${pad}: ${outH}x${outW} outputs`;
          expect(room.subarray(0, GUARD).filter((v) => v !== SENTINEL).length, `${label}, before y`).toBe(0);
          expect(room.subarray(GUARD + n).filter((v) => v !== SENTINEL).length, `${label}, after y`).toBe(0);
          const want = new Float32Array(n);
          for (let c = 0; c < C; c++) depthwisePlane(g, x, c * H * W, w, c * 9, b[c], want, c * outH * outW);
          expect(relDiff(y, want), label).toBeLessThan(1e-5);
        }
      }
    });

    it('Depthwise stride 2 read in place (3x3) and the general path (5x5): odd sizes, pads 0-2, channels not of 4, multiplier 2, batch 2, bias or none, ReLU and leaky, y between guards', () => {
      // 3x3 runs inPlacePlanes where four output columns fit (its first vector's zero lanes for pads 1-2, the
      // last vector overlapping, clipped right-edge columns on odd widths and right pads, zero rows above and
      // below); 5x5 and narrow planes the other paths. Every case against depthwisePlane and Caffe's ReLU.
      const random = rng(71 + threads);
      for (let t = 0; t < 48; t++) {
        const k = t % 4 === 3 ? 5 : 3, pad = t % 3, mult = t % 5 === 2 ? 2 : 1, N = t % 2 === 0 ? 2 : 1;
        const C = [1, 3, 5, 6, 7][t % 5], relu = t % 3 === 0 ? undefined : t % 3 === 1 ? 0 : 0.1, bias = t % 7 !== 3;
        const H = randomInt(random, Math.max(1, k - 2 * pad), 40), W = t % 6 === 0 ? 7 + 2 * randomInt(random, 0, 3) - 2 * pad : randomInt(random, Math.max(1, k - 2 * pad), 41);
        if (W < Math.max(1, k - 2 * pad)) continue;
        const outH = Math.floor((H + 2 * pad - k) / 2) + 1, outW = Math.floor((W + 2 * pad - k) / 2) + 1;
        const g: ConvGeometry = { channels: C, height: H, width: W, kernelH: k, kernelW: k, padH: pad, padW: pad, strideH: 2, strideW: 2, dilationH: 1, dilationW: 1, outH, outW };
        const cout = C * mult;
        const x = randomArray(N * C * H * W, random), w = randomArray(cout * k * k, random), b = bias ? randomArray(cout, random) : undefined;
        const label = `case ${t}: ${N}x${C}x${H}x${W} k ${k} pad ${pad} x${mult} relu ${relu} bias ${bias}: ${outH}x${outW}`;
        const [y, want] = depthwiseBoth(g, N, mult, x, x, w, b, relu, label);
        expect(relDiff(y, want), label).toBeLessThan(1e-5);
      }
    });

    it('Depthwise stride 1 read in place (3x3): widths 1-130 (around W + pw >= 6 and the last vectors overlapping), pads 0-3 per axis, channels not of 4, multiplier 1-2, batch 1-2, x resident or staged, bias or none, ReLU and leaky; per output within 2e-6 of depthwisePlane, y between guards', () => {
      // inPlace1Planes where pw <= 2, W + pw >= 6 and outH >= 4: the first vector's zero lanes left (pw 1-2), the
      // last vector's right, the vectors between overlapping (outW < pw + 8 clamps the last of them to column pw),
      // zero rows above and below (ph 0-3, H down to 1); the rest (pw 3, narrow or short planes) the padded path.
      // The vectors read x's rows up to their last column only: a staged x ends a plane's last row at its end.
      const e = wasmEngine()!, random = rng(81 + threads);
      for (let t = 0; t < 160; t++) {
        const ph = randomInt(random, 0, 3), pw = t % 8 === 7 ? 3 : randomInt(random, 0, 2), mult = t % 5 === 2 ? 2 : 1, N = t % 2 === 0 ? 2 : 1;
        const C = [1, 3, 5, 6, 7][t % 5], relu = t % 3 === 0 ? undefined : t % 3 === 1 ? 0 : 0.1, bias = t % 7 !== 3;
        const H = randomInt(random, 1, t % 4 === 0 ? 40 : 12), W = t % 6 === 0 ? randomInt(random, 40, 130) : randomInt(random, 1, 14);
        if (H + 2 * ph < 3 || W + 2 * pw < 3) continue;
        const outH = H + 2 * ph - 2, outW = W + 2 * pw - 2, cout = C * mult;
        const g: ConvGeometry = { channels: C, height: H, width: W, kernelH: 3, kernelW: 3, padH: ph, padW: pw, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, outH, outW };
        const xs = randomArray(N * C * H * W, random), x = t % 2 === 1 ? e.residentArray(xs.length)!.fill(0) : xs;
        x.set(xs);
        const w = randomArray(cout * 9, random), b = bias ? randomArray(cout, random) : undefined;
        const label = `case ${t}: ${N}x${C}x${H}x${W} pad ${ph}/${pw} x${mult} relu ${relu} bias ${bias} x ${x === xs ? 'staged' : 'resident'} threads ${e.activeThreads()}: ${outH}x${outW}`;
        const [y, want] = depthwiseBoth(g, N, mult, x, xs, w, b, relu, label);
        let worst = 0;
        for (let j = 0; j < y.length; j++) worst = Math.max(worst, Math.abs(y[j] - want[j]) / Math.max(1, Math.abs(want[j])) || (y[j] === want[j] ? 0 : Infinity));
        expect(worst, label).toBeLessThan(2e-6);
      }
    });

    it('Depthwise, a random sweep around the in-place stride-2 3x3 path: pads 0-3 set apart per axis, strides 1/2 per axis, kernels 1-5 (kh != kw too), widths to 240, x resident or staged, batch 1-3, multiplier 1-3; per output within 2e-6 of depthwisePlane, y between guards', () => {
      // Every edge inPlaceFits decides on (left pad over 2, fewer than four output columns inside, stride or kernel
      // not 3x3/2) on both sides, and the vector loop's 3-float read past a row on the last row of the last plane
      // of a resident x (its 64 bytes of room). 2e-6: the plain build's unfused sums (7e-7 measured; the fused build
      // 6e-8, its leaky slope's rounding).
      const e = wasmEngine()!, random = rng(1000 + threads);
      for (let t = 0; t < 300; t++) {
        const k = t % 9 === 0 ? randomInt(random, 1, 5) : 3, kw = t % 13 === 0 ? randomInt(random, 1, 5) : k;
        const ph = randomInt(random, 0, 3), pw = randomInt(random, 0, 3), sh = t % 11 === 0 ? 1 : 2, sw = t % 17 === 0 ? 1 : 2;
        const mult = randomInt(random, 1, 3), N = randomInt(random, 1, 3), C = randomInt(random, 1, 9);
        const H = randomInt(random, 1, t % 5 === 0 ? 70 : 20), W = randomInt(random, 1, t % 4 === 0 ? (t % 8 === 0 ? 240 : 70) : 24);
        if (H + 2 * ph < k || W + 2 * pw < kw) continue;
        const outH = Math.floor((H + 2 * ph - k) / sh) + 1, outW = Math.floor((W + 2 * pw - kw) / sw) + 1;
        const g: ConvGeometry = { channels: C, height: H, width: W, kernelH: k, kernelW: kw, padH: ph, padW: pw, strideH: sh, strideW: sw, dilationH: 1, dilationW: 1, outH, outW };
        const cout = C * mult;
        const relu = t % 3 === 0 ? undefined : t % 3 === 1 ? 0 : 0.1, bias = t % 7 !== 3;
        const xs = randomArray(N * C * H * W, random), x = t % 2 === 0 ? e.residentArray(xs.length)!.fill(0) : xs;
        x.set(xs);
        const w = randomArray(cout * k * kw, random), b = bias ? randomArray(cout, random) : undefined;
        const label = `case ${t}: ${N}x${C}x${H}x${W} k ${k}x${kw} stride ${sh}/${sw} pad ${ph}/${pw} x${mult} relu ${relu} bias ${bias} x ${x === xs ? 'staged' : 'resident'}`;
        const [y, want] = depthwiseBoth(g, N, mult, x, xs, w, b, relu, label);
        let worst = 0;
        for (let j = 0; j < y.length; j++) worst = Math.max(worst, Math.abs(y[j] - want[j]) / Math.max(1, Math.abs(want[j])) || (y[j] === want[j] ? 0 : Infinity));
        expect(worst, label).toBeLessThan(2e-6);
      }
    });

    it('direct convolution of 2-4 input channels (first layers): kernels 1-7, strides 1 and 2, pads 0-3, odd sizes, outputs not of 4, batches, bands of rows, ReLU vs TypeScript', () => {
      const random = rng(97 + threads);
      for (let t = 0; t < 24; t++) {
        const C = randomInt(random, 2, 4), stride = t % 3 === 0 ? 1 : 2, k = t % 4 === 0 ? 3 : randomInt(random, 1, 7);
        const pad = randomInt(random, 0, 3), cout = randomInt(random, 1, 21), N = randomInt(random, 1, 3);
        // Case 0 is wide (its input rows past 128 KB: several bands of output rows a chunk, even at 1 thread).
        const H = t === 0 ? 61 : randomInt(random, Math.max(1, k - 2 * pad), 40), W = t === 0 ? 3001 : randomInt(random, Math.max(1, k - 2 * pad), 45);
        // Raw pixel values (a mean-subtracted image reaches ~150), as a first layer sees them.
        const x = new Tensor([N, C, H, W], randomArray(N * C * H * W, random).map((v) => 150 * v));
        const w = new Tensor([cout, C, k, k], randomArray(cout * C * k * k, random)), b = new Tensor([cout], randomArray(cout, random));
        const bias = t % 4 !== 1, relu = t % 3 === 1 ? 0 : t % 3 === 2 ? 0.2 : undefined;
        const def = layerDef('Convolution', { convolution_param: { num_output: cout, kernel_size: [k], pad: [pad], stride: [stride], bias_term: bias } });
        const outH = Math.floor((H + 2 * pad - k) / stride) + 1, outW = Math.floor((W + 2 * pad - k) / stride) + 1;
        const g: ConvGeometry = { channels: C, height: H, width: W, kernelH: k, kernelW: k, padH: pad, padW: pad, strideH: stride, strideW: stride, dilationH: 1, dilationW: 1, outH, outW };
        const label = `case ${t}: N ${N} C ${C} cout ${cout} kernel ${k} stride ${stride} pad ${pad} ${H}x${W} relu ${relu}`;
        expect(directFits(g, 1), label).toBe(outW >= 8); // narrower outputs take im2col
        const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
        expect([...got.dims], label).toEqual([N, cout, outH, outW]);
        expect(relDiff(got.data, want.data), label).toBeLessThan(5e-5);
      }
    });

    it('Pooling MAX and AVE: kernels, strides 1-3, pad, ceil and floor, global, batches', () => {
      const random = rng(23 + threads);
      for (let t = 0; t < 48; t++) {
        const pool = t % 2 === 0 ? 'MAX' : 'AVE', global = t % 9 === 8;
        const k = randomInt(random, 1, 4), kw = t % 5 === 3 ? randomInt(random, 1, 4) : k;
        const stride = t % 4 === 0 ? 2 : randomInt(random, 1, 3), pad = Math.min(k, kw) > 1 ? randomInt(random, 0, Math.min(k, kw) - 1) : 0;
        const H = randomInt(random, k, 29), W = randomInt(random, kw, 35), N = randomInt(random, 1, 2), C = randomInt(random, 1, 6);
        const x = new Tensor([N, C, H, W], randomArray(N * C * H * W, random));
        const pooling_param = global
          ? { pool, global_pooling: true }
          : { pool, kernel_h: k, kernel_w: kw, stride, pad, round_mode: t % 3 === 0 ? 'FLOOR' : 'CEIL' };
        const def = layerDef('Pooling', { pooling_param });
        const [got, want] = bothKernels(def, [], x);
        const label = `case ${t}: ${pool} ${JSON.stringify(pooling_param)} ${N}x${C}x${H}x${W}`;
        expect([...got.dims], label).toEqual([...want.dims]);
        // A CEIL window that starts past the image has divisor 0: AVE gives 0 / 0 = NaN there, as Caffe does.
        const nan = (a: Float32Array) => [...a.keys()].filter((i) => Number.isNaN(a[i]));
        expect(nan(got.data), label).toEqual(nan(want.data));
        const finite = (a: Float32Array) => a.map((v) => (Number.isNaN(v) ? 0 : v));
        expect(relDiff(finite(got.data), finite(want.data)), label).toBeLessThan(pool === 'MAX' ? 1e-30 : 1e-6);
      }
    });

    it('Pooling: the nets\' shapes (3x3 / 2x2 stride 2, 3x3 stride 1 pad 1), whole-plane windows, a lone window with pad', () => {
      const random = rng(29 + threads);
      const cases: [string, number[], Record<string, unknown>][] = [
        ['max 3x3 s2 (ceil)', [2, 3, 15, 15], { pool: 'MAX', kernel_size: 3, stride: 2 }],
        ['max 3x3 s2 pad 1', [1, 5, 18, 17], { pool: 'MAX', kernel_size: 3, stride: 2, pad: 1 }],
        ['max 2x2 s2', [2, 4, 13, 20], { pool: 'MAX', kernel_size: 2, stride: 2 }],
        ['ave 2x2 s2', [1, 4, 12, 9], { pool: 'AVE', kernel_size: 2, stride: 2 }],
        ['ave 3x3 s1 pad 1', [2, 6, 17, 17], { pool: 'AVE', kernel_size: 3, stride: 1, pad: 1 }],
        ['max 3x3 s1 pad 1', [1, 7, 14, 11], { pool: 'MAX', kernel_size: 3, stride: 1, pad: 1 }],
        // Planes of several bands of rows (the kernel fills 4096 floats of row buffers, then reads them back),
        // the last band partial, and rows longer than a band (one row a band).
        ['max 3x3 s2, SqueezeNet pool1 (bands of 34 rows)', [2, 3, 111, 111], { pool: 'MAX', kernel_size: 3, stride: 2 }],
        ['ave 2x2 s2 pad 1, wide rows (bands of 13 rows)', [1, 2, 70, 301], { pool: 'AVE', kernel_size: 2, stride: 2, pad: 1 }],
        ['max 3x3 s2 pad 1, rows longer than a band', [1, 2, 6, 4200], { pool: 'MAX', kernel_size: 3, stride: 2, pad: 1 }],
        ['ave 3x3 s1 pad 2 on 3 x 4100 (the row path, one row a band)', [1, 1, 3, 4100], { pool: 'AVE', kernel_size: 3, stride: 1, pad: 2 }],
        ['ave global 7x7', [2, 9, 7, 7], { pool: 'AVE', global_pooling: true }],
        ['max global 13x13', [1, 5, 13, 13], { pool: 'MAX', global_pooling: true }],
        ['ave global 1x1', [3, 2, 1, 1], { pool: 'AVE', global_pooling: true }],
        ['ave 7x7 kernel on a 7x7 plane', [1, 33, 7, 7], { pool: 'AVE', kernel_size: 7, stride: 1 }],
        ['ave 8x8 kernel on an 8x8 plane', [2, 3, 8, 8], { pool: 'AVE', kernel_size: 8, stride: 1 }],
        // One output, but its window holds padding (rows -1..1 of 3): not the plane itself, divisor 3 x 3.
        ['ave lone window with pad', [1, 2, 3, 3], { pool: 'AVE', kernel_size: 3, stride: 5, pad: 1 }],
        ['max lone window with pad', [1, 2, 3, 3], { pool: 'MAX', kernel_size: 3, stride: 5, pad: 1 }],
      ];
      for (const [label, dims, pooling_param] of cases) {
        const x = new Tensor(dims, randomArray(dims.reduce((a, b) => a * b), random));
        const [got, want] = bothKernels(layerDef('Pooling', { pooling_param }), [], x);
        expect([...got.dims], label).toEqual([...want.dims]);
        expect(relDiff(got.data, want.data), label).toBeLessThan(pooling_param.pool === 'MAX' ? 1e-30 : 1e-6);
      }
    });

    it('Pooling MAX: NaN never wins, a window of NaN / -Infinity gives -FLT_MAX (as the TypeScript kernel)', () => {
      const data = new Float32Array(2 * 9 * 9).map((_, i) => (i % 7) - 3);
      for (let i = 0; i < 9 * 9; i++) data[i] = i % 3 === 0 ? NaN : data[i];
      for (let i = 81; i < 81 + 27; i++) data[i] = i % 2 ? NaN : -Infinity;
      const def = layerDef('Pooling', { pooling_param: { pool: 'MAX', kernel_size: 3, stride: 2, pad: 1 } });
      const [got, want] = bothKernels(def, [], new Tensor([1, 2, 9, 9], data));
      expect([...got.data]).toEqual([...want.data]);
      expect(got.data.some((v) => v === -3.4028234663852886e38)).toBe(true);
      expect(got.data.some((v) => Number.isNaN(v))).toBe(false);
    });

    it('Pooling MAX 3x3 stride 2 without pad (three rows read straight): rows of 4 to 60, odd and even widths, windows clipped at the last column and row, NaN and -Infinity', () => {
      const random = rng(43 + threads);
      for (let t = 0; t < 36; t++) {
        // outW from 4 (the smallest taken) up, every count of outputs past the steps of 8 and 4; W = 2 outW (CEIL:
        // the last window clipped to 2 columns), 2 outW + 1 (every window inside) or one more (FLOOR drops it);
        // under CEIL an even H clips the last row of windows to 2 rows.
        const outW = t < 12 ? 4 + t : randomInt(random, 4, 60), extra = t % 3, W = 2 * outW + extra, H = randomInt(random, 3, 40);
        const N = randomInt(random, 1, 2), C = randomInt(random, 1, 5);
        const data = randomArray(N * C * H * W, random).map((v, i) => (i % 17 === 5 ? NaN : i % 23 === 7 ? -Infinity : v));
        const round_mode = extra === 0 ? 'CEIL' : extra === 2 ? 'FLOOR' : t % 2 ? 'CEIL' : 'FLOOR';
        const def = layerDef('Pooling', { pooling_param: { pool: 'MAX', kernel_size: 3, stride: 2, round_mode } });
        const [got, want] = bothKernels(def, [], new Tensor([N, C, H, W], data));
        expect([...got.data], `case ${t}: ${N}x${C}x${H}x${W}`).toEqual([...want.data]);
      }
    });

    it('Pooling 3x3 stride 1 pad 1 (the plane as one run): planes from 2 x 2, rows of 2 to 4 + 8k, batches, NaN and -Infinity', () => {
      const random = rng(37 + threads);
      for (let t = 0; t < 24; t++) {
        const pool = t % 2 === 0 ? 'MAX' : 'AVE';
        const H = t < 4 ? 2 + (t >> 1) : randomInt(random, 2, 40), W = t < 4 ? 2 + (t & 1) : randomInt(random, 2, 40);
        const N = randomInt(random, 1, 3), C = randomInt(random, 1, 5);
        const data = randomArray(N * C * H * W, random);
        if (t % 6 === 4) for (let i = 0; i < data.length; i += 5) data[i] = i % 2 ? NaN : -Infinity;
        const def = layerDef('Pooling', { pooling_param: { pool, kernel_size: 3, stride: 1, pad: 1 } });
        const [got, want] = bothKernels(def, [], new Tensor([N, C, H, W], data));
        const label = `case ${t}: ${pool} ${N}x${C}x${H}x${W}`;
        expect([...got.dims], label).toEqual([N, C, H, W]);
        if (pool === 'MAX') expect([...got.data], label).toEqual([...want.data]);
        else {
          const nan = (a: Float32Array) => [...a.keys()].filter((i) => Number.isNaN(a[i]));
          expect(nan(got.data), label).toEqual(nan(want.data));
          const finite = (a: Float32Array) => a.map((v) => (Number.isFinite(v) ? v : 0));
          expect(relDiff(finite(got.data), finite(want.data)), label).toBeLessThan(1e-6);
        }
      }
    });

    it('Eltwise SUM (+ leaky ReLU) over resident blobs: 2-4 bottoms, coefficients, odd lengths, in place', () => {
      const random = rng(31 + threads), e = wasmEngine()!;
      const resident = (a: Float32Array) => {
        const r = e.residentArray(a.length)!;
        r.set(a);
        return r;
      };
      for (let t = 0; t < 16; t++) {
        const n = [1, 3, 7, 9, 40_001, 70_003][t % 6] + (t > 6 ? randomInt(random, 0, 5) : 0);
        const count = t % 3 === 0 ? 2 : randomInt(random, 2, 4);
        const ones = t % 2 === 0;
        const coeffs = Float32Array.from({ length: count }, () => (ones ? 1 : randomInt(random, -4, 4) / 2));
        const slope = [undefined, 0, 0.1][t % 3];
        const xs = Array.from({ length: count }, () => resident(randomArray(n, random)));
        // Caffe's order (y = 0, then y += c_b * x_b), each step rounded to float, as the TypeScript loops.
        const want = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          let v = Math.fround(coeffs[0] * xs[0][i] + 0);
          for (let b = 1; b < count; b++) v = Math.fround(v + coeffs[b] * xs[b][i]);
          want[i] = slope === undefined ? v : caffeRelu(v, Math.fround(slope)); // Caffe's slope is a float
        }
        const inPlace = t % 4 === 1;
        const y = inPlace ? xs[count - 1] : resident(new Float32Array(n));
        expect(eltwiseSumWasm(xs, coeffs, y, slope), 'resident arrays run in wasm').toBe(true);
        const label = `case ${t}: n ${n} coeffs ${[...coeffs]} slope ${slope} in place ${inPlace}`;
        if (ones) expect([...y], label).toEqual([...want]);
        else expect(relDiff(y, want), label).toBeLessThan(1e-6);
      }
      // A plain (not resident) array is left to the TypeScript loops.
      const x = resident(new Float32Array(8).fill(1));
      expect(eltwiseSumWasm([x, new Float32Array(8)], Float32Array.of(1, 1), x, undefined)).toBe(false);
      expect([...x]).toEqual(new Array(8).fill(1));
    });

    it('InnerProduct: batch 1 (GEMV) and batches (GEMM), transpose, no bias, fused leaky ReLU', () => {
      const random = rng(11 + threads);
      for (let t = 0; t < 24; t++) {
        const M = t % 3 === 0 ? 1 : randomInt(random, 2, 11);
        const K = t % 5 === 0 ? randomInt(random, 257, 700) : randomInt(random, 1, 90);
        const N = randomInt(random, 1, 70);
        const transpose = t % 2 === 1, bias = t % 4 !== 3;
        const x = new Tensor([M, K], randomArray(M * K, random));
        const w = new Tensor(transpose ? [K, N] : [N, K], randomArray(N * K, random));
        const b = new Tensor([N], randomArray(N, random));
        const def = layerDef('InnerProduct', { inner_product_param: { num_output: N, transpose, bias_term: bias } });
        const relu = t % 3 === 1 ? 0 : t % 3 === 2 ? 0.25 : undefined;
        const [got, want] = bothKernels(def, bias ? [w, b] : [w], x, relu);
        const label = `case ${t}: M ${M} K ${K} N ${N} transpose ${transpose} bias ${bias} relu ${relu}`;
        expect([...got.dims], label).toEqual([...want.dims]);
        expect(relDiff(got.data, want.data), label).toBeLessThan(1e-5);
      }
    });

    it('InnerProduct over row-major weights: more than 64 strips a chunk (packed in groups), K tails, rows not of 8', () => {
      const random = rng(23 + threads);
      for (const [M, K, N] of [[1, 301, 603], [1, 64, 37], [3, 259, 1029], [9, 7, 517], [2, 1, 5], [1, 3, 1]]) {
        const x = new Tensor([M, K], randomArray(M * K, random));
        const w = new Tensor([N, K], randomArray(N * K, random));
        const b = new Tensor([N], randomArray(N, random));
        const def = layerDef('InnerProduct', { inner_product_param: { num_output: N } });
        const [got, want] = bothKernels(def, [w, b], x, M === 3 ? 0.5 : undefined);
        expect(relDiff(got.data, want.data), `M ${M} K ${K} N ${N}`).toBeLessThan(1e-5);
      }
    });
  });
}

describe('InnerProduct at batch 1 over row-major weights (GEMV)', () => {
  afterAll(async () => void (await setThreads(1)));

  it('gives the same bits at 1 and 2 threads (a row sums in one order whatever rows its chunk holds)', async () => {
    const random = rng(41);
    for (const [K, N] of [[1024, 10], [301, 603], [64, 37], [7, 13]]) {
      const w = new Tensor([N, K], randomArray(N * K, random)), b = new Tensor([N], randomArray(N, random));
      const x = new Tensor([1, K], randomArray(K, random));
      const run = async (threads: number): Promise<number[]> => {
        await setThreads(threads, 2);
        return [...runLayer(layerDef('InnerProduct', { inner_product_param: { num_output: N } }), [w, b], [x])[0].data];
      };
      expect(await run(2), `K ${K} N ${N}`).toEqual(await run(1));
    }
  });

  it('sums each row in its documented order, to the bit (lanes by k % 4, then the K % 4 tail, then the bias)', async () => {
    // The order of assembly/rowmajor.ts' dotRow, written out: four lane sums (the relaxed-SIMD build fuses each
    // multiply-add: the product is exact in f64, one rounding), added as (l0 + l1) + (l2 + l3), then the tail
    // one product at a time. Five rows a step or one (the rows past the last step): the same bits.
    const fused = wasmBuild() === 'fma';
    const f = Math.fround;
    const madd = (a: number, w: number, x: number): number => (fused ? f(a + w * x) : f(a + f(w * x)));
    const random = rng(47);
    for (const [K, N] of [[1024, 13], [1028, 7], [1032, 15], [1036, 5], [37, 17], [19, 6], [3, 2], [64, 100]])
      for (const threads of [1, 2]) {
        const w = new Tensor([N, K], randomArray(N * K, random)), b = new Tensor([N], randomArray(N, random));
        const x = new Tensor([1, K], randomArray(K, random));
        await setThreads(threads, 2);
        const got = runLayer(layerDef('InnerProduct', { inner_product_param: { num_output: N } }), [w, b], [x])[0].data;
        const want = new Float32Array(N);
        for (let n = 0; n < N; n++) {
          const lane = [0, 0, 0, 0], K4 = K & ~3, row = n * K;
          for (let k = 0; k < K4; k++) lane[k % 4] = madd(lane[k % 4], w.data[row + k], x.data[k]);
          let s = f(f(lane[0] + lane[1]) + f(lane[2] + lane[3]));
          for (let k = K4; k < K; k++) s = f(s + f(w.data[row + k] * x.data[k]));
          want[n] = f(s + b.data[n]);
        }
        expect([...got], `K ${K} N ${N} threads ${threads} (${wasmBuild()})`).toEqual([...want]);
      }
  });
});

describe('Convolution on planes of a few column strips, rows cut at 2 threads', () => {
  afterAll(async () => void (await setThreads(1)));

  it('cuts output rows only when the column blocks give fewer chunks than wanted (7 x 7: 7 strips, one a chunk)', () => {
    expect(convRowSplit(8, 7, 2048)).toEqual({ rowBlocks: 2, rowsPer: 1024 }); // ResNet-50's res5 1x1
    expect(convRowSplit(8, 7, 130)).toEqual({ rowBlocks: 2, rowsPer: 68 }); // 68 + 62
    expect(convRowSplit(8, 3, 256)).toEqual({ rowBlocks: 3, rowsPer: 88 });
    expect(convRowSplit(8, 8, 2048)).toEqual({ rowBlocks: 1, rowsPer: 2048 }); // Inception-v3's 8 x 8: as before
    expect(convRowSplit(8, 1, 40)).toEqual({ rowBlocks: 1, rowsPer: 40 }); // too few rows to cut
    expect(convRowSplit(1, 1, 2048)).toEqual({ rowBlocks: 1, rowsPer: 2048 }); // one thread
  });

  it('cuts a plane into column chunks that end together on two threads (the last chunk no whole chunk late)', () => {
    expect(chunkStrips(98, 13, 2)).toBe(7); // 28 x 28: 14 chunks, 49 strips a thread (13: 52 against 46)
    expect(chunkStrips(1568, 64, 2)).toBe(56); // 112 x 112: 28 chunks, 784 a thread (64: 800 against 768)
    expect(chunkStrips(392, 49, 2)).toBe(49); // 56 x 56: 8 chunks of 49 already
    expect(chunkStrips(25, 4, 2)).toBe(4); // 14 x 14: 13 on one thread whatever the count; the largest kept
    expect(chunkStrips(92, 12, 2)).toBe(9); // 27 x 27 (92 strips): 11 chunks, 47 against 48 in chunks of 12
    expect(chunkStrips(98, 98, 1)).toBe(98); // one thread: one chunk
    expect(chunkStrips(7, 1, 2)).toBe(1);
  });

  it('gives the same bits at 1 and 2 threads (each output sums in one order whatever rows its chunk holds), and the TypeScript kernels\' numbers', async () => {
    const random = rng(43);
    const saved = process.env.CREMA_WINOGRAD;
    process.env.CREMA_WINOGRAD = '0'; // the 3x3 cases on im2col
    try {
      const cases = [
        { N: 1, cin: 300, cout: 130, k: 1, pad: 0, group: 1, H: 7, W: 7, bias: true, relu: 0 }, // 2 K blocks, rows 68 + 62
        { N: 1, cin: 64, cout: 200, k: 3, pad: 1, group: 2, H: 5, W: 5, bias: true, relu: 0.1 }, // groups: 2 x 4 strips
        { N: 2, cin: 40, cout: 97, k: 1, pad: 0, group: 1, H: 3, W: 6, bias: false, relu: undefined }, // batch 2, rows not of 4
        { N: 1, cin: 520, cout: 256, k: 3, pad: 0, group: 1, H: 9, W: 9, bias: true, relu: undefined }, // 49 columns, K 4680
        { N: 1, cin: 24, cout: 40, k: 1, pad: 0, group: 1, H: 28, W: 28, bias: true, relu: 0 }, // 98 strips: 14 chunks of 7
        { N: 2, cin: 20, cout: 12, k: 1, pad: 0, group: 1, H: 27, W: 27, bias: false, relu: 0.1 }, // chunks of 9, a last strip of 1
      ];
      for (const c of cases) {
        const x = new Tensor([c.N, c.cin, c.H, c.W], randomArray(c.N * c.cin * c.H * c.W, random));
        const w = new Tensor([c.cout, c.cin / c.group, c.k, c.k], randomArray((c.cout * c.cin * c.k * c.k) / c.group, random));
        const b = new Tensor([c.cout], randomArray(c.cout, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: c.cout, group: c.group, kernel_size: [c.k], pad: [c.pad], bias_term: c.bias } });
        const weights = c.bias ? [w, b] : [w];
        const run = async (threads: number): Promise<Tensor> => {
          await setThreads(threads, 2);
          // NaN where the output is staged (the engine's scratch): a row no chunk writes must not keep the last run's.
          const e = wasmEngine()!, bytes = 4 * (x.data.length + c.N * c.cout * c.H * c.W) + (1 << 16), at = e.scratch(bytes);
          e.f32.fill(NaN, at / 4, (at + bytes) / 4);
          return bothKernels(def, weights, x, c.relu)[0];
        };
        const one = await run(1), two = await run(2);
        expect([...two.data], JSON.stringify(c)).toEqual([...one.data]);
        const [, want] = bothKernels(def, weights, x, c.relu);
        expect(relDiff(two.data, want.data), JSON.stringify(c)).toBeLessThan(1e-5);
      }
    } finally {
      if (saved === undefined) delete process.env.CREMA_WINOGRAD;
      else process.env.CREMA_WINOGRAD = saved;
    }
  });
});

/**
 * Whether `a` views the kernels' wasm memory: a value written through the memory shows in `a`. (Comparing
 * `a.buffer` with `memory.buffer` breaks when the memory grows: a shared memory's buffer is then a new object,
 * while the old views stay valid views of the same memory.)
 */
function viewsWasmMemory(a: Float32Array): boolean {
  const memory = wasmEngine()!.memory.buffer;
  if (!(a.buffer instanceof SharedArrayBuffer) || a.byteOffset + a.byteLength > memory.byteLength) return false;
  const same = new Float32Array(memory, a.byteOffset, 1), old = a[0], mark = Math.fround(old + 1);
  same[0] = mark;
  const seen = a[0] === mark;
  same[0] = old;
  return seen;
}

describe('resident arrays start as zeros', () => {
  it('on memory a freed block held (written), and past the highest memory ever held (left unwritten: not resident)', () => {
    const e = wasmEngine()!;
    const heap = e.heap as unknown as { release(ptr: number): void; heldBytes: number };
    const n = 50_000, bytes = n * 4 + 64;
    // The top block freed gives its memory back to the top: the next block there was held before all the same.
    const a = e.residentArray(n)!.fill(7);
    heap.release(e.addressOf(a));
    const b = e.residentArray(n)!;
    expect(e.addressOf(b)).toBe(e.addressOf(a));
    expect(heap.heldBytes).toBe(bytes);
    expect(b.every((v) => v === 0)).toBe(true);
    // A freed block below others, taken again from the free list.
    const c = e.residentArray(n)!.fill(7);
    const d = e.residentArray(16)!;
    heap.release(e.addressOf(c));
    const f = e.residentArray(n)!;
    expect(e.addressOf(f)).toBe(e.addressOf(c));
    expect(heap.heldBytes).toBe(bytes);
    expect(f.every((v) => v === 0)).toBe(true);
    // Past the high-water mark: nothing held it, nothing written (and it reads as zeros).
    const g = e.residentArray(1 << 20)!;
    expect(heap.heldBytes).toBe(0);
    expect(g.every((v) => v === 0)).toBe(true);
    for (const t of [b, d, f, g]) heap.release(e.addressOf(t));
  });
});

describe('InnerProduct weights: one copy', () => {
  it('Net.load moves them into wasm memory before the first forward (net.params views them, same values)', async () => {
    const lenet = (f: string): string => path.resolve('models/lenet', f);
    const net = await Net.load(lenet('deploy.prototxt'), lenet('weights.caffemodel'), { threads: 1 });
    useKernels('js');
    const js = await Net.load(lenet('deploy.prototxt'), lenet('weights.caffemodel'), { threads: 1 });
    useKernels('wasm');
    for (const name of ['ip1', 'ip2']) {
      const [w] = net.params.get(name)!;
      expect(viewsWasmMemory(w.data), name).toBe(true);
      expect(relDiff(w.data, js.params.get(name)![0].data), name).toBe(0);
    }
    expect(viewsWasmMemory(net.params.get('conv1')![0].data)).toBe(false); // only fully connected layers move
    const x = randomArray(28 * 28, rng(3));
    const want = js.forward({ data: new Tensor([1, 1, 28, 28], x) }).prob.data.slice();
    expect(relDiff(net.forward({ data: new Tensor([1, 1, 28, 28], x) }).prob.data, want)).toBeLessThan(1e-5);
  });

  it('after the first forward the weight tensor is a view of wasm memory with the same values, kept across reshapes', () => {
    const random = rng(5);
    const values = randomArray(40 * 30, random);
    const w = new Tensor([40, 30], values.slice());
    const layer = innerProductLayer.create(layerDef('InnerProduct', { inner_product_param: { num_output: 40 } }), [w, new Tensor([40], randomArray(40, random))]);
    const run = (M: number): Float32Array => {
      const [shape] = layer.reshape([[M, 30]]);
      const y = Tensor.zeros(shape);
      layer.forward([new Tensor([M, 30], randomArray(M * 30, rng(M)))], [y]);
      return y.data;
    };
    run(1);
    const view = w.data;
    expect(viewsWasmMemory(view)).toBe(true);
    expect([...view]).toEqual([...values]);
    run(4);
    run(1);
    expect(w.data).toBe(view); // not moved (copied) again
    useKernels('js');
    const js = run(4);
    useKernels('wasm');
    expect(relDiff(run(4), js)).toBeLessThan(1e-5);
  });
});

describe('which convolutions run Winograd', () => {
  const conv = (size: number, k = 3, stride = 1, dilation = 1, channels = 64): ConvGeometry => ({
    channels, height: size, width: size, kernelH: k, kernelW: k, padH: 1, padW: 1, strideH: stride, strideW: stride,
    dilationH: dilation, dilationW: dilation, outH: size, outW: size,
  });
  it('3x3 to 9x9, stride 1, with 8 or more channels in and any out; F(4x4) on planes of 14x14 and more and on 13x13, F(2x2) below', () => {
    // F(2x4, 3x3) (24) on 12 x 12 to 7 x 7, where its GEMMs are at most 0.95 of F(2x2)'s (twoByFour): not 6 x 6; at batch
    // > 1 not 12 x 12 and 11 x 11 from 96 channels (F(4x4) there: batchF4).
    expect([56, 28, 16, 14, 13, 12, 11, 10, 9, 8, 7, 6].map((n) => winogradTile(conv(n), 64, undefined))).toEqual([4, 4, 4, 4, 4, 24, 24, 24, 24, 24, 24, 2]);
    expect([12, 11, 8, 7].map((n) => winogradTile(conv(n, 3, 1, 1, 96), 64, undefined))).toEqual([24, 24, 24, 24]);
    expect([12, 11, 10, 8, 7].map((n) => winogradTile(conv(n, 3, 1, 1, 96), 64, undefined, 8))).toEqual([4, 4, 24, 24, 24]);
    // U within 7x the weights: F(4x4) of 9x9 is 4.0x; of a 4x4 kernel 9x, so that takes F(2x2). 7x7 takes
    // F(2x4, 7x7) (the whole kernel, U 1.6x the weights) on every plane, OpenPose's 46 x 46 as 7 x 7.
    expect([conv(28, 7), conv(28, 9), conv(28, 4), conv(46, 7), conv(24, 7), conv(7, 7)].map((g) => winogradTile(g, 64, undefined))).toEqual([4, 4, 2, 4, 4, 4]);
    expect([conv(46, 7), conv(7, 7)].map((g) => winogradTile(g, 64, undefined, 2))).toEqual([4, 4]);
    // 5x5 takes F(4x4, 5x5) on every plane and batch: its U is 2.56x the weights, as F(2x2)'s four 3x3 blocks'.
    expect([conv(35, 5), conv(28, 5), conv(27, 5), conv(24, 5), conv(14, 5), conv(7, 5)].map((g) => winogradTile(g, 64, undefined))).toEqual([4, 4, 4, 4, 4, 4]);
    expect([conv(27, 5), conv(24, 5), conv(14, 5)].map((g) => winogradTile(g, 64, undefined, 2))).toEqual([4, 4, 4]);
    // and within 64 MiB a group: FCN's fc6 (7x7, 512 -> 4096) stays on im2col.
    expect(winogradTile(conv(28, 7, 1, 1, 512), 4096, undefined)).toBe(0);
    expect([conv(28, 1), conv(28, 11), conv(28, 3, 2), conv(28, 3, 1, 2), conv(28, 3, 1, 1, 4), conv(28, 3, 1, 1, 7)].map((g) => winogradTile(g, 64, undefined))).toEqual([0, 0, 0, 0, 0, 0]);
    // 8 channels in, and few out: the SSD face detector's heads (128 -> 8 on 38 x 38, 256 -> 12 on 19 x 19), one
    // output channel, 5x5 and 7x7 with few outputs.
    expect([conv(28, 3, 1, 1, 8), conv(28, 3, 1, 1, 12)].map((g) => winogradTile(g, 64, undefined))).toEqual([4, 4]);
    expect([[conv(38, 3, 1, 1, 128), 8], [conv(19, 3, 1, 1, 256), 12], [conv(38, 3, 1, 1, 128), 1], [conv(28, 5), 8], [conv(46, 7, 1, 1, 128), 2]].map(([g, rows]) => winogradTile(g as ConvGeometry, rows as number, undefined))).toEqual([4, 4, 4, 4, 4]);
    // 1-D F(4, 3) for K x 1 and 1 x K kernels, K = 3 to 9; not 1 x 1, 1 x 11, strided or with fewer than 16 channels
    // in or out.
    const line = (kh: number, kw: number, stride = 1, channels = 64): ConvGeometry => ({ ...conv(17, 1, stride, 1, channels), kernelH: kh, kernelW: kw });
    expect([line(1, 7), line(7, 1), line(1, 3), line(9, 1), line(1, 1), line(1, 11), line(1, 7, 2), line(1, 7, 1, 8)].map((g) => winogradTile(g, 64, undefined))).toEqual([4, 4, 4, 4, 0, 0, 0, 0]);
    expect(winogradTile(line(1, 7), 8, undefined)).toBe(0);
  });

  it("strided convolutions: Winograd on the space-to-depth where it needs at most half im2col's multiply-adds (AlexNet's 11x11 stride 4, F(3x3, 4x4) for 7x7 stride 2), not 3x3 stride 2", () => {
    const strided = (size: number, k: number, s: number, pad: number, channels = 3, dilation = 1): ConvGeometry => {
      const out = Math.floor((size + 2 * pad - (dilation * (k - 1) + 1)) / s) + 1;
      return { ...conv(size, k, s, dilation, channels), padH: pad, padW: pad, outH: out, outW: out };
    };
    // AlexNet conv1: 48 channels, 3x3 on 57 x 57 -> 55 x 55, F(4x4): 0.30 of the 121 taps; 9x9 stride 3 and 5x5
    // stride 2 on planes of 14 x 14 and more the same, and on 13 x 13 outputs (F(4x4) as stride-1 13 x 13 planes: 0.36x).
    expect([strided(227, 11, 4, 0), strided(99, 9, 3, 0), strided(64, 5, 2, 2, 8), strided(27, 5, 2, 1, 8)].map((g) => winogradTile(g, 96, undefined))).toEqual([4, 4, 4, 4]);
    // 7x7 stride 2 (ResNet-50's, GoogLeNet's, SqueezeNet 1.0's conv1: 12 channels, a 4x4 kernel): F(3x3, 4x4), 0.33x
    // (CREMA_WINOGRAD=5: F(5x5, 4x4), 0.21x; test/stem-conv.test.ts).
    expect([strided(224, 7, 2, 3), strided(227, 7, 2, 0), strided(64, 8, 2, 1)].map((g) => winogradTile(g, 64, undefined))).toEqual([3, 3, 3]);
    // 3x3 stride 2 (a 2x2 kernel), 5x5 stride 2 on 12 x 12 outputs (F(2x2): 0.64x), dilation, too few channels
    // (1 x 2 x 2 = 4 < 8; 2 x 2 x 2 = 8 < 12 for a 4x4 kernel's F(3x3, 4x4)).
    const refused = [strided(224, 3, 2, 1, 64), strided(25, 5, 2, 1, 8), strided(227, 11, 4, 0, 3, 2), strided(227, 11, 2, 0, 1), strided(224, 7, 2, 3, 2)];
    expect(refused.map((g) => winogradTile(g, 96, undefined))).toEqual([0, 0, 0, 0, 0]);
    // Few output channels where the space-to-depth's channels make up for them (channels x rows >= 256), not with
    // few of both: 7x7 stride 2 3 -> 8 (12 x 8) and 5x5 stride 2 3 -> 8 stay on im2col, 3 -> 16 does not.
    expect([[strided(224, 7, 2, 3), 8], [strided(112, 5, 2, 2), 8], [strided(224, 7, 2, 3), 16], [strided(112, 5, 2, 2), 16], [strided(227, 11, 4, 0), 8], [strided(56, 7, 2, 3, 64), 8]]
      .map(([g, rows]) => winogradTile(g as ConvGeometry, rows as number, undefined))).toEqual([0, 0, 3, 4, 4, 3]);
    expect(winogradTile(strided(227, 11, 4, 0), 96, '0')).toBe(0);
  });
  it('a NaN or infinity in the input or the weights takes the im2col path: non-finite outputs exactly where Caffe has them', () => {
    const random = rng(5);
    const x = new Tensor([1, 16, 20, 20], randomArray(16 * 400, random));
    x.data[3 * 400 + 5 * 20 + 7] = Infinity;
    x.data[9 * 400 + 12 * 20 + 2] = NaN;
    const w = new Tensor([16, 16, 3, 3], randomArray(16 * 16 * 9, random)), b = new Tensor([16], randomArray(16, random));
    const def = layerDef('Convolution', { convolution_param: { num_output: 16, kernel_size: [3], pad: [1] } });
    const [got, want] = bothKernels(def, [w, b], x);
    expect(got.data.filter((v) => !Number.isFinite(v)).length).toBeGreaterThan(0);
    expect([...got.data].map(Number.isFinite)).toEqual([...want.data].map(Number.isFinite));
    expect(relDiff(got.data, want.data)).toBeLessThan(1e-5);
    const wBad = new Tensor(w.dims, w.data.slice());
    wBad.data[40] = -Infinity;
    const [gotW, wantW] = bothKernels(def, [wBad, b], new Tensor(x.dims, randomArray(x.data.length, random)));
    expect([...gotW.data].map(Number.isFinite)).toEqual([...wantW.data].map(Number.isFinite));
    // A strided layer (AlexNet's conv1, on 75 x 75: F(4x4) on 17 x 17 outputs), its NaN in the second image's last channel.
    const xs = new Tensor([2, 3, 75, 75], randomArray(2 * 3 * 75 * 75, random));
    const ws = new Tensor([24, 3, 11, 11], randomArray(24 * 3 * 121, random));
    const defS = layerDef('Convolution', { convolution_param: { num_output: 24, kernel_size: [11], stride: [4], bias_term: false } });
    const im2colS = im2colKernel(defS, [ws], xs);
    expect(relDiff(bothKernels(defS, [ws], xs)[0].data, im2colS.data)).toBeGreaterThan(0); // it takes Winograd when finite
    xs.data[xs.data.length - 100] = NaN;
    const [gotS, wantS] = bothKernels(defS, [ws], xs);
    expect(gotS.data.filter((v) => !Number.isFinite(v)).length).toBeGreaterThan(0);
    expect([...gotS.data].map(Number.isFinite)).toEqual([...wantS.data].map(Number.isFinite));
    expect(relDiff(gotS.data, wantS.data)).toBeLessThan(1e-5);
  });
  it("the bordered copy's finiteness check (in the copy's pass) sees a NaN or infinity in any row's first, middle or last float, on rows of 3 to 67", () => {
    const random = rng(23);
    for (const [H, W] of [[3, 3], [4, 5], [6, 9], [5, 67]]) {
      const w = new Tensor([8, 8, 3, 3], randomArray(8 * 8 * 9, random)), b = new Tensor([8], randomArray(8, random));
      const def = layerDef('Convolution', { convolution_param: { num_output: 8, kernel_size: [3], pad: [1] } });
      // The last float of the last plane (a row's overlapping last vector), the first of the first, one in between.
      for (const [at, bad] of [[8 * H * W - 1, NaN], [0, Infinity], [5 * H * W + (H >> 1) * W + (W >> 1), -Infinity]] as const) {
        const x = new Tensor([1, 8, H, W], randomArray(8 * H * W, random));
        x.data[at] = bad;
        const [got, want] = bothKernels(def, [w, b], x);
        const label = `${H} x ${W}, ${bad} at ${at}`;
        expect(got.data.some((v) => !Number.isFinite(v)), label).toBe(true);
        expect([...got.data].map(Number.isFinite), label).toEqual([...want.data].map(Number.isFinite));
        expect(relDiff(got.data, want.data), label).toBeLessThan(1e-5);
      }
    }
  });
  it('allFinite (on the bits): false for a NaN (any payload, either sign) or an infinity anywhere, also in a view at an offset; true for the largest floats, -0 and subnormals', () => {
    const finite = new Float32Array([0, -0, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, 1.401298464324817e-45, -1.1754942106924411e-38, 123.5]);
    expect(allFinite(finite)).toBe(true);
    expect(allFinite(new Float32Array(0))).toBe(true);
    const bits = new Int32Array(1);
    const nans = [0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fffffff].map((b) => ((bits[0] = b), new Float32Array(bits.buffer)[0]));
    for (const bad of [Infinity, -Infinity, ...nans])
      for (const at of [0, 4, finite.length]) {
        const w = new Float32Array(finite.length + 1);
        w.set(finite.subarray(0, at));
        w[at] = bad;
        w.set(finite.subarray(at), at + 1);
        expect(allFinite(w), `${bad} at ${at}`).toBe(false);
      }
    // A view that starts past a non-finite float and ends before another sees neither.
    const big = new Float32Array(64).fill(2);
    big[3] = NaN;
    big[60] = -Infinity;
    expect([allFinite(big.subarray(4, 60)), allFinite(big.subarray(3, 60)), allFinite(big.subarray(4, 61))]).toEqual([true, false, false]);
  });

  it("F(4x4)'s U is made per forward on 13 x 13 at batch 1 where it would be over 8 MiB: AlexNet's conv3 and conv4, not conv5 or SqueezeNet's", () => {
    const plane = (n: number, channels: number): ConvGeometry => conv(n, 3, 1, 1, channels);
    // AlexNet's conv3 (256 -> 384), conv4 (2 groups of 192 -> 192): U 13.5 and 10.1 MiB; conv5 (2 x 192 -> 128)
    // 6.75 MiB and SqueezeNet 1.1's fire9/expand3x3 (64 -> 256) 2.4 MiB keep theirs.
    const cases: [ConvGeometry, number, number][] = [[plane(13, 256), 384, 1], [plane(13, 192), 192, 2], [plane(13, 192), 128, 2], [plane(13, 64), 256, 1]];
    expect(cases.map(([g, rows, groups]) => uPerForward(g, rows, groups, undefined, 1))).toEqual([true, true, false, false]);
    // Not at batch 2 (F(4x4)'s U is kept there), nor with CREMA_WINOGRAD set, nor on 14 x 14 (U kept) or 12 x 12 (F(2x2)).
    expect(uPerForward(plane(13, 256), 384, 1, undefined, 2)).toBe(false);
    expect(['4', '2', '0'].map((setting) => uPerForward(plane(13, 256), 384, 1, setting, 1))).toEqual([false, false, false]);
    expect([14, 12].map((n) => uPerForward(plane(n, 256), 384, 1, undefined, 1))).toEqual([false, false]);
    // Split: one block of the 16 tiles (each block would make U again), rows cut one block per thread only when
    // the groups cannot give each thread a chunk.
    expect(winogradSplit(1, 16, 1, 36, 256, 384, true)).toEqual({ nt: 16, blocks: 1, rowsPer: 384 });
    expect(winogradSplit(2, 16, 1, 36, 256, 384, true)).toEqual({ nt: 16, blocks: 1, rowsPer: 192 });
    expect(winogradSplit(2, 16, 2, 36, 192, 192, true)).toEqual({ nt: 16, blocks: 1, rowsPer: 192 });
    // Many rows on more tiles (colorization's conv8_1 as phases: 1024 rows, 49 tiles, K = 512): one block of the
    // tiles, rows cut to fit the 4 MiB scratch (256 of 264), not 4 blocks of 16 tiles each making all of U; at two
    // threads the same 4 chunks. 196 tiles (56 x 56) with 64 rows, K = 64 (1 MiB blocks): 4 blocks of tiles, each
    // making the U of all 64 rows, rather than 2 blocks in 16 row blocks each transforming the inputs again.
    expect(winogradSplit(1, 49, 1, 36, 512, 1024, true)).toEqual({ nt: 56, blocks: 1, rowsPer: 256 });
    expect(winogradSplit(2, 49, 1, 36, 512, 1024, true)).toEqual({ nt: 56, blocks: 1, rowsPer: 256 });
    expect(winogradSplit(1, 196, 1, 36, 64, 64, true)).toEqual({ nt: 56, blocks: 4, rowsPer: 64 });
  });

  it('one thread: the fewest blocks of tiles that fit the scratch (1 MiB when U is small, else 4), or up to two more when they pad fewer tiles to whole strips', () => {
    // AlexNet conv3, F(2x2): 49 tiles in one block of 56 (not two of 32).
    expect(winogradSplit(1, 49, 1, 16, 256, 384)).toEqual({ nt: 56, blocks: 1, rowsPer: 384 });
    // Room for 128 tiles of 16 x (256 + 256) floats in 4 MiB: 390 tiles as 5 blocks of 80, not 4 of 104 (26 padded).
    expect(winogradSplit(1, 390, 1, 16, 256, 256)).toEqual({ nt: 80, blocks: 5, rowsPer: 256 });
    expect(winogradSplit(1, 384, 1, 16, 256, 256)).toEqual({ nt: 128, blocks: 3, rowsPer: 256 });
    // A U of at most 1 MiB (ResNet-50's 64-channel 3x3, F(4x4): 590 KB) takes blocks within 1 MiB: 196 tiles as 5
    // blocks of 40, not one of 200; with U at 2.4 MB (128 channels) 49 tiles stay one block of 56.
    expect(winogradSplit(1, 196, 1, 36, 64, 64)).toEqual({ nt: 40, blocks: 5, rowsPer: 64 });
    expect(winogradSplit(1, 49, 1, 36, 128, 128)).toEqual({ nt: 56, blocks: 1, rowsPer: 128 });
  });
  it('CREMA_WINOGRAD=0 turns it off; 2, 4 or 6 picks the tile (6: F(6x6) for 3x3 kernels, F(4x4) blocks for larger ones)', () => {
    expect(['0', '2', '4', '6'].map((s) => winogradTile(conv(28), 64, s))).toEqual([0, 2, 4, 6]);
    expect(winogradTile(conv(28, 5), 64, '6')).toBe(4);
  });
  it("blocks of F(6x6, 3x3) and F(5x5, 4x4) tiles on at most 32 input channels (Inception-v3's stem, ResNet-50's conv1) within 512 KiB of scratch, F(4x4)'s and more channels' within 1 MiB", () => {
    // conv3_3x3_s1: 32 -> 64 at 147 x 147, 25 x 25 tiles of 64 values; a block's bytes are 4 n (K + M) nt.
    const bytes = (n: number, K: number, M: number, nt: number): number => 4 * n * (K + M) * nt;
    for (const [K, M] of [[32, 64], [32, 32], [16, 64]]) {
      const f6 = winogradSplit(1, 625, 1, 64, K, M, false, 6), f4 = winogradSplit(1, 625, 1, 64, K, M, false, 4);
      expect(bytes(64, K, M, f6.nt), `${K} -> ${M}`).toBeLessThanOrEqual(1 << 19);
      expect(bytes(64, K, M, f4.nt), `${K} -> ${M}`).toBeGreaterThan(1 << 19);
      expect(bytes(64, K, M, f4.nt), `${K} -> ${M}`).toBeLessThanOrEqual(1 << 20);
    }
    // ResNet-50's conv1 in F(5x5, 4x4): 12 -> 64, 23 x 23 tiles (F(3x3, 4x4)'s within 1 MiB).
    const f5 = winogradSplit(1, 529, 1, 64, 12, 64, false, 5), f3 = winogradSplit(1, 38 * 38, 1, 36, 12, 64, false, 3);
    expect(bytes(64, 12, 64, f5.nt)).toBeLessThanOrEqual(1 << 19);
    expect(bytes(36, 12, 64, f3.nt)).toBeGreaterThan(1 << 19);
    // VGG-16's conv1_2 (64 -> 64 at 224 x 224): 1 MiB as before.
    expect(winogradSplit(1, 38 * 38, 1, 64, 64, 64, false, 6)).toEqual(winogradSplit(1, 38 * 38, 1, 64, 64, 64));
  });

  it("F(6x6, 3x3) where its 6 x 6 tiles cover the plane with at most 0.85 of F(4x4)'s values and U pays for itself: few channels from 64 x 64 (Inception-v3's conv2..4), any from 112 x 112 (VGG-16's first layers), 128 x 256 or more with up to 0.88 and 128 x 128 or more with up to 0.8, in 64 tiles or more (OpenPose's conv3, conv4 and stage 1)", () => {
    // Inception-v3: conv2 (32 -> 32, 147), conv3 (32 -> 64), conv4 (80 -> 192, 71); VGG-16's conv1_2, conv2_1, conv2_2;
    // OpenPose's conv1_2 and conv2_2 (368, 184), conv3_1 and conv3_2 (92: 0.86 of F(4x4)'s values), conv4_1 to conv4_3_CPM
    // and stage 1's 128 -> 128 (46: 0.79 of the values); PSPNet's 128 -> 128 at 60; 64 -> 256 at 46; 96 -> 192 at 71; 256
    // channels at 112 x 112 and 150 x 150 (HED's, the SSD's at 300), 256 -> 512 at 112, 256 at 75 (the SSD's conv3).
    const taken = [[32, 32, 147], [32, 64, 147], [80, 192, 71], [64, 64, 224], [64, 128, 112], [128, 128, 112], [64, 64, 368], [128, 128, 184],
      [128, 256, 92], [256, 256, 92], [256, 512, 46], [512, 512, 46], [512, 256, 46], [256, 128, 46], [128, 128, 46], [128, 128, 60], [64, 256, 46],
      [96, 192, 71], [256, 256, 112], [256, 256, 150], [256, 512, 112], [256, 256, 75]];
    expect(taken.map(([c, m, n]) => winogradTile(f6Plane(c, n, n), m, undefined))).toEqual(taken.map(() => 6));
    // 6 x 6 tiles pad 80 x 80 and 92 x 92 with few channels (0.87 and 0.86 of F(4x4)'s values), 56 x 56 and 28 x 28 (0.91)
    // whatever the channels; 14 x 14 (1.0); 128 -> 128 at 64 x 64 (0.84: over 0.8 below 128 x 256 channels); 96 -> 160 at
    // 46 x 46 (below 128 x 128 channels); 40 x 40 and 38 x 38 (49 tiles, which two threads cannot share); 35 x 35 and
    // 12 x 12 (below 64 x 64: F(2x4, 3x3) there); a 5x5 kernel; strided.
    const kept = [[64, 64, 80], [128, 128, 92], [256, 256, 56], [512, 512, 28], [64, 64, 14], [128, 128, 64], [96, 160, 46], [128, 128, 40], [128, 256, 40],
      [256, 256, 40], [512, 512, 38], [64, 64, 35], [64, 64, 12]];
    expect(kept.map(([c, m, n]) => winogradTile(f6Plane(c, n, n), m, undefined))).toEqual([4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 24]);
    expect(winogradTile(conv(35, 5), 64, undefined)).toBe(4);
    expect(winogradTile({ ...conv(72, 3, 2), outH: 36, outW: 36 }, 64, undefined)).toBe(0);
  });
});

describe('which convolutions run the direct kernel', () => {
  // It runs where Winograd declines (the 7x7 stride 2 conv1s take strided Winograd first).
  it('the direct kernel fits the zoo\'s first layers (3 channels, 3x3 stride 2, 7x7 stride 2, 3x3 stride 1), not more channels, groups, dilation or strides over 2', () => {
    const geometry = (C: number, size: number, k: number, s: number, pad: number, d = 1): ConvGeometry => {
      const out = Math.floor((size + 2 * pad - d * (k - 1) - 1) / s) + 1;
      return { channels: C, height: size, width: size, kernelH: k, kernelW: k, padH: pad, padW: pad, strideH: s, strideW: s, dilationH: d, dilationW: d, outH: out, outW: out };
    };
    for (const [C, size, k, s, pad] of [[3, 224, 3, 2, 1], [3, 227, 3, 2, 0], [3, 299, 3, 2, 0], [3, 224, 7, 2, 3], [3, 224, 3, 1, 1]])
      expect(directFits(geometry(C, size, k, s, pad), 1), `${C} x ${size}, ${k}x${k} stride ${s}`).toBe(true);
    expect(directFits(geometry(5, 224, 3, 2, 1), 1)).toBe(false);
    expect(directFits(geometry(3, 224, 3, 2, 1), 3)).toBe(false);
    expect(directFits(geometry(3, 224, 3, 1, 2, 2), 1)).toBe(false);
    expect(directFits(geometry(3, 227, 11, 4, 0), 1)).toBe(false);
    expect(directFits(geometry(3, 15, 3, 2, 0), 1)).toBe(false); // 7 output columns
  });
});

describe('wasm memory', () => {
  it('a scratch larger than the 4 GiB of wasm memory: a CremaError, and the engine stays whole', () => {
    const e = wasmEngine()!;
    e.scratch(1000);
    expect(() => e.scratch(5 * 2 ** 30)).toThrow(CremaError);
    expect(() => e.scratch(5 * 2 ** 30)).toThrow(/4 GiB of memory cannot fit 5120 MiB more \(\d+ MiB in use, \d+ nets? holds? weights there: dispose\(\) the nets no longer used\): CREMA_KERNELS=js/);
    // The scratch handed out next is a live block: nothing else may be given the same memory.
    const scratch = e.scratch(1000), other = e.heap.alloc(1000);
    expect(other >= scratch + 1000 || other + 1000 <= scratch, `scratch ${scratch}, other ${other}`).toBe(true);
    e.heap.release(other);
  });

  it('packing Winograd weights keeps only U and the bias: the weights staged for the filter transform leave no block behind', () => {
    const e = wasmEngine()!, random = rng(72), geometry: ConvGeometry = {
      channels: 48, height: 27, width: 27, kernelH: 5, kernelW: 5, padH: 2, padW: 2, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, outH: 27, outW: 27,
    };
    const w = randomArray(64 * 48 * 25, random), bias = randomArray(64, random);
    const sizes = (e.heap as unknown as { sizes: Map<number, number> }).sizes;
    e.job(KIND_GEMV); // the threads' scratch, made by a process's first job: not this test's to count when run alone
    const scratch = e.scratch(0), blocks = sizes.size, used = e.heap.used;
    const packed = packWinogradWeights(e, {}, w, bias, 1, 64, geometry, 4)!;
    const U = 64 * 64 * 48 * 4, biasBytes = Math.ceil(((64 + 4) * 4) / 64) * 64; // F(4x4, 5x5): 64 positions, the whole kernel
    expect([sizes.size - blocks, e.heap.used - used]).toEqual([2, U + biasBytes]);
    expect([sizes.get(packed.weights), e.scratch(0)]).toEqual([U, scratch]); // the shared scratch is not used either
    e.heap.release(packed.weights);
    e.heap.release(packed.bias);
  });

  // assembly/winograd.ts winogradFiltersChunk: a strip's values for one K block (up to 80 values, KC columns of MR
  // rows, KC * MR + 16 floats apart) sit in a thread's scratch above the filter functions' 8 KiB.
  it("the filter transform's strip of U fits a thread's scratch: 80 values of KC x MR floats", () => {
    expect(8192 + 80 * (KC * MR + 16) * 4).toBeLessThanOrEqual(THREAD_SCRATCH);
  });

  // The filter transform writes U in whole strips of MR rows, the rows past the filters as zeros: it must write every
  // float of U. Each block the heap gives out here
  // comes full of NaN (memory a freed layer left); the outputs must be the TypeScript kernels' and, bit for bit,
  // what the same layer gives on clean memory. Filter counts not of 4, C over the 256 K block, every U layout.
  it('Winograd U on dirtied memory: filters not of 4 per strip, every filter transform (3x3 F(2/4/6) and F(2x4), 5x5, 7x7 F(2x4) and F(2x2), 1-D F(4, 3) and F(4, 7), strided, F(5x5) and F(3x3) of a 4x4 kernel) give the TypeScript kernels\' output', () => {
    const e = wasmEngine()!, random = rng(97), saved = winogradLimits.stridedMacs;
    const tryAlloc = e.heap.tryAlloc.bind(e.heap);
    const dirty = (bytes: number): number => {
      const ptr = tryAlloc(bytes);
      if (ptr) e.f32.fill(Number.NaN, ptr / 4, (ptr + bytes) / 4);
      return ptr;
    };
    const cases: [string | undefined, number, number, number, number, number, number][] = [
      // CREMA_WINOGRAD, kh, kw, stride, cin, cout, plane
      ['2', 3, 3, 1, 300, 21, 14], ['4', 3, 3, 1, 40, 37, 30], ['6', 3, 3, 1, 24, 19, 40], [undefined, 5, 5, 1, 270, 23, 27],
      [undefined, 7, 7, 1, 20, 18, 30], ['2', 7, 7, 1, 20, 18, 30], [undefined, 1, 7, 1, 260, 17, 17], [undefined, 3, 1, 1, 30, 22, 17],
      ['4', 11, 11, 4, 3, 33, 63],
      // F(2x4, 3x3) (24 values a tile: F(2x2)'s G down, F(4x4)'s across), F(5x5, 4x4) and F(3x3, 4x4) on a 7x7
      // stride 2's space-to-depth (64 and 36 values of a 4x4 kernel).
      ['24', 3, 3, 1, 40, 37, 9], ['5', 7, 7, 2, 3, 33, 61], [undefined, 7, 7, 2, 3, 33, 61],
    ];
    winogradLimits.stridedMacs = Infinity;
    try {
      for (const [tile, kh, kw, stride, cin, cout, plane] of cases) {
        const label = `${kh}x${kw} stride ${stride} CREMA_WINOGRAD ${tile} C ${cin} filters ${cout} plane ${plane}`;
        const pad = stride === 1 ? (kh - 1) >> 1 : 0;
        const x = new Tensor([1, cin, plane, plane], randomArray(cin * plane * plane, random));
        const w = new Tensor([cout, cin, kh, kw], randomArray(cout * cin * kh * kw, random)), b = new Tensor([cout], randomArray(cout, random));
        const def = layerDef('Convolution', { convolution_param: { num_output: cout, kernel_h: kh, kernel_w: kw, stride: [stride], pad_h: pad, pad_w: (kw - 1) >> 1, bias_term: true } });
        const im2col = im2colKernel(def, [w, b], x);
        if (tile) process.env.CREMA_WINOGRAD = tile;
        const [clean, want] = bothKernels(def, [w, b], x);
        e.heap.tryAlloc = dirty;
        try {
          const [got] = bothKernels(def, [w, b], x);
          expect(got.data, label).toEqual(clean.data);
        } finally {
          e.heap.tryAlloc = tryAlloc;
          delete process.env.CREMA_WINOGRAD;
        }
        expect(relDiff(clean.data, want.data), label).toBeLessThan(1e-4);
        expect(relDiff(clean.data, im2col.data), label).toBeGreaterThan(0); // Winograd ran, not im2col twice
        // U itself, packed on dirtied memory: no float left unwritten (NaN), the padding rows zero.
        const out = Math.floor((plane + 2 * pad - kh) / stride) + 1, outW = Math.floor((plane + 2 * ((kw - 1) >> 1) - kw) / stride) + 1;
        const g: ConvGeometry = { channels: cin, height: plane, width: plane, kernelH: kh, kernelW: kw, padH: pad, padW: (kw - 1) >> 1, strideH: stride, strideW: stride, dilationH: 1, dilationW: 1, outH: out, outW };
        const m = winogradTile(g, cout, tile, 1);
        expect(m, label).toBeGreaterThan(0);
        if (tile === '24' || (kh === 7 && stride === 2)) expect(m, label).toBe(tile === '24' ? 24 : tile === '5' ? 5 : 3);
        e.heap.tryAlloc = dirty;
        let packed: ReturnType<typeof packWinogradWeights>;
        try {
          packed = packWinogradWeights(e, {}, w.data, b.data, 1, cout, g, m || 2)!;
        } finally {
          e.heap.tryAlloc = tryAlloc;
        }
        const bytes = (e.heap as unknown as { sizes: Map<number, number> }).sizes.get(packed.weights)!;
        const U = e.f32.subarray(packed.weights / 4, (packed.weights + bytes) / 4);
        expect(U.length % (4 * Math.ceil(cout / 4)), label).toBe(0);
        expect(U.findIndex((v) => Number.isNaN(v)), label).toBe(-1);
        e.heap.release(packed.weights);
        e.heap.release(packed.bias);
      }
    } finally {
      winogradLimits.stridedMacs = saved;
    }
  });

  it("a Winograd layer whose transformed weights do not fit runs im2col (the same numbers, no error)", () => {
    const e = wasmEngine()!, random = rng(71);
    const x = new Tensor([2, 32, 14, 14], randomArray(2 * 32 * 14 * 14, random));
    const w = new Tensor([40, 32, 3, 3], randomArray(40 * 32 * 9, random)), b = new Tensor([40], randomArray(40, random));
    const def = layerDef('Convolution', { convolution_param: { num_output: 40, kernel_size: [3], pad: [1] } });
    const im2col = im2colKernel(def, [w, b], x);
    const [winograd] = bothKernels(def, [w, b], x);
    expect(relDiff(winograd.data, im2col.data)).toBeGreaterThan(0); // this shape does take Winograd when U fits
    const U = 16 * 40 * 32 * 4; // F(2x2)'s U at least: 16 GEMMs of 40 x 32 floats
    const tryAlloc = e.heap.tryAlloc.bind(e.heap);
    e.heap.tryAlloc = (bytes: number) => (bytes >= U ? 0 : tryAlloc(bytes)); // a full memory, for U only
    try {
      const [full] = bothKernels(def, [w, b], x);
      expect(full.data).toEqual(im2col.data);
    } finally {
      e.heap.tryAlloc = tryAlloc;
    }
  });
});

describe('threads', () => {
  it('setThreads takes a count that is no whole number as 1', async () => {
    await setThreads(NaN);
    expect(wasmEngine()!.activeThreads()).toBe(1);
  });

  it('the pool is bounded by the cores, whatever is asked: --threads 256 on 2 cores starts 1 worker, not 255', async () => {
    const cores = availableParallelism();
    expect(await setThreads(256)).toBe(Math.min(cores, 256));
    expect(wasmEngine()!.pool.size).toBeLessThanOrEqual(Math.max(cores, 2) - 1); // 2: the tests' own pool above
    const net = Net.fromNetParameter({ name: 'n', layer: [] } as never, new Map(), [], { threads: 1e6 });
    expect(net.threads).toBe(cores);
    await setThreads(1);
  });

  it('a net made in a worker thread uses 1 thread by default and starts no workers there (the app is parallel already)', async () => {
    const src = `const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(dist('platform/node.js'))})
        .then(() => Promise.all([import(${JSON.stringify(dist('runtime/net.js'))}), import(${JSON.stringify(dist('kernels/wasm.js'))})]))
        .then(([{ Net }, { wasmEngine }]) => {
        const net = Net.fromNetParameter({ name: 'n', layer: [] }, new Map(), [], {});
        setTimeout(() => parentPort.postMessage({ threads: net.threads, workers: wasmEngine().pool.size }), 50);
      });`;
    const worker = new Worker(src, { eval: true });
    const reply = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await worker.terminate();
    expect(reply).toEqual({ threads: 1, workers: 0 });
  });

  it('a thread count far beyond the workers started costs no thread scratch (only started threads get one)', () => {
    const e = wasmEngine()!;
    e.threads = 1e6; // as Net.forward sets it from Net.threads
    try {
      expect(() => e.job(0)).not.toThrow();
    } finally {
      e.threads = 1;
    }
  });
});

describe('the thread pool', () => {
  it('a chunk that traps on a worker ends the job with its error (no hang); the worker runs the next job', async () => {
    const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
    const control = 1024, h = new Int32Array(memory.buffer, control, 16);
    // The main thread's chunks run here, not in wasm: each waits until a worker has failed (job 1) or finished a
    // chunk (job 2), so the worker surely takes one.
    let until: () => boolean = () => true;
    const main = {
      runChunk() {
        for (const end = Date.now() + 10_000; !until() && Date.now() < end; );
      },
    };
    const pool = new ThreadPool(wasmEngine()!.module, memory, control, main);
    await pool.grow(1);
    try {
      const p = new Uint32Array(memory.buffer, pool.params, 16);
      // A GEMV whose input lies past the end of memory: the worker's runChunk traps.
      p.set([KIND_GEMV, 0, 0, 4, KC, 16, 0xffffff00, 4096, 8192, 0, 0, 0, 1]);
      until = () => Atomics.load(h, 5) !== 0;
      expect(() => pool.run(2, 2)).toThrow(/worker thread 1 failed: RuntimeError: memory access out of bounds/);
      p[0] = 0; // a job of no kind: runChunk does nothing
      until = () => Atomics.load(h, 2) >= 1;
      pool.run(2, 2);
      expect(Atomics.load(h, 2)).toBe(2);
    } finally {
      await pool.terminate();
    }
  });

  it('a job the judge runs alone takes every chunk on the calling thread, wakes no worker, and still reports a chunk that throws', async () => {
    const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
    const h = new Int32Array(memory.buffer, 1024, 16);
    const ran: number[] = [];
    const pool = new ThreadPool(wasmEngine()!.module, memory, 1024, { runChunk: (_p, c, thread) => void ran.push(c * 10 + thread) });
    await pool.grow(1);
    try {
      const alone = new Judge();
      alone.parallel = () => false;
      pool.judge = alone;
      pool.run(5, 2);
      expect(ran).toEqual([0, 10, 20, 30, 40]); // chunks 0-4, all on thread 0
      expect(Atomics.load(h, 0), 'no job was opened for the workers').toBe(0);
      const failing = new ThreadPool(wasmEngine()!.module, memory, 1024, { runChunk: (_p, c) => { if (c === 2) throw new Error('chunk 2 failed'); } });
      failing.judge = alone;
      expect(() => failing.run(4, 2)).toThrow('chunk 2 failed');
    } finally {
      await pool.terminate();
    }
  });

  it('a thread whose poll the OS cut short does not poll for calmMs (it sleeps as soon as it waits), and its jobs still end with every chunk run once', async () => {
    const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
    const h = new Int32Array(memory.buffer, 1024, 16);
    let ran: number[] = [];
    // A chunk the calling thread takes returns once every chunk is taken (the worker's: a job of no kind, they do
    // nothing), so the calling thread then waits for the worker's last chunks, asleep while calm.
    const pool = new ThreadPool(wasmEngine()!.module, memory, 1024, {
      runChunk: (_p, c) => {
        ran.push(c);
        for (const end = Date.now() + 10_000; (Atomics.load(h, 1) & 0xfffff) < 4 && Date.now() < end; );
      },
    });
    pool.judge = undefined; // every job in parallel (a judge's try would wait for the worker to take chunk 0)
    await pool.grow(1);
    try {
      expect(pool.calmMs).toBe(100);
      pool.calmMs = 60_000; // calm for the whole test once cut
      expect(Atomics.load(h, 9)).toBe(60_000_000);
      pool.poll(0); // the worker never polls either: a calm worker's way
      const cut = pool.cut;
      pool.calm();
      expect(pool.cut).toBe(cut + 1);
      for (let i = 0; i < 20; i++) {
        ran = [];
        pool.run(4, 2);
        expect(Atomics.load(h, 2), `job ${i}: chunks done`).toBe(4);
        expect(ran.length, `job ${i}: the calling thread ran ${ran}`).toBeLessThanOrEqual(1); // its chunk waits for the rest to be taken
      }
      pool.calmMs = 0; // polls again at once (the benchmarks' A/B)
      pool.poll();
      pool.run(4, 2);
      expect(Atomics.load(h, 2)).toBe(4);
    } finally {
      await pool.terminate();
    }
  });

  it('grow resolves once the workers an earlier, unawaited grow started are ready (Net.load after Net\'s constructor)', async () => {
    const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
    const pool = new ThreadPool(wasmEngine()!.module, memory, 1024, { runChunk: () => {} });
    try {
      void pool.grow(1);
      await pool.grow(1);
      expect(pool.started).toBe(1);
    } finally {
      await pool.terminate();
    }
  });

  it('the judge times each job both ways, then runs it the faster way, trying the slower one every 8 runs while close and every 32 when far', () => {
    const judge = new Judge();
    const runs = (key: number, count: number, solo: number, parallel: number): string => {
      let ways = '';
      for (let i = 0; i < count; i++) {
        const p = judge.parallel(key);
        ways += p ? 'P' : 's';
        judge.record(key, p, p ? parallel : solo);
      }
      return ways;
    };
    // Job 1: parallel takes 1 ms, alone 2 ms (far apart): parallel, but alone once every 32 runs.
    const far = runs(1, 66, 2, 1);
    expect(far.slice(0, 3)).toBe('PsP');
    expect([...far.slice(3)].filter((w) => w === 's').length).toBe(2);
    // Job 2 (another key, its own times): alone 1 ms, parallel 1.1 ms (close): alone, parallel every 8 runs.
    const close = runs(2, 34, 1, 1.1);
    expect(close.slice(0, 3)).toBe('PsP');
    expect([...close.slice(3)].filter((w) => w === 'P').length).toBe(4);
    // A busy machine comes: job 1's parallel runs now take 5 ms, counted as at most twice the average (weight
    // 1/4): four runs move it past alone's 2 ms, and the job runs alone from then on, but for a probe of parallel
    // now and then (every 8 runs while the averages are within 25 %, then every 32).
    const busy = runs(1, 64, 2, 5);
    expect(busy).toBe('PPPPssPsssssssssssssssssssssssPsssssssssssssssssssssssssssssssPs');
    expect(judge.solo + judge.parallelRuns).toBe(66 + 34 + 64);
  });

  it('the judge\'s trials: a job\'s first, cold run each way is replaced by its second, and tries are told apart from choices', () => {
    const judge = new Judge();
    const ways: string[] = [];
    // Parallel 1 ms, alone 2 ms, but the first run each way is cold: parallel 12 ms (a first forward), alone 3.
    const times = { P: [12, 1, 1, 1, 1, 1, 1, 1, 1, 1], s: [3, 2, 2, 2] };
    for (let i = 0; i < 10; i++) {
      const p = judge.parallel(7);
      ways.push((p ? 'P' : 's') + (judge.trying ? '?' : ''));
      judge.record(7, p, (p ? times.P : times.s).shift()!);
    }
    // Fed into the average, the cold 12 ms kept the job alone for 32 runs; now it runs in parallel after the trials.
    expect(ways.join(' ')).toBe('P? s? P? P P P P P P P');
    // A second run slower than the first (a burst of load) does not replace it: the first stands.
    const burst = new Judge();
    for (const [p, ms] of [[true, 1], [false, 2], [true, 9], [false, 2]] as const) {
      burst.parallel(8);
      burst.record(8, p, ms);
    }
    expect(burst.parallel(8)).toBe(true);
    expect(burst.trying).toBe(false);
    // What a try of parallel may wait for a sleeping worker: at most the job's time alone, known after its trials.
    expect(burst.soloMs).toBe(2);
    const fresh = new Judge();
    expect(fresh.parallel(9)).toBe(true);
    expect(fresh.soloMs).toBeNaN();
  });

  it('winogradSplit at 2 threads: the block size whose job ends first when the threads take blocks in turn (a last block costs its strips, 1 to 4 tiles their columns); uneven tiles of many rows cut the rows', () => {
    // [tiles, image-groups, values a tile, K, M] -> [tiles a block, blocks, rows a block].
    const cases: [number[], number[]][] = [
      [[196, 1, 36, 256, 256], [48, 5, 256]], // VGG-16's 56 x 56: 4 x 48 + 4, not 5 x 40 (3 blocks for one thread, 2 for the other)
      [[144, 1, 36, 1152, 128], [72, 2, 128]], // OpenPose's 7x7 stages (U 20 MiB): one block a thread, not 3 of 24 each reading U
      [[49, 1, 36, 512, 512], [56, 1, 256]], // VGG-16's 28 x 28: one block, 256 rows a thread, not 32 + 17 tiles (13.3 -> 11.4 ms)
      [[49, 1, 36, 128, 128], [56, 1, 64]], // ResNet-50's res3 3x3: the same
      [[81, 1, 36, 64, 96], [40, 3, 96]], // Inception-v3's 35 x 35: 40 + 40 + 1 (the last tile a column); 96 rows are not cut
      [[16, 1, 36, 512, 512], [8, 2, 512]], // a 16-tile plane: even blocks keep their rows
      [[49, 2, 64, 48, 128], [56, 1, 128]], // CaffeNet's conv2: one block a group
    ];
    for (const [[tiles, images, n, K, M], [nt, blocks, rowsPer]] of cases) expect(winogradSplit(2, tiles, images, n, K, M), `${tiles} tiles`).toEqual({ nt, blocks, rowsPer });
  });

  it('winogradSplit: blocks cover every tile in multiples of 8, and output rows are cut only when the tiles cannot give each thread a chunk or part unevenly (at least 64 rows a block)', () => {
    for (const threads of [1, 2, 4])
      for (const [tiles, images, n, K, M] of [[196, 1, 36, 64, 64], [49, 1, 36, 128, 128], [16, 1, 16, 512, 512], [81, 1, 36, 64, 96], [1, 1, 16, 16, 16], [2704, 2, 36, 64, 64], [16, 3, 16, 448, 384]]) {
        const { nt, blocks, rowsPer } = winogradSplit(threads, tiles, images, n, K, M);
        const label = `threads ${threads} tiles ${tiles} images ${images} M ${M}: nt ${nt} blocks ${blocks} rows ${rowsPer}`;
        expect(nt % 8, label).toBe(0);
        expect(blocks * nt, label).toBeGreaterThanOrEqual(tiles);
        expect((blocks - 1) * nt, label).toBeLessThan(tiles); // no empty block
        expect(rowsPer % 4, label).toBe(0);
        expect(rowsPer, label).toBeLessThanOrEqual(Math.ceil(M / 4) * 4);
        const even = tiles % nt === 0 && (images * blocks) % threads === 0;
        if (threads === 1 || (images * blocks >= threads && (even || M < 64 * threads))) expect(rowsPer, label).toBeGreaterThanOrEqual(M); // no row blocks
        else if (images * blocks >= threads && rowsPer < M) expect(rowsPer, label).toBe(Math.ceil(M / threads / 4) * 4); // a block a thread
        else if (images * blocks < threads && M >= 32) expect(rowsPer, label).toBeLessThan(M);
      }
  });

  it('more chunks than the ticket counts (2^20: a million groups) run on the calling thread', () => {
    const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
    let count = 0;
    const pool = new ThreadPool(wasmEngine()!.module, memory, 1024, { runChunk: () => count++ });
    pool.run(1 << 20, 2);
    expect(count).toBe(1 << 20);
  });
});

describe('ReLU fusion in Net', () => {
  const spec = (inPlace: boolean): LayerParameter[] => [
    { name: 'data', type: 'Input', top: ['data'], input_param: { shape: [{ dim: [1, 2, 5, 5] }] } },
    { name: 'conv', type: 'Convolution', bottom: ['data'], top: ['conv'], convolution_param: { num_output: 3, kernel_size: [3] } },
    { name: 'relu', type: 'ReLU', bottom: ['conv'], top: [inPlace ? 'conv' : 'act'], relu_param: { negative_slope: 0.5 } },
    { name: 'fc', type: 'InnerProduct', bottom: [inPlace ? 'conv' : 'act'], top: ['fc'], inner_product_param: { num_output: 4 } },
  ] as LayerParameter[];
  const random = rng(5);
  const weights = new Map([
    ['conv', [new Tensor([3, 2, 3, 3], randomArray(54, random)), new Tensor([3], randomArray(3, random))]],
    ['fc', [new Tensor([4, 27], randomArray(108, random)), new Tensor([4], randomArray(4, random))]],
  ]);
  const x = new Tensor([1, 2, 5, 5], randomArray(50, random));
  const leaky = (v: number) => (v > 0 ? v : v * 0.5);

  it('an in-place ReLU runs inside the convolution: same blobs as unfused, and the whole net agrees', () => {
    const net = Net.fromNetParameter({ name: 'n', layer: spec(true) } as never, weights, [], { threads: 1 });
    const conv = Float32Array.from(net.forward({ data: x }, { end: 'conv' }).conv.data);
    expect(conv.some((v) => v < 0), 'test data must give negative pre-ReLU values').toBe(true);
    const slopes: (number | undefined)[] = [];
    const conv0 = net.layers[1].impl as FusableLayer, relu0 = net.layers[2].impl;
    const [fuse, reluForward] = [conv0.fuseRelu.bind(conv0), relu0.forward.bind(relu0)];
    let reluRuns = 0;
    conv0.fuseRelu = (s) => (slopes.push(s), fuse(s));
    relu0.forward = (b, t) => (reluRuns++, reluForward(b, t));
    const fc = Float32Array.from(net.forward({ data: x }).fc.data);
    expect(slopes).toEqual([0.5]);
    expect(reluRuns, 'the fused ReLU layer itself is skipped').toBe(0);
    const after = net.blobs.get('conv')!.data;
    expect(relDiff(after, conv.map(leaky))).toBeLessThan(1e-6);
    const separate = Net.fromNetParameter({ name: 'n', layer: spec(false) } as never, weights, [], { threads: 1 });
    separate.forward({ data: x });
    expect(relDiff(separate.blobs.get('fc')!.data, fc)).toBeLessThan(1e-6);
  });

  it('a ReLU into another blob is not fused: the convolution blob keeps its pre-ReLU value', () => {
    const net = Net.fromNetParameter({ name: 'n', layer: spec(false) } as never, weights, [], { threads: 1 });
    net.forward({ data: x });
    const conv = net.blobs.get('conv')!.data;
    expect(conv.some((v) => v < 0)).toBe(true);
    expect(relDiff(net.blobs.get('act')!.data, conv.map(leaky))).toBeLessThan(1e-6);
  });

  it('forward ending at the convolution leaves its pre-ReLU value; starting at the ReLU applies it once', () => {
    const net = Net.fromNetParameter({ name: 'n', layer: spec(true) } as never, weights, [], { threads: 1 });
    const pre = Float32Array.from(net.forward({ data: x }, { end: 'conv' }).conv.data);
    const post = net.forward({}, { start: 'relu', end: 'relu' }).conv.data;
    expect(relDiff(post, pre.map(leaky))).toBeLessThan(1e-6);
  });
});

describe('the two wasm builds (dist/kernels-fma.wasm with fused multiply-adds, dist/kernels.wasm without)', () => {
  // The engine is process-wide, so the build this process did not load runs in a child (from dist/).
  const script = `
    await import('./dist/platform/node.js');
    const { wasmBuild, useKernels } = await import('./dist/kernels/wasm.js');
    const { convolutionLayer } = await import('./dist/layers/convolution.js');
    const { Tensor } = await import('./dist/tensor.js');
    const values = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);
    const run = () => {
      const def = { name: 'c', type: 'Convolution', bottom: ['x'], top: ['y'], convolution_param: { num_output: 10, kernel_size: [3], pad: [1], stride: [2] } };
      const layer = convolutionLayer.create(def, [new Tensor([10, 7, 3, 3], values(630, 1)), new Tensor([10], values(10, 2))]);
      const [shape] = layer.reshape([[1, 7, 19, 23]]);
      const y = Tensor.zeros(shape);
      layer.forward([new Tensor([1, 7, 19, 23], values(7 * 19 * 23, 3))], [y]);
      return y.data;
    };
    const wasm = run();
    useKernels('js');
    const js = run();
    let err = 0;
    for (let i = 0; i < js.length; i++) err = Math.max(err, Math.abs(wasm[i] - js[i]));
    useKernels('wasm');
    console.log(JSON.stringify({ build: wasmBuild(), err }));`;
  for (const fma of ['1', '0'])
    it(`CREMA_FMA=${fma}: ${fma === '1' ? 'the relaxed-SIMD build where Node runs it' : 'the plain SIMD build'}, same results as the TypeScript kernels`, async () => {
      const { execFileSync } = await import('node:child_process');
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, CREMA_FMA: fma, CREMA_KERNELS: '' }, encoding: 'utf8' });
      const { build, err } = JSON.parse(out.trim().split('\n').pop()!) as { build: string; err: number };
      expect(build).toBe(fma === '1' ? 'fma' : 'simd');
      expect(err).toBeLessThan(1e-5);
    });
});

describe('blobs resident in the kernels\' memory (no copy in and out around each layer)', () => {
  const model = path.resolve('models/cifar10_full');
  const load = () => Net.load(path.join(model, 'deploy.prototxt'), path.join(model, 'weights.caffemodel'), { threads: 2 });
  const input = () => readNpy(path.join(model, 'example-input.npy'));

  it('a net\'s blobs live in wasm memory, give the TypeScript kernels\' numbers, and stay right after the memory grows', async () => {
    const e = wasmEngine()!;
    const net = await load();
    for (const [name, t] of net.blobs) expect(e.addressOf(t.data), name).toBeGreaterThan(0);
    const got = Float32Array.from(net.forward({ data: input() }).prob.data);
    useKernels('js');
    const reference = await load();
    useKernels('wasm');
    for (const [name, t] of reference.blobs) expect(e.addressOf(t.data), name).toBe(0);
    const want = reference.forward({ data: input() });
    expect(relDiff(got, want.prob.data)).toBeLessThan(1e-5);
    for (const name of ['conv1', 'pool2', 'ip1']) expect(relDiff(net.blobs.get(name)!.data, reference.blobs.get(name)!.data), name).toBeLessThan(1e-5);
    // A shared memory never moves: views made before it grows still read and write the same memory.
    const bytes = e.memory.buffer.byteLength;
    e.memory.grow(16);
    expect(e.memory.buffer.byteLength).toBeGreaterThan(bytes);
    const again = net.forward({ data: input() }).prob.data;
    expect(Array.from(again)).toEqual(Array.from(got));
    // A reshape to another batch gets new resident blobs, and the same numbers per image.
    const two = new Tensor([2, 3, 32, 32], new Float32Array(2 * 3072));
    two.data.set(input().data, 0);
    two.data.set(input().data, 3072);
    const batch = net.forward({ data: two }).prob;
    expect(e.addressOf(batch.data)).toBeGreaterThan(0);
    expect(relDiff(batch.data.subarray(10, 20), got)).toBeLessThan(1e-6);
  });
});

// Last in the file: its Winograd jobs grow the engine's scratch, which the resident-array tests above read as held memory.
describe('Winograd with output rows cut at 2 threads', () => {
  afterAll(async () => void (await setThreads(1)));

  it('28 x 28 planes (49 tiles) at 2 threads, output rows cut where tiles part unevenly: the bits of 1 thread, and the TypeScript kernels\' numbers', async () => {
    const random = rng(44);
    const cases = [
      { cin: 96, cout: 128, k: 3, pad: 1, H: 28, relu: 0 }, // GoogLeNet's inception 3a 3x3: 64 rows a thread
      { cin: 40, cout: 136, k: 3, pad: 1, H: 28, relu: undefined }, // 136 rows: blocks of 24 + 24 + 1 tiles weigh less here
      { cin: 32, cout: 128, k: 5, pad: 2, H: 28, relu: 0.1 }, // F(4x4, 5x5): 24 + 24 + 1
      { cin: 64, cout: 200, k: 3, pad: 1, H: 28, relu: 0.1 }, // 100 rows a thread
    ];
    for (const c of cases) {
      const x = new Tensor([1, c.cin, c.H, c.H], randomArray(c.cin * c.H * c.H, random));
      const w = new Tensor([c.cout, c.cin, c.k, c.k], randomArray(c.cout * c.cin * c.k * c.k, random));
      const b = new Tensor([c.cout], randomArray(c.cout, random));
      const def = layerDef('Convolution', { convolution_param: { num_output: c.cout, kernel_size: [c.k], pad: [c.pad] } });
      const run = async (threads: number): Promise<Tensor> => {
        await setThreads(threads, 2);
        // NaN where the output is staged (the engine's scratch): a row block no chunk runs must not keep the last run's.
        const e = wasmEngine()!, bytes = 4 * (x.data.length + c.cout * c.H * c.H) + (1 << 16), at = e.scratch(bytes);
        e.f32.fill(NaN, at / 4, (at + bytes) / 4);
        return bothKernels(def, [w, b], x, c.relu)[0];
      };
      const one = await run(1), two = await run(2);
      expect([...two.data], JSON.stringify(c)).toEqual([...one.data]);
      const [, want] = bothKernels(def, [w, b], x, c.relu);
      expect(relDiff(two.data, want.data), JSON.stringify(c)).toBeLessThan(1e-4);
    }
  });
});

// After the resident-array checks above: a Net's load and dispose move the heap's high-water mark they read.
describe('Winograd F(2x4, 3x3) in a net', () => {
  it('Winograd F(2x4, 3x3) against Caffe (test/fixtures/layers/small_planes: 7 x 7 with ReLU, 8 x 8 in groups, 11 x 11; batch 2), and not im2col', async () => {
    const c = referenceCases('fixtures').find((r) => r.name === 'small_planes')!;
    const input = readNpy(c.input);
    const forward = async (): Promise<Net> => {
      const net = await Net.load(c.prototxt, weightsOf(c));
      net.forward({ [c.inputName]: input });
      return net;
    };
    const net = await forward();
    process.env.CREMA_WINOGRAD = '0';
    const im2col = await forward().finally(() => delete process.env.CREMA_WINOGRAD);
    try {
      for (const b of c.blobs) {
        expect(relativeError(net.blobs.get(b)!, referenceBlob(c, b)), `blob ${b}`).toBeLessThan(2e-6); // float32 rounding: the tolerance is 1e-4
        expect(relDiff(net.blobs.get(b)!.data, im2col.blobs.get(b)!.data), `blob ${b}`).toBeGreaterThan(0); // Winograd ran
      }
    } finally {
      await Promise.all([net.dispose(), im2col.dispose()]);
    }
    for (const [size, pad] of [[9, 0], [8, 1], [9, 2]]) expect(winogradTile({ ...f6Plane(72, size + 2 * pad - 2, size + 2 * pad - 2), height: size, width: size, padH: pad, padW: pad }, 20, undefined)).toBe(24);
  });
});
