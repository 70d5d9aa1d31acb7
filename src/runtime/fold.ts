// Load-time fusion of the chains that follow a Convolution / InnerProduct in place: BatchNorm (stored
// statistics), Scale (its own weights) and ReLU, as in every BN net (ResNet, MobileNet). BatchNorm and Scale are
// per-channel affine maps, so they fold into copies of the producer's weights and bias; the ReLU runs as the
// producer writes. The whole chain becomes one pass over the output instead of four.
//
// Why this is still Caffe: each layer of the chain works in place on the producer's only top, and no other layer
// reads that blob in between, so the value Caffe stores in the blob is the last one written: exactly the folded
// result. A chain may also write new tops (MobileNet v2: conv -> BatchNorm into 'conv/bn' -> Scale, ReLU in
// place) when no other layer reads or writes its intermediate blobs: the fused pass then writes only the last
// blob, and the intermediate ones are `hidden`: the Net recomputes them with the original layers when anyone
// looks at them (net.blobs, fetches, verify, show), so every blob still holds Caffe's value when read.
// A forward whose range starts or ends inside a chain runs the original layers instead (see `producerFor`).
// An Eltwise SUM followed by an in-place ReLU (ResNet's shortcut joins) becomes one pass the same way, and so does
// a BatchNorm that no such producer takes in, with the Scale and ReLU in place on its top (DenseNet's
// pre-activation after each Concat: three passes over the blob before).
// A Convolution's chain may also take the Eltwise SUM (coefficients 1, two bottoms) that reads its blob, and the
// in-place ReLU after it (ResNet's branch2c -> BatchNorm -> Scale -> Eltwise -> ReLU): the GEMM adds the other
// bottom (the shortcut, computed before the convolution) as it writes the Eltwise's top, and the convolution's
// own blob, which only the Eltwise reads, is hidden (recomputed when read, as above).

import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import type { GraphLayer } from '../graph/graph.js';
import type { FusableLayer } from '../layers/convolution.js';
import { hasParam } from '../layers/axes.js';
import type { Layer } from '../layers/layer.js';
import { layerType } from '../layers/registry.js';
import { Tensor } from '../tensor.js';
import { eltwiseSumWasm } from '../kernels/eltwise.js';
import { caffeRelu, sumRelu } from '../kernels/relu.js';
import { pointwiseWasm } from '../kernels/pointwise.js';
import { countRange } from '../layers/axes.js';
import { storedNormalization } from '../layers/batch_norm.js';
import { platform } from '../platform.js';

/** A producer and the in-place layers computed as part of it (layer indices in net order). */
export interface Fusion {
  producer: number;
  batchNorm?: number;
  scale?: number;
  relu?: number;
  /** The chain's last layer: the fused pass is used only when a forward runs through it. */
  last: number;
  /** The blob the fused pass writes: the chain's last top (the producer's own top when the chain is in place). */
  top: string;
  /** Blobs between producer and `top` that the fused pass does not write (a chain into new tops), in order. */
  hidden: string[];
  /** ReLU negative slope when the chain ends in a ReLU. */
  reluSlope?: number;
  /** The producer over folded copies of its weights (made on first use); absent when only a ReLU is fused. */
  folded?: FusableLayer;
  /** The bottom shapes `folded` was last reshaped for (the graph's array: inferShapes makes new ones). */
  foldedShapes?: unknown;
  /** The folded weights `folded` was made with (given back to Net.load's prepare when its kernels drop them). */
  foldedWeights?: Float32Array;
  /** For an Eltwise SUM producer: the sum and the ReLU in one pass; for a BatchNorm producer: it, Scale and ReLU. */
  eltwise?: Layer;
  /** An Eltwise SUM in a Convolution's chain (its index), and its other bottom, added as the convolution writes. */
  sum?: number;
  residual?: string;
}

const foldableProducers = new Set(['Convolution', 'InnerProduct', 'ConvolutionDepthwise', 'DepthwiseConvolution', 'Convolution3D']);

/** Finds every fusable chain; the map is keyed by the producer's index. */
export function findFusions(layers: readonly GraphLayer[]): Map<number, Fusion> {
  const fusions = new Map<number, Fusion>();
  const sums = platform().env('CREMA_SUM') !== 'separate'; // 'separate': Eltwise SUMs stay out of convolutions
  layers.forEach((l, i) => {
    const fusion = chainAfter(layers, i, sums);
    if (fusion) fusions.set(i, fusion);
  });
  // A layer another chain took (an Eltwise a convolution's chain adds, a BatchNorm it folds) is no producer of its own.
  for (const f of [...fusions.values()]) for (const m of chainMembers(f)) fusions.delete(m);
  return fusions;
}

