import fs from 'node:fs';
import path from 'node:path';
import { CremaError } from '../util/errors.js';
import { type Bytes, resolveSource } from '../util/source.js';
import type { FloatImage } from './image.js';
import { type RawPixels, floatImage } from './pixels.js';

/** The file types crema decodes as images (everything else is read as data, e.g. .npy). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

// Images are decoded without EXIF rotation and without colour management, as skimage.io.imread (PIL) does: the
// pixels pycaffe sees are the pixels crema sees.
async function decode(source: string | Bytes): Promise<RawPixels> {
  const { path: filePath, bytes, label: file } = resolveSource('image', source);
  if (filePath !== undefined && !fs.existsSync(filePath)) throw new CremaError(`${file}: no such file`);
  // sharp is imported when the first image is read: commands that read no image do not pay for loading it.
  const { default: sharp } = await import('sharp');
  try {
    // 10^8 pixels (a 100-megapixel photo) at most: its float copy is already 1.2 GB.
    let image = sharp(filePath ?? bytes, { failOn: 'error', limitInputPixels: 10000 * 10000 });
    const meta = await image.metadata();
    const sixteen = meta.depth === 'ushort';
    // sharp's raw output of a gray file is RGB unless asked: keep gray files gray (1 or 2 channels, as imread does).
    if ((meta.channels ?? 3) <= 2) image = image.toColourspace(sixteen ? 'grey16' : 'b-w');
    const { data, info } = await image.raw(sixteen ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
    const words = sixteen ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2) : data;
    return { height: info.height, width: info.width, channels: info.channels, max: sixteen ? 65535 : 255, at: (i) => words[i] };
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CremaError(`${file}: cannot decode the image (${why})`);
  }
}

/**
 * Loads an image (a path or the file's bytes) as pycaffe's `caffe.io.load_image(file, color)`:
 * `skimage.img_as_float(skimage.io.imread(file))` as float32 in [0, 1] (see floatImage).
 */
export async function loadImage(file: string | Bytes, color = true): Promise<FloatImage> {
  return floatImage(await decode(file), color);
}
