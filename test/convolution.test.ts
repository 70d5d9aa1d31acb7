// Convolution: Caffe's sweep references, a naive reference loop over seeded random geometries (covering the
// im2col + GEMM path, the 1x1 path, the depthwise path, groups and chunked im2col), fused ReLU, and bad input.
import { describe, expect, it } from 'vitest';
import { col2im, im2col, type ConvGeometry } from '../src/kernels/im2col.js';
import type { FusableLayer } from '../src/layers/convolution.js';
import { Tensor } from '../src/tensor.js';
import { layerDef, randomArray, randomInt, relDiff, rng, runLayer, sweepCases } from './helpers/compute.js';
import { sharedMissing } from './helpers/shared.js';

interface Conv {
  cout: number; group: number; kh: number; kw: number; ph: number; pw: number; sh: number; sw: number; dh: number; dw: number; bias: boolean;
}

/** Caffe's convolution, straight from its definition. */
function referenceConv(x: Tensor, w: Float32Array, b: Float32Array | undefined, c: Conv): Tensor {
  const [N, C, H, W] = x.dims;
  const OH = Math.floor((H + 2 * c.ph - (c.dh * (c.kh - 1) + 1)) / c.sh) + 1;
  const OW = Math.floor((W + 2 * c.pw - (c.dw * (c.kw - 1) + 1)) / c.sw) + 1;
  const cinG = C / c.group, coutG = c.cout / c.group;
  const y = Tensor.zeros([N, c.cout, OH, OW]);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < c.cout; o++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let s = b ? b[o] : 0;
          const g = Math.floor(o / coutG);
          for (let ci = 0; ci < cinG; ci++)
            for (let ky = 0; ky < c.kh; ky++)
              for (let kx = 0; kx < c.kw; kx++) {
                const iy = oy * c.sh - c.ph + ky * c.dh, ix = ox * c.sw - c.pw + kx * c.dw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += w[((o * cinG + ci) * c.kh + ky) * c.kw + kx] * x.data[((n * C + g * cinG + ci) * H + iy) * W + ix];
              }
          y.data[((n * c.cout + o) * OH + oy) * OW + ox] = s;
        }
  return y;
}

function convParam(c: Conv): Record<string, unknown> {
  return {
    convolution_param: {
      num_output: c.cout, bias_term: c.bias, group: c.group, kernel_h: c.kh, kernel_w: c.kw, pad_h: c.ph, pad_w: c.pw,
      stride_h: c.sh, stride_w: c.sw, dilation: [c.dh, c.dw],
    },
  };
}

function check(x: Tensor, c: Conv, random: () => number, label: string): void {
  const C = x.dims[1];
  const w = new Tensor([c.cout, C / c.group, c.kh, c.kw], randomArray(c.cout * (C / c.group) * c.kh * c.kw, random));
  const b = c.bias ? new Tensor([c.cout], randomArray(c.cout, random)) : undefined;
  const [y] = runLayer(layerDef('Convolution', convParam(c)), b ? [w, b] : [w], [x]);
  const want = referenceConv(x, w.data, b?.data, c);
  expect([...y.dims], label).toEqual([...want.dims]);
  expect(relDiff(y.data, want.data), label).toBeLessThan(1e-5);
}

describe.skipIf(sharedMissing())('Convolution vs Caffe (reference/sweep conv_*)', () => sweepCases(/^conv_/));

