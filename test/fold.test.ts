// Load-time folding of BatchNorm / Scale / ReLU chains (in place or into new tops) into the Convolution /
// InnerProduct before them (src/runtime/fold.ts): the folded pass must leave every blob as the layers run one by one
// would (blobs the pass does not write are recomputed when read), forwards over part of a chain must still run the
// original layers, and the net's own weights stay untouched.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { NetParameter } from '../src/caffe/types.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { TOLERANCE, referenceBlob, referenceCases, relativeError, weightsOf } from './helpers/reference.js';
import { sharedMissing } from './helpers/shared.js';

/** Deterministic values in [-1, 1) (a small LCG), so the tests need no fixtures. */
function values(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale + offset;
  }
  return out;
}

const C = 6;
/** conv -> BN -> Scale -> ReLU (all in place on 'conv' when `inPlace`), then an InnerProduct -> BN -> ReLU chain. */
function prototxt(inPlace: boolean): string {
  const top = (name: string) => (inPlace ? 'conv' : name);
  return `
    name: "fold"
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 9 dim: 9 } } }
    layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
            convolution_param { num_output: ${C} kernel_size: 3 pad: 1 stride: 2 } }
    layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "${top('bn')}" batch_norm_param { eps: 0.001 } }
    layer { name: "scale" type: "Scale" bottom: "${top('bn')}" top: "${top('scale')}" scale_param { bias_term: true } }
    layer { name: "relu" type: "ReLU" bottom: "${top('scale')}" top: "${top('relu')}" relu_param { negative_slope: 0.1 } }
    layer { name: "fc" type: "InnerProduct" bottom: "${top('relu')}" top: "fc" inner_product_param { num_output: 5 transpose: true } }
    layer { name: "fc/bn" type: "BatchNorm" bottom: "fc" top: "fc" }
    layer { name: "fc/relu" type: "ReLU" bottom: "fc" top: "fc" }
    layer { name: "out" type: "InnerProduct" bottom: "fc" top: "out" inner_product_param { num_output: 3 bias_term: false } }`;
}

function weights(): Map<string, Tensor[]> {
  const t = (dims: number[], seed: number, scale = 1, offset = 0) => new Tensor(dims, values(dims.reduce((a, b) => a * b, 1), seed, scale, offset));
  const fcIn = C * 5 * 5;
  return new Map([
    ['conv', [t([C, 3, 3, 3], 1), t([C], 2)]],
    // BN stores sums and a factor (here 2.5): mean = sums / 2.5, var = squares / 2.5 (kept positive).
    ['bn', [t([C], 3, 2), t([C], 4, 0.5, 1), new Tensor([1], Float32Array.of(2.5))]],
    ['scale', [t([C], 5, 1.5), t([C], 6)]],
    ['fc', [t([fcIn, 5], 7, 0.2), t([5], 8)]],
    ['fc/bn', [t([5], 9), t([5], 10, 0.5, 2), new Tensor([1], Float32Array.of(1))]],
    ['out', [t([3, 5], 11)]],
  ]);
}

const input = new Tensor([2, 3, 9, 9], values(2 * 3 * 81, 12, 3));
const load = (inPlace: boolean, w = weights()) => Net.fromNetParameter(parsePrototxt(prototxt(inPlace), 'fold.prototxt') as NetParameter, w, [], { threads: 1 });

/** Every blob after running the net one layer at a time (forward ranges of one layer never fuse). */
function layerByLayer(net: Net): Map<string, Float32Array> {
  net.forward({ data: input }, { end: 'data' });
  for (const l of net.layers) net.forward({}, { start: l.name, end: l.name });
  return new Map([...net.blobs].map(([name, t]) => [name, Float32Array.from(t.data)]));
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0, m = 1;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return a.length === b.length ? d / m : Infinity;
}

/** Counts forward calls of the named layers' own implementations. */
function countRuns(net: Net, names: string[]): Map<string, number> {
  const runs = new Map(names.map((n) => [n, 0]));
  for (const l of net.layers.filter((m) => names.includes(m.name))) {
    const forward = l.impl.forward.bind(l.impl);
    l.impl.forward = (b, t) => (runs.set(l.name, runs.get(l.name)! + 1), forward(b, t));
  }
  return runs;
}

