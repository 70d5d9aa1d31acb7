import type { LayerParameter } from '../caffe/types.js';
import type { Message } from '../caffe/message.js';
import { LayerError } from '../layers/layer.js';
import { poolRoundsUp } from '../layers/pooling.js';

// Window geometry of Pooling, read the way Caffe's LayerSetUp reads it (pooling_layer.cpp): the _h/_w fields win
// when present, else the shared field. (Convolution's: readConvSettings in src/layers/convolution.ts.)

function has(raw: Message | undefined, field: string): boolean {
  return raw !== undefined && raw[field] !== undefined && raw[field] !== null;
}

export interface PoolGeometry {
  kernel: [number, number];
  stride: [number, number];
  pad: [number, number];
  global: boolean;
  /** Caffe's output size (rows, cols). */
  out: [number, number];
}

/**
 * Pooling geometry for an input of H x W, with Caffe's output size: ceil (or floor: round_mode FLOOR, ceil_mode false),
 * then, when any pad is set, the last window is dropped if it would start in the bottom/right padding.
 */
export function poolGeometry(def: LayerParameter, p: Message, height: number, width: number): PoolGeometry {
  const raw = def.pooling_param as Message | undefined;
  const global = p.global_pooling === true;
  const pick = (h: string, w: string, shared: string): [number, number] =>
    has(raw, h) || has(raw, w) ? [p[h] as number, p[w] as number] : [p[shared] as number, p[shared] as number];
  const kernel: [number, number] = global ? [height, width] : pick('kernel_h', 'kernel_w', 'kernel_size');
  const stride = pick('stride_h', 'stride_w', 'stride');
  const pad = pick('pad_h', 'pad_w', 'pad');
  if (!(kernel[0] > 0 && kernel[1] > 0)) throw new LayerError(def, 'kernel size must be positive');
  if (!(stride[0] > 0 && stride[1] > 0)) throw new LayerError(def, 'stride must be positive');
  if (pad[0] >= kernel[0] || pad[1] >= kernel[1]) throw new LayerError(def, 'pad must be smaller than the kernel');
  const round = poolRoundsUp(def) ? Math.ceil : Math.floor;
  const size = (n: number, i: 0 | 1): number => {
    let out = round((n + 2 * pad[i] - kernel[i]) / stride[i]) + 1;
    if ((pad[0] || pad[1]) && (out - 1) * stride[i] >= n + pad[i]) out -= 1;
    return out;
  };
  return { kernel, stride, pad, global, out: [size(height, 0), size(width, 1)] };
}

/**
 * Caffe's AVE divisor along one axis for each output position: the window clipped to [-pad, n + pad)
 * (zero padding counts, a ceil overhang beyond it does not).
 */
export function aveDivisors(n: number, kernel: number, stride: number, pad: number, out: number): number[] {
  const divisors: number[] = [];
  for (let o = 0; o < out; o++) {
    const start = o * stride - pad;
    divisors.push(Math.min(start + kernel, n + pad) - start);
  }
  return divisors;
}
