// Whole-net A/B of two builds of crema (two checkouts' dist/ directories) in one process: each loads the net with
// one thread, then forwards alternate; the time is each forward's CPU time (process.cpuUsage), which a busy
// machine's preemption does not inflate, and the lower quartile is printed with the outputs' largest difference.
// Usage: node scripts/bench-builds.mjs DIST_A DIST_B NET.prototxt NET.caffemodel [rounds, default 7]
// LAYERS=conv1,... also prints those layers' lower quartiles (wall time, Net.forward's onLayer) in A and B.
import os from 'node:os';
import path from 'node:path';
const [distA, distB, proto, weights, roundsArg] = process.argv.slice(2);
if (!weights) {
  console.error('usage: node scripts/bench-builds.mjs DIST_A DIST_B NET.prototxt NET.caffemodel [rounds]');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 7);
const nets = [];
for (const dist of [distA, distB]) {
  const { Net } = await import(path.resolve(dist, 'index.js'));
  nets.push(await Net.load(proto, weights, { threads: 1 }));
}
const input = nets[0].inputs[0], x = new Float32Array(nets[0].shapes.get(input).reduce((a, b) => a * b, 1));
for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * 50;
const outs = nets.map((net) => net.forward({ [input]: x }));
const times = nets.map(() => []);
const watched = new Set(process.env.LAYERS?.split(',') ?? []), layerTimes = nets.map(() => new Map());
const onLayer = (i) => (watched.size ? (layer, ms) => watched.has(layer.name) && layerTimes[i].set(layer.name, [...(layerTimes[i].get(layer.name) ?? []), ms]) : undefined);
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < 2; k++) {
    const i = (k + r) % 2, before = process.cpuUsage();
    nets[i].forward({ [input]: x }, { onLayer: onLayer(i) });
    const d = process.cpuUsage(before);
    times[i].push((d.user + d.system) / 1000);
  }
}
const quartile = (a) => [...a].sort((p, q) => p - q)[a.length >> 2];
const name = Object.keys(outs[0]).at(-1), a = outs[0][name].data ?? outs[0][name], b = outs[1][name].data ?? outs[1][name];
let diff = 0, range = 0;
for (let i = 0; i < a.length; i++) [diff, range] = [Math.max(diff, Math.abs(a[i] - b[i])), Math.max(range, Math.abs(a[i]))];
const [ta, tb] = times.map(quartile);
console.log(`A ${ta.toFixed(1)} ms, B ${tb.toFixed(1)} ms CPU a forward (lower quartile of ${rounds}), B / A ${(tb / ta).toFixed(3)}; ` +
  `${name}: max |A - B| ${diff.toExponential(1)} of ${range.toExponential(1)}; load ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);
for (const [layer, a] of layerTimes[0]) {
  const [qa, qb] = [quartile(a), quartile(layerTimes[1].get(layer))];
  console.log(`  ${layer}: A ${qa.toFixed(3)} ms, B ${qb.toFixed(3)} ms, B / A ${(qb / qa).toFixed(3)}`);
}
process.exit(0);
