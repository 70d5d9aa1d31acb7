// Parameters shared by name (ParamSpec.name) against real Caffe 1.0: fixtures/shared-params (make.sh) has a net
// whose four layers share one set of weights (one of them as 3 x 18, share_mode PERMISSIVE), the weights files
// Caffe writes for it and ones other tools may write (sharers' copies missing, or differing from their owner's in
// either order; HDF5 from Caffe's own snapshot, without the sharers' blobs, and one with every copy, groups
// written in another order than their names'), and what Caffe computes with each.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Net } from '../src/runtime/net.js';
import { CremaError } from '../src/util/errors.js';
import { readNpy } from '../src/util/npy.js';
import { relativeDifference } from './helpers/reference.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/shared-params');
const files = path.join(dir, 'files');
const prototxt = path.join(dir, 'net.prototxt');
const blobs = ['conv_main', 'branch_conv', 'conv_c', 'ip_p'];
const inputs = { data: readNpy(path.join(files, 'data.npy')), vec: readNpy(path.join(files, 'vec.npy')) };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-shared-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** crema's tops of `net` against Caffe's for the weights `tag` names (files/<tag>-<blob>.npy). */
function expectCaffe(net: Net, out: Record<string, { data: Float32Array }>, tag: string): void {
  for (const b of blobs) {
    const ref = readNpy(path.join(files, `${tag}-${b}.npy`));
    expect([...net.shapes.get(b)!], `${tag}: ${b}'s shape`).toEqual([...ref.dims]);
    expect(relativeDifference(out[b].data, ref.data), `${tag}: ${b}`).toBeLessThanOrEqual(1e-6);
  }
}

describe('parameters shared by name, as Caffe shares them', () => {
  // weights file, what it holds, whether Caffe's result is the saved weights' (else the differing copy's)
  const cases: [string, string][] = [
    ['full.caffemodel', 'as Caffe saves it: every sharer carries a copy'],
    ['owners.caffemodel', 'the sharers left out: they read their owner\'s blobs'],
    ['later.caffemodel', 'a sharer\'s differing copy last: Caffe writes it into the shared blob last, for every layer'],
    ['earlier.caffemodel', 'a sharer\'s differing copy first: the copies after it win'],
    ['owners.h5', 'Caffe\'s HDF5 snapshot: a sharer\'s group lacks the blobs it shares (conv_c has only its own bias, blob 1)'],
    ['every.h5', 'HDF5 with every copy: Caffe copies the groups by name, so ip_p\'s (3 x 18, PERMISSIVE) comes last and wins'],
  ];
  for (const [weights, what] of cases)
    it(`${weights}: ${what}`, async () => {
      const net = await Net.load(prototxt, path.join(files, weights), { threads: 1 });
      expect(net.notes).toEqual([]);
      expectCaffe(net, net.forward(inputs), weights.replace('.', '-'));
      // pycaffe's net.params with each file (make.sh's Caffe): every layer its own shape, ip_p's view 3 x 18 too.
      expect(Object.fromEntries([...net.params].map(([name, ts]) => [name, ts.map((t) => [...t.dims])]))).toEqual({
        conv_main: [[3, 2, 3, 3], [3]], branch_conv: [[3, 2, 3, 3], [3]], conv_c: [[3, 2, 3, 3], [3]], ip_p: [[3, 18]] });
      net.dispose();
    });

  it('the same through ONNX Runtime', async () => {
    const net = await Net.load(prototxt, path.join(files, 'later.caffemodel'), { threads: 1 });
    expectCaffe(net, await net.run(inputs, { backend: 'onnx', fetches: blobs }), 'later-caffemodel');
    net.dispose();
  });

  it('blobs in the prototxt itself: a sharer\'s give way to its owner\'s', async () => {
    const net = await Net.load(path.join(files, 'embedded.prototxt'), undefined, { threads: 1 });
    expectCaffe(net, net.forward(inputs), 'embedded-prototxt');
    net.dispose();
  });

  it('one tensor for the shared values where the shapes agree (ip_p views them as 3 x 18: its kernels keep their own copy)', async () => {
    const net = await Net.load(prototxt, path.join(files, 'owners.caffemodel'), { threads: 1 });
    const w = net.params.get('conv_main')![0];
    expect(net.params.get('branch_conv')![0]).toBe(w);
    expect(net.params.get('conv_c')![0]).toBe(w);
    expect([...net.params.get('ip_p')![0].data]).toEqual([...w.data]);
    expect(net.params.get('conv_c')![1]).not.toBe(net.params.get('conv_main')![1]);
    net.dispose();
  });

  it('refuses a sharer whose own copy has another shape than its owner\'s, as Caffe does (share_mode STRICT)', async () => {
    const strict = path.join(tmp, 'strict.prototxt');
    fs.writeFileSync(strict, fs.readFileSync(prototxt, 'utf8').replace(' share_mode: PERMISSIVE', ''));
    const weights = path.join(files, 'full.caffemodel');
    await expect(Net.load(strict, weights)).rejects.toThrow(new CremaError(`${weights}: cannot share param 'w' owned by layer 'conv_main' with layer 'ip_p': ` +
      'shape mismatch (the owner\'s blob 0 has shape [3, 2, 3, 3], the sharer\'s [3, 18]; share_mode PERMISSIVE would need only the counts to agree)'));
  });

  it('refuses an HDF5 group that lacks a blob the layer owns (Caffe: "Incompatible number of blobs")', async () => {
    const unshared = path.join(tmp, 'unshared.prototxt');
    fs.writeFileSync(unshared, fs.readFileSync(prototxt, 'utf8').replace('param { name: "w" } param { lr_mult: 2 }', 'param { lr_mult: 2 }'));
    const weights = path.join(files, 'owners.h5');
    await expect(Net.load(unshared, weights)).rejects.toThrow(new CremaError(`${weights}: layer 'conv_c' has no blob 0 but has blob 1 ` +
      '(only a blob the layer shares with another by param name may be left out)'));
  });
});
