import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNet, needsWeights, tensorFromBlob } from '../src/caffe/load.js';
import { paramsOf } from '../src/caffe/schema.js';
import type { LayerParameter } from '../src/caffe/types.js';
import { buildGraph } from '../src/graph/graph.js';
import { sizeOf } from '../src/tensor.js';
import { CremaError } from '../src/util/errors.js';
import { readNpy } from '../src/util/npy.js';
import { sharedDir, sharedMissing } from './helpers/shared.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const model = (m: string, f: string) => path.join(repo, 'models', m, f);

// The trained V1 models (the same files as shared/models/trained, shipped in models/): every weighted layer gets
// its blobs, with the sizes the layer's parameters imply.
const TRAINED: Record<string, Record<string, [number[], number[]]>> = {
  lenet: {
    conv1: [[20, 1, 5, 5], [1, 1, 1, 20]],
    conv2: [[50, 20, 5, 5], [1, 1, 1, 50]],
    ip1: [[1, 1, 500, 800], [1, 1, 1, 500]],
    ip2: [[1, 1, 10, 500], [1, 1, 1, 10]],
  },
  cifar10_quick: {
    conv1: [[32, 3, 5, 5], [1, 1, 1, 32]],
    conv2: [[32, 32, 5, 5], [1, 1, 1, 32]],
    conv3: [[64, 32, 5, 5], [1, 1, 1, 64]],
    ip1: [[1, 1, 64, 1024], [1, 1, 1, 64]],
    ip2: [[1, 1, 10, 64], [1, 1, 1, 10]],
  },
  cifar10_full: {
    conv1: [[32, 3, 5, 5], [1, 1, 1, 32]],
    conv2: [[32, 32, 5, 5], [1, 1, 1, 32]],
    conv3: [[64, 32, 5, 5], [1, 1, 1, 64]],
    ip1: [[1, 1, 10, 1024], [1, 1, 1, 10]],
  },
};

