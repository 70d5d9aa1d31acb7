import { CremaError } from '../util/errors.js';

/**
 * An image as pycaffe's `caffe.io.load_image` returns it: height x width x channels (HWC, row-major), float32 values
 * in [0, 1], 3 channels (RGB) or 1 (gray).
 */
export interface FloatImage {
  height: number;
  width: number;
  channels: number;
  data: Float32Array;
  /** Bits per sample of the file it was decoded from (16 for a 16-bit PNG), where it came from one. */
  bits?: number;
}

/**
 * The image's bytes (its [0, 1] values times 255, rounded), 3 channels interleaved, in RGB or OpenCV's BGR order;
 * a gray image's one channel tiled to three.
 */
export function imageBytes(im: FloatImage, order: 'rgb' | 'bgr'): Uint8Array {
  const { width, height, channels, data } = im, out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++)
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(255 * data[i * channels + (channels >= 3 ? (order === 'rgb' ? c : 2 - c) : 0)]);
  return out;
}

/** Whether `image` is a decoded image (a FloatImage) rather than a file's path, bytes (Buffer, Uint8Array, ArrayBuffer) or Blob. */
export function isFloatImage(image: unknown): image is FloatImage {
  return typeof image === 'object' && image !== null && !ArrayBuffer.isView(image) && (image as FloatImage).data instanceof Float32Array;
}

export function makeImage(height: number, width: number, channels: number, data?: Float32Array): FloatImage {
  return { height, width, channels, data: data ?? new Float32Array(height * width * channels) };
}

/** The rows [top, top+h) and columns [left, left+w) of an image, optionally mirrored left-right. */
export function cropImage(im: FloatImage, top: number, left: number, h: number, w: number, mirror = false): FloatImage {
  const out = makeImage(h, w, im.channels);
  const k = im.channels;
  for (let y = 0; y < h; y++) {
    const src = ((top + y) * im.width + left) * k;
    const dst = y * w * k;
    if (!mirror) {
      out.data.set(im.data.subarray(src, src + w * k), dst);
      continue;
    }
    for (let x = 0; x < w; x++) for (let c = 0; c < k; c++) out.data[dst + x * k + c] = im.data[src + (w - 1 - x) * k + c];
  }
  return out;
}

/** The most pixels crema decodes in one image, refused from the header before decoding (a decompression bomb). */
export const MAX_PIXELS = 10000 * 10000;

/** The refusal of an image whose header says more than MAX_PIXELS (the Node path, by sharp, and the browser's). */
export function tooManyPixels(file: string): CremaError {
  return new CremaError(`${file}: more than 10000 x 10000 pixels (10^8, crema's limit for an image): make it smaller first`);
}

/**
 * Memory one image may take while it is decoded and prepared (the decoded pixels, their float copy, the resize's
 * buffers): with Node itself and the net's buffers a 10 MB file keeps crema under 1 GB. A 16-bit RGBA PNG of
 * 10^8 pixels compresses to a few MB and took 2.1 GB; this allows about 24 megapixels of 8-bit RGB.
 */
export const IMAGE_MEMORY = 640 * 2 ** 20;

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes % 2 ** 20 ? 1 : 0)} MB`;

/** Refuses work on one image that would take more than IMAGE_MEMORY. */
export function checkImageMemory(bytes: number, what: () => string): void {
  if (bytes > IMAGE_MEMORY) throw new CremaError(`${what()} would take ${mb(bytes)} (crema's limit for one image is ${mb(IMAGE_MEMORY)}): make it smaller first`);
}
