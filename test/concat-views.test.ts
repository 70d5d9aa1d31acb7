// Concat in place (src/runtime/concat-views.ts): a Concat's bottoms laid out in its top, written there by their
// producers. Every blob must hold what the copying Concat (CREMA_CONCAT=copy) leaves, bit for bit: at batch 1
// (laid out) and 2 (copied), at 1 and 2 threads, over partial forwards, fused chains, nested Concats, and where
// the layout must not apply (an in-place layer after the Concat, a repeated bottom, an InnerProduct producer, a
// net input). The nets with Concats of ../shared/reference/zoo (SqueezeNet, GoogLeNet, Inception-v3) are checked
// against Caffe by test/reference.test.ts with the layout on.
import { afterEach, describe, expect, it } from 'vitest';
import type { NetParameter } from '../src/caffe/types.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { copyPool } from '../src/kernels/copy.js';
import { KIND_COPY, kernelsInUse, setThreads, wasmEngine } from '../src/kernels/wasm.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { randomArray, rng } from './helpers/compute.js';

/** Deterministic values in [-scale, scale). */
const values = (n: number, seed: number, scale = 1): Float32Array => randomArray(n, rng(seed)).map((v) => v * scale);

const C = 4, H = 9;
// 'cat' lays out b (produced last: a kernel writing past its slice would clobber a's), a (1x1 + in-place ReLU),
// p (a pool of the input) and f (a conv -> BN -> Scale -> ReLU chain into new blobs: fold.ts writes f with the
// conv's kernel). 'cat2' is laid out in 'cat3' (nested views), whose e is repeated; 'cat4' is followed by an
// in-place ReLU;
// 'cat5' joins InnerProduct outputs and the net input (not laid out: neither writes exactly its floats). An
// in-place inference Dropout after cat2 is the identity (cat2 stays laid out); after cat6, with the fork's
// scale_train: false, it scales (cat6's bottom must be copied).
const PROTOTXT = `
  name: "concat-views"
  layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: ${C} dim: ${H} dim: ${H} } } }
  layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 6 kernel_size: 1 } }
  layer { name: "a/relu" type: "ReLU" bottom: "a" top: "a" }
  layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: MAX kernel_size: 3 stride: 1 pad: 1 } }
  layer { name: "f" type: "Convolution" bottom: "data" top: "f0" convolution_param { num_output: 5 kernel_size: 3 pad: 1 } }
  layer { name: "f/bn" type: "BatchNorm" bottom: "f0" top: "f1" }
  layer { name: "f/scale" type: "Scale" bottom: "f1" top: "f" scale_param { bias_term: true } }
  layer { name: "f/relu" type: "ReLU" bottom: "f" top: "f" relu_param { negative_slope: 0.1 } }
  layer { name: "b" type: "Convolution" bottom: "a" top: "b" convolution_param { num_output: 7 kernel_size: 3 pad: 1 } }
  layer { name: "cat" type: "Concat" bottom: "b" bottom: "a" bottom: "p" bottom: "f" top: "cat" }
  layer { name: "d" type: "Convolution" bottom: "cat" top: "d" convolution_param { num_output: 3 kernel_size: 3 stride: 2 pad: 1 } }
  layer { name: "up" type: "Pooling" bottom: "cat" top: "q" pooling_param { pool: AVE kernel_size: 2 stride: 2 pad: 1 } }
  layer { name: "cat2" type: "Concat" bottom: "q" bottom: "d" top: "cat2" }
  layer { name: "cat2/drop" type: "Dropout" bottom: "cat2" top: "cat2" dropout_param { dropout_ratio: 0.5 } }
  layer { name: "e" type: "Convolution" bottom: "cat2" top: "e" convolution_param { num_output: 4 kernel_size: 1 } }
  layer { name: "cat3" type: "Concat" bottom: "cat2" bottom: "e" bottom: "e" top: "cat3" }
  layer { name: "g" type: "Convolution" bottom: "cat3" top: "g" convolution_param { num_output: 2 kernel_size: 1 } }
  layer { name: "cat4" type: "Concat" bottom: "g" bottom: "d" top: "cat4" }
  layer { name: "cat4/relu" type: "ReLU" bottom: "cat4" top: "cat4" relu_param { negative_slope: 0.5 } }
  layer { name: "h" type: "Convolution" bottom: "data" top: "h" convolution_param { num_output: 2 kernel_size: 1 } }
  layer { name: "cat6" type: "Concat" bottom: "h" top: "cat6" }
  layer { name: "cat6/drop" type: "Dropout" bottom: "cat6" top: "cat6" dropout_param { dropout_ratio: 0.5 scale_train: false } }
  layer { name: "ip1" type: "InnerProduct" bottom: "cat4" top: "ip1" inner_product_param { num_output: 5 } }
  layer { name: "ip2" type: "InnerProduct" bottom: "cat4" top: "ip2" inner_product_param { num_output: 3 } }
  layer { name: "flat" type: "Flatten" bottom: "data" top: "flat" }
  layer { name: "cat5" type: "Concat" bottom: "ip1" bottom: "ip2" bottom: "flat" top: "cat5" }`;

