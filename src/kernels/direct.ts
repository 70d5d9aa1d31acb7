// Direct convolution for a few input channels (assembly/direct.ts): a net's first layer (3 channels, 3x3, stride
// 2) without im2col, the GEMM's micro-kernel reading the input rows in place of packed columns. Weights are the
// im2col path's packed A (packed.ts), whose single K block (K = C kh kw <= KC) the kernel walks.

import type { ConvGeometry } from './im2col.js';
import type { PackedConv } from './packed.js';
import { KC, KIND_CONV_DIRECT, THREAD_SCRATCH, type WasmEngine } from './wasm.js';

/** Input channels at most: beyond them im2col's packing is paid back by the GEMM's longer K. */
const MAX_CHANNELS = 4;

/** Floats of one padded input row in the kernel's copy (assembly/direct.ts rowFloats). */
function rowFloats(g: ConvGeometry): number {
  const w = g.width + 2 * g.padW;
  return Math.ceil((g.strideW === 2 ? w + (w & 1) : w) / 4) * 4;
}

/** Output rows per chunk whose copied input rows (all channels) fit in `bytes` of thread scratch, at least 1. */
function rowsFitting(g: ConvGeometry, bytes: number): number {
  const K = g.channels * g.kernelH * g.kernelW, row = rowFloats(g) * 4;
  const room = Math.floor((bytes - row - Math.ceil(K / 4) * 16) / (g.channels * row)); // input rows that fit
  return Math.max(0, Math.floor((room - g.kernelH) / g.strideH) + 1);
}

/**
 * Whether the direct kernel runs this convolution: one group of at most 4 input channels, stride 1 or 2 (the
 * same both ways), no dilation, output rows of at least 8 columns, K within one packed block, and at least one
 * output row's input fitting in thread scratch.
 */
export function directFits(g: ConvGeometry, groups: number): boolean {
  const s = g.strideH;
  return groups === 1 && g.channels <= MAX_CHANNELS && (s === 1 || s === 2) && g.strideW === s &&
    g.dilationH === 1 && g.dilationW === 1 && g.outW >= 8 && g.channels * g.kernelH * g.kernelW <= KC &&
    rowsFitting(g, THREAD_SCRATCH) >= 1;
}

/** y (num x M x OH x OW) = convolution of x (num x C x H x W) by the packed weights, bias and leaky ReLU fused. */
export function convDirectWasm(e: WasmEngine, packed: PackedConv, g: ConvGeometry, num: number, x: Float32Array, y: Float32Array, reluSlope: number | undefined): void {
  const { xAt, yAt } = e.stage(x, y);
  // Chunks of output rows: a few per thread, each one's input rows within 128 KB (the L2 cache's share).
  const band = Math.max(1, rowsFitting(g, 128 << 10));
  const perImage = Math.max(Math.ceil(e.chunkCount(num * g.outH) / num), Math.ceil(g.outH / band));
  const rowsPerChunk = Math.ceil(g.outH / perImage);
  const p = e.job(KIND_CONV_DIRECT);
  p[3] = xAt; p[4] = g.channels; p[5] = g.height; p[6] = g.width; p[7] = g.kernelH; p[8] = g.kernelW;
  p[9] = g.padH; p[10] = g.padW; p[11] = g.strideH; p[12] = g.outH; p[13] = g.outW;
  p[14] = packed.rows; p[15] = packed.weights; p[16] = yAt; p[17] = packed.bias;
  p[18] = reluSlope === undefined ? 0 : 1;
  e.setFloat(p, 19, reluSlope ?? 0);
  p[20] = rowsPerChunk; p[21] = Math.ceil(g.outH / rowsPerChunk);
  e.run(num * p[21]);
  e.unstage(y, yAt);
}
