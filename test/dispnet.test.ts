// DispNet and DispNetCorr1D (lmb-freiburg's dispflownet-release, Mayer et al. 2016; github.com/whuwuteng/
// dispflownet-release keeps it): Correlation1D (src/caffe/layers/correlation_layer1d.cu: no CPU forward), the
// DataAugmentation crop of its deploy templates (data_augmentation_layer.cu's SpatialAugmentation), its ImageData
// inputs and its PFMWriter. No referee runs the fork's layers (real Caffe 1.0 has none; OpenCV 4.5.1 has no
// Correlation1D), so each is checked against a plain restatement of the fork's kernel (in double), natively and through
// ONNX Runtime, plus cases by hand; both nets whole (fixtures/dispnet: the deploy templates filled for 100 x 60 images
// by fill.py, as the release's demo.py fills them), native against ONNX Runtime with synthetic weights.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { filterNet } from '../src/caffe/phase.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { type Expected, expectBoth, input, netOf, random, syntheticWeights } from './helpers/fork-layers.js';
import { TOLERANCE, relativeDifference } from './helpers/reference.js';

const flownet = (layers: string, weights: Record<string, Tensor[]> = {}) => netOf(layers, weights, 'flownet');
const f = Math.fround;

/**
 * CorrelateData / CorrelateDataSubtract of correlation_layer1d.cu restated: bottoms zero-padded by pad along x only,
 * the patch's top-left corner at (x·s1 + md, y·s1), displacement t of the (single ? r + 1 : 2r + 1) at
 * (t − (single ? 0 : r))·s2 along x; the mean over k·k·C of a·b (or |a − b|).
 */
function forkCorrelation1D(a: Tensor, b: Tensor, o: { pad: number; k: number; md: number; s1?: number; s2?: number; single?: number; subtract?: boolean }): Expected {
  const { pad, k, md } = o, s1 = o.s1 ?? 1, s2 = o.s2 ?? 1;
  const [num, ch, h, w] = a.dims, kr = (k - 1) / 2, border = md + kr;
  const tw = Math.ceil((w + 2 * pad - 2 * border) / s1), th = Math.ceil((h - 2 * kr) / s1);
  const r = Math.trunc(md / s2), g = o.single ? r + 1 : 2 * r + 1, shift = o.single ? 0 : -r, out = new Float32Array(num * g * th * tw);
  const at = (t: Tensor, n: number, c: number, y: number, x: number) => (x - pad < 0 || x - pad >= w ? 0 : t.data[((n * ch + c) * h + y) * w + x - pad]);
  for (let n = 0; n < num; n++)
    for (let t = 0; t < g; t++)
      for (let oy = 0; oy < th; oy++)
        for (let ox = 0; ox < tw; ox++) {
          const x1 = ox * s1 + md, y1 = oy * s1, x2 = x1 + (t + shift) * s2;
          let sum = 0;
          for (let j = 0; j < k; j++)
            for (let i = 0; i < k; i++)
              for (let c = 0; c < ch; c++) {
                const p = at(a, n, c, y1 + j, x1 + i), q = at(b, n, c, y1 + j, x2 + i);
                sum += o.subtract ? Math.abs(p - q) : p * q;
              }
          out[((n * g + t) * th + oy) * tw + ox] = sum / (k * k * ch);
        }
  return { dims: [num, g, th, tw], data: out };
}

