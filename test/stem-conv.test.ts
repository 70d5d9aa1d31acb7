// A 3-channel image's 7x7 stride 2 (ResNet-50's, GoogLeNet's and SqueezeNet 1.0's conv1) runs Winograd F(3x3, 4x4)
// on its space-to-depth (12 channels, a 4x4 kernel); F(5x5, 4x4) (assembly/winograd5.ts, the 8 points of F(6x6,
// 3x3): faster, 3x the error) behind CREMA_WINOGRAD=5. Against real Caffe (test/fixtures/layers/stem_conv, computed by BVLC Caffe
// 1.0 with make-fixtures.mjs: partial tiles on both edges, pad 3 with a fused ReLU and pad 0 without bias), at 1 and
// 2 threads, and which tile each shape takes. Needs `npm run build`.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConvGeometry } from '../src/kernels/im2col.js';
import { kernelsInUse, setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { winogradTile } from '../src/kernels/winograd.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { referenceBlob, referenceCases, relativeError, weightsOf } from './helpers/reference.js';

beforeAll(() => {
  useKernels('wasm');
  expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
});
afterAll(() => useKernels('wasm'));
afterEach(() => {
  delete process.env.CREMA_WINOGRAD;
});

/** A 7x7 (or k x k) stride-2 convolution of `channels` channels on a height x width input. */
function stem(height: number, width: number, pad: number, channels = 3, k = 7): ConvGeometry {
  const out = (n: number): number => Math.floor((n + 2 * pad - k) / 2) + 1;
  return { channels, height, width, kernelH: k, kernelW: k, padH: pad, padW: pad, strideH: 2, strideW: 2, dilationH: 1, dilationW: 1, outH: out(height), outW: out(width) };
}

describe('which tile a 4x4 kernel on the space-to-depth takes', () => {
  it('F(3x3, 4x4); CREMA_WINOGRAD=5 F(5x5, 4x4) where its 64 values a tile cover the plane with no more than F(3x3, 4x4)\'s 36', () => {
    // ResNet-50 / GoogLeNet (224, pad 3: 112 x 112), SqueezeNet 1.0 (227, pad 0: 111 x 111), the fixture's two,
    // an 8x8 stride 2 (also a 4x4 kernel).
    const shapes = [stem(224, 224, 3), stem(227, 227, 0), stem(61, 57, 3), stem(61, 57, 0), stem(64, 64, 1, 3, 8)];
    expect(shapes.map((g) => winogradTile(g, 64, undefined))).toEqual([3, 3, 3, 3, 3]);
    expect(shapes.map((g) => winogradTile(g, 64, '5'))).toEqual([5, 5, 5, 5, 5]);
    // 6 x 6 outputs: 4 tiles of 5 x 5 (256 values) against 4 of 3 x 3 (144).
    expect(winogradTile(stem(11, 11, 3), 64, '5')).toBe(3);
    // Too few channels or rows for the space-to-depth (stridedWork): im2col.
    expect([winogradTile(stem(224, 224, 3), 8, undefined), winogradTile(stem(224, 224, 3, 2), 64, undefined)]).toEqual([0, 0]);
  });
});

for (const threads of [1, 2]) {
  describe(`a 3-channel 7x7 stride 2 against Caffe, ${threads} thread(s)`, () => {
    beforeAll(async () => {
      await setThreads(threads, 2); // 2 threads even on a one-core machine: the pool's paths must run
      expect(wasmEngine()!.activeThreads()).toBe(threads);
    });

    // Measured: F(5x5, 4x4) 4.8e-6 and 3.3e-6 of max(1, max |Caffe|) (outputs up to ~2500), F(3x3, 4x4) 2.0e-6 and
    // 1.4e-6 (its 6 points err less), im2col 4.9e-7 and 4.1e-7; the project's tolerance is 1e-4, 2e-5 here.
    for (const [setting, tile] of [['5', 5], [undefined, 3]] as const) {
      it(`F(${tile === 5 ? '5x5' : '3x3'}, 4x4) (CREMA_WINOGRAD ${setting ?? 'unset'}): both blobs within 2e-5 of max(1, max |Caffe|)`, async () => {
        const c = referenceCases('fixtures').find((r) => r.name === 'stem_conv')!;
        if (setting) process.env.CREMA_WINOGRAD = setting;
        expect(winogradTile(stem(61, 57, 3), 20, setting)).toBe(tile);
        expect(winogradTile(stem(61, 57, 0), 16, setting)).toBe(tile);
        const net = await Net.load(c.prototxt, weightsOf(c), { threads });
        net.forward({ data: readNpy(c.input) });
        for (const b of c.blobs) expect(relativeError(net.blobs.get(b)!, referenceBlob(c, b)), b).toBeLessThanOrEqual(2e-5);
        net.dispose();
      });
    }
  });
}
