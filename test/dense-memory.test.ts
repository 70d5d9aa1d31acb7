// crema segment / edges run a net at each image's own size (as FCN's and HED's demos do): an image at whose size
// the blobs cannot fit in the wasm kernels' memory is refused before its forward, named, with what it needs and
// what fits; the other images still run. (HED on a phone's 3000 x 2000 photo ran 46 s of layers, then the heap
// said it could not fit 1558 MiB more, naming no image.) Its own file: a fresh wasm memory, whose limit is lowered.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { encodeCaffemodel } from '../src/caffe/caffemodel.js';
import { rgbPng } from '../src/image/png.js';
import { wasmEngine } from '../src/kernels/wasm.js';
import { cli } from './helpers/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-dense-memory-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const small = path.join(import.meta.dirname, 'fixtures/dense/images/a.png'); // 100 x 80

describe("an image too large for the wasm kernels' memory", () => {
  it('segment: refused before its forward, named with its size, what it needs and what fits; the others run', async () => {
    const engine = wasmEngine();
    if (!engine) throw new Error('this test needs the wasm kernels (CREMA_KERNELS=js is set)');
    // 3 + 512 + 3 channels: 400 x 400 needs 518 x 160000 x 4 bytes = 317 MiB, 100 x 80 about 16 MiB.
    const proto = path.join(tmp, 'wide.prototxt'), weights = path.join(tmp, 'wide.caffemodel'), big = path.join(tmp, 'big.png');
    fs.writeFileSync(proto, `name: "wide" input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8
      layer { name: "wide" type: "Convolution" bottom: "data" top: "wide" convolution_param { num_output: 512 kernel_size: 1 } }
      layer { name: "score" type: "Convolution" bottom: "wide" top: "score" convolution_param { num_output: 3 kernel_size: 1 } }`);
    const conv = (name: string, out: number, inp: number) => ({ name, type: 'Convolution', blobs: [
      { shape: { dim: [out, inp, 1, 1] }, data: Float32Array.from({ length: out * inp }, (_, i) => Math.sin(i) / 16) },
      { shape: { dim: [out] }, data: new Float32Array(out) },
    ] });
    fs.writeFileSync(weights, encodeCaffemodel({ name: 'wide', layer: [conv('wide', 512, 3), conv('score', 3, 512)] }));
    fs.writeFileSync(big, await rgbPng(400, 400, new Uint8Array(400 * 400 * 3).fill(90)));
    const limit = engine.heap.limit;
    engine.heap.limit = engine.memory.buffer.byteLength + 48 * 2 ** 20; // room for the small image's blobs, not the big one's
    try {
      const out = path.join(tmp, 'out');
      // The loop's lines go to process.stdout and process.stderr (its progress), not through console.
      const written = { stdout: '', stderr: '' };
      for (const name of ['stdout', 'stderr'] as const)
        vi.spyOn(process[name], 'write').mockImplementation((chunk: string | Uint8Array) => ((written[name] += String(chunk)), true));
      const run = await cli('segment', proto, weights, big, small, '-o', out, '--threads', '1');
      vi.restoreAllMocks();
      expect(run.code).toBe(1);
      const skipped = written.stderr.split('\n').filter((l) => l.startsWith('crema: skipped'));
      expect(skipped).toHaveLength(1);
      expect(skipped[0]).toMatch(new RegExp(`^crema: skipped ${big}: 400 x 400: the net's blobs at this size need 317 MiB, the wasm kernels' memory has room for (\\d+) MiB: use a smaller image \\(at most about (\\d+) x \\2\\); CREMA_KERNELS=js should run it in JavaScript \\(317 MiB of this machine's [\\d.]+ GiB\\)$`));
      const [, room, side] = /room for (\d+) MiB.*about (\d+) x/.exec(skipped[0])!;
      expect(Number(room)).toBeLessThan(317);
      expect(Math.abs(Number(side) - 400 * Math.sqrt(Number(room) / 317))).toBeLessThan(2); // blobs grow with the pixels
      expect(written.stdout).toContain(`Classes in ${small} (100 x 80)`);
      expect(fs.readdirSync(out)).toEqual(['a.png']);
    } finally {
      engine.heap.limit = limit;
    }
  });
});