/** Member layer index (BatchNorm / Scale / ReLU) -> the fusion that computes it. */
export function fusionMembers(fusions: Map<number, Fusion>): Map<number, Fusion> {
  const members = new Map<number, Fusion>();
  for (const f of fusions.values()) for (const m of chainMembers(f)) members.set(m, f);
  return members;
}

/** The chain's layers after the producer, in net order. */
export function chainMembers(f: Fusion): number[] {
  return [f.batchNorm, f.scale, f.sum, f.relu].filter((m): m is number => m !== undefined);
}

/**
 * The chain [BatchNorm] [Scale] [ReLU] after producer i, each in place or into a new top that only the next
 * member reads (see `hides`), or undefined when there is nothing to fuse.
 */
function chainAfter(layers: readonly GraphLayer[], i: number, sums: boolean): Fusion | undefined {
  const l = layers[i];
  if (l.type === 'Eltwise') return eltwiseReluAfter(layers, i);
  if (l.type === 'BatchNorm') return normChainAfter(layers, i);
  if (typeof (l.impl as Partial<FusableLayer>).fuseRelu !== 'function' || l.tops.length !== 1) return undefined;
  const foldable = foldableProducers.has(l.type) && producesChannelsOnAxis1(l);
  const channels = foldable ? outputChannels(l) : 0, rank = l.topShapes[0]?.length ?? 0;
  const fusion: Fusion = { producer: i, last: i, top: l.tops[0], hidden: [] };
  let stage = 0; // 0: BatchNorm may come, 1: Scale may, 2: ReLU may, 3: done
  for (let at = i, blob = l.tops[0]; stage < 3; ) {
    const next = layers.findIndex((m, j) => j > at && (m.bottoms.includes(blob) || m.tops.includes(blob)));
    if (next < 0) break;
    const m = layers[next];
    const residual = sums && stage < 3 && l.type === 'Convolution' ? sumAfter(layers, i, next, blob) : undefined;
    if (residual !== undefined) {
      fusion.sum = next;
      fusion.residual = residual;
      fusion.hidden.push(blob);
      fusion.last = at = next;
      fusion.top = blob = m.tops[0];
      stage = 2; // only a ReLU may follow the sum
      continue;
    }
    const moves = m.tops[0] !== blob;
    if (!(inPlaceOn(m, blob) || (moves && hides(layers, i, next, blob)))) break;
    if (stage === 0 && m.type === 'BatchNorm' && foldable && foldableBatchNorm(m, channels)) {
      fusion.batchNorm = next;
      stage = 1;
    } else if (stage <= 1 && m.type === 'Scale' && foldable && foldableScale(m, channels, rank)) {
      fusion.scale = next;
      stage = 2;
    } else if (m.type === 'ReLU') {
      fusion.relu = next;
      fusion.reluSlope = paramsOf<{ negative_slope: number }>(m.def, 'relu_param').negative_slope;
      stage = 3;
    } else break;
    if (moves) fusion.hidden.push(blob);
    fusion.last = at = next;
    fusion.top = blob = m.tops[0];
  }
  return fusion.last === i ? undefined : fusion;
}

/**
 * True when member `next` (one bottom `blob`, one new top) may take `blob` out of the fused pass: no layer after
 * it reads or writes `blob`, the new top is not one of the producer's bottoms, and no layer after the producer
 * writes the producer's bottoms (so the Net can recompute `blob` later from them, unchanged).
 */
function hides(layers: readonly GraphLayer[], producer: number, next: number, blob: string): boolean {
  const m = layers[next], sources = layers[producer].bottoms;
  if (m.bottoms.length !== 1 || m.tops.length !== 1 || m.bottoms[0] !== blob || sources.includes(blob) || sources.includes(m.tops[0])) return false;
  for (let j = next + 1; j < layers.length; j++) if (layers[j].bottoms.includes(blob) || layers[j].tops.includes(blob)) return false;
  for (let j = producer + 1; j < layers.length; j++) if (layers[j].tops.some((t) => sources.includes(t))) return false;
  return true;
}

