// Two-stage detectors' poolers (seg's src/layers/roi_pooling.ts, psroi_pooling.ts; their own tests have the errors),
// against two more referees. ROIPooling (rbgirshick/caffe-fast-rcnn) against OpenCV 4.5.1 dnn, which runs it
// (test/fixtures/fork/roi_pooling: a net whose one input is sliced into the feature map and 8 ROIs — fractional,
// off the map, malformed with x2 < x1, tiny — made by shared/tools/caffe-ref opencv), natively and through ONNX
// Runtime (MaxRoiPool). PSROIPooling (daijifeng001/caffe-rfcn) has no CPU forward in its fork and OpenCV lacks it:
// its referee is the fork's CUDA kernel, transcribed below index by index, plus a case worked by hand; its ONNX form
// (a float64 summed-area table) against the native engine in ONNX Runtime, within 1e-6 of the largest output.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { MAX_OPSET, MIN_OPSET } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { randomArray, rng } from './helpers/compute.js';
import { TOLERANCE, relativeError } from './helpers/reference.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/fork/roi_pooling');
const netOf = (text: string) => Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), new Map(), [], { threads: 1 });

describe('ROIPooling against OpenCV 4.5.1 dnn', () => {
  it('every ROI and bin matches, natively and through ONNX Runtime', async () => {
    const net = await Net.load(path.join(fixture, 'net.prototxt'), undefined, { threads: 1 });
    const flat = readNpy(path.join(fixture, 'input.npy'));
    net.forward({ flat });
    for (const b of ['pool', 'pool1']) expect(relativeError(net.blobs.get(b)!, readNpy(path.join(fixture, `${b}.npy`))), b).toBeLessThanOrEqual(TOLERANCE);
    const onnx = await runOnnx(net.graph, { flat }, { outputs: ['pool', 'pool1'] });
    for (const b of ['pool', 'pool1']) expect(relativeError(onnx.get(b)!, readNpy(path.join(fixture, `${b}.npy`))), `onnx ${b}`).toBeLessThanOrEqual(TOLERANCE);
  });

});

/** The fork's PSROIPoolingForward kernel, one output index at a time, in float32 as the GPU computes it. */
function psroiKernel(x: Tensor, rois: Float32Array, R: number, scale: number, outputDim: number, group: number): Float32Array {
  const [, channels, height, width] = x.dims;
  const f = Math.fround, round = (v: number) => Math.sign(v) * Math.round(Math.abs(v));
  const out = new Float32Array(R * outputDim * group * group);
  for (let index = 0; index < out.length; index++) {
    const pw = index % group, ph = Math.floor(index / group) % group, ctop = Math.floor(index / group / group) % outputDim, n = Math.floor(index / group / group / outputDim);
    const roi = rois.subarray(n * 5, n * 5 + 5);
    const sw = f(round(roi[1]) * scale), sh = f(round(roi[2]) * scale), ew = f((round(roi[3]) + 1) * scale), eh = f((round(roi[4]) + 1) * scale);
    const rw = Math.max(f(ew - sw), 0.1), rh = Math.max(f(eh - sh), 0.1);
    const bh = f(rh / group), bw = f(rw / group);
    const clip = (v: number, s: number) => Math.min(Math.max(v, 0), s);
    const hs = clip(Math.floor(f(f(ph * bh) + sh)), height), ws = clip(Math.floor(f(f(pw * bw) + sw)), width);
    const he = clip(Math.ceil(f(f((ph + 1) * bh) + sh)), height), we = clip(Math.ceil(f(f((pw + 1) * bw) + sw)), width);
    const c = (ctop * group + ph) * group + pw;
    let sum = 0;
    for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) sum = f(sum + x.data[((roi[0] * channels + c) * height + h) * width + w]);
    out[index] = he <= hs || we <= ws ? 0 : f(sum / ((he - hs) * (we - ws)));
  }
  return out;
}

