import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type PoolWindows, canPoolWasm, poolWasm } from '../kernels/pooling.js';
import { wasmEngine } from '../kernels/wasm.js';
import { type Shape } from '../tensor.js';
import { expectCounts, type LayerType, need, need4d, needSaneShape, type NetContext } from './layer.js';
import { type LayerContext, fail, runtimeDims } from '../onnx/context.js';
import { type Attr, int, ints } from '../onnx/builder.js';

interface PoolingParam {
  pool: 'MAX' | 'AVE' | 'STOCHASTIC';
  pad: number;
  pad_h: number;
  pad_w: number;
  kernel_size: number;
  kernel_h: number;
  kernel_w: number;
  stride: number;
  stride_h: number;
  stride_w: number;
  global_pooling: boolean;
  round_mode: 'CEIL' | 'FLOOR';
  ceil_mode: boolean;
}

/** Caffe initialises MAX outputs to -FLT_MAX, so a window of -Infinity / NaN gives -FLT_MAX, as there. */
export const MINUS_FLT_MAX = -3.4028234663852886e38;

/** Window settings after Caffe's LayerSetUp checks (kernel is 0 x 0 for global pooling until reshape). */
export interface PoolSettings {
  method: PoolingParam['pool'];
  global: boolean;
  ceil: boolean;
  kernel: [number, number];
  pad: [number, number];
  stride: [number, number];
}

export function readPoolSettings(def: LayerParameter): PoolSettings {
  const p = paramsOf<PoolingParam>(def, 'pooling_param');
  const raw = (def.pooling_param ?? {}) as Record<string, unknown>;
  const has = (f: string) => raw[f] !== undefined;
  need(def, ['MAX', 'AVE', 'STOCHASTIC'].includes(p.pool), () => `unknown pool method ${String(p.pool)}`);
  let kernel: [number, number] = [0, 0];
  if (p.global_pooling) {
    need(def, !has('kernel_size') && !has('kernel_h') && !has('kernel_w'), 'global_pooling takes the whole input as the window: give no kernel size');
  } else {
    need(def, !(has('kernel_size') && (has('kernel_h') || has('kernel_w'))), 'gives both kernel_size and kernel_h/kernel_w; give one or the other');
    need(def, has('kernel_size') || (has('kernel_h') && has('kernel_w')), 'needs kernel_size, or both kernel_h and kernel_w');
    kernel = has('kernel_size') ? [p.kernel_size, p.kernel_size] : [p.kernel_h, p.kernel_w];
    need(def, kernel[0] > 0 && kernel[1] > 0, () => `kernel size must be nonzero, got ${kernel.join(' x ')}`);
  }
  need(def, !has('pad_h') === !has('pad_w') && !(has('pad') && has('pad_h')), 'padding is pad, or both pad_h and pad_w');
  need(def, !has('stride_h') === !has('stride_w') && !(has('stride') && has('stride_h')), 'stride is stride, or both stride_h and stride_w');
  const pad: [number, number] = has('pad_h') ? [p.pad_h, p.pad_w] : [p.pad, p.pad];
  const stride: [number, number] = has('stride_h') ? [p.stride_h, p.stride_w] : [p.stride, p.stride];
  need(def, stride[0] > 0 && stride[1] > 0, () => `stride must be nonzero, got ${stride.join(' x ')}`);
  if (p.global_pooling)
    need(def, pad[0] === 0 && pad[1] === 0 && stride[0] === 1 && stride[1] === 1, 'global_pooling allows only pad 0 and stride 1');
  if (pad[0] || pad[1]) {
    need(def, p.pool !== 'STOCHASTIC', 'padding is implemented only for MAX and AVE pooling (as in Caffe)');
    need(def, p.global_pooling || (pad[0] < kernel[0] && pad[1] < kernel[1]), () => `pad ${pad.join(' x ')} must be smaller than the kernel ${kernel.join(' x ')}`);
  }
  return { method: p.pool, global: p.global_pooling, ceil: poolRoundsUp(def), kernel, pad, stride };
}

