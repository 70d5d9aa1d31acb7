// MAX and AVE pooling in WebAssembly SIMD, both in Caffe's order. AVE: Caffe's sum starts at +0 and adds the
// window's values row by row, left to right (for h, for w), then divides by the window clipped to the padded image;
// a float sum depends on that order (a sum of column sums, as here before round thirteen, can differ in the last
// bit), so every AVE path adds in it, four outputs a vector: the window's input rows copied into a ring of padded
// rows (their padding 0: adding +0 to a sum that started at +0 changes no bit, so windows that stick out of the
// image need no special case), then per output the taps of each row in turn. MAX goes in Caffe's order, rows first: each input row's
// taps (identity -FLT_MAX first, then left to right), then the window's rows top to bottom. f32x4.pmax(best, v) is
// `best < v ? v : best`: Caffe's strict `>` (NaN never wins; a window of NaN only gives -FLT_MAX), and on a tie it
// keeps the earlier value, so of +0 and -0 the first in row-major order is the output, as in Caffe (a reduction by
// columns first keeps the first in column-major order). A window that is the whole plane (global pooling, ResNet's
// 7x7 pool5) is one reduction over the plane's contiguous floats (MAX: its first zero's sign when the maximum is 0).
//
// Job fields (32-bit words at p, written by src/kernels/pooling.ts): 3 x, 4 y, 5 planes per chunk, 6 planes,
// 7 H, 8 W, 9 outH, 10 outW, 11 kw, 12 sw, 13 pw, 14 method (0 MAX, 1 AVE), 15 rowStart, 16 rowEnd, 17 rowSpan,
// 18 colSpan (Int32 tables per output row / column, readable 4 entries past their end), 19 buffer length of a
// row (floats; the thread scratch holds a band of them (AVE: a ring of word 21 of them), rounded up to vectors,
// and 4 more floats after it for the last, partial vector of a row), 20 the windows are
// 3x3 at stride 1 with pad 1 on a plane of at least 2 x 2 (1: avePlane3 / maxPlane3), or MAX 3x3 at stride 2
// without pad (2: maxPlane3s2), or MAX 2x2 at stride 2 without pad (3: maxPlane2s2), or MAX 3x3 at stride 2
// with pad 1 (4: maxPlane3s2p1); MAX's other windows (maxPlane): 21 the most input rows of a window, 22 1 when no
// input row serves two windows, 23 and 24 the outputs [lo, hi) read straight, four a step.

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { addr, copyRow, word } from './simd';

const MINUS_FLT_MAX: f32 = -3.4028234663852886e38;

@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

@inline function reduceV(ave: bool, acc: v128, v: v128): v128 {
  return ave ? f32x4.add(acc, v) : f32x4.pmax(acc, v);
}

@inline function reduce(ave: bool, acc: f32, v: f32): f32 {
  return ave ? acc + v : v > acc ? v : acc;
}

export function poolChunk(p: usize, chunk: i32, scratch: usize): void {
  const perChunk = word(p, 5), planes = word(p, 6);
  const H = word(p, 7), W = word(p, 8), outH = word(p, 9), outW = word(p, 10);
  const first = chunk * perChunk, end = min(planes, first + perChunk);
  const x = addr(p, 3), y = addr(p, 4), ave = word(p, 14) == 1;
  // The one window is the plane itself (no padding inside it): rows [0, H) with divisor part H, columns [0, W).
  const rowStart = addr(p, 15), rowEnd = addr(p, 16), rowSpan = addr(p, 17), colSpan = addr(p, 18);
  const whole = outH == 1 && outW == 1 && load<i32>(rowStart) == 0 && load<i32>(rowEnd) == H && load<i32>(rowSpan) == H &&
    word(p, 13) == 0 && word(p, 11) == W && load<i32>(colSpan) == W;
  const three = word(p, 20) == 1, strided3 = word(p, 20) == 2, strided2 = word(p, 20) == 3, padded3 = word(p, 20) == 4;
  for (let c = first; c < end; c++) {
    const xc = x + ((<usize>c * H * W) << 2), yc = y + ((<usize>c * outH * outW) << 2);
    if (whole && ave) {
      aveWhole(x, y, c, end, H * W);
      return;
    }
    if (whole) {
      store<f32>(yc, firstZero(reducePlane(false, xc, H * W), xc));
    } else if (strided3) {
      maxPlane3s2(xc, yc, H, W, outH, outW, scratch);
    } else if (strided2) {
      maxPlane2s2(xc, yc, H, W, outH, outW);
    } else if (padded3) {
      maxPlane3s2p1(xc, yc, H, W, outH, outW, scratch);
    } else if (three) {
      if (ave) avePlane3(xc, yc, H, W, scratch);
      else maxPlane3(xc, yc, H, W, scratch);
    } else if (ave) avePlane(p, xc, yc, scratch);
    else maxPlane(p, xc, yc, scratch);
  }
}

