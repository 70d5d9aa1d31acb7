// Deconvolution's col2im, bias and fused ReLU on the wasm engine (assembly/col2im.ts): one parallel job an image
// over its output channels, on resident arrays (the engine's columns and the Net's blob). The TypeScript col2im in
// im2col.ts stays the fallback and the reference.

import type { ConvGeometry } from './im2col.js';
import { KIND_COL2IM, type WasmEngine } from './wasm.js';

/**
 * y's `channels` planes (g.height x g.width, from `yAt`) = col2im of the columns at `colAt` (per channel g.kernelH *
 * g.kernelW rows of g.outH * g.outW) + bias (per channel, resident or copied in; none when undefined), then Caffe's
 * ReLU at `slope` (none when undefined). g's input is the deconvolution's output, as im2col.ts col2im takes it.
 */
export function col2imWasm(e: WasmEngine, g: ConvGeometry, channels: number, colAt: number, yAt: number, bias: Float32Array | undefined, slope: number | undefined): void {
  const biasAt = bias ? e.placed(bias, e.scratch(bias.length * 4)) : 0;
  const per = Math.ceil(channels / e.chunkCount(channels));
  const p = e.job(KIND_COL2IM);
  p[3] = colAt; p[4] = yAt; p[5] = channels; p[6] = per; p[7] = g.height; p[8] = g.width;
  p[9] = g.kernelH; p[10] = g.kernelW; p[11] = g.padH; p[12] = g.padW; p[13] = g.strideH; p[14] = g.strideW;
  p[15] = g.dilationH; p[16] = g.dilationW; p[17] = g.outH; p[18] = g.outW; p[19] = biasAt; p[20] = slope === undefined ? 0 : 1;
  e.setFloat(p, 21, slope ?? 0);
  e.run(Math.ceil(channels / per));
}
