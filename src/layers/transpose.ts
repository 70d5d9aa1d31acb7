import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { ints } from '../onnx/builder.js';
import type { LayerContext } from '../onnx/context.js';
import { refuseInPlace } from './axes.js';
import { type LayerType, expectCounts, need } from './layer.js';
import { permuteAxes } from './permute.js';

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
 * another parameter: the same walk, and ONNX Transpose.
 */
export const transposeLayer: LayerType = {
  type: 'Transpose',
  onnx: (c: LayerContext) => void c.node('Transpose', [c.bottom(0)], [c.top(0)], { perm: ints(order(c.layer.def, c.layer.bottomShapes[0].length)) }),
  create(def) {
    expectCounts(def, [1, 1], [1, 1]);
    refuseInPlace(def);
    let axes: number[] = [];
    return {
      reshape([shape]) {
        need(def, shape.length > 0, 'needs a bottom with at least one axis');
        axes = order(def, shape.length);
        return [axes.map((a) => shape[a])];
      },
      forward([bottom], [top]) {
        if (top.data.length) permuteAxes(bottom, top, axes);
      },
    };
  },
};
