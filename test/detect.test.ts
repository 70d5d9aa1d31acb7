// crema detect and the library's detect(): an image through MobileNet-SSD (synthetic weights rebuilt from the
// fixture's spec.json) against the SSD fork's detections for the same prepared input, the JSON and text
// output, the drawn PNG, labels files, and the refusals.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCaffemodel } from '../src/caffe/caffemodel.js';
import { readNetPrototxt } from '../src/caffe/load.js';
import { type Detection, detect, detectImage, detectionsOf, parseLabels } from '../src/index.js';
import { readMean } from '../src/image/mean.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { spawnCli } from './helpers/cli.js';
import { hashWeightBlobs } from './helpers/hashweights.mjs';
import { expectSameDetections } from './helpers/detections.js';

const fixture = path.join(import.meta.dirname, 'fixtures/ssd/mobilenet_ssd');
const prototxt = path.join(fixture, 'net.prototxt');
const cat = path.join(import.meta.dirname, '../models/cifar10_full/examples/cat.jpg');
const CAT = { width: 451, height: 260 };
const layers = hashWeightBlobs(path.join(fixture, 'spec.json'), 'ssd', 0.5);
const geo = { channels: 3, height: 300, width: 300 };
const options = { mean: readMean('127.5,127.5,127.5', geo), inputScale: 0.007843 };
const flags = ['--mean', '127.5,127.5,127.5', '--input-scale', '0.007843', '--threads', '1'];
const crema = (...args: string[]) => spawnCli(path.join(import.meta.dirname, '..'), ...args);
const fork = readNpy(path.join(fixture, 'blobs_cat/detection_out.npy'));

let dir: string, weights: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-detect-'));
  weights = path.join(dir, 'mobilenet_ssd.caffemodel');
  const net = { name: 'net', layer: layers.map((l) => ({ name: l.name, type: l.type, blobs: l.blobs.map((b) => ({ shape: { dim: b.shape }, data: b.data })) })) };
  fs.writeFileSync(weights, encodeCaffemodel(net));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The fork's rows for the cat at a threshold, as detect reports them (pixels of the 451 x 260 photo). */
const forkDetections = (threshold: number) => detectionsOf(fork, 0, CAT.width, CAT.height, threshold);

/** The fork's order of rows whose order ONNX does not keep: by label, then score (best first), then position. */
const byRow = (a: Detection, b: Detection) => a.label - b.label || b.score - a.score || a.xmin - b.xmin;

function expectSame(ours: Detection[], theirs: Detection[]): void {
  expect(ours.length).toBe(theirs.length);
  ours.forEach((d, i) => {
    expect(d.label).toBe(theirs[i].label);
    expect(d.score).toBeCloseTo(theirs[i].score, 4);
    for (const k of ['xmin', 'ymin', 'xmax', 'ymax'] as const) expect(Math.abs(d[k] - theirs[i][k])).toBeLessThan(0.05); // pixels
  });
}