describe('loadNet on the trained V1 models', () => {
  for (const [name, expected] of Object.entries(TRAINED)) {
    it(`${name}: every weighted layer gets its blobs, sized as its parameters say`, async () => {
      const { net, weights, notes } = await loadNet(model(name, 'deploy.prototxt'), model(name, 'weights.caffemodel'));
      expect(net.layers).toBeUndefined();
      expect(net.layer![0]).toMatchObject({ name: 'input', type: 'Input' });
      expect(Object.fromEntries([...weights].map(([k, ts]) => [k, ts.map((t) => [...t.dims])]))).toEqual(expected);
      for (const l of net.layer!) {
        const w = weights.get(l.name);
        if (!needsWeights(l)) continue;
        const numOutput: number = paramsOf(l, l.type === 'Convolution' ? 'convolution_param' : 'inner_product_param').num_output;
        expect(sizeOf(w![1].dims)).toBe(numOutput); // one bias per output
        expect(w![0].dims.filter((d) => d !== 1)[0]).toBe(numOutput); // weights lead with the outputs
      }
      expect(notes.filter((n) => /weights/.test(n) && !/upgraded/.test(n))).toEqual([]);
      // The graph checks every blob against the shapes the layers infer (legacy 4-D blobs matched right-aligned).
      expect(() => buildGraph(net, weights)).not.toThrow();
    });
  }

  it('notes weights the net does not use and layers left without weights', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-load-'));
    const renamed = path.join(tmp, 'deploy.prototxt');
    fs.writeFileSync(renamed, fs.readFileSync(model('lenet', 'deploy.prototxt'), 'utf8').replace('name: "ip2"', 'name: "ip2_new"'));
    const weightsFile = model('lenet', 'weights.caffemodel');
    const { weights, notes } = await loadNet(renamed, weightsFile);
    expect([...weights.keys()]).toEqual(['conv1', 'conv2', 'ip1']);
    expect(notes).toContain(`${weightsFile}: weights file has layers the net does not use: ip2`);
    expect(notes).toContain(`${weightsFile}: layers that need weights got none: ip2_new`);
    const bare = await loadNet(model('lenet', 'deploy.prototxt'));
    expect(bare.weights.size).toBe(0);
    expect(bare.notes).toContain('no weights given: layers that need weights have none: conv1, conv2, ip1, ip2');
  });

  it('reads a V1 train_test net at TEST with the trained weights: the Data layer becomes an Input of the shape given', async () => {
    const trainTest = path.join(here, 'fixtures/load/cifar10_quick_train_test.v1.prototxt');
    const weightsFile = model('cifar10_quick', 'weights.caffemodel');
    await expect(loadNet(trainTest, weightsFile)).rejects.toThrow(
      "layer 'cifar' (Data): cannot turn it into an Input layer: its images come from a database and transform_param.crop_size is not set; give the shape of 'data' (options.dataShapes: { 'data': [N, C, H, W] })",
    );
    const { net, weights, notes } = await loadNet(trainTest, weightsFile, { dataShapes: { data: [100, 3, 32, 32] } });
    const deploy = await loadNet(model('cifar10_quick', 'deploy.prototxt'), weightsFile);
    // Same graph as the deploy net apart from the input layer's name and batch.
    const strip = (ls: LayerParameter[]) => ls.slice(1).map((l) => ({ name: l.name, type: l.type, bottom: l.bottom, top: l.top }));
    expect(strip(net.layer!)).toEqual(strip(deploy.net.layer!));
    expect(net.layer![0]).toEqual({ name: 'cifar', type: 'Input', top: ['data'], input_param: { shape: [{ dim: [100, 3, 32, 32] }] } });
    expect([...weights.keys()]).toEqual([...deploy.weights.keys()]);
    expect(notes).toContain('dropped the loss / accuracy layers, which need labels: accuracy (Accuracy)');
    const train = await loadNet(trainTest, weightsFile, { phase: 'TRAIN', dataShapes: { data: [100, 3, 32, 32] } });
    expect(train.net.layer!.map((l) => l.name)).toEqual(net.layer!.map((l) => l.name));
  });

  it("dataShapes gives an Input's top the shape to make the net at: nothing is allocated at the prototxt's", async () => {
    const deploy = model('cifar10_quick', 'deploy.prototxt');
    const { net } = await loadNet(deploy, undefined, { dataShapes: { data: [2, 3, 48, 40] } });
    expect(net.layer![0].input_param).toEqual({ shape: [{ dim: [2, 3, 48, 40] }] });
    // An Input layer of two tops with one shape for both, one of them given: the other keeps it.
    const two = 'layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 1 dim: 4 } } } layer { name: "s" type: "Eltwise" bottom: "a" bottom: "b" top: "s" }';
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'crema-load-')), 'two.prototxt');
    fs.writeFileSync(file, two);
    expect((await loadNet(file, undefined, { dataShapes: { b: [1, 6] } })).net.layer![0].input_param).toEqual({ shape: [{ dim: [1, 4] }, { dim: [1, 6] }] });
  });
});

describe('loadNet errors about layers', () => {
  it('name the prototxt they are in', async () => {
    const trainTest = path.join(here, 'fixtures/load/cifar10_quick_train_test.v1.prototxt');
    await expect(loadNet(trainTest)).rejects.toThrow(new CremaError(
      `${trainTest}: layer 'cifar' (Data): cannot turn it into an Input layer: its images come from a database and transform_param.crop_size is not set; give the shape of 'data' (options.dataShapes: { 'data': [N, C, H, W] })`,
    ));
  });
});

describe('loadNet on paths that are not readable files', () => {
  it('names the path in a CremaError (a directory as the net, the weights or a .npy)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-load-dir-'));
    await expect(loadNet(dir)).rejects.toThrow(new CremaError(`${dir}: is a directory`));
    await expect(loadNet(model('lenet', 'deploy.prototxt'), dir)).rejects.toThrow(new CremaError(`${dir}: is a directory`));
    expect(() => readNpy(dir)).toThrow(new CremaError(`${dir}: is a directory`));
    const missing = path.join(dir, 'missing.caffemodel');
    await expect(loadNet(model('lenet', 'deploy.prototxt'), missing)).rejects.toThrow(new CremaError(`${missing}: no such file`));
    fs.rmSync(dir, { recursive: true });
  });
});

