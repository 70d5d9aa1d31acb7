import { paramsOf } from '../caffe/schema.js';
import { type Shape, shapeString } from '../tensor.js';
import { type LayerType, expectCounts, expectWeight, need } from './layer.js';

/**
 * y = x > 0 ? x : a_c x with a learned slope per channel (axis 1), or one slope for all when channel_shared.
 * Weights: (C), or one value when shared. A net without weights gets Caffe's own initial slopes when they are
 * deterministic (no filler: 0.25; a constant filler: its value).
 */
export const preluLayer: LayerType = {
  type: 'PReLU',
  create(def, weights) {
    const p = paramsOf<{ channel_shared: boolean; filler?: { type?: string; value?: number } }>(def, 'prelu_param');
    const filler = p.filler;
    const deterministic = weights.length === 0 && (!filler || (filler.type ?? 'constant') === 'constant');
    const fillerSlope = deterministic ? (filler ? (filler.value ?? 0) : 0.25) : undefined;
    let slopes: Float32Array = new Float32Array(0);
    return {
      inPlace: true,
      reshape([shape]: Shape[]) {
        expectCounts(def, [1, 1], [1, 1]);
        need(def, shape.length >= 2, () => `needs a bottom with at least 2 axes (num, channels, ...), got ${shapeString(shape)}`);
        // Caffe stores a shared slope as a 0-D blob; expectWeight matches that (and legacy 4-D forms) against [1].
        const want = p.channel_shared ? [1] : [shape[1]];
        if (fillerSlope !== undefined) slopes = new Float32Array(want[0]).fill(fillerSlope);
        else slopes = expectWeight(def, weights, 0, 'the negative slopes', want).data;
        return [shape];
      },
      forward([bottom], [top]) {
        const x = bottom.data, y = top.data, dims = bottom.dims;
        const channels = dims[1], inner = x.length / (dims[0] * channels || 1);
        let i = 0;
        for (let img = 0; img < dims[0]; img++) {
          for (let c = 0; c < channels; c++) {
            const a = p.channel_shared ? slopes[0] : slopes[c];
            for (const end = i + inner; i < end; i++) {
              const v = x[i];
              y[i] = v > 0 ? v : a * v + 0; // + 0: as ReLU, Caffe gives +0 for negative x at slope 0
            }
          }
        }
      },
    };
  },
};
