// How long a sleeping kernel worker takes to start a job, after `npm run build`: a pool of one worker runs
// 2-chunk jobs whose main-thread chunk waits until the worker has done its (empty) one, after a pause of 0 to 5 ms
// (the worker polls 0.1 ms after a job, then sleeps). On the team's VM a worker asleep for 1 ms took 1.9-2.8 ms to
// start (its idle core halted), 0.03 ms right after its last job (docs/PERFORMANCE.md, round six): the pool's
// judge must not count that wake-up when it tries a job in parallel. Usage: node scripts/bench-wake.mjs [jobs,
// default 200]; BUSY=1 keeps one core busy with a child process meanwhile (as `npm run bench`'s busy section does).
import '../dist/platform/node.js';
import { wasmEngine } from '../dist/kernels/wasm.js';
import { ThreadPool } from '../dist/kernels/pool.js';
import os from 'node:os';
import { startHog } from './hog.mjs';
/* global WebAssembly */

const jobs = Number(process.argv[2] ?? 200);
const hog = process.env.BUSY ? startHog() : undefined;
const memory = new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true });
const control = 1024, h = new Int32Array(memory.buffer, control, 16);
let t0 = 0, latency = 0;
// The main thread's chunk: wait for the worker's chunk to be done (DONE, word 2), then note the time.
const pool = new ThreadPool(wasmEngine().module, memory, control, {
  runChunk() {
    while (Atomics.load(h, 2) < 1);
    latency = performance.now() - t0;
  },
});
pool.judge = undefined;
await pool.grow(1);
new Uint32Array(memory.buffer, pool.params, 4)[0] = 0; // a job of no kind: the worker's chunk does nothing
const sorted = (a) => [...a].sort((p, q) => p - q);
const pause = (ms) => {
  if (ms >= 1) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  else for (const end = performance.now() + ms; performance.now() < end; );
};
const load0 = os.loadavg()[0];
for (const gap of [0, 0.05, 0.2, 1, 5]) {
  const times = [];
  for (let i = 0; i < jobs; i++) {
    pause(gap);
    t0 = performance.now();
    pool.run(2, 2);
    times.push(latency);
  }
  const s = sorted(times), at = (f) => s[Math.floor(f * (s.length - 1))].toFixed(3);
  console.log(`after ${String(gap).padEnd(4)} ms: the worker's chunk done after median ${at(0.5)} ms, p90 ${at(0.9)}, max ${at(1)}`);
}
hog?.kill();
await pool.terminate();
console.log(`${hog ? 'busy core; ' : ''}load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`);
