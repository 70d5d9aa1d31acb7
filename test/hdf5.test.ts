import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import h5wasm from 'h5wasm/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { isHdf5File, readHdf5Weights } from '../src/caffe/hdf5.js';
import { loadNet, readWeightsFile } from '../src/caffe/load.js';
import { buildGraph } from '../src/graph/graph.js';
import { fitsRightAligned } from '../src/layers/layer.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { CremaError } from '../src/util/errors.js';
import { readNpy } from '../src/util/npy.js';
import { cli } from './helpers/cli.js';
import { relativeDifference } from './helpers/reference.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
// Written by real Caffe (pycaffe net.save_hdf5) from models/cifar10_full: see fixtures/hdf5/README.md.
const h5File = path.join(here, 'fixtures/hdf5/cifar10_full.caffemodel.h5');
const caffemodel = path.join(repo, 'models/cifar10_full/weights.caffemodel');
const deploy = path.join(repo, 'models/cifar10_full/deploy.prototxt');

describe('Caffe HDF5 weights', () => {
  it('are told apart from a caffemodel by content, as Caffe does', () => {
    expect(isHdf5File(h5File)).toBe(true);
    expect(isHdf5File(caffemodel)).toBe(false);
    expect(isHdf5File(deploy)).toBe(false);
  });

  it("give net.params of the V1 caffemodel the shapes Caffe's memory had (its save_hdf5's), not the file's legacy 4-D ones (ip1 read 1 x 1 x 10 x 1024)", async () => {
    const h5 = await readHdf5Weights(h5File);
    const net = await Net.load(deploy, caffemodel, { threads: 1 });
    const shapes = (m: Map<string, Tensor[]>) => Object.fromEntries([...m].filter(([, ts]) => ts.length > 0).map(([name, ts]) => [name, ts.map((t) => [...t.dims])]));
    expect(shapes(net.params)).toEqual(shapes(h5));
    expect(shapes(net.params).ip1).toEqual([[10, 1024], [10]]);
    await net.dispose();
  });

  it('hold the same weights as the caffemodel Caffe saved them from (shapes as in memory, not legacy 4-D)', async () => {
    const h5 = await readHdf5Weights(h5File);
    const proto = await readWeightsFile(caffemodel);
    // Caffe writes a group for every layer, blobs or not.
    expect([...h5.keys()].sort()).toEqual(['conv1', 'conv2', 'conv3', 'input', 'ip1', 'norm1', 'norm2', 'pool1', 'pool2', 'pool3', 'prob', 'relu1', 'relu2', 'relu3']);
    const weighted = [...h5].filter(([, ts]) => ts.length > 0).map(([k]) => k).sort();
    expect(weighted).toEqual([...proto.keys()].sort());
    expect(h5.get('ip1')!.map((t) => [...t.dims])).toEqual([[10, 1024], [10]]);
    expect(proto.get('ip1')!.map((t) => [...t.dims])).toEqual([[1, 1, 10, 1024], [1, 1, 1, 10]]);
    for (const name of weighted) {
      const a = h5.get(name)!, b = proto.get(name)!;
      expect(a.length).toBe(b.length);
      a.forEach((t, i) => {
        expect(fitsRightAligned(t.dims, b[i].dims)).toBe(true);
        expect(t.data).toEqual(b[i].data);
      });
    }
  });

  it('load through loadNet (by content, whatever the name) and fit the graph', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-h5-'));
    const oddName = path.join(tmp, 'weights.bin');
    fs.copyFileSync(h5File, oddName);
    const { net, weights, notes } = await loadNet(deploy, oddName);
    expect([...weights.keys()]).toEqual(['conv1', 'conv2', 'conv3', 'ip1']);
    expect(notes.filter((n) => n.includes('weights'))).toEqual([]);
    expect(() => buildGraph(net, weights)).not.toThrow();
  });
});