describe.skipIf(sharedMissing())('loadNet on every zoo prototxt', () => {
  const zoo = sharedDir ? path.join(sharedDir, 'models/zoo') : '';
  const files = sharedDir ? fs.readdirSync(zoo).filter((f) => f.endsWith('.prototxt')) : [];
  it('finds the zoo', () => expect(files.length).toBeGreaterThanOrEqual(9));
  for (const f of files) {
    it(f, async () => {
      const { net, notes } = await loadNet(path.join(zoo, f));
      const layers = net.layer!;
      expect(layers[0].type).toBe('Input');
      expect(layers.filter((l) => /Data$|Loss$|^Accuracy$/.test(l.type))).toEqual([]);
      // Every bottom is produced by an earlier layer.
      const produced = new Set<string>();
      for (const l of layers) {
        for (const b of l.bottom ?? []) expect(produced.has(b), `${l.name} reads ${b}`).toBe(true);
        for (const t of l.top ?? []) produced.add(t);
      }
      expect(notes.some((n) => n.startsWith('no weights given'))).toBe(true);
    });
  }
});

describe('tensorFromBlob', () => {
  it('takes shape.dim, else the legacy 4-D num/channels/height/width (which wins when set, as in Caffe)', () => {
    expect(tensorFromBlob({ shape: { dim: [2, 3] }, data: new Float32Array(6) }, 'b').dims).toEqual([2, 3]);
    expect(tensorFromBlob({ num: 1, channels: 1, height: 2, width: 3, data: new Float32Array(6) }, 'b').dims).toEqual([1, 1, 2, 3]);
    expect(tensorFromBlob({ width: 4, height: 1, num: 1, channels: 1, shape: { dim: [4] }, data: new Float32Array(4) }, 'b').dims).toEqual([1, 1, 1, 4]);
    expect(tensorFromBlob({ data: new Float32Array(5) }, 'b').dims).toEqual([5]);
  });

  it('reads double_data into float32', () => {
    const t = tensorFromBlob({ shape: { dim: [2] }, double_data: new Float64Array([0.1, -2.5]) }, 'b');
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data)).toEqual([Math.fround(0.1), -2.5]);
  });

  it('refuses a blob whose values do not fill its shape, naming it', () => {
    const what = "w.caffemodel: layer 'conv1' blob 1";
    expect(() => tensorFromBlob({ shape: { dim: [2, 3] }, data: new Float32Array(5) }, what)).toThrow(CremaError);
    expect(() => tensorFromBlob({ shape: { dim: [2, 3] }, data: new Float32Array(5) }, what)).toThrow(
      "w.caffemodel: layer 'conv1' blob 1: shape [2, 3] holds 6 values but the blob has 5",
    );
    expect(() => tensorFromBlob({ channels: 3, data: new Float32Array(3) }, what)).toThrow(
      "w.caffemodel: layer 'conv1' blob 1: shape [0, 3, 0, 0] holds 0 values but the blob has 3",
    );
    expect(() => tensorFromBlob({ shape: { dim: [-1, 2] }, data: new Float32Array(2) }, what)).toThrow("w.caffemodel: layer 'conv1' blob 1: bad shape [-1, 2]");
  });
});

describe('needsWeights', () => {
  const l = (type: string, bottoms = 1): LayerParameter => ({ name: 'x', type, bottom: Array.from({ length: bottoms }, (_, i) => `b${i}`) });
  it('weighted types; Scale and Bias only when their factor is not a second bottom', () => {
    for (const t of ['Convolution', 'Deconvolution', 'InnerProduct', 'BatchNorm', 'PReLU', 'Embed', 'Scale', 'Bias']) expect(needsWeights(l(t)), t).toBe(true);
    expect(needsWeights(l('Scale', 2))).toBe(false);
    expect(needsWeights(l('Bias', 2))).toBe(false);
    for (const t of ['ReLU', 'Pooling', 'LRN', 'Softmax', 'Input']) expect(needsWeights(l(t)), t).toBe(false);
  });
});