describe('detect (library)', () => {
  it('gives the fork\'s detections for the cat photo, in its order, boxes in the photo\'s pixels', async () => {
    const net = Net.fromNetParameter(readNetPrototxt(prototxt), new Map(layers.map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))])), [], { threads: 1 });
    const found = await detect(net, cat, { ...options, threshold: 0.6 });
    expect(found.length).toBeGreaterThan(10);
    expectSame(found, forkDetections(0.6));
    expect(found[0]).toEqual({ ...found[0], name: null });
    // Bytes in, labels, and the default threshold of 0.5.
    const named = await detect(net, fs.readFileSync(cat), { ...options, labels: Array.from({ length: 21 }, (_, i) => `c${i}`) });
    expectSame(named, forkDetections(0.5));
    expect(named.every((d) => d.name === `c${d.label}`)).toBe(true);
  });

  it("backend 'onnx': the native detections (as a set: ONNX's NonMaxSuppression orders them its own way), hence the fork's", async () => {
    const net = Net.fromNetParameter(readNetPrototxt(prototxt), new Map(layers.map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))])), [], { threads: 1 });
    try {
      const labels = Array.from({ length: 21 }, (_, i) => `c${i}`);
      const native = await detect(net, cat, { ...options, threshold: 0.6, labels });
      const onnx = await detect(net, cat, { ...options, threshold: 0.6, labels, backend: 'onnx' });
      expect(native.length).toBeGreaterThan(10);
      expectSameDetections(onnx, native, 1e-4);
      expectSame([...onnx].sort(byRow), [...forkDetections(0.6)].sort(byRow));
      // The session is kept for the next image (bytes this time), and the net still runs natively after it.
      expectSameDetections(await detect(net, fs.readFileSync(cat), { ...options, backend: 'onnx' }), await detect(net, cat, { ...options, backend: 'native' }), 1e-4);
    } finally {
      await net.dispose();
    }
    await expect(detect(net, cat, { ...options, backend: 'onnx' })).rejects.toThrow(/^this net was disposed$/);
  }, 60_000);

  it('refuses a backend other than native and onnx, in one line, before reading the image', async () => {
    const net = Net.fromNetParameter(readNetPrototxt(prototxt), new Map(), [], { threads: 1 });
    await expect(detect(net, 'no-such.jpg', { backend: 'gpu' as 'onnx' })).rejects.toThrow(/^detect: options\.backend is 'native' or 'onnx', got 'gpu'$/);
    await expect(detect(net, 'no-such.jpg', { backend: 1 as unknown as 'onnx' })).rejects.toThrow(/^detect: options\.backend is 'native' or 'onnx', got a number$/);
    // detectImage (a decoded image, crema's engine) leaves the ONNX backend to detect rather than ignore it.
    expect(() => detectImage(net, { width: 2, height: 2, channels: 3, data: new Float32Array(12) }, { backend: 'onnx' })).toThrow(/^detectImage runs crema's engine: for options\.backend 'onnx' call detect$/);
    // SSH's image pyramid is its own
    expect(() => detectImage(net, { width: 2, height: 2, channels: 3, data: new Float32Array(12) }, { pyramid: true })).toThrow(/^pyramid: SSH's only \(its demo\.py's image pyramid\); this net is an SSD- or YOLO-style one$/);
  });

  it('refuses a net without a detection layer', async () => {
    const net = await Net.load(path.join(import.meta.dirname, '../models/lenet/deploy.prototxt'), path.join(import.meta.dirname, '../models/lenet/weights.caffemodel'));
    await expect(detect(net, path.join(import.meta.dirname, '../models/lenet/examples/digit-2.png'))).rejects.toThrow(
      "net 'LeNet' has no detection layer (DetectionOutput, YoloDetectionOutput, Yolov3DetectionOutput) nor a Proposal layer (Faster R-CNN, unsky/FPN): detect runs SSD- and YOLO-style nets, Faster R-CNN and FPN (classify runs classifiers)",
    );
  });

  it('reads labels one a line or as the fork\'s labelmap prototxt', () => {
    expect(parseLabels('background\ncat\ndog\n')).toEqual(['background', 'cat', 'dog']);
    const labelmap = 'item {\n  name: "none_of_the_above"\n  label: 0\n  display_name: "background"\n}\nitem { name: "n02" label: 2 display_name: "dog" }\nitem { name: "cat" label: 1 }\n';
    expect(parseLabels(labelmap)).toEqual(['background', 'cat', 'dog']);
  });
});

