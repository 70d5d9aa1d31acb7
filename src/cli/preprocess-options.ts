import type { Argv } from 'yargs';
import { type InputGeometry, type PreprocessOptions, checkPreprocessOptions } from '../image/preprocess.js';
import { readMean } from '../image/mean.js';
import { CremaError } from '../util/errors.js';

/** The preprocessing flags, the same for `run` (image inputs) and `classify`. */
export interface ImageArgs {
  mean?: string;
  meanPerChannel?: boolean;
  rawScale?: number;
  channelSwap?: string;
  inputScale?: number;
  resize?: string;
  crop?: boolean;
  oversample?: boolean;
}

/** Adds the preprocessing flags (pycaffe's caffe.io.Transformer / caffe.Classifier options) to a command. */
export function imageArgs<T>(y: Argv<T>) {
  return y
    .option('mean', { type: 'string', group: 'Images:', describe: 'subtract a mean: values per channel (BGR, e.g. 104,117,123), a .binaryproto or a .npy (C x H x W, center-cropped to the input)' })
    .option('mean-per-channel', { type: 'boolean', group: 'Images:', describe: 'average a mean image over each channel instead of cropping it' })
    .option('raw-scale', { type: 'number', group: 'Images:', default: 255, describe: 'multiply the 0..1 image by this before the mean (255: Caffe\'s ImageNet convention; 1 for LeNet)' })
    .option('channel-swap', { type: 'string', group: 'Images:', describe: 'channel order to feed, from the image\'s RGB (default 2,1,0: BGR; 0,1,2 keeps RGB)' })
    .option('input-scale', { type: 'number', group: 'Images:', describe: 'multiply after subtracting the mean (e.g. 0.017)' })
    .option('resize', { type: 'string', group: 'Images:', describe: 'resize to H[,W] first, then crop to the input size (caffe.Classifier\'s image_dims, e.g. 256)' })
    .option('crop', { type: 'boolean', group: 'Images:', describe: 'take the center crop of the resized image (default: resize straight to the input size)' });
}

/** `--mean 104,117,123` (values), not a file: as readMean tells them apart. */
function isMeanValues(spec: string): boolean {
  return /^\s*[-+.\d]/.test(spec) && !/\.(npy|binaryproto)$/i.test(spec);
}

/** readMean in the CLI's words: its messages name the flags ('mean 1,2: ...' is '--mean 1,2: ...'). */
function meanFromFlag(spec: string, geo: InputGeometry, perChannel: boolean | undefined): ReturnType<typeof readMean> {
  try {
    return readMean(spec, geo, perChannel);
  } catch (err) {
    if (!(err instanceof CremaError)) throw err;
    const message = err.message.replace('(or take its per-channel average)', '(use --mean-per-channel)');
    throw new CremaError(message.startsWith('mean ') ? `--${message}` : message);
  }
}

/** Turns the flags into PreprocessOptions for an input of this geometry (reads the mean file). */
export function preprocessOptionsFrom(args: ImageArgs, geo: InputGeometry): PreprocessOptions {
  // The flag averages a mean image: with values (already one per channel) or no --mean it did nothing, silently.
  if (args.meanPerChannel && args.mean === undefined)
    throw new CremaError('--mean-per-channel averages a mean image over each channel: give the image with --mean FILE.binaryproto or FILE.npy');
  if (args.meanPerChannel && isMeanValues(args.mean!))
    throw new CremaError(`--mean-per-channel averages a mean image over each channel; --mean ${args.mean} gives values per channel already (leave the flag out)`);
  const options: PreprocessOptions = {
    mean: args.mean === undefined ? undefined : meanFromFlag(args.mean, geo, args.meanPerChannel),
    rawScale: finite(args.rawScale, '--raw-scale'),
    channelSwap: args.channelSwap === undefined ? undefined : integers(args.channelSwap, '--channel-swap'),
    inputScale: finite(args.inputScale, '--input-scale'),
    resize: args.resize === undefined ? undefined : size(args.resize),
    crop: args.crop,
    oversample: args.oversample,
  };
  checkPreprocessOptions(geo, options);
  return options;
}

function finite(v: number | undefined, flag: string): number | undefined {
  if (v !== undefined && !Number.isFinite(v)) throw new CremaError(`${flag}: expected a number`);
  return v;
}

function integers(s: string, flag: string): number[] {
  const parts = s.split(',').map((p) => p.trim());
  if (!parts.every((p) => /^\d+$/.test(p))) throw new CremaError(`${flag} ${s}: expected channel indices separated by commas (e.g. 2,1,0)`);
  return parts.map(Number);
}

function size(s: string): [number, number] {
  const dims = integers(s.replace(/x/i, ','), '--resize');
  if (dims.length > 2 || dims.some((d) => d < 1 || d > 16384)) throw new CremaError(`--resize ${s}: expected H or H,W (1..16384 pixels)`);
  return [dims[0], dims[1] ?? dims[0]];
}
