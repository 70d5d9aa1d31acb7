// DeformablePSROIPooling (src/layers/deformable_psroi_pooling.ts; Deformable R-FCN's caffe port) against the fork's own
// CPU kernel: makefile/frcnn's deformable_psroi_pooling_layer.cpp compiled and run by test/fixtures/dpsroi/make-fixtures.sh
// on 2 images of 4 x 3^2 score maps and 7 ROIs (inside, partly off the map on either side, halves, one pixel, wholly off,
// x2 < x1), with seeded offsets of 2 classes on 3 x 3 parts, of 4 classes on 4 x 4 parts, and without offsets; and at
// R-FCN's settings (7 x 7 bins and parts, 4 x 4 samples, scale 1/16: 12 ROIs on a 14 x 14 map). Natively
// to the bit (the kernel's float32 steps kept); through ONNX Runtime within 1e-6 of the largest output (its sums in
// another order). Then the refusals, one line each; makefile/frcnn's two Deformable R-FCN test nets whole (ResNet-50
// with 3 DeformableConvolution, FrcnnProposal with the config each is run with; R-FCN's head: 4 DeformablePSROIPooling,
// two without offsets computing the other two's; the light head: 2), natively = ONNX; and behind Proposal (the ROI
// count dynamic).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNet } from '../src/caffe/load.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { declaredWeights } from '../src/layers/layer.js';
import { MAX_OPSET, MIN_OPSET } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { deviation, scaleTo, tamedOffsets } from './helpers/deform.js';
import { hashInputData, hashWeightBlobs } from './helpers/hashweights.mjs';
import { PROTOTXT as RFCN, feedsAt, weightsOf } from './helpers/rfcn.js';
import { TOLERANCE, relativeDifference, relativeError } from './helpers/reference.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/dpsroi');
const cases = JSON.parse(fs.readFileSync(path.join(fixture, 'cases.json'), 'utf8')) as Record<string, { maps: string; rois: string; param: Record<string, number | boolean> }>;
const npy = (name: string) => readNpy(path.join(fixture, `${name}.npy`));

const shapeOf = (dims: readonly number[]) => `input_shape { ${dims.map((d) => `dim: ${d}`).join(' ')} }`;
const paramText = (p: Record<string, number | boolean>) => Object.entries(p).map(([k, v]) => `${k}: ${v}`).join(' ');

/** A net of inputs x, r (and t) and one DeformablePSROIPooling layer "dp". */
function netOf(x: readonly number[], r: readonly number[], t: readonly number[] | undefined, param: string): Net {
  const text = `input: "x" ${shapeOf(x)} input: "r" ${shapeOf(r)} ${t ? `input: "t" ${shapeOf(t)}` : ''}
    layer { name: "dp" type: "DeformablePSROIPooling" bottom: "x" bottom: "r" ${t ? 'bottom: "t"' : ''} top: "dp" deformable_psroi_pooling_param { ${param} } }`;
  return Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), new Map(), [], { threads: 1 });
}

describe('DeformablePSROIPooling against the fork\'s kernel (makefile/frcnn, compiled)', () => {
  for (const [name, { maps, rois, param: p }] of Object.entries(cases)) {
    const x = npy(maps), r = npy(rois), t = p.no_trans ? undefined : npy(`trans_${name}`);
    const feeds = { x, r, ...(t ? { t } : {}) };
    const net = () => netOf(x.dims, r.dims, t?.dims, paramText(p));

    it(`${name}: natively, to the bit; the case has bins with no sample inside, some, and all`, () => {
      const want = npy(`top_${name}`), count = npy(`count_${name}`).data, samples = Number(p.sample_per_part) ** 2;
      expect(count.some((n) => n === 0) && count.some((n) => n > 0 && n < samples) && count.some((n) => n === samples)).toBe(true);
      const out = net().forward(feeds).dp;
      expect(out.dims).toEqual(want.dims);
      expect(Array.from(out.data)).toEqual(Array.from(want.data));
    });

    it(`${name}: through ONNX Runtime at opsets ${MIN_OPSET} and ${MAX_OPSET}, within 1e-6`, async () => {
      const want = npy(`top_${name}`), n = net();
      for (const opset of [MIN_OPSET, MAX_OPSET]) {
        const onnx = (await runOnnx(n.graph, feeds, { threads: 1, opset })).get('dp')!;
        expect(relativeError(onnx, want), `opset ${opset}`).toBeLessThanOrEqual(1e-6);
      }
    });
  }

  it('converted size-free (anySize: the maps\' height and width read at run time) through ONNX Runtime, the case without offsets', async () => {
    const x = npy('maps'), r = npy('rois'), n = netOf(x.dims, r.dims, undefined, paramText(cases.no_trans.param)); // offsets as an input would be resized too
    const onnx = (await runOnnx(n.graph, { x, r }, { threads: 1, anySize: true })).get('dp')!;
    expect(relativeError(onnx, npy('top_no_trans'))).toBeLessThanOrEqual(1e-6);
  });
});

