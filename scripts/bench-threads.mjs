// Two threads against one, one layer at a time (batch 1, blobs resident in wasm memory as a Net keeps them), after
// `npm run build`: each case runs at 1 and 2 threads in turn, interleaved, and prints the medians, 1t / 2t (the
// speed-up: 2.0 is perfect) and the process's CPU time at 2 threads over 1 (above 1: work the split adds, or
// spinning). Usage: node scripts/bench-threads.mjs [rounds, default 21]; CASES=res,incv3 picks shapes by name;
// BUSY=1 keeps one core busy with a child process meanwhile (as `npm run bench`'s busy section does);
// AB=NAME=VALUE adds a third contender, 2 threads with that environment variable set (an A/B of a switch read
// at run time); AB=judge adds 2 threads without the pool's judges (the per-job Judge of src/kernels/pool.ts and, for
// whole nets, the ForwardJudge of src/runtime/forward-judge.ts: the "2t" contender has them unless CREMA_JUDGE=0). NETS=squeezenet_v1.1,mobilenet times whole forwards of those zoo nets instead (the
// weights `npm run bench` caches in the temp directory: run it once for them). The load average is printed with the results: on a shared machine, quote it with them.
import '../dist/platform/node.js';
import { setThreads, wasmEngine } from '../dist/kernels/wasm.js';
import { convolutionLayer } from '../dist/layers/convolution.js';
import { Tensor } from '../dist/tensor.js';
import { Net } from '../dist/index.js';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { startHog } from './hog.mjs';

