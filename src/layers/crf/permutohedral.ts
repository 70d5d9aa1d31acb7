// The permutohedral lattice of CRF-RNN's Caffe (torrvision/caffe src/caffe/util/modified_permutohedral.cpp, after
// Adams, Baek and Davis 2010, "Fast High-Dimensional Filtering Using the Permutohedral Lattice"): a Gaussian filter
// over d-dimensional features in time linear in the points. Points are splatted onto the vertices of the simplices
// they lie in, blurred along each of the d + 1 lattice axes with [1/2, 1, 1/2], and sliced back. Hand-written: no
// library computes the fork's lattice, and its numbers depend on its float arithmetic (kept here, Math.fround where
// the fork rounds) and on which vertices exist. The fork's x86 build takes its SSE paths: `init` runs points four at
// a time, zero features filling the last block (their vertices are made too, and carry blurred values), and
// `compute` slices with the weight and alpha multiplied first for more than 2 values a point. The set-up and `compute`
// run on the wasm engine when there is one (src/kernels/lattice.ts; the filter four values at a time, as the fork's
// SSE, ~5x these loops); the loops here are the fallback and the reference (the same bits: test/crfasrnn.test.ts).

import { type LatticeTables, latticeBuildWasm, latticeFilterWasm, releaseTables, tableArray } from '../../kernels/lattice.js';

const f32 = Math.fround;

/** Open addressing on keys of `d` small integers (the fork's HashTableCopy: vertex ids in insertion order). */
class VertexTable {
  keys: Int16Array;
  private slots: Int32Array;
  size = 0;

  /** `expected` vertices; the slots are a power of two (masked, not divided: see `hash`). */
  constructor(private readonly d: number, expected: number) {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(16, 2 * expected)));
    this.slots = new Int32Array(capacity).fill(-1);
    this.keys = new Int16Array((capacity / 2 + 10) * d);
  }

  /** The slot to probe first: a small integer (an unsigned hash taken modulo would be a float division). */
  private hash(key: Int16Array, at: number): number {
    let h = 0;
    for (let i = 0; i < this.d; i++) h = Math.imul(h + key[at + i], 1664525);
    return (h ^ (h >>> 16)) & (this.slots.length - 1);
  }

  /** The vertex id of key[at, at + d), made when `create` and absent, else -1 when absent. */
  find(key: Int16Array, at: number, create: boolean): number {
    if (2 * this.size >= this.slots.length) this.grow();
    const d = this.d, capacity = this.slots.length;
    for (let h = this.hash(key, at); ; h = h + 1 === capacity ? 0 : h + 1) {
      const e = this.slots[h];
      if (e === -1) {
        if (!create) return -1;
        if ((this.size + 1) * d > this.keys.length) {
          const keys = new Int16Array(this.keys.length * 2);
          keys.set(this.keys);
          this.keys = keys;
        }
        for (let i = 0; i < d; i++) this.keys[this.size * d + i] = key[at + i];
        this.slots[h] = this.size;
        return this.size++;
      }
      let same = true;
      for (let i = 0; i < d && same; i++) same = this.keys[e * d + i] === key[at + i];
      if (same) return e;
    }
  }

  private grow(): void {
    const capacity = this.slots.length * 2, d = this.d;
    this.slots = new Int32Array(capacity).fill(-1);
    for (let e = 0; e < this.size; e++) {
      let h = this.hash(this.keys, e * d);
      while (this.slots[h] >= 0) h = h + 1 === capacity ? 0 : h + 1;
      this.slots[h] = e;
    }
  }
}

