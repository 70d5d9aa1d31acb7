import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type Shape, Tensor } from '../tensor.js';
import type { LayerContext } from '../onnx/context.js';
import { type LayerType, expectCounts, expectWeight, need, need4d } from './layer.js';

const f32 = Math.fround;

interface AugmentationParam {
  crop_width?: number;
  crop_height?: number;
  recompute_mean: number;
  mean_per_pixel: boolean;
  mean: number[];
}

function readAugmentation(def: LayerParameter): AugmentationParam {
  const p = paramsOf<AugmentationParam>(def, 'augmentation_param');
  const given = (def.augmentation_param ?? {}) as Partial<AugmentationParam>;
  need(def, given.crop_width === undefined || given.crop_height === undefined,
    'crop_width and crop_height turn on the random crops and colour changes of training: crema runs the layer at inference only (no crop)');
  return p;
}

/**
 * The mean the layer subtracts at inference, or undefined: with recompute_mean the learnt one (blob 2, one a
 * channel; blob 1, one a pixel, with mean_per_pixel), else augmentation_param's 3 means (mean_per_pixel false).
 * The fork adds 1 to the iteration count (blob 0) at each forward and, while it is at most recompute_mean, first
 * folds the batch into its mean: a net whose count has not got there computes something else at each run, refused.
 * A mean image of another size with mean_per_pixel is refused too: the fork's two loaders disagree on it (a
 * caffemodel's makes it the per-channel mean everywhere, an HDF5 file's is read as it lies).
 */
function meanOf(def: LayerParameter, p: AugmentationParam, weights: Tensor[], [, channels, height, width]: Shape): Tensor | undefined {
  if (p.recompute_mean > 0) {
    const count = expectWeight(def, weights, 0, 'iteration count', [1, 1, 1, 1]);
    // Its weights loader (adjust_blobs; an HDF5 file reshapes the blob) takes a mean image of any size with the
    // channels; only mean_per_pixel reads it, at the bottom's size.
    const anySize = !p.mean_per_pixel && weights[1]?.dims.length === 4 && weights[1].dims[1] === channels;
    const perPixel = anySize ? weights[1] : expectWeight(def, weights, 1, 'mean per pixel', [1, channels, height, width]);
    const perChannel = expectWeight(def, weights, 2, 'mean per channel', [1, channels, 1, 1]);
    if (count.data.length) {
      const next = Math.trunc(count.data[0]) + 1;
      need(def, next > p.recompute_mean, () =>
        `its iteration count ${count.data[0]} (blob 0) is below recompute_mean ${p.recompute_mean}: the fork would still fold each batch into its mean`);
    }
    return p.mean_per_pixel ? perPixel : perChannel;
  }
  if (p.mean.length === 3 && !p.mean_per_pixel) {
    need(def, channels === 3, () => `subtracts augmentation_param's 3 means from a bottom of ${channels} channels (the fork reads past them)`);
    return new Tensor([1, 3, 1, 1], Float32Array.from(p.mean));
  }
  return undefined;
}

/**
 * DataAugmentation (lmb-freiburg/flownet2) at inference: without crop_width / crop_height (which crema refuses) the
 * fork's forward copies the bottom and subtracts a mean (see meanOf), FlowNet2's input normalisation: its learnt RGB
 * mean. Restated from data_augmentation_layer.cu; each value is x − mean, one float subtraction (the gemm with k = 1
 * adds −1·mean·1 to x).
 */
export const dataAugmentationLayer: LayerType = {
  type: 'DataAugmentation',
  create(def, weights) {
    expectCounts(def, [1, 1], [1, 1]);
    const p = readAugmentation(def);
    let mean: Tensor | undefined;
    return {
      inPlace: true,
      reshape([shape]) {
        need4d(def, [shape]);
        mean = meanOf(def, p, weights, shape);
        return [[...shape]];
      },
      forward([bottom], [top]) {
        const x = bottom.data, y = top.data;
        if (!mean) return void (y !== x && y.set(x));
        // Each mean value covers a run of each sample: one value (a mean per pixel) or a channel's plane.
        const m = mean.data, plane = bottom.dims[2] * bottom.dims[3], run = m.length === bottom.dims[1] * plane ? 1 : plane;
        for (let n = 0, i = 0; n < bottom.dims[0]; n++)
          for (let k = 0; k < m.length; k++)
            for (const v = m[k], end = i + run; i < end; i++) y[i] = f32(x[i] - v);
      },
    };
  },
  onnx(c: LayerContext) {
    const def = c.layer.def, mean = meanOf(def, readAugmentation(def), c.layer.weights, c.layer.bottomShapes[0]);
    if (!mean) return void c.alias(0, c.bottom(0));
    c.node('Sub', [c.bottom(0), c.b.floats(`${c.layer.name}/mean`, mean.data, mean.dims)], [c.top(0)]);
  },
};