/**
 * The other bottom of layer `next` when it is an Eltwise SUM that convolution `producer`'s chain may compute as it
 * writes: coefficients 1 and two distinct bottoms, `blob` (the chain's value so far) one of them and read by no
 * later layer (so it may be hidden: see `hides`), the other one not written between the producer and the sum
 * (its value is final when the producer runs), a new top that is none of the producer's bottoms; else undefined.
 */
function sumAfter(layers: readonly GraphLayer[], producer: number, next: number, blob: string): string | undefined {
  const m = layers[next];
  if (m.type !== 'Eltwise' || m.bottoms.length !== 2 || m.tops.length !== 1 || m.bottoms[0] === m.bottoms[1]) return undefined;
  if (typeof (layers[producer].impl as Partial<FusableLayer>).fuseSum !== 'function') return undefined;
  const p = paramsOf<{ operation: string; coeff: number[] }>(m.def, 'eltwise_param');
  if (p.operation !== 'SUM' || (p.coeff ?? []).some((c) => c !== 1)) return undefined;
  const top = m.tops[0], sources = layers[producer].bottoms;
  const b = m.bottoms.indexOf(blob);
  if (b < 0 || m.bottoms.includes(top) || sources.includes(top) || sources.includes(blob)) return undefined;
  const residual = m.bottoms[1 - b];
  if (residual === top) return undefined;
  for (let j = producer + 1; j < next; j++) if (layers[j].tops.includes(residual)) return undefined;
  for (let j = next + 1; j < layers.length; j++) if (layers[j].bottoms.includes(blob) || layers[j].tops.includes(blob)) return undefined;
  for (let j = producer + 1; j < layers.length; j++) if (layers[j].tops.some((t) => sources.includes(t))) return undefined;
  return residual;
}

/** Eltwise SUM whose only top is next worked on by an in-place ReLU. */
function eltwiseReluAfter(layers: readonly GraphLayer[], i: number): Fusion | undefined {
  const l = layers[i];
  const p = paramsOf<{ operation: string; coeff: number[] }>(l.def, 'eltwise_param');
  // In place, Caffe's Eltwise reads the running sum for the aliased bottom: left to the layer's literal path.
  if (p.operation !== 'SUM' || l.tops.length !== 1 || l.bottoms.includes(l.tops[0])) return undefined;
  if ((p.coeff ?? []).includes(0)) return undefined; // Caffe skips a coefficient-0 bottom: the layer's path does
  const top = l.tops[0];
  const next = layers.findIndex((m, j) => j > i && (m.bottoms.includes(top) || m.tops.includes(top)));
  if (next < 0 || layers[next].type !== 'ReLU' || !inPlaceOn(layers[next], top)) return undefined;
  const reluSlope = paramsOf<{ negative_slope: number }>(layers[next].def, 'relu_param').negative_slope;
  const coeffs = Float32Array.from(l.bottoms, (_, b) => p.coeff?.[b] ?? 1);
  return { producer: i, relu: next, last: next, top, hidden: [], reluSlope, eltwise: eltwiseSumRelu(coeffs, reluSlope) };
}

/**
 * y = relu(sum_b coeff_b * x_b) in one pass, with the float roundings of the Eltwise layer then ReLU: each
 * partial sum rounded to float (an axpy: the product is exact in double). Reads every bottom at i before writing y[i], so y may be one of the bottoms.
 * Resident blobs go to the wasm kernel (split over the threads); these loops are its fallback.
 */
function eltwiseSumRelu(coeffs: Float32Array, slope: number): Layer {
  const allOnes = coeffs.every((c) => c === 1), s = Math.fround(slope);
  return {
    inPlace: true,
    reshape: (bottoms) => [bottoms[0]],
    forward(bottoms, [top]) {
      const y = top.data, n = y.length;
      if (eltwiseSumWasm(bottoms.map((b) => b.data), coeffs, y, slope)) return;
      if (allOnes && bottoms.length === 2) return sumRelu(bottoms[0].data, bottoms[1].data, y, slope);
      for (let i = 0; i < n; i++) {
        let v = Math.fround(coeffs[0] * bottoms[0].data[i] + 0); // + 0: Caffe's sum starts from +0
        for (let b = 1; b < bottoms.length; b++) v = Math.fround(v + coeffs[b] * bottoms[b].data[i]);
        y[i] = caffeRelu(v, s);
      }
    },
  };
}