/**
 * AVE over whole planes c0 .. c1 - 1 (global pooling; GoogLeNet's, ResNet-50's, MobileNet's 7x7 pools): each one's
 * n floats summed in order from +0 (a plane is its windows' rows one after the other), four planes at a time as
 * four independent sums (the adds of one sum wait for each other), then divided by n.
 */
function aveWhole(x: usize, y: usize, c0: i32, c1: i32, n: i32): void {
  const planeBytes = <usize>n << 2, divisor = <f32>n;
  let c = c0;
  for (; c + 4 <= c1; c += 4) {
    const a = x + <usize>c * planeBytes, b = a + planeBytes, d = b + planeBytes, e = d + planeBytes;
    let sa: f32 = 0, sb: f32 = 0, sd: f32 = 0, se: f32 = 0;
    for (let i: usize = 0; i < planeBytes; i += 4) {
      sa += load<f32>(a + i);
      sb += load<f32>(b + i);
      sd += load<f32>(d + i);
      se += load<f32>(e + i);
    }
    store<f32>(at(y, c), sa / divisor);
    store<f32>(at(y, c + 1), sb / divisor);
    store<f32>(at(y, c + 2), sd / divisor);
    store<f32>(at(y, c + 3), se / divisor);
  }
  for (; c < c1; c++) {
    const a = x + <usize>c * planeBytes;
    let sa: f32 = 0;
    for (let i: usize = 0; i < planeBytes; i += 4) sa += load<f32>(a + i);
    store<f32>(at(y, c), sa / divisor);
  }
}

/** Sum or max of n contiguous floats: four vector accumulators, then across them and their lanes. */
@inline function reducePlane(ave: bool, x: usize, n: i32): f32 {
  const identity: f32 = ave ? 0 : MINUS_FLT_MAX;
  let a = f32x4.splat(identity), b = a, c = a, d = a;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = at(x, i);
    a = reduceV(ave, a, v128.load(o)); b = reduceV(ave, b, v128.load(o, 16));
    c = reduceV(ave, c, v128.load(o, 32)); d = reduceV(ave, d, v128.load(o, 48));
  }
  for (; i + 4 <= n; i += 4) a = reduceV(ave, a, v128.load(at(x, i)));
  a = reduceV(ave, reduceV(ave, a, b), reduceV(ave, c, d));
  let acc = reduce(ave, reduce(ave, f32x4.extract_lane(a, 0), f32x4.extract_lane(a, 1)), reduce(ave, f32x4.extract_lane(a, 2), f32x4.extract_lane(a, 3)));
  for (; i < n; i++) acc = reduce(ave, acc, load<f32>(at(x, i)));
  return acc;
}

/**
 * A MAX over lanes and accumulators (not row-major order) has Caffe's value but, when that is 0, maybe not its sign:
 * Caffe's output is the first element equal to the maximum (strict >), so for a maximum 0 the first zero of the
 * plane, found by a scan that stops at it (only planes whose maximum is 0 pay it).
 */
@inline function firstZero(m: f32, x: usize): f32 {
  if (m != 0) return m;
  let at = x;
  while (load<f32>(at) != 0) at += 4;
  return load<f32>(at);
}