function weights(): Map<string, Tensor[]> {
  let seed = 1;
  const t = (...dims: number[]) => new Tensor(dims, values(dims.reduce((x, y) => x * y, 1), seed++, 0.5));
  const positive = (n: number) => new Tensor([n], values(n, seed++).map((v) => v + 1.5));
  return new Map([
    ['a', [t(6, C, 1, 1), t(6)]],
    ['f', [t(5, C, 3, 3), t(5)]],
    ['f/bn', [t(5), positive(5), new Tensor([1], Float32Array.of(2))]],
    ['f/scale', [t(5), t(5)]],
    ['b', [t(7, 6, 3, 3), t(7)]],
    ['d', [t(3, 7 + 6 + C + 5, 3, 3), t(3)]],
    ['e', [t(4, 7 + 6 + C + 5 + 3, 1, 1), t(4)]],
    ['g', [t(2, 25 + 4 + 4, 1, 1), t(2)]],
    ['ip1', [t(5, 5 * 5 * 5), t(5)]],
    ['ip2', [t(3, 5 * 5 * 5), t(3)]],
    ['h', [t(2, C, 1, 1), t(2)]],
  ]);
}

function load(mode: 'copy' | 'views', threads = 1): Net {
  if (mode === 'copy') process.env.CREMA_CONCAT = 'copy';
  else delete process.env.CREMA_CONCAT;
  try {
    return Net.fromNetParameter(parsePrototxt(PROTOTXT, 'concat-views.prototxt') as NetParameter, weights(), [], { threads });
  } finally {
    delete process.env.CREMA_CONCAT;
  }
}

const input = (num: number, seed = 7) => new Tensor([num, C, H, H], values(num * C * H * H, seed, 3));

const snapshot = (net: Net) => new Map([...net.blobs].map(([name, t]) => [name, Float32Array.from(t.data)]));

function expectSameBlobs(net: Net, want: Map<string, Float32Array>, names: Iterable<string> = want.keys()): void {
  for (const name of names) expect(Float32Array.from(net.blobs.get(name)!.data), name).toEqual(want.get(name));
}

/** Whether blob `name` is a view of `top`'s data starting `offset` floats in. */
function laidOut(net: Net, name: string, top: string, offset: number): boolean {
  const b = net.blobs.get(name)!.data, t = net.blobs.get(top)!.data;
  return b.buffer === t.buffer && b.byteOffset === t.byteOffset + offset * 4;
}

/** Whether blob `name`'s data lies inside `top`'s (resident blobs all share the wasm memory's buffer). */
function inside(net: Net, name: string, top: string): boolean {
  const b = net.blobs.get(name)!.data, t = net.blobs.get(top)!.data;
  return b.buffer === t.buffer && b.byteOffset >= t.byteOffset && b.byteOffset < t.byteOffset + t.byteLength;
}

const plane = H * H;

afterEach(() => {
  delete process.env.CREMA_CONCAT;
});

