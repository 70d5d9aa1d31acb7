// BVLC's LSTM and RNN against real Caffe (test/fixtures/layers/recurrent, by make-fixtures.mjs: streams reset by
// cont mid-sequence, a cont of 0.5, a static input, the state exposed, a 4-D x; natively and through ONNX Runtime
// with the other fixtures in reference.test.ts and onnx-reference.test.ts), here layer by layer with both kernel
// sets, a second forward (Caffe starts it from the state the first ended in), and their errors.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNet } from '../src/caffe/load.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { buildGraph, inferShapes } from '../src/graph/graph.js';
import { kernelsInUse, useKernels } from '../src/kernels/wasm.js';
import { convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { layerOf, runLayerByLayer } from './helpers/compute.js';
import { RECURRENT_NET, recurrentFeeds, recurrentWeights } from './helpers/recurrent.js';
import { TOLERANCE, relativeError } from './helpers/reference.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/layers/recurrent');
const manifest = JSON.parse(fs.readFileSync(path.join(fixture, 'manifest.json'), 'utf8')) as { again: string[] };
const lstm = (bottoms: string, param: string, tops = 'top: "h"') => `layer { name: "lstm" type: "LSTM" ${bottoms} ${tops} recurrent_param { ${param} } }`;
const xc = 'bottom: "x" bottom: "cont"';
const weights = (...shapes: number[][]) => shapes.map((s) => new Tensor(s, Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + s.length))));

afterAll(() => useKernels('wasm'));