// MAX 3x3 at stride 2 without padding (SqueezeNet's, AlexNet's / CaffeNet's, GoogLeNet's, ResNet-50's and
// Inception-v3's stride-2 MAX pools; output rows of at least 4): eight outputs a step (then four) straight from
// the input rows, without the row buffer and its per-row tables and tails. In Caffe's order, rows first: each
// input row's three taps reduce (identity, then columns left to right), then the window's three rows top to
// bottom. pmax(a, b) = a < b ? b : a keeps a on a tie, so the earlier of equal values wins, as Caffe's strict >
// does: of +0 and -0 the first in row-major order (columns first, as before round twelve, kept the first in
// column-major order). A window's last row is the next window's first: its row maxima are kept in `carry` (thread
// scratch, a float per output column). A window clipped at the plane's edge (CEIL: the last column or row starts 2
// before the end) reads its last column or row twice: pmax(a, b) is a when a already holds b (a >= b, or b NaN),
// so the bits are those of the clipped window. A row's last 4-step ends at the row's end, overlapping the one
// before (the same values written twice; its row maxima kept in a slot of their own); no load reaches past
// column W - 1 or row H - 1. Only the identity's pmax needs the row's first tap: a NaN never wins as a later
// operand.

/** Four outputs' row maxima of the columns a (0-3), b (4-7) and c (8 in lane 0): taps 2t, 2t + 1, 2t + 2. */
@inline function taps3s2(identity: v128, a: v128, b: v128, c: v128): v128 {
  const even = i32x4.shuffle(a, b, 0, 2, 4, 6);
  return f32x4.pmax(f32x4.pmax(f32x4.pmax(identity, even), i32x4.shuffle(a, b, 1, 3, 5, 7)), i32x4.shuffle(even, c, 1, 2, 3, 4));
}

function maxPlane3s2(x: usize, y: usize, H: i32, W: i32, outH: i32, outW: i32, carry: usize): void {
  const rowBytes = <usize>W << 2, identity = f32x4.splat(MINUS_FLT_MAX), lastCol = <usize>(W - 1);
  const full = outW & ~7; // outputs of the 8-steps; the 4-steps (one or two) at t = full and full + 4
  // Row 0's row maxima into carry (per output column of its step: the 4-steps' own slots past `full`).
  rowMax3s2(identity, x, carry, full, outW, lastCol);
  for (let oy = 0; oy < outH; oy++) {
    const r1 = x + <usize>(2 * oy + 1) * rowBytes, r2 = 2 * oy + 2 < H ? r1 + rowBytes : r1, out = at(y, oy * outW);
    let t = 0;
    for (; t < full; t += 8) {
      const e = min<usize>(16, lastCol - (<usize>t << 1)) << 2, o = <usize>t << 3, k = at(carry, t);
      let a = v128.load(r1 + o), b = v128.load(r1 + o, 16), c = v128.load(r1 + o, 32), d = v128.load(r1 + o, 48);
      const lo1 = taps3s2(identity, a, b, c), hi1 = taps3s2(identity, c, d, v128.load32_splat(r1 + o + e));
      a = v128.load(r2 + o); b = v128.load(r2 + o, 16); c = v128.load(r2 + o, 32); d = v128.load(r2 + o, 48);
      const lo2 = taps3s2(identity, a, b, c), hi2 = taps3s2(identity, c, d, v128.load32_splat(r2 + o + e));
      v128.store(at(out, t), f32x4.pmax(f32x4.pmax(v128.load(k), lo1), lo2));
      v128.store(at(out, t), f32x4.pmax(f32x4.pmax(v128.load(k, 16), hi1), hi2), 16);
      v128.store(k, lo2);
      v128.store(k, hi2, 16);
    }
    for (; t < outW; t += 4) {
      const ox = min(t, outW - 4), c = min<usize>(8, lastCol - (<usize>ox << 1)) << 2, o = <usize>ox << 3, k = at(carry, t);
      const h1 = taps3s2(identity, v128.load(r1 + o), v128.load(r1 + o, 16), v128.load32_splat(r1 + o + c));
      const h2 = taps3s2(identity, v128.load(r2 + o), v128.load(r2 + o, 16), v128.load32_splat(r2 + o + c));
      v128.store(at(out, ox), f32x4.pmax(f32x4.pmax(v128.load(k), h1), h2));
      v128.store(k, h2);
    }
  }
}

