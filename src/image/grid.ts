import { CremaError } from '../util/errors.js';

/** 8-bit pixels to write as a PNG: gray (1 channel) or RGB (3), row-major, interleaved. */
export interface Picture {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

export type Normalize = 'all' | 'each';

/**
 * Tiles `count` pictures of h x w (x 3 when `rgb`, interleaved) in a near-square grid with a 1-pixel white border,
 * as pycaffe's classic `vis_square`: values scaled to 0..255 over all of them (`all`, vis_square's own), or each
 * tile over its own range (`each`, to see the pattern of weak channels).
 */
export function tileGrid(values: Float32Array, count: number, h: number, w: number, rgb: boolean, normalize: Normalize = 'all'): Picture {
  const k = rgb ? 3 : 1, tile = h * w * k;
  if (count < 1 || values.length !== count * tile) throw new CremaError(`cannot tile ${values.length} values as ${count} pictures of ${h}x${w}x${k}`);
  const n = Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / n);
  const width = n * (w + 1) - 1, height = rows * (h + 1) - 1;
  const data = new Uint8Array(width * height * k).fill(255);
  const whole = range(values, 0, values.length);
  for (let t = 0; t < count; t++) {
    const [lo, hi] = normalize === 'each' ? range(values, t * tile, (t + 1) * tile) : whole;
    const scale = hi > lo ? 255 / (hi - lo) : 0;
    const top = Math.floor(t / n) * (h + 1), left = (t % n) * (w + 1);
    for (let y = 0; y < h; y++) {
      const src = t * tile + y * w * k, dst = ((top + y) * width + left) * k;
      for (let i = 0; i < w * k; i++) data[dst + i] = Math.round((values[src + i] - lo) * scale);
    }
  }
  return { width, height, channels: k as 1 | 3, data };
}

function range(v: Float32Array, from: number, to: number): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = from; i < to; i++) {
    if (v[i] < lo) lo = v[i];
    if (v[i] > hi) hi = v[i];
  }
  return [lo, hi];
}

/** Writes a picture as PNG, enlarged `scale` times with nearest-neighbour (crisp pixels). */
export async function encodePng(p: Picture, scale = 1): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  let img = sharp(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength), { raw: { width: p.width, height: p.height, channels: p.channels } });
  if (scale > 1) img = img.resize(p.width * scale, p.height * scale, { kernel: 'nearest' });
  if (p.channels === 1) img = img.toColourspace('b-w'); // a gray PNG, not gray pixels in RGB
  return img.png().toBuffer();
}

/** How much to enlarge a picture so that it is about `target` pixels wide (small feature maps stay visible). */
export function autoScale(p: Picture, target = 512): number {
  return Math.max(1, Math.min(16, Math.floor(target / p.width)));
}
