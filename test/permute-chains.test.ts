// Layers after a blob whose size along an axis past 0 is known only at run time, against the SSD fork's own Caffe
// (weiliu89/caffe, branch ssd: the referee for its Permute and DetectionOutput; test/fixtures/permute, made by its
// make-fixtures.sh): a Filter's items moved to axis 1 by a Permute (chains), DetectionOutput's rows (detout). Natively
// (one net forwarded at every run's count) and through ONNX Runtime (converted once, at the load-time shapes, then run
// at every count). Layers that only move numbers must match exactly, the others within the project's tolerance.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OnnxRunner } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { input, netOf, random } from './helpers/fork-layers.js';
import { relativeError, TOLERANCE } from './helpers/reference.js';

const root = path.join(import.meta.dirname, 'fixtures', 'permute');

interface Manifest { inputs: string[]; runs: string[]; blobs: string[]; none_leaves_out: string[] }

/** A case of test/fixtures/permute: its nets, each run's inputs and the blobs the fork computed at that run. */
function fixture(name: string) {
  const dir = path.join(root, name);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const leftOut = new Set(manifest.none_leaves_out);
  return {
    manifest,
    load: (net = 'net') => Net.load(path.join(dir, `${net}.prototxt`), path.join(dir, 'weights.caffemodel'), { threads: 1 }),
    inputs: (run: string): Record<string, Tensor> => Object.fromEntries(manifest.inputs.map((k) => [k, readNpy(path.join(dir, 'inputs', run, `${k}.npy`))])),
    /** The blobs the fork computed at `run` (at no items, not those of the layers it cannot run there). */
    blobs: (run: string) => manifest.blobs.filter((b) => run !== 'none' || !leftOut.has(b)),
    fork: (run: string, blob: string) => readNpy(path.join(dir, `blobs_${run}`, `${blob}.npy`)),
  };
}

function expectFork(got: Tensor | undefined, want: Tensor, label: string, exact: boolean): void {
  expect(got, label).toBeDefined();
  expect([...got!.dims], `${label} shape`).toEqual([...want.dims]);
  if (exact) expect(Array.from(got!.data), label).toEqual(Array.from(want.data));
  else expect(relativeError(got!, want), label).toBeLessThanOrEqual(TOLERANCE);
}

/**
 * Every run of the case, in `order`, natively and through ONNX Runtime: one net and one session (converted before any
 * forward) for the runs with items, another of each for those with none where the fork cannot run some layers there
 * (the fixture's net_none; ONNX Runtime runs every node of a model, whatever the outputs asked).
 */
async function expectForkRuns(name: string, order: string[], exact: Set<string>): Promise<void> {
  const f = fixture(name), sides = new Map<string, { net: Net; runner: OnnxRunner }>();
  const side = async (run: string) => {
    const which = run === 'none' && f.manifest.none_leaves_out.length ? 'net_none' : 'net';
    if (!sides.has(which)) {
      const net = await f.load(which);
      sides.set(which, { net, runner: await OnnxRunner.create(net.graph, { threads: 1, outputs: f.blobs(run) }) });
    }
    return sides.get(which)!;
  };
  for (const run of order) {
    const inputs = f.inputs(run), { net, runner } = await side(run), onnx = await runner.run(inputs);
    net.forward(inputs);
    for (const blob of f.blobs(run)) {
      expectFork(net.blobs.get(blob), f.fork(run, blob), `${name} ${run}: ${blob} native`, exact.has(blob));
      expectFork(onnx.get(blob), f.fork(run, blob), `${name} ${run}: ${blob} ONNX`, exact.has(blob));
    }
  }
  for (const { net, runner } of sides.values()) {
    await runner.release();
    net.dispose();
  }
}

