// Decoded pixels to the float image pycaffe's caffe.io.load_image gives: shared by the Node decoder (sharp,
// src/image/load.ts) and the browser's (src/browser/image.ts), so that both give the same values.
import { type FloatImage, makeImage } from './image.js';

/** Decoded pixels: interleaved, 1-4 channels, values `at(i) / max` in pycaffe's float image (max 1 for float files). */
export interface RawPixels {
  height: number;
  width: number;
  channels: number;
  max: number;
  at: (i: number) => number;
}

/**
 * `skimage.img_as_float(skimage.io.imread(file))` as float32 in [0, 1]. Color: RGB (gray tiled to 3 channels,
 * alpha dropped). Gray: as `imread(as_gray=True)`, i.e. a gray file as is, a colour one through skimage's rgb2gray
 * (alpha first blended over white, as rgba2rgb does).
 */
export function floatImage(px: RawPixels, color = true): FloatImage {
  const n = px.height * px.width;
  const grayFile = px.channels <= 2;
  const out: FloatImage = { ...makeImage(px.height, px.width, color ? 3 : 1), ...(px.max === 65535 ? { bits: 16 } : px.max === 255 ? { bits: 8 } : {}) };
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
