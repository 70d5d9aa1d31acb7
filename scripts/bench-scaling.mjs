// Where two threads' time goes, per layer: 1 thread, 2 threads (unjudged) and the 2-thread cut run alone ("2a"),
// alternated in one process. Per layer: the medians, the speed-up, the main thread's wait for the workers' last
// chunks, the main thread's share of the chunks, and how much slower the main thread ran its chunks in parallel
// than the same chunks alone ("slow": what the two cores share, memory and caches, or a preempted main thread).
// Usage: node scripts/bench-scaling.mjs NET [rounds, default 9] (after `npm run build`; the zoo weights `npm run
// bench` caches in the temp directory). TOP=n prints the n layers that lose most; BATCH=n; BUSY=1 keeps one core
// busy with a child process (`npm run bench`'s busy section).
import os from 'node:os';
import { unjudgedNet } from './unjudged-net.mjs';
import { startHog } from './hog.mjs';

const model = process.argv[2] ?? 'inception_v3', rounds = Number(process.argv[3] ?? 9);
const { net, pool, input, x } = await unjudgedNet(model);
const hog = process.env.BUSY ? startHog() : undefined;
const kernels = pool.kernels, runChunk = kernels.runChunk;
let mainChunks = 0, mainMs = 0;
pool.kernels = {
  runChunk: (p, c, t) => {
    const t0 = performance.now();
    runChunk(p, c, t);
    mainMs += performance.now() - t0;
    mainChunks++;
  },
};
const run0 = pool.run.bind(pool);
let jobs = [], alone = false;
pool.run = (chunks, threads) => {
  const w0 = pool.waitedMs, t0 = performance.now();
  mainChunks = 0;
  mainMs = 0;
  pool.alone = alone;
  run0(chunks, threads);
  jobs.push({ chunks, ms: performance.now() - t0, waited: pool.waitedMs - w0, main: mainChunks, mainMs });
};
const MODES = ['1t', '2t', '2a'];
const stats = new Map();
const fresh = () => MODES.map(() => []);
let totals = fresh(), waits = fresh(), shares = [];
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const sumOf = (a, f) => a.reduce((s, j) => s + f(j), 0);
const forward = (k) => {
  net.threads = k === 0 ? 1 : 2;
  alone = k === 2;
  let waited = 0, mine = 0, all = 0;
  const t0 = performance.now();
  net.forward({ [input]: x }, {
    onLayer: (layer, ms) => {
      let s = stats.get(layer.name);
      if (!s) stats.set(layer.name, (s = { type: layer.type, t: fresh(), waited: [], jobs: fresh(), chunks: '' }));
      s.t[k].push(ms);
      s.jobs[k].push(jobs);
      if (k === 1) {
        s.waited.push(sumOf(jobs, (j) => j.waited));
        s.chunks = jobs.map((j) => j.chunks).join('+');
        for (const j of jobs.filter((j) => j.chunks > 1)) {
          mine += j.main;
          all += j.chunks;
          waited += j.waited;
        }
      }
      jobs = [];
    },
  });
  totals[k].push(performance.now() - t0);
  if (k === 1) {
    waits[1].push(waited);
    shares.push(mine / all);
  }
};
for (let i = 0; i < 3; i++) for (const k of [1, 2, 0]) forward(k);
for (const s of stats.values()) Object.assign(s, { t: fresh(), waited: [], jobs: fresh() });
totals = fresh(); waits = fresh(); shares = [];
const l0 = os.loadavg()[0];
const orders = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [1, 0, 2], [2, 1, 0]];
for (let r = 0; r < rounds; r++) for (const k of orders[r % orders.length]) forward(k);
const l1 = os.loadavg()[0];
hog?.kill();
// The main thread's time a chunk in parallel over alone, per layer: the jobs' main-thread chunk time / chunks,
// medians over the rounds, weighted by the chunk time alone.
const rows = [...stats].map(([name, s]) => {
  const perChunk = (k, f = (j) => j.mainMs) => med(s.jobs[k].map((js) => sumOf(js, (j) => (j.chunks > 1 ? f(j) : 0)) / Math.max(1, sumOf(js, (j) => (j.chunks > 1 ? j.main : 0)))));
  const mainShare = sumOf(s.jobs[1], (js) => sumOf(js, (j) => (j.chunks > 1 ? j.main : 0))) / Math.max(1, sumOf(s.jobs[1], (js) => sumOf(js, (j) => (j.chunks > 1 ? j.chunks : 0))));
  return { name, type: s.type, t1: med(s.t[0]), t2: med(s.t[1]), ta: med(s.t[2]), w: med(s.waited), chunks: s.chunks, share: mainShare, slow: perChunk(1) / perChunk(2), aloneWork: med(s.t[2]) };
});
const sum = (f) => rows.reduce((a, r) => a + f(r), 0);
console.log(`${model}: ${rounds} rounds${hog ? ', busy core' : ''}, load ${l0.toFixed(2)} -> ${l1.toFixed(2)}`);
console.log(`forward 1t ${med(totals[0]).toFixed(1)} ms, 2t ${med(totals[1]).toFixed(1)} (x${(med(totals[0]) / med(totals[1])).toFixed(2)}), 2-thread cut alone ${med(totals[2]).toFixed(1)}; main thread waited ${med(waits[1]).toFixed(1)} ms a forward; its share of the chunks ${med(shares).toFixed(3)}`);
const slowAll = sum((r) => (Number.isFinite(r.slow) && r.chunks ? r.slow * r.ta : 0)) / sum((r) => (Number.isFinite(r.slow) && r.chunks ? r.ta : 0));
console.log(`main thread's chunks in parallel / alone (wall, weighted by time alone): ${slowAll.toFixed(3)} (least times: scripts/bench-contention.mjs)`);
const byType = new Map();
for (const r of rows) {
  const b = byType.get(r.type) ?? { t1: 0, t2: 0, ta: 0, w: 0, n: 0 };
  b.t1 += r.t1; b.t2 += r.t2; b.ta += r.ta; b.w += r.w; b.n++;
  byType.set(r.type, b);
}
for (const [type, b] of byType) console.log(`  ${type.padEnd(12)} n ${String(b.n).padStart(3)}  1t ${b.t1.toFixed(2).padStart(7)}  2t ${b.t2.toFixed(2).padStart(7)}  2a ${b.ta.toFixed(2).padStart(7)}  x${(b.t1 / b.t2).toFixed(2)}  waited ${b.w.toFixed(2)}`);
console.log(`sum of layers 1t ${sum((r) => r.t1).toFixed(1)} 2t ${sum((r) => r.t2).toFixed(1)} 2a ${sum((r) => r.ta).toFixed(1)}`);
const top = Number(process.env.TOP ?? 25);
rows.sort((a, b) => b.t2 - b.t1 / 2 - (a.t2 - a.t1 / 2));
console.log('layer                                    type         1t ms   2t ms   2a ms  x     lost  waited  main  slow  chunks');
for (const r of rows.slice(0, top))
  console.log(`${r.name.padEnd(40)} ${r.type.padEnd(11)} ${r.t1.toFixed(3).padStart(7)} ${r.t2.toFixed(3).padStart(7)} ${r.ta.toFixed(3).padStart(7)} ${(r.t1 / r.t2).toFixed(2)} ${(r.t2 - r.t1 / 2).toFixed(3).padStart(6)} ${r.w.toFixed(3).padStart(6)}  ${r.share.toFixed(2)}  ${r.slow.toFixed(2)}  ${r.chunks}`);
process.exit(0);