describe('Convolution vs a reference loop', () => {
  it('seeded random geometries (groups, depthwise, 1x1, stride, pad, dilation, rectangular)', () => {
    const random = rng(11);
    for (let t = 0; t < 60; t++) {
      const group = [1, 1, 2, 3][randomInt(random, 0, 3)];
      const depthwise = random() < 0.25;
      const C = depthwise ? randomInt(random, 1, 6) : group * randomInt(random, 1, 4);
      const g = depthwise ? C : group;
      const c: Conv = {
        cout: g * randomInt(random, 1, 3), group: g, kh: randomInt(random, 1, 5), kw: randomInt(random, 1, 5),
        ph: randomInt(random, 0, 2), pw: randomInt(random, 0, 2), sh: randomInt(random, 1, 3), sw: randomInt(random, 1, 3),
        dh: randomInt(random, 1, 2), dw: randomInt(random, 1, 2), bias: random() < 0.7,
      };
      const H = Math.max(c.dh * (c.kh - 1) + 1, randomInt(random, 1, 12)), W = Math.max(c.dw * (c.kw - 1) + 1, randomInt(random, 1, 12));
      const N = randomInt(random, 1, 2);
      const input = new Tensor([N, C, H, W], randomArray(N * C * H * W, random));
      check(input, c, random, `case ${t}: ${JSON.stringify(c)} on ${input.dims.join('x')}`);
    }
  });

  it('1x1 stride 1 pad 0 (no im2col) with groups', () => {
    const random = rng(12);
    const x = new Tensor([2, 6, 5, 7], randomArray(2 * 6 * 35, random));
    check(x, { cout: 9, group: 3, kh: 1, kw: 1, ph: 0, pw: 0, sh: 1, sw: 1, dh: 1, dw: 1, bias: true }, random, '1x1');
  });

  it('depthwise with a channel multiplier (group = C, Cout = 2C)', () => {
    const random = rng(13);
    const x = new Tensor([1, 4, 9, 8], randomArray(4 * 72, random));
    check(x, { cout: 8, group: 4, kh: 3, kw: 3, ph: 1, pw: 1, sh: 2, sw: 1, dh: 1, dw: 1, bias: true }, random, 'depthwise x2');
  });

  it('a column matrix beyond the chunk limit is built in chunks of output rows', () => {
    const random = rng(14);
    // kdim = 64 * 11 * 11 = 7744 rows, 600 output columns per row: 4.6M floats, over the 4M chunk bound.
    const x = new Tensor([1, 64, 13, 610], randomArray(64 * 13 * 610, random));
    check(x, { cout: 2, group: 1, kh: 11, kw: 11, ph: 0, pw: 0, sh: 1, sw: 1, dh: 1, dw: 1, bias: true }, random, 'chunked');
  });

  it('fuseRelu applies a leaky ReLU to the output (GEMM and depthwise paths)', () => {
    const random = rng(15);
    for (const group of [1, 4]) {
      const x = new Tensor([1, 4, 6, 6], randomArray(144, random));
      const w = new Tensor([4, 4 / group, 3, 3], randomArray(4 * (4 / group) * 9, random)), b = new Tensor([4], randomArray(4, random));
      const c: Conv = { cout: 4, group, kh: 3, kw: 3, ph: 1, pw: 1, sh: 1, sw: 1, dh: 1, dw: 1, bias: true };
      const [y] = runLayer(layerDef('Convolution', convParam(c)), [w, b], [x], (l) => (l as FusableLayer).fuseRelu(0.1));
      const want = referenceConv(x, w.data, b.data, c).data.map((v) => (v > 0 ? v : v * 0.1));
      expect(relDiff(y.data, want)).toBeLessThan(1e-5);
    }
  });

  it('runs each of several bottoms into its own top with the same weights, and counts MACs', () => {
    const random = rng(16);
    const x0 = new Tensor([1, 2, 4, 4], randomArray(32, random)), x1 = new Tensor([1, 2, 4, 4], randomArray(32, random));
    const w = new Tensor([3, 2, 3, 3], randomArray(54, random)), b = new Tensor([3], randomArray(3, random));
    const c: Conv = { cout: 3, group: 1, kh: 3, kw: 3, ph: 0, pw: 0, sh: 1, sw: 1, dh: 1, dw: 1, bias: true };
    const [y0, y1] = runLayer(layerDef('Convolution', convParam(c), 2), [w, b], [x0, x1]);
    expect(relDiff(y0.data, referenceConv(x0, w.data, b.data, c).data)).toBeLessThan(1e-5);
    expect(relDiff(y1.data, referenceConv(x1, w.data, b.data, c).data)).toBeLessThan(1e-5);
  });
});

describe('Convolution along another axis', () => {
  it('axis 2 (or -3) of a 5-D bottom treats the first two axes as the batch', () => {
    const random = rng(18);
    const x = new Tensor([2, 3, 2, 5, 6], randomArray(2 * 3 * 2 * 30, random));
    const w = new Tensor([4, 2, 3, 3], randomArray(72, random)), b = new Tensor([4], randomArray(4, random));
    const c: Conv = { cout: 4, group: 1, kh: 3, kw: 3, ph: 1, pw: 0, sh: 1, sw: 2, dh: 1, dw: 1, bias: true };
    const want = referenceConv(new Tensor([6, 2, 5, 6], x.data), w.data, b.data, c);
    for (const axis of [2, -3]) {
      const p = convParam(c) as { convolution_param: Record<string, unknown> };
      const [y] = runLayer(layerDef('Convolution', { convolution_param: { ...p.convolution_param, axis } }), [w, b], [x]);
      expect([...y.dims]).toEqual([2, 3, 4, 5, 2]);
      expect(relDiff(y.data, want.data)).toBeLessThan(1e-5);
    }
  });
});