/**
 * A BatchNorm with stored statistics on channels at axis 1, then a Scale (its own per-channel blobs) and / or a ReLU
 * in place on its top: one pass of the pointwise kernel, each step rounded to float as the layers round it.
 */
function normChainAfter(layers: readonly GraphLayer[], i: number): Fusion | undefined {
  const l = layers[i], shape = l.bottomShapes[0] ?? [];
  if (l.bottoms.length !== 1 || l.tops.length !== 1 || shape.length < 2 || !foldableBatchNorm(l, shape[1])) return undefined;
  const top = l.tops[0], fusion: Fusion = { producer: i, last: i, top, hidden: [] };
  const next = () => layers.findIndex((m, j) => j > fusion.last && (m.bottoms.includes(top) || m.tops.includes(top)));
  let n = next();
  if (n >= 0 && layers[n].type === 'Scale' && inPlaceOn(layers[n], top) && foldableScale(layers[n], shape[1], shape.length)) {
    fusion.scale = fusion.last = n;
    n = next();
  }
  if (n >= 0 && layers[n].type === 'ReLU' && inPlaceOn(layers[n], top)) {
    fusion.relu = fusion.last = n;
    fusion.reluSlope = paramsOf<{ negative_slope: number }>(layers[n].def, 'relu_param').negative_slope;
  }
  if (fusion.last === i) return undefined;
  const member = (m: number | undefined) => (m === undefined ? undefined : layers[m]);
  fusion.eltwise = normScaleRelu(l, member(fusion.scale), member(fusion.relu), fusion.reluSlope);
  return fusion;
}

/**
 * y = relu(((x - mean) / std) * scale + bias) as the pointwise kernel's one pass over resident blobs (the same
 * steps and roundings as the three layers: src/kernels/pointwise.ts), else the three layers in turn. The
 * statistics are read from the BatchNorm's blobs in every forward, as the layer reads them.
 */
function normScaleRelu(bn: GraphLayer, scale: GraphLayer | undefined, relu: GraphLayer | undefined, slope: number | undefined): Layer {
  const eps = paramsOf<{ eps: number }>(bn.def, 'batch_norm_param').eps;
  let mean = new Float32Array(0), std = new Float32Array(0);
  return {
    inPlace: true,
    reshape: (bottoms) => [bottoms[0]],
    forward([x], [y]) {
      const channels = x.dims[1], inner = countRange(x.dims, 2), planes = x.dims[0] * channels;
      if (mean.length !== channels) [mean, std] = [new Float32Array(channels), new Float32Array(channels)];
      storedNormalization(bn.weights, eps, mean, std);
      const steps = { norm: { mean, std }, scale: scale?.weights[0].data, bias: scale?.weights[1]?.data, relu: slope };
      if (inner > 0 && pointwiseWasm(x.data, y.data, planes, inner, channels, steps)) return;
      bn.impl.forward([x], [y]);
      scale?.impl.forward([y], [y]);
      relu?.impl.forward([y], [y]);
    },
  };
}

function inPlaceOn(m: GraphLayer, blob: string): boolean {
  return m.bottoms.length === 1 && m.tops.length === 1 && m.bottoms[0] === blob && m.tops[0] === blob;
}

/** The producer's output channels (what BatchNorm / Scale index on axis 1). */
function outputChannels(l: GraphLayer): number {
  if (l.type === 'ConvolutionDepthwise') return l.bottomShapes[0][1]; // one filter per input channel, whatever num_output says
  if (l.type === 'Convolution3D') return l.topShapes[0][1]; // C3D's num_output, in either version's message
  return l.type !== 'InnerProduct'
    ? paramsOf<{ num_output: number }>(l.def, 'convolution_param').num_output
    : paramsOf<{ num_output: number }>(l.def, 'inner_product_param').num_output;
}

/** Convolution with its channels on axis 1 (the default), or InnerProduct at axis 1 (output N x num_output). */
function producesChannelsOnAxis1(l: GraphLayer): boolean {
  if (l.bottoms.length !== 1 || l.weights.length === 0) return false;
  const param = l.type === 'InnerProduct' ? 'inner_product_param' : 'convolution_param';
  const axis = paramsOf<{ axis: number }>(l.def, param).axis;
  const rank = l.topShapes[0]?.length ?? 0;
  return axis === 1 || (rank > 0 && axis + rank === 1);
}

