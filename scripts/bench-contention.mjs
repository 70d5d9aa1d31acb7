// How much slower a chunk runs while the other thread runs its own chunks of the same job (what the two cores
// share: caches, memory, the lines two chunks both write) than alone, load-proof: forwards with every job cut for
// two threads alternate between alone (every chunk on this thread) and in parallel (unjudged), and each chunk's
// least time over the rounds is kept each way (the main thread's chunks only, in parallel); preemptions by other
// processes only lengthen single runs. Usage: node scripts/bench-contention.mjs NET [rounds, default 8]; TOP=n.
import '../dist/platform/node.js';
import { wasmEngine } from '../dist/kernels/wasm.js';
import { unjudgedNet } from './unjudged-net.mjs';
import os from 'node:os';

const model = process.argv[2] ?? 'inception_v3', rounds = Number(process.argv[3] ?? 8);
const { net, pool, input, x } = await unjudgedNet(model);
const e = wasmEngine();
const runChunk = pool.kernels.runChunk;
let times = new Map();
pool.kernels = { runChunk: (p, c, t) => { const t0 = performance.now(); runChunk(p, c, t); times.set(c, performance.now() - t0); } };
const run0 = pool.run.bind(pool);
let alone = false, jobIndex = 0, recording = false;
const jobs = []; // job index -> { kind, alone: Map chunk -> least ms, parallel: Map }
pool.run = (chunks, t) => {
  pool.alone = alone;
  times = new Map();
  const kind = e.u32[pool.params / 4];
  run0(chunks, t);
  if (!recording || chunks < 2) return void jobIndex++;
  const j = (jobs[jobIndex] ??= { kind, chunks, alone: new Map(), parallel: new Map() });
  const into = alone ? j.alone : j.parallel;
  for (const [c, ms] of times) into.set(c, Math.min(into.get(c) ?? Infinity, ms));
  jobIndex++;
};
let layerOf = [];
const forward = () => {
  jobIndex = 0;
  layerOf = [];
  net.forward({ [input]: x }, { onLayer: (layer) => { while (layerOf.length < jobIndex) layerOf.push(layer.name); } });
};
for (let i = 0; i < 2; i++) {
  alone = i % 2 === 1;
  forward();
}
recording = true;
const l0 = os.loadavg()[0];
for (let r = 0; r < 2 * rounds; r++) {
  alone = r % 2 === 1;
  forward();
}
const rows = new Map();
let sumA = 0, sumP = 0;
for (const [i, j] of jobs.entries()) {
  if (!j) continue;
  let a = 0, p = 0;
  for (const [c, ms] of j.parallel) {
    if (!j.alone.has(c)) continue;
    a += j.alone.get(c);
    p += ms;
  }
  const r = rows.get(layerOf[i]) ?? { a: 0, p: 0, desc: [] };
  r.a += a; r.p += p; r.desc.push(`k${j.kind}:${j.chunks}`);
  rows.set(layerOf[i], r);
  sumA += a; sumP += p;
}
console.log(`${model}: ${rounds} rounds each way, load ${l0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`);
console.log(`the main thread's chunks in parallel / alone (least times, summed over the chunks it ran both ways): ${(sumP / sumA).toFixed(3)} (${sumP.toFixed(1)} / ${sumA.toFixed(1)} ms)`);
const byKind = new Map();
for (const j of jobs) {
  if (!j) continue;
  const b = byKind.get(j.kind) ?? { a: 0, p: 0 };
  for (const [c, ms] of j.parallel) {
    if (!j.alone.has(c)) continue;
    b.a += j.alone.get(c);
    b.p += ms;
  }
  byKind.set(j.kind, b);
}
for (const [k, b] of [...byKind].sort((x, y) => x[0] - y[0])) console.log(`  kind ${String(k).padStart(2)}: ${(b.p / b.a).toFixed(3)} (${b.a.toFixed(1)} ms alone)`);
const list = [...rows].filter(([, r]) => r.a > 0).sort((x, y) => y[1].p - y[1].a - (x[1].p - x[1].a));
for (const [name, r] of list.slice(0, Number(process.env.TOP ?? 15))) console.log(`${name.padEnd(36)} alone ${r.a.toFixed(3).padStart(7)} parallel ${r.p.toFixed(3).padStart(7)} x${(r.p / r.a).toFixed(2)}  ${r.desc.join(' ')}`);
process.exit(0);
