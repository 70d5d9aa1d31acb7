#!/usr/bin/env node
// FlowNet-C's Correlation layer (two 256-channel 48 x 64 maps, pad 20, kernel_size 1, max_displacement 20,
// stride_2 2: 441 displacements) natively, as the TypeScript loop and as the wasm kernel at 1 and 2 threads, and
// its ONNX form in ONNX Runtime at 1 and 2 threads; runs interleaved in one process, medians, and whether the
// outputs agree (the loop and the kernel: bit for bit). With --nets, FlowNet2-S and FlowNet2-ss whole
// (test/fixtures/flownet: the deploy templates filled for 64 x 96, synthetic weights) natively and in ONNX Runtime.
//   node scripts/bench-correlation.mjs [--runs N] [--nets]        (needs `npm run build` first)
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 7;
const dist = (p) => import(path.join(root, 'dist', p));
await dist('index.js'); // the Node entry installs the platform (onnxruntime-node)
const { OnnxRunner } = await dist('onnx/run.js');
const { Net } = await dist('runtime/net.js');
const { Tensor } = await dist('tensor.js');
const { parsePrototxt } = await dist('caffe/prototxt.js');
const { upgradeNet } = await dist('caffe/upgrade.js');
const { useKernels, wasmBuild } = await dist('kernels/wasm.js');

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
let seed = 7;
const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const tensor = (dims) => new Tensor(dims, Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => random() * 2 - 1));

/** Each entry's run (sync or async) in turn, `runs` times, after one warm-up each: the medians in ms. */
async function interleaved(entries) {
  for (const [, run] of entries) await run();
  const times = entries.map(() => []);
  for (let k = 0; k < runs; k++)
    for (const [i, [, run]] of entries.entries()) {
      const t = performance.now();
      await run();
      times[i].push(performance.now() - t);
    }
  return entries.map(([name], i) => [name, median(times[i])]);
}

function report(title, medians) {
  const base = medians[0][1];
  console.log(title);
  for (const [name, ms] of medians) console.log(`  ${name.padEnd(34)} ${ms.toFixed(1).padStart(8)} ms  ${(base / ms).toFixed(2).padStart(6)}x the first`);
}

const dims = [1, 256, 48, 64];
const text = `input: "a" input_shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } input: "b" input_shape { ${dims.map((d) => `dim: ${d}`).join(' ')} }
  layer { name: "corr" type: "Correlation" bottom: "a" bottom: "b" top: "corr" correlation_param { pad: 20 kernel_size: 1 max_displacement: 20 stride_1: 1 stride_2: 2 } }`;
const netOf = (threads) => Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'corr.prototxt'), 'corr.prototxt'), new Map(), [], { threads });
const feeds = { a: tensor(dims), b: tensor(dims) };
const [one, two] = [netOf(1), netOf(2)];
const ort = [await OnnxRunner.create(one.graph, { threads: 1 }), await OnnxRunner.create(one.graph, { threads: 2 })];
const forward = (net, kernels) => () => {
  useKernels(kernels);
  return net.forward(feeds).corr.data.slice();
};
const js = forward(one, 'js')(), wasm1 = forward(one, 'wasm')(), wasm2 = forward(two, 'wasm')(), onnx = (await ort[0].run(feeds)).get('corr').data;
const same = (x, y) => x.every((v, i) => Object.is(v, y[i]));
let worst = 0;
for (let i = 0; i < js.length; i++) worst = Math.max(worst, Math.abs(js[i] - onnx[i]));
console.log(`build ${wasmBuild()}; wasm = loop bit for bit: 1 thread ${same(js, wasm1)}, 2 threads ${same(js, wasm2)}; max |loop - ONNX Runtime| ${worst.toExponential(2)}`);
report(`Correlation, FlowNet-C's (2 x ${dims.slice(1).join(' x ')}, 441 displacements), medians of ${runs}:`, await interleaved([
  ['TypeScript loop', forward(one, 'js')],
  ['wasm, 1 thread', forward(one, 'wasm')],
  ['wasm, 2 threads', forward(two, 'wasm')],
  ['ONNX Runtime, 1 thread', () => ort[0].run(feeds)],
  ['ONNX Runtime, 2 threads', () => ort[1].run(feeds)],
]));
useKernels('wasm');
for (const r of ort) await r.release();
await one.dispose();
await two.dispose();

if (args.includes('--nets')) {
  const fixtures = path.join(root, 'test', 'fixtures', 'flownet');
  const fs = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  for (const name of ['FlowNet2-S', 'FlowNet2-ss']) {
    const prototxt = path.join(fixtures, `${name}.prototxt`);
    if (!fs.existsSync(prototxt)) {
      console.log(`${name}: ${prototxt} missing, skipped`);
      continue;
    }
    const weights = path.join(fixtures, `${name}.bench.caffemodel`);
    if (!fs.existsSync(weights)) execFileSync(process.execPath, ['/work/shared/tools/hashweights.mjs', prototxt, '-', weights, '--salt', 'bench'], { stdio: 'inherit' });
    const entries = [];
    for (const threads of [1, 2]) {
      const net = await Net.load(prototxt, weights, { threads });
      const inputs = Object.fromEntries(net.inputs.map((i) => [i, tensor(net.blobs.get(i).dims)]));
      const runner = await OnnxRunner.create(net.graph, { threads });
      entries.push([`crema, ${threads} thread(s)`, () => net.forward(inputs)], [`ONNX Runtime, ${threads} thread(s)`, () => runner.run(inputs)]);
    }
    report(`${name} whole (64 x 96, synthetic weights), medians of ${runs}:`, await interleaved(entries));
  }
}
