import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type Shape, Tensor } from '../tensor.js';
import type { LayerContext } from '../onnx/context.js';
import { type LayerType, expectCounts, expectWeight, need, need4d } from './layer.js';
import { fmaf } from '../util/round.js';

const f32 = Math.fround;

interface AugmentationParam {
  crop_width?: number;
  crop_height?: number;
  recompute_mean: number;
  mean_per_pixel: boolean;
  mean: number[];
  augment_during_test: boolean;
  /** crop_height x crop_width when both are given (the fork's do_cropping_). */
  crop?: [number, number];
}

/** The fields that make the fork draw random coefficients (generate_*_coeffs), at TEST with augment_during_test. */
const RANDOM_FIELDS = ['mirror', 'rotate', 'zoom', 'translate', 'squeeze', 'translate_x', 'translate_y', 'brightness', 'gamma', 'contrast',
  'color', 'fog_size', 'fog_amount', 'motion_blur_angle', 'motion_blur_size', 'shadow_angle', 'shadow_distance', 'shadow_strength', 'noise',
  'lmult_pow', 'lmult_mult', 'lmult_add', 'sat_pow', 'sat_mult', 'sat_add', 'col_pow', 'col_mult', 'col_add', 'ladd_pow', 'ladd_mult', 'ladd_add', 'col_rotate'];

