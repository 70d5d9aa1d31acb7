// caffe_ocr's DenseBlock: its numbers are judged by real Caffe on its BVLC equivalent in test/fork-nets.test.ts
// (ocr_densenet: the published densenet-no-blstm net whole; densenet_bc: use_BC, batch 2), and here with the
// TypeScript loops in place of the wasm kernels; the blobs it expects, what it notes, and its one-line refusals.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useKernels } from '../src/kernels/wasm.js';
import { readNpy } from '../src/util/npy.js';
import { TOLERANCE, relativeError } from './helpers/reference.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';

const net = (param: string, blobs?: Tensor[]) => Net.fromNetParameter(parsePrototxt(`
  layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 4 dim: 5 dim: 6 } } }
  layer { name: "db" type: "DenseBlock" bottom: "x" top: "y" denseblock_param { ${param} } }`, 'db.prototxt') as NetParameter,
blobs ? new Map([['db', blobs]]) : new Map(), []);

/** Blobs for T transitions of G from C channels without use_BC: filters, scalers, biases, means, variances, factor. */
const blobs = (T: number, G: number, C: number, factor = 0) => [
  ...Array.from({ length: T }, (_, t) => Tensor.zeros([G, C + t * G, 3, 3])),
  ...[0, 1, 2, 3].flatMap(() => Array.from({ length: T }, (_, t) => new Tensor([1, C + t * G, 1, 1], new Float32Array(C + t * G).fill(1)))),
  new Tensor([1], Float32Array.of(factor)),
];

describe('DenseBlock (senlinuc/caffe_ocr)', () => {
  it('appends growthRate channels a transition, from the bottom\'s channels (initChannel is not read, as the fork)', () => {
    const n = net('numTransition: 3 initChannel: 64 growthRate: 2', blobs(3, 2, 4));
    expect(n.shapes.get('y')).toEqual([1, 10, 5, 6]);
    expect(n.notes).toEqual([]);
  });

  it('notes the settings the fork does not read, and a factor its CPU and GPU paths would read otherwise', () => {
    expect(net('numTransition: 1 growthRate: 2 filter_H: 5 pad_h: 2', blobs(1, 2, 4)).notes).toEqual([
      "layer 'db' (DenseBlock): pad_h, filter_H not read, as the fork reads none of them: its transitions are 3 x 3, pad 1, stride 1",
    ]);
    expect(net('numTransition: 1 growthRate: 2', blobs(1, 2, 4, 1)).notes).toEqual([]);
    expect(net('numTransition: 1 growthRate: 2', blobs(1, 2, 4, 3)).notes).toEqual([
      "layer 'db' (DenseBlock): its last blob (the CPU path's moving-average factor) is 3: the fork's CPU forward divides the statistics by it, its GPU (cuDNN) forward does not; crema runs the GPU's, on which the published models were trained",
    ]);
  });

  it('refuses blobs of the wrong shape or too few, and no transitions, in one line', () => {
    expect(() => net('numTransition: 2 growthRate: 2', blobs(2, 3, 4))).toThrow("layer 'db' (DenseBlock): transition 0's 3 x 3 filters (blob 0) has shape [3, 4, 3, 3] but the layer needs [2, 4, 3, 3]");
    expect(() => net('numTransition: 2 growthRate: 2 use_BC: true', blobs(2, 2, 4))).toThrow("layer 'db' (DenseBlock): needs moving-average factor (unused: see the notes) of shape [1] (blob 20) but the weights have none");
    expect(() => net('numTransition: 0')).toThrow("layer 'db' (DenseBlock): numTransition and growthRate must be positive, got 0 and 12");
    expect(() => net('numTransition: 1000000000 growthRate: 1')).toThrow("layer 'db' (DenseBlock): top 'y' would have shape [1, 1000000004, 5, 6], which is not a sane blob size");
    expect(() => net('numTransition: 100000 growthRate: 8')).toThrow("layer 'db' (DenseBlock): numTransition 100000 and growthRate 8 would need 2.88e+12 filter weights");
  });
});

describe('DenseBlock with the TypeScript loops (no wasm engine) vs real Caffe on its BVLC equivalent (forknets/densenet_bc)', () => {
  afterAll(() => useKernels('wasm'));
  it('every stored blob matches', async () => {
    const dir = path.join(import.meta.dirname, 'fixtures/forknets/densenet_bc'), tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-denseblock-'));
    try {
      const weights = path.join(tmp, 'w.caffemodel'), input = path.join(tmp, 'x.npy');
      execFileSync('node', [path.join(dir, '..', 'make-forknets.mjs'), 'weights', 'densenet_bc', weights, input]);
      useKernels('js');
      const n = await Net.load(path.join(dir, 'source.prototxt'), weights);
      n.forward({ data: readNpy(input) });
      for (const blob of ['block_bc', 'block']) expect(relativeError(n.blobs.get(blob)!, readNpy(path.join(dir, 'blobs', `${blob}.npy`))), blob).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
