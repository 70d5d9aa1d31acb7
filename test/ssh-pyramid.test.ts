// detect on SSH nets with SSH's image pyramid (its demo.py's default, wider_pyramid.yml) against SSH's own SSH/test.py
// detect (test/fixtures/fork/ssh-pyramid, make.sh): real Caffe 1.0's pycaffe with cv2 runs it on a tiny SSH net (three
// modules, SSH's own Python proposal layer) and a 64 x 48 image, in three cases: A a pyramid whose base size is capped
// by the longer side, B one whose base scale is exactly 1 (no cv2.resize), C test.py's one scale. Checked: test.py's
// merge of the blobs Caffe gave (each scale's M1, M2, M3 but M3 at the last; > threshold; NMS 0.3) exactly, in its
// order; its scales and im_info exactly; then crema's own forwards end to end (library natively and in ONNX Runtime,
// the CLI) as sets within ssh-detect.test.ts's 1e-5 relative (measured: corners within 1.2e-5 pixels, scores 3.4e-7
// relative; SSH subtracts the means and resizes in float64, crema in float32).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Detection, type DetectOptions, detect, loadImage } from '../src/index.js';
import { detectionOutputs, detectImage, fasterRcnnJob } from '../src/detect/detect.js';
import { SSH_MODULES, sshDetections, sshPyramidRows, sshPyramidScales } from '../src/detect/ssh.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { cli, errorOf, spawnCli } from './helpers/cli.js';
import { expectSameDetections } from './helpers/detections.js';

const fixture = path.join(import.meta.dirname, 'fixtures/fork/ssh-pyramid');
const file = (name: string) => path.join(fixture, name);
const prototxt = file('net.prototxt'), weights = file('weights.caffemodel'), image = file('image.png');

interface Case {
  pyramid: boolean;
  sizes: number[];
  scale: number;
  maxSize: number;
  passes: { imInfo: number[]; rows: number[] }[];
}
const cases = JSON.parse(fs.readFileSync(file('cases.json'), 'utf8')) as Record<'A' | 'B' | 'C', Case>;
const THRESHOLDS = [0.05, 0.5, 0.8];

/** The detect options of a case: its pyramid's sizes and base size, or test.py's one scale. */
const optionsOf = (c: Case, threshold: number): DetectOptions =>
  ({ scale: c.scale, maxSize: c.maxSize, pyramid: c.pyramid ? c.sizes : false, threshold });

/** test.py's detections of a case, as rows of x1, y1, x2, y2, score (float32). */
const wanted = (name: string, t: number): number[][] => {
  const d = readNpy(file(`${name}-detect-${t}.npy`));
  return Array.from({ length: d.dims[0] }, (_, i) => Array.from(d.data.subarray(5 * i, 5 * i + 5)));
};
const rowsOf = (found: Detection[]) => found.map((d) => [d.xmin, d.ymin, d.xmax, d.ymax, d.score]);

/** `found` the same as test.py's detections, as sets within 1e-5 relative: one class, the face (label 1). */
const expectSame = (found: Detection[], want: number[][]) =>
  expectSameDetections(found, want.map(([xmin, ymin, xmax, ymax, score]) => ({ label: 1, name: null, score, xmin, ymin, xmax, ymax })), 1e-5);

describe("SSH's test.py pyramid after the net, on the blobs real Caffe gave", () => {
  for (const [name, c] of Object.entries(cases)) {
    it(`case ${name}: its scales and im_info, then its detections exactly, in order, at thresholds ${THRESHOLDS.join(', ')}`, () => {
      const scales = c.pyramid ? sshPyramidScales(48, 64, c.sizes, c.scale, c.maxSize) : [c.passes[0].imInfo[2]];
      expect(scales.map(Math.fround)).toEqual(c.passes.map((p) => p.imInfo[2]));
      // the blobs each forward gave, m1's, m2's and m3's rows one after another
      const boxes = readNpy(file(`${name}-boxes.npy`)), probs = readNpy(file(`${name}-probs.npy`));
      let at = 0;
      const got = c.passes.map((p) => {
        const blobs = new Map<string, Tensor>();
        p.rows.forEach((n, m) => {
          blobs.set(SSH_MODULES[m].boxes, new Tensor([n, 5], boxes.data.slice(5 * at, 5 * (at + n))));
          blobs.set(SSH_MODULES[m].probs, new Tensor([n, 1], probs.data.slice(at, at + n)));
          at += n;
        });
        return (b: string) => blobs.get(b)!;
      });
      expect(at).toBe(boxes.dims[0]);
      // one scale: the modules' tops are what the net's Concats give test.py as ssh_boxes and ssh_cls_prob
      const parts = c.pyramid ? sshPyramidRows(got, scales) : [{ boxes, probs, scale: scales[0] }];
      if (c.pyramid) expect(parts.length).toBe(3 * scales.length - 1); // M3 left out at the last scale
      for (const t of THRESHOLDS) expect(rowsOf(sshDetections(parts, t)), `threshold ${t}`).toEqual(wanted(name, t));
      expect(wanted(name, 0.5).length).toBeGreaterThan(40);
    });
  }
});

