#!/usr/bin/env node
// ONNX Runtime sessions for inputs of many sizes, per size (before) against one size-free session (after, anySize):
//   faces: MTCNN (models/mtcnn) on its example image through ONNX Runtime, as `crema faces --backend onnx` runs it
//          (each pyramid scale a new P-Net input size; R-Net and O-Net fixed sizes, batches of boxes);
//   edges: HED (test/fixtures/corpus/hed, hashweights weights) on three inputs of different sizes, as `crema edges
//          --backend onnx` runs a directory of images (its sessions per net, kept across the images);
//   ssd:   OpenCV's res10 SSD face detector (test/fixtures/ssd/res10_face, its weights) at the same three sizes, as a
//          library user runs it on photos at their own size (`crema detect` stretches them to 300 x 300).
// Per case: sessions made and wall time (fresh sessions each run), the two ways interleaved in one process, median.
//   node scripts/bench-any-size.mjs [--runs N] [--threads N]       (needs `npm run build` first)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const runs = flag('--runs', 3), threads = flag('--threads', 2);
const dist = (p) => import(path.join(root, 'dist', p));
await dist('index.js'); // the Node entry installs the platform (files, sharp, onnxruntime-node)
const { OnnxSessions } = await dist('onnx/run.js');
const { Net } = await dist('runtime/net.js');
const { Tensor } = await dist('tensor.js');
const { loadMtcnn } = await dist('detect/faces.js');
const { facesInImage } = await dist('detect/mtcnn.js');
const { onnxForwardEach } = await dist('detect/forward.js');
const { loadImage } = await dist('image/load.js');

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** MTCNN on the example image through sessions made with `anySize` (and `anyBatch`): [ms, sessions made, faces]. */
async function faces(nets, image, anySize) {
  // after: as src/detect/faces.ts now makes them (R-Net's and O-Net's batches of boxes vary too)
  const sessions = new Map(Object.values(nets).map((net) => [net, new OnnxSessions(net, { threads, anySize, anyBatch: anySize })]));
  const t = performance.now();
  const found = await facesInImage(nets, image, {}, onnxForwardEach(sessions));
  const ms = performance.now() - t;
  const made = [...sessions.values()].reduce((n, s) => n + s.made, 0);
  await Promise.all([...sessions.values()].map((s) => s.release()));
  return [ms, made, found.length];
}

/** A net (HED, res10) on three inputs of different sizes through one OnnxSessions: [ms, sessions made]. */
async function edges(net, inputs, anySize) {
  const sessions = new OnnxSessions(net, { threads, anySize });
  const t = performance.now();
  for (const data of inputs) await sessions.run({ data });
  const ms = performance.now() - t;
  const made = sessions.made;
  await sessions.release();
  return [ms, made];
}

function hedWeights() {
  const file = path.join(os.tmpdir(), 'crema-any-size', 'hed.caffemodel');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    execFileSync(process.execPath, [path.join(root, 'test/fixtures/corpus/hashweights.mjs'), 'model', path.join(root, 'test/fixtures/corpus/hed/spec.json'), file, '--salt', 'corpus']);
  }
  return file;
}

const nets = await loadMtcnn(path.join(root, 'models/mtcnn'), { threads });
const image = await loadImage(path.join(root, 'models/mtcnn/examples/handshake.jpg'));
const { hashWeightBlobs } = await import(path.join(root, 'test/helpers/hashweights.mjs'));
const res10Dir = path.join(root, 'test/fixtures/ssd/res10_face');
const res10Manifest = JSON.parse(fs.readFileSync(path.join(res10Dir, 'manifest.json'), 'utf8'));
const res10Weights = new Map(hashWeightBlobs(path.join(res10Dir, 'spec.json'), res10Manifest.salt, res10Manifest.gain).map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))]));
const { readNetPrototxt } = await dist('caffe/load.js');
const res10 = Net.fromNetParameter(readNetPrototxt(path.join(res10Dir, 'net.prototxt')), res10Weights, [], { threads });
const hed = await Net.load(path.join(root, 'test/fixtures/corpus/hed/net.prototxt'), hedWeights(), { threads });
const sizes = [[240, 320], [300, 400], [350, 250]];
const inputs = sizes.map(([h, w], i) => new Tensor([1, 3, h, w], Float32Array.from({ length: 3 * h * w }, (_, j) => ((j * 7919 + i) % 255) - 127)));

const results = { faces: { before: [], after: [] }, edges: { before: [], after: [] }, ssd: { before: [], after: [] } };
for (let r = 0; r < runs; r++) {
  for (const [way, anySize] of [['before', false], ['after', true]]) {
    results.faces[way].push(await faces(nets, image, anySize));
    results.edges[way].push(await edges(hed, inputs, anySize));
    results.ssd[way].push(await edges(res10, inputs, anySize));
  }
}
console.log(`load: ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}; ${os.cpus().length} cores; threads ${threads}; ${runs} runs each, interleaved`);
for (const [name, r] of Object.entries(results)) {
  const before = median(r.before.map((x) => x[0])), after = median(r.after.map((x) => x[0]));
  console.log(`${name}: before ${before.toFixed(0)} ms (${r.before[0][1]} sessions${name === 'faces' ? `, ${r.before[0][2]} faces` : ''}), ` +
    `after ${after.toFixed(0)} ms (${r.after[0][1]} sessions${name === 'faces' ? `, ${r.after[0][2]} faces` : ''}), ${(before / after).toFixed(2)}x; ` +
    `runs before ${r.before.map((x) => x[0].toFixed(0)).join(', ')}, after ${r.after.map((x) => x[0].toFixed(0)).join(', ')}`);
}
for (const n of [...Object.values(nets), hed, res10]) n.dispose();
