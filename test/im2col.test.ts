// BVLC's Im2col against real Caffe (test/fixtures/layers/im2col, by make-fixtures.mjs: CTPN's 3 x 3 pad 1, kernel_h /
// kernel_w with strides and pads, dilation, channel axis 2 of a 5-D blob; natively and through ONNX Runtime with the
// other fixtures in reference.test.ts and onnx-reference.test.ts), a layout worked by hand, and its errors.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor.js';
import { layerOf, runLayerByLayer } from './helpers/compute.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/layers/im2col');
const im2col = (param: string) => `layer { name: "cols" type: "Im2col" bottom: "x" top: "y" convolution_param { ${param} } }`;

describe('Im2col', () => {
  it('matches Caffe', async () => {
    const results = await runLayerByLayer(fixture, new Set(['Im2col']));
    expect(results.filter((r) => r.computed).map((r) => r.blob)).toEqual(['cols3', 'cols_hw', 'cols_dil', 'cols_axis']);
    for (const r of results) {
      expect(r.ours, `shape of ${r.blob}`).toEqual(r.caffe);
      expect(r.error, `max|ours - caffe| / max(1, max|caffe|) of ${r.blob}`).toBe(0); // a copy: exact
    }
  });

  it('lays each window along the channels: channel c * kh * kw + i * kw + j, zeros in the padding (by hand)', () => {
    const layer = layerOf(im2col('kernel_size: 2 pad: 1 stride: 2'));
    // One 3 x 3 plane 1..9, pad 1, 2 x 2 windows at stride 2: a 2 x 2 grid of windows.
    expect(layer.reshape([[1, 1, 3, 3]])).toEqual([[1, 4, 2, 2]]);
    const top = Tensor.zeros([1, 4, 2, 2]);
    layer.forward([new Tensor([1, 1, 3, 3], Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]))], [top]);
    // Window (oy, ox) covers rows 2oy - 1 .. 2oy, columns 2ox - 1 .. 2ox: its top-left (i 0, j 0) first.
    expect([...top.data]).toEqual([0, 0, 0, 5, 0, 0, 4, 6, 0, 2, 0, 8, 1, 3, 7, 9]);
  });

  it('refuses what Caffe refuses, naming the layer', () => {
    expect(() => layerOf(im2col('pad: 1'))).toThrow("layer 'cols' (Im2col): needs kernel_size (or kernel_h and kernel_w)");
    expect(() => layerOf(im2col('kernel_size: 2 stride: 0'))).toThrow("layer 'cols' (Im2col): stride must be nonzero, got 0 x 0");
    expect(() => layerOf(im2col('kernel_size: 5')).reshape([[1, 2, 3, 3]])).toThrow(
      "layer 'cols' (Im2col): kernel extent 5 x 5 is larger than the padded input 3 x 3 (input 3 x 3, pad 0 x 0)");
    expect(() => layerOf(im2col('kernel_size: 2')).reshape([[1, 2, 3, 3, 3]])).toThrow(
      "layer 'cols' (Im2col): crema runs Im2col over 2 spatial dimensions (Caffe's N-D Im2col over 3 is not supported); bottom [1, 2, 3, 3, 3] with axis 1");
  });
});
