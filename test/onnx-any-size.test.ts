// Size-free ONNX models (ConvertOptions.anySize, `crema convert --any-size`): each net converted ONCE at its own
// input shape, its height and width made symbolic (freeSize), then run in ONNX Runtime at several other sizes and
// compared with the native engine reshaped to each (the native engine is checked against real Caffe elsewhere:
// test/pooling.test.ts, the sweep; the Pooling cases also against Caffe here, fixtures/any-size). Tolerance as in
// test/onnx-layers.test.ts. Also: sizeDependence's refusals, word for word.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readNetPrototxt } from '../src/caffe/load.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import type { Dialect } from '../src/caffe/dialects.js';
import { freeSize, graphReshaper, sizeDependence } from '../src/onnx/batch.js';
import { type OnnxConversion, convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { CHECKED_SIZES, OnnxSessions, runOnnx } from '../src/onnx/run.js';
import { convert } from '../src/api.js';
import { DataType, type ValueInfoObj, decodeModel } from '../src/onnx/proto.js';
import { Net } from '../src/runtime/net.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { CremaError } from '../src/util/errors.js';
import { readNpy } from '../src/util/npy.js';
import { compareDetections } from '../src/verify/detections.js';
import { randomArray, rng } from './helpers/compute.js';
import { RECURRENT_NET, recurrentFeeds, recurrentWeights } from './helpers/recurrent.js';
import { cli } from './helpers/cli.js';
import { hashInputData, hashWeightBlobs } from './helpers/hashweights.mjs';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-5;
/** What the check says of an ArgMax over the width of a (1, 2, 6, 6) input (a net that builds the size in). */
const ARGMAX_REFUSAL = "layer 'r' (ArgMax) builds the input's size in (its constant 'r/rev_ends' is [-7] here, [-12] at [1, 2, 9, 11])";
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

/** HED's deploy net with the corpus's synthetic weights (hashweights, as test/corpus.test.ts makes them), cached. */
const corpusHed = (() => {
  const dir = path.join(here, 'fixtures/corpus/hed'), cache = path.join(os.tmpdir(), 'crema-any-size');
  const weights = path.join(cache, 'hed.caffemodel');
  if (!fs.existsSync(weights)) {
    fs.mkdirSync(cache, { recursive: true });
    const tmp = `${weights}.${process.pid}.tmp`;
    execFileSync(process.execPath, [path.join(here, 'fixtures/corpus/hashweights.mjs'), 'model', path.join(dir, 'spec.json'), tmp, '--salt', 'corpus']);
    fs.renameSync(tmp, weights);
  }
  return { prototxt: path.join(dir, 'net.prototxt'), weights };
})();

function netFrom(text: string, weights: Record<string, Tensor[]> = {}): Net {
  return Net.fromNetParameter(parsePrototxt(text, 'test.prototxt') as NetParameter, new Map(Object.entries(weights)));
}

function random(dims: number[], seed: number): Tensor {
  return new Tensor(dims, randomArray(sizeOf(dims), rng(seed)));
}

const input = (dims: number[], name = 'data') => `layer { name: "${name}" type: "Input" top: "${name}" input_param { shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } } }\n`;

/** The net's inputs reshaped: the graph at those shapes (as `crema convert` gives freeSize). */
// the graph's shapes only, as convert's checks at other sizes take them (src/api.ts): a refusal is said once, "at [...]"
const reshaper = (net: Net) => graphReshaper(net.graph);

/** The net converted once with anySize, its sizes freed (asserting that it serves every size), in a session. */
async function anySizeSession(net: Net, outputs: 'net' | 'all' | string[] = 'all', lrn: 'native' | 'decomposed' = 'native', opset?: number): Promise<{ conversion: OnnxConversion; session: ort.InferenceSession }> {
  const conversion = convertGraph(net.graph, { anySize: true, outputs, lrn, opset });
  expect(freeSize(net.graph, conversion, reshaper(net), { outputs, lrn, opset })).toBeUndefined();
  return { conversion, session: await ort.InferenceSession.create(encodeConversion(conversion), { intraOpNumThreads: 1, logSeverityLevel: 3 }) };
}

/** Runs the one session at `feeds`' shapes and the native net reshaped to them; every output must agree. */
async function sameAtSize(net: Net, { conversion, session }: { conversion: OnnxConversion; session: ort.InferenceSession }, feeds: Record<string, Tensor>, tolerance = TOLERANCE): Promise<void> {
  const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, new ort.Tensor('float32', t.data, [...t.dims])]));
  const results = await session.run(ortFeeds);
  net.forward(feeds);
  const at = Object.values(feeds).map((t) => t.dims.join('x')).join(', ');
  for (const [blob, name] of conversion.outputs) {
    const want = net.blobs.get(blob)!, got = results[name];
    expect([...got.dims], `shape of ${blob} at ${at}`).toEqual([...want.dims]);
    expect(relativeError(new Tensor([...got.dims], got.data as Float32Array), want), `${blob} at ${at}`).toBeLessThanOrEqual(tolerance);
  }
}

/** The net ('data' of `channels`) converted once, its sizes freed, then run at each (h, w) against the native engine. */
async function sizeFreeAt(net: Net, channels: number, sizes: number[][]): Promise<void> {
  const model = await anySizeSession(net);
  for (const [h, w] of sizes) await sameAtSize(net, model, { data: random([1, channels, h, w], h * w) });
  await model.session.release();
  net.dispose();
}

/** The Pooling cases: every rounding, pad 0/1/2, stride beyond the kernel, clipped windows, AVE overhang, masks. */
const POOLS: { name: string; param: string; tops?: number }[] = [
  { name: 'MAX k2 s2 ceil', param: 'pool: MAX kernel_size: 2 stride: 2' },
  { name: 'MAX k3 s2 ceil', param: 'pool: MAX kernel_size: 3 stride: 2' },
  { name: 'MAX k3 s2 p1 ceil', param: 'pool: MAX kernel_size: 3 stride: 2 pad: 1' },
  { name: 'MAX k2 s2 p1 ceil (clip)', param: 'pool: MAX kernel_size: 2 stride: 2 pad: 1' },
  { name: 'MAX k3 s3 p2 ceil (end pad capped at k - 1)', param: 'pool: MAX kernel_size: 3 stride: 3 pad: 2' },
  { name: 'MAX k3 s2 p1 floor', param: 'pool: MAX kernel_size: 3 stride: 2 pad: 1 round_mode: FLOOR' },
  { name: 'AVE k3 s2 ceil (overhang)', param: 'pool: AVE kernel_size: 3 stride: 2' },
  { name: 'AVE k3 s2 p1 ceil', param: 'pool: AVE kernel_size: 3 stride: 2 pad: 1' },
  { name: 'AVE k2 s2 p1 ceil (clip)', param: 'pool: AVE kernel_size: 2 stride: 2 pad: 1' },
  { name: 'AVE k3 s1 p1 ceil', param: 'pool: AVE kernel_size: 3 stride: 1 pad: 1' },
  { name: 'AVE k5 s3 ceil', param: 'pool: AVE kernel_size: 5 stride: 3' },
  { name: 'AVE k3 s3 p2 ceil (end pad capped at k - 1)', param: 'pool: AVE kernel_size: 3 stride: 3 pad: 2' },
  { name: 'AVE k2 s3 p1 ceil (stride beyond kernel)', param: 'pool: AVE kernel_size: 2 stride: 3 pad: 1' },
  { name: 'MAX k2 s3 p1 ceil (stride beyond kernel)', param: 'pool: MAX kernel_size: 2 stride: 3 pad: 1' },
  { name: 'AVE k3 s2 p2 floor', param: 'pool: AVE kernel_size: 3 stride: 2 pad: 2 round_mode: FLOOR' },
  { name: 'AVE 3x2 s2x1 p1x0 ceil', param: 'pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0' },
  { name: 'MAX 2x3 s1x2 p0x1 ceil', param: 'pool: MAX kernel_h: 2 kernel_w: 3 stride_h: 1 stride_w: 2 pad_h: 0 pad_w: 1' },
  { name: 'global MAX', param: 'pool: MAX global_pooling: true' },
  { name: 'global AVE', param: 'pool: AVE global_pooling: true' },
  { name: 'MAX k2 s2 ceil, mask top', param: 'pool: MAX kernel_size: 2 stride: 2', tops: 2 },
  { name: 'MAX k3 s2 p1 ceil, mask top', param: 'pool: MAX kernel_size: 3 stride: 2 pad: 1', tops: 2 },
];

/** Heights and widths that make every case round up and down and its clip fire and not. */
const SIZES: [number, number][] = [[7, 9], [8, 8], [9, 12], [12, 5], [13, 14], [6, 11]];

function poolNet(param: string, tops = 1, dims = [1, 2, 10, 10]): Net {
  const topText = tops === 2 ? 'top: "pool" top: "mask"' : 'top: "pool"';
  return netFrom(input(dims) + `layer { name: "pool" type: "Pooling" bottom: "data" ${topText} pooling_param { ${param} } }`);
}

describe('size-free Pooling: one model for every size, against the native engine', () => {
  for (const c of POOLS)
    it(c.name, async () => {
      const net = poolNet(c.param, c.tops);
      const model = await anySizeSession(net);
      for (const [i, [h, w]] of SIZES.entries()) await sameAtSize(net, model, { data: random([1, 2, h, w], 10 + i) });
      await model.session.release();
      net.dispose();
    });

  for (const [name, param] of [
    ['MAX k2 s1 (darknet\'s "same" maxpool: one more window)', 'pool: MAX kernel_size: 2 stride: 1'],
    ['AVE k4 s1 p1 (one more window, clipped)', 'pool: AVE kernel_size: 4 stride: 1 pad: 1'],
    ['MAX k3 s2 p1 (no growth: an even difference)', 'pool: MAX kernel_size: 3 stride: 2 pad: 1'],
  ])
    it(`the yolo dialect: ${name}`, async () => {
      const text = input([1, 2, 10, 10]) + `layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { ${param} } }`;
      const net = Net.fromNetParameter(parsePrototxt(text, 'yolo.prototxt') as NetParameter, new Map(), [], { dialect: 'yolo' });
      const model = await anySizeSession(net);
      for (const [i, [h, w]] of SIZES.entries()) await sameAtSize(net, model, { data: random([1, 2, h, w], 30 + i) });
      await model.session.release();
      net.dispose();
    });

  it('holds no constant of the input size: MAX one MaxPool, AVE\'s divisors a ones plane pooled, sized from Shape', () => {
    const net = poolNet('pool: AVE kernel_size: 2 stride: 2 pad: 1');
    const { model } = convertGraph(net.graph, { anySize: true });
    expect(model.graph.node.map((n) => n.op_type)).toEqual(['AveragePool', 'Shape', 'Slice', 'Add', 'Concat', 'Expand', 'AveragePool', 'Div']);
    const max = poolNet('pool: MAX kernel_size: 2 stride: 2 pad: 1');
    expect(convertGraph(max.graph, { anySize: true }).model.graph.node.map((n) => [n.op_type, n.attribute.find((a) => a.name === 'pads')?.ints])).toEqual([['MaxPool', [1, 1, 1, 1]]]);
    max.dispose();
    net.dispose();
  });

  it('refuses, naming the layer, a window past the image at some sizes (stride beyond the kernel, no pad)', () => {
    const net = poolNet('pool: MAX kernel_size: 2 stride: 3');
    expect(() => convertGraph(net.graph, { anySize: true })).toThrow(
      "layer 'pool' (Pooling): its last window lies wholly outside the input at some input sizes (stride larger than kernel, no pad), which ONNX cannot express");
    net.dispose();
  });
});

