// A small R-FCN-like net with the head of py-R-FCN's rfcn_end2end/test_agnostic.prototxt (a conv trunk of stride 16,
// the RPN, py-faster-rcnn's Python Proposal, rfcn_cls (21 x 7^2) and rfcn_bbox (8 x 7^2) maps, PSROIPooling of each,
// global AVE Pooling, Softmax, the Reshapes to (R, 21) and (R, 8)) with deterministic weights: test/rfcn.test.ts and
// the dump of test/fixtures/fork/rfcn-detect (its make.sh).
import fs from 'node:fs';
import path from 'node:path';
import { encodeCaffemodel } from '../../src/caffe/caffemodel.js';
import { parsePrototxt } from '../../src/caffe/prototxt.js';
import { upgradeNet } from '../../src/caffe/upgrade.js';
import { Net } from '../../src/runtime/net.js';
import { Tensor } from '../../src/tensor.js';
import { randomArray, rng } from './compute.js';

const conv = (name: string, bottom: string, out: number, k: number, stride = 1, relu = true) =>
  `layer { name: "${name}" type: "Convolution" bottom: "${bottom}" top: "${name}" convolution_param { num_output: ${out} kernel_size: ${k} pad: ${(k - 1) / 2} stride: ${stride} } }\n` +
  (relu ? `layer { name: "${name}_relu" type: "ReLU" bottom: "${name}" top: "${name}" }\n` : '');
const psroi = (name: string, bottom: string, dim: number) =>
  `layer { name: "${name}" type: "PSROIPooling" bottom: "${bottom}" bottom: "rois" top: "${name}" psroi_pooling_param { spatial_scale: 0.0625 output_dim: ${dim} group_size: 7 } }\n`;

export const PROTOTXT = `name: "rfcn_small"
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

/**
 * Every Convolution's weights and biases, deterministic, scaled by fan-in so that activations stay near 1, and a
 * layer's by its `gains` (sharper class scores for detect).
 */
export function weightsOf(text: string, gains: Record<string, number> = {}): Map<string, Tensor[]> {
  const random = rng(17), weights = new Map<string, Tensor[]>();
  const channels = new Map([['data', 3]]);
  for (const m of text.matchAll(/name: "(\w+)" type: "Convolution" bottom: "(\w+)" top: "\w+" convolution_param \{ num_output: (\d+) kernel_size: (\d+)/g)) {
    const [name, bottom, out, k] = [m[1], m[2], Number(m[3]), Number(m[4])];
    const fanIn = channels.get(bottom)! * k * k;
    const gain = (gains[name] ?? 1) * Math.sqrt(3 / fanIn);
    const w = randomArray(out * fanIn, random).map((v) => v * gain);
    weights.set(name, [new Tensor([out, channels.get(bottom)!, k, k], w), new Tensor([out], randomArray(out, random).map((v) => v * 0.1))]);
    channels.set(name, out);
  }
  return weights;
}

export const OUTPUTS = ['rois', 'psroipooled_cls_rois', 'psroipooled_loc_rois', 'cls_prob', 'bbox_pred'];
export const netOf = (gains?: Record<string, number>) =>
  Net.fromNetParameter(upgradeNet(parsePrototxt(PROTOTXT, 'rfcn.prototxt'), 'rfcn.prototxt'), weightsOf(PROTOTXT, gains), [], { threads: 1 });
export const feedsAt = (h: number, w: number, seed: number) => ({
  data: new Tensor([1, 3, h, w], randomArray(3 * h * w, rng(seed)).map((v) => v * 2)),
  im_info: new Tensor([1, 3], Float32Array.of(h, w, 1)),
});


/** The gains of detect's case (test/fixtures/fork/rfcn-detect): class scores spread enough to pass a threshold. */
export const DETECT_GAINS = { rfcn_cls: 3 };

/** The net as files, for the CLI: DIR/rfcn.prototxt and DIR/rfcn.caffemodel (its Convolutions' weights). */
export function writeNetFiles(dir: string, gains?: Record<string, number>): { prototxt: string; weights: string } {
  const prototxt = path.join(dir, 'rfcn.prototxt'), weights = path.join(dir, 'rfcn.caffemodel');
  fs.writeFileSync(prototxt, PROTOTXT);
  const layer = [...weightsOf(PROTOTXT, gains)].map(([name, blobs]) => ({ name, type: 'Convolution', blobs: blobs.map((t) => ({ shape: { dim: t.dims }, data: t.data })) }));
  fs.writeFileSync(weights, encodeCaffemodel({ name: 'rfcn_small', layer }));
  return { prototxt, weights };
}