// MAX 2x2 at stride 2 without padding (VGG's, FCN's, HED's, SSD300's pools): four outputs a step straight from the
// window's two rows, rows first as maxPlane3s2 (each row's two taps from the identity, then the second row's maximum
// against the first's). The windowMax4 row path ran these at 2 G input floats/s (HED's pool1, 64 x 568 x 568: 8.9 ms
// at 1 thread, 2.2x a copy of the plane). A plane of odd height (CEIL) reads its last row as both of the window's:
// pmax(a, a) is a. The steps cover the outputs whose two columns are in the row (the last step ends at the last of
// them, overlapping the one before); a last output of one column (odd width, CEIL) is Caffe's loop.
function maxPlane2s2(x: usize, y: usize, H: i32, W: i32, outH: i32, outW: i32): void {
  const rowBytes = <usize>W << 2, identity = f32x4.splat(MINUS_FLT_MAX);
  const pairs = min(outW, W >> 1); // outputs of two columns; at least 4 (src/kernels/pooling.ts strided2)
  for (let oy = 0; oy < outH; oy++) {
    const r0 = x + <usize>(2 * oy) * rowBytes, r1 = 2 * oy + 1 < H ? r0 + rowBytes : r0, out = at(y, oy * outW);
    for (let t = 0; t < pairs; t += 4) {
      const ox = min(t, pairs - 4), o = <usize>ox << 3;
      const a = v128.load(r0 + o), b = v128.load(r0 + o, 16), c = v128.load(r1 + o), d = v128.load(r1 + o, 16);
      const m0 = f32x4.pmax(f32x4.pmax(identity, i32x4.shuffle(a, b, 0, 2, 4, 6)), i32x4.shuffle(a, b, 1, 3, 5, 7));
      const m1 = f32x4.pmax(f32x4.pmax(identity, i32x4.shuffle(c, d, 0, 2, 4, 6)), i32x4.shuffle(c, d, 1, 3, 5, 7));
      v128.store(at(out, ox), f32x4.pmax(m0, m1));
    }
    if (pairs < outW) {
      const last = <usize>(W - 1) << 2;
      store<f32>(at(out, pairs), reduce(false, reduce(false, MINUS_FLT_MAX, load<f32>(r0 + last)), load<f32>(r1 + last)));
    }
  }
}

// MAX 3x3 at stride 2 with pad 1 (DenseNet's pool1, Xception's): each input row copied between -FLT_MAX borders
// (padding never wins: pmax(acc, -FLT_MAX) is acc, the identity included), so that maxPlane3s2's steps serve every
// window, the clipped ones at the edges too; the row maxima of the window's rows then reduced top to bottom, the last
// row's kept for the next window (its first). The generic row path ran these at a third to a half of this speed
// (Xception's 128 x 147 x 147: 1.23 -> 0.78 ms; 728 x 37 x 37: 1.16 -> 0.44). Gathering only the edge steps' nine
// columns instead of copying the row was slower (0.99 and 0.79). Scratch: the bordered row (2 outW + 16 floats at
// least, W + 2 and more) and three rows of row maxima (outW rounded up to vectors, + 4).
function maxPlane3s2p1(x: usize, y: usize, H: i32, W: i32, outH: i32, outW: i32, scratch: usize): void {
  const identity = f32x4.splat(MINUS_FLT_MAX), steps = (outW + 3) >> 2, rowFloats = (steps << 2) + 4;
  const border = max(W + 2, 8 * steps + 12) + 4;
  const P = scratch, O = at(P, border);
  let carry = at(O, rowFloats), mid = at(carry, rowFloats), bot = at(mid, rowFloats);
  for (let i = W + 1; i < border; i++) store<f32>(at(P, i), MINUS_FLT_MAX);
  store<f32>(P, MINUS_FLT_MAX);
  for (let oy = 0; oy < outH; oy++) {
    // The window's rows inside [0, H): 2 oy - 1 (the last window's bottom, in carry), 2 oy, 2 oy + 1.
    const h = 2 * oy, top = oy > 0, hasMid = h < H, hasBot = h + 1 < H;
    if (hasMid) rowMax3s2p1(identity, at(x, h * W), W, P, mid, steps);
    if (hasBot) rowMax3s2p1(identity, at(x, (h + 1) * W), W, P, bot, steps);
    for (let t = 0; t < steps; t++) {
      const o = <usize>t << 4;
      let v = top ? v128.load(carry + o) : v128.load(mid + o);
      if (top && hasMid) v = f32x4.pmax(v, v128.load(mid + o));
      if (hasBot) v = f32x4.pmax(v, v128.load(bot + o));
      v128.store(O + o, v);
    }
    copyRow(O, outW, at(y, oy * outW)); // not memory.copy: a call out of the compiled code, 3x slower on rows of ~100
    const swap = carry;
    carry = bot;
    bot = swap;
  }
}

