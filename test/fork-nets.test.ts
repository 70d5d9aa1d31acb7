// Real nets that use fork layers (SE-ResNet-50: Axpy; ShuffleNet v2: ShuffleChannel and ConvolutionDepthwise;
// farmingyard's MobileNet: ConvolutionDepthwise; ENet: BN, Upsample; YOLOv4: Mish, nearest Upsample; yolov3-tiny:
// the yolo dialect's Pooling; CTPN: Transpose, Reverse, Lstm, its Python proposal layer, with pycaffe's Python layers
// for the first two and the last; caffe_ocr's DenseNet: DenseBlock), with deterministic synthetic weights, against real BVLC Caffe 1.0
// running the same nets with each fork layer replaced by its exact BVLC equivalent (test/fixtures/forknets/
// make-forknets.mjs says how, and regenerates the references); eric612/MobileNet-YOLO's YOLOv2 (darknet19: Reorg;
// MobileNet) and YOLOv3 nets against that fork's own Caffe, FaceBoxes (its densified PriorBox), TextBoxes++ (denser
// PriorBox, quadrilateral DetectionOutput), TextBoxes (the textboxes dialect) and RCF (AutoCrop) against their own. Natively and through ONNX Runtime; detections as sets
// (same image and label, IoU >= 0.99 or corners within 1e-4 relative beyond 1, outlines within 1e-4, scores within the tolerance).
// And each net's `crema convert --any-size` verdict (any-size.json): the size-free ones run at two other sizes.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Dialect } from '../src/caffe/dialects.js';
import * as ort from 'onnxruntime-node';
import { freeSize, graphReshaper } from '../src/onnx/batch.js';
import { convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { LayerError } from '../src/layers/layer.js';
import { Net } from '../src/runtime/net.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { DETECTION_TYPES } from '../src/layers/detection/types.js';
import { compareDetections } from '../src/verify/detections.js';
import { TOLERANCE, relativeError } from './helpers/reference.js';
import { randomArray, rng } from './helpers/compute.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'forknets');
const maker = path.join(root, 'make-forknets.mjs');
const cases = fs.readdirSync(root).filter((n) => fs.existsSync(path.join(root, n, 'manifest.json'))).sort();

interface Manifest {
  dialect?: Dialect;
  input: string;
  shape: number[];
  /** Other inputs' values (CTPN's im_info), in their shapes as the prototxt gives them. */
  inputs?: Record<string, number[]>;
  blobs: string[];
  /** Why the net runs natively only (a layer without an ONNX form): its conversion is checked to refuse by name. */
  nativeOnly?: string;
  /**
   * A blob the layers after it take as the fork computed it (a cascade's proposals, where a box clipped to the
   * image's edge lands ROIAlign's last point on the map's border by the last bit): the blobs up to it are checked
   * from crema's own forward, the rest from a forward that starts after it on the fork's values.
   */
  fromFork?: string;
}

/** The case's weights and input, made by the fixture's own script (too large to commit), cached per run. */
function material(name: string): { weights: string; input: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `crema-forknet-${name}-`));
  const weights = path.join(dir, 'w.caffemodel'), input = path.join(dir, 'input.npy');
  execFileSync('node', [maker, 'weights', name, weights, input]);
  return { weights, input };
}

