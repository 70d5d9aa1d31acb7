// `crema bench` and the timing helpers: the shapes of what they print and return, never how fast anything is.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { benchNet } from '../src/bench/bench-net.js';
import * as ort from 'onnxruntime-node';
import { layerTimesFromProfile, nodeNameOf, openBenchSession, type ProfileEvent } from '../src/bench/onnx.js';
import { runOnnx } from '../src/onnx/run.js';
import { watchModelDirs } from './helpers/external.js';
import { setThreads } from '../src/kernels/wasm.js';
import { interleave, median, summarize } from '../src/bench/stats.js';
import { backendNote, formatBench } from '../src/cli/commands/bench.js';
import { main } from '../src/cli/main.js';
import type { BackendResult } from '../src/bench/result.js';
import { Net } from '../src/runtime/net.js';
import { convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { Tensor } from '../src/tensor.js';
import { comparePair } from '../src/verify/compare.js';
// @ts-expect-error: a plain .mjs script (npm run bench's helper), no declarations
import { ortWebAvailable, startOrtWeb } from '../scripts/ortweb.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lenet = [path.join(repo, 'models/lenet/deploy.prototxt'), path.join(repo, 'models/lenet/weights.caffemodel')];
const lenetLayers = [
  ['conv1', 'Convolution'], ['pool1', 'Pooling'], ['conv2', 'Convolution'], ['pool2', 'Pooling'],
  ['ip1', 'InnerProduct'], ['relu1', 'ReLU'], ['ip2', 'InnerProduct'], ['prob', 'Softmax'],
];

async function crema(...args: string[]) {
  const out = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const code = await main(args);
    return { code, stdout: out.mock.calls.map((c) => c.join(' ')).join('\n'), stderr: err.mock.calls.map((c) => c.join(' ')) };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('timing helpers', () => {
  it('median of odd and even counts, summaries', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(summarize([3, 9, 1, 4])).toEqual({ median_ms: 3.5, min_ms: 1, max_ms: 9 });
  });

  it('interleave runs every contender once per round, rotating the order, after the warm-up', async () => {
    const calls: string[] = [];
    const samples = await interleave(
      [{ name: 'a', run: () => calls.push('a') }, { name: 'b', run: () => calls.push('b') }, { name: 'c', run: () => calls.push('c') }],
      { iterations: 3, warmup: 1 },
    );
    expect(calls.join('')).toBe('abc' + 'abc' + 'bca' + 'cab');
    expect([...samples.keys()]).toEqual(['a', 'b', 'c']);
    for (const s of samples.values()) expect(s).toHaveLength(3);
  });
});

describe('benchNet warm-up', () => {
  // At more than one thread the pool's judge times each job both ways before it settles (src/kernels/pool.ts):
  // 8 untimed forwards there, 2 at one thread, unless asked.
  it.each([[1, undefined, 2], [2, undefined, 8], [2, 3, 3]] as const)('threads %i, warmup %s: %i forwards before the timed ones', async (threads, warmup, want) => {
    const lenetDir = path.resolve('models/lenet');
    const net = await Net.load(path.join(lenetDir, 'deploy.prototxt'), path.join(lenetDir, 'weights.caffemodel'));
    const forward = vi.spyOn(net, 'forward');
    try {
      const [result] = await benchNet(net, { backends: ['native'], threads, iterations: 2, batch: 1, warmup });
      // A one-core machine runs one thread whatever is asked: the one-thread warm-up then.
      const expected = warmup === undefined && result.threads === 1 ? 2 : want;
      // The warm-up's forwards, then the 2 timed ones (each with the timer's layer hook).
      expect(forward.mock.calls.filter(([, o]) => o && 'onLayer' in o).length).toBe(expected + 2);
    } finally {
      await setThreads(1);
    }
  });
});

describe('ONNX Runtime profile -> Caffe layers', () => {
  it('strips ORT\'s decorations from node names', () => {
    expect(nodeNameOf('fused conv1_nchwc_kernel_time')).toBe('conv1');
    expect(nodeNameOf('inception_3a/1x1/Add_2_kernel_time')).toBe('inception_3a/1x1/Add_2');
  });

  it('sums a layer\'s nodes per run, drops warm-up runs, keeps net order, names ORT\'s own nodes', async () => {
    const net = Net.fromNetParameter({
      name: 'n',
      layer: [
        { name: 'data', type: 'Input', top: ['data'], input_param: { shape: [{ dim: [1, 2, 4, 4] }] } },
        { name: 'inc/1x1', type: 'ReLU', bottom: ['data'], top: ['a'] },
        { name: 'inc', type: 'Sigmoid', bottom: ['a'], top: ['b'] },
      ],
    } as never);
    const run = (ts: number): ProfileEvent => ({ cat: 'Session', name: 'model_run', ts, dur: 100 });
    const node = (name: string, ts: number, dur: number, op = 'X'): ProfileEvent => ({ cat: 'Node', name: `${name}_kernel_time`, ts, dur, args: { op_name: op } });
    const events = [
      run(0), node('inc', 10, 9000), // warm-up run: dropped
      run(200), node('inc', 210, 1000), node('inc/1x1', 220, 2000), node('inc/1x1/Mul_2', 230, 500), node('ReorderInput_token_3', 240, 100, 'ReorderInput'),
      run(400), node('fused inc_nchwc', 410, 3000), node('inc/1x1', 420, 4000),
      { cat: 'Node', name: 'inc_fence_before', ts: 430, dur: 0 },
    ];
    expect(layerTimesFromProfile(events, net.graph, 1)).toEqual([
      { name: 'inc/1x1', type: 'ReLU', median_ms: 3.25 }, // runs: 2.5 and 4 ms
      { name: 'inc', type: 'Sigmoid', median_ms: 2 }, // 1 and 3 ms
      { name: '(ORT ReorderInput)', type: 'ReorderInput', median_ms: 0.05 }, // 0.1 and absent (0)
    ]);
  });
});

describe('crema bench', () => {
  it('--json: one object per backend with the documented fields; native layers in net order', async () => {
    const r = await crema('bench', ...lenet, '--backend', 'both', '--threads', '1', '--iterations', '2', '--warmup', '0', '--json');
    expect(r.code).toBe(0);
    const results = JSON.parse(r.stdout);
    expect(results.map((x: { backend: string }) => x.backend)).toEqual(['native', 'onnx']);
    for (const x of results) {
      const core = x.backend === 'native' ? ['core'] : [];
      expect(Object.keys(x).sort()).toEqual(['backend', 'batch', ...core, 'layers', 'max_ms', 'median_ms', 'min_ms', 'threads']);
      if (x.core) {
        // The core probe: its median no faster than its fastest, both real rates (G multiply-adds a second).
        // A no-op probe would report an absurd rate: 128-bit kernels on one core do well under 1000.
        expect(x.core.max_gmacs).toBeGreaterThan(0.1);
        expect(x.core.max_gmacs).toBeLessThan(1000);
        expect(x.core.median_gmacs).toBeGreaterThan(0.1);
        expect(x.core.median_gmacs).toBeLessThanOrEqual(x.core.max_gmacs);
      }
      expect(x.threads).toBe(1);
      expect(x.batch).toBe(1); // LeNet's deploy net takes one image
      expect(x.min_ms).toBeGreaterThan(0);
      expect(x.min_ms).toBeLessThanOrEqual(x.median_ms);
      expect(x.median_ms).toBeLessThanOrEqual(x.max_ms);
      for (const l of x.layers) {
        expect(Object.keys(l).sort()).toEqual(['median_ms', 'name', 'type']);
        expect(l.median_ms).toBeGreaterThanOrEqual(0);
      }
    }
    // The native rows time one whole forward: relu1 is folded into ip1 there, so it has no row of its own.
    expect(results[0].layers.map((l: { name: string; type: string }) => [l.name, l.type])).toEqual(lenetLayers.filter(([n]) => n !== 'relu1'));
    // ONNX Runtime fuses or drops some layers; the ones it reports are LeNet's, in net order.
    const onnxNames = results[1].layers.map((l: { name: string }) => l.name).filter((n: string) => !n.startsWith('(ORT'));
    expect(onnxNames.length).toBeGreaterThan(0);
    const order = lenetLayers.map(([n]) => n);
    expect(onnxNames.map((n: string) => order.indexOf(n))).toEqual([...onnxNames.map((n: string) => order.indexOf(n))].sort((a, b) => a - b));
    expect(onnxNames.every((n: string) => order.includes(n))).toBe(true);
  }, 30_000);

  it('--backend onnx opens its session as users\' are: from the model files the Node platform writes (the weights mapped), gone once it is made', async () => {
    const net = await Net.load(lenet[0], lenet[1]);
    const { made, restore } = watchModelDirs();
    try {
      const results = await benchNet(net, { backends: ['onnx'], threads: 1, iterations: 1, batch: 1, warmup: 0 });
      expect(results.map((x) => [x.backend, x.threads, x.batch])).toEqual([['onnx', 1, 1]]);
      expect(made.length).toBe(1);
      expect(fs.existsSync(made[0])).toBe(false);
      // the benchmark's session computes a user's session's numbers (runOnnx), bit for bit; from bytes too
      const data = new Tensor([1, 1, 28, 28], Float32Array.from({ length: 28 * 28 }, (_, i) => Math.sin(i)));
      const want = (await runOnnx(net.graph, { data })).get('prob')!.data;
      expect(made.length).toBe(2);
      for (const model of [convertGraph(net.graph).model, encodeConversion(convertGraph(net.graph))]) {
        const s = await openBenchSession(model, { threads: 1 });
        const got = (await s.session.run({ data: new ort.Tensor('float32', data.data, [1, 1, 28, 28]) })).prob.data;
        await s.release();
        expect(got).toEqual(want);
      }
      expect(made.length).toBe(3); // the model from files once more; the bytes given as they are
      for (const dir of made) expect(fs.existsSync(dir)).toBe(false);
    } finally {
      restore();
    }
  });

  it('--batch sets the images per forward', async () => {
    const r = await crema('bench', ...lenet, '--iterations', '1', '--warmup', '0', '--batch', '3', '--json');
    expect(r.code).toBe(0);
    const [native] = JSON.parse(r.stdout);
    expect(native).toMatchObject({ backend: 'native', batch: 3 });
    expect(native.threads).toBeGreaterThanOrEqual(1);
  });

  it('prints caffe time\'s per-layer rows and the forward\'s median / min / max as a table', async () => {
    const r = await crema('bench', ...lenet, '--iterations', '2', '--warmup', '0');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('LeNet: batch 1, 2 timed forward passes per backend (interleaved); per-layer figures are medians');
    expect(r.stdout).toMatch(/│ layer\s+│ type\s+│ native ms \(\d+ threads?\) │/);
    for (const [name, type] of lenetLayers.filter(([n]) => n !== 'relu1')) expect(r.stdout).toMatch(new RegExp(`│ ${name}\\s+│ ${type}\\s+│\\s+\\d+\\.\\d{3} │`));
    expect(r.stdout).not.toMatch(/│ relu1 /); // folded into ip1 in a whole forward
    expect(r.stdout).toMatch(/^core: crema's GEMM kernel on cached data ran at \d+\.\d G multiply-adds\/s \(median of the rounds; fastest \d+\.\d\)/m);
    // LeNet's fewest multiply-adds (src/bench/bound.ts): its 5x5s in F(4x4, 5x5), 4 of 25 (576 x 20 x 25 and
    // 64 x 50 x 20 x 25), the inner products whole (800 x 500 + 500 x 10): 707,080.
    expect(r.stdout).toMatch(/^bound: the fewest multiply-adds crema's algorithms need for this forward \(0\.71 M; 1x1 as they are, Winograd's best cut elsewhere\) take at least \d+\.\d{3} ms at that fastest rate on \d+ threads?$/m);
    for (const what of ['median', 'min', 'max']) expect(r.stdout).toMatch(new RegExp(`│ forward, ${what}\\s+│\\s+│\\s+\\d+\\.\\d{3} │`));
  });

  it('says where ONNX Runtime ran the net 1.25x faster or more, and how to run it there', () => {
    const result = (backend: 'native' | 'onnx', median: number): BackendResult => ({ backend, threads: 1, batch: 1, layers: [], median_ms: median, min_ms: median, max_ms: median });
    const hint = "ONNX Runtime ran this net 2.9x faster here: `--backend onnx` runs it there in crema run, classify and detect, and net.run(feeds, { backend: 'onnx' }) in the library";
    expect(backendNote([result('native', 115), result('onnx', 39)])).toBe(hint);
    expect(formatBench('ResNet-50', [result('native', 115), result('onnx', 39)], 10).split('\n').at(-1)).toBe(hint);
    expect(backendNote([result('native', 24), result('onnx', 20)])).toBe(''); // 1.2x: no
    expect(backendNote([result('native', 20), result('onnx', 24)])).toBe('');
    expect(backendNote([result('native', 115)])).toBe('');
  });

  it('refuses bad counts with exit 2 and a one-line message', async () => {
    for (const [flag, value, message] of [
      ['--iterations', '0', '--iterations must be a whole number from 1 to 100000, got 0'],
      ['--threads', '-1', '--threads must be a whole number from 0 to 256, got -1'],
      ['--batch', '2.5', '--batch must be a whole number from 1 to 4096, got 2.5'],
    ]) {
      const r = await crema('bench', ...lenet, flag, value);
      expect(r.code).toBe(2);
      expect(r.stderr).toEqual([`crema: ${message}`]);
    }
  });

  it('a net without its weights: exit 2, naming the layers that need them', async () => {
    const r = await crema('bench', lenet[0], '--iterations', '1');
    expect(r.code).toBe(2);
    expect(r.stderr.at(-1)).toMatch(/^crema: no weights for 'conv1' \(Convolution\), .*give the \.caffemodel/);
  });
});

// npm run bench's ortweb section: onnxruntime-web in a worker thread per thread count (scripts/ortweb.mjs). Its
// plumbing on LeNet, nothing timed: the thread count each worker started with, and the output of crema's ONNX
// file through ORT-web's wasm backend against the native forward's.
describe('onnxruntime-web in a worker (npm run bench\'s ortweb section)', () => {
  it.skipIf(!ortWebAvailable())('runs crema\'s ONNX file at 1 and 2 threads, within 1e-4 of the native forward', async () => {
    const net = await Net.load(lenet[0], lenet[1]);
    const input = net.inputs[0], dims = net.shapes.get(input)!;
    const x = new Tensor(dims, Float32Array.from({ length: 28 * 28 }, (_, i) => ((i * 37) % 256) / 255));
    const native = net.forward({ [input]: x })[net.outputs[0]].data;
    const bytes = encodeConversion(convertGraph(net.graph, {}));
    for (const threads of [1, 2]) {
      const web = (await startOrtWeb(threads))!;
      try {
        expect(web.info.threads).toBe(threads);
        expect(await web.load(bytes, input, dims, x.data)).toEqual({ inputs: [input], outputs: [net.outputs[0]] });
        const out: Float32Array = await web.run(true);
        expect(out).toHaveLength(native.length);
        expect(comparePair(new Tensor([out.length], out), new Tensor([native.length], native), 1e-4).pass).toBe(true);
        expect(await web.run()).toBeUndefined();
        await web.release();
      } finally {
        await web.close();
      }
    }
    await net.dispose();
  }, 60_000);
});