describe('Correlation1D (DispNetCorr1D)', () => {
  const net = (dims: number[], p: string) => flownet(`${input('a', dims)} ${input('b', dims)} layer { name: "corr" type: "Correlation1D" bottom: "a" bottom: "b" top: "corr" correlation_param { ${p} } }`);
  it('one channel, 2 x 3, max_displacement 1, pad 1: channel t is a(x, y)·b(x + t − 1, y), no padding along y (by hand)', () => {
    const a = new Tensor([1, 1, 2, 3], Float32Array.from([1, 2, 3, 4, 5, 6])), b = new Tensor([1, 1, 2, 3], Float32Array.from([6, 5, 4, 3, 2, 1]));
    const n = net([1, 1, 2, 3], 'pad: 1 kernel_size: 1 max_displacement: 1');
    n.forward({ a, b });
    const top = n.blobs.get('corr')!;
    expect(top.dims).toEqual([1, 3, 2, 3]);
    expect([...top.data.subarray(0, 6)]).toEqual([0, 2 * 6, 3 * 5, 0, 5 * 3, 6 * 2]); // t = 0: b one to the left
    expect([...top.data.subarray(6, 12)]).toEqual([6, 10, 12, 12, 10, 6]); // t = 1: in place
    expect([...top.data.subarray(12, 18)]).toEqual([5, 8, 0, 8, 5, 0]); // t = 2: b one to the right
  });
  it('single_direction 1: the displacements 0 .. max_displacement to the right only (by hand)', () => {
    const a = new Tensor([1, 1, 1, 3], Float32Array.from([1, 2, 3])), b = new Tensor([1, 1, 1, 3], Float32Array.from([4, 5, 6]));
    const n = net([1, 1, 1, 3], 'pad: 1 kernel_size: 1 max_displacement: 1 single_direction: 1');
    n.forward({ a, b });
    expect(n.blobs.get('corr')!.dims).toEqual([1, 2, 1, 3]);
    expect([...n.blobs.get('corr')!.data]).toEqual([4, 10, 18, 5, 12, 0]);
  });
  it('adds each product into its lane by a fused multiply-add, as nvcc compiles CorrelateData (by hand: 33 channels)', () => {
    // Lane 0 takes channels 0 and 32: 1 · -(1 + 2^-22), then (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46: fused, 2^-46 survives.
    const a = new Float32Array(33), b = new Float32Array(33);
    [a[0], b[0], a[32], b[32]] = [1, -(1 + 2 ** -22), 1 + 2 ** -23, 1 + 2 ** -23];
    const n = net([1, 33, 1, 1], 'kernel_size: 1 max_displacement: 0');
    n.forward({ a: new Tensor([1, 33, 1, 1], a), b: new Tensor([1, 33, 1, 1], b) });
    expect(n.blobs.get('corr')!.data[0]).toBe(f(2 ** -46 / 33));
  });
  it('DispNetCorr1D\'s settings (pad 40, max 40), kernel 3, both strides, single_direction, SUBTRACT, 40 channels, against the kernels', async () => {
    const cases: [number[], string, Parameters<typeof forkCorrelation1D>[2]][] = [
      [[1, 40, 4, 50], 'pad: 40 kernel_size: 1 max_displacement: 40', { pad: 40, k: 1, md: 40 }],
      [[2, 5, 7, 19], 'pad: 3 kernel_size: 3 max_displacement: 4 stride_1: 2 stride_2: 2', { pad: 3, k: 3, md: 4, s1: 2, s2: 2 }],
      [[1, 33, 5, 12], 'pad: 2 kernel_size: 3 max_displacement: 5 stride_2: 2 single_direction: 1', { pad: 2, k: 3, md: 5, s2: 2, single: 1 }],
      [[1, 6, 5, 13], 'pad: 0 kernel_size: 1 max_displacement: 3 stride_1: 3', { pad: 0, k: 1, md: 3, s1: 3 }],
      [[2, 7, 4, 11], 'pad: 2 kernel_size: 3 max_displacement: 2 correlation_type: SUBTRACT', { pad: 2, k: 3, md: 2, subtract: true }],
      [[1, 3, 3, 9], 'pad: 1 kernel_size: 1 max_displacement: 3 single_direction: 1 correlation_type: SUBTRACT do_abs: true', { pad: 1, k: 1, md: 3, single: 1, subtract: true }],
    ];
    for (const [dims, p, o] of cases) {
      const a = random(dims, 1), b = random(dims, 2);
      await expectBoth(net(dims, p), { a, b }, { corr: forkCorrelation1D(a, b, o) });
    }
  });
  it('refuses what the fork refuses, single_direction -1 (it reads outside the blob) and bad bottoms, in one line', async () => {
    const bad = (p: string, dims = [1, 1, 4, 4], dims2 = dims) =>
      () => flownet(`${input('a', dims)} ${input('b', dims2)} layer { name: "c" type: "Correlation1D" bottom: "a" bottom: "b" top: "c" correlation_param { ${p} } }`);
    expect(bad('kernel_size: 2 max_displacement: 1')).toThrow("layer 'c' (Correlation1D): kernel_size must be odd, got 2");
    expect(bad('kernel_size: 1')).toThrow("layer 'c' (Correlation1D): needs correlation_param { max_displacement }");
    expect(bad('max_displacement: 1')).toThrow("layer 'c' (Correlation1D): needs correlation_param { kernel_size }");
    expect(bad('kernel_size: 1 max_displacement: 1 stride_2: 0')).toThrow("layer 'c' (Correlation1D): stride_1 and stride_2 must be positive, got 1 and 0");
    expect(bad('kernel_size: 1 max_displacement: 1 single_direction: 2')).toThrow("layer 'c' (Correlation1D): single_direction must be -1 (left), 0 (off) or 1 (right), got 2");
    expect(bad('kernel_size: 1 max_displacement: 1 single_direction: -1')).toThrow(
      "layer 'c' (Correlation1D): single_direction -1: the fork's kernel displaces by -(max_displacement / stride_2 + 1)·stride_2 .. -stride_2, past max_displacement 1, reading before the padded bottom (memory outside any blob); crema runs 0 and 1");
    expect(bad('kernel_size: 1 max_displacement: 3')).toThrow("layer 'c' (Correlation1D): the displacement and kernel do not fit in the 4 x 4 bottoms padded by 0 along x");
    expect(bad('kernel_size: 5 max_displacement: 0 pad: 2')).toThrow("layer 'c' (Correlation1D): the displacement and kernel do not fit in the 4 x 4 bottoms padded by 2 along x");
    expect(bad('kernel_size: 1 max_displacement: 1', [1, 1, 4, 4], [1, 2, 4, 4])).toThrow("layer 'c' (Correlation1D): needs two 4-D bottoms of one shape, got [1, 1, 4, 4] and [1, 2, 4, 4]");
    expect(bad('pad: 2000000000 kernel_size: 1 max_displacement: 1')).toThrow("layer 'c' (Correlation1D): its padded bottoms would hold 16000000016 values each (pad 2000000000), more than a blob can");
    const wide = flownet(`${input('a', [1, 1, 1, 8200])} ${input('b', [1, 1, 1, 8200])} layer { name: "c" type: "Correlation1D" bottom: "a" bottom: "b" top: "c" correlation_param { pad: 2100 kernel_size: 1 max_displacement: 2100 } }`);
    await expect(runOnnx(wide.graph, { a: random([1, 1, 1, 8200], 1), b: random([1, 1, 1, 8200], 2) }, { threads: 1 })).rejects.toThrow(
      "layer 'c' (Correlation1D): its ONNX form has a Slice, Mul and ReduceMean per displacement: 4201 displacements (max_displacement 2100 / stride_2 1) are more than the 4096 crema writes");
  });
});

