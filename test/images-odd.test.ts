// Odd image files against the real pycaffe (test/fixtures/pycaffe/odd_images.py: skimage.io.imread through
// imageio 2.4 and Pillow 8.1): EXIF orientation, CMYK, a float TIFF named .png, a BMP named .jpg; and the memory
// one image may take (a crafted header, a huge --resize), refused before the work.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkImageHeader, headerSize } from '../src/image/header.js';
import { loadImage } from '../src/image/load.js';
import { makeImage } from '../src/image/image.js';
import { resizeImage } from '../src/image/resize.js';
import { readNpy } from '../src/util/npy.js';

const images = 'test/fixtures/images/odd', expected = 'test/fixtures/pycaffe/odd';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-images-'));

/** What crema loads vs what pycaffe's imread gave (H x W or H x W x C, gray tiled to RGB as load_image does). */
async function worstDifference(name: string): Promise<number> {
  const ref = readNpy(path.join(expected, `${name}.npy`));
  const im = await loadImage(path.join(images, name));
  expect([im.height, im.width]).toEqual(ref.dims.slice(0, 2));
  const k = ref.dims[2] ?? 1;
  let worst = 0;
  for (let i = 0; i < im.height * im.width; i++)
    for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(im.data[3 * i + c] - ref.data[i * k + (k === 1 ? 0 : c)]));
  return worst;
}

describe('odd image files, as pycaffe loads them', () => {
  for (let o = 1; o <= 8; o++) {
    it(`a JPEG with EXIF orientation ${o} is turned upright (bit-identical)`, async () => {
      expect(await worstDifference(`exif${o}.jpg`)).toBe(0);
    });
  }

  it('a PNG\'s EXIF orientation is left alone (imageio\'s PNG reader does)', async () => {
    expect(await worstDifference('exif6.png')).toBe(0);
  });

  it('a CMYK JPEG becomes RGB by Pillow\'s formula, not an ICC transform (was up to 95 levels off)', async () => {
    expect(await worstDifference('cmyk.jpg')).toBe(0);
  });

  it('a float TIFF named .png keeps its float values (was cast to 8 bits)', async () => {
    expect(await worstDifference('float_tiff.png')).toBe(0);
    const im = await loadImage(path.join(images, 'float_tiff.png'));
    expect([Math.min(...im.data), Math.max(...im.data)]).toEqual([-0.5, 2]);
  });

  it('16-bit PNGs: colour (with alpha too) as 8 bits, their high bytes, and gray as 16, as Pillow reads them (colour was read as 1/256 of its values)', async () => {
    for (const name of ['rgb16.png', 'rgba16.png', 'gray16.png']) expect(await worstDifference(name), name).toBe(0);
    expect((await loadImage(path.join(images, 'rgb16.png'))).bits).toBe(8);
    expect((await loadImage(path.join(images, 'gray16.png'))).bits).toBe(16);
  });

  it('a BMP named .jpg is refused by name (sharp cannot decode BMP)', async () => {
    const file = path.join(images, 'bitmap.jpg');
    await expect(loadImage(file)).rejects.toThrow(`${file}: is a BMP image, which crema does not decode (pycaffe would read it): convert it to PNG`);
  });
});

/** A PNG that only declares its size (16-bit RGBA): decoders read the header before any pixel. */
function declaredPng(file: string, width: number, height: number): void {
  const crc = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 16; // bits per sample
  ihdr[9] = 6; // RGBA
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  fs.writeFileSync(file, Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(0))), chunk('IEND', Buffer.alloc(0))]));
}

