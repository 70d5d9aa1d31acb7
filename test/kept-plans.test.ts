// What a forward keeps from the one before (src/runtime/net.ts blobsOf, the convolution's kernel choice, the pooling
// job's plan, Winograd's splits, CREMA_WINOGRAD read once a forward): a net run, then changed (the environment, the
// input's shape, the threads) and run again, gives bit for bit what a net made for the change gives.
import { afterAll, describe, expect, it } from 'vitest';
import type { NetParameter } from '../src/caffe/types.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { kernelsInUse, setThreads, wasmEngine } from '../src/kernels/wasm.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { expectBits, randomArray, rng } from './helpers/compute.js';

const C = 16;
// w: 3x3 on 16 channels (Winograd unless CREMA_WINOGRAD=0); m, a: a MAX 3x3 stride-2 and an AVE 3x3 stride-1 pool
// (the wasm pooling's special windows); s: an in-place ReLU after a 1x1; prob: a classifier's Softmax.
const PROTOTXT = `
  name: "kept"
  layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: ${C} dim: 20 dim: 20 } } }
  layer { name: "w" type: "Convolution" bottom: "data" top: "w" convolution_param { num_output: 24 kernel_size: 3 pad: 1 } }
  layer { name: "w/relu" type: "ReLU" bottom: "w" top: "w" }
  layer { name: "m" type: "Pooling" bottom: "w" top: "m" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
  layer { name: "a" type: "Pooling" bottom: "m" top: "a" pooling_param { pool: AVE kernel_size: 3 stride: 1 pad: 1 } }
  layer { name: "s" type: "Convolution" bottom: "a" top: "s" convolution_param { num_output: 10 kernel_size: 1 } }
  layer { name: "s/relu" type: "ReLU" bottom: "s" top: "s" relu_param { negative_slope: 0.1 } }
  layer { name: "g" type: "Pooling" bottom: "s" top: "g" pooling_param { pool: AVE global_pooling: true } }
  layer { name: "prob" type: "Softmax" bottom: "g" top: "prob" }`;

function load(threads = 1): Net {
  const random = rng(5);
  const t = (...dims: number[]) => new Tensor(dims, randomArray(dims.reduce((x, y) => x * y, 1), random));
  const weights = new Map([
    ['w', [t(24, C, 3, 3), t(24)]],
    ['s', [t(10, 24, 1, 1), t(10)]],
  ]);
  return Net.fromNetParameter(parsePrototxt(PROTOTXT, 'kept.prototxt') as NetParameter, weights, [], { threads });
}

const input = (size: number) => new Tensor([1, C, size, size], randomArray(C * size * size, rng(size)).map((v) => v * 4));
const blobs = (net: Net) => new Map([...net.blobs].map(([name, t]) => [name, Float32Array.from(t.data)]));

function expectSame(got: Map<string, Float32Array>, want: Map<string, Float32Array>, label: string): void {
  for (const [name, data] of want) expectBits(got.get(name)!, data, `${label}: ${name}`);
}

/** Every blob of a fresh net's forward (its own threads and the environment as it is). */
function fresh(size: number, threads = 1): Map<string, Float32Array> {
  const net = load(threads);
  net.forward({ data: input(size) });
  const out = blobs(net);
  net.dispose();
  return out;
}

describe.skipIf(kernelsInUse() !== 'wasm')('what a forward keeps from the last one', () => {
  afterAll(async () => {
    delete process.env.CREMA_WINOGRAD;
    await setThreads(1);
  });

  it('CREMA_WINOGRAD changed between forwards: the convolution takes the path it names', () => {
    const net = load();
    net.forward({ data: input(20) });
    const winograd = blobs(net);
    process.env.CREMA_WINOGRAD = '0';
    try {
      net.forward({ data: input(20) });
      const im2col = blobs(net);
      expectSame(im2col, fresh(20), 'CREMA_WINOGRAD=0');
      expect(Array.from(im2col.get('w')!)).not.toEqual(Array.from(winograd.get('w')!)); // another path: other roundings
    } finally {
      delete process.env.CREMA_WINOGRAD;
    }
    net.forward({ data: input(20) });
    expectSame(blobs(net), winograd, 'unset again');
    net.dispose();
  });

  it("another Winograd tile (CREMA_WINOGRAD 2, 4, 2, 4): each forward the fresh net's bits, the last tile's U freed when the next is made", () => {
    const want = new Map<string, Map<string, Float32Array>>(), got: Map<string, Float32Array>[] = [], used: number[] = [];
    try {
      for (const tile of ['2', '4']) {
        process.env.CREMA_WINOGRAD = tile;
        want.set(tile, fresh(20));
      }
      const net = load(), heap = wasmEngine()!.heap; // the fresh nets first: their blocks are not counted in between
      for (const tile of ['2', '4', '2', '4']) {
        process.env.CREMA_WINOGRAD = tile;
        net.forward({ data: input(20) });
        used.push(heap.used);
        got.push(blobs(net));
      }
      net.dispose();
    } finally {
      delete process.env.CREMA_WINOGRAD;
    }
    got.forEach((blobs, i) => expectSame(blobs, want.get(['2', '4'][i % 2])!, `forward ${i + 1}`));
    // Back to F(2x2): its U (16 points a block) made again in place of F(4x4)'s (36), which kept both before.
    expect(used[2]).toBeLessThan(used[1]);
    expect(used[3]).toBe(used[1]);
  });

  it('another input shape (reshape by the data), and back: every layer runs for the shape it gets', () => {
    const net = load();
    for (const size of [20, 13, 31, 20]) {
      net.forward({ data: input(size) });
      expectSame(blobs(net), fresh(size), `${size} x ${size}`);
    }
    net.dispose();
  });

  it('one thread, then two, then one: the same blobs as nets made for each', async () => {
    const net = load(1);
    net.forwardJudge = undefined; // every forward at two threads in parallel
    for (const threads of [1, 2, 1]) {
      net.threads = threads;
      await setThreads(threads, 2);
      net.forward({ data: input(31) });
      expectSame(blobs(net), fresh(31, threads), `${threads} thread(s)`);
    }
    net.dispose();
  });
});
