import type { LayerParameter } from '../caffe/types.js';
import { eltwiseSumWasm } from '../kernels/eltwise.js';
import { sumRelu } from '../kernels/relu.js';
import { wasmEngine } from '../kernels/wasm.js';
import { type Shape, Tensor, shapeString, sizeOf } from '../tensor.js';
import { type ConvSettingsNd, type FusableLayer, convWeights, readConvSettingsNd } from './convolution.js';
import { canonicalAxis, expectCounts, need } from './layer.js';

/**
 * Caffe's Convolution (and Deconvolution: `transposed`) over 1 or 3+ spatial axes (BaseConvolutionLayer takes their
 * number from the bottom's rank: a 5-D bottom N x C x T x H x W with kernel_size 3 is a 3 x 3 x 3 convolution;
 * C3D's Convolution3D is one too).
 * Computed by the 2-D layer, so every fast path of it (Winograd, direct, the threads) serves these as well:
 * - 1 axis: the same data seen as N x C x 1 x L, a 1 x k window.
 * - 3 or more: the axes before the last two ("outer": T) are folded into channels. For each outer output
 *   position q the planes the window reads, x[c, q s - p + t d] for each outer tap t (zero outside), are stacked
 *   channel by channel and tap by tap; the weights (Cout, C/g, kt, kh, kw) are then (Cout, C/g kt, kh, kw) as they
 *   lie, and one 2-D convolution over a batch of every q gives y[q, o]; the output is y[o, q] (Caffe's layout).
 *   The stacking reads kt planes per output plane: small beside the kh kw Cout multiply-adds each value meets.
 * - Deconvolution likewise: output frame q gets x[c, t] through tap a where q = t s - p + a d, so its stacked planes
 *   are x[c, (q + p - a d) / s] where that is a whole frame of the input (zero elsewhere), and the weights
 *   (C, Cout/g, kt, kh, kw) are copied to (C, kt, Cout/g, kh, kw): a 2-D Deconvolution of C kt channels.
 */