/** The row maxima of windows 0 .. 4 steps - 1 of row r (W floats) into dst, r copied into P between borders. */
@inline function rowMax3s2p1(identity: v128, r: usize, W: i32, P: usize, dst: usize, steps: i32): void {
  copyRow(r, W, P + 4);
  for (let t = 0; t < steps; t++) {
    const o = P + (<usize>t << 5);
    v128.store(dst + (<usize>t << 4), taps3s2(identity, v128.load(o), v128.load(o, 16), v128.load32_splat(o + 32)));
  }
}

/** The row maxima of row r for every step of maxPlane3s2, into carry (carry[t..] for the step at t). */
@inline function rowMax3s2(identity: v128, r: usize, carry: usize, full: i32, outW: i32, lastCol: usize): void {
  let t = 0;
  for (; t < full; t += 8) {
    const e = min<usize>(16, lastCol - (<usize>t << 1)) << 2, o = <usize>t << 3;
    const a = v128.load(r + o), b = v128.load(r + o, 16), c = v128.load(r + o, 32), d = v128.load(r + o, 48);
    v128.store(at(carry, t), taps3s2(identity, a, b, c));
    v128.store(at(carry, t), taps3s2(identity, c, d, v128.load32_splat(r + o + e)), 16);
  }
  for (; t < outW; t += 4) {
    const ox = min(t, outW - 4), c = min<usize>(8, lastCol - (<usize>ox << 1)) << 2, o = <usize>ox << 3;
    v128.store(at(carry, t), taps3s2(identity, v128.load(r + o), v128.load(r + o, 16), v128.load32_splat(r + o + c)));
  }
}

// Each plane's path is a function of its own, not inlined into poolChunk: inlined together, the row path ran 3-9 %
// slower (round eleven).

// AVE 3x3 at stride 1 with pad 1 (Inception-v3's AVE pools; every divisor 9) in Caffe's order: the plane copied into
// scratch between W + 1 zeros before and after (the rows above the first and below the last), then every output as
// the nine values of its window, row by row, added from +0, over the plane as one flat run (four outputs a step, the
// last step ending at n); a row's first and last outputs read the neighbour row's last or first column there, and
// are done again without it.
function avePlane3(x: usize, y: usize, H: i32, W: i32, scratch: usize): void {
  const n = H * W, guard = W + 1, P = at(scratch, guard);
  memory.fill(scratch, 0, <usize>guard << 2);
  memory.fill(at(P, n), 0, <usize>(guard + 4) << 2);
  memory.copy(P, x, <usize>n << 2);
  const zero = f32x4.splat(0), nine = f32x4.splat(9), rowBytes = <usize>W << 2;
  for (let j = 0; j < n; j += 4) {
    const o = min(j, n - 4), up = at(P, o - W - 1), mid = up + rowBytes, down = mid + rowBytes;
    let acc = f32x4.add(zero, v128.load(up));
    acc = f32x4.add(acc, v128.load(up, 4));
    acc = f32x4.add(acc, v128.load(up, 8));
    acc = f32x4.add(acc, v128.load(mid));
    acc = f32x4.add(acc, v128.load(mid, 4));
    acc = f32x4.add(acc, v128.load(mid, 8));
    acc = f32x4.add(acc, v128.load(down));
    acc = f32x4.add(acc, v128.load(down, 4));
    acc = f32x4.add(acc, v128.load(down, 8));
    v128.store(at(y, o), f32x4.div(acc, nine));
  }
  for (let r = 0; r < n; r += W) {
    const l = r + W - 1;
    let first: f32 = 0, last: f32 = 0;
    for (let dy = -W; dy <= W; dy += W) {
      first += load<f32>(at(P, r + dy));
      first += load<f32>(at(P, r + dy + 1));
      last += load<f32>(at(P, l + dy - 1));
      last += load<f32>(at(P, l + dy));
    }
    store<f32>(at(y, r), first / 9);
    store<f32>(at(y, l), last / 9);
  }
}

