// zhaoweicai/cascade-rcnn's layers (BoxGroupOutput, DecodeBBox, ScaleRoute, ROIAlign, ROIPooling's pad_ratio) against
// the fork's own Caffe (test/fixtures/cascade, made by make-fixtures.sh with the fork ../fork-chroot.sh builds) on
// raw RPN outputs of batch 2; the published nets whole are forknets cases (cascade_alex, cascade_fpn). Their row
// counts are known only in the forward: the layers after them are shaped again (Layer.sizesTops).
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { convertGraph } from '../src/onnx/convert.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { errorOf } from './helpers/cli.js';
import { expectForkBlobs, forkHead } from './helpers/fork-head.js';

const TOLERANCE = 1e-5;
const head = forkHead('cascade'), { fork, inputs } = head;

describe('cascade-rcnn layers vs the fork (test/fixtures/cascade/head: two RPN scales, batch 2)', () => {
  for (const threads of [1, 2])
    it(`every stored blob matches the fork, rows in its order (${threads} thread${threads > 1 ? 's' : ''})`, async () => {
      const net = await Net.load(head.net, undefined, { threads });
      for (let pass = 0; pass < 2; pass++) {
        net.forward(inputs());
        expectForkBlobs(net, head, TOLERANCE);
      }
    });

  it('a note says the blobs after the sizing layers have one row until the first forward', async () => {
    const net = await Net.load(head.net, undefined, { threads: 1 });
    expect(net.notes).toContain("'bgo_a', 'bgo_b', 'bgo_c', 'bgo_none' and 3 more (BoxGroupOutput, ScaleRoute) give as many rows as each forward finds: until the first forward, the blobs after them have their set-up's one row");
    expect(net.shapes.get('pool_a')).toEqual([1, 3, 2, 4]);
  });

  it('the fixture exercises what it should: caps, both images, NMS modes, the placeholder, routing both ways', () => {
    const rows = (blob: string) => fork(blob).dims[0];
    const images = (blob: string) => new Set(fork(blob).data.filter((_, i) => i % fork(blob).dims[1] === 0));
    // ~120 boxes an image reach fg_thr, 78 of them with a score of exactly 1 (ties, ordered as the fork's
    // std::partial_sort leaves them: a stable sort keeps other boxes): max_nms_num 60 then max_post_nms_num 25 cut.
    const certain = head.input('prob8').data.filter((v, i) => Math.floor(i / 48) % 2 === 0 && Math.fround(1 - v) === 1).length;
    expect(certain).toBe(156);
    const prob8 = head.input('prob8').data.filter((v, i) => Math.floor(i / 48) % 2 === 0 && 1 - v >= 0.3).length;
    expect(prob8).toBeGreaterThan(150);
    expect(rows('rois_a')).toBe(50);
    for (const blob of ['rois_a', 'rois_b', 'rois_c']) expect([...images(blob)].sort(), blob).toEqual([0, 1]);
    expect(rows('rois_b')).toBeGreaterThan(3);
    expect(rows('rois_c')).toBeGreaterThan(3);
    expect([...fork('rois_none').data]).toEqual([0, 1, 1, 10, 10]);
    expect([...fork('scored_none').data]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(rows('route_rois')).toBeGreaterThan(1);
    expect(rows('route_rois')).toBeLessThan(rows('rois_a'));
    expect(rows('route_none')).toBe(1); // no ROI of scale 1000 or more: the nearest to it
  });
});

describe('cascade-rcnn layers refuse, in one line', () => {
  const netOf = (layers: string) => () =>
    Net.fromNetParameter(upgradeNet(parsePrototxt(`layer { name: "in" type: "Input" top: "p" top: "b" top: "r" top: "d"
      input_param { shape { dim: 2 dim: 2 dim: 3 dim: 4 } shape { dim: 2 dim: 4 dim: 3 dim: 4 } shape { dim: 2 dim: 5 } shape { dim: 2 dim: 8 } } }
      ${layers}`, 'cascade.prototxt'), 'cascade.prototxt'), new Map(), [], { threads: 1 });
  const group = 'box_group_param { field_w: 16 field_w: 32 field_h: 16 field_h: 32 stride: 8 }';

  it('BoxGroupOutput: bottoms not in pairs, groups not matching, unknown NMS', () => {
    expect(netOf(`layer { name: "g" type: "BoxGroupOutput" bottom: "p" bottom: "b" top: "rois" box_group_output_param { ${group} } }`)).not.toThrow();
    expect(errorOf(netOf(`layer { name: "g" type: "BoxGroupOutput" bottom: "p" bottom: "b" bottom: "p" top: "rois" box_group_output_param { ${group} } }`))).toBe(
      "layer 'g' (BoxGroupOutput): takes pairs of bottoms (probabilities, regressions) per scale, got 3",
    );
    expect(errorOf(netOf(`layer { name: "g" type: "BoxGroupOutput" bottom: "p" bottom: "b" top: "rois" box_group_output_param { ${group} ${group} } }`))).toBe(
      "layer 'g' (BoxGroupOutput): has 1 scale(s) of bottoms but 2 box_group_param",
    );
    expect(errorOf(netOf(`layer { name: "g" type: "BoxGroupOutput" bottom: "p" bottom: "b" top: "rois" box_group_output_param { box_group_param { field_w: 16 field_h: 16 field_h: 8 stride: 8 } } }`))).toBe(
      "layer 'g' (BoxGroupOutput): box_group_param 0 needs as many field_w as field_h (at least one), got 1 and 2",
    );
    expect(errorOf(netOf(`layer { name: "g" type: "BoxGroupOutput" bottom: "p" bottom: "b" top: "rois" box_group_output_param { nms_type: "GIOU" ${group} } }`))).toBe(
      "layer 'g' (BoxGroupOutput): nms_type is IOU, IOMU or IOFU, got 'GIOU'",
    );
    expect(errorOf(netOf(`layer { name: "g" type: "BoxGroupOutput" bottom: "p" bottom: "b" top: "rois" box_group_output_param { box_group_param { field_w: 16 field_w: 32 field_w: 8 field_h: 16 field_h: 32 field_h: 8 stride: 8 } } }`))).toBe(
      "layer 'g' (BoxGroupOutput): scale 0's probabilities have 2 maps, not a multiple of its 3 groups",
    );
  });

  it('DecodeBBox: the training bottom, and regressions not of 8', () => {
    expect(errorOf(netOf('layer { name: "d" type: "DecodeBBox" bottom: "d" bottom: "r" bottom: "r" top: "o" }'))).toBe(
      "layer 'd' (DecodeBBox): its third bottom (the matched ground truth) is for training; at test DecodeBBox takes the regressions and the proposals",
    );
    expect(errorOf(netOf('layer { name: "d" type: "DecodeBBox" bottom: "r" bottom: "r" top: "o" }'))).toBe(
      "layer 'd' (DecodeBBox): bottom 0 (the regressions) must be (R, 8), got [2, 5]",
    );
    expect(errorOf(netOf('layer { name: "d" type: "DecodeBBox" bottom: "d" bottom: "r" top: "o" bbox_reg_param { bbox_mean: 0 bbox_std: 1 } }'))).toBe(
      "layer 'd' (DecodeBBox): bbox_reg_param needs 4 bbox_mean and 4 bbox_std, got 1 and 1",
    );
  });

  it('ScaleRoute: ROIs without an area, where the fork aborts; bounds the wrong way round', () => {
    const net = netOf('layer { name: "s" type: "ScaleRoute" bottom: "r" top: "o" scale_route_param { low_scale: 10 high_scale: 20 } }')();
    expect(errorOf(() => net.forward({ r: new Tensor([2, 5], Float32Array.of(0, 5, 5, 1, 1, 0, 8, 8, 2, 2)) }))).toBe(
      "layer 's' (ScaleRoute): none of its 2 ROIs has an area (each has x2 < x1 or y2 < y1): the fork aborts",
    );
    expect(errorOf(netOf('layer { name: "s" type: "ScaleRoute" bottom: "r" top: "o" scale_route_param { low_scale: 30 high_scale: 20 } }'))).toBe(
      "layer 's' (ScaleRoute): high_scale 20 is below low_scale 30",
    );
  });

  it('ONNX: each says it runs natively only', () => {
    const convert = (layer: string) => errorOf(() => convertGraph(netOf(layer)().graph));
    expect(convert(`layer { name: "g" type: "BoxGroupOutput" bottom: "p" bottom: "b" top: "rois" box_group_output_param { ${group} } }`)).toBe(
      "layer 'g' (BoxGroupOutput): BoxGroupOutput has no exact ONNX form (its greedy NMS over a count of boxes known only at run time); crema runs it natively only",
    );
    expect(convert('layer { name: "s" type: "ScaleRoute" bottom: "r" top: "o" }')).toBe(
      "layer 's' (ScaleRoute): ScaleRoute keeps a count of rows known only at run time; crema runs it natively only",
    );
  });
});
