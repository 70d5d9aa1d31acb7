// What an image file's header says (PNG IHDR, JPEG SOF, WebP VP8 / VP8L / VP8X), read before decoding: the browser's
// decodeImage checks crema's limits with it (the Node path has them from sharp's metadata), and takes the file's
// channel count from it (a canvas always gives RGBA).
import { MAX_PIXELS, checkImageMemory, tooManyPixels } from './image.js';

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

/**
 * Width and height from a PNG (IHDR), JPEG (SOF) or WebP (VP8 / VP8L / VP8X) header, before decoding; undefined
 * when the header does not say (the browser's decoder then judges the file).
 */
export function headerSize(b: Uint8Array): { width: number; height: number } | undefined {
  const u16be = (p: number) => (b[p] << 8) | b[p + 1], u32be = (p: number) => u16be(p) * 65536 + u16be(p + 2);
  const u24le = (p: number) => b[p] | (b[p + 1] << 8) | (b[p + 2] << 16);
  if (b[0] === 0x89 && b[1] === 0x50 && b.length >= 24) return { width: u32be(16), height: u32be(20) };
  if (b[0] === 0xff && b[1] === 0xd8) {
    for (let p = 2; p + 8 < b.length && b[p] === 0xff; p += 2 + u16be(p + 2)) {
      const marker = b[p + 1];
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { width: u16be(p + 7), height: u16be(p + 5) };
    }
    return undefined;
  }
  const tag = (p: number) => String.fromCharCode(...b.subarray(p, p + 4));
  if (b.length >= 30 && tag(0) === 'RIFF' && tag(8) === 'WEBP') {
    const chunk = tag(12);
    if (chunk === 'VP8X') return { width: u24le(24) + 1, height: u24le(27) + 1 };
    if (chunk === 'VP8L' && b[20] === 0x2f) {
      const bits = u24le(21) + b[24] * 2 ** 24;
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8 ') return { width: (b[26] | (b[27] << 8)) & 0x3fff, height: (b[28] | (b[29] << 8)) & 0x3fff };
  }
  return undefined;
}

/**
 * The Node path's limits, from the header before decoding: 10^8 pixels (sharp's limitInputPixels there), and the
 * memory of one image (its 8-bit pixels, the float copy load_image makes and the resize's normalized one), with the
 * Node path's messages. A header that does not say its size is left to the decoder.
 */
export function checkImageHeader(bytes: Uint8Array, color: boolean, name: string): void {
  const size = headerSize(bytes);
  if (size && size.width * size.height > MAX_PIXELS) throw tooManyPixels(name);
  if (size) {
    // The channels the Node path keeps: gray as stored, CMYK JPEGs 4, colour 3 (alpha only for a gray result).
    const k = fileChannels(bytes), cmyk = k === 4 && bytes[0] === 0xff;
    const channels = k <= 2 ? k : cmyk ? 4 : color ? 3 : k;
    checkImageMemory(size.width * size.height * (channels + 8 * (color ? 3 : 1)), () => `${name}: ${size.width} x ${size.height} pixels`);
  }
}

/**
 * A JPEG's bytes with its EXIF orientation set to 1 (a copy; the bytes themselves when there is none to change): the
 * browser's decoders always turn a JPEG upright, and PIL's Image.open does not (Net.segment, Net.edges read images
 * as the demos do). Reads APP1's TIFF header (either byte order) and IFD0's 0x0112 entry only.
 */
export function withoutOrientation(b: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  if (b[0] !== 0xff || b[1] !== 0xd8) return b;
  for (let at = 2; at + 4 <= b.length && b[at] === 0xff; ) {
    const marker = b[at + 1], length = (b[at + 2] << 8) | b[at + 3];
    if (marker === 0xda) break; // the image data: no EXIF before it
    const tiff = at + 10;
    if (marker === 0xe1 && String.fromCharCode(...b.subarray(at + 4, at + 8)) === 'Exif' && tiff + 8 <= b.length) {
      const little = b[tiff] === 0x49;
      const u16 = (i: number) => (little ? b[i] | (b[i + 1] << 8) : (b[i] << 8) | b[i + 1]);
      const u32 = (i: number) => (little ? (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16)) + b[i + 3] * 2 ** 24 : b[i] * 2 ** 24 + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]));
      const ifd = tiff + u32(tiff + 4);
      if (ifd + 2 > b.length) return b;
      for (let k = 0, n = u16(ifd); k < n && ifd + 2 + 12 * k + 12 <= b.length; k++) {
        const entry = ifd + 2 + 12 * k;
        if (u16(entry) !== 0x0112 || u16(entry + 8) === 1) continue;
        const out = b.slice();
        out[entry + 8] = little ? 1 : 0;
        out[entry + 9] = little ? 0 : 1;
        return out;
      }
      return b;
    }
    at += 2 + length;
  }
  return b;
}
