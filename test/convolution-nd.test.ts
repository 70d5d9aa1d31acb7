// Caffe's N-D Convolution and Deconvolution (1 and 3+ spatial axes, src/layers/convolution_nd.ts) against their
// definitions over seeded random geometries, the fused ReLU and sum, and bad settings. Caffe's own numbers:
// test/fixtures/layers/nd_conv*, nd_deconv.
import { describe, expect, it } from 'vitest';
import type { FusableLayer } from '../src/layers/convolution.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { layerDef, randomArray, randomInt, relDiff, rng, runLayer } from './helpers/compute.js';

interface ConvNd { cout: number; group: number; kernel: number[]; pad: number[]; stride: number[]; dilation: number[]; bias: boolean }

/** Caffe's convolution over any number of spatial axes, straight from its definition (double sums). */
function referenceConv(x: Tensor, w: Float32Array, b: Float32Array | undefined, c: ConvNd): Tensor {
  const [N, C, ...size] = x.dims;
  const out = size.map((d, i) => Math.floor((d + 2 * c.pad[i] - (c.dilation[i] * (c.kernel[i] - 1) + 1)) / c.stride[i]) + 1);
  const cinG = C / c.group, coutG = c.cout / c.group, taps = sizeOf(c.kernel), inPlane = sizeOf(size), outPlane = sizeOf(out);
  const y = Tensor.zeros([N, c.cout, ...out]);
  const idx = (i: number, dims: number[]) => dims.map((_, a) => Math.floor(i / sizeOf(dims.slice(a + 1))) % dims[a]);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < c.cout; o++)
      for (let p = 0; p < outPlane; p++) {
        const q = idx(p, out);
        let s = b ? b[o] : 0;
        for (let ci = 0; ci < cinG; ci++)
          for (let t = 0; t < taps; t++) {
            const k = idx(t, c.kernel);
            const at = q.map((v, a) => v * c.stride[a] - c.pad[a] + k[a] * c.dilation[a]);
            if (at.some((v, a) => v < 0 || v >= size[a])) continue;
            const flat = at.reduce((acc, v, a) => acc * size[a] + v, 0);
            s += w[(o * cinG + ci) * taps + t] * x.data[(n * C + Math.floor(o / coutG) * cinG + ci) * inPlane + flat];
          }
        y.data[(n * c.cout + o) * outPlane + p] = s;
      }
  return y;
}

const param = (c: ConvNd) => ({ convolution_param: { num_output: c.cout, bias_term: c.bias, group: c.group, kernel_size: c.kernel, pad: c.pad, stride: c.stride, dilation: c.dilation } });

function run(x: Tensor, c: ConvNd, random: () => number, setup?: (l: FusableLayer) => void): { got: Tensor; want: Tensor } {
  const cin = x.dims[1];
  const w = randomArray(c.cout * (cin / c.group) * sizeOf(c.kernel), random);
  const b = c.bias ? randomArray(c.cout, random) : undefined;
  const weights = [new Tensor([c.cout, cin / c.group, ...c.kernel], w), ...(b ? [new Tensor([c.cout], b)] : [])];
  const [got] = runLayer(layerDef('Convolution', param(c)), weights, [x], setup as never);
  return { got, want: referenceConv(x, w, b, c) };
}

describe('Convolution over 1, 3 and 4 spatial axes against its definition', () => {
  const random = rng(20261205);
  for (const axes of [1, 3, 3, 3, 4]) {
    for (let trial = 0; trial < 4; trial++) {
      const group = randomInt(random, 1, 2), cin = group * randomInt(random, 1, 4), cout = group * randomInt(random, 1, 5);
      const kernel = Array.from({ length: axes }, () => randomInt(random, 1, 3));
      const dilation = kernel.map(() => randomInt(random, 1, 2)), stride = kernel.map(() => randomInt(random, 1, 2));
      const pad = kernel.map(() => randomInt(random, 0, 2));
      const size = kernel.map((k, i) => dilation[i] * (k - 1) + 1 + randomInt(random, 0, axes === 4 ? 3 : 6));
      const c: ConvNd = { cout, group, kernel, pad, stride, dilation, bias: trial % 2 === 0 };
      const dims = [randomInt(random, 1, 2), cin, ...size];
      const data = randomArray(sizeOf(dims), random);
      it(`${axes} axes: ${dims.join('x')} kernel ${kernel.join('x')} stride ${stride.join('x')} pad ${pad.join('x')} dilation ${dilation.join('x')} group ${group}`, () => {
        const { got, want } = run(new Tensor(dims, data), c, rng(trial));
        expect(got.dims).toEqual(want.dims);
        expect(relDiff(got.data, want.data)).toBeLessThan(1e-5);
      });
    }
  }

  it('fuses a ReLU and a residual sum (Eltwise then ReLU) into a 3-D layer as Caffe rounds them', () => {
    const random2 = rng(7);
    const c: ConvNd = { cout: 6, group: 1, kernel: [2, 3, 3], pad: [1, 1, 1], stride: [1, 1, 1], dilation: [1, 1, 1], bias: true };
    const x = new Tensor([1, 4, 3, 5, 6], randomArray(4 * 3 * 5 * 6, random2));
    const plain = run(x, c, rng(3)).want;
    const r = randomArray(plain.data.length, random2);
    const relu = run(x, c, rng(3), (l) => l.fuseRelu(0.25)).got;
    expect(relDiff(relu.data, plain.data.map((v) => (v > 0 ? v : Math.fround(v * 0.25))))).toBeLessThan(1e-5);
    const summed = run(x, c, rng(3), (l) => {
      l.fuseRelu(0);
      l.fuseSum!(r);
    }).got;
    expect(relDiff(summed.data, plain.data.map((v, i) => Math.max(0, Math.fround(v + r[i]))))).toBeLessThan(1e-5);
  });
});

