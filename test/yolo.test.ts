// eric612/MobileNet-YOLO's layers (Reorg, YoloDetectionOutput, Yolov3DetectionOutput) against the fork's own Caffe
// (test/fixtures/yolo, made by make-fixtures.sh with the fork fork-chroot.sh yolo builds): raw heads natively and through
// ONNX Runtime, crema detect on a photo through MobileNet-YOLOv3-lite, and the one-line refusals of what would make
// the fork read outside its blobs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { type Detection, detectionBlob, detectionsOf } from '../src/detect/detect.js';
import { yoloClasses } from '../src/layers/yolo_detection_output.js';
import { convertGraph } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { compareDetections } from '../src/verify/detections.js';
import { spawnCli } from './helpers/cli.js';
import { expectForkBlobs, forkHead } from './helpers/fork-head.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-5;
const head = forkHead('yolo'), { fork, inputs } = head;
const isDetection = (blob: string) => blob.startsWith('v2_') || blob.startsWith('v3_');

describe('YOLO layers vs the fork (test/fixtures/yolo/head: raw heads of batch 2, 7 detection settings, Reorg both ways)', () => {
  it('every stored blob matches the fork natively, detections row by row in its order', async () => {
    const net = await Net.load(head.net, undefined, { threads: 1 });
    net.forward(inputs());
    expectForkBlobs(net, head, TOLERANCE);
  });

  it('the fixture exercises the quirks: many detections from both images, all of image 0; "none" rows per image', () => {
    for (const blob of ['v3_two', 'v3_one', 'v2_one', 'v2_two', 'v2_fewer']) {
      const rows = fork(blob);
      expect(rows.dims[2], `${blob} rows`).toBeGreaterThan(10);
      for (let r = 0; r < rows.dims[2]; r++) expect(rows.data[r * 7], `${blob} image column`).toBe(0);
    }
    expect([...fork('v3_none').data]).toEqual([0, -1, -1, -1, -1, -1, -1, 1, -1, -1, -1, -1, -1, -1]);
    expect([...fork('v2_none').data]).toEqual([0, -1, -1, -1, -1, -1, -1, 1, -1, -1, -1, -1, -1, -1]);
  });

  it('through ONNX Runtime: the same detections as sets, Reorg exactly', async () => {
    const net = await Net.load(head.net);
    const onnx = await runOnnx(net.graph, inputs(), { outputs: head.blobs, threads: 1 });
    for (const blob of head.blobs) {
      if (isDetection(blob)) expect(compareDetections(onnx.get(blob)!, fork(blob), TOLERANCE), `detections ${blob}`).toMatchObject({ pass: true });
      else expect(relativeError(onnx.get(blob)!, fork(blob)), blob).toBe(0);
    }
    const { notes } = convertGraph(net.graph);
    expect(notes).toContain("layer 'v3_two' (Yolov3DetectionOutput): ONNX's NonMaxSuppression drops a box whose IoU with a better one is above 0.45, the fork's at or above it; and may order equal scores otherwise (crema verify compares detections as sets)");
  });
});

function netOf(text: string): Net {
  return Net.fromNetParameter(parsePrototxt(text, 'yolo.prototxt') as NetParameter, new Map(), []);
}
const input = (name: string, dims: readonly number[]) => `layer { name: "${name}" type: "Input" top: "${name}" input_param { shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } } }`;
const v3 = (bottoms: string[], p: string) => `layer { name: "det" type: "Yolov3DetectionOutput" ${bottoms.map((b) => `bottom: "${b}"`).join(' ')} top: "det" yolov3_detection_output_param { ${p} } }`;
const v2 = (bottoms: string[], p: string) => `layer { name: "det" type: "YoloDetectionOutput" ${bottoms.map((b) => `bottom: "${b}"`).join(' ')} top: "det" yolo_detection_output_param { ${p} } }`;
const anchors = 'biases: 10 biases: 14 biases: 23 biases: 27 biases: 37 biases: 58';

