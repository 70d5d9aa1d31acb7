// Deconvolution's col2im on the wasm engine, with its bias and fused ReLU: the engine's GEMM wrote the columns
// (every group's, one image), this scatters them onto the output as Caffe's col2im_cpu does, in its order (per
// channel: kernel row, kernel column, input row, input column; each output's contributions added from +0 in that
// order, so its bits are the TypeScript col2im's), then adds the bias and applies the ReLU (src/layers/
// deconvolution.ts finish). One chunk is a run of output channels: their planes are written by no other chunk.
// As a TypeScript loop the scatter took ~45 of FCN-8s's upscore8's 72 ms (21 -> 21 channels, 16 x 16 stride 8).
//
// Job fields (32-bit words at p, written by src/kernels/col2im.ts): 3 columns (channel q's kh * kw rows of inH * inW
// at q * kh * kw * inH * inW), 4 y (channel q's H * W plane at q * H * W), 5 channels, 6 channels a chunk, 7 H, 8 W,
// 9 kh, 10 kw, 11 ph, 12 pw, 13 sh, 14 sw, 15 dh, 16 dw, 17 inH, 18 inW, 19 bias (0: none), 20 ReLU (1: fused),
// 21 its slope (f32).

// @ts-nocheck: AssemblyScript types (i32, f32, usize) are not TypeScript's.

import { addr, reluf, word, zeroRow } from './simd';

export function col2imChunk(p: usize, chunk: i32): void {
  const col = addr(p, 3), y = addr(p, 4), channels = word(p, 5), per = word(p, 6);
  const H = word(p, 7), W = word(p, 8), kh = word(p, 9), kw = word(p, 10), ph = word(p, 11), pw = word(p, 12);
  const sh = word(p, 13), sw = word(p, 14), dh = word(p, 15), dw = word(p, 16), inH = word(p, 17), inW = word(p, 18);
  const bias = addr(p, 19), reluOn = word(p, 20) == 1, slope = load<f32>(p + 21 * 4);
  const plane = H * W, rows = <usize>inH * <usize>inW;
  for (let q = chunk * per, end = min(channels, q + per); q < end; q++) {
    const out = y + ((<usize>q * <usize>plane) << 2);
    zeroRow(out, plane);
    let src = col + ((<usize>q * <usize>(kh * kw) * rows) << 2);
    for (let ky = 0; ky < kh; ky++)
      for (let kx = 0; kx < kw; kx++, src += rows << 2) {
        const xShift = kx * dw - pw;
        // Input columns whose output column ix * sw + xShift is inside [0, W).
        const lo = xShift >= 0 ? 0 : min(inW, (-xShift + sw - 1) / sw);
        const hi = W - 1 - xShift < 0 ? lo : max(lo, min(inW, (W - 1 - xShift) / sw + 1));
        for (let iy = 0; iy < inH; iy++) {
          const oy = iy * sh - ph + ky * dh;
          if (oy < 0 || oy >= H) continue;
          const s = src + ((<usize>(iy * inW)) << 2);
          let d = out + ((<usize>(oy * W + xShift + lo * sw)) << 2);
          const step = <usize>sw << 2;
          for (let ix = lo; ix < hi; ix++, d += step) store<f32>(d, load<f32>(d) + load<f32>(s + (<usize>ix << 2)));
        }
      }
    if (bias == 0 && !reluOn) continue;
    const b: f32 = bias ? load<f32>(bias + (<usize>q << 2)) : 0;
    for (let i: usize = 0, n = <usize>plane << 2; i < n; i += 4) {
      let v = load<f32>(out + i);
      if (bias) v = v + b;
      if (reluOn) v = reluf(v, slope);
      store<f32>(out + i, v);
    }
  }
}
