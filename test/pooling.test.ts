// Pooling: Caffe's sweep references, a per-element reference loop over seeded random settings (MAX with its
// mask top, AVE, STOCHASTIC at test time, CEIL and FLOOR, global), and bad input.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor.js';
import { layerDef, randomArray, randomInt, relDiff, rng, runLayer, sweepCases } from './helpers/compute.js';
import { sharedMissing } from './helpers/shared.js';

interface Pool { pool: 'MAX' | 'AVE' | 'STOCHASTIC'; kh: number; kw: number; ph: number; pw: number; sh: number; sw: number; floor: boolean }

function outSize(size: number, k: number, p: number, s: number, floor: boolean): number {
  let out = (floor ? Math.floor((size + 2 * p - k) / s) : Math.ceil((size + 2 * p - k) / s)) + 1;
  if (p > 0 && (out - 1) * s >= size + p) out--;
  return out;
}

/** Tests each window position against the image (and the padded image) one element at a time. */
function referencePool(x: Tensor, c: Pool): { y: Tensor; mask: Tensor } {
  const [N, C, H, W] = x.dims;
  const OH = outSize(H, c.kh, c.ph, c.sh, c.floor), OW = outSize(W, c.kw, c.pw, c.sw, c.floor);
  const y = Tensor.zeros([N, C, OH, OW]), mask = Tensor.zeros([N, C, OH, OW]);
  for (let nc = 0; nc < N * C; nc++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        let max = -3.4028234663852886e38, arg = -1, sum = 0, sq = 0, padded = 0;
        for (let ky = 0; ky < c.kh; ky++)
          for (let kx = 0; kx < c.kw; kx++) {
            const iy = oy * c.sh - c.ph + ky, ix = ox * c.sw - c.pw + kx;
            if (iy < H + c.ph && ix < W + c.pw) padded++;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const v = x.data[(nc * H + iy) * W + ix];
            if (v > max) [max, arg] = [v, iy * W + ix];
            sum += v;
            sq += v * v;
          }
        const o = (nc * OH + oy) * OW + ox;
        y.data[o] = c.pool === 'MAX' ? max : c.pool === 'AVE' ? sum / padded : sum > 0 ? sq / sum : 0;
        mask.data[o] = arg;
      }
  return { y, mask };
}

const param = (c: Pool) => ({
  pooling_param: { pool: c.pool, kernel_h: c.kh, kernel_w: c.kw, pad_h: c.ph, pad_w: c.pw, stride_h: c.sh, stride_w: c.sw, round_mode: c.floor ? 'FLOOR' : 'CEIL' },
});

describe.skipIf(sharedMissing())('Pooling vs Caffe (reference/sweep pool_*)', () => sweepCases(/^pool_/));