describe('Concat in place', () => {
  it('lays out the bottoms it may, and only those', () => {
    const net = load('views');
    expect(laidOut(net, 'b', 'cat', 0)).toBe(true);
    expect(laidOut(net, 'a', 'cat', 7 * plane)).toBe(true);
    expect(laidOut(net, 'p', 'cat', 13 * plane)).toBe(true);
    expect(laidOut(net, 'f', 'cat', (13 + C) * plane)).toBe(true);
    // Nested: q and d are views of cat2, itself a view of cat3.
    const q = net.blobs.get('q')!.data.length;
    expect(laidOut(net, 'q', 'cat2', 0) && laidOut(net, 'd', 'cat2', q) && laidOut(net, 'cat2', 'cat3', 0)).toBe(true);
    expect(laidOut(net, 'd', 'cat3', q)).toBe(true);
    // A repeated bottom, a top written again in place (a ReLU, a scaling Dropout), InnerProduct outputs and a
    // Flatten: copied. d is laid out in cat2, so cat4 (after it) copies it.
    for (const [name, top] of [['h', 'cat6'], ['e', 'cat3'], ['g', 'cat4'], ['d', 'cat4'], ['ip1', 'cat5'], ['ip2', 'cat5'], ['flat', 'cat5']])
      expect(inside(net, name, top), `${name} in ${top}`).toBe(false);
    const copying = load('copy');
    expect(laidOut(copying, 'b', 'cat', 0)).toBe(false);
  });

  for (const threads of [1, 2]) {
    it(`gives every blob of the copying Concat, batch 1 and 2, ${threads} thread(s)`, async () => {
      await setThreads(threads);
      const net = load('views', threads), copying = load('copy', threads);
      for (const num of [1, 2, 1]) {
        net.forward({ data: input(num, num) });
        copying.forward({ data: input(num, num) });
        // The ReLU after the Concats really cuts: values below zero reach it.
        expect(copying.blobs.get('cat4')!.data.some((v) => v < 0)).toBe(true);
        expectSameBlobs(net, snapshot(copying));
        expect(laidOut(net, 'b', 'cat', 0), `laid out at batch ${num}`).toBe(num === 1);
      }
    });
  }

  it('partial forwards: blobs the forward ran are the copying Concat\'s, and starting after the Concat reads its top', () => {
    const net = load('views'), copying = load('copy');
    for (const n of [net, copying]) n.forward({ data: input(1, 3) });
    // Stop between a producer (b) and the Concat: b is right (cat is partly new: not compared).
    for (const n of [net, copying]) n.forward({ data: input(1, 4) }, { end: 'b' });
    const ran = ['data', 'a', 'p', 'f', 'f0', 'f1', 'b'];
    expectSameBlobs(net, snapshot(copying), ran);
    // Then the rest: everything is the second input's.
    for (const n of [net, copying]) n.forward({}, { start: 'cat' });
    expectSameBlobs(net, snapshot(copying));
    // From a layer after the Concat, with the Concat's top changed by hand: its bottoms' views show the change.
    for (const n of [net, copying]) {
      n.blobs.get('cat')!.data.fill(0.25);
      n.forward({}, { start: 'd' });
    }
    const want = snapshot(copying);
    expectSameBlobs(net, want, [...want.keys()].filter((name) => !['b', 'a', 'p', 'f'].includes(name)));
    expect(net.blobs.get('a')!.data.every((v) => v === 0.25)).toBe(true);
  });

  it('a fused chain\'s hidden blobs are recomputed right when its last blob is laid out', () => {
    const net = load('views'), copying = load('copy');
    for (const n of [net, copying]) n.forward({ data: input(1, 5) });
    expect(laidOut(net, 'f', 'cat', (13 + C) * plane)).toBe(true);
    expectSameBlobs(net, snapshot(copying), ['f1', 'f0', 'f', 'cat']);
  });
});

// Concat's copies at batch > 1 as one job of the native engine's pool (src/kernels/copy.ts): chunks of equal floats
// that split runs, on blobs large enough for the job (64 Ki floats), and the same bits as the copies one by one.
const BIG = `
  name: "concat-copies"
  layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 5 dim: 37 dim: 37 } } }
  layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 13 kernel_size: 1 } }
  layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: MAX kernel_size: 3 stride: 1 pad: 1 } }
  layer { name: "b" type: "Convolution" bottom: "a" top: "b" convolution_param { num_output: 7 kernel_size: 3 pad: 1 } }
  layer { name: "cat" type: "Concat" bottom: "b" bottom: "a" bottom: "p" bottom: "data" top: "cat" }
  layer { name: "cat2" type: "Concat" bottom: "cat" bottom: "cat" top: "cat2" concat_param { axis: 3 } }`;

// A Filter (it sizes its top at run time) between conv2's writer and the Concat: the Concat's top is laid out again
// mid-forward when the Filter keeps fewer items, so conv2, written before it, must be copied, not a view (it was
// moved to its new slice without its value: 2.58 off at 2 of 4 items, 1.91 at 1 -> 0). convx, written after the
// Filter, stays laid out.
const FILTERED = (num: number) => `
  name: "concat-after-filter"
  layer { name: "a" type: "Input" top: "a" input_param { shape { dim: ${num} dim: 2 dim: 3 dim: 3 } } }
  layer { name: "sel" type: "Input" top: "sel" input_param { shape { dim: ${num} } } }
  layer { name: "conv2" type: "Convolution" bottom: "a" top: "conv2" convolution_param { num_output: 2 kernel_size: 1 } }
  layer { name: "filter" type: "Filter" bottom: "a" bottom: "sel" top: "x" }
  layer { name: "convx" type: "Convolution" bottom: "x" top: "convx" convolution_param { num_output: 2 kernel_size: 1 } }
  layer { name: "out" type: "Concat" bottom: "convx" bottom: "conv2" top: "out" concat_param { axis: 0 } }`;

