// MhLiao/TextBoxes_plusplus's PriorBox (denser_prior_boxes) and DetectionOutput (use_polygon: a quadrilateral after
// each box, or a rotated box with false) against the fork's own Caffe (test/fixtures/textboxespp, made by
// make-fixtures.sh with the fork ../fork-chroot.sh textboxespp builds), natively and through ONNX Runtime; its one-line
// refusals of what the fork would write from values it never set; crema detect's quadrilaterals. The published
// deploy net whole is in test/fork-nets.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { detectionsOf } from '../src/detect/detect.js';
import { detectionsSvg } from '../src/detect/draw.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { compareDetections } from '../src/verify/detections.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-5;
const head = path.join(import.meta.dirname, 'fixtures/textboxespp/head');
const manifest = JSON.parse(fs.readFileSync(path.join(head, 'manifest.json'), 'utf8')) as { inputs: string[]; blobs: string[] };
const fork = (blob: string) => readNpy(path.join(head, 'blobs', `${blob}.npy`));
const inputs = () => Object.fromEntries(manifest.inputs.map((name) => [name, readNpy(path.join(head, 'inputs', `${name}.npy`))]));
const detections = manifest.blobs.filter((b) => b.startsWith('det'));

describe('TextBoxes++ PriorBox and DetectionOutput vs the fork (test/fixtures/textboxespp/head: 256 priors, batch 2, 5 settings)', () => {
  it('every stored blob matches the fork natively, detections row by row in its order', async () => {
    const net = await Net.load(path.join(head, 'net.prototxt'), undefined, { threads: 1 });
    net.forward(inputs());
    for (const blob of manifest.blobs) {
      const ref = fork(blob), ours = net.blobs.get(blob)!;
      expect([...ours.dims], `shape of ${blob}`).toEqual([...ref.dims]);
      expect(relativeError(ours, ref), `blob ${blob}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

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

  it('through ONNX Runtime: the same detections as sets, outlines within 1e-4', async () => {
    const net = await Net.load(path.join(head, 'net.prototxt'));
    const onnx = await runOnnx(net.graph, inputs(), { outputs: manifest.blobs, threads: 1 });
    expect(relativeError(onnx.get('prior')!, fork('prior'))).toBeLessThanOrEqual(TOLERANCE);
    for (const blob of detections) expect(compareDetections(onnx.get(blob)!, fork(blob), TOLERANCE), blob).toMatchObject({ pass: true });
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
