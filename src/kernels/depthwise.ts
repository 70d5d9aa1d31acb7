// Depthwise convolution (one input channel per group) on the wasm engine: assembly/depthwise.ts, one parallel
// job per layer over all output planes, bias and leaky ReLU fused. The TypeScript kernel (im2col.ts's
// depthwisePlane) stays the fallback and the tests' reference.

import type { ConvGeometry } from './im2col.js';
import { KIND_DEPTHWISE, type WasmEngine } from './wasm.js';

/** A depthwise layer's weights (Cout x kh x kw) and bias copied into wasm memory once. */
export interface PackedDepthwise {
  weights: number;
  bias: number;
}

export function packDepthwiseWeights(e: WasmEngine, owner: object, w: Float32Array, bias: Float32Array | undefined): PackedDepthwise {
  const weights = e.heap.alloc(w.length * 4);
  e.own(owner, weights);
  e.f32.set(w, weights / 4);
  let biasPtr = 0;
  if (bias) {
    biasPtr = e.heap.alloc(bias.length * 4);
    e.own(owner, biasPtr);
    // A -0 bias as +0: the kernels start each sum at the bias, Caffe adds it after the taps' sum (from +0), so a
    // sum of zeros is +0 there whatever the bias's sign.
    e.f32.set(bias.map((b) => b + 0), biasPtr / 4);
  }
  return { weights, bias: biasPtr };
}

/**
 * y (num x Cout x OH x OW) = depthwise convolution of x (num x Cin x H x W), output channel o reading input
 * channel floor(o / (Cout / Cin)); then leaky ReLU when `reluSlope` is given.
 */
export function depthwiseWasm(e: WasmEngine, packed: PackedDepthwise, g: ConvGeometry, inChannels: number, outChannels: number, num: number, x: Float32Array, y: Float32Array, reluSlope: number | undefined): void {
  // + 16: stride-2 vector loads may read 4 floats past a row (a resident x has 64 bytes of room after it).
  const { xAt, yAt } = e.stage(x, y, 0, 16);
  const planes = num * outChannels;
  const perChunk = Math.ceil(planes / e.chunkCount(planes));
  const p = e.job(KIND_DEPTHWISE);
  p[3] = xAt; p[4] = inChannels; p[5] = g.height; p[6] = g.width; p[7] = g.kernelH; p[8] = g.kernelW;
  p[9] = g.padH; p[10] = g.padW; p[11] = g.strideH; p[12] = g.strideW; p[13] = g.dilationH; p[14] = g.dilationW;
  p[15] = g.outH; p[16] = g.outW; p[17] = outChannels; p[18] = outChannels / inChannels;
  p[19] = packed.weights; p[20] = yAt; p[21] = packed.bias;
  p[22] = reluSlope === undefined ? 0 : 1;
  e.setFloat(p, 23, reluSlope ?? 0);
  p[24] = perChunk; p[25] = planes;
  e.run(Math.ceil(planes / perChunk));
  e.unstage(y, yAt);
}
