import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { tritonConfigText, tritonModelName, writeTritonRepository } from '../src/onnx/triton.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { cli } from './helpers/cli.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-triton-'));

function reshaper(net: Net) {
  return (shapes: Record<string, readonly number[]>) => (net.reshape(shapes as Record<string, number[]>), net.graph);
}

describe('Triton model repository', () => {
  it('writes config.pbtxt with Caffe\'s blob names and per-item shapes, and a model that batches', async () => {
    const net = await Net.load(path.join(root, 'models/cifar10_full/deploy.prototxt'), path.join(root, 'models/cifar10_full/weights.caffemodel'));
    const t = await writeTritonRepository(net.graph, reshaper(net), tmp, 'cifar10_full', 4, {});
    expect(t.fixedBatchReason).toBeUndefined();
    expect(fs.readFileSync(path.join(tmp, 'cifar10_full/config.pbtxt'), 'utf8')).toBe(
      'name: "cifar10_full"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 4\n' +
        'input [\n  {\n    name: "data"\n    data_type: TYPE_FP32\n    dims: [ 3, 32, 32 ]\n  }\n]\n' +
        'output [\n  {\n    name: "prob"\n    data_type: TYPE_FP32\n    dims: [ 10 ]\n  }\n]\n' +
        'dynamic_batching { }\n',
    );
    // The model Triton would run, at a batch of 3 (the net was loaded at 1): same as crema's own forward pass.
    const session = await ort.InferenceSession.create(path.join(tmp, 'cifar10_full/1/model.onnx'));
    const x = Float32Array.from({ length: 3 * 3 * 32 * 32 }, (_, i) => ((i * 7919) % 255) - 127);
    const got = (await session.run({ data: new ort.Tensor('float32', x, [3, 3, 32, 32]) })).prob;
    expect(got.dims).toEqual([3, 10]);
    const want = net.forward({ data: new Tensor([3, 3, 32, 32], x) }).prob.data;
    const g = got.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(g[i] - want[i]));
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it('turns batching off, saying why, when an output does not follow the batch size', async () => {
    const file = path.join(tmp, 'fixed.prototxt');
    fs.writeFileSync(file, 'name: "fixed"\ninput: "data"\ninput_shape { dim: 1 dim: 2 dim: 3 dim: 3 }\n' +
      'layer { name: "r" type: "Reshape" bottom: "data" top: "flat" reshape_param { shape { dim: 1 dim: -1 } } }\n');
    const net = await Net.load(file);
    const t = await writeTritonRepository(net.graph, reshaper(net), tmp, 'fixed', 8, {});
    expect(t.fixedBatchReason).toBe("output 'flat' does not follow the batch size");
    expect(t.config.maxBatchSize).toBe(0);
    expect(t.config.inputs).toEqual([{ name: 'data', dims: [1, 2, 3, 3] }]);
    expect(t.config.outputs).toEqual([{ name: 'flat', dims: [1, 18] }]);
    expect(tritonConfigText(t.config)).not.toContain('dynamic_batching');
  });

  it('refuses a max_batch_size Triton\'s int32 cannot hold', async () => {
    const r = await cli('convert', 'models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel', '--triton', tmp, '--max-batch-size', '1e12');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('crema: --max-batch-size 1000000000000: expected a whole number from 0 (no batching) to 2147483647 (Triton reads it as an int32)');
    expect(fs.existsSync(path.join(tmp, 'LeNet'))).toBe(false);
  });

  it('adds the next version beside the ones there (Triton serves the highest), or the one named', async () => {
    const repo = fs.mkdtempSync(path.join(tmp, 'versions-'));
    fs.mkdirSync(path.join(repo, 'LeNet/2'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'LeNet/2/model.onnx'), 'the model Triton serves today');
    fs.writeFileSync(path.join(repo, 'LeNet/10.txt'), ''); // not a version
    const r = await cli('convert', 'models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel', '--triton', repo);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`wrote ${repo}/LeNet/config.pbtxt and 3/model.onnx (max_batch_size 8)\n  version 2 kept beside it; Triton serves the highest, 3`);
    expect(fs.readFileSync(path.join(repo, 'LeNet/2/model.onnx'), 'utf8')).toBe('the model Triton serves today');
    expect(fs.statSync(path.join(repo, 'LeNet/3/model.onnx')).size).toBeGreaterThan(1e6);
    const named = await cli('convert', 'models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel', '--triton', repo, '--model-version', '3');
    expect(named.stdout).toBe(`wrote ${repo}/LeNet/config.pbtxt and 3/model.onnx (max_batch_size 8)\n  version 2 kept beside it; Triton serves the highest, 3`);
    expect(fs.readdirSync(path.join(repo, 'LeNet')).sort()).toEqual(['10.txt', '2', '3', 'config.pbtxt']);
    const bad = await cli('convert', 'models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel', '--triton', repo, '--model-version', '0');
    expect(bad.stderr).toBe('crema: --model-version 0: expected a whole number from 1 to 2147483647');
  });

  it('a config.pbtxt that cannot be written leaves no version behind (the model and its config are one set)', async () => {
    const repo = fs.mkdtempSync(path.join(tmp, 'config-'));
    fs.mkdirSync(path.join(repo, 'LeNet/config.pbtxt'), { recursive: true }); // a directory in the way
    const r = await cli('convert', 'models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel', '--triton', repo);
    expect([r.code, r.stderr]).toEqual([2, `crema: ${repo}/LeNet/config.pbtxt: is a directory, expected a file name`]);
    expect(fs.readdirSync(path.join(repo, 'LeNet'))).toEqual(['config.pbtxt']);
  });

  it("names an unnamed net's model after its directory with a note, or --model-name (two unnamed nets of one directory became versions of one model)", async () => {
    const repo = fs.mkdtempSync(path.join(tmp, 'names-'));
    const dir = fs.mkdtempSync(path.join(tmp, 'unnamed-'));
    const prototxt = path.join(dir, 'a.prototxt');
    fs.writeFileSync(prototxt, fs.readFileSync('models/lenet/deploy.prototxt', 'utf8').replace(/^name: .*\n/m, ''));
    const r = await cli('convert', prototxt, 'models/lenet/weights.caffemodel', '--triton', repo);
    const model = path.basename(dir);
    expect(r.stdout).toBe(`wrote ${repo}/${model}/config.pbtxt and 1/model.onnx (max_batch_size 8)`);
    expect(r.stderr).toContain(`note: ${prototxt} names no net (no name: line): its Triton model is named after its directory, '${model}' (--model-name NAME names it)`);
    const named = await cli('convert', prototxt, 'models/lenet/weights.caffemodel', '--triton', repo, '--model-name', 'lenet a');
    expect(named.stdout).toBe(`wrote ${repo}/lenet_a/config.pbtxt and 1/model.onnx (max_batch_size 8)`);
    expect(named.stderr).not.toContain('note: ');
    expect(fs.readFileSync(path.join(repo, 'lenet_a/config.pbtxt'), 'utf8')).toMatch(/^name: "lenet_a"\n/);
    expect((await cli('convert', prototxt, 'models/lenet/weights.caffemodel', '-o', path.join(repo, 'x.onnx'), '--model-name', 'x')).stderr)
      .toBe('crema: --model-name names the model in a Triton repository: give --triton DIR too');
    expect((await cli('convert', prototxt, 'models/lenet/weights.caffemodel', '--triton', repo, '--model-name', ' ')).stderr).toBe('crema: --model-name: give a name');
  });

  it('names models with what Triton accepts', () => {
    expect(tritonModelName('CIFAR10 full/deploy')).toBe('CIFAR10_full_deploy');
    expect(tritonModelName('..')).toBe('model');
  });
});