describe('DeformablePSROIPooling: the refusals, one line naming the layer', () => {
  const base = 'spatial_scale: 0.25 output_dim: 4 group_size: 3 part_size: 3 sample_per_part: 2 trans_std: 0.1';
  const refuse = (x: number[], r: number[], t: number[] | undefined, param = base) => () => netOf(x, r, t, param);
  it('the score maps\' channels not output_dim x group_size^2', () => {
    expect(refuse([1, 35, 9, 11], [7, 5], [7, 4, 3, 3])).toThrow("layer 'dp' (DeformablePSROIPooling): has 35 input channels but output_dim x group_size^2 is 36");
  });
  it('ROIs not 5 wide', () => {
    expect(refuse([1, 36, 9, 11], [7, 4], [7, 4, 3, 3])).toThrow("layer 'dp' (DeformablePSROIPooling): the ROIs (bottom 1) must be (R, 5): [batch index, x1, y1, x2, y2] per row, got [7, 4]");
  });
  it('offsets of an odd channel count, of the wrong parts or ROI count, of classes not dividing output_dim; none at all', () => {
    const want = (got: string) => `layer 'dp' (DeformablePSROIPooling): the offsets (bottom 2) must be (7, 2 x classes, 3, 3): one row per ROI, part_size^2 (x, y) pairs per class, got ${got}`;
    expect(refuse([1, 36, 9, 11], [7, 5], [7, 5, 3, 3])).toThrow(want('[7, 5, 3, 3]'));
    expect(refuse([1, 36, 9, 11], [7, 5], [7, 4, 4, 4])).toThrow(want('[7, 4, 4, 4]'));
    expect(refuse([1, 36, 9, 11], [7, 5], [1, 4, 3, 3])).toThrow(want('[1, 4, 3, 3]'));
    expect(refuse([1, 36, 9, 11], [7, 5], [7, 6, 3, 3])).toThrow("layer 'dp' (DeformablePSROIPooling): output_dim 4 is not a multiple of the offsets' 3 classes (their 6 channels / 2)");
    expect(refuse([1, 36, 9, 11], [7, 5], undefined)).toThrow("layer 'dp' (DeformablePSROIPooling): no_trans is false but there is no offsets bottom (bottom 2)");
  });
  it('parameters: the required three, positive sizes, part_size with offsets', () => {
    const at = (param: string) => refuse([1, 36, 9, 11], [7, 5], [7, 4, 3, 3], param);
    expect(at('spatial_scale: 0.25 output_dim: 4')).toThrow("layer 'dp' (DeformablePSROIPooling): deformable_psroi_pooling_param needs spatial_scale, output_dim and group_size");
    expect(at('spatial_scale: 0.25 output_dim: 0 group_size: 3')).toThrow("layer 'dp' (DeformablePSROIPooling): output_dim and group_size must be positive, got 0 and 3");
    expect(at("spatial_scale: 0.25 output_dim: 4 group_size: 3 part_size: 3 sample_per_part: 0")).toThrow("layer 'dp' (DeformablePSROIPooling): sample_per_part must be positive, got 0");
    expect(at('spatial_scale: 0.25 output_dim: 4 group_size: 3')).toThrow("layer 'dp' (DeformablePSROIPooling): part_size must be positive when the offsets are used (no_trans false), got 0");
  });
  it('a ROI naming an image the maps lack', () => {
    const n = netOf([1, 36, 9, 11], [1, 5], undefined, `${base} no_trans: true`);
    expect(() => n.forward({ x: Tensor.zeros([1, 36, 9, 11]), r: new Tensor([1, 5], Float32Array.of(1, 0, 0, 8, 8)) }))
      .toThrow("layer 'dp' (DeformablePSROIPooling): ROI 0 names batch index 1, but the features have 1 image(s)");
  });
});

