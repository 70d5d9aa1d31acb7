// Running layers on their own, without a Net: a layer definition, one layer's create -> reshape -> forward
// (in place as the runtime drives it), a reference case layer by layer; and what the compute tests share
// besides (a seeded random source, the maximum-difference measure, one test per sweep case).
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { readNetPrototxt, readWeightsFile } from '../../src/caffe/load.js';
import { parsePrototxt } from '../../src/caffe/prototxt.js';
import type { LayerParameter } from '../../src/caffe/types.js';
import type { Layer } from '../../src/layers/layer.js';
import { layerType } from '../../src/layers/registry.js';
import { Net } from '../../src/runtime/net.js';
import { Tensor, sameShape } from '../../src/tensor.js';
import { readNpy } from '../../src/util/npy.js';
import { TOLERANCE, referenceBlob, referenceCases, relativeDifference, relativeError, weightsOf } from './reference.js';

/** The bits of each value, every NaN as one (wasm leaves a NaN's payload and sign to the engine). */
export function bits(a: ArrayLike<number>): number[] {
  const f = Float32Array.from(a, (v) => (Number.isNaN(v) ? NaN : v));
  return [...new Uint32Array(f.buffer)];
}

/** got has want's bits (NaN as one); a failure names the first five places that differ, -0 shown as such. */
export function expectBits(got: ArrayLike<number>, want: ArrayLike<number>, label: string): void {
  expect(got.length, label).toBe(want.length);
  const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
  const g = bits(got), w = bits(want), out: string[] = [];
  for (let i = 0; i < g.length && out.length < 5; i++) if (g[i] !== w[i]) out.push(`[${i}] ${show(got[i])} not ${show(want[i])}`);
  expect(out.join(', '), label).toBe('');
}

/**
 * A real-Caffe fixture directory (net.prototxt, weights.caffemodel, input.npy, manifest.json's blobs, blobs/*.npy):
 * the net's every named blob has Caffe's bits. Returns Caffe's blobs, for what a test counts in them.
 */
export async function expectFixtureBits(dir: string): Promise<Float32Array[]> {
  const net = await Net.load(path.join(dir, 'net.prototxt'), path.join(dir, 'weights.caffemodel'));
  net.forward({ data: readNpy(path.join(dir, 'input.npy')) });
  const { blobs } = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { blobs: string[] };
  return blobs.map((b) => {
    const want = readNpy(path.join(dir, 'blobs', `${b}.npy`)).data;
    expectBits(net.blobs.get(b)!.data, want, b);
    return want;
  });
}

/** mulberry32: a small seeded generator, so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values uniform in [-1, 1). */
export function randomArray(n: number, random: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = random() * 2 - 1;
  return a;
}

export function randomInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/** max |a - b| / max(1, max |b|), as the project measures agreement; a and b must be of one length. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  return relativeDifference(a, b);
}

/**
 * A layer definition as the readers produce it: named after its type, bottom 'x' and top 'y' (x0, x1, ... and
 * y0, y1, ... when there are several); `fields` override any of it (e.g. `top: ['x']` for in place).
 */
export function layerDef(type: string, fields: Record<string, unknown> = {}, bottoms = 1, tops = bottoms): LayerParameter {
  const names = (base: string, n: number) => (n === 1 ? [base] : Array.from({ length: n }, (_, i) => `${base}${i}`));
  return { name: type.toLowerCase(), type, bottom: names('x', bottoms), top: names('y', tops), ...fields };
}

/** One layer from a line of prototxt (`layer { ... }`), created with the given weights. */
export function layerOf(text: string, weights: Tensor[] = []): Layer {
  const def = (parsePrototxt(text, 'test.prototxt', {}) as { layer: LayerParameter[] }).layer[0];
  return layerType(def.type, def.name).create(def, weights);
}

/**
 * Creates the layer of `def` (then `setup`, e.g. to fuse a ReLU), reshapes it to the bottoms and runs it; returns
 * the tops. As in the runtime, a top that `def` names as one of its bottoms IS that bottom's Tensor when the
 * layer works in place (given the top shape the layer declared: MVN pads to 4-D); other tops are fresh.
 */
