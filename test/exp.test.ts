// Sigmoid and Softmax on the wasm engine (src/kernels/exp.ts, assembly/exp.ts: e^x in float) against their TypeScript
// loops (e^x in double, the reference; they match real Caffe in test/activations.test.ts, the softmax sweeps and
// the corpus nets), within a stated tolerance: the float e^x is within ~1 ulp, so a Sigmoid within 4 ulp of the
// double one's float, a Softmax within 1e-5 relative (the float sum over up to 1000 channels). Edge values exactly:
// NaN, infinities, saturation, -0. At 1 and 2 threads, in place and not, resident blobs (as a Net's) and plain arrays.
import { afterAll, describe, expect, it } from 'vitest';
import { MIN_EXP_FLOATS } from '../src/kernels/exp.js';
import { kernelsInUse, setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { Tensor } from '../src/tensor.js';
import { layerDef, rng, runLayer } from './helpers/compute.js';

/** The float after |v| minus |v| (the smallest denormal for 0). */
function ulp(v: number): number {
  const f = new Float32Array([Math.abs(v)]), i = new Int32Array(f.buffer);
  i[0]++;
  return f[0] - Math.abs(v) || 1.4e-45;
}

/** The layer on both kernels: [wasm's top, TypeScript's top]; in place when asked, on resident arrays when asked. */
function both(type: string, fields: Record<string, unknown>, x: Tensor, inPlace: boolean, resident: boolean): [Float32Array, Float32Array] {
  const run = (kernels: 'wasm' | 'js') => {
    useKernels(kernels);
    try {
      const data = resident && kernels === 'wasm' ? wasmEngine()!.residentArray(x.data.length)! : new Float32Array(x.data.length);
      data.set(x.data);
      const input = new Tensor([...x.dims], data);
      const def = layerDef(type, { ...fields, bottom: ['x'], top: [inPlace ? 'x' : 'y'] });
      return runLayer(def, [], [input])[0].data;
    } finally {
      useKernels('wasm');
    }
  };
  return [run('wasm'), run('js')];
}

const EDGES = [NaN, Infinity, -Infinity, -0, 0, 1e-40, -1e-40, 3e38, -3e38, 87.2, 87.4, -88.7, -88.8, -89.5, 103.9, -104.1, 20, -20, 1e-7];

describe('Sigmoid and Softmax: the wasm kernels against the TypeScript loops', () => {
  afterAll(async () => {
    useKernels('wasm');
    await setThreads(1);
  });
  it('runs the wasm kernels', () => expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm'));

  for (const threads of [1, 2])
    describe(`${threads} thread(s)`, () => {
      it('Sigmoid: within 4 ulp of e^x in double (0 and 1 where it saturates), NaN stays NaN', async () => {
        expect(await setThreads(threads, 2)).toBe(threads);
        const random = rng(5 + threads);
        for (const [n, inPlace, resident] of [[MIN_EXP_FLOATS, false, true], [70001, true, true], [9999, false, false], [65536 + 7, true, false]] as const) {
          const data = Float32Array.from({ length: n }, (_, i) => (i % 11 === 5 ? EDGES[i % EDGES.length] : (random() - 0.5) * (i % 3 ? 24 : 200)));
          const [got, want] = both('Sigmoid', {}, new Tensor([1, 1, 1, n], data), inPlace, resident);
          for (let i = 0; i < n; i++) {
            const label = `sigmoid(${data[i]}) at ${i} of ${n}: ${got[i]}, want ${want[i]}`;
            if (Number.isNaN(want[i])) expect(got[i], label).toBeNaN();
            else if (want[i] < 1e-37) expect(got[i], label).toBeLessThanOrEqual(1e-37); // e^-x past float (Caffe: 0)
            else expect(Math.abs(got[i] - want[i]), label).toBeLessThanOrEqual(4 * ulp(want[i]));
          }
          const at = (v: number) => got[data.indexOf(Math.fround(v))];
          expect([at(Infinity), at(-Infinity), at(3e38), at(-3e38), at(0)]).toEqual([1, 0, 1, 0, 0.5]);
        }
      });

      it('Softmax: within 1e-5 relative of the double loop on classifiers\' rows and maps, every axis, NaN and infinities as there', async () => {
        expect(await setThreads(threads, 2)).toBe(threads);
        const random = rng(17 + threads);
        // dims, axis: colorization's 313 bins (cut), SSD's per-prior scores (inner 1), inner not of whole vectors,
        // a block's inner positions cut over chunks, batches, an axis past the channels.
        const cases: [number[], number][] = [[[1, 313, 20, 21], 1], [[1, 1917, 21], 2], [[2, 5, 1001], 1], [[5, 1000], 1], [[1, 2, 8193], 1], [[2, 3, 40, 51], 1], [[2, 7, 3, 700], 2]];
        for (const [dims, axis] of cases)
          for (const [inPlace, resident] of [[false, true], [true, false]]) {
            const n = dims.reduce((a, b) => a * b, 1);
            const data = Float32Array.from({ length: n }, () => (random() - 0.5) * 40);
            for (let i = 0; i < 5; i++) data[Math.floor(random() * n)] = [NaN, Infinity, -Infinity, 3e38, -3e38][i];
            const [got, want] = both('Softmax', { softmax_param: { axis } }, new Tensor(dims, data), inPlace, resident);
            const label = `${dims.join('x')} axis ${axis}${inPlace ? ' in place' : ''}`;
            let worst = 0;
            for (let i = 0; i < n; i++) {
              if (Number.isNaN(want[i])) expect(got[i], `${label} at ${i}`).toBeNaN();
              else worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), 1e-30));
            }
            expect(worst, label).toBeLessThan(1e-5);
            expect(n, label).toBeGreaterThanOrEqual(MIN_EXP_FLOATS);
          }
      });
    });
});
