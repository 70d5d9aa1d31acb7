// What the layer benchmarks against ONNX Runtime share (bench-psroi.mjs, bench-correlation.mjs): the built modules
// (dist/, the Node entry loaded first: it installs the platform), the --runs option, medians and a seeded generator.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** A module of dist/ (after `npm run build`). */
export const dist = (p) => import(path.join(root, 'dist', p));
await dist('index.js');
export const { OnnxRunner } = await dist('onnx/run.js');
export const { Net } = await dist('runtime/net.js');
export const { Tensor } = await dist('tensor.js');
export const { parsePrototxt } = await dist('caffe/prototxt.js');
export const { upgradeNet } = await dist('caffe/upgrade.js');

export const args = process.argv.slice(2);
/** --runs N, else `fallback`. */
export const runsOption = (fallback) => (args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : fallback);
export const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
/** Uniform in [0, 1) from a linear congruential generator seeded with `seed`. */
export function generator(seed) {
  return () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** The medians (ms) of `net.forward(feeds)` and of `runner.run(feeds)`, `runs` of each, interleaved. */
export async function nativeAndOnnx(net, runner, feeds, runs) {
  const times = { native: [], onnx: [] };
  for (let k = 0; k < runs; k++) {
    let t = performance.now();
    net.forward(feeds);
    times.native.push(performance.now() - t);
    t = performance.now();
    await runner.run(feeds);
    times.onnx.push(performance.now() - t);
  }
  return [median(times.native), median(times.onnx)];
}

/** The largest |native - onnx| over the largest |native|: how far the ONNX form's output is, on the output's scale. */
export function relativeWorst(native, onnx) {
  let worst = 0, largest = 0;
  for (let i = 0; i < native.length; i++) {
    worst = Math.max(worst, Math.abs(native[i] - onnx[i]));
    largest = Math.max(largest, Math.abs(native[i]));
  }
  return worst / largest;
}
