import { paramsOf } from '../caffe/schema.js';
import { type LrnScratch, lrnAcrossChannels, lrnScratch, lrnWithinChannel } from '../kernels/lrn.js';
import { type Shape, shapeString } from '../tensor.js';
import { type LayerType, expectCounts, need } from './layer.js';

interface LrnParams {
  local_size: number;
  alpha: number;
  beta: number;
  k: number;
  norm_region: string;
}

/** Caffe's LRN (lrn_layer.cpp): ACROSS_CHANNELS or WITHIN_CHANNEL local response normalization of a 4-D blob. */
export const lrnLayer: LayerType = {
  type: 'LRN',
  create(def) {
    const p = paramsOf<LrnParams>(def, 'lrn_param');
    const n = p.local_size, { alpha, beta, k } = p;
    need(def, n % 2 === 1, `local_size must be odd (Caffe's LRN only supports odd sizes), got ${n}`);
    const within = p.norm_region === 'WITHIN_CHANNEL';
    need(def, within || p.norm_region === 'ACROSS_CHANNELS', () => `unknown norm_region ${String(p.norm_region)}`);
    let scratch: LrnScratch | undefined;
    // Allocated at reshape, kept across forwards; only a larger shape reallocates.
    const scratchFor = ([, , height, width]: Shape): LrnScratch =>
      (scratch = within
        ? lrnScratch(scratch, width + 2 * Math.min((n - 1) / 2, width), width)
        : lrnScratch(scratch, height * width, height * width));
    return {
      reshape([shape]: Shape[]) {
        expectCounts(def, [1, 1], [1, 1]);
        need(def, shape.length === 4, () => `needs a 4-D bottom (num, channels, height, width), got ${shapeString(shape)}`);
        scratchFor(shape);
        return [shape];
      },
      forward([bottom], [top]) {
        const [num, channels, height, width] = bottom.dims;
        const s = scratchFor(bottom.dims);
        if (within) lrnWithinChannel(bottom.data, top.data, num * channels, height, width, n, alpha, beta, s);
        else lrnAcrossChannels(bottom.data, top.data, num, channels, height * width, n, alpha, beta, k, s);
      },
      macs([shape]) {
        // Per element: the window's squares and the normalization, as the straightforward formula counts them.
        const count = shape[0] * shape[1] * shape[2] * shape[3];
        return count * (within ? n * n : n);
      },
    };
  },
};
