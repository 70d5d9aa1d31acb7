// R-FCN whole in ONNX Runtime: a small net with the head of py-R-FCN's rfcn_end2end/test_agnostic.prototxt (a conv
// trunk of stride 16, the RPN, py-faster-rcnn's Python Proposal, rfcn_cls (21 x 7^2) and rfcn_bbox (8 x 7^2) maps,
// PSROIPooling of each, global AVE Pooling, Softmax, the Reshapes to (R, 21) and (R, 8)), deterministic weights,
// converted and run against the native engine (PSROIPooling's own referees: test/roi_pooling.test.ts). The rois
// are compared as sets of rows (ONNX's TopK and NMS may order tied scores otherwise; none tie here, but a row's
// place is no part of what is checked), every other output row by row through that matching. detect takes
// py-faster-rcnn's nets only: R-FCN's class-agnostic bbox_pred (R x 8) is refused in one line.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { detect } from '../src/index.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { OnnxRunner } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { randomArray, rng } from './helpers/compute.js';
import { TOLERANCE, relativeDifference } from './helpers/reference.js';

const conv = (name: string, bottom: string, out: number, k: number, stride = 1, relu = true) =>
  `layer { name: "${name}" type: "Convolution" bottom: "${bottom}" top: "${name}" convolution_param { num_output: ${out} kernel_size: ${k} pad: ${(k - 1) / 2} stride: ${stride} } }\n` +
  (relu ? `layer { name: "${name}_relu" type: "ReLU" bottom: "${name}" top: "${name}" }\n` : '');
const psroi = (name: string, bottom: string, dim: number) =>
  `layer { name: "${name}" type: "PSROIPooling" bottom: "${bottom}" bottom: "rois" top: "${name}" psroi_pooling_param { spatial_scale: 0.0625 output_dim: ${dim} group_size: 7 } }\n`;

const PROTOTXT = `name: "rfcn_small"
input: "data" input_shape { dim: 1 dim: 3 dim: 128 dim: 160 }
input: "im_info" input_shape { dim: 1 dim: 3 }
${conv('conv1', 'data', 8, 3, 2)}${conv('conv2', 'conv1', 16, 3, 2)}${conv('conv3', 'conv2', 16, 3, 2)}${conv('conv4', 'conv3', 32, 3, 2)}
${conv('rpn_conv', 'conv4', 32, 3)}${conv('rpn_cls_score', 'rpn_conv', 18, 1, 1, false)}${conv('rpn_bbox_pred', 'rpn_conv', 36, 1, 1, false)}
layer { name: "rpn_cls_score_reshape" type: "Reshape" bottom: "rpn_cls_score" top: "rpn_cls_score_reshape" reshape_param { shape { dim: 0 dim: 2 dim: -1 dim: 0 } } }
layer { name: "rpn_cls_prob" type: "Softmax" bottom: "rpn_cls_score_reshape" top: "rpn_cls_prob" }
layer { name: "rpn_cls_prob_reshape" type: "Reshape" bottom: "rpn_cls_prob" top: "rpn_cls_prob_reshape" reshape_param { shape { dim: 0 dim: 18 dim: -1 dim: 0 } } }
layer { name: "proposal" type: "Python" bottom: "rpn_cls_prob_reshape" bottom: "rpn_bbox_pred" bottom: "im_info" top: "rois"
  python_param { module: "rpn.proposal_layer" layer: "ProposalLayer" param_str: "'feat_stride': 16" } }
${conv('conv_new_1', 'conv4', 32, 1)}${conv('rfcn_cls', 'conv_new_1', 21 * 49, 1, 1, false)}${conv('rfcn_bbox', 'conv_new_1', 8 * 49, 1, 1, false)}
${psroi('psroipooled_cls_rois', 'rfcn_cls', 21)}${psroi('psroipooled_loc_rois', 'rfcn_bbox', 8)}
layer { name: "ave_cls_score_rois" type: "Pooling" bottom: "psroipooled_cls_rois" top: "cls_score" pooling_param { pool: AVE kernel_size: 7 stride: 7 } }
layer { name: "ave_bbox_pred_rois" type: "Pooling" bottom: "psroipooled_loc_rois" top: "bbox_pred_pre" pooling_param { pool: AVE kernel_size: 7 stride: 7 } }
layer { name: "cls_prob" type: "Softmax" bottom: "cls_score" top: "cls_prob_pre" }
layer { name: "cls_prob_reshape" type: "Reshape" bottom: "cls_prob_pre" top: "cls_prob" reshape_param { shape { dim: -1 dim: 21 } } }
layer { name: "bbox_pred_reshape" type: "Reshape" bottom: "bbox_pred_pre" top: "bbox_pred" reshape_param { shape { dim: -1 dim: 8 } } }
`;

