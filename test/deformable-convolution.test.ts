// Deformable ConvNets' Caffe layers: DeformableConvolution (v1: unsky/Deformable-ConvNets-caffe, and the same files in
// zhanglonghao1992/Deformable-ConvNets-v1-v2-caffe) and ModulatedDeformableConvolution (v2, zhanglonghao1992's).
// Neither fork has a CPU forward (Forward_cpu is `{}`): the referee is the forks' CUDA im2col restated line by line
// in numpy (test/fixtures/deform/deform_ref.py, make-fixtures.sh), with the usual tolerance (TOLERANCE, 1e-4 relative)
// natively and in ONNX Runtime; hand-worked samples pin each border rule. For v1 a second referee is makefile/frcnn's
// own CPU forward, compiled (fork-fixtures.sh; its describe below).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNet } from '../src/caffe/load.js';
import { declaredWeights } from '../src/layers/layer.js';
import { useKernels } from '../src/kernels/wasm.js';
import { MAX_OPSET } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { deviation, tamedOffsets } from './helpers/deform.js';
import { input, netOf } from './helpers/fork-layers.js';
import { hashInputData, hashWeightBlobs } from './helpers/hashweights.mjs';
import { TOLERANCE, relativeDifference } from './helpers/reference.js';

const dir = path.join(import.meta.dirname, 'fixtures/deform');
const npy = (file: string) => readNpy(path.join(dir, file));

/** The fixture's net with its weights (w_<layer>_<blob>.npy). */
function fixtureNet(): Net {
  const weights: Record<string, Tensor[]> = {};
  for (const f of fs.readdirSync(dir).filter((f) => /^w_\w+_\d+\.npy$/.test(f))) {
    const [, layer, i] = /^w_(\w+)_(\d+)\.npy$/.exec(f)!;
    (weights[layer] ??= [])[Number(i)] = npy(f);
  }
  return netOf(fs.readFileSync(path.join(dir, 'net.prototxt'), 'utf8'), weights);
}

const BLOBS = ['off1', 'dc1', 'off2', 'dc2', 'mask', 'mdc', 'mask2', 'mdc2'];
const DEFORMABLE = ['dc1', 'dc2', 'mdc', 'mdc2'];

