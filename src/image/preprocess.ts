import { Tensor, sameShape, shapeString } from '../tensor.js';
import { CremaError, kindOf } from '../util/errors.js';
import { checkOptionKeys } from '../util/options.js';
import { type FloatImage, cropImage } from './image.js';
import type { Mean } from './mean.js';
import { resizeImage } from './resize.js';

/**
 * Caffe's image preprocessing, as pycaffe's caffe.io.Transformer (and caffe.Classifier for resize + crops).
 * Defaults are Caffe's ImageNet convention: resize to the input's H x W, BGR (channel swap 2,1,0 for 3-channel
 * inputs), values 0-255 (raw scale 255), no mean, no input scale.
 */
export interface PreprocessOptions {
  /** Multiplies the [0, 1] image (before the mean): 255 for ImageNet-style nets, 1 for nets fed 0..1 (LeNet). */
  rawScale?: number;
  /** Output channel c takes the image's channel channelSwap[c] (after transposing to C x H x W). */
  channelSwap?: number[];
  mean?: Mean;
  /** Multiplies after the mean is subtracted (e.g. 0.017 for some MobileNets). */
  inputScale?: number;
  /** Resize to this H x W first (caffe.Classifier's image_dims), then crop to the input's size. */
  resize?: [number, number];
  /** Take the center crop of the resized image (caffe.Classifier.predict(oversample=False)). */
  crop?: boolean;
  /** Take 10 crops (4 corners + center, and their mirrors) as caffe.io.oversample: 10 inputs per image. */
  oversample?: boolean;
}

/** The input blob an image is prepared for: C x H x W. */
export interface InputGeometry {
  channels: number;
  height: number;
  width: number;
}

export function geometryOf(dims: readonly number[], name = 'data'): InputGeometry {
  if (!Array.isArray(dims)) throw new CremaError(`geometryOf: expected an input's dims (e.g. net.shapes.get('${name}')), got ${kindOf(dims)}`);
  if (dims.length !== 4) throw new CremaError(`input '${name}' has shape ${shapeString(dims)}: images feed N x C x H x W inputs`);
  const [, channels, height, width] = dims;
  if (channels !== 1 && channels !== 3) throw new CremaError(`input '${name}' has ${channels} channels: images feed 1- (gray) or 3-channel (color) inputs`);
  return { channels, height, width };
}

/** How many inputs one image becomes (10 with oversample). */
export function inputsPerImage(options: PreprocessOptions): number {
  return options.oversample ? 10 : 1;
}

/**
 * Prepares one image for the net: 1 (or 10 with oversample) C x H x W inputs, written into `out` from `offset`
 * (values, not images). Returns how many values were written.
 */
export function preprocessImage(im: FloatImage, geo: InputGeometry, options: PreprocessOptions, out: Float32Array, offset = 0): number {
  checkOptionKeys(options, PREPROCESS_OPTIONS, 'preprocess');
  checkOptions(geo, options, im);
  const crops = options.resize || options.crop || options.oversample ? classifierCrops(im, geo, options) : [im];
  const size = geo.channels * geo.height * geo.width;
  crops.forEach((c, i) => transform(c, geo, options, out.subarray(offset + i * size, offset + (i + 1) * size)));
  return crops.length * size;
}

/** One image's inputs as a tensor of shape (1 or 10) x C x H x W. */
export function preprocess(im: FloatImage, geo: InputGeometry, options: PreprocessOptions = {}): Tensor {
  const n = inputsPerImage(options);
  const t = Tensor.zeros([n, geo.channels, geo.height, geo.width]);
  preprocessImage(im, geo, options, t.data);
  return t;
}

function checkOptions(geo: InputGeometry, o: PreprocessOptions, im: FloatImage): void {
  if (im.channels !== geo.channels) throw new CremaError(`the image has ${im.channels} channel${im.channels === 1 ? '' : 's'}, the input ${geo.channels}`);
  checkPreprocessOptions(geo, o);
}

/** PreprocessOptions' keys: the functions that take them refuse others (a typo like `channelswap` ran BGR). */
export const PREPROCESS_OPTIONS: readonly (keyof PreprocessOptions)[] = ['rawScale', 'channelSwap', 'mean', 'inputScale', 'resize', 'crop', 'oversample'];

/** `options` without the keys that are not PreprocessOptions' (classify's `top`, detect's `threshold`). */
export function preprocessPart(options: PreprocessOptions): PreprocessOptions {
  return Object.fromEntries(Object.entries(options).filter(([k]) => (PREPROCESS_OPTIONS as readonly string[]).includes(k)));
}

/**
 * The options' values as their types say (from JavaScript anything comes): a NaN scale, a mean of 2 values for 3
 * channels or a mean image of another size made NaN inputs silently, `mean: [104, 117, 123]` was ignored, and a
 * string channel swap or a negative resize met a TypeError or RangeError.
 */
