// The benchmark's busy section for one net, with what the forward judge chose: native vs ORT interleaved as
// `npm run bench -- --only busy` runs them (a CPU hog on one core, 1 thread then 2, ITER timed rounds after one
// warm-up), printing every native forward's time and way (P parallel, A alone) and the ORT times. Usage:
// node scripts/bench-busy.mjs NET [iterations, default 8] [repeats, default 1]; QUIET=1 without the hog.
import '../dist/platform/node.js';
import { Net, Tensor } from '../dist/index.js';
import { wasmEngine } from '../dist/kernels/wasm.js';
import { interleave } from '../dist/bench/stats.js';
import { setNativeThreads } from '../dist/bench/bench-net.js';
import { convertGraph, encodeConversion } from '../dist/onnx/convert.js';
import ort from 'onnxruntime-node';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const model = process.argv[2] ?? 'mobilenet_v2', iterations = Number(process.argv[3] ?? 8), repeats = Number(process.argv[4] ?? 1);
const proto = [`../shared/models/zoo/${model}.prototxt`, `models/zoo/${model}.prototxt`].find((f) => fs.existsSync(f));
const hog = process.env.QUIET ? undefined : spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 200));
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const load0 = os.loadavg()[0];
for (let rep = 0; rep < repeats; rep++) {
  const net = await Net.load(proto, path.join(os.tmpdir(), `crema-bench-${model}.caffemodel`));
  const input = net.inputs[0], dims = net.shapes.get(input);
  const x = new Tensor(dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => Math.random() * 100 - 50));
  const bytes = encodeConversion(convertGraph(net.graph, {}));
  const out = [];
  for (const threads of [1, 2]) {
    await setNativeThreads(threads, [net]);
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3, extra: { session: { intra_op: { allow_spinning: '0' } } } });
    const feeds = { [input]: new ort.Tensor('float32', x.data, [...dims]) };
    let ways = '';
    const fj = net.forwardJudge;
    if (fj) {
      const choose = fj.choose.bind(fj);
      fj.choose = (key) => { const w = choose(key); ways += w === 'alone' ? 'A' : 'P'; return w; };
    }
    const pool = wasmEngine().pool;
    const w0 = pool.wakeups;
    const samples = await interleave([{ name: 'native', run: () => net.forward({ [input]: x }) }, { name: 'onnx', run: () => s.run(feeds) }], { iterations, warmup: 1 });
    await s.release();
    if (fj) delete fj.choose;
    const n = samples.get('native'), o = samples.get('onnx');
    out.push({ threads, n: med(n), o: med(o) });
    console.log(`${model} ${threads}t: native ${med(n).toFixed(1)} ms [${n.map((t) => t.toFixed(1)).join(' ')}] ways ${ways} (1 warm-up first); ORT ${med(o).toFixed(1)}; ratio ${(med(n) / med(o)).toFixed(2)}; wake-ups ${pool.wakeups - w0}`);
  }
  console.log(`  native 2t / 1t ${(out[1].n / out[0].n).toFixed(2)}, ORT 2t / 1t ${(out[1].o / out[0].o).toFixed(2)}`);
  await net.dispose();
}
console.log(`load ${load0.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`);
hog?.kill();
process.exit(0);
