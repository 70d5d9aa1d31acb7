// MhLiao/TextBoxes_plusplus's PriorBox (denser_prior_boxes) and DetectionOutput (use_polygon: a quadrilateral after
// each box, or a rotated box with false) against the fork's own Caffe (test/fixtures/textboxespp, made by
// make-fixtures.sh with the fork ../fork-chroot.sh textboxespp builds), natively and through ONNX Runtime; its one-line
// refusals of what the fork would write from values it never set; crema detect's quadrilaterals. The published
// deploy net whole is in test/fork-nets.test.ts. And MhLiao/TextBoxes' (the 'textboxes' dialect: the SSD fork of 2016,
// whose PriorBox always adds each box one cell lower and whose DetectionOutput clips what it writes) against its own
// Caffe (test/fixtures/textboxes, ../fork-chroot.sh textboxes).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { type Detection, detectionJob, detectionsOf, imageDetections } from '../src/detect/detect.js';
import { detectionsSvg } from '../src/detect/draw.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { compareDetections } from '../src/verify/detections.js';
import { type ForkHead, expectForkBlobs, forkHead } from './helpers/fork-head.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-5;

/** Every stored blob natively (detections row by row in the fork's order) and through ONNX Runtime (as sets). */
async function againstFork(f: ForkHead, options: { dialect?: 'textboxes' } = {}): Promise<void> {
  const net = await Net.load(f.net, undefined, { ...options, threads: 1 });
  net.forward(f.inputs());
  expectForkBlobs(net, f, TOLERANCE);
  const onnx = await runOnnx(net.graph, f.inputs(), { outputs: f.blobs, threads: 1 });
  for (const blob of f.blobs) {
    if (blob.startsWith('det')) expect(compareDetections(onnx.get(blob)!, f.fork(blob), TOLERANCE), `${blob} ONNX`).toMatchObject({ pass: true });
    else expect(relativeError(onnx.get(blob)!, f.fork(blob)), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
  }
}

const pp = forkHead('textboxespp');
const { fork } = pp;

describe('TextBoxes++ PriorBox and DetectionOutput vs the fork (test/fixtures/textboxespp/head: 256 priors, batch 2, 5 settings)', () => {
  it('every stored blob matches the fork: natively row by row in its order, through ONNX Runtime as sets (outlines within 1e-4)', () => againstFork(pp));

  it('the fixture exercises what it should: denser priors, both outlines, keep_top_k, the empty rows', () => {
    const prior = fork('prior').data;
    // Each box is followed by the same box one cell lower: (h + 1) * 8 against (h + 0.5) * 8, over 32 pixels.
    expect(prior.length).toBe(2 * 256 * 4);
    for (let b = 0; b < 256; b += 2) {
      expect(prior[(b + 1) * 4] - prior[b * 4]).toBe(0);
      expect(prior[(b + 1) * 4 + 1] - prior[b * 4 + 1]).toBeCloseTo(0.125, 6);
    }
    expect(fork('det_quad').dims).toEqual([1, 1, 80, 15]); // keep_top_k 40 for each of 2 images
    expect(fork('det_rbox').dims).toEqual([1, 1, 80, 12]);
    expect(fork('det_default').dims[3]).toBe(15); // unset use_polygon is the fork's true
    expect(fork('det_default').dims[2]).toBeGreaterThan(80);
    expect(fork('det_unshared').dims).toEqual([1, 1, 100, 15]);
    expect([...fork('det_none').data]).toEqual([0, ...Array(14).fill(-1), 1, ...Array(14).fill(-1)]);
  });

  it("an outline that differs is a mismatch (the comparison reads the values after the box)", () => {
    const ref = fork('det_quad'), moved = new Tensor(ref.dims, Float32Array.from(ref.data));
    moved.data[15 * 3 + 9] += 0.01; // row 3's x2
    expect(compareDetections(moved, ref, TOLERANCE)).toMatchObject({ pass: false });
  });
});

describe('TextBoxes++ DetectionOutput refuses, in one line', () => {
  const net = (p: string, loc = 3072, bottoms = '') => () => Net.fromNetParameter(parsePrototxt(`
    layer { name: "in" type: "Input" top: "loc" top: "conf" top: "prior" top: "arm_conf" top: "arm_loc"
      input_param { shape { dim: 1 dim: ${loc} } shape { dim: 1 dim: 768 } shape { dim: 1 dim: 2 dim: 1024 } shape { dim: 1 dim: 512 } shape { dim: 1 dim: 1024 } } }
    layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "prior" ${bottoms} top: "det"
      detection_output_param { num_classes: 3 ${p} } }`, 'textboxes.prototxt') as NetParameter, new Map(), []);

  it('outlines the fork decodes from values it never set, location counts, and two forks at once', () => {
    expect(net('code_type: CENTER_SIZE use_polygon: true')).not.toThrow();
    expect(net('code_type: CENTER_SIZE use_polygon: false', 2304)).not.toThrow();
    expect(net('use_polygon: true')).toThrow("layer 'det' (DetectionOutput): TextBoxes++ decodes its quadrilaterals only with code_type CENTER_SIZE and variance_encoded_in_target false (with CORNER the fork writes values it never set)");
    expect(net('code_type: CENTER_SIZE variance_encoded_in_target: true use_polygon: false', 2304)).toThrow("layer 'det' (DetectionOutput): TextBoxes++ decodes its rotated boxes only with code_type CENTER_SIZE and variance_encoded_in_target false (with CENTER_SIZE and the variances in the target the fork writes values it never set)");
    expect(net('code_type: CENTER_SIZE use_polygon: false')).toThrow("layer 'det' (DetectionOutput): location predictions [1, 3072] have 3072 values per image, but 256 priors need 2304 (9 a prior: TextBoxes++'s box and rotated box, use_polygon false)");
    expect(net('code_type: CENTER_SIZE use_polygon: true', 1024)).toThrow("layer 'det' (DetectionOutput): location predictions [1, 1024] have 1024 values per image, but 256 priors need 3072 (12 a prior: TextBoxes++'s box and quadrilateral, use_polygon true)");
    // Unset, 4 values a prior is the SSD fork's DetectionOutput, as ever.
    expect(net('code_type: CORNER', 1024)).not.toThrow();
    expect(net('code_type: CENTER_SIZE', 3072, 'bottom: "arm_conf" bottom: "arm_loc"')).toThrow("layer 'det' (DetectionOutput): use_polygon (TextBoxes++) and ARM bottoms 4 and 5 (RefineDet) belong to two different forks of DetectionOutput: no Caffe has both");
  });

  it("denser_prior_boxes is not FaceBoxes' Caffe's", () => {
    const param = parsePrototxt(`
      layer { name: "in" type: "Input" top: "data" top: "fmap" input_param { shape { dim: 1 dim: 3 dim: 32 dim: 32 } shape { dim: 1 dim: 4 dim: 4 dim: 4 } } }
      layer { name: "pb" type: "PriorBox" bottom: "fmap" bottom: "data" top: "pb" prior_box_param { min_size: 8 denser_prior_boxes: true } }`, 'pb.prototxt') as NetParameter;
    expect(() => Net.fromNetParameter(param, undefined, [], { dialect: 'faceboxes' })).toThrow("layer 'pb' (PriorBox): denser_prior_boxes is TextBoxes++'s, which FaceBoxes' Caffe does not have: load the net without the faceboxes dialect");
    expect(Net.fromNetParameter(param, undefined, []).shapes.get('pb')).toEqual([1, 2, 4 * 4 * 2 * 4]);
  });
});

const tb = forkHead('textboxes');

describe("TextBoxes' PriorBox and DetectionOutput (the textboxes dialect) vs the fork (test/fixtures/textboxes/head: 128 priors, batch 2)", () => {
  it('every stored blob matches the fork: natively row by row in its order, through ONNX Runtime as sets', () => againstFork(tb, { dialect: 'textboxes' }));

  it('the fixture exercises what it should: float sizes, the denser boxes, clip by default, clipped rows, one empty row', () => {
    const prior = tb.fork('prior').data, clipped = tb.fork('prior_clip').data;
    expect(prior.length).toBe(2 * 128 * 4);
    // The first box of cell (0, 0): 7.5 wide around (4, 4) of 32, not 7 (the later SSD fork truncates min_size).
    expect([...prior.subarray(0, 4)].map((v) => v * 32)).toEqual([0.25, 0.25, 7.75, 7.75].map((v) => expect.closeTo(v, 4)));
    expect(prior[5] - prior[1]).toBeCloseTo(4 / 32, 6); // its denser copy, one half cell lower
    expect(Math.min(...clipped.subarray(0, 96 * 4))).toBe(0); // clip unset clips
    expect(Math.min(...prior.subarray(0, 128 * 4))).toBeLessThan(0);
    for (const blob of ['det', 'det_corner', 'det_unshared']) {
      const rows = tb.fork(blob);
      expect(rows.dims[2], blob).toBeGreaterThan(20);
      const corners = [...rows.data].filter((_, i) => i % 7 >= 3);
      expect(Math.min(...corners), blob).toBe(0);
      expect(Math.max(...corners), blob).toBe(1);
    }
    expect([...tb.fork('det_none').data]).toEqual(Array(7).fill(-1));
  });

  it('without the dialect, the DetectionOutput says which dialect its priors need; with it, what the 2016 fork lacks is refused', async () => {
    await expect(Net.load(tb.net)).rejects.toThrow("layer 'det' (DetectionOutput): location predictions [2, 512] have 512 values per image, but 64 priors need 256; in TextBoxes' Caffe every PriorBox gives twice the priors (each box again one cell lower): for a TextBoxes net, load it with options.dialect 'textboxes'");
    const net = (prior: string, det = '') => () => Net.fromNetParameter(parsePrototxt(`
      layer { name: "in" type: "Input" top: "data" top: "fmap" top: "loc" top: "conf" input_param { shape { dim: 1 dim: 3 dim: 32 dim: 32 } shape { dim: 1 dim: 4 dim: 4 dim: 4 } shape { dim: 1 dim: 128 } shape { dim: 1 dim: 64 } } }
      layer { name: "pb" type: "PriorBox" bottom: "fmap" bottom: "data" top: "pb" prior_box_param { min_size: 8 ${prior} } }
      layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "pb" top: "det" detection_output_param { num_classes: 2 ${det} } }`, 'tb.prototxt') as NetParameter, undefined, [], { dialect: 'textboxes' });
    expect(net('')).not.toThrow();
    expect(net('step: 8 offset: 0.5')).toThrow("layer 'pb' (PriorBox): step, offset: not in TextBoxes' Caffe (the SSD fork of 2016), which the textboxes dialect follows; load the net without the dialect");
    expect(net('min_size: 16')).toThrow("layer 'pb' (PriorBox): TextBoxes' Caffe takes one min_size and at most one max_size, got 2 and 0");
    expect(net('', 'code_type: CORNER_SIZE nms_param { eta: 0.9 }')).toThrow("layer 'det' (DetectionOutput): nms_param.eta, code_type CORNER_SIZE: not in TextBoxes' Caffe (the SSD fork of 2016), which the textboxes dialect follows; load the net without the dialect");
  });
});

describe("crema detect's TextBoxes++ rows", () => {
  it('a row of 15 gives its quadrilateral in pixels, drawn as a polygon; rows of 12 give their box', () => {
    const rows = new Tensor([1, 1, 2, 15], Float32Array.from([
      0, 1, 0.9, 0.1, 0.2, 0.5, 0.4, 0.1, 0.2, 0.5, 0.25, 0.5, 0.4, 0.1, 0.35,
      0, 1, 0.3, 0.1, 0.2, 0.5, 0.4, 0, 0, 0, 0, 0, 0, 0, 0,
    ]));
    const [found, ...rest] = detectionsOf(rows, 0, 200, 100, 0.5);
    expect(rest).toEqual([]);
    expect(found.quad!.map((v) => Math.round(v * 1000) / 1000)).toEqual([20, 20, 100, 25, 100, 40, 20, 35]);
    expect(found.xmax).toBeCloseTo(100, 4);
    expect(detectionsSvg(200, 100, [found])).toContain('<polygon points="20 20 100 25 100 40 20 35"');
    const rbox = detectionsOf(new Tensor([1, 1, 1, 12], Float32Array.from([0, 2, 0.8, 0.1, 0.2, 0.5, 0.4, 0, 0, 0, 0, 0])), 0, 200, 100, 0.5);
    expect(rbox).toEqual([{ label: 2, name: null, score: expect.closeTo(0.8, 6), xmin: expect.closeTo(20, 4), ymin: expect.closeTo(20, 4), xmax: expect.closeTo(100, 4), ymax: expect.closeTo(40, 4) }]);
  });
});

describe("TextBoxes++'s demo's polygon NMS after the net (detect's quadNms) vs the demo's own nms.py (test/fixtures/textboxespp/quad-nms.json)", () => {
  interface Case { width: number; height: number; overlap: number; threshold: number; rows: number[][]; kept: number[][] }
  const { cases } = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'fixtures/textboxespp/quad-nms.json'), 'utf8')) as { cases: Case[] };
  const rowsOf = (c: Case) => new Tensor([1, 1, c.rows.length, 15], Float32Array.from(c.rows.flat()));
  // What the demo writes of a kept row: its corners rounded (halves away from zero) and kept within the image.
  const demoForm = (d: Detection, c: Case) => [...d.quad!.map((v, i) => {
    const size = i % 2 ? c.height : c.width;
    return Math.max(1, Math.min(Math.sign(v) * Math.round(Math.abs(v)), size - 1));
  }), d.score];

  it.each(cases.map((c, i) => [i, c] as const))('case %i: the same rows kept, in the same order', (_, c) => {
    const kept = imageDetections(rowsOf(c), c, { threshold: c.threshold, quadNms: c.overlap });
    expect(kept.map((d) => demoForm(d, c))).toEqual(c.kept.map((k) => [...k.slice(0, 8), Math.fround(k[8])]));
    // The cases exercise it: NMS drops rows that the threshold kept.
    expect(kept.length).toBeLessThan(imageDetections(rowsOf(c), c, { threshold: c.threshold }).length);
  });

  it('refuses a net without quadrilaterals and an overlap out of range, in one line', async () => {
    expect(() => imageDetections(new Tensor([1, 1, 1, 7], new Float32Array(7)), { width: 10, height: 10 }, { quadNms: 0.2 }))
      .toThrow("quadNms: the net's detections have no quadrilaterals (rows of 7; TextBoxes++'s DetectionOutput with use_polygon gives rows of 15)");
    const net = await Net.load(forkHead('textboxespp').net);
    const image = { width: 8, height: 8, channels: 3, data: new Float32Array(192) };
    expect(() => detectionJob(net, image, { quadNms: 1.5 })).toThrow('quadNms: the overlap above which a quadrilateral is dropped, from 0 to 1 (TextBoxes++\'s demo: 0.2), got 1.5');
  });
});
