// Net.load readies what the first forward writes (docs/PERFORMANCE.md, round eight): the blobs, the threads' and
// the engine's scratch, an LRN's SIMD memory. A page's first write cost 12 us or more on the team's VM, and a first
// AlexNet forward faulted in 1900-2900 pages, 3-6x a steady forward. Checked by what the forward had to grow, not
// by timing it. The first test of its file: the engine and the LRN module start fresh (vitest isolates files).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { wasmEngine } from '../src/kernels/wasm.js';
import { lrnSimdMemoryBytes } from '../src/kernels/lrn.js';
import { Net } from '../src/runtime/net.js';
import { randomArray, rng } from './helpers/compute.js';

const model = (f: string): string => path.resolve('models/cifar10_full', f);

describe('Net.load readies the first forward', () => {
  it('the first forward grows no scratch, no memory and no LRN memory (CIFAR-10 full: Winograd 5x5, LRN within channels)', async () => {
    const net = await Net.load(model('deploy.prototxt'), model('weights.caffemodel'), { threads: 1 });
    const engine = wasmEngine()!;
    const scratch = (): number => (engine as unknown as { scratchBytes: number }).scratchBytes;
    const before = { scratch: scratch(), memory: engine.memory.buffer.byteLength, lrn: lrnSimdMemoryBytes() };
    expect(before.scratch).toBeGreaterThan(0);
    expect(before.lrn).toBeGreaterThan(0);
    const input = net.inputs[0];
    const out = net.forward({ [input]: randomArray(3 * 32 * 32, rng(1)) });
    expect(out.prob.data.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect({ scratch: scratch(), memory: engine.memory.buffer.byteLength, lrn: lrnSimdMemoryBytes() }).toEqual(before);
  });
});