/** makefile/frcnn's two Deformable R-FCN test nets as published (8d9b9eb, copied here with the two configs), with the config each is run with. */
const mix = fs.readFileSync(path.join(fixture, 'mix_config.json'), 'utf8');
const realNets = [
  {
    file: 'rfcn-dcn-test_merged-atrous', config: fs.readFileSync(path.join(fixture, 'default_config.json'), 'utf8'),
    what: 'rfcn-dcn/test_merged-atrous.proto with default_config.json (9 anchors; R-FCN: offsets of 6 classes for the class scores, 1 for the boxes)',
    offsetConvs: ['rfcn_cls_offset_t', 'rfcn_bbox_offset_t'], maxEmpty: 0.25,
    pools: [['rfcn_cls_offset', 12], ['rfcn_bbox_offset', 2], ['psroipooled_cls_rois', 6], ['psroipooled_loc_rois', 24]],
  },
  {
    // mix_config.json's soft-NMS is crema's natively only: the ONNX comparison runs its keys with test_soft_nms 0.
    file: 'light-rfcn-dcn-test_merged-light-atrous', config: mix.replace('"test_soft_nms": 1,', '"test_soft_nms": 0,'),
    what: 'light-rfcn-dcn/test_merged-light-atrous.proto with light-rfcn-res50\'s mix_config.json (15 anchors; light head: offsets of 5 classes, 2 output channels each)',
    offsetConvs: ['convx1_2_offset_t', 'convx2_2_offset_t'], maxEmpty: 0.5, // its maps and offsets ReLU's
    pools: [['light_head_offset', 10], ['psroipooled_rois', 10]],
  },
] as const;

describe("makefile/frcnn's Deformable R-FCN test nets whole: 3 DeformableConvolution, FrcnnProposal, the DeformablePSROIPooling head", () => {
  for (const { file, config, what, offsetConvs, pools, maxEmpty } of realNets)
    it(`${what}: natively as in ONNX Runtime (hashweights, 128 x 128), the DeformableConvolution tops, the ROIs, every DeformablePSROIPooling top and the outputs`, async () => {
      const parsed = (await loadNet(path.join(fixture, `${file}.prototxt`))).net, options = { threads: 1, frcnnConfig: config };
      const shaped = Net.fromNetParameter(parsed, new Map(), [], options);
      const layers = shaped.graph.layers.map((l) => ({ name: l.name, type: l.type, blobs: declaredWeights.get(l.def) ?? [] })).filter((l) => l.blobs.length);
      const spec = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dpsroi-')), 'spec.json');
      fs.writeFileSync(spec, JSON.stringify({ name: file, layers }));
      const weights = new Map(hashWeightBlobs(spec, 'dpsroi', 0.5).map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))]));
      // The pools' offset maps' convolutions scaled down: hashweights' own give offsets of tens of ROI extents (every
      // deformed bin off the map, 0); these move bins by about a tenth of the ROI, as trained nets do.
      for (const name of offsetConvs) weights.set(name, weights.get(name)!.map((b) => new Tensor(b.dims, b.data.map((v) => v / 300))));
      const inputs = { data: new Tensor([1, 3, 128, 128], hashInputData(48, 100, [1, 3, 128, 128])), im_info: new Tensor([1, 3], Float32Array.of(128, 128, 1)) };
      // The DeformableConvolutions' offsets at 1.5 pixels' deviation, as test/deformable-convolution.test.ts runs them.
      const tamed = tamedOffsets(parsed, weights, 'DeformableConvolution', inputs, options);
      // The RPN's scores and deltas tamed likewise: as they come the scores are all 0 or 1 (ties, which ONNX's TopK
      // orders otherwise) and every box is clipped to a line and dropped (test_rpn_min_size), leaving one ROI.
      tamed.forward(inputs);
      scaleTo(tamed, weights, 'rpn_cls_score', 'rpn_cls_score', 2);
      scaleTo(tamed, weights, 'rpn_bbox_pred', 'rpn_bbox_pred', 0.3);
      const net = Net.fromNetParameter(parsed, weights, [], options);
      net.forward(inputs);
      const deformable = net.graph.layers.filter((l) => l.type === 'DeformableConvolution');
      expect(deformable.map((l) => l.topShapes[0])).toEqual(Array.from({ length: 3 }, () => [1, 512, 8, 8]));
      for (const l of deformable) expect(deviation(net.blobs.get(l.bottoms[1])!.data), l.name).toBeCloseTo(1.5, 1);
      const rois = net.blobs.get('rois')!;
      expect(rois.dims[0], 'ROIs').toBeGreaterThan(8);
      expect(net.graph.layers.filter((l) => l.type === 'DeformablePSROIPooling').map((l) => [l.name, net.blobs.get(l.tops[0])!.dims])).toEqual(pools.map(([name, c]) => [name, [rois.dims[0], c, 7, 7]]));
      const blobs = [...deformable.map((l) => l.tops[0]), 'rois', ...pools.map(([name]) => name), 'cls_prob', 'bbox_pred'];
      const onnx = await runOnnx(net.graph, inputs, { threads: 1, outputs: blobs });
      for (const blob of blobs) {
        const values = net.blobs.get(blob)!.data; // the pools with offsets: few bins empty, where the maps are not ReLU's
        expect(values.filter((v) => v === 0).length, `${blob}: bins empty`).toBeLessThan(values.length * (blob.startsWith('psroipooled') ? maxEmpty : 1));
        expect(onnx.get(blob)!.dims, blob).toEqual(net.blobs.get(blob)!.dims);
        expect(relativeDifference(onnx.get(blob)!.data, values), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
      }
    }, 120_000);
});

