// Deconvolution: Caffe's sweep reference, a naive scatter loop over seeded random geometries (the GEMM path, and the
// phases' Winograd: src/layers/deconvolution.ts phaseAxis), and bad input. test/fixtures/layers/deconv_phases checks
// the phases against Caffe (test/reference.test.ts).
import { afterAll, describe, expect, it } from 'vitest';
import type { FusableLayer } from '../src/layers/convolution.js';
import { layerType } from '../src/layers/registry.js';
import { deconvolutionPhases, phaseAxis } from '../src/layers/deconvolution.js';
import { setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { winogradLimits } from '../src/kernels/winograd.js';
import { Tensor } from '../src/tensor.js';
import { layerDef, randomArray, randomInt, relDiff, rng, runLayer, sweepCases } from './helpers/compute.js';
import { sharedMissing } from './helpers/shared.js';

interface Deconv { cout: number; group: number; k: number; p: number; s: number; d: number; bias: boolean }

/** Every input pixel scatters its weighted kernel onto the output, which is what Caffe's deconvolution computes. */
function referenceDeconv(x: Tensor, w: Float32Array, b: Float32Array | undefined, c: Deconv): Tensor {
  const [N, C, H, W] = x.dims;
  const OH = c.s * (H - 1) + c.d * (c.k - 1) + 1 - 2 * c.p, OW = c.s * (W - 1) + c.d * (c.k - 1) + 1 - 2 * c.p;
  const cinG = C / c.group, coutG = c.cout / c.group;
  const y = Tensor.zeros([N, c.cout, OH, OW]);
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < C; ci++) {
      const g = Math.floor(ci / cinG);
      for (let iy = 0; iy < H; iy++)
        for (let ix = 0; ix < W; ix++) {
          const v = x.data[((n * C + ci) * H + iy) * W + ix];
          for (let oc = 0; oc < coutG; oc++)
            for (let ky = 0; ky < c.k; ky++)
              for (let kx = 0; kx < c.k; kx++) {
                const oy = iy * c.s - c.p + ky * c.d, ox = ix * c.s - c.p + kx * c.d;
                if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
                y.data[((n * c.cout + g * coutG + oc) * OH + oy) * OW + ox] += v * w[((ci * coutG + oc) * c.k + ky) * c.k + kx];
              }
        }
    }
  if (b) for (let n = 0; n < N; n++) for (let o = 0; o < c.cout; o++) for (let i = 0; i < OH * OW; i++) y.data[(n * c.cout + o) * OH * OW + i] += b[o];
  return y;
}

/** A seeded random geometry (groups 1-3, up to the given output channels a group, kernel, stride and plane size), input and weights. */
function randomCase(random: () => number, most: { cout: number; k: number; s: number; size: number }): { c: Deconv; x: Tensor; weights: Tensor[] } {
  const group = randomInt(random, 1, 3);
  const c: Deconv = { cout: group * randomInt(random, 1, most.cout), group, k: randomInt(random, 1, most.k), p: 0, s: randomInt(random, 1, most.s), d: randomInt(random, 1, 2), bias: random() < 0.7 };
  c.p = randomInt(random, 0, Math.floor((c.d * (c.k - 1)) / 2));
  const N = randomInt(random, 1, 2), C = group * randomInt(random, 1, 3), H = randomInt(random, 1, most.size), W = randomInt(random, 1, most.size);
  const x = new Tensor([N, C, H, W], randomArray(N * C * H * W, random));
  const weights = [new Tensor([C, c.cout / group, c.k, c.k], randomArray(C * (c.cout / group) * c.k * c.k, random))];
  if (c.bias) weights.push(new Tensor([c.cout], randomArray(c.cout, random)));
  return { c, x, weights };
}

const param = (c: Deconv) => ({ convolution_param: { num_output: c.cout, group: c.group, kernel_size: [c.k], pad: [c.p], stride: [c.s], dilation: [c.d], bias_term: c.bias } });

/** The layer's forward on x with a fused ReLU at `slope` (none: undefined), into a resident top (a Net's blob) or a plain one. */
function deconvolve(c: Deconv, weights: Tensor[], x: Tensor, slope: number | undefined, resident: boolean): Float32Array {
  const layer = layerType('Deconvolution', 'd').create(layerDef('Deconvolution', param(c)), weights) as FusableLayer;
  layer.fuseRelu(slope);
  const [shape] = layer.reshape([x.dims]);
  const n = shape.reduce((a, b) => a * b, 1);
  const top = new Tensor(shape, resident ? wasmEngine()!.residentArray(n)! : new Float32Array(n));
  top.data.fill(NaN); // every output written, none read before
  layer.forward([x], [top]);
  return top.data.slice();
}