describe('size-free Pooling against real Caffe (fixtures/any-size: BVLC Caffe 1.0 at 7 x 9, 12 x 5, 13 x 14; make.sh)', () => {
  it('one model, converted at 10 x 10, gives every top Caffe computed at each size', async () => {
    const dir = path.join(here, 'fixtures/any-size');
    const net = await Net.load(path.join(dir, 'net.prototxt'));
    const { conversion, session } = await anySizeSession(net, 'net');
    expect(conversion.outputs.size).toBe(21);
    for (const size of ['7x9', '12x5', '13x14']) {
      const x = readNpy(path.join(dir, size, 'input.npy'));
      const results = await session.run({ data: new ort.Tensor('float32', x.data, [...x.dims]) });
      for (const [blob, name] of conversion.outputs) {
        const want = readNpy(path.join(dir, size, `${blob}.npy`)), got = results[name];
        expect([...got.dims], `shape of ${blob} at ${size}`).toEqual([...want.dims]);
        expect(relativeError(new Tensor([...got.dims], got.data as Float32Array), want), `${blob} at ${size}`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
    await session.release();
    net.dispose();
  });
});

describe('size-free Crop and Interp against the native engine', () => {
  it('Crop with offsets on axes 2 and 3 (and axis 1, offsets per axis), its ends from the reference\'s Shape', async () => {
    const net = netFrom(input([1, 3, 12, 14]) + input([1, 3, 8, 9], 'ref') + `
      layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 3 kernel_size: 3 pad: 1 } }
      layer { name: "crop" type: "Crop" bottom: "conv" bottom: "ref" top: "crop" crop_param { axis: 2 offset: 2 offset: 3 } }
      layer { name: "crop1" type: "Crop" bottom: "data" bottom: "ref" top: "crop1" crop_param { axis: 1 offset: 0 offset: 1 offset: 4 } }`, {
      conv: [random([3, 3, 3, 3], 1), random([3], 2)],
    });
    const model = await anySizeSession(net);
    for (const [h, w] of [[12, 14], [15, 13], [20, 30]]) await sameAtSize(net, model, { data: random([1, 3, h, w], h), ref: random([1, 3, h - 5, w - 4], w) });
    await model.session.release();
    net.dispose();
  });

  for (const [name, param] of [
    ['zoom_factor 2', 'zoom_factor: 2'],
    ['shrink_factor 2', 'shrink_factor: 2'],
    ['shrink 3 then zoom 2, cropped by pad_beg -1 pad_end -2', 'shrink_factor: 3 zoom_factor: 2 pad_beg: -1 pad_end: -2'],
    ['a fixed height and width', 'height: 9 width: 7'],
  ])
    it(`Interp, ${name}`, async () => {
      const net = netFrom(input([1, 2, 10, 11]) + `layer { name: "interp" type: "Interp" bottom: "data" top: "interp" interp_param { ${param} } }`);
      const model = await anySizeSession(net);
      for (const [h, w] of [[10, 11], [13, 7], [21, 16]]) await sameAtSize(net, model, { data: random([1, 2, h, w], h * w) });
      await model.session.release();
      net.dispose();
    });
  it("Interp use_blob_size (caffe-priv's): the size of bottom[1] at every size", async () => {
    const net = netFrom(input([1, 2, 10, 11]) + input([1, 1, 20, 22], 'lateral') + 'layer { name: "interp" type: "Interp" bottom: "data" bottom: "lateral" top: "interp" interp_param { use_blob_size: true pad_beg: -1 } }');
    const model = await anySizeSession(net);
    for (const [h, w] of [[10, 11], [13, 7], [21, 16]]) await sameAtSize(net, model, { data: random([1, 2, h, w], h * w), lateral: random([1, 1, 2 * h - 1, w + 3], h) });
    await model.session.release();
    net.dispose();
  });
});

/** One or two layers on a 1 x 4 x 8 x 8 input, weights (when they take some) of a fixed pattern. */
const LAYERS: [string, string, Record<string, number[][]>?][] = [
  ['LRN across', 'layer { name: "l" type: "LRN" bottom: "data" top: "l" lrn_param { local_size: 3 } }'],
  ['LRN across, decomposed', 'layer { name: "l" type: "LRN" bottom: "data" top: "l" lrn_param { local_size: 3 } }'],
  ['LRN within', 'layer { name: "l" type: "LRN" bottom: "data" top: "l" lrn_param { local_size: 3 norm_region: WITHIN_CHANNEL } }'],
  ['Softmax', 'layer { name: "l" type: "Softmax" bottom: "data" top: "l" }'],
  ['Softmax axis 2', 'layer { name: "l" type: "Softmax" bottom: "data" top: "l" softmax_param { axis: 2 } }'],
  ['Concat', 'layer { name: "l" type: "Concat" bottom: "data" bottom: "data" top: "l" }'],
  ['Slice', 'layer { name: "l" type: "Slice" bottom: "data" top: "a" top: "b" slice_param { slice_point: 1 } }'],
  ['Permute', 'layer { name: "l" type: "Permute" bottom: "data" top: "l" permute_param { order: 0 order: 2 order: 3 order: 1 } }'],
  ['Flatten', 'layer { name: "l" type: "Flatten" bottom: "data" top: "l" }'],
  ['Reshape 0 0 -1', 'layer { name: "l" type: "Reshape" bottom: "data" top: "l" reshape_param { shape { dim: 0 dim: 0 dim: -1 } } }'],
  ['Tile', 'layer { name: "l" type: "Tile" bottom: "data" top: "l" tile_param { axis: 1 tiles: 2 } }'],
  ['Upsample nearest', 'layer { name: "l" type: "Upsample" bottom: "data" top: "l" upsample_param { scale: 2 } }'],
  ['Upsample mask', 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" top: "m" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }\nlayer { name: "l" type: "Upsample" bottom: "p" bottom: "m" top: "l" upsample_param { scale: 2 } }'],
  ['Deconvolution', 'layer { name: "l" type: "Deconvolution" bottom: "data" top: "l" convolution_param { num_output: 2 kernel_size: 4 stride: 2 pad: 1 } }', { l: [[4, 2, 4, 4], [2]] }],
  ['Normalize', 'layer { name: "l" type: "Normalize" bottom: "data" top: "l" norm_param { across_spatial: false } }', { l: [[1]] }],
  ['Normalize across', 'layer { name: "l" type: "Normalize" bottom: "data" top: "l" norm_param { across_spatial: true } }', { l: [[1]] }],
  ['MVN', 'layer { name: "l" type: "MVN" bottom: "data" top: "l" }'],
  ['BatchNorm', 'layer { name: "l" type: "BatchNorm" bottom: "data" top: "l" }', { l: [[4], [4], [1]] }],
  ['Scale', 'layer { name: "l" type: "Scale" bottom: "data" top: "l" scale_param { bias_term: true } }', { l: [[4], [4]] }],
  ['PReLU', 'layer { name: "l" type: "PReLU" bottom: "data" top: "l" }', { l: [[4]] }],
  ['ArgMax axis 1', 'layer { name: "l" type: "ArgMax" bottom: "data" top: "l" argmax_param { axis: 1 } }'],
  ['Reduction', 'layer { name: "l" type: "Reduction" bottom: "data" top: "l" reduction_param { axis: 2 } }'],
  ['Reduction over the width (every axis named: no rows constant)', 'layer { name: "l" type: "Reduction" bottom: "data" top: "l" reduction_param { axis: 3 operation: MEAN } }'],
  ['Eltwise', 'layer { name: "l" type: "Eltwise" bottom: "data" bottom: "data" top: "l" }'],
  ['Power', 'layer { name: "l" type: "Power" bottom: "data" top: "l" power_param { power: 2 } }'],
  ['ShuffleChannel', 'layer { name: "l" type: "ShuffleChannel" bottom: "data" top: "l" shuffle_channel_param { group: 2 } }'],
  ['Convolution dw', 'layer { name: "l" type: "ConvolutionDepthwise" bottom: "data" top: "l" convolution_param { num_output: 4 kernel_size: 3 pad: 1 } }', { l: [[4, 1, 3, 3], [4]] }],
  ['Bias', 'layer { name: "l" type: "Bias" bottom: "data" top: "l" }', { l: [[4]] }],
  ['Flip (happynear\'s): width, both, height', 'layer { name: "w" type: "Flip" bottom: "data" top: "w" }\nlayer { name: "hw" type: "Flip" bottom: "data" top: "hw" flip_param { flip_height: true } }\nlayer { name: "h" type: "Flip" bottom: "data" top: "h" flip_param { flip_width: false flip_height: true } }'],
  ['Crop', 'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 pad: 2 } }\nlayer { name: "l" type: "Crop" bottom: "c" bottom: "data" top: "l" crop_param { axis: 2 offset: 1 } }', { c: [[4, 4, 3, 3], [4]] }],
];

function layerNet(text: string, w: Record<string, number[][]> = {}): Net {
  const weights = Object.fromEntries(Object.entries(w).map(([k, shapes]) => [k, shapes.map((d) => new Tensor(d, Float32Array.from({ length: sizeOf(d) }, (_, i) => (i % 7) / 7 + 0.1)))]));
  return netFrom(input([1, 4, 8, 8]) + text, weights);
}

// Reorg, SPP and Slice on a spatial axis have their own cases below (sizes they take, both ways, every level).
describe('every layer kind: size-free and right at three sizes', () => {
  for (const [name, text, w] of LAYERS)
    it(name, async () => {
      const net = layerNet(text, w);
      const model = await anySizeSession(net, 'all', name === 'LRN across, decomposed' ? 'decomposed' : 'native');
      for (const [h, w] of [[8, 8], [11, 13], [16, 10]]) await sameAtSize(net, model, { data: random([1, 4, h, w], h * w) });
      await model.session.release();
      net.dispose();
    });
});

/** Reorg (YOLOv2's passthrough, eric612/MobileNet-YOLO's semantics): both ways, strides 2 and 3, at sizes it takes. */
const REORGS: [string, string, number, [number, number][]][] = [
  ['stride 2 (space to depth, darknet\'s order)', 'stride: 2', 8, [[12, 12], [14, 18], [20, 10]]],
  ['stride 2, reverse (depth to space)', 'stride: 2 reverse: true', 8, [[12, 12], [11, 13], [7, 16]]],
  ['stride 3, reverse', 'stride: 3 reverse: true', 18, [[5, 4], [9, 13], [12, 7]]],
];

describe('size-free Reorg: its view and shape from the Shape, against the native engine at three sizes', () => {
  for (const [name, param, channels, sizes] of REORGS)
    it(name, async () => {
      const net = netFrom(input([1, channels, ...sizes[0]]) + `layer { name: "l" type: "Reorg" bottom: "data" top: "l" reorg_param { ${param} } }`);
      const model = await anySizeSession(net);
      for (const [h, w] of sizes) await sameAtSize(net, model, { data: random([1, channels, h, w], h * w) });
      await model.session.release();
      net.dispose();
    });

  it('stride 3 (space to depth): size-free, the check stepping the size by multiples of 3 (the net\'s step); at two other sizes', async () => {
    const net = netFrom(input([1, 18, 9, 12]) + 'layer { name: "l" type: "Reorg" bottom: "data" top: "l" reorg_param { stride: 3 } }');
    await sizeFreeAt(net, 18, [[12, 15], [21, 6]]);
  });

  it('stride 3 after a stride-3 pooling: multiples of 9 (the strides before the Reorg count), at two other sizes', async () => {
    const net = netFrom(input([1, 9, 18, 27]) + `
      layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: AVE kernel_size: 3 stride: 3 } }
      layer { name: "l" type: "Reorg" bottom: "p" top: "l" reorg_param { stride: 3 } }`);
    await sizeFreeAt(net, 9, [[36, 9], [27, 45]]);
  });

  it('stride 3, then an InnerProduct: still refused at a multiple of 3, naming the InnerProduct', () => {
    const net = netFrom(input([1, 18, 9, 12]) + `
      layer { name: "l" type: "Reorg" bottom: "data" top: "l" reorg_param { stride: 3 } }
      layer { name: "fc" type: "InnerProduct" bottom: "l" top: "fc" inner_product_param { num_output: 2 } }`, {
      fc: [random([2, 1944], 1), random([2], 2)],
    });
    expect(sizeDependence(net.graph, convertGraph(net.graph, { anySize: true }), reshaper(net), {})).toBe(
      "at [1, 18, 18, 27], layer 'fc' (InnerProduct): the weights (blob 0) has shape [2, 1944] but the layer needs [2, 8748]");
    expect([...net.shapes.get('data')!]).toEqual([1, 18, 9, 12]); // put back
    net.dispose();
  });

  it('holds no constant of the size: the batch and height copied by Reshape\'s 0, the rest from Shape', () => {
    const net = netFrom(input([1, 8, 12, 12]) + 'layer { name: "l" type: "Reorg" bottom: "data" top: "l" reorg_param { stride: 2 } }');
    const { model } = convertGraph(net.graph, { anySize: true });
    const values = (t: (typeof model.graph.initializer)[number]) => [...new BigInt64Array(t.raw_data.slice().buffer)].map(Number);
    expect(model.graph.initializer.map((t) => [t.name, values(t)])).toEqual([['l/int64_2', [2]], ['l/int64_4', [4]], ['l/int64_0', [0]], ['l/strides', [2, 2]], ['l/view', [0, 2, 0, 2, -1, 2]], ['l/shape_head', [0, 32]]]);
    net.dispose();
  });
});

/** SPP: MAX and AVE, pyramids of 1 to 4 levels, at sizes whose windows pad, clip and divide differently. */
const SPPS: [string, string, [number, number][], number?][] = [
  ['MAX, 2 levels', 'pyramid_height: 2', [[8, 8], [11, 13], [16, 10]]],
  ['MAX, 3 levels (pads at odd sizes)', 'pyramid_height: 3', [[8, 8], [13, 11], [9, 20]]],
  ['MAX, 3 levels, opset 18 (ReduceMax\'s axes an input)', 'pyramid_height: 3', [[8, 8], [13, 11], [9, 20]], 18],
  ['AVE, 3 levels (divisors of windows in the pad)', 'pyramid_height: 3 pool: AVE', [[8, 8], [13, 11], [9, 20]]],
  ['AVE, 4 levels', 'pyramid_height: 4 pool: AVE', [[16, 16], [21, 27], [30, 24]]],
  ['MAX, 1 level (its top 4-D)', 'pyramid_height: 1', [[8, 8], [11, 13], [3, 7]]],
  ['AVE, 1 level', 'pyramid_height: 1 pool: AVE', [[8, 8], [11, 13], [3, 7]]],
];

describe('size-free SPP: each level\'s windows from the Shape, against the native engine at three sizes', () => {
  for (const [name, param, sizes, opset] of SPPS)
    it(name, async () => {
      const net = netFrom(input([1, 3, ...sizes[0]]) + `layer { name: "l" type: "SPP" bottom: "data" top: "l" spp_param { ${param} } }`);
      const model = await anySizeSession(net, 'all', 'native', opset);
      for (const [h, w] of sizes) await sameAtSize(net, model, { data: random([1, 3, h, w], h * w) });
      await model.session.release();
      net.dispose();
    });

  it('reads the input\'s Shape once for every level and axis (MAX and AVE; a single level reads none)', () => {
    for (const [pool, height, shapes] of [['MAX', 4, 1], ['AVE', 3, 1], ['MAX', 1, 0]] as const) {
      const net = netFrom(input([1, 3, 16, 16]) + `layer { name: "l" type: "SPP" bottom: "data" top: "l" spp_param { pyramid_height: ${height} pool: ${pool} } }`);
      expect(convertGraph(net.graph, { anySize: true }).model.graph.node.filter((n) => n.op_type === 'Shape').length, `${pool}, ${height} levels`).toBe(shapes);
      net.dispose();
    }
  });

  it('refuses STOCHASTIC, as for one size', () => {
    const net = netFrom(input([1, 3, 8, 8]) + 'layer { name: "l" type: "SPP" bottom: "data" top: "l" spp_param { pyramid_height: 2 pool: STOCHASTIC } }');
    expect(() => convertGraph(net.graph, { anySize: true })).toThrow(/^layer 'l' \(SPP\): pool STOCHASTIC has no ONNX equivalent; crema converts MAX and AVE$/);
    net.dispose();
  });
});

/** Slice along a spatial axis: equal parts (Split at run time) or slice points (the last part open). */
const SLICES: [string, string, number, [number, number][], number?][] = [
  ['height into 2 equal parts', 'axis: 2', 2, [[8, 8], [10, 7], [16, 13]]],
  ['width into 4 equal parts (opset 18: num_outputs)', 'axis: 3', 4, [[8, 8], [7, 12], [13, 20]], 18],
  ['width into 2 equal parts, opset 13', 'slice_dim: 3', 2, [[8, 8], [9, 6], [5, 14]], 13],
  ['height at slice points 1 and 3, the last part the rest', 'axis: 2 slice_point: 1 slice_point: 3', 3, [[8, 8], [4, 9], [17, 5]]],
];

describe('size-free Slice on a spatial axis, against the native engine at three sizes', () => {
  for (const [name, param, tops, sizes, opset] of SLICES)
    it(name, async () => {
      const topText = Array.from({ length: tops }, (_, i) => `top: "s${i}"`).join(' ');
      const net = netFrom(input([1, 3, ...sizes[0]]) + `layer { name: "l" type: "Slice" bottom: "data" ${topText} slice_param { ${param} } }`);
      const model = await anySizeSession(net, 'all', 'native', opset);
      for (const [h, w] of sizes) await sameAtSize(net, model, { data: random([1, 3, h, w], h * w) });
      await model.session.release();
      net.dispose();
    });

  it('height into 3 equal parts: size-free, the check stepping the size by multiples of 3; at two other sizes', async () => {
    const net = netFrom(input([1, 3, 6, 6]) + 'layer { name: "l" type: "Slice" bottom: "data" top: "a" top: "b" top: "c" slice_param { axis: 2 } }');
    await sizeFreeAt(net, 3, [[9, 7], [15, 4]]);
  });

  it('width into 5 equal parts after a stride-3 convolution: multiples of 15, at two other sizes', async () => {
    const net = netFrom(input([1, 1, 15, 15]) + `
      layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 2 kernel_size: 3 stride: 3 } }
      layer { name: "l" type: "Slice" bottom: "conv" top: "a" top: "b" top: "c" top: "d" top: "e" slice_param { axis: 3 } }`, {
      conv: [random([2, 1, 3, 3], 1), random([2], 2)],
    });
    await sizeFreeAt(net, 1, [[8, 30], [20, 45]]);
  });
});

/** PriorBox settings: each a one-layer net over a 3 x 3 / stride 3 pooled feature map of the image. */
const PRIORS: [string, string, Dialect?][] = [
  ['min_size only', 'min_size: 4'],
  ['min and max', 'min_size: 4 max_size: 9'],
  ['two min and max, aspect ratios with flip', 'min_size: 4 max_size: 9 min_size: 10 max_size: 15 aspect_ratio: 2 aspect_ratio: 3 flip: true'],
  ['clip, min_size 8.7 (truncated), aspect ratio without flip', 'min_size: 8.7 aspect_ratio: 2 clip: true'],
  ['explicit step', 'min_size: 4 max_size: 7 step: 5'],
  ['explicit step_h and step_w', 'min_size: 4 step_h: 2.5 step_w: 7'],
  ['img_size given', 'min_size: 6 img_size: 50 clip: true'],
  ['img_h and img_w given, with a step', 'min_size: 6 img_h: 40 img_w: 33 step: 4'],
  ['offset 0.25, four variances', 'min_size: 5 offset: 0.25 variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2'],
  ["TextBoxes++' denser_prior_boxes", 'min_size: 6 max_size: 12 aspect_ratio: 2 aspect_ratio: 5 flip: false denser_prior_boxes: true'],
  ["FaceBoxes' densified 32 and 64 (the faceboxes dialect)", 'min_size: 32 min_size: 64 min_size: 128 clip: false', 'faceboxes'],
  ["TextBoxes' PriorBox (the textboxes dialect: float sizes, each box and the one a cell lower, clip by default)", 'min_size: 6.5 max_size: 12.5 aspect_ratio: 2 flip: true', 'textboxes'],
];

function priorNet(param: string, dialect?: Dialect): Net {
  const text = input([1, 3, 24, 30]) + `
    layer { name: "fmap" type: "Pooling" bottom: "data" top: "fmap" pooling_param { pool: MAX kernel_size: 3 stride: 3 } }
    layer { name: "pb" type: "PriorBox" bottom: "fmap" bottom: "data" top: "pb" prior_box_param { ${param} } }`;
  return Net.fromNetParameter(parsePrototxt(text, 'pb.prototxt') as NetParameter, new Map(), [], { dialect });
}

// The native PriorBox is proven against the SSD fork (test/ssd.test.ts), FaceBoxes' and TextBoxes' Caffes
// (faceboxes.test.ts, fork-nets.test.ts). Tolerance: 1e-6 absolute on every coordinate and variance (the corners are
// computed in double, as the fork's, so they come out equal here; 1e-6 allows an ONNX Runtime that fuses them).
describe('size-free PriorBox: one model, its boxes from the Shapes, against the native engine at three sizes', () => {
  for (const [name, param, dialect] of PRIORS)
    it(name, async () => {
      const net = priorNet(param, dialect);
      const { conversion, session } = await anySizeSession(net, ['pb']);
      for (const [h, w] of [[24, 30], [31, 17], [50, 44]]) {
        const data = random([1, 3, h, w], h * w);
        const got = (await session.run({ data: new ort.Tensor('float32', data.data, [...data.dims]) }))[conversion.outputs.get('pb')!];
        net.forward({ data });
        const want = net.blobs.get('pb')!;
        expect([...got.dims], `at ${h} x ${w}`).toEqual([...want.dims]);
        const diff = (got.data as Float32Array).reduce((m, v, i) => Math.max(m, Math.abs(v - want.data[i])), 0);
        expect(diff, `at ${h} x ${w}`).toBeLessThanOrEqual(1e-6);
      }
      await session.release();
      net.dispose();
    });

  it('holds no constant of the size: the boxes a cell writes (half sizes) are the only data, the rest from Shape', () => {
    const net = priorNet('min_size: 4 max_size: 9 aspect_ratio: 2 flip: true clip: true');
    const { model } = convertGraph(net.graph, { anySize: true, outputs: ['pb'] });
    const sizes = model.graph.initializer.filter((t) => t.data_type === 1 && t.dims.length > 0).map((t) => [t.name, t.dims]);
    expect(sizes).toEqual([['pb/xs', [4]], ['pb/ys', [4]], ['pb/half_sizes', [4, 4]], ['pb/variance', [1, 1, 1, 1]]]);
    expect(model.graph.node.filter((n) => n.op_type === 'Shape').length).toBe(3);
    net.dispose();
  });
});

describe('size-free LSTM and RNN (a Scan over the T of the run, its body the unrolled step), against the native engine', () => {
  it('one model: every top and final state at three T and N (cont resets mid-sequence, x_static, expose_hidden)', async () => {
    const net = netFrom(RECURRENT_NET, recurrentWeights());
    const model = await anySizeSession(net, 'all');
    // The resets are there at each size: cont has zeros after the first step.
    for (const [N, T] of [[2, 7], [1, 1], [3, 12]]) {
      const feeds = recurrentFeeds(N, T);
      if (T > 1) expect(feeds.cont_in.data.slice(N).includes(0), `a reset mid-sequence at ${N} x ${T}`).toBe(true);
      await sameAtSize(net, model, feeds);
    }
    await model.session.release();
    net.dispose();
  });

  it("real Caffe's blobs (test/fixtures/layers/recurrent: cont resets and 0.5, x_static, expose_hidden, a 4-D x), and bit for bit the unrolled model's", async () => {
    // That fixture's Reshapes hold its one size, so the Scan form is converted (anySize) at that size and not freed.
    const dir = path.join(here, 'fixtures/layers/recurrent');
    const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'));
    const data = readNpy(path.join(dir, 'input.npy'));
    const run = async (anySize: boolean) => {
      const conversion = convertGraph(net.graph, { outputs: 'all', anySize });
      const session = await ort.InferenceSession.create(encodeConversion(conversion), { intraOpNumThreads: 1, logSeverityLevel: 3 });
      const results = await session.run({ data: new ort.Tensor('float32', data.data, [...data.dims]) });
      await session.release();
      return (blob: string) => new Tensor([...results[conversion.outputs.get(blob)!].dims], results[conversion.outputs.get(blob)!].data as Float32Array);
    };
    const [scan, unrolled] = [await run(true), await run(false)];
    const tops = ['lstm', 'lstm_s', 'lstm_e', 'lstm_e_hT', 'lstm_e_cT', 'lstm_se', 'lstm_se_hT', 'lstm_se_cT', 'rnn', 'rnn_se', 'rnn_se_hT'];
    for (const blob of tops) {
      expect(relativeError(scan(blob), readNpy(path.join(dir, 'blobs', `${blob}.npy`))), `${blob} against Caffe`).toBeLessThanOrEqual(TOLERANCE);
      expect(scan(blob).data, `${blob}: the Scan's and the unrolled model's`).toEqual(unrolled(blob).data);
    }
    net.dispose();
  });

  it('one Scan per layer, no step unrolled; without anySize the same layers unrolled (cont and the x gates Split into the steps)', () => {
    const net = netFrom(RECURRENT_NET, recurrentWeights());
    const ops = (anySize: boolean) => convertGraph(net.graph, { anySize, outputs: 'all' }).model.graph.node.map((n) => n.op_type);
    expect(ops(true).filter((op) => op === 'Scan')).toHaveLength(6);
    expect(ops(true)).not.toContain('Split');
    expect(ops(false)).not.toContain('Scan');
    expect(ops(false).filter((op) => op === 'Split')).toHaveLength(6 * 2); // cont and x gates, 5 steps each
    net.dispose();
  });

  it("both forms hold each weight blob once (the unrolled form wrote W_h, and RNN's W_o and b_o, once per step)", () => {
    const net = netFrom(RECURRENT_NET, recurrentWeights());
    const floats = Object.values(recurrentWeights()).flat().reduce((n, t) => n + t.data.length, 0);
    for (const anySize of [false, true]) {
      const { model } = convertGraph(net.graph, { anySize, outputs: 'all' });
      // Float constants but the scalars and the unrolled form's zero states (1, N, H): the weights and biases.
      const held = model.graph.initializer.filter((t) => t.data_type === DataType.FLOAT && t.raw_data.length > 4 && t.raw_data.some((b) => b !== 0)).reduce((n, t) => n + t.raw_data.length / 4, 0);
      expect(held, `anySize ${anySize}`).toBe(floats);
    }
    net.dispose();
  });
});

/**
 * CTPN's bidirectional Lstm (its Reverse, Transpose and Lstm), as its deploy net wires them, on a map (1, C, H, W):
 * W steps of H streams, the second direction read backwards and turned back.
 */
describe("size-free CTPN Lstm, Reverse and Transpose (tianzhi0549/CTPN's), against the native engine", () => {
  it('one model at three widths and heights', async () => {
    const H = 3, C = 2;
    const net = netFrom(input([1, C, 2, 5]) + `
      layer { name: "t" type: "Transpose" bottom: "data" top: "t" transpose_param { dim: 3 dim: 2 dim: 0 dim: 1 } }
      layer { name: "seq" type: "Reshape" bottom: "t" top: "seq" reshape_param { shape { dim: -1 } axis: 1 num_axes: 2 } }
      layer { name: "fwd" type: "Lstm" bottom: "seq" top: "fwd" lstm_param { num_output: ${H} } }
      layer { name: "rev" type: "Reverse" bottom: "seq" top: "rev" reverse_param { axis: 0 } }
      layer { name: "bwd_r" type: "Lstm" bottom: "rev" top: "bwd_r" lstm_param { num_output: ${H} } }
      layer { name: "bwd" type: "Reverse" bottom: "bwd_r" top: "bwd" reverse_param { axis: 0 } }
      layer { name: "both" type: "Concat" bottom: "fwd" bottom: "bwd" top: "both" concat_param { axis: 2 } }
      layer { name: "map" type: "Reshape" bottom: "both" top: "map" reshape_param { shape { dim: -1 dim: 1 } axis: 1 num_axes: 1 } }
      layer { name: "back" type: "Transpose" bottom: "map" top: "back" transpose_param { dim: 2 dim: 3 dim: 1 dim: 0 } }`, {
      fwd: [random([4 * H, C], 1), random([4 * H, H], 2), random([4 * H], 3)],
      bwd_r: [random([4 * H, C], 4), random([4 * H, H], 5), random([4 * H], 6)],
    });
    const model = await anySizeSession(net, 'all');
    for (const [h, w] of [[1, 9], [2, 1], [3, 14]]) await sameAtSize(net, model, { data: random([1, C, h, w], h * w) });
    await model.session.release();
    net.dispose();
  });
});

describe('sizeDependence: a net that builds the size in is named by its first such layer', () => {
  it("a placeholder input of 1 x 1 (OpenPose's hand and face prototxts): the output's height and width declared free, not the 1 they are at small sizes", async () => {
    const pool = (i: number, from: string) => `layer { name: "p${i}" type: "Pooling" bottom: "${from}" top: "p${i}" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }\n`;
    const net = netFrom(input([1, 2, 1, 1]) + pool(1, 'data') + pool(2, 'p1') + pool(3, 'p2'));
    const conversion = convertGraph(net.graph, { anySize: true });
    expect(freeSize(net.graph, conversion, (shapes) => (net.reshape(shapes as Record<string, number[]>), net.graph), { anySize: true })).toBeUndefined();
    expect(conversion.model.graph.output[0].type.tensor_type.shape!.dim).toEqual([{ dim_value: 1 }, { dim_value: 2 }, { dim_param: 'p3_2' }, { dim_param: 'p3_3' }]);
    const model = await anySizeSession(net, 'net');
    await sameAtSize(net, model, { data: random([1, 2, 64, 72], 1) });
    await model.session.release();
    net.dispose();
  });

  it('branches that meet after a stride of 3 (pooled, deconvolved back, added to the input): size-free at multiples of 3', async () => {
    const net = netFrom(input([1, 2, 9, 12]) + `
      layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: MAX kernel_size: 3 stride: 3 } }
      layer { name: "up" type: "Deconvolution" bottom: "p" top: "up" convolution_param { num_output: 2 kernel_size: 3 stride: 3 } }
      layer { name: "sum" type: "Eltwise" bottom: "data" bottom: "up" top: "sum" }`, {
      up: [random([2, 2, 3, 3], 1), random([2], 2)],
    });
    await sizeFreeAt(net, 2, [[6, 21], [15, 3]]);
  });

  it("a height shrunk by Interp's shrink_factor 3 ((n - 1) / 3 + 1), then sliced into 3 parts: multiples of 9", async () => {
    const net = netFrom(input([1, 2, 9, 12]) + `
      layer { name: "s" type: "Interp" bottom: "data" top: "s" interp_param { shrink_factor: 3 } }
      layer { name: "l" type: "Slice" bottom: "s" top: "a" top: "b" top: "c" slice_param { axis: 2 } }`);
    await sizeFreeAt(net, 2, [[18, 7], [27, 20]]);
  });

  it('an hourglass of four stride-3 convolutions and four stride-3 deconvolutions, added at each level: multiples of 81 (a deconvolution multiplies)', async () => {
    const conv = (name: string, from: string, type: string) => `layer { name: "${name}" type: "${type}" bottom: "${from}" top: "${name}" convolution_param { num_output: 1 kernel_size: 3 stride: 3 } }\n`;
    const add = (name: string, a: string, b: string) => `layer { name: "${name}" type: "Eltwise" bottom: "${a}" bottom: "${b}" top: "${name}" }\n`;
    const text = input([1, 1, 81, 81]) + conv('c1', 'data', 'Convolution') + conv('c2', 'c1', 'Convolution') + conv('c3', 'c2', 'Convolution') + conv('c4', 'c3', 'Convolution') +
      conv('d3', 'c4', 'Deconvolution') + add('s3', 'd3', 'c3') + conv('d2', 's3', 'Deconvolution') + add('s2', 'd2', 'c2') +
      conv('d1', 's2', 'Deconvolution') + add('s1', 'd1', 'c1') + conv('d0', 's1', 'Deconvolution') + add('s0', 'd0', 'data');
    const names = ['c1', 'c2', 'c3', 'c4', 'd3', 'd2', 'd1', 'd0'];
    const net = netFrom(text, Object.fromEntries(names.map((n, i) => [n, [random([1, 1, 3, 3], 2 * i + 1), random([1], 2 * i + 2)]])));
    await sizeFreeAt(net, 1, [[162, 81], [243, 324]]);
  });

  it("C3D's temporal_stride 3, then the frames sliced into 3: multiples of 9 frames, at two other lengths and sizes", async () => {
    const net = netFrom(input([1, 2, 9, 4, 4]) + `
      layer { name: "c" type: "Convolution3D" bottom: "data" top: "c" convolution_param { num_output: 1 kernel_size: 1 kernel_depth: 3 temporal_stride: 3 } }
      layer { name: "l" type: "Slice" bottom: "c" top: "a" top: "b" top: "e" slice_param { axis: 2 } }`, { c: [random([1, 2, 3, 1, 1], 1), random([1], 2)] });
    const model = await anySizeSession(net);
    for (const dims of [[1, 2, 18, 5, 3], [1, 2, 27, 2, 6]]) await sameAtSize(net, model, { data: random(dims, dims[2]) });
    await model.session.release();
    net.dispose();
  });

  it("Correlation's stride_1 3 counts in the step: the refusal names the Correlation (its size built in), not a Slice at a size the step missed", () => {
    const net = netFrom(input([1, 2, 9, 12]) + `
      layer { name: "c" type: "Correlation" bottom: "data" bottom: "data" top: "c" correlation_param { pad: 0 kernel_size: 1 max_displacement: 0 stride_1: 3 stride_2: 1 } }
      layer { name: "l" type: "Slice" bottom: "c" top: "a" top: "b" top: "e" slice_param { axis: 2 } }`);
    expect(sizeDependence(net.graph, convertGraph(net.graph, { anySize: true }), reshaper(net), {})).toMatch(/^layer 'c' \(Correlation\) builds the input's size in \(its constant/);
    net.dispose();
  });

  it('an InnerProduct after a spatial blob', () => {
    const net = netFrom(input([1, 2, 6, 6]) + `
      layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
      layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 4 } }`, {
      fc: [random([4, 18], 1), random([4], 2)],
    });
    const conversion = convertGraph(net.graph, { anySize: true });
    expect(sizeDependence(net.graph, conversion, reshaper(net), {})).toBe(
      "at [1, 2, 9, 11], layer 'fc' (InnerProduct): the weights (blob 0) has shape [4, 18] but the layer needs [4, 60]");
    expect([...net.shapes.get('data')!]).toEqual([1, 2, 6, 6]); // put back
    net.dispose();
  });

  it('an InnerProduct after a stride of 16: a few pixels more give the same 1 x 1, twice the size does not', () => {
    const net = netFrom(input([1, 1, 16, 16]) + `
      layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" convolution_param { num_output: 1 kernel_size: 16 stride: 16 } }
      layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc" inner_product_param { num_output: 2 } }`, {
      conv: [random([1, 1, 16, 16], 1), random([1], 2)], fc: [random([2, 1], 3), random([2], 4)],
    });
    expect(sizeDependence(net.graph, convertGraph(net.graph, { anySize: true }), reshaper(net), {})).toBe(
      "at [1, 1, 32, 32], layer 'fc' (InnerProduct): the weights (blob 0) has shape [2, 1] but the layer needs [2, 4]");
    net.dispose();
  });

  it('an ArgMax over the width (its reversal\'s end holds the width)', () => {
    const net = netFrom(input([1, 2, 6, 6]) + `
      layer { name: "relu" type: "ReLU" bottom: "data" top: "relu" }
      layer { name: "r" type: "ArgMax" bottom: "relu" top: "r" argmax_param { axis: 3 } }`);
    const conversion = convertGraph(net.graph, { anySize: true });
    expect(sizeDependence(net.graph, conversion, reshaper(net), {})).toBe(ARGMAX_REFUSAL);
    net.dispose();
  });

  it('a Reshape whose merged axes do not run to the last (CTPN\'s and caffe_ocr\'s): size-free, the last axes from the Shape', async () => {
    const net = netFrom(input([1, 2, 6, 6]) + `
      layer { name: "relu" type: "ReLU" bottom: "data" top: "relu" }
      layer { name: "flat" type: "Reshape" bottom: "relu" top: "flat" reshape_param { axis: 1 num_axes: 2 shape { dim: -1 } } }
      layer { name: "mid" type: "Reshape" bottom: "relu" top: "mid" reshape_param { axis: 2 num_axes: 1 shape { dim: 0 dim: 1 } } }`);
    await sizeFreeAt(net, 2, [[6, 6], [9, 11], [13, 4]]);
  });
});

describe('whole nets, converted once, at several sizes against the native engine', () => {
  it("MTCNN's P-Net (models/mtcnn, its released weights)", async () => {
    const net = await Net.load(path.join(root, 'models/mtcnn/det1.prototxt'), path.join(root, 'models/mtcnn/det1.caffemodel'), { threads: 1 });
    const model = await anySizeSession(net, 'net');
    for (const [h, w] of [[12, 12], [31, 47], [64, 50]]) await sameAtSize(net, model, { data: random([1, 3, h, w], h + w) });
    await model.session.release();
    net.dispose();
  });

  it("FCN's Caffe of 2015 (the hed dialect): Convolution padded by 3, Pooling, Deconvolution, two Crops (fixtures/fcn2015-crop)", async () => {
    const dir = path.join(here, 'fixtures/fcn2015-crop');
    const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'), { threads: 1 });
    await sizeFreeAt(net, 2, [[10, 12], [13, 9], [20, 17]]);
  });

  it.skipIf(!corpusHed)('HED (test/fixtures/corpus/hed, hashweights): its five side outputs up-sampled and cropped, fused', async () => {
    const net = await Net.load(corpusHed!.prototxt, corpusHed!.weights, { threads: 2 });
    const model = await anySizeSession(net, 'net');
    for (const [h, w] of [[64, 64], [75, 90], [96, 70]]) await sameAtSize(net, model, { data: random([1, 3, h, w], h + 2 * w) }, 1e-4);
    await model.session.release();
    net.dispose();
  }, 120_000);
});

/** OpenCV's res10 SSD face detector (fixtures/ssd/res10_face) with its fixture's weights, which find real faces' rows. */
function res10(): Net {
  const dir = path.join(here, 'fixtures/ssd/res10_face');
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { salt: string; gain: number };
  const weights = new Map(hashWeightBlobs(path.join(dir, 'spec.json'), m.salt, m.gain).map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))]));
  return Net.fromNetParameter(readNetPrototxt(path.join(dir, 'net.prototxt')), weights, [], { threads: 1 });
}

/** Photos of other sizes than res10's 300 x 300, as OpenCV's face demo feeds it: odd and even, wider and taller. */
const PHOTOS: [number, number][] = [[240, 320], [333, 271], [300, 401]];

/** A small SSD head: one strided feature map, its PriorBox and a DetectionOutput of unshared locations. */
const SMALL_SSD = input([1, 2, 12, 12]) + `
      layer { name: "loc" type: "Convolution" bottom: "data" top: "loc" convolution_param { num_output: 12 kernel_size: 3 pad: 1 stride: 2 } }
      layer { name: "conf" type: "Convolution" bottom: "data" top: "conf" convolution_param { num_output: 3 kernel_size: 3 pad: 1 stride: 2 } }
      layer { name: "pb" type: "PriorBox" bottom: "loc" bottom: "data" top: "pb" prior_box_param { min_size: 4 clip: true } }
      layer { name: "lf" type: "Flatten" bottom: "loc" top: "lf" }
      layer { name: "cp" type: "Permute" bottom: "conf" top: "cp" permute_param { order: 0 order: 2 order: 3 order: 1 } }
      layer { name: "cs" type: "Softmax" bottom: "cp" top: "cs" softmax_param { axis: 3 } }
      layer { name: "cf" type: "Flatten" bottom: "cs" top: "cf" }
      layer { name: "det" type: "DetectionOutput" bottom: "lf" bottom: "cf" bottom: "pb" top: "det"
        detection_output_param { num_classes: 3 share_location: false background_label_id: 0 nms_param { nms_threshold: 0.45 top_k: 40 } keep_top_k: 30 confidence_threshold: 0.3 } }
`;
const smallSsdWeights = () => ({ loc: [random([12, 2, 3, 3], 1), random([12], 2)], conf: [random([3, 2, 3, 3], 3), random([3], 4)] });

describe('SSDs size-free: PriorBox and DetectionOutput from the Shapes', () => {
  it("res10 SSD (fixtures/ssd/res10_face's weights): one model, at three photo sizes, detections as sets and the heads as the native engine", async () => {
    const net = res10();
    const outputs = ['detection_out', 'mbox_loc', 'mbox_conf_flatten', 'mbox_priorbox'];
    const { conversion, session } = await anySizeSession(net, outputs);
    for (const [i, [h, w]] of PHOTOS.entries()) {
      const data = new Tensor([1, 3, h, w], hashInputData(7 + i, 1, [1, 3, h, w]));
      const results = await session.run({ data: new ort.Tensor('float32', data.data, [...data.dims]) });
      net.forward({ data });
      const got = (blob: string) => new Tensor([...results[conversion.outputs.get(blob)!].dims], results[conversion.outputs.get(blob)!].data as Float32Array);
      const rows = compareDetections(got('detection_out'), net.blobs.get('detection_out')!, TOLERANCE);
      expect(rows, `detections at ${h} x ${w}`).toMatchObject({ pass: true });
      expect(net.blobs.get('detection_out')!.dims[2], `rows at ${h} x ${w}`).toBeGreaterThan(10); // real rows, not the "none" one
      for (const blob of outputs.slice(1)) expect(relativeError(got(blob), net.blobs.get(blob)!), `${blob} at ${h} x ${w}`).toBeLessThanOrEqual(TOLERANCE);
    }
    await session.release();
    net.dispose();
  }, 120_000);

  it("the SSD head's eight DetectionOutputs (fixtures/ssd/head: every code type, unshared locations, top_k -1, keep_top_k), batch 2, at three sizes", async () => {
    const dir = path.join(here, 'fixtures/ssd/head');
    const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'), { threads: 1 });
    const { conversion, session } = await anySizeSession(net, 'net');
    // det_eta's adaptive NMS is not reproduced in ONNX (the model's note says so): left out
    const compared = [...conversion.outputs.keys()].filter((b) => b !== 'det_eta');
    expect(compared.length).toBe(7);
    for (const [h, w] of [[16, 16], [19, 21], [24, 13]]) {
      const data = random([2, 3, h, w], h * w);
      const results = await session.run({ data: new ort.Tensor('float32', data.data, [...data.dims]) });
      net.forward({ data });
      for (const blob of compared) {
        const got = results[conversion.outputs.get(blob)!];
        expect(compareDetections(new Tensor([...got.dims], got.data as Float32Array), net.blobs.get(blob)!, TOLERANCE), `${blob} at ${h} x ${w}`).toMatchObject({ pass: true });
      }
    }
    await session.release();
    net.dispose();
  });

  it('DetectionOutput with top_k above the priors at small sizes (k = min(top_k, priors) at run time) and unshared locations', async () => {
    const net = netFrom(SMALL_SSD, smallSsdWeights());
    const { conversion, session } = await anySizeSession(net, 'net');
    // 6 x 6 cells (36 priors: k 36), 9 x 7 (63: k 40), 4 x 3 (12: k 12)
    for (const [h, w] of [[12, 12], [17, 13], [8, 5]]) {
      const data = random([1, 2, h, w], h * w);
      const results = await session.run({ data: new ort.Tensor('float32', data.data, [...data.dims]) });
      net.forward({ data });
      const got = results[conversion.outputs.get('det')!];
      expect(compareDetections(new Tensor([...got.dims], got.data as Float32Array), net.blobs.get('det')!, TOLERANCE), `at ${h} x ${w}`).toMatchObject({ pass: true });
      expect(net.blobs.get('det')!.dims[2], `rows at ${h} x ${w}`).toBeGreaterThan(3);
    }
    await session.release();
    net.dispose();
  });

  it('after it (its rows, axis 2, sized at run time), ShuffleChannel and ArgMax read the Shape, not the items\' copied 0: ONNX Runtime = crema\'s forward', async () => {
    // Their Reshapes merge the axes after the items, where a copied 0 lines up with the wrong one (ShuffleChannel was
    // refused by ONNX Runtime, ArgMax ranked from the load-time 1 row's last index).
    const argmax = 'layer { name: "argmax" type: "ArgMax" bottom: "det" top: "argmax" argmax_param { top_k: 2 out_max_val: true } }\n';
    const shuffle = 'layer { name: "shuffle" type: "ShuffleChannel" bottom: "det" top: "shuffle" shuffle_channel_param { group: 1 } }';
    const net = netFrom(SMALL_SSD + argmax + shuffle, smallSsdWeights()), data = random([1, 2, 12, 12], 9);
    expect(net.graph.blobShapes.get('det')).toEqual([1, 1, 1, 7]);
    const onnx = await runOnnx(netFrom(SMALL_SSD + argmax + shuffle, smallSsdWeights()).graph, { data }, { threads: 1, outputs: ['det', 'shuffle', 'argmax'] });
    net.forward({ data });
    expect(net.blobs.get('det')!.dims[2]).toBeGreaterThan(1);
    // The layers after a DetectionOutput are shaped again for its rows (it sizes its tops, as Proposal): natively a
    // ShuffleChannel there threw "offset is out of bounds", and a layer that copies its shape computed one row.
    for (const blob of ['det', 'argmax', 'shuffle']) expect(relativeError(onnx.get(blob)!, net.blobs.get(blob)!), blob).toBeLessThanOrEqual(TOLERANCE);
    // ShuffleChannel of one group is the identity: ONNX Runtime's det itself.
    expect([onnx.get('shuffle')!.dims, Array.from(onnx.get('shuffle')!.data)]).toEqual([onnx.get('det')!.dims, Array.from(onnx.get('det')!.data)]);
    expect(net.blobs.get('shuffle')!.dims).toEqual(net.blobs.get('det')!.dims);
  });
});

/** A YOLO head net: a strided Convolution of the image (and, for two heads, another of that), then the detection layer. */
function yoloNet(dims: number[], layer: string, heads: number, channels: number): Net {
  const conv = (name: string, from: string) => `layer { name: "${name}" type: "Convolution" bottom: "${from}" top: "${name}" convolution_param { num_output: ${channels} kernel_size: 3 pad: 1 stride: 2 } }\n`;
  const text = input(dims) + conv('h0', 'data') + (heads === 2 ? conv('h1', 'h0') : '') + layer;
  // Small weights: the boxes' exp stays in range (random ones overflow float32 into rows no one can compare).
  const small = (dims: number[], seed: number) => new Tensor(dims, random(dims, seed).data.map((v) => v * 0.15));
  const weights: Record<string, Tensor[]> = { h0: [small([channels, 3, 3, 3], 1), small([channels], 2)] };
  if (heads === 2) weights.h1 = [small([channels, channels, 3, 3], 3), small([channels], 4)];
  return netFrom(text, weights);
}

describe('size-free YOLO heads (eric612/MobileNet-YOLO): the grid and its divisors from each head\'s Shape', () => {
  const v2 = 'layer { name: "det" type: "YoloDetectionOutput" bottom: "h0" top: "det" yolo_detection_output_param { num_classes: 4 num_box: 5 confidence_threshold: 0.12 nms_threshold: 0.45 biases: 1 biases: 1.5 biases: 2 biases: 2 biases: 3 biases: 2.5 biases: 4 biases: 4 biases: 5 biases: 3 } }';
  const v3 = 'layer { name: "det" type: "Yolov3DetectionOutput" bottom: "h1" bottom: "h0" top: "det" yolov3_detection_output_param { num_classes: 4 num_box: 3 confidence_threshold: 0.3 nms_threshold: 0.45 biases: 10 biases: 14 biases: 23 biases: 27 biases: 37 biases: 58 biases: 81 biases: 82 biases: 135 biases: 169 biases: 344 biases: 319 mask: 3 mask: 4 mask: 5 mask: 0 mask: 1 mask: 2 anchors_scale: 4 anchors_scale: 2 mask_group_num: 2 } }';

  async function detectsAt(net: Net, sizes: [number, number][]): Promise<void> {
    const { conversion, session } = await anySizeSession(net, 'net');
    for (const [h, w] of sizes) {
      const data = random([1, 3, h, w], h * w);
      const results = await session.run({ data: new ort.Tensor('float32', data.data, [...data.dims]) });
      net.forward({ data });
      const got = results[conversion.outputs.get('det')!];
      expect(net.blobs.get('det')!.dims[2], `rows at ${h} x ${w}`).toBeGreaterThan(3);
      expect(compareDetections(new Tensor([...got.dims], got.data as Float32Array), net.blobs.get('det')!, TOLERANCE), `at ${h} x ${w}`).toMatchObject({ pass: true });
    }
    await session.release();
  }

  it('YoloDetectionOutput on a square image: size-free at square sizes (the fork reads a square grid), at three', async () => {
    const net = yoloNet([1, 3, 16, 16], v2, 1, 45);
    await detectsAt(net, [[16, 16], [22, 22], [40, 40]]);
    net.dispose();
  });

  it('Yolov3DetectionOutput, two heads (anchors in input pixels, anchors_scale per head), at three sizes, not square', async () => {
    const net = yoloNet([1, 3, 16, 20], v3, 2, 27);
    await detectsAt(net, [[16, 20], [23, 17], [36, 44]]);
    net.dispose();
  });
});

/**
 * A detection head on an image: fmap an 8 x 8 / stride 8 pooling of it, each prediction a 3 x 3 Convolution of fmap
 * (small weights) permuted to (N, H, W, C) and flattened, confidences softmaxed per prior over their `classes`, as the
 * SSD forks' deploy nets make them; then the PriorBox and the DetectionOutputs of `tail`. `heads`: name -> [values a
 * prior, classes to softmax over (0: none)].
 */
function detectionHead(prior: string, priorsPerCell: number, heads: Record<string, [number, number]>, tail: string): Net {
  const weights: Record<string, Tensor[]> = {};
  let text = input([2, 3, 32, 32]) + 'layer { name: "fmap" type: "Pooling" bottom: "data" top: "fmap" pooling_param { pool: AVE kernel_size: 8 stride: 8 } }\n';
  for (const [[name, [values, classes]], i] of Object.entries(heads).map((e, i) => [e, i] as const)) {
    const out = priorsPerCell * values;
    weights[`${name}_c`] = [new Tensor([out, 3, 3, 3], random([out, 3, 3, 3], 10 + i).data.map((v) => v * 0.5)), random([out], 20 + i)];
    text += `layer { name: "${name}_c" type: "Convolution" bottom: "fmap" top: "${name}_c" convolution_param { num_output: ${out} kernel_size: 3 pad: 1 } }
      layer { name: "${name}_p" type: "Permute" bottom: "${name}_c" top: "${name}_p" permute_param { order: 0 order: 2 order: 3 order: 1 } }\n`;
    text += classes
      ? `layer { name: "${name}_r" type: "Reshape" bottom: "${name}_p" top: "${name}_r" reshape_param { shape { dim: 0 dim: -1 dim: ${classes} } } }
         layer { name: "${name}_s" type: "Softmax" bottom: "${name}_r" top: "${name}_s" softmax_param { axis: 2 } }
         layer { name: "${name}" type: "Flatten" bottom: "${name}_s" top: "${name}" }\n`
      : `layer { name: "${name}" type: "Flatten" bottom: "${name}_p" top: "${name}" }\n`;
  }
  text += `layer { name: "prior" type: "PriorBox" bottom: "fmap" bottom: "data" top: "prior" prior_box_param { ${prior} } }\n` + tail;
  return netFrom(text, weights);
}

/** The one size-free model and the native engine at each size: every detection output as sets, `rows` of them real. */
async function detectionsAt(net: Net, sizes: [number, number][], rows: string[]): Promise<void> {
  const { conversion, session } = await anySizeSession(net, 'net');
  for (const [h, w] of sizes) {
    const data = random([2, 3, h, w], h * w);
    const results = await session.run({ data: new ort.Tensor('float32', data.data, [...data.dims]) });
    net.forward({ data });
    for (const [blob, name] of conversion.outputs) {
      const got = results[name], want = net.blobs.get(blob)!;
      if (rows.includes(blob)) expect(want.dims[2], `${blob}: rows at ${h} x ${w}`).toBeGreaterThan(4);
      expect(compareDetections(new Tensor([...got.dims], got.data as Float32Array), want, TOLERANCE), `${blob} at ${h} x ${w}`).toMatchObject({ pass: true });
    }
  }
  await session.release();
}

// The fork heads' DetectionOutputs (test/fixtures/refinedet and textboxespp/head, there on flat inputs, against the
// forks' own Caffes), here on maps of an image: fmap 4 x 4, 5 x 7 and 8 x 6 cells.
describe('RefineDet\'s and TextBoxes++\' DetectionOutputs size-free: one model at three sizes, against the native engine', () => {
  const sizes: [number, number][] = [[32, 32], [40, 56], [64, 48]];

  it('RefineDet (sfzhang15/RefineDet): ARM objectness and refined priors (5 bottoms), objectness only (4), CORNER, none kept', async () => {
    const det = (name: string, bottoms: string, p: string) => `layer { name: "${name}" type: "DetectionOutput" bottom: "odm_loc" bottom: "odm_conf" bottom: "prior" ${bottoms} top: "${name}" detection_output_param { num_classes: 4 background_label_id: 0 ${p} } }\n`;
    const five = 'bottom: "arm_conf" bottom: "arm_loc"';
    const net = detectionHead('min_size: 8 max_size: 16 aspect_ratio: 2 flip: true clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step: 8 offset: 0.5', 4,
      { odm_loc: [4, 0], odm_conf: [4, 4], arm_conf: [2, 2], arm_loc: [4, 0] },
      det('det5', five, 'share_location: true nms_param { nms_threshold: 0.45 top_k: 40 } code_type: CENTER_SIZE keep_top_k: 30 confidence_threshold: 0.05') +
      det('det5_os', five, 'objectness_score: 0.45 nms_param { nms_threshold: 0.5 top_k: 100 } code_type: CENTER_SIZE keep_top_k: 50 confidence_threshold: 0.02') +
      det('det4', 'bottom: "arm_conf"', 'objectness_score: 0.3 nms_param { nms_threshold: 0.45 top_k: 40 } code_type: CENTER_SIZE keep_top_k: 30 confidence_threshold: 0.05') +
      det('det5_corner', five, 'objectness_score: 0.2 nms_param { nms_threshold: 0.45 top_k: 40 } code_type: CORNER keep_top_k: 30 confidence_threshold: 0.05') +
      det('det5_none', five, 'objectness_score: 1.5 nms_param { nms_threshold: 0.45 top_k: 40 } code_type: CENTER_SIZE confidence_threshold: 0.05'));
    await detectionsAt(net, sizes, ['det5', 'det5_os', 'det4', 'det5_corner']);
    net.dispose();
  });

  it('TextBoxes++ (MhLiao/TextBoxes_plusplus): quadrilaterals, its default, rotated boxes, unshared locations, none kept; denser priors', async () => {
    const det = (name: string, loc: string, p: string) => `layer { name: "${name}" type: "DetectionOutput" bottom: "${loc}" bottom: "conf" bottom: "prior" top: "${name}" detection_output_param { num_classes: 3 background_label_id: 0 ${p} } }\n`;
    const net = detectionHead('min_size: 8 max_size: 16 min_size: 12 max_size: 20 aspect_ratio: 2 aspect_ratio: 5 flip: false clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step: 8 offset: 0.5 denser_prior_boxes: true', 16,
      { quad_loc: [12, 0], rbox_loc: [9, 0], quad_loc3: [36, 0], conf: [3, 3] },
      det('det_quad', 'quad_loc', 'share_location: true use_polygon: true nms_param { nms_threshold: 0.45 top_k: 60 } code_type: CENTER_SIZE keep_top_k: 40 confidence_threshold: 0.05') +
      det('det_default', 'quad_loc', 'nms_param { nms_threshold: 0.3 top_k: 100 } code_type: CENTER_SIZE confidence_threshold: 0.1') +
      det('det_rbox', 'rbox_loc', 'use_polygon: false nms_param { nms_threshold: 0.45 top_k: 60 } code_type: CENTER_SIZE keep_top_k: 40 confidence_threshold: 0.05') +
      det('det_unshared', 'quad_loc3', 'share_location: false use_polygon: true nms_param { nms_threshold: 0.45 top_k: 60 } code_type: CENTER_SIZE keep_top_k: 50 confidence_threshold: 0.05') +
      det('det_none', 'quad_loc', 'use_polygon: true nms_param { nms_threshold: 0.45 top_k: 60 } code_type: CENTER_SIZE confidence_threshold: 1.5'));
    await detectionsAt(net, sizes, ['det_quad', 'det_default', 'det_rbox', 'det_unshared']);
    net.dispose();
  });
});

/** Faster R-CNN's Proposal on its three inputs (the RPN's maps, im_info), `param` its proposal_param. */
function proposalNet(param: string, [h, w]: [number, number]): Net {
  return netFrom(input([1, 18, h, w], 'cls') + input([1, 36, h, w], 'deltas') + input([1, 3], 'im_info') +
    `layer { name: "p" type: "Proposal" bottom: "cls" bottom: "deltas" bottom: "im_info" top: "rois" top: "scores" proposal_param { ${param} } }`);
}

describe("size-free Proposal (Faster R-CNN's, built in): its anchors over the map's Shape", () => {
  it("py-faster-rcnn's anchors (on half pixels): one model, the same rois and scores as the native engine at three sizes", async () => {
    const net = proposalNet('feat_stride: 16 base_size: 16 min_size: 16 pre_nms_topn: 300 post_nms_topn: 50 nms_thresh: 0.7', [8, 10]);
    const model = await anySizeSession(net, 'net');
    for (const [h, w] of [[8, 10], [11, 7], [14, 16]] as [number, number][]) {
      const deltas = new Tensor([1, 36, h, w], random([1, 36, h, w], h * w).data.map((v) => v * 0.3));
      await sameAtSize(net, model, { cls: new Tensor([1, 18, h, w], random([1, 18, h, w], h + w).data.map((v) => (v + 1) / 2)), deltas, im_info: new Tensor([1, 3], Float32Array.of(16 * h, 16 * w, 1)) });
      expect(net.blobs.get('rois')!.dims[0], `rows at ${h} x ${w}`).toBeGreaterThan(10);
    }
    await model.session.release();
    net.dispose();
  });

  it('anchors off the half pixels (scale 1.3): their constants kept, and the check names the layer', () => {
    const net = proposalNet('feat_stride: 16 base_size: 16 min_size: 16 scale: 1.3 scale: 8 scale: 16 pre_nms_topn: 300 post_nms_topn: 50 nms_thresh: 0.7', [8, 10]);
    expect(sizeDependence(net.graph, convertGraph(net.graph, { anySize: true }), reshaper(net), {})).toBe(
      "layer 'p' (Proposal) builds the input's size in (its constant 'p/scores_shape' is [720] here, [1485] at cls [1, 18, 11, 15], deltas [1, 36, 11, 15])");
    net.dispose();
  });
});

describe('OnnxSessions with anySize: one session for every size where the net allows it', () => {
  const sizes: [number, number][] = [[12, 12], [31, 47], [64, 50]];

  it("P-Net: 1 session for three sizes, each output as a size's own session gives it", async () => {
    const net = await Net.load(path.join(root, 'models/mtcnn/det1.prototxt'), path.join(root, 'models/mtcnn/det1.caffemodel'), { threads: 1 });
    const sessions = new OnnxSessions(net, { anySize: true, threads: 1 });
    for (const [h, w] of sizes) {
      const data = random([1, 3, h, w], h * w);
      const got = await sessions.run({ data });
      // the per-size model converted size-free gives the same floats; the plain one within the tolerance (AVE divisors aside, the same ops)
      const free = await runOnnx(net.graph, { data }, { threads: 1, anySize: true });
      const plain = await runOnnx(net.graph, { data }, { threads: 1 });
      for (const blob of net.outputs) {
        expect([...got.get(blob)!.dims]).toEqual([...plain.get(blob)!.dims]);
        expect(got.get(blob)!.data).toEqual(free.get(blob)!.data);
        expect(relativeError(got.get(blob)!, plain.get(blob)!), `${blob} at ${h}x${w}`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
    expect(sessions.made).toBe(1);
    await sessions.release();
    net.dispose();
  });

  it('a size a layer refuses (P-Net at 5 x 5) is said in one line naming it, as the native engine says it, and the session serves the next size', async () => {
    const net = await Net.load(path.join(root, 'models/mtcnn/det1.prototxt'), path.join(root, 'models/mtcnn/det1.caffemodel'), { threads: 1 });
    const sessions = new OnnxSessions(net, { anySize: true, threads: 1 });
    const shapes = JSON.stringify([...net.shapes]);
    await sessions.run({ data: random([1, 3, 24, 24], 1) });
    const refusal = "layer 'conv2' (Convolution): kernel extent 3 x 3 is larger than the padded input 2 x 2 (input 2 x 2, pad 0 x 0)";
    await expect(sessions.run({ data: random([1, 3, 5, 5], 2) })).rejects.toThrow(refusal);
    expect(() => net.reshape({ data: [1, 3, 5, 5] })).toThrow(refusal);
    expect(JSON.stringify([...net.shapes])).toBe(shapes); // the graph's shapes put back (the prototxt's 12 x 12)
    const data = random([1, 3, 30, 30], 3);
    const got = await sessions.run({ data });
    const plain = await runOnnx(net.graph, { data }, { threads: 1 });
    expect(relativeError(got.get('prob1')!, plain.get('prob1')!)).toBeLessThanOrEqual(TOLERANCE);
    expect(sessions.made).toBe(1);
    await sessions.release();
    net.dispose();
  });

  it('a size the session served before is not shaped again (the pyramid\'s scales image after image); a new one is, once: the net shapes back when it next runs natively', async () => {
    const net = await Net.load(path.join(root, 'models/mtcnn/det1.prototxt'), path.join(root, 'models/mtcnn/det1.caffemodel'), { threads: 1 });
    const sessions = new OnnxSessions(net, { anySize: true, threads: 1 });
    const conv = net.graph.layers.find((l) => l.name === 'conv1')!.impl, reshape = conv.reshape.bind(conv);
    let shaped = 0;
    conv.reshape = (bottoms) => (shaped++, reshape(bottoms));
    const run = async (h: number, w: number) => { shaped = 0; await sessions.run({ data: random([1, 3, h, w], h + w) }); return shaped; };
    await run(24, 24);
    expect(await run(31, 47), 'a new size: shaped for it, not back').toBe(1);
    expect([await run(24, 24), await run(31, 47), await run(31, 47)], 'sizes served before').toEqual([0, 0, 0]);
    expect(await run(40, 40)).toBe(1);
    expect(sessions.made).toBe(1);
    shaped = 0;
    const x = random([1, 3, 40, 40], 80), onnx = (await sessions.run({ data: x })).get('prob1')!;
    net.forward({ data: x });
    expect(shaped, 'natively after: back to its own shapes, then to 40 x 40').toBe(2);
    expect(relativeError(net.blobs.get('prob1')!, onnx)).toBeLessThanOrEqual(TOLERANCE);
    await sessions.release();
    net.dispose();
  });

  for (const anySize of [false, true])
    it(`a size a layer refuses leaves the graph as it was: the next session at the size before converts its shapes, not half of the refused one's (anySize ${anySize})`, async () => {
      // Interp doubles 8 x 8 (15 x 15 with Caffe's zoom); the Pooling's kernel 5 refuses 4 x 4 after the Interp took it.
      const net = netFrom(input([1, 1, 8, 8]) + 'layer { name: "g" type: "Interp" bottom: "data" top: "g" interp_param { zoom_factor: 2 } }\n'
        + 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: MAX kernel_size: 5 stride: 1 } }');
      const sessions = new OnnxSessions(net, { anySize, threads: 1, outputs: ['g'] }), x = random([1, 1, 8, 8], 7);
      expect((await sessions.run({ data: x })).get('g')!.dims).toEqual([1, 1, 15, 15]);
      await expect(sessions.run({ data: random([1, 1, 4, 4], 8) })).rejects.toThrow(/layer 'p' \(Pooling\)/);
      const again = await sessions.run({ data: x }, ['g', 'p']); // a new session: other outputs
      net.forward({ data: x });
      for (const blob of ['g', 'p']) expect(relativeError(net.blobs.get(blob)!, again.get(blob)!), blob).toBeLessThanOrEqual(TOLERANCE);
      await sessions.release();
      net.dispose();
    });

  it(`remembers the CHECKED_SIZES (${CHECKED_SIZES}) sizes used last: one used again stays, the one used longest ago is shaped again`, async () => {
    const net = poolNet('pool: MAX kernel_size: 2 stride: 2', 1, [1, 1, 4, 4]);
    const sessions = new OnnxSessions(net, { anySize: true, threads: 1 });
    const pool = net.graph.layers.find((l) => l.name === 'pool')!.impl, reshape = pool.reshape.bind(pool);
    let shaped = 0;
    pool.reshape = (bottoms) => (shaped++, reshape(bottoms));
    const run = async (h: number, w = 4) => { shaped = 0; await sessions.run({ data: random([1, 1, h, w], h + w) }); return shaped; };
    await run(4); // the session's own size: checked as it is made
    for (let h = 5; h < 4 + CHECKED_SIZES; h++) expect(await run(h), `new size ${h} x 4`).toBe(1);
    expect(await run(4), 'used again: at the newest end').toBe(0);
    expect(await run(4 + CHECKED_SIZES), 'one size more: the oldest (5 x 4) let go').toBe(1);
    expect([await run(4), await run(6)], 'kept').toEqual([0, 0]);
    expect(await run(5), 'let go: shaped again').toBe(1);
    expect(sessions.made).toBe(1);
    await sessions.release();
    net.dispose();
  });

  it('res10 SSD over three photo sizes: 1 session, its detections as each size\'s own session gives them', async () => {
    const net = res10();
    const sessions = new OnnxSessions(net, { anySize: true, threads: 1 });
    for (const [i, [h, w]] of PHOTOS.entries()) {
      const data = new Tensor([1, 3, h, w], hashInputData(20 + i, 1, [1, 3, h, w]));
      const got = (await sessions.run({ data })).get('detection_out')!;
      const own = (await runOnnx(net.graph, { data }, { threads: 1, anySize: true })).get('detection_out')!;
      expect([...got.dims], `at ${h} x ${w}`).toEqual([...own.dims]);
      expect(got.data, `at ${h} x ${w}`).toEqual(own.data);
      expect(got.dims[2]).toBeGreaterThan(10);
      const plain = (await runOnnx(net.graph, { data }, { threads: 1 })).get('detection_out')!;
      expect(compareDetections(got, plain, TOLERANCE), `as the plain per-size model at ${h} x ${w}`).toMatchObject({ pass: true });
    }
    expect(sessions.made).toBe(1);
    await sessions.release();
    net.dispose();
  }, 120_000);

  it('a net that builds the size in (an ArgMax over the width): one session per size, outputs equal to the plain per-size sessions', async () => {
    const net = netFrom(input([1, 2, 6, 6]) + `
      layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
      layer { name: "r" type: "ArgMax" bottom: "pool" top: "flat" argmax_param { axis: 3 } }`);
    const sessions = new OnnxSessions(net, { anySize: true, threads: 1 });
    for (const [h, w] of [[6, 6], [7, 9], [10, 5]]) {
      const data = random([1, 2, h, w], h + w);
      const got = await sessions.run({ data });
      const plain = await runOnnx(net.graph, { data }, { threads: 1 });
      expect([...got.get('flat')!.dims]).toEqual([...plain.get('flat')!.dims]);
      expect(got.get('flat')!.data).toEqual(plain.get('flat')!.data);
    }
    expect(sessions.made).toBe(3);
    await sessions.release();
    net.dispose();
  });

  it("with anyBatch too, a net bound to its size but not its batch (R-Net's InnerProduct): 1 session for three batches", async () => {
    const net = await Net.load(path.join(root, 'models/mtcnn/det2.prototxt'), path.join(root, 'models/mtcnn/det2.caffemodel'), { threads: 1 });
    const sessions = new OnnxSessions(net, { anySize: true, anyBatch: true, threads: 1 });
    for (const n of [1, 3, 5]) {
      const data = random([n, 3, 24, 24], n);
      const got = await sessions.run({ data });
      const plain = await runOnnx(net.graph, { data }, { threads: 1 });
      for (const blob of net.outputs) expect(got.get(blob)!.data, `${blob}, batch ${n}`).toEqual(plain.get(blob)!.data);
    }
    expect(sessions.made).toBe(1);
    await sessions.release();
    net.dispose();
  });

  it('OnnxRunner with anySize refuses such a net in one line', async () => {
    const net = netFrom(input([1, 2, 6, 6]) + `
      layer { name: "r" type: "ArgMax" bottom: "data" top: "flat" argmax_param { axis: 3 } }`);
    await expect(runOnnx(net.graph, { data: random([1, 2, 6, 6], 1) }, { anySize: true })).rejects.toThrow(
      `options.anySize: the net does not serve every input size: ${ARGMAX_REFUSAL}`);
    net.dispose();
  });

  it("OnnxRunner's run refuses a feed that is no input with run's prefix, as the Net's run does", async () => {
    const net = netFrom(input([1, 2, 6, 6]) + `
      layer { name: "r" type: "ReLU" bottom: "data" top: "y" }`);
    await expect(runOnnx(net.graph, { data: random([1, 2, 6, 6], 1), w: random([1, 2, 6, 6], 2) })).rejects.toThrow(
      new CremaError("run: 'w' is not an input of the net (inputs: data)"));
    net.dispose();
  });
});

describe('crema convert --any-size', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-any-size-'));

  it("writes P-Net with a symbolic batch, height and width, which ONNX Runtime runs at two sizes as the native engine", async () => {
    const file = path.join(tmp, 'pnet.onnx');
    const r = await cli('convert', 'models/mtcnn/det1.prototxt', 'models/mtcnn/det1.caffemodel', '-o', file, '--any-size', '--any-batch');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(1)).toEqual([
      '  inputs:  data [batch, 3, height, width]',
      '  outputs: conv4-2 [batch, 4, conv4-2_2, conv4-2_3], prob1 [batch, 2, conv4-2_2, conv4-2_3]',
    ]);
    const net = await Net.load(path.join(root, 'models/mtcnn/det1.prototxt'), path.join(root, 'models/mtcnn/det1.caffemodel'), { threads: 1 });
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
    const conversion = { outputs: new Map(net.outputs.map((n) => [n, n])) } as OnnxConversion;
    for (const dims of [[1, 3, 25, 33], [2, 3, 40, 20]]) await sameAtSize(net, { conversion, session }, { data: random(dims, dims[2]) });
    await session.release();
    net.dispose();
  });

  it('refuses a net that builds the size in, in one line naming the layer (exit 2, no file written)', async () => {
    const file = path.join(tmp, 'lenet.onnx');
    const r = await cli('convert', 'models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel', '-o', file, '--any-size');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("crema: --any-size: the net does not serve every input size: at [1, 1, 31, 33], layer 'ip1' (InnerProduct): the weights (blob 0) has shape [500, 800] but the layer needs [500, 1500]");
    expect(fs.existsSync(file)).toBe(false);
  });

  it('--any-batch refuses a net whose output does not follow the batch', async () => {
    const net = path.join(tmp, 'flat.prototxt');
    fs.writeFileSync(net, 'name: "flat"\ninput: "data"\ninput_shape { dim: 1 dim: 2 dim: 3 dim: 3 }\nlayer { name: "r" type: "Reshape" bottom: "data" top: "flat" reshape_param { shape { dim: 1 dim: -1 } } }\n');
    const r = await cli('convert', net, '-o', path.join(tmp, 'flat.onnx'), '--any-batch');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("crema: --any-batch: the net does not serve every batch size: output 'flat' does not follow the batch size");
    expect(fs.existsSync(path.join(tmp, 'flat.onnx'))).toBe(false);
  });

  it('with --triton: dims -1 for the height and width', async () => {
    const r = await cli('convert', 'models/mtcnn/det1.prototxt', 'models/mtcnn/det1.caffemodel', '--triton', tmp, '--any-size');
    expect(r.code).toBe(0);
    const config = fs.readFileSync(path.join(tmp, 'PNet/config.pbtxt'), 'utf8');
    expect(config).toContain('max_batch_size: 8');
    expect(config.match(/dims: \[ .* \]/g)).toEqual(['dims: [ 3, -1, -1 ]', 'dims: [ 4, -1, -1 ]', 'dims: [ 2, -1, -1 ]']);
  });
});

describe("the library's convert(net, { anySize, anyBatch })", () => {
  it('declares a symbolic batch, height and width, and refuses a net that builds the size in by the same line', async () => {
    const net = await Net.load(path.join(root, 'models/mtcnn/det1.prototxt'), path.join(root, 'models/mtcnn/det1.caffemodel'));
    const model = decodeModel(await convert(net, { anySize: true, anyBatch: true }));
    const dims = (v: ValueInfoObj) => v.type.tensor_type.shape!.dim.map((d) => ('dim_param' in d ? d.dim_param : d.dim_value));
    expect(model.graph.input.map(dims)).toEqual([['batch', 3, 'height', 'width']]);
    expect(model.graph.output.map(dims)).toEqual([['batch', 4, 'conv4-2_2', 'conv4-2_3'], ['batch', 2, 'conv4-2_2', 'conv4-2_3']]);
    expect([...net.shapes.get('data')!]).toEqual([1, 3, 12, 12]); // the net's own shapes, put back
    net.dispose();
    const flat = netFrom(input([1, 2, 6, 6]) + 'layer { name: "r" type: "ArgMax" bottom: "data" top: "flat" argmax_param { axis: 3 } }');
    await expect(convert(flat, { anySize: true })).rejects.toThrow(`options.anySize: the net does not serve every input size: ${ARGMAX_REFUSAL}`);
    flat.dispose();
  });

  it("names an output's height and width apart where the sizes tried gave them alike (colorization's class8_ab)", async () => {
    // 16 x 16 pooled by 8 (ceil): 2 x 2, and at the sizes tried (19 x 21, 24 x 17, 32 x 32) 3 x 3, 3 x 3, 4 x 4
    const net = netFrom(input([1, 1, 16, 16]) + 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { pool: MAX kernel_size: 8 stride: 8 } }');
    const model = decodeModel(await convert(net, { anySize: true }));
    const dims = (v: ValueInfoObj) => v.type.tensor_type.shape!.dim.map((d) => ('dim_param' in d ? d.dim_param : d.dim_value));
    expect(model.graph.output.map(dims)).toEqual([[1, 1, 'p_2', 'p_3']]);
    // and runs so at a size that is not square: 40 x 24 pooled to 5 x 3
    const session = await ort.InferenceSession.create(await convert(net, { anySize: true }));
    const out = (await session.run({ data: new ort.Tensor('float32', new Float32Array(40 * 24), [1, 1, 40, 24]) })).p;
    expect(out.dims).toEqual([1, 1, 5, 3]);
    await session.release();
    net.dispose();
  });
});

describe('without anySize, the models are byte for byte what they were', () => {
  // sha256 (first 16 hex digits) of each model as main converted it before size-free conversion (1507c55), by
  // the same code as below; Crop's and AutoCrop's Slice now share a helper with the size-free form.
  const cropInterp = `
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 12 dim: 14 } } }
    layer { name: "ref" type: "Input" top: "ref" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 9 } } }
    layer { name: "crop" type: "Crop" bottom: "data" bottom: "ref" top: "crop" crop_param { axis: 2 offset: 2 offset: 3 } }
    layer { name: "crop1" type: "Crop" bottom: "data" bottom: "ref" top: "crop1" crop_param { axis: 1 offset: 0 offset: 1 offset: 4 } }
    layer { name: "interp" type: "Interp" bottom: "data" top: "interp" interp_param { shrink_factor: 3 zoom_factor: 2 pad_beg: -1 pad_end: -2 } }
    layer { name: "zoom" type: "Interp" bottom: "data" top: "zoom" interp_param { zoom_factor: 2 } }`;
  const cases: [string, string, string | undefined, Record<'net' | 'all', string>][] = [
    ['lenet', 'models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel', { net: '2fe7ed4bfebcf15e', all: 'c9741fdb0fed8299' }],
    ['cifar10_full', 'models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel', { net: '3d2e6723bbfdb4fe', all: 'de9133a97bc16581' }],
    ['P-Net', 'models/mtcnn/det1.prototxt', 'models/mtcnn/det1.caffemodel', { net: '1a6aa7258d1d11f3', all: 'af538d6a745e77d1' }],
    ['O-Net', 'models/mtcnn/det3.prototxt', 'models/mtcnn/det3.caffemodel', { net: '71daa7c1ccc570e8', all: '9f7bbbf9ba2126e0' }],
    ['fcn2015-crop (AutoCrop)', 'test/fixtures/fcn2015-crop/net.prototxt', 'test/fixtures/fcn2015-crop/weights.caffemodel', { net: '56d405f2ee89b457', all: 'af0d307e947f2193' }],
    ['the Pooling cases', 'test/fixtures/any-size/net.prototxt', undefined, { net: '59bdee1ad1ae5c97', all: '59bdee1ad1ae5c97' }],
    ['Crop and Interp', '', undefined, { net: 'c79008c1148141c6', all: 'c79008c1148141c6' }],
    // PriorBox and DetectionOutput, now size-free with anySize: main's hashes before (94f2826: 9ba45597c69b23f1,
    // 3349465685c3f068), changed since only by the NaN overlaps' Loop after NonMaxSuppression (round fifty-four)
    ['the SSD head', 'test/fixtures/ssd/head/net.prototxt', 'test/fixtures/ssd/head/weights.caffemodel', { net: 'f3f2399df47b5e02', all: '6987847bf9e6b601' }],
    // LSTM and RNN, a Scan with anySize: main's hashes before (377e147: 89ef33d42bfd8abc, 905a0111cab4b0eb), changed
    // since only by the unrolled form's recurrent weights written once, not once per step (round forty-six), then its
    // steps Split off cont and the x gates, not Gathered by an index each, and its gates' bounds written once (47), then
    // those bounds named by their values (int64_32), not by their first reader (g1_start) (48)
    ['LSTM and RNN', 'test/fixtures/layers/recurrent/net.prototxt', 'test/fixtures/layers/recurrent/weights.caffemodel', { net: '211380d500ea840f', all: '58efa7a875e84a76' }],
  ];
  for (const [name, prototxt, weights, hashes] of cases)
    it(name, async () => {
      const net = prototxt ? await Net.load(path.join(root, prototxt), weights && path.join(root, weights)) : netFrom(cropInterp);
      for (const outputs of ['net', 'all'] as const) {
        const hash = createHash('sha256').update(encodeConversion(convertGraph(net.graph, { outputs }))).digest('hex').slice(0, 16);
        expect(hash, `outputs ${outputs}`).toBe(hashes[outputs]);
        expect(createHash('sha256').update(encodeConversion(convertGraph(net.graph, { outputs, anySize: false }))).digest('hex').slice(0, 16)).toBe(hashes[outputs]);
      }
      net.dispose();
    });
});

// The options beside --any-size, as a user combines them: each gives a working model (run in ONNX Runtime at other
// sizes against the native engine) or a one-line refusal that leaves no file.
describe('crema convert --any-size with the other options', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-any-size-options-'));
  const pnet = ['models/mtcnn/det1.prototxt', 'models/mtcnn/det1.caffemodel'];
  const write = (name: string, text: string) => (fs.writeFileSync(path.join(tmp, name), text), path.join(tmp, name));

  /** The written model run at each size (one session) against the net reshaped to it, every output compared. */
  async function runsAt(file: string, net: Net, sizes: Record<string, number[]>[]): Promise<void> {
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, logSeverityLevel: 3 });
    const outputs = new Map(session.outputNames.map((n) => [n, n]));
    for (const [i, dims] of sizes.entries())
      await sameAtSize(net, { conversion: { outputs } as OnnxConversion, session }, Object.fromEntries(Object.entries(dims).map(([n, d]) => [n, random(d, 50 + i)])));
    await session.release();
  }

  it('refuses a net whose input has no height or width (2-D), saying so (exit 2, no file)', async () => {
    const net = write('flat.prototxt', 'name: "flat"\ninput: "data"\ninput_shape { dim: 1 dim: 10 }\nlayer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n');
    const r = await cli('convert', net, '-o', path.join(tmp, 'flat.onnx'), '--any-size');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('crema: --any-size: the net does not serve every input size: the net has no input with a height or width (axes 2 and up)');
    expect(fs.existsSync(path.join(tmp, 'flat.onnx'))).toBe(false);
  });

  it('a refused net leaves nothing, with --external-data or --triton either', async () => {
    const dir = path.join(tmp, 'refused');
    fs.mkdirSync(dir);
    const lenet = ['models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel'];
    const line = "crema: --any-size: the net does not serve every input size: at [1, 1, 31, 33], layer 'ip1' (InnerProduct): the weights (blob 0) has shape [500, 800] but the layer needs [500, 1500]";
    for (const extra of [['-o', path.join(dir, 'lenet.onnx'), '--external-data'], ['--triton', path.join(dir, 'triton')]]) {
      const r = await cli('convert', ...lenet, ...extra, '--any-size');
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(line);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('two 4-D inputs of different sizes: each axis its own symbol, run at sizes that vary apart', async () => {
    const text = input([1, 2, 8, 8], 'a') + input([1, 2, 5, 6], 'b') + `
      layer { name: "c" type: "Crop" bottom: "a" bottom: "b" top: "c" crop_param { axis: 2 offset: 1 offset: 2 } }
      layer { name: "r" type: "ReLU" bottom: "b" top: "r" }`;
    const file = path.join(tmp, 'two.onnx');
    const r = await cli('convert', write('two.prototxt', text), '-o', file, '--any-size');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(1)).toEqual(['  inputs:  a [1, 2, a_2, a_3], b [1, 2, b_2, b_3]', '  outputs: c [1, 2, b_2, b_3], r [1, 2, b_2, b_3]']);
    const net = netFrom(text);
    await runsAt(file, net, [{ a: [1, 2, 13, 9], b: [1, 2, 4, 7] }, { a: [1, 2, 6, 20], b: [1, 2, 5, 3] }]);
    net.dispose();
  });

  it('--outputs all: every blob, its sizes symbolic', async () => {
    const file = path.join(tmp, 'all.onnx');
    const r = await cli('convert', ...pnet, '-o', file, '--any-size', '--outputs', 'all');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[2]).toBe('  outputs: conv1 [1, 10, conv1_2, conv1_3], pool1 [1, 10, pool1_2, pool1_3], conv2 [1, 16, conv2_2, conv2_3], conv3 [1, 32, conv3_2, conv3_3], conv4-1 [1, 2, conv3_2, conv3_3], conv4-2 [1, 4, conv3_2, conv3_3], prob1 [1, 2, conv3_2, conv3_3]');
    const net = await Net.load(path.join(root, pnet[0]), path.join(root, pnet[1]), { threads: 1 });
    await runsAt(file, net, [{ data: [1, 3, 17, 30] }, { data: [1, 3, 41, 23] }]);
    net.dispose();
  });

  it('--opset 13: the same size-free ops there', async () => {
    const file = path.join(tmp, 'opset13.onnx');
    const r = await cli('convert', ...pnet, '-o', file, '--any-size', '--opset', '13');
    expect(r.code).toBe(0);
    expect(decodeModel(fs.readFileSync(file)).opset_import[0].version).toBe(13);
    const net = await Net.load(path.join(root, pnet[0]), path.join(root, pnet[1]), { threads: 1 });
    await runsAt(file, net, [{ data: [1, 3, 17, 30] }, { data: [1, 3, 41, 23] }]);
    net.dispose();
  });

  it.skipIf(!corpusHed)('--external-data: HED\'s weights beside the model, which ONNX Runtime runs at two sizes', async () => {
    const file = path.join(tmp, 'hed.onnx');
    const r = await cli('convert', corpusHed!.prototxt, corpusHed!.weights, '-o', file, '--any-size', '--external-data');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[1]).toBe('  inputs:  data [1, 3, height, width]');
    expect(fs.statSync(`${file}.data`).size).toBeGreaterThan(fs.statSync(file).size);
    const net = await Net.load(corpusHed!.prototxt, corpusHed!.weights, { threads: 2 });
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 2, logSeverityLevel: 3 });
    const outputs = new Map(session.outputNames.map((n) => [n, n]));
    for (const [h, w] of [[61, 70], [72, 58]]) await sameAtSize(net, { conversion: { outputs } as OnnxConversion, session }, { data: random([1, 3, h, w], h) }, 1e-4);
    await session.release();
    net.dispose();
  }, 120_000);

  it('--triton --max-batch-size 0: the net\'s own batch, height and width -1', async () => {
    const dir = path.join(tmp, 'triton0');
    const r = await cli('convert', ...pnet, '--triton', dir, '--any-size', '--max-batch-size', '0');
    expect(r.code).toBe(0);
    const config = fs.readFileSync(path.join(dir, 'PNet/config.pbtxt'), 'utf8');
    expect(config).toContain('max_batch_size: 0');
    expect(config.match(/dims: \[ .* \]/g)).toEqual(['dims: [ 1, 3, -1, -1 ]', 'dims: [ 1, 4, -1, -1 ]', 'dims: [ 1, 2, -1, -1 ]']);
    const net = await Net.load(path.join(root, pnet[0]), path.join(root, pnet[1]), { threads: 1 });
    await runsAt(path.join(dir, 'PNet/1/model.onnx'), net, [{ data: [1, 3, 17, 30] }, { data: [1, 3, 41, 23] }]);
    net.dispose();
  });

  it('-o -: the size-free model on stdout, what crema says on stderr', async () => {
    const piped = spawnSync(process.execPath, ['bin/crema.js', 'convert', ...pnet, '-o', '-', '--any-size'], { cwd: root, encoding: 'buffer', maxBuffer: 1 << 24 });
    expect(piped.status).toBe(0);
    const model = decodeModel(new Uint8Array(piped.stdout));
    expect(model.graph.input[0].type.tensor_type.shape!.dim.map((d) => ('dim_param' in d ? d.dim_param : d.dim_value))).toEqual([1, 3, 'height', 'width']);
    expect(piped.stderr.toString().split('\n')[1]).toBe('  inputs:  data [1, 3, height, width]');
    const file = path.join(tmp, 'piped.onnx');
    fs.writeFileSync(file, piped.stdout);
    const net = await Net.load(path.join(root, pnet[0]), path.join(root, pnet[1]), { threads: 1 });
    await runsAt(file, net, [{ data: [1, 3, 17, 30] }, { data: [1, 3, 41, 23] }]);
    net.dispose();
  });
});

describe("the library's convert: anySize's type", () => {
  it('refuses a value that is not true or false, as the other options', async () => {
    const net = await Net.load(path.join(root, 'models/mtcnn/det1.prototxt'), path.join(root, 'models/mtcnn/det1.caffemodel'));
    await expect(convert(net, { anySize: 'yes' as unknown as boolean })).rejects.toThrow(/^options\.anySize is true or false, got a string$/);
    await expect(convert(net, { anySize: 1 as unknown as boolean })).rejects.toThrow(/^options\.anySize is true or false, got a number$/);
    await expect(convert(net, { opset: '13' as unknown as number })).rejects.toThrow(/^options\.opset must be an integer from 13 to 23, got a string$/);
    net.dispose();
  });
});
