// How fast the GEMM runs on small planes and what a 1x1 convolution spends around it, one thread, after `npm run build`.
// 1. gemmStrips (the 4 x 8 micro-kernel and, for a last strip of 1 to 4 columns, tile24x1) on packed panels of
//    M rows x N columns x 256 (one K block), A warm (one block) and cold (cycling through 96 MB, as weights come
//    from memory in a forward): G multiply-adds a second, best and median of the rounds.
// 2. 1x1 convolution jobs on resident blobs (as in a Net): the whole job, its B packing alone and its GEMMs alone
//    (least of the rounds, interleaved).
// Usage: node scripts/bench-gemm.mjs [rounds, default 30]; SHAPES=CxHxW>O,... for part 2, PADS=0,16,... C's row
// strides in part 1 (docs/PERFORMANCE.md, rounds forty-nine and fifty).
import '../dist/platform/node.js';
import { KC, NR, setThreads, wasmEngine } from '../dist/kernels/wasm.js';
import { convolveWasm, packConvWeights } from '../dist/kernels/packed.js';

const rounds = Number(process.argv[2] ?? 30);
await setThreads(1);
const e = wasmEngine();
if (!e) throw new Error('bench-gemm: the wasm kernels are not built (npm run build)');
const X = e.exports;
const fill = (a) => {
  for (let i = 0; i < a.length; i++) a[i] = Math.random() - 0.5;
  return a;
};
const alloc = (floats) => {
  const p = e.heap.alloc(floats * 4 + 64);
  fill(new Float32Array(e.memory.buffer, p, floats));
  return p;
};
const sorted = (v) => [...v].sort((a, b) => a - b);
const rate = (macs, ms) => (macs / ms / 1e6).toFixed(1);

const tmp = alloc(64);
const poolBytes = 96 * 2 ** 20, pool = alloc(poolBytes / 4);
// PADS=0,16: C's row stride ldc = N + each pad, alternated round by round (round fifty: a power-of-two ldc is no slower).
const pads = (process.env.PADS ?? '0').split(',').map(Number);
if (!pads.every((p) => Number.isInteger(p) && p >= 0)) {
  console.error(`bench-gemm: PADS is whole numbers of floats 0 or more, comma-separated (0,16), got '${process.env.PADS}'`); // NaN would reach alloc
  process.exit(2);
}
console.log('gemmStrips, one K block of 256: G/s best / median, A warm | A cold');
for (const [M, N] of [[512, 4], [512, 8], [512, 12], [512, 16], [2048, 49], [2048, 56], [1000, 196], [1000, 200], [256, 512], [1024, 512]]) {
  const b = alloc(N * KC), cs = pads.map((pad) => alloc(M * (N + pad))), strips = Math.ceil(N / NR), aBytes = M * KC * 4, slots = Math.floor(poolBytes / aBytes);
  const calls = Math.max(1, Math.round(2e5 / (M * N)));
  let slot = 0;
  const run = (cold, i) => {
    for (let q = 0; q < calls; q++) {
      const a = pool + (cold ? (slot = (slot + 1) % slots) : 0) * aBytes;
      X.gemmStrips(M, N, KC, a, b, 0, strips, cs[i], N + pads[i], 0, 1, 1, 0, 0, 0, 0, tmp, 0);
    }
  };
  const t = pads.map(() => [[], []]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < pads.length; k++) {
      const i = (k + r) % pads.length;
      for (const cold of [0, 1]) {
        const t0 = performance.now();
        run(cold, i);
        t[i][cold].push(performance.now() - t0);
      }
    }
  }
  const macs = calls * M * N * KC;
  const cell = (v) => `${rate(macs, sorted(v)[0])} / ${rate(macs, sorted(v)[v.length >> 1])}`;
  pads.forEach((pad, i) => console.log(`M ${String(M).padStart(4)} N ${String(N).padStart(3)}${pads.length > 1 ? ` ldc N + ${pad}` : ''}: ${cell(t[i][0])} | ${cell(t[i][1])}`));
}

const shapes = (process.env.SHAPES ?? '256x56x56>64,64x56x56>256,512x28x28>128,128x28x28>512,1024x14x14>256,256x14x14>1024,2048x7x7>512,512x7x7>2048,512x14x14>1000').split(',');
console.log('\n1x1 convolution jobs (resident blobs, warm): least ms of the whole job, its packing, its GEMMs');
const jobs = shapes.map((s) => {
  const [C, H, W, O] = /^(\d+)x(\d+)x(\d+)>(\d+)$/.exec(s).slice(1).map(Number);
  const packed = packConvWeights(e, {}, fill(new Float32Array(O * C)), fill(new Float32Array(O)), 1, O, C);
  const x = fill(e.residentArray(C * H * W)), y = e.residentArray(O * H * W);
  const g = { channels: C, height: H, width: W, kernelH: 1, kernelW: 1, padH: 0, padW: 0, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, outH: H, outW: W };
  const N = H * W, chunkCols = Math.min(512, Math.ceil(N / NR) * NR), buffer = alloc(KC * 512), mPad = Math.ceil(O / 4) * 4;
  const xAt = e.addressOf(x), yAt = e.addressOf(y);
  // The job's own cut at one thread: chunks of at most 512 columns, K blocks of KC (assembly/kernels.ts convChunk).
  const blocks = (f) => {
    for (let j0 = 0; j0 < N; j0 += chunkCols) for (let k0 = 0; k0 < C; k0 += KC) f(j0, Math.min(N, j0 + chunkCols), k0, Math.min(KC, C - k0));
  };
  const parts = {
    whole: () => convolveWasm(e, packed, g, 1, 1, x, y, true, 0),
    pack: () => blocks((j0, j1, k0, kc) => X.packB(xAt, N, 1, k0, kc, j0, j1, buffer)),
    gemm: () =>
      blocks((j0, j1, k0, kc) =>
        X.gemmStrips(O, j1 - j0, kc, packed.weights + k0 * mPad * 4, buffer, 0, Math.ceil((j1 - j0) / NR), yAt, N, j0, k0 === 0 ? 1 : 0, k0 + kc >= C ? 1 : 0, 1, packed.bias, 1, 0, tmp, 0),
      ),
  };
  return { s, macs: O * C * N, parts, t: { whole: [], pack: [], gemm: [] } };
});
for (let r = 0; r <= rounds; r++) {
  for (const job of jobs) {
    for (const [k, f] of Object.entries(job.parts)) {
      const t0 = performance.now();
      f();
      if (r > 0) job.t[k].push(performance.now() - t0); // round 0 warms up
    }
  }
}
for (const { s, macs, t } of jobs) {
  const [w, p, g] = ['whole', 'pack', 'gemm'].map((k) => sorted(t[k])[0]);
  console.log(`${s.padEnd(16)} whole ${w.toFixed(3)} (${rate(macs, w)} G/s)  pack ${p.toFixed(3)}  GEMMs ${g.toFixed(3)} (${rate(macs, g)} G/s)`);
}