describe('folding BatchNorm / Scale / ReLU into the layer before them', () => {
  it('a whole forward gives the blobs of the layers run one by one, without running BN, Scale or ReLU', () => {
    const expected = layerByLayer(load(true));
    expect(expected.get('conv')!.some((v) => v < 0), 'the ReLU must see negative values (slope 0.1)').toBe(true);
    const net = load(true);
    const runs = countRuns(net, ['conv', 'bn', 'scale', 'relu', 'fc', 'fc/bn', 'fc/relu']);
    net.forward({ data: input });
    for (const [name, want] of expected) expect(maxRelDiff(net.blobs.get(name)!.data, want), name).toBeLessThan(1e-5);
    // The folded producers are copies: the original conv and fc do not run either.
    expect(Object.fromEntries(runs)).toEqual({ conv: 0, bn: 0, scale: 0, relu: 0, fc: 0, 'fc/bn': 0, 'fc/relu': 0 });
  });

  it('leaves the net\'s weights (net.params) untouched', () => {
    const w = weights(), originals = new Map([...w].map(([k, ts]) => [k, ts.map((t) => Float32Array.from(t.data))]));
    const net = load(true, w);
    net.forward({ data: input });
    for (const [name, ts] of originals) ts.forEach((data, i) => expect(net.params.get(name)![i].data, `${name} blob ${i}`).toEqual(data));
  });

  it('forwards that end or start inside a chain run the original layers: same blobs as layer by layer', () => {
    const net = load(true);
    const expected = layerByLayer(load(true));
    // Up to the BN: the blob holds the normalized, unscaled values.
    const separate = load(true);
    separate.forward({ data: input }, { end: 'conv' });
    separate.forward({}, { start: 'bn', end: 'bn' });
    const afterBn = Float32Array.from(separate.blobs.get('conv')!.data);
    const runs = countRuns(net, ['conv', 'bn', 'scale', 'relu']);
    net.forward({ data: input }, { end: 'bn' });
    expect(maxRelDiff(net.blobs.get('conv')!.data, afterBn)).toBeLessThan(1e-6);
    // Then the rest, starting inside the chain: Scale and ReLU run as layers, fc's chain is fused again.
    net.forward({}, { start: 'scale' });
    for (const [name, want] of expected) expect(maxRelDiff(net.blobs.get(name)!.data, want), name).toBeLessThan(1e-5);
    expect(Object.fromEntries(runs)).toEqual({ conv: 1, bn: 1, scale: 1, relu: 1 });
  });

  it('a chain into new tops is folded; reading a hidden blob recomputes it with the original layers', () => {
    const expected = layerByLayer(load(false));
    const net = load(false);
    const runs = countRuns(net, ['conv', 'bn', 'scale', 'relu']);
    net.forward({ data: input });
    expect(Object.fromEntries(runs)).toEqual({ conv: 0, bn: 0, scale: 0, relu: 0 });
    // The chain's last blob and everything after it are there at once.
    for (const name of ['relu', 'fc', 'out']) expect(maxRelDiff(net.blobs.get(name)!.data, expected.get(name)!), name).toBeLessThan(1e-5);
    expect(Object.fromEntries(runs)).toEqual({ conv: 0, bn: 0, scale: 0, relu: 0 });
    // Reading a hidden blob runs conv, BN and Scale once (not the ReLU: its blob is the fused pass's), exactly.
    const conv = net.blobs.get('conv')!;
    expect(Object.fromEntries(runs)).toEqual({ conv: 0, bn: 0, scale: 0, relu: 0 });
    expect(maxRelDiff(conv.data, expected.get('conv')!)).toBe(0);
    expect(Object.fromEntries(runs)).toEqual({ conv: 1, bn: 1, scale: 1, relu: 0 });
    for (const [name, want] of expected) expect(maxRelDiff(net.blobs.get(name)!.data, want), name).toBeLessThan(1e-5);
    expect(maxRelDiff(net.blobs.get('bn')!.data, net.blobs.get('conv')!.data)).toBeGreaterThan(1e-2);
    expect(Object.fromEntries(runs)).toEqual({ conv: 1, bn: 1, scale: 1, relu: 0 });
  });

  it('a tensor of a hidden blob held across forwards shows the latest forward\'s value', () => {
    const net = load(false);
    const held = net.blobs.get('bn')!;
    net.forward({ data: input });
    const first = Float32Array.from(held.data);
    const other = new Tensor(input.dims, values(input.size, 99, 3));
    net.forward({ data: other });
    const reference = load(false);
    reference.forward({ data: other }, { end: 'bn' });
    expect(maxRelDiff(held.data, reference.blobs.get('bn')!.data)).toBe(0);
    expect(maxRelDiff(held.data, first)).toBeGreaterThan(1e-2);
  });

  it('writing into a chain\'s source blob after a forward leaves the hidden blobs as that forward computed them', () => {
    const net = load(false);
    net.forward({ data: input });
    const expected = layerByLayer(load(false));
    net.blobs.get('data')!.data.fill(7); // as pycaffe users set the next input
    expect(maxRelDiff(net.blobs.get('scale')!.data, expected.get('scale')!)).toBeLessThan(1e-6);
    // A partial forward from the changed input computes the hidden blobs anew.
    net.forward({}, { end: 'bn' });
    const fresh = load(false);
    fresh.forward({ data: new Tensor(input.dims, new Float32Array(input.size).fill(7)) }, { end: 'bn' });
    expect(maxRelDiff(net.blobs.get('bn')!.data, fresh.blobs.get('bn')!.data)).toBe(0);
  });

  it('folds into depthwise convolutions (ConvolutionDepthwise and group = channels), chains into new tops', () => {
    for (const type of ['ConvolutionDepthwise', 'Convolution']) {
      const text = `
        name: "dw"
        layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: ${C} dim: 7 dim: 7 } } }
        layer { name: "dw" type: "${type}" bottom: "data" top: "dw"
                convolution_param { num_output: ${C} group: ${C} kernel_size: 3 pad: 1 stride: 2 bias_term: false } }
        layer { name: "bn" type: "BatchNorm" bottom: "dw" top: "dw/bn" }
        layer { name: "scale" type: "Scale" bottom: "dw/bn" top: "dw/bn" scale_param { bias_term: true } }
        layer { name: "relu" type: "ReLU" bottom: "dw/bn" top: "dw/bn" }`;
      const w = () => new Map([
        ['dw', [new Tensor([C, 1, 3, 3], values(C * 9, 31))]],
        ['bn', [new Tensor([C], values(C, 32, 2)), new Tensor([C], values(C, 33, 0.5, 1)), new Tensor([1], Float32Array.of(2))]],
        ['scale', [new Tensor([C], values(C, 34, 1.5)), new Tensor([C], values(C, 35))]],
      ]);
      const make = () => Net.fromNetParameter(parsePrototxt(text, 'dw.prototxt') as NetParameter, w(), [], { threads: 1 });
      const x = new Tensor([2, C, 7, 7], values(2 * C * 49, 36, 2));
      const reference = make();
      reference.forward({ data: x }, { end: 'data' });
      for (const l of reference.layers) reference.forward({}, { start: l.name, end: l.name });
      const net = make();
      const runs = countRuns(net, ['dw', 'bn', 'scale', 'relu']);
      net.forward({ data: x });
      expect(Object.fromEntries(runs), type).toEqual({ dw: 0, bn: 0, scale: 0, relu: 0 });
      for (const name of ['dw/bn', 'dw']) expect(maxRelDiff(net.blobs.get(name)!.data, reference.blobs.get(name)!.data), `${type} ${name}`).toBeLessThan(1e-5);
    }
  });

  it('BatchNorm with batch statistics (use_global_stats: false) is not folded', () => {
    const text = prototxt(true).replace('batch_norm_param { eps: 0.001 }', 'batch_norm_param { eps: 0.001 use_global_stats: false }');
    const net = Net.fromNetParameter(parsePrototxt(text, 'fold.prototxt') as NetParameter, weights(), [], { threads: 1 });
    const runs = countRuns(net, ['conv', 'bn', 'scale', 'relu']);
    net.forward({ data: input });
    expect(Object.fromEntries(runs)).toEqual({ conv: 1, bn: 1, scale: 1, relu: 1 });
    // Normalized by its own batch: per channel, the pre-Scale values have mean 0 over N, H, W.
    net.forward({ data: input }, { end: 'bn' });
    const conv = net.blobs.get('conv')!, spatial = conv.dims[2] * conv.dims[3];
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let n = 0; n < 2; n++) for (let i = 0; i < spatial; i++) sum += conv.data[(n * C + c) * spatial + i];
      expect(Math.abs(sum / (2 * spatial))).toBeLessThan(1e-5);
    }
  });

  it('a reshaped net (batch 1) still gives the layer-by-layer values', () => {
    const net = load(true);
    net.forward({ data: input });
    const one = new Tensor([1, 3, 9, 9], input.data.slice(0, 3 * 81));
    const out = Float32Array.from(net.forward({ data: one }).out.data);
    const reference = load(true);
    reference.forward({ data: one }, { end: 'data' });
    for (const l of reference.layers) reference.forward({}, { start: l.name, end: l.name });
    expect(maxRelDiff(out, reference.blobs.get('out')!.data)).toBeLessThan(1e-5);
  });
});

