// Every layer type the native engine runs, converted to ONNX and run in ONNX Runtime, against the native
// engine (which test/reference.test.ts checks against real Caffe). Includes a random sweep of Pooling
// geometries (Caffe's ceil + clip sizes and edge divisors) and in-place / alias blobs.
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { convertGraph } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { randomArray, randomInt, rng } from './helpers/compute.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-4;

function netFrom(text: string, weights: Record<string, Tensor[]> = {}): Net {
  const net = parsePrototxt(text, 'test.prototxt') as NetParameter;
  return Net.fromNetParameter(net, new Map(Object.entries(weights)));
}

function random(dims: number[], seed: number, scale = 1): Tensor {
  const data = randomArray(sizeOf(dims), rng(seed));
  for (let i = 0; i < data.length; i++) data[i] *= scale;
  return new Tensor(dims, data);
}

const input = (dims: number[]) => `layer { name: "data" type: "Input" top: "data" input_param { shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } } }\n`;

/** Runs the net natively and in ONNX Runtime; every blob must agree. Returns the ONNX blobs. */
async function sameInBoth(net: Net, feeds: Record<string, Tensor>, lrn: 'native' | 'decomposed' = 'native'): Promise<Map<string, Tensor>> {
  const onnx = await runOnnx(net.graph, feeds, { outputs: 'all', threads: 1, lrn });
  net.forward(feeds);
  expect([...onnx.keys()]).toEqual([...net.blobs.keys()]);
  for (const [name, t] of net.blobs) {
    expect([...onnx.get(name)!.dims], `shape of ${name}`).toEqual([...t.dims]);
    expect(relativeError(onnx.get(name)!, t), `blob ${name}`).toBeLessThanOrEqual(TOLERANCE);
  }
  return onnx;
}

