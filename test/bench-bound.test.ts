// The benchmark's `bound` column (src/bench/bound.ts): the fewest multiply-adds crema's algorithms need, by layer kind.
import { describe, expect, it } from 'vitest';
import { kernelBound, idealTaps, layerBound } from '../src/bench/bound.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { buildGraph } from '../src/graph/graph.js';

const graphOf = (text: string) => buildGraph(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'));
const conv = (name: string, bottom: string, p: string) => `layer { name: "${name}" type: "Convolution" bottom: "${bottom}" top: "${name}" convolution_param { ${p} } }`;

describe('kernelBound', () => {
  it('multiply-adds per output and input channel at best, per kernel', () => {
    expect(idealTaps(3, 3)).toBeCloseTo(64 / 36, 12); // F(6x6, 3x3)
    expect(idealTaps(4, 4)).toBe(4); // F(3x3, 4x4)
    expect(idealTaps(5, 5)).toBe(4); // F(4x4, 5x5)
    expect(idealTaps(7, 7)).toBe(10); // F(2x4, 7x7)
    expect(idealTaps(9, 9)).toBeCloseTo((9 * 64) / 36, 12); // nine 3x3 blocks in F(6x6)
    expect(idealTaps(1, 7)).toBe(2.5); // F(4, 7)
    expect(idealTaps(3, 1)).toBe(1.5); // F(4, 3)
    expect(idealTaps(1, 5)).toBe(3); // two 1 x 3 blocks in F(4, 3)
    expect(idealTaps(1, 1)).toBe(1);
    expect(idealTaps(2, 2)).toBe(4);
  });

  it('counts each kind of layer of a net', () => {
    const g = graphOf(`layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 4 dim: 10 dim: 10 } } }
      ${conv('a', 'data', 'num_output: 8 kernel_size: 3 pad: 1')}
      ${conv('b', 'a', 'num_output: 6 kernel_size: 1')}
      ${conv('c', 'b', 'num_output: 6 kernel_size: 3 pad: 1 group: 6')}
      ${conv('d', 'c', 'num_output: 2 kernel_h: 1 kernel_w: 7 pad_h: 0 pad_w: 3')}
      ${conv('e', 'c', 'num_output: 2 kernel_size: 3 pad: 2 dilation: 2')}
      ${conv('f', 'c', 'num_output: 4 kernel_size: 7 pad: 3 stride: 2')}
      layer { name: "g" type: "InnerProduct" bottom: "f" top: "g" inner_product_param { num_output: 10 } }`);
    // a: 3x3, 800 outputs x 4 channels x 9; b: 1x1, 600 x 8; c: depthwise, 600 x 9; d: 1x7, 200 x 6 x 7;
    // e: dilated 3x3, 200 x 6 x 9; f: 7x7 stride 2, 100 x 6 x 49 (space-to-depth: a 4x4 kernel on 24 channels);
    // g: 100 inputs x 10.
    const b = kernelBound(g);
    expect(b.macs).toBe(28800 + 4800 + 5400 + 8400 + 10800 + 29400 + 1000);
    expect(b.pointwise).toBe(4800);
    expect(b.depthwise).toBe(5400);
    expect(b.cut).toBe(28800 + 8400 + 29400);
    expect(b.ideal).toBeCloseTo((800 * 4 * 64) / 36 + 4800 + 5400 + 200 * 6 * 2.5 + 10800 + 100 * 6 * 4 * 4 + 1000, 6);
    // Layer by layer (scripts/bench-excess.mjs): f alone, and nothing for the Input.
    const f = layerBound(g.layers.find((l) => l.name === 'f')!);
    expect([f.macs, f.cut, f.pointwise, f.depthwise]).toEqual([29400, 29400, 0, 0]);
    expect(f.ideal).toBeCloseTo(100 * 6 * 4 * 4, 9);
    expect(layerBound(g.layers[0]).macs).toBe(0);
  });

  it('cuts an N-D convolution (BVLC\'s, C3D\'s) by its last two axes\' kernel, the outer taps whole', () => {
    const g = graphOf(`layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 4 dim: 5 dim: 6 dim: 6 } } }
      ${conv('a', 'data', 'num_output: 2 kernel_size: 3 pad: 1')}
      layer { name: "b" type: "Convolution3D" bottom: "a" top: "b" convolution3d_param { num_output: 2 kernel_size: 1 kernel_depth: 3 } }`);
    // a: 3x3x3, 180 outputs x 2 channels x 4 channels x 27 (9 taps a frame cut to 64 / 36); b: 3x1x1, 72 outputs x 2 x 2 x 3.
    const b = kernelBound(g);
    expect(b.macs).toBe(180 * 2 * 4 * 27 + 3 * 6 * 6 * 2 * 2 * 3);
    expect(b.pointwise).toBe(3 * 6 * 6 * 2 * 2 * 3);
    expect(b.ideal).toBeCloseTo((180 * 2 * 4 * 27 * 64) / 36 / 9 + 3 * 6 * 6 * 2 * 2 * 3, 6);
  });

  it("counts the forks' depthwise layers whole, as depthwise", () => {
    const g = graphOf(`layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 8 dim: 6 dim: 6 } } }
      layer { name: "dw" type: "DepthwiseConvolution" bottom: "data" top: "dw" convolution_param { num_output: 8 kernel_size: 3 pad: 1 group: 8 } }
      layer { name: "cd" type: "ConvolutionDepthwise" bottom: "dw" top: "cd" convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }`);
    const b = kernelBound(g);
    expect(b).toEqual({ macs: 2 * 288 * 9, ideal: 2 * 288 * 9, pointwise: 0, depthwise: 2 * 288 * 9, cut: 0 });
  });

  it("cuts AlexNet's conv1 (11x11, stride 4) as a 3x3 on its space-to-depth, and leaves a 3x3 stride 2 whole", () => {
    const g = graphOf(`layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 227 dim: 227 } } }
      ${conv('conv1', 'data', 'num_output: 96 kernel_size: 11 stride: 4')}
      ${conv('s2', 'conv1', 'num_output: 8 kernel_size: 3 stride: 2')}`);
    const b = kernelBound(g);
    const conv1 = 55 * 55 * 96 * 3 * 121, s2 = 27 * 27 * 8 * 96 * 9;
    expect(b.macs).toBe(conv1 + s2);
    // 16 channels of the 3 x 3 kernel each: 48 x 64 / 36 multiply-adds an output where 3 x 121 were.
    expect(b.ideal).toBeCloseTo((conv1 * 16 * (64 / 36)) / 121 + s2, 3);
  });
});
