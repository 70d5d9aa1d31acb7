import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadImage } from '../src/image/load.js';
import { type Mean, readMean } from '../src/image/mean.js';
import { type PreprocessOptions, geometryOf, preprocess } from '../src/image/preprocess.js';
import { resizeImage } from '../src/image/resize.js';
import { makeImage } from '../src/image/image.js';
import os from 'node:os';
import { Tensor } from '../src/tensor.js';
import { readNpy, writeNpy } from '../src/util/npy.js';

// Fixtures: test/fixtures/pycaffe/*.npy are what the real pycaffe (caffe.io.Transformer, caffe.Classifier,
// skimage 0.18) fed the net for the images in test/fixtures/images/ (make_fixtures.sh regenerates both).
const here = path.dirname(fileURLToPath(import.meta.url));
const pycaffe = path.join(here, 'fixtures/pycaffe');
const images = path.join(here, 'fixtures/images');

interface Case {
  image: string;
  color: boolean;
  shape: number[];
  mean?: string;
  meanPerChannel?: boolean;
  meanValues?: number[];
  inputScale?: number;
  rawScale?: number;
  channelSwap?: number[];
  resize?: [number, number];
  crop?: boolean;
  oversample?: boolean;
}
const cases = JSON.parse(fs.readFileSync(path.join(pycaffe, 'cases.json'), 'utf8')) as Record<string, Case>;

async function ours(c: Case): Promise<Float32Array> {
  const geo = geometryOf(c.shape);
  let mean: Mean | undefined;
  if (c.mean) mean = readMean(path.join(pycaffe, c.mean), geo, c.meanPerChannel);
  if (c.meanValues) mean = readMean(c.meanValues.join(','), geo);
  // The case's preprocessing options only: preprocess refuses keys it does not know (image, shape, ...).
  const { inputScale, rawScale, channelSwap, resize, crop, oversample } = c;
  const options: PreprocessOptions = { inputScale, rawScale, channelSwap, resize, crop, oversample, mean };
  return preprocess(await loadImage(path.join(images, c.image), c.color), geo, options).data;
}

/** max |ours - pycaffe|, in the units of the net's input (0..255 for raw scale 255). */
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// What is measured: max |ours - pycaffe| over every value of the preprocessed input, in the net's input units.
// Without resizing every step is the same float32 arithmetic as numpy's: bit-identical (0), except where a mean is
// averaged (numpy float32 pairwise sum vs our float64 sum: <= 1e-3 on values ~150).
// With resizing (skimage's Gaussian + bilinear, ported in src/image/resize.ts) float32-vs-float64 intermediate
// rounding remains: <= 1e-3 in 0..255 units (1e-5 in 0..1 units) — far below one grey level.
const tolerance: Record<string, number> = {
  noresize: 0,
  mean_binaryproto: 0,
  mean_values_input_scale: 0,
  no_swap_raw1: 0,
  gray: 0,
  rgba: 0,
  jpeg: 0,
  rgb_as_gray: 1e-4,
  mean_per_channel_file: 1e-3,
  resize_down: 1e-3,
  resize_up: 1e-3,
  gray_resize: 1e-5,
  center_crop: 1e-3,
  oversample: 1e-3,
};