describe('layers without a Caffe reference case, ONNX Runtime vs the native engine', () => {
  it('activations: Clip, Swish, Threshold, BNLL, Exp, Log, Power, ReLU in place, ELU', async () => {
    const net = netFrom(input([2, 3, 4, 5]) + `
      layer { name: "cl" type: "Clip" bottom: "data" top: "cl" clip_param { min: -0.3 max: 0.5 } }
      layer { name: "sw" type: "Swish" bottom: "data" top: "sw" swish_param { beta: 1.7 } }
      layer { name: "th" type: "Threshold" bottom: "data" top: "th" threshold_param { threshold: 0.1 } }
      layer { name: "bn" type: "BNLL" bottom: "data" top: "bn" }
      layer { name: "ex" type: "Exp" bottom: "data" top: "ex" exp_param { base: 2 scale: 0.5 shift: 0.25 } }
      layer { name: "ee" type: "Exp" bottom: "data" top: "ee" }
      layer { name: "pw" type: "Power" bottom: "bn" top: "pw" power_param { power: 1.5 scale: 2 shift: 0.1 } }
      layer { name: "lg" type: "Log" bottom: "pw" top: "lg" log_param { base: 10 scale: 3 shift: 1 } }
      layer { name: "ln" type: "Log" bottom: "pw" top: "ln" }
      layer { name: "id" type: "Power" bottom: "ln" top: "id" }
      layer { name: "rl" type: "ReLU" bottom: "ex" top: "ex" relu_param { negative_slope: 0.1 } }
      layer { name: "el" type: "ELU" bottom: "data" top: "el" }`);
    await sameInBoth(net, { data: random([2, 3, 4, 5], 1, 3) });
  });

  it('Eltwise PROD of three, MAX and SUM without coeff; Bias and Scale from a second bottom', async () => {
    const net = netFrom(input([2, 3, 4, 4]) + `
      layer { name: "a" type: "TanH" bottom: "data" top: "a" }
      layer { name: "b" type: "Sigmoid" bottom: "data" top: "b" }
      layer { name: "prod" type: "Eltwise" bottom: "data" bottom: "a" bottom: "b" top: "prod" eltwise_param { operation: PROD } }
      layer { name: "max" type: "Eltwise" bottom: "data" bottom: "a" bottom: "b" top: "max" eltwise_param { operation: MAX } }
      layer { name: "sum" type: "Eltwise" bottom: "data" bottom: "a" top: "sum" }
      layer { name: "red" type: "Reduction" bottom: "a" top: "red" reduction_param { operation: MEAN axis: 2 } }
      layer { name: "sc" type: "Scale" bottom: "data" bottom: "red" top: "sc" scale_param { axis: 0 bias_term: true } }
      layer { name: "bias" type: "Bias" bottom: "sum" top: "bias" bias_param { num_axes: 2 } }`, {
      sc: [random([2, 3], 7)],
      bias: [random([3, 4], 8)],
    });
    await sameInBoth(net, { data: random([2, 3, 4, 4], 2) });
  });

  it('Reduction (every operation, axis 0 to a scalar), Tile, Crop, MVN (all variants), Flatten with end_axis', async () => {
    const net = netFrom(input([2, 3, 5, 4]) + `
      layer { name: "r0" type: "Reduction" bottom: "data" top: "r0" reduction_param { operation: SUM axis: 0 coeff: 0.5 } }
      layer { name: "r1" type: "Reduction" bottom: "data" top: "r1" reduction_param { operation: ASUM axis: 1 } }
      layer { name: "r2" type: "Reduction" bottom: "data" top: "r2" reduction_param { operation: SUMSQ axis: -1 coeff: -2 } }
      layer { name: "t" type: "Tile" bottom: "data" top: "t" tile_param { axis: 2 tiles: 3 } }
      layer { name: "small" type: "Pooling" bottom: "data" top: "small" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
      layer { name: "cr" type: "Crop" bottom: "t" bottom: "small" top: "cr" crop_param { axis: 2 offset: 4 offset: 1 } }
      layer { name: "cr1" type: "Crop" bottom: "t" bottom: "small" top: "cr1" crop_param { axis: 1 offset: 0 } }
      layer { name: "m1" type: "MVN" bottom: "data" top: "m1" }
      layer { name: "m2" type: "MVN" bottom: "data" top: "m2" mvn_param { across_channels: true } }
      layer { name: "m3" type: "MVN" bottom: "data" top: "m3" mvn_param { normalize_variance: false } }
      layer { name: "fl" type: "Flatten" bottom: "data" top: "fl" flatten_param { axis: 1 end_axis: 2 } }
      layer { name: "m4" type: "MVN" bottom: "r2" top: "m4" }`);
    await sameInBoth(net, { data: random([2, 3, 5, 4], 3, 2) });
  });

  it('ArgMax: top_k, out_max_val, with and without axis, ties ranked as Caffe ranks them', async () => {
    const net = netFrom(input([2, 3, 2, 5]) + `
      layer { name: "a1" type: "ArgMax" bottom: "data" top: "a1" }
      layer { name: "a2" type: "ArgMax" bottom: "data" top: "a2" argmax_param { top_k: 4 out_max_val: true } }
      layer { name: "a3" type: "ArgMax" bottom: "data" top: "a3" argmax_param { axis: 1 top_k: 2 } }
      layer { name: "a4" type: "ArgMax" bottom: "data" top: "a4" argmax_param { axis: -1 top_k: 3 out_max_val: true } }`);
    // Few distinct values: many ties, where Caffe puts the higher index first.
    const data = random([2, 3, 2, 5], 4);
    for (let i = 0; i < data.size; i++) data.data[i] = Math.round(data.data[i] * 2);
    const blobs = await sameInBoth(net, { data });
    expect(new Set(blobs.get('a3')!.data).size).toBeGreaterThan(1);
  });

  it('Embed, InnerProduct on axis 2 without bias, Deconvolution with groups and dilation', async () => {
    const net = netFrom(input([2, 3]) + `
      layer { name: "em" type: "Embed" bottom: "data" top: "em" embed_param { num_output: 4 input_dim: 6 } }
      layer { name: "ip" type: "InnerProduct" bottom: "em" top: "ip" inner_product_param { num_output: 6 axis: 2 bias_term: false } }
      layer { name: "rs" type: "Reshape" bottom: "ip" top: "rs" reshape_param { shape { dim: 0 dim: 6 dim: 3 dim: 1 } } }
      layer { name: "dc" type: "Deconvolution" bottom: "rs" top: "dc" convolution_param { num_output: 4 group: 2 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 dilation: 2 } }`, {
      em: [random([6, 4], 5), random([4], 6)],
      ip: [random([1, 1, 6, 4], 7)],
      dc: [random([6, 2, 3, 2], 8), random([4], 9)],
    });
    await sameInBoth(net, { data: new Tensor([2, 3], Float32Array.of(0, 5, 2, 3, 3, 1)) });
  });

  it('Convolution and Deconvolution of two bottoms (one set of weights for both, FlowNet\'s siamese layers)', async () => {
    const net = netFrom(input([2, 3, 6, 7]) + `
      layer { name: "b" type: "Power" bottom: "data" top: "b" power_param { scale: -2 shift: 1 } }
      layer { name: "cv" type: "Convolution" bottom: "data" bottom: "b" top: "cva" top: "cvb" convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 } }
      layer { name: "dc" type: "Deconvolution" bottom: "cva" bottom: "cvb" top: "dca" top: "dcb" convolution_param { num_output: 2 kernel_size: 4 stride: 2 pad: 1 bias_term: false } }`, {
      cv: [random([4, 3, 3, 3], 10), random([4], 11)],
      dc: [random([4, 2, 4, 4], 12)],
    });
    const onnx = await sameInBoth(net, { data: random([2, 3, 6, 7], 13) });
    expect(relativeError(onnx.get('cva')!, onnx.get('cvb')!)).toBeGreaterThan(0.1); // the two bottoms' tops differ
  });

  it('BatchNorm with batch statistics (use_global_stats: false) and with a zero moving-average factor', async () => {
    const net = netFrom(input([3, 2, 3, 3]) + `
      layer { name: "bs" type: "BatchNorm" bottom: "data" top: "bs" batch_norm_param { use_global_stats: false } }
      layer { name: "bz" type: "BatchNorm" bottom: "data" top: "bz" }`, {
      bz: [random([2], 1), random([2], 2, 0.1), new Tensor([1], Float32Array.of(0))],
    });
    for (const opset of [13, 18]) {
      const onnx = await runOnnx(net.graph, { data: random([3, 2, 3, 3], 9) }, { outputs: 'all', opset });
      net.forward({ data: random([3, 2, 3, 3], 9) });
      for (const b of ['bs', 'bz']) expect(relativeError(onnx.get(b)!, net.blobs.get(b)!), `${b} at opset ${opset}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});

describe('Pooling: Caffe\'s output size and AVE divisors on random geometries', () => {
  it('MAX and AVE, CEIL and FLOOR, square and rectangular, match the native engine on 150 random cases', async () => {
    const random = rng(2024);
    let checked = 0, clipped = 0;
    for (let i = 0; i < 150; i++) {
      const [h, w] = [randomInt(random, 1, 11), randomInt(random, 1, 11)];
      const [kh, kw] = [randomInt(random, 1, 5), randomInt(random, 1, 5)];
      const [sh, sw] = [randomInt(random, 1, 3), randomInt(random, 1, 3)];
      const [ph, pw] = [randomInt(random, 0, kh - 1), randomInt(random, 0, kw - 1)];
      const pool = random() < 0.5 ? 'MAX' : 'AVE', round = random() < 0.3 ? 'FLOOR' : 'CEIL';
      if (h + 2 * ph < kh || w + 2 * pw < kw) continue;
      const net = netFrom(input([1, 2, h, w]) + `layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param {
        pool: ${pool} kernel_h: ${kh} kernel_w: ${kw} stride_h: ${sh} stride_w: ${sw} pad_h: ${ph} pad_w: ${pw} round_mode: ${round} } }`);
      const [oh, ow] = net.shapes.get('p')!.slice(2);
      // A last window wholly beyond the input (no pad, stride > kernel) is refused by the converter.
      if ((oh - 1) * sh - ph >= h || (ow - 1) * sw - pw >= w) {
        expect(() => convertGraph(net.graph)).toThrow(/last window lies wholly outside the input/);
        continue;
      }
      if (Math.ceil((h + 2 * ph - kh) / sh) + 1 !== oh || Math.ceil((w + 2 * pw - kw) / sw) + 1 !== ow) clipped++;
      const onnx = await runOnnx(net.graph, { data: randomTensor(random, [1, 2, h, w]) }, { outputs: 'all' });
      net.forward({ data: onnx.get('data')! });
      expect(relativeError(onnx.get('p')!, net.blobs.get('p')!), `${pool} ${round} ${h}x${w} k${kh}x${kw} s${sh}x${sw} p${ph}x${pw}`).toBeLessThanOrEqual(TOLERANCE);
      checked++;
    }
    expect(checked).toBeGreaterThan(100);
    expect(clipped, 'cases where Caffe drops a window starting in the padding').toBeGreaterThan(0);
  });
});

function randomTensor(random: () => number, dims: number[]): Tensor {
  return new Tensor(dims, randomArray(sizeOf(dims), random));
}