describe('crema detect', () => {
  it.each(['native', 'onnx'])('--json: one object, per image the fork\'s detections above the threshold (--backend %s)', async (backend) => {
    const r = await crema('detect', prototxt, weights, cat, ...flags, '--backend', backend, '--threshold', '0.6', '--json');
    expect(r.code).toBe(0);
    const { images: [out], skipped } = JSON.parse(r.stdout) as { images: { image: string; width: number; height: number; detections: Detection[] }[]; skipped: unknown[] };
    expect(skipped).toEqual([]);
    expect(out).toMatchObject({ image: cat, ...CAT });
    expectSame(out.detections, forkDetections(0.6));
  });

  it('text, and -o DIR: the photo with its boxes drawn, as PNG', async () => {
    const out = path.join(dir, 'drawn');
    const r = await crema('detect', prototxt, weights, cat, ...flags, '--threshold', '0.78', '-o', out);
    expect(r.code).toBe(0);
    const best = forkDetections(0.78);
    expect(best.length).toBeGreaterThan(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`---------- Detections in ${cat} (451 x 260) ----------`);
    expect(lines[1]).toBe(`${best[0].score.toFixed(4)} - "class ${best[0].label}" at [${[best[0].xmin, best[0].ymin, best[0].xmax, best[0].ymax].map(Math.round).join(', ')}]`);
    expect(lines.length).toBe(1 + best.length);
    const { default: sharp } = await import('sharp');
    const drawn = await sharp(path.join(out, 'cat.png')).raw().toBuffer({ resolveWithObject: true });
    expect(drawn.info).toMatchObject({ width: 451, height: 260, channels: 3 });
    const photo = await sharp(cat).raw().toBuffer();
    // The box edges changed pixels; most of the photo is untouched.
    let changed = 0;
    for (let i = 0; i < photo.length; i++) if (Math.abs(photo[i] - drawn.data[i]) > 40) changed++;
    expect(changed).toBeGreaterThan(500);
    expect(changed).toBeLessThan(photo.length / 3);
  });

  it('says so when nothing scores enough; refuses a classifier and a bad threshold', async () => {
    const none = await crema('detect', prototxt, weights, cat, ...flags, '--threshold', '0.99');
    expect(none.stdout.split('\n')[1]).toBe('(none scoring 0.99 or more)');
    const lenet = await crema('detect', path.join(import.meta.dirname, '../models/lenet/deploy.prototxt'), path.join(import.meta.dirname, '../models/lenet/weights.caffemodel'), cat);
    expect(lenet.code).toBe(2);
    expect(lenet.stderr).toContain("net 'LeNet' has no detection layer (DetectionOutput, YoloDetectionOutput, Yolov3DetectionOutput) nor a Proposal layer (Faster R-CNN, unsky/FPN)");
    // refused from the prototxt, before the weights are read: a missing weights file is not reached
    const early = await crema('detect', path.join(import.meta.dirname, '../models/lenet/deploy.prototxt'), path.join(dir, 'no-such.caffemodel'), cat);
    expect([early.code, early.stderr]).toEqual([2, "crema: net 'LeNet' has no detection layer (DetectionOutput, YoloDetectionOutput, Yolov3DetectionOutput) nor a Proposal layer (Faster R-CNN, unsky/FPN): detect runs SSD- and YOLO-style nets, Faster R-CNN and FPN (classify runs classifiers)\n"]);
    const labels = path.join(dir, 'missing.txt'); // as every file a user names says it (test/file-errors)
    const unlabelled = await crema('detect', prototxt, weights, cat, ...flags, '--labels', labels);
    expect([unlabelled.code, unlabelled.stderr]).toEqual([2, `crema: ${labels}: no such file\n`]);
    const bad = await crema('detect', prototxt, weights, cat, '--threshold', 'high');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--threshold');
    // TextBoxes++'s polygon NMS on a net of plain boxes.
    const quads = await crema('detect', prototxt, weights, cat, ...flags, '--quad-nms', '0.2');
    expect([quads.code, quads.stderr]).toEqual([2, "crema: quadNms: the net's detections have no quadrilaterals (rows of 7; TextBoxes++'s DetectionOutput with use_polygon gives rows of 15)\n"]);
  });
});