describe('bad HDF5 weights', () => {
  let tmp: string;
  beforeAll(async () => {
    await h5wasm.ready;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-h5-bad-'));
  });
  const write = (name: string, fill: (f: InstanceType<typeof h5wasm.File>) => void): string => {
    const file = path.join(tmp, name);
    const f = new h5wasm.File(file, 'w');
    fill(f);
    f.close();
    return file;
  };

  it('without a data group', async () => {
    const file = write('nodata.h5', (f) => f.create_dataset({ name: 'x', data: new Float32Array([1]) }));
    await expect(readHdf5Weights(file)).rejects.toThrow(CremaError);
    await expect(readHdf5Weights(file)).rejects.toThrow(`${file}: has no group 'data': not Caffe HDF5 weights (Caffe writes data/<layer>/<blob index>)`);
  });

  it('with blobs not named 0..n-1', async () => {
    const file = write('badname.h5', (f) => {
      const layer = f.create_group('data').create_group('conv1');
      layer.create_dataset({ name: 'weights', data: new Float32Array([1, 2]), shape: [2] });
    });
    await expect(readHdf5Weights(file)).rejects.toThrow(`${file}: layer 'conv1': has an entry 'weights'; Caffe names a layer's blobs by index: 0, 1, 2, ...`);
  });

  it('with blob names that are not plain indices (01 beside 1)', async () => {
    const file = write('padded.h5', (f) => {
      const layer = f.create_group('data').create_group('ip');
      layer.create_dataset({ name: '01', data: new Float32Array([1]), shape: [1] });
      layer.create_dataset({ name: '1', data: new Float32Array([2]), shape: [1] });
    });
    await expect(readHdf5Weights(file)).rejects.toThrow(new CremaError(`${file}: layer 'ip': has an entry '01'; Caffe names a layer's blobs by index: 0, 1, 2, ...`));
  });

  it('with a blob index no layer has (a hole of 1000 blobs is not made)', async () => {
    const file = write('far.h5', (f) => f.create_group('data').create_group('ip').create_dataset({ name: '1000', data: new Float32Array([1]), shape: [1] }));
    await expect(readHdf5Weights(file)).rejects.toThrow(new CremaError(`${file}: layer 'ip': has blob 1000; no Caffe layer has more than 64 blobs`));
  });

  it('with a layer that is a dataset, not a group', async () => {
    const file = write('flat.h5', (f) => f.create_group('data').create_dataset({ name: 'conv1', data: new Float32Array([1]) }));
    await expect(readHdf5Weights(file)).rejects.toThrow(`${file}: data/conv1 is not a group of blobs`);
  });

  it('truncated or damaged, in one line and without the HDF5 error pages', async () => {
    const truncated = path.join(tmp, 'truncated.h5');
    fs.writeFileSync(truncated, fs.readFileSync(h5File).subarray(0, 100_000));
    await expect(readHdf5Weights(truncated)).rejects.toThrow(`${truncated}: cannot read it as HDF5 weights (truncated or damaged?): File has been truncated`);
    const garbage = path.join(tmp, 'garbage.h5');
    fs.writeFileSync(garbage, Buffer.concat([Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200, 7)]));
    expect(isHdf5File(garbage)).toBe(true);
    await expect(loadNet(deploy, garbage)).rejects.toThrow(new RegExp(`^${garbage}: cannot read it as HDF5 weights \\(truncated or damaged\\?\\): `));
  });

  it('reads float64 and N-D datasets into float32 tensors', async () => {
    const file = write('f64.h5', (f) => {
      const layer = f.create_group('data').create_group('ip');
      layer.create_dataset({ name: '0', data: new Float64Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] });
      layer.create_dataset({ name: '1', data: new Float32Array([0.5, 0.25]), shape: [2] });
    });
    const w = await readHdf5Weights(file);
    const [weight, bias] = w.get('ip')!;
    expect(weight.dims).toEqual([2, 3]);
    expect(weight.data).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
    expect(bias.data).toEqual(new Float32Array([0.5, 0.25]));
  });
});

describe('crema upgrade of HDF5 weights: a .caffemodel (for what reads only those: crema in a browser)', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-h5-upgrade-'));
  const shared = path.join(here, 'fixtures/shared-params');

  it("holds the same weights: the net gives the same floats as from the caffemodel Caffe saved them from", async () => {
    const written = path.join(out, 'cifar10_full.caffemodel');
    const r = await cli('upgrade', h5File, written);
    expect([r.code, r.stderr]).toEqual([0, `note: ${h5File}: Caffe's HDF5 weights written as a V2 .caffemodel, its layers in the order Caffe copies them (by name)\nwrote ${written}`]);
    const x = { data: new Tensor([1, 3, 32, 32], Float32Array.from({ length: 3072 }, (_, i) => Math.sin(i))) };
    const [a, b] = [await Net.load(deploy, written, { threads: 1 }), await Net.load(deploy, caffemodel, { threads: 1 })];
    expect(Array.from(a.forward(x).prob.data)).toEqual(Array.from(b.forward(x).prob.data));
    a.dispose();
    b.dispose();
  });

  it("keeps Caffe's copy order, so shared parameters come out as from the HDF5 file (every.h5: ip_p's copy, last by name, wins)", async () => {
    const written = path.join(out, 'every.caffemodel');
    expect((await cli('upgrade', path.join(shared, 'files/every.h5'), written)).code).toBe(0);
    const net = await Net.load(path.join(shared, 'net.prototxt'), written, { threads: 1 });
    const got = net.forward({ data: readNpy(path.join(shared, 'files/data.npy')), vec: readNpy(path.join(shared, 'files/vec.npy')) });
    for (const blob of ['conv_main', 'branch_conv', 'conv_c', 'ip_p'])
      expect(relativeDifference(got[blob]?.data ?? net.blobs.get(blob)!.data, readNpy(path.join(shared, `files/every-h5-${blob}.npy`)).data), blob).toBeLessThanOrEqual(1e-6);
    net.dispose();
  });

  it("refuses a group that leaves out a shared blob before its own (a .caffemodel's blobs are by position)", async () => {
    const file = path.join(shared, 'files/owners.h5');
    const r = await cli('upgrade', file, path.join(out, 'owners.caffemodel'));
    expect([r.code, r.stderr.trim()]).toEqual([2, `crema: ${file}: layer 'conv_c' has blob 1 but not blob 0 (one it shares with another layer, which Caffe's snapshot saves in the owner only): a .caffemodel cannot leave it out; load the HDF5 file itself (Net.load, crema run) with the net's prototxt`]);
    expect(fs.existsSync(path.join(out, 'owners.caffemodel'))).toBe(false);
  });
});
