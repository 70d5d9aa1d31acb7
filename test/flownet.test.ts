// FlowNet 2.0's layers (lmb-freiburg/flownet2: src/caffe/layers/correlation_layer.cu, resample_layer.cu,
// flow_warp_layer.cpp / .cu, channel_norm_layer.cu, accum_layer.cu, data_augmentation_layer.cu). No available
// referee runs them as the fork does: OpenCV 4.5.1's caffe.proto lacks correlation_param, resample_param and
// augmentation_param (its optical_flow.py sample needs a rewritten prototxt) and it has no ChannelNorm, so each is
// checked against a plain re-statement of the fork's kernel (the loops as the .cu writes them, in double), natively
// and through ONNX Runtime, plus small cases worked out by hand; FlowWarp and Accum also against OpenCV
// (fixtures/flownet/opencv). FlowNet2-S, FlowNet2-ss and FlowNet2 whole (fixtures/flownet: the deploy templates
// filled for 64 x 96 by fill.py), native against ONNX Runtime with synthetic weights.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { readNpy } from '../src/util/npy.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { MAX_OPSET, convertGraph } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { type Expected, expectBoth, input, netOf, random, syntheticWeights } from './helpers/fork-layers.js';
import { len, packedFloats, str, uint, varint } from './helpers/wire.js';
import { TOLERANCE, relativeDifference } from './helpers/reference.js';

const flownet = (layers: string, weights: Record<string, Tensor[]> = {}) => netOf(layers, weights, 'flownet');
const layerError = (prototxt: string) => () => flownet(prototxt);

/**
 * CorrelateData restated: zero padding, patch top-left at (x, y)·stride_1 + max_displacement, mean over k·k·C of
 * a·b (CorrelateDataSubtract, `subtract`: of |a − b|).
 */
function forkCorrelation(a: Tensor, b: Tensor, pad: number, k: number, md: number, s1: number, s2: number, subtract = false): Expected {
  const [num, ch, h, w] = a.dims, kr = (k - 1) / 2, border = md + kr;
  const tw = Math.ceil((w + 2 * pad - 2 * border) / s1), th = Math.ceil((h + 2 * pad - 2 * border) / s1);
  const r = Math.trunc(md / s2), g = 2 * r + 1, out = new Float32Array(num * g * g * th * tw);
  const at = (t: Tensor, n: number, c: number, y: number, x: number) => (y - pad < 0 || x - pad < 0 || y - pad >= h || x - pad >= w ? 0 : t.data[((n * ch + c) * h + y - pad) * w + x - pad]);
  for (let n = 0; n < num; n++)
    for (let tc = 0; tc < g * g; tc++)
      for (let oy = 0; oy < th; oy++)
        for (let ox = 0; ox < tw; ox++) {
          const x1 = ox * s1 + md, y1 = oy * s1 + md, x2 = x1 + ((tc % g) - r) * s2, y2 = y1 + (Math.trunc(tc / g) - r) * s2;
          let sum = 0;
          for (let j = 0; j < k; j++) for (let i = 0; i < k; i++) for (let c = 0; c < ch; c++) {
            const u = at(a, n, c, y1 + j, x1 + i), v = at(b, n, c, y2 + j, x2 + i);
            sum += subtract ? Math.abs(u - v) : u * v;
          }
          out[((n * g * g + tc) * th + oy) * tw + ox] = sum / (k * k * ch);
        }
  return { dims: [num, g * g, th, tw], data: out };
}

/** InterpolationKernel restated (LINEAR: triangle; CUBIC: bicubic), its swapped half-pixel offsets kept. */
function forkResample(x: Tensor, oh: number, ow: number, type: 'LINEAR' | 'CUBIC' | 'NEAREST', antialiasParam = true): Expected {
  const [num, ch, ih, iw] = x.dims, fx = Math.fround(iw / ow), fy = Math.fround(ih / oh), out = new Float32Array(num * ch * oh * ow);
  const tri = (v: number) => (v >= -1 && v < 0 ? v + 1 : v >= 0 && v <= 1 ? 1 - v : 0);
  const cub = (v: number) => { const a = Math.abs(v); return a <= 1 ? a * a * (1.5 * a - 2.5) + 1 : a < 2 ? a * (a * (-0.5 * a + 2.5) - 4) + 2 : 0; };
  const filter = type === 'CUBIC' ? cub : tri, kw = type === 'CUBIC' ? 4 : 2;
  const antialias = (fx > 1 || fy > 1) && antialiasParam, ax = antialias ? 1 / fx : 1, ay = antialias ? 1 / fy : 1;
  const round = (v: number) => Math.sign(v) * Math.round(Math.abs(v));
  for (let c = 0; c < num * ch; c++)
    for (let yo = 0; yo < oh; yo++)
      for (let xo = 0; xo < ow; xo++) {
        const xi = xo * fx + fy / 2 - 0.5, yi = yo * fy + fx / 2 - 0.5, xr = round(xi), yr = round(yi);
        if (type === 'NEAREST') { out[(c * oh + yo) * ow + xo] = x.data[c * ih * iw + yr * iw + xr]; continue; }
        const rx = fx < 1 ? 2 : Math.ceil(kw / ax), ry = fy < 1 ? 2 : Math.ceil(kw / ay);
        let sum = 0, wsum = 0;
        for (let y = yr - ry; y <= yr + ry; y++)
          for (let xx = xr - rx; xx <= xr + rx; xx++) {
            if (y < 0 || xx < 0 || y >= ih || xx >= iw) continue;
            const wt = ax * filter(ax * (xi - xx)) * ay * filter(ay * (yi - y));
            sum += wt * x.data[c * ih * iw + y * iw + xx];
            wsum += wt;
          }
        out[(c * oh + yo) * ow + xo] = wsum ? sum / wsum : 0;
      }
  return { dims: [num, ch, oh, ow], data: out };
}

