// FlowNet's Correlation and DispNet's Correlation1D on the wasm engine (src/kernels/correlation.ts,
// assembly/correlation.ts) against the layers' TypeScript loops (src/layers/correlation.ts and correlation1d.ts, which
// restate the forks' CorrelateData; test/flownet.test.ts and test/dispnet.test.ts check them against plain
// re-statements), bit for bit: Object.is per element (NaN is NaN whatever its payload).
// Channels that are not a multiple of 32 or of 4, kernel_size 1 and 3, stride_1 and stride_2 above 1, pad 0 and
// more, batch 2, NaN / infinities / -0 / denormals / overflowing products, MULTIPLY and SUBTRACT, at 1 and 2 threads; the plain SIMD build
// (CREMA_FMA=0: each multiply-add in f64) in a child process, the engine being process-wide.
import { afterAll, describe, expect, it } from 'vitest';
import { kernelsInUse, setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { layerType } from '../src/layers/registry.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { layerDef, rng } from './helpers/compute.js';

const SPECIAL = [NaN, Infinity, -Infinity, -0, 0, 1e-40, -1e-40, 3e38, -3e38];

interface Case {
  type?: 'Correlation1D';
  correlation_type?: string;
  dims: number[]; pad: number; kernel_size: number; max_displacement: number; stride_1: number; stride_2: number; special?: number;
  single_direction?: number;
}

/** Random floats in [-2, 2) over a few magnitudes (so the lanes' order shows in the bits); a special value every `special`th. */
function values(n: number, seed: number, special = 0): Float32Array {
  const random = rng(seed), out = new Float32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = special && i % special === special - 1 ? SPECIAL[Math.floor(random() * SPECIAL.length)] : (random() * 4 - 2) * 10 ** Math.floor(random() * 4 - 2);
  return out;
}

/** The layer's top on the kernels chosen; bottoms in the engine's memory (as a Net's blobs are) or not. */
function run(c: Case, kernels: 'wasm' | 'js', resident: boolean): Float32Array {
  useKernels(kernels);
  const { type = 'Correlation', dims, special, ...param } = c;
  const layer = layerType(type, 'corr').create(layerDef(type, { correlation_param: param }, 2, 1), []);
  const [shape] = layer.reshape([dims, dims]);
  const place = (a: Float32Array) => {
    const r = resident ? wasmEngine()?.residentArray(a.length) : undefined;
    r?.set(a);
    return r ?? a;
  };
  const bottoms = [1, 2].map((seed) => new Tensor(dims, place(values(sizeOf(dims), seed, special))));
  const top = new Tensor(shape, place(new Float32Array(sizeOf(shape))));
  // Count the engine's jobs: a wasm run must reach the kernel (a silent fallback to the loop would match it trivially)
  const engine = wasmEngine(), before = jobs;
  if (engine && kernels === 'wasm' && !counted.has(engine)) {
    const run0 = engine.run.bind(engine), job0 = engine.job.bind(engine);
    let words: Uint32Array | undefined;
    engine.job = (kind: number) => (words = job0(kind));
    engine.run = (chunks: number) => {
      jobs++;
      // A broken kernel on purpose: the correlation job (mode 1) told the other correlation_type
      if (flipType && words?.[3] === 1) words[24] ^= 1;
      run0(chunks);
    };
    counted.add(engine);
  }
  layer.forward(bottoms, [top]);
  if (kernels === 'wasm') expect(jobs - before, `the wasm kernel ran: ${type} ${dims.join('x')}`).toBeGreaterThanOrEqual(2);
  return top.data;
}
let jobs = 0, flipType = false;
const counted = new WeakSet<object>();

/** The first elements that differ, as text ('' when none). */
function differences(got: Float32Array, want: Float32Array): string {
  const out: string[] = [];
  for (let i = 0; i < want.length && out.length < 3; i++) if (!Object.is(got[i], want[i])) out.push(`[${i}] ${got[i]} not ${want[i]}`);
  return got.length === want.length ? out.join(', ') : `${got.length} values, not ${want.length}`;
}

const CASES: Case[] = [
  // FlowNet-C's correlation (kernel 1, stride_2 2) cut down; 64 channels: two whole blocks of lanes
  { dims: [1, 64, 16, 20], pad: 6, kernel_size: 1, max_displacement: 6, stride_1: 1, stride_2: 2 },
  // 37 channels: a block of 32, then 5 (a vector and a lane: the copy's channels padded to 40)
  { dims: [2, 37, 11, 13], pad: 2, kernel_size: 3, max_displacement: 2, stride_1: 2, stride_2: 1 },
  { dims: [1, 3, 9, 10], pad: 0, kernel_size: 3, max_displacement: 1, stride_1: 1, stride_2: 1 },
  { dims: [2, 70, 12, 12], pad: 3, kernel_size: 1, max_displacement: 3, stride_1: 3, stride_2: 3 },
  { dims: [1, 1, 5, 6], pad: 1, kernel_size: 1, max_displacement: 1, stride_1: 1, stride_2: 1 },
  // 29 displacements a side: every fourth's group of four has one (441 = 4 x 110 + 1 too)
  { dims: [1, 8, 8, 8], pad: 14, kernel_size: 1, max_displacement: 14, stride_1: 1, stride_2: 1 },
  // stride_2 that does not divide max_displacement; a top row that ends past the bottom (ceil)
  { dims: [2, 33, 10, 11], pad: 4, kernel_size: 3, max_displacement: 5, stride_1: 2, stride_2: 2 },
  // 19 and 59 channels: the last block's 5 and 7 vectors reach the third and fourth quarters of the lanes (four
  // displacements at a time: 7 = 4 + 3 and 9 = 4 + 4 + 1 a row)
  { dims: [1, 19, 9, 9], pad: 3, kernel_size: 1, max_displacement: 3, stride_1: 1, stride_2: 1 },
  { dims: [2, 59, 8, 9], pad: 2, kernel_size: 3, max_displacement: 4, stride_1: 1, stride_2: 1 },
  // special values: NaN, infinities, -0, denormals, products that overflow
  { dims: [2, 37, 11, 13], pad: 2, kernel_size: 3, max_displacement: 2, stride_1: 1, stride_2: 2, special: 211 },
  { dims: [1, 6, 7, 7], pad: 1, kernel_size: 1, max_displacement: 1, stride_1: 1, stride_2: 1, special: 5 },
  // Correlation1D: DispNetCorr1D's (pad = max_displacement, kernel 1) cut down; 81 displacements: 4 x 20 + 1 a row
  { type: 'Correlation1D', dims: [1, 64, 6, 100], pad: 40, kernel_size: 1, max_displacement: 40, stride_1: 1, stride_2: 1 },
  // kernel 3: the patches' rows from the top row's own (no padding along y); 37 channels; batch 2; strides
  { type: 'Correlation1D', dims: [2, 37, 7, 19], pad: 2, kernel_size: 3, max_displacement: 4, stride_1: 2, stride_2: 2 },
  { type: 'Correlation1D', dims: [1, 3, 5, 12], pad: 0, kernel_size: 3, max_displacement: 2, stride_1: 1, stride_2: 1 },
  // single_direction 1: displacements 0 .. r only (r + 1 = 6: 4 + 2), from the first column; stride_2 not dividing
  { type: 'Correlation1D', dims: [2, 19, 5, 20], pad: 3, kernel_size: 1, max_displacement: 5, stride_1: 1, stride_2: 1, single_direction: 1 },
  { type: 'Correlation1D', dims: [1, 59, 6, 17], pad: 1, kernel_size: 3, max_displacement: 5, stride_1: 3, stride_2: 2, single_direction: 1 },
  { type: 'Correlation1D', dims: [2, 70, 4, 14], pad: 3, kernel_size: 1, max_displacement: 3, stride_1: 1, stride_2: 1, single_direction: 0 },
  { type: 'Correlation1D', dims: [2, 37, 5, 13], pad: 2, kernel_size: 3, max_displacement: 2, stride_1: 1, stride_2: 1, special: 97 },
  { type: 'Correlation1D', dims: [1, 6, 3, 9], pad: 1, kernel_size: 1, max_displacement: 2, stride_1: 1, stride_2: 1, single_direction: 1, special: 5 },
  // SUBTRACT (CorrelateDataSubtract: one float sum of |a - b| in order): four displacements a lane each, the last group
  // of a row 1, 2 or 3 (5 = 4 + 1, 81 = 4 x 20 + 1, 6 = 4 + 2, 7 = 4 + 3); 37 and 19 channels; kernel 3; special values
  { correlation_type: 'SUBTRACT', dims: [2, 37, 11, 13], pad: 2, kernel_size: 3, max_displacement: 2, stride_1: 2, stride_2: 1 },
  { correlation_type: 'SUBTRACT', dims: [1, 19, 9, 9], pad: 3, kernel_size: 1, max_displacement: 3, stride_1: 1, stride_2: 1 },
  { correlation_type: 'SUBTRACT', dims: [1, 6, 7, 7], pad: 1, kernel_size: 1, max_displacement: 1, stride_1: 1, stride_2: 1, special: 5 },
  { type: 'Correlation1D', correlation_type: 'SUBTRACT', dims: [1, 64, 6, 100], pad: 40, kernel_size: 1, max_displacement: 40, stride_1: 1, stride_2: 1 },
  { type: 'Correlation1D', correlation_type: 'SUBTRACT', dims: [2, 19, 5, 20], pad: 3, kernel_size: 1, max_displacement: 5, stride_1: 1, stride_2: 1, single_direction: 1 },
  { type: 'Correlation1D', correlation_type: 'SUBTRACT', dims: [2, 37, 7, 19], pad: 2, kernel_size: 3, max_displacement: 4, stride_1: 2, stride_2: 2, special: 97 },
  { type: 'Correlation1D', correlation_type: 'SUBTRACT', dims: [1, 6, 3, 9], pad: 1, kernel_size: 1, max_displacement: 2, stride_1: 1, stride_2: 1, single_direction: 1, special: 5 },
];

const label = (c: Case) => `${c.type ?? 'Correlation'} ${c.correlation_type === 'SUBTRACT' ? 'SUBTRACT ' : ''}${c.single_direction ? 'single_direction 1 ' : ''}${c.dims.join('x')} pad ${c.pad} k ${c.kernel_size} d ${c.max_displacement} s ${c.stride_1}/${c.stride_2}${c.special ? ' special' : ''}`;

describe('Correlation and Correlation1D: the wasm kernel = the TypeScript loop, bit for bit', () => {
  afterAll(async () => {
    useKernels('wasm');
    await setThreads(1);
  });

  for (const threads of [1, 2])
    it(`${threads} thread(s), bottoms in the engine's memory and not`, async () => {
      useKernels('wasm');
      expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe('wasm');
      expect(await setThreads(threads, 2)).toBe(threads);
      for (const c of CASES) {
        const want = run(c, 'js', false);
        expect(want.some((v) => Number.isFinite(v) && v !== 0), label(c)).toBe(true);
        for (const resident of [true, false]) expect(differences(run(c, 'wasm', resident), want), `${label(c)} resident ${resident}`).toBe('');
      }
    });

  it('the special values reach the top: NaN and infinities where the loop has them', () => {
    for (const c of CASES.filter((x) => x.special === 5)) {
      const top = run(c, 'js', false);
      expect(top.some(Number.isNaN), label(c)).toBe(true);
      expect(top.some((v) => v === Infinity || v === -Infinity), label(c)).toBe(true);
    }
  });

  it('the comparison catches a broken kernel: told SUBTRACT for MULTIPLY and the other way, it differs from the loop', async () => {
    useKernels('wasm');
    await setThreads(1);
    for (const c of CASES.filter((x) => !x.special)) {
      const want = run(c, 'js', false);
      flipType = true;
      try {
        expect(differences(run(c, 'wasm', false), want), label(c)).not.toBe('');
      } finally {
        flipType = false;
      }
    }
  });

  it('SUBTRACT gives means of |a - b|: never negative, and not the MULTIPLY top', () => {
    for (const c of CASES.filter((x) => x.correlation_type === 'SUBTRACT' && !x.special)) {
      const top = run(c, 'wasm', false);
      expect(top.every((v) => v >= 0), label(c)).toBe(true);
      expect(differences(top, run({ ...c, correlation_type: 'MULTIPLY' }, 'wasm', false)), label(c)).not.toBe('');
    }
  });

  // The engine is process-wide, so the plain build (f64 multiply-adds: maddExact's other half) runs in a child,
  // on the same bottoms (written to a file: every case's two in turn).
  it('CREMA_FMA=0: the plain SIMD build gives the same bits', async () => {
    const [{ execFileSync }, fs, os, path] = await Promise.all([import('node:child_process'), import('node:fs'), import('node:os'), import('node:path')]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-corr-')), file = path.join(dir, 'bottoms.f32');
    const bottoms = CASES.flatMap((c) => [1, 2].map((seed) => values(sizeOf(c.dims), seed, c.special)));
    fs.writeFileSync(file, Buffer.concat(bottoms.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
    const script = `
      await import('./dist/platform/node.js');
      const { readFileSync } = await import('node:fs');
      const { useKernels, wasmBuild, setThreads } = await import('./dist/kernels/wasm.js');
      const { layerType } = await import('./dist/layers/registry.js');
      const bytes = readFileSync(${JSON.stringify(file)}), all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      const differ = [];
      let at = 0;
      await setThreads(2, 2);
      for (const c of ${JSON.stringify(CASES)}) {
        const { type = 'Correlation', dims, special, ...param } = c, n = dims.reduce((a, b) => a * b), ins = [0, 1].map((i) => all.slice(at + i * n, at + (i + 1) * n));
        at += 2 * n;
        const tops = ['js', 'wasm'].map((kernels) => {
          useKernels(kernels);
          const def = { name: 'corr', type, bottom: ['x0', 'x1'], top: ['y'], correlation_param: param };
          const layer = layerType(type, 'corr').create(def, []);
          const [shape] = layer.reshape([dims, dims]);
          const top = { dims: shape, data: new Float32Array(shape.reduce((a, b) => a * b)) };
          layer.forward(ins.map((data) => ({ dims, data })), [top]);
          return top.data;
        });
        for (let i = 0; i < tops[0].length; i++) if (!Object.is(tops[0][i], tops[1][i])) { differ.push(type + ' ' + dims.join('x') + ' [' + i + '] ' + tops[1][i] + ' not ' + tops[0][i]); break; }
      }
      console.log(JSON.stringify({ build: wasmBuild(), differ }));`;
    try {
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, CREMA_FMA: '0', CREMA_KERNELS: '' }, encoding: 'utf8' });
      const { build, differ } = JSON.parse(out.trim().split('\n').pop()!) as { build: string; differ: string[] };
      expect(build).toBe('simd');
      expect(differ.join(', ')).toBe('');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