/**
 * Whether the pooled size rounds up: BVLC's round_mode (CEIL unless FLOOR), or the forks' bool ceil_mode (DenseNet's
 * and OpenCV's caffe.proto put it at 13, where BVLC has round_mode). A layer may give one of them, not both.
 */
export function poolRoundsUp(def: LayerParameter): boolean {
  const p = paramsOf<PoolingParam>(def, 'pooling_param');
  const raw = (def.pooling_param ?? {}) as Record<string, unknown>;
  need(def, p.round_mode === 'CEIL' || p.round_mode === 'FLOOR', () => `unknown round_mode ${String(p.round_mode)}`);
  need(def, raw.ceil_mode === undefined || raw.round_mode === undefined, 'gives both round_mode (BVLC) and ceil_mode (a fork\'s); give one');
  return raw.ceil_mode !== undefined ? p.ceil_mode : p.round_mode === 'CEIL';
}

/**
 * Caffe's pooled size: ceil or floor, then the last window must start inside image + pad. Caffe applies that
 * clip on both axes when EITHER pad is set (`if (pad_h_ || pad_w_)` in pooling_layer.cpp), hence `anyPad`.
 * `grow` is the yolo dialect's extra window, added before that clip as the fork adds it.
 */
function pooledSize(size: number, kernel: number, pad: number, stride: number, ceil: boolean, anyPad: boolean, grow: number): number {
  const span = (size + 2 * pad - kernel) / stride;
  let out = (ceil ? Math.ceil(span) : Math.floor(span)) + 1 + grow;
  if (anyPad && (out - 1) * stride >= size + pad) out--;
  return out;
}

/**
 * The yolo dialect's extra output row and column (ChenYingpeng/caffe-yolov3's pooling_layer.cpp, "for darknet
 * yolov3 tiny maxpool layer stride=1,size=2"): both when the ROWS' kernel − stride is odd (a C++ % of a difference:
 * never for a kernel smaller than the stride), global pooling included, whose kernel is the plane by then. Its last
 * window is the edge clipped, as darknet's maxpool pads: a 2 x 2 stride-1 pool keeps 13 x 13 at 13 x 13.
 */
function dialectGrowth(net: NetContext, kernelH: number, strideH: number): number {
  return net.dialect === 'yolo' && (kernelH - strideH) % 2 === 1 ? 1 : 0;
}

/**
 * For a shape error after it: why a Pooling of an even kernel at stride 1 (darknet's 2 x 2 "same" maxpool, which
 * BVLC shrinks, a shape nobody builds on purpose) may be the cause. BVLC's common 3 x 3 stride-2 pools, which the
 * dialect grows too, get no hint: a BVLC net's errors would all name them.
 */
export function sizedOtherwiseInYolo(def: LayerParameter, bottom: Shape, top: Shape): string | undefined {
  const s = readPoolSettings(def);
  if (s.global || s.stride[0] !== 1 || !dialectGrowth({ dialect: 'yolo' }, s.kernel[0], s.stride[0])) return undefined;
  const anyPad = s.pad[0] > 0 || s.pad[1] > 0;
  const yolo = [0, 1].map((i) => pooledSize(bottom[2 + i], s.kernel[i], s.pad[i], s.stride[i], s.ceil, anyPad, 1));
  if (yolo[0] === top[2] && yolo[1] === top[3]) return undefined;
  const plane = (shape: readonly number[]) => shape.join(' x ');
  return `layer '${def.name}' before it pools ${plane(s.kernel)} at stride 1, ${plane(bottom.slice(2))} to ${plane(top.slice(2))} in BVLC Caffe but to ${plane(yolo)} in the YOLO ports' Caffe: for a net converted from darknet, load it with options.dialect 'yolo'`;
}

