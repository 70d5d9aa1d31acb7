// Shared by the compute-layer tests (gemm, convolution, deconvolution, inner_product, pooling):
// a seeded random source, a maximum-difference measure and a way to run one layer on its own.
import { expect, it } from 'vitest';
import type { LayerParameter } from '../../src/caffe/types.js';
import type { Layer } from '../../src/layers/layer.js';
import { layerType } from '../../src/layers/registry.js';
import { Net } from '../../src/runtime/net.js';
import { type Shape, Tensor } from '../../src/tensor.js';
import { readNpy } from '../../src/util/npy.js';
import { TOLERANCE, referenceBlob, referenceCases, relativeDifference, relativeError, weightsOf } from './reference.js';

/** mulberry32: a small seeded generator, so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values uniform in [-1, 1). */
export function randomArray(n: number, random: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = random() * 2 - 1;
  return a;
}

export function randomInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/** max |a - b| / max(1, max |b|), as the project measures agreement; a and b must be of one length. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  return relativeDifference(a, b);
}

/** A layer definition as the readers produce it. */
export function layerDef(type: string, params: Record<string, unknown>, bottoms = 1, tops = bottoms): LayerParameter {
  const name = type.toLowerCase();
  return {
    name,
    type,
    bottom: Array.from({ length: bottoms }, (_, i) => `in${i}`),
    top: Array.from({ length: tops }, (_, i) => `out${i}`),
    ...params,
  };
}

/** Creates a layer, reshapes it and runs it on the given bottoms; returns the tops. */
export function runLayer(def: LayerParameter, weights: Tensor[], bottoms: Tensor[], setup?: (layer: Layer) => void): Tensor[] {
  const layer = layerType(def.type).create(def, weights);
  setup?.(layer);
  const shapes = layer.reshape(bottoms.map((b) => b.dims));
  const tops = shapes.map((s: Shape) => Tensor.zeros(s));
  layer.forward(bottoms, tops);
  return tops;
}

/** One test per reference case of ../shared/reference/sweep whose name starts with `prefix`: the final blob vs Caffe's. */
export function sweepCases(prefix: RegExp): void {
  const cases = referenceCases('sweep').filter((c) => prefix.test(c.name));
  it('finds its sweep cases', () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) {
    it(`${c.name} matches Caffe within ${TOLERANCE} (relative)`, async () => {
      const net = await Net.load(c.prototxt, weightsOf(c));
      net.forward({ [c.inputName]: readNpy(c.input) });
      for (const b of c.blobs) {
        const ref = referenceBlob(c, b);
        expect([...net.blobs.get(b)!.dims], `shape of ${b}`).toEqual([...ref.dims]);
        expect(relativeError(net.blobs.get(b)!, ref), `blob ${b}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }
}
