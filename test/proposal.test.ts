// Faster R-CNN's proposal layer, built in for py-faster-rcnn's Python layer rpn.proposal_layer.ProposalLayer (as
// OpenCV builds in its Proposal). Referee: py-faster-rcnn's own Python code, run with numpy on the same bottoms
// as a Python layer of real Caffe 1.0 on the same bottoms (test/fixtures/fork/proposal/README.md). OpenCV 4.5.1's
// Proposal is no referee for it: it does not drop boxes under min_size and always gives post_nms_topN rows.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { generateAnchors } from '../src/layers/proposal.js';
import { convertGraph } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { wasmEngine } from '../src/kernels/wasm.js';
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
/** The bottoms of the fixtures (README.md): a map of H x W for an image of imH x imW; scores of exactly 1 where input 33 is below `tie`. */
const inputs = (H = 38, W = 50, imH = 600, imW = 800, tie = -Infinity, ties = hashInput(18 * H * W, 33, 1)) => ({
  cls: new Tensor([1, 18, H, W], hashInput(18 * H * W, 31, 1).map((u, i) => (ties[i] < tie ? 1 : Math.fround(Math.fround(u + 1) * 0.5)))),
  deltas: new Tensor([1, 36, H, W], hashInput(36 * H * W, 32, 0.3)),
  im_info: new Tensor([1, 3], Float32Array.of(imH, imW, 1)),
});
const fixtureOf = (name: string) => readNpy(path.join(fixture, `${name}.npy`));

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

  it("orders tied scores as py-faster-rcnn's numpy does: thousands of scores of exactly 1, cut to pre_nms_topN and NMS'd", () => {
    // A saturated RPN (input 33 below 0.5: three in four scores are 1). numpy's argsort()[::-1], and again inside
    // py_cpu_nms, decide which of the tied boxes pass the cut of 6000 and which suppress which; a stable order keeps
    // others.
    const net = netOf(python('top: "scores"'));
    for (const [H, W, imH, imW, suffix, rows] of [[38, 50, 600, 800, '-tied', 300], [10, 12, 160, 192, '-10x12-tied', 106]] as const) {
      const feeds = inputs(H, W, imH, imW, 0.5);
      expect(feeds.cls.data.subarray(9 * H * W).filter((v) => v === 1).length).toBeGreaterThan(6 * H * W);
      const out = net.forward(feeds), rois = fixtureOf(`rois${suffix}`), scores = fixtureOf(`scores${suffix}`);
      expect(rois.dims).toEqual([rows, 5]);
      expect(scores.data.filter((v) => v === 1).length).toBeGreaterThan(rows * 0.8);
      // The same boxes in the same order (a box in another's place is hundreds of pixels off; numpy's float32 exp
      // differs from a correctly rounded one by a few ulps: corners within 2e-4 px here), the same scores.
      expect(relativeError(out.rois, rois), suffix).toBeLessThanOrEqual(1e-6);
      expect(Array.from(out.scores.data), suffix).toEqual(Array.from(scores.data));
    }
  });

  it('refuses what it cannot do exactly, by name', () => {
    // Every box clipped to a 10 x 10 image is under min_size 16: py-faster-rcnn would give empty tops.
    expect(errorOf(() => netOf(python()).forward(inputs(3, 4, 10, 10)))).toBe(
      "layer 'proposal' (Python): no proposal is left: every box is smaller than min_size 16 x im_info's scale 1 (the image is 10 x 10)",
    );
    // A NaN or negative side, a NaN or infinite scale (FPN's proposal says the same: fpn.test.ts), not what follows from it.
    for (const [h, w, scale] of [[-600, 800, 1], [600, -1, 1], [NaN, 800, 1], [600, NaN, 1], [600, 800, NaN], [600, 800, -Infinity]])
      expect(errorOf(() => netOf(python()).forward({ ...inputs(), im_info: new Tensor([1, 3], Float32Array.of(h, w, scale)) }))).toBe(
        `layer 'proposal' (Python): im_info (${h}, ${w}, ${scale}) must be an image's height and width (0 or more) and a finite scale`,
      );
    expect(errorOf(() => netOf(python().replace("'feat_stride': 16", "'stride': 16")))).toBe(
      "layer 'proposal' (Python): param_str ''stride': 16': crema's Proposal does not know 'stride' (it reads feat_stride, scales, ratios)",
    );
    expect(errorOf(() => netOf(python().replace('dim: 18', 'dim: 20')))).toBe(
      "layer 'proposal' (Python): bottom[0] must be (1, 18, H, W): background and object scores of 9 anchors, got [1, 20, 38, 50]",
    );
  });

  it("refuses a fork's own layer under py-faster-rcnn's module name with another bottom count (FPN's 11: fpn.test.ts)", () => {
    // unsky/FPN models/pascal_voc/FPN/FP_Net_end2end/test.prototxt (commit a096edb4), its layer with its p6 bottoms
    // taken out (9 bottoms), the blobs before it given as inputs.
    const levels = ['p2', 'p3', 'p4', 'p5', 'p6'];
    const inputsOf = ['im_info', ...levels.map((l) => `rpn_bbox_pred/${l}`), ...levels.map((l) => `fpn_out_reshape/${l}`)]
      .map((name) => `input: "${name}" input_shape { dim: 1 dim: 3 dim: 4 dim: 4 }`).join('\n');
    const text = `${inputsOf}
layer {
  name: 'proposal'
  type: 'Python'
    bottom: 'im_info'
    bottom: 'rpn_bbox_pred/p2'
    bottom: 'rpn_bbox_pred/p3'
	bottom: 'rpn_bbox_pred/p4'
	bottom: 'rpn_bbox_pred/p5'
 	bottom: 'fpn_out_reshape/p2'
	bottom: 'fpn_out_reshape/p3'
	bottom: 'fpn_out_reshape/p4'
	bottom: 'fpn_out_reshape/p5'
  top: 'rpn_rois'
  python_param {
    module: 'rpn.proposal_layer'
    layer: 'ProposalLayer'
    param_str: "'feat_stride': 4,8,16,32,64"

  }
}`;
    expect(errorOf(() => netOf(text))).toBe(
      "layer 'proposal' (Python): rpn.proposal_layer.ProposalLayer with 9 bottoms is not py-faster-rcnn's proposal layer (3 bottoms: scores, deltas, im_info), which crema builds in, but a fork's own (FPN's, with 11, crema builds in too); crema cannot run Python layers: register a plugin of type 'rpn.proposal_layer.ProposalLayer', given in options.plugins (or registerLayer)",
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

// SSH (mahyarnajibi/SSH): its SSH.layers.proposal_layer, py-faster-rcnn's modified, at TEST: the 1000 best boxes
// (N_DETS_PER_MODULE), no min_size, no NMS (SSH/test.py runs it on the three modules' boxes together). Referee: its
// own code as a Python layer of real Caffe 1.0 (fixtures/fork/proposal/make-ssh.sh), on its M2 module's settings.
describe("SSH's proposal layer (SSH.layers.proposal_layer.ProposalLayer)", () => {
  const ssh = (H: number, W: number) => `
    input: "cls" input_shape { dim: 1 dim: 4 dim: ${H} dim: ${W} }
    input: "deltas" input_shape { dim: 1 dim: 8 dim: ${H} dim: ${W} }
    input: "im_info" input_shape { dim: 1 dim: 3 }
    layer { name: "m2@ssh_proposal" type: "Python" bottom: "cls" bottom: "deltas" bottom: "im_info" top: "rois" top: "scores"
      python_param { module: "SSH.layers.proposal_layer" layer: "ProposalLayer" param_str: "{'feat_stride': 16,'scales': [4,8], 'ratios':[1,]}" } }`;
  const feeds = (H: number, W: number, imH: number, imW: number, tie = -Infinity) => {
    const ties = hashInput(4 * H * W, 33, 1);
    return {
      cls: new Tensor([1, 4, H, W], hashInput(4 * H * W, 31, 1).map((u, i) => (ties[i] < tie ? 1 : Math.fround(Math.fround(u + 1) * 0.5)))),
      deltas: new Tensor([1, 8, H, W], hashInput(8 * H * W, 32, 0.3)),
      im_info: new Tensor([1, 3], Float32Array.of(imH, imW, 1)),
    };
  };
  const cases = [[10, 12, 160, 192, '-10x12', -Infinity, 240], [40, 30, 640, 480, '-40x30', -Infinity, 1000], [10, 12, 160, 192, '-10x12-tied', 0.5, 240]] as const;

  it("gives SSH's own rois and scores: every box up to 1000, best first (ties in numpy's order), none suppressed", () => {
    for (const [H, W, imH, imW, suffix, tie, rows] of cases) {
      const net = netOf(ssh(H, W));
      expect(net.notes).toContain("layer 'm2@ssh_proposal': the Python layer SSH.layers.proposal_layer.ProposalLayer (SSH's) runs as crema's built-in Proposal with SSH's TEST settings: the 1000 best boxes (N_DETS_PER_MODULE), min_size 0, no NMS (SSH's test runs it after the net)");
      const out = net.forward(feeds(H, W, imH, imW, tie)), rois = fixtureOf(`ssh-rois${suffix}`), scores = fixtureOf(`ssh-scores${suffix}`);
      expect(rois.dims, suffix).toEqual([rows, 5]);
      expect(relativeError(out.rois, rois), suffix).toBeLessThanOrEqual(1e-6);
      expect(Array.from(out.scores.data), suffix).toEqual(Array.from(scores.data));
    }
  });

  it('as ONNX (TopK, no NonMaxSuppression) gives the same rows where no scores tie', async () => {
    for (const [H, W, imH, imW, suffix, , rows] of cases.slice(0, 2)) {
      const net = netOf(ssh(H, W)), x = feeds(H, W, imH, imW);
      const onnx = await runOnnx(net.graph, x, { outputs: ['rois', 'scores'] });
      expect(onnx.get('rois')!.dims, suffix).toEqual([rows, 5]);
      expect(relativeError(onnx.get('rois')!, fixtureOf(`ssh-rois${suffix}`)), suffix).toBeLessThanOrEqual(1e-4);
      expect(relativeError(onnx.get('scores')!, fixtureOf(`ssh-scores${suffix}`)), suffix).toBeLessThanOrEqual(1e-6);
    }
  });
});

describe("Proposal's rows follow the image, as py-faster-rcnn's: the layers after it shaped again forward by forward", () => {
  // A two-stage head: ROIPooling of a feature map over the proposals, a fully connected layer, Softmax. Against
  // real Caffe's rows (fixtures), and the head against the same head with the rois given as an input of as many rows.
  const head = `
    layer { name: "pool" type: "ROIPooling" bottom: "features" bottom: "rois" top: "pool" roi_pooling_param { pooled_w: 3 pooled_h: 3 spatial_scale: 0.0625 } }
    layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 5 } }
    layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }`;
  const withFeatures = (text: string) => text.replace('input: "im_info"', 'input: "features" input_shape { dim: 1 dim: 4 dim: 38 dim: 50 }\n  input: "im_info"');
  const weights = new Map([['fc', [new Tensor([5, 36], hashInput(180, 41, 0.05)), new Tensor([5], hashInput(5, 42, 0.1))]]]);
  const netWith = (text: string, threads: number) => Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), weights, [], { threads });
  const features = (H: number, W: number) => new Tensor([1, 4, H, W], hashInput(4 * H * W, 43, 1));
  // The head alone, its rois an input.
  const alone = netWith(`input: "features" input_shape { dim: 1 dim: 4 dim: 38 dim: 50 }
    input: "rois" input_shape { dim: 300 dim: 5 }${head}`, 1);
  const cases: [number, number, number, number, string, number][] = [
    [38, 50, 600, 800, '', 300], [10, 12, 160, 192, '-10x12', 106], [3, 4, 48, 64, '-3x4', 7], [10, 12, 160, 192, '-10x12', 106],
    // The same map, a smaller image (its boxes clipped more), then the larger again: the inputs' shapes do not change.
    [10, 12, 48, 64, '-10x12-48x64', 17], [10, 12, 160, 192, '-10x12', 106], [38, 50, 600, 800, '', 300],
  ];
  for (const threads of [1, 2])
    it(`at ${threads} thread${threads > 1 ? 's' : ''}: 300, 106, 7, 106, 17, 106 and 300 rows in turn, each blob as Caffe's`, () => {
      const net = netWith(withFeatures(python('top: "scores"')) + head, threads);
      for (const [H, W, imH, imW, suffix, rows] of cases) {
        const out = net.forward({ ...inputs(H, W, imH, imW), features: features(H, W) });
        const rois = fixtureOf(`rois${suffix}`);
        expect(rois.dims).toEqual([rows, 5]);
        expect(relativeError(net.blobs.get('rois')!, rois), `rois, ${rows} rows`).toBeLessThanOrEqual(1e-4);
        expect(relativeError(net.blobs.get('scores')!, fixtureOf(`scores${suffix}`)), `scores, ${rows} rows`).toBeLessThanOrEqual(1e-4);
        expect(net.shapes.get('pool')).toEqual([rows, 4, 3, 3]);
        expect(out.prob.dims).toEqual([rows, 5]);
        // The head on the same rois, shaped so from the start: the same floats.
        const ref = alone.forward({ features: features(H, W), rois: net.blobs.get('rois')! });
        expect(Array.from(out.prob.data), `prob, ${rows} rows`).toEqual(Array.from(ref.prob.data));
        expect(Array.from(net.blobs.get('pool')!.data)).toEqual(Array.from(alone.blobs.get('pool')!.data));
      }
    });

  it('net.run (its worker thread) gives the same rows and values, image after image', async () => {
    const net = netWith(withFeatures(python('top: "scores"')) + head, 1), local = netWith(withFeatures(python('top: "scores"')) + head, 1);
    try {
      for (const [H, W, imH, imW, , rows] of [cases[1], cases[4], cases[0]]) {
        const feeds = { ...inputs(H, W, imH, imW), features: features(H, W) };
        const out = await net.run(feeds, { fetches: ['rois', 'prob'] });
        const ref = local.forward(feeds);
        expect(out.prob.dims).toEqual([rows, 5]);
        expect(Array.from(out.prob.data)).toEqual(Array.from(ref.prob.data));
        expect(Array.from(out.rois.data)).toEqual(Array.from(local.blobs.get('rois')!.data));
      }
    } finally {
      await net.dispose();
    }
  });

  it('as ONNX (TopK, NonMaxSuppression, its rows a dynamic axis) gives the same rows, and the head after it the same values', async () => {
    const net = netWith(withFeatures(python('top: "scores"')) + head, 1);
    const model = convertGraph(net.graph, { outputs: ['rois', 'scores', 'prob'] });
    expect(model.notes.some((n) => n.includes("equal scores in index order"))).toBe(true);
    expect([...model.dynamic]).toEqual([['rois', [0]], ['scores', [0]], ['pool', [0]], ['fc', [0]], ['prob', [0]]]);
    for (const [H, W, imH, imW, suffix, rows] of cases.slice(0, 5)) {
      const feeds = { ...inputs(H, W, imH, imW), features: features(H, W) };
      const native = net.forward(feeds).prob.data.slice();
      // The graph at this input size (the anchors are constants of the map's size), converted and run there.
      const onnx = await runOnnx(net.graph, feeds, { outputs: ['rois', 'scores', 'prob'] });
      expect(relativeError(onnx.get('rois')!, fixtureOf(`rois${suffix}`)), `rois, ${rows} rows`).toBeLessThanOrEqual(1e-4);
      expect(relativeError(onnx.get('scores')!, fixtureOf(`scores${suffix}`)), `scores, ${rows} rows`).toBeLessThanOrEqual(1e-4);
      expect(onnx.get('prob')!.dims).toEqual([rows, 5]);
      expect(relativeError(onnx.get('prob')!, new Tensor([rows, 5], native)), `prob, ${rows} rows`).toBeLessThanOrEqual(1e-5);
    }
  });

  it("rows going up and down take no new memory: each blob after the layer keeps room for the most it held", () => {
    const net = netWith(withFeatures(python('top: "scores"')) + head, 1), heap = wasmEngine()!.heap;
    const [many, few] = [{ ...inputs(10, 12, 160, 192), features: features(10, 12) }, { ...inputs(10, 12, 48, 64), features: features(10, 12) }];
    net.forward(many);
    net.forward(few);
    const used = heap.used;
    for (let i = 0; i < 4; i++) {
      expect(net.forward(many).prob.dims).toEqual([106, 5]);
      expect(net.forward(few).prob.dims).toEqual([17, 5]);
    }
    expect(heap.used).toBe(used);
  });
});
