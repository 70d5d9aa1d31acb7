// The corpus: real-world deploy nets from public repositories (test/fixtures/corpus/<net>/net.prototxt, as
// published; manifest.json names the source), with synthetic weights and input regenerated here exactly as
// make-corpus.mjs made them for the referee (hashweights.mjs, salt 'corpus'). For each net: it loads; every blob's
// shape is the referee's (what `crema info` prints); the kept blobs match the referee natively and through ONNX
// Runtime, within 1e-4 · max(1, max|ref|). Referees: BVLC Caffe 1.0, OpenCV 4.5.1 dnn, the SSD fork (manifest).
// Nets listed in cases.json's "pending" wait for a layer crema lacks: their test checks that they are refused by
// name for that reason (so it fails, and says so, once the layer lands and the net should join the corpus).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { freeSize, graphReshaper } from '../src/onnx/batch.js';
import { type OnnxConversion, convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { compareDetections } from '../src/verify/detections.js';
import { readNpy } from '../src/util/npy.js';
import { randomArray, rng } from './helpers/compute.js';
import { TOLERANCE, relativeError } from './helpers/reference.js';
import { dir, manifestOf, material } from './helpers/corpus.js';

interface Case {
  name: string;
  source: { repo: string; path: string; commit: string };
  referee: string;
  /** Why the net cannot run yet: the error crema gives for it now (a layer crema lacks). */
  pending?: string;
  /** What `--any-size` gives (its default outputs, the net's): true when size-free, else the check's one line (a net that runs must say). */
  anySize?: true | string;
  /**
   * For a size-free net: two other heights and widths at which the one model is run (a few pixels off its own); none
   * for FCN-8s, whose 4096-wide 7 x 7 fc6 makes it the slow one (18 s here): its verdict only.
   */
  anySizeAt?: [number, number][];
}

const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8')) as Case[];
function corpusCase(c: Case) {
  const prototxt = path.join(dir, c.name, 'net.prototxt');
  const ref = (b: string) => readNpy(path.join(dir, c.name, 'blobs', `${b.replaceAll('/', '__')}.npy`));
  const title = `${c.name} (${c.source.repo}, ${c.source.path}; referee ${c.referee})`;
  if (c.pending) {
    it(`${title} waits for: ${c.pending}`, async () => {
      await expect(Net.load(prototxt, undefined, { threads: 1 })).rejects.toThrow(c.pending);
    });
    return;
  }
  it(`${title}: loads, shapes and blobs match the referee natively and through ONNX Runtime`, async () => {
    const m = manifestOf(c.name);
    const { weights, input } = material(c.name, m);
    const net = await Net.load(prototxt, weights);
    const x = readNpy(input);
    const inputName = net.inputs[0];
    net.reshape({ [inputName]: x.dims });
    // DetectionOutput's rows are as many as it finds: its shape is known after the forward, and its rows are
    // compared as sets (same image and label, IoU >= 0.99, score within the tolerance), as `crema verify` does.
    const detections = new Set(net.layers.filter((l) => l.type === 'DetectionOutput').flatMap((l) => l.tops));
    for (const [blob, dims] of Object.entries(m.shapes))
      if (!detections.has(blob)) expect([...(net.shapes.get(blob) ?? [])], `shape of ${blob}`).toEqual(dims);
    net.forward({ [inputName]: x });
    const error = (b: string, ours: Tensor) => (detections.has(b) ? compareDetections(ours, ref(b), TOLERANCE).abs : relativeError(ours, ref(b)));
    for (const b of m.blobs) expect(error(b, net.blobs.get(b)!), `native ${b}`).toBeLessThanOrEqual(TOLERANCE);
    const onnx = await runOnnx(net.graph, { [inputName]: x }, { outputs: m.blobs });
    for (const b of m.blobs) expect(error(b, onnx.get(b)!), `onnx ${b}`).toBeLessThanOrEqual(TOLERANCE);
  }, 600_000);
}

// HED's Crops have no crop_param: BVLC Caffe (the corpus case) cuts at 0, 0; HED's own Caffe, FCN's of 2015, aligns
// them by the layers' coordinate maps (34, 35, 36, 38 and 42 pixels in): the hed dialect, against that Caffe as
// CRF-RNN's fork keeps it (fixtures/corpus/hed/fork/make.sh).
describe('HED in the hed dialect, against FCN\'s Caffe of 2015 (torrvision/caffe)', () => {
  it('notes the offsets BVLC\'s reading leaves out, and with the dialect matches that Caffe natively and through ONNX Runtime', async () => {
    const m = manifestOf('hed');
    const { weights, input } = material('hed', m);
    const prototxt = path.join(dir, 'hed', 'net.prototxt');
    const bvlc = await Net.load(prototxt, weights, { threads: 1 });
    expect(bvlc.notes.filter((n) => n.includes('no crop_param')).map((n) => /would cut at (\d+, \d+)/.exec(n)![1])).toEqual(['34, 34', '35, 35', '36, 36', '38, 38', '42, 42']);
    bvlc.dispose();
    const net = await Net.load(prototxt, weights, { threads: 1, dialect: 'hed' });
    expect(net.notes.some((n) => n.includes('no crop_param'))).toBe(false);
    const x = readNpy(input);
    net.reshape({ data: x.dims });
    net.forward({ data: x });
    const blobs = ['upscore-dsn1', 'upscore-dsn2', 'upscore-dsn3', 'upscore-dsn4', 'upscore-dsn5', 'sigmoid-fuse'];
    const fork = (b: string) => readNpy(path.join(dir, 'hed', 'fork', 'blobs', `${b}.npy`));
    for (const b of blobs) expect(relativeError(net.blobs.get(b)!, fork(b)), `native ${b}`).toBeLessThanOrEqual(TOLERANCE);
    const onnx = await runOnnx(net.graph, { data: x }, { outputs: blobs });
    for (const b of blobs) expect(relativeError(onnx.get(b)!, fork(b)), `onnx ${b}`).toBeLessThanOrEqual(TOLERANCE);
    net.dispose();
  }, 600_000);

  it('refuses a crop_param in that dialect, where that Crop has none', async () => {
    const text = 'input: "data" input_dim: 1 input_dim: 1 input_dim: 8 input_dim: 8\n' +
      'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 1 kernel_size: 3 pad: 2 } }\n' +
      'layer { name: "crop" type: "Crop" bottom: "c" bottom: "data" top: "o" crop_param { offset: 1 } }\n';
    await expect(Net.load(new TextEncoder().encode(text), undefined, { dialect: 'hed' })).rejects.toThrow(
      "layer 'crop' (Crop): has crop_param, which the Crop of FCN's Caffe of 2015 (the hed dialect) does not: it aligns by the layers' coordinate maps");
  });
});

// `crema convert --any-size` on each net: converted once at its own size with the net's outputs, either size-free
// (freeSize says so) and then run in ONNX Runtime at two other sizes against the native engine reshaped to each
// (tolerance as above), or refused in the one line cases.json holds, naming a layer that holds the size as it must
// (an InnerProduct's weights span the spatial axes). The SSDs are size-free: their PriorBoxes and DetectionOutput
// follow the image size, and the detections are compared as sets, as above.
const SIZE_BOUND_TYPES = ['InnerProduct'];

function anySizeCase(c: Case) {
  const verdict = c.anySize !== true ? 'refused, naming the layer' : c.anySizeAt ? 'size-free, one model right at two other sizes' : 'size-free';
  it(`${c.name}: --any-size: ${verdict}`, async () => {
    expect(c.anySize, `cases.json: ${c.name}'s anySize`).toBeDefined();
    const m = manifestOf(c.name);
    const net = await Net.load(path.join(dir, c.name, 'net.prototxt'), material(c.name, m).weights, { threads: 1 });
    net.reshape({ [net.inputs[0]]: m.input.dims });
    const conversion = convertGraph(net.graph, { anySize: true });
    const why = freeSize(net.graph, conversion, graphReshaper(net.graph), {});
    if (c.anySize !== true) {
      expect(why).toBe(c.anySize);
      expect(SIZE_BOUND_TYPES).toContain(/layer '[^']+' \((\w+)\)/.exec(why!)![1]);
    } else {
      expect(why).toBeUndefined();
      if (c.anySizeAt) await sameAtSizes(net, withCompared(net, conversion, m.blobs), c.anySizeAt, m.input.seed, m.blobs);
    }
    net.dispose();
  }, 600_000);
}

/** The size-free conversion with the blobs the case compares as outputs too (res10's heads), freed as the first. */
function withCompared(net: Net, conversion: OnnxConversion, compared: string[]): OnnxConversion {
  const outputs = [...new Set([...net.outputs, ...compared])];
  if (outputs.length === net.outputs.length) return conversion;
  const more = convertGraph(net.graph, { anySize: true, outputs });
  expect(freeSize(net.graph, more, graphReshaper(net.graph), { outputs }), `with outputs ${outputs.join(', ')}`).toBeUndefined();
  return more;
}

/**
 * The one size-free model run at each size (one session) and the net reshaped to it: every output agrees, a
 * DetectionOutput's rows as sets where the case compares them (res10's synthetic weights overflow its boxes:
 * test/onnx-any-size.test.ts runs its detections with fixtures/ssd's weights).
 */
async function sameAtSizes(net: Net, conversion: OnnxConversion, sizes: [number, number][], seed: number, compared: string[]): Promise<void> {
  const session = await ort.InferenceSession.create(encodeConversion(conversion), { intraOpNumThreads: 2, logSeverityLevel: 3 });
  const inputName = net.inputs[0];
  const detections = new Set(net.layers.filter((l) => l.type === 'DetectionOutput').flatMap((l) => l.tops));
  for (const [i, [h, w]] of sizes.entries()) {
    const dims = [1, net.shapes.get(inputName)![1], h, w], x = new Tensor(dims, randomArray(sizeOf(dims), rng(seed + i)));
    const results = await session.run({ [inputName]: new ort.Tensor('float32', x.data, dims) });
    net.reshape({ [inputName]: dims });
    net.forward({ [inputName]: x });
    for (const [blob, name] of conversion.outputs) {
      const want = net.blobs.get(blob)!, got = new Tensor([...results[name].dims], results[name].data as Float32Array);
      if (detections.has(blob)) {
        if (compared.includes(blob)) expect(compareDetections(got, want, TOLERANCE).abs, `${blob} at ${h}x${w} (as sets)`).toBeLessThanOrEqual(TOLERANCE);
        continue;
      }
      expect([...got.dims], `shape of ${blob} at ${h}x${w}`).toEqual([...want.dims]);
      expect(relativeError(got, want), `${blob} at ${h}x${w}`).toBeLessThanOrEqual(TOLERANCE);
    }
  }
  await session.release();
}

describe('the corpus of real-world nets (test/fixtures/corpus)', () => {
  it('has at least 20 nets, each with its source', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    for (const c of cases) expect(c.source.repo).toMatch(/^[\w.-]+\/[\w.-]+$/);
  });
  for (const c of cases) corpusCase(c);
});

describe('crema convert --any-size on the corpus', () => {
  for (const c of cases) if (!c.pending) anySizeCase(c);
});