describe('Eltwise SUM + in-place ReLU in one pass (ResNet\'s shortcut joins)', () => {
  const text = (coeffs: string, slope: number) => `
    name: "join"
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 4 dim: 5 dim: 3 } } }
    layer { name: "a" type: "Convolution" bottom: "data" top: "a" convolution_param { num_output: 4 kernel_size: 1 } }
    layer { name: "b" type: "Convolution" bottom: "data" top: "b" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }
    layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" bottom: "data" top: "sum" eltwise_param { operation: SUM ${coeffs} } }
    layer { name: "relu" type: "ReLU" bottom: "sum" top: "sum" relu_param { negative_slope: ${slope} } }
    layer { name: "sum2" type: "Eltwise" bottom: "sum" bottom: "a" top: "j" }
    layer { name: "relu2" type: "ReLU" bottom: "j" top: "j" }`;
  const w = () => new Map([
    ['a', [new Tensor([4, 4, 1, 1], values(16, 21)), new Tensor([4], values(4, 22))]],
    ['b', [new Tensor([4, 4, 3, 3], values(144, 23)), new Tensor([4], values(4, 24))]],
  ]);
  const x = new Tensor([2, 4, 5, 3], values(120, 25, 2));
  const net = (coeffs: string, slope: number) => Net.fromNetParameter(parsePrototxt(text(coeffs, slope), 'join.prototxt') as NetParameter, w(), [], { threads: 1 });

  for (const [coeffs, slope] of [['', 0], ['coeff: 0.5 coeff: -2 coeff: 1.5', 0.2]] as const)
    it(`${coeffs || 'coefficients 1'}, slope ${slope}: same blobs as layer by layer, Eltwise and ReLU layers not run`, () => {
      const reference = net(coeffs, slope);
      reference.forward({ data: x }, { end: 'data' });
      for (const l of reference.layers) reference.forward({}, { start: l.name, end: l.name });
      expect(reference.blobs.get('sum')!.data.some((v) => v < 0) || slope === 0).toBe(true);
      const fused = net(coeffs, slope);
      const runs = countRuns(fused, ['sum', 'relu', 'sum2', 'relu2']);
      fused.forward({ data: x });
      for (const name of ['sum', 'j']) expect(maxRelDiff(fused.blobs.get(name)!.data, reference.blobs.get(name)!.data), name).toBe(0);
      expect(Object.fromEntries(runs)).toEqual({ sum: 0, relu: 0, sum2: 0, relu2: 0 });
      // A forward ending at the Eltwise leaves the plain sum.
      fused.forward({ data: x }, { end: 'sum' });
      expect(fused.blobs.get('sum')!.data.some((v) => v < 0), 'no ReLU yet').toBe(true);
      expect(Object.fromEntries(runs)).toEqual({ sum: 1, relu: 0, sum2: 0, relu2: 0 });
    });
});

