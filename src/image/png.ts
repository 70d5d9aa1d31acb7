// Pictures encoded as PNG, by sharp (Node only: the browser draws pictures on a canvas instead).
import type { Picture } from './grid.js';

/** Writes a picture as PNG, enlarged `scale` times with nearest-neighbour (crisp pixels). */
export async function encodePng(p: Picture, scale = 1): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  let img = sharp(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength), { raw: { width: p.width, height: p.height, channels: p.channels } });
  if (scale > 1) img = img.resize(p.width * scale, p.height * scale, { kernel: 'nearest' });
  if (p.channels === 1) img = img.toColourspace('b-w'); // a gray PNG, not gray pixels in RGB
  return img.png().toBuffer();
}

/** Bytes (interleaved) as a PNG of 1 (gray) or 3 channels, as they are (segment's, edges' and flow's pictures). */
export async function rgbPng(width: number, height: number, data: Uint8Array, channels: 1 | 3 = 3): Promise<Uint8Array> {
  const { default: sharp } = await import('sharp');
  return sharp(data, { raw: { width, height, channels } }).png().toBuffer();
}
