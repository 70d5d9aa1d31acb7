// Images decoded by the browser, with the values the Node path (sharp) gives: createImageBitmap without colour-space
// conversion, EXIF orientation for JPEGs only (as imageio, hence pycaffe, does), read back through a canvas,
// then the same conversion to floats (src/image/pixels.ts). A file's channel count (gray or colour, alpha or not)
// comes from its header, as sharp reports it, since a canvas always gives RGBA.
import type { FloatImage } from '../image/image.js';
import { checkImageHeader, fileChannels, withoutOrientation } from '../image/header.js';
import { floatImage } from '../image/pixels.js';
import { CremaError } from '../util/errors.js';

/** Decodes a PNG / JPEG / WebP as pycaffe's `caffe.io.load_image(file, color)` would read it: float32 in [0, 1]. */
export async function decodeImage(source: Blob | ArrayBuffer | Uint8Array, color = true, name = 'image', upright = true): Promise<FloatImage> {
  const bytes = source instanceof Blob ? new Uint8Array(await source.arrayBuffer()) : new Uint8Array(source instanceof Uint8Array ? source : new Uint8Array(source));
  if (bytes.length === 0) throw new CremaError(`${name}: empty, not an image`);
  checkImageHeader(bytes, color, name);
  let bitmap: ImageBitmap;
  try {
    // EXIF orientation applies to JPEGs only, as imageio (hence pycaffe) and the Node path do; `upright` false leaves
    // it unapplied, as PIL's Image.open (FCN's, HED's and RCF's demos: Net.segment, Net.edges). Chromium turns a JPEG
    // upright even when told 'none', so the orientation is taken out of the bytes instead.
    const imageOrientation = bytes[0] === 0xff && bytes[1] === 0xd8 ? 'from-image' : 'none';
    bitmap = await createImageBitmap(new Blob([upright ? bytes : withoutOrientation(bytes)]), { colorSpaceConversion: 'none', imageOrientation, premultiplyAlpha: 'none' } as ImageBitmapOptions);
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