describe('BatchNorm -> Scale -> ReLU with no convolution before them in one pass (DenseNet\'s pre-activation)', () => {
  // After a Concat (DenseNet) and a Pooling: BatchNorm into a new top, Scale and ReLU in place on it; a BatchNorm
  // alone; a BatchNorm -> ReLU; and a convolution's own chain, which stays the convolution's.
  const text = `
    name: "pre"
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 4 dim: 9 dim: 7 } } }
    layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { pool: MAX kernel_size: 1 } }
    layer { name: "cat" type: "Concat" bottom: "data" bottom: "pool" top: "cat" }
    layer { name: "bn" type: "BatchNorm" bottom: "cat" top: "cat/bn" batch_norm_param { eps: 0.001 } }
    layer { name: "scale" type: "Scale" bottom: "cat/bn" top: "cat/bn" scale_param { bias_term: true } }
    layer { name: "relu" type: "ReLU" bottom: "cat/bn" top: "cat/bn" relu_param { negative_slope: 0.1 } }
    layer { name: "bn2" type: "BatchNorm" bottom: "pool" top: "pool/bn" }
    layer { name: "relu2" type: "ReLU" bottom: "pool/bn" top: "pool/bn" }
    layer { name: "bn3" type: "BatchNorm" bottom: "cat" top: "cat/bn3" }
    layer { name: "conv" type: "Convolution" bottom: "cat/bn" top: "conv" convolution_param { num_output: 3 kernel_size: 1 } }
    layer { name: "conv/bn" type: "BatchNorm" bottom: "conv" top: "conv" }
    layer { name: "conv/scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: false } }`;
  const stats = (c: number, seed: number) => [new Tensor([c], values(c, seed, 2)), new Tensor([c], values(c, seed + 1, 0.5, 1)), new Tensor([1], Float32Array.of(2.5))];
  const w = () => new Map([
    ['bn', stats(8, 31)], ['scale', [new Tensor([8], values(8, 33, 1.5)), new Tensor([8], values(8, 34))]],
    ['bn2', stats(4, 35)], ['bn3', stats(8, 37)],
    ['conv', [new Tensor([3, 8, 1, 1], values(24, 39)), new Tensor([3], values(3, 40))]],
    ['conv/bn', stats(3, 41)], ['conv/scale', [new Tensor([3], values(3, 43))]],
  ]);
  const x = new Tensor([2, 4, 9, 7], values(2 * 4 * 63, 45, 3));
  const net = () => Net.fromNetParameter(parsePrototxt(text, 'pre.prototxt') as NetParameter, w(), [], { threads: 1 });

  for (const kernels of ['wasm', 'js'] as const)
    it(`same blobs as layer by layer, bit for bit, the BatchNorms' Scale and ReLU not run (${kernels} kernels)`, () => {
      useKernels(kernels);
      try {
        const reference = net();
        reference.forward({ data: x }, { end: 'data' });
        for (const l of reference.layers) reference.forward({}, { start: l.name, end: l.name });
        expect(reference.blobs.get('cat/bn')!.data.some((v) => v < 0), 'the ReLU must see negative values (slope 0.1)').toBe(true);
        const fused = net();
        const runs = countRuns(fused, ['bn', 'scale', 'relu', 'bn2', 'relu2', 'bn3', 'conv', 'conv/bn', 'conv/scale']);
        fused.forward({ data: x });
        for (const name of ['cat/bn', 'pool/bn', 'cat/bn3'])
          for (const [i, v] of reference.blobs.get(name)!.data.entries()) if (!Object.is(fused.blobs.get(name)!.data[i], v)) expect(`${name}[${i}] ${fused.blobs.get(name)!.data[i]}`).toBe(`${name}[${i}] ${v}`);
        expect(maxRelDiff(fused.blobs.get('conv')!.data, reference.blobs.get('conv')!.data)).toBeLessThan(1e-5); // folded weights round otherwise
        // bn3 alone is a layer of its own; the convolution's chain is folded into it as before. Without the wasm
        // engine the pass is the layers' own loops in turn (their reference).
        const chain = kernels === 'wasm' ? 0 : 1;
        expect(Object.fromEntries(runs)).toEqual({ bn: chain, scale: chain, relu: chain, bn2: chain, relu2: chain, bn3: 1, conv: 0, 'conv/bn': 0, 'conv/scale': 0 });
        // A forward ending inside the chain runs the layers: the Scale's output without the ReLU.
        fused.forward({ data: x }, { end: 'scale' });
        expect([runs.get('bn'), runs.get('relu')]).toEqual([chain + 1, chain]);
        expect(fused.blobs.get('cat/bn')!.data.some((v) => v < -0.5)).toBe(true);
      } finally {
        useKernels('wasm');
      }
    });
});