describe('Concat in place after a Filter', () => {
  const w = { conv2: [values(4, 1), values(2, 2)], convx: [values(4, 3), values(2, 4)] };
  /** A 1x1 convolution of item `i` of `a` (2 channels of 3x3), restated. */
  const conv = (a: Float32Array, i: number, [k, b]: Float32Array[]) =>
    Array.from({ length: 18 }, (_, j) => { const o = Math.floor(j / 9), p = j % 9; return b[o] + k[2 * o] * a[18 * i + p] + k[2 * o + 1] * a[18 * i + 9 + p]; });
  for (const num of [4, 1]) {
    it(`keeps the value of a bottom written before the Filter, ${num} item(s), the kept ones changing`, () => {
      const net = Net.fromNetParameter(parsePrototxt(FILTERED(num), 'f.prototxt') as NetParameter, new Map(Object.entries(w).map(([n, [k, b]]) => [n, [new Tensor([2, 2, 1, 1], k), new Tensor([2], b)]])), []);
      const a = values(num * 18, 5, 2);
      const seq = num === 4 ? [[1, 1, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 1, 1], [1, 1, 1, 1]] : [[1], [0], [1], [0]];
      for (const sel of seq) {
        net.forward({ a: new Tensor([num, 2, 3, 3], a), sel: new Tensor([num], Float32Array.from(sel)) });
        const kept = sel.flatMap((v, i) => (v ? [i] : []));
        const want = [...kept.flatMap((i) => conv(a, i, w.convx)), ...Array.from({ length: num }, (_, i) => conv(a, i, w.conv2)).flat()];
        const out = net.blobs.get('out')!;
        expect(out.dims, `${sel}`).toEqual([kept.length + num, 2, 3, 3]);
        expect(Math.max(0, ...Array.from(out.data, (v, i) => Math.abs(v - want[i]))), `${sel}`).toBeLessThan(1e-5);
        expect(inside(net, 'conv2', 'out')).toBe(false);
        if (kept.length) expect(laidOut(net, 'convx', 'out', 0), `${sel}`).toBe(true);
      }
    });
  }
});

describe('Concat\'s copies at batch > 1 as a parallel job', () => {
  afterEach(() => {
    copyPool.enabled = true;
  });
  for (const threads of [1, 2]) {
    it(`equal the copies one by one, batches 1, 2, 3, 5, ${threads} thread(s) (channels and the last axis)`, async () => {
      expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
      await setThreads(threads, 2);
      const t = (seed: number, ...dims: number[]) => new Tensor(dims, values(dims.reduce((x, y) => x * y, 1), seed, 0.5));
      const w = () => new Map([['a', [t(1, 13, 5, 1, 1), t(2, 13)]], ['b', [t(3, 7, 13, 3, 3), t(4, 7)]]]);
      const nets = [true, false].map(() => Net.fromNetParameter(parsePrototxt(BIG, 'concat-copies.prototxt') as NetParameter, w(), [], { threads }));
      const e = wasmEngine()!, run0 = e.run;
      for (const num of [2, 3, 1, 5]) {
        const x = new Tensor([num, 5, 37, 37], values(num * 5 * 37 * 37, num, 3));
        let jobs = 0;
        e.run = (chunks: number) => { jobs += e.u32[e.pool.params / 4] === KIND_COPY ? 1 : 0; run0.call(e, chunks); };
        copyPool.enabled = true;
        nets[0].forward({ data: x });
        e.run = run0;
        // cat (25 x 1369 floats an image: copied at batch > 1 only, laid out at 1) and cat2 (always copied).
        expect(jobs, `copy jobs at batch ${num}`).toBe(num === 1 ? 1 : 2);
        copyPool.enabled = false;
        nets[1].forward({ data: x });
        for (const [name, b] of nets[1].blobs) {
          const a = nets[0].blobs.get(name)!.data;
          const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
          expect(bytes(a).equals(bytes(b.data)), `${name} at batch ${num}`).toBe(true);
        }
      }
    });
  }
});
