// cvWarpAffineScale and cvResizeCubic against OpenCV 4.5.1 itself (Debian bullseye's cv2): the fixtures are made by
// test/fixtures/cv-warp/make.py in the referee chroot from seeded inputs, and every output must be equal bit for bit
// (uint8 bytes for warpAffine, float32 bits for resize).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cvResizeCubic } from '../src/image/cv-resize-cubic.js';
import { type ByteImage, type CvWarpInterpolation, cvWarpAffineScale } from '../src/image/cv-warp.js';
import { loadImage } from '../src/image/load.js';
import { CremaError } from '../src/util/errors.js';

const dir = path.join(import.meta.dirname, 'fixtures/cv-warp');
const fixtures = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8')) as {
  opencv: string;
  cases: Array<{
    kind: 'warp' | 'resize'; name: string; width: number; height: number; outWidth: number; outHeight: number;
    scale?: number; interpolation?: CvWarpInterpolation; sha256: string; input?: [number, number]; output?: [number, number];
    formulaInput?: boolean;
  }>;
  photo: { width: number; height: number; bgrSha256: string; warps: Array<{ scale: number; outWidth: number; outHeight: number; interpolation: CvWarpInterpolation; sha256: string }> };
};
const blob = fs.readFileSync(path.join(dir, 'data.bin'));
const bytes = ([at, n]: [number, number]) => new Uint8Array(blob.buffer, blob.byteOffset + at, n).slice();
const floats = (range: [number, number]) => new Float32Array(bytes(range).buffer);
const sha = (a: ArrayBufferView) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

/** make.py's formula_u8: the large warps' input. */
function formula(h: number, w: number): ByteImage {
  const data = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = (x * x * 7 + y * y * 13 + x * y * 3 + c * 101 + ((x * 31) ^ (y * 17))) % 256;
  return { height: h, width: w, channels: 3, data };
}

/** The first place two arrays differ (a readable failure instead of a 100 kB diff), or 'equal'. */
function firstDifference(got: ArrayLike<number>, want: ArrayLike<number>): string {
  if (got.length !== want.length) return `length ${got.length} != ${want.length}`;
  let n = 0, first = -1;
  for (let i = 0; i < got.length; i++) {
    if (Object.is(got[i], want[i])) continue;
    if (n++ === 0) first = i;
  }
  return n === 0 ? 'equal' : `${n} differ, first at ${first}: ${got[first]} != ${want[first]}`;
}

describe('cvWarpAffineScale: cv2.warpAffine, M = diag(scale), BORDER_CONSTANT 0', () => {
  it('has fixtures made by OpenCV 4.5.1', () => expect(fixtures.opencv).toBe('4.5.1'));

  for (const c of fixtures.cases.filter((c) => c.kind === 'warp')) {
    it(`${c.name}: ${c.width} x ${c.height} → ${c.outWidth} x ${c.outHeight}, ${c.interpolation}`, () => {
      const src: ByteImage = c.formulaInput ? formula(c.height, c.width) : { height: c.height, width: c.width, channels: 3, data: bytes(c.input!) };
      const out = cvWarpAffineScale(src, c.scale!, c.outWidth, c.outHeight, c.interpolation!);
      expect([out.width, out.height, out.channels]).toEqual([c.outWidth, c.outHeight, 3]);
      if (c.output) expect(firstDifference(out.data, bytes(c.output))).toBe('equal');
      expect(sha(out.data)).toBe(c.sha256);
    });
  }

  it('on a photo (test1.jpg): crema decodes the bytes cv2.imread does, and warps them as cv2 does', async () => {
    const im = await loadImage(path.join(import.meta.dirname, 'fixtures/mtcnn/test1.jpg'));
    const { width, height } = fixtures.photo;
    expect([im.width, im.height]).toEqual([width, height]);
    // loadImage's RGB floats are byte / 255: back to cv2.imread's BGR bytes.
    const bgr = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) bgr[i * 3 + c] = Math.round(im.data[i * 3 + 2 - c] * 255);
    expect(sha(bgr)).toBe(fixtures.photo.bgrSha256);
    for (const w of fixtures.photo.warps) {
      const out = cvWarpAffineScale({ height, width, channels: 3, data: bgr }, w.scale, w.outWidth, w.outHeight, w.interpolation);
      expect(sha(out.data), `${w.interpolation} ${w.scale}`).toBe(w.sha256);
    }
  });

  it('refuses what is not a scaling of an image, in one line', () => {
    const im: ByteImage = { height: 2, width: 2, channels: 3, data: new Uint8Array(12) };
    expect(() => cvWarpAffineScale(im, 0, 4, 4, 'cubic')).toThrow(CremaError);
    expect(() => cvWarpAffineScale(im, Number.NaN, 4, 4, 'cubic')).toThrow('the scale must be a positive number');
    expect(() => cvWarpAffineScale(im, 2, 0, 4, 'linear')).toThrow('is not an image size');
    expect(() => cvWarpAffineScale({ ...im, data: new Uint8Array(11) }, 2, 4, 4, 'linear')).toThrow('11 bytes for a 2 x 2 x 3 image');
    expect(() => cvWarpAffineScale(im, 2, 4, 4, 'area' as CvWarpInterpolation)).toThrow("interpolation 'area'");
  });
});

describe('cvResizeCubic: cv2.resize INTER_CUBIC on float32', () => {
  for (const c of fixtures.cases.filter((c) => c.kind === 'resize')) {
    it(`${c.name}: ${c.width} x ${c.height} → ${c.outWidth} x ${c.outHeight}`, () => {
      const out = cvResizeCubic(floats(c.input!), c.width, c.height, c.outWidth, c.outHeight);
      if (c.output) expect(firstDifference(out, floats(c.output))).toBe('equal');
      expect(sha(out)).toBe(c.sha256);
    });
  }

  it('refuses what is not a plane, in one line', () => {
    expect(() => cvResizeCubic(new Float32Array(6), 3, 2, 0, 4)).toThrow('is not a plane size');
    expect(() => cvResizeCubic(new Float32Array(5), 3, 2, 6, 4)).toThrow('5 values for a 3 x 2 plane');
  });
});
