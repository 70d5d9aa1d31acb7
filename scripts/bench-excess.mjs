// Where a net's one-thread forward spends time beyond crema's best rate: per layer, crema's time (`crema bench
// --backend both --json`: the CLI's interleaved per-layer medians), the layer's own bound (its fewest multiply-adds,
// src/bench/bound.ts layerBound, at the core probe's fastest rate in this process) and ONNX Runtime's op time;
// ranked by excess = crema - bound. After `npm run build`. The zoo weights are those `npm run bench` caches.
// Usage: node scripts/bench-excess.mjs NET [iterations, default 20]  (NET: a zoo name, or a .prototxt and its
// .caffemodel); TOP=n rows (default 25); MD=1 prints a markdown table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dist, root } from './bench-layer.mjs';

const { layerBound } = await dist('bench/bound.js');
const { coreProbe, probeRate } = await dist('bench/probe.js');
const { Net } = await dist('runtime/net.js');

const args = process.argv.slice(2);
const [proto, weights] = args[0]?.endsWith('.prototxt')
  ? [args.shift(), args.shift()]
  : [[`../shared/models/zoo/${args[0]}.prototxt`, `models/zoo/${args[0]}.prototxt`].map((f) => path.join(root, f)).find((f) => fs.existsSync(f)), path.join(os.tmpdir(), `crema-bench-${args.shift()}.caffemodel`)];
if (!proto || !fs.existsSync(proto) || !fs.existsSync(weights)) {
  console.error('usage: node scripts/bench-excess.mjs NET [iterations]: NET a zoo name whose weights `npm run bench` cached, or NET.prototxt NET.caffemodel');
  process.exit(2);
}
const iterations = args[0] ?? '20';
const bench = JSON.parse(execFileSync('node', [path.join(root, 'bin/crema.js'), 'bench', proto, weights, '--backend', 'both', '--threads', '1', '--iterations', iterations, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 }));
const byName = (backend) => new Map(bench.find((b) => b.backend === backend).layers.map((l) => [l.name, l.median_ms]));
const native = byName('native'), onnx = byName('onnx');

const net = await Net.load(proto, weights, { threads: 1 });
const probe = coreProbe();
let best = 0;
for (let i = 0; i < 200; i++) {
  const t0 = performance.now();
  probe.run();
  best = Math.max(best, probeRate(performance.now() - t0));
}
const rows = net.graph.layers.filter((l) => native.has(l.name)).map((l) => {
  const b = layerBound(l), ms = native.get(l.name), bound = b.ideal / (best * 1e6);
  const shape = `${l.bottomShapes[0]?.slice(1).join('x')} -> ${l.topShapes[0]?.slice(1).join('x')}`;
  return { name: l.name, type: l.type, shape, ms, bound, excess: ms - bound, ort: onnx.get(l.name) };
});
rows.sort((a, b) => b.excess - a.excess);
const sum = (key) => rows.reduce((s, r) => s + (r[key] ?? 0), 0);
const [n, o] = ['native', 'onnx'].map((b) => bench.find((r) => r.backend === b).median_ms);
console.log(`${path.basename(proto)}: forward ${n.toFixed(2)} / ORT ${o.toFixed(2)} ms (${(n / o).toFixed(2)}); layers ${sum('ms').toFixed(2)} ms, their bound ${sum('bound').toFixed(2)} (probe's best ${best.toFixed(1)} G multiply-adds/s), excess ${sum('excess').toFixed(2)}, ORT's ops ${sum('ort').toFixed(2)}; load ${os.loadavg()[0].toFixed(2)}`);
const f = (v) => (v === undefined ? '' : v.toFixed(3));
const top = rows.slice(0, Number(process.env.TOP ?? 25));
if (process.env.MD) {
  console.log('| layer | shape | crema ms | bound | excess | ORT |\n| --- | --- | --- | --- | --- | --- |');
  for (const r of top) console.log(`| ${r.name} | ${r.shape} | ${f(r.ms)} | ${f(r.bound)} | ${f(r.excess)} | ${f(r.ort)} |`);
} else {
  for (const r of top) console.log(`${r.name.padEnd(30)} ${r.type.slice(0, 11).padEnd(11)} ${r.shape.padEnd(26)} crema ${f(r.ms)}  bound ${f(r.bound)}  excess ${f(r.excess)}  ORT ${f(r.ort)}`);
}
process.exit(0);