describe('real nets with fork layers vs real Caffe on their BVLC equivalents (test/fixtures/forknets)', () => {
  it('has the cases', () => expect(cases).toEqual(['cascade_alex', 'cascade_fpn', 'ctpn', 'densenet_bc', 'enet', 'faceboxes', 'faster_rcnn_zf', 'mobilenet_dw', 'ocr_densenet', 'ocr_resnet', 'rcf', 'se_resnet50', 'shufflenet_v2', 'textboxes', 'textboxes_pp', 'yolov2_darknet19', 'yolov2_mobilenet', 'yolov3_lite', 'yolov3_tiny', 'yolov4']));
  for (const name of cases) {
    it(`${name}: every stored blob matches, natively and through ONNX Runtime (or natively where it has no ONNX form)`, async () => {
      const dir = path.join(root, name);
      const man = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
      const { weights, input } = material(name);
      try {
        // Made at the case's input shape (an FPN's 800 x 1312 blobs, 1.8 GB, are never allocated).
        const net = await Net.load(path.join(dir, 'source.prototxt'), weights, { dialect: man.dialect, dataShapes: { [man.input]: man.shape } });
        const x = readNpy(input);
        expect(x.dims).toEqual(man.shape);
        expect(net.shapes.get(man.input)).toEqual(man.shape);
        const feeds = { [man.input]: x, ...Object.fromEntries(Object.entries(man.inputs ?? {}).map(([name, v]) => [name, new Tensor(net.shapes.get(name)!, Float32Array.from(v))])) };
        net.forward(feeds);
        if (man.nativeOnly) expect(() => convertGraph(net.graph), man.nativeOnly).toThrow(/has no exact ONNX form/);
        const onnx = man.nativeOnly ? undefined : await runOnnx(net.graph, feeds, { outputs: man.blobs, threads: 1 });
        const detections = new Set(net.layers.filter((l) => DETECTION_TYPES.has(l.type)).flatMap((l) => l.tops));
        for (const blob of man.blobs) {
          const ref = readNpy(path.join(dir, 'blobs', `${blob.replaceAll('/', '__')}.npy`));
          if (blob === man.fromFork) {
            // Checked as crema made it (as a set of rows: two boxes whose scores differ by float noise may swap
            // places), then given the fork's values for the layers after it.
            const after = net.layers.findLastIndex((l) => l.tops.includes(blob)) + 1;
            expect([...net.blobs.get(blob)!.dims], `${blob}: its shape`).toEqual([...ref.dims]);
            expect(unmatchedRows(net.blobs.get(blob)!, ref, TOLERANCE), `${blob} native: rows without their like in the fork's`).toBe(0);
            net.blobs.get(blob)!.data.set(ref.data);
            net.forward({}, { start: net.layers[after].name });
            continue;
          }
          if (detections.has(blob)) {
            expect(ref.dims[2], `${blob}: the reference has detections`).toBeGreaterThan(10);
            expect(compareDetections(net.blobs.get(blob)!, ref, TOLERANCE), `${blob} native`).toMatchObject({ pass: true });
            if (onnx) expect(compareDetections(onnx.get(blob)!, ref, TOLERANCE), `${blob} ONNX`).toMatchObject({ pass: true });
            continue;
          }
          expect(relativeError(net.blobs.get(blob)!, ref), `${blob} native`).toBeLessThanOrEqual(TOLERANCE);
          expect([...net.blobs.get(blob)!.dims], `${blob}: its shape`).toEqual([...ref.dims]);
          if (onnx) expect(relativeError(onnx.get(blob)!, ref), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
        }
      } finally {
        fs.rmSync(path.dirname(weights), { recursive: true, force: true });
      }
    });
  }
});

/** The rows of `ours` with no row of `ref` within the tolerance (each row of `ref` matched once). */
function unmatchedRows(ours: Tensor, ref: Tensor, tolerance: number): number {
  const width = ref.size / ref.dims[0], eps = tolerance * Math.max(1, ...ref.data.map(Math.abs));
  const used = new Uint8Array(ref.dims[0]);
  let unmatched = 0;
  for (let r = 0; r < ours.dims[0]; r++) {
    const a = ours.data.subarray(r * width, (r + 1) * width);
    const match = Array.from(used.keys()).find((k) => !used[k] && a.every((v, i) => Math.abs(v - ref.data[k * width + i]) <= eps));
    if (match === undefined) unmatched++;
    else used[match] = 1;
  }
  return unmatched;
}

describe("PSPNet (hszhao/PSPNet pspnet50_ADE20K_473.prototxt, 60 BN and 5 Interp): the fork's shapes", () => {
  it('loads without weights and gives the pyramid and the output the sizes the fork computes', async () => {
    // Too large to run in the suite (about 150 GMACs); Interp's and BN's numbers are tested in fork-layers.test.ts.
    const net = await Net.load(path.join(root, 'pspnet50_ade20k', 'source.prototxt'));
    const shapes = net.graph.blobShapes;
    for (const level of [1, 2, 3, 6]) expect(shapes.get(`conv5_3_pool${level}_interp`), `pool${level}`).toEqual([1, 512, 60, 60]);
    expect(shapes.get('conv5_3_concat')).toEqual([1, 4096, 60, 60]);
    expect(shapes.get('conv6_interp')).toEqual([1, 150, 473, 473]); // zoom_factor 8 of 60: 60 + 59 * 7
  });
});

/** test/fixtures/forknets/any-size.json: each net's `--any-size` verdict, and the sizes its one model is run at. */
interface SizeVerdict {
  /** true when size-free, else the one line that refuses it. */
  anySize: true | string;
  /** Two other input sizes (height, width) at which the one model runs in ONNX Runtime against the native engine. */
  at?: [number, number][];
  /** Why a size-free net is not run (its run is slow). */
  notRun?: string;
  /** A net size-free at square sizes only (YOLOv2's head): a size that is not square, and the native engine's refusal there. */
  square?: { refused: [number, number]; line: string };
}

const verdicts = Object.entries(JSON.parse(fs.readFileSync(path.join(root, 'any-size.json'), 'utf8')) as Record<string, SizeVerdict>).filter(([name]) => name !== '//');

// `crema convert --any-size` on each fork net, as test/corpus.test.ts on the corpus: converted once at its
// manifest's input shape (PSPNet: its prototxt's) with the net's outputs, then either size-free and
// run at two other sizes in ONNX Runtime against the native engine reshaped to each (detections as sets), or refused
// in the line any-size.json holds (a layer without an ONNX form: the conversion's own refusal).
describe('crema convert --any-size on the fork nets (test/fixtures/forknets/any-size.json)', () => {
  it('has a verdict for every net', () => expect(verdicts.map(([name]) => name).sort()).toEqual([...cases, 'pspnet50_ade20k'].sort()));
  for (const [name, v] of verdicts) {
    const what = v.anySize !== true ? 'refused in one line' : v.at ? `size-free${v.square ? ' at square sizes' : ''}, one model right at ${v.at.map(([h, w]) => `${h} x ${w}`).join(' and ')}` : `size-free (${v.notRun})`;
    it(`${name}: ${what}`, async () => {
      const dir = path.join(root, name);
      const man = fs.existsSync(path.join(dir, 'manifest.json')) ? (JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest) : undefined;
      // A net without an ONNX form is refused by its conversion, which needs no weights (the cascades' are slow to make).
      const made = man && !man.nativeOnly ? material(name) : undefined;
      try {
        const net = await Net.load(path.join(dir, 'source.prototxt'), made?.weights, man && { dialect: man.dialect, dataShapes: { [man.input]: man.shape } });
        expect(sizeVerdict(net), `any-size.json: ${name}`).toBe(v.anySize);
        if (v.anySize === true && v.at) await runsAtSizes(net, man!, v.at);
        if (v.square) {
          // The fork's head takes square grids only, as crema's engine: the sizes run are square, another is refused.
          expect(v.at!.every(([h, w]) => h === w), `any-size.json: ${name}'s sizes`).toBe(true);
          const said = (() => {
            try {
              net.reshape({ [man!.input]: [man!.shape[0], man!.shape[1], ...v.square!.refused] });
              return 'taken';
            } catch (err) {
              return (err as Error).message;
            }
          })();
          // Net.reshape names the input given first (the net's shape then: the last size run)
          const given = `input '${man!.input}' given as [${[man!.shape[0], man!.shape[1], ...v.square.refused].join(', ')}] (the net's `;
          expect([said.startsWith(given), said.slice(said.indexOf('): ') + 3)], `any-size.json: ${name} at ${v.square.refused.join(' x ')}: ${said}`).toEqual([true, v.square.line]);
        }
        net.dispose();
      } finally {
        if (made) fs.rmSync(path.dirname(made.weights), { recursive: true, force: true });
      }
    }, 120_000);
  }
});

/** true when the net converts size-free (freeSize), else the line that refuses it (freeSize's, or the conversion's). */
function sizeVerdict(net: Net): true | string {
  try {
    return freeSize(net.graph, convertGraph(net.graph, { anySize: true }), graphReshaper(net.graph), {}) ?? true;
  } catch (err) {
    if (err instanceof LayerError) return err.message;
    throw err;
  }
}

/** The net's size-free model (one session) and the native engine at each size: every output, detections as sets. */
async function runsAtSizes(net: Net, man: Manifest, sizes: [number, number][]): Promise<void> {
  const conversion = convertGraph(net.graph, { anySize: true });
  expect(freeSize(net.graph, conversion, graphReshaper(net.graph), {})).toBeUndefined();
  const session = await ort.InferenceSession.create(encodeConversion(conversion), { intraOpNumThreads: 2, logSeverityLevel: 3 });
  const detections = new Set(net.layers.filter((l) => DETECTION_TYPES.has(l.type)).flatMap((l) => l.tops));
  for (const [i, [h, w]] of sizes.entries()) {
    const dims = [man.shape[0], man.shape[1], h, w], x = new Tensor(dims, randomArray(sizeOf(dims), rng(h * w + i)));
    // The other inputs as the manifest gives them; im_info (height, width, scale) the image's size, its scale.
    const others = Object.entries(man.inputs ?? {}).map(([n, v]) => [n, new Tensor(net.shapes.get(n)!, Float32Array.from(n === 'im_info' ? [h, w, v[2]] : v))] as const);
    const feeds = { [man.input]: x, ...Object.fromEntries(others) };
    const results = await session.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, new ort.Tensor('float32', t.data, [...t.dims])])));
    net.reshape({ [man.input]: dims });
    net.forward(feeds);
    for (const [blob, name] of conversion.outputs) {
      const want = net.blobs.get(blob)!, got = new Tensor([...results[name].dims], results[name].data as Float32Array);
      if (detections.has(blob)) {
        expect(want.dims[2], `${blob} at ${h} x ${w}: real rows, not the "none" one`).toBeGreaterThan(1);
        expect(compareDetections(got, want, TOLERANCE), `${blob} at ${h} x ${w} (as sets)`).toMatchObject({ pass: true });
        continue;
      }
      expect([...got.dims], `shape of ${blob} at ${h} x ${w}`).toEqual([...want.dims]);
      expect(relativeError(got, want), `${blob} at ${h} x ${w}`).toBeLessThanOrEqual(TOLERANCE);
    }
  }
  await session.release();
}
