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