describe("a Filter's items moved to axis 1 by Permute, then the layers after (test/fixtures/permute/chains) vs the SSD fork", () => {
  // Copies of the input's numbers (and ArgMax's indices): exact.
  const moves = new Set(['x', 'p', 'flat', 'flat_hw', 'reshape', 'reshape_rows', 'argmax_w', 'permute_h']);

  it('all, some (2 of 4, selectors 2.5 and -1), one and none kept, then all again: natively and in one ONNX Runtime session', async () => {
    const f = fixture('chains');
    expect(f.manifest.runs.map((run) => f.fork(run, 'p').dims)).toEqual([[2, 4, 3, 3], [2, 0, 3, 3], [2, 1, 3, 3], [2, 2, 3, 3]]);
    await expectForkRuns('chains', ['all', 'some', 'one', 'none', 'all', 'one'], moves);
  });
});

describe("DetectionOutput's rows (axis 2) into the layers after (test/fixtures/permute/detout) vs the SSD fork", () => {
  it('all 12 boxes kept, some, and none (its one row of -1): natively and in one ONNX Runtime session', async () => {
    const f = fixture('detout');
    expect(f.manifest.runs.map((run) => f.fork(run, 'det').dims)).toEqual([[1, 1, 12, 7], [1, 1, 1, 7], [1, 1, 5, 7]]);
    await expectForkRuns('detout', ['all', 'some', 'none', 'all'], new Set());
  });
});

describe("YoloDetectionOutput's rows (axis 2) into the layers after: ONNX Runtime = crema's forward", () => {
  // No referee from the YOLO fork here (its layer itself is checked against eric612/MobileNet-YOLO in yolo.test.ts):
  // crema's own forward, at inputs that give it different row counts, against one session converted before any.
  it('Power, Reshape [-1, 7], InnerProduct over the 7 values without a bias, a Permute moving the rows to axis 1 and Softmax over them', async () => {
    const text = `${input('data', [1, 3, 16, 16])}
layer { name: "h0" type: "Convolution" bottom: "data" top: "h0" convolution_param { num_output: 45 kernel_size: 3 pad: 1 stride: 2 } }
layer { name: "det" type: "YoloDetectionOutput" bottom: "h0" top: "det" yolo_detection_output_param { num_classes: 4 num_box: 5 confidence_threshold: 0.12 nms_threshold: 0.45 biases: 1 biases: 1.5 biases: 2 biases: 2 biases: 3 biases: 2.5 biases: 4 biases: 4 biases: 5 biases: 3 } }
layer { name: "power" type: "Power" bottom: "det" top: "power" power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "reshape" type: "Reshape" bottom: "det" top: "reshape" reshape_param { shape { dim: -1 dim: 7 } } }
layer { name: "ip_nobias" type: "InnerProduct" bottom: "det" top: "ip_nobias" inner_product_param { num_output: 2 axis: 3 bias_term: false } }
layer { name: "permute" type: "Permute" bottom: "det" top: "permute" permute_param { order: 0 order: 2 order: 1 order: 3 } }
layer { name: "softmax" type: "Softmax" bottom: "permute" top: "softmax" softmax_param { axis: 1 } }`;
    // Small weights and inputs: the boxes' exp stays in range.
    const small = (dims: number[], seed: number, gain: number) => new Tensor(dims, random(dims, seed).data.map((v) => v * gain));
    const net = netOf(text, { h0: [small([45, 3, 3, 3], 1, 0.15), small([45], 2, 0.15)], ip_nobias: [random([2, 7], 3)] });
    const blobs = ['det', 'power', 'reshape', 'ip_nobias', 'permute', 'softmax'];
    const runner = await OnnxRunner.create(net.graph, { threads: 1, outputs: blobs }), rows: number[] = [];
    for (const [seed, gain] of [[9, 1], [10, 0.2], [11, 3]]) {
      const inputs = { data: small([1, 3, 16, 16], seed, gain) }, onnx = await runner.run(inputs);
      net.forward(inputs);
      rows.push(net.blobs.get('det')!.dims[2]);
      for (const blob of blobs) expectFork(onnx.get(blob), net.blobs.get(blob)!, `${blob} ONNX at ${rows.at(-1)} rows`, false);
    }
    expect(rows).toEqual([148, 146, 186]);
    await runner.release();
    net.dispose();
  });
});
