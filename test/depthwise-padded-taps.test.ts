// Caffe's depthwise convolution (im2col + GEMM, group = channels) adds w * 0 for every tap in the zero padding, so
// an infinite or NaN weight at a border tap gives NaN at that border (Infinity * 0), and it adds the bias after the
// taps' sum (from +0), so a sum of zeros is +0 whatever the bias's sign. Checked against real Caffe 1.0
// (test/fixtures/nonfinite/dw_padded_taps, made by test/fixtures/layers/make-fixtures.mjs) on every native path:
// 17 x 18 and 17 x 17 planes (in place at stride 1 and 2, pads 0-2, the stride-2 path's right-edge columns on odd
// widths and pad 2), 5 x 7 planes (the padded copy: stride 2 with fewer than four whole columns, stride 1 with
// fewer than four rows), 5x5, dilation 2 and stride 3 (the general kernel), fused ReLU and leaky ReLU, no bias;
// on the TypeScript kernels, both wasm builds, and ONNX Runtime (which skips padded taps: documented in README).
// Needs `npm run build` (dist/).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { caffeRelu } from '../src/kernels/relu.js';
import { useKernels } from '../src/kernels/wasm.js';
import { forwardOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { differences } from './helpers/depthwise.js';
import { childDifferences } from './helpers/fixture-child.js';

const dir = 'test/fixtures/nonfinite/dw_padded_taps';
const { blobs: all } = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { blobs: string[] };
/** The convolutions' tops (the rest are the input and its slices). */
const convs = all.filter((b) => /_(s\dp\d|k5|d2|s3|nobias|relu|leaky)$/.test(b));
// Caffe's sums run in its GEMM's order: 2e-6 of max(1, |Caffe's|) for the finite values, the rest exact.
const want = (b: string) => readNpy(path.join(dir, 'blobs', `${b}.npy`)).data;
const input = () => ({ data: readNpy(path.join(dir, 'input.npy')) });

describe('the fixture holds what it is for', () => {
  it('NaN at padded taps beside infinite interior sums, and zero sums of -0 products with a -0 bias (+0 in Caffe)', () => {
    // odd_s2p1 (4 x 9 x 9): channel 0's +Infinity top-left tap is in the padding on row 0 and column 0 only.
    const y = want('odd_s2p1');
    expect(y[0]).toBeNaN();
    expect(y[9]).toBeNaN();
    expect(Math.abs(y[1 * 9 + 1])).toBe(Infinity);
    // Channel 2's NaN bottom-right tap: NaN everywhere; channel 3: every output +0.
    expect(y.subarray(3 * 81).every((v) => Object.is(v, 0))).toBe(true);
    expect(convs.length).toBe(24);
  });
});

describe('depthwise convolution against real Caffe: padded taps add w * 0, zero sums are +0', () => {
  afterAll(() => useKernels('wasm'));
  for (const kernels of ['wasm', 'js'] as const) {
    it(`${kernels} kernels: NaN, infinities and zeros as Caffe's, the rest within 2e-6`, async () => {
      useKernels(kernels);
      const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'), { threads: 2 });
      net.forward(input());
      for (const b of convs) expect(differences(net.blobs.get(b)!.data, want(b), 2e-6).join(', '), b).toBe('');
    });
  }
  // The engine is process-wide, so each build runs in a child (from dist/).
  for (const fma of ['1', '0']) {
    it(`CREMA_FMA=${fma}: the ${fma === '1' ? 'relaxed-SIMD' : 'plain SIMD'} build, 1 and 2 threads`, () => {
      const { build, differ } = childDifferences(dir, convs, 2e-6, { CREMA_FMA: fma });
      expect(build).toBe(fma === '1' ? 'fma' : 'simd');
      expect(differ.slice(0, 5).join(', ')).toBe('');
    });
  }

  it('through ONNX Runtime: Caffe\'s numbers but at padded taps with an infinite or NaN weight (finite there: ORT skips them)', async () => {
    const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'));
    const { blobs } = await forwardOnnx(net, input(), { blobs: 'all' });
    let skipped = 0;
    for (const b of convs) {
      const got = blobs.get(b)!.data, caffe = want(b);
      // Where Caffe has NaN from a padded tap, ORT's sum of the taps inside: a number (NaN after a ReLU of one).
      const kept = Float32Array.from(caffe, (w, i) => (Number.isNaN(w) && !Number.isNaN(got[i]) ? (skipped++, got[i]) : w));
      expect(differences(got, kept, 2e-6).join(', '), b).toBe('');
    }
    expect(skipped).toBeGreaterThan(1000);
  });
});

describe("ConvolutionDepthwise (farmingyard's fork): its conv_dw_layer.cpp skips padded taps", () => {
  // The fork's Forward_cpu transcribed: value = 0, value += w * x over the taps inside the image (in float), then
  // + bias; the ReLU after it as Caffe's. The fixture's net with every Convolution made a ConvolutionDepthwise.
  const text = fs.readFileSync(path.join(dir, 'net.prototxt'), 'utf8').replaceAll('type: "Convolution"', 'type: "ConvolutionDepthwise"');
  const netFile = path.join(os.tmpdir(), `crema-dw-fork-${process.pid}.prototxt`);
  fs.writeFileSync(netFile, text);
  afterAll(() => fs.rmSync(netFile, { force: true }));
  const net = () => Net.load(netFile, path.join(dir, 'weights.caffemodel'));
  const param = (line: string, key: string, fallback: number) => Number(new RegExp(`${key}: (\\d+)`).exec(line)?.[1] ?? fallback);

  /** Each convolution's top as the fork computes it, from Caffe's bottoms and the fixture's weights; `relu` Caffe's. */
  async function forkTops(relu = caffeRelu): Promise<Map<string, Float32Array>> {
    const n = await net(), out = new Map<string, Float32Array>();
    for (const line of text.split('\n').filter((l) => l.includes('ConvolutionDepthwise'))) {
      const [, name, bottom] = /name: "([^"]+)".*bottom: "([^"]+)"/.exec(line)!;
      const [w, b] = n.params.get(name)!.map((t) => t.data);
      const [, C, H, W] = n.blobs.get(bottom)!.dims, [, , OH, OW] = n.blobs.get(name)!.dims;
      const k = param(line, 'kernel_size', 1), s = param(line, 'stride', 1), p = param(line, 'pad', 0), d = param(line, 'dilation', 1);
      const x = want(bottom), y = new Float32Array(C * OH * OW);
      const slope = name === 'odd_relu' ? 0 : name === 'even_leaky' ? 0.1 : undefined;
      for (let c = 0; c < C; c++) {
        for (let oy = 0; oy < OH; oy++) {
          for (let ox = 0; ox < OW; ox++) {
            let value = 0;
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) {
                const iy = oy * s - p + ky * d, ix = ox * s - p + kx * d;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W) value = Math.fround(value + Math.fround(w[c * k * k + ky * k + kx] * x[(c * H + iy) * W + ix]));
              }
            }
            if (b) value = Math.fround(value + b[c]);
            y[(c * OH + oy) * OW + ox] = slope === undefined ? value : relu(value, Math.fround(slope));
          }
        }
      }
      out.set(name, y);
    }
    return out;
  }

  for (const kernels of ['wasm', 'js'] as const) {
    it(`${kernels} kernels: the fork's numbers (finite where Caffe's Convolution has NaN from a padded tap)`, async () => {
      useKernels(kernels);
      const [n, fork] = [await net(), await forkTops()];
      n.forward(input());
      let finiteForCaffeNaN = 0;
      for (const [b, y] of fork) {
        expect(differences(n.blobs.get(b)!.data, y, 2e-6).join(', '), b).toBe('');
        finiteForCaffeNaN += want(b).filter((v, i) => Number.isNaN(v) && Number.isFinite(y[i])).length;
      }
      expect(finiteForCaffeNaN).toBeGreaterThan(1000);
    });
  }

  it("through ONNX Runtime: the fork's numbers too (but ORT's Relu of -Infinity: 0, not Caffe's NaN)", async () => {
    const n = await net(), fork = await forkTops((v, slope) => (v === -Infinity && slope === 0 ? 0 : caffeRelu(v, slope)));
    const { blobs } = await forwardOnnx(n, input(), { blobs: 'all' });
    for (const [b, y] of fork) expect(differences(blobs.get(b)!.data, y, 2e-6).join(', '), b).toBe('');
  });
});
