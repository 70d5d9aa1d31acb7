import fs from 'node:fs';
import path from 'node:path';
import { CremaError } from '../util/errors.js';
import { type Bytes, resolveSource } from '../util/source.js';
import { type FloatImage, makeImage } from './image.js';

/** The file types crema decodes as images (everything else is read as data, e.g. .npy). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/** Decoded pixels as sharp gives them: interleaved, 1-4 channels, 8 or 16 bits. */
interface RawPixels {
  height: number;
  width: number;
  channels: number;
  max: number;
  at: (i: number) => number;
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
 * Loads an image (a path or the file's bytes) as pycaffe's `caffe.io.load_image(file, color)`: `skimage.img_as_float(skimage.io.imread(file))`
 * as float32 in [0, 1]. Color: RGB (gray tiled to 3 channels, alpha dropped). Gray: as `imread(as_gray=True)`, i.e.
 * a gray file as is, a colour one through skimage's rgb2gray (alpha first blended over white, as rgba2rgb does).
 */
export async function loadImage(file: string | Bytes, color = true): Promise<FloatImage> {
  const px = await decode(file);
  const n = px.height * px.width;
  const grayFile = px.channels <= 2;
  const out = makeImage(px.height, px.width, color ? 3 : 1);
  const d = out.data, k = px.channels, max = px.max;
  for (let i = 0; i < n; i++) {
    if (grayFile) {
      const v = Math.fround(px.at(i * k) / max);
      if (color) d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = v;
      else d[i] = v;
    } else if (color) {
      for (let c = 0; c < 3; c++) d[3 * i + c] = px.at(i * k + c) / max;
    } else {
      d[i] = rgbToGray(px, i * k, k === 4);
    }
  }
  return out;
}

// skimage 0.18: rgb2gray = 0.2125 R + 0.7154 G + 0.0721 B on float64 values; RGBA is first composited over white.
function rgbToGray(px: RawPixels, at: number, alpha: boolean): number {
  const a = alpha ? px.at(at + 3) / px.max : 1;
  const ch = (c: number) => Math.min(1, Math.max(0, (1 - a) * 1 + a * (px.at(at + c) / px.max)));
  return 0.2125 * ch(0) + 0.7154 * ch(1) + 0.0721 * ch(2);
}