/** Seeded random input and weights (bias by c.bias) for a deconvolution of N x C x H x W. */
function randomTensors(random: () => number, c: Deconv, dims: [number, number, number, number]): { x: Tensor; weights: Tensor[] } {
  const [N, C, H, W] = dims, x = new Tensor(dims, randomArray(N * C * H * W, random));
  const weights = [new Tensor([C, c.cout / c.group, c.k, c.k], randomArray(C * (c.cout / c.group) * c.k * c.k, random))];
  if (c.bias) weights.push(new Tensor([c.cout], randomArray(c.cout, random)));
  return { x, weights };
}

/** Caffe's ReLU at `slope` (none: undefined) on the scatter loop's output. */
const reluOf = (y: Float32Array, slope: number | undefined): Float32Array => y.map((v) => (slope === undefined || v > 0 ? v : v * slope));

describe.skipIf(sharedMissing())('Deconvolution vs Caffe (reference/sweep deconv_*)', () => sweepCases(/^deconv_/));

describe('Deconvolution vs a reference loop', () => {
  afterAll(async () => {
    useKernels('wasm');
    await setThreads(1);
  });
  // The wasm engine's path (the columns from its GEMM, a 1x1 convolution by W^T) at 1 and 2 threads, and the
  // TypeScript one (its GEMM and col2im: the fallback).
  it.each([['wasm', 1], ['wasm', 2], ['js', 1]] as const)('seeded random geometries (groups, stride, pad, dilation, 1x1): %s kernels, %i thread(s)', async (kernels, threads) => {
    useKernels(kernels);
    expect(await setThreads(threads, 2)).toBe(threads); // 2 threads even on a one-core machine: the split must run
    const random = rng(21);
    for (let t = 0; t < 50; t++) {
      const { c, x, weights: [w, b] } = randomCase(random, { cout: 3, k: 4, s: 3, size: 7 });
      const [y] = runLayer(layerDef('Deconvolution', param(c)), b ? [w, b] : [w], [x]);
      const want = referenceDeconv(x, w.data, b?.data, c);
      const label = `case ${t}: ${JSON.stringify(c)} on ${x.dims.join('x')}`;
      expect([...y.dims], label).toEqual([...want.dims]);
      expect(relDiff(y.data, want.data), label).toBeLessThan(1e-5);
    }
  });

  // A Net's blobs are resident: there the engine also scatters the columns, adds the bias and applies a fused ReLU
  // (assembly/col2im.ts), in Caffe's order, so the bits are those of the TypeScript col2im and finish on the same
  // columns (the engine's GEMM: a top that is not resident takes that path).
  it.each([1, 2])('on a resident top (a Net\'s blob), col2im, bias and fused ReLU on the engine give the TypeScript col2im\'s bits, %i thread(s)', async (threads) => {
    useKernels('wasm');
    expect(await setThreads(threads, 2)).toBe(threads);
    const random = rng(23);
    for (let t = 0; t < 40; t++) {
      const { c, x, weights } = randomCase(random, { cout: 4, k: 5, s: 4, size: 9 });
      const slope = [undefined, 0, 0.1][t % 3];
      const got = deconvolve(c, weights, x, slope, true), want = deconvolve(c, weights, x, slope, false);
      const label = `case ${t}: ${JSON.stringify(c)} slope ${slope} on ${x.dims.join('x')}`;
      for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) expect(`${got[i]} at ${i}`, label).toBe(`${want[i]} at ${i}`);
    }
  });
});

