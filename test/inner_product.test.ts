// InnerProduct: Caffe's sweep references, a reference loop (batch 1 = GEMV path, batch > 1 = GEMM path, both
// weight layouts, any axis), V1's legacy 4-D weight blobs, fused ReLU, and bad input.
import { describe, expect, it } from 'vitest';
import type { FusableLayer } from '../src/layers/convolution.js';
import { Tensor } from '../src/tensor.js';
import { layerDef, randomArray, relDiff, rng, runLayer, sweepCases } from './helpers/compute.js';
import { sharedMissing } from './helpers/shared.js';

function referenceIp(x: Float32Array, M: number, K: number, w: Float32Array, N: number, transpose: boolean, b?: Float32Array): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = b ? b[n] : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * (transpose ? w[k * N + n] : w[n * K + k]);
      y[m * N + n] = s;
    }
  return y;
}

describe.skipIf(sharedMissing())('InnerProduct vs Caffe (reference/sweep ip_*)', () => sweepCases(/^ip_/));

describe('InnerProduct vs a reference loop', () => {
  const random = rng(31);
  for (const dims of [[1, 3, 5, 7], [4, 3, 5, 7], [1, 300], [2, 65]]) {
    for (const axis of [1, -1, 2]) {
      if (axis === 2 && dims.length < 3) continue;
      for (const transpose of [false, true]) {
        for (const bias of [true, false]) {
          it(`${dims.join('x')}, axis ${axis}, transpose ${transpose}, bias ${bias}`, () => {
            const canonical = axis < 0 ? axis + dims.length : axis;
            const M = dims.slice(0, canonical).reduce((a, d) => a * d, 1), K = dims.slice(canonical).reduce((a, d) => a * d, 1), N = 17;
            const x = new Tensor(dims, randomArray(M * K, random));
            const w = new Tensor(transpose ? [K, N] : [N, K], randomArray(N * K, random)), b = new Tensor([N], randomArray(N, random));
            const def = layerDef('InnerProduct', { inner_product_param: { num_output: N, axis, transpose, bias_term: bias } });
            const [y] = runLayer(def, bias ? [w, b] : [w], [x]);
            expect([...y.dims]).toEqual([...dims.slice(0, canonical), N]);
            expect(relDiff(y.data, referenceIp(x.data, M, K, w.data, N, transpose, bias ? b.data : undefined))).toBeLessThan(1e-5);
          });
        }
      }
    }
  }

  it('takes V1 legacy (1, 1, N, K) and (1, 1, 1, N) blobs, and fuses a ReLU (GEMV and GEMM)', () => {
    for (const batch of [1, 3]) {
      const K = 40, N = 9;
      const x = new Tensor([batch, 2, 4, 5], randomArray(batch * K, random));
      const w = new Tensor([1, 1, N, K], randomArray(N * K, random)), b = new Tensor([1, 1, 1, N], randomArray(N, random));
      const [y] = runLayer(layerDef('InnerProduct', { inner_product_param: { num_output: N } }), [w, b], [x], (l) => (l as FusableLayer).fuseRelu(0));
      const want = referenceIp(x.data, batch, K, w.data, N, false, b.data).map((v) => Math.max(0, v));
      expect(relDiff(y.data, want)).toBeLessThan(1e-5);
    }
  });
});

describe('InnerProduct refuses bad input, naming the layer', () => {
  const def = layerDef('InnerProduct', { inner_product_param: { num_output: 4 } });
  it('weights of the wrong shape (the input size does not match the weights)', () => {
    expect(() => runLayer(def, [Tensor.zeros([4, 12]), Tensor.zeros([4])], [Tensor.zeros([2, 3, 5])])).toThrow(
      "layer 'innerproduct' (InnerProduct): the weights (blob 0) has shape [4, 12] but the layer needs [4, 15]");
  });
  it('an axis out of range, a missing num_output, two bottoms', () => {
    expect(() => runLayer(layerDef('InnerProduct', { inner_product_param: { num_output: 4, axis: 3 } }), [], [Tensor.zeros([2, 3, 5])])).toThrow(
      "layer 'innerproduct' (InnerProduct): axis 3 is out of range for a 3-D blob");
    expect(() => runLayer(layerDef('InnerProduct', {}), [], [Tensor.zeros([2, 3])])).toThrow("layer 'innerproduct' (InnerProduct): needs num_output > 0");
    expect(() => runLayer(layerDef('InnerProduct', { inner_product_param: { num_output: 4 } }, 2, 1), [], [Tensor.zeros([2, 3]), Tensor.zeros([2, 3])])).toThrow(
      "layer 'innerproduct' (InnerProduct): takes 1 bottom(s), got 2");
  });
});