/**
 * SpatialAugmentation restated for a crop without augmentation: source x + (W − cw) / 2, clamped to [0, W − 1.05],
 * bilinear between floor and floor + 1 (in double).
 */
function forkCrop(x: Tensor, ch: number, cw: number): Expected {
  const [num, c, h, w] = x.dims, out = new Float32Array(num * c * ch * cw);
  const pos = (v: number, size: number) => Math.max(0, Math.min(v, f(size - f(1.05))));
  for (let p = 0; p < num * c; p++)
    for (let y = 0; y < ch; y++)
      for (let xx = 0; xx < cw; xx++) {
        const xp = pos(xx + (w - cw) / 2, w), yp = pos(y + (h - ch) / 2, h), tx = Math.floor(xp), ty = Math.floor(yp), xd = xp - tx, yd = yp - ty;
        const v = (yy: number, xi: number) => x.data[p * h * w + Math.min(yy, h - 1) * w + Math.min(xi, w - 1)];
        out[(p * ch + y) * cw + xx] = (1 - xd) * (1 - yd) * v(ty, tx) + xd * yd * v(ty + 1, tx + 1) + (1 - xd) * yd * v(ty + 1, tx) + xd * (1 - yd) * v(ty, tx + 1);
      }
  return { dims: [num, c, ch, cw], data: out };
}

