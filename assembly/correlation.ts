// FlowNet's Correlation and DispNet's Correlation1D (lmb-freiburg's CorrelateData, correlation_type MULTIPLY and SUBTRACT) with
// the bits of src/layers/correlation.ts's and correlation1d.ts's loops, their fallback and reference (the 1-D layer is
// the 2-D one padded along x only, its patches' rows from the top row itself, one row of displacements from its own
// first shift): per top pixel and displacement, 32 lane sums (lane l
// over the channels l, l + 32, ... of each patch pixel in the kernel's order, each product added by one fused
// multiply-add: maddExact), then the lanes added in order from +0 and the total divided by k^2 C, in float. Eight
// vectors hold the 32 lanes; four horizontal displacements' lanes are transposed so that one vector add adds lane l
// to four totals at once (the lanes' order kept).
//
// Mode 0 copies both bottoms zero-padded and channels last (the fork's rbot1_ / rbot2_; 4 channels by 4 pixels at a
// time through a 4 x 4 transpose in registers, not one float a plane at a time), each pixel's channels
// padded with zeros to `cp`, a multiple of 4, so that every block of lanes is whole vectors: those lanes add 0 x 0,
// which leaves a lane sum as it is but for a -0 (an underflowed product's), made +0; the total cannot tell the two
// apart (it starts at +0, so it is never -0, and x + -0 = x + +0 for every other x).
//
// Job fields (32-bit words at p, written by src/kernels/correlation.ts): 3 mode. Mode 0: 4 bottom 0 (N C H W),
// 5 its padded copy, 6 bottom 1, 7 its copy, 8 channels, 9 height, 10 width, 11 pad along x, 12 cp, 13 padded rows
// a chunk (chunks past half the job copy bottom 1), 14 pad along y, 19 images. Mode 1: 4 padded bottom 0, 5 padded
// bottom 1, 6 top, 7 cp, 8 padded height, 9 padded width, 10 kernel_size, 11 the patches' first column
// (max_displacement), 12 stride_1, 13 stride_2, 14 displacements a row, 15 top height, 16 top width, 17 top rows a
// chunk, 18 k^2 C (f32), 19 images, 20 the patches' first row (max_displacement; 1-D: 0), 21 rows of displacements,
// 22 and 23 the first displacement's x and y index (-r; 1-D: -r or 0, and 0), 24 SUBTRACT (1) or MULTIPLY (0).

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { addr, maddExact, word } from './simd';
import { column } from './winograd7';

export function correlationChunk(p: usize, chunk: i32, scratch: usize): void {
  if (word(p, 3) == 0) padChunk(p, chunk);
  else correlateChunk(p, chunk, scratch);
}

/** Padded rows (image, row) of one bottom's copy: zeros, or the row's pixels with their channels gathered. */
function padChunk(p: usize, chunk: i32): void {
  const channels = word(p, 8), height = word(p, 9), width = word(p, 10), pad = word(p, 11), cp = word(p, 12), per = word(p, 13);
  const padY = word(p, 14), ph = height + 2 * padY, pw = width + 2 * pad, rows = word(p, 19) * ph;
  const half = (rows + per - 1) / per, second = chunk >= half, first = (second ? chunk - half : chunk) * per;
  const x = addr(p, second ? 6 : 4), out = addr(p, second ? 7 : 5);
  const last = min(rows, first + per), rowBytes = <usize>(pw * cp) << 2, plane = <usize>(height * width) << 2;
  for (let r = first; r < last; r++) {
    const n = r / ph, y = r % ph - padY, row = out + <usize>r * rowBytes;
    if (y < 0 || y >= height) {
      memory.fill(row, 0, rowBytes);
      continue;
    }
    const side = <usize>(pad * cp) << 2;
    memory.fill(row, 0, side);
    memory.fill(row + rowBytes - side, 0, side);
    const from = x + <usize>(n * channels) * plane + (<usize>(y * width) << 2);
    gatherRow(from, plane, channels, width, cp, row + side);
  }
}

/**
 * One row of `width` pixels from `channels` planes (`plane` bytes apart, the row at `from` in the first) to `to`,
 * channels last, each pixel's `cp` channels padded with zeros: 4 channels by 4 pixels at a time, four vector loads
 * (one a plane) transposed into four stores (one a pixel). Only copies: the bits stay as they are.
 */