/** Caffe's Deconvolution over any number of axes from its definition: each input value spread through the kernel. */
function referenceDeconv(x: Tensor, w: Float32Array, b: Float32Array | undefined, c: ConvNd): Tensor {
  const [N, C, ...size] = x.dims;
  const out = size.map((d, i) => c.stride[i] * (d - 1) + c.dilation[i] * (c.kernel[i] - 1) + 1 - 2 * c.pad[i]);
  const cinG = C / c.group, coutG = c.cout / c.group, taps = sizeOf(c.kernel), inPlane = sizeOf(size), outPlane = sizeOf(out);
  const acc = new Float64Array(N * c.cout * outPlane);
  const idx = (i: number, dims: number[]) => dims.map((_, a) => Math.floor(i / sizeOf(dims.slice(a + 1))) % dims[a]);
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < C; ci++)
      for (let p = 0; p < inPlane; p++) {
        const q = idx(p, size), v = x.data[(n * C + ci) * inPlane + p], g = Math.floor(ci / cinG);
        for (let oc = 0; oc < coutG; oc++)
          for (let t = 0; t < taps; t++) {
            const k = idx(t, c.kernel);
            const at = q.map((u, a) => u * c.stride[a] - c.pad[a] + k[a] * c.dilation[a]);
            if (at.some((u, a) => u < 0 || u >= out[a])) continue;
            const o = g * coutG + oc;
            acc[(n * c.cout + o) * outPlane + at.reduce((s2, u, a) => s2 * out[a] + u, 0)] += w[(ci * coutG + oc) * taps + t] * v;
          }
      }
  const y = Tensor.zeros([N, c.cout, ...out]);
  for (let i = 0; i < acc.length; i++) y.data[i] = acc[i] + (b ? b[Math.floor(i / outPlane) % c.cout] : 0);
  return y;
}

describe('Deconvolution over 1 and 3 spatial axes against its definition', () => {
  const random = rng(1205);
  for (const axes of [1, 3, 3, 3, 3]) {
    const group = randomInt(random, 1, 2), cin = group * randomInt(random, 1, 3), cout = group * randomInt(random, 1, 3);
    const kernel = Array.from({ length: axes }, () => randomInt(random, 1, 4));
    const stride = kernel.map(() => randomInt(random, 1, 3)), dilation = kernel.map(() => randomInt(random, 1, 2));
    const pad = kernel.map((k, i) => randomInt(random, 0, Math.floor((dilation[i] * (k - 1)) / 2)));
    const size = kernel.map(() => randomInt(random, 2, 5));
    const c: ConvNd = { cout, group, kernel, pad, stride, dilation, bias: axes % 2 === 1 };
    const dims = [randomInt(random, 1, 2), cin, ...size];
    it(`${axes} axes: ${dims.join('x')} kernel ${kernel.join('x')} stride ${stride.join('x')} pad ${pad.join('x')} dilation ${dilation.join('x')} group ${group}`, () => {
      const r = rng(axes * 7 + kernel[0]);
      const x = new Tensor(dims, randomArray(sizeOf(dims), r));
      const w = randomArray(cin * (cout / group) * sizeOf(kernel), r), b = c.bias ? randomArray(cout, r) : undefined;
      const weights = [new Tensor([cin, cout / group, ...kernel], w), ...(b ? [new Tensor([cout], b)] : [])];
      const [got] = runLayer(layerDef('Deconvolution', param(c)), weights, [x]);
      const want = referenceDeconv(x, w, b, c);
      expect(got.dims).toEqual(want.dims);
      expect(relDiff(got.data, want.data)).toBeLessThan(1e-5);
    });
  }
});

describe('N-D Convolution refuses settings Caffe refuses, naming the layer', () => {
  const make = (fields: Record<string, unknown>, shape: number[]) => () =>
    runLayer({ ...layerDef('Convolution', { convolution_param: { num_output: 2, ...fields } }), name: 'c' }, [], [Tensor.zeros(shape)]);
  it('kernel_size given neither once nor once per spatial axis', () => {
    expect(make({ kernel_size: [3, 3] }, [1, 2, 4, 5, 5])).toThrow("layer 'c' (Convolution): kernel_size must be given once or once per spatial dimension (3), got 2 values");
    expect(make({ kernel_size: [3, 3, 3] }, [1, 2, 5, 5])).toThrow("layer 'c' (Convolution): kernel_size must be given once or once per spatial dimension (2), got 3 values");
  });
  it('kernel_h / kernel_w on other than 2 spatial axes', () => {
    expect(make({ kernel_h: 3, kernel_w: 3 }, [1, 2, 4, 5, 5])).toThrow("layer 'c' (Convolution): kernel_h/kernel_w can only be used for 2-D convolution; the bottom has 3 spatial dimensions");
  });
  it('a window whose stacked frames would be giant (mostly padding), before any allocation', () => {
    expect(make({ kernel_size: [2000, 1, 1], pad: [1000, 0, 0] }, [1, 64, 1, 64, 64])).toThrow(
      "layer 'c' (Convolution): its 2,000 taps along the first spatial axis would stack 524,288,000 floats for each output position (crema stacks at most 67,108,864)");
  });
  it('a window larger than the padded input, in every axis named', () => {
    expect(make({ kernel_size: [5, 3, 3] }, [1, 2, 4, 5, 5])).toThrow("layer 'c' (Convolution): kernel extent 5 x 3 x 3 is larger than the padded input 4 x 5 x 5 (input 4 x 5 x 5, pad 0 x 0 x 0)");
  });
});
