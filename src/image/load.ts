import fs from 'node:fs';
import path from 'node:path';
import { CremaError } from '../util/errors.js';
import { checkReadable, withOpenFile } from '../util/files.js';
import { sniffNonProtobuf } from '../util/sniff.js';
import { type Source, resolveSource } from '../util/source.js';
import { MAX_PIXELS, checkImageMemory, type FloatImage, tooManyPixels } from './image.js';
import { type RawPixels, floatImage } from './pixels.js';

/** The file types crema decodes as images (everything else is read as data, e.g. .npy). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

// The pixels pycaffe's load_image sees, which skimage.io.imread reads through imageio (2.4) and Pillow: no colour
// management; EXIF orientation applied to JPEGs only (imageio's JPEG reader rotates, its PNG and WebP readers do
// not); CMYK turned into RGB by Pillow's formula (not an ICC transform); float TIFFs as their float values; 16-bit
// colour PNGs as 8 bits (their high bytes), 16-bit gray ones as 16.
async function decode(source: Source, color: boolean, upright: boolean): Promise<RawPixels> {
  const { path: filePath, bytes, label: file } = resolveSource('image', source);
  refuseUnsupported(file, filePath, bytes);
  // sharp is imported when the first image is read: commands that read no image do not pay for loading it.
  const { default: sharp } = await import('sharp');
  let image = sharp(filePath ?? bytes, { failOn: 'error', limitInputPixels: MAX_PIXELS });
  const meta = await image.metadata().catch((err: unknown) => cannotDecode(file, err));
  const cmyk = meta.space === 'cmyk', float = meta.depth === 'float' || meta.depth === 'double';
  const gray = (meta.channels ?? 3) <= 2 && !cmyk;
  // A 16-bit gray file keeps its 16 bits (Pillow's I;16); a 16-bit colour one is read as 8 bits, each sample's high
  // byte, as Pillow reads it (sharp makes the same 8 bits of it).
  const sixteen = !float && gray && (meta.depth === 'ushort' || meta.depth === 'short');
  // What comes out of sharp: 1-2 channels for gray files, 4 for CMYK, 3 for colour (alpha kept only for rgb2gray).
  const channels = gray ? (meta.channels ?? 1) : cmyk ? 4 : color || !meta.hasAlpha ? 3 : 4;
  const sample = float ? 4 : sixteen ? 2 : 1;
  // The float copy load_image makes, and the resize's normalized copy of it (see resize.ts).
  checkImageMemory((meta.width ?? 0) * (meta.height ?? 0) * (channels * sample + 8 * (color ? 3 : 1)),
    () => `${file}: ${meta.width} x ${meta.height} pixels`);
  if (upright && meta.format === 'jpeg' && (meta.orientation ?? 1) > 1) image = image.rotate(); // upright, as imageio does
  if (cmyk) image = image.pipelineColourspace('cmyk').toColourspace('cmyk'); // the file's own CMYK values
  else if (gray) image = image.toColourspace(sixteen ? 'grey16' : 'b-w'); // sharp would make gray files RGB
  else if (channels === 3) image = image.removeAlpha();
  try {
    const { data, info } = await image.raw({ depth: float ? 'float' : sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    const { height, width } = info;
    if (cmyk) return { height, width, channels: 3, max: 255, at: cmykToRgb(data) };
    const words = float ? new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4)
      : sixteen ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2) : data;
    return { height, width, channels: info.channels, max: float ? 1 : sixteen ? 65535 : 255, at: (i) => words[i] };
  } catch (err) {
    return cannotDecode(file, err);
  }
}

function cannotDecode(file: string, err: unknown): never {
  const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
  // sharp refuses a header of more than limitInputPixels before decoding (a decompression bomb): say whose limit.
  if (/exceeds pixel limit/.test(why)) throw tooManyPixels(file);
  throw new CremaError(`${file}: cannot decode the image (${why})`);
}

/** A missing file, or a format sharp cannot read that pycaffe would (found by content: the name may say .jpg). */
function refuseUnsupported(file: string, filePath?: string, bytes?: Uint8Array): void {
  if (filePath !== undefined) checkReadable(filePath); // `no such file`, `is a directory`, ... as every file says
  const head = Buffer.alloc(256);
  if (bytes) head.set(bytes.subarray(0, head.length));
  const read = bytes ? bytes.length : withOpenFile(filePath!, (fd) => fs.readSync(fd, head, 0, head.length, 0));
  // sharp says "unsupported image format" of an empty file (and throws a bare Error on empty bytes).
  if (read === 0) throw new CremaError(`${file}: empty${bytes ? '' : ' file'}, not an image`);
  if (head.toString('latin1', 0, 2) === 'BM')
    throw new CremaError(`${file}: is a BMP image, which crema does not decode (pycaffe would read it): convert it to PNG`);
  // A file that is plainly something else (a text file named .jpg, a .npy, a caffemodel's HDF5): said by what it
  // is, not by sharp's "unsupported image format". Text starting with '<' may be an SVG, which sharp decodes.
  const got = head.subarray(0, Math.min(read, head.length)), kind = sniffNonProtobuf(got);
  const first = got.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0xef && b !== 0xbb && b !== 0xbf); // past white space and a UTF-8 BOM
  if (kind && !kind.includes('image') && !(kind.startsWith('a text file') && first === 0x3c))
    throw new CremaError(`${file}: this is ${kind}, not an image`);
}

/** RGB from Pillow's CMYK conversion (Pillow 8): each of R, G, B is (255 - C/M/Y) (255 - K) / 255, rounded. */
function cmykToRgb(data: Buffer): (i: number) => number {
  return (i) => {
    const px = (i / 3) | 0, c = i - 3 * px;
    const nk = 255 - data[4 * px + 3], t = data[4 * px + c] * nk + 128;
    return nk - ((t + (t >> 8)) >> 8);
  };
}

/**
 * Loads an image (a path, in Node also a file: URL, or the file's bytes) as pycaffe's `caffe.io.load_image(file, color)`:
 * `skimage.img_as_float(skimage.io.imread(file))` as float32 in [0, 1] (see floatImage). `upright` false leaves a
 * JPEG's EXIF orientation unapplied, as PIL's Image.open reads it (the demos of FCN, HED and RCF).
 */
export async function loadImage(file: Source, color = true, upright = true): Promise<FloatImage> {
  return floatImage(await decode(file, color, upright), color);
}
