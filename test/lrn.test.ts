import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { lrnPool, powTable, tablePow, useLrnSimd } from '../src/kernels/lrn.js';
import { KIND_LRN, kernelsInUse, setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { lrnLayer } from '../src/layers/lrn.js';
import { Tensor } from '../src/tensor.js';
import { layerDef, runLayer, runLayerByLayer } from './helpers/compute.js';
import { TOLERANCE, referenceBlob, referenceCases, relativeError } from './helpers/reference.js';
import { sharedMissing } from './helpers/shared.js';

interface LrnCase {
  n: number;
  alpha: number;
  beta: number;
  k: number;
  within: boolean;
}

/** The formula of CAFFE-SEMANTICS.md, summed window by window in float64: the O(n) (O(n^2)) reference. */
function lrnReference(x: Float32Array, [N, C, H, W]: number[], p: LrnCase): Float64Array {
  const y = new Float64Array(x.length), pre = (p.n - 1) / 2;
  const at = (n: number, c: number, h: number, w: number) => ((n * C + c) * H + h) * W + w;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          let s = 0;
          if (p.within) {
            for (let hh = h - pre; hh <= h + pre; hh++)
              for (let ww = w - pre; ww <= w + pre; ww++)
                if (hh >= 0 && hh < H && ww >= 0 && ww < W) s += x[at(n, c, hh, ww)] ** 2;
          } else {
            for (let cc = c - pre; cc <= c + pre; cc++) if (cc >= 0 && cc < C) s += x[at(n, cc, h, w)] ** 2;
          }
          const base = p.within ? 1 + (p.alpha / (p.n * p.n)) * s : p.k + (p.alpha / p.n) * s;
          y[at(n, c, h, w)] = x[at(n, c, h, w)] * Math.pow(base, -p.beta);
        }
  return y;
}

function lrnDef(p: Partial<LrnCase>) {
  return layerDef('LRN', {
    name: 'norm',
    lrn_param: { local_size: p.n, alpha: p.alpha, beta: p.beta, k: p.k, norm_region: p.within ? 'WITHIN_CHANNEL' : 'ACROSS_CHANNELS' },
  });
}

/** Largest |ours - ref| / max(1, |ref|) over the elements: tighter than the per-blob measure. */
function worstElementError(ours: Float32Array, ref: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(ours[i] - ref[i]) / Math.max(1, Math.abs(ref[i]));
    worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
  }
  return worst;
}

function randomTensor(dims: number[], seed: number, scale = 3): Tensor {
  let s = seed >>> 0 || 1;
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return new Tensor(dims, data);
}

