// The LRN cross-check: random shapes, local_size 1-11, alpha, beta, k, both regions. The native TypeScript
// LRN against ONNX Runtime's LRN op (ACROSS_CHANNELS), the AveragePool form of --lrn decomposed, and the
// WITHIN_CHANNEL subgraph, all run through onnxruntime-node.
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { randomArray, randomInt, rng } from './helpers/compute.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-4;

interface LrnCase {
  dims: number[];
  n: number;
  alpha: number;
  beta: number;
  k: number;
  region: 'ACROSS_CHANNELS' | 'WITHIN_CHANNEL';
}

function randomCase(random: () => number, region: LrnCase['region']): LrnCase {
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  return {
    dims: [randomInt(random, 1, 2), randomInt(random, 1, 16), randomInt(random, 1, 9), randomInt(random, 1, 9)],
    n: 2 * randomInt(random, 0, 5) + 1,
    alpha: pick([1e-4, 0.001, 0.02, 0.3, 1, 5]),
    beta: pick([0.5, 0.75, 1, 1.5, 2]),
    k: pick([0.5, 1, 2, 3]),
    region,
  };
}

async function check(c: LrnCase, seed: number) {
  const dims = c.dims.map((d) => `dim: ${d}`).join(' ');
  const net = Net.fromNetParameter(parsePrototxt(`
    layer { name: "data" type: "Input" top: "data" input_param { shape { ${dims} } } }
    layer { name: "lrn" type: "LRN" bottom: "data" top: "out"
            lrn_param { local_size: ${c.n} alpha: ${c.alpha} beta: ${c.beta} k: ${c.k} norm_region: ${c.region} } }`, 'lrn.prototxt') as NetParameter);
  const data = randomArray(sizeOf(c.dims), rng(seed));
  for (let i = 0; i < data.length; i++) data[i] *= 3;
  const x = new Tensor(c.dims, data);
  const native = net.forward({ data: x }).out;
  const label = `${c.region} n=${c.n} alpha=${c.alpha} beta=${c.beta} k=${c.k} ${c.dims.join('x')}`;
  for (const lrn of c.region === 'ACROSS_CHANNELS' ? (['native', 'decomposed'] as const) : (['native'] as const)) {
    const onnx = (await runOnnx(net.graph, { data: x }, { lrn, threads: 1 })).get('out')!;
    expect(relativeError(onnx, native), `${label} (--lrn ${lrn})`).toBeLessThanOrEqual(TOLERANCE);
  }
}

describe('LRN: the native engine vs ONNX Runtime', () => {
  for (const region of ['ACROSS_CHANNELS', 'WITHIN_CHANNEL'] as const)
    it(`${region}: 40 random cases`, async () => {
      const random = rng(region === 'ACROSS_CHANNELS' ? 11 : 12);
      const sizes = new Set<number>();
      for (let i = 0; i < 40; i++) {
        const c = randomCase(random, region);
        sizes.add(c.n);
        await check(c, 100 + i);
      }
      expect(sizes.size, 'local sizes covered').toBeGreaterThanOrEqual(5);
    });

  it('k is ignored WITHIN_CHANNEL (Caffe fixes the shift at 1) but used ACROSS_CHANNELS', async () => {
    const run = async (region: LrnCase['region'], k: number) => {
      const net = Net.fromNetParameter(parsePrototxt(`
        layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } } }
        layer { name: "lrn" type: "LRN" bottom: "data" top: "out" lrn_param { local_size: 3 k: ${k} norm_region: ${region} } }`, 'k.prototxt') as NetParameter);
      return (await runOnnx(net.graph, { data: new Tensor([1, 3, 4, 4], randomArray(48, rng(5))) })).get('out')!;
    };
    expect(relativeError(await run('WITHIN_CHANNEL', 7), await run('WITHIN_CHANNEL', 1))).toBe(0);
    expect(relativeError(await run('ACROSS_CHANNELS', 7), await run('ACROSS_CHANNELS', 1))).toBeGreaterThan(0.01);
  });
});