describe("DeformableConvolution and ModulatedDeformableConvolution against the forks' kernels restated", () => {
  afterAll(() => useKernels(process.env.CREMA_KERNELS === 'js' ? 'js' : 'wasm'));

  it('every blob of the fixture net (groups, deformable groups, dilation, stride, no bias, an unwritten deformable_group), natively on both kernel sets', () => {
    const net = fixtureNet(), data = npy('blob_data.npy');
    for (const kernels of ['wasm', 'js'] as const) {
      useKernels(kernels);
      net.forward({ data });
      for (const blob of BLOBS) {
        const want = npy(`blob_${blob}.npy`), got = net.blobs.get(blob)!;
        expect(got.dims, blob).toEqual(want.dims);
        expect(relativeDifference(got.data, want.data), `${blob} (${kernels})`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('in ONNX Runtime: GridSample at opset 17, and DeformConv for the modulated layers at opset 19 and the last (GridSample\'s mode is \'linear\' there)', async () => {
    const net = fixtureNet(), data = npy('blob_data.npy');
    for (const opset of [17, 19, MAX_OPSET]) {
      const onnx = await runOnnx(net.graph, { data }, { threads: 1, opset, outputs: DEFORMABLE });
      for (const blob of DEFORMABLE) expect(relativeDifference(onnx.get(blob)!.data, npy(`blob_${blob}.npy`).data), `${blob} at opset ${opset}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  // One channel [[1, 2, 3], [4, 5, 6]], a 1 x 1 kernel of weight 1: the top is the sample itself. Each pixel's
  // offset (dy, dx) puts it in one region: above the image (y = -0.5), inside (0.25, 1.5), in the last column
  // (0, 2.5), in the last row (1.5, 0), left of the image (0, -0.5), below it (2, 2).
  const dy = [-0.5, 0.25, 0, 0.5, -1, 1], dx = [0, 0.5, 0.5, 0, -1.5, 0];
  const hand = (type: string, param: string, masks: boolean) => `${input('x', [1, 1, 2, 3])}
${input('off', [1, 2, 2, 3])}
${masks ? input('m', [1, 1, 2, 3]) : ''}
layer { name: "d" type: "${type}" bottom: "x" bottom: "off" ${masks ? 'bottom: "m"' : ''} top: "d" ${param} { num_output: 1 kernel_size: 1 bias_term: false } }`;
  const x = new Tensor([1, 1, 2, 3], Float32Array.of(1, 2, 3, 4, 5, 6)), off = new Tensor([1, 2, 2, 3], Float32Array.from([...dy, ...dx]));
  const one = { d: [new Tensor([1, 1, 1, 1], Float32Array.of(1))] };

  it("v1's rules: 0 outside [0, H) x [0, W), the last row or column taken whole", async () => {
    const net = netOf(hand('DeformableConvolution', 'deformable_convolution_param', false), one);
    net.forward({ x, off });
    const want = [0, 3.25, 3, 4, 0, 0];
    expect(Array.from(net.blobs.get('d')!.data)).toEqual(want);
    const onnx = await runOnnx(net.graph, { x, off }, { threads: 1, outputs: ['d'] });
    expect(relativeDifference(onnx.get('d')!.data, want)).toBeLessThanOrEqual(TOLERANCE);
  });

  it("v2's rules: a sample in (-1, H) x (-1, W) with each corner outside the image 0, times its mask", async () => {
    const net = netOf(hand('ModulatedDeformableConvolution', 'modulated_deformable_convolution_param', true), one);
    const m = new Tensor([1, 1, 2, 3], Float32Array.of(1, 0.5, 1, 1, 1, 1));
    net.forward({ x, off, m });
    const want = [0.5, 1.625, 1.5, 2, 0.5, 0];
    expect(Array.from(net.blobs.get('d')!.data)).toEqual(want);
    for (const opset of [17, 19, MAX_OPSET]) {
      const onnx = await runOnnx(net.graph, { x, off, m }, { threads: 1, opset, outputs: ['d'] });
      expect(relativeDifference(onnx.get('d')!.data, want), `opset ${opset}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('refuses, in one line naming the layer: offsets or masks of the wrong channels or size, a deformable_group not dividing the channels, an output larger than the input, a missing bottom', () => {
    const net = (offShape: number[], param: string, xShape = [1, 4, 5, 5]) => () =>
      netOf(`${input('x', xShape)}\n${input('off', offShape)}\nlayer { name: "d" type: "DeformableConvolution" bottom: "x" bottom: "off" top: "d" deformable_convolution_param { num_output: 2 kernel_size: 3 ${param} } }`);
    expect(net([1, 18, 5, 5], 'pad: 1 deformable_group: 2')).toThrow(/^layer 'd' \(DeformableConvolution\): the offsets \(bottom 1\) have 18 channels; 2 \* deformable_group \* K = 36 \(deformable_group 2, kernel 3 x 3\)$/);
    expect(net([1, 18, 4, 5], 'pad: 1 deformable_group: 1')).toThrow(/^layer 'd' \(DeformableConvolution\): the offsets \(bottom 1\) are 4 x 5, the input 5 x 5: the forks CHECK they are equal$/);
    expect(net([1, 54, 5, 5], 'pad: 1 deformable_group: 3')).toThrow(/^layer 'd' \(DeformableConvolution\): input channels 4 are not a multiple of deformable_group 3$/);
    expect(net([1, 36, 5, 5], 'pad: 1')).toThrow(/^layer 'd' \(DeformableConvolution\): the offsets \(bottom 1\) have 36 channels; without deformable_group written they must be 2 \* K = 18 \(zhanglonghao1992's default 1\) or 8 \* K = 72 \(unsky's default 4\) for the 9 taps$/);
    expect(net([1, 18, 5, 5], 'pad: 2 deformable_group: 1')).toThrow(/^layer 'd' \(DeformableConvolution\): its output 7 x 7 is larger than its input 5 x 5: the forks' kernel would read each image's offsets as 7 x 7 planes, past their 5 x 5$/);
    const modulated = (bottoms: string, offShape: number[], maskShape: number[]) => () =>
      netOf(`${input('x', [1, 4, 5, 5])}\n${input('off', offShape)}\n${input('m', maskShape)}\nlayer { name: "d" type: "ModulatedDeformableConvolution" ${bottoms} top: "d" modulated_deformable_convolution_param { num_output: 2 kernel_size: 3 pad: 1 } }`);
    expect(modulated('bottom: "x" bottom: "off"', [1, 18, 5, 5], [1, 9, 5, 5])).toThrow(/^layer 'd' \(ModulatedDeformableConvolution\): takes 3 bottom\(s\), got 2$/);
    // v2 is zhanglonghao1992's only: an unwritten deformable_group is its 1, whatever the offsets.
    expect(modulated('bottom: "x" bottom: "off" bottom: "m"', [1, 72, 5, 5], [1, 36, 5, 5])).toThrow(/^layer 'd' \(ModulatedDeformableConvolution\): the offsets \(bottom 1\) have 72 channels; 2 \* deformable_group \* K = 18 \(deformable_group 1, kernel 3 x 3\)$/);
    expect(modulated('bottom: "x" bottom: "off" bottom: "m"', [1, 18, 5, 5], [1, 9, 5, 4])).toThrow(/^layer 'd' \(ModulatedDeformableConvolution\): the masks \(bottom 2\) are 5 x 4, the input 5 x 5: the forks CHECK they are equal$/);
  });

  it('takes an unwritten deformable_group as 4 (unsky\'s default) when the offsets have 8 K channels', () => {
    const n = netOf(`${input('x', [1, 4, 5, 5])}\n${input('off', [1, 72, 5, 5])}\nlayer { name: "d" type: "DeformableConvolution" bottom: "x" bottom: "off" top: "d" deformable_convolution_param { num_output: 2 kernel_size: 3 pad: 1 } }`);
    expect(n.graph.layers.at(-1)!.topShapes[0]).toEqual([1, 2, 5, 5]);
  });
});

// The second referee of the v1 layers: makefile/frcnn's own CPU forward (branch fpn, 7ec53db), its deformable_im2col.cpp
// compiled with g++ and run on the same inputs and weights (fork-fixtures.sh; fork_main.cpp does Forward_cpu's GEMM as
// a plain loop). Its columns (fork_col_<layer>.npy) are to the bit: a DeformableConvolution with one group per input
// channel and one-hot weights (output c * K + k = 1 x channel c's tap k, plus zeros) puts them in its top unchanged.
// Its tops are within TOLERANCE: crema's GEMM sums in another order.
describe("DeformableConvolution against makefile/frcnn's own CPU forward, compiled", () => {
  afterAll(() => useKernels(process.env.CREMA_KERNELS === 'js' ? 'js' : 'wasm'));
  // net.prototxt's v1 layers: offsets, kernel, pad, stride, dilation, deformable_group
  const V1 = { dc1: ['off1', 3, 1, 1, 1, 2], dc2: ['off2', 2, 1, 2, 2, 1] } as const;
  const data = () => npy('blob_data.npy');

  it('dc1 and dc2 (groups, two deformable groups, stride 2 with dilation 2, no bias), natively on both kernel sets and in ONNX Runtime', async () => {
    const net = fixtureNet();
    for (const kernels of ['wasm', 'js'] as const) {
      useKernels(kernels);
      net.forward({ data: data() });
      for (const blob of Object.keys(V1)) expect(relativeDifference(net.blobs.get(blob)!.data, npy(`fork_${blob}.npy`).data), `${blob} (${kernels})`).toBeLessThanOrEqual(TOLERANCE);
    }
    const onnx = await runOnnx(net.graph, { data: data() }, { threads: 1, outputs: Object.keys(V1) });
    for (const blob of Object.keys(V1)) expect(relativeDifference(onnx.get(blob)!.data, npy(`fork_${blob}.npy`).data), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
  });

  for (const [layer, [off, k, pad, stride, dil, dg]] of Object.entries(V1)) {
    it(`${layer}'s columns, natively to the bit (both kernel sets) and in ONNX Runtime`, async () => {
      const x = data(), offsets = npy(`blob_${off}.npy`), want = npy(`fork_col_${layer}.npy`);
      const [, C] = x.dims, K = k * k;
      const oneHot = new Float32Array(C * K * K).map((_, i) => (Math.floor(i / K) % K === i % K ? 1 : 0));
      const net = netOf(`${input('data', x.dims)}\n${input('off', offsets.dims)}
layer { name: "cols" type: "DeformableConvolution" bottom: "data" bottom: "off" top: "cols"
  deformable_convolution_param { num_output: ${C * K} kernel_size: ${k} pad: ${pad} stride: ${stride} dilation: ${dil} group: ${C} deformable_group: ${dg} bias_term: false } }`,
        { cols: [new Tensor([C * K, 1, k, k], oneHot)] });
      for (const kernels of ['wasm', 'js'] as const) {
        useKernels(kernels);
        net.forward({ data: x, off: offsets });
        const got = net.blobs.get('cols')!;
        expect(got.dims).toEqual(want.dims);
        const differing = got.data.filter((v, i) => v !== want.data[i]).length;
        expect(differing, `${layer} (${kernels}): columns not bit for bit`).toBe(0);
      }
      const onnx = await runOnnx(net.graph, { data: x, off: offsets }, { threads: 1, outputs: ['cols'] });
      expect(relativeDifference(onnx.get('cols')!.data, want.data), `${layer} ONNX`).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

// zhanglonghao1992/Deformable-ConvNets-v1-v2-caffe's published nets (Models/ at d90842e, copied here): ResNet-50 with
// its three res5 3 x 3 convolutions deformable (offsets from a 3 x 3 Convolution), as a classifier
// (ResNet-50-deformable-deploy.prototxt: deformable_group 1) and in Faster R-CNN (faster_rcnn_end2end/test_dcn.prototxt:
// res5 dilated by 2, deformable_group 4; test_mdcn.prototxt: v2, the masks sliced off the offsets' Convolution and
// put through a Sigmoid), each up to res5c (pool5's fixed 7 x 7 window needs 224 x 224; Faster R-CNN's head after it
// is a 2048 x 7 x 7 -> 1024 InnerProduct of 400 M weights: the same check of the deformable layers at many times the cost).
describe("Deformable ConvNets' published nets with hashweights' weights, up to res5c", () => {
  const nets = [
    { file: 'ResNet-50-deformable-deploy.prototxt', type: 'DeformableConvolution', size: [96, 96], cut: 'pool5', plane: [3, 3] },
    { file: 'faster_rcnn_test_dcn.prototxt', type: 'DeformableConvolution', size: [128, 160], cut: 'rpn_conv/3x3', plane: [8, 10] },
    { file: 'faster_rcnn_test_mdcn.prototxt', type: 'ModulatedDeformableConvolution', size: [128, 160], cut: 'rpn_conv/3x3', plane: [8, 10] },
  ];
  for (const { file, type, size, cut, plane } of nets) {
    it(`${file}: natively as in ONNX Runtime on each ${type} top and res5c, at ${size.join(' x ')}`, async () => {
      const parsed = (await loadNet(path.join(dir, file), undefined, { dataShapes: { data: [1, 3, ...size] } })).net;
      parsed.layer = parsed.layer!.slice(0, parsed.layer!.findIndex((l) => l.name === cut));
      const shaped = Net.fromNetParameter(parsed);
      const layers = shaped.graph.layers.map((l) => ({ name: l.name, type: l.type, blobs: declaredWeights.get(l.def) ?? [] })).filter((l) => l.blobs.length);
      const spec = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'deform-')), 'spec.json');
      fs.writeFileSync(spec, JSON.stringify({ name: file, layers }));
      const weights = new Map(hashWeightBlobs(spec, 'deform').map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))]));
      const inputs: Record<string, Tensor> = { data: new Tensor([1, 3, ...size], hashInputData(48, 100, [1, 3, ...size])) };
      if (shaped.graph.inputs.includes('im_info')) inputs.im_info = new Tensor([1, 3], Float32Array.of(size[0], size[1], 1));
      const net = tamedOffsets(parsed, weights, type, inputs);
      const deformable = net.graph.layers.filter((l) => l.type === type);
      expect(deformable.map((l) => l.topShapes[0])).toEqual(Array.from({ length: 3 }, () => [1, 512, ...plane]));
      net.forward(inputs);
      // The offsets move the samples by pixels, some off the plane: the check is neither of zeros nor of a plain
      // convolution. (Each top is its BatchNorm's, Scale's and ReLU's too: they run in place.)
      for (const l of deformable) expect(deviation(net.blobs.get(l.bottoms[1])!.data), l.name).toBeCloseTo(1.5, 1);
      const outputs = [...deformable.map((l) => l.tops[0]), 'res5c'];
      const onnx = await runOnnx(net.graph, inputs, { threads: 1, outputs });
      for (const blob of outputs) expect(relativeDifference(onnx.get(blob)!.data, net.blobs.get(blob)!.data), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
    }, 120_000);
  }
});
