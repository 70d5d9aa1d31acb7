import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { need } from './layer.js';
import { reorderingLayer } from './permute.js';

/** transpose_param's dims: every axis of the bottom once (the fork CHECKs their count against the bottom's axes). */
function order(def: LayerParameter, numAxes: number): number[] {
  const dims: number[] = paramsOf(def, 'transpose_param').dim;
  need(def, dims.length === numAxes, () => `transpose_param gives ${dims.length} dims for a ${numAxes}-D bottom; it needs one per axis`);
  need(def, [...dims].sort((a, b) => a - b).every((d, i) => d === i), () => `transpose_param dims ${dims.join(', ')} are not an order of the axes 0 to ${numAxes - 1}`);
  return dims;
}

/**
 * tianzhi0549/CTPN's Transpose (transpose_layer.cpp): axis i of the top is axis dim[i] of the bottom, every axis
 * named (CTPN: im2col's (N, C, H, W) to (W, H, N, C) before its LSTMs, and back). The SSD fork's Permute with
 * another parameter (reorderingLayer).
 */
export const transposeLayer = reorderingLayer('Transpose', order);