// MAX 3x3 at stride 1 with pad 1 in Caffe's order (rows first, see maxPlane3s2): R[j] = the row maxima of x[j - 1],
// x[j], x[j + 1] (identity first) over the plane as one flat run, each row's first and last again without the
// neighbour row's column; then out[j] = R[j - W] (+) R[j] (+) R[j + W], the plane's first and last rows without
// the row outside it. R is non-NaN (identity first), so the rows' pmax needs no identity.
function maxPlane3(x: usize, y: usize, H: i32, W: i32, scratch: usize): void {
  const identity = f32x4.splat(MINUS_FLT_MAX), n = H * W, R = scratch;
  let j = 1;
  if (n >= 6) {
    // Vectors over [1, n - 1), the last one ending at n - 1: its loads stay in [0, n).
    for (; j < n - 1; j += 4) {
      const o = min(j, n - 5), src = at(x, o - 1);
      v128.store(at(R, o), f32x4.pmax(f32x4.pmax(f32x4.pmax(identity, v128.load(src)), v128.load(src, 4)), v128.load(src, 8)));
    }
  } else {
    for (; j < n - 1; j++) {
      store<f32>(at(R, j), reduce(false, reduce(false, reduce(false, MINUS_FLT_MAX, load<f32>(at(x, j - 1))), load<f32>(at(x, j))), load<f32>(at(x, j + 1))));
    }
  }
  for (let r = 0; r < n; r += W) {
    store<f32>(at(R, r), reduce(false, reduce(false, MINUS_FLT_MAX, load<f32>(at(x, r))), load<f32>(at(x, r + 1))));
    store<f32>(at(R, r + W - 1), reduce(false, reduce(false, MINUS_FLT_MAX, load<f32>(at(x, r + W - 2))), load<f32>(at(x, r + W - 1))));
  }
  rowsMax(y, R, at(R, W), 0, W, false);
  rowsMax(at(y, W), R, at(R, W), at(R, 2 * W), n - 2 * W, true);
  rowsMax(at(y, n - W), at(R, n - 2 * W), at(R, n - W), 0, W, false);
}

