// `crema convert`: the file (atomic, raw_data weights, outputs named as in Caffe), and what ONNX Runtime makes
// of it; the in-place renaming; refusals.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { convertGraph } from '../src/onnx/convert.js';
import { type ModelObj, decodeModel, encodeModel, onnxType } from '../src/onnx/proto.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { randomArray, rng } from './helpers/compute.js';
import { relativeError } from './helpers/reference.js';
import { cli } from './helpers/cli.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lenet = path.join(repo, 'models/lenet');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-convert-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));


describe('crema convert', () => {
  it('writes LeNet as ONNX: weights as raw_data, every blob an output under its Caffe name, same numbers in ONNX Runtime', async () => {
    const file = path.join(tmp, 'lenet.onnx');
    const r = await cli('convert', path.join(lenet, 'deploy.prototxt'), path.join(lenet, 'weights.caffemodel'), '-o', file, '--outputs', 'all');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*lenet\.onnx: .* MB, opset 17, /);
    const model = decodeModel(fs.readFileSync(file));
    expect(model.opset_import).toEqual([{ domain: '', version: 17 }]);
    const net = await Net.load(path.join(lenet, 'deploy.prototxt'), path.join(lenet, 'weights.caffemodel'));
    expect(model.graph.output.map((o) => o.name)).toEqual([...net.blobs.keys()].filter((b) => b !== 'data'));
    for (const init of model.graph.initializer) {
      expect(init.raw_data.length, init.name).toBe(4 * init.dims.reduce((a, b) => a * b, 1));
      expect((init as unknown as { float_data?: number[] }).float_data ?? []).toEqual([]);
    }
    const input = readNpy(path.join(lenet, 'example-input.npy'));
    const x = new Tensor(net.shapes.get('data')!, input.data);
    const session = await ort.InferenceSession.create(file);
    const results = await session.run({ data: new ort.Tensor('float32', x.data, [...x.dims]) });
    net.forward({ data: x });
    for (const [name, t] of net.blobs)
      if (name !== 'data') expect(relativeError(new Tensor([...results[name].dims], results[name].data as Float32Array), t), name).toBeLessThanOrEqual(1e-4);
    await session.release();
  });

  it('replaces an existing file only on success: a bad --opset leaves it as it was', async () => {
    const file = path.join(tmp, 'keep.onnx');
    fs.writeFileSync(file, 'old contents');
    const r = await cli('convert', path.join(lenet, 'deploy.prototxt'), path.join(lenet, 'weights.caffemodel'), '-o', file, '--opset', '12');
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').at(-1)).toBe('crema: --opset must be an integer from 13 to 23, got 12');
    expect(fs.readFileSync(file, 'utf8')).toBe('old contents');
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp'))).toEqual([]);
    const ok = await cli('convert', path.join(lenet, 'deploy.prototxt'), path.join(lenet, 'weights.caffemodel'), '-o', file, '--opset', '13');
    expect(ok.code, ok.stderr).toBe(0);
    expect(decodeModel(fs.readFileSync(file)).opset_import[0].version).toBe(13);
  });

  it('refuses to convert without the weights a layer needs (a net without such layers converts), and names a directory that does not exist', async () => {
    const r = await cli('convert', path.join(lenet, 'deploy.prototxt'), '-o', path.join(tmp, 'x.onnx'));
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').at(-1)).toBe("crema: no weights for 'conv1' (Convolution), 'conv2' (Convolution), 'ip1' (InnerProduct), 'ip2' (InnerProduct): give the .caffemodel that goes with the net");
    expect(fs.existsSync(path.join(tmp, 'x.onnx'))).toBe(false);
    const relu = path.join(tmp, 'relu.prototxt');
    fs.writeFileSync(relu, 'name: "relu"\ninput: "data"\ninput_shape { dim: 1 dim: 2 dim: 3 dim: 3 }\nlayer { name: "r" type: "ReLU" bottom: "data" top: "out" }\n');
    const ok = await cli('convert', relu, '-o', path.join(tmp, 'relu.onnx'));
    expect(ok.code, ok.stderr).toBe(0);
    expect(decodeModel(fs.readFileSync(path.join(tmp, 'relu.onnx'))).graph.node.map((n) => n.op_type)).toEqual(['Relu']);
    const r2 = await cli('convert', path.join(lenet, 'deploy.prototxt'), path.join(lenet, 'weights.caffemodel'), '-o', path.join(tmp, 'no/such/dir.onnx'));
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/the directory .*no\/such does not exist/);
  });

  it('refuses a net with nothing to compute by name (ONNX Runtime cannot load a graph without nodes)', async () => {
    for (const [name, text] of [['empty', ''], ['inputs', 'input: "data"\ninput_shape { dim: 1 dim: 2 }\n']]) {
      const file = path.join(tmp, `${name}.prototxt`);
      fs.writeFileSync(file, `name: "${name}"\n${text}`);
      const r = await cli('convert', file, path.join(lenet, 'weights.caffemodel'), '-o', path.join(tmp, `${name}.onnx`));
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n').at(-1)).toBe(`crema: ${file}: nothing to convert to ONNX: no layer computes anything (ONNX Runtime cannot load a model without nodes)`);
      expect(fs.existsSync(path.join(tmp, `${name}.onnx`))).toBe(false);
      // verify converts too, and names the file (it named the net)
      if (name === 'inputs') {
        const v = await cli('verify', file);
        expect(v.stderr.split('\n').at(-1)).toBe(`crema: ${file}: nothing to convert to ONNX: no layer computes anything (ONNX Runtime cannot load a model without nodes)`);
        expect(v.code).toBe(2);
      }
    }
  });
});