function gatherRow(from: usize, plane: usize, channels: i32, width: i32, cp: i32, to: usize): void {
  const pixelBytes = <usize>cp << 2, c4 = channels & ~3, w4 = width & ~3;
  for (let c = 0; c < c4; c += 4) {
    const s = from + <usize>c * plane, d = to + (<usize>c << 2);
    for (let xx = 0; xx < w4; xx += 4) {
      const at = s + (<usize>xx << 2), o = d + <usize>xx * pixelBytes;
      const r0 = v128.load(at), r1 = v128.load(at + plane), r2 = v128.load(at + 2 * plane), r3 = v128.load(at + 3 * plane);
      v128.store(o, column(r0, r1, r2, r3, 0));
      v128.store(o + pixelBytes, column(r0, r1, r2, r3, 1));
      v128.store(o + 2 * pixelBytes, column(r0, r1, r2, r3, 2));
      v128.store(o + 3 * pixelBytes, column(r0, r1, r2, r3, 3));
    }
    for (let xx = w4; xx < width; xx++)
      for (let q = 0; q < 4; q++) store<f32>(d + <usize>xx * pixelBytes + (<usize>q << 2), load<f32>(s + <usize>q * plane + (<usize>xx << 2)));
  }
  // The last 1-3 channels, then the zeros up to cp
  for (let xx = 0; xx < width; xx++) {
    const o = to + <usize>xx * pixelBytes, at = from + (<usize>xx << 2);
    for (let c = c4; c < channels; c++) store<f32>(o + (<usize>c << 2), load<f32>(at + <usize>c * plane));
    for (let c = channels; c < cp; c++) store<f32>(o + (<usize>c << 2), 0);
  }
}

/**
 * Top rows (image, row): a row of displacements (one vertical shift) at a time over the row's pixels, so that
 * bottom 1's padded row it reads stays in cache (FlowNet-C's: 104 KB, where its 21 rows are 2.2 MB); along it,
 * four displacements at a time, their lanes kept in `lanes` (512 bytes).
 */
function correlateChunk(p: usize, chunk: i32, lanes: usize): void {
  const a = addr(p, 4), b = addr(p, 5), top = addr(p, 6), cp = word(p, 7), ph = word(p, 8), pw = word(p, 9);
  const k = word(p, 10), maxDisp = word(p, 11), stride1 = word(p, 12), stride2 = word(p, 13), grid = word(p, 14);
  const topH = word(p, 15), topW = word(p, 16), per = word(p, 17), elems = f32x4.splat(load<f32>(p + 18 * 4));
  const rowsOf = word(p, 21), shiftX = word(p, 22), shiftY = word(p, 23), cells = grid * rowsOf, plane = <usize>(topH * topW) << 2, pixelBytes = <usize>cp << 2;
  const rowBytes = <usize>pw * pixelBytes, last = min(word(p, 19) * topH, (chunk + 1) * per), subtract = word(p, 24) != 0;
  for (let r = chunk * per; r < last; r++) {
    const n = r / topH, oy = r % topH, y1 = oy * stride1 + word(p, 20);
    for (let dy = 0; dy < rowsOf; dy++) {
      const y2 = y1 + (dy + shiftY) * stride2;
      for (let ox = 0; ox < topW; ox++) {
        const x1 = ox * stride1 + maxDisp, p1 = a + <usize>((n * ph + y1) * pw + x1) * pixelBytes;
        const out = top + <usize>(n * cells + dy * grid) * plane + (<usize>(oy * topW + ox) << 2);
        for (let dx = 0; dx < grid; dx += 4) {
          const count = min(4, grid - dx);
          const b0 = b + <usize>((n * ph + y2) * pw + x1 + (dx + shiftX) * stride2) * pixelBytes, step = <usize>stride2 * pixelBytes;
          if (subtract) {
            v128.store(lanes, f32x4.div(subtractSums4(p1, b0, step, count, k, cp, rowBytes), elems));
            for (let q = 0; q < count; q++) store<f32>(out + <usize>(dx + q) * plane, load<f32>(lanes + (<usize>q << 2)));
            continue;
          }
          if (count == 4) laneSums4(p1, b0, step, k, cp, rowBytes, lanes);
          else for (let q = 0; q < count; q++) laneSums(p1, b0 + <usize>q * step, k, cp, rowBytes, lanes + (<usize>q << 7));
          v128.store(lanes, f32x4.div(addLanes(lanes), elems));
          for (let q = 0; q < count; q++) store<f32>(out + <usize>(dx + q) * plane, load<f32>(lanes + (<usize>q << 2)));
        }
      }
    }
  }
}