/** dst[j] = a[j] (+) b[j] ((+) c[j] when three) for j in [0, n): MAX of non-NaN rows, in order. */
@inline function rowsMax(dst: usize, a: usize, b: usize, c: usize, n: i32, three: bool): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    let v = f32x4.pmax(v128.load(at(a, j)), v128.load(at(b, j)));
    if (three) v = f32x4.pmax(v, v128.load(at(c, j)));
    v128.store(at(dst, j), v);
  }
  for (; j < n; j++) {
    let v = reduce(false, load<f32>(at(a, j)), load<f32>(at(b, j)));
    if (three) v = reduce(false, v, load<f32>(at(c, j)));
    store<f32>(at(dst, j), v);
  }
}
// AVE of any other windows in Caffe's order: each input row a window needs is copied once into a ring of padded
// rows (job word 21 of them: the most rows of a window), the image row at [pw, pw + W) and 0 around it; then per
// output row, four outputs a step (strides 1 and 2; a scalar loop otherwise): from +0, each of the window's rows
// top to bottom adds its taps left to right; divided by Caffe's divisor rowSpan x colSpan.
function avePlane(p: usize, x: usize, y: usize, scratch: usize): void {
  const W = word(p, 8), outH = word(p, 9), outW = word(p, 10);
  const kw = word(p, 11), sw = word(p, 12), pw = word(p, 13), slots = word(p, 21);
  const rowStart = addr(p, 15), rowEnd = addr(p, 16), rowSpan = addr(p, 17), colSpan = addr(p, 18);
  const length = word(p, 19), stride = (length + 3) & ~3, strideBytes = <usize>stride << 2;
  const tmp = at(scratch, slots * stride), zero = f32x4.splat(0);
  for (let r = 0; r < slots; r++) {
    const row = at(scratch, r * stride);
    memory.fill(row, 0, <usize>pw << 2);
    memory.fill(at(row, pw + W), 0, <usize>(stride - pw - W) << 2);
  }
  let next = 0;
  for (let oy = 0; oy < outH; oy++) {
    const h0 = load<i32>(at(rowStart, oy)), h1 = load<i32>(at(rowEnd, oy)), out = at(y, oy * outW);
    for (let h = max(next, h0); h < h1; h++) memory.copy(scratch + <usize>(h % slots) * strideBytes + (<usize>pw << 2), at(x, h * W), <usize>W << 2);
    next = max(next, h1);
    const hsv = f32x4.splat(<f32>load<i32>(at(rowSpan, oy))), hs = <f32>load<i32>(at(rowSpan, oy));
    let ox = 0;
    if (sw <= 2) {
      for (; ox < outW; ox += 4) {
        let acc = zero;
        for (let h = h0; h < h1; h++) acc = addTaps4(acc, scratch + <usize>(h % slots) * strideBytes + (<usize>(ox * sw) << 2), kw, sw);
        acc = f32x4.div(acc, f32x4.mul(hsv, f32x4.convert_i32x4_s(v128.load(at(colSpan, ox)))));
        if (ox + 4 <= outW) v128.store(at(out, ox), acc);
        else {
          // The row's last, partial vector: its extra lanes read the rows' padding; only the real ones are kept.
          v128.store(tmp, acc);
          for (let j = ox; j < outW; j++) store<f32>(at(out, j), load<f32>(at(tmp, j - ox)));
        }
      }
    }
    for (; ox < outW; ox++) {
      let acc: f32 = 0;
      for (let h = h0; h < h1; h++) {
        const row = scratch + <usize>(h % slots) * strideBytes;
        for (let kx = 0; kx < kw; kx++) acc += load<f32>(at(row, ox * sw + kx));
      }
      store<f32>(at(out, ox), acc / (hs * <f32>load<i32>(at(colSpan, ox))));
    }
  }
}

/** acc + the taps of one padded row for four outputs from src (stride 1 or 2), left to right. */
@inline function addTaps4(acc: v128, src: usize, kw: i32, sw: i32): v128 {
  if (sw == 1) {
    for (let kx = 0; kx < kw; kx++) acc = f32x4.add(acc, v128.load(at(src, kx)));
    return acc;
  }
  // Stride 2: tap kx is the even lanes of entries kx .. kx + 7.
  for (let kx = 0; kx < kw; kx++) {
    const s = at(src, kx);
    acc = f32x4.add(acc, i32x4.shuffle(v128.load(s), v128.load(s, 16), 0, 2, 4, 6));
  }
  return acc;
}

