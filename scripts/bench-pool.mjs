// The pool's ways of running a whole net at two threads, against one thread, interleaved in one process (after
// `npm run build`; the zoo weights `npm run bench` caches in the temp directory). Usage:
//   node scripts/bench-pool.mjs NET [rounds, default 13]
// VARIANTS='1t;2t;2t,jobs,hold=100;2t,unjudged' picks the contenders (this is the default), each `1t` or `2t` with
// options: `jobs` (the pool's per-job Judge only, no ForwardJudge), `nojob` (the ForwardJudge only: as `2t`, whose
// parallel forwards ask no per-job Judge), `both` (the per-job Judge inside parallel forwards too: CREMA_JUDGE=both), `unjudged`
// (neither: every job in parallel), `alone` (every forward alone, as the forward judge runs it), `hold=US` (how long the workers poll between a parallel forward's jobs), `nospin` (the calling thread sleeps after a few microseconds' wait for the workers' last chunks, as until round eight), `calm=MS` (how long a thread whose poll the OS cut short does not poll: pool.calmMs, 0 = polls on), `chunks=N` (jobs cut into N chunks a thread where they can be, not 4: wasmEngine's chunkCount). Each
// judged contender has judges of its own. PAUSE=ms sleeps before each forward (default 20, as the benchmark's ORT
// runs leave the workers asleep); BUSY=1 keeps one core busy with a child process (`npm run bench`'s busy section).
// A label's first digit is its threads (`3t`: needs WORKERS=2, which starts two workers before the net loads, on
// any machine). PIN=M,W,H (diagnosis only: `taskset`, Linux) pins after the warm-up the main thread to CPU M, the
// busiest worker to W and the hog to H: where the kernel puts the threads decides what a core taken costs
// (docs/PERFORMANCE.md, round fifty-four).
// Prints each contender's median and mean, the speed-up over the first, CPU time, the workers' wake-ups and the
// main thread's wait per forward, and the ways the forward judge chose (P parallel, A alone); then per forward
// the main thread's run time, run-queue wait and time slices, and the other threads' summed.
import '../dist/platform/node.js';
import { wasmEngine, setThreads } from '../dist/kernels/wasm.js';
import { Judge } from '../dist/kernels/pool.js';
import { ForwardJudge } from '../dist/runtime/forward-judge.js';
import { Net } from '../dist/index.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHog } from './hog.mjs';

