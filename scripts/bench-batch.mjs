// Where batch 8 gains or loses against batch 1, layer by layer: two nets of one zoo net (the weights shared), one
// at batch 1 and one at batch B, their forwards alternated round by round in this process at one thread count, each
// layer's time the fastest over the rounds (a busy host slows rounds, not the fastest), batch B's per image. After
// `npm run build`; the zoo weights are those `npm run bench` caches (/tmp/crema-bench-NET.caffemodel).
// Usage: node scripts/bench-batch.mjs NET [threads, default 1] [rounds, default 6] [batch, default 8]; TOP=n rows.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dist, Net, root, Tensor } from './bench-layer.mjs';

const { loadNet } = await dist('caffe/load.js');
const { setNativeThreads } = await dist('bench/bench-net.js');
const { NativeLayerTimer } = await dist('bench/native.js');

const [model, threads = '1', rounds = '6', batch = '8'] = process.argv.slice(2);
const B = Number(batch);
const prototxt = [`../shared/models/zoo/${model}.prototxt`, `models/zoo/${model}.prototxt`].map((f) => path.join(root, f)).find((f) => fs.existsSync(f));
if (!prototxt) throw new Error(`bench-batch: no zoo net '${model}'`);
const { net: param, weights } = await loadNet(prototxt, path.join(os.tmpdir(), `crema-bench-${model}.caffemodel`));
const nets = [Net.fromNetParameter(param, weights), Net.fromNetParameter(param, weights)];
const input = nets[0].inputs[0], dims = nets[0].shapes.get(input);
const seeded = (d) => new Tensor(d, Float32Array.from({ length: d.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37) * 100));
const timers = nets.map((net, i) => new NativeLayerTimer(net, { [input]: seeded(i ? [B, ...dims.slice(1)] : dims) }));
await setNativeThreads(Number(threads), nets);

// Per layer name: its type and its times at batch 1 and at batch B (ms a forward).
const layers = new Map();
const whole = [[], []];
for (let round = -3; round < Number(rounds); round++) {
  timers.forEach((timer, i) => {
    const ms = timer.run();
    if (round >= 0) {
      whole[i].push(ms);
      for (const l of timer.layerTimes()) {
        const s = layers.get(l.name) ?? { type: l.type, times: [[], []] };
        s.times[i].push(l.median_ms);
        layers.set(l.name, s);
      }
    }
    timer.reset();
  });
}
const fastest = (v, per = 1) => Math.min(...v) / per;
const gain = (a, b) => (a / b).toFixed(2);
const [w1, wB] = [fastest(whole[0]), fastest(whole[1], B)];
console.log(`${model}, ${threads} thread(s), fastest of ${rounds} rounds, ms an image: batch 1 ${w1.toFixed(2)}, batch ${B} ${wB.toFixed(2)}: gain ${gain(w1, wB)}`);
const rows = [...layers].map(([name, { type, times }]) => ({ name, type, one: fastest(times[0]), many: fastest(times[1], B) }));
const byType = new Map();
for (const r of rows) {
  const t = byType.get(r.type) ?? { one: 0, many: 0 };
  [t.one, t.many] = [t.one + r.one, t.many + r.many];
  byType.set(r.type, t);
}
for (const [type, t] of byType) console.log(`  ${type.padEnd(16)} ${t.one.toFixed(3).padStart(9)} ${t.many.toFixed(3).padStart(9)}  gain ${gain(t.one, t.many)}`);
const show = (title, list) => {
  console.log(title);
  for (const r of list.slice(0, Number(process.env.TOP ?? 10))) console.log(`  ${r.name.padEnd(36)} ${r.type.padEnd(14)} ${r.one.toFixed(3).padStart(9)} ${r.many.toFixed(3).padStart(9)}  gain ${gain(r.one, r.many)}`);
};
show(`losers (batch ${B}'s ms an image over batch 1's):`, [...rows].sort((p, q) => q.many - q.one - (p.many - p.one)));
show('gainers:', [...rows].sort((p, q) => p.many - p.one - (q.many - q.one)));
