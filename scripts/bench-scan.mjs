#!/usr/bin/env node
// BVLC's LSTM in ONNX Runtime (onnxruntime-node), the two forms crema converts it to: unrolled (the default, the
// net's fixed T: each step's nodes written out) against a Scan over the run's T (ConvertOptions.anySize, `crema
// convert --any-size`: one step as its body), on an LRCN-like net: two stacked LSTMs of 1000 hidden units over
// 1000-wide inputs, the second with a 1000-wide static input (LRCN's image features), N streams of T steps.
// Per form: session creation, then runs interleaved (unrolled, Scan, unrolled, ...) in one process; medians, and
// the outputs' largest difference.
//   node scripts/bench-scan.mjs [--runs N] [--threads N] [--steps T] [--streams N]   (needs `npm run build` first)
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const runs = flag('--runs', 15), threads = flag('--threads', 1), T = flag('--steps', 20), N = flag('--streams', 2);
const dist = (p) => import(path.join(root, 'dist', p));
await dist('platform/node.js');
const ort = await import('onnxruntime-node');
const { Net } = await dist('runtime/net.js');
const { Tensor } = await dist('tensor.js');
const { parsePrototxt } = await dist('caffe/prototxt.js');
const { convertGraph, encodeConversion } = await dist('onnx/convert.js');

const H = 1000, C = 1000, S = 1000;
const prototxt = `
  layer { name: "x" type: "Input" top: "x" input_param { shape { dim: ${T} dim: ${N} dim: ${C} } } }
  layer { name: "cont" type: "Input" top: "cont" input_param { shape { dim: ${T} dim: ${N} } } }
  layer { name: "features" type: "Input" top: "features" input_param { shape { dim: ${N} dim: ${S} } } }
  layer { name: "lstm1" type: "LSTM" bottom: "x" bottom: "cont" top: "lstm1" recurrent_param { num_output: ${H} } }
  layer { name: "lstm2" type: "LSTM" bottom: "lstm1" bottom: "cont" bottom: "features" top: "lstm2" recurrent_param { num_output: ${H} } }`;
const filled = (dims, seed) => new Tensor(dims, Float32Array.from({ length: dims.reduce((a, b) => a * b) }, (_, i) => 0.05 * Math.sin(1.3 * i + seed)));
const weights = new Map([
  ['lstm1', [filled([4 * H, C], 1), filled([4 * H], 2), filled([4 * H, H], 3)]],
  ['lstm2', [filled([4 * H, H], 4), filled([4 * H], 5), filled([4 * H, S], 6), filled([4 * H, H], 7)]],
]);
const net = Net.fromNetParameter(parsePrototxt(prototxt, 'lrcn-like.prototxt'), weights, [], { threads: 1 });
const cont = Float32Array.from({ length: T * N }, (_, i) => (i < N ? 0 : 1)); // each stream's sentence starts at step 0
const feeds = {
  x: new ort.Tensor('float32', filled([T, N, C], 8).data, [T, N, C]),
  cont: new ort.Tensor('float32', cont, [T, N]),
  features: new ort.Tensor('float32', filled([N, S], 9).data, [N, S]),
};

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const forms = {};
for (const [form, anySize] of [['unrolled', false], ['Scan', true]]) {
  const conversion = convertGraph(net.graph, { anySize });
  const bytes = encodeConversion(conversion);
  const t = performance.now();
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, logSeverityLevel: 3 });
  forms[form] = { session, create: performance.now() - t, nodes: conversion.model.graph.node.length, bytes: bytes.length, times: [], out: undefined };
}
for (let r = 0; r < runs + 1; r++)
  for (const f of Object.values(forms)) {
    const t = performance.now();
    const out = await f.session.run(feeds);
    if (r > 0) f.times.push(performance.now() - t); // the first run of each warms up
    f.out = out.lstm2.data;
  }
let diff = 0;
for (let i = 0; i < forms.Scan.out.length; i++) diff = Math.max(diff, Math.abs(forms.Scan.out[i] - forms.unrolled.out[i]));
console.log(`LRCN-like: 2 LSTMs, H ${H}, input ${C}, static ${S}; T ${T}, N ${N}; onnxruntime-node, ${threads} thread(s); ${runs} runs each, interleaved`);
for (const [form, f] of Object.entries(forms))
  console.log(`${form.padEnd(9)} ${String(f.nodes).padStart(5)} nodes, model ${(f.bytes / 1e6).toFixed(1)} MB; session ${f.create.toFixed(0)} ms; run median ${median(f.times).toFixed(2)} ms (min ${Math.min(...f.times).toFixed(2)}, max ${Math.max(...f.times).toFixed(2)})`);
console.log(`Scan / unrolled run: ${(median(forms.Scan.times) / median(forms.unrolled.times)).toFixed(2)}; session: ${(forms.Scan.create / forms.unrolled.create).toFixed(2)}; outputs' largest difference ${diff.toExponential(2)}`);
for (const f of Object.values(forms)) await f.session.release();
net.dispose();
