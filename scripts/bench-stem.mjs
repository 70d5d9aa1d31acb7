// The zoo nets' stem convolutions (3 input channels, stride 2) one layer at a time, batch 1, one thread, after
// `npm run build`: each mode's layer runs in turn in one process; the time is each forward's CPU time
// (process.cpuUsage, which a busy machine's preemption does not inflate), lower quartiles and their ratios to the
// first mode's. A mode is a CREMA_WINOGRAD value ('' the default choice, '0' none: the direct kernel or im2col).
// Usage: node scripts/bench-stem.mjs [rounds, default 40]; MODES=,0 (default) picks the modes, CASES=res,squeeze the shapes.
import '../dist/platform/node.js';
import os from 'node:os';
import { setThreads, wasmEngine } from '../dist/kernels/wasm.js';
import { convolutionLayer } from '../dist/layers/convolution.js';
import { Tensor } from '../dist/tensor.js';

const rounds = Number(process.argv[2] ?? 40);
await setThreads(1);
const e = wasmEngine();
// name, C, M, input size, kernel, stride, pad
const all = [
  ['res/goog conv1', 3, 64, 224, 7, 2, 3], ['squeeze1.1 conv1', 3, 64, 227, 3, 2, 0], ['mobilenet conv1', 3, 32, 224, 3, 2, 1],
  ['squeeze1.0 conv1', 3, 96, 227, 7, 2, 0],
];
const pick = process.env.CASES ? all.filter((c) => process.env.CASES.split(',').some((n) => c[0].includes(n))) : all.slice(0, 3);
const modes = (process.env.MODES ?? ',0').split(',');
// Tensors in wasm memory, as a net's blobs are (no copy in or out around the kernel).
const resident = (dims) => { const n = dims.reduce((a, b) => a * b, 1); return new Tensor(dims, e.residentArray(n) ?? new Float32Array(n)); };
const rand = (dims, t = resident(dims)) => { for (let i = 0; i < t.data.length; i++) t.data[i] = Math.random() - 0.5; return t; };
const quartile = (a) => [...a].sort((p, q) => p - q)[a.length >> 2];
for (const [name, cin, cout, hw, k, stride, pad] of pick) {
  const def = { name, type: 'Convolution', bottom: ['x'], top: ['y'], convolution_param: { num_output: cout, kernel_size: [k], pad: [pad], stride: [stride] } };
  const w = [rand([cout, cin, k, k], Tensor.zeros([cout, cin, k, k])), rand([cout], Tensor.zeros([cout]))], x = rand([1, cin, hw, hw]);
  const layers = modes.map(() => convolutionLayer.create(def, w));
  const [top] = layers.map((l) => l.reshape([[1, cin, hw, hw]]))[0];
  const ys = modes.map(() => resident(top));
  const run = (i) => {
    if (modes[i] === '') delete process.env.CREMA_WINOGRAD; else process.env.CREMA_WINOGRAD = modes[i];
    const before = process.cpuUsage();
    layers[i].forward([x], [ys[i]]);
    const d = process.cpuUsage(before);
    return (d.user + d.system) / 1000;
  };
  modes.forEach((_, i) => run(i));
  const t = modes.map(() => []);
  for (let r = 0; r < rounds; r++) for (let j = 0; j < modes.length; j++) { const i = (j + r) % modes.length; t[i].push(run(i)); }
  let worst = 0;
  for (let i = 1; i < modes.length; i++) for (let j = 0; j < ys[0].data.length; j++) worst = Math.max(worst, Math.abs(ys[i].data[j] - ys[0].data[j]));
  const q = t.map(quartile);
  console.log(`${name.padEnd(17)} ${modes.map((m, i) => `[${m || 'default'}] ${q[i].toFixed(3)}${i ? ` (${(q[i] / q[0]).toFixed(3)})` : ''}`).join('  ')}  largest difference ${worst.toExponential(1)}`);
}
console.log(`rounds ${rounds}; load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