export function convolutionNd(def: LayerParameter, weights: Tensor[], axes: number, planar: (def: LayerParameter, weights: Tensor[]) => FusableLayer, transposed = false): FusableLayer {
  const s = readConvSettingsNd(def, axes);
  const outer = axes - 2; // folded axes (0 for a 1-D convolution, which gains one instead)
  let inner: FusableLayer | undefined, innerRows = -1; // the 2-D convolution and the batch it was shaped for
  let reluSlope: number | undefined, residual: Float32Array | undefined;
  let geo: { num: number; channels: number; inSize: number[]; outSize: number[]; top: Shape } | undefined;
  const kernelOuter = sizeOf(s.kernel.slice(0, Math.max(0, outer)));

  /** The 2-D layer's definition: the last two axes' window (1 x k for one axis), channels stacked by the outer taps. */
  function innerDef(): LayerParameter {
    const last2 = (v: number[], lone: number): number[] => (axes === 1 ? [lone, v[0]] : v.slice(outer));
    const raw = { ...(def.convolution_param ?? {}) } as Record<string, unknown>;
    for (const k of ['pad_h', 'pad_w', 'kernel_h', 'kernel_w', 'stride_h', 'stride_w']) delete raw[k];
    return { ...def, convolution_param: { ...raw, axis: 1, kernel_size: last2(s.kernel, 1), pad: last2(s.pad, 0), stride: last2(s.stride, 1), dilation: last2(s.dilation, 1) } };
  }

  const layer: FusableLayer = {
    fuseRelu(slope) {
      reluSlope = slope;
      inner?.fuseRelu(axes === 1 || residual === undefined ? slope : undefined);
    },
    fuseSum(r) {
      residual = r;
      if (axes === 1) inner?.fuseSum?.(r);
      else inner?.fuseRelu(r === undefined ? reluSlope : undefined); // the ReLU then follows the sum (forward)
    },
    reshape(bottoms) {
      expectCounts(def, [1, Infinity], [bottoms.length, bottoms.length]);
      const shape = bottoms[0];
      for (let i = 1; i < bottoms.length; i++)
        need(def, bottoms[i].join() === shape.join(), () => `all bottoms must have one shape: bottom 0 is ${shapeString(shape)}, bottom ${i} is ${shapeString(bottoms[i])}`);
      const axis = canonicalAxis(def, s.axis, shape.length);
      const channels = shape[axis], inSize = shape.slice(axis + 1);
      need(def, channels % s.group === 0, () => `input channels ${channels} are not a multiple of group ${s.group}`);
      const extent = s.kernel.map((k, i) => s.dilation[i] * (k - 1) + 1);
      need(def, transposed || inSize.every((d, i) => d + 2 * s.pad[i] >= extent[i]), () =>
        `kernel extent ${extent.join(' x ')} is larger than the padded input ${inSize.map((d, i) => d + 2 * s.pad[i]).join(' x ')} (input ${inSize.join(' x ')}, pad ${s.pad.join(' x ')})`);
      const outSize = inSize.map((d, i) => (transposed ? s.stride[i] * (d - 1) + extent[i] - 2 * s.pad[i] : Math.floor((d + 2 * s.pad[i] - extent[i]) / s.stride[i]) + 1));
      need(def, outSize.every((d) => d > 0), () => `output would be ${outSize.join(' x ')}: pad ${s.pad.join(' x ')} is too large for input ${inSize.join(' x ')} and kernel ${s.kernel.join(' x ')}`);
      const { w, bias } = convWeights(def, s, weights, transposed ? [channels, s.numOutput / s.group, ...s.kernel] : [s.numOutput, channels / s.group, ...s.kernel]);
      const top = [...shape.slice(0, axis), s.numOutput, ...outSize];
      geo = { num: sizeOf(shape.slice(0, axis)), channels, inSize, outSize, top };
      // One output position's stacked planes, C x (the outer taps) planes: a window mostly of padding could make it
      // far larger than the input (kernel_size 1000 over 1 frame with pad 500); refused before any allocation.
      need(def, axes === 1 || rowFloats().x <= MAX_ROW_FLOATS, () =>
        `its ${kernelOuter.toLocaleString('en-US')} taps along ${outer === 1 ? 'the first spatial axis' : `the first ${outer} spatial axes`} would stack ${rowFloats().x.toLocaleString('en-US')} floats for each output position (crema stacks at most ${MAX_ROW_FLOATS.toLocaleString('en-US')})`);
      const plane = axes === 1 ? [1, s.kernel[0]] : s.kernel.slice(outer);
      const viewed = !weights.length ? [] : [
        transposed ? new Tensor([channels * kernelOuter, s.numOutput / s.group, ...plane], tapsFirst(w, channels, s.numOutput / s.group, kernelOuter, sizeOf(plane)))
          : new Tensor([s.numOutput, (channels / s.group) * kernelOuter, ...plane], w),
        ...(bias ? [new Tensor([s.numOutput], bias)] : []),
      ];
      inner = planar(innerDef(), viewed);
      innerRows = -1;
      layer.fuseRelu(reluSlope);
      layer.fuseSum!(residual);
      innerShape(axes === 1 ? geo.num : rowsPerPass());
      return bottoms.map(() => top);
    },
    forward(bottoms, tops) {
      const g = geo!;
      for (let i = 0; i < bottoms.length; i++) {
        if (axes === 1) {
          innerShape(g.num);
          inner!.forward([new Tensor([g.num, g.channels, 1, g.inSize[0]], bottoms[i].data)], [new Tensor([g.num, s.numOutput, 1, g.outSize[0]], tops[i].data)]);
        } else stacked(bottoms[i].data, tops[i].data);
      }
    },
    macs(bottoms, tops) {
      if (!geo) return 0;
      return transposed ? bottoms.length * sizeOf(bottoms[0]) * (s.numOutput / s.group) * sizeOf(s.kernel) : bottoms.length * sizeOf(tops[0]) * (geo.channels / s.group) * sizeOf(s.kernel);
    },
    prepare() {
      inner?.prepare?.();
      if (axes === 1 || !geo) return;
      // The stacked rows' arrays written now, as the 2-D layers' scratch is: the first forward does not fault them in.
      const engine = wasmEngine(), per = rowsPerPass(), { x, y } = rowFloats();
      engine?.sharedArray('convnd-x', per * x)?.fill(0);
      engine?.sharedArray('convnd-y', per * y)?.fill(0);
    },
    // The stacked rows live in resident arrays of their own (sharedArray), not in the engine's scratch.
    scratchBytes: (threads, poolThreads) => inner?.scratchBytes?.(threads, poolThreads) ?? 0,
  };
  return layer;

  /** Floats of one stacked input row (C kt planes) and of one output row (Cout planes) of the 2-D layer. */
  function rowFloats(): { x: number; y: number } {
    const g = geo!, plane = (v: number[]) => sizeOf(v.slice(outer));
    return { x: g.channels * kernelOuter * plane(g.inSize), y: s.numOutput * plane(g.outSize) };
  }

  /** Outer positions a pass stacks: all of them, unless their stacked planes would pass 64 MB. */
  function rowsPerPass(): number {
    const all = geo!.num * sizeOf(geo!.outSize.slice(0, outer));
    return Math.max(1, Math.min(all, Math.floor(STACK_FLOATS / rowFloats().x)));
  }

  /** Shapes the 2-D layer for a batch of `rows` stacked rows (again only when that changes). */
  function innerShape(rows: number): void {
    if (rows === innerRows) return;
    const g = geo!;
    const plane = axes === 1 ? [1, g.inSize[0]] : g.inSize.slice(outer);
    inner!.reshape([[rows, g.channels * kernelOuter, ...plane]]);
    innerRows = rows;
  }

  /** 3+ axes: stack each pass's rows, convolve them in 2-D, and put each row's planes where Caffe's layout has them. */
  function stacked(x: Float32Array, y: Float32Array): void {
    const g = geo!, { x: xRow, y: yRow } = rowFloats();
    const outerOut = g.outSize.slice(0, outer), positions = sizeOf(outerOut), total = g.num * positions;
    const inPlane = sizeOf(g.inSize.slice(outer)), outPlane = sizeOf(g.outSize.slice(outer));
    const inOuter = sizeOf(g.inSize.slice(0, outer));
    const per = rowsPerPass(), engine = wasmEngine();
    const xs = engine?.sharedArray('convnd-x', per * xRow) ?? new Float32Array(per * xRow);
    const ys = engine?.sharedArray('convnd-y', per * yRow) ?? new Float32Array(per * yRow);
    const q = new Array<number>(outer).fill(0), t = new Array<number>(outer).fill(0);
    for (let r0 = 0; r0 < total; r0 += per) {
      const rows = Math.min(per, total - r0);
      for (let r = 0; r < rows; r++) {
        const row = r0 + r, n = Math.floor(row / positions);
        unflatten(row % positions, outerOut, q);
        let dst = r * xRow;
        for (let c = 0; c < g.channels; c++) {
          const src = (n * g.channels + c) * inOuter;
          for (let tap = 0; tap < kernelOuter; tap++, dst += inPlane) {
            unflatten(tap, s.kernel, t);
            let at = 0, inside = true;
            for (let a = 0; a < outer; a++) {
              let i = q[a] * s.stride[a] - s.pad[a] + t[a] * s.dilation[a];
              if (transposed) {
                const from = q[a] + s.pad[a] - t[a] * s.dilation[a]; // the input frame that reaches q through tap t
                i = from / s.stride[a];
                if (from % s.stride[a] !== 0) inside = false;
              }
              if (i < 0 || i >= g.inSize[a]) inside = false;
              at = at * g.inSize[a] + i;
            }
            if (inside) xs.set(x.subarray((src + at) * inPlane, (src + at + 1) * inPlane), dst);
            else xs.fill(0, dst, dst + inPlane);
          }
        }
      }
      innerShape(rows);
      inner!.forward([new Tensor([rows, g.channels * kernelOuter, ...g.inSize.slice(outer)], xs.subarray(0, rows * xRow))], [new Tensor([rows, s.numOutput, ...g.outSize.slice(outer)], ys.subarray(0, rows * yRow))]);
      for (let r = 0; r < rows; r++) {
        const row = r0 + r, n = Math.floor(row / positions), p = row % positions;
        for (let o = 0; o < s.numOutput; o++) {
          const from = (r * s.numOutput + o) * outPlane;
          y.set(ys.subarray(from, from + outPlane), ((n * s.numOutput + o) * positions + p) * outPlane);
        }
      }
    }
    if (residual) {
      // The Eltwise SUM (coefficients 1) then the ReLU, as the 2-D layer's unfused path does them.
      if (!eltwiseSumWasm([y, residual], SUM_ONES, y, reluSlope)) sumRelu(y, residual, y, reluSlope);
    }
  }
}