function readAugmentation(def: LayerParameter): AugmentationParam {
  const p = paramsOf<AugmentationParam>(def, 'augmentation_param');
  const given = (def.augmentation_param ?? {}) as Partial<AugmentationParam> & Record<string, unknown>;
  const crop = given.crop_width !== undefined && given.crop_height !== undefined;
  const random = RANDOM_FIELDS.filter((f) => given[f] !== undefined);
  // Without a crop the fork never augments; with one, at TEST, only augment_during_test draws coefficients.
  need(def, !crop || !p.augment_during_test || random.length === 0, () =>
    `${random.join(', ')} with crop_width / crop_height and augment_during_test: random augmentation at every forward, which crema does not run`);
  return { ...p, crop: crop ? [p.crop_height!, p.crop_width!] : undefined };
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

/** One axis of the crop: per output position, the two source positions and the second's weight (SpatialAugmentation). */
interface CropAxis { lo: Int32Array; frac: Float32Array }

/**
 * The fork's crop without augmentation: the identity transform centred, x_src = x + (bottom − crop) / 2 (exact in
 * float), clamped to [0, size − 1.05] so that floor + 1 stays inside: the last column and row blend 5% of their
 * neighbour in (xpos w − 1.05: 0.95 of w − 1 and 0.05 of w − 2), even when the crop is the bottom's size.
 */
function cropAxis(out: number, size: number): CropAxis {
  const lo = new Int32Array(out), frac = new Float32Array(out), offset = f32(f32(-0.5 * out) + f32(0.5 * size)), top = f32(size - f32(1.05));
  for (let x = 0; x < out; x++) {
    const pos = Math.max(0, Math.min(f32(x + offset), top)), tl = Math.floor(pos);
    lo[x] = tl;
    frac[x] = f32(pos - tl);
  }
  return { lo, frac };
}

/**
 * SpatialAugmentation's bilinear sample: ((1 − xd)(1 − yd))·TL + (xd·yd)·BR + ((1 − xd)·yd)·BL + (xd·(1 − yd))·TR,
 * the three additions fused with their products as nvcc compiles them (the first product into the second). The
 * right and lower neighbours the fork reads are clamped to the last value (the fork's min(idx, count) is one past
 * it, read only where the weight is 0).
 */
function cropSample(x: Float32Array, [num, channels, height, width]: Shape, xs: CropAxis, ys: CropAxis, y: Float32Array): void {
  const ow = xs.lo.length, oh = ys.lo.length, last = x.length - 1;
  for (let cn = 0, o = 0; cn < num * channels; cn++)
    for (let r = 0; r < oh; r++) {
      const yd = ys.frac[r], row = (cn * height + ys.lo[r]) * width;
      for (let q = 0; q < ow; q++, o++) {
        const xd = xs.frac[q], i = row + xs.lo[q];
        const tl = x[i], tr = x[Math.min(i + 1, last)], bl = x[Math.min(i + width, last)], br = x[Math.min(i + 1 + width, last)];
        let v = fmaf(f32(f32(1 - xd) * f32(1 - yd)), tl, f32(f32(xd * yd) * br));
        v = fmaf(f32(f32(1 - xd) * yd), bl, v);
        y[o] = fmaf(f32(xd * f32(1 - yd)), tr, v);
      }
    }
}

/** The crop's axes for a bottom, checked as the fork's Reshape checks them. */
function cropAxes(def: LayerParameter, p: AugmentationParam, [, , height, width]: Shape): { xs: CropAxis; ys: CropAxis } | undefined {
  if (!p.crop) return undefined;
  const [ch, cw] = p.crop;
  need(def, cw >= 1 && ch >= 1 && cw <= width && ch <= height, () => `crop_width x crop_height ${cw} x ${ch} must lie within the ${width} x ${height} bottom (the fork: "crop width greater than original")`);
  return { xs: cropAxis(cw, width), ys: cropAxis(ch, height) };
}

/**
 * DataAugmentation (lmb-freiburg/flownet2, dispflownet-release) at inference: the bottom copied, or with crop_width /
 * crop_height sampled by the fork's centred crop (cropAxis; DispNet's templates crop to the images' own size), then a
 * mean subtracted (see meanOf), the nets' input normalisation: their learnt RGB mean. Restated from
 * data_augmentation_layer.cu; each value is x − mean, one float subtraction (the gemm with k = 1 adds −1·mean·1 to x).
 */
export const dataAugmentationLayer: LayerType = {
  type: 'DataAugmentation',
  create(def, weights) {
    expectCounts(def, [1, 1], [1, 1]);
    const p = readAugmentation(def);
    let mean: Tensor | undefined, crop: { xs: CropAxis; ys: CropAxis } | undefined;
    return {
      // A crop changes the shape: never in place then.
      inPlace: !p.crop,
      reshape([shape]) {
        need4d(def, [shape]);
        crop = cropAxes(def, p, shape);
        const out: Shape = p.crop ? [shape[0], shape[1], ...p.crop] : [...shape];
        mean = meanOf(def, p, weights, out);
        return [out];
      },
      forward([bottom], [top]) {
        const x = bottom.data, y = top.data;
        if (crop) cropSample(x, bottom.dims, crop.xs, crop.ys, y);
        else if (y !== x) y.set(x);
        if (!mean) return;
        // Each mean value covers a run of each sample: one value (a mean per pixel) or a channel's plane.
        const m = mean.data, plane = top.dims[2] * top.dims[3], run = m.length === top.dims[1] * plane ? 1 : plane;
        for (let n = 0, i = 0; n < top.dims[0]; n++)
          for (let k = 0; k < m.length; k++)
            for (const v = m[k], end = i + run; i < end; i++) y[i] = f32(y[i] - v);
      },
    };
  },
  onnx(c: LayerContext) {
    const def = c.layer.def, p = readAugmentation(def), n = c.layer.name, bottom = c.layer.bottomShapes[0], out = c.layer.topShapes[0];
    const mean = meanOf(def, p, c.layer.weights, out), crop = cropAxes(def, p, bottom);
    let x = c.bottom(0);
    if (crop) {
      // The sample's weights are one per axis: X·Cxᵀ, then Cy·(that).
      const rows = c.node('MatMul', [x, c.b.floats(`${n}/cx`, axisMatrix(crop.xs, bottom[3], true), [bottom[3], out[3]])], [c.tmp('rows')]);
      x = c.node('MatMul', [c.b.floats(`${n}/cy`, axisMatrix(crop.ys, bottom[2], false), [out[2], bottom[2]]), rows], [mean ? c.tmp('cropped') : c.top(0)]);
    }
    if (mean) c.node('Sub', [x, c.b.floats(`${n}/mean`, mean.data, mean.dims)], [c.top(0)]);
    else if (!crop) c.alias(0, x);
  },
};

/** A crop axis as a matrix of its two weights a position: (out x in), or transposed (in x out). */
function axisMatrix(axis: CropAxis, size: number, transposed: boolean): Float32Array {
  const out = axis.lo.length, m = new Float32Array(out * size);
  const put = (o: number, i: number, w: number) => (m[transposed ? i * out + o : o * size + i] += w);
  for (let o = 0; o < out; o++) {
    put(o, axis.lo[o], f32(1 - axis.frac[o]));
    if (axis.frac[o] !== 0) put(o, axis.lo[o] + 1, axis.frac[o]);
  }
  return m;
}