/** FlowWarpLayer::Forward_cpu restated. */
function forkFlowWarp(img: Tensor, flow: Tensor): Expected {
  const [num, ch, h, w] = img.dims, out = new Float32Array(img.data.length), wh = w * h;
  for (let n = 0; n < num; n++)
    for (let x = 0; x < w; x++)
      for (let y = 0; y < h; y++) {
        const x2 = x + flow.data[2 * wh * n + y * w + x], y2 = y + flow.data[2 * wh * n + wh + y * w + x];
        for (let c = 0; c < ch; c++) {
          const o = (n * ch + c) * wh;
          if (!(x2 >= 0 && y2 >= 0 && x2 < w && y2 < h)) { out[o + y * w + x] = 0; continue; }
          const l = Math.trunc(x2), t = Math.trunc(y2), r = Math.min(l + 1, w - 1), bt = Math.min(t + 1, h - 1), al = x2 - l, be = y2 - t;
          const d = img.data;
          out[o + y * w + x] = (1 - al) * (1 - be) * d[o + t * w + l] + al * (1 - be) * d[o + t * w + r] + (1 - al) * be * d[o + bt * w + l] + al * be * d[o + bt * w + r];
        }
      }
  return { dims: img.dims, data: out };
}

/** UpscaleFeatures restated: aligned corners. */
function forkAccum(x: Tensor, th: number, tw: number): Expected {
  const [num, ch, h, w] = x.dims, out = new Float32Array(num * ch * th * tw);
  for (let cn = 0; cn < num * ch; cn++)
    for (let dh = 0; dh < th; dh++)
      for (let dw = 0; dw < tw; dw++) {
        const xp = (dw / (tw - 1)) * (w - 1), yp = (dh / (th - 1)) * (h - 1), tx = Math.floor(xp), ty = Math.floor(yp);
        const v = (yy: number, xx: number) => x.data[cn * h * w + Math.min(yy, h - 1) * w + Math.min(xx, w - 1)];
        const xd = xp - tx, yd = yp - ty;
        out[(cn * th + dh) * tw + dw] = (1 - xd) * (1 - yd) * v(ty, tx) + xd * yd * v(ty + 1, tx + 1) + (1 - xd) * yd * v(ty + 1, tx) + xd * (1 - yd) * v(ty, tx + 1);
      }
  return { dims: [num, ch, th, tw], data: out };
}