describe('memory one image may take', () => {
  it('a 16-bit RGBA PNG just under the pixel cap is refused from its header (it took 2.1 GB)', async () => {
    const file = path.join(tmp, 'huge.png');
    declaredPng(file, 9999, 9999);
    expect(fs.statSync(file).size).toBeLessThan(100);
    await expect(loadImage(file)).rejects.toThrow(`${file}: 9999 x 9999 pixels would take 2574.4 MB (crema's limit for one image is 640 MB): make it smaller first`);
  });

  it('a resize whose buffers would pass the limit is refused before any is allocated (--resize 8192 took 2.45 GB)', () => {
    const im = makeImage(112, 112, 3);
    expect(() => resizeImage(im, 8192, 8192)).toThrow('resizing the 112 x 112 image to 8192 x 8192 would take 2304.4 MB (crema\'s limit for one image is 640 MB): make it smaller first');
    const r = spawnSync('node', ['bin/crema.js', 'run', 'models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel',
      '--input', 'models/cifar10_full/examples/cat.jpg', '--resize', '8192', '--crop'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^crema: resizing the \d+ x \d+ image to 8192 x 8192 would take \d+\.\d MB \(crema's limit for one image is 640 MB\): make it smaller first$/);
  });

  it('the largest 16-bit RGBA PNG allowed runs through a net in under 1 GB', () => {
    // 4600 x 4600 x (6 bytes decoded + 24 float) = 605 MB of the 640 MB limit; a real, decodable file of 0.6 MB.
    const file = path.join(tmp, 'large.png');
    const make = spawnSync('node', ['-e', `require('sharp')({ create: { width: 4600, height: 4600, channels: 4, background: { r: 200, g: 100, b: 50, alpha: 0.5 } } }).toColourspace('rgb16').png().toFile(${JSON.stringify(file)}).catch(() => process.exit(1))`]);
    expect(make.status).toBe(0);
    const args = ['run', 'models/cifar10_full/deploy.prototxt', 'models/cifar10_full/weights.caffemodel', '--input', file];
    const r = spawnSync('node', ['--input-type=module', '-e', `const { main } = await import('./dist/cli/main.js');
      const code = await main(${JSON.stringify(args)}); console.error('maxrss', process.resourceUsage().maxRSS); process.exit(code);`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const kb = Number(/maxrss (\d+)/.exec(r.stderr)![1]);
    expect(kb * 1024).toBeLessThan(1e9);
  }, 300_000);
});

describe("the browser's decodeImage refuses a huge header before decoding (checkImageHeader), as the Node path does", () => {
  /** Patches the width and height a PNG / JPEG / WebP header says (the pixels stay a 3 x 2 image's). */
  function sized(format: string, file: Buffer, width: number, height: number): Buffer {
    const b = Buffer.from(file);
    if (format === 'png') {
      b.writeUInt32BE(width, 16);
      b.writeUInt32BE(height, 20);
    } else if (format === 'jpeg') {
      const sof = b.indexOf(Buffer.from([0xff, 0xc0]));
      b.writeUInt16BE(height, sof + 5);
      b.writeUInt16BE(width, sof + 7);
    } else if (format === 'vp8') {
      b.writeUInt16LE(width, 26);
      b.writeUInt16LE(height, 28);
    } else if (format === 'vp8l') {
      b.writeUInt32LE(((b.readUInt32LE(21) & ~0xfffffff) | (width - 1) | ((height - 1) << 14)) >>> 0, 21);
    } else {
      b.writeUIntLE(width - 1, 24, 3);
      b.writeUIntLE(height - 1, 27, 3);
    }
    return b;
  }

  it('over 10^8 pixels: the Node message, from PNG, JPEG and WebP (VP8, VP8L, VP8X) headers; the memory limit likewise', async () => {
    const { default: sharp } = await import('sharp');
    const rgb = sharp({ create: { width: 3, height: 2, channels: 3, background: 'red' } });
    const files: [string, Buffer][] = [
      ['png', await rgb.clone().png().toBuffer()],
      ['jpeg', await rgb.clone().jpeg().toBuffer()],
      ['vp8', await rgb.clone().webp().toBuffer()],
      ['vp8l', await rgb.clone().webp({ lossless: true }).toBuffer()],
      ['vp8x', await sharp({ create: { width: 3, height: 2, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.5 } } }).webp().toBuffer()],
    ];
    const browser = async (b: Buffer, name: string) => {
      try {
        checkImageHeader(b, true, name);
        return 'passed';
      } catch (err) {
        return `${(err as Error).name}: ${(err as Error).message}`;
      }
    };
    const node = (b: Buffer) => loadImage(b).then(() => 'decoded', (err: Error) => `${err.name}: ${err.message}`);
    for (const [format, file] of files) {
      expect(headerSize(file), format).toEqual({ width: 3, height: 2 });
      expect(await browser(file, 'small'), format).toBe('passed');
      // 10001 x 10000 (16383 x 16383 for VP8's 14-bit sizes): one pixel row over the limit
      const [w, h] = format === 'vp8' ? [16383, 16383] : [10001, 10000];
      const huge = sized(format, file, w, h);
      expect(headerSize(huge), format).toEqual({ width: w, height: h });
      const name = `image (Buffer, ${huge.length} bytes)`;
      const said = await browser(huge, name);
      expect(said, format).toBe(`CremaError: ${name}: more than 10000 x 10000 pixels (10^8, crema's limit for an image): make it smaller first`);
      if (format !== 'vp8x') expect(await node(huge), format).toBe(said); // libwebp checks VP8X's canvas against its image chunk first
      // 9000 x 9000 RGB: under 10^8 pixels, over the memory of one image (its floats), refused before decoding too
      const big = sized(format, file, 9000, 9000);
      const bigName = `image (Buffer, ${big.length} bytes)`;
      expect(await browser(big, bigName), format).toBe(`CremaError: ${bigName}: 9000 x 9000 pixels would take 2085.7 MB (crema's limit for one image is 640 MB): make it smaller first`);
      if (format === 'png' || format === 'jpeg') expect(await node(big), format).toBe(await browser(big, bigName));
    }
  });
});