const model = process.argv[2] ?? 'googlenet', rounds = Number(process.argv[3] ?? 13);
const specs = (process.env.VARIANTS ?? '1t;2t;2t,jobs,hold=100;2t,unjudged').split(';');
const proto = [`../shared/models/zoo/${model}.prototxt`, `models/zoo/${model}.prototxt`].find((f) => fs.existsSync(f));
if (process.env.WORKERS) await setThreads(Number(process.env.WORKERS) + 1, 8);
const net = await Net.load(proto, path.join(os.tmpdir(), `crema-bench-${model}.caffemodel`), { threads: 2 });
const engine = wasmEngine(), pool = engine.pool, defaultHold = pool.holdUs, defaultCalm = pool.calmMs;
const input = net.inputs[0], dims = net.shapes.get(input);
const x = new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => Math.random() * 100 - 50);
const hog = process.env.BUSY ? startHog() : undefined;
const pause = Number(process.env.PAUSE ?? 20);
// Every thread's run time, run-queue wait and time slices (ns, ns, count: /proc/self/task/TID/schedstat): the main
// thread's, and the rest summed (the kernel workers, and V8's and libuv's few helpers).
const schedstat = () => {
  const main = [0, 0, 0], rest = [0, 0, 0];
  for (const t of fs.readdirSync('/proc/self/task')) {
    let f;
    try {
      f = fs.readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').trim().split(' ').map(Number);
    } catch {
      continue; // a thread that ended meanwhile
    }
    const into = Number(t) === process.pid ? main : rest;
    for (let i = 0; i < 3; i++) into[i] += f[i];
  }
  return [...main, ...rest];
};
const sleep = (ms) => ms > 0 && Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const variants = specs.map((label) => {
  const has = (o) => label.split(',').includes(o);
  const v = { label, both: has('both'), perThread: Number(/chunks=(\d+)/.exec(label)?.[1] ?? 0), calm: Number(/calm=(\d+)/.exec(label)?.[1] ?? defaultCalm), cuts: [], sched: [], threads: Number(label[0]), hold: Number(/hold=(\d+)/.exec(label)?.[1] ?? defaultHold), spin: !has('nospin'), ways: '', times: [], woke: [], waited: [], cpu: [] };
  v.judge = has('unjudged') || has('nojob') ? undefined : new Judge();
  v.forwardJudge = has('unjudged') || has('jobs') ? undefined : new ForwardJudge();
  if (has('alone')) v.forwardJudge.choose = () => ((v.forwardJudge.jobTrial = false), 'alone');
  if (v.forwardJudge) {
    const choose = v.forwardJudge.choose.bind(v.forwardJudge);
    v.forwardJudge.choose = (key) => {
      const way = choose(key);
      v.ways += way === 'alone' ? 'A' : 'P';
      return way;
    };
  }
  return v;
});
const run = (v) => {
  sleep(pause);
  net.threads = v.threads;
  net.forwardJudge = v.forwardJudge;
  net.jobsInForwards = v.both;
  pool.judge = v.judge;
  pool.holdUs = v.hold;
  pool.waitSpin = v.spin;
  pool.calmMs = v.calm;
  if (v.perThread) engine.chunkCount = (units) => (engine.activeThreads() <= 1 ? 1 : Math.min(units, v.perThread * engine.activeThreads()));
  else delete engine.chunkCount;
  const s0 = schedstat(), w0 = pool.wakeups, cut0 = pool.cut, wait0 = pool.waitedMs, c0 = process.cpuUsage(), t0 = performance.now();
  net.forward({ [input]: x });
  v.times.push(performance.now() - t0);
  const s1 = schedstat();
  v.sched.push(s1.map((x, i) => (i % 3 === 2 ? x - s0[i] : (x - s0[i]) / 1e6)));
  v.woke.push(pool.wakeups - w0);
  v.cuts.push(pool.cut - cut0);
  v.waited.push(pool.waitedMs - wait0);
  const c = process.cpuUsage(c0);
  v.cpu.push((c.user + c.system) / 1000);
};
await new Promise((resolve) => setTimeout(resolve, 200)); // the hog under way
const load0 = os.loadavg()[0];
for (let w = 0; w < 6; w++) variants.forEach(run);
if (process.env.PIN) {
  // The busiest thread but the main one is the worker that took chunks (V8's and libuv's helpers run little).
  const { execSync } = await import('node:child_process');
  const ts = fs.readdirSync('/proc/self/task').filter((t) => Number(t) !== process.pid).map((t) => [t, Number(fs.readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0])]).sort((a, b) => b[1] - a[1]);
  const [mainCpu, workerCpu, hogCpu] = process.env.PIN.split(',');
  execSync(`taskset -p -c ${mainCpu} ${process.pid}; taskset -p -c ${workerCpu} ${ts[0][0]}` + (hog ? `; taskset -a -p -c ${hogCpu} ${hog.pid}` : ''));
  console.log('pinned main', process.pid, 'worker', ts[0][0], 'hog', hog?.pid, process.env.PIN);
}
for (const v of variants) for (const a of [v.times, v.woke, v.waited, v.cpu, v.cuts, v.sched]) a.length = 0;
for (let r = 0; r < rounds; r++) variants.forEach((_, k) => run(variants[(k + r) % variants.length]));
hog?.kill();

const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1], mean = (a) => a.reduce((s, y) => s + y, 0) / a.length;
const base = median(variants[0].times);
console.log(`${model}, ${rounds} rounds${hog ? ', busy core' : ''}, pause ${pause} ms; load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)} (${new Date().toISOString().slice(11, 16)} UTC)`);
for (const v of variants)
  console.log(`  ${v.label.padEnd(22)} median ${median(v.times).toFixed(2).padStart(7)}  mean ${mean(v.times).toFixed(2).padStart(7)}  (${(base / median(v.times)).toFixed(2)}x)  cpu ${median(v.cpu).toFixed(1)}  woke ${mean(v.woke).toFixed(1)}  cut ${mean(v.cuts).toFixed(1)}  waited ${mean(v.waited).toFixed(2)}${v.ways ? `  ways ${v.ways}` : ''}`);
for (const v of variants) {
  const col = (i) => median(v.sched.map((s) => s[i]));
  console.log(`  ${v.label.padEnd(22)} main run ${col(0).toFixed(1)} wait ${col(1).toFixed(2)} slices ${col(2)}  others run ${col(3).toFixed(1)} wait ${col(4).toFixed(2)} slices ${col(5)} (medians ms a forward)`);
}
await net.dispose();