describe('a saturated SSD: corners past float32 (its box width exp(0.1 x 1000) x the prior is inf, as in Caffe\'s DecodeBBox)', () => {
  // Input 3 x 4 x 4; one prior per position (min_size 2); loc's bias gives every box a width offset of 1000 (x its
  // variance 0.1: exp(100), past float32) and a height offset of 0; conf's gives class 1 a score of 0.9.
  const text = `name: "saturated"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } } }
layer { name: "loc" type: "Convolution" bottom: "data" top: "loc" convolution_param { num_output: 4 kernel_size: 1 } }
layer { name: "loc_perm" type: "Permute" bottom: "loc" top: "loc_perm" permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "loc_flat" type: "Flatten" bottom: "loc_perm" top: "loc_flat" }
layer { name: "conf" type: "Convolution" bottom: "data" top: "conf" convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "conf_perm" type: "Permute" bottom: "conf" top: "conf_perm" permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "conf_flat" type: "Flatten" bottom: "conf_perm" top: "conf_flat" }
layer { name: "prior" type: "PriorBox" bottom: "data" bottom: "data" top: "prior" prior_box_param { min_size: 2 variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 } }
layer { name: "out" type: "DetectionOutput" bottom: "loc_flat" bottom: "conf_flat" bottom: "prior" top: "out"
  detection_output_param { num_classes: 2 share_location: true background_label_id: 0 nms_param { nms_threshold: 0.45 top_k: 20 } keep_top_k: 20 code_type: CENTER_SIZE confidence_threshold: 0.01 } }
`;
  const blobs = [
    { name: 'loc', blobs: [{ shape: [4, 3, 1, 1], data: new Float32Array(12) }, { shape: [4], data: Float32Array.of(0, 0, 1000, 0) }] },
    { name: 'conf', blobs: [{ shape: [2, 3, 1, 1], data: new Float32Array(6) }, { shape: [2], data: Float32Array.of(0.1, 0.9) }] },
  ];
  const reason = "not finite: xmin -inf, xmax inf (the net's output past float32's range, as Caffe computes it: weights that saturate the net)";
  let net: string, model: string;
  beforeAll(() => {
    net = path.join(dir, 'saturated.prototxt');
    model = path.join(dir, 'saturated.caffemodel');
    fs.writeFileSync(net, text);
    fs.writeFileSync(model, encodeCaffemodel({ name: 'saturated', layer: blobs.map((l) => ({ name: l.name, type: 'Convolution', blobs: l.blobs.map((b) => ({ shape: { dim: b.shape }, data: b.data })) })) }));
  });

  it('the library gives the infinite corners as they are, with a reason; the finite ones have none', async () => {
    const ssd = Net.fromNetParameter(readNetPrototxt(net), new Map(blobs.map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))])), [], { threads: 1 });
    const found = await detect(ssd, cat);
    expect(found.length).toBeGreaterThan(0);
    for (const d of found) {
      expect(d).toMatchObject({ label: 1, xmin: -Infinity, xmax: Infinity, reason });
      expect(d.score).toBeCloseTo(0.9, 6);
      expect(Number.isFinite(d.ymin) && Number.isFinite(d.ymax)).toBe(true);
    }
    expect(detectionsOf(ssd.blobs.get('out')!, 0, 4, 4, 0.5)[0]).not.toHaveProperty('reason'); // the raw reader: the net's rows, unexplained
  });

  it('crema detect: the text prints inf as C does, with the reason; --json gives null and the reason', async () => {
    const t = await crema('detect', net, model, cat, '--threads', '1');
    expect(t.code).toBe(0);
    expect(t.stdout.split('\n')[1]).toMatch(new RegExp(`^0\\.9000 - "class 1" at \\[-inf, -?\\d+, inf, -?\\d+\\] \\(${reason.replace(/[()]/g, '\\$&')}\\)$`));
    const j = await crema('detect', net, model, cat, '--threads', '1', '--json');
    expect(j.code).toBe(0);
    const d = (JSON.parse(j.stdout) as { images: { detections: Record<string, unknown>[] }[] }).images[0].detections[0];
    expect(d).toMatchObject({ label: 1, score: 0.9, xmin: null, xmax: null, reason });
    expect(typeof d.ymin).toBe('number');
  });

  it("crema detect --backend onnx drops the boxes Caffe's NaN overlap drops: native's 2 detections (ONNX Runtime's NonMaxSuppression alone kept 16)", async () => {
    const detections = (r: { stdout: string }) => (JSON.parse(r.stdout) as { images: { detections: unknown[] }[] }).images.map((i) => i.detections);
    const native = await crema('detect', net, model, cat, cat, '--threads', '1', '--json');
    const onnx = await crema('detect', net, model, cat, cat, '--threads', '1', '--json', '--backend', 'onnx');
    expect([native.code, native.stderr, detections(native).map((d) => d.length)]).toEqual([0, '', [2, 2]]);
    expect([onnx.code, onnx.stderr]).toEqual([0, '']);
    expect(detections(onnx)).toEqual(detections(native));
  });
});
