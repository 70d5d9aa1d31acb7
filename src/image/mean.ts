import { readBlobProto } from '../caffe/binaryproto.js';
import { blobDims, blobValues } from '../caffe/caffemodel.js';
import { tensorFromBlob } from '../caffe/load.js';
import { Tensor, shapeString } from '../tensor.js';
import { CremaError, kindOf } from '../util/errors.js';
import { parseNpy } from '../util/npy.js';
import { type Bytes, type Resolved, bytesOf, resolveSource } from '../util/source.js';

/** A mean to subtract: one value per channel, or a C x H x W image (the size of the net's input). */
export type Mean = { perChannel: Float64Array } | { image: Tensor };

/**
 * Reads a mean: comma-separated values (one per channel, in the net's channel order, e.g. BGR `104,117,123`), or
 * a .binaryproto (a data set's mean image, as Caffe's compute_image_mean writes) or a .npy (C x H x W, or C
 * values), as a path, a `file:` URL (a URL or its string: the path it names; another URL is refused) or the file's
 * bytes (told apart by content). A mean image is center-cropped to the input's H x W (as Caffe's data layer does
 * with a crop), or with `perChannel` averaged over each channel.
 */
export function readMean(spec: string | URL | Bytes, input: { channels: number; height: number; width: number }, perChannel = false): Mean {
  if (!input || typeof input !== 'object' || !['channels', 'height', 'width'].every((k) => Number.isInteger((input as unknown as Record<string, unknown>)[k])))
    throw new CremaError(`readMean: the input is { channels, height, width } (geometryOf(net.shapes.get('data')!) gives it), got ${kindOf(input)}`);
  // Values are only ever a string: a URL (its text 'scheme:…' never starts as a number does) is a file's.
  const values = typeof spec === 'string' ? parseValues(spec) : undefined;
  const label = values ? `mean ${String(spec)}` : undefined;
  const file = values ? undefined : resolveSource('mean', spec);
  const what = label ?? file!.label;
  const mean = values ? { perChannel: values } : fromTensor(readMeanFile(file!), what, perChannel);
  const channels = 'perChannel' in mean ? mean.perChannel.length : mean.image.dims[0];
  if (channels !== input.channels)
    throw new CremaError(`${what}: has ${channels} channel${channels === 1 ? '' : 's'}, the net's input has ${input.channels}`);
  return 'image' in mean ? { image: centerCropMean(mean.image, input.height, input.width, what) } : mean;
}

function parseValues(spec: string): Float64Array | undefined {
  if (!/^\s*[-+.\d]/.test(spec) || /\.(npy|binaryproto)$/i.test(spec)) return undefined;
  const parts = spec.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n)))
    throw new CremaError(`mean ${spec}: expected numbers separated by commas (e.g. 104,117,123), a .binaryproto or a .npy`);
  return Float64Array.from(nums);
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** A .npy or .binaryproto mean, told apart by content (a .npy starts with \x93NUMPY). */
function readMeanFile(file: Resolved): Tensor {
  const ext = file.path && /\.[^./\\]*$/.exec(file.path)?.[0].toLowerCase();
  if (file.path && ext !== '.npy' && ext !== '.binaryproto')
    throw new CremaError(`mean ${file.path}: expected a .binaryproto, a .npy or numbers (e.g. 104,117,123)`);
  const bytes = bytesOf(file);
  if (NPY_MAGIC.every((b, i) => bytes[i] === b)) return parseNpy(bytes, file.label);
  const blob = readBlobProto(bytes, file.label);
  // Caffe reads a shapeless blob as one value (and refuses more); pycaffe's blobproto_to_array fails on it.
  if (!blobDims(blob)) throw new CremaError(`${file.label}: the mean blob has ${blobValues(blob).length} values but no shape (num, channels, height, width or shape { dim })`);
  return tensorFromBlob(blob, file.label);
}

/** Accepts C values, C x H x W, or 1 x C x H x W (a binaryproto's 4-D blob). */
function fromTensor(t: Tensor, file: string, perChannel: boolean): Mean {
  const dims = t.dims.length === 4 && t.dims[0] === 1 ? t.dims.slice(1) : t.dims;
  if (dims.length === 1) return { perChannel: Float64Array.from(t.data) };
  if (dims.length !== 3) throw new CremaError(`${file}: a mean is C values or a C x H x W image, got shape ${shapeString(t.dims)}`);
  const image = new Tensor(dims, t.data);
  return perChannel ? { perChannel: channelAverages(image) } : { image };
}

function channelAverages(t: Tensor): Float64Array {
  const [c, h, w] = t.dims, plane = h * w;
  const out = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let i = ch * plane; i < (ch + 1) * plane; i++) sum += t.data[i];
    out[ch] = sum / plane;
  }
  return out;
}

function centerCropMean(t: Tensor, height: number, width: number, file: string): Tensor {
  const [c, h, w] = t.dims;
  if (h === height && w === width) return t;
  if (h < height || w < width)
    throw new CremaError(`${file}: the mean image is ${h}x${w}, smaller than the net's ${height}x${width} input (or take its per-channel average)`);
  const top = Math.floor((h - height) / 2), left = Math.floor((w - width) / 2);
  const out = Tensor.zeros([c, height, width]);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < height; y++) {
      const src = (ch * h + top + y) * w + left;
      out.data.set(t.data.subarray(src, src + width), (ch * height + y) * width);
    }
  return out;
}
