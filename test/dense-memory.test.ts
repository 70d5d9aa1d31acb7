// crema segment / edges run a net at each image's own size (as FCN's and HED's demos do): an image at whose size
// the blobs cannot fit in the wasm kernels' memory is refused before its forward, named, with what it needs and
// what fits; the other images still run. (HED on a phone's 3000 x 2000 photo ran 46 s of layers, then the heap
// said it could not fit 1558 MiB more, naming no image.) Its own file: a fresh wasm memory, whose limit is lowered.
// And the image loops' outputs are named before any forward: one that is an input image is refused first.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { encodeCaffemodel } from '../src/caffe/caffemodel.js';
import { rgbPng } from '../src/image/png.js';
import { wasmEngine } from '../src/kernels/wasm.js';
import { blobRoomCheck } from '../src/cli/commands/segment.js';
import type { FloatImage } from '../src/image/image.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { relativeDifference } from './helpers/reference.js';
import { cli, errorOf } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-dense-memory-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const small = path.join(import.meta.dirname, 'fixtures/dense/images/a.png'); // 100 x 80

// 3 + 512 + 3 channels of 1 x 1 convolutions: 400 x 400 needs 518 x 160000 x 4 bytes = 317 MiB, 100 x 80 about 16 MiB.
const proto = path.join(tmp, 'wide.prototxt'), weights = path.join(tmp, 'wide.caffemodel');
fs.writeFileSync(proto, `name: "wide" input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8
  layer { name: "wide" type: "Convolution" bottom: "data" top: "wide" convolution_param { num_output: 512 kernel_size: 1 } }
  layer { name: "score" type: "Convolution" bottom: "wide" top: "score" convolution_param { num_output: 3 kernel_size: 1 } }`);
const conv = (name: string, out: number, inp: number) => ({ name, type: 'Convolution', blobs: [
  { shape: { dim: [out, inp, 1, 1] }, data: Float32Array.from({ length: out * inp }, (_, i) => Math.sin(i) / 16) },
  { shape: { dim: [out] }, data: new Float32Array(out) },
] });
fs.writeFileSync(weights, encodeCaffemodel({ name: 'wide', layer: [conv('wide', 512, 3), conv('score', 3, 512)] }));

/** `crema ARGS` in this process, with what the image loop writes to process.stdout and stderr (its progress), not through console. */
async function segmentRun(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const written = { stdout: '', stderr: '' };
  for (const name of ['stdout', 'stderr'] as const)
    vi.spyOn(process[name], 'write').mockImplementation((chunk: string | Uint8Array) => ((written[name] += String(chunk)), true));
  try {
    const run = await cli('segment', proto, weights, ...args, '--threads', '1');
    return { code: run.code, stdout: written.stdout + run.stdout, stderr: written.stderr + run.stderr };
  } finally {
    vi.restoreAllMocks();
  }
}

describe("an image too large for the wasm kernels' memory", () => {
  it('segment: refused before its forward, named with its size, what it needs and what fits; the others run', async () => {
    const engine = wasmEngine();
    if (!engine) throw new Error('this test needs the wasm kernels (CREMA_KERNELS=js is set)');
    const big = path.join(tmp, 'big.png');
    fs.writeFileSync(big, await rgbPng(400, 400, new Uint8Array(400 * 400 * 3).fill(90)));
    const limit = engine.heap.limit;
    engine.heap.limit = engine.memory.buffer.byteLength + 48 * 2 ** 20; // room for the small image's blobs, not the big one's
    try {
      const out = path.join(tmp, 'out');
      const run = await segmentRun(big, small, '-o', out);
      expect(run.code).toBe(1);
      const skipped = run.stderr.split('\n').filter((l) => l.startsWith('crema: skipped'));
      expect(skipped).toHaveLength(1);
      expect(skipped[0]).toMatch(new RegExp(`^crema: skipped ${big}: 400 x 400: the net's blobs at this size need 317 MiB, the wasm kernels' memory has room for (\\d+) MiB: use a smaller image \\(below about (\\d+) x \\2 the blobs fit, the kernels' scratch besides\\); CREMA_KERNELS=js runs it in JavaScript, slower \\(its blobs take 317 MiB, this machine has [\\d.]+ GiB free\\)$`));
      const [, room, side] = /room for (\d+) MiB.*about (\d+) x/.exec(skipped[0])!;
      expect(Number(room)).toBeLessThan(317);
      expect(Math.abs(Number(side) - 400 * Math.sqrt(Number(room) / 317))).toBeLessThan(2); // blobs grow with the pixels
      expect(run.stdout).toContain(`Classes in ${small} (100 x 80)`);
      expect(fs.readdirSync(out)).toEqual(['a.png']);
    } finally {
      engine.heap.limit = limit;
    }
  });
});

