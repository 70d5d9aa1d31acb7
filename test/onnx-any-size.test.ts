// Size-free ONNX models (ConvertOptions.anySize, `crema convert --any-size`): each net converted ONCE at its own
// input shape, its height and width made symbolic (freeSize), then run in ONNX Runtime at several other sizes and
// compared with the native engine reshaped to each (the native engine is checked against real Caffe elsewhere:
// test/pooling.test.ts, the sweep; the Pooling cases also against Caffe here, fixtures/any-size). Tolerance as in
// test/onnx-layers.test.ts. Also: sizeDependence's refusals, word for word.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { freeSize, sizeDependence } from '../src/onnx/batch.js';
import { type OnnxConversion, convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { Net } from '../src/runtime/net.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { randomArray, rng } from './helpers/compute.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-5;
const here = path.dirname(fileURLToPath(import.meta.url));

function netFrom(text: string, weights: Record<string, Tensor[]> = {}): Net {
  return Net.fromNetParameter(parsePrototxt(text, 'test.prototxt') as NetParameter, new Map(Object.entries(weights)));
}

function random(dims: number[], seed: number): Tensor {
  return new Tensor(dims, randomArray(sizeOf(dims), rng(seed)));
}

const input = (dims: number[], name = 'data') => `layer { name: "${name}" type: "Input" top: "${name}" input_param { shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } } }\n`;

/** The net's inputs reshaped: the graph at those shapes (as `crema convert` gives freeSize). */
const reshaper = (net: Net) => (shapes: Record<string, readonly number[]>) => (net.reshape(shapes as Record<string, number[]>), net.graph);

/** The net converted once with anySize, its sizes freed (asserting that it serves every size), in a session. */
async function anySizeSession(net: Net, outputs: 'net' | 'all' | string[] = 'all'): Promise<{ conversion: OnnxConversion; session: ort.InferenceSession }> {
  const conversion = convertGraph(net.graph, { anySize: true, outputs });
  expect(freeSize(net.graph, conversion, reshaper(net), { outputs })).toBeUndefined();
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
});

describe('sizeDependence: a net that builds the size in is named by its first such layer', () => {
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

  it('a Reshape to fixed dims', () => {
    const net = netFrom(input([1, 2, 6, 6]) + `
      layer { name: "relu" type: "ReLU" bottom: "data" top: "relu" }
      layer { name: "flat" type: "Reshape" bottom: "relu" top: "flat" reshape_param { shape { dim: 0 dim: -1 } } }`);
    const conversion = convertGraph(net.graph, { anySize: true });
    expect(sizeDependence(net.graph, conversion, reshaper(net), {})).toBe("layer 'flat' (Reshape) builds the input's size in (its constant 'flat/shape' is [1, 72] here, [1, 198] at [1, 2, 9, 11])");
    net.dispose();
  });
});

void fs;
void readNpy;
void here;
