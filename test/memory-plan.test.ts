// net.keepBlobs (src/runtime/memory-plan.ts): with a list, the blobs not kept share storage once their last reader
// has run. The kept blobs keep Caffe's numbers (corpus nets against their referee's blobs); the storage is really
// shared (the wasm heap a forward takes, against the same net keeping every blob: a memory count); a released
// blob's read, or a forward starting over one, is refused in one line naming it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeCaffemodel } from '../src/caffe/caffemodel.js';
import { wasmEngine } from '../src/kernels/wasm.js';
import { verify } from '../src/api.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { detectImage, detectionOutputs } from '../src/detect/detect.js';
import { loadImage } from '../src/index.js';
import { Net } from '../src/runtime/net.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { dir, manifestOf, material } from './helpers/corpus.js';
import { FRCNN_FIXTURE, frcnnWeights } from './helpers/frcnn.js';
import { TOLERANCE, relativeError } from './helpers/reference.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-memory-plan-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// data (4 x 64 x 64) -> c1 (ReLU in place) -> c2 -> ... -> c6, 32 x 64 x 64 each (512 KiB) -> pool -> out (8 x 32 x 32).
// Each c_k lives from its layer to the next one's: two slots of 512 KiB hold c1..c6 and the pool's top.
const CHAIN = 6;
const proto = path.join(tmp, 'chain.prototxt'), weights = path.join(tmp, 'chain.caffemodel');
const conv = (name: string, bottom: string, out: number, k: number) =>
  `layer { name: "${name}" type: "Convolution" bottom: "${bottom}" top: "${name}" convolution_param { num_output: ${out} kernel_size: ${k} pad: ${(k - 1) / 2} } }`;
fs.writeFileSync(proto, [
  'name: "chain" input: "data" input_dim: 1 input_dim: 4 input_dim: 64 input_dim: 64',
  conv('c1', 'data', 32, 3),
  'layer { name: "r1" type: "ReLU" bottom: "c1" top: "c1" }',
  ...Array.from({ length: CHAIN - 1 }, (_, i) => conv(`c${i + 2}`, `c${i + 1}`, 32, 3)),
  `layer { name: "pool" type: "Pooling" bottom: "c${CHAIN}" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }`,
  conv('out', 'pool', 8, 1),
].join('\n'));
const convWeights = (name: string, out: number, inp: number, k: number) => ({ name, type: 'Convolution', blobs: [
  { shape: { dim: [out, inp, k, k] }, data: Float32Array.from({ length: out * inp * k * k }, (_, i) => Math.sin(i + out) / (inp * k)) },
  { shape: { dim: [out] }, data: Float32Array.from({ length: out }, (_, i) => Math.cos(i) / 8) },
] });
fs.writeFileSync(weights, encodeCaffemodel({ name: 'chain', layer: [
  convWeights('c1', 32, 4, 3), ...Array.from({ length: CHAIN - 1 }, (_, i) => convWeights(`c${i + 2}`, 32, 32, 3)), convWeights('out', 8, 32, 1),
] }));
const input = new Tensor([1, 4, 64, 64], Float32Array.from({ length: 4 * 64 * 64 }, (_, i) => Math.sin(i / 7)));

const floats = { data: 4 * 64 * 64, c: 32 * 64 * 64, pool: 32 * 32 * 32, out: 8 * 32 * 32 };

/** The wasm heap a net takes from before its load to after one forward and `then` (the net disposed after). */
async function heapOf(keepBlobs: 'all' | string[], then: (net: Net) => void = () => undefined): Promise<number> {
  const heap = wasmEngine()!.heap, before = heap.used;
  const net = await Net.load(proto, weights, { threads: 1, keepBlobs });
  net.forward({ data: input });
  then(net);
  const grown = heap.used - before;
  net.freesBlobs = true; // its blobs freed by dispose, not by the collector some time later (in another measurement)
  await net.dispose();
  return grown;
}

