// GoogLeNet, SqueezeNet 1.1, ResNet-50 and MobileNet v1 (hashed zoo weights) on crema's native engine vs ONNX
// Runtime at 1 and 2 threads, after `npm run build`: interleaved rounds, median forward ms, with a 30 ms pause
// before every run (ONNX Runtime's pool threads keep spinning after a run and would slow the next one down).
// Usage: node scripts/bench-zoo.mjs [rounds, default 15] [net ...]
import { existsSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import '../dist/platform/node.js';
import { Net } from '../dist/runtime/net.js';
import { OnnxRunner } from '../dist/onnx/run.js';
import { wasmBuild } from '../dist/kernels/wasm.js';
import { Tensor } from '../dist/tensor.js';

const rounds = Number(process.argv[2] ?? 15);
const names = process.argv.length > 3 ? process.argv.slice(3) : ['googlenet', 'squeezenet_v1.1', 'resnet50', 'mobilenet'];
const zoo = '/work/shared/reference/zoo';
const cache = '/tmp/crema-reference-weights';
const pause = () => new Promise((resolve) => setTimeout(resolve, 30));
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];

console.log(`kernels: ${wasmBuild()}, ${rounds} interleaved rounds, median ms`);
for (const name of names) {
  const weights = `${cache}/${name}.caffemodel`;
  if (!existsSync(weights)) {
    mkdirSync(cache, { recursive: true });
    execFileSync('node', [`${zoo}/../../tools/hashweights.mjs`, 'model', `${zoo}/${name}/spec.json`, weights, '--salt', 'dev'], { stdio: 'inherit' });
  }
  const net = await Net.load(`${zoo}/${name}/net.prototxt`, weights, { threads: 2 });
  const input = net.inputs[0];
  const x = Tensor.zeros(net.shapes.get(input));
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.random() * 255 - 128;
  const line = [name.padEnd(16)];
  const ort = { 1: await OnnxRunner.create(net.graph, { threads: 1 }), 2: await OnnxRunner.create(net.graph, { threads: 2 }) };
  const times = { n1: [], o1: [], n2: [], o2: [] };
  for (const t of [1, 2]) {
    net.threads = t;
    net.forward({ [input]: x });
    await ort[t].run({ [input]: x });
  }
  for (let r = 0; r < rounds; r++)
    for (const t of [1, 2]) {
      net.threads = t;
      await pause();
      let t0 = performance.now();
      net.forward({ [input]: x });
      times[`n${t}`].push(performance.now() - t0);
      await pause();
      t0 = performance.now();
      await ort[t].run({ [input]: x });
      times[`o${t}`].push(performance.now() - t0);
    }
  for (const t of [1, 2]) {
    const n = median(times[`n${t}`]), o = median(times[`o${t}`]);
    line.push(`${t} thread${t > 1 ? 's' : ' '}: crema ${n.toFixed(1).padStart(6)}  onnxruntime ${o.toFixed(1).padStart(6)}  ratio ${(n / o).toFixed(2)}`);
  }
  console.log(line.join('   '));
  await ort[1].release();
  await ort[2].release();
}
process.exit(0);