// MAX of any other windows, in Caffe's order (rows first, see maxPlane3s2). Each input row's windows reduce to row
// maxima (identity first, taps left to right), then each output row is the pmax of its window's rows, top to
// bottom (an empty window, CEIL past the padded image: the identity). Straight from the input: outputs [lo, hi)
// (job words 23, 24; stride 1 or 2 and at least 4 of them, else none) read only columns inside the row, four a
// step, the last step ending at hi (overlapping the one before: the same values written twice); the others (the
// padded or clipped edges) a scalar loop over their clipped window, as Caffe's. Job word 22: 1 when no input row
// serves two windows (kernel_h <= stride_h: VGG's and OpenPose's 2x2 stride 2): the rows reduce in registers;
// 0: each row's maxima go once to a ring of kh rows (job word 21: the most rows of a window), however many
// windows read it.
function maxPlane(p: usize, x: usize, y: usize, scratch: usize): void {
  const W = word(p, 8), outH = word(p, 9), outW = word(p, 10);
  const kw = word(p, 11), sw = word(p, 12), pw = word(p, 13), slots = word(p, 21), fused = word(p, 22) == 1;
  const lo = word(p, 23), hi = word(p, 24);
  const rowStart = addr(p, 15), rowEnd = addr(p, 16);
  const identity = f32x4.splat(MINUS_FLT_MAX), rowBytes = <usize>W << 2;
  const slotFloats = ((outW + 3) & ~3) + 4;
  let next = 0;
  for (let oy = 0; oy < outH; oy++) {
    const h0 = load<i32>(at(rowStart, oy)), h1 = load<i32>(at(rowEnd, oy)), out = at(y, oy * outW);
    if (fused || h1 <= h0) {
      // Edges: Caffe's loop over the clipped window.
      for (let ox = 0; ox < outW; ox++) {
        if (ox == lo) ox = hi;
        if (ox >= outW) break;
        const c0 = max(ox * sw - pw, 0), c1 = min(ox * sw - pw + kw, W);
        let acc = MINUS_FLT_MAX;
        for (let h = h0; h < h1; h++) {
          const row = at(x, h * W);
          for (let c = c0; c < c1; c++) acc = reduce(false, acc, load<f32>(at(row, c)));
        }
        store<f32>(at(out, ox), acc);
      }
      if (hi <= lo) continue;
      const top = at(x, h0 * W - pw);
      for (let ox = lo; ox < hi; ox += 4) {
        const o = min(ox, hi - 4);
        let src = at(top, o * sw);
        let acc = identity;
        if (h1 > h0) {
          acc = windowMax4(identity, src, kw, sw);
          for (let h = h0 + 1; h < h1; h++) {
            src += rowBytes;
            acc = f32x4.pmax(acc, windowMax4(identity, src, kw, sw));
          }
        }
        v128.store(at(out, o), acc);
      }
      continue;
    }
    for (let h = max(next, h0); h < h1; h++) {
      const slot = at(scratch, (h % slots) * slotFloats), row = at(x, h * W);
      for (let ox = 0; ox < outW; ox++) {
        if (ox == lo) ox = hi;
        if (ox >= outW) break;
        const c0 = max(ox * sw - pw, 0), c1 = min(ox * sw - pw + kw, W);
        let acc = MINUS_FLT_MAX;
        for (let c = c0; c < c1; c++) acc = reduce(false, acc, load<f32>(at(row, c)));
        store<f32>(at(slot, ox), acc);
      }
      for (let ox = lo; ox < hi; ox += 4) {
        const o = min(ox, hi - 4);
        v128.store(at(slot, o), windowMax4(identity, at(row, o * sw - pw), kw, sw));
      }
    }
    next = max(next, h1);
    const rows = h1 - h0;
    // The window's rows in the ring (two or three: the nets' kernels, straight; more: a pass each).
    const a = at(scratch, (h0 % slots) * slotFloats), b = at(scratch, ((h0 + 1) % slots) * slotFloats);
    const c = at(scratch, ((h0 + 2) % slots) * slotFloats);
    if (rows == 1) rowsMax(out, a, a, 0, outW, false);
    else if (rows == 2) rowsMax(out, a, b, 0, outW, false);
    else {
      rowsMax(out, a, b, c, outW, true);
      for (let h = h0 + 3; h < h1; h++) rowsMax(out, out, at(scratch, (h % slots) * slotFloats), 0, outW, false);
    }
  }
}

/**
 * Row maxima of four windows from src (the first one's first column; stride 1 or 2): identity first, then the
 * taps left to right. Reads src[0 .. 3 sw + kw - 1] (stride 2 and kernel 1: src[0 .. 7]).
 */
@inline function windowMax4(identity: v128, src: usize, kw: i32, sw: i32): v128 {
  let acc: v128;
  if (sw == 1) {
    acc = f32x4.pmax(identity, v128.load(src));
    for (let kx = 1; kx < kw; kx++) acc = f32x4.pmax(acc, v128.load(at(src, kx)));
  } else {
    const v0 = v128.load(src), v1 = v128.load(src, 16);
    acc = f32x4.pmax(identity, i32x4.shuffle(v0, v1, 0, 2, 4, 6));
    if (kw > 1) acc = f32x4.pmax(acc, i32x4.shuffle(v0, v1, 1, 3, 5, 7));
    for (let kx = 2; kx < kw; kx++) {
      const s = at(src, kx);
      acc = f32x4.pmax(acc, i32x4.shuffle(v128.load(s), v128.load(s, 16), 0, 2, 4, 6));
    }
  }
  return acc;
}