describe('net.keepBlobs', () => {
  it('shares the storage of the blobs not kept: the wasm heap a forward takes is the plan\'s blobs, not all of them', async () => {
    if (!wasmEngine()) throw new Error('this test needs the wasm kernels (CREMA_KERNELS=js is set)');
    const all = 4 * (floats.data + CHAIN * floats.c + floats.pool + floats.out);
    const planned = 4 * (floats.data + 2 * floats.c + floats.out); // two slots of one c each: the pool's top in one
    const bytes = [0, 0];
    await heapOf('all', (net) => void (bytes[0] = net.blobBytes())); // the engine's scratch grown to the net's first
    const kept = await heapOf('all');
    const plan = await heapOf([], (net) => void (bytes[1] = net.blobBytes()));
    expect(bytes).toEqual([all, planned]);
    // Each array's 64 bytes of room after it, rounded to 64: at most 128 bytes a blob more than its floats.
    expect(plan).toBeLessThanOrEqual(kept - (all - planned) + 128 * (CHAIN + 4));
    expect(plan).toBeGreaterThanOrEqual(kept - (all - planned) - 128 * (CHAIN + 4));
    // Set after a forward: the arrays of the blobs it plans are freed, and the slots take their room.
    const later = await heapOf('all', (net) => {
      net.keepBlobs = [];
      net.forward({ data: input });
    });
    expect(Math.abs(later - plan)).toBeLessThanOrEqual(128 * (CHAIN + 4));
  });

  it('keeps the outputs and the blobs listed at their values; a released blob\'s read, or a forward from a layer reading one, is refused in one line', async () => {
    const every = await Net.load(proto, weights, { threads: 1 });
    every.forward({ data: input });
    const want = (name: string) => Float32Array.from(every.blobs.get(name)!.data);
    const net = await Net.load(proto, weights, { threads: 1, keepBlobs: ['c3'] });
    expect(net.keepBlobs).toEqual(['c3']);
    const out = net.forward({ data: input });
    expect(out.out.data).toEqual(want('out'));
    expect(net.blobs.get('c3')!.data).toEqual(want('c3'));
    expect(net.blobs.get('data')!.data).toEqual(input.data);
    const why = "holds no value: net.keepBlobs keeps only the outputs and the blobs it lists, the others' storage going to later blobs once their last reader has run (set net.keepBlobs = 'all', or list 'c2' in it, before the forward to read it)";
    expect(() => net.blobs.get('c2')!.data).toThrow(`net.blobs: blob 'c2' ${why}`);
    expect(() => net.forward({}, { start: 'c3' })).toThrow(`forward: layer 'c3' reads a released blob: blob 'c2' ${why}`);
    // From the kept blob on, a forward runs as before.
    expect(net.forward({}, { start: 'c4' }).out.data).toEqual(want('out'));
    net.keepBlobs = 'all';
    net.forward({ data: input });
    for (const name of ['c1', 'c2', 'c5', 'pool']) expect(net.blobs.get(name)!.data, name).toEqual(want(name));
    expect(() => (net.keepBlobs = ['nope'])).toThrow("keepBlobs: no blob named 'nope' in the net");
    expect(() => (net.keepBlobs = 'outputs' as 'all')).toThrow("keepBlobs: 'all' or an array of blob names, got 'outputs'");
    await expect(Net.load(proto, weights, { keepBlobs: [3] as unknown as string[] })).rejects.toThrow('keepBlobs: expected an array of names, got a number in it');
    every.dispose();
    net.dispose();
  });

  it('verify compares every blob of a planned net, its plan laid aside for the forward and put back', async () => {
    const net = await Net.load(proto, weights, { threads: 1, keepBlobs: [] });
    const report = await verify(net, { threads: 1 });
    expect(report.pass).toBe(true);
    expect(report.blobs.map((b) => b.blob).sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'data', 'out', 'pool']);
    expect(net.keepBlobs).toEqual([]);
    net.forward({ data: input });
    expect(() => net.blobs.get('c2')!.data).toThrow("net.blobs: blob 'c2' holds no value");
    net.dispose();
  });
});