export function runLayer(def: LayerParameter, weights: Tensor[], bottoms: Tensor[], setup?: (layer: Layer) => void): Tensor[] {
  const layer = layerType(def.type, def.name).create(def, weights);
  setup?.(layer);
  const shapes = layer.reshape(bottoms.map((b) => b.dims));
  const tops = shapes.map((s, i) => {
    const b = layer.inPlace ? (def.bottom ?? []).indexOf(def.top?.[i] ?? '') : -1;
    if (b < 0) return Tensor.zeros(s);
    return sameShape(bottoms[b].dims, s) ? bottoms[b] : new Tensor(s, bottoms[b].data);
  });
  layer.forward(bottoms, tops);
  return tops;
}

/** A copy of a tensor (so an in-place run does not change the original). */
export function copyOf(t: Tensor): Tensor {
  return new Tensor([...t.dims], Float32Array.from(t.data));
}

/** One test per reference case of ../shared/reference/sweep whose name starts with `prefix`: the final blob vs Caffe's. */
export function sweepCases(prefix: RegExp): void {
  const cases = referenceCases('sweep').filter((c) => prefix.test(c.name));
  it('finds its sweep cases', () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) {
    it(`${c.name} matches Caffe within ${TOLERANCE} (relative)`, async () => {
      const net = await Net.load(c.prototxt, weightsOf(c));
      net.forward({ [c.inputName]: readNpy(c.input) });
      for (const b of c.blobs) {
        const ref = referenceBlob(c, b);
        expect([...net.blobs.get(b)!.dims], `shape of ${b}`).toEqual([...ref.dims]);
        expect(relativeError(net.blobs.get(b)!, ref), `blob ${b}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }
}

/** What one case gave: every stored blob's shape (ours vs Caffe's) and relative error. */
export interface BlobResult {
  blob: string;
  ours: number[];
  caffe: number[];
  error: number;
  /** True when crema computed this blob (a layer of `types` wrote it last); false when it is Caffe's, copied. */
  computed: boolean;
}

/**
 * Runs a reference case (sweep layout) layer by layer, in net order, with ONLY the layer types in `types`
 * computed by crema: every other layer's tops are taken from Caffe's stored blobs. So a case with, say,
 * Convolutions tests our Eltwise and Concat on Caffe's own inputs, independently of our Convolution.
 * Each of our layers goes through `runLayer` (in place when its top is its bottom, as the runtime drives it).
 * Returns each stored blob compared with Caffe's (final values: in-place layers included).
 */
export async function runLayerByLayer(dir: string, types: ReadonlySet<string>): Promise<BlobResult[]> {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { input: string; blobs: string[] };
  const caffe = (b: string) => readNpy(path.join(dir, 'blobs', `${b.replaceAll('/', '__')}.npy`));
  const net = readNetPrototxt(path.join(dir, 'net.prototxt'));
  const weightsFile = path.join(dir, 'weights.caffemodel');
  const weights = fs.existsSync(weightsFile) ? await readWeightsFile(weightsFile) : new Map<string, Tensor[]>();
  const blobs = new Map<string, Tensor>();
  const computed = new Set<string>();
  const run = (def: LayerParameter) => {
    const tops = runLayer(def, weights.get(def.name) ?? [], (def.bottom ?? []).map((b) => blobs.get(b)!));
    tops.forEach((t, i) => blobs.set(def.top![i], t));
  };
  for (const def of net.layer ?? []) {
    if (def.type === 'Input') {
      run(def);
      blobs.set(manifest.input, readNpy(path.join(dir, 'input.npy')));
    } else if (types.has(def.type)) {
      run(def);
      for (const t of def.top ?? []) computed.add(t);
    } else
      for (const t of def.top ?? []) {
        blobs.set(t, caffe(t));
        computed.delete(t);
      }
  }
  return manifest.blobs.map((b) => {
    const ours = blobs.get(b)!, ref = caffe(b);
    return { blob: b, ours: [...ours.dims], caffe: [...ref.dims], error: relativeError(ours, ref), computed: computed.has(b) };
  });
}