function checkPreprocessValues(geo: InputGeometry, o: PreprocessOptions): void {
  for (const key of ['rawScale', 'inputScale'] as const) {
    const v: unknown = o[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw new CremaError(`options.${key}: expected a finite number, got ${typeof v === 'number' ? v : kindOf(v)}`);
  }
  const swap: unknown = o.channelSwap;
  if (swap !== undefined && !Array.isArray(swap)) throw new CremaError(`options.channelSwap: expected an array of channel indices (e.g. [2, 1, 0]), got ${kindOf(swap)}`);
  const resize: unknown = o.resize;
  if (resize !== undefined && !(Array.isArray(resize) && resize.length === 2 && resize.every((d) => Number.isInteger(d) && d >= 1 && d <= 16384)))
    throw new CremaError(`options.resize: expected [height, width], whole numbers of pixels from 1 to 16384, got ${Array.isArray(resize) ? `[${resize.map(String).join(', ')}]` : kindOf(resize)}`);
  const mean: unknown = o.mean;
  if (mean === undefined) return;
  const expected = '{ perChannel: Float64Array.of(…) } or { image: Tensor } (readMean makes one)';
  if (mean === null || typeof mean !== 'object' || Array.isArray(mean) || ArrayBuffer.isView(mean) || !('perChannel' in mean || 'image' in mean))
    throw new CremaError(`options.mean: expected ${expected}, got ${kindOf(mean)}`);
  if ('perChannel' in mean) {
    const values = mean.perChannel as ArrayLike<unknown> | undefined;
    if (!values || typeof values !== 'object' || typeof values.length !== 'number' || !Array.from(values).every((v) => typeof v === 'number' && Number.isFinite(v)))
      throw new CremaError(`options.mean.perChannel: expected finite numbers, one per channel, got ${kindOf(values)}`);
    if (values.length !== geo.channels) throw new CremaError(`options.mean.perChannel: has ${values.length} value${values.length === 1 ? '' : 's'}, the input has ${geo.channels} channel${geo.channels === 1 ? '' : 's'}`);
  } else {
    const image = (mean as { image: unknown }).image as Partial<Tensor> | undefined;
    const dims = image?.dims;
    if (!image || !Array.isArray(dims) || !(image.data instanceof Float32Array || Object.prototype.toString.call(image.data) === '[object Float32Array]'))
      throw new CremaError(`options.mean.image: expected a Tensor (C x H x W), got ${kindOf(image)}`);
    const want = [geo.channels, geo.height, geo.width];
    if (!sameShape(dims, want)) throw new CremaError(`options.mean.image: has shape ${shapeString(dims)}, the input's C x H x W is ${shapeString(want)} (readMean crops a mean image to the input)`);
  }
}

/** Throws a CremaError naming the flag when the options cannot apply to this input. */
export function checkPreprocessOptions(geo: InputGeometry, o: PreprocessOptions): void {
  checkPreprocessValues(geo, o);
  const swap = o.channelSwap;
  if (swap && (swap.length !== geo.channels || swap.some((s) => !Number.isInteger(s) || s < 0 || s >= geo.channels)))
    throw new CremaError(`options.channelSwap ${swap.join(',')}: needs a permutation of 0..${geo.channels - 1} (the input has ${geo.channels} channel${geo.channels === 1 ? '' : 's'})`);
  const [rh, rw] = o.resize ?? [geo.height, geo.width];
  if ((o.crop || o.oversample) && (rh < geo.height || rw < geo.width))
    throw new CremaError(`options.resize ${rh},${rw} is smaller than the input's ${geo.height}x${geo.width}: nothing to crop from`);
}

/**
 * caffe.Classifier.predict: resize to image_dims (always, as pycaffe does), then the center crop, or the 10 crops
 * of caffe.io.oversample: corners (top-left, top-right, bottom-left, bottom-right), center, then the same mirrored.
 */
function classifierCrops(im: FloatImage, geo: InputGeometry, o: PreprocessOptions): FloatImage[] {
  const [h, w] = o.resize ?? [geo.height, geo.width];
  const resized = resizeImage(im, h, w);
  const ch = geo.height, cw = geo.width;
  // numpy truncates center +- crop/2 to int: floor((size - crop) / 2) for sizes >= crop.
  const center: [number, number] = [Math.trunc(h / 2 - ch / 2), Math.trunc(w / 2 - cw / 2)];
  if (!o.oversample) return [cropImage(resized, center[0], center[1], ch, cw)];
  const corners: [number, number][] = [[0, 0], [0, w - cw], [h - ch, 0], [h - ch, w - cw], center];
  return [false, true].flatMap((mirror) => corners.map(([t, l]) => cropImage(resized, t, l, ch, cw, mirror)));
}

/**
 * caffe.io.Transformer.preprocess with transpose (2, 0, 1): resize if the size differs, HWC -> CHW, channel swap,
 * * raw scale, - mean, * input scale. Rounded to float32 after each step as numpy does on float32 arrays.
 */
function transform(im: FloatImage, geo: InputGeometry, o: PreprocessOptions, out: Float32Array): void {
  const src = im.height === geo.height && im.width === geo.width ? im : resizeImage(im, geo.height, geo.width);
  const { channels: k, height: H, width: W } = geo;
  const plane = H * W;
  const swap = o.channelSwap ?? (k === 3 ? [2, 1, 0] : [0]);
  const raw = Math.fround(o.rawScale ?? 255);
  const scale = o.inputScale === undefined ? undefined : Math.fround(o.inputScale);
  const perChannel = o.mean && 'perChannel' in o.mean ? o.mean.perChannel : undefined;
  const meanImage = o.mean && 'image' in o.mean ? o.mean.image.data : undefined;
  for (let c = 0; c < k; c++) {
    const from = swap[c], m = perChannel ? perChannel[c] : 0;
    for (let p = 0; p < plane; p++) {
      let v = Math.fround(src.data[p * k + from] * raw);
      if (perChannel) v = Math.fround(v - m);
      else if (meanImage) v = Math.fround(v - meanImage[c * plane + p]);
      if (scale !== undefined) v = Math.fround(v * scale);
      out[c * plane + p] = v;
    }
  }
}
