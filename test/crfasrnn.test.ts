// CRF-RNN's MultiStageMeanfield (torrvision/caffe: mean-field inference of a dense CRF, its Gaussian filters on a
// permutohedral lattice) against the fork's own Caffe (test/fixtures/crfasrnn, made by make-fixtures.sh with the fork
// ../fork-chroot.sh crfasrnn builds); the lattice's filter against what a normalized Gaussian filter must give; and
// the one-line refusals (the layer's checks, ONNX export).
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import type { NetParameter } from '../src/caffe/types.js';
import { kernelsInUse, setThreads, useKernels, wasmEngine } from '../src/kernels/wasm.js';
import { PermutohedralLattice } from '../src/layers/crf/permutohedral.js';
import { convertGraph } from '../src/onnx/convert.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { expectForkBlobs, forkHead } from './helpers/fork-head.js';
import { relativeError } from './helpers/reference.js';

const TOLERANCE = 1e-5;
const head = forkHead('crfasrnn'), { fork, input, inputs } = head;
const load = () => Net.load(head.net, path.join(head.dir, 'weights.caffemodel'), { threads: 1 });

describe('MultiStageMeanfield vs the fork (test/fixtures/crfasrnn/head: batch 2, 11 x 15 pixels, 4 classes x 5 iterations, 2 x 2)', () => {
  afterAll(() => useKernels('wasm'));
  for (const kernels of ['wasm', 'js'] as const) {
    it(`every stored blob matches the fork natively (${kernels === 'wasm' ? 'the wasm lattice' : 'the TypeScript loops'})`, async () => {
      useKernels(kernels);
      expect(kernelsInUse(), 'dist/kernels.wasm is missing: run npm run build').toBe(kernels);
      const net = await load();
      net.forward(inputs());
      expectForkBlobs(net, head, TOLERANCE);
    });
  }

  it("net.params holds the fork's blobs in its shapes, (1, 1, C, C), not crema's C x C product (a 4-D blob keeps its layer's shape)", async () => {
    const net = await load();
    expect([...net.params].map(([name, ts]) => [name, ts.map((t) => [...t.dims])])).toEqual([
      ['crf4', [[1, 1, 4, 4], [1, 1, 4, 4], [1, 1, 4, 4]]], ['crf2', [[1, 1, 2, 2], [1, 1, 2, 2], [1, 1, 2, 2]]]]);
    await net.dispose();
  });

  it("a forward frees the engine's memory it takes (each image's lattice, the steps' planes): none kept per forward", async () => {
    useKernels('wasm');
    const net = await load(), feeds = inputs();
    const heap = wasmEngine()!.heap;
    net.forward(feeds);
    const after = heap.used;
    for (let i = 0; i < 3; i++) net.forward(feeds);
    expect(heap.used).toBeLessThanOrEqual(after);
  });

  it('the fixture exercises what it should: the CRF moves the unaries and changes some labels', () => {
    for (const [blob, unary] of [['crf4', 'unary4'], ['crf2', 'unary2']]) {
      const out = fork(blob), u = input(unary), [num, classes, h, w] = u.dims, pixels = h * w;
      expect(relativeError(out, u), blob).toBeGreaterThan(0.1);
      const label = (t: Tensor, n: number, i: number) => {
        let best = 0;
        for (let c = 1; c < classes; c++) if (t.data[(n * classes + c) * pixels + i] > t.data[(n * classes + best) * pixels + i]) best = c;
        return best;
      };
      let changed = 0;
      for (let n = 0; n < num; n++) for (let i = 0; i < pixels; i++) if (label(out, n, i) !== label(u, n, i)) changed++;
      expect(changed, `${blob}: labels changed`).toBeGreaterThan(10);
      expect(changed, `${blob}: labels changed`).toBeLessThan(num * pixels - 10);
    }
  });
});

describe("CRF-RNN's published deploy net (torrvision/crfasrnn TVG_CRFRNN_new_deploy.prototxt: FCN-8s, then 10 mean-field steps)", () => {
  it('loads without weights and gives its shapes; a forward is ~180 GMACs at 500 x 500, too large for the suite', async () => {
    const net = await Net.load(path.join(head.dir, '..', 'TVG_CRFRNN_new_deploy.prototxt'));
    expect(net.shapes.get('pred')).toEqual([1, 21, 500, 500]);
    expect(net.layers.find((l) => l.name === 'inference1')?.type).toBe('MultiStageMeanfield');
  });
});

describe('the permutohedral lattice', () => {
  const grid = (h: number, w: number, theta: number) => {
    const f = new Float32Array(h * w * 2);
    for (let i = 0; i < h * w; i++) [f[2 * i], f[2 * i + 1]] = [(i % w) / theta, Math.floor(i / w) / theta];
    return f;
  };

  it('normalized, its filter keeps a constant plane constant and spreads a point symmetrically, falling with distance', () => {
    const h = 21, w = 21, n = h * w, lattice = new PermutohedralLattice(grid(h, w, 3), 2, n);
    const ones = new Float32Array(n).fill(1), norm = new Float32Array(n), out = new Float32Array(n);
    lattice.compute(norm, 0, ones, 0, 1);
    lattice.compute(out, 0, Float32Array.from(ones, () => 2.5), 0, 1);
    for (let i = 0; i < n; i++) expect(out[i] / norm[i]).toBeCloseTo(2.5, 5);
    const delta = new Float32Array(n);
    delta[10 * w + 10] = 1;
    lattice.compute(out, 0, delta, 0, 1);
    const at = (y: number, x: number) => out[y * w + x];
    expect(at(10, 10)).toBeGreaterThan(at(10, 12));
    expect(at(10, 12)).toBeGreaterThan(at(10, 16));
    expect(at(10, 20)).toBeLessThan(at(10, 10) * 0.05);
    // Symmetric within the lattice's approximation (its simplices are not aligned with the grid).
    expect(Math.abs(at(10, 12) - at(10, 8)) / at(10, 12)).toBeLessThan(0.35);
    expect(Math.abs(at(12, 10) - at(8, 10)) / at(12, 10)).toBeLessThan(0.35);
  });
});

