// Inner product over weights kept as Caffe stores them: W row-major (N outputs x K inputs), in wasm memory once.
// net.params views that same memory, so a net holds one copy of its fully connected weights (the biggest part
// of AlexNet / VGG), not a loaded copy and a packed one.
//
// Batch 1 is a GEMV straight over W's rows (bound by reading W once, as the packed GEMV was). Batch M > 1 packs
// W's rows into the GEMM's packed-B strips on the fly, a K block of up to 64 strips at a time in thread scratch
// (a 4x4 transpose per 4 k and 4 rows), then runs the packed GEMM: W is read once per forward whatever M is.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { NR, madd, reluf } from './simd';


@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

@inline
function finish(s: f32, bias: usize, n: i32, reluOn: bool, slope: f32): f32 {
  if (bias != 0) s += load<f32>(bias + <usize>n * 4);
  return reluOn ? reluf(s, slope) : s;
}

/**
 * One row: sum_k W[n, k] x[k], in the order of gemvRows' five rows (one accumulator, lanes by k % 4, then the
 * K % 4 tail), so that a row's bits do not depend on which rows a chunk holds (1 or 2 threads give the same).
 */
@inline
function dotRow(w: usize, x: usize, K: i32): f32 {
  let a = f32x4.splat(0);
  const K4 = K & ~3;
  for (let k = 0; k < K4; k += 4) a = madd(a, v128.load(w + <usize>k * 4), v128.load(x + <usize>k * 4));
  return tail(hsum(a), w, x, K4, K);
}

/** s + sum_{k in [k0, K)} W[k] x[k], one term at a time in k's order (a row's K % 4 tail). */
@inline
function tail(s: f32, w: usize, x: usize, k0: i32, K: i32): f32 {
  for (let k = k0; k < K; k++) s += load<f32>(w + <usize>k * 4) * load<f32>(x + <usize>k * 4);
  return s;
}

/** Rows gemvRows takes a step, one from each of as many regions (src/kernels/packed.ts cuts chunks in whole fives). */
const GEMV_ROWS: i32 = 5;

/**
 * y[n] = bias[n] + sum_k W[n, k] x[k] for rows [n0, n1), then leaky ReLU: five rows a step, one from each fifth of
 * the range, share each load of x (W is the stream; x stays in L1 or L2). Bound by reading W on one core, and by
 * the loop's instructions where a busy SMT sibling shares the core (docs/PERFORMANCE.md, rounds seventeen and
 * twenty-four). Each row's sum is dotRow's order: lanes by k % 4, then the K % 4 tail, added after the loop (in
 * finishRows, with the bias and ReLU), so that the loop alone holds the function's registers.
 */
export function gemvRows(w: usize, K: i32, x: usize, y: usize, bias: usize, n0: i32, n1: i32, reluOn: bool, slope: f32): void {
  const rowBytes = <usize>K * 4;
  const K4 = K & ~3;
  // Five regions of B rows each (the rows past 5 B run one at a time in finishRows): step b reads row b of every
  // region, so each pointer goes on where it stopped and W is read as five long sequential streams. Seven
  // consecutive rows a step (until round twenty-three) started seven new streams every step, and the hardware
  // prefetcher's ramp on each cost more the shorter the rows (fc7 at 23.5 GB/s). Seven regions until round
  // twenty-four: with the rows' end moved out of the loop, fewer rows a step read W faster alone (fc6 / fc7 / fc8,
  // GB/s: seven 37.2-38.0 / 33.9-35.6 / 34.8-35.7, six 38.8-40.0 / 37.3-38.3 / 36.1-38.9, five 39.0-40.9 /
  // 39.0-40.3 / 40.0-40.9, four 38.9-39.8 / 38.4-40.3 / 38.9-40.7, eight 27-29: V8 spills). Bits unchanged.
  const B = (n1 - n0) / GEMV_ROWS, regionBytes = <usize>B * rowBytes;
  for (let b = 0; b < B; b++) {
    const n = n0 + b;
    const w0 = w + <usize>n * rowBytes, w1 = w0 + regionBytes, w2 = w1 + regionBytes;
    const w3 = w2 + regionBytes, w4 = w3 + regionBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0), a4 = f32x4.splat(0);
    for (let k = 0; k < K4; k += 4) {
      const o = <usize>k * 4;
      const xv = v128.load(x + o);
      a0 = madd(a0, v128.load(w0 + o), xv);
      a1 = madd(a1, v128.load(w1 + o), xv);
      a2 = madd(a2, v128.load(w2 + o), xv);
      a3 = madd(a3, v128.load(w3 + o), xv);
      a4 = madd(a4, v128.load(w4 + o), xv);
    }
    // The lanes' sums only: each row's K % 4 tail, bias and ReLU in finishRows, after the loop. With them here
    // the loop ran 1.10-1.15x slower (V8 kept less of it in registers; round twenty-four).
    const out = y + <usize>n * 4, step = <usize>B * 4;
    store<f32>(out, hsum(a0));
    store<f32>(out + step, hsum(a1));
    store<f32>(out + 2 * step, hsum(a2));
    store<f32>(out + 3 * step, hsum(a3));
    store<f32>(out + 4 * step, hsum(a4));
  }
  finishRows(w, K, x, y, bias, n0, n0 + GEMV_ROWS * B, n1, reluOn, slope);
}

