// The benchmark's busy section for one net, forward by forward: native and ORT at 1 and 2 threads interleaved as
// `npm run bench -- --only busy` runs them (`zooRatios(..., { together: true })`: a CPU hog on one core, the net
// loaded at 2 threads, `net.threads` switched per forward, one warm-up round, then ITER rounds each starting one
// contender later), printing every native forward's time, its way at 2 threads (P parallel, A alone), the main
// thread's CPU and run-queue wait (/proc/self/task/PID/schedstat) and the contender that ran before it. Usage:
//   node scripts/bench-busy.mjs NET [iterations, default 8] [repeats, default 1]
// QUIET=1 without the hog; NOORT=1 without the ORT contenders.
import '../dist/platform/node.js';
import { Net, Tensor } from '../dist/index.js';
import { interleave } from '../dist/bench/stats.js';
import { setNativeThreads } from '../dist/bench/bench-net.js';
import { convertGraph, encodeConversion } from '../dist/onnx/convert.js';
import ort from 'onnxruntime-node';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHog } from './hog.mjs';

const model = process.argv[2] ?? 'googlenet', iterations = Number(process.argv[3] ?? 8), repeats = Number(process.argv[4] ?? 1);
const proto = [`../shared/models/zoo/${model}.prototxt`, `models/zoo/${model}.prototxt`].find((f) => fs.existsSync(f));
const hog = process.env.QUIET ? undefined : startHog();
await new Promise((r) => setTimeout(r, 200));
const med = (a) => {
  const s = [...a].sort((p, q) => p - q), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const schedstat = () => fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
const session = (bytes, threads) =>
  ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
const load0 = os.loadavg()[0];
const ratios = [];
for (let rep = 0; rep < repeats; rep++) {
  const net = await Net.load(proto, path.join(os.tmpdir(), `crema-bench-${model}.caffemodel`));
  await setNativeThreads(2, [net]);
  const input = net.inputs[0], dims = net.shapes.get(input);
  const x = new Tensor(dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => Math.random() * 100 - 50));
  const bytes = encodeConversion(convertGraph(net.graph, {}));
  const feeds = { [input]: new ort.Tensor('float32', x.data, [...dims]) };
  const sessions = process.env.NOORT ? [] : [await session(bytes, 1), await session(bytes, 2)];
  let way = '';
  const fj = net.forwardJudge;
  if (fj) {
    const choose = fj.choose.bind(fj);
    fj.choose = (key) => { const w = choose(key); way = w === 'alone' ? 'A' : 'P'; return w; };
  }
  const log = { 1: [], 2: [] };
  let previous = '-';
  const native = (threads) => ({
    name: `native ${threads}`,
    run: () => {
      way = '1';
      net.threads = threads;
      const s0 = schedstat(), c0 = process.cpuUsage();
      net.forward({ [input]: x });
      const s1 = schedstat(), c = process.cpuUsage(c0);
      log[threads].push({ way, after: previous, cpu: (c.user + c.system) / 1000, run: (s1[0] - s0[0]) / 1e6, wait: (s1[1] - s0[1]) / 1e6, slices: s1[2] - s0[2] });
      previous = `n${threads}`;
    },
  });
  const onnx = (threads) => ({ name: `onnx ${threads}`, run: async () => { await sessions[threads - 1].run(feeds); previous = `o${threads}`; } });
  const contenders = [1, 2].flatMap((t) => (sessions.length ? [native(t), onnx(t)] : [native(t)]));
  const samples = await interleave(contenders, { iterations, warmup: 1 });
  for (const s of sessions) await s.release();
  for (const t of [1, 2]) {
    const n = samples.get(`native ${t}`), l = log[t].slice(1);
    console.log(`${model} native ${t}t: median ${med(n).toFixed(1)} ms; forward: ms way after main-cpu main-run main-wait slices`);
    console.log('   ' + n.map((ms, i) => `${ms.toFixed(1)} ${l[i].way} ${l[i].after} ${l[i].cpu.toFixed(1)} ${l[i].run.toFixed(1)} ${l[i].wait.toFixed(1)} ${l[i].slices}`).join(' | '));
    if (sessions.length) console.log(`   ORT ${t}t median ${med(samples.get(`onnx ${t}`)).toFixed(1)}`);
  }
  const r = med(samples.get('native 2')) / med(samples.get('native 1'));
  ratios.push(r);
  console.log(`  native 2t / 1t ${r.toFixed(3)}`);
  await net.dispose();
}
console.log(`${model}: 2t / 1t ${ratios.map((r) => r.toFixed(3)).join(' ')}; load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)} (${new Date().toISOString().slice(11, 16)} UTC)`);
hog?.kill();
process.exit(0);