describe('Deconvolution as a convolution of its output\'s phases (Winograd, U made per forward)', () => {
  afterAll(async () => {
    delete process.env.CREMA_WINOGRAD;
    deconvolutionPhases.on = true;
    await setThreads(1);
  });

  it('phaseAxis: the stride-1 convolution an axis is, or none', () => {
    expect(phaseAxis(4, 2, 1, 28, 56)).toEqual({ kernel: 3, pad: 1, cells: 28 }); // colorization's conv8_1
    expect(phaseAxis(8, 4, 2, 9, 36)).toEqual({ kernel: 3, pad: 1, cells: 9 });
    expect(phaseAxis(6, 2, 2, 9, 18)).toEqual({ kernel: 3, pad: 1, cells: 9 }); // every phase all 3 taps
    expect(phaseAxis(3, 1, 0, 9, 11)).toEqual({ kernel: 3, pad: 2, cells: 11 }); // stride 1: the flipped kernel
    expect(phaseAxis(4, 2, 0, 27, 56)).toEqual({ kernel: 2, pad: 1, cells: 28 }); // FCN's upscore2
    expect(phaseAxis(2, 2, 0, 9, 18)).toEqual({ kernel: 1, pad: 0, cells: 9 }); // the GEMM's own 1x1 form
    expect(phaseAxis(3, 2, 1, 9, 17)).toBeUndefined(); // an odd output: no whole cells
    expect(phaseAxis(1, 2, 0, 9, 17)).toBeUndefined(); // a kernel below the stride: phases without taps
  });

  // Geometries whose phases make a 3x3 convolution, with 8 to 24 input channels a group, on planes where Winograd
  // takes F(4x4): the phases run them. Against the scatter loop, and not the bits of the GEMM path (CREMA_WINOGRAD=0),
  // so that the phases did run; on a resident top (col2im on the engine) and a plain one, with a fused ReLU on some;
  // U kept (small) and made per forward (winogradLimits.madeUBytes at 0, as for colorization's conv8_1).
  it.each([[1, 'kept'], [2, 'kept'], [1, 'made'], [2, 'made']] as const)('random geometries against the scatter loop, %i thread(s), U %s', async (threads, u) => {
    useKernels('wasm');
    expect(await setThreads(threads, 2)).toBe(threads);
    const random = rng(29), saved = winogradLimits.madeUBytes;
    if (u === 'made') winogradLimits.madeUBytes = 0;
    try {
      const shapes = [[4, 2, 1], [8, 4, 2], [6, 2, 2], [3, 1, 0], [3, 1, 1]] as const;
      for (let t = 0; t < 20; t++) {
        const [k, st, p] = shapes[t % shapes.length], group = randomInt(random, 1, 2);
        const c: Deconv = { cout: group * randomInt(random, 1, 6), group, k, p, s: st, d: 1, bias: random() < 0.7 };
        const { x, weights } = randomTensors(random, c, [randomInt(random, 1, 2), group * randomInt(random, 8, 24), randomInt(random, 14, 20), randomInt(random, 14, 20)]);
        const slope = [undefined, 0, 0.1][t % 3], resident = t % 2 === 0;
        const got = deconvolve(c, weights, x, slope, resident);
        process.env.CREMA_WINOGRAD = '0';
        const gemm = deconvolve(c, weights, x, slope, resident);
        delete process.env.CREMA_WINOGRAD;
        const want = reluOf(referenceDeconv(x, weights[0].data, weights[1]?.data, c).data, slope);
        const label = `case ${t}: ${JSON.stringify(c)} slope ${slope} on ${x.dims.join('x')}${resident ? ' (resident top)' : ''}`;
        expect(relDiff(got, want), label).toBeLessThan(2e-5);
        expect(got.some((v, i) => !Object.is(v, gemm[i])), `${label}: the phases' Winograd ran`).toBe(true);
      }
    } finally {
      winogradLimits.madeUBytes = saved;
      delete process.env.CREMA_WINOGRAD;
    }
  });

  // A kernel of twice the stride without pad (FCN's and HED's upsamplings): every phase a full 2 x 2 window, W' with
  // no zero taps, the phases' convolution on the engine's im2col GEMM. Against the scatter loop and not the bits of
  // the GEMM of W^T and col2im (deconvolutionPhases off).
  it.each([1, 2])('kernels of twice the stride: the phases on the im2col GEMM, %i thread(s)', async (threads) => {
    useKernels('wasm');
    expect(await setThreads(threads, 2)).toBe(threads);
    const random = rng(41);
    const shapes = [[4, 2], [16, 8], [6, 3], [2, 1], [8, 4]] as const;
    for (let t = 0; t < 15; t++) {
      const [k, st] = shapes[t % shapes.length], group = randomInt(random, 1, 2);
      const c: Deconv = { cout: group * randomInt(random, 1, 5), group, k, p: 0, s: st, d: 1, bias: random() < 0.5 };
      const { x, weights } = randomTensors(random, c, [randomInt(random, 1, 2), group * randomInt(random, 1, 12), randomInt(random, 1, 16), randomInt(random, 1, 16)]);
      const slope = [undefined, 0, 0.1][t % 3], resident = t % 2 === 0;
      const got = deconvolve(c, weights, x, slope, resident);
      deconvolutionPhases.on = false;
      const gemm = deconvolve(c, weights, x, slope, resident);
      deconvolutionPhases.on = true;
      const want = reluOf(referenceDeconv(x, weights[0].data, weights[1]?.data, c).data, slope);
      const label = `case ${t}: ${JSON.stringify(c)} slope ${slope} on ${x.dims.join('x')}${resident ? ' (resident top)' : ''}`;
      expect(relDiff(got, want), label).toBeLessThan(1e-5);
      if (x.dims[1] / group > 1) expect(got.some((v, i) => !Object.is(v, gemm[i])), `${label}: the phases ran`).toBe(true);
    }
  });

  // U of W' over the 64 MiB a convolution's U may take (winogradTile then picks F(2x2) for a convolution): made per
  // forward, it has no such limit, and the phases still run.
  it('colorization conv8_1\'s channels (512 -> 256, 4x4 stride 2 pad 1): U made per forward, whatever its size', () => {
    useKernels('wasm');
    const random = rng(43);
    const c: Deconv = { cout: 256, group: 1, k: 4, p: 1, s: 2, d: 1, bias: true };
    const x = new Tensor([1, 512, 14, 14], randomArray(512 * 196, random));
    const weights = [new Tensor([512, 256, 4, 4], randomArray(512 * 256 * 16, random).map((v) => v * 0.05)), new Tensor([256], randomArray(256, random))];
    const run = () => runLayer(layerDef('Deconvolution', param(c)), weights, [x])[0].data;
    const got = run();
    deconvolutionPhases.on = false;
    const gemm = run();
    deconvolutionPhases.on = true;
    expect(relDiff(got, gemm)).toBeLessThan(2e-5);
    expect(got.some((v, i) => !Object.is(v, gemm[i])), 'the phases ran').toBe(true);
  });

  it('small planes (F(2x2)\'s for Winograd) keep the GEMM of W^T and col2im where W\' has zero taps: its bits', () => {
    useKernels('wasm');
    const random = rng(37);
    for (const [H, k, st, p] of [[7, 4, 2, 1], [5, 8, 4, 2], [12, 4, 2, 1]] as const) {
      const c: Deconv = { cout: 8, group: 1, k, p, s: st, d: 1, bias: true };
      const x = new Tensor([1, 32, H, H], randomArray(32 * H * H, random));
      const weights = [new Tensor([32, 8, k, k], randomArray(32 * 8 * k * k, random)), new Tensor([8], randomArray(8, random))];
      const run = () => runLayer(layerDef('Deconvolution', param(c)), weights, [x])[0].data;
      const got = run();
      deconvolutionPhases.on = false;
      const gemm = run();
      deconvolutionPhases.on = true;
      expect(got.every((v, i) => Object.is(v, gemm[i])), `${H} x ${H}, ${k}x${k} stride ${st}`).toBe(true);
    }
  });

  it('an infinity in the input or the weights: the GEMM path, whose outputs hold it only where Caffe\'s do', () => {
    useKernels('wasm');
    const c: Deconv = { cout: 4, group: 1, k: 4, p: 1, s: 2, d: 1, bias: true };
    const random = rng(31);
    const x = new Tensor([1, 16, 6, 7], randomArray(16 * 42, random));
    const w = new Tensor([16, 4, 4, 4], randomArray(16 * 64, random)), b = new Tensor([4], randomArray(4, random));
    const finite = (y: Float32Array) => y.map((v) => (Number.isFinite(v) ? 0 : 1)).join('');
    x.data[3 * 42 + 2 * 7 + 3] = Infinity;
    let [y] = runLayer(layerDef('Deconvolution', param(c)), [w, b], [x]);
    expect(finite(y.data)).toBe(finite(referenceDeconv(x, w.data, b.data, c).data));
    expect(relDiff(y.data.map((v) => (Number.isFinite(v) ? v : 0)), referenceDeconv(x, w.data, b.data, c).data.map((v) => (Number.isFinite(v) ? v : 0)))).toBeLessThan(1e-5);
    x.data[3 * 42 + 2 * 7 + 3] = 0.5;
    w.data[5] = -Infinity;
    [y] = runLayer(layerDef('Deconvolution', param(c)), [w, b], [x]);
    expect(finite(y.data)).toBe(finite(referenceDeconv(x, w.data, b.data, c).data));
  });
});

describe('Deconvolution refuses bad input, naming the layer', () => {
  it('weights in Convolution\'s layout instead of (Cin, Cout/group, kh, kw)', () => {
    const c: Deconv = { cout: 3, group: 1, k: 4, p: 1, s: 2, d: 1, bias: true };
    expect(() => runLayer(layerDef('Deconvolution', param(c)), [Tensor.zeros([3, 4, 4, 4]), Tensor.zeros([3])], [Tensor.zeros([1, 4, 5, 6])])).toThrow(
      "layer 'deconvolution' (Deconvolution): the weights (blob 0) has shape [3, 4, 4, 4] but the layer needs [4, 3, 4, 4]");
  });
  it('padding that leaves no output', () => {
    const c: Deconv = { cout: 1, group: 1, k: 1, p: 1, s: 1, d: 1, bias: false };
    expect(() => runLayer(layerDef('Deconvolution', param(c)), [Tensor.zeros([1, 1, 1, 1])], [Tensor.zeros([1, 1, 1, 1])])).toThrow(
      "layer 'deconvolution' (Deconvolution): output would be -1 x -1: pad 1 x 1 is too large for input 1 x 1 and kernel 1 x 1");
  });
});
