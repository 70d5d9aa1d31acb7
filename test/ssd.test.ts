// The SSD fork's layers (PriorBox, Normalize, Permute, DetectionOutput) against the fork's own Caffe
// (weiliu89/caffe, branch ssd; fixtures in test/fixtures/ssd, made by make-fixtures.sh), natively and through ONNX
// Runtime, and their one-line refusals of bad parameters.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { MIN_NORMALIZE_FLOATS } from '../src/kernels/normalize.js';
import { setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { readNetPrototxt } from '../src/caffe/load.js';
import { filterNet } from '../src/caffe/phase.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { ranked } from '../src/layers/detection/nms.js';
import { convertGraph } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { compareDetections } from '../src/verify/detections.js';
import { verifyNet } from '../src/verify/verify.js';
import { errorOf } from './helpers/cli.js';
import { hashInputData, hashWeightBlobs } from './helpers/hashweights.mjs';
import { layerDef, randomArray, rng, runLayer } from './helpers/compute.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-4;
const head = path.join(import.meta.dirname, 'fixtures/ssd/head');
const manifest = JSON.parse(fs.readFileSync(path.join(head, 'manifest.json'), 'utf8')) as { blobs: string[] };
const dets = manifest.blobs.filter((b) => b.startsWith('det_'));
const fork = (dir: string, blob: string) => readNpy(path.join(head, dir, `${blob}.npy`));
const loadHead = () => Net.load(path.join(head, 'net.prototxt'), path.join(head, 'weights.caffemodel'), { threads: 1 });

describe('SSD layers vs the fork (test/fixtures/ssd/head: 2 feature maps, 8 DetectionOutput settings, batch 2)', () => {
  it('every stored blob matches the fork natively, detections row by row in its order', async () => {
    const net = await loadHead();
    net.forward({ data: readNpy(path.join(head, 'input.npy')) });
    for (const blob of manifest.blobs) {
      const ref = fork('blobs', blob), ours = net.blobs.get(blob)!;
      expect([...ours.dims], `shape of ${blob}`).toEqual([...ref.dims]);
      expect(relativeError(ours, ref), `blob ${blob}`).toBeLessThanOrEqual(TOLERANCE);
    }
    expect(net.notes).toContain("layer 'det_center' (DetectionOutput): save_output_param (the fork's writing of detections to /tmp/crema_ssd_ignored) is ignored: the detections are the blob 'det_center'");
    // The fixture exercises what it should: real detections, keep_top_k cutting, and the "no detection" rows.
    expect(fork('blobs', 'det_corner').dims[2]).toBeGreaterThan(100);
    expect(fork('blobs', 'det_keep').dims[2]).toBe(14); // 7 per image
    expect([...fork('blobs', 'det_none').data]).toEqual([0, -1, -1, -1, -1, -1, -1, 1, -1, -1, -1, -1, -1, -1]);
  });

  it('through ONNX Runtime (batch 1): the same detections as sets, the other blobs within tolerance', async () => {
    const net = await loadHead();
    const input = readNpy(path.join(head, 'input.npy'));
    const first = new Tensor([1, 3, 16, 16], input.data.slice(0, 3 * 16 * 16));
    net.reshape({ data: first.dims }); // before runOnnx, which reshapes the graph but not the net's blobs
    const onnx = await runOnnx(net.graph, { data: first }, { outputs: 'all', threads: 1 });
    net.forward({ data: first });
    for (const blob of dets) {
      const result = compareDetections(onnx.get(blob)!, fork('blobs_b1', blob), TOLERANCE);
      if (blob === 'det_eta') continue; // adaptive NMS: not reproduced by ONNX (said in the notes, checked below)
      expect(result, `detections ${blob}`).toMatchObject({ pass: true });
    }
    for (const blob of ['norm_a', 'norm_b', 'prior_a', 'prior_b', 'loc', 'conf'])
      expect(relativeError(onnx.get(blob)!, net.blobs.get(blob)!), `blob ${blob}`).toBeLessThanOrEqual(TOLERANCE);
  });

  it('the converted model says what ONNX does not reproduce (eta, equal-score order)', async () => {
    const net = await loadHead();
    net.reshape({ data: [1, 3, 16, 16] });
    const { notes, model, dynamic } = convertGraph(net.graph);
    // The row count is the data's: a symbolic axis in the model's outputs (and -1 in a Triton config).
    expect(dynamic.get('det_center')).toEqual([2]);
    expect(model.graph.output.find((o) => o.name === 'det_center')!.type.tensor_type.shape!.dim).toEqual([{ dim_value: 1 }, { dim_value: 1 }, { dim_param: 'det_center_2' }, { dim_value: 7 }]);
    expect(notes).toContain("layer 'det_eta' (DetectionOutput): adaptive NMS (eta 0.9) is not reproduced: ONNX's NonMaximumSuppression keeps the threshold at 0.8, so detections may differ");
    expect(model.graph.doc_string).toContain('adaptive NMS (eta 0.9)');
  });

  it("through ONNX Runtime at batch 2 (keep_top_k per image): the fork's detections as sets", async () => {
    const net = await loadHead();
    const onnx = await runOnnx(net.graph, { data: readNpy(path.join(head, 'input.npy')) }, { outputs: dets, threads: 1 });
    for (const blob of dets.filter((b) => b !== 'det_eta'))
      expect(compareDetections(onnx.get(blob)!, fork('blobs', blob), TOLERANCE), `detections ${blob}`).toMatchObject({ pass: true });
  });

  it('crema verify compares the detections as sets and passes against the fork', async () => {
    const net = await loadHead();
    const dir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), 'crema-ssd-'));
    try {
      for (const blob of dets) fs.copyFileSync(path.join(head, 'blobs_b1', `${blob}.npy`), path.join(dir, `${blob}.npy`));
      const input = readNpy(path.join(head, 'input.npy'));
      const report = await verifyNet(net, { inputs: { data: new Tensor([1, 3, 16, 16], input.data.slice(0, 768)) }, reference: dir, threads: 1 });
      expect(report.notes.join('\n')).toContain('compared as sets');
      expect(report.failed).toEqual(['det_eta']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a reused ONNX session at new sizes shapes the net once a size, and the native forward after is the new size's", () => {
  it('PriorBox reshaped once for each ONNX size (not there and back), then natively: priors and detections as a fresh net at that size', async () => {
    const { OnnxSessions } = await import('../src/onnx/run.js');
    const net = await loadHead();
    const priorBoxes = net.graph.layers.filter((l) => l.type === 'PriorBox');
    expect(priorBoxes.length).toBe(2);
    const passes = priorBoxes.map((l) => vi.spyOn(l.impl, 'reshape'));
    const sessions = new OnnxSessions(net, { threads: 1, outputs: ['prior', 'det_center'] });
    const at = (side: number, seed: number) => new Tensor([1, 3, side, side], randomArray(3 * side * side, rng(seed)));
    const onnx = new Map<number, Map<string, Tensor>>();
    for (const side of [24, 32]) onnx.set(side, await sessions.run({ data: at(side, side) }));
    // One shape pass a size: the conversions read the shapes inferred, they infer none of their own.
    for (const spy of passes) expect(spy).toHaveBeenCalledTimes(2);
    await sessions.release();
    // Natively at the last ONNX size: the net is shaped back to its own (16) and then to 32, its buffers with it.
    const got = net.forward({ data: at(32, 32) });
    for (const spy of passes) expect(spy).toHaveBeenCalledTimes(4);
    const fresh = await loadHead();
    const want = fresh.forward({ data: at(32, 32) });
    const prior = (n: Net) => n.blobs.get('prior')!;
    expect(prior(fresh).dims[2]).not.toBe(prior(await loadHead()).dims[2]); // 32's priors are not 16's
    expect([...prior(net).dims]).toEqual([...prior(fresh).dims]);
    expect([...prior(net).data]).toEqual([...prior(fresh).data]);
    expect([...got.det_center.data]).toEqual([...want.det_center.data]);
    expect(got.det_center.dims[2], 'real detections, not the "none" row').toBeGreaterThan(1);
    expect(relativeError(prior(net), onnx.get(32)!.get('prior')!)).toBeLessThanOrEqual(TOLERANCE);
    expect(compareDetections(onnx.get(32)!.get('det_center')!, got.det_center, TOLERANCE)).toMatchObject({ pass: true });
    // And at its own size again: as loaded.
    net.forward({ data: at(16, 16) });
    const own = await loadHead();
    own.forward({ data: at(16, 16) });
    expect([...prior(net).data]).toEqual([...prior(own).data]);
  });
});

interface RealCase {
  dims: number[];
  seed: number;
  amplitude: number;
  salt: string;
  gain: number;
  blobs: string[];
}

/** A real net's fixture: its prototxt, the weights and input rebuilt from spec.json, the fork's blobs. */
function realNet(name: string) {
  const dir = path.join(import.meta.dirname, 'fixtures/ssd', name);
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as RealCase;
  const weights = new Map(hashWeightBlobs(path.join(dir, 'spec.json'), m.salt, m.gain).map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))]));
  const load = () => Net.fromNetParameter(readNetPrototxt(path.join(dir, 'net.prototxt')), weights, [], { threads: 1 });
  const input = new Tensor(m.dims, hashInputData(m.seed, m.amplitude, m.dims));
  return { load, weights, input, blobs: m.blobs, fork: (blob: string) => readNpy(path.join(dir, 'blobs', `${blob}.npy`)) };
}

