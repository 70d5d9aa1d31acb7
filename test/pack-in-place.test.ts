// A large convolution's weights packed for the GEMM in place of the loaded array (packConvWeightsInPlace): the net
// keeps one copy (FCN-8s's fc6, 411 MB, was held twice). What must hold: the weights read back (net.params, after
// a forward packed them) are the file's bit for bit; a forward at another size or batch, taking another route that
// wants Caffe's layout (the whole-window inner product), computes what a net packed the usual way computes, bit
// for bit; and the kernels' heap holds about one weights' size less than with the usual copy (a memory count).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { encodeCaffemodel } from '../src/caffe/caffemodel.js';
import { inPlacePacking, packConvWeights, packConvWeightsInPlace, packsInPlace, unpackConvWeights } from '../src/kernels/packed.js';
import { kernelsInUse, wasmEngine } from '../src/kernels/wasm.js';
import { convert } from '../src/api.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { randomArray, rng } from './helpers/compute.js';

// The GEMM's route, as FCN-8s's fc6 takes at 500 x 375 (its U would be GBs); the stand-in's U would fit.
process.env.CREMA_WINOGRAD = '0';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-pack-in-place-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const minBytes = inPlacePacking.minBytes;
afterEach(() => void (inPlacePacking.minBytes = minBytes));

// FCN's fc6 in small: a 7x7 convolution of 512 channels into 256 (25.7 MB of weights: over the 16 MiB threshold, and Winograd's U would pass its 64 MiB: the GEMM),
// then a 1x1 of 192 into 8 (small: packed beside as before).
const C = 512, OUT = 256, K = 7;
const PROTOTXT = `name: "fc6like"
input: "data" input_shape { dim: 1 dim: ${C} dim: 9 dim: 9 }
layer { name: "fc6" type: "Convolution" bottom: "data" top: "fc6" convolution_param { num_output: ${OUT} kernel_size: ${K} } }
layer { name: "relu6" type: "ReLU" bottom: "fc6" top: "fc6" }
layer { name: "score" type: "Convolution" bottom: "fc6" top: "score" convolution_param { num_output: 8 kernel_size: 1 } }
`;
const WEIGHT_BYTES = OUT * C * K * K * 4;

const prototxtFile = path.join(tmp, 'fc6like.prototxt');
fs.writeFileSync(prototxtFile, PROTOTXT);
const weightsFile = path.join(tmp, 'fc6like.caffemodel');
const random = rng(53);
const blob = (dims: number[]) => ({ shape: { dim: dims }, data: randomArray(dims.reduce((a, d) => a * d, 1), random) });
const fc6 = blob([OUT, C, K, K]);
fs.writeFileSync(weightsFile, encodeCaffemodel({ name: 'fc6like', layer: [
  { name: 'fc6', blobs: [fc6, blob([OUT])] },
  { name: 'score', blobs: [blob([8, OUT, 1, 1]), blob([8])] },
] }));

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function input(n: number, hw: number, seed: number): Tensor {
  return new Tensor([n, C, hw, hw], randomArray(n * C * hw * hw, rng(seed)));
}

/** The net's score for `x` (a copy: the net's blobs are reused). */
function score(net: Net, x: Tensor): Float32Array {
  return net.forward({ data: x }).score.data.slice();
}

/** fc6's weights as the file holds them. */
function want(): Float32Array {
  return fc6.data;
}