/**
 * The 32 lane sums of one pixel and displacement into `to`: the patches' top-left pixels at `a` and `b`, `cp`
 * floats a pixel, `rowBytes` a padded row.
 */
@inline
function laneSums(a: usize, b: usize, k: i32, cp: i32, rowBytes: usize, to: usize): void {
  let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  const full = cp & ~31, tail = (cp - full) >> 2, pixelBytes = <usize>cp << 2;
  for (let j = 0; j < k; j++)
    for (let i = 0; i < k; i++) {
      const off = <usize>j * rowBytes + <usize>i * pixelBytes, u = a + off, v = b + off;
      for (let c: usize = 0; c < <usize>full << 2; c += 128) {
        const x = u + c, y = v + c;
        s0 = maddExact(s0, v128.load(x), v128.load(y));
        s1 = maddExact(s1, v128.load(x, 16), v128.load(y, 16));
        s2 = maddExact(s2, v128.load(x, 32), v128.load(y, 32));
        s3 = maddExact(s3, v128.load(x, 48), v128.load(y, 48));
        s4 = maddExact(s4, v128.load(x, 64), v128.load(y, 64));
        s5 = maddExact(s5, v128.load(x, 80), v128.load(y, 80));
        s6 = maddExact(s6, v128.load(x, 96), v128.load(y, 96));
        s7 = maddExact(s7, v128.load(x, 112), v128.load(y, 112));
      }
      if (tail == 0) continue;
      // The last block's lanes: the first `tail` vectors (the channels past cp would be the next pixel's).
      const x = u + (<usize>full << 2), y = v + (<usize>full << 2);
      s0 = maddExact(s0, v128.load(x), v128.load(y));
      if (tail > 1) s1 = maddExact(s1, v128.load(x, 16), v128.load(y, 16));
      if (tail > 2) s2 = maddExact(s2, v128.load(x, 32), v128.load(y, 32));
      if (tail > 3) s3 = maddExact(s3, v128.load(x, 48), v128.load(y, 48));
      if (tail > 4) s4 = maddExact(s4, v128.load(x, 64), v128.load(y, 64));
      if (tail > 5) s5 = maddExact(s5, v128.load(x, 80), v128.load(y, 80));
      if (tail > 6) s6 = maddExact(s6, v128.load(x, 96), v128.load(y, 96));
    }
  v128.store(to, s0);
  v128.store(to, s1, 16);
  v128.store(to, s2, 32);
  v128.store(to, s3, 48);
  v128.store(to, s4, 64);
  v128.store(to, s5, 80);
  v128.store(to, s6, 96);
  v128.store(to, s7, 112);
}

/**
 * laneSums of four displacements, `step` bytes apart in bottom 1, into `to` (128 bytes each): a quarter of the lanes
 * at a time (two vectors each, eight in all), each vector of bottom 0 loaded once for the four.
 */
@inline
function laneSums4(a: usize, b: usize, step: usize, k: i32, cp: i32, rowBytes: usize, to: usize): void {
  const full = <usize>(cp & ~31) << 2, tail = (cp - (cp & ~31)) >> 2, pixelBytes = <usize>cp << 2;
  for (let quarter = 0; quarter < 4; quarter++) {
    const lane = <usize>quarter << 5;
    let s00 = f32x4.splat(0), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00;
    for (let j = 0; j < k; j++)
      for (let i = 0; i < k; i++) {
        const off = <usize>j * rowBytes + <usize>i * pixelBytes + lane, u = a + off, v = b + off;
        for (let c: usize = 0; c < full; c += 128) {
          const x = u + c, y = v + c, x0 = v128.load(x), x1 = v128.load(x, 16);
          s00 = maddExact(s00, x0, v128.load(y));
          s10 = maddExact(s10, x0, v128.load(y + step));
          s20 = maddExact(s20, x0, v128.load(y + 2 * step));
          s30 = maddExact(s30, x0, v128.load(y + 3 * step));
          s01 = maddExact(s01, x1, v128.load(y, 16));
          s11 = maddExact(s11, x1, v128.load(y + step, 16));
          s21 = maddExact(s21, x1, v128.load(y + 2 * step, 16));
          s31 = maddExact(s31, x1, v128.load(y + 3 * step, 16));
        }
        // The last block's vectors of this quarter's (2 quarter and 2 quarter + 1) that it has.
        if (tail <= 2 * quarter) continue;
        const x = u + full, y = v + full, x0 = v128.load(x);
        s00 = maddExact(s00, x0, v128.load(y));
        s10 = maddExact(s10, x0, v128.load(y + step));
        s20 = maddExact(s20, x0, v128.load(y + 2 * step));
        s30 = maddExact(s30, x0, v128.load(y + 3 * step));
        if (tail == 2 * quarter + 1) continue;
        const x1 = v128.load(x, 16);
        s01 = maddExact(s01, x1, v128.load(y, 16));
        s11 = maddExact(s11, x1, v128.load(y + step, 16));
        s21 = maddExact(s21, x1, v128.load(y + 2 * step, 16));
        s31 = maddExact(s31, x1, v128.load(y + 3 * step, 16));
      }
    const at = to + lane;
    v128.store(at, s00); v128.store(at, s01, 16);
    v128.store(at, s10, 128); v128.store(at, s11, 144);
    v128.store(at, s20, 256); v128.store(at, s21, 272);
    v128.store(at, s30, 384); v128.store(at, s31, 400);
  }
}

