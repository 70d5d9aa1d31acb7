import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { softmaxLayer } from '../src/layers/softmax.js';
import { Tensor } from '../src/tensor.js';
import { copyOf, layerDef, runLayer, runLayerByLayer } from './helpers/compute.js';
import { TOLERANCE, referenceCases } from './helpers/reference.js';
import { sharedMissing } from './helpers/shared.js';

/** Softmax over `axis` by the definition, in float64: e^x / sum e^x along the axis at every other position. */
function softmaxReference(x: Float32Array, dims: number[], axis: number): Float64Array {
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1), channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const y = new Float64Array(x.length);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const at = (c: number) => (o * channels + c) * inner + i;
      let max = -Infinity, sum = 0;
      for (let c = 0; c < channels; c++) max = Math.max(max, x[at(c)]);
      for (let c = 0; c < channels; c++) sum += Math.exp(x[at(c)] - max);
      for (let c = 0; c < channels; c++) y[at(c)] = Math.exp(x[at(c)] - max) / sum;
    }
  return y;
}

function softmaxDef(axis?: number) {
  return layerDef('Softmax', { name: 'prob', ...(axis === undefined ? {} : { softmax_param: { axis } }) });
}

describe.skipIf(sharedMissing())('Softmax against Caffe (../shared/reference/sweep)', () => {
  for (const name of ['softmax_axis1_4d', 'softmax_axis2']) {
    it(`${name} (max|ours - caffe| <= 1e-4 max(1, max|caffe|))`, async () => {
      const c = referenceCases('sweep').find((r) => r.name === name)!;
      const out = (await runLayerByLayer(c.dir, new Set(['Softmax']))).find((r) => r.blob === 'out')!;
      expect(out.computed).toBe(true);
      expect(out.error).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe('Softmax', () => {
  it('matches the definition over random shapes and axes (negative axes count from the end)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.boolean(),
        fc.integer(),
        (dims, axisPick, negative, seed) => {
          const axis = axisPick % dims.length;
          let s = seed >>> 0;
          const x = new Tensor(dims, Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => {
            s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
            return (s / 2 ** 32 - 0.5) * 20;
          }));
          const [y] = runLayer(softmaxDef(negative ? axis - dims.length : axis), [], [x]);
          const ref = softmaxReference(x.data, dims, axis);
          for (let i = 0; i < ref.length; i++) expect(Math.abs(y.data[i] - ref[i])).toBeLessThanOrEqual(1e-6);
        },
      ),
      { numRuns: 200, seed: 7 },
    );
  });

  // A classifier's probabilities (one position after the axis) take a loop of their own (softmaxColumn): the same
  // steps as every other shape's, bit for bit. Each column is run again as both positions of a (C, 2) blob.
  it('one position after the axis (a classifier) gives, bit for bit, what the per-position loops give; NaN, infinities, in place', () => {
    let s = 11;
    const random = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 40;
    for (const [outer, channels] of [[1, 1000], [3, 7], [2, 1], [1, 33]]) {
      const x = Float32Array.from({ length: outer * channels }, random);
      if (channels > 2) [x[1], x[channels - 1]] = [Number.NEGATIVE_INFINITY, 3e38];
      if (outer > 1) x[channels + 2] = Number.NaN;
      const [y] = runLayer(softmaxDef(1), [], [new Tensor([outer, channels], x)]);
      const wide = new Float32Array(outer * channels * 2).map((_, i) => x[i >> 1]);
      const [yWide] = runLayer(softmaxDef(1), [], [new Tensor([outer, channels, 2], wide)]);
      expect(Array.from(y.data), `${outer} x ${channels}`).toEqual(Array.from(yWide.data.filter((_, i) => i % 2 === 0)));
      const inPlace = new Tensor([outer, channels], Float32Array.from(x));
      softmaxLayer.create(softmaxDef(1), []).forward([inPlace], [inPlace]);
      expect(Array.from(inPlace.data), `${outer} x ${channels} in place`).toEqual(Array.from(y.data));
    }
  });

  it('defaults to axis 1: per pixel over channels on a 4-D blob', () => {
    const x = new Tensor([1, 2, 1, 2], Float32Array.from([0, 1, Math.log(3), 1]));
    const [y] = runLayer(softmaxDef(), [], [x]);
    expect(Array.from(y.data)).toEqual([0.25, 0.5, 0.75, 0.5].map((v) => expect.closeTo(v, 7)));
  });

  it('subtracts the max: huge logits neither overflow nor give NaN', () => {
    const x = new Tensor([2, 3], Float32Array.from([1000, 1001, 1002, -1e30, 0, 3e38]));
    const [y] = runLayer(softmaxDef(), [], [x]);
    const e = [Math.exp(-2), Math.exp(-1), 1], sum = e[0] + e[1] + e[2];
    expect(Array.from(y.data)).toEqual([...e.map((v) => expect.closeTo(v / sum, 7)), 0, 0, 1]);
  });

  it('runs in place (top === bottom)', () => {
    const x = new Tensor([3, 4, 5], Float32Array.from({ length: 60 }, (_, i) => Math.sin(i) * 4));
    const [separate] = runLayer(softmaxDef(1), [], [copyOf(x)]);
    expect(softmaxLayer.create(softmaxDef(1), []).inPlace).toBe(true);
    const [same] = runLayer({ ...softmaxDef(1), top: ['x'] }, [], [x]);
    expect(same.data).toEqual(separate.data);
  });

  it('refuses an axis outside the blob, naming the layer', () => {
    const layer = softmaxLayer.create(softmaxDef(4), []);
    expect(() => layer.reshape([[1, 2, 3, 4]])).toThrow("layer 'prob' (Softmax): axis 4 is out of range for a 4-D blob");
    const negative = softmaxLayer.create(softmaxDef(-3), []);
    expect(() => negative.reshape([[1, 2]])).toThrow("layer 'prob' (Softmax): axis -3 is out of range for a 2-D blob");
  });
});