describe('preprocessing matches pycaffe', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: ${c.image} -> ${c.shape.join('x')} within ${tolerance[name]}`, async () => {
      expect(tolerance[name], `no tolerance stated for fixture ${name}`).toBeDefined();
      const want = readNpy(path.join(pycaffe, `${name}.npy`)).data;
      expect(maxAbsDiff(await ours(c), want)).toBeLessThanOrEqual(tolerance[name]);
    });
  }
});

describe('resizeImage', () => {
  it('fills a constant image with its value (as pycaffe, no 0/0)', () => {
    const im = makeImage(3, 4, 3, new Float32Array(36).fill(0.25));
    expect([...new Set(resizeImage(im, 5, 2).data)]).toEqual([0.25]);
  });
  it('gives the same bits blurring only where it samples as blurring the whole image', () => {
    const data = Float32Array.from({ length: 97 * 131 * 3 }, (_, i) => ((i * 2654435761) % 1009) / 1008);
    const im = makeImage(97, 131, 3, data);
    for (const [h, w] of [[32, 32], [97, 40], [13, 131], [50, 77]]) expect(resizeImage(im, h, w).data).toEqual(resizeImage(im, h, w, true).data);
  });
  it('keeps the range of the input (skimage clips to it)', () => {
    const data = Float32Array.from({ length: 7 * 9 }, (_, i) => ((i * 37) % 11) / 10);
    const out = resizeImage(makeImage(7, 9, 1, data), 13, 4).data;
    expect(Math.min(...out)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...out)).toBeLessThanOrEqual(1);
  });
});

describe('readMean from .npy', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-mean-'));
  const image = Tensor.zeros([3, 5, 6]);
  image.data.forEach((_, i) => (image.data[i] = i));
  writeNpy(path.join(dir, 'image.npy'), image);
  writeNpy(path.join(dir, 'values.npy'), new Tensor([3], Float32Array.from([104, 117, 123])));
  it('center-crops a C x H x W mean to the input (offsets floor((5-3)/2)=1, floor((6-4)/2)=1)', () => {
    const m = readMean(path.join(dir, 'image.npy'), { channels: 3, height: 3, width: 4 });
    expect('image' in m && m.image.dims).toEqual([3, 3, 4]);
    expect('image' in m && [...m.image.data.subarray(0, 4)]).toEqual([7, 8, 9, 10]); // row 1, columns 1..4 of channel 0
    expect('image' in m && m.image.data[12]).toBe(30 + 7); // channel 1 starts at 30
  });
  it('averages each channel with perChannel, and reads C values as they are', () => {
    const m = readMean(path.join(dir, 'image.npy'), { channels: 3, height: 3, width: 4 }, true);
    expect('perChannel' in m && [...m.perChannel]).toEqual([14.5, 44.5, 74.5]);
    const v = readMean(path.join(dir, 'values.npy'), { channels: 3, height: 3, width: 4 });
    expect('perChannel' in v && [...v.perChannel]).toEqual([104, 117, 123]);
  });
});

describe('bad input', () => {
  it('names the mean file and the channel mismatch', () => {
    expect(() => readMean(path.join(pycaffe, 'mean36.binaryproto'), { channels: 1, height: 28, width: 28 })).toThrow(
      /mean36\.binaryproto: has 3 channels, the net's input has 1/,
    );
  });
  it('refuses a mean image smaller than the input', () => {
    expect(() => readMean(path.join(pycaffe, 'mean36.binaryproto'), { channels: 3, height: 40, width: 40 })).toThrow(
      /the mean image is 36x36, smaller than the net's 40x40 input \(or take its per-channel average\)/,
    );
  });
  it('refuses mean values that are not numbers', () => {
    expect(() => readMean('104,x,1', { channels: 3, height: 4, width: 4 })).toThrow(
      "mean 104,x,1: expected numbers separated by commas (e.g. 104,117,123), a .binaryproto or a .npy",
    );
  });
  it('names an image that cannot be decoded', async () => {
    const file = path.join(pycaffe, 'cases.json.png');
    fs.writeFileSync(file, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])); // a PNG cut short
    try {
      await expect(loadImage(file)).rejects.toThrow(/cases\.json\.png: cannot decode the image \(.+\)/);
      fs.writeFileSync(file, 'not a png'); // text: said by what it is, not by the decoder's "unsupported image format"
      await expect(loadImage(file)).rejects.toThrow(/^.*cases\.json\.png: this is a text file \(a \.prototxt\?\), not an image$/);
      // An SVG (text, which sharp decodes) is let through with white space before its '<'.
      fs.writeFileSync(file, '\n  <svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"><rect width="4" height="3" fill="#f00"/></svg>\n');
      expect((await loadImage(file)).width).toBe(4);
    } finally {
      fs.rmSync(file);
    }
  });
  it('refuses a channel swap that is not a permutation of the channels', async () => {
    const im = await loadImage(path.join(images, 'rgb32.png'));
    expect(() => preprocess(im, geometryOf([1, 3, 32, 32]), { channelSwap: [2, 1] })).toThrow(
      'options.channelSwap 2,1: needs a permutation of 0..2 (the input has 3 channels)',
    );
  });
  it('refuses images for inputs that are not 1 or 3 channels', () => {
    expect(() => geometryOf([1, 4, 8, 8])).toThrow("input 'data' has 4 channels: images feed 1- (gray) or 3-channel (color) inputs");
  });
});