/** Every Convolution's weights and biases, deterministic, scaled by fan-in so that activations stay near 1. */
function weightsOf(text: string): Map<string, Tensor[]> {
  const random = rng(17), weights = new Map<string, Tensor[]>();
  const channels = new Map([['data', 3]]);
  for (const m of text.matchAll(/name: "(\w+)" type: "Convolution" bottom: "(\w+)" top: "\w+" convolution_param \{ num_output: (\d+) kernel_size: (\d+)/g)) {
    const [name, bottom, out, k] = [m[1], m[2], Number(m[3]), Number(m[4])];
    const fanIn = channels.get(bottom)! * k * k;
    const w = randomArray(out * fanIn, random).map((v) => v * Math.sqrt(3 / fanIn));
    weights.set(name, [new Tensor([out, channels.get(bottom)!, k, k], w), new Tensor([out], randomArray(out, random).map((v) => v * 0.1))]);
    channels.set(name, out);
  }
  return weights;
}

const OUTPUTS = ['rois', 'psroipooled_cls_rois', 'psroipooled_loc_rois', 'cls_prob', 'bbox_pred'];
const netOf = () => Net.fromNetParameter(upgradeNet(parsePrototxt(PROTOTXT, 'rfcn.prototxt'), 'rfcn.prototxt'), weightsOf(PROTOTXT), [], { threads: 1 });
const feedsAt = (h: number, w: number, seed: number) => ({
  data: new Tensor([1, 3, h, w], randomArray(3 * h * w, rng(seed)).map((v) => v * 2)),
  im_info: new Tensor([1, 3], Float32Array.of(h, w, 1)),
});

/** Each native roi's row in `onnx` (corners within 1e-3 px), all distinct: the same set of rows. */
function matchRows(native: Tensor, onnx: Tensor): number[] {
  expect(onnx.dims, 'as many rois').toEqual(native.dims);
  const rows = native.dims[0], used = new Set<number>();
  return Array.from({ length: rows }, (_, r) => {
    const i = Array.from({ length: rows }, (_, j) => j).find((j) => !used.has(j) && [0, 1, 2, 3, 4].every((k) => Math.abs(onnx.data[j * 5 + k] - native.data[r * 5 + k]) <= 1e-3));
    expect(i, `native roi ${r} [${Array.from(native.data.subarray(r * 5, r * 5 + 5)).join(', ')}] among the ONNX rois`).toBeDefined();
    used.add(i!);
    return i!;
  });
}

/** `blob`'s rows, the ONNX ones taken in the native rois' order, within the tolerance. */
function expectRows(blob: string, native: Tensor, onnx: Tensor, order: number[]): number {
  expect(onnx.dims, blob).toEqual(native.dims);
  const row = native.data.length / order.length;
  const reordered = new Float32Array(native.data.length);
  order.forEach((j, r) => reordered.set(onnx.data.subarray(j * row, (j + 1) * row), r * row));
  const error = relativeDifference(reordered, native.data);
  expect(error, blob).toBeLessThanOrEqual(TOLERANCE);
  return error;
}

/** Runs both engines at `feeds`; every output agrees; the largest error of the PSROIPooling tops. */
async function sameOutputs(net: Net, runner: OnnxRunner, feeds: Record<string, Tensor>): Promise<number> {
  const native = net.forward(feeds);
  const onnx = await runner.run(feeds);
  const rois = native.rois ?? net.blobs.get('rois')!;
  expect(rois.dims[0], 'rois').toBeGreaterThan(20);
  const order = matchRows(rois, onnx.get('rois')!);
  return Math.max(...OUTPUTS.slice(1).map((b) => expectRows(b, net.blobs.get(b)!, onnx.get(b)!, order)));
}

describe("a small R-FCN (py-R-FCN's test_agnostic head) converted whole", () => {
  it('runs in ONNX Runtime with the native engine\'s rois, position-sensitive pools, cls_prob and bbox_pred', async () => {
    const net = netOf();
    const runner = await OnnxRunner.create(net.graph, { threads: 1, outputs: OUTPUTS });
    try {
      expect(await sameOutputs(net, runner, feedsAt(128, 160, 3))).toBeLessThanOrEqual(1e-5);
    } finally {
      await runner.release();
      await net.dispose();
    }
  }, 60_000);

  it('size-free (anySize): one model at the net\'s size and two others, as the native engine at each', async () => {
    const net = netOf();
    const runner = await OnnxRunner.create(net.graph, { threads: 1, outputs: OUTPUTS, anySize: true });
    try {
      for (const [h, w, seed] of [[128, 160, 3], [96, 208, 4], [176, 112, 5]]) await sameOutputs(net, runner, feedsAt(h, w, seed));
    } finally {
      await runner.release();
      await net.dispose();
    }
  }, 60_000);

  it("detect refuses it in one line, natively and through ONNX Runtime: R-FCN's bbox_pred is class-agnostic (R x 8)", async () => {
    const net = netOf();
    const cat = path.join(import.meta.dirname, '../models/cifar10_full/examples/cat.jpg');
    try {
      for (const backend of ['native', 'onnx'] as const)
        await expect(detect(net, cat, { scale: 128, maxSize: 200, backend })).rejects.toThrow(
          /^Faster R-CNN: rois \d+ x 5, cls_prob \d+ x 21 and bbox_pred \d+ x 8 do not go together \(R x 5, R x C, R x 4C\)$/);
    } finally {
      await net.dispose();
    }
  }, 60_000);
});
