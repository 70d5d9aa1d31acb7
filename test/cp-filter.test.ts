// yihui-he/caffe-pro's Filter (channel-pruning's pruned ResNet-50, resnet-50-cp.prototxt): a top per bottom, the
// selector its weight blob, the slices along filter_param.axis whose selector value is nonzero kept in order. The
// fork has no CPU forward (NOT_IMPLEMENTED) and needs CUDA, so the referee is the gather restated below: values are
// only moved, so native and ONNX Runtime must match it exactly.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNet } from '../src/caffe/load.js';
import type { NetParameter } from '../src/caffe/types.js';
import type { GraphLayer } from '../src/graph/graph.js';
import { declaredWeights } from '../src/layers/layer.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { input, netOf, random } from './helpers/fork-layers.js';
import { hashInputData, hashWeightBlobs } from './helpers/hashweights.mjs';
import { TOLERANCE, relativeDifference } from './helpers/reference.js';
import { len, packedFloats, str, uint, varint } from './helpers/wire.js';

/** The kept slices of x along `axis`, by index arithmetic: top element (o, j, r) is bottom element (o, kept[j], r). */
function restatedGather(x: Tensor, axis: number, selector: readonly number[]): Tensor {
  const kept = selector.flatMap((v, i) => (v !== 0 || Number.isNaN(v) ? [i] : []));
  const dims = x.dims.map((d, i) => (i === axis ? kept.length : d));
  const inner = sizeOf(x.dims.slice(axis + 1)), out = new Float32Array(sizeOf(dims));
  for (let t = 0; t < out.length; t++) {
    const r = t % inner, j = Math.floor(t / inner) % kept.length, o = Math.floor(t / inner / kept.length);
    out[t] = x.data[(o * x.dims[axis] + kept[j]) * inner + r];
  }
  return new Tensor(dims, out);
}

const filter = (name: string, bottom: string, param: string) =>
  `layer { name: "${name}" type: "Filter" bottom: "${bottom}" top: "${name}" param { lr_mult: 0 decay_mult: 0 } filter_param { ${param} } }`;
// Selectors with negative values, -0 (not kept, as C++'s `if (x)`) and NaN (kept).
const channels = [0, 1, -0, 2.5, -1], rows = [NaN, 0, 0.5, 0];
const prototxt = `${input('x', [2, 5, 4, 3])}
${filter('f1', 'x', 'num_output: 3')}
${filter('f2', 'f1', 'axis: 2 num_output: 2')}`;
const selectors = () => ({ f1: [new Tensor([5], Float32Array.from(channels))], f2: [new Tensor([4], Float32Array.from(rows))] });

