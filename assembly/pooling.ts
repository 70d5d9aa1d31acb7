// MAX and AVE pooling in WebAssembly SIMD, separably: per output row, the window's input rows are reduced into a
// padded row buffer (vectors along the row), then each output reduces kw entries of that buffer (four outputs per
// vector for strides 1 and 2). The buffer's padding holds the reduction's identity (-FLT_MAX for MAX, 0 for AVE),
// so windows that stick out of the image need no special case. MAX keeps Caffe's strict `>` (NaN never wins;
// a window of NaN only gives -FLT_MAX); AVE divides by Caffe's divisor (the window clipped to the padded image).
//
// Job fields (32-bit words at p, written by src/kernels/pooling.ts): 3 x, 4 y, 5 planes per chunk, 6 planes,
// 7 H, 8 W, 9 outH, 10 outW, 11 kw, 12 sw, 13 pw, 14 method (0 MAX, 1 AVE), 15 rowStart, 16 rowEnd, 17 rowSpan,
// 18 colSpan (Int32 tables per output row / column), 19 buffer length (floats).

// @ts-nocheck: AssemblyScript types (i32, f32, v128, usize) are not TypeScript's.

import { addr, word } from './simd';

const MINUS_FLT_MAX: f32 = -3.4028234663852886e38;

@inline function at(base: usize, i: i32): usize {
  return base + (<usize>i << 2);
}

/** max as Caffe's `if (v > best) best = v`: lanes where v is NaN or not greater keep best. */
@inline function maxV(best: v128, v: v128): v128 {
  return v128.bitselect(v, best, f32x4.gt(v, best));
}

export function poolChunk(p: usize, chunk: i32, scratch: usize): void {
  const perChunk = word(p, 5), planes = word(p, 6);
  const H = word(p, 7), W = word(p, 8), outH = word(p, 9), outW = word(p, 10);
  const first = chunk * perChunk, end = min(planes, first + perChunk);
  const x = addr(p, 3), y = addr(p, 4);
  for (let c = first; c < end; c++) poolPlane(p, x + ((<usize>c * H * W) << 2), y + ((<usize>c * outH * outW) << 2), scratch);
}

function poolPlane(p: usize, x: usize, y: usize, buffer: usize): void {
  const W = word(p, 8), outH = word(p, 9), outW = word(p, 10);
  const kw = word(p, 11), sw = word(p, 12), pw = word(p, 13), ave = word(p, 14) == 1;
  const rowStart = addr(p, 15), rowEnd = addr(p, 16), rowSpan = addr(p, 17), colSpan = addr(p, 18);
  const length = word(p, 19);
  const identity: f32 = ave ? 0 : MINUS_FLT_MAX;
  const identityV = f32x4.splat(identity);
  // Padding of the row buffer: the image row sits at [pw, pw + W).
  for (let i = 0; i < pw; i++) store<f32>(at(buffer, i), identity);
  for (let i = pw + W; i < length; i++) store<f32>(at(buffer, i), identity);
  const row = at(buffer, pw);
  for (let oy = 0; oy < outH; oy++) {
    const h0 = load<i32>(at(rowStart, oy)), h1 = load<i32>(at(rowEnd, oy));
    // Vertical: row[w] = reduce over h in [h0, h1) of x[h][w].
    let w = 0;
    for (; w + 4 <= W; w += 4) {
      let acc = identityV;
      for (let h = h0; h < h1; h++) {
        const v = v128.load(at(x, h * W + w));
        acc = ave ? f32x4.add(acc, v) : maxV(acc, v);
      }
      v128.store(at(row, w), acc);
    }
    for (; w < W; w++) {
      let acc = identity;
      for (let h = h0; h < h1; h++) {
        const v = load<f32>(at(x, h * W + w));
        if (ave) acc += v;
        else if (v > acc) acc = v;
      }
      store<f32>(at(row, w), acc);
    }
    // Horizontal: out[ox] = reduce over kx of buffer[ox * sw + kx] (buffer index 0 is image column -pw).
    const out = at(y, oy * outW);
    const hs = <f32>load<i32>(at(rowSpan, oy));
    let ox = 0;
    if (sw <= 2) {
      for (; ox + 4 <= outW; ox += 4) {
        let acc = identityV;
        for (let kx = 0; kx < kw; kx++) {
          const src = at(buffer, ox * sw + kx);
          const v = sw == 1 ? v128.load(src) : i32x4.shuffle(v128.load(src), v128.load(src, 16), 0, 2, 4, 6);
          acc = ave ? f32x4.add(acc, v) : maxV(acc, v);
        }
        if (ave) {
          const divisor = f32x4.mul(f32x4.splat(hs), f32x4.convert_i32x4_s(v128.load(at(colSpan, ox))));
          acc = f32x4.div(acc, divisor);
        }
        v128.store(at(out, ox), acc);
      }
    }
    for (; ox < outW; ox++) {
      let acc = identity;
      for (let kx = 0; kx < kw; kx++) {
        const v = load<f32>(at(buffer, ox * sw + kx));
        if (ave) acc += v;
        else if (v > acc) acc = v;
      }
      if (ave) acc /= hs * <f32>load<i32>(at(colSpan, ox));
      store<f32>(at(out, ox), acc);
    }
  }
}
