// CRF-RNN's permutohedral lattice filter on the wasm engine (assembly/lattice.ts): the splat, the d + 1 blur passes
// and the slice as parallel jobs over the lattice's tables where they were built, in the engine's memory. The
// TypeScript loops of src/layers/crf/permutohedral.ts stay the fallback and the tests' reference (the same bits).

import { KIND_LATTICE, wasmEngine, wasmEngineIfLoaded } from './wasm.js';

/** A lattice's tables as the kernel reads them (see PermutohedralLattice). */
export interface LatticeTables {
  readonly points: number;
  readonly d: number;
  readonly vertices: number;
  readonly offsets: Int32Array;
  readonly weights: Float32Array;
  readonly before: Int32Array;
  readonly after: Int32Array;
}

const align = (bytes: number) => Math.ceil(bytes / 64) * 64;

/**
 * `length` floats for a lattice's table: in the engine's memory when there is one (the kernel then reads it in
 * place), else plain. The memory is freed when the returned array is garbage collected, so the caller keeps it
 * alive while it uses an Int32Array view of it.
 */
export function tableArray(length: number): Float32Array {
  return wasmEngine()?.residentArray(length) ?? new Float32Array(length);
}

/** Frees tableArray's arrays now, when they are in the engine's memory (see WasmEngine.releaseArray). */
export function releaseTables(arrays: readonly Float32Array[]): void {
  const e = wasmEngineIfLoaded();
  if (e) for (const a of arrays) e.releaseArray(a);
}

/**
 * `values` planes of `points` floats in `input` filtered into `out` (same layout), each point times `factor` when
 * given: splat, blur along the d + 1 axes, slice (the weight and alpha multiplied first when `weightFirst`). False,
 * with nothing done, without an engine or when the tables are not in its memory.
 */
export function latticeFilterWasm(t: LatticeTables, out: Float32Array, input: Float32Array, values: number,
  factor: Float32Array | undefined, alpha: number, weightFirst: boolean): boolean {
  const e = wasmEngine(), n = t.points, m = t.vertices, d1 = t.d + 1;
  if (!e || !e.addressOf(t.weights as Float32Array)) return false;
  const tableAt = (a: Int32Array | Float32Array) => e.addressOf(a as Float32Array);
  // Vertex v at (v + 1) * values: slot 0, the missing neighbour, stays zero in both (the blur writes slots 1 to m).
  const a = e.sharedArray('lattice-a', (m + 1) * values), b = e.sharedArray('lattice-b', (m + 1) * values);
  if (!a || !b) return false;
  // Planes not in the engine's memory (a caller's) go through the scratch: input and factor copied in, out back.
  const staged = (x: Float32Array | undefined) => (x && !e.addressOf(x) ? align(x.length * 4) : 0);
  const base = e.scratch(staged(input) + staged(factor) + staged(out));
  const inAt = e.placed(input, base), factorAt = factor ? e.placed(factor, base + staged(input)) : 0;
  const outAt = e.addressOf(out) || base + staged(input) + staged(factor);
  a.fill(0);
  b.fill(0, 0, values);
  let p = e.job(KIND_LATTICE);
  p[3] = 0; p[4] = n; p[5] = d1; p[6] = values; p[7] = m;
  p[8] = inAt; p[9] = tableAt(t.offsets); p[10] = tableAt(t.weights); p[11] = e.addressOf(a);
  e.run(Math.ceil(values / 4));
  const perVertices = Math.ceil(m / e.chunkCount(m, m * values));
  for (let j = 0; j < d1; j++) {
    const [from, to] = j % 2 ? [b, a] : [a, b];
    p = e.job(KIND_LATTICE);
    p[3] = 1; p[4] = n; p[5] = d1; p[6] = values; p[7] = m;
    p[8] = e.addressOf(from); p[9] = e.addressOf(to); p[10] = tableAt(t.before) + j * m * 4; p[11] = tableAt(t.after) + j * m * 4;
    p[12] = perVertices;
    e.run(Math.ceil(m / perVertices));
  }
  const perPoints = Math.ceil(n / e.chunkCount(n, n * values));
  p = e.job(KIND_LATTICE);
  p[3] = 2; p[4] = n; p[5] = d1; p[6] = values; p[7] = m;
  p[8] = e.addressOf(d1 % 2 ? b : a); p[9] = tableAt(t.offsets); p[10] = tableAt(t.weights); p[11] = outAt; p[12] = factorAt;
  e.setFloat(p, 13, alpha);
  p[14] = weightFirst ? 1 : 0; p[15] = perPoints;
  e.run(Math.ceil(n / perPoints));
  e.unstage(out, outAt);
  return true;
}

