// A switch of the splits A/B'd in one process at 2 threads (unjudged), whole forwards alternated, per layer: the
// lower quartile and median of each layer's time each way, and the forward's. Usage: node
// scripts/bench-split-ab.mjs NET [rounds, default 15]; SWITCH=rows (convolutions' row blocks, packed.ts), balanced
// (column chunks that end together: packed.ts chunkStrips) or
// spin (the calling thread's poll for the workers' last chunks, pool.ts). FILTER=res5 prints those layers only.
import os from 'node:os';
import { unjudgedNet } from './unjudged-net.mjs';
import { convSplit } from '../dist/kernels/packed.js';

const model = process.argv[2] ?? 'resnet50', rounds = Number(process.argv[3] ?? 15), which = process.env.SWITCH ?? 'rows';
const { net, pool, input, x } = await unjudgedNet(model);
const set = (on) => (which === 'rows' || which === 'balanced' ? (convSplit[which] = on) : (pool.waitSpin = on));
const layers = new Map(), totals = [[], []], waited = [[], []];
const forward = (k) => {
  set(k === 0);
  const t0 = performance.now(), w0 = pool.waitedMs;
  net.forward({ [input]: x }, { onLayer: (l, ms) => { const v = layers.get(l.name) ?? [[], []]; v[k].push(ms); layers.set(l.name, v); } });
  totals[k].push(performance.now() - t0);
  waited[k].push(pool.waitedMs - w0);
};
for (let i = 0; i < 4; i++) forward(i % 2);
layers.clear(); totals[0] = []; totals[1] = []; waited[0] = []; waited[1] = [];
const l0 = os.loadavg()[0];
for (let r = 0; r < rounds; r++) for (const k of r % 2 ? [0, 1] : [1, 0]) forward(k);
const q = (a, f) => [...a].sort((p, q) => p - q)[Math.floor((a.length - 1) * f)];
console.log(`${model} 2 threads unjudged, ${which} on / off, ${rounds} rounds, load ${l0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`);
console.log(`forward median ${q(totals[0], 0.5).toFixed(1)} / ${q(totals[1], 0.5).toFixed(1)} (${(q(totals[0], 0.5) / q(totals[1], 0.5)).toFixed(3)}), lower quartile ${q(totals[0], 0.25).toFixed(1)} / ${q(totals[1], 0.25).toFixed(1)} (${(q(totals[0], 0.25) / q(totals[1], 0.25)).toFixed(3)}); waited ${q(waited[0], 0.5).toFixed(1)} / ${q(waited[1], 0.5).toFixed(1)}`);
let s0 = 0, s1 = 0;
for (const [name, [a, b]] of layers) {
  if (process.env.FILTER && !name.includes(process.env.FILTER)) continue;
  s0 += q(a, 0.25); s1 += q(b, 0.25);
  if (process.env.FILTER) console.log(`  ${name.padEnd(28)} lq ${q(a, 0.25).toFixed(3)} / ${q(b, 0.25).toFixed(3)} (${(q(a, 0.25) / q(b, 0.25)).toFixed(2)})  median ${q(a, 0.5).toFixed(3)} / ${q(b, 0.5).toFixed(3)}`);
}
console.log(`sum of the layers' lower quartiles ${s0.toFixed(2)} / ${s1.toFixed(2)} (${(s0 / s1).toFixed(3)})`);
process.exit(0);