/**
 * gemvRows' end: rows [n0, nb) hold their lanes' sums (y[n] = hsum), to which each row's K % 4 tail, the bias and
 * ReLU are added in that order; rows [nb, n1) (fewer than five) are summed whole here, one at a time.
 */
function finishRows(w: usize, K: i32, x: usize, y: usize, bias: usize, n0: i32, nb: i32, n1: i32, reluOn: bool, slope: f32): void {
  const rowBytes = <usize>K * 4, K4 = K & ~3;
  for (let n = n0; n < nb; n++) {
    const at = y + <usize>n * 4;
    store<f32>(at, finish(tail(load<f32>(at), w + <usize>n * rowBytes, x, K4, K), bias, n, reluOn, slope));
  }
  for (let n = nb; n < n1; n++) store<f32>(y + <usize>n * 4, finish(dotRow(w + <usize>n * rowBytes, x, K), bias, n, reluOn, slope));
}

/**
 * Packs rows [j0, j1) of W (N x K row-major), columns [k0, k0 + kc), as packed-B strips of B = W^T at dst
 * (strip (j - j0) / NR at dst + strip * NR * kc floats; the last strip zero-filled): B(k, j) = W[j * K + k].
 * Whole strips go 4 k by 4 rows at a time through a 4x4 transpose in registers; the rest element by element.
 */
export function packRowsAsB(w: usize, K: i32, k0: i32, kc: i32, j0: i32, j1: i32, dst: usize): void {
  const rowBytes = <usize>K * 4;
  const strips = (j1 - j0 + NR - 1) / NR;
  for (let t = 0; t < strips; t++) {
    const col = j0 + t * NR, cols = min(NR, j1 - col);
    const out = dst + <usize>(t * NR * kc) * 4;
    let k = 0;
    if (cols == NR) {
      for (; k + 4 <= kc; k += 4) {
        const src = w + <usize>col * rowBytes + <usize>(k0 + k) * 4;
        for (let half = 0; half < 2; half++) {
          const r = src + <usize>(half * 4) * rowBytes;
          const r0 = v128.load(r), r1 = v128.load(r + rowBytes), r2 = v128.load(r + 2 * rowBytes), r3 = v128.load(r + 3 * rowBytes);
          const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5), t1 = f32x4.shuffle(r2, r3, 0, 4, 1, 5);
          const t2 = f32x4.shuffle(r0, r1, 2, 6, 3, 7), t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
          const o = out + <usize>k * 32 + <usize>half * 16;
          v128.store(o, f32x4.shuffle(t0, t1, 0, 1, 4, 5));
          v128.store(o + 32, f32x4.shuffle(t0, t1, 2, 3, 6, 7));
          v128.store(o + 64, f32x4.shuffle(t2, t3, 0, 1, 4, 5));
          v128.store(o + 96, f32x4.shuffle(t2, t3, 2, 3, 6, 7));
        }
      }
    }
    for (; k < kc; k++) {
      const o = out + <usize>k * 32;
      for (let c = 0; c < NR; c++) store<f32>(o + c * 4, c < cols ? load<f32>(w + <usize>(col + c) * rowBytes + <usize>(k0 + k) * 4) : 0);
    }
  }
}
