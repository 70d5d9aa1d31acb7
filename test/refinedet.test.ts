// sfzhang15/RefineDet's DetectionOutput (the SSD fork's, with the anchor refinement module's two bottoms: objectness
// arm_conf, and arm_loc refining the priors before the ODM's locations are decoded against them) against the fork's
// own Caffe (test/fixtures/refinedet, made by make-fixtures.sh with the fork ../fork-chroot.sh builds), natively and
// through ONNX Runtime, and its one-line refusals of what would make the fork read outside its blobs.
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { compareDetections } from '../src/verify/detections.js';
import { expectForkBlobs, forkHead } from './helpers/fork-head.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-5;
const head = forkHead('refinedet'), { fork, inputs } = head;
const detections = head.blobs.filter((b) => b.startsWith('det'));

describe('RefineDet DetectionOutput vs the fork (test/fixtures/refinedet/head: 64 priors, batch 2, 5 settings)', () => {
  it('every stored blob matches the fork natively, detections row by row in its order', async () => {
    const net = await Net.load(head.net, undefined, { threads: 1 });
    net.forward(inputs());
    expectForkBlobs(net, head, TOLERANCE);
  });

  it('the fixture exercises what it should: the ARM moves the boxes, objectness filters, keep_top_k cuts', () => {
    const rows = (blob: string) => fork(blob).dims[2];
    // det4 decodes against the plain priors, det5 against the refined ones: their boxes differ.
    expect(rows('det5')).toBe(60); // keep_top_k 30 for each of 2 images
    expect(relativeError(fork('det5'), fork('det4'))).toBeGreaterThan(0.01);
    // Each objectness_score of the net leaves some priors to the background and keeps others (0.01 none: the default).
    const objectness = head.input('arm_conf').data.filter((_, i) => i % 2 === 1);
    for (const score of [0.2, 0.3, 0.45]) {
      const below = objectness.filter((v) => v < score).length;
      expect(below, `objectness below ${score}`).toBeGreaterThan(10);
      expect(below, `objectness below ${score}`).toBeLessThan(objectness.length - 10);
    }
    expect(rows('det5_os')).toBe(100); // keep_top_k 50 for each image
    expect([...fork('det5_none').data]).toEqual([0, -1, -1, -1, -1, -1, -1, 1, -1, -1, -1, -1, -1, -1]);
  });

  it('through ONNX Runtime: the same detections as sets', async () => {
    const net = await Net.load(head.net);
    const onnx = await runOnnx(net.graph, inputs(), { outputs: detections, threads: 1 });
    for (const blob of detections) expect(compareDetections(onnx.get(blob)!, fork(blob), TOLERANCE), blob).toMatchObject({ pass: true });
  });
});

describe('RefineDet DetectionOutput refuses, in one line', () => {
  const net = (p: string, armConf = 128, armLoc = 256, loc = 256) => () => Net.fromNetParameter(parsePrototxt(`
    layer { name: "in" type: "Input" top: "loc" top: "conf" top: "prior" top: "arm_conf" top: "arm_loc"
      input_param { shape { dim: 1 dim: ${loc} } shape { dim: 1 dim: 256 } shape { dim: 1 dim: 2 dim: 256 } shape { dim: 1 dim: ${armConf} } shape { dim: 1 dim: ${armLoc} } } }
    layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "prior" bottom: "arm_conf" bottom: "arm_loc" top: "det"
      detection_output_param { num_classes: 4 ${p} } }`, 'refinedet.prototxt') as NetParameter, new Map(), []);

  it('ARM inputs of the wrong size, and ARM locations without share_location', () => {
    expect(net('')).not.toThrow();
    expect(net('', 127)).toThrow("layer 'det' (DetectionOutput): ARM confidences (bottom 3) [1, 127] must hold 2 values per prior for each of the 1 images (64 priors)");
    expect(net('', 128, 250)).toThrow("layer 'det' (DetectionOutput): ARM locations (bottom 4) [1, 250] must hold 4 values per prior for each of the 1 images (64 priors)");
    expect(net('share_location: false', 128, 256, 1024)).toThrow("layer 'det' (DetectionOutput): ARM locations (bottom 4) need share_location: the fork reads them as shared and aborts otherwise");
  });
});