/**
 * Caffe's Pooling over (N, C, H, W): MAX (padding never wins; an optional second top gets the argmax index
 * h * W + w within the plane, as a float), AVE (divisor = the window clipped to [-p, H + p) before clamping to
 * the image) and STOCHASTIC at TEST time (sum x^2 / sum x over the window, 0 when the sum is not positive:
 * what Caffe's GPU test path computes; its CPU path has none). Window bounds are computed once per reshape,
 * so the inner loops only add or compare.
 */
export const poolingLayer: LayerType = {
  type: 'Pooling',
  onnx: poolingToOnnx,
  create(def, _weights, net = {}) {
    const s = readPoolSettings(def);
    const maxTops = s.method === 'MAX' ? 2 : 1;
    let height = 0, width = 0, outH = 0, outW = 0;
    // Per output row / column: first and one-past-last input index, clamped to the image, and the AVE divisor part.
    let rowStart: Int32Array = new Int32Array(0), rowEnd: Int32Array = new Int32Array(0), rowSpan: Int32Array = new Int32Array(0);
    let colStart: Int32Array = new Int32Array(0), colEnd: Int32Array = new Int32Array(0), colSpan: Int32Array = new Int32Array(0);
    let wasmWindows: PoolWindows | undefined; // MAX / AVE windows for the wasm kernel (src/kernels/pooling.ts)
    return {
      reshape([shape]) {
        expectCounts(def, [1, 1], [1, maxTops]);
        need4d(def, [shape]);
        [height, width] = [shape[2], shape[3]];
        const [kh, kw] = s.global ? [height, width] : s.kernel;
        const [ph, pw] = s.pad, [sh, sw] = s.stride;
        const grow = dialectGrowth(net, kh, sh);
        outH = pooledSize(height, kh, ph, sh, s.ceil, ph > 0 || pw > 0, grow);
        outW = pooledSize(width, kw, pw, sw, s.ceil, ph > 0 || pw > 0, grow);
        need(def, outH > 0 && outW > 0, () => `kernel ${kh} x ${kw} is larger than the padded input ${height + 2 * ph} x ${width + 2 * pw}`);
        const top = [shape[0], shape[1], outH, outW];
        // Before the window tables, which are as long as the output (kernel 10^8, pad 10^8 - 1: 2.4 GB of them).
        needSaneShape(def, def.top?.[0] ?? '', top);
        [rowStart, rowEnd, rowSpan] = windows(outH, kh, ph, sh, height, s.method === 'STOCHASTIC');
        [colStart, colEnd, colSpan] = windows(outW, kw, pw, sw, width, s.method === 'STOCHASTIC');
        wasmWindows = { height, width, outH, outW, kernelW: kw, strideW: sw, padW: pw, rowStart, rowEnd, rowSpan, colSpan };
        return (def.top ?? []).map(() => top);
      },
      forward([bottom], [top, mask]) {
        const planes = bottom.dims[0] * bottom.dims[1];
        const x = bottom.data, y = top.data, m = mask?.data;
        const inPlane = height * width, outPlane = outH * outW;
        const engine = s.method === 'STOCHASTIC' || m ? null : wasmEngine();
        if (engine && wasmWindows && canPoolWasm(wasmWindows, s.method as 'MAX' | 'AVE')) {
          poolWasm(engine, wasmWindows, s.method as 'MAX' | 'AVE', planes, x, y);
          return;
        }
        for (let c = 0; c < planes; c++) {
          const xo = c * inPlane, yo = c * outPlane;
          if (s.method === 'MAX') {
            if (m) maxPlane(x, xo, y, yo, m);
            else maxPlaneNoMask(x, xo, y, yo);
          }
          else if (s.method === 'AVE') avePlane(x, xo, y, yo);
          else stochasticPlane(x, xo, y, yo);
        }
      },
    };

    /**
     * MAX with the mask top: Caffe's strict > keeps the first maximum's index. Apart from maxPlaneNoMask, whose
     * loops have the same frame: its branch-free max has no index to keep, and a shared loop would cost it that.
     */
    function maxPlane(x: Float32Array, xo: number, y: Float32Array, yo: number, m: Float32Array): void {
      // Locals, not the closure's variables: V8 keeps these in registers in the hot loop.
      const oh = outH, ow = outW, w = width, rs = rowStart, re = rowEnd, cs = colStart, ce = colEnd;
      for (let oy = 0; oy < oh; oy++) {
        const h0 = rs[oy], h1 = re[oy];
        const out = yo + oy * ow;
        for (let ox = 0; ox < ow; ox++) {
          const w0 = cs[ox], w1 = ce[ox];
          let best = MINUS_FLT_MAX, at = -1;
          for (let h = h0; h < h1; h++) {
            const row = xo + h * w;
            for (let i = row + w0, end = row + w1; i < end; i++) {
              const v = x[i];
              if (v > best) {
                best = v;
                at = i;
              }
            }
          }
          y[out + ox] = best;
          m[out + ox] = at < 0 ? -1 : at - xo;
        }
      }
    }

    /** MAX without the mask top: a branch-free running max (same result as Caffe's strict > with NaNs). */
    function maxPlaneNoMask(x: Float32Array, xo: number, y: Float32Array, yo: number): void {
      const oh = outH, ow = outW, w = width, rs = rowStart, re = rowEnd, cs = colStart, ce = colEnd;
      for (let oy = 0; oy < oh; oy++) {
        const h0 = rs[oy], h1 = re[oy];
        const out = yo + oy * ow;
        for (let ox = 0; ox < ow; ox++) {
          const w0 = cs[ox], w1 = ce[ox];
          let best = MINUS_FLT_MAX;
          for (let h = h0; h < h1; h++) {
            for (let i = xo + h * w + w0, end = i + (w1 - w0); i < end; i++) {
              const v = x[i];
              best = v > best ? v : best;
            }
          }
          y[out + ox] = best;
        }
      }
    }

    /** Caffe's loop: a float sum from +0, row by row, left to right (each add rounded to float32, as Caffe's). */
    function avePlane(x: Float32Array, xo: number, y: Float32Array, yo: number): void {
      const fround = Math.fround;
      for (let oy = 0; oy < outH; oy++) {
        const h0 = rowStart[oy], h1 = rowEnd[oy], hs = rowSpan[oy];
        for (let ox = 0; ox < outW; ox++) {
          const w0 = colStart[ox], w1 = colEnd[ox];
          let sum = 0;
          for (let h = h0; h < h1; h++) {
            const row = xo + h * width;
            for (let i = row + w0, end = row + w1; i < end; i++) sum = fround(sum + x[i]);
          }
          y[yo + oy * outW + ox] = sum / (hs * colSpan[ox]);
        }
      }
    }

    function stochasticPlane(x: Float32Array, xo: number, y: Float32Array, yo: number): void {
      for (let oy = 0; oy < outH; oy++) {
        const h0 = rowStart[oy], h1 = rowEnd[oy];
        for (let ox = 0; ox < outW; ox++) {
          const w0 = colStart[ox], w1 = colEnd[ox];
          let sum = 0, sumSquares = 0;
          for (let h = h0; h < h1; h++) {
            const row = xo + h * width;
            for (let i = row + w0, end = row + w1; i < end; i++) {
              const v = x[i];
              sum += v;
              sumSquares += v * v;
            }
          }
          y[yo + oy * outW + ox] = sum > 0 ? sumSquares / sum : 0;
        }
      }
    }
  },
};