describe.each(['mobilenet_ssd', 'res10_face'])('real net %s (synthetic weights) vs the fork', (name) => {
  const c = realNet(name);
  it('matches the fork natively, detections row by row in its order', async () => {
    const net = c.load();
    net.forward({ data: c.input });
    for (const blob of c.blobs) {
      const ref = c.fork(blob), ours = net.blobs.get(blob)!;
      expect([...ours.dims], `shape of ${blob}`).toEqual([...ref.dims]);
      expect(relativeError(ours, ref), `blob ${blob}`).toBeLessThanOrEqual(TOLERANCE);
    }
    expect(c.fork('detection_out').dims[2]).toBeGreaterThan(10); // real detections, not the "none" row
  });
  it('through ONNX Runtime: the same detections as sets', async () => {
    const net = c.load();
    const onnx = await runOnnx(net.graph, { data: c.input }, { outputs: c.blobs, threads: 1 });
    expect(compareDetections(onnx.get('detection_out')!, c.fork('detection_out'), TOLERANCE)).toMatchObject({ pass: true });
    for (const blob of c.blobs.filter((b) => b !== 'detection_out'))
      expect(relativeError(onnx.get(blob)!, c.fork(blob)), `blob ${blob}`).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe("MobileNet-SSD's published test net (chuanqi305/MobileNet-SSD voc/MobileNetSSD_test.prototxt)", () => {
  const c = realNet('mobilenet_ssd');
  const dir = path.join(import.meta.dirname, 'fixtures/ssd/mobilenet_ssd');
  it('loads: AnnotatedData an input of its resize_param size, its boxes and DetectionEvaluate dropped; runs as the deploy net', () => {
    const notes: string[] = [];
    const testNet = filterNet(readNetPrototxt(path.join(dir, 'test.prototxt')), {}, notes);
    expect(notes).toEqual([
      'dropped the loss / accuracy layers, which need labels: detection_eval (DetectionEvaluate)',
      "AnnotatedData layer 'data': assumed 3 channels (the prototxt cannot say, and no weights tell)",
      "AnnotatedData layer 'data' became an Input layer: data [8, 3, 300, 300]; dropped its top(s) label, which no remaining layer reads",
    ]);
    const net = Net.fromNetParameter(testNet, c.weights, [], { threads: 1 });
    net.reshape({ data: [1, 3, 300, 300] });
    net.forward({ data: c.input });
    for (const blob of c.blobs.filter((b) => b !== 'detection_out'))
      expect(relativeError(net.blobs.get(blob)!, c.fork(blob)), `blob ${blob}`).toBeLessThanOrEqual(TOLERANCE);
    // Its DetectionOutput keeps more than the deploy net's (top_k 400, keep_top_k 200, confidence 0.01): the deploy
    // net given those settings computes the same rows.
    const deploy = fs.readFileSync(path.join(dir, 'net.prototxt'), 'utf8').replace('top_k: 100', 'top_k: 400').replace('keep_top_k: 100', 'keep_top_k: 200').replace('confidence_threshold: 0.25', 'confidence_threshold: 0.01');
    const same = Net.fromNetParameter(readNetPrototxt(deploy), c.weights, [], { threads: 1 });
    same.forward({ data: c.input });
    const rows = net.blobs.get('detection_out')!;
    expect(rows.dims[2]).toBeGreaterThan(c.fork('detection_out').dims[2]);
    expect([...rows.data]).toEqual([...same.blobs.get('detection_out')!.data]);
  });
});

describe("the SSD fork's webcam demos: DetectionOutput's fourth bottom with visualize is the image it draws on", () => {
  const c = realNet('mobilenet_ssd');
  const text = fs.readFileSync(path.join(import.meta.dirname, 'fixtures/ssd/mobilenet_ssd/net.prototxt'), 'utf8')
    .replace('bottom: "mbox_priorbox"\n  top: "detection_out"', 'bottom: "mbox_priorbox"\n  bottom: "data"\n  top: "detection_out"')
    .replace('detection_output_param {', 'detection_output_param {\n    visualize: true');
  it('natively and through ONNX Runtime: the fork\'s detections (not read as RefineDet\'s ARM confidences)', async () => {
    const notes: string[] = [];
    const net = Net.fromNetParameter(readNetPrototxt(text), c.weights, notes, { threads: 1 });
    expect(net.layers.at(-1)!.def.bottom).toEqual(['mbox_loc', 'mbox_conf_flatten', 'mbox_priorbox', 'data']);
    expect(net.notes).toContain("layer 'detection_out' (DetectionOutput): visualize (the fork's OpenCV window, drawn on bottom 'data') is ignored: use crema detect -o DIR to draw the boxes");
    net.forward({ data: c.input });
    expect(relativeError(net.blobs.get('detection_out')!, c.fork('detection_out'))).toBeLessThanOrEqual(TOLERANCE);
    const onnx = await runOnnx(net.graph, { data: c.input }, { outputs: ['detection_out'], threads: 1 });
    expect(compareDetections(onnx.get('detection_out')!, c.fork('detection_out'), TOLERANCE)).toMatchObject({ pass: true });
  });
});

describe('compareDetections', () => {
  const rows = (...r: number[][]) => new Tensor([1, 1, r.length, 7], Float32Array.from(r.flat()));
  const a = [0, 1, 0.9, 0.1, 0.1, 0.5, 0.5], b = [0, 2, 0.8, 0.2, 0.2, 0.6, 0.7];
  it('matches rows in any order', () => expect(compareDetections(rows(b, a), rows(a, b), 1e-4).pass).toBe(true));
  it('refuses a moved box, another label, a changed score, a missing row', () => {
    expect(compareDetections(rows(a, [0, 2, 0.8, 0.25, 0.2, 0.6, 0.7]), rows(a, b), 1e-4).mismatch).toBe('detections: 1 of 2 without a match (IoU >= 0.99 or corners within 1e-4 (relative beyond 1), score within 0.0001), 1 extra');
    expect(compareDetections(rows(a, [0, 3, 0.8, 0.2, 0.2, 0.6, 0.7]), rows(a, b), 1e-4).pass).toBe(false);
    expect(compareDetections(rows(a, [0, 2, 0.8002, 0.2, 0.2, 0.6, 0.7]), rows(a, b), 1e-4).pass).toBe(false);
    expect(compareDetections(rows(a), rows(a, b), 1e-4).pass).toBe(false);
  });
});

/** A net of one SSD layer on Input blobs, for the refusals. */
function net(layer: string, inputs: Record<string, number[]> = { data: [1, 8, 4, 4], image: [1, 3, 32, 32] }): () => Net {
  const input = Object.entries(inputs)
    .map(([n, d]) => `layer { name: "${n}" type: "Input" top: "${n}" input_param { shape { ${d.map((x) => `dim: ${x}`).join(' ')} } } }`)
    .join('\n');
  return () => Net.fromNetParameter(parsePrototxt(`${input}\n${layer}`, 'ssd.prototxt') as NetParameter);
}

const prior = (p: string) => net(`layer { name: "pb" type: "PriorBox" bottom: "data" bottom: "image" top: "pb" prior_box_param { ${p} } }`);
const detInputs = { loc: [1, 64], conf: [1, 48], prior: [1, 2, 64] };
const detection = (p: string) => net(`layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "prior" top: "det" detection_output_param { ${p} } }`, detInputs);

describe('bad parameters: one line naming the layer', () => {
  const cases: [string, () => Net, string][] = [
    ['PriorBox without min_size', prior('max_size: 4'), "layer 'pb' (PriorBox): needs at least one min_size (prior_box_param.min_size)"],
    ['PriorBox max_size <= min_size', prior('min_size: 8 max_size: 8'), "layer 'pb' (PriorBox): max_size 8 must be greater than min_size 8"],
    ['PriorBox max_size count', prior('min_size: 8 min_size: 9 max_size: 10'), "layer 'pb' (PriorBox): has 1 max_size for 2 min_size: give one per min_size, or none"],
    ['PriorBox 3 variances', prior('min_size: 8 variance: 0.1 variance: 0.1 variance: 0.2'), "layer 'pb' (PriorBox): takes 1 or 4 variance values, got 3"],
    ['PriorBox img_size and img_h', prior('min_size: 8 img_size: 32 img_h: 32 img_w: 32'), "layer 'pb' (PriorBox): give either img_size or img_h/img_w, not both"],
    ['PriorBox step_h alone', prior('min_size: 8 step_h: 4'), "layer 'pb' (PriorBox): step_h and step_w must both be positive, got 4 and 0"],
    // Refused as the net is built: the size-free conversion, which reads the same shapes, never sees such bottoms.
    ['PriorBox 3-D feature map', net('layer { name: "pb" type: "PriorBox" bottom: "data" bottom: "image" top: "pb" prior_box_param { min_size: 8 } }', { data: [1, 8, 4], image: [1, 3, 32, 32] }), "layer 'pb' (PriorBox): bottom 0 (the feature map) must be 4-D (N, C, H, W), got [1, 8, 4]"],
    ['PriorBox 2-D image', net('layer { name: "pb" type: "PriorBox" bottom: "data" bottom: "image" top: "pb" prior_box_param { min_size: 8 } }', { data: [1, 8, 4, 4], image: [1, 3] }), "layer 'pb' (PriorBox): bottom 1 (the image) must be 4-D (N, C, H, W), got [1, 3]"],
    ['PriorBox one bottom', net('layer { name: "pb" type: "PriorBox" bottom: "data" top: "pb" prior_box_param { min_size: 8 } }'), "layer 'pb' (PriorBox): takes 2 bottom(s), got 1"],
    ['DetectionOutput num_classes 0', detection('num_classes: 0'), "layer 'det' (DetectionOutput): needs num_classes (detection_output_param.num_classes), a positive count that includes the background"],
    ['DetectionOutput without num_classes', detection('keep_top_k: 3'), "layer 'det' (DetectionOutput): needs num_classes (detection_output_param.num_classes), a positive count that includes the background"],
    ['DetectionOutput eta 0', detection('num_classes: 3 nms_param { eta: 0 }'), "layer 'det' (DetectionOutput): eta must be in (0, 1], got 0"],
    ['DetectionOutput negative nms_threshold', detection('num_classes: 3 nms_param { nms_threshold: -0.1 }'), "layer 'det' (DetectionOutput): nms_threshold must be non-negative, got -0.1"],
    ['DetectionOutput conf count', detection('num_classes: 4'), "layer 'det' (DetectionOutput): confidence predictions [1, 48] have 48 values per image, but 16 priors x 4 classes need 64"],
    ['DetectionOutput shared locations without background', detection('num_classes: 3 background_label_id: -1'), "layer 'det' (DetectionOutput): background_label_id -1 with share_location: the fork aborts on it ('Could not find location predictions for label -1'); set share_location: false or a background class"],
    ['Permute repeated axis', net('layer { name: "p" type: "Permute" bottom: "data" top: "p" permute_param { order: 0 order: 2 order: 2 } }'), "layer 'p' (Permute): order 0, 2, 2 repeats axis 2"],
    ['Permute axis out of range', net('layer { name: "p" type: "Permute" bottom: "data" top: "p" permute_param { order: 4 } }'), "layer 'p' (Permute): order 4 is out of range for a 4-D bottom"],
    ['Normalize 5-D', net('layer { name: "n" type: "Normalize" bottom: "data" top: "n" }', { data: [1, 2, 2, 2, 2] }), "layer 'n' (Normalize): needs a 2- to 4-D bottom, got [1, 2, 2, 2, 2]"],
  ];
  for (const [what, make, message] of cases) it(what, () => expect(errorOf(make)).toBe(message));
});

describe('DetectionOutput refuses a prior of no area, as the fork\'s decoding of every box does (CHECK_GT)', () => {
  // 16 priors, 3 classes: prior 11 has no width and scores under the threshold (no candidate: its box is never
  // decoded), yet the fork's DecodeBBoxes checks every prior before NMS.
  const run = (code: string) => () => {
    const n = detection(`num_classes: 3 code_type: ${code} confidence_threshold: 0.5`)();
    const priors = new Float32Array(128);
    for (let i = 0; i < 16; i++) priors.set([i / 20, 0.1, i / 20 + 0.1, 0.3], 4 * i);
    priors.fill(0.1, 64);
    priors[4 * 11 + 2] = priors[4 * 11];
    const conf = new Float32Array(48).fill(0.1);
    conf[3 * 2 + 1] = 0.9;
    n.forward({ loc: new Tensor([1, 64], new Float32Array(64)), conf: new Tensor([1, 48], conf), prior: new Tensor([1, 2, 64], priors) });
    return n;
  };
  it('CENTER_SIZE and CORNER_SIZE: one line naming the layer and the prior', () => {
    for (const code of ['CENTER_SIZE', 'CORNER_SIZE'])
      expect(errorOf(run(code))).toBe(`layer 'det' (DetectionOutput): prior 11 has no area (width 0, height 0.20000002), which ${code} decoding cannot use`);
  });
  it('CORNER does not divide by the size: the detections as usual', () => expect(run('CORNER')().blobs.get('det')!.dims).toEqual([1, 1, 1, 7]));
});

describe('Normalize across channels on the wasm engine: the TypeScript loop\'s values within 1e-6 (its sums in double)', () => {
  afterAll(async () => {
    useKernels('wasm');
    await setThreads(1);
  });
  for (const threads of [1, 2])
    it(`per-channel and shared scales, in place and not, images cut over chunks, ${threads} thread(s)`, async () => {
      useKernels('wasm');
      expect(await setThreads(threads, 2)).toBe(threads);
      const random = rng(9);
      // res10's conv4_3_norm (128 x 38 x 38, cut), SSD300's (512 x 38 x 38, cut), inner positions not of whole vectors, 2-D.
      for (const [dims, shared] of [[[1, 128, 38, 38], false], [[2, 64, 19, 21], true], [[1, 512, 9, 10], false], [[3, 300, 5, 3], false], [[40, 200], true]] as const) {
        const n = dims.reduce((a: number, b: number) => a * b, 1);
        const data = randomArray(n, random).map((v) => v * 20);
        data[7] = 0;
        const scale = new Tensor([shared ? 1 : dims[1]], randomArray(shared ? 1 : dims[1], random).map((v) => v * 30));
        for (const inPlace of [false, true]) {
          const run = (kernels: 'wasm' | 'js') => {
            useKernels(kernels);
            const def = layerDef('Normalize', { norm_param: { across_spatial: false, channel_shared: shared, eps: 1e-10 }, bottom: ['x'], top: [inPlace ? 'x' : 'y'] });
            const x = kernels === 'wasm' ? wasmEngine()!.residentArray(n)! : new Float32Array(n);
            x.set(data);
            return runLayer(def, [scale], [new Tensor([...dims], x)])[0].data;
          };
          const got = run('wasm'), want = run('js');
          useKernels('wasm');
          const label = `${dims.join('x')}${shared ? ' shared' : ''}${inPlace ? ' in place' : ''}`;
          let worst = 0;
          for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), 1e-30));
          expect(worst, label).toBeLessThan(1e-6);
          expect(n, label).toBeGreaterThanOrEqual(MIN_NORMALIZE_FLOATS);
        }
      }
    });
});

describe("DetectionOutput's candidates (ranked): the fork's stable sort by score, exactly", () => {
  /** The sort it replaced: the candidates above the threshold in index order, stably by descending score. */
  const bySort = (scores: Float32Array, at: number, stride: number, count: number, threshold: number, topK: number): number[] => {
    const all: number[] = [];
    for (let i = 0; i < count; i++) if (scores[at + i * stride] > threshold) all.push(i);
    all.sort((a, b) => scores[at + b * stride] - scores[at + a * stride] || a - b);
    return topK > -1 && topK < all.length ? all.slice(0, topK) : all;
  };
  it('ties (by index), -0 and +0 alike, infinities, NaN (never a candidate), denormals, strides, top_k from none to all', () => {
    const random = rng(5);
    const special = [0, -0, Infinity, -Infinity, NaN, 1e-40, -1e-40, 0.5, 0.25, -3.4028234663852886e38];
    for (let t = 0; t < 40; t++) {
      const stride = 1 + (t % 3), count = 1 + Math.floor(random() * 3000), scores = new Float32Array(count * stride + 1);
      // Few distinct values in some rounds (many ties), every value a special one now and then.
      for (let i = 0; i < scores.length; i++) scores[i] = random() < 0.2 ? special[Math.floor(random() * special.length)] : t % 2 ? Math.floor(random() * 8) / 8 - 0.5 : random() * 2 - 1;
      const threshold = [-3.4028234663852886e38, 0, 0.01, -0.5, 0.25][t % 5], topK = [-1, 0, 1, 400, count + 5][t % 5];
      const at = t % 2;
      expect(ranked(scores, at, stride, count, threshold, topK), `round ${t}`).toEqual(bySort(scores, at, stride, count, threshold, topK));
    }
  });
});
