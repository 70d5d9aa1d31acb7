import { Tensor, shapeString } from '../tensor.js';
import { CremaError } from '../util/errors.js';
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

/** Throws a CremaError naming the flag when the options cannot apply to this input. */
export function checkPreprocessOptions(geo: InputGeometry, o: PreprocessOptions): void {
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
