// The graph: wiring checks, shape inference and `crema info`'s summary.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { buildGraph } from '../src/graph/graph.js';
import { summarize } from '../src/graph/summary.js';
import { knownLayerTypes } from '../src/layers/registry.js';
import { Tensor } from '../src/tensor.js';

const graphOf = (text: string, weights?: Map<string, Tensor[]>) => buildGraph(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), weights);
const input = (dims: number[]) => `layer { name: "data" type: "Input" top: "data" input_param { shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } } }`;

describe('wiring', () => {
  it('refuses a bottom that no earlier layer produces', () => {
    expect(() => graphOf(`${input([1, 3])} layer { name: "r" type: "ReLU" bottom: "dta" top: "r" }`)).toThrow(
      "layer 'r' (ReLU): bottom 'dta' is not produced by any earlier layer (did you mean 'data'?)",
    );
  });
  it('refuses a top written twice when the second writer is not in place', () => {
    expect(() => graphOf(`${input([1, 3])} layer { name: "a" type: "ReLU" bottom: "data" top: "x" } layer { name: "b" type: "Sigmoid" bottom: "data" top: "x" }`)).toThrow(
      "layer 'b' (Sigmoid): top 'x' is already produced by an earlier layer and this layer is not in place on it",
    );
  });
  it('takes two layers with one name, as Caffe 1.0 does (test/names.test.ts has the rules)', () => {
    expect(graphOf(`${input([1, 3])} layer { name: "data" type: "ReLU" bottom: "data" top: "data" }`).layers.map((l) => l.name)).toEqual(['data', 'data']);
  });
  const tail = () =>
    `; crema knows ${knownLayerTypes().length} types (listed by README.md's "Layers, by family" and knownLayerTypes()); add one as a plugin (--plugin FILE.js or options.plugins: README.md's "Plugins", examples/plugins)`;
  it('refuses an unknown layer type in one short line: how many are known, where they are listed, how to add one', () => {
    const err = (() => {
      try {
        graphOf(`${input([1, 3])} layer { name: "p" type: "Region" bottom: "data" top: "p" }`);
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(err).toBe(`layer 'p': unknown layer type 'Region'${tail()}`);
    expect(err!.length).toBeLessThan(300); // every known type's name made it ~970 characters
    expect(knownLayerTypes().length).toBeGreaterThan(80);
    expect(knownLayerTypes()).toEqual(expect.arrayContaining(['Convolution', 'LRN', 'Pooling', 'InnerProduct', 'Softmax', 'BatchNorm', 'Eltwise']));
  });
  it('the README lists every known layer type, as the refusal says', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const families = readme.slice(readme.indexOf('## Layers, by family'), readme.indexOf('\n## ', readme.indexOf('## Layers, by family') + 3));
    expect(knownLayerTypes().filter((t) => !new RegExp(`\\b${t}\\b`).test(families))).toEqual([]);
  });

  it('an unknown layer type near a known one (Caffe\'s types are case-sensitive) says which was likely meant, or which ones', () => {
    for (const [typo, meant] of [['Relu', "'ReLU'"], ['Convolutoin', "'Convolution'"], ['InnerProdcut', "'InnerProduct'"], ['batch_norm', "'BatchNorm'"], ['Convolution3', "'Convolution' or 'Convolution3D'"], ['lstm', "'LSTM' or 'Lstm'"]])
      expect(() => graphOf(`${input([1, 3])} layer { name: "p" type: "${typo}" bottom: "data" top: "p" }`)).toThrow(`layer 'p': unknown layer type '${typo}' (did you mean ${meant}?)${tail()}`);
  });
  it('refuses blobs of absurd size before allocating anything', () => {
    expect(() => graphOf(input([100000, 100000, 1000]))).toThrow("layer 'data' (Input): top 'data' would have shape [100000, 100000, 1000], which is not a sane blob size");
    expect(() => graphOf(`${input([1, 3, 4, 4])} layer { name: "t" type: "Tile" bottom: "data" top: "t" tile_param { axis: 1 tiles: 2000000000 } }`)).toThrow(/not a sane blob size/);
  });
  it('refuses a net whose blobs together are beyond 16 GiB, though each one fits', () => {
    const layers = Array.from({ length: 5 }, (_, i) => `layer { name: "s${i}" type: "Sigmoid" bottom: "${i ? `s${i - 1}` : 'data'}" top: "s${i}" }`).join(' ');
    expect(() => graphOf(`${input([1000, 1000, 1000])} ${layers}`)).toThrow(
      "the net's blobs would hold 6,000,000,000 values (22.4 GiB) at these input shapes, beyond crema's bound of 16 GiB; use a smaller batch or input",
    );
  });
  it('in-place layers keep one blob; outputs are the blobs nothing reads later', () => {
    const g = graphOf(`${input([2, 3])} layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 4 } }
      layer { name: "relu" type: "ReLU" bottom: "ip" top: "ip" } layer { name: "sm" type: "Softmax" bottom: "ip" top: "prob" }
      layer { name: "side" type: "Sigmoid" bottom: "data" top: "side" }`);
    expect([...g.blobShapes.keys()]).toEqual(['data', 'ip', 'prob', 'side']);
    expect(g.outputs).toEqual(['prob', 'side']);
    expect(g.inputs).toEqual(['data']);
  });
});

describe('shapes and summary', () => {
  const lenet = `${input([64, 1, 28, 28])}
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 20 kernel_size: 5 } }
    layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
    layer { name: "ip1" type: "InnerProduct" bottom: "pool1" top: "ip1" inner_product_param { num_output: 10 } }`;
  it('infers shapes and counts parameters and multiply-adds without weights', () => {
    const s = summarize(graphOf(lenet));
    expect(s.blobs).toEqual({ data: [64, 1, 28, 28], conv1: [64, 20, 24, 24], pool1: [64, 20, 12, 12], ip1: [64, 10] });
    expect(s.layers.map((l) => [l.name, l.params, l.macs])).toEqual([
      ['data', 0, 0],
      ['conv1', 20 * 25 + 20, 64 * 20 * 24 * 24 * 25],
      ['pool1', 0, 0],
      ['ip1', 2880 * 10 + 10, 64 * 2880 * 10],
    ]);
    expect(s.layers[1]).toMatchObject({ type: 'Convolution', bottom: ['data'], top: ['conv1'] });
  });
  it('a weight blob of the wrong shape names the layer and both shapes', () => {
    const w = new Map([['conv1', [Tensor.zeros([20, 3, 5, 5]), Tensor.zeros([20])]]]);
    expect(() => graphOf(lenet, w)).toThrow("layer 'conv1' (Convolution): the weights (blob 0) has shape [20, 3, 5, 5] but the layer needs [20, 1, 5, 5]");
  });
  it('legacy 4-D weight blobs fit right-aligned', () => {
    const w = new Map([['ip1', [Tensor.zeros([1, 1, 10, 2880]), Tensor.zeros([1, 1, 1, 10])]]]);
    expect(() => graphOf(lenet, w)).not.toThrow();
  });
});
