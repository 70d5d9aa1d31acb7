import { paramsOf } from '../caffe/schema.js';
import { type LrnScratch, lrnAcrossChannels, lrnPrepare, lrnScratch, lrnWithinChannel } from '../kernels/lrn.js';
import { type Shape } from '../tensor.js';
import { expectCounts, type LayerType, need, need4d } from './layer.js';
import { float, int, ints } from '../onnx/builder.js';
import { type LayerContext, fail, onlyItemsDynamic, runtimeAxesCopied, runtimeDims, withScalar } from '../onnx/context.js';

/** lrn_param, with Caffe's defaults filled in. */
export interface LrnParams {
  local_size: number;
  alpha: number;
  beta: number;
  k: number;
  norm_region: string;
}

/** Caffe's LRN (lrn_layer.cpp): ACROSS_CHANNELS or WITHIN_CHANNEL local response normalization of a 4-D blob. */
export const lrnLayer: LayerType = {
  type: 'LRN',
  create(def) {
    const p = paramsOf<LrnParams>(def, 'lrn_param');
    const n = p.local_size, { alpha, beta, k } = p;
    need(def, n % 2 === 1, `local_size must be odd (Caffe's LRN only supports odd sizes), got ${n}`);
    const within = p.norm_region === 'WITHIN_CHANNEL';
    need(def, within || p.norm_region === 'ACROSS_CHANNELS', () => `unknown norm_region ${String(p.norm_region)}`);
    let scratch: LrnScratch | undefined;
    let shaped: Shape | undefined;
    // Allocated at reshape, kept across forwards; only a larger shape reallocates.
    const scratchFor = ([, , height, width]: Shape): LrnScratch =>
      (scratch = within
        ? lrnScratch(scratch, width + 2 * Math.min((n - 1) / 2, width), width)
        : lrnScratch(scratch, height * width, height * width));
    return {
      reshape([shape]: Shape[]) {
        expectCounts(def, [1, 1], [1, 1]);
        need4d(def, [shape]);
        // Caffe squares ACROSS_CHANNELS input into a (C + n - 1) x H x W blob and refuses one beyond INT_MAX values
        // (local_size 2^31 - 1 on 3 channels); ONNX Runtime would try to allocate it.
        const [, c, h, w] = shape;
        need(def, within || (c + n - 1) * h * w <= 2 ** 31 - 1,
          () => `local_size ${n}: Caffe's padded blob of squares, ${c + n - 1} x ${h} x ${w}, would exceed INT_MAX values, and Caffe refuses it`);
        scratchFor(shape);
        shaped = shape;
        return [shape];
      },
      prepare() {
        if (shaped) lrnPrepare(within, shaped[0], shaped[1], shaped[2], shaped[3], n, beta, scratchFor(shaped));
      },
      forward([bottom], [top]) {
        const [num, channels, height, width] = bottom.dims;
        const s = scratchFor(bottom.dims);
        if (within) lrnWithinChannel(bottom.data, top.data, num * channels, height, width, n, alpha, beta, s);
        else lrnAcrossChannels(bottom.data, top.data, num, channels, height * width, n, alpha, beta, k, s);
      },
      macs([shape]) {
        // Per element: the window's squares and the normalization, as the straightforward formula counts them.
        const count = shape[0] * shape[1] * shape[2] * shape[3];
        return count * (within ? n * n : n);
      },
    };
  },
  onnx: lrnToOnnx,
};

/** ACROSS_CHANNELS as ONNX's LRN (or an AveragePool over channels, `--lrn decomposed`); WITHIN_CHANNEL as a subgraph. */
function lrnToOnnx(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'lrn_param');
  const x = layer.bottomShapes[0];
  const n = p.local_size as number, alpha = p.alpha as number, beta = p.beta as number, k = p.k as number;
  if (!(n > 0) || n % 2 === 0) fail(c, `local_size must be odd and positive, got ${n}`);
  const half = (n - 1) / 2;
  if (p.norm_region === 'WITHIN_CHANNEL') {
    // Caffe builds it from layers: x * (1 + alpha * avgpool_nxn(x^2))^-beta, zero-padded, k ignored.
    const squared = c.node('Mul', [c.bottom(0), c.bottom(0)], [c.tmp('squared')]);
    const mean = c.node('AveragePool', [squared], [c.tmp('window_mean')], {
      kernel_shape: ints([n, n]),
      pads: ints([half, half, half, half]),
      count_include_pad: int(1),
    });
    lrnScale(c, mean, alpha, 1, beta);
    return;
  }
  if (p.norm_region !== 'ACROSS_CHANNELS') fail(c, `unknown norm_region ${p.norm_region}`);
  if (c.lrn === 'native') {
    c.node('LRN', [c.bottom(0)], [c.top(0)], { size: int(n), alpha: float(alpha), beta: float(beta), bias: float(k) });
    return;
  }
  // Decomposed: the channel window as an AveragePool over (N, 1, C, H*W), which ONNX Runtime runs faster.
  const [batch, channels, height, width] = x;
  const squared = c.node('Mul', [c.bottom(0), c.bottom(0)], [c.tmp('squared')]);
  // Size-free (ConvertOptions.anySize): the batch copied, the plane inferred, the shape back from the input's.
  // After a Filter: its items copied (0), not the load-time count.
  const anySize = c.anySize || !onlyItemsDynamic(c);
  const planesShape = anySize ? [0, 1, channels, -1] : runtimeAxesCopied(c, [batch, 1, channels, height * width]);
  const planes = c.node('Reshape', [squared, c.b.int64s(`${layer.name}/planes_shape`, planesShape)], [c.tmp('planes')]);
  const pooled = c.node('AveragePool', [planes], [c.tmp('channel_mean_planes')], {
    kernel_shape: ints([n, 1]),
    pads: ints([half, 0, half, 0]),
    count_include_pad: int(1),
  });
  const mean = c.node('Reshape', [pooled, anySize ? runtimeDims(c, c.bottom(0), 0, 4) : c.b.int64s(`${layer.name}/shape`, runtimeAxesCopied(c, x))], [c.tmp('channel_mean')]);
  lrnScale(c, mean, alpha, k, beta);
}

/** top = x * (k + alpha * mean)^-beta, where mean is the window's mean of x^2. */
function lrnScale(c: LayerContext, mean: string, alpha: number, k: number, beta: number): void {
  const scaled = withScalar(c, 'Add', withScalar(c, 'Mul', mean, alpha), k);
  const factor = c.node('Pow', [scaled, c.b.scalar(-beta)], [c.tmp('factor')]);
  c.node('Mul', [c.bottom(0), factor], [c.top(0)]);
}