/** Deconvolution's weights (C, M, K, P) as (C, K, M, P): each input channel's taps along the folded axes first. */
function tapsFirst(w: Float32Array, channels: number, m: number, taps: number, plane: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let c = 0; c < channels; c++)
    for (let o = 0; o < m; o++)
      for (let k = 0; k < taps; k++) out.set(w.subarray(((c * m + o) * taps + k) * plane, ((c * m + o) * taps + k + 1) * plane), ((c * taps + k) * m + o) * plane);
  return out;
}

/** A pass stacks at most this many floats (64 MB): C3D's conv2a (64 x 3 planes of 56 x 56, 16 frames) is 9.6 M. */
const STACK_FLOATS = 1 << 24;
/** One position's stacked planes at most (256 MB): a real net's are far smaller (V-Net's largest 655 k floats). */
const MAX_ROW_FLOATS = 1 << 26;
const SUM_ONES = Float32Array.of(1, 1);

/** Row-major index `i` of a box of `dims` (its first `into.length` axes) into `into`. */
function unflatten(i: number, dims: readonly number[], into: number[]): void {
  for (let a = into.length - 1; a >= 0; a--) {
    into[a] = i % dims[a];
    i = Math.floor(i / dims[a]);
  }
}

export type { ConvSettingsNd };