describe('behind Proposal: the small R-FCN of test/helpers/rfcn.ts with DeformablePSROIPooling for its PSROIPooling', () => {
  it('runs in ONNX Runtime as natively, its ROI count a dynamic axis (one offsets layer without offsets feeding both pools)', async () => {
    const dp = (name: string, bottom: string, dim: number, trans?: string) => `layer { name: "${name}" type: "DeformablePSROIPooling" bottom: "${bottom}" bottom: "rois" ${trans ? `bottom: "${trans}" ` : ''}top: "${name}"
      deformable_psroi_pooling_param { spatial_scale: 0.0625 output_dim: ${dim} group_size: 7 part_size: 7 sample_per_part: 2 ${trans ? 'trans_std: 0.1' : 'no_trans: true'} } }\n`;
    const offsets = 'layer { name: "offset_t" type: "Convolution" bottom: "conv_new_1" top: "offset_t" convolution_param { num_output: 98 kernel_size: 1 pad: 0 stride: 1 } }\n' + dp('offset', 'offset_t', 2);
    let text = RFCN.replace(/layer \{ name: "(\w+)" type: "PSROIPooling" bottom: "(\w+)" bottom: "rois" top: "\w+" psroi_pooling_param \{ spatial_scale: 0.0625 output_dim: (\d+) group_size: 7 \} \}\n/g,
      (_, name: string, bottom: string, dim: string) => dp(name, bottom, Number(dim), 'offset'));
    text = text.replace('layer { name: "psroipooled_cls_rois"', `${offsets}layer { name: "psroipooled_cls_rois"`);
    expect(text.match(/DeformablePSROIPooling/g)).toHaveLength(3);
    const net = Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'rfcn.prototxt'), 'rfcn.prototxt'), weightsOf(text), [], { threads: 1 });
    const feeds = feedsAt(128, 160, 3), outputs = ['rois', 'offset', 'psroipooled_cls_rois', 'psroipooled_loc_rois', 'cls_prob', 'bbox_pred'];
    net.forward(feeds);
    const onnx = await runOnnx(net.graph, feeds, { threads: 1, outputs });
    expect(net.blobs.get('rois')!.dims[0]).toBeGreaterThan(20);
    expect(net.blobs.get('offset')!.data.some((v) => Math.abs(v) > 0.5), 'offsets that move bins').toBe(true);
    for (const blob of outputs) {
      expect(onnx.get(blob)!.dims, blob).toEqual(net.blobs.get(blob)!.dims);
      expect(relativeDifference(onnx.get(blob)!.data, net.blobs.get(blob)!.data), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});