describe('DataAugmentation\'s crop (DispNet\'s templates crop to the images\' own size)', () => {
  const aug = (dims: number[], p: string, weights: Record<string, Tensor[]> = {}) =>
    flownet(`${input('x', dims)} layer { name: "aug" type: "DataAugmentation" bottom: "x" top: "y" augmentation_param { ${p} } }`, weights);
  it('a crop of the bottom\'s size keeps every pixel but the last column and row, which take 5% of their neighbour (by hand)', () => {
    const x = new Tensor([1, 1, 2, 3], Float32Array.from([0, 10, 20, 30, 40, 50]));
    const n = aug([1, 1, 2, 3], 'augment_during_test: true crop_width: 3 crop_height: 2');
    n.forward({ x });
    const y = n.blobs.get('y')!.data, xd = f(f(3 - f(1.05)) - 1), yd = f(f(2 - f(1.05)));
    expect(y[0]).toBe(0);
    expect(y[1]).toBe(10);
    // the last column at x 3 − 1.05: (1 − xd)·10 then xd·20 fused into it; 0.95·20 + 0.05·10 = 19.5 within an ulp
    expect(y[2]).toBe(f(xd * 20 + f(f(1 - xd) * 10)));
    expect(Math.abs(y[2] - 19.5)).toBeLessThan(1e-5);
    // the last row at y 2 − 1.05 = 0.95 blends the first row in: 0.05·0 + 0.95·30
    expect(y[3]).toBe(f(yd * 30));
    expect(Math.abs(y[3] - 28.5)).toBeLessThan(1e-5);
  });
  it('centred crops (half-pixel offsets), with the learnt mean after it, against SpatialAugmentation', async () => {
    const x = random([2, 3, 9, 12], 21, 2), perChannel = new Tensor([1, 3, 1, 1], Float32Array.of(0.25, -0.5, 1));
    const count = new Tensor([1, 1, 1, 1], Float32Array.of(5000));
    for (const [ch, cw] of [[9, 12], [6, 7], [1, 12], [9, 1]]) {
      const want = forkCrop(x, ch, cw), plane = ch * cw;
      await expectBoth(aug(x.dims.slice(), `crop_width: ${cw} crop_height: ${ch}`), { x }, { y: want });
      const minus = { dims: want.dims, data: Float32Array.from(want.data, (v, i) => v - perChannel.data[Math.trunc(i / plane) % 3]) };
      await expectBoth(aug(x.dims.slice(), `augment_during_test: true recompute_mean: 1000 mean_per_pixel: false crop_width: ${cw} crop_height: ${ch}`,
        { aug: [count, random([1, 3, ch, cw], 22), perChannel] }), { x }, { y: minus });
    }
  });
  it('refuses random augmentation at test and a crop past the bottom, in one line', () => {
    expect(() => aug([1, 3, 4, 5], 'augment_during_test: true crop_width: 4 crop_height: 4 mirror { rand_type: "bernoulli" prob: 0.5 } noise { spread: 0.1 }')).toThrow(
      "layer 'aug' (DataAugmentation): mirror, noise with crop_width / crop_height and augment_during_test: random augmentation at every forward, which crema does not run");
    expect(() => aug([1, 3, 4, 5], 'crop_width: 6 crop_height: 4')).toThrow(
      "layer 'aug' (DataAugmentation): crop_width x crop_height 6 x 4 must lie within the 5 x 4 bottom (the fork: \"crop width greater than original\")");
  });
  it('without augment_during_test the random fields are left unused at test: the crop alone', async () => {
    const x = random([1, 2, 5, 6], 23);
    await expectBoth(aug([1, 2, 5, 6], 'crop_width: 5 crop_height: 4 mirror { rand_type: "bernoulli" prob: 0.5 }'), { x }, { y: forkCrop(x, 4, 5) });
  });
});