describe("the lattice on the wasm engine (assembly/lattice.ts: its set-up and its filter) gives the TypeScript loops' bits", () => {
  afterAll(async () => {
    useKernels('wasm');
    await setThreads(1);
  });

  for (const threads of [1, 2]) {
    it(`5-D (positions and colours) and 2-D lattices, 1 to 21 values a point, with and without a factor, ${threads} thread(s)`, async () => {
      await setThreads(threads, 2); // 2 threads even on a one-core machine: the pool's paths must run
      const e = wasmEngine()!;
      expect(e, 'dist/kernels.wasm is missing: run npm run build').toBeTruthy();
      let seed = 11;
      const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
      const h = 23, w = 31, n = h * w;
      const features = (d: number) => Float32Array.from({ length: n * d }, (_, i) => {
        const k = i % d, p = (i - k) / d;
        return k === 0 ? (p % w) / 4 : k === 1 ? Math.floor(p / w) / 4 : ((p % w) >> 3) * 9 + random() * 7;
      });
      for (const d of [2, 5]) {
        // Built by the loops and on the engine: the same vertices, weights and neighbours.
        const f = features(d);
        useKernels('js');
        const reference = new PermutohedralLattice(f, d, n);
        useKernels('wasm');
        const lattice = new PermutohedralLattice(f, d, n);
        expect(lattice.vertices, `d ${d}: vertices`).toBe(reference.vertices);
        for (const table of ['offsets', 'weights', 'before', 'after'] as const) {
          const [a, b] = [lattice[table], reference[table]];
          expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `d ${d}: ${table}`).toBe(true);
        }
        for (const values of [1, 2, 3, 6, 21]) {
          const x = Float32Array.from({ length: n * values }, random), weights = Float32Array.from({ length: n }, random);
          // A resident input (read in place) and a plain one (copied in), as the layer's planes and a caller's.
          const resident = e.residentArray(x.length)!;
          resident.set(x);
          for (const [input, factor] of [[resident, weights], [x, undefined]] as const) {
            const want = new Float32Array(x.length), got = new Float32Array(x.length);
            useKernels('js');
            reference.compute(want, 0, input, 0, values, factor);
            useKernels('wasm');
            lattice.compute(got, 0, input, 0, values, factor);
            expect(got.some((v) => v !== 0), `d ${d}, ${values} values`).toBe(true);
            expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), `d ${d}, ${values} values${factor ? ', factor' : ''}`).toBe(true);
          }
        }
      }
    });
  }
});

describe("the lattice with more vertices than the engine's set-up has room for", () => {
  it('features scattered far apart (a simplex of new vertices a point): the loops take over, the same tables', () => {
    let seed = 5;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const n = 1101, d = 5, f = Float32Array.from({ length: n * d }, () => random() * 1000);
    useKernels('js');
    const reference = new PermutohedralLattice(f, d, n);
    useKernels('wasm');
    const lattice = new PermutohedralLattice(f, d, n);
    // The engine's room (src/kernels/lattice.ts): a table of 8192 slots for 1104 padded points, at most half full.
    expect(reference.vertices).toBeGreaterThan(4096);
    expect(lattice.vertices).toBe(reference.vertices);
    for (const table of ['offsets', 'weights', 'before', 'after'] as const) expect([...lattice[table]], table).toEqual([...reference[table]]);
  });
});

describe('MultiStageMeanfield refuses, in one line', () => {
  const net = (p: string, image = 'dim: 1 dim: 3 dim: 4 dim: 5') => Net.fromNetParameter(parsePrototxt(`
    layer { name: "in" type: "Input" top: "u" top: "q" top: "img" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 5 } shape { dim: 1 dim: 2 dim: 4 dim: 5 } shape { ${image} } } }
    layer { name: "crf" type: "MultiStageMeanfield" bottom: "u" bottom: "q" bottom: "img" top: "crf" multi_stage_meanfield_param { ${p} } }`, 'crf.prototxt') as NetParameter,
  new Map([['crf', [0, 1, 2].map(() => new Tensor([1, 1, 2, 2], new Float32Array(4)))]]), []);

  it("the fork's checks, an image that does not cover the unaries, and ONNX export", () => {
    expect(() => net('num_iterations: 2')).not.toThrow();
    expect(() => net('num_iterations: 1')).toThrow("layer 'crf' (MultiStageMeanfield): num_iterations must be greater than 1 (the fork's check), got 1");
    expect(() => net('num_iterations: 3 theta_beta: 0')).toThrow("layer 'crf' (MultiStageMeanfield): theta_beta must be positive, got 0");
    expect(() => net('num_iterations: 3', 'dim: 1 dim: 3 dim: 4 dim: 6')).toThrow("layer 'crf' (MultiStageMeanfield): its image (bottom 2) [1, 3, 4, 6] must hold 3 colour channels over the unaries' 4 x 5 pixels for each of the 1 images");
    expect(() => convertGraph(net('num_iterations: 2').graph)).toThrow("layer 'crf' (MultiStageMeanfield): MultiStageMeanfield (CRF-RNN) has no ONNX operator (its Gaussian filters run on a permutohedral lattice built from the image at run time); crema runs it natively only");
  });
});
