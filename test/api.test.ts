// The product as a library: convert, info, verify, classify, upgrade, draw from the Node entry, on the shipped
// models, with the numbers the CLI gives for the same (README's examples).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { CremaError, LayerError, Net, classify, convert, draw, info, upgradeCaffemodel, upgradePrototxt, verify } from '../src/index.js';
import { readNpy } from '../src/util/npy.js';

const cifar = path.resolve('models/cifar10_full');
const load = () => Net.load(path.join(cifar, 'deploy.prototxt'), path.join(cifar, 'weights.caffemodel'), { threads: 1 });

describe('the library API', () => {
  it("runs the README's synchronous example as printed (it reshaped the CIFAR-10 net to 227 x 227, which its InnerProduct refuses)", async () => {
    const readme = fs.readFileSync('README.md', 'utf8').split('The pycaffe-style synchronous API')[1].split('```ts\n')[1].split('```')[0];
    const net = await load();
    const data = new Float32Array(3 * 32 * 32).map((_, i) => (i % 13) - 6);
    const before = net.forward({ data }).prob.data.slice();
    new Function('net', 'data', readme)(net, data); // the README's own lines, run as printed
    expect(net.shapes.get('data')).toEqual([10, 3, 32, 32]);
    expect(net.shapes.get('prob')).toEqual([10, 10]);
    expect(net.blobs.get('prob')!.dims).toEqual([10, 10]);
    const ten = new Float32Array(10 * data.length);
    for (let i = 0; i < 10; i++) ten.set(data, i * data.length);
    const after = net.forward({ data: ten }).prob.data;
    for (let i = 0; i < 10; i++) expect(after[90 + i]).toBeCloseTo(before[i], 6);
    await net.dispose();
  });

  it('convert gives ONNX bytes that ONNX Runtime runs to the native numbers; with a file, writes those bytes there and gives its size', async () => {
    const net = await load();
    const x = readNpy(path.join(cifar, 'example-input.npy'));
    const want = Float32Array.from(net.forward({ data: x }).prob.data);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'crema-api-')), 'cifar.onnx');
    const bytes = await convert(net);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(await convert(net, { file })).toEqual({ file, size: bytes.length });
    expect(fs.readFileSync(file).equals(Buffer.from(bytes))).toBe(true);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['cifar.onnx']); // no temporary file left beside it
    await expect(convert(net, { file: path.dirname(file) })).rejects.toThrow(new CremaError(`${path.dirname(file)}: is a directory, expected a file name`));
    const session = await ort.InferenceSession.create(bytes);
    const got = (await session.run({ data: new ort.Tensor('float32', x.data, x.dims) })).prob.data as Float32Array;
    got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-5));
  });

  it('info and verify give the CLI --json objects', async () => {
    const net = await load();
    const summary = info(net);
    expect(summary.blobs.prob).toEqual([1, 10]);
    expect(summary.layers.find((l) => l.name === 'conv1')).toEqual({ name: 'conv1', type: 'Convolution', bottom: ['data'], top: ['conv1'], params: 32 * 3 * 5 * 5 + 32, macs: 32 * 32 * 32 * 75 });
    const report = await verify(net, { seed: 1 });
    expect(report.pass).toBe(true);
    expect(report.blobs.map((b) => b.blob)).toContain('prob');
  });

  it('classify gives the README cat (from a path or bytes) with labels', async () => {
    const net = await load();
    const cat = path.join(cifar, 'examples/cat.jpg');
    const labels = fs.readFileSync(path.join(cifar, 'labels.txt'), 'utf8').trim().split('\n');
    const options = { channelSwap: [0, 1, 2], mean: { perChannel: Float64Array.from([125, 123, 114]) }, top: 2, labels };
    const [fromPath, fromBytes] = await classify(net, [cat, fs.readFileSync(cat)], options);
    expect(fromPath.top.map((t) => [t.label, t.prob.toFixed(4)])).toEqual([['cat', '0.5820'], ['dog', '0.3328']]);
    expect(fromBytes).toEqual(fromPath);
    await expect(classify(net, [cat], { top: 0 })).rejects.toThrow(new CremaError('classify: top must be a positive whole number, got 0'));
  });

  it('upgrades V1 files and draws the graph', async () => {
    const { text, notes } = upgradePrototxt(path.join(cifar, 'deploy.prototxt'));
    expect(text).toMatch(/layer \{\n {2}name: "conv1"\n {2}type: "Convolution"/);
    expect(notes.join('\n')).toMatch(/V1/);
    const { bytes } = upgradeCaffemodel(fs.readFileSync(path.join(cifar, 'weights.caffemodel')));
    const upgraded = await Net.load({ prototxt: text, weights: bytes });
    expect(upgraded.params.get('conv1')![0].dims).toEqual([32, 3, 5, 5]);
    const dot = await draw(text, { format: 'dot' });
    expect(dot).toMatch(/^digraph/);
    expect(dot).toContain('conv1');
    expect(await draw(text)).toMatch(/<svg/);
  });

  it('errors are typed: LayerError names the layer and its type, with stable codes', async () => {
    const bad = 'input: "data"\ninput_shape { dim: 1 dim: 3 }\nlayer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 kernel_size: 3 } }\n';
    const err = await Net.load({ prototxt: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LayerError);
    expect(err).toBeInstanceOf(CremaError);
    expect(err).toMatchObject({ layer: 'c', layerType: 'Convolution', code: 'ERR_CREMA_LAYER' });
    expect(new CremaError('x').code).toBe('ERR_CREMA_INPUT');
  });

  it('refuses a thread count that is not a whole number in one line (0: one per core, as the CLI)', async () => {
    const files = [path.join(cifar, 'deploy.prototxt'), path.join(cifar, 'weights.caffemodel')] as const;
    for (const [threads, shown] of [[-1, '-1'], [1.5, '1.5'], [Number.NaN, 'NaN'], ['2', 'a string']] as const)
      await expect(Net.load(...files, { threads: threads as number })).rejects.toThrow(
        new CremaError(`options.threads: expected a whole number of threads, 1 or more (0: one per core), got ${shown}`),
      );
    expect((await Net.load(...files, { threads: 0 })).threads).toBeGreaterThanOrEqual(1);
  });

  it('takes file URLs as paths (a URL or its string, as import.meta.resolve gives them) and refuses other URLs in one line', async () => {
    const [prototxt, weights] = [path.join(cifar, 'deploy.prototxt'), path.join(cifar, 'weights.caffemodel')];
    const data = new Float32Array(3 * 32 * 32).map((_, i) => (i % 7) - 3);
    const byPath = await Net.load(prototxt, weights, { threads: 1 });
    const expected = byPath.forward({ data }).prob.data.slice();
    await byPath.dispose();
    for (const files of [[pathToFileURL(prototxt), pathToFileURL(weights)], [pathToFileURL(prototxt).href, pathToFileURL(weights).href]] as const) {
      const net = await Net.load({ prototxt: files[0], weights: files[1] }, { threads: 1 });
      expect(net.forward({ data }).prob.data).toEqual(expected);
      await net.dispose();
      const alone = await Net.load(files[0], files[1], { threads: 1 });
      expect(alone.forward({ data }).prob.data).toEqual(expected);
      await alone.dispose();
    }
    const fetchIt = "or the file's bytes, not a 'https:' URL: fetch it and give the bytes (new Uint8Array(await (await fetch(url)).arrayBuffer()))";
    for (const url of [new URL('https://example.com/deploy.prototxt'), 'https://example.com/deploy.prototxt'])
      await expect(Net.load(url)).rejects.toThrow(new CremaError(`prototxt: https://example.com/deploy.prototxt: crema reads a file path (or a 'file:' URL) ${fetchIt}`));
    await expect(Net.load(prototxt, 'https://example.com/w.caffemodel')).rejects.toThrow(new CremaError(`weights: https://example.com/w.caffemodel: crema reads a file path (or a 'file:' URL) ${fetchIt}`));
    await expect(Net.load('file://host/deploy.prototxt')).rejects.toThrow(new CremaError('prototxt: file://host/deploy.prototxt: File URL host must be "localhost" or empty on linux'));
  });
});
