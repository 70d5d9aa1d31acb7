// The library API (what a pycaffe user expects): Net.load, inputs/outputs, forward, blobs, params, reshape.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NetParameter } from '../src/caffe/types.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { CremaError, Net, Tensor } from '../src/index.js';
import { readNpy } from '../src/util/npy.js';
import { TOLERANCE, referenceBlob, referenceCases, relativeError } from './helpers/reference.js';
import { sharedMissing } from './helpers/shared.js';

const model = path.resolve('models/cifar10_full');
const load = () => Net.load(path.join(model, 'deploy.prototxt'), path.join(model, 'weights.caffemodel'));
const example = () => readNpy(path.join(model, 'example-input.npy'));

/** A batch of n different images: the example, then scaled and shifted copies of it. */
function batchOf(n: number): Tensor {
  const one = example(), data = new Float32Array(n * one.size);
  for (let i = 0; i < n; i++) for (let j = 0; j < one.size; j++) data[i * one.size + j] = one.data[j] * (1 - 0.3 * i) + 7 * i;
  return new Tensor([n, ...one.dims.slice(1)], data);
}

const messageOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
};

describe('Net (shipped cifar10_full, a V1 model with WITHIN_CHANNEL LRN)', () => {
  it('has pycaffe-like inputs, outputs, blobs and params', async () => {
    const net = await load();
    expect(net.inputs).toEqual(['data']);
    expect(net.outputs).toEqual(['prob']);
    expect([...net.blobs.keys()]).toEqual(['data', 'conv1', 'pool1', 'norm1', 'conv2', 'pool2', 'norm2', 'conv3', 'pool3', 'ip1', 'prob']);
    expect(net.blobs.get('conv1')!.dims).toEqual([1, 32, 32, 32]);
    expect([...net.params.keys()]).toEqual(['conv1', 'conv2', 'conv3', 'ip1']);
    expect(net.params.get('conv1')!.map((w) => w.size)).toEqual([32 * 3 * 5 * 5, 32]);
  });

  it('forward returns the outputs, which are probabilities', async () => {
    const net = await load();
    const { prob } = net.forward({ data: example() });
    expect(prob.dims).toEqual([1, 10]);
    expect(prob.data.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(prob).toBe(net.blobs.get('prob'));
  });

  it('gives Caffe\'s class probabilities on the reference input', async (ctx) => {
    if (sharedMissing()) return ctx.skip();
    const c = referenceCases('zoo').find((r) => r.name === 'cifar10_full')!;
    const net = await load();
    net.forward({ data: readNpy(c.input) });
    for (const b of c.blobs) expect(relativeError(net.blobs.get(b)!, referenceBlob(c, b)), b).toBeLessThanOrEqual(TOLERANCE);
  });

  it('a batch of 4 gives each image what it gives alone (the net reshapes to the data)', async () => {
    const net = await load(), batch = batchOf(4);
    const together = Float32Array.from(net.forward({ data: batch }).prob.data);
    expect(net.blobs.get('norm2')!.dims[0]).toBe(4);
    for (let i = 0; i < 4; i++) {
      const one = new Tensor([1, 3, 32, 32], batch.data.slice(i * 3072, (i + 1) * 3072));
      const alone = net.forward({ data: one }).prob.data;
      for (let k = 0; k < 10; k++) expect(Math.abs(alone[k] - together[i * 10 + k])).toBeLessThan(1e-6);
    }
  });

  it('another net\'s weights: the layer that does not fit names the weights file (the wrong .caffemodel given)', async () => {
    const lenet = path.resolve('models/lenet/weights.caffemodel'), quick = path.resolve('models/cifar10_quick/weights.caffemodel');
    const err = await Net.load(path.join(model, 'deploy.prototxt'), lenet).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_CREMA_LAYER', layer: 'conv1', layerType: 'Convolution',
      message: `layer 'conv1' (Convolution): the weights (blob 0) has shape [20, 1, 5, 5] but the layer needs [32, 3, 5, 5] (weights from ${lenet}: another net's?)` });
    await expect(Net.load(path.join(model, 'deploy.prototxt'), quick)).rejects.toThrow(
      `layer 'ip1' (InnerProduct): the weights (blob 0) has shape [1, 1, 64, 1024] but the layer needs [10, 1024] (weights from ${quick}: another net's?)`);
  });

  it('reshape re-infers every shape (another image size for the conv part)', async () => {
    const net = await load();
    expect(messageOf(() => net.reshape({ data: [2, 3, 48, 48] }))).toBe(
      "input 'data' given as [2, 3, 48, 48] (the net's [1, 3, 32, 32]): layer 'ip1' (InnerProduct): the weights (blob 0) has shape [10, 1024] but the layer needs [10, 2304]");
    expect(net.shapes.get('data')).toEqual([1, 3, 32, 32]); // put back
    const conv = await Net.load(path.join(model, 'deploy.prototxt'));
    conv.reshape({ data: [2, 3, 48, 48] });
    expect(conv.shapes.get('pool3')).toEqual([2, 64, 6, 6]);
  });

  it('inputs fed at a shape a layer refuses say which shape (a rank too few blamed the weights alone), in forward and run', async () => {
    const net = await load();
    const said = "input 'data' given as [1, 3, 32] (the net's [1, 3, 32, 32]): layer 'conv1' (Convolution): the weights (blob 0) has shape [32, 3, 5, 5] but the layer needs [32, 3, 5]";
    expect(messageOf(() => net.forward({ data: new Tensor([1, 3, 32], new Float32Array(96)) }))).toBe(said);
    expect(net.forward({ data: example() }).prob.dims).toEqual([1, 10]); // still runs at its own shape
    expect(await net.run({ data: new Tensor([1, 3, 32], new Float32Array(96)) }).catch((e: Error) => e.message)).toBe(said);
    await net.dispose();
  });

  it('forward({start, end}) runs a range of layers and returns the last one\'s tops', async () => {
    const net = await load();
    const full = Float32Array.from(net.forward({ data: example() }).prob.data);
    const norm1 = Float32Array.from(net.blobs.get('norm1')!.data);
    net.blobs.get('norm1')!.data.fill(0);
    const out = net.forward({}, { end: 'norm1' });
    expect(Object.keys(out)).toEqual(['norm1']);
    expect(out.norm1.data).toEqual(norm1);
    net.blobs.get('prob')!.data.fill(0);
    expect(net.forward({}, { start: 'conv2' }).prob.data).toEqual(full);
    expect(() => net.forward({}, { start: 'conv9' })).toThrow("no layer named 'conv9' in the net");
  });

  it('refuses bad inputs and missing weights with clear errors', async () => {
    const net = await load();
    expect(() => net.forward({ label: example() })).toThrow(new CremaError("forward: 'label' is not an input of the net (inputs: data)"));
    expect(() => net.reshape({ label: [1, 3, 32, 32] })).toThrow(new CremaError("reshape: 'label' is not an input of the net (inputs: data)"));
    await expect(net.run({ data: example(), label: example() })).rejects.toThrow(new CremaError("run: 'label' is not an input of the net (inputs: data)"));
    expect(() => net.forward({ data: new Float32Array(5) })).toThrow("input 'data' has 5 values, its shape [1, 3, 32, 32] needs 3072");
    const noWeights = await Net.load(path.join(model, 'deploy.prototxt'));
    expect(() => noWeights.forward({ data: example() })).toThrow(
      "no weights for 'conv1' (Convolution), 'conv2' (Convolution), 'conv3' (Convolution), 'ip1' (InnerProduct): give the .caffemodel that goes with the net",
    );
  });
});