describe('PSROIPooling, as the fork\'s kernel computes it', () => {
  const net = (dims: readonly number[], R: number, p: string) =>
    netOf(`input: "x" input_shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } input: "r" input_shape { dim: ${R} dim: 5 }
      layer { name: "ps" type: "PSROIPooling" bottom: "x" bottom: "r" top: "ps" psroi_pooling_param { ${p} } }`);

  it('by hand: group 2, one output channel, the ROI the whole 4x4 map: each bin is the mean of its own channel\'s quarter', () => {
    const x = new Tensor([1, 4, 4, 4], Float32Array.from({ length: 64 }, (_, i) => i));
    const out = net([1, 4, 4, 4], 1, 'spatial_scale: 1 output_dim: 1 group_size: 2').forward({ x, r: Float32Array.of(0, 0, 0, 3, 3) }).ps;
    // channel 0, top-left 2x2: (0+1+4+5)/4; channel 1, top-right: 16+(2+3+6+7)/4; channel 2 bottom-left: 32+(8+9+12+13)/4; channel 3: 48+(10+11+14+15)/4
    expect(Array.from(out.data)).toEqual([2.5, 20.5, 42.5, 60.5]);
  });

  it('random maps and ROIs (off the map, malformed, tiny, fractional), batch 2, scale 1/16', () => {
    const { x, rois } = nativeCase(9, [2, 27, 9, 11], 12);
    const out = net(x.dims, 12, 'spatial_scale: 0.0625 output_dim: 3 group_size: 3').forward({ x, r: rois }).ps;
    expect(out.dims).toEqual([12, 3, 3, 3]);
    expect(Array.from(out.data)).toEqual(Array.from(psroiKernel(x, rois.data, 12, Math.fround(0.0625), 3, 3)));
  });

  // The ONNX form (a float64 summed-area table) against the native engine (the kernel's float32 running sums).
  const viaOnnx = async (x: Tensor, rois: Tensor, outputDim: number, group: number, opset?: number) => {
    const n = net(x.dims, rois.dims[0], `spatial_scale: 0.0625 output_dim: ${outputDim} group_size: ${group}`);
    const native = n.forward({ x, r: rois }).ps;
    const onnx = (await runOnnx(n.graph, { x, r: rois }, { threads: 1, opset })).get('ps')!;
    return { native, onnx, error: relativeError(onnx, native) };
  };

  it(`through ONNX Runtime at opsets ${MIN_OPSET} and ${MAX_OPSET}: the random case above (off the map, malformed, tiny, fractional ROIs; batch 2)`, async () => {
    const { x, rois } = nativeCase(9, [2, 27, 9, 11], 12);
    for (const opset of [MIN_OPSET, MAX_OPSET]) {
      const { native, error } = await viaOnnx(x, rois, 3, 3, opset);
      expect(native.data.some((v) => v === 0) && native.data.some((v) => v !== 0)).toBe(true); // empty bins and full ones
      expect(error, `opset ${opset}`).toBeLessThanOrEqual(1e-6);
    }
  });

  it('a ROI naming an image the maps lack: refused by name natively; through ONNX Runtime NaN in all its outputs, the other ROIs as natively', async () => {
    const { x } = nativeCase(9, [2, 27, 9, 11], 4);
    // Batch indices as the kernel truncates them: 1.5 and -0.5 read images 1 and 0; 2, -1, -1.5, NaN and 1e30 name none.
    const batches = [0, 2, 1.5, -1, -0.5, -1.5, NaN, 1e30], valid = batches.map((b) => Math.trunc(b) >= 0 && Math.trunc(b) < 2);
    const rois = new Tensor([batches.length, 5], Float32Array.from(batches.flatMap((b, r) => [b, 8 + r * 9, 4 + r * 7, 60 + r * 11, 50 + r * 5])));
    const n = net(x.dims, batches.length, 'spatial_scale: 0.0625 output_dim: 3 group_size: 3');
    expect(() => n.forward({ x, r: rois })).toThrow("layer 'ps' (PSROIPooling): ROI 1 names batch index 2, but the features have 2 image(s)");
    const onnx = (await runOnnx(n.graph, { x, r: rois }, { threads: 1 })).get('ps')!, per = 3 * 3 * 3;
    // The valid ROIs natively, one at a time (index truncated as the kernel does), against their ONNX rows.
    const one = net(x.dims, 1, 'spatial_scale: 0.0625 output_dim: 3 group_size: 3');
    batches.forEach((b, r) => {
      const row = onnx.data.subarray(r * per, (r + 1) * per);
      if (!valid[r]) return expect(row.every(Number.isNaN), `ROI ${r} (batch ${b}): NaN`).toBe(true);
      const native = one.forward({ x, r: new Tensor([1, 5], rois.data.slice(r * 5, r * 5 + 5)) }).ps;
      expect(relativeError(new Tensor(native.dims, row.slice()), native), `ROI ${r} (batch ${b})`).toBeLessThanOrEqual(1e-6);
    });
    expect(valid.filter(Boolean)).toHaveLength(3);
  });

  for (const [R, group, num] of [[1, 3, 1], [7, 7, 2], [300, 3, 2], [300, 7, 2]])
    it(`through ONNX Runtime: ${R} ROI(s), group ${group}, batch ${num}, R-FCN's 38 x 50 map at scale 1/16`, async () => {
      const outputDim = group === 7 ? 21 : 5;
      const { x, rois } = rfcnCase(R * group, [num, outputDim * group * group, 38, 50], R);
      const { native, onnx, error } = await viaOnnx(x, rois, outputDim, group);
      expect(onnx.dims).toEqual([R, outputDim, group, group]);
      expect(native.data.some((v) => v !== 0)).toBe(true);
      expect(error).toBeLessThanOrEqual(1e-6);
    });
});

/** Random maps (dims) and R ROIs on images 0 and 1 in turn, some partly off the map; one a single pixel, one with x2 < x1, one wholly off. */
function nativeCase(seed: number, dims: number[], R: number): { x: Tensor; rois: Tensor } {
  const random = rng(seed);
  const x = new Tensor(dims, randomArray(dims.reduce((a, b) => a * b), random));
  const rois = new Float32Array(R * 5);
  for (let r = 0; r < R; r++) rois.set([r % dims[0], random() * 200 - 20, random() * 180 - 20, random() * 220 - 20, random() * 190 - 20], r * 5);
  rois.set([1 % dims[0], 40, 40, 40, 40], 5); // one pixel
  rois.set([0, 100, 90, 30, 20], 10); // x2 < x1
  rois.set([1 % dims[0], 300, 250, 420, 330], 15); // past the map's far corner: every bin empty
  return { x, rois: new Tensor([R, 5], rois) };
}

/** Random maps and R proposals-like ROIs (x1 <= x2, fractional, a few past the 800 x 600 image) on every image in turn. */
function rfcnCase(seed: number, dims: number[], R: number): { x: Tensor; rois: Tensor } {
  const random = rng(seed);
  const x = new Tensor(dims, randomArray(dims.reduce((a, b) => a * b), random));
  const rois = new Float32Array(R * 5);
  for (let r = 0; r < R; r++) {
    const [x1, y1] = [random() * 820 - 10, random() * 620 - 10];
    rois.set([r % dims[0], x1, y1, x1 + random() * 400, y1 + random() * 300], r * 5);
  }
  return { x, rois: new Tensor([R, 5], rois) };
}
