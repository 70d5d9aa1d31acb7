// Sigmoid and Softmax on the wasm engine: e^x in float, four lanes at a time. As TypeScript loops over Math.exp
// these ran at ~0.1 G floats/s (HED's six Sigmoids on 500 x 500 maps: 12 ms against ONNX Runtime's 2.8;
// colorization's Softmax over 313 channels of 56 x 56: 13 ms against 6). The float e^x below is Cephes' expf (within
// ~1 ulp of e^x), as Caffe's own exp is a float one (libm's expf, MKL's vsExp): the TypeScript loops, which round
// a double e^x, stay the fallback and the tests' reference (the layers' results agree within a few ulp).
//
// Job fields (32-bit words at p, written by src/kernels/exp.ts): 3 x, 4 y (may be x), 5 what: 0 Sigmoid, 1 Softmax.
// Sigmoid: 6 floats in all, 7 floats a chunk (a multiple of 4). Softmax over blocks of (channels, inner): 6 blocks,
// 7 channels, 8 inner; inner > 1: 9 inner positions a chunk (a multiple of 4), 10 chunks a block; inner 1 (a
// classifier's rows, SSD's per-prior scores): 9 blocks a chunk.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { addr, word } from './simd';

/** Inner positions a Softmax pass keeps in thread scratch (their max and sum) while it walks the channels. */
const TILE: i32 = 256;

/**
 * e^x: x = n ln 2 + r (n the nearest integer to x / ln 2, ln 2 in two parts so that r is exact), e^r by Cephes'
 * degree-7 polynomial on |r| <= ln 2 / 2, times 2^n made as two powers of two (so that n down to -150 gives
 * denormals, not 0; n = 128 gives Infinity). x is clamped to [-104, 89] first (e^x is 0 or Infinity beyond);
 * NaN stays NaN.
 */
@inline export function exp4(v: v128): v128 {
  // pmax(v, lo) is v < lo ? lo : v, so a NaN v stays (f32x4.min / max would too, at ~4x the instructions on x64).
  const x = f32x4.pmin(f32x4.pmax(v, f32x4.splat(-104)), f32x4.splat(89));
  // n = the nearest integer to x / ln 2 by adding 1.5 * 2^23 (its float's last bits are then n; as an integer it is n
  // more than the constant's: no nearest or float-to-int conversion, each several instructions on x64).
  const shift = f32x4.splat(12582912);
  const shifted = f32x4.add(f32x4.mul(x, f32x4.splat(1.44269504088896341)), shift);
  const n = f32x4.sub(shifted, shift);
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375))), f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let q = f32x4.splat(1.9875691500e-4);
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(1.3981999507e-3));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(8.3334519073e-3));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(4.1665795894e-2));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(1.6666665459e-1));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(5.0000001201e-1));
  const e = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(q, r), r), r), f32x4.splat(1));
  // 2^n as two powers of two (exponent fields n / 2 + 127 and n - n / 2 + 127): shifted's bits are n + 0x4b400000.
  const k = i32x4.sub(shifted, i32x4.splat(0x4b400000)), half = i32x4.shr_s(k, 1), bias = i32x4.splat(127);
  const s1 = i32x4.shl(i32x4.add(half, bias), 23), s2 = i32x4.shl(i32x4.add(i32x4.sub(k, half), bias), 23);
  return f32x4.mul(f32x4.mul(e, s1), s2);
}

/** exp4 of one float (the loops' tails: the same bits as a lane). */
@inline function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

export function expChunk(p: usize, chunk: i32, scratch: usize): void {
  if (word(p, 5) == 0) sigmoidChunk(p, chunk);
  else if (word(p, 8) == 1) softmaxRows(p, chunk);
  else softmaxColumns(p, chunk, scratch);
}

/**
 * Sigmoid: 1 / (1 + e^-x) in float (e^-x Infinity for x below -89 gives 0). -x is raised to -87 first: e^-87 is a
 * normal float and 1 + it is 1 as for any smaller one, while e^-x of a denormal (x above 87.3) would slow the
 * arithmetic on it ~100x on x64 (a microcode assist per operation).
 */
function sigmoidChunk(p: usize, chunk: i32): void {
  const x = addr(p, 3), y = addr(p, 4), n = word(p, 6), per = word(p, 7);
  const first = chunk * per, end = min(n, first + per), one = f32x4.splat(1), low = f32x4.splat(-87);
  let i = first;
  for (; i + 8 <= end; i += 8) {
    const o = <usize>i << 2;
    const a = exp4(f32x4.pmax(f32x4.neg(v128.load(x + o)), low)), b = exp4(f32x4.pmax(f32x4.neg(v128.load(x + o, 16)), low));
    v128.store(y + o, f32x4.div(one, f32x4.add(one, a)));
    v128.store(y + o, f32x4.div(one, f32x4.add(one, b)), 16);
  }
  for (; i < end; i++) {
    const o = <usize>i << 2;
    const v = -load<f32>(x + o);
    store<f32>(y + o, <f32>1 / (<f32>1 + exp1(v < -87 ? -87 : v)));
  }
}

