// CRF-RNN's permutohedral lattice filter (src/layers/crf/permutohedral.ts builds the lattice and holds the
// TypeScript loops, the fallback and the reference), four values of a point at a time as the fork's SSE does: splat,
// one blur pass along an axis, slice. Each element's float operations are those of the TypeScript loops, in the
// same order (a multiply then an add, never fused: the fork's SSE build has no FMA), so the two give the same bits.
//
// Job fields (32-bit words at p, written by src/kernels/lattice.ts): 3 mode (0 splat, 1 blur, 2 slice), 4 points,
// 5 d + 1, 6 values a point, 7 vertices. A vertex v's values are at lattice + (v + 1) * values floats (slot 0: the
// missing neighbour, zeros); a point's d + 1 vertex ids and barycentric weights at offsets / weights + i * (d + 1).
// Splat: 8 input planes (plane k at input + k * points floats), 9 offsets, 10 weights, 11 lattice; chunk -> four
// values (the vertices a point adds to are shared, so the split is by value, and each element sums in point order).
// Blur: 8 from, 9 to, 10 before, 11 after (this axis' neighbour ids, -1 none), 12 vertices a chunk.
// Slice: 8 lattice, 9 offsets, 10 weights, 11 output planes, 12 per-point factor (0: none), 13 alpha (f32),
// 14 1 when the weight and alpha multiply first (the fork's sseCompute), 15 points a chunk.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { addr, word } from './simd';

export function latticeChunk(p: usize, chunk: i32, scratch: usize): void {
  const mode = word(p, 3);
  if (mode == 0) splat(p, chunk);
  else if (mode == 1) blur(p, chunk);
  else if (mode == 2) slice(p, chunk);
  else if (mode == 3) latticeInit(p, scratch);
  else latticeNeighbours(p, chunk, scratch);
}