describe("Filter (yihui-he/caffe-pro's: the selector in its weights)", () => {
  it('keeps channels 1, 3, 4 (axis 1) then rows 0, 2 (axis 2), natively and in ONNX Runtime (Gather), exactly', async () => {
    const net = netOf(prototxt, selectors()), x = random([2, 5, 4, 3], 47);
    const f1 = restatedGather(x, 1, channels), f2 = restatedGather(f1, 2, rows);
    expect([f1.dims, f2.dims]).toEqual([[2, 3, 4, 3], [2, 3, 2, 3]]);
    net.forward({ x });
    const onnx = await runOnnx(net.graph, { x }, { threads: 1, outputs: ['f1', 'f2'] });
    for (const [blob, want] of [['f1', f1], ['f2', f2]] as const) {
      for (const got of [net.blobs.get(blob)!, onnx.get(blob)!]) {
        expect(got.dims).toEqual(want.dims);
        expect(Array.from(got.data)).toEqual(Array.from(want.data));
      }
    }
  });

  it("fills a selector the weights leave out with ones, as the fork's LayerSetUp: every slice kept, natively and in ONNX Runtime", async () => {
    const net = netOf(`${input('x', [2, 5, 4, 3])}\n${filter('f1', 'x', 'num_output: 5')}`), x = random([2, 5, 4, 3], 3);
    net.forward({ x });
    const onnx = await runOnnx(net.graph, { x }, { threads: 1, outputs: ['f1'] });
    for (const got of [net.blobs.get('f1')!, onnx.get('f1')!]) expect(Array.from(got.data)).toEqual(Array.from(x.data));
  });

  it('shapes from num_output without its selector, as the fork, and refuses at forward (the fork CHECKs there) a num_output that is not the slice count', () => {
    for (const [weights, first] of [[{}, 'f1'], [{ f1: selectors().f1 }, 'f2']] as const) {
      const net = netOf(prototxt, weights);
      expect(net.graph.layers.map((l) => l.topShapes[0])).toEqual([[2, 5, 4, 3], [2, 3, 4, 3], [2, 3, 2, 3]]);
      const of = first === 'f1' ? 5 : 4, want = first === 'f1' ? 3 : 2;
      expect(() => net.forward({ x: random([2, 5, 4, 3], 1) })).toThrow(`layer '${first}' (Filter): filter_param.num_output is ${want} but its selector (blob 0) has ${of} nonzero values of ${of}: caffe-pro's forward CHECKs they are equal`);
    }
  });

  it('filters several bottoms by one selector (a top per bottom), natively and in ONNX Runtime, exactly', async () => {
    const text = `${input('a', [2, 5, 4, 3])}\n${input('b', [1, 5, 2])}
layer { name: "f" type: "Filter" bottom: "a" bottom: "b" top: "fa" top: "fb" filter_param { num_output: 3 } }`;
    const net = netOf(text, { f: selectors().f1 }), a = random([2, 5, 4, 3], 11), b = random([1, 5, 2], 12);
    net.forward({ a, b });
    const onnx = await runOnnx(net.graph, { a, b }, { threads: 1, outputs: ['fa', 'fb'] });
    for (const [blob, want] of [['fa', restatedGather(a, 1, channels)], ['fb', restatedGather(b, 1, channels)]] as const) {
      expect(want.dims).toEqual(blob === 'fa' ? [2, 3, 4, 3] : [1, 3, 2]);
      for (const got of [net.blobs.get(blob)!, onnx.get(blob)!]) {
        expect(got.dims).toEqual(want.dims);
        expect(Array.from(got.data)).toEqual(Array.from(want.data));
      }
    }
    expect(() => netOf(text.replace('dim: 1 dim: 5 dim: 2', 'dim: 1 dim: 4 dim: 2'), { f: selectors().f1 })).toThrow(/^layer 'f' \(Filter\): bottom 1 has shape \[1, 4, 2\], but bottom 0 has 5 along axis 1: the selector has one value per slice of each$/);
  });

  it("reads the selector from a caffemodel as caffe-pro writes it (filter_param at 149 there: reorg_param's number here)", async () => {
    const layer = (name: string, values: number[]) => len(100, [...str(1, name), ...str(2, 'Filter'), ...len(149, [...uint(1, 1), ...uint(2, values.filter((v) => v !== 0).length)]),
      ...len(7, [...len(7, len(1, varint(values.length))), ...packedFloats(5, values)])]);
    const caffemodel = Uint8Array.from([...str(1, 'cp'), ...layer('f1', [0, 1, 0, 2.5, -1])]);
    const net = await Net.load({ prototxt: `${input('x', [2, 5, 4, 3])}\n${filter('f1', 'x', 'num_output: 3')}`, weights: caffemodel });
    const x = random([2, 5, 4, 3], 5);
    net.forward({ x });
    expect(Array.from(net.blobs.get('f1')!.data)).toEqual(Array.from(restatedGather(x, 1, channels).data));
  });

  it('refuses, in one line naming the layer: a num_output that is not the nonzero count or unset, a misshapen selector, axis 0, the wrong top count', () => {
    const bad = (text: string, weights: Record<string, Tensor[]> = selectors()) => () => netOf(`${input('x', [2, 5, 4, 3])}\n${text}`, weights);
    expect(bad(filter('f1', 'x', 'num_output: 2'))).toThrow(/^layer 'f1' \(Filter\): filter_param\.num_output is 2 but its selector \(blob 0\) has 3 nonzero values of 5: caffe-pro's forward CHECKs they are equal$/);
    expect(bad(filter('f1', 'x', 'axis: 1'))).toThrow(/^layer 'f1' \(Filter\): filter_param\.num_output \(the top's size along the axis\) must be at least 1, got 0$/);
    expect(bad(filter('f1', 'x', 'num_output: 3'), { f1: [new Tensor([4], Float32Array.from(rows))] })).toThrow(/^layer 'f1' \(Filter\): the selector \(blob 0\) has shape \[4\] but the layer needs \[5\]$/);
    expect(bad(filter('f1', 'x', 'axis: 0 num_output: 1'), { f1: [new Tensor([2], Float32Array.of(0, 1))] })).toThrow(/^layer 'f1' \(Filter\): filter_param\.axis 0 \(the items\) is NOT_IMPLEMENTED in caffe-pro's Filter/);
    expect(bad('layer { name: "f1" type: "Filter" bottom: "x" top: "a" top: "b" }')).toThrow(/^layer 'f1' \(Filter\): takes data bottoms and the selector last, and a top per data bottom \(BVLC's\), or a top per bottom and the selector in its weights \(caffe-pro's, filter_param\), got 1 bottom\(s\) and 2 top\(s\)$/);
  });
});

describe("channel-pruning's ResNet-50 2x (resnet-50-cp.prototxt: 16 Filters at axis 1)", () => {
  const file = path.join(import.meta.dirname, 'fixtures/cpfilter/resnet-50-cp.prototxt');
  const at224 = { dataShapes: { data: [1, 3, 224, 224] } };

  /** The parsed net (its ImageData an Input of one image) and hashweights' blobs for every layer that has weights. */
  async function hashed(gain: number): Promise<{ parsed: NetParameter; filters: GraphLayer[]; weights: Map<string, Tensor[]> }> {
    const parsed = (await loadNet(file, undefined, at224)).net, shaped = Net.fromNetParameter(parsed);
    const layers = shaped.graph.layers.map((l) => ({ name: l.name, type: l.type, blobs: declaredWeights.get(l.def) ?? [] })).filter((l) => l.blobs.length);
    const spec = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cpfilter-')), 'spec.json');
    fs.writeFileSync(spec, JSON.stringify({ name: 'resnet-50-cp', layers }));
    const weights = new Map(hashWeightBlobs(spec, 'cp', gain).map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))]));
    return { parsed, filters: shaped.graph.layers.filter((l) => l.type === 'Filter'), weights };
  }

  it('loads with selectors of num_output nonzeros and runs natively as in ONNX Runtime; each Filter top is the gather of its bottom, exactly', async () => {
    const { parsed, filters, weights } = await hashed(0.5);
    expect(filters.map((l) => l.topShapes[0][1])).toEqual([35, 101, 97, 144, 205, 198, 288, 278, 418, 407, 423, 412, 595, 606, 1222, 1147]);
    // Each selector keeps num_output channels spread over C (values 1, 2, ...), the others 0.
    const selectors = new Map(filters.map((l) => {
      const C = l.bottomShapes[0][1], K = l.topShapes[0][1], values = Array.from({ length: C }, () => 0);
      for (let i = 0; i < K; i++) values[Math.floor((i * C) / K)] = 1 + i;
      weights.set(l.name, [new Tensor([C], Float32Array.from(values))]);
      return [l.name, values];
    }));
    const net = Net.fromNetParameter(parsed, weights), x = new Tensor([1, 3, 224, 224], hashInputData(47, 100, [1, 3, 224, 224]));
    net.forward({ data: x });
    const outputs = [...filters.map((l) => l.tops[0]), 'prob'];
    const onnx = await runOnnx(net.graph, { data: x }, { threads: 1, outputs });
    for (const l of filters)
      expect(Array.from(net.blobs.get(l.tops[0])!.data), l.name).toEqual(Array.from(restatedGather(net.blobs.get(l.bottoms[0])!, 1, selectors.get(l.name)!).data));
    for (const blob of outputs) expect(relativeDifference(onnx.get(blob)!.data, net.blobs.get(blob)!.data), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
  });

  it("refuses hashweights' own selectors (every value nonzero), naming the first Filter", async () => {
    const { parsed, weights } = await hashed(1);
    expect(() => Net.fromNetParameter(parsed, weights)).toThrow(/^layer 'pool1_Filter' \(Filter\): filter_param\.num_output is 35 but its selector \(blob 0\) has 64 nonzero values of 64: caffe-pro's forward CHECKs they are equal$/);
  });
});