/** C's round to nearest, ties to even (_mm_cvtps_epi32 in the default rounding mode). */
function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export class PermutohedralLattice implements LatticeTables {
  /** Per point, its d + 1 vertices (ids) and barycentric weights. */
  readonly offsets: Int32Array;
  readonly weights: Float32Array;
  /** Vertices, and each one's two neighbours along each axis (-1: none), [axis * vertices + vertex]. */
  readonly vertices: number;
  readonly before: Int32Array;
  readonly after: Int32Array;
  /** The tables' memory (in the wasm engine's when there is one: src/kernels/lattice.ts), kept alive with them. */
  private readonly held: Float32Array[] = [];

  private floats(length: number): Float32Array {
    const a = tableArray(length);
    this.held.push(a);
    return a;
  }

  private ints(length: number): Int32Array {
    const a = this.floats(length);
    return new Int32Array(a.buffer, a.byteOffset, length);
  }

  /** compute's working arrays, kept between calls (CRF-RNN filters every step of every image on the same lattice). */
  private readonly buffers: Float32Array[] = [];

  private buffer(i: number, length: number): Float32Array {
    if (!this.buffers[i] || this.buffers[i].length !== length) this.buffers[i] = new Float32Array(length);
    return this.buffers[i];
  }

  /** `features`: `points` x `d`, point-major (the fork's kernel buffers). */
  constructor(features: Float32Array, readonly d: number, readonly points: number) {
    const d1 = d + 1;
    // Sized for a few vertices and grown: a table sized by the points (far more than vertices) misses the cache.
    const table = new VertexTable(d, 1024);
    this.offsets = this.ints(d1 * points);
    this.weights = this.floats(d1 * points);
    // The diagonal of E (p. 5 of Adams et al.), in double then float as the fork's _mm_set1_ps of a double.
    const invStdDev = f32(Math.sqrt(2 / 3) * d1);
    const scale = Float32Array.from({ length: d }, (_, i) => (1 / Math.sqrt((i + 2) * (i + 1))) * invStdDev);
    const canonical = new Int32Array(d1 * d1);
    for (let i = 0; i <= d; i++)
      for (let j = 0; j <= d; j++) canonical[i * d1 + j] = j <= d - i ? i : i - d1;
    // On the wasm engine when there is one (the same tables: test/crfasrnn.test.ts), else the loops below.
    const built = latticeBuildWasm(features, d, points, scale, canonical, (n) => this.floats(n));
    if (built) {
      ({ vertices: this.vertices, offsets: this.offsets, weights: this.weights, before: this.before, after: this.after } = built);
      return;
    }
    const down = f32(1 / d1);
    const elevated = new Float32Array(d1), rem0 = new Int32Array(d1), rank = new Int32Array(d1);
    const offsets = this.offsets, weights = this.weights;
    const bary = new Float32Array(d + 2), key = new Int16Array(d);
    // The fork's last SSE block of 4 fills its missing points with zero features, whose vertices it makes too.
    const padded = points % 4 ? points + 1 : points;
    for (let k = 0; k < padded; k++) {
      // Elevate (y = E p).
      let sm = 0;
      for (let j = d; j > 0; j--) {
        const cf = k < points ? f32(features[k * d + j - 1] * scale[j - 1]) : 0;
        elevated[j] = sm - f32(j * cf);
        sm = f32(sm + cf);
      }
      elevated[0] = sm;
      // The nearest 0-coloured lattice point, by rounding.
      let sum = 0;
      for (let i = 0; i <= d; i++) {
        const v = roundEven(f32(down * elevated[i]));
        rem0[i] = v * d1;
        sum = f32(sum + v);
      }
      // The simplex the point lies in: each coordinate's rank by its remainder.
      rank.fill(0);
      for (let i = 0; i < d; i++) {
        const di = f32(elevated[i] - rem0[i]);
        for (let j = i + 1; j <= d; j++) {
          if (di < f32(elevated[j] - rem0[j])) rank[i]++;
          else rank[j]++;
        }
      }
      // Back onto the plane when the rounding left it (sum != 0).
      for (let i = 0; i <= d; i++) {
        rank[i] += sum;
        const shift = (rank[i] < 0 ? d1 : 0) - (rank[i] >= d1 ? d1 : 0);
        rank[i] += shift;
        rem0[i] += shift;
      }
      // Barycentric coordinates (p. 10).
      bary.fill(0);
      for (let i = 0; i <= d; i++) {
        const v = f32(f32(elevated[i] - rem0[i]) * down), p = d - rank[i];
        bary[p] += v;
        bary[p + 1] -= v;
      }
      bary[0] += f32(1 + bary[d + 1]);
      for (let r = 0; r <= d; r++) {
        for (let i = 0; i < d; i++) key[i] = rem0[i] + canonical[r * d1 + rank[i]];
        const id = table.find(key, 0, true);
        if (k < points) {
          offsets[k * d1 + r] = id;
          weights[k * d1 + r] = bary[r];
        }
      }
    }
    // Each vertex's neighbours along axis j: the key minus 1 everywhere but +d at j, and its opposite (for j = d,
    // the coordinate the key leaves out, all of its d coordinates move).
    const m = (this.vertices = table.size);
    this.before = this.ints(d1 * m);
    this.after = this.ints(d1 * m);
    const n1 = new Int16Array(d), n2 = new Int16Array(d);
    for (let j = 0; j <= d; j++) {
      for (let i = 0; i < m; i++) {
        for (let k = 0; k < d; k++) {
          const v = table.keys[i * d + k];
          n1[k] = k === j ? v + d : v - 1;
          n2[k] = k === j ? v - d : v + 1;
        }
        this.before[j * m + i] = table.find(n1, 0, false);
        this.after[j * m + i] = table.find(n2, 0, false);
      }
    }
  }

  /** Frees the tables' memory now (a lattice built for one image); the lattice must not be used after. */
  dispose(): void {
    releaseTables(this.held);
    this.held.length = 0;
  }

  /**
   * Filters `values` planes of `points` (plane k at input[inAt + k * points]) into out (the same layout): splat,
   * blur along axes 0 to d, slice, times the fork's alpha, then each point times `factor` when given (CRF-RNN's
   * normalization). On the wasm engine when there is one (the same bits), else in the loops below.
   */
  compute(out: Float32Array, outAt: number, input: Float32Array, inAt: number, values: number, factor?: Float32Array): void {
    const d1 = this.d + 1, n = this.points, m = this.vertices;
    // The fork's sseCompute (more than 2 values) multiplies weight and alpha first; its seqCompute, the value first.
    const alpha = f32(1 / f32(1 + 2 ** -this.d)), weightFirst = values > 2;
    const outPlanes = out.subarray(outAt, outAt + values * n), inPlanes = input.subarray(inAt, inAt + values * n);
    if (latticeFilterWasm(this, outPlanes, inPlanes, values, factor, alpha, weightFirst)) return;
    // Point-major copies of the planes, so that a point's values are contiguous in the splat and the slice.
    const point = this.buffer(0, n * values);
    for (let k = 0; k < values; k++) for (let i = 0, at = inAt + k * n; i < n; i++) point[i * values + k] = input[at + i];
    // Vertex v's values at (v + 1) * values: slot 0 stands for the missing neighbour (-1) and stays 0.
    const a = this.buffer(1, (m + 2) * values).fill(0), b = this.buffer(2, (m + 2) * values).fill(0);
    splat(point, a, this.offsets, this.weights, n, d1, values);
    for (let j = 0; j < d1; j++) blur(j % 2 ? b : a, j % 2 ? a : b, this.before, this.after, j * m, m, values);
    slice(d1 % 2 ? b : a, point, this.offsets, this.weights, n, d1, values, alpha, weightFirst);
    for (let k = 0; k < values; k++) for (let i = 0, at = k * n; i < n; i++) outPlanes[at + i] = factor ? f32(point[i * values + k] * factor[i]) : point[i * values + k];
  }
}