function splat(p: usize, chunk: i32): void {
  const n = word(p, 4), d1 = word(p, 5), values = word(p, 6);
  const input = addr(p, 8), offsets = addr(p, 9), weights = addr(p, 10), lattice = addr(p, 11);
  const k0 = chunk << 2, lanes = min(4, values - k0), plane = <usize>n << 2;
  const stride = <usize>values << 2;
  const from = input + <usize>k0 * plane, at = lattice + (<usize>k0 << 2);
  if (lanes == 4) {
    for (let i = 0; i < n; i++) {
      const x = from + (<usize>i << 2);
      let v = f32x4.splat(load<f32>(x));
      v = f32x4.replace_lane(v, 1, load<f32>(x + plane));
      v = f32x4.replace_lane(v, 2, load<f32>(x + 2 * plane));
      v = f32x4.replace_lane(v, 3, load<f32>(x + 3 * plane));
      const q = <usize>(i * d1) << 2;
      for (let j = 0; j < d1; j++) {
        const o = at + <usize>(load<i32>(offsets + q + (<usize>j << 2)) + 1) * stride;
        const w = f32x4.splat(load<f32>(weights + q + (<usize>j << 2)));
        v128.store(o, f32x4.add(v128.load(o), f32x4.mul(w, v)));
      }
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const q = <usize>(i * d1) << 2;
    for (let j = 0; j < d1; j++) {
      const o = at + <usize>(load<i32>(offsets + q + (<usize>j << 2)) + 1) * stride;
      const w = load<f32>(weights + q + (<usize>j << 2));
      for (let k = 0; k < lanes; k++) {
        const e = o + (<usize>k << 2);
        store<f32>(e, load<f32>(e) + w * load<f32>(from + <usize>k * plane + (<usize>i << 2)));
      }
    }
  }
}

/** Each vertex plus half its two neighbours' sum. */
function blur(p: usize, chunk: i32): void {
  const m = word(p, 7), values = word(p, 6), from = addr(p, 8), to = addr(p, 9), before = addr(p, 10), after = addr(p, 11);
  const per = word(p, 12), first = chunk * per, end = min(m, first + per);
  const stride = <usize>values << 2, four = values & ~3, half = f32x4.splat(0.5);
  for (let i = first; i < end; i++) {
    const o = <usize>(i + 1) * stride;
    const x = from + <usize>(load<i32>(before + (<usize>i << 2)) + 1) * stride;
    const y = from + <usize>(load<i32>(after + (<usize>i << 2)) + 1) * stride;
    let k = 0;
    for (; k < four; k += 4) {
      const e = <usize>k << 2;
      v128.store(to + o + e, f32x4.add(v128.load(from + o + e), f32x4.mul(f32x4.add(v128.load(x + e), v128.load(y + e)), half)));
    }
    for (; k < values; k++) {
      const e = <usize>k << 2;
      store<f32>(to + o + e, load<f32>(from + o + e) + (load<f32>(x + e) + load<f32>(y + e)) * <f32>0.5);
    }
  }
}

/** Each point's values back from its vertices by its weights and alpha, into planes, times the point's factor. */
function slice(p: usize, chunk: i32): void {
  const n = word(p, 4), d1 = word(p, 5), values = word(p, 6);
  const lattice = addr(p, 8), offsets = addr(p, 9), weights = addr(p, 10), out = addr(p, 11), factor = addr(p, 12);
  const alpha = load<f32>(p + 13 * 4), weightFirst = word(p, 14) != 0, per = word(p, 15);
  const first = chunk * per, end = min(n, first + per);
  const stride = <usize>values << 2, plane = <usize>n << 2, four = weightFirst ? values & ~3 : 0;
  const a = f32x4.splat(alpha);
  for (let i = first; i < end; i++) {
    const q = <usize>(i * d1) << 2, x = <usize>i << 2;
    const f: f32 = factor ? load<f32>(factor + x) : 1;
    let k = 0;
    for (; k < four; k += 4) {
      let acc = f32x4.splat(0);
      for (let j = 0; j < d1; j++) {
        const o = lattice + <usize>(load<i32>(offsets + q + (<usize>j << 2)) + 1) * stride + (<usize>k << 2);
        const wa = f32x4.mul(f32x4.splat(load<f32>(weights + q + (<usize>j << 2))), a);
        acc = f32x4.add(acc, f32x4.mul(wa, v128.load(o)));
      }
      if (factor) acc = f32x4.mul(acc, f32x4.splat(f));
      const y = out + <usize>k * plane + x;
      store<f32>(y, f32x4.extract_lane(acc, 0));
      store<f32>(y + plane, f32x4.extract_lane(acc, 1));
      store<f32>(y + 2 * plane, f32x4.extract_lane(acc, 2));
      store<f32>(y + 3 * plane, f32x4.extract_lane(acc, 3));
    }
    for (; k < values; k++) {
      let acc: f32 = 0;
      for (let j = 0; j < d1; j++) {
        const v = load<f32>(lattice + <usize>(load<i32>(offsets + q + (<usize>j << 2)) + 1) * stride + (<usize>k << 2));
        const w = load<f32>(weights + q + (<usize>j << 2));
        acc += weightFirst ? w * alpha * v : w * v * alpha;
      }
      store<f32>(out + <usize>k * plane + x, factor ? acc * f : acc);
    }
  }
}

// The lattice's set-up (PermutohedralLattice's constructor, whose loops are the fallback and the reference): mode 3
// places each point (elevated, rounded to its 0-coloured vertex, ranked, its barycentric weights) and finds or makes
// its d + 1 vertices; mode 4 finds each vertex's two neighbours along each axis. One chunk for mode 3 (vertex ids are
// their first appearance, point by point); mode 4 chunk -> an axis. Vertex keys are the fork's shorts (i16).
// Fields: 3 mode, 4 points, 5 d + 1, 6 features (points x d f32), 7 scale (d f32), 8 canonical ((d + 1)^2 i32),
// 9 offsets (out), 10 weights (out), 11 slots (i32, room for `12` of them, a power of two), 13 keys (i16, d a
// vertex, room for half the slots), 14 the vertex count (out of mode 3, into mode 4), 15 the slots in use (out of
// mode 3), 16 before, 17 after, 18 set by mode 3 when the vertices outgrew the room.

@inline
function keyHash(key: usize, d: i32, mask: i32): i32 {
  let h: i32 = 0;
  for (let i = 0; i < d; i++) h = (h + <i32>load<i16>(key + (<usize>i << 1))) * 1664525;
  return (h ^ (h >>> 16)) & mask;
}

/** The id of the d-short key at `key` (made when absent and `create`; -1 when absent otherwise). */
function findVertex(p: usize, key: usize, d: i32, create: bool): i32 {
  const slots = addr(p, 11), keys = addr(p, 13);
  let size = word(p, 14), capacity = word(p, 15);
  if (create && 2 * size >= capacity) {
    // Doubled and filled again from the keys (ids stay: they are the keys' order); past the room given (field 12),
    // field 18 says so and the caller falls back to the TypeScript loops.
    if (capacity * 2 > word(p, 12)) {
      store<i32>(p + 18 * 4, 1);
      return -1;
    }
    capacity *= 2;
    store<i32>(p + 15 * 4, capacity);
    memory.fill(slots, 0xff, <usize>capacity << 2);
    for (let e = 0; e < size; e++) {
      let h = keyHash(keys + <usize>(e * d) * 2, d, capacity - 1);
      while (load<i32>(slots + (<usize>h << 2)) >= 0) h = (h + 1) & (capacity - 1);
      store<i32>(slots + (<usize>h << 2), e);
    }
  }
  for (let h = keyHash(key, d, capacity - 1); ; h = (h + 1) & (capacity - 1)) {
    const e = load<i32>(slots + (<usize>h << 2));
    if (e < 0) {
      if (!create) return -1;
      memory.copy(keys + <usize>(size * d) * 2, key, <usize>d << 1);
      store<i32>(slots + (<usize>h << 2), size);
      store<i32>(p + 14 * 4, size + 1);
      return size;
    }
    let same = true;
    for (let i = 0; i < d && same; i++) same = load<i16>(keys + <usize>(e * d + i) * 2) == load<i16>(key + (<usize>i << 1));
    if (same) return e;
  }
  return -1; // not reached: the table always has an empty slot
}

function latticeInit(p: usize, scratch: usize): void {
  const points = word(p, 4), d1 = word(p, 5), d = d1 - 1, features = addr(p, 6), scale = addr(p, 7), canonical = addr(p, 8);
  const offsets = addr(p, 9), weights = addr(p, 10);
  // A point's key and work arrays (d <= 15) in the thread's scratch.
  const key = scratch, elevated = scratch + 64, rem0 = scratch + 128, rank = scratch + 192, bary = scratch + 256;
  const down: f32 = <f32>1 / <f32>d1;
  // The fork's last SSE block of 4 fills its missing points with zero features, whose vertices it makes too.
  const padded = points % 4 ? points + 1 : points;
  memory.fill(addr(p, 11), 0xff, <usize>word(p, 15) << 2);
  for (let k = 0; k < padded; k++) {
    let sm: f32 = 0;
    for (let j = d; j > 0; j--) {
      const cf: f32 = k < points ? load<f32>(features + (<usize>(k * d + j - 1) << 2)) * load<f32>(scale + (<usize>(j - 1) << 2)) : 0;
      store<f32>(elevated + (<usize>j << 2), sm - <f32>j * cf);
      sm = sm + cf;
    }
    store<f32>(elevated, sm);
    let sum: f32 = 0;
    for (let i = 0; i <= d; i++) {
      const v = nearest<f32>(down * load<f32>(elevated + (<usize>i << 2)));
      store<i32>(rem0 + (<usize>i << 2), <i32>v * d1); // saturating (nontrapping-f2i): no trap on a NaN or huge feature
      sum = sum + v;
      store<i32>(rank + (<usize>i << 2), 0);
    }
    for (let i = 0; i < d; i++) {
      const di = load<f32>(elevated + (<usize>i << 2)) - <f32>load<i32>(rem0 + (<usize>i << 2));
      for (let j = i + 1; j <= d; j++) {
        if (di < load<f32>(elevated + (<usize>j << 2)) - <f32>load<i32>(rem0 + (<usize>j << 2))) store<i32>(rank + (<usize>i << 2), load<i32>(rank + (<usize>i << 2)) + 1);
        else store<i32>(rank + (<usize>j << 2), load<i32>(rank + (<usize>j << 2)) + 1);
      }
    }
    for (let i = 0; i <= d; i++) {
      const r = load<i32>(rank + (<usize>i << 2)) + <i32>sum;
      const shift = (r < 0 ? d1 : 0) - (r >= d1 ? d1 : 0);
      store<i32>(rank + (<usize>i << 2), r + shift);
      store<i32>(rem0 + (<usize>i << 2), load<i32>(rem0 + (<usize>i << 2)) + shift);
    }
    for (let i = 0; i <= d + 1; i++) store<f32>(bary + (<usize>i << 2), 0);
    for (let i = 0; i <= d; i++) {
      const v = (load<f32>(elevated + (<usize>i << 2)) - <f32>load<i32>(rem0 + (<usize>i << 2))) * down;
      const at = bary + (<usize>(d - load<i32>(rank + (<usize>i << 2))) << 2);
      store<f32>(at, load<f32>(at) + v);
      store<f32>(at + 4, load<f32>(at + 4) - v);
    }
    store<f32>(bary, load<f32>(bary) + (<f32>1 + load<f32>(bary + (<usize>(d + 1) << 2))));
    for (let r = 0; r <= d; r++) {
      for (let i = 0; i < d; i++)
        store<i16>(key + (<usize>i << 1), <i16>(load<i32>(rem0 + (<usize>i << 2)) + load<i32>(canonical + (<usize>(r * d1 + load<i32>(rank + (<usize>i << 2))) << 2))));
      const id = findVertex(p, key, d, true);
      if (id < 0) return; // out of room (field 18)
      if (k < points) {
        store<i32>(offsets + (<usize>(k * d1 + r) << 2), id);
        store<f32>(weights + (<usize>(k * d1 + r) << 2), load<f32>(bary + (<usize>r << 2)));
      }
    }
  }
}

/** Mode 4, chunk -> axis j: each vertex's neighbours, the key minus 1 everywhere but +d at j, and the opposite. */
function latticeNeighbours(p: usize, j: i32, scratch: usize): void {
  const d1 = word(p, 5), d = d1 - 1, m = word(p, 14), keys = addr(p, 13), before = addr(p, 16), after = addr(p, 17);
  const a = scratch, b = scratch + 32; // the two keys, in this thread's scratch
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < d; k++) {
      const v = <i32>load<i16>(keys + <usize>(i * d + k) * 2);
      store<i16>(a + (<usize>k << 1), <i16>(k == j ? v + d : v - 1));
      store<i16>(b + (<usize>k << 1), <i16>(k == j ? v - d : v + 1));
    }
    store<i32>(before + (<usize>(j * m + i) << 2), findVertex(p, a, d, false));
    store<i32>(after + (<usize>(j * m + i) << 2), findVertex(p, b, d, false));
  }
}