/**
 * For each output index: the input window [start, end) clamped to [0, size) and the AVE divisor part (the window
 * clipped to [-pad, size + pad) before clamping). Stochastic pooling has no padding and clamps only the end.
 */
export function windows(count: number, kernel: number, pad: number, stride: number, size: number, stochastic = false): [Int32Array, Int32Array, Int32Array] {
  const start = new Int32Array(count), end = new Int32Array(count), span = new Int32Array(count);
  for (let o = 0; o < count; o++) {
    const a = stochastic ? o * stride : o * stride - pad;
    const b = Math.min(a + kernel, size + pad);
    span[o] = b - a;
    start[o] = Math.max(a, 0);
    end[o] = Math.min(b, size);
  }
  return [start, end, span];
}

/**
 * MaxPool / AveragePool in floor mode with the end pads grown to Caffe's size (the top's, as reshape found it: a
 * dialect's too); AVE edge windows rescaled.
 */
function poolingToOnnx(c: LayerContext): void {
  const { layer } = c;
  const s = readPoolSettings(layer.def);
  const x = layer.bottomShapes[0];
  if (s.method !== 'MAX' && s.method !== 'AVE') fail(c, `pool ${s.method} has no ONNX equivalent; crema converts MAX and AVE`);
  const [height, width] = [x[2], x[3]];
  const out = layer.topShapes[0].slice(2);
  const kernel = s.global ? [height, width] : s.kernel;
  if (s.global && out[0] === 1 && out[1] === 1) {
    c.node(s.method === 'MAX' ? 'GlobalMaxPool' : 'GlobalAveragePool', [c.bottom(0)], [c.top(0)]);
    return;
  }
  if (c.anySize) return poolingAnySize(c, s);
  // ONNX's ceil_mode differs between versions and runtimes on the window that starts in the padding, so
  // crema never uses it: floor mode, with the bottom/right pad grown so that floor gives Caffe's size.
  const endPad = [0, 1].map((i) => Math.max(s.pad[i], (out[i] - 1) * s.stride[i] + kernel[i] - x[2 + i] - s.pad[i]));
  if (endPad[0] >= kernel[0] || endPad[1] >= kernel[1])
    fail(c, 'its last window lies wholly outside the input (stride larger than kernel), which ONNX cannot express');
  const attrs = {
    kernel_shape: ints(kernel),
    strides: ints(s.stride),
    pads: ints([s.pad[0], s.pad[1], endPad[0], endPad[1]]),
  };
  if (s.method === 'MAX') {
    // Padding never wins a MAX, however wide. The mask top (SegNet's Upsample reads it) is Caffe's h * W + w within
    // the plane, as a float: ONNX's Indices count from the start of the tensor, so they are taken modulo H * W.
    const outputs = layer.tops.length > 1 ? [c.top(0), c.tmp('indices')] : [c.top(0)];
    c.node('MaxPool', [c.bottom(0)], outputs, attrs);
    if (layer.tops.length > 1) {
      const within = c.node('Mod', [outputs[1], c.b.int64s(`${layer.name}/plane`, [height * width])], [c.tmp('plane_index')]);
      c.node('Cast', [within], [c.top(1)], { to: int(1) }); // FLOAT
    }
    return;
  }
  // AVE: with count_include_pad every window here is divided by kh * kw. Caffe divides the window that
  // overhangs the padded input by its clipped size instead: rescale those outputs by a constant map.
  const [, , rows] = windows(out[0], kernel[0], s.pad[0], s.stride[0], height, false);
  const [, , cols] = windows(out[1], kernel[1], s.pad[1], s.stride[1], width, false);
  const full = kernel[0] * kernel[1];
  const exact = rows.every((d) => d === kernel[0]) && cols.every((d) => d === kernel[1]);
  const pooled = c.node('AveragePool', [c.bottom(0)], [exact ? c.top(0) : c.tmp('sum')], { ...attrs, count_include_pad: int(1) });
  if (exact) return;
  const factors = new Float32Array(out[0] * out[1]);
  for (let r = 0; r < out[0]; r++)
    for (let col = 0; col < out[1]; col++) factors[r * out[1] + col] = full / (rows[r] * cols[col]);
  c.node('Mul', [pooled, c.b.floats(`${layer.name}/edge_divisors`, factors, out)], [c.top(0)]);
}