/** A lattice's tables as its set-up builds them (see PermutohedralLattice). */
export interface LatticeBuild {
  readonly vertices: number;
  readonly offsets: Int32Array;
  readonly weights: Float32Array;
  readonly before: Int32Array;
  readonly after: Int32Array;
}


/**
 * The lattice's set-up on the wasm engine (assembly/lattice.ts, modes 3 and 4: the same tables as the constructor's
 * loops): each point placed on its simplex and its vertices found or made, then each vertex's neighbours, an axis a
 * chunk. `scale` is the diagonal of E, `canonical` the (d + 1)^2 canonical simplex; `floats` gives the tables'
 * memory (tableArray's, which the lattice keeps). Undefined, with nothing done, without an engine or when a table is
 * not in its memory.
 */
export function latticeBuildWasm(features: Float32Array, d: number, points: number, scale: Float32Array, canonical: Int32Array,
  floats: (length: number) => Float32Array): LatticeBuild | undefined {
  const e = wasmEngine(), d1 = d + 1;
  if (!e || d < 1 || d > 15) return undefined;
  const padded = points % 4 ? points + 1 : points;
  // Room for a table of up to 2 x points + 1 vertices at most half full (images make far fewer: 500 x 500 pixels,
  // 13 k in 5-D, 33 k in 2-D); past it the loops take over. Untouched past what is used.
  const capacity = 2 ** Math.ceil(Math.log2(Math.max(4096, 4 * padded + 2))), keys = capacity / 2;
  const weights = floats(d1 * points), offsetsAt = floats(d1 * points);
  if (!e.addressOf(weights) || !e.addressOf(offsetsAt)) return undefined;
  const sizes = [align(points * d * 4), align(d * 4), align(d1 * d1 * 4), capacity * 4, align(keys * d * 2)];
  let base: number;
  try {
    base = e.scratch(sizes.reduce((a, b) => a + b, 0));
  } catch {
    return undefined; // the engine's memory cannot hold it: the loops need less
  }
  const [fAt, sAt, cAt, slotsAt, keysAt] = sizes.map((_, i) => base + sizes.slice(0, i).reduce((a, b) => a + b, 0));
  e.f32.set(features.subarray(0, points * d), fAt / 4);
  e.f32.set(scale, sAt / 4);
  new Int32Array(e.memory.buffer, cAt, d1 * d1).set(canonical);
  const common = (p: Uint32Array<ArrayBufferLike>, mode: number) => {
    p[3] = mode; p[4] = points; p[5] = d1; p[6] = fAt; p[7] = sAt; p[8] = cAt;
    p[9] = e.addressOf(offsetsAt); p[10] = e.addressOf(weights); p[11] = slotsAt; p[12] = capacity; p[13] = keysAt;
  };
  let p = e.job(KIND_LATTICE);
  common(p, 3);
  p[14] = 0; p[15] = Math.min(capacity, 2048); p[18] = 0;
  e.run(1);
  const vertices = p[14], inUse = p[15];
  if (p[18]) return undefined;
  const before = floats(d1 * vertices), after = floats(d1 * vertices);
  if (!e.addressOf(before) || !e.addressOf(after)) return undefined;
  p = e.job(KIND_LATTICE);
  common(p, 4);
  p[14] = vertices; p[15] = inUse; p[16] = e.addressOf(before); p[17] = e.addressOf(after);
  e.run(d1);
  const ints = (a: Float32Array) => new Int32Array(a.buffer, a.byteOffset, a.length);
  return { vertices, offsets: ints(offsetsAt), weights, before: ints(before), after: ints(after) };
}