describe('a MobileNet v2 block with chains into new tops against Caffe (test/fixtures/layers/fold_chains)', () => {
  const c = referenceCases('fixtures').find((r) => r.name === 'fold_chains')!;
  for (const threads of [1, 2])
    it(`${threads} thread(s): the chains run folded, and every blob read afterwards is Caffe's`, async () => {
      const net = await Net.load(c.prototxt, weightsOf(c), { threads });
      const members = net.layers.filter((l) => /_(bn|scale|relu)$/.test(l.name)).map((l) => l.name);
      const runs = countRuns(net, ['expand', 'dwise', 'linear', ...members]);
      net.forward({ data: readNpy(c.input) });
      expect([...runs.values()].every((n) => n === 0), JSON.stringify(Object.fromEntries(runs))).toBe(true);
      for (const b of [...c.blobs].reverse()) expect(relativeError(net.blobs.get(b)!, referenceBlob(c, b)), b).toBeLessThanOrEqual(TOLERANCE);
      // Reading the hidden blobs ran each chain's original layers once, up to its last hidden blob (linear's chain
      // took the Eltwise 'block': linear_bn is hidden too).
      expect(Object.fromEntries(runs)).toEqual({ expand: 1, dwise: 1, linear: 1, expand_bn: 0, expand_scale: 0, expand_relu: 0,
        dwise_bn: 1, dwise_scale: 1, dwise_relu: 0, linear_bn: 1, linear_scale: 1 });
    });

  it('Net.load packs the folded producers, once: the first whole forward allocates no kernel memory', async () => {
    // Until round eighteen Net.load packed the graph's producers (unfolded weights, which a whole forward never
    // runs) and the first forward packed the folded ones again: two packed copies of every folded layer (ResNet-50
    // 628 MiB resident for a 98 MB file, its first forward 4x a steady one).
    const engine = wasmEngine()!;
    const before = engine.heap.used;
    const net = await Net.load(c.prototxt, weightsOf(c), { threads: 1 });
    const loaded = engine.heap.used;
    net.forward({ data: readNpy(c.input) });
    expect(loaded).toBeGreaterThan(before);
    expect(engine.heap.used, 'the first forward packed weights').toBe(loaded);
    await net.dispose();
  });

  it('folded weights Net.load dropped (the kernels keep packed copies) are folded again when needed: another input size, a NaN, the TypeScript kernels', async () => {
    const net = await Net.load(c.prototxt, weightsOf(c), { threads: 1 });
    const reference = await Net.load(c.prototxt, weightsOf(c), { threads: 1 });
    const check = (x: Tensor, what: string): void => {
      const got = Float32Array.from(net.forward({ data: x }).block.data);
      reference.forward({ data: x }, { end: 'data' });
      for (const l of reference.layers) reference.forward({}, { start: l.name, end: l.name }); // never fused
      const want = reference.blobs.get('block')!.data;
      expect(Array.from(got, Number.isNaN), `${what}: NaNs`).toEqual(Array.from(want, Number.isNaN));
      expect(maxRelDiff(got.map((v) => (Number.isNaN(v) ? 0 : v)), want.map((v) => (Number.isNaN(v) ? 0 : v))), what).toBeLessThan(1e-5);
    };
    check(new Tensor([1, 8, 9, 11], values(8 * 9 * 11, 21, 2)), 'input 9 x 11');
    const nan = new Tensor([2, 8, 7, 6], values(2 * 8 * 42, 22, 2));
    nan.data[100] = NaN;
    check(nan, 'a NaN');
    useKernels('js');
    try {
      check(new Tensor([2, 8, 7, 6], values(2 * 8 * 42, 23, 2)), 'TypeScript kernels');
    } finally {
      useKernels('wasm');
    }
  });
});

