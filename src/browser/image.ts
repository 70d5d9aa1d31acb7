// Images decoded by the browser, with the values the Node path (sharp) gives: createImageBitmap without colour-space
// conversion, EXIF orientation for JPEGs only (as imageio, hence pycaffe, does), read back through a canvas,
// then the same conversion to floats (src/image/pixels.ts). A file's channel count (gray or colour, alpha or not)
// comes from its header, as sharp reports it, since a canvas always gives RGBA.
import type { FloatImage } from '../image/image.js';
import { floatImage } from '../image/pixels.js';
import { CremaError } from '../util/errors.js';

/** PNG colour types: gray, gray + alpha, RGB, RGBA (a palette decodes to RGB). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 4: 2, 2: 3, 6: 4 };

/** Channels stored in a PNG (IHDR colour type) or JPEG (SOF components); 3 when the header does not say. */
export function fileChannels(b: Uint8Array): number {
  if (b[0] === 0x89 && b[1] === 0x50 && b.length > 25) return PNG_CHANNELS[b[25]] ?? 3;
  if (b[0] === 0xff && b[1] === 0xd8) {
    for (let p = 2; p + 9 < b.length && b[p] === 0xff; p += 2 + ((b[p + 2] << 8) | b[p + 3])) {
      const marker = b[p + 1];
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return b[p + 9];
    }
  }
  return 3;
}

/** Decodes a PNG / JPEG / WebP as pycaffe's `caffe.io.load_image(file, color)` would read it: float32 in [0, 1]. */
export async function decodeImage(source: Blob | ArrayBuffer | Uint8Array, color = true, name = 'image'): Promise<FloatImage> {
  const bytes = source instanceof Blob ? new Uint8Array(await source.arrayBuffer()) : new Uint8Array(source instanceof Uint8Array ? source : new Uint8Array(source));
  if (bytes.length === 0) throw new CremaError(`${name}: empty, not an image`);
  let bitmap: ImageBitmap;
  try {
    // EXIF orientation applies to JPEGs only, as imageio (hence pycaffe) and the Node path do.
    const imageOrientation = bytes[0] === 0xff && bytes[1] === 0xd8 ? 'from-image' : 'none';
    bitmap = await createImageBitmap(new Blob([bytes]), { colorSpaceConversion: 'none', imageOrientation, premultiplyAlpha: 'none' } as ImageBitmapOptions);
  } catch (err) {
    throw new CremaError(`${name}: cannot decode the image (${err instanceof Error ? err.message : String(err)})`);
  }
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true, colorSpace: 'srgb' })!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' }).data;
  const k = fileChannels(bytes);
  // Channel c of a k-channel file in the RGBA the canvas gives: gray is R (= G = B), its alpha is A.
  const slot = k <= 2 ? [0, 3] : [0, 1, 2, 3];
  return floatImage({ height, width, channels: k, max: 255, at: (i) => rgba[4 * Math.floor(i / k) + slot[i % k]] }, color);
}