const rounds = Number(process.argv[2] ?? 21);
await setThreads(2, 2);
const e = wasmEngine();
// name, in, out, plane, group, kernel, stride[, pad: (kernel - 1) / 2 unless given]
const all = [
  ['res2 3x3', 64, 64, 56, 1, 3, 1], ['res3 3x3', 128, 128, 28, 1, 3, 1], ['res4 3x3', 256, 256, 14, 1, 3, 1], ['res5 3x3', 512, 512, 7, 1, 3, 1],
  ['res2 1x1 a', 256, 64, 56, 1, 1, 1], ['res2 1x1 c', 64, 256, 56, 1, 1, 1], ['res4 1x1 a', 1024, 256, 14, 1, 1, 1], ['res5 1x1 c', 512, 2048, 7, 1, 1, 1],
  ['res conv1 7x7 s2', 3, 64, 224, 1, 7, 2], ['res3a 1x1 s2', 256, 512, 56, 1, 1, 2],
  ['incv3 a 3x3_1', 64, 96, 35, 1, 3, 1], ['incv3 a 5x5', 48, 64, 35, 1, 5, 1], ['incv3 red_a 3x3 s2', 96, 96, 35, 1, 3, 2],
  ['incv3 c 3x3', 448, 384, 8, 1, 3, 1],
  ['mobile dw 112', 32, 32, 112, 32, 3, 1], ['mobile dw 14', 512, 512, 14, 512, 3, 1], ['mobile pw 14', 512, 512, 14, 1, 1, 1], ['mobile pw 7', 1024, 1024, 7, 1, 1, 1],
  ['pose Mconv2', 128, 128, 46, 1, 7, 1], ['pose conv4_3', 512, 256, 46, 1, 3, 1], ['pose conv4_2', 512, 512, 46, 1, 3, 1], ['pose conv3_2', 256, 256, 92, 1, 3, 1],
  ['vgg conv2_2', 128, 128, 112, 1, 3, 1], ['vgg conv3_2', 256, 256, 56, 1, 3, 1], ['vgg conv4_2', 512, 512, 28, 1, 3, 1], ['vgg conv5_2', 512, 512, 14, 1, 3, 1],
  ['incv3 red_a 3x3 288', 288, 384, 35, 1, 3, 2, 0], ['incv3 red_b 3x3 192', 192, 320, 17, 1, 3, 2, 0], ['incv3 conv 1x1 768', 768, 192, 17, 1, 1, 1], ['incv3 c 1x1 2048', 2048, 320, 8, 1, 1, 1],
  ['alex conv1', 3, 96, 227, 1, 11, 4, 0], ['alex conv2', 96, 256, 27, 2, 5, 1], ['alex conv3', 256, 384, 13, 1, 3, 1], ['alex conv4', 384, 384, 13, 2, 3, 1], ['alex conv5', 384, 256, 13, 2, 3, 1],
  ['squeeze e3 55', 16, 64, 55, 1, 3, 1], ['squeeze e3 13', 64, 256, 13, 1, 3, 1], ['squeeze s1 13', 512, 64, 13, 1, 1, 1],
];
const f = process.env.CASES;
const pick = f ? all.filter((c) => f.split(',').some((n) => c[0].includes(n))) : all;
const [abName, abValue] = (process.env.AB ?? '').split('=');
const contenders = [{ label: '1t', threads: 1 }, { label: '2t', threads: 2 }];
const judge = e.pool.judge;
if (abName === 'judge') contenders.push({ label: '2t unjudged', threads: 2, unjudged: true });
else if (abName) contenders.push({ label: `2t ${abName}=${abValue}`, threads: 2, env: abValue });
const resident = (dims) => {
  const n = dims.reduce((a, b) => a * b, 1);
  return new Tensor(dims, e.residentArray(n) ?? new Float32Array(n));
};
const rand = (dims, into = Tensor.zeros(dims)) => {
  for (let i = 0; i < into.data.length; i++) into.data[i] = Math.random() - 0.5;
  return into;
};
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const hog = process.env.BUSY ? startHog() : undefined;
const load0 = os.loadavg()[0];
const sums = contenders.map(() => 0);
/** A case: its name and one forward (a layer, or a whole net). */
async function* cases() {
  for (const model of process.env.NETS?.split(',') ?? []) {
    const proto = [`../shared/models/zoo/${model}.prototxt`, `models/zoo/${model}.prototxt`].find((f) => fs.existsSync(f));
    const net = await Net.load(proto, path.join(os.tmpdir(), `crema-bench-${model}.caffemodel`), { threads: 2 });
    const input = net.inputs[0], dims = net.shapes.get(input);
    const x = rand([...dims]);
    const forwardJudge = net.forwardJudge;
    yield [model, (threads, unjudged) => ((net.threads = threads), (net.forwardJudge = unjudged ? undefined : forwardJudge), net.forward({ [input]: x }))];
    await net.dispose();
  }
  if (process.env.NETS) return;
  for (const [name, cin, cout, hw, group, k, stride, pad = (k - 1) >> 1] of pick) {
    const def = { name, type: 'Convolution', bottom: ['x'], top: ['y'], convolution_param: { num_output: cout, kernel_size: [k], pad: [pad], stride: [stride], group } };
    const layer = convolutionLayer.create(def, [rand([cout, cin / group, k, k]), rand([cout])]);
    const [top] = layer.reshape([[1, cin, hw, hw]]);
    const x = rand([1, cin, hw, hw], resident([1, cin, hw, hw])), y = resident(top);
    yield [name, (threads) => ((e.threads = threads), layer.forward([x], [y]))];
  }
}
for await (const [name, forward] of cases()) {
  const times = contenders.map(() => []), cpu = contenders.map(() => []), waited = contenders.map(() => []);
  const run = (i) => {
    const c = contenders[i];
    if (abName && abName !== 'judge') process.env[abName] = c.env ?? '';
    e.pool.judge = c.unjudged ? undefined : judge;
    const c0 = process.cpuUsage(), t0 = performance.now(), w0 = e.pool.waitedMs;
    forward(c.threads, c.unjudged);
    times[i].push(performance.now() - t0);
    waited[i].push(e.pool.waitedMs - w0);
    const used = process.cpuUsage(c0);
    cpu[i].push((used.user + used.system) / 1000);
  };
  for (let w = 0; w < 3; w++) contenders.forEach((_, i) => run(i));
  contenders.forEach((_, i) => ((times[i].length = 0), (cpu[i].length = 0)));
  for (let r = 0; r < rounds; r++) contenders.forEach((_, k) => run((k + r) % contenders.length));
  const m = times.map(process.env.MEAN ? (a) => a.reduce((x, y) => x + y, 0) / a.length : med), c = cpu.map(med);
  m.forEach((v, i) => (sums[i] += v));
  // waited: the main thread's time, its chunks done, waiting for the workers' last chunks (median per run).
  const cols = contenders.map((ct, i) => `${ct.label} ${m[i].toFixed(3).padStart(7)}${i ? ` (1t/this ${(m[0] / m[i]).toFixed(2)}, cpu ${(c[i] / c[0]).toFixed(2)}, waited ${med(waited[i]).toFixed(2)})` : ''}`);
  console.log(`${name.padEnd(20)} ${cols.join('  ')}`);
}
hog?.kill();
if (judge) console.log(`judge: ${judge.solo} jobs run alone, ${judge.parallelRuns} in parallel`);
console.log(`sum ${contenders.map((ct, i) => `${ct.label} ${sums[i].toFixed(2)}${i ? ` (${(sums[0] / sums[i]).toFixed(2)})` : ''}`).join('  ')}; ${hog ? 'busy core; ' : ''}load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`);