describe('Pooling vs a reference loop', () => {
  it('seeded random settings: MAX (with mask), AVE, STOCHASTIC; CEIL and FLOOR', () => {
    const random = rng(41);
    for (let t = 0; t < 120; t++) {
      const pool = (['MAX', 'AVE', 'STOCHASTIC'] as const)[t % 3];
      // Stride <= kernel: every window starts inside the image (the case beyond is tested on its own below).
      const c: Pool = { pool, kh: randomInt(random, 1, 4), kw: randomInt(random, 1, 4), ph: 0, pw: 0, sh: 1, sw: 1, floor: random() < 0.3 };
      [c.sh, c.sw] = [randomInt(random, 1, c.kh), randomInt(random, 1, c.kw)];
      if (pool !== 'STOCHASTIC') [c.ph, c.pw] = [randomInt(random, 0, c.kh - 1), randomInt(random, 0, c.kw - 1)];
      const H = randomInt(random, c.kh, 11), W = randomInt(random, c.kw, 11);
      const data = randomArray(2 * 3 * H * W, random);
      if (pool === 'STOCHASTIC') for (let i = 0; i < data.length; i++) data[i] = random() < 0.2 ? 0 : Math.abs(data[i]); // post-ReLU, as its use
      const x = new Tensor([2, 3, H, W], data);
      const want = referencePool(x, c);
      const label = `case ${t}: ${JSON.stringify(c)} on ${H}x${W}`;
      const tops = runLayer(layerDef('Pooling', param(c), 1, pool === 'MAX' ? 2 : 1), [], [x]);
      expect([...tops[0].dims], label).toEqual([...want.y.dims]);
      expect(relDiff(tops[0].data, want.y.data), label).toBeLessThan(1e-6);
      if (pool === 'MAX') expect([...tops[1].data], label).toEqual([...want.mask.data]);
    }
  });

  it('a ceil-mode window that starts past the image (stride > kernel, no pad): AVE gives NaN (0 / 0) and MAX -FLT_MAX, as Caffe', () => {
    // W = 8, kernel 1, stride 4: ceil(7 / 4) + 1 = 3 windows, at 0, 4 and 8; the last one holds nothing.
    const x = new Tensor([1, 1, 1, 8], new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const settings = { kernel_h: 1, kernel_w: 1, stride_h: 1, stride_w: 4 };
    const [ave] = runLayer(layerDef('Pooling', { pooling_param: { pool: 'AVE', ...settings } }), [], [x]);
    expect([...ave.data]).toEqual([1, 5, NaN]);
    const [max, mask] = runLayer(layerDef('Pooling', { pooling_param: { pool: 'MAX', ...settings } }, 1, 2), [], [x]);
    expect([...max.data]).toEqual([1, 5, -3.4028234663852886e38]);
    expect([...mask.data]).toEqual([0, 4, -1]);
  });

  it('global pooling takes the whole plane (MAX and AVE)', () => {
    const random = rng(42);
    const x = new Tensor([2, 3, 5, 7], randomArray(210, random));
    for (const pool of ['MAX', 'AVE'] as const) {
      const [y] = runLayer(layerDef('Pooling', { pooling_param: { pool, global_pooling: true } }), [], [x]);
      expect([...y.dims]).toEqual([2, 3, 1, 1]);
      expect(relDiff(y.data, referencePool(x, { pool, kh: 5, kw: 7, ph: 0, pw: 0, sh: 1, sw: 1, floor: false }).y.data)).toBeLessThan(1e-6);
    }
  });

  it('MAX: padding never wins, an all -Infinity window gives -FLT_MAX and mask -1 stays only when nothing beats it', () => {
    const x = new Tensor([1, 1, 2, 2], new Float32Array([-5, -Infinity, -7, -Infinity]));
    const [y, m] = runLayer(layerDef('Pooling', { pooling_param: { pool: 'MAX', kernel_size: 2, stride: 1, pad: 1 } }, 1, 2), [], [x]);
    expect([...y.dims]).toEqual([1, 1, 3, 3]);
    expect([...y.data]).toEqual([-5, -5, -3.4028234663852886e38, -5, -5, -3.4028234663852886e38, -7, -7, -3.4028234663852886e38]);
    expect([...m.data]).toEqual([0, 0, -1, 0, 0, -1, 2, 2, -1]);
  });
});

describe('Pooling refuses bad input, naming the layer', () => {
  const x = Tensor.zeros([1, 2, 4, 4]);
  const fails = (params: Record<string, unknown>, message: string, tops = 1, input = x) =>
    expect(() => runLayer(layerDef('Pooling', { pooling_param: params }, 1, tops), [], [input])).toThrow(`layer 'pooling' (Pooling): ${message}`);
  it('settings Caffe refuses', () => {
    fails({ pool: 'MAX' }, 'needs kernel_size, or both kernel_h and kernel_w');
    fails({ kernel_size: 2, kernel_h: 2, kernel_w: 2 }, 'gives both kernel_size and kernel_h/kernel_w; give one or the other');
    fails({ global_pooling: true, kernel_size: 2 }, 'global_pooling takes the whole input as the window: give no kernel size');
    fails({ global_pooling: true, stride: 2 }, 'global_pooling allows only pad 0 and stride 1');
    fails({ kernel_size: 2, pad: 2 }, 'pad 2 x 2 must be smaller than the kernel 2 x 2');
    fails({ pool: 'STOCHASTIC', kernel_size: 3, pad: 1 }, 'padding is implemented only for MAX and AVE pooling (as in Caffe)');
    fails({ kernel_size: 2, pad_h: 1 }, 'padding is pad, or both pad_h and pad_w');
    fails({ kernel_size: 2, stride: 0 }, 'stride must be nonzero, got 0 x 0');
  });
  it('a mask top for other than MAX, a non-4-D bottom, a kernel larger than the input', () => {
    fails({ pool: 'AVE', kernel_size: 2 }, 'gives 1 top(s), got 2', 2);
    fails({ kernel_size: 2 }, 'bottom 0 must be 4-D (N, C, H, W), got [2, 4, 4]', 1, Tensor.zeros([2, 4, 4]));
    fails({ kernel_size: 6 }, 'kernel 6 x 6 is larger than the padded input 4 x 4');
  });
});
