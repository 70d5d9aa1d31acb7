// Winograd against im2col, one convolution layer at a time on the zoo nets' 3x3 shapes (batch 1), after `npm run build`:
// im2col, F(2x2, 3x3) and F(4x4, 3x3) run interleaved (CREMA_WINOGRAD=0 / 2 / 4), medians and their ratios.
// Strided shapes (AlexNet's 11x11 stride 4, the 7x7 stride 2 conv1s) run as Winograd on their space-to-depth
// here even where the layer's rule (winogradLimits.stridedMacs) would keep im2col, to measure that rule.
// Usage: node scripts/bench-winograd.mjs [threads, default 1] [rounds, default 15]; CASES=vgg,res picks shapes by name.
import '../dist/platform/node.js';
import { setThreads } from '../dist/kernels/wasm.js';
import { winogradLimits } from '../dist/kernels/winograd.js';
import { convolutionLayer } from '../dist/layers/convolution.js';
import { Tensor } from '../dist/tensor.js';
import os from 'node:os';
const threads = Number(process.argv[2] ?? 1), rounds = Number(process.argv[3] ?? 15);
await setThreads(threads);
const all = [
  ['alex conv3', 256, 384, 13, 1], ['alex conv4', 192, 192, 13, 2], ['alex conv5', 192, 128, 13, 2],
  ['vgg conv1_2', 64, 64, 224, 1], ['vgg conv2_2', 128, 128, 112, 1], ['vgg conv3_2', 256, 256, 56, 1], ['vgg conv4_2', 512, 512, 28, 1], ['vgg conv5_2', 512, 512, 14, 1],
  ['res 3x3 s2', 64, 64, 56, 1], ['res 3x3 s3', 128, 128, 28, 1], ['res 3x3 s4', 256, 256, 14, 1], ['res 3x3 s5', 512, 512, 7, 1],
  ['goog 3x3 a', 96, 128, 28, 1], ['goog 3x3 b', 32, 64, 28, 1], ['goog 3x3 4a', 96, 208, 14, 1], ['goog 3x3 5a', 160, 320, 7, 1], ['goog 3x3 5b', 192, 384, 7, 1],
  ['incv3 c 3x3', 448, 384, 8, 1], ['small 12', 64, 64, 12, 1], ['small 12 b', 256, 256, 12, 1], ['small 10', 128, 128, 10, 1], ['small 9', 128, 128, 9, 1], ['small 6', 256, 256, 6, 1],
  ['squeeze e3', 16, 64, 55, 1], ['squeeze e3 b', 64, 256, 13, 1], ['pose 128 46', 128, 128, 46, 1],
  ['5x5 alex conv2', 96, 256, 27, 2, 5], ['5x5 goog 3a', 16, 32, 28, 1, 5], ['5x5 goog 4e', 32, 128, 14, 1, 5], ['5x5 incv3', 48, 64, 35, 1, 5],
  ['5x5 goog 5b', 48, 128, 7, 1, 5], ['7x7 pose Mconv', 128, 128, 46, 1, 7], ['7x7 pose in', 185, 128, 46, 1, 7],
  // name, C, M, size, group, kernel, stride, pad
  ['incv3 conv2', 32, 32, 149, 1, 3, 1, 0], ['incv3 conv3', 32, 64, 147, 1, 3, 1, 1], ['incv3 conv4', 80, 192, 73, 1, 3, 1, 0],
  ['incv3 a_3x3_2', 64, 96, 35, 1, 3, 1, 1], ['incv3 red_a 3x3_2', 64, 96, 35, 1, 3, 1, 1],
  ['11x11 s4 alex conv1', 3, 96, 227, 1, 11, 4, 0], ['7x7 s2 res conv1', 3, 64, 224, 1, 7, 2, 3], ['7x7 s2 sq1.0 conv1', 3, 96, 227, 1, 7, 2, 0],
];
winogradLimits.stridedMacs = Infinity;
const f = process.env.CASES; const pick = f ? all.filter((c) => f.split(',').some((n) => c[0].includes(n))) : all;
const rand = (dims) => { const t = Tensor.zeros(dims); for (let i = 0; i < t.data.length; i++) t.data[i] = Math.random() - 0.5; return t; };
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const modes = (process.env.MODES ?? '0,2,4').split(','); // CREMA_WINOGRAD values; 6: F(6x6, 3x3) for 3x3 kernels, 24: F(2x4, 3x3)
const sums = modes.map(() => 0);
for (const [name, cin, cout, hw, group, k = 3, stride = 1, pad = (k - 1) / 2] of pick) {
  const def = { name, type: 'Convolution', bottom: ['x'], top: ['y'], convolution_param: { num_output: cout, kernel_size: [k], pad: [pad], stride: [stride], group } };
  const w = [rand([cout, cin / group, k, k]), rand([cout])];
  const x = rand([1, cin, hw, hw]);
  const ls = modes.map(() => convolutionLayer.create(def, w)); const [top] = ls.map((l) => l.reshape([[1, cin, hw, hw]]))[0];
  const ys = modes.map(() => Tensor.zeros(top));
  const run = (i) => { process.env.CREMA_WINOGRAD = modes[i]; const t0 = performance.now(); ls[i].forward([x], [ys[i]]); return performance.now() - t0; };
  modes.forEach((_, i) => run(i));
  const t = modes.map(() => []);
  const reps = hw >= 112 && stride === 1 ? Math.max(3, rounds >> 2) : rounds;
  for (let r = 0; r < reps; r++) for (let k = 0; k < modes.length; k++) { const i = (k + r) % modes.length; t[i].push(run(i)); }
  const m = t.map(med); m.forEach((v, i) => (sums[i] += v));
  console.log(`${name.padEnd(14)} ${modes.map((mode, i) => `${mode === '0' ? 'im2col' : `F${mode}`} ${m[i].toFixed(2).padStart(7)}${i ? ` (${(m[i] / m[0]).toFixed(2)})` : ''}`).join('  ')}`);
}
console.log(`sum ${modes.map((mode, i) => `${mode === '0' ? 'im2col' : `F${mode}`} ${sums[i].toFixed(1)}${i ? ` (${(sums[i] / sums[0]).toFixed(2)})` : ''}`).join(' ')}; threads ${threads}; load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