/** BatchNorm with stored statistics (use_global_stats, the TEST default) whose three blobs fit the c channels. */
function foldableBatchNorm(m: GraphLayer, c: number): boolean {
  const p = paramsOf<{ use_global_stats: boolean }>(m.def, 'batch_norm_param');
  const globalStats = hasParam(m.def, 'batch_norm_param', 'use_global_stats') ? p.use_global_stats : (m.def.phase ?? 'TEST') === 'TEST';
  return globalStats && m.weights.length === 3 && m.weights[0].size === c && m.weights[1].size === c && m.weights[2].size === 1;
}

/** Scale by its own per-channel blob (c channels) on axis 1 of a blob of this rank (one bottom), bias or not. */
function foldableScale(m: GraphLayer, c: number, rank: number): boolean {
  const p = paramsOf<{ axis: number; num_axes: number; bias_term: boolean }>(m.def, 'scale_param');
  const axisOk = p.axis === 1 || (rank > 0 && p.axis + rank === 1);
  const numAxesOk = p.num_axes === 1 || (p.num_axes === -1 && rank === 2);
  const blobs = 1 + (p.bias_term ? 1 : 0);
  return axisOk && numAxesOk && m.weights.length === blobs && m.weights.every((w) => w.size === c);
}

/**
 * The layer to run for producer `fusion.producer` in a forward that ends at layer `to`: the fused pass when the
 * forward runs through the whole chain, else the original producer alone (the chain's layers then run as usual).
 */
export function producerFor(fusion: Fusion, layers: readonly GraphLayer[], to: number, blob: (name: string) => Tensor): Layer {
  const l = layers[fusion.producer];
  if (fusion.last > to) {
    unfuse(l.impl);
    return l.impl;
  }
  if (fusion.eltwise) return fusion.eltwise;
  const impl = fusedProducer(fusion, layers) as FusableLayer;
  impl.fuseRelu(fusion.reluSlope);
  if (fusion.residual !== undefined) impl.fuseSum!(blob(fusion.residual).data);
  return impl;
}

/** The layer computes its own output only from now on: no fused ReLU or sum. */
export function unfuse(impl: Layer): void {
  (impl as Partial<FusableLayer>).fuseRelu?.(undefined);
  (impl as Partial<FusableLayer>).fuseSum?.(undefined);
}

/** True when member layer i was computed by its producer in a forward over layers [from, to]. */
export function computedByProducer(fusion: Fusion, from: number, to: number): boolean {
  return fusion.producer >= from && fusion.last <= to;
}

/**
 * The layer a whole forward runs for `fusion`'s producer: the producer over folded weights when the chain folds a
 * BatchNorm or Scale, else the producer itself (its ReLU or sum fused in at the forward), or the Eltwise pass.
 * Net.load prepares this one, not the graph's producer, which then runs only in forwards that start or stop inside
 * the chain: prepared too, it held a second packed copy of every folded layer's weights (ResNet-50: 195 MB more,
 * and its first forward packed them all again).
 */
export function fusedProducer(fusion: Fusion, layers: readonly GraphLayer[]): Layer {
  if (fusion.eltwise) return fusion.eltwise;
  return fusion.batchNorm === undefined && fusion.scale === undefined ? layers[fusion.producer].impl : foldedProducer(fusion, layers);
}

/**
 * After Net.load prepared `fusion`'s folded producer: its folded weights (a copy made at load) are dropped where
 * its kernels hold their own packed copy, and folded again from the net's weights if ever needed (ResNet-50: 90 MB).
 */
export function releaseFolded(fusion: Fusion, layers: readonly GraphLayer[]): void {
  const l = layers[fusion.producer];
  const bn = fusion.batchNorm === undefined ? undefined : layers[fusion.batchNorm];
  const scale = fusion.scale === undefined ? undefined : layers[fusion.scale];
  const data = fusion.foldedWeights;
  fusion.foldedWeights = undefined; // held by the layer, or given back: never pinned here
  if (fusion.folded?.releaseWeights?.(() => foldWeights(l, bn, scale)[0].data) && data) returned?.push(new Float32Array(data.buffer));
}

/**
 * While Net.load prepares a net (withFoldBuffers): the folded copies kernels dropped after packing them, folded
 * into again. A fresh copy is pages touched for the first time, ~10 us each on the team's VM (docs/PERFORMANCE.md,
 * round twenty): ResNet-50's were 90 MB. Outside prepare every fold makes a fresh array.
 */