describe('Net with two inputs', () => {
  it('reshaping one input keeps the other\'s shape', () => {
    const text = `layer { name: "d" type: "Input" top: "a" top: "b" input_param { shape { dim: 1 dim: 2 } } }
      layer { name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" concat_param { axis: 0 } }`;
    const net = Net.fromNetParameter(parsePrototxt(text, 'two.prototxt') as NetParameter, new Map(), [], { threads: 1 });
    net.reshape({ a: [3, 2], b: [4, 2] });
    net.reshape({ a: [5, 2] });
    expect(net.shapes.get('b')).toEqual([4, 2]);
    expect(net.forward({ a: Tensor.zeros([2, 2]) }).c.dims).toEqual([6, 2]);
  });
});

describe('Net after a failed reshape', () => {
  it('still runs at its old shapes', async () => {
    const net = await load();
    const before = Float32Array.from(net.forward({ data: example() }).prob.data);
    expect(() => net.forward({ data: Tensor.zeros([1, 3, 40, 40]) })).toThrow(/ip1/);
    expect(net.shapes.get('data')).toEqual([1, 3, 32, 32]);
    expect(net.forward({ data: example() }).prob.data).toEqual(before);
  });

  it('still runs at its old shapes when an in-place layer would change its blob\'s shape', () => {
    const text = `layer { name: "d" type: "Input" top: "d" input_param { shape { dim: 1 dim: 2 dim: 1 dim: 1 } } }
      layer { name: "p" type: "Pooling" bottom: "d" top: "d" pooling_param { global_pooling: true pool: AVE } }`;
    const net = Net.fromNetParameter(parsePrototxt(text, 'pool.prototxt') as NetParameter, new Map(), [], { threads: 1 });
    expect(() => net.reshape({ d: [1, 2, 3, 3] })).toThrow("layer 'p' (Pooling): works in place on 'd' but would change its shape from [1, 2, 3, 3] to [1, 2, 1, 1]");
    expect(net.shapes.get('d')).toEqual([1, 2, 1, 1]);
    expect(net.forward({ d: Float32Array.of(1, 2) }).d.data).toEqual(Float32Array.of(1, 2));
  });
});
