import type { Graph, GraphLayer } from '../graph/graph.js';
import { paramsOf } from '../caffe/schema.js';
import { c3dAsConvolution } from '../layers/c3d.js';
import { readConvSettingsNd } from '../layers/convolution.js';

/**
 * The fewest multiply-adds crema's algorithms could do for a forward, and where they come from: the measure of
 * what 128-bit WebAssembly allows on a host. Every multiply-add of a kernel runs at most at the core probe's
 * fastest rate (src/bench/probe.ts: the GEMM micro-kernel on cached data, ~2 multiply-adds of 4 lanes a cycle),
 * so `ideal / rate` is a time no forward of the net can beat on that core, whatever the schedule, the cache or the
 * other layers (not counted: pooling, LRN, Eltwise, the transforms, memory). ONNX Runtime's AVX-512 kernels on a
 * core that runs 512-bit multiply-adds at full rate (AMD Zen 5, Intel server cores) do 16 lanes where crema does
 * 4, so a net whose multiply-adds no algorithm cuts (1x1 convolutions: ResNet-50's half, MobileNets' all) cannot
 * come within ~4x of it there (docs/PERFORMANCE.md, round nineteen).
 *
 * The cuts, each the best crema has for the kernel (src/kernels/winograd.ts): a stride-1 3x3 F(6x6, 3x3), 324
 * multiply-adds in 64; a 4x4 F(3x3, 4x4), 144 in 36; a 5x5 F(4x4, 5x5), 400 in 64; a 7x7 F(2x4, 7x7), 392 in 80; other k x k kernels their 3x3
 * blocks in F(6x6); a 1 x 7 or 7 x 1 F(4, 7), 28 in 10; other 1-D kernels their 1 x 3 blocks in F(4, 3), 12 in 6;
 * a strided kernel larger than its stride the stride-1 kernel of its space-to-depth (stride^2 as many channels) cut
 * the same way. Everything else (1x1, depthwise, inner products, dilated, deconvolution) as many as it has.
 */
export interface KernelBound {
  /** Multiply-adds of the convolutions and inner products as Caffe computes them. */
  macs: number;
  /** The fewest crema's algorithms need (the cuts above). */
  ideal: number;
  /** Of `macs`: 1x1 convolutions (no algorithm cuts them), depthwise, and those Winograd cuts. */
  pointwise: number;
  depthwise: number;
  cut: number;
}

/** Multiply-adds per output and input channel of a stride-1 kernel kh x kw, at best (the cuts above). */
export function idealTaps(kh: number, kw: number): number {
  if (kh === 1 || kw === 1) {
    const k = kh * kw;
    if (k < 3) return k;
    return k === 7 ? 10 / 4 : (Math.ceil(k / 3) * 6) / 4;
  }
  if (kh === 3 && kw === 3) return 64 / 36;
  if (kh === 4 && kw === 4) return 36 / 9;
  if (kh === 5 && kw === 5) return 64 / 16;
  if (kh === 7 && kw === 7) return 80 / 8;
  if (kh < 3 || kw < 3) return kh * kw; // 2 x k: not Winograd's
  return (Math.ceil(kh / 3) * Math.ceil(kw / 3) * 64) / 36;
}

/** Layers whose multiply-adds no algorithm of crema's cuts: counted as they are (the forks' depthwise types too). */
const WHOLE = new Set(['InnerProduct', 'Deconvolution', 'Deconvolution3D', 'ConvolutionDepthwise', 'DepthwiseConvolution']);

export function kernelBound(graph: Graph): KernelBound {
  const b: KernelBound = { macs: 0, ideal: 0, pointwise: 0, depthwise: 0, cut: 0 };
  for (const l of graph.layers) {
    const one = layerBound(l);
    for (const key of Object.keys(b) as (keyof KernelBound)[]) b[key] += one[key];
  }
  return b;
}

/** One layer's share of kernelBound (zeros for a layer whose work is not counted): the per-layer excess of scripts/bench-excess.mjs. */
export function layerBound(l: GraphLayer): KernelBound {
  const b: KernelBound = { macs: 0, ideal: 0, pointwise: 0, depthwise: 0, cut: 0 };
  const macs = l.impl.macs?.(l.bottomShapes, l.topShapes) ?? 0;
  if (l.type !== 'Convolution' && l.type !== 'Convolution3D') {
    if (WHOLE.has(l.type)) {
      b.macs = b.ideal = macs;
      if (l.type.includes('Depthwise')) b.depthwise = macs;
    }
    return b;
  }
  b.macs = macs;
  // Over 1 or 3+ spatial axes, the 2-D kernels run the last two (convolution_nd.ts): the cut is theirs.
  const def = l.type === 'Convolution3D' ? c3dAsConvolution(l.def) : l.def, x = l.bottomShapes[0];
  const axis = paramsOf<{ axis: number }>(def, 'convolution_param').axis;
  const s = readConvSettingsNd(def, x.length - 1 - (axis < 0 ? axis + x.length : axis));
  const last2 = (v: number[], lone: number) => (v.length === 1 ? [lone, v[0]] : v.slice(-2));
  const [kh, kw] = last2(s.kernel, 1), [sh, sw] = last2(s.stride, 1), [dh, dw] = last2(s.dilation, 1);
  const channels = x[axis < 0 ? axis + x.length : axis] / s.group;
  if (kh * kw === 1) b.pointwise = macs;
  if (s.group > 1 && channels === 1) b.depthwise = macs;
  const winograd = (channels > 1 || s.group === 1) && dh === 1 && dw === 1 && kh * kw > 1;
  // On the space-to-depth: a ceil(k / s) kernel over s^2 as many channels (s = 1: the kernel itself).
  const th = Math.ceil(kh / sh), tw = Math.ceil(kw / sw);
  const taps = winograd ? Math.min(kh * kw, sh * sw * idealTaps(th, tw)) : kh * kw;
  if (taps < kh * kw) b.cut = macs;
  b.ideal = (macs * taps) / (kh * kw);
  return b;
}
