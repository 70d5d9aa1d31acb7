// How evenly a net's jobs split for two threads, on paper from measured chunks: every job cut for THREADS (default
// 2) runs alone on this thread, each chunk timed (least of the rounds), then the pool's schedule is played out
// (threads take the next chunk when free; the workers start LATE ms after the calling thread) and compared with
// the work over the threads. Load-proof (one thread, least times). Usage: node scripts/bench-chunks.mjs NET
// [rounds, default 5]; LATE=0.03; TOP=n; PER_THREAD=n chunks a thread; ROWS=0 convolutions never cut rows; BATCH=n;
// OUT=file.json writes the rows.
import '../dist/platform/node.js';
import { wasmEngine } from '../dist/kernels/wasm.js';
import { convSplit } from '../dist/kernels/packed.js';
import { unjudgedNet } from './unjudged-net.mjs';
import fs from 'node:fs';
import os from 'node:os';

const model = process.argv[2] ?? 'inception_v3', rounds = Number(process.argv[3] ?? 5);
const threads = Number(process.env.THREADS ?? 2), late = Number(process.env.LATE ?? 0.03);
const { net, pool, input, x } = await unjudgedNet(model, threads);
const e = wasmEngine();
if (process.env.ROWS === '0') convSplit.rows = false;
if (process.env.PER_THREAD) e.chunkCount = (units) => Math.min(units, Number(process.env.PER_THREAD) * threads);
const kernels = pool.kernels, runChunk = kernels.runChunk;
let chunkTimes = [];
pool.kernels = { runChunk: (p, c, t) => { const t0 = performance.now(); runChunk(p, c, t); chunkTimes.push(performance.now() - t0); } };
const run0 = pool.run.bind(pool);
let jobs = [], jobIndex = 0, round = 0;
const perJob = []; // job index -> { layer, kind, chunks: least times }
let recording = false;
pool.run = (chunks, t) => {
  pool.alone = true;
  if (!recording) return run0(chunks, t);
  chunkTimes = [];
  const kind = e.u32[pool.params / 4];
  run0(chunks, t);
  let j = perJob[jobIndex];
  if (!j) perJob[jobIndex] = j = { kind, times: chunkTimes.slice() };
  else j.times = j.times.map((v, i) => Math.min(v, chunkTimes[i]));
  jobs.push(jobIndex++);
};
const layerJobs = new Map();
net.forward({ [input]: x });
recording = true;
for (round = 0; round < rounds; round++) {
  jobIndex = 0;
  net.forward({ [input]: x }, {
    onLayer: (layer, ms) => {
      const least = Math.min(layerJobs.get(layer.name)?.ms ?? Infinity, ms);
      layerJobs.set(layer.name, { type: layer.type, jobs, ms: least });
      jobs = [];
    },
  });
}
function schedule(times) {
  const free = new Array(threads).fill(late);
  free[0] = 0;
  for (const c of times) {
    let k = 0;
    for (let j = 1; j < threads; j++) if (free[j] < free[k]) k = j;
    free[k] += c;
  }
  return Math.max(...free);
}
const rows = [];
for (const [name, { type, jobs, ms }] of layerJobs) {
  let work = 0, span = 0;
  const desc = [];
  for (const i of jobs) {
    const t = perJob[i].times, w = t.reduce((a, b) => a + b, 0), s = t.length === 1 ? w : schedule(t);
    work += w; span += s;
    desc.push(`k${perJob[i].kind}:${t.length}`);
  }
  // What the layer's least time has beyond its jobs' chunks: serial (JavaScript, the calling thread alone).
  const serial = Math.max(0, ms - work);
  rows.push({ name, type, work: work + serial, span: span + serial, serial, lost: span + serial - (work + serial) / threads, desc: desc.join(' ') });
}
const sum = (f) => rows.reduce((a, r) => a + f(r), 0);
console.log(`${model}: ${threads} threads on paper (workers ${late} ms late), load ${os.loadavg()[0].toFixed(2)}`);
console.log(`serial (the layers' least time beyond their chunks) ${sum((r) => r.serial).toFixed(1)} ms`);
console.log(`work ${sum((r) => r.work).toFixed(1)} ms, span ${sum((r) => r.span).toFixed(1)} (ideal ${(sum((r) => r.work) / threads).toFixed(1)}): speed-up ${(sum((r) => r.work) / sum((r) => r.span)).toFixed(2)}`);
const byType = new Map();
for (const r of rows) { const b = byType.get(r.type) ?? { work: 0, lost: 0, serial: 0 }; b.work += r.work; b.lost += r.lost; b.serial += r.serial; byType.set(r.type, b); }
for (const [t, b] of byType) console.log(`  ${t.padEnd(12)} work ${b.work.toFixed(2).padStart(7)} lost ${b.lost.toFixed(2).padStart(6)} serial ${b.serial.toFixed(2)}`);
if (process.env.OUT) fs.writeFileSync(process.env.OUT, JSON.stringify(rows));
rows.sort((a, b) => b.lost - a.lost);
for (const r of rows.slice(0, Number(process.env.TOP ?? 25)))
  console.log(`${r.name.padEnd(36)} ${r.type.padEnd(11)} work ${r.work.toFixed(3).padStart(7)} span ${r.span.toFixed(3).padStart(7)} lost ${r.lost.toFixed(3)} serial ${r.serial.toFixed(3)}  ${r.desc}`);
process.exit(0);