/**
 * Pooling for every input size (ConvertOptions.anySize), per axis of size H: floor-mode pooling over the input padded
 * by p in front and E behind. E = p (+ s - 1 rounding up, + s per window the yolo dialect grows) gives Caffe's count
 * before its clip for every H; when a pad is set, E is at most k - 1, which gives floor((H + p - 1) / s) + 1, the
 * clip's bound (the last window starts inside the image): floor is monotone, so the smaller E gives the smaller of
 * the two counts, which is Caffe's, and every pad stays below the kernel as ONNX Runtime requires. MAX ignores the
 * padding (every window touches the image); AVE divides each window's sum by its part of [-p, H + p): the same
 * pooling of a ones plane of H + 2p, zeros behind it, sized from the input's Shape. No constant holds H.
 */
function poolingAnySize(c: LayerContext, s: PoolSettings): void {
  const { layer } = c, n = layer.name;
  if (s.global) fail(c, 'a global Pooling that outputs more than 1 x 1 (the yolo dialect\'s) has no size-free ONNX form');
  const grow = dialectGrowth(c.net, s.kernel[0], s.stride[0]);
  const anyPad = s.pad[0] > 0 || s.pad[1] > 0;
  const axes = [0, 1];
  // Without a pad Caffe does not clip: a last window that starts past the image (stride beyond the kernel) is empty
  // at some sizes, a MAX of nothing and an AVE divided by zero; ONNX cannot express it.
  if (!anyPad && axes.some((i) => (s.ceil ? s.stride[i] * (1 + grow) > s.kernel[i] : grow * s.stride[i] >= s.kernel[i])))
    fail(c, 'its last window lies wholly outside the input at some input sizes (stride larger than kernel, no pad), which ONNX cannot express');
  const end = axes.map((i) => Math.min(s.pad[i] + (s.ceil ? s.stride[i] - 1 : 0) + grow * s.stride[i], anyPad ? s.kernel[i] - 1 : Infinity));
  const pool = (op: string, x: string, begin: number[], endPads: number[], outputs: string[], attrs: Record<string, Attr> = {}) =>
    c.node(op, [x], outputs, { kernel_shape: ints(s.kernel), strides: ints(s.stride), pads: ints([...begin, ...endPads]), ...attrs });
  if (s.method === 'MAX') {
    const mask = layer.tops.length > 1, indices = c.tmp('indices');
    pool('MaxPool', c.bottom(0), s.pad, end, mask ? [c.top(0), indices] : [c.top(0)]);
    if (!mask) return;
    // Caffe's h * W + w within the plane (ONNX counts from the tensor's start), H * W from the input's Shape.
    const plane = c.node('ReduceProd', [runtimeDims(c, c.bottom(0), 2, 4)], [c.tmp('plane')], { keepdims: int(1) });
    c.node('Cast', [c.node('Mod', [indices, plane], [c.tmp('plane_index')])], [c.top(1)], { to: int(1) }); // FLOAT
    return;
  }
  // Floor mode without growth: every window lies inside [-p, H + p), divided by k * k as ONNX does.
  const exact = !s.ceil && grow === 0;
  const sum = pool('AveragePool', c.bottom(0), s.pad, end, [exact ? c.top(0) : c.tmp('window_mean')], { count_include_pad: int(1) });
  if (exact) return;
  const padded = c.node('Add', [runtimeDims(c, c.bottom(0), 2, 4), c.b.int64s(`${n}/both_pads`, s.pad.map((p) => 2 * p))], [c.tmp('padded_dims')]);
  const planeShape = c.node('Concat', [c.b.int64s(`${n}/one_plane`, [1, 1]), padded], [c.tmp('ones_shape')], { axis: int(0) });
  const ones = c.node('Expand', [c.b.scalar(1), planeShape], [c.tmp('ones')]);
  const share = pool('AveragePool', ones, [0, 0], axes.map((i) => end[i] - s.pad[i]), [c.tmp('window_share')], { count_include_pad: int(1) });
  c.node('Div', [sum, share], [c.top(0)]);
}
