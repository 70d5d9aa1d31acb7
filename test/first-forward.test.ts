// Net.load readies what the first forward writes (docs/PERFORMANCE.md, round eight): the blobs, the threads' and
// the engine's scratch, an LRN's SIMD memory. A page's first write cost 12 us or more on the team's VM, and a first
// AlexNet forward faulted in 1900-2900 pages, 3-6x a steady forward. Checked by what the forward had to grow, not
// by timing it. The first test of its file: the engine and the LRN module start fresh (vitest isolates files).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { wasmEngine } from '../src/kernels/wasm.js';
import { lrnSimdMemoryBytes } from '../src/kernels/lrn.js';
import { Net } from '../src/runtime/net.js';
import { platform } from '../src/platform.js';
import { randomArray, rng } from './helpers/compute.js';
import { referenceCases, weightsOf } from './helpers/reference.js';
import { readNpy } from '../src/util/npy.js';

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

/** `bytes` with a custom section appended: a module V8 compiles afresh (its cache keys on the bytes). */
const renamed = (bytes: Uint8Array, tag: string): Uint8Array<ArrayBuffer> => {
  const name = new TextEncoder().encode(tag);
  const out = new Uint8Array(bytes.length + 3 + name.length);
  out.set(bytes);
  out.set([0, name.length + 1, name.length, ...name], bytes.length);
  return out;
};
const faultsOf = (compile: () => void): number => {
  const before = process.resourceUsage().minorPageFault;
  compile();
  return process.resourceUsage().minorPageFault - before;
};

describe('Net.load compiles the kernels optimized, ahead (Node)', () => {
  it('the engine runs the module compiled while the files were read; modules compiled afterwards are compiled as V8 would (flags restored)', async () => {
    await Net.load(model('deploy.prototxt'), model('weights.caffemodel'), { threads: 1 });
    const kernels = platform().kernels()!;
    expect('module' in kernels, 'compiled ahead').toBe(true);
    expect(wasmEngine()!.module).toBe((kernels as { module: WebAssembly.Module }).module);
    // An optimized compile of the whole module writes thousands of pages (2000-3500), V8's default (lazy, baseline
    // code on first call) a few: the same bytes compiled both ways now tell whether the flags came back. The copies
    // are made before counting (CI once counted 1188 faults for a lazy compile whose copy was a spread array), and
    // each way counts its fewest of three compiles (a GC or a heap growing meanwhile faults too).
    const file = kernels.build === 'fma' ? 'dist/kernels-fma.wasm' : 'dist/kernels.wasm';
    const bytes = new Uint8Array(fs.readFileSync(file));
    const fewest = (compile: (copy: Uint8Array<ArrayBuffer>) => void, tag: string): number =>
      Math.min(...[0, 1, 2].map((i) => renamed(bytes, tag + i)).map((copy) => faultsOf(() => compile(copy))));
    const optimized = fewest((copy) => platform().compileOptimized!(copy), 'optimized');
    const lazy = fewest((copy) => new WebAssembly.Module(copy), 'lazy');
    expect(optimized, `optimized ${optimized} faults, lazy ${lazy}`).toBeGreaterThan(4 * Math.max(lazy, 100));
  });
});

describe('Net.load writes ahead the scratch the first forward asks, and no more', () => {
  // Until round eighteen it wrote 4x the largest blob: 4-35 MiB resident that the zoo's nets never used (VGG-16
  // 49 MiB for the 13.5 its Winograd layers ask, the MobileNets 12-18 MiB for none), and too little for AlexNet at
  // two threads (4.4 MiB for 5.2).
  const fold = referenceCases('fixtures').find((r) => r.name === 'fold_chains')!;
  const nets: [string, string, string, () => Float32Array][] = [
    ['CIFAR-10 full (Winograd 5x5)', model('deploy.prototxt'), model('weights.caffemodel'), () => randomArray(3 * 32 * 32, rng(2))],
    ['CIFAR-10 quick', path.resolve('models/cifar10_quick/deploy.prototxt'), path.resolve('models/cifar10_quick/weights.caffemodel'), () => randomArray(3 * 32 * 32, rng(3))],
    ['LeNet', path.resolve('models/lenet/deploy.prototxt'), path.resolve('models/lenet/weights.caffemodel'), () => randomArray(28 * 28, rng(4))],
    ['a MobileNet v2 block (BN folded, depthwise)', fold.prototxt, weightsOf(fold), () => readNpy(fold.input).data],
  ];
  for (const threads of [1, 2])
    for (const [name, prototxt, weights, input] of nets)
      it(`${name}, ${threads} thread(s)`, async () => {
        const engine = wasmEngine()!;
        const prefault = engine.prefault.bind(engine), scratch = engine.scratch.bind(engine);
        let written = -1, asked = 0;
        engine.prefault = (bytes) => ((written = bytes), prefault(bytes));
        try {
          const net = await Net.load(prototxt, weights, { threads });
          engine.scratch = (bytes) => ((asked = Math.max(asked, bytes)), scratch(bytes));
          net.forward({ [net.inputs[0]]: input() });
          expect(written, 'what Net.load wrote ahead').toBeGreaterThanOrEqual(asked);
          if (threads === 1) expect(written, 'more than the forward asked').toBe(Math.max(asked, 256 * 1024));
          await net.dispose();
        } finally {
          engine.prefault = prefault;
          engine.scratch = scratch;
        }
      });
});