// Real nets (the corpus): Concat layouts (Inception, DenseNet, OpenPose's stages), fused BatchNorm chains, in-place
// layers, HED's side outputs; SSD's DetectionOutput sizes its top at run time (it and what follows kept, the rest planned).
describe('the corpus with only its referee\'s blobs kept: the same numbers, in less memory', () => {
  for (const name of ['hed', 'mtcnn_onet', 'densenet121', 'se_bn_inception', 'xception', 'openpose_hand', 'mobilenet_ssd']) {
    it(name, async () => {
      const m = manifestOf(name), { weights, input } = material(name, m);
      const net = await Net.load(path.join(dir, name, 'net.prototxt'), weights, { keepBlobs: m.blobs });
      const x = readNpy(input);
      net.reshape({ [net.inputs[0]]: x.dims });
      net.forward({ [net.inputs[0]]: x });
      for (const b of m.blobs.filter((b) => !b.startsWith('detection')))
        expect(relativeError(net.blobs.get(b)!, readNpy(path.join(dir, name, 'blobs', `${b.replaceAll('/', '__')}.npy`))), b).toBeLessThanOrEqual(TOLERANCE);
      const all = 4 * [...net.shapes.values()].reduce((sum, s) => sum + sizeOf(s), 0);
      expect(net.blobBytes()).toBeLessThan(0.7 * all); // 0.08 (DenseNet) to 0.69 (MTCNN's O-Net, its 48 x 48 input kept)
      net.dispose();
    }, 300_000);
  }
});

/** A float array's bytes (NaN payloads and -0 included): bit-for-bit comparison. */
const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

// A layer that sizes its tops (FrcnnProposal: its rois follow each forward's proposals) and the blobs after it keep
// arrays of their own; the backbone is planned, conv1 among it living across the proposal layer to ROIPooling (the
// proposal's forward shapes the layers after it again mid-forward: the plan and its slots must stay). Two scales:
// two forwards at two sizes, the net reshaped (and planned again) between them.
describe('a net with a layer that sizes its tops: the blobs before and beside it planned', () => {
  const load = () => Net.fromNetParameter(upgradeNet(parsePrototxt(fs.readFileSync(path.join(FRCNN_FIXTURE, 'net.prototxt'), 'utf8'), 'net.prototxt'), 'net.prototxt'), frcnnWeights(), [], { threads: 1, frcnnConfig: fs.readFileSync(path.join(FRCNN_FIXTURE, 'two-scales.json'), 'utf8') });

  it("detect's detections and blobs are keepBlobs 'all''s, bit for bit, in less memory; a released blob is refused", async () => {
    const image = await loadImage(path.join(FRCNN_FIXTURE, 'image.png'));
    const all = load(), planned = load();
    const read = detectionOutputs(planned);
    planned.keepBlobs = read;
    // At 32 x 32 the sized blobs (300 rois' worth) dominate: the backbone's pool1, the RPN's scores and deltas
    // (1,280 floats) share 'scaled''s slot.
    expect(all.blobBytes() - planned.blobBytes()).toBe(4 * 1280);
    const expected = detectImage(all, image);
    expect(expected.length).toBeGreaterThan(0);
    expect(detectImage(planned, image)).toEqual(expected);
    for (const b of read) expect(bytesOf(planned.blobs.get(b)!.data).equals(bytesOf(all.blobs.get(b)!.data)), b).toBe(true);
    expect(planned.blobs.get('rois')!.dims).toEqual(all.blobs.get('rois')!.dims);
    // 'scaled' (the Power's top) is read by conv1 only: pool1's storage since
    expect(() => planned.blobs.get('scaled')!.data).toThrow("net.blobs: blob 'scaled' holds no value");
    all.dispose();
    planned.dispose();
  });
});
