// A zoo net loaded at 2 threads with both judges off (every job parallel), and a random input for it: what the
// per-layer two-thread scripts (bench-scaling, bench-split-ab) measure. The weights are those `npm run bench`
// caches in the temp directory.
import '../dist/platform/node.js';
import { wasmEngine } from '../dist/kernels/wasm.js';
import { Net } from '../dist/index.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export async function unjudgedNet(model, threads = 2) {
  const proto = [`../shared/models/zoo/${model}.prototxt`, `models/zoo/${model}.prototxt`].find((f) => fs.existsSync(f));
  const net = await Net.load(proto, path.join(os.tmpdir(), `crema-bench-${model}.caffemodel`), { threads });
  const pool = wasmEngine().pool;
  pool.judge = undefined;
  net.forwardJudge = undefined;
  const input = net.inputs[0];
  if (process.env.BATCH) net.reshape({ [input]: [Number(process.env.BATCH), ...net.shapes.get(input).slice(1)] });
  const dims = net.shapes.get(input);
  const x = new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => Math.random() * 100 - 50);
  return { net, pool, input, x };
}