/**
 * CorrelateDataSubtract's sums of `count` (1-4) displacements, `step` bytes apart in bottom 1, one a lane: each
 * the loop's one float sum of |a - b| over the patch's rows, columns and channels in order (lanes past `count`
 * repeat the last displacement, not read past it). Four channels of four displacements at a time: bottom 1's four
 * vectors transposed so that a lane is a displacement, bottom 0's channel splat. The copies' padding channels add
 * |0 - 0| = +0 to a sum that is never -0: nothing.
 */
@inline
function subtractSums4(a: usize, b: usize, step: usize, count: i32, k: i32, cp: i32, rowBytes: usize): v128 {
  const pixelBytes = <usize>cp << 2, s1 = step * <usize>min(1, count - 1), s2 = step * <usize>min(2, count - 1), s3 = step * <usize>min(3, count - 1);
  let sum = f32x4.splat(0);
  for (let j = 0; j < k; j++)
    for (let i = 0; i < k; i++) {
      const off = <usize>j * rowBytes + <usize>i * pixelBytes, u = a + off, v = b + off;
      for (let c: usize = 0; c < pixelBytes; c += 16) {
        const x = v128.load(u + c), y = v + c, y0 = v128.load(y), y1 = v128.load(y + s1), y2 = v128.load(y + s2), y3 = v128.load(y + s3);
        sum = f32x4.add(sum, f32x4.abs(f32x4.sub(i32x4.shuffle(x, x, 0, 0, 0, 0), column(y0, y1, y2, y3, 0))));
        sum = f32x4.add(sum, f32x4.abs(f32x4.sub(i32x4.shuffle(x, x, 1, 1, 1, 1), column(y0, y1, y2, y3, 1))));
        sum = f32x4.add(sum, f32x4.abs(f32x4.sub(i32x4.shuffle(x, x, 2, 2, 2, 2), column(y0, y1, y2, y3, 2))));
        sum = f32x4.add(sum, f32x4.abs(f32x4.sub(i32x4.shuffle(x, x, 3, 3, 3, 3), column(y0, y1, y2, y3, 3))));
      }
    }
  return sum;
}

/**
 * Four displacements' totals (their 32 lanes at lanes + q * 128): from +0, lane 0, then lane 1, ... added, each
 * vector add taking lane l of all four (a 4 x 4 transpose of each block of four lanes).
 */
@inline
function addLanes(lanes: usize): v128 {
  let total = f32x4.splat(0);
  for (let g: usize = 0; g < 128; g += 16) {
    const v0 = v128.load(lanes + g), v1 = v128.load(lanes + 128 + g), v2 = v128.load(lanes + 256 + g), v3 = v128.load(lanes + 384 + g);
    const lo01 = i32x4.shuffle(v0, v1, 0, 4, 1, 5), lo23 = i32x4.shuffle(v2, v3, 0, 4, 1, 5);
    const hi01 = i32x4.shuffle(v0, v1, 2, 6, 3, 7), hi23 = i32x4.shuffle(v2, v3, 2, 6, 3, 7);
    total = f32x4.add(total, i32x4.shuffle(lo01, lo23, 0, 1, 4, 5));
    total = f32x4.add(total, i32x4.shuffle(lo01, lo23, 2, 3, 6, 7));
    total = f32x4.add(total, i32x4.shuffle(hi01, hi23, 0, 1, 4, 5));
    total = f32x4.add(total, i32x4.shuffle(hi01, hi23, 2, 3, 6, 7));
  }
  return total;
}