/**
 * Softmax of a chunk of one block's inner positions, TILE at a time: the max over channels (from channel 0, a
 * later value taking it when greater: Caffe's and the TypeScript loop's order, so a NaN counts only in channel 0),
 * y = e^(x - max) summed over channels in order, then y / sum (Caffe's caffe_div). x is read before y is written.
 */
function softmaxColumns(p: usize, chunk: i32, scratch: usize): void {
  const x = addr(p, 3), y = addr(p, 4), channels = word(p, 7), inner = word(p, 8), per = word(p, 9), perBlock = word(p, 10);
  const block = chunk / perBlock, j0 = (chunk % perBlock) * per, j1 = min(inner, j0 + per);
  const rowBytes = <usize>inner << 2, blockBytes = <usize>channels * rowBytes * <usize>block;
  for (let j = j0; j < j1; j += TILE) {
    const at = blockBytes + (<usize>j << 2);
    softmaxTile(x + at, y + at, channels, rowBytes, min(j1, j + TILE) - j, scratch, scratch + (<usize>TILE << 2));
  }
}

function softmaxTile(x: usize, y: usize, channels: i32, rowBytes: usize, n: i32, maxes: usize, sums: usize): void {
  const v = <usize>(n & ~3) << 2, end = <usize>n << 2;
  for (let i: usize = 0; i < v; i += 16) v128.store(maxes + i, v128.load(x + i));
  for (let i = v; i < end; i += 4) store<f32>(maxes + i, load<f32>(x + i));
  for (let c = 1; c < channels; c++) {
    const row = x + <usize>c * rowBytes;
    for (let i: usize = 0; i < v; i += 16) v128.store(maxes + i, f32x4.pmax(v128.load(maxes + i), v128.load(row + i)));
    for (let i = v; i < end; i += 4) {
      const a = load<f32>(row + i);
      if (a > load<f32>(maxes + i)) store<f32>(maxes + i, a);
    }
  }
  for (let c = 0; c < channels; c++) {
    const off = <usize>c * rowBytes, xr = x + off, yr = y + off;
    for (let i: usize = 0; i < v; i += 16) {
      const e = exp4(f32x4.sub(v128.load(xr + i), v128.load(maxes + i)));
      v128.store(yr + i, e);
      v128.store(sums + i, c == 0 ? e : f32x4.add(v128.load(sums + i), e));
    }
    for (let i = v; i < end; i += 4) {
      const e = exp1(load<f32>(xr + i) - load<f32>(maxes + i));
      store<f32>(yr + i, e);
      store<f32>(sums + i, c == 0 ? e : load<f32>(sums + i) + e);
    }
  }
  for (let c = 0; c < channels; c++) {
    const yr = y + <usize>c * rowBytes;
    for (let i: usize = 0; i < v; i += 16) v128.store(yr + i, f32x4.div(v128.load(yr + i), v128.load(sums + i)));
    for (let i = v; i < end; i += 4) store<f32>(yr + i, load<f32>(yr + i) / load<f32>(sums + i));
  }
}

/** Softmax of whole rows (inner 1): the same steps along the row's channels, the sum in order. */
function softmaxRows(p: usize, chunk: i32): void {
  const x = addr(p, 3), y = addr(p, 4), blocks = word(p, 6), channels = word(p, 7), per = word(p, 9);
  const first = chunk * per, end = min(blocks, first + per), v = <usize>(channels & ~3) << 2, bytes = <usize>channels << 2;
  for (let b = first; b < end; b++) {
    const xr = x + <usize>b * bytes, yr = y + <usize>b * bytes;
    let m = load<f32>(xr);
    for (let i: usize = 4; i < bytes; i += 4) {
      const a = load<f32>(xr + i);
      if (a > m) m = a;
    }
    const mv = f32x4.splat(m);
    for (let i: usize = 0; i < v; i += 16) v128.store(yr + i, exp4(f32x4.sub(v128.load(xr + i), mv)));
    for (let i = v; i < bytes; i += 4) store<f32>(yr + i, exp1(load<f32>(xr + i) - m));
    let sum: f32 = 0;
    for (let i: usize = 0; i < bytes; i += 4) sum += load<f32>(yr + i);
    const s = f32x4.splat(sum);
    for (let i: usize = 0; i < v; i += 16) v128.store(yr + i, f32x4.div(v128.load(yr + i), s));
    for (let i = v; i < bytes; i += 4) store<f32>(yr + i, load<f32>(yr + i) / sum);
  }
}