describe('LSTM and RNN', () => {
  for (const kernels of ['wasm', 'js'] as const)
    it(`match Caffe layer by layer, ${kernels} kernels`, async () => {
      useKernels(kernels);
      expect(kernelsInUse()).toBe(kernels);
      const results = await runLayerByLayer(fixture, new Set(['LSTM', 'RNN']));
      expect(results.filter((r) => r.computed).map((r) => r.blob)).toEqual([
        'lstm', 'lstm_s', 'lstm_e', 'lstm_e_hT', 'lstm_e_cT', 'lstm_se', 'lstm_se_hT', 'lstm_se_cT', 'rnn', 'rnn_se', 'rnn_se_hT',
      ]);
      for (const r of results) {
        expect(r.ours, `shape of ${r.blob}`).toEqual(r.caffe);
        expect(r.error, `max|ours - caffe| / max(1, max|caffe|) of ${r.blob}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });

  it("start a second forward from the state the first ended in, as Caffe's (exposed state: from the bottoms)", async () => {
    const net = await Net.load(path.join(fixture, 'net.prototxt'), path.join(fixture, 'weights.caffemodel'));
    const input = readNpy(path.join(fixture, 'input.npy'));
    net.forward({ data: input });
    const first = new Map(manifest.again.map((b) => [b, net.blobs.get(b)!.data.slice()]));
    net.forward({ data: input });
    for (const b of manifest.again) {
      const caffe = readNpy(path.join(fixture, 'again', `${b}.npy`));
      expect(relativeError(net.blobs.get(b)!, caffe), `second forward of ${b}`).toBeLessThanOrEqual(TOLERANCE);
      // The carried state changes the blobs of the layers that keep it (cont is 1 at step 0), not the others'.
      expect(net.blobs.get(b)!.data.some((v, i) => v !== first.get(b)![i]), b).toBe(!b.endsWith('_e') && !b.endsWith('_se'));
    }
  });

  it('start from zeros again when the number of streams changes', () => {
    const w = weights([8, 3], [8], [8, 2]);
    const run = (layer: ReturnType<typeof layerOf>, n: number) => {
      const [top] = layer.reshape([[2, n, 3], [2, n]]);
      const y = Tensor.zeros(top);
      layer.forward([new Tensor([2, n, 3], Float32Array.from({ length: 6 * n }, (_, i) => Math.cos(i))), new Tensor([2, n], new Float32Array(2 * n).fill(1))], [y]);
      return y.data;
    };
    const used = layerOf(lstm(xc, 'num_output: 2'), w);
    run(used, 2);
    expect(run(used, 1)).toEqual(run(layerOf(lstm(xc, 'num_output: 2'), w), 1));
  });

  it('export the state they start from, and say that ONNX keeps none between runs', async () => {
    const { net, weights: blobs } = await loadNet(path.join(fixture, 'net.prototxt'), path.join(fixture, 'weights.caffemodel'));
    const graph = buildGraph(net, blobs);
    inferShapes(graph, { data: [1, 1, 1, 64] });
    const { notes } = convertGraph(graph);
    const note = "Caffe starts each forward from the state the last one ended in; the ONNX graph starts every run from zeros, as Caffe's first forward (give the layer expose_hidden: true to feed the state)";
    expect(notes).toEqual(['lstm', 'lstm_s', 'rnn'].map((l) => `layer '${l}' (${l === 'rnn' ? 'RNN' : 'LSTM'}): ${note}`));
  });

  it('unrolled in ONNX: as many constants at every T (each step Split off, the gates\' bounds once), as the native engine in ONNX Runtime at opset 17 and 18', async () => {
    const counts: number[] = [];
    for (const T of [1, 3, 9]) {
      // A net of its own at each T: the native engine carries the state from one forward to the next, ONNX starts from zeros.
      const net = Net.fromNetParameter(parsePrototxt(RECURRENT_NET, 'recurrent.prototxt') as NetParameter, new Map(Object.entries(recurrentWeights())));
      try {
        const feeds = recurrentFeeds(2, T);
        net.reshape(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, [...t.dims]])));
        const native = net.forward(feeds);
        for (const opset of [17, 18]) {
          const conversion = convertGraph(net.graph, { opset });
          counts.push(conversion.model.graph.initializer.length);
          const session = await ort.InferenceSession.create(encodeConversion(conversion), { intraOpNumThreads: 1, logSeverityLevel: 3 });
          const results = await session.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, new ort.Tensor('float32', t.data, [...t.dims])])));
          await session.release();
          for (const [blob, name] of conversion.outputs) {
            const got = results[name];
            expect(relativeError(new Tensor([...got.dims], got.data as Float32Array), native[blob]), `${blob} at T ${T}, opset ${opset}`).toBeLessThanOrEqual(TOLERANCE);
          }
        }
      } finally {
        net.dispose();
      }
    }
    // 70 at each T. Before: the 6 layers' step indices and each LSTM's 12 gate bounds a step (100 at T 1, 208 at 3, 532 at 9).
    expect(counts).toEqual(new Array(6).fill(70));
  });

  it('refuse what Caffe refuses, naming the layer and the blob', () => {
    const reshape = (text: string, w: Tensor[], ...shapes: number[][]) => layerOf(text, w).reshape(shapes);
    expect(() => layerOf(lstm(xc, ''))).toThrow("layer 'lstm' (LSTM): needs recurrent_param { num_output: ... } (positive)");
    expect(() => layerOf(lstm('bottom: "x"', 'num_output: 2'))).toThrow("layer 'lstm' (LSTM): takes 2 to 3 bottom(s), got 1");
    expect(() => layerOf(lstm(xc, 'num_output: 2 expose_hidden: true'))).toThrow("layer 'lstm' (LSTM): takes 4 to 5 bottom(s), got 2");
    expect(() => layerOf(lstm(`${xc} bottom: "h0" bottom: "c0"`, 'num_output: 2 expose_hidden: true'))).toThrow("layer 'lstm' (LSTM): gives 3 top(s), got 1");
    const w = weights([8, 3], [8], [8, 2]);
    expect(reshape(lstm(xc, 'num_output: 2'), w, [4, 1, 3], [4, 1])).toEqual([[4, 1, 2]]);
    expect(() => reshape(lstm(xc, 'num_output: 2'), w, [4, 3], [4, 3])).toThrow(
      "layer 'lstm' (LSTM): bottom 0 (x) must be (T timesteps, N streams, features...), at least 3 axes, got [4, 3]");
    expect(() => reshape(lstm(xc, 'num_output: 2'), w, [4, 1, 3], [4, 2])).toThrow(
      "layer 'lstm' (LSTM): bottom 1 (cont, the sequence continuation indicators) must be (T, N) = [4, 1], got [4, 2]");
    expect(() => reshape(lstm(xc, 'num_output: 2'), w, [4, 1, 5], [4, 1])).toThrow("layer 'lstm' (LSTM): W_xc (blob 0) has shape [8, 3] but the layer needs [8, 5]");
    expect(() => reshape(lstm(xc, 'num_output: 2'), w.slice(0, 2), [4, 1, 3], [4, 1])).toThrow("layer 'lstm' (LSTM): has 2 weight blobs but takes 3 (W_xc, b_c, W_hc)");
    expect(() => reshape(lstm(`${xc} bottom: "s"`, 'num_output: 2'), w, [4, 1, 3], [4, 1], [2, 6])).toThrow("layer 'lstm' (LSTM): bottom 2 (x_static) must be (N = 1, features...), got [2, 6]");
    expect(() => reshape(lstm(`${xc} bottom: "h0" bottom: "c0"`, 'num_output: 2 expose_hidden: true', 'top: "h" top: "hT" top: "cT"'), w, [4, 1, 3], [4, 1], [1, 1, 2], [1, 2])).toThrow(
      "layer 'lstm' (LSTM): bottom 3 (c_0) must be [1, 1, 2], got [1, 2]");
    const rnn = 'layer { name: "rnn" type: "RNN" bottom: "x" bottom: "cont" top: "o" recurrent_param { num_output: 2 } }';
    expect(() => reshape(rnn, weights([2, 3], [2], [2, 2], [2, 2], [3]), [4, 1, 3], [4, 1])).toThrow("layer 'rnn' (RNN): b_o (blob 4) has shape [3] but the layer needs [2]");
  });
});
