// cvResizeArea against OpenCV 4.5.1 itself (Debian bullseye's cv2, the referee chroot's): INTER_AREA shrinks of
// float32 images at whole inverse factors (OpenCV's fast path, resizeAreaFast_Invoker: 1/2, 1/3, 1/4, 1/8 and mixed),
// sizes that do and do not divide by them. The fixtures are made by test/fixtures/cv-resize-area/make.py in the
// chroot from seeded inputs; every output must be equal bit for bit.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cvResizeArea } from '../src/image/cv-resize.js';

const dir = path.join(import.meta.dirname, 'fixtures/cv-resize-area');
const fixtures = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8')) as {
  opencv: string;
  cases: Array<{
    name: string; width: number; height: number; channels: number; fx: number; fy: number; outWidth: number; outHeight: number;
    sha256: string; input?: [number, number]; output?: [number, number]; formulaInput?: boolean;
  }>;
};
const blob = fs.readFileSync(path.join(dir, 'data.bin'));
const floats = ([at, n]: [number, number]) => new Float32Array(new Uint8Array(blob.buffer, blob.byteOffset + at, n).slice().buffer);
const sha = (a: Float32Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

/** make.py's formula: a pattern of bytes minus makefile/frcnn's pixel_means, in float32. */
function formula(h: number, w: number): Float32Array {
  const means = [102.9801, 115.9465, 122.7717].map(Math.fround), data = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = (x * x * 7 + y * y * 13 + x * y * 3 + c * 101 + ((x * 31) ^ (y * 17))) % 256 - means[c];
  return data;
}

/** How many values differ and the first (a readable failure instead of a 100 kB diff), or 'equal'. */
function difference(got: Float32Array, want: Float32Array): string {
  if (got.length !== want.length) return `length ${got.length} != ${want.length}`;
  let n = 0, first = -1;
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i]) && n++ === 0) first = i;
  return n === 0 ? 'equal' : `${n} differ, first at ${first}: ${got[first]} != ${want[first]}`;
}

describe('cvResizeArea: cv2.resize INTER_AREA at whole inverse factors (its fast path)', () => {
  it('has fixtures made by OpenCV 4.5.1', () => expect(fixtures.opencv).toBe('4.5.1'));

  for (const c of fixtures.cases) {
    it(`${c.name}: ${c.width} x ${c.height} x ${c.channels} by ${c.fx} x ${c.fy}`, () => {
      const data = c.formulaInput ? formula(c.height, c.width) : floats(c.input!);
      const out = cvResizeArea({ height: c.height, width: c.width, channels: c.channels, data }, c.fx, c.fy);
      expect([out.width, out.height]).toEqual([c.outWidth, c.outHeight]);
      if (c.output) expect(difference(out.data, floats(c.output))).toBe('equal');
      expect(sha(out.data)).toBe(c.sha256);
    });
  }
});
