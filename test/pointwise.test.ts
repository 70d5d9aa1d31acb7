// The elementwise layers on the wasm engine (src/kernels/pointwise.ts, assembly/pointwise.ts) against their
// TypeScript loops, bit for bit (Object.is per element: -0 is not +0; NaN is NaN whatever its payload): ReLU,
// PReLU, Scale, BatchNorm and Axpy on resident blobs (as a Net's are), in place and not, on random floats with
// -0, +0, NaN, infinities, denormals and large values, at 1 and 2 threads. The TypeScript loops match Caffe
// (test/activations.test.ts, fork-layers, the sweeps and the corpus nets against real Caffe).
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerParameter } from '../src/caffe/types.js';
import { pointwiseWasm } from '../src/kernels/pointwise.js';
import { setThreads, wasmEngine } from '../src/kernels/wasm.js';
import { layerType } from '../src/layers/registry.js';
import { Tensor } from '../src/tensor.js';
import { layerDef, rng } from './helpers/compute.js';

const SPECIAL = [-0, 0, NaN, Infinity, -Infinity, 1e-40, -1e-40, 3e38, -3e38, 1, -1];

/** Random floats in [-2, 2) with a special value every 7th. */
function values(n: number, seed: number): Float32Array {
  const random = rng(seed), out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = i % 7 === 3 ? SPECIAL[Math.floor(random() * SPECIAL.length)] : random() * 4 - 2;
  return out;
}

/** The values in the wasm memory (a resident array, as a Net's blobs are). */
function resident(data: Float32Array): Float32Array {
  const a = wasmEngine()!.residentArray(data.length)!;
  a.set(data);
  return a;
}

function expectSameBits(got: Float32Array, want: Float32Array, label: string): void {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) expect(`${got[i]} at ${i}`, label).toBe(`${want[i]} at ${i}`);
}

/**
 * The layer run twice on the same inputs: on plain arrays (the TypeScript loops) and on resident ones (the wasm
 * kernel); top 0 in place on bottom `inPlace` when given.
 */
function compare(def: LayerParameter, weights: Tensor[], bottoms: Tensor[], label: string, inPlace?: number): void {
  const run = (wrap: (a: Float32Array) => Float32Array) => {
    const layer = layerType(def.type, def.name).create(def, weights);
    const ins = bottoms.map((b) => new Tensor([...b.dims], wrap(Float32Array.from(b.data))));
    const [shape] = layer.reshape(ins.map((b) => b.dims));
    const top = inPlace === undefined ? new Tensor(shape, wrap(new Float32Array(shape.reduce((a, b) => a * b, 1)))) : ins[inPlace];
    layer.forward(ins, [top]);
    return top.data;
  };
  expectSameBits(run(resident), run((a) => a), label);
}

describe('pointwise layers: wasm = TypeScript, bit for bit', () => {
  afterAll(() => setThreads(1));
  const shapes = [[1, 3, 5, 7], [2, 16, 33, 33], [2, 5, 1, 1], [1, 1, 70, 70]];

  for (const threads of [1, 2])
    describe(`${threads} thread(s)`, () => {
      it('ReLU (slopes 0 and 0.1, in place and not)', async () => {
        expect(await setThreads(threads, 2)).toBe(threads);
        for (const dims of shapes)
          for (const slope of [0, 0.1])
            for (const inPlace of [undefined, 0]) {
              const x = new Tensor(dims, values(dims.reduce((a, b) => a * b), 1));
              compare(layerDef('ReLU', { relu_param: { negative_slope: slope } }), [], [x], `ReLU ${slope} ${dims} ${inPlace}`, inPlace);
            }
      });

      it('PReLU (a slope a channel, and shared)', async () => {
        expect(await setThreads(threads, 2)).toBe(threads);
        for (const dims of shapes)
          for (const shared of [false, true]) {
            const slopes = new Tensor([shared ? 1 : dims[1]], values(shared ? 1 : dims[1], 2).map((v) => (Number.isFinite(v) ? v : 0.25)));
            const x = new Tensor(dims, values(dims.reduce((a, b) => a * b), 3));
            compare(layerDef('PReLU', { prelu_param: { channel_shared: shared } }), [slopes], [x], `PReLU ${shared} ${dims}`, 0);
          }
      });

      it('Scale (with and without bias; the scale from a bottom, one a (num, channel) as SE nets give it)', async () => {
        expect(await setThreads(threads, 2)).toBe(threads);
        for (const dims of shapes) {
          const x = new Tensor(dims, values(dims.reduce((a, b) => a * b), 4));
          const c = dims[1];
          for (const bias of [false, true]) {
            const w = [new Tensor([c], values(c, 5)), ...(bias ? [new Tensor([c], values(c, 6))] : [])];
            compare(layerDef('Scale', { scale_param: { bias_term: bias } }), w, [x], `Scale ${bias} ${dims}`);
            compare(layerDef('Scale', { scale_param: { bias_term: bias } }), w, [x], `Scale in place ${bias} ${dims}`, 0);
          }
          const se = new Tensor([dims[0], c], values(dims[0] * c, 7));
          compare(layerDef('Scale', { scale_param: { axis: 0 } }, 2, 1), [], [x, se], `Scale by a bottom ${dims}`);
        }
      });

      it('BatchNorm (global statistics)', async () => {
        expect(await setThreads(threads, 2)).toBe(threads);
        for (const dims of shapes) {
          const c = dims[1];
          const stats = [new Tensor([c], values(c, 8)), new Tensor([c], values(c, 9).map(Math.abs)), new Tensor([1], Float32Array.of(0.999))];
          const x = new Tensor(dims, values(dims.reduce((a, b) => a * b), 10));
          for (const inPlace of [undefined, 0])
            compare(layerDef('BatchNorm', { batch_norm_param: { use_global_stats: true, eps: 1e-5 } }), stats, [x], `BatchNorm ${dims} ${inPlace}`, inPlace);
        }
      });

      it('Axpy (top = a * x + y; in place on y)', async () => {
        expect(await setThreads(threads, 2)).toBe(threads);
        for (const dims of shapes) {
          const a = new Tensor([dims[0], dims[1], 1, 1], values(dims[0] * dims[1], 11));
          const [x, y] = [12, 13].map((seed) => new Tensor(dims, values(dims.reduce((p, q) => p * q), seed)));
          const def = { ...layerDef('Axpy', {}, 3, 1), bottom: ['a', 'x', 'y'], top: ['out'] };
          compare(def, [], [a, x, y], `Axpy ${dims}`);
          compare({ ...def, top: ['y'] }, [], [a, x, y], `Axpy in place ${dims}`, 2);
        }
      });
    });
});

describe('pointwiseWasm', () => {
  it('runs on resident arrays only (plain ones stay with the TypeScript loops)', () => {
    const plain = values(64, 14), y = new Float32Array(64);
    expect(pointwiseWasm(plain, y, 1, 64, 1, { relu: 0 })).toBe(false);
    expect(y.every((v) => v === 0)).toBe(true);
    const x = resident(plain), out = resident(new Float32Array(64));
    expect(pointwiseWasm(x, out, 1, 64, 1, { relu: 0 })).toBe(true);
    expectSameBits(out, plain.map((v) => (v < 0 ? 0 : v) + Math.fround(0 * (0 < v ? 0 : v))), 'relu');
    expect(pointwiseWasm(x, out, 1, 64, 1, { scale: Float32Array.of(2), addend: plain })).toBe(false); // the addend not resident
  });
});