describe('im2col / col2im', () => {
  it('col2im is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>, also over a range of output rows', () => {
    const random = rng(17);
    for (let t = 0; t < 20; t++) {
      const g: ConvGeometry = {
        channels: randomInt(random, 1, 3), height: randomInt(random, 3, 9), width: randomInt(random, 3, 9), kernelH: randomInt(random, 1, 3),
        kernelW: randomInt(random, 1, 3), padH: randomInt(random, 0, 2), padW: randomInt(random, 0, 2), strideH: randomInt(random, 1, 2),
        strideW: randomInt(random, 1, 3), dilationH: 1, dilationW: randomInt(random, 1, 2), outH: 0, outW: 0,
      };
      g.outH = Math.floor((g.height + 2 * g.padH - (g.dilationH * (g.kernelH - 1) + 1)) / g.strideH) + 1;
      g.outW = Math.floor((g.width + 2 * g.padW - (g.dilationW * (g.kernelW - 1) + 1)) / g.strideW) + 1;
      const oy0 = randomInt(random, 0, g.outH - 1), oy1 = randomInt(random, oy0 + 1, g.outH);
      const rows = g.channels * g.kernelH * g.kernelW, cols = (oy1 - oy0) * g.outW;
      const x = randomArray(g.channels * g.height * g.width, random), c = randomArray(rows * cols, random);
      const col = new Float32Array(rows * cols).fill(NaN);
      im2col(g, x, 0, oy0, oy1, col);
      const back = new Float32Array(x.length);
      col2im(g, c, oy0, oy1, back, 0);
      let lhs = 0, rhs = 0;
      for (let i = 0; i < col.length; i++) lhs += col[i] * c[i];
      for (let i = 0; i < x.length; i++) rhs += x[i] * back[i];
      expect(Math.abs(lhs - rhs), JSON.stringify(g)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
    }
  });
});

describe('Convolution refuses bad input, naming the layer', () => {
  const w = (dims: number[]) => Tensor.zeros(dims);
  const param = (extra: Record<string, unknown> = {}) => ({ convolution_param: { num_output: 8, kernel_size: [3], ...extra } });
  const x = Tensor.zeros([1, 4, 5, 5]);

  it('weights of the wrong shape', () => {
    expect(() => runLayer(layerDef('Convolution', param()), [w([8, 3, 3, 3]), w([8])], [x])).toThrow(
      "layer 'convolution' (Convolution): the weights (blob 0) has shape [8, 3, 3, 3] but the layer needs [8, 4, 3, 3]");
    expect(() => runLayer(layerDef('Convolution', param()), [w([8, 4, 3, 3]), w([7])], [x])).toThrow(
      "layer 'convolution' (Convolution): the bias (blob 1) has shape [7] but the layer needs [8]");
  });
  it('a bias blob when bias_term is false', () => {
    expect(() => runLayer(layerDef('Convolution', param({ bias_term: false })), [w([8, 4, 3, 3]), w([8])], [x])).toThrow(
      "layer 'convolution' (Convolution): has 2 weight blobs but needs 1 (weights only: bias_term is false)");
  });
  it('a kernel larger than the padded input', () => {
    expect(() => runLayer(layerDef('Convolution', param({ kernel_size: [7], pad: [0] })), [w([8, 4, 7, 7]), w([8])], [x])).toThrow(
      "layer 'convolution' (Convolution): kernel extent 7 x 7 is larger than the padded input 5 x 5 (input 5 x 5, pad 0 x 0)");
  });
  it('3 spatial dimensions: Convolution and Deconvolution run them (test/convolution-nd.test.ts), weights 5-D', () => {
    expect(runLayer(layerDef('Convolution', param()), [w([8, 4, 3, 3, 3]), w([8])], [Tensor.zeros([1, 4, 5, 5, 5])])[0].dims).toEqual([1, 8, 3, 3, 3]);
    expect(runLayer(layerDef('Deconvolution', param()), [w([4, 8, 3, 3, 3]), w([8])], [Tensor.zeros([1, 4, 5, 5, 5])])[0].dims).toEqual([1, 8, 7, 7, 7]);
    expect(() => runLayer(layerDef('Deconvolution', param()), [w([4, 8, 3, 3]), w([8])], [Tensor.zeros([1, 4, 5, 5, 5])])).toThrow(
      "layer 'deconvolution' (Deconvolution): the weights (blob 0) has shape [4, 8, 3, 3] but the layer needs [4, 8, 3, 3, 3]");
  });
  it('channels or num_output not divisible by group; no kernel; both kernel_size and kernel_h', () => {
    expect(() => runLayer(layerDef('Convolution', param({ group: 3, num_output: 9 })), [], [x])).toThrow(
      "layer 'convolution' (Convolution): input channels 4 are not a multiple of group 3");
    expect(() => runLayer(layerDef('Convolution', param({ group: 3 })), [], [x])).toThrow(
      "layer 'convolution' (Convolution): num_output 8 is not a multiple of group 3");
    expect(() => runLayer(layerDef('Convolution', { convolution_param: { num_output: 2 } }), [], [x])).toThrow(
      "layer 'convolution' (Convolution): needs kernel_size (or kernel_h and kernel_w)");
    expect(() => runLayer(layerDef('Convolution', param({ kernel_h: 3, kernel_w: 3 })), [], [x])).toThrow(
      "layer 'convolution' (Convolution): gives both kernel_size and kernel_h/kernel_w; give one or the other");
    expect(() => runLayer(layerDef('Convolution', param({ kernel_size: [3, 3, 3] })), [], [x])).toThrow(
      "layer 'convolution' (Convolution): kernel_size must be given once or once per spatial dimension (2), got 3 values");
  });
});