describe('blobRoomCheck', () => {
  it('shapes the graph once per image size (the forward reshapes it anyway), its refusal the same each time', async () => {
    const engine = wasmEngine();
    if (!engine) throw new Error('this test needs the wasm kernels (CREMA_KERNELS=js is set)');
    const net = await Net.load(proto, weights, { threads: 1 });
    const limit = engine.heap.limit;
    engine.heap.limit = engine.memory.buffer.byteLength + 48 * 2 ** 20;
    try {
      const check = blobRoomCheck(net);
      const image = (width: number, height: number) => ({ width, height, channels: 3, data: new Float32Array(0) }) as unknown as FloatImage;
      const shapes = () => net.graph.blobShapes; // inferShapes gives the graph a new map
      let before = shapes();
      check(image(100, 80));
      expect(shapes()).not.toBe(before); // shaped to 100 x 80 and back
      expect(shapes().get('score')).toEqual([1, 3, 8, 8]);
      before = shapes();
      check(image(100, 80));
      expect(shapes()).toBe(before); // the same size: not shaped again
      const refusal = errorOf(() => check(image(400, 400)));
      expect(refusal).toMatch(/^400 x 400: the net's blobs at this size need 317 MiB/);
      before = shapes();
      expect(errorOf(() => check(image(400, 400)))).toBe(refusal);
      expect(shapes()).toBe(before);
    } finally {
      engine.heap.limit = limit;
      await net.dispose();
    }
  });
});

describe("a forward whose blobs do not fit the wasm kernels' memory (full: no block placed past what is there)", () => {
  const S = 512, C = 16, image = () => new Tensor([1, 3, S, S], Float32Array.from({ length: 3 * S * S }, (_, i) => (i % 97) / 97));
  /** `run` with the memory full (heap.limit 0: the kernels' memory takes no block past the ones it has). */
  function full<T>(run: () => T): T {
    const engine = wasmEngine();
    if (!engine) throw new Error('this test needs the wasm kernels (CREMA_KERNELS=js is set)');
    const limit = engine.heap.limit;
    engine.heap.limit = 0;
    try {
      return run();
    } finally {
      engine.heap.limit = limit;
    }
  }

  it('its blobs fall back to JavaScript arrays: the same numbers as with room (layers that need no block of their own)', async () => {
    const prototxt = new TextEncoder().encode(`name: "free"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } } }
layer { name: "p1" type: "Power" bottom: "data" top: "p1" power_param { scale: 2 shift: 0.5 } }
layer { name: "tanh" type: "TanH" bottom: "p1" top: "tanh" }
layer { name: "sum" type: "Eltwise" bottom: "tanh" bottom: "p1" top: "sum" }
layer { name: "cat" type: "Concat" bottom: "sum" bottom: "tanh" top: "cat" }`);
    const roomy = await Net.load(prototxt, undefined, { threads: 1 }), cramped = await Net.load(prototxt, undefined, { threads: 1 });
    try {
      const want = roomy.forward({ data: image() }).cat; // its blobs held: the memory's blocks stay taken
      const got = full(() => cramped.forward({ data: image() }).cat);
      expect([wasmEngine()!.addressOf(want.data) > 0, wasmEngine()!.addressOf(got.data)]).toEqual([true, 0]); // a JavaScript array
      expect(relativeDifference(got.data, want.data)).toBeLessThanOrEqual(1e-6);
    } finally {
      await Promise.all([roomy.dispose(), cramped.dispose()]);
    }
  });

  it("a kernel's own block that does not fit: one line naming the layer and the memory, at the layer", async () => {
    const w = (n: number) => new Float32Array(n).fill(0.01);
    const net = await Net.load({
      prototxt: new TextEncoder().encode(`name: "big"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 16 dim: 16 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: ${C} kernel_size: 3 pad: 1 } }
layer { name: "pool" type: "Pooling" bottom: "conv1" top: "pool" pooling_param { pool: AVE global_pooling: true } }`),
      weights: encodeCaffemodel({ name: 'big', layer: [{ name: 'conv1', type: 'Convolution', blobs: [{ shape: { dim: [C, 3, 3, 3] }, data: w(C * 27) }, { shape: { dim: [C] }, data: w(C) }] }] }),
    }, { threads: 1 });
    try {
      // Before: "the wasm kernels' 4 GiB of memory cannot fit ..." from the kernel's scratch, naming no layer.
      const message = full(() => {
        try {
          net.forward({ data: image() });
          return 'ran';
        } catch (err) {
          return `${(err as Error).name}: ${(err as Error).message}`;
        }
      });
      expect(message).toMatch(/^LayerError: layer 'conv1' \(Convolution\): the wasm kernels' 4 GiB of memory cannot fit [1-9]\d* MiB more \(\d+ MiB in use, 1 net holds weights there: dispose\(\) the nets no longer used\): CREMA_KERNELS=js runs blobs this large in JavaScript$/);
      expect(net.forward({ data: image() }).pool.data[0]).toBeCloseTo(0.01 + 0.01 * 27 * 0.5, 1); // room again: it runs
    } finally {
      await net.dispose();
    }
  });
});

describe("an image loop's output that is an input image", () => {
  it('-o into the images\' own directory: refused before any forward (segment ran and printed the image first)', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'photos-'));
    fs.copyFileSync(small, path.join(dir, 'a.png'));
    const run = await segmentRun(dir, '-o', dir);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe(''); // nothing ran
    expect(run.stderr).toBe(`crema: ${path.join(dir, 'a.png')}: is an input of this command: writing it would replace it; give another output`);
    const other = fs.mkdtempSync(path.join(tmp, 'linked-'));
    fs.symlinkSync(path.join(dir, 'a.png'), path.join(other, 'a.png'));
    const linked = await segmentRun(path.join(dir, 'a.png'), '-o', other);
    expect(linked.stderr).toBe(`crema: ${path.join(other, 'a.png')}: is the same file as ${path.join(dir, 'a.png')}, an input of this command: writing it would replace it; give another output`);
    expect(fs.readFileSync(path.join(dir, 'a.png'))).toEqual(fs.readFileSync(small));
  });
});
