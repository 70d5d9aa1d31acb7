// A stride-1 dilated convolution as an undilated one on its input's phases, so that Winograd runs it (it takes
// dilation 1 only). With xp the zero-padded input and dilation (dh, dw), output (dh a + r, dw b + s) is
//   sum over (ky, kx) of w[ky, kx] * xp[dh (a + ky) + r, dw (b + kx) + s],
// an undilated valid convolution of phase (r, s) of xp, P[u, v] = xp[dh u + r, dw v + s]. So the dh x dw phases go
// through the layer's Winograd as a batch of dh * dw images per image, and the outputs are interleaved back.
// Colorization's conv5_1..conv6_3 (512 -> 512, 3x3, dilation 2, 28 x 28) ran im2col at 72.8 ms each; SSD300's fc6
// (dilation 6) and DeepLab's atrous layers are the same shape of problem.

import type { ConvGeometry } from './im2col.js';
import type { WasmEngine } from './wasm.js';

/**
 * Outputs a phase has at least each way for the phases to run: on smaller ones Winograd's tiles and the phases'
 * padding to one size cost more than they save. One layer at 1 thread, phases / im2col: 14 x 14 phases 0.38
 * (colorization's 28 x 28 at dilation 2), 10 x 10 to 11 x 11 0.66-0.67, 7 x 7 0.65-0.90, 6 x 6 0.92, 4 x 4
 * 1.03-1.54 (SSD300's fc6: 19 x 19 at dilation 6; DeepLab's 41 x 41 at 12: 1.33).
 */
export const MIN_PHASE_OUTPUTS = 6;

/**
 * The undilated geometry of one phase (all padded to the largest, phase (0, 0)); undefined when not dilated,
 * strided, or the phases are too small to pay (MIN_PHASE_OUTPUTS).
 */
export function phaseGeometry(g: ConvGeometry): ConvGeometry | undefined {
  if ((g.dilationH === 1 && g.dilationW === 1) || g.strideH !== 1 || g.strideW !== 1) return undefined;
  const outH = Math.ceil(g.outH / g.dilationH), outW = Math.ceil(g.outW / g.dilationW);
  if (outH < MIN_PHASE_OUTPUTS || outW < MIN_PHASE_OUTPUTS) return undefined;
  return { channels: g.channels, height: outH + g.kernelH - 1, width: outW + g.kernelW - 1, kernelH: g.kernelH, kernelW: g.kernelW,
    padH: 0, padW: 0, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, outH, outW };
}

/** The phases (gathered input, Winograd's output) in wasm memory, shared by every layer; undefined when the memory is not shared. */
export function phaseBuffers(e: WasmEngine, xLength: number, yLength: number): { x: Float32Array; y: Float32Array } | undefined {
  const x = e.sharedArray('phases.x', xLength), y = x && e.sharedArray('phases.y', yLength);
  return x && y ? { x, y } : undefined;
}

/** xs (num * dh * dw images of C x Hq x Wq, phase (r, s) of image n at n * dh * dw + r * dw + s) from x (num x C x H x W). */
export function gatherPhases(g: ConvGeometry, q: ConvGeometry, num: number, x: Float32Array, xs: Float32Array): void {
  const { dilationH: dh, dilationW: dw, height: H, width: W, padH, padW, channels: C } = g;
  const Hq = q.height, Wq = q.width;
  let o = 0;
  for (let n = 0; n < num; n++)
    for (let r = 0; r < dh; r++)
      for (let s = 0; s < dw; s++) {
        // Columns v of the phase read x's column dw v + s - padW: inside [lo, hi), zero elsewhere.
        const lo = Math.min(Wq, Math.max(0, Math.ceil((padW - s) / dw))), hi = Math.max(lo, Math.min(Wq, Math.ceil((W + padW - s) / dw)));
        for (let c = 0; c < C; c++) {
          const plane = (n * C + c) * H * W;
          for (let u = 0; u < Hq; u++, o += Wq) {
            const iy = dh * u + r - padH;
            if (iy < 0 || iy >= H) {
              xs.fill(0, o, o + Wq);
              continue;
            }
            xs.fill(0, o, o + lo);
            for (let v = lo, i = plane + iy * W + dw * lo + s - padW; v < hi; v++, i += dw) xs[o + v] = x[i];
            xs.fill(0, o + hi, o + Wq);
          }
        }
      }
}

/** y (num x M x OH x OW) from the phases' outputs ys (num * dh * dw images of M x qOH x qOW), interleaved. */
export function scatterPhases(g: ConvGeometry, q: ConvGeometry, num: number, M: number, ys: Float32Array, y: Float32Array): void {
  const { dilationH: dh, dilationW: dw, outH, outW } = g;
  const qH = q.outH, qW = q.outW;
  let o = 0;
  for (let n = 0; n < num; n++)
    for (let r = 0; r < dh; r++)
      for (let s = 0; s < dw; s++) {
        const rows = Math.ceil((outH - r) / dh), cols = Math.ceil((outW - s) / dw);
        for (let m = 0; m < M; m++, o += qH * qW) {
          const plane = (n * M + m) * outH * outW;
          for (let a = 0; a < rows; a++)
            for (let b = 0, i = plane + (dh * a + r) * outW + s, k = o + a * qW; b < cols; b++, i += dw) y[i] = ys[k + b];
        }
      }
}