let returned: Float32Array[] | undefined;

export function withFoldBuffers<T>(run: () => T): T {
  returned = [];
  try {
    return run();
  } finally {
    returned = undefined;
  }
}

/** n floats: a returned buffer of n to 2n floats (a layer that keeps its copy pins at most twice it), else fresh. */
function foldBuffer(n: number): Float32Array {
  const i = returned?.findIndex((b) => b.length >= n && b.length <= 2 * n) ?? -1;
  return i < 0 ? new Float32Array(n) : returned!.splice(i, 1)[0].subarray(0, n);
}

/** The producer over folded weights, created on first use and reshaped when the producer's bottom shape changes. */
function foldedProducer(fusion: Fusion, layers: readonly GraphLayer[]): FusableLayer {
  const l = layers[fusion.producer];
  if (!fusion.folded) {
    const [w, bias] = foldWeights(l, fusion.batchNorm === undefined ? undefined : layers[fusion.batchNorm], fusion.scale === undefined ? undefined : layers[fusion.scale]);
    fusion.folded = layerType(l.type, l.name).create(withBias(l.def), [w, bias]) as FusableLayer;
    fusion.foldedWeights = w.data;
  }
  if (fusion.foldedShapes !== l.bottomShapes) {
    fusion.folded.reshape(l.bottomShapes);
    fusion.foldedShapes = l.bottomShapes;
  }
  return fusion.folded;
}

/** The producer's definition with a bias (the folded chain always has one). */
function withBias(def: LayerParameter): LayerParameter {
  const param = def.type === 'InnerProduct' ? 'inner_product_param' : def.type === 'Convolution3D' && def.convolution3d_param ? 'convolution3d_param' : 'convolution_param';
  return { ...def, [param]: { ...((def[param] as object | undefined) ?? {}), bias_term: true } };
}

/**
 * Copies of the producer's weights and bias with BatchNorm and Scale folded in, per output channel o:
 * y = ((conv + b - mean) / sqrt(var + eps)) * s + beta = conv * f + (b - mean) * f + beta, f = s / sqrt(var + eps).
 * mean and var are rounded to float as Caffe's BatchNorm computes them; the rest is float64, rounded once.
 */
function foldWeights(producer: GraphLayer, batchNorm: GraphLayer | undefined, scale: GraphLayer | undefined): [Tensor, Tensor] {
  const channels = outputChannels(producer);
  const factor = new Float64Array(channels).fill(1);
  const shift = new Float64Array(channels);
  const hasBias = producer.weights.length > 1;
  for (let o = 0; o < channels; o++) shift[o] = hasBias ? producer.weights[1].data[o] : 0;
  if (batchNorm) {
    const [sums, squares, count] = batchNorm.weights;
    const eps = paramsOf<{ eps: number }>(batchNorm.def, 'batch_norm_param').eps;
    const inverse = count.data[0] === 0 ? 0 : Math.fround(1 / count.data[0]);
    for (let o = 0; o < channels; o++) {
      const mean = Math.fround(sums.data[o] * inverse), variance = Math.fround(squares.data[o] * inverse);
      const std = Math.sqrt(Math.fround(variance + eps));
      factor[o] = 1 / std;
      shift[o] = (shift[o] - mean) / std;
    }
  }
  if (scale) {
    const [s, beta] = scale.weights;
    for (let o = 0; o < channels; o++) {
      factor[o] *= s.data[o];
      shift[o] = shift[o] * s.data[o] + (beta ? beta.data[o] : 0);
    }
  }
  const w = producer.weights[0];
  const folded = foldBuffer(w.size); // every element written below
  const transposed = producer.type === 'InnerProduct' && paramsOf<{ transpose: boolean }>(producer.def, 'inner_product_param').transpose;
  const perChannel = w.size / channels, data = w.data;
  // Net.load folds every BN net's weights (ResNet-50: 23 M floats): runs of one factor, no division per weight.
  if (transposed) {
    for (let i = 0; i < w.size; i += channels) for (let o = 0; o < channels; o++) folded[i + o] = data[i + o] * factor[o];
  } else {
    for (let o = 0, i = 0; o < channels; o++) {
      const f = factor[o];
      for (const end = i + perChannel; i < end; i++) folded[i] = data[i] * f;
    }
  }
  return [new Tensor(w.dims, folded), new Tensor([channels], Float32Array.from(shift))];
}