describe('encodeModel', () => {
  // The sized encoder (src/caffe/wire.ts: raw tensors copied once into a buffer of the exact size) against protobufjs.
  const protobufjs = (m: ModelObj) => onnxType('ModelProto').encode(m as never).finish();
  it('writes exactly protobufjs\'s bytes: LeNet with every blob an output, CIFAR-10 with a doc string, an empty tensor, metadata', async () => {
    const lenetNet = await Net.load(path.join(lenet, 'deploy.prototxt'), path.join(lenet, 'weights.caffemodel'));
    const cifar = await Net.load(path.join(repo, 'models/cifar10_full/deploy.prototxt'), path.join(repo, 'models/cifar10_full/weights.caffemodel'));
    const models = [convertGraph(lenetNet.graph, { outputs: 'all' }).model, convertGraph(cifar.graph, { lrn: 'decomposed' }).model];
    const odd = structuredClone(models[1]);
    odd.graph.doc_string = 'a note';
    odd.graph.initializer.push({ name: 'empty', dims: [0], data_type: 1, raw_data: new Uint8Array(0) });
    (odd as unknown as { metadata_props: { key: string; value: string }[] }).metadata_props = [{ key: 'k', value: 'v' }];
    for (const m of [...models, odd]) {
      const bytes = encodeModel(m);
      expect(Buffer.from(bytes).equals(Buffer.from(protobufjs(m)))).toBe(true);
      expect(decodeModel(bytes).graph.initializer.map((t) => t.name)).toEqual(m.graph.initializer.map((t) => t.name));
    }
  });

  it('writes a tensor of 2^21 floats and one of 129 bytes (lengths of 4 and 2 varint bytes) as protobufjs does', () => {
    const big = new Float32Array(1 << 21).map((_, i) => i);
    const model: ModelObj = {
      ir_version: 8, producer_name: 'crema', producer_version: '0', opset_import: [{ domain: '', version: 17 }],
      graph: { name: 'g', node: [], input: [], output: [], initializer: [
        { name: 'big', dims: [big.length], data_type: 1, raw_data: new Uint8Array(big.buffer) },
        { name: 'odd', dims: [129], data_type: 9, raw_data: new Uint8Array(129).fill(1) },
      ] },
    };
    expect(Buffer.from(encodeModel(model)).equals(Buffer.from(protobufjs(model)))).toBe(true);
  });
});

