// AlexNet (BVLC deploy, hashed weights) on crema's native engine vs ONNX Runtime, after `npm run build`:
// forward median ms at 1 and 2 threads, side by side in one process (interleaved rounds, so load from other
// processes hits both engines alike), and images/s at batch 10 vs batch 1.
// Usage: node scripts/bench-native.mjs [rounds, default 7] [prototxt] [caffemodel]
//   weights: node /work/shared/tools/hashweights.mjs model <zoo>/alexnet/spec.json /tmp/alexnet.caffemodel --salt dev
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import '../dist/platform/node.js';
import { Net } from '../dist/runtime/net.js';
import { OnnxRunner } from '../dist/onnx/run.js';
import { kernelsInUse } from '../dist/kernels/wasm.js';
import { Tensor } from '../dist/tensor.js';

const rounds = Number(process.argv[2] ?? 7);
const zoo = '/work/shared/reference/zoo/alexnet';
const prototxt = process.argv[3] ?? `${zoo}/net.prototxt`;
let weights = process.argv[4];
if (!weights) {
  weights = '/tmp/crema-bench-alexnet.caffemodel';
  if (!existsSync(weights)) execFileSync('node', ['/work/shared/tools/hashweights.mjs', 'model', `${zoo}/spec.json`, weights, '--salt', 'dev'], { stdio: 'inherit' });
}

const net = await Net.load(prototxt, weights, { threads: 2 });
const input = net.inputs[0];
const shape1 = net.shapes.get(input);
const random = (dims) => {
  const t = Tensor.zeros(dims);
  for (let i = 0; i < t.data.length; i++) t.data[i] = Math.random() * 255 - 128;
  return t;
};
const x1 = random(shape1);
const x10 = random([10, ...shape1.slice(1)]);

const ort1 = await OnnxRunner.create(net.graph, { threads: 1 });
const ort2 = await OnnxRunner.create(net.graph, { threads: 2 });

function native(threads, x) {
  net.threads = threads;
  const t0 = performance.now();
  net.forward({ [input]: x });
  return performance.now() - t0;
}
async function onnx(runner, x) {
  const t0 = performance.now();
  await runner.run({ [input]: x });
  return performance.now() - t0;
}

const times = { n1: [], n2: [], o1: [], o2: [], b1: [], b10: [] };
// warm-up: JIT, weight packing, worker start, ORT allocations
native(1, x1); native(2, x1); await onnx(ort1, x1); await onnx(ort2, x1);
for (let r = 0; r < rounds; r++) {
  times.n1.push(native(1, x1));
  times.o1.push(await onnx(ort1, x1));
  times.n2.push(native(2, x1));
  times.o2.push(await onnx(ort2, x1));
}
native(2, x10);
for (let r = 0; r < Math.max(3, rounds >> 1); r++) {
  times.b10.push(native(2, x10));
  times.b1.push(native(2, x1));
}
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
console.log(`AlexNet, kernels: ${kernelsInUse()}, ${rounds} interleaved rounds, median ms`);
console.log(`1 thread : crema ${m.n1.toFixed(1)}  onnxruntime ${m.o1.toFixed(1)}  ratio ${(m.n1 / m.o1).toFixed(2)}`);
console.log(`2 threads: crema ${m.n2.toFixed(1)}  onnxruntime ${m.o2.toFixed(1)}  ratio ${(m.n2 / m.o2).toFixed(2)}`);
const ips1 = 1000 / m.b1, ips10 = 10000 / m.b10;
console.log(`batch 10 (2 threads): ${ips10.toFixed(1)} images/s vs batch 1 ${ips1.toFixed(1)} images/s = ${(ips10 / ips1).toFixed(2)}x`);
await ort1.release();
await ort2.release();