describe.runIf(kernelsInUse() === 'wasm')('a large convolution packed in place (one copy of its weights)', () => {
  it('packs in place to packConvWeights\' bits (K blocks with a tail, groups), and unpacks to the weights', () => {
    const e = wasmEngine()!, owner = {};
    // depth: 7x7 x 160 (30 K blocks and a tail of 160: runs of 32), 3x3 x 512 (18 whole blocks), 48 (one short block).
    for (const [groups, rows, depth] of [[1, 8, 7840], [2, 12, 4608], [3, 4, 48], [1, 16, 256]]) {
      const n = groups * rows * depth, w = randomArray(n, rng(depth));
      expect(packsInPlace(Infinity, rows, depth), `${groups} x ${rows} x ${depth}`).toBe(true);
      const copy = packConvWeights(e, owner, w, undefined, groups, rows, depth);
      const ptr = e.heap.alloc(n * 4), view = new Float32Array(e.memory.buffer, ptr, n);
      view.set(w);
      const inPlace = packConvWeightsInPlace(e, owner, view, e.heap.own(view, ptr, undefined), undefined, groups, rows, depth);
      expect(inPlace.weights).toBe(ptr);
      expect(sameBits(e.f32.slice(ptr / 4, ptr / 4 + n), e.f32.slice(copy.weights / 4, copy.weights / 4 + n)), `${groups} x ${rows} x ${depth}`).toBe(true);
      expect(sameBits(unpackConvWeights(e, inPlace, groups), w), `${groups} x ${rows} x ${depth} unpacked`).toBe(true);
    }
    // Rows in part of a strip (packConvWeights pads them: not the same size) and an odd depth (runs of one k) do not.
    expect(packsInPlace(Infinity, 10, 4608)).toBe(false);
    expect(packsInPlace(Infinity, 8, 4617)).toBe(false);
    expect(packsInPlace(minBytes - 4, 8, 4608)).toBe(false);
  });

  it('net.params reads the file\'s weights bit for bit after a forward packed them in place; the scores match the usual packing', async () => {
    const one = await Net.load(prototxtFile, weightsFile, { threads: 1 });
    inPlacePacking.minBytes = Infinity;
    const two = await Net.load(prototxtFile, weightsFile, { threads: 1 });
    const x = input(1, 9, 1);
    const a = score(one, x);
    expect(sameBits(a, score(two, x))).toBe(true);
    const t = one.params.get('fc6')![0];
    expect(Object.getOwnPropertyDescriptor(t, 'data')?.get).toBeDefined(); // packed in place: unpacked when read
    expect(sameBits(t.data, want())).toBe(true);
    expect(t.data).toBe(t.data); // unpacked once, then a plain array
    // Read out, the weights stay packed for the GEMM: the next forward's bits are the same.
    expect(sameBits(score(one, x), a)).toBe(true);
    await Promise.all([one.dispose(), two.dispose()]);
  });

  it('a later forward at another size (the whole-window inner product) and batch unpacks them and matches the usual packing', async () => {
    const one = await Net.load(prototxtFile, weightsFile, { threads: 1 });
    inPlacePacking.minBytes = Infinity;
    const two = await Net.load(prototxtFile, weightsFile, { threads: 1 });
    for (const [n, hw, seed] of [[1, 9, 2], [1, 7, 3], [2, 9, 4], [1, 11, 5], [1, 7, 6]]) {
      const x = input(n, hw, seed);
      expect(sameBits(score(one, x), score(two, x)), `${n} x ${C} x ${hw} x ${hw}`).toBe(true);
    }
    expect(sameBits(one.params.get('fc6')![0].data, want())).toBe(true);
    await Promise.all([one.dispose(), two.dispose()]);
  });

  it('the kernels\' heap holds about one weights\' size less after load and a forward than with the usual packing', async () => {
    const heap = wasmEngine()!.heap;
    const grown = async (): Promise<number> => {
      const before = heap.used;
      const net = await Net.load(prototxtFile, weightsFile, { threads: 1 });
      score(net, input(1, 9, 7));
      const after = heap.used;
      await net.dispose();
      return after - before;
    };
    const inPlace = await grown();
    inPlacePacking.minBytes = Infinity;
    const beside = await grown();
    expect(beside - inPlace).toBeGreaterThan(0.95 * WEIGHT_BYTES);
    expect(beside - inPlace).toBeLessThan(1.05 * WEIGHT_BYTES);
  });

  it('the ONNX export of a net whose weights were packed in place is the usual one, byte for byte', async () => {
    const one = await Net.load(prototxtFile, weightsFile, { threads: 1 });
    inPlacePacking.minBytes = Infinity;
    const two = await Net.load(prototxtFile, weightsFile, { threads: 1 });
    const x = input(1, 9, 10);
    score(one, x);
    score(two, x);
    const [a, b] = [await convert(one), await convert(two)];
    expect(a.length).toBeGreaterThan(WEIGHT_BYTES);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    await Promise.all([one.dispose(), two.dispose()]);
  });

  it('not in place where two layers share the weights by name: both compute what the usual packing computes', async () => {
    const shared = `name: "siamese"
input: "a" input_shape { dim: 1 dim: ${C} dim: 9 dim: 9 }
input: "b" input_shape { dim: 1 dim: ${C} dim: 9 dim: 9 }
layer { name: "fc6" type: "Convolution" bottom: "a" top: "fa" param { name: "w" } param { name: "bias" } convolution_param { num_output: ${OUT} kernel_size: ${K} } }
layer { name: "fc6b" type: "Convolution" bottom: "b" top: "fb" param { name: "w" } param { name: "bias" } convolution_param { num_output: ${OUT} kernel_size: ${K} } }
`;
    const file = path.join(tmp, 'siamese.prototxt');
    fs.writeFileSync(file, shared);
    const net = await Net.load(file, weightsFile, { threads: 1 });
    inPlacePacking.minBytes = Infinity;
    const ref = await Net.load(file, weightsFile, { threads: 1 });
    for (const seed of [11, 13]) {
      const feeds = { a: input(1, 9, seed), b: input(1, 9, seed + 1) };
      const got = net.forward(feeds), fa = got.fa.data.slice(), fb = got.fb.data.slice();
      const want = ref.forward(feeds);
      expect(sameBits(fa, want.fa.data) && sameBits(fb, want.fb.data), `forward ${seed}`).toBe(true);
    }
    await Promise.all([net.dispose(), ref.dispose()]);
  });

  it('not in place once net.params was read (a caller may hold the arrays): they keep the file\'s numbers', async () => {
    // Net.load packs at its prepare, before a caller can read net.params; a net loaded unprepared packs on its
    // first forward, after.
    const net = await Net.loadUnprepared(prototxtFile, weightsFile, { threads: 1 });
    const held = net.params.get('fc6')![0].data;
    score(net, input(1, 9, 8));
    expect(sameBits(held, want())).toBe(true);
    expect(net.params.get('fc6')![0].data).toBe(held);
    await net.dispose();
  });

  it('packed in place at the first forward of a net loaded unprepared (crema segment\'s): net.params reads the file\'s numbers', async () => {
    const net = await Net.loadUnprepared(prototxtFile, weightsFile, { threads: 1 });
    const x = input(1, 9, 9);
    const a = score(net, x);
    inPlacePacking.minBytes = Infinity;
    const two = await Net.load(prototxtFile, weightsFile, { threads: 1 });
    expect(sameBits(a, score(two, x))).toBe(true);
    const t = net.params.get('fc6')![0];
    expect(Object.getOwnPropertyDescriptor(t, 'data')?.get).toBeDefined(); // packed in place: unpacked when read
    expect(sameBits(t.data, want())).toBe(true);
    await Promise.all([net.dispose(), two.dispose()]);
  });
});