describe.skipIf(sharedMissing())('LRN against Caffe (../shared/reference/sweep)', () => {
  const cases = referenceCases('sweep').filter((c) => c.name.startsWith('lrn_'));
  it('has the LRN cases', () => expect(cases.length).toBeGreaterThanOrEqual(13));
  for (const c of cases) {
    it(`${c.name} (max|ours - caffe| <= 1e-4 max(1, max|caffe|))`, async () => {
      const computed = (await runLayerByLayer(c.dir, new Set(['LRN', 'ReLU']))).filter((r) => r.computed);
      expect(computed.length).toBeGreaterThan(0);
      for (const r of computed) expect(r.error, `blob ${r.blob}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }
  it('WITHIN_CHANNEL ignores k (the case with k: 2 matches Caffe, and k changes nothing)', () => {
    const c = referenceCases('sweep').find((r) => r.name === 'lrn_within_n3_c4_k2_a1_b0.75')!;
    const x = referenceBlob(c, 'data');
    const [withK2] = runLayer(lrnDef({ n: 3, alpha: 1, beta: 0.75, k: 2, within: true }), [], [x]);
    const [withK1] = runLayer(lrnDef({ n: 3, alpha: 1, beta: 0.75, k: 1, within: true }), [], [x]);
    expect(withK2.data).toEqual(withK1.data);
    expect(relativeError(withK2, referenceBlob(c, 'out'))).toBeLessThanOrEqual(TOLERANCE);
    expect(path.basename(c.dir)).toBe(c.name);
  });
});

describe('LRN against the straightforward window formula', () => {
  const betas = [0.5, 0.75, 1, 1.5, 2].map((b) => fc.constant(b)).concat(fc.double({ min: 0.05, max: 3, noNaN: true }));
  const arbCase = fc.record({
    dims: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 13 }), fc.integer({ min: 1, max: 13 })),
    n: fc.integer({ min: 0, max: 5 }).map((i) => 2 * i + 1),
    alpha: fc.double({ min: 1e-5, max: 3, noNaN: true }),
    beta: fc.oneof(...betas),
    k: fc.double({ min: 0.25, max: 4, noNaN: true }),
    within: fc.boolean(),
    seed: fc.integer(),
  });
  it('random shapes, sizes and parameters, both regions, batch 1-3 (per element within 1e-5)', () => {
    fc.assert(
      fc.property(arbCase, (p) => {
        const x = randomTensor(p.dims, p.seed);
        const [y] = runLayer(lrnDef(p), [], [x]);
        expect(y.dims).toEqual(p.dims);
        expect(worstElementError(y.data, lrnReference(x.data, p.dims, p))).toBeLessThanOrEqual(1e-5);
      }),
      { numRuns: 150, seed: 20141 },
    );
  });

  it('stays accurate when large values leave the sliding window and small ones remain', () => {
    // Channels 0-4 (rows 0-4) up to 10, the rest up to 1e-3: squares 1e8 apart. Float64 running sums keep the small
    // sums to ~1e-9 relative; Caffe's float32 sliding would lose them entirely. (Squares 1e16 apart and more would
    // exhaust float64 too: no real net comes near that.)
    const dims = [2, 40, 40, 6];
    const x = randomTensor(dims, 7, 1e-3);
    for (let i = 0; i < x.data.length; i++) {
      const c = Math.floor(i / 240) % 40, h = Math.floor(i / 6) % 40;
      if (c < 5 || h < 5) x.data[i] *= 1e4;
    }
    for (const within of [false, true]) {
      const p = { n: 5, alpha: 1, beta: 0.75, k: 1e-6, within };
      const [y] = runLayer(lrnDef(p), [], [x]);
      expect(worstElementError(y.data, lrnReference(x.data, dims, p)), within ? 'WITHIN' : 'ACROSS').toBeLessThanOrEqual(1e-5);
    }
  });

  it('normalizes each image of a batch on its own', () => {
    const one = randomTensor([1, 7, 5, 4], 3);
    const two = new Tensor([2, 7, 5, 4], new Float32Array(280));
    two.data.set(one.data, 0);
    two.data.set(one.data, 140);
    for (const within of [false, true]) {
      const def = lrnDef({ n: 5, alpha: 2, beta: 0.75, k: 1, within });
      const [y1] = runLayer(def, [], [one]);
      const [y2] = runLayer(def, [], [two]);
      expect(y2.data.subarray(0, 140)).toEqual(y1.data);
      expect(y2.data.subarray(140)).toEqual(y1.data);
    }
  });

  it('keeps giving right answers when one instance is reshaped larger and smaller (reused scratch)', () => {
    for (const within of [false, true]) {
      const p = { n: 3, alpha: 1, beta: 0.75, k: 2, within };
      const layer = lrnLayer.create(lrnDef(p), []);
      for (const dims of [[1, 3, 4, 5], [2, 9, 11, 13], [1, 2, 3, 2]]) {
        const x = randomTensor(dims, dims[1]);
        const y = Tensor.zeros(layer.reshape([dims])[0]);
        layer.forward([x], [y]);
        expect(worstElementError(y.data, lrnReference(x.data, dims, p))).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it('handles a local_size far larger than the blob without giant scratch (the window just covers everything)', () => {
    const x = randomTensor([2, 3, 4, 5], 5);
    for (const within of [false, true]) {
      // ACROSS: Caffe refuses a window whose padded squares ((C + n - 1) x H x W) pass INT_MAX values; stay below.
      const huge = within ? 2_000_000_001 : 100_000_001, small = 11;
      // Same alpha/n (ACROSS) or alpha/n^2 (WITHIN): a window of 11 already covers the whole 3 x 4 x 5 blob.
      const scale = within ? (huge / small) ** 2 : huge / small;
      const [y] = runLayer(lrnDef({ n: huge, alpha: 2 * scale, beta: 0.75, k: 1, within }), [], [x]);
      const ref = lrnReference(x.data, [2, 3, 4, 5], { n: small, alpha: 2, beta: 0.75, k: 1, within });
      expect(worstElementError(y.data, ref)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('keeps pow\'s answers for a negative base (negative k) with an integral beta, as Caffe\'s powx does', () => {
    const x = randomTensor([1, 6, 3, 3], 9, 0.5);
    for (const beta of [1, 2, 3]) {
      const p = { n: 3, alpha: 1e-3, beta, k: -2, within: false };
      const [y] = runLayer(lrnDef(p), [], [x]);
      const ref = lrnReference(x.data, [1, 6, 3, 3], p);
      expect(ref.every(Number.isFinite)).toBe(true);
      expect(worstElementError(y.data, ref)).toBeLessThanOrEqual(1e-6);
    }
  });

  it('uses Caffe defaults (local_size 5, alpha 1, beta 0.75, k 1, ACROSS_CHANNELS) when lrn_param is absent', () => {
    const x = randomTensor([1, 8, 3, 3], 11);
    const [y] = runLayer(layerDef('LRN'), [], [x]);
    const ref = lrnReference(x.data, [1, 8, 3, 3], { n: 5, alpha: 1, beta: 0.75, k: 1, within: false });
    expect(worstElementError(y.data, ref)).toBeLessThanOrEqual(1e-6);
  });
});

describe('LRN refuses what Caffe refuses', () => {
  it('an even local_size', () => {
    expect(() => lrnLayer.create(lrnDef({ n: 4 }), [])).toThrow("layer 'norm' (LRN): local_size must be odd (Caffe's LRN only supports odd sizes), got 4");
    expect(() => lrnLayer.create(lrnDef({ n: 0 }), [])).toThrow('local_size must be odd');
  });
  it('a bottom that is not 4-D', () => {
    const layer = lrnLayer.create(lrnDef({ n: 3 }), []);
    expect(() => layer.reshape([[2, 3, 4]])).toThrow("layer 'norm' (LRN): bottom 0 must be 4-D (N, C, H, W), got [2, 3, 4]");
  });
  it('two bottoms', () => {
    const layer = lrnLayer.create({ ...lrnDef({ n: 3 }), bottom: ['a', 'b'] }, []);
    expect(() => layer.reshape([[1, 1, 1, 1], [1, 1, 1, 1]])).toThrow("layer 'norm' (LRN): takes 1 bottom(s), got 2");
  });
  it('an unknown norm_region', () => {
    expect(() => lrnLayer.create(layerDef('LRN', { name: 'norm', lrn_param: { norm_region: 'DIAGONAL' } }), [])).toThrow(
      "layer 'norm' (LRN): unknown norm_region DIAGONAL",
    );
  });
});

describe('b^-beta through tables (LRN\'s betas other than 0.5, 0.75, 1, 1.5, 2)', () => {
  it('is within 1e-8 (relative) of Math.pow over 2^-300 .. 2^300, for betas from 0.01 to 3', () => {
    for (const beta of [0.01, 0.3, 0.6, 0.7, 1.25, 1.3, 2.5, 3]) {
      const table = powTable(beta);
      let worst = 0;
      for (let i = 0; i < 20_000; i++) {
        const b = 2 ** ((i / 20_000) * 600 - 300) * (1 + ((i * 7919) % 1000) / 1000);
        worst = Math.max(worst, Math.abs(tablePow(b, table) / Math.pow(b, -beta) - 1));
      }
      expect(worst, `beta ${beta}`).toBeLessThan(1e-8);
    }
  });

  it('gives Math.pow\'s answer for zero, subnormal, negative, infinite and NaN bases', () => {
    const table = powTable(0.6);
    for (const b of [0, -0, 5e-324, 1e-310, -1, -2.5, Infinity, -Infinity, NaN]) expect(tablePow(b, table)).toBe(Math.pow(b, -0.6));
  });

  it('an LRN layer with beta 0.6 matches the window formula (both regions)', () => {
    for (const region of ['ACROSS_CHANNELS', 'WITHIN_CHANNEL']) {
      const dims = [1, 7, 5, 6];
      const x = new Tensor(dims, Float32Array.from({ length: 210 }, (_, i) => Math.sin(i * 1.7) * 30));
      const layer = lrnLayer.create(layerDef('LRN', { lrn_param: { local_size: 3, alpha: 0.01, beta: 0.6, k: 2, norm_region: region } }), []);
      const top = Tensor.zeros(layer.reshape([dims])[0]);
      layer.forward([x], [top]);
      const [, C, H, W] = dims;
      for (let c = 0; c < C; c++)
        for (let h = 0; h < H; h++)
          for (let w = 0; w < W; w++) {
            let s = 0;
            if (region === 'ACROSS_CHANNELS') for (let cc = Math.max(0, c - 1); cc <= Math.min(C - 1, c + 1); cc++) s += x.data[(cc * H + h) * W + w] ** 2;
            else for (let hh = Math.max(0, h - 1); hh <= Math.min(H - 1, h + 1); hh++) for (let ww = Math.max(0, w - 1); ww <= Math.min(W - 1, w + 1); ww++) s += x.data[(c * H + hh) * W + ww] ** 2;
            const base = region === 'ACROSS_CHANNELS' ? 2 + (0.01 / 3) * s : 1 + (0.01 / 9) * s;
            const i = (c * H + h) * W + w;
            expect(top.data[i]).toBeCloseTo(x.data[i] * Math.pow(base, -0.6), 5);
          }
    }
  });
});

describe('LRN\'s WebAssembly SIMD kernels agree with the TypeScript ones', () => {
  afterAll(() => useLrnSimd(process.env.CREMA_KERNELS !== 'js'));

  it('are available in this Node', () => expect(useLrnSimd(true)).toBe(true));

  it('on shapes with and without a tail of 1-3 (plane / width not a multiple of 4), every vector beta, both regions', () => {
    let seed = 12345;
    const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    for (const region of ['ACROSS_CHANNELS', 'WITHIN_CHANNEL'])
      for (const [num, channels, height, width] of [[1, 5, 4, 4], [2, 7, 5, 6], [1, 16, 9, 7], [1, 3, 1, 1], [1, 9, 3, 13]])
        for (const beta of [0.5, 0.75, 1, 1.5, 2])
          for (const n of [1, 3, 5, 11]) {
            const dims = [num, channels, height, width];
            const x = new Tensor(dims, Float32Array.from({ length: num * channels * height * width }, () => random() * 40));
            const def = layerDef('LRN', { lrn_param: { local_size: n, alpha: 0.3, beta, k: 1.5, norm_region: region } });
            const outputs = [true, false].map((simd) => {
              useLrnSimd(simd);
              const layer = lrnLayer.create(def, []);
              const top = Tensor.zeros(layer.reshape([dims])[0]);
              layer.forward([x], [top]);
              return top;
            });
            // float32 powers (SIMD) against float64 ones: a few float32 ulps.
            expect(relativeError(outputs[0], outputs[1]), `${region} [${dims}] beta ${beta} n ${n}`).toBeLessThan(1e-6);
          }
  });

  it('keep NaN where the TypeScript kernels give NaN', () => {
    const dims = [1, 3, 2, 4];
    const data = new Float32Array(24).fill(1);
    data[5] = NaN;
    for (const region of ['ACROSS_CHANNELS', 'WITHIN_CHANNEL']) {
      const outputs = [true, false].map((simd) => {
        useLrnSimd(simd);
        const layer = lrnLayer.create(layerDef('LRN', { lrn_param: { local_size: 3, norm_region: region } }), []);
        const top = Tensor.zeros(layer.reshape([dims])[0]);
        layer.forward([new Tensor(dims, data)], [top]);
        return Array.from(top.data, (v) => Number.isNaN(v));
      });
      expect(outputs[0], region).toEqual(outputs[1]);
    }
  });
});

describe('LRN ACROSS_CHANNELS as a job of the native engine\'s pool (assembly/lrnjob.ts)', () => {
  afterAll(async () => {
    lrnPool.enabled = true;
    useLrnSimd(process.env.CREMA_KERNELS !== 'js');
    await setThreads(1);
  });

  const run = (dims: number[], x: Float32Array, p: { n: number; beta: number }, how: 'pool' | 'module' | 'ts', resident: boolean, inPlace = false): Float32Array => {
    lrnPool.enabled = how === 'pool';
    useLrnSimd(how !== 'ts');
    const layer = lrnLayer.create(layerDef('LRN', { lrn_param: { local_size: p.n, alpha: 0.3, beta: p.beta, k: 1.5 } }), []);
    const e = wasmEngine()!;
    const place = (a: Float32Array): Float32Array => {
      if (!resident) return a.slice();
      const r = e.residentArray(a.length)!;
      r.set(a);
      return r;
    };
    const bottom = new Tensor(dims, place(x));
    const top = inPlace ? bottom : new Tensor(layer.reshape([dims])[0], place(new Float32Array(x.length).fill(NaN)));
    if (inPlace) layer.reshape([dims]);
    layer.forward([bottom], [top]);
    return top.data.slice();
  };

  for (const threads of [1, 2]) {
    it(`equals the standalone SIMD module to the bit and the TypeScript kernels within 1e-6, batches 1, 2, 3, 5, ${threads} thread(s), resident and plain blobs, every vector beta`, async () => {
      useKernels('wasm');
      expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
      await setThreads(threads, 2);
      expect(wasmEngine()!.activeThreads()).toBe(threads);
      let seed = 99;
      const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
      // Planes of 1 to 3136 pixels (runs of 4 with a tail, several runs an image at batch 1), channels under and
      // over the window.
      const shapes = [[1, 64, 30, 30], [2, 7, 5, 6], [3, 40, 21, 21], [5, 3, 1, 1], [5, 16, 9, 7], [2, 192, 13, 13]];
      for (const dims of shapes)
        for (const [n, beta] of [[5, 0.75], [3, 0.5], [11, 1], [1, 1.5], [5, 2]]) {
          const x = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => random() * 40);
          if (dims[0] === 5 && n === 5) x[x.length - 3] = NaN; // a NaN in the last image stays where the module has it
          const module = run(dims, x, { n, beta }, 'module', false), ts = run(dims, x, { n, beta }, 'ts', false);
          for (const resident of [true, false]) {
            const e = wasmEngine()!, run0 = e.run;
            let jobs = 0;
            e.run = (chunks: number) => { jobs += e.u32[e.pool.params / 4] === KIND_LRN ? 1 : 0; run0.call(e, chunks); };
            const pool = run(dims, x, { n, beta }, 'pool', resident);
            e.run = run0;
            const label = `[${dims}] n ${n} beta ${beta} ${resident ? 'resident' : 'plain'}`;
            expect(jobs, `${label}: the pool's job ran`).toBe(1);
            expect(Array.from(pool, (v, i) => (Object.is(v, module[i]) ? -1 : i)).filter((i) => i >= 0).slice(0, 3), label).toEqual([]);
            expect(relativeError(new Tensor(dims, pool.map((v) => (Number.isNaN(v) ? 0 : v))), new Tensor(dims, ts.map((v) => (Number.isNaN(v) ? 0 : v)))), label).toBeLessThan(1e-6);
            expect(Array.from(pool, Number.isNaN), label).toEqual(Array.from(ts, Number.isNaN));
          }
        }
    });
  }

  it('in place (top is bottom) takes the standalone module, which copies each image first', async () => {
    await setThreads(2, 2);
    const dims = [3, 12, 6, 6];
    const x = Float32Array.from({ length: 3 * 12 * 36 }, (_, i) => Math.sin(i) * 30);
    expect(run(dims, x, { n: 5, beta: 0.75 }, 'pool', true, true)).toEqual(run(dims, x, { n: 5, beta: 0.75 }, 'module', false));
  });
});