// The loops over a point's values are unrolled by 4: V8 does not vectorize, and the unrolled loop runs ~1.8x faster
// (21 values: CRF-RNN's VOC classes). Each element's arithmetic is unchanged.

/** Each point's values, times its barycentric weights, added to its simplex's vertices. */
function splat(point: Float32Array, lattice: Float32Array, offsets: Int32Array, weights: Float32Array, n: number, d1: number, values: number): void {
  const four = values & ~3;
  for (let i = 0; i < n; i++) {
    const p = i * values;
    for (let j = 0; j < d1; j++) {
      const o = (offsets[i * d1 + j] + 1) * values, w = weights[i * d1 + j];
      let k = 0;
      for (; k < four; k += 4) {
        lattice[o + k] += f32(w * point[p + k]);
        lattice[o + k + 1] += f32(w * point[p + k + 1]);
        lattice[o + k + 2] += f32(w * point[p + k + 2]);
        lattice[o + k + 3] += f32(w * point[p + k + 3]);
      }
      for (; k < values; k++) lattice[o + k] += f32(w * point[p + k]);
    }
  }
}

/** One axis of the blur: each vertex plus half its two neighbours' sum. */
function blur(from: Float32Array, to: Float32Array, before: Int32Array, after: Int32Array, at: number, m: number, values: number): void {
  for (let i = 0; i < m; i++) {
    const o = (i + 1) * values, x = (before[at + i] + 1) * values, y = (after[at + i] + 1) * values;
    for (let k = 0; k < values; k++) to[o + k] = from[o + k] + f32(from[x + k] + from[y + k]) * 0.5;
  }
}

/** Each point's values back from its vertices, by its barycentric weights and alpha (in the fork's two orders). */
function slice(lattice: Float32Array, point: Float32Array, offsets: Int32Array, weights: Float32Array, n: number, d1: number, values: number, alpha: number, weightFirst: boolean): void {
  point.fill(0);
  const four = values & ~3;
  for (let i = 0; i < n; i++) {
    const p = i * values;
    for (let j = 0; j < d1; j++) {
      const o = (offsets[i * d1 + j] + 1) * values, w = weights[i * d1 + j], wa = f32(w * alpha);
      if (!weightFirst) {
        for (let k = 0; k < values; k++) point[p + k] += f32(f32(w * lattice[o + k]) * alpha);
        continue;
      }
      let k = 0;
      for (; k < four; k += 4) {
        point[p + k] += f32(wa * lattice[o + k]);
        point[p + k + 1] += f32(wa * lattice[o + k + 1]);
        point[p + k + 2] += f32(wa * lattice[o + k + 2]);
        point[p + k + 3] += f32(wa * lattice[o + k + 3]);
      }
      for (; k < values; k++) point[p + k] += f32(wa * lattice[o + k]);
    }
  }
}
