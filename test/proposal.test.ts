// Faster R-CNN's proposal layer, built in for py-faster-rcnn's Python layer rpn.proposal_layer.ProposalLayer (as
// OpenCV builds in its Proposal). Referee: py-faster-rcnn's own Python code, run with numpy on the same bottoms
// (test/fixtures/fork/proposal/README.md). OpenCV 4.5.1's Proposal is no referee for it: it does not drop boxes under
// min_size and always gives post_nms_topN rows.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { generateAnchors } from '../src/layers/proposal.js';
import { convertGraph } from '../src/onnx/convert.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { errorOf } from './helpers/cli.js';
import { relativeError } from './helpers/reference.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/fork/proposal');

/** shared/tools/hashweights.mjs's `input SEED AMPLITUDE`: value(i) = amp · (2 · lowbias32(i ^ seed) / 2^32 − 1). */
function hashInput(n: number, seed: number, amp: number): Float32Array {
  const s = (amp / Math.sqrt(3)) * Math.sqrt(3), a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let x = (i ^ seed) >>> 0;
    x ^= x >>> 16; x = Math.imul(x, 0x7feb352d); x ^= x >>> 15; x = Math.imul(x, 0x846ca68b); x ^= x >>> 16;
    a[i] = s * ((2 * (x >>> 0)) / 4294967296 - 1);
  }
  return a;
}

const python = (top2 = '') => `
  input: "cls" input_shape { dim: 1 dim: 18 dim: 38 dim: 50 }
  input: "deltas" input_shape { dim: 1 dim: 36 dim: 38 dim: 50 }
  input: "im_info" input_shape { dim: 1 dim: 3 }
  layer { name: "proposal" type: "Python" bottom: "cls" bottom: "deltas" bottom: "im_info" top: "rois" ${top2}
    python_param { module: "rpn.proposal_layer" layer: "ProposalLayer" param_str: "'feat_stride': 16" } }`;
const netOf = (text: string) => Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), new Map(), [], { threads: 1 });
const inputs = () => ({
  cls: new Tensor([1, 18, 38, 50], hashInput(18 * 1900, 31, 1).map((u) => Math.fround(Math.fround(u + 1) * 0.5))),
  deltas: new Tensor([1, 36, 38, 50], hashInput(36 * 1900, 32, 0.3)),
  im_info: new Tensor([1, 3], Float32Array.of(600, 800, 1)),
});

describe('Proposal (py-faster-rcnn rpn.proposal_layer)', () => {
  it('generate_anchors gives the nine anchors py-faster-rcnn\'s generate_anchors() returns', () => {
    expect(Array.from(generateAnchors(16, [0.5, 1, 2], [8, 16, 32]))).toEqual([
      -84, -40, 99, 55, -176, -88, 191, 103, -360, -184, 375, 199,
      -56, -56, 71, 71, -120, -120, 135, 135, -248, -248, 263, 263,
      -36, -80, 51, 95, -80, -168, 95, 183, -168, -344, 183, 359,
    ]);
  });

  it('the Python layer runs as the built-in Proposal, with a note, and gives py-faster-rcnn\'s rois and scores', () => {
    const net = netOf(python('top: "scores"'));
    expect(net.notes).toContain("layer 'proposal': the Python layer rpn.proposal_layer.ProposalLayer runs as crema's built-in Proposal (as OpenCV does), with py-faster-rcnn's TEST settings: pre_nms_topN 6000, post_nms_topN 300, NMS 0.7, min_size 16");
    const out = net.forward(inputs());
    expect(relativeError(out.rois, readNpy(path.join(fixture, 'rois.npy')))).toBeLessThanOrEqual(1e-4);
    expect(relativeError(out.scores, readNpy(path.join(fixture, 'scores.npy')))).toBeLessThanOrEqual(1e-4);
  });

  it('refuses what it cannot do exactly, by name', () => {
    const small = netOf(python().replaceAll('dim: 38 dim: 50', 'dim: 3 dim: 4'));
    expect(errorOf(() => small.forward({ cls: new Tensor([1, 18, 3, 4], new Float32Array(216).fill(0.5)), deltas: new Tensor([1, 36, 3, 4], new Float32Array(432)), im_info: new Tensor([1, 3], Float32Array.of(600, 800, 1)) }))).toMatch(
      /^layer 'proposal' \(Python\): only \d+ proposals survive NMS, fewer than post_nms_topN 300: py-faster-rcnn would give \d+ rows/,
    );
    expect(errorOf(() => convertGraph(netOf(python()).graph))).toBe(
      "layer 'proposal' (Python): Proposal has no exact ONNX form (its greedy NMS and ordering are py-faster-rcnn's); crema runs it natively only",
    );
    expect(errorOf(() => netOf(python().replace("'feat_stride': 16", "'stride': 16")))).toBe(
      "layer 'proposal' (Python): param_str ''stride': 16': crema's Proposal does not know 'stride' (it reads feat_stride, scales, ratios)",
    );
    expect(errorOf(() => netOf(python().replace('dim: 18', 'dim: 20')))).toBe(
      "layer 'proposal' (Python): bottom[0] must be (1, 18, H, W): background and object scores of 9 anchors, got [1, 20, 38, 50]",
    );
  });

  it("reads the COCO models' param_str, a YAML-tagged tuple of scales (12 anchors), and refuses a value it cannot read", () => {
    // py-faster-rcnn models/coco/*/faster_rcnn_end2end/test.prototxt: "'feat_stride': 16 \n'scales': !!python/tuple [4, 8, 16, 32]"
    const coco = python().replace("'feat_stride': 16", "'feat_stride': 16 \\n'scales': !!python/tuple [4, 8, 16, 32]");
    const twelve = coco.replace('dim: 18', 'dim: 24').replace('dim: 36', 'dim: 48');
    const net = netOf(twelve);
    const out = net.forward({ ...inputs(), cls: new Tensor([1, 24, 38, 50], hashInput(24 * 1900, 31, 1).map((u) => Math.fround(Math.fround(u + 1) * 0.5))), deltas: new Tensor([1, 48, 38, 50], hashInput(48 * 1900, 32, 0.3)) });
    expect(out.rois.dims).toEqual([300, 5]);
    expect(errorOf(() => netOf(coco))).toBe("layer 'proposal' (Python): bottom[0] must be (1, 24, H, W): background and object scores of 12 anchors, got [1, 18, 38, 50]");
    expect(errorOf(() => netOf(python().replace("'feat_stride': 16", "'feat_stride': 16, 'scales': !!python/tuple foo")))).toBe(
      "layer 'proposal' (Python): param_str ''feat_stride': 16, 'scales': !!python/tuple foo': cannot read scales",
    );
  });

  it('the built-in type reads proposal_param (OpenCV\'s fields)', () => {
    const text = python().replace(/type: "Python"[^}]*\}/, 'type: "Proposal" bottom: "cls" bottom: "deltas" bottom: "im_info" top: "rois" proposal_param { feat_stride: 16 post_nms_topn: 100 }');
    const out = netOf(text).forward(inputs());
    expect(out.rois.dims).toEqual([100, 5]);
    expect(relativeError(out.rois, new Tensor([100, 5], readNpy(path.join(fixture, 'rois.npy')).data.subarray(0, 500)))).toBeLessThanOrEqual(1e-4);
  });
});