describe('crema detect takes YOLO nets', () => {
  const root = path.join(import.meta.dirname, '..');
  const source = path.join(import.meta.dirname, 'fixtures/forknets/yolov3_lite/source.prototxt');
  const cat = path.join(root, 'models/cifar10_full/examples/cat.jpg');
  const CAT = { width: 451, height: 260 };

  it('MobileNet-YOLOv3-lite on the cat photo: the fork\'s detections in the photo\'s pixels, named with label 0 first', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-yolo-'));
    try {
      const weights = path.join(dir, 'w.caffemodel'), labels = path.join(dir, 'voc.txt'), short = path.join(dir, 'short.txt');
      const net = path.join(dir, 'yolov3_lite.prototxt'); // at 160 x 160, as make-fixtures.sh ran the fork
      fs.writeFileSync(net, fs.readFileSync(source, 'utf8').replaceAll('dim: 320', 'dim: 160'));
      execFileSync('node', [path.join(import.meta.dirname, 'fixtures/forknets/make-forknets.mjs'), 'weights', 'yolov3_lite', weights, path.join(dir, 'unused.npy')]);
      fs.writeFileSync(labels, Array.from({ length: 21 }, (_, i) => (i ? `c${i}` : 'none')).join('\n'));
      fs.writeFileSync(short, Array.from({ length: 20 }, (_, i) => `c${i + 1}`).join('\n'));
      const flags = ['--mean', '127.5,127.5,127.5', '--input-scale', '0.007843', '--threads', '1', '--threshold', '0.5', '--json'];
      const forkRows = detectionsOf(readNpy(path.join(import.meta.dirname, 'fixtures/yolo/cat/detection_out.npy')), 0, CAT.width, CAT.height, 0.5);
      expect(forkRows.length).toBeGreaterThan(10);
      for (const backend of ['native', 'onnx']) {
        const r = await spawnCli(root, 'detect', net, weights, cat, ...flags, '--labels', labels, '--backend', backend);
        expect([r.code, r.stderr], backend).toEqual([0, '']);
        const found = (JSON.parse(r.stdout) as { images: { detections: Detection[] }[] }).images[0].detections;
        const order = (list: Detection[]) => [...list].sort((p, q) => q.score - p.score || p.xmin - q.xmin);
        const [ours, theirs] = [order(found), order(forkRows)];
        expect(ours.length, backend).toBe(theirs.length);
        ours.forEach((d, i) => {
          expect(d.label, backend).toBe(theirs[i].label);
          expect(Math.abs(d.score - theirs[i].score), backend).toBeLessThan(1e-4);
          for (const k of ['xmin', 'ymin', 'xmax', 'ymax'] as const) expect(Math.abs(d[k] - theirs[i][k]), `${backend} ${k}`).toBeLessThan(0.05); // pixels
        });
        expect(found.every((d) => d.name === `c${d.label}`), backend).toBe(true);
      }
      const warned = await spawnCli(root, 'detect', net, weights, cat, ...flags, '--labels', short);
      expect(warned.stderr).toBe(`warning: ${short} has 20 labels, Yolov3DetectionOutput 'detection_out' gives labels 1 to 20 (the first line names label 0, which it never gives)\n`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("finds the detection blob of either layer, and reads the class count a labels file should name (plus label 0)", () => {
    const v3net = netOf(`${input('x', [1, 27, 4, 4])} ${v3(['x'], `num_classes: 4 ${anchors} mask: 0 mask: 1 mask: 2 anchors_scale: 32 mask_group_num: 1`)}`);
    const v2net = netOf(`${input('x', [1, 45, 4, 4])} ${v2(['x'], 'num_classes: 4 biases: 1 biases: 1 biases: 2 biases: 2 biases: 3 biases: 3 biases: 4 biases: 4 biases: 5 biases: 5')}`);
    expect([detectionBlob(v3net), detectionBlob(v2net)]).toEqual(['det', 'det']);
    expect([yoloClasses(v3net.layers[1].def), yoloClasses(v2net.layers[1].def)]).toEqual([4, 4]);
  });
});

describe('YOLO layers refuse, in one line, what would make the fork read or write outside its blobs', () => {
  it('Reorg', () => {
    const reorg = (dims: number[], p: string, top = 'y') => () => netOf(`${input('x', dims)} layer { name: "reorg" type: "Reorg" bottom: "x" top: "${top}" ${p} }`);
    expect(reorg([1, 8, 4, 4], '')).toThrow("layer 'reorg' (Reorg): needs reorg_param { stride }");
    expect(reorg([1, 6, 4, 4], 'reorg_param { stride: 2 }')).toThrow("layer 'reorg' (Reorg): channels 6 are not a multiple of stride^2 = 4");
    expect(reorg([1, 8, 5, 4], 'reorg_param { stride: 2 }')).toThrow("layer 'reorg' (Reorg): height and width 5 x 4 are not multiples of stride 2");
    expect(reorg([1, 8, 4, 4], 'reorg_param { stride: 2 }', 'x')).toThrow("layer 'reorg' (Reorg): does not allow in-place computation (top 'x' is also a bottom)");
    expect(reorg([1, 8, 5, 3], 'reorg_param { stride: 2 reverse: true }')().shapes.get('y')).toEqual([1, 2, 10, 6]);
  });

  it('YoloDetectionOutput', () => {
    const one = (dims: number[], p: string) => () => netOf(`${input('x', dims)} ${v2(['x'], p)}`);
    const biases = 'biases: 1 biases: 1 biases: 2 biases: 2';
    expect(one([1, 18, 4, 4], `num_box: 2 ${biases}`)).toThrow("layer 'det' (YoloDetectionOutput): needs yolo_detection_output_param { num_classes } (the fork requires it)");
    expect(one([1, 18, 4, 5], `num_classes: 4 num_box: 2 ${biases}`)).toThrow("layer 'det' (YoloDetectionOutput): the fork reads a square grid (side = the width, 5); got 4 x 5");
    expect(one([1, 16, 4, 4], `num_classes: 4 num_box: 2 ${biases}`)).toThrow("layer 'det' (YoloDetectionOutput): channels 16 must be num_box (2) times at least 5 + num_classes (9)");
    expect(one([1, 18, 4, 4], 'num_classes: 4 num_box: 2 biases: 1 biases: 1')).toThrow("layer 'det' (YoloDetectionOutput): needs 2 biases (anchor width, height) per box: num_box 2, 2 biases");
    expect(() => netOf(`${input('a', [1, 18, 4, 4])} ${input('b', [2, 18, 2, 2])} ${v2(['a', 'b'], `num_classes: 4 num_box: 2 ${biases}`)}`))
      .toThrow("layer 'det' (YoloDetectionOutput): its bottoms have batch sizes 1 and 2");
  });

  it('Yolov3DetectionOutput', () => {
    const one = (dims: number[], p: string) => () => netOf(`${input('x', dims)} ${v3(['x'], p)}`);
    expect(one([1, 27, 4, 4], `num_classes: 4 ${anchors} mask: 0 mask: 1 mask: 2 anchors_scale: 32`)).toThrow("layer 'det' (Yolov3DetectionOutput): mask_group_num (2) must be its number of bottoms (1)");
    expect(one([1, 27, 4, 4], `${anchors} mask: 0 mask: 1 mask: 2 anchors_scale: 32 mask_group_num: 1`)).toThrow("layer 'det' (Yolov3DetectionOutput): needs yolov3_detection_output_param { num_classes } (the fork requires it)");
    expect(one([1, 27, 4, 4], `num_classes: 4 ${anchors} mask: 0 mask: 1 mask: 2 mask_group_num: 1`)).toThrow("layer 'det' (Yolov3DetectionOutput): needs an anchors_scale per bottom: 1 bottoms, 0 given");
    expect(one([1, 27, 4, 4], `num_classes: 4 ${anchors} mask: 0 mask: 1 mask: 3 anchors_scale: 32 mask_group_num: 1`)).toThrow("layer 'det' (Yolov3DetectionOutput): mask 3 has no anchor in biases (3 anchors)");
    expect(one([1, 27, 4, 4], `num_classes: 4 ${anchors} mask: 0 mask: 1 anchors_scale: 32 mask_group_num: 1`)).toThrow("layer 'det' (Yolov3DetectionOutput): mask has 2 anchors: too few for 1 heads of num_box 3 (mask_group_num 1)");
    expect(one([1, 39, 4, 4], `num_classes: 4 ${anchors} mask: 0 mask: 1 mask: 2 anchors_scale: 32 mask_group_num: 1 gaussian_box: true`)).toThrow("layer 'det' (Yolov3DetectionOutput): gaussian_box: the fork's CPU code never finds a box (the objectness it reads is never set) and its GPU code counts one uncertainty twice; crema runs neither");
    expect(one([1, 26, 4, 4], `num_classes: 4 ${anchors} mask: 0 mask: 1 mask: 2 anchors_scale: 32 mask_group_num: 1`)).toThrow("layer 'det' (Yolov3DetectionOutput): channels 26 are fewer than num_box (3) times 9 (5 + num_classes)");
  });
});