describe("crema detect on an SSH net, against SSH's test.py end to end", () => {
  let net: Net;
  beforeAll(async () => {
    net = await Net.load(prototxt, weights);
  });
  afterAll(() => net?.dispose());

  it("feeds each scale's image and im_info as test.py does", async () => {
    const decoded = await loadImage(image, true);
    for (const c of Object.values(cases)) {
      const run = fasterRcnnJob(net, decoded, optionsOf(c, 0.5));
      expect(run.passes.map((p) => Array.from(p.im_info.data))).toEqual(c.passes.map((p) => p.imInfo));
      expect(run.passes.map((p) => p.data.dims.slice(2))).toEqual(c.passes.map((p) => p.imInfo.slice(0, 2)));
    }
  });

  it("defaults to demo.py's pyramid (wider_pyramid.yml: 500, 800, 1200, 1600 of the image fitted to 800, at most 1200)", async () => {
    const decoded = await loadImage(image, true);
    const run = fasterRcnnJob(net, decoded, {});
    // 48 x 64: base_scale 800 / 48 (64 of it rounds to 1067, within 1200), each size / 800 of it
    expect(run.passes.map((p) => p.data.dims)).toEqual([[1, 3, 500, 667], [1, 3, 800, 1067], [1, 3, 1200, 1600], [1, 3, 1600, 2133]]);
    expect(run.outputs).toEqual(SSH_MODULES.flatMap((m) => [m.boxes, m.probs]));
    expect(detectionOutputs(net)).toEqual(run.outputs);
  });

  it('gives its detections natively (the library\'s detect) in each case and at each threshold', async () => {
    const bytes = fs.readFileSync(image);
    for (const [name, c] of Object.entries(cases))
      for (const t of THRESHOLDS) expectSame(await detect(net, bytes, optionsOf(c, t)), wanted(name, t));
  }, 30_000);

  it('gives them with the forwards in ONNX Runtime', async () => {
    for (const [name, c] of Object.entries(cases)) expectSame(await detect(net, image, { ...optionsOf(c, 0.05), backend: 'onnx' }), wanted(name, 0.05));
  }, 60_000);

  it('crema detect --pyramid / --no-pyramid --json gives them (natively and --backend onnx)', async () => {
    const json = async (...args: string[]) => {
      const out = await cli('detect', prototxt, weights, image, '--threshold', '0.5', '--json', ...args);
      expect([out.code, out.stderr.split('\n').filter((l) => l && !l.startsWith('note: '))]).toEqual([0, []]);
      return (JSON.parse(out.stdout) as { images: { detections: Detection[] }[] }).images[0].detections;
    };
    const { A } = cases;
    for (const backend of ['native', 'onnx']) {
      expectSame(await json('--scale', '80', '--max-size', '96', '--pyramid', A.sizes.join(','), '--backend', backend), wanted('A', 0.5));
      expectSame(await json('--scale', '72', '--max-size', '80', '--no-pyramid', '--backend', backend), wanted('C', 0.5));
    }
    // The text form names SSH's rule: scores above the threshold (its test.py's `>`), not "or more".
    const text = await spawnCli(path.join(import.meta.dirname, '..'), 'detect', prototxt, weights, image, '--threshold', '1', '--scale', '72', '--max-size', '80', '--no-pyramid');
    expect([text.code, text.stdout.split('\n')[1]]).toEqual([0, '(none scoring above 1)']);
  }, 60_000);

  it('refuses a bad pyramid in one line, and a pyramid for a net that is not SSH', async () => {
    const decoded = await loadImage(image, true);
    expect(errorOf(() => detectImage(net, decoded, { pyramid: [800] })))
      .toBe("detect: options.pyramid is true, false or two or more sizes in pixels from 1 to 16384 (SSH's wider_pyramid.yml: [500, 800, 1200, 1600]), got [800]");
    expect(errorOf(() => detectImage(net, decoded, { maxSize: 0 }))).toBe("maxSize: a length in pixels from 1 to 16384 (SSH's cfg.TEST.PYRAMID_BASE_SIZE[1]: 1200), got 0");
    // the same net with its Concats named as py-faster-rcnn's blobs (rois, cls_prob; a bbox_pred) is no SSH
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-ssh-pyramid-')), faster = path.join(dir, 'faster.prototxt');
    try {
      fs.writeFileSync(faster, `${fs.readFileSync(prototxt, 'utf8').replace(/top: "ssh_boxes"/, 'top: "rois"').replace(/top: "ssh_cls_prob"/, 'top: "cls_prob"')}
        layer { name: "bbox_pred" type: "Power" bottom: "rois" top: "bbox_pred" }`);
      const other = await Net.load(faster, weights);
      expect(errorOf(() => detectImage(other, decoded, { pyramid: true }))).toBe("pyramid: SSH's only (its demo.py's image pyramid); this net is py-faster-rcnn's");
      other.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const out = await cli('detect', prototxt, weights, image, '--pyramid', '500,,800');
    expect([out.code, out.stderr.trim().split('\n').at(-1)]).toEqual([2, "crema: --pyramid: two or more sizes in pixels from 1 to 16384 (SSH's demo.py: 500,800,1200,1600), or --no-pyramid for one scale; got '500,,800'"]);
  });
});