describe('the converted graph', () => {
  const net = (text: string) => Net.fromNetParameter(parsePrototxt(text, 't.prototxt') as NetParameter);
  const input = 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 3 dim: 3 } } }\n';

  it('renames blobs written in place and exposes each one\'s last value under its Caffe name; Dropout is removed', async () => {
    const n = net(input + `
      layer { name: "t" type: "TanH" bottom: "data" top: "a" }
      layer { name: "relu" type: "ReLU" bottom: "a" top: "a" relu_param { negative_slope: 0.5 } }
      layer { name: "drop" type: "Dropout" bottom: "a" top: "a" }
      layer { name: "pw" type: "Power" bottom: "a" top: "a" power_param { scale: 2 } }
      layer { name: "drop2" type: "Dropout" bottom: "a" top: "b" }
      layer { name: "sig" type: "Sigmoid" bottom: "data" top: "data" }`);
    const conversion = convertGraph(n.graph, { outputs: 'all' });
    const ops = conversion.model.graph.node.map((x) => x.op_type);
    expect(ops).not.toContain('Dropout');
    // Each value is assigned once (SSA), and the final one carries the blob's name.
    const assigned = conversion.model.graph.node.flatMap((x) => x.output);
    expect(new Set(assigned).size).toBe(assigned.length);
    expect(conversion.outputs.get('a')).toBe('a');
    expect(conversion.outputs.get('b')).toBe('b');
    // An input overwritten in place keeps its name for the feed; its final value is another output.
    expect(conversion.outputs.get('data')).not.toBe('data');
    const x = new Tensor([1, 2, 3, 3], randomArray(18, rng(3)));
    const onnx = await runOnnx(n.graph, { data: x }, { outputs: 'all' });
    n.forward({ data: new Tensor([1, 2, 3, 3], Float32Array.from(x.data)) });
    for (const b of ['data', 'a', 'b']) expect(relativeError(onnx.get(b)!, n.blobs.get(b)!), b).toBeLessThanOrEqual(1e-6);
  });

  it('holds only the layers the wanted blobs come from: a later head, even unconvertible or unweighted, is left out', async () => {
    const n = net(input + `
      layer { name: "t" type: "TanH" bottom: "data" top: "a" }
      layer { name: "relu" type: "ReLU" bottom: "a" top: "a" }
      layer { name: "sp" type: "Pooling" bottom: "a" top: "p" pooling_param { pool: STOCHASTIC kernel_size: 2 } }
      layer { name: "sig" type: "Sigmoid" bottom: "data" top: "s" }`);
    // 'a' is ReLU's (in place, after TanH): both are kept; the STOCHASTIC pool (no ONNX form) and the other head are not
    const conversion = convertGraph(n.graph, { outputs: ['a'] });
    expect(conversion.model.graph.node.map((x) => x.name)).toEqual(['t', 'relu']);
    expect(() => convertGraph(n.graph, { outputs: ['p'] })).toThrow("layer 'sp' (Pooling): pool STOCHASTIC has no ONNX equivalent");
    const x = new Tensor([1, 2, 3, 3], randomArray(18, rng(5)));
    const onnx = await runOnnx(n.graph, { data: x }, { outputs: ['a'] });
    n.forward({ data: new Tensor([1, 2, 3, 3], Float32Array.from(x.data)) }, { end: 'relu' });
    expect(relativeError(onnx.get('a')!, n.blobs.get('a')!)).toBeLessThanOrEqual(1e-6);
  });

  it('refuses what ONNX cannot say, naming the layer', () => {
    const stochastic = net(input + 'layer { name: "sp" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: STOCHASTIC kernel_size: 2 } }');
    expect(() => convertGraph(stochastic.graph)).toThrow("layer 'sp' (Pooling): pool STOCHASTIC has no ONNX equivalent; crema converts MAX and AVE");
    // 4 rows, kernel 1, stride 2, no pad: Caffe's ceil gives a third window starting at row 4, past the input.
    const outside = net('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }\n' +
      'layer { name: "far" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: MAX kernel_size: 1 stride: 2 } }');
    expect(outside.shapes.get('p')).toEqual([1, 1, 3, 3]);
    expect(() => convertGraph(outside.graph)).toThrow(/^layer 'far' \(Pooling\): its last window lies wholly outside the input/);
    const fine = net(input + 'layer { name: "t" type: "TanH" bottom: "data" top: "t" }');
    expect(() => convertGraph(fine.graph, { outputs: ['t', 'nope'] })).toThrow("no blob named 'nope'; the net's blobs: data, t");
  });
});