describe.skipIf(sharedMissing())('folded BN nets against Caffe (../shared/reference/zoo)', () => {
  for (const name of ['mobilenet', 'mobilenet_v2', 'resnet50']) {
    it(`${name}: a forward split inside a BN chain (end at a Scale, start at its ReLU) matches Caffe`, async () => {
      const c = referenceCases('zoo').find((r) => r.name === name)!;
      const net = await Net.load(c.prototxt, weightsOf(c), { threads: 1 });
      const scaleAt = net.layers.findIndex((l, i) => l.type === 'Scale' && net.layers[i + 1]?.type === 'ReLU' && i > net.layers.length / 3);
      expect(scaleAt).toBeGreaterThan(0);
      net.forward({ [c.inputName]: readNpy(c.input) }, { end: net.layers[scaleAt].name });
      net.forward({}, { start: net.layers[scaleAt + 1].name });
      for (const b of c.blobs) expect(relativeError(net.blobs.get(b)!, referenceBlob(c, b)), b).toBeLessThanOrEqual(TOLERANCE);
    }, 60_000);
  }
});

describe('a Convolution\'s chain takes the Eltwise SUM and ReLU after it (ResNet\'s branch2c joins)', () => {
  // 'short' is computed before 'c2c'; c2c -> BN -> Scale (in place) -> Eltwise(short, c2c) -> ReLU in place.
  // Planes of 7 x 7 (49 columns: an edge strip of 1), 30 outputs (an edge row strip of 2), K = 300 (two K blocks);
  // batch 2 (14 column chunks at 2 threads), or 1 with 72 outputs (7 column chunks: rows cut in 2 at 2 threads).
  let batch = 2, outputs = 30;
  const text = (cin: number, kernel: number, between = '') => `
    name: "join"
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: ${batch} dim: ${cin} dim: 7 dim: 7 } } }
    layer { name: "short" type: "Convolution" bottom: "data" top: "short" convolution_param { num_output: ${outputs} kernel_size: 1 } }
    layer { name: "c2c" type: "Convolution" bottom: "data" top: "c2c" convolution_param { num_output: ${outputs} kernel_size: ${kernel} pad: ${kernel >> 1} } }
    layer { name: "bn" type: "BatchNorm" bottom: "c2c" top: "c2c" batch_norm_param { eps: 0.001 } }
    layer { name: "scale" type: "Scale" bottom: "c2c" top: "c2c" scale_param { bias_term: true } }
    ${between}
    layer { name: "sum" type: "Eltwise" bottom: "short" bottom: "c2c" top: "sum" }
    layer { name: "relu" type: "ReLU" bottom: "sum" top: "sum" }
    layer { name: "out" type: "Convolution" bottom: "sum" top: "out" convolution_param { num_output: 3 kernel_size: 1 } }`;
  const w = (cin: number, kernel: number) => {
    const t = (dims: number[], seed: number, scale = 1, offset = 0) => new Tensor(dims, values(dims.reduce((a, b) => a * b, 1), seed, scale, offset));
    return new Map([
      ['short', [t([outputs, cin, 1, 1], 31, 0.1), t([outputs], 32)]],
      ['c2c', [t([outputs, cin, kernel, kernel], 33, 0.1), t([outputs], 34)]],
      ['bn', [t([outputs], 35, 2), t([outputs], 36, 0.5, 1), new Tensor([1], Float32Array.of(2.5))]],
      ['scale', [t([outputs], 37, 1.5), t([outputs], 38)]],
      ['out', [t([3, outputs, 1, 1], 39), t([3], 40)]],
    ]);
  };
  const load = (cin: number, kernel: number, threads: number, between = '', sum = true) => {
    if (sum) delete process.env.CREMA_SUM;
    else process.env.CREMA_SUM = 'separate';
    try {
      return Net.fromNetParameter(parsePrototxt(text(cin, kernel, between), 'join.prototxt') as NetParameter, w(cin, kernel), [], { threads });
    } finally {
      delete process.env.CREMA_SUM;
    }
  };
  const x = (cin: number) => new Tensor([batch, cin, 7, 7], values(batch * cin * 49, 41, 2));

  // The TypeScript kernels too: until round forty-eight their GEMM applied the chain's ReLU before the residual was
  // added (relu(conv) + short, not relu(conv + short)), which the 'separate' net, unfused, did not share.
  const cases = [[300, 1, 1, 2, 30, 'wasm'], [300, 1, 2, 2, 30, 'wasm'], [300, 1, 2, 1, 72, 'wasm'], [20, 3, 1, 2, 30, 'wasm'], [20, 5, 1, 2, 30, 'wasm'], [300, 1, 1, 2, 30, 'js'], [20, 3, 1, 2, 30, 'js']] as const;
  for (const [cin, kernel, threads, n, m, kernels] of cases)
    it(`${kernel}x${kernel}, K ${cin * kernel * kernel}, batch ${n}, ${m} outputs, ${threads} thread(s), ${kernels} kernels: the blobs of the folded chain and a separate sum, exactly; Eltwise and ReLU not run; the hidden blob recomputed when read`, async () => {
      useKernels(kernels);
      try {
        await checkJoin(cin, kernel, threads, n, m);
      } finally {
        useKernels('wasm');
      }
    });

  async function checkJoin(cin: number, kernel: number, threads: number, n: number, m: number): Promise<void> {
    [batch, outputs] = [n, m];
    // The workers ready before the nets run (a net's own start of them may not be done by its forward).
    if (threads > 1) expect(await setThreads(threads, 2)).toBe(threads);
    const reference = load(cin, kernel, threads);
    reference.forward({ data: x(cin) }, { end: 'data' });
    for (const l of reference.layers) reference.forward({}, { start: l.name, end: l.name });
    const want = new Map([...reference.blobs].map(([name, t]) => [name, Float32Array.from(t.data)]));
    expect(want.get('sum')!.some((v) => v === 0) && want.get('sum')!.some((v) => v > 0), 'the ReLU must clip some sums').toBe(true);
    const separate = load(cin, kernel, threads, '', false);
    separate.forward({ data: x(cin) });
    const fused = load(cin, kernel, threads);
    const runs = countRuns(fused, ['c2c', 'bn', 'scale', 'sum', 'relu']);
    fused.forward({ data: x(cin) });
    for (const name of ['sum', 'out', 'short']) {
      expect(maxRelDiff(fused.blobs.get(name)!.data, separate.blobs.get(name)!.data), name).toBe(0);
      expect(maxRelDiff(fused.blobs.get(name)!.data, want.get(name)!), name).toBeLessThan(1e-5);
    }
    expect(Object.fromEntries(runs)).toEqual({ c2c: 0, bn: 0, scale: 0, sum: 0, relu: 0 });
    expect(maxRelDiff(fused.blobs.get('c2c')!.data, want.get('c2c')!), 'c2c, recomputed').toBe(0);
    expect(Object.fromEntries(runs)).toEqual({ c2c: 1, bn: 1, scale: 1, sum: 0, relu: 0 });
    // A forward ending at the Eltwise leaves the plain sum (the chain is not fused).
    fused.forward({ data: x(cin) }, { end: 'sum' });
    expect(fused.blobs.get('sum')!.data.some((v) => v < 0), 'no ReLU yet').toBe(true);
    await fused.dispose?.();
  }

  it('is not fused when the shortcut is written between the convolution and the sum', () => {
    [batch, outputs] = [2, 30];
    const between = 'layer { name: "rs" type: "ReLU" bottom: "short" top: "short" }';
    const reference = load(300, 1, 1, between);
    reference.forward({ data: x(300) }, { end: 'data' });
    for (const l of reference.layers) reference.forward({}, { start: l.name, end: l.name });
    const fused = load(300, 1, 1, between);
    const runs = countRuns(fused, ['c2c', 'bn', 'scale']);
    fused.forward({ data: x(300) });
    // c2c is the chain's last blob, written by the fused pass: reading it runs nothing.
    for (const name of ['c2c', 'sum', 'out']) expect(maxRelDiff(fused.blobs.get(name)!.data, reference.blobs.get(name)!.data), name).toBeLessThan(1e-5);
    expect(Object.fromEntries(runs)).toEqual({ c2c: 0, bn: 0, scale: 0 });
  });
});

describe.skipIf(process.platform !== 'linux')('the blobs a fused chain hides take no memory until read (Linux: VmRSS)', () => {
  it('a whole forward leaves a hidden 32 MiB blob unwritten; reading it computes it, and only then is it resident', () => {
    // test/helpers/hidden-rss.mjs, in a process of its own (the built dist): conv -> BatchNorm into a new top ->
    // Scale, ReLU in place, so the convolution's own top is hidden. Until round eighteen Net.load wrote it ahead.
    const r = spawnSync(process.execPath, ['test/helpers/hidden-rss.mjs'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { grew, bytes, value } = JSON.parse(r.stdout) as { grew: number; bytes: number; value: number };
    expect(value, 'the convolution\'s output: 8 x 0.1 x 1 + 0.2').toBeCloseTo(1, 5);
    expect(grew, `VmRSS grew ${grew} bytes reading a ${bytes}-byte hidden blob`).toBeGreaterThan(0.75 * bytes);
  });
});