describe('Correlation (FlowNet-C)', () => {
  const net = (dims: number[], p: string) => flownet(`${input('a', dims)} ${input('b', dims)} layer { name: "corr" type: "Correlation" bottom: "a" bottom: "b" top: "corr" correlation_param { ${p} } }`);
  it('one channel, 3 x 3, max_displacement 1, pad 1: channel p·3 + o is a(x, y)·b(x + o - 1, y + p - 1) (by hand)', async () => {
    const a = new Tensor([1, 1, 3, 3], Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9])), b = new Tensor([1, 1, 3, 3], Float32Array.from([9, 8, 7, 6, 5, 4, 3, 2, 1]));
    const n = net([1, 1, 3, 3], 'pad: 1 kernel_size: 1 max_displacement: 1');
    n.forward({ a, b });
    const top = n.blobs.get('corr')!;
    expect(top.dims).toEqual([1, 9, 3, 3]);
    expect(top.data[4 * 9 + 4]).toBe(25); // no displacement: a(1,1)·b(1,1) = 5·5
    expect(top.data[5 * 9 + 0]).toBe(8); // (o, p) = (+1, 0) at (0, 0): a(0,0)·b(1,0) = 1·8
    expect(top.data[0 * 9 + 0]).toBe(0); // (-1, -1) at (0, 0) reads the padding
  });
  it('adds each product into its lane by a fused multiply-add, as nvcc compiles CorrelateData (by hand: 33 channels)', () => {
    // Lane 0 takes channels 0 and 32: 1 · -(1 + 2^-22), then (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46. Rounding the second
    // product first (no fusing) leaves 0; fused, 2^-46 survives, divided by the 33 channels.
    const a = new Float32Array(33), b = new Float32Array(33);
    [a[0], b[0], a[32], b[32]] = [1, -(1 + 2 ** -22), 1 + 2 ** -23, 1 + 2 ** -23];
    const n = net([1, 33, 1, 1], 'kernel_size: 1 max_displacement: 0');
    n.forward({ a: new Tensor([1, 33, 1, 1], a), b: new Tensor([1, 33, 1, 1], b) });
    expect(n.blobs.get('corr')!.data[0]).toBe(Math.fround(2 ** -46 / 33));
  });
  it('FlowNet-C\'s settings (pad 20, max 20, stride_2 2) and kernel 3 / stride_1 2, MULTIPLY and SUBTRACT, against CorrelateData(Subtract)', async () => {
    for (const [dims, p, args] of [
      [[2, 40, 6, 8], 'pad: 20 kernel_size: 1 max_displacement: 20 stride_1: 1 stride_2: 2', [20, 1, 20, 1, 2]],
      [[1, 5, 9, 11], 'pad: 2 kernel_size: 3 max_displacement: 2 stride_1: 2 stride_2: 1', [2, 3, 2, 2, 1]],
      // SUBTRACT (CorrelateDataSubtract, the fork's 2-D layer has it too): the mean of |a - b|
      [[2, 40, 6, 8], 'pad: 20 kernel_size: 1 max_displacement: 20 stride_1: 1 stride_2: 2 correlation_type: SUBTRACT', [20, 1, 20, 1, 2, 1]],
      [[1, 5, 9, 11], 'pad: 2 kernel_size: 3 max_displacement: 2 stride_1: 2 stride_2: 1 correlation_type: SUBTRACT', [2, 3, 2, 2, 1, 1]],
    ] as [number[], string, number[]][]) {
      const a = random(dims, 1), b = random(dims, 2);
      const [pad, k, md, s1, s2, subtract] = args;
      await expectBoth(net(dims, p), { a, b }, { corr: forkCorrelation(a, b, pad, k, md, s1, s2, subtract === 1) });
    }
  });
  it('refuses what the fork refuses in one line', () => {
    expect(layerError(`${input('a', [1, 1, 4, 4])} ${input('b', [1, 1, 4, 4])} layer { name: "c" type: "Correlation" bottom: "a" bottom: "b" top: "c" correlation_param { kernel_size: 2 max_displacement: 1 } }`))
      .toThrow("layer 'c' (Correlation): kernel_size must be odd, got 2");
    expect(layerError(`${input('a', [1, 1, 4, 4])} ${input('b', [1, 1, 4, 4])} layer { name: "c" type: "Correlation" bottom: "a" bottom: "b" top: "c" correlation_param { kernel_size: 1 } }`))
      .toThrow("layer 'c' (Correlation): needs correlation_param { max_displacement }");
    expect(layerError(`${input('a', [1, 1, 4, 4])} ${input('b', [1, 1, 4, 4])} layer { name: "c" type: "Correlation" bottom: "a" bottom: "b" top: "c" correlation_param { kernel_size: 1 max_displacement: 3 } }`))
      .toThrow("layer 'c' (Correlation): the displacement and kernel do not fit in the 4 x 4 bottoms padded by 0");
    expect(layerError(`${input('a', [1, 1, 4, 4])} ${input('b', [1, 1, 4, 4])} layer { name: "c" type: "Correlation" bottom: "a" bottom: "b" top: "c" correlation_param { pad: 40000 kernel_size: 1 max_displacement: 1 } }`))
      .toThrow("layer 'c' (Correlation): its padded bottoms would hold 6400640016 values each (pad 40000), more than a blob can");
  });
  it("at opset 18 (axes an input) FlowNet-C's 441 ReduceMeans read one axes initializer; the outputs as at opset 17 and as CorrelateData", async () => {
    const dims = [1, 6, 4, 5], n = net(dims, 'pad: 20 kernel_size: 1 max_displacement: 20 stride_1: 1 stride_2: 2'), a = random(dims, 3), b = random(dims, 4);
    const { model } = convertGraph(n.graph, { opset: 18 });
    const means = model.graph.node.filter((node) => node.op_type === 'ReduceMean');
    expect(means.length).toBe(441);
    expect(new Set(means.map((node) => node.input[1])).size).toBe(1);
    // the pads, the Slices' two axes, a start and end per row range (21 vertical shifts; bottom 0's rows are shift
    // 0's) and per column range (21), the ReduceMeans' axes: 88 (887 when each displacement had its own two)
    expect(model.graph.initializer.length).toBe(1 + 2 + 2 * 21 + 2 * 21 + 1);
    expect(model.graph.node.filter((node) => node.op_type === 'Slice').length).toBe(2 + 21 + 441);
    const want = forkCorrelation(a, b, 20, 1, 20, 1, 2);
    for (const opset of [17, 18]) {
      const got = (await runOnnx(n.graph, { a, b }, { threads: 1, opset })).get('corr')!;
      expect(got.dims, `opset ${opset}`).toEqual(want.dims);
      expect(relativeDifference(got.data, want.data), `opset ${opset}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });
  it('pad 0: no Pad node and no pads initializer in the ONNX form (either layer); the outputs as the fork\'s kernel', async () => {
    for (const type of ['Correlation', 'Correlation1D']) {
      const dims = [1, 4, 6, 7], a = random(dims, 5), b = random(dims, 6);
      const n = flownet(`${input('a', dims)} ${input('b', dims)} layer { name: "corr" type: "${type}" bottom: "a" bottom: "b" top: "corr" correlation_param { pad: 0 kernel_size: 1 max_displacement: 1 } }`);
      const { model } = convertGraph(n.graph, { opset: 17 });
      expect(model.graph.node.some((node) => node.op_type === 'Pad'), type).toBe(false);
      expect(model.graph.initializer.map((i) => i.name).filter((name) => name.includes('pads')), type).toEqual([]);
      // 2-D: axes 2 and 3, three row ranges (bottom 0's the middle one), three column ranges; 1-D: one row range
      expect(model.graph.initializer.length, type).toBe(type === 'Correlation' ? 2 + 2 * 3 + 2 * 3 : 2 + 2 + 2 * 3);
      const got = (await runOnnx(n.graph, { a, b }, { threads: 1, opset: 17 })).get('corr')!;
      n.forward({ a, b });
      expect(relativeDifference(got.data, n.blobs.get('corr')!.data), type).toBeLessThanOrEqual(TOLERANCE);
      if (type === 'Correlation') expect(relativeDifference(got.data, forkCorrelation(a, b, 0, 1, 1, 1, 1).data)).toBeLessThanOrEqual(TOLERANCE);
    }
  });
  it('refuses an ONNX export of more than 4096 displacements, in one line', async () => {
    const big = flownet(`${input('a', [1, 1, 70, 70])} ${input('b', [1, 1, 70, 70])} layer { name: "c" type: "Correlation" bottom: "a" bottom: "b" top: "c" correlation_param { pad: 33 kernel_size: 1 max_displacement: 33 } }`);
    await expect(runOnnx(big.graph, { a: random([1, 1, 70, 70], 1), b: random([1, 1, 70, 70], 2) }, { threads: 1 })).rejects.toThrow(
      "layer 'c' (Correlation): its ONNX form has a Slice, Mul and ReduceMean per displacement: 4489 displacements (max_displacement 33 / stride_2 1) are more than the 4096 crema writes");
  });
});

describe('Resample', () => {
  const net = (dims: number[], p: string) => flownet(`${input('x', dims)} layer { name: "r" type: "Resample" bottom: "x" top: "r" resample_param { ${p} } }`);
  it('LINEAR 2 x 2 to 4 x 4 by hand (upsampling: no antialias), the corners the inputs', async () => {
    const x = new Tensor([1, 1, 2, 2], Float32Array.from([0, 4, 8, 12]));
    const n = net([1, 1, 2, 2], 'width: 4 height: 4 type: LINEAR');
    n.forward({ x });
    const r = n.blobs.get('r')!.data;
    expect([r[0], r[3], r[12], r[15]]).toEqual([0, 4, 8, 12]); // in = out·0.5 − 0.25: the taps 0 and −1 (skipped) at the corners
    expect(r[1]).toBe(1); // x_in 0.25: 0.75·0 + 0.25·4
  });
  it('FlowNet2\'s resizes (96 → 128 wide; 128 x 64 → 96 x 48 with antialias), CUBIC, NEAREST and non-square ratios, against InterpolationKernel', async () => {
    for (const [dims, oh, ow, type, aa] of [
      [[2, 3, 8, 12], 8, 16, 'LINEAR', true], [[1, 2, 16, 32], 12, 24, 'LINEAR', true], [[1, 2, 16, 32], 12, 24, 'LINEAR', false],
      [[1, 2, 10, 14], 7, 20, 'LINEAR', true], [[1, 2, 9, 9], 13, 5, 'CUBIC', true], [[1, 2, 8, 8], 16, 16, 'NEAREST', true],
    ] as [number[], number, number, 'LINEAR' | 'CUBIC' | 'NEAREST', boolean][]) {
      const x = random(dims, 3);
      await expectBoth(net(dims, `width: ${ow} height: ${oh} type: ${type} antialias: ${aa}`), { x }, { r: forkResample(x, oh, ow, type, aa) });
    }
  });
  it('takes its size from bottom 1; refuses AREA and a missing size', async () => {
    const x = random([1, 2, 6, 6], 4);
    await expectBoth(flownet(`${input('x', [1, 2, 6, 6])} ${input('s', [1, 1, 3, 4])} layer { name: "r" type: "Resample" bottom: "x" bottom: "s" top: "r" }`), { x, s: random([1, 1, 3, 4], 5) }, { r: forkResample(x, 3, 4, 'LINEAR') });
    expect(layerError(`${input('x', [1, 1, 4, 4])} layer { name: "r" type: "Resample" bottom: "x" top: "r" resample_param { width: 2 height: 2 type: AREA } }`))
      .toThrow("layer 'r' (Resample): type AREA: the fork supports only NEAREST, LINEAR and CUBIC");
    expect(layerError(`${input('x', [1, 1, 4, 4])} layer { name: "r" type: "Resample" bottom: "x" top: "r" resample_param { width: 2 } }`))
      .toThrow("layer 'r' (Resample): needs resample_param { width height } of at least 1, got 2 x none");
    expect(layerError(`${input('x', [1, 1, 4, 4])} layer { name: "r" type: "Resample" bottom: "x" top: "r" resample_param { width: 2147483647 height: 2147483647 } }`))
      .toThrow("layer 'r' (Resample): top 'r' would have shape [1, 1, 2147483647, 2147483647], which is not a sane blob size");
  });
});

describe('FlowWarp, ChannelNorm, Accum', () => {
  it('FlowWarp: a flow of (1, 0) moves the image a pixel left, off the image 0 (by hand); random flows against the fork\'s loop', async () => {
    const img = new Tensor([1, 1, 2, 3], Float32Array.from([1, 2, 3, 4, 5, 6])), flow = new Tensor([1, 2, 2, 3], Float32Array.from([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]));
    const net = (dims: number[]) => flownet(`${input('i', dims)} ${input('f', [dims[0], 2, dims[2], dims[3]])} layer { name: "w" type: "FlowWarp" bottom: "i" bottom: "f" top: "w" }`);
    const n = net([1, 1, 2, 3]);
    n.forward({ i: img, f: flow });
    expect([...n.blobs.get('w')!.data]).toEqual([2, 3, 0, 5, 6, 0]);
    const i2 = random([2, 3, 7, 9], 6), f2 = random([2, 2, 7, 9], 7, 4);
    await expectBoth(net([2, 3, 7, 9]), { i: i2, f: f2 }, { w: forkFlowWarp(i2, f2) });
    // GridSample's mode is 'linear' from opset 20 (ONNX Runtime refuses 'bilinear' there)
    const latest = (await runOnnx(net([2, 3, 7, 9]).graph, { i: i2, f: f2 }, { threads: 1, opset: MAX_OPSET })).get('w')!;
    expect(relativeDifference(latest.data, forkFlowWarp(i2, f2).data), `opset ${MAX_OPSET}`).toBeLessThanOrEqual(TOLERANCE);
  });
  it('ChannelNorm: (3, 4) gives 5 (by hand); random against NormForward', async () => {
    const x = random([2, 3, 4, 5], 8), want = new Float32Array(2 * 20);
    for (let n = 0; n < 2; n++) for (let i = 0; i < 20; i++) want[n * 20 + i] = Math.hypot(...[0, 1, 2].map((c) => x.data[(n * 3 + c) * 20 + i]));
    const net = (dims: number[]) => flownet(`${input('x', dims)} layer { name: "n" type: "ChannelNorm" bottom: "x" top: "n" }`);
    const n = net([1, 2, 1, 1]);
    n.forward({ x: new Tensor([1, 2, 1, 1], Float32Array.of(3, 4)) });
    expect(n.blobs.get('n')!.data[0]).toBe(5);
    await expectBoth(net([2, 3, 4, 5]), { x }, { n: { dims: [2, 1, 4, 5], data: want } });
  });
  it('Accum with have_reference: the flow resized to the reference\'s size, corners aligned (2 x 2 to 3 x 3 by hand); random against UpscaleFeatures', async () => {
    const net = (dims: number[], ref: number[]) => flownet(`${input('x', dims)} ${input('r', ref)} layer { name: "a" type: "Accum" bottom: "x" bottom: "r" top: "a" accum_param { have_reference: true } }`);
    const n = net([1, 1, 2, 2], [1, 3, 3, 3]);
    n.forward({ x: new Tensor([1, 1, 2, 2], Float32Array.of(0, 2, 4, 6)), r: random([1, 3, 3, 3], 9) });
    expect([...n.blobs.get('a')!.data]).toEqual([0, 1, 2, 2, 3, 4, 4, 5, 6]);
    const x = random([2, 2, 5, 7], 10);
    await expectBoth(net([2, 2, 5, 7], [2, 3, 20, 28]), { x, r: random([2, 3, 20, 28], 11) }, { a: forkAccum(x, 20, 28) });
  });
});

describe('a bottom that is not 4-D: one line in one wording, naming the layer and the bottom', () => {
  const cases: [string, string][] = [
    [`${input('x', [2, 3, 4])} layer { name: "n" type: "ChannelNorm" bottom: "x" top: "n" }`, "layer 'n' (ChannelNorm): bottom 0 must be 4-D (N, C, H, W), got [2, 3, 4]"],
    [`${input('i', [1, 1, 2, 3])} ${input('f', [1, 2, 6])} layer { name: "w" type: "FlowWarp" bottom: "i" bottom: "f" top: "w" }`, "layer 'w' (FlowWarp): bottom 1 (the flow) must be 4-D (N, C, H, W), got [1, 2, 6]"],
    [`${input('i', [1, 6])} ${input('f', [1, 2, 2, 3])} layer { name: "w" type: "FlowWarp" bottom: "i" bottom: "f" top: "w" }`, "layer 'w' (FlowWarp): bottom 0 (the image) must be 4-D (N, C, H, W), got [1, 6]"],
    [`${input('x', [1, 2, 8])} layer { name: "r" type: "Resample" bottom: "x" top: "r" resample_param { width: 4 height: 4 } }`, "layer 'r' (Resample): bottom 0 must be 4-D (N, C, H, W), got [1, 2, 8]"],
    [`${input('x', [1, 1, 2, 2])} ${input('r', [1, 3, 9])} layer { name: "a" type: "Accum" bottom: "x" bottom: "r" top: "a" accum_param { have_reference: true } }`, "layer 'a' (Accum): bottom 1 must be 4-D (N, C, H, W), got [1, 3, 9]"],
    [`${input('x', [2, 3, 20])} layer { name: "aug" type: "DataAugmentation" bottom: "x" top: "y" augmentation_param { mean: 0.25 mean: -0.5 mean: 1 mean_per_pixel: false } }`, "layer 'aug' (DataAugmentation): bottom 0 must be 4-D (N, C, H, W), got [2, 3, 20]"],
  ];
  for (const [prototxt, message] of cases) it(message, () => expect(layerError(prototxt)).toThrow(message));
});

describe('against OpenCV 4.5.1 dnn (fixtures/flownet/opencv: the layers it can read)', () => {
  it('FlowWarp and Accum without have_reference (a 3 x 4 and a 7 x 9 bottom to 7 x 9) as OpenCV computes them', async () => {
    const dir = path.join(import.meta.dirname, 'fixtures/flownet/opencv'), npy = (name: string) => readNpy(path.join(dir, `${name}.npy`));
    const file = path.join(dir, 'net.prototxt');
    const net = Net.fromNetParameter(upgradeNet(parsePrototxt(fs.readFileSync(file, 'utf8'), file) as NetParameter, file, []), new Map(), [], { dialect: 'flownet' });
    await expectBoth(net, { img: npy('img'), flow: npy('flow'), small: npy('small') }, { warped: npy('warped'), accum: npy('accum') });
  });
});

describe('the diagonal filler (FlowNet2\'s scale_conv1, in no caffemodel)', () => {
  it('fills output n\'s kernel over input n with diag_val[n] (else 1) / the kernel area, with a note; natively and in ONNX Runtime', async () => {
    const prototxt = `${input('x', [1, 3, 2, 2])} layer { name: "s" type: "Convolution" bottom: "x" top: "s" convolution_param { num_output: 3 kernel_size: 1
      weight_filler { type: "diagonal" diag_val: 0.75 diag_val: 2 } bias_filler { type: "constant" value: 0.5 } } }`;
    const net = await Net.load(prototxt, undefined, { threads: 1 });
    expect(net.notes).toEqual(['no weights given: s takes the prototxt\'s fillers, as Caffe fills a layer the weights leave out']);
    const x = random([1, 3, 2, 2], 15);
    await expectBoth(net, { x }, { s: { dims: x.dims, data: x.data.map((v, i) => Math.fround(v * [0.75, 2, 1][Math.trunc(i / 4)]) + 0.5) } });
    net.dispose();
  });
});

describe("a caffemodel of FlowNet 2.0's Caffe: its layer parameters at its field numbers", () => {
  it('still gives its blobs: augmentation_param at 149, correlation_param at 150, resample_param at 155 (eric612\'s and cascade-rcnn\'s here)', async () => {
    const blob = (dims: number[], values: number[]) => len(7, [...len(7, len(1, dims.flatMap((d) => varint(d)))), ...packedFloats(5, values)]);
    const layer = (name: string, type: string, ...rest: number[][]) => len(100, [...str(1, name), ...str(2, type), ...rest.flat()]);
    const mean = [0.25, -0.5, 1];
    const caffemodel = Uint8Array.from([
      ...str(1, 'flownet'),
      ...layer('aug', 'DataAugmentation', len(149, [...uint(4, 1), ...uint(5, 1000), ...uint(7, 0), ...len(10, [...str(1, 'bernoulli'), ...uint(2, 0)])]),
        blob([1, 1, 1, 1], [5000]), blob([1, 3, 2, 2], Array(12).fill(9)), blob([1, 3, 1, 1], mean)),
      ...layer('corr', 'Correlation', len(150, [...uint(2, 1), ...uint(3, 1), ...uint(4, 1), ...uint(5, 1), ...uint(6, 1)])),
      ...layer('r', 'Resample', len(155, [...uint(1, 4), ...uint(2, 4), ...uint(3, 2), ...uint(4, 1)])),
    ]);
    const net = await Net.load({ prototxt: `${input('x', [1, 3, 2, 2])}
      layer { name: "aug" type: "DataAugmentation" bottom: "x" top: "y" augmentation_param { augment_during_test: true recompute_mean: 1000 mean_per_pixel: false } }
      layer { name: "corr" type: "Correlation" bottom: "y" bottom: "y" top: "corr" correlation_param { pad: 1 kernel_size: 1 max_displacement: 1 } }
      layer { name: "r" type: "Resample" bottom: "corr" top: "r" resample_param { width: 4 height: 4 } }`, weights: caffemodel }, { threads: 1 });
    expect(net.params.get('aug')?.map((b) => b.dims)).toEqual([[1, 1, 1, 1], [1, 3, 2, 2], [1, 3, 1, 1]]);
    const x = random([1, 3, 2, 2], 16);
    net.forward({ x });
    expect([...net.blobs.get('y')!.data]).toEqual([...x.data].map((v, i) => Math.fround(v - mean[Math.trunc(i / 4)])));
    expect(net.blobs.get('r')!.dims).toEqual([1, 9, 4, 4]);
    net.dispose();
  });
});

describe('DataAugmentation at inference, and Eltwise with one bottom (the flownet dialect)', () => {
  const aug = (p: string) => `${input('x', [2, 3, 4, 5])} layer { name: "aug" type: "DataAugmentation" bottom: "x" top: "y" augmentation_param { ${p} } }`;
  it('subtracts the learnt mean per channel (blob 2) or per pixel (blob 1), or the prototxt\'s 3 means', async () => {
    const x = random([2, 3, 4, 5], 12), perPixel = random([1, 3, 4, 5], 13), perChannel = new Tensor([1, 3, 1, 1], Float32Array.of(0.25, -0.5, 1));
    const blobs = [new Tensor([1, 1, 1, 1], Float32Array.of(5000)), perPixel, perChannel];
    const minus = (m: (i: number) => number) => ({ dims: x.dims, data: x.data.map((v, i) => v - m(i)) });
    await expectBoth(flownet(aug('recompute_mean: 1000 mean_per_pixel: false'), { aug: blobs }), { x }, { y: minus((i) => perChannel.data[Math.trunc((i % 60) / 20)]) });
    await expectBoth(flownet(aug('recompute_mean: 1000'), { aug: blobs }), { x }, { y: minus((i) => perPixel.data[i % 60]) });
    await expectBoth(flownet(aug('mean: 0.25 mean: -0.5 mean: 1 mean_per_pixel: false')), { x }, { y: minus((i) => perChannel.data[Math.trunc((i % 60) / 20)]) });
  });
  it('takes a mean image (blob 1) of the training size where it is unused (mean_per_pixel false), as the fork\'s loaders do', async () => {
    const x = random([2, 3, 4, 5], 17), perChannel = new Tensor([1, 3, 1, 1], Float32Array.of(0.25, -0.5, 1));
    const blobs = [new Tensor([1, 1, 1, 1], Float32Array.of(5000)), random([1, 3, 384, 512], 18), perChannel];
    await expectBoth(flownet(aug('recompute_mean: 1000 mean_per_pixel: false'), { aug: blobs }), { x }, { y: { dims: x.dims, data: x.data.map((v, i) => v - perChannel.data[Math.trunc((i % 60) / 20)]) } });
    expect(() => flownet(aug('recompute_mean: 1000'), { aug: blobs })).toThrow(
      "layer 'aug' (DataAugmentation): mean per pixel (blob 1) has shape [1, 3, 384, 512] but the layer needs [1, 3, 4, 5]");
  });
  it('refuses a mean still being computed, and random augmentation at test, in one line', () => {
    const blobs = [new Tensor([1, 1, 1, 1], Float32Array.of(10)), random([1, 3, 4, 5], 1), random([1, 3, 1, 1], 2)];
    expect(() => flownet(aug('recompute_mean: 1000 mean_per_pixel: false'), { aug: blobs })).toThrow(
      "layer 'aug' (DataAugmentation): its iteration count 10 (blob 0) is below recompute_mean 1000: the fork would still fold each batch into its mean");
    expect(layerError(aug('augment_during_test: true crop_width: 4 crop_height: 4 translate { spread: 0.2 }'))).toThrow(
      "layer 'aug' (DataAugmentation): translate with crop_width / crop_height and augment_during_test: random augmentation at every forward, which crema does not run");
  });
  it('Eltwise SUM of one bottom is coeff · x in the flownet dialect; BVLC\'s needs two', async () => {
    const prototxt = `${input('x', [1, 3, 2, 2])} layer { name: "s" type: "Eltwise" bottom: "x" top: "s" eltwise_param { operation: SUM coeff: 0.00392156862745098 } }`;
    const x = random([1, 3, 2, 2], 14, 255);
    await expectBoth(flownet(prototxt), { x }, { s: { dims: x.dims, data: x.data.map((v) => Math.fround(v * Math.fround(0.00392156862745098))) } });
    expect(() => Net.fromNetParameter(parsePrototxt(prototxt, 'bvlc.prototxt') as NetParameter)).toThrow("layer 's' (Eltwise): takes at least 2 bottom(s), got 1");
    expect(layerError(prototxt.replace("SUM coeff: 0.00392156862745098", "MAX"))).toThrow("layer 's' (Eltwise): MAX of one bottom: the fork reads a second (only SUM takes one)");
    // create() refuses these as the net is built: Eltwise's ONNX export never sees them.
    expect(layerError(prototxt.replace("SUM coeff: 0.00392156862745098", "PROD"))).toThrow("layer 's' (Eltwise): PROD of one bottom: the fork reads a second (only SUM takes one)");
    expect(layerError(prototxt.replace("coeff: 0.00392156862745098", "coeff: 1 coeff: 2"))).toThrow("layer 's' (Eltwise): takes one coeff per bottom: 2 coeff(s) for 1 bottoms");
  });
});

/** The net with synthetic weights but none for scale_conv1, as the released caffemodels (its diagonal filler fills it). */
const flownetNet = (name: string): Net => {
  const file = path.join(import.meta.dirname, 'fixtures/flownet', `${name}.prototxt`);
  const parsed = upgradeNet(parsePrototxt(fs.readFileSync(file, 'utf8'), file) as NetParameter, file, []);
  const weights = syntheticWeights(parsed, 'flownet');
  weights.delete('scale_conv1');
  return Net.fromNetParameter(parsed, weights, [], { dialect: 'flownet' });
};
const images = { img0: random([1, 3, 64, 96], 1, 255), img1: random([1, 3, 64, 96], 2, 255) };

describe('FlowNet2-S, FlowNet2-ss and FlowNet2 whole (deploy templates filled for 64 x 96 images, as run-flownet.py does)', () => {
  for (const name of ['FlowNet2-S', 'FlowNet2-ss', 'FlowNet2']) {
    it(`${name}: native against ONNX Runtime on the flow and every fork layer's top, synthetic weights`, async () => {
      const net = flownetNet(name);
      net.forward(images);
      const forks = net.graph.layers.filter((l) => ['Correlation', 'Resample', 'FlowWarp', 'ChannelNorm', 'Accum', 'DataAugmentation'].includes(l.type)).flatMap((l) => l.tops);
      const blobs = [...new Set([...forks, 'conv1a', 'conv1b', 'predict_flow_final'])].filter((b) => net.graph.blobShapes.has(b)); // conv1a, b: FlowNet2's siamese conv1
      const onnx = await runOnnx(net.graph, images, { threads: 2, outputs: blobs, opset: 17 });
      expect(net.blobs.get('predict_flow_final')!.dims).toEqual([1, 2, 64, 96]);
      // scale_conv1's diagonal filler: x flow times 96 / 128 (SCALE_WIDTH), y flow times 64 / 64, no bias
      const resized = net.blobs.get('predict_flow_resize')!.data, plane = 64 * 96;
      expect([...net.params.get('scale_conv1')![0].data]).toEqual([0.75, 0, 0, 1]);
      expect(relativeDifference(net.blobs.get('predict_flow_final')!.data, resized.map((v, i) => (i < plane ? Math.fround(v * 0.75) : v)))).toBe(0);
      for (const blob of blobs) expect(relativeDifference(net.blobs.get(blob)!.data, onnx.get(blob)!.data), blob).toBeLessThanOrEqual(TOLERANCE);
    }, 300_000);
  }
  it('FlowNet2 (C, CS, CSS, SD and fusion): its fork layers\' tops against the fork\'s kernels restated on the blobs crema computed', () => {
    // Each restated kernel fed the native bottoms (the whole net against ONNX Runtime: above).
    const net = flownetNet('FlowNet2');
    net.forward(images);
    const blob = (name: string) => net.blobs.get(name)!;
    expect(blob('predict_flow_final').dims).toEqual([1, 2, 64, 96]);
    expect(relativeDifference(blob('blob42').data, forkAccum(blob('blob41'), 64, 128).data)).toBeLessThanOrEqual(TOLERANCE);
    expect(relativeDifference(blob('blob43').data, forkFlowWarp(blob('img1_nomean_resize'), blob('blob42')).data)).toBeLessThanOrEqual(TOLERANCE);
    const diff = blob('blob44'), norm = Float32Array.from({ length: 64 * 128 }, (_, i) => Math.hypot(diff.data[i], diff.data[i + 8192], diff.data[i + 16384]));
    expect(relativeDifference(blob('blob45').data, norm)).toBeLessThanOrEqual(TOLERANCE);
    expect(relativeDifference(blob('predict_flow_resize').data, forkResample(blob('blob172'), 64, 96, 'LINEAR').data)).toBeLessThanOrEqual(TOLERANCE);
    expect(relativeDifference(blob('img0_nomean_resize').data, forkResample(blob('img0_nomean'), 64, 128, 'LINEAR').data)).toBeLessThanOrEqual(TOLERANCE);
  }, 300_000);
});
