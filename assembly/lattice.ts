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

export function latticeChunk(p: usize, chunk: i32): void {
  const mode = word(p, 3);
  if (mode == 0) splat(p, chunk);
  else if (mode == 1) blur(p, chunk);
  else slice(p, chunk);
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
