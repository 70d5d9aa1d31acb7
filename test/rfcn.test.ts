// R-FCN whole in ONNX Runtime: the small net of test/helpers/rfcn.ts (py-R-FCN's rfcn_end2end/test_agnostic.prototxt
// head), converted and run against the native engine (PSROIPooling's own referees: test/roi_pooling.test.ts). The rois
// are compared as sets of rows (ONNX's TopK and NMS may order tied scores otherwise; none tie here, but a row's
// place is no part of what is checked), every other output row by row through that matching.
// detect on it against py-R-FCN's own numpy (test/fixtures/fork/rfcn-detect, make.sh): im_detect's decoding of the
// class-agnostic bbox_pred (R x 8: every class gets the foreground box, columns 4:8) and demo_rfcn.py's per-class NMS
// and threshold, on the outputs the native engine gives on the cat (stored with the reference, checked against the
// net's); through the library and the CLI, natively and in ONNX Runtime; and the refusal of shapes that fit neither.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Detection, detect } from '../src/index.js';
import { fasterRcnnDetections } from '../src/detect/faster-rcnn.js';
import { convertGraph } from '../src/onnx/convert.js';
import { OnnxRunner } from '../src/onnx/run.js';
import type { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { cli } from './helpers/cli.js';
import { type DetectReference, readDetectReference } from './helpers/detections.js';
import { TOLERANCE, relativeDifference } from './helpers/reference.js';
import { DETECT_GAINS, OUTPUTS, feedsAt, netOf, writeNetFiles } from './helpers/rfcn.js';

/** Each native roi's row in `onnx` (corners within 1e-3 px), all distinct: the same set of rows. */
function matchRows(native: Tensor, onnx: Tensor): number[] {
  expect(onnx.dims, 'as many rois').toEqual(native.dims);
  const rows = native.dims[0], used = new Set<number>();
  return Array.from({ length: rows }, (_, r) => {
    const i = Array.from({ length: rows }, (_, j) => j).find((j) => !used.has(j) && [0, 1, 2, 3, 4].every((k) => Math.abs(onnx.data[j * 5 + k] - native.data[r * 5 + k]) <= 1e-3));
    expect(i, `native roi ${r} [${Array.from(native.data.subarray(r * 5, r * 5 + 5)).join(', ')}] among the ONNX rois`).toBeDefined();
    used.add(i!);
    return i!;
  });
}

/** `blob`'s rows, the ONNX ones taken in the native rois' order, within the tolerance. */
function expectRows(blob: string, native: Tensor, onnx: Tensor, order: number[]): number {
  expect(onnx.dims, blob).toEqual(native.dims);
  const row = native.data.length / order.length;
  const reordered = new Float32Array(native.data.length);
  order.forEach((j, r) => reordered.set(onnx.data.subarray(j * row, (j + 1) * row), r * row));
  const error = relativeDifference(reordered, native.data);
  expect(error, blob).toBeLessThanOrEqual(TOLERANCE);
  return error;
}

/** Runs both engines at `feeds`; every output agrees; the largest error of the PSROIPooling tops. */
async function sameOutputs(net: Net, runner: OnnxRunner, feeds: Record<string, Tensor>): Promise<number> {
  const native = net.forward(feeds);
  const onnx = await runner.run(feeds);
  const rois = native.rois ?? net.blobs.get('rois')!;
  expect(rois.dims[0], 'rois').toBeGreaterThan(20);
  const order = matchRows(rois, onnx.get('rois')!);
  return Math.max(...OUTPUTS.slice(1).map((b) => expectRows(b, net.blobs.get(b)!, onnx.get(b)!, order)));
}

describe("a small R-FCN (py-R-FCN's test_agnostic head) converted whole", () => {
  it('runs in ONNX Runtime with the native engine\'s rois, position-sensitive pools, cls_prob and bbox_pred', async () => {
    const net = netOf();
    const runner = await OnnxRunner.create(net.graph, { threads: 1, outputs: OUTPUTS });
    try {
      expect(await sameOutputs(net, runner, feedsAt(128, 160, 3))).toBeLessThanOrEqual(1e-5);
    } finally {
      await runner.release();
      await net.dispose();
    }
  }, 60_000);

  it('size-free (anySize): one model at the net\'s size and two others, as the native engine at each', async () => {
    const net = netOf();
    const runner = await OnnxRunner.create(net.graph, { threads: 1, outputs: OUTPUTS, anySize: true });
    try {
      for (const [h, w, seed] of [[128, 160, 3], [96, 208, 4], [176, 112, 5]]) await sameOutputs(net, runner, feedsAt(h, w, seed));
    } finally {
      await runner.release();
      await net.dispose();
    }
  }, 60_000);
});

describe('the size-free R-FCN reads each shape once a layer', () => {
  it('Proposal (runtimeGrid) and each PSROIPooling: one Shape of each value they size from, each range of it sliced once', () => {
    const net = netOf();
    try {
      const { model, spans } = convertGraph(net.graph, { outputs: OUTPUTS, anySize: true });
      const sized = new Map<string, number>();
      for (const span of spans) {
        const nodes = model.graph.node.slice(...span.nodes);
        const shapes = nodes.filter((n) => n.op_type === 'Shape');
        if (shapes.length) sized.set(span.name, shapes.length);
        expect(new Set(shapes.map((n) => n.input[0])).size, `${span.name}: Shapes of distinct values`).toBe(shapes.length);
        const of = new Set(shapes.map((n) => n.output[0]));
        const ranges = nodes.filter((n) => n.op_type === 'Slice' && of.has(n.input[0])).map((n) => n.input.join());
        expect(new Set(ranges).size, `${span.name}: distinct ranges of its Shapes`).toBe(ranges.length);
      }
      // The Proposal's scores' (its grid) and its kept rows' count. Before: the grid read the scores' Shape 3 times (the
      // grid, rows, columns), PSROIPooling its maps' 3 times (height, width, images).
      expect(Object.fromEntries([...sized].filter(([name]) => name === 'proposal' || name.startsWith('psroipooled')))).toEqual({ proposal: 2, psroipooled_cls_rois: 1, psroipooled_loc_rois: 1 });
    } finally {
      net.dispose();
    }
  });
});

const fixture = path.join(import.meta.dirname, 'fixtures/fork/rfcn-detect');
const cat = path.join(import.meta.dirname, '../models/cifar10_full/examples/cat.jpg');
const { ref, options } = readDetectReference<DetectReference & { factor: number; background: number[][] }>(fixture);
const stored = (blob: string) => readNpy(path.join(fixture, `${blob}.npy`));
const CORNERS = ['xmin', 'ymin', 'xmax', 'ymax'] as const;
/** How near ONNX Runtime's corners come (pixels), see below. */
const ONNX_PX = 0.05;

/** Each of py-R-FCN's detections matched by one of `found` (same label, score within 1e-4 relative, corners within `px`), and no more. */
function expectReferee(found: Omit<Detection, 'name'>[], px: number): void {
  expect(found.length, "as many detections as py-R-FCN's").toBe(ref.detections.length);
  const left = [...found];
  for (const d of ref.detections) {
    const i = left.findIndex((f) => f.label === d.label && Math.abs(f.score - d.score) <= 1e-4 * d.score && CORNERS.every((k) => Math.abs(f[k] - d[k]) <= px));
    expect(i, `py-R-FCN's ${JSON.stringify(d)} among crema's`).toBeGreaterThanOrEqual(0);
    left.splice(i, 1);
  }
}

describe("detect on the small R-FCN vs py-R-FCN's im_detect (class-agnostic) and demo_rfcn.py", () => {
  it('the reference is one that tells: several classes, boxes shared by classes, none of them a background box', () => {
    const boxes = ref.detections.map((d) => CORNERS.map((k) => d[k]).join());
    expect(new Set(ref.detections.map((d) => d.label)).size).toBeGreaterThanOrEqual(5);
    expect(new Set(boxes).size, 'a box of several classes').toBeLessThan(boxes.length);
    // decoding bbox_pred[:, 0:4] (the background deltas) would have given other boxes: they differ by pixels here
    for (const d of ref.detections)
      expect(Math.min(...ref.background.map((b) => Math.max(...CORNERS.map((k, j) => Math.abs(d[k] - b[j])))))).toBeGreaterThan(1);
  });

  it("decodes the stored outputs as py-R-FCN's numpy does: the foreground deltas for every class, clipped, per-class NMS", () => {
    const found = fasterRcnnDetections(stored('rois'), stored('cls_prob'), stored('bbox_pred'), ref.factor, ref.width, ref.height, ref.threshold);
    expectReferee(found, 1e-3);
  });

  it('refuses bbox_pred that fits neither py-faster-rcnn (R x 4C) nor R-FCN (R x 8), in one line', () => {
    const rois = stored('rois'), R = rois.dims[0];
    expect(() => fasterRcnnDetections(rois, stored('cls_prob'), new Tensor([R, 12], new Float32Array(R * 12)), 1, 100, 100, 0.5)).toThrow(
      new RegExp(`^Faster R-CNN: rois ${R} x 5, cls_prob ${R} x 21 and bbox_pred ${R} x 12 do not go together \\(R x 5, R x C, R x 4C or R-FCN's class-agnostic R x 8\\)$`));
  });

  it('detect(net, image) gives them, natively and through ONNX Runtime; the net gives the stored outputs', async () => {
    const net = netOf(DETECT_GAINS);
    try {
      expectReferee(await detect(net, cat, options), 1e-3);
      expect(net.blobs.get('rois')!.dims[0]).toBe(ref.rois);
      for (const blob of ['rois', 'cls_prob', 'bbox_pred']) {
        const ours = net.blobs.get(blob)!, theirs = stored(blob);
        expect(ours.dims, blob).toEqual(theirs.dims);
        expect(relativeDifference(ours.data, theirs.data), blob).toBeLessThanOrEqual(TOLERANCE);
      }
      // ONNX's PSROIPooling sums otherwise than the kernel (test/roi_pooling.test.ts): bbox_pred within 1e-5,
      // moved through exp and boxes a few hundred pixels wide, corners within a few hundredths of a pixel
      expectReferee(await detect(net, cat, { ...options, backend: 'onnx' }), ONNX_PX);
    } finally {
      await net.dispose();
    }
  }, 60_000);

  it('crema detect NET WEIGHTS IMAGE --json gives them, natively and --backend onnx', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-rfcn-'));
    try {
      const { prototxt, weights } = writeNetFiles(dir, DETECT_GAINS);
      const args = [prototxt, weights, cat, '--scale', String(ref.scale), '--max-size', String(ref.maxSize), '--threshold', String(ref.threshold), '--json'];
      for (const backend of ['native', 'onnx']) {
        const out = await cli('detect', ...args, '--backend', backend);
        expect([out.code, out.stderr.split('\n').filter((l) => l && !l.startsWith('note: '))], backend).toEqual([0, []]);
        const json = JSON.parse(out.stdout) as { images: { detections: Detection[] }[] };
        expectReferee(json.images[0].detections, backend === 'onnx' ? ONNX_PX : 1e-2); // --json gives 6 significant digits
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