const fixtures = path.join(import.meta.dirname, 'fixtures/dispnet');

/** A filled deploy net as crema loads it: its ImageData the two images' Input, PFMWriter dropped; synthetic weights. */
function dispnetNet(name: string, notes: string[] = []): Net {
  const file = path.join(fixtures, `${name}.prototxt`);
  const shape = [1, 3, 60, 100];
  const parsed = filterNet(upgradeNet(parsePrototxt(fs.readFileSync(file, 'utf8'), file) as NetParameter, file, []), {}, notes, { dataShapes: { img0: shape, img1: shape } });
  return Net.fromNetParameter(parsed, syntheticWeights(parsed, 'flownet'), notes, { dialect: 'flownet' });
}
const pixels = (seed: number) => { const r = random([1, 3, 60, 100], seed, 255); return new Tensor(r.dims, r.data.map((v) => Math.round(Math.abs(v)))); };
const images = { img0: pixels(1), img1: pixels(2) };

describe('DispNet and DispNetCorr1D whole (deploy templates filled for 100 x 60 images, as demo.py does)', () => {
  it('loads the template\'s ImageData as the images\' inputs, its labels to its Silence layers, and drops PFMWriter with a note', () => {
    const notes: string[] = [];
    const net = dispnetNet('DispNetCorr1D', notes);
    expect(net.inputs).toEqual(['img0', 'label0', 'img1', 'label1']);
    expect(notes).toContain('dropped the layers that write their bottom to files (the blobs stay): PFMWriter1 (PFMWriter)');
    expect(notes).toContain("ImageData layer 'Image1' became an Input layer: img0 [1, 3, 60, 100], label0 [1]");
    expect(net.shapes.get('predict_disp_final')).toEqual([1, 1, 60, 100]);
    expect(net.shapes.get('corr')).toEqual([1, 81, 16, 32]);
  });
  for (const name of ['DispNet', 'DispNetCorr1D']) {
    it(`${name}: native against ONNX Runtime on the disparity and every fork layer's top, synthetic weights`, async () => {
      const net = dispnetNet(name);
      const feeds = { ...images, label0: new Tensor([1], Float32Array.of(0)), label1: new Tensor([1], Float32Array.of(0)) };
      net.forward(feeds);
      const forks = net.graph.layers.filter((l) => ['Correlation1D', 'Resample', 'DataAugmentation', 'Eltwise'].includes(l.type)).flatMap((l) => l.tops);
      const blobs = [...new Set([...forks, 'conv1a', 'conv1b', 'predict_flow1', 'predict_disp_final'])].filter((b) => net.graph.blobShapes.has(b));
      const onnx = await runOnnx(net.graph, feeds, { threads: 2, outputs: blobs, opset: 17 });
      expect(net.blobs.get('predict_disp_final')!.dims).toEqual([1, 1, 60, 100]);
      // Eltwise4's coeff, SCALE_WIDTH: 100 / 128 as demo.py's '%.8f' writes it
      const resized = net.blobs.get('predict_disp_resize')!.data;
      expect(relativeDifference(net.blobs.get('predict_disp_final')!.data, resized.map((v) => f(v * f(0.78125))))).toBe(0);
      for (const blob of blobs) expect(relativeDifference(net.blobs.get(blob)!.data, onnx.get(blob)!.data), blob).toBeLessThanOrEqual(TOLERANCE);
      if (name === 'DispNetCorr1D') {
        const corr = forkCorrelation1D(net.blobs.get('conv2a')!, net.blobs.get('conv2b')!, { pad: 40, k: 1, md: 40 });
        expect(relativeDifference(net.blobs.get('corr')!.data, corr.data)).toBeLessThanOrEqual(TOLERANCE);
      }
      const scaled = net.blobs.get('img0s')!;
      expect(relativeDifference(net.blobs.get('img0_nomean')!.data, Float32Array.from(forkCrop(scaled, 60, 100).data, (v, i) => v - net.params.get('img0s_aug')![2].data[Math.trunc(i / 6000)]))).toBeLessThanOrEqual(TOLERANCE);
      net.dispose();
    }, 300_000);
  }
});
