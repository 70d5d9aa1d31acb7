// BVLC's SPP (spatial pyramid pooling) against real Caffe (test/fixtures/layers/spp, by make-fixtures.mjs: MAX and
// AVE, pyramid heights 1 to 3, padded levels; natively and through ONNX Runtime with the other fixtures in
// reference.test.ts and onnx-reference.test.ts), here with the TypeScript kernels too, and its errors.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelsInUse, useKernels } from '../src/kernels/wasm.js';
import { layerOf, runLayerByLayer } from './helpers/compute.js';
import { TOLERANCE } from './helpers/reference.js';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/layers/spp');
const spp = (param: string) => `layer { name: "spp" type: "SPP" bottom: "x" top: "y" ${param} }`;

afterAll(() => useKernels('wasm'));

describe('SPP', () => {
  for (const kernels of ['wasm', 'js'] as const)
    it(`matches Caffe, ${kernels} kernels`, async () => {
      useKernels(kernels);
      expect(kernelsInUse()).toBe(kernels);
      const results = await runLayerByLayer(fixture, new Set(['SPP']));
      expect(results.filter((r) => r.computed).map((r) => r.blob)).toEqual(['spp_max3', 'spp_ave3', 'spp_max1', 'spp_ave2']);
      for (const r of results) {
        expect(r.ours, `shape of ${r.blob}`).toEqual(r.caffe);
        expect(r.error, `max|ours - caffe| / max(1, max|caffe|) of ${r.blob}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });

  it('gives (N, C * (1 + 4 + 16 ...)) and, for one level, the 4-D pooling', () => {
    expect(layerOf(spp('spp_param { pyramid_height: 3 }')).reshape([[2, 5, 13, 10]])).toEqual([[2, 5 * 21]]);
    expect(layerOf(spp('spp_param { pyramid_height: 1 pool: AVE }')).reshape([[2, 5, 13, 10]])).toEqual([[2, 5, 1, 1]]);
    // Level 1: 13 rows in windows of 7 with pad 1, 7 columns in windows of 4 with pad 1: 2 x 2 bins.
    expect(layerOf(spp('spp_param { pyramid_height: 2 }')).reshape([[1, 1, 13, 7]])).toEqual([[1, 1 + 4]]);
  });

  it('refuses what Caffe refuses, naming the layer', () => {
    expect(() => layerOf(spp(''))).toThrow("layer 'spp' (SPP): needs spp_param { pyramid_height: ... }");
    expect(() => layerOf(spp('spp_param { pyramid_height: 0 }'))).toThrow("layer 'spp' (SPP): pyramid_height must be 1 to 31, got 0");
    expect(() => layerOf(spp('spp_param { pyramid_height: 4 }')).reshape([[1, 3, 13, 13]])).toThrow(
      "layer 'spp' (SPP): pyramid_height 4 is too tall for a 13 x 13 plane: level 3 (8 x 8 bins) would pool 2 x 2 windows with pad 2 x 2, and Caffe's Pooling needs the pad smaller than the window",
    );
    expect(() => layerOf(spp('spp_param { pyramid_height: 2 pool: STOCHASTIC }')).reshape([[1, 3, 5, 5]])).toThrow(
      "layer 'spp' (SPP): STOCHASTIC pooling takes no padding (as in Caffe), but level 1 (2 x 2 bins of a 5 x 5 plane) needs pad 1 x 1",
    );
    expect(() => layerOf(spp('spp_param { pyramid_height: 2 }')).reshape([[3, 13]])).toThrow("layer 'spp' (SPP): bottom 0 must be 4-D (N, C, H, W), got [3, 13]");
  });
});
