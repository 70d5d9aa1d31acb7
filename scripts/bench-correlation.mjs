#!/usr/bin/env node
// FlowNet-C's Correlation layer (two 256-channel 48 x 64 maps, pad 20, kernel_size 1, max_displacement 20,
// stride_2 2: 441 displacements) and DispNetCorr1D's Correlation1D (two 128-channel 96 x 192 maps, pad 40,
// kernel_size 1, max_displacement 40: 81 displacements) natively, as the TypeScript loop and as the wasm kernel at 1
// and 2 threads, and their ONNX form in ONNX Runtime at 1 and 2 threads; runs interleaved in one process, medians, and whether the
// outputs agree (the loop and the kernel: bit for bit). With --nets, FlowNet2-S, FlowNet2-ss and FlowNet2 whole
// (test/fixtures/flownet: the deploy templates filled for 64 x 96, synthetic weights) natively and in ONNX Runtime.
// With --subtract, both layers' correlation_type SUBTRACT too (the loop, the kernel; ONNX Runtime on Abs of Sub).
//   node scripts/bench-correlation.mjs [--runs N] [--nets] [--subtract]        (needs `npm run build` first)
import path from 'node:path';
import { Net, OnnxRunner, Tensor, args, dist, generator, median, parsePrototxt, root, runsOption, upgradeNet } from './bench-layer.mjs';

const runs = runsOption(7);
const { setThreads, useKernels, wasmBuild } = await dist('kernels/wasm.js');
// The worker starts before any run: a Net starts it in the background and these runs never yield to the event loop
// until ONNX Runtime's, so "2 threads" could be one thread for as long as the worker's ready message waits.
await setThreads(2);
const random = generator(7);
const size = (dims) => dims.reduce((a, b) => a * b, 1);
const tensor = (dims, amp = 1) => new Tensor(dims, Float32Array.from({ length: size(dims) }, () => (random() * 2 - 1) * amp));

/**
 * Each entry's run (sync or async) in turn, `runs` times, after one warm-up each: the medians of the wall time and
 * of the process's CPU time (user + system; every thread's: on a loaded machine the steadier of the two) in ms.
 */
async function interleaved(entries) {
  for (const [, run] of entries) await run();
  const wall = entries.map(() => []), cpu = entries.map(() => []);
  for (let k = 0; k < runs; k++)
    for (const [i, [, run]] of entries.entries()) {
      const t = performance.now(), c = process.cpuUsage();
      await run();
      const used = process.cpuUsage(c);
      wall[i].push(performance.now() - t);
      cpu[i].push((used.user + used.system) / 1000);
    }
  return entries.map(([name], i) => [name, median(wall[i]), median(cpu[i])]);
}

function report(title, medians) {
  const base = medians[0][1];
  console.log(title);
  for (const [name, ms, cpu] of medians)
    console.log(`  ${name.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms  ${(base / ms).toFixed(2).padStart(6)}x the first   CPU ${cpu.toFixed(1).padStart(8)} ms`);
}

/** One correlation layer's runs: the loop, the kernel and ONNX Runtime, interleaved. */
async function benchLayer(title, type, dims, param) {
  const shape = dims.map((d) => `dim: ${d}`).join(' ');
  const text = `input: "a" input_shape { ${shape} } input: "b" input_shape { ${shape} }
    layer { name: "corr" type: "${type}" bottom: "a" bottom: "b" top: "corr" correlation_param { ${param} } }`;
  const netOf = (threads) => Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'corr.prototxt'), 'corr.prototxt'), new Map(), [], { threads, dialect: 'flownet' });
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
  console.log(`${type}: build ${wasmBuild()}; wasm = loop bit for bit: 1 thread ${same(js, wasm1)}, 2 threads ${same(js, wasm2)}; max |loop - ONNX Runtime| ${worst.toExponential(2)}`);
  report(`${title}, medians of ${runs}:`, await interleaved([
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
}

await benchLayer("Correlation, FlowNet-C's (2 x 256 x 48 x 64, 441 displacements)", 'Correlation', [1, 256, 48, 64],
  'pad: 20 kernel_size: 1 max_displacement: 20 stride_1: 1 stride_2: 2');
await benchLayer("Correlation1D, DispNetCorr1D's (2 x 128 x 96 x 192, 81 displacements)", 'Correlation1D', [1, 128, 96, 192],
  'pad: 40 kernel_size: 1 max_displacement: 40 stride_1: 1 stride_2: 1');
if (args.includes('--subtract')) {
  await benchLayer("Correlation SUBTRACT, FlowNet-C's size", 'Correlation', [1, 256, 48, 64],
    'pad: 20 kernel_size: 1 max_displacement: 20 stride_1: 1 stride_2: 2 correlation_type: SUBTRACT');
  await benchLayer("Correlation1D SUBTRACT, DispNetCorr1D's size", 'Correlation1D', [1, 128, 96, 192],
    'pad: 40 kernel_size: 1 max_displacement: 40 stride_1: 1 stride_2: 1 correlation_type: SUBTRACT');
}

if (args.includes('--nets')) {
  const fs = await import('node:fs');
  const { buildGraph } = await dist('graph/graph.js');
  const { declaredWeights } = await dist('layers/layer.js');
  for (const name of ['FlowNet2-S', 'FlowNet2-ss', 'FlowNet2']) {
    const file = path.join(root, 'test', 'fixtures', 'flownet', `${name}.prototxt`);
    const parsed = upgradeNet(parsePrototxt(fs.readFileSync(file, 'utf8'), file), file, []);
    // Synthetic weights of the declared shapes, as test/flownet.test.ts makes them (scale_conv1: its diagonal filler).
    const weights = new Map();
    for (const l of buildGraph(parsed, new Map(), { dialect: 'flownet' }).layers) {
      const shapes = declaredWeights.get(l.def) ?? [];
      if (shapes.length && l.name !== 'scale_conv1')
        weights.set(l.name, shapes.map((s, i) => (l.type === 'DataAugmentation' && i === 0 ? new Tensor(s, Float32Array.of(1e6)) : tensor(s, 1 / Math.sqrt(size(s.slice(1)))))));
    }
    const images = { img0: tensor([1, 3, 64, 96], 255), img1: tensor([1, 3, 64, 96], 255) };
    const entries = [];
    for (const threads of [1, 2]) {
      const net = Net.fromNetParameter(parsed, weights, [], { dialect: 'flownet', threads });
      const runner = await OnnxRunner.create(net.graph, { threads });
      entries.push([`crema, ${threads} thread(s)`, () => net.forward(images)], [`ONNX Runtime, ${threads} thread(s)`, () => runner.run(images)]);
    }
    report(`${name} whole (64 x 96 images, synthetic weights), medians of ${runs}:`, await interleaved(entries));
  }
}
