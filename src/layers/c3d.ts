import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type LayerContext, fail } from '../onnx/context.js';
import { int, ints } from '../onnx/builder.js';
import { wasmEngine } from '../kernels/wasm.js';
import { type Shape, Tensor, shapeString, sizeOf } from '../tensor.js';
import { type FusableLayer, convolutionLayer, convolutionToOnnx } from './convolution.js';
import { deconvolutionLayer } from './deconvolution.js';
import { softmaxLayer, softmaxToOnnx } from './softmax.js';
import { type Layer, type LayerType, declaredWeights, expectCounts, need, needSaneShape } from './layer.js';
import { poolingLayer, windows } from './pooling.js';

// facebook/C3D's Convolution3D and Pooling3D over N x C x T x H x W: v1.1's with convolution3d_param and
// pooling3d_param (its ResNet-18), v1.0's (the Sports-1M C3D net: V1 files, `layers { type: CONVOLUTION3D }`) with
// the same fields in convolution_param and pooling_param. Semantics from its convolution3d_layer.cpp, vol2col.cpp
// and pool3d_layer.cpp (alike in both versions); checked against v1.1's own build (test/fixtures/layers/c3d_layers).

const V10_DEFAULTS: Record<string, number | undefined> = { pad: 0, stride: 1 };

/** The layer's settings message: v1.1's own, else v1.0's (BVLC's message with C3D's fields; single values). */
function c3dParams<T>(def: LayerParameter, own: string, v10: string): { p: T; raw: Record<string, unknown>; field: string } {
  const field = def[own] === undefined && def[v10] !== undefined ? v10 : own;
  const raw = (def[field] ?? {}) as Record<string, unknown>;
  const p = paramsOf<Record<string, unknown>>(def, field);
  // v1.0's kernel_size, pad and stride are single values, repeated in BVLC's message: unset, C3D's defaults.
  const one = (k: string, v: unknown) => (Array.isArray(v) ? (v.length ? v[0] : V10_DEFAULTS[k]) : v);
  return { p: Object.fromEntries(Object.entries(p).map(([k, v]) => [k, one(k, v)])) as T, raw: Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, one(k, v)])), field };
}

interface Conv3dParam {
  num_output: number;
  bias_term: boolean;
  pad: number;
  kernel_size: number;
  kernel_depth: number;
  stride: number;
  temporal_stride: number;
  temporal_pad: number;
}

/**
 * C3D's Convolution3D is Caffe's N-D Convolution over (T, H, W): a kernel_depth x kernel_size x kernel_size window,
 * pad (temporal_pad, pad, pad), stride (temporal_stride, stride, stride), weights (Cout, C, kd, k, k), floor sizes.
 * Its `group` is read by none of its code (weights are always C deep) and filter_group only splits its GEMM.
 */
export function c3dAsConvolution(def: LayerParameter): LayerParameter {
  const { p, raw, field } = c3dParams<Conv3dParam>(def, 'convolution3d_param', 'convolution_param');
  need(def, raw.kernel_size !== undefined && raw.kernel_depth !== undefined, () => `needs kernel_size and kernel_depth in ${field}`);
  need(def, p.num_output > 0, 'needs num_output > 0');
  return {
    ...def,
    convolution_param: {
      num_output: p.num_output, bias_term: p.bias_term, kernel_size: [p.kernel_depth, p.kernel_size, p.kernel_size],
      pad: [p.temporal_pad, p.pad, p.pad], stride: [p.temporal_stride, p.stride, p.stride],
    },
  };
}

/**
 * A C3D layer run as the BVLC layer `base` over its settings restated (`restate`): one 5-D bottom, and the weights
 * declared under the C3D layer's own definition (the runtime looks them up by it).
 */
function asBvlc(type: string, base: LayerType, restate: (def: LayerParameter) => LayerParameter, transposed: boolean): LayerType {
  return {
    type,
    create(def, weights): FusableLayer {
      const bvlc = restate(def);
      const inner = base.create(bvlc, weights) as FusableLayer;
      return {
        ...inner,
        reshape(bottoms) {
          expectCounts(def, [1, 1], [1, 1]);
          need(def, bottoms[0].length === 5, () => `needs a 5-D bottom (num, channels, length, height, width), got ${shapeString(bottoms[0])}`);
          const tops = inner.reshape(bottoms);
          declaredWeights.set(def, declaredWeights.get(bvlc) ?? []);
          return tops;
        },
      };
    },
    onnx: (c: LayerContext) => convolutionToOnnx({ ...c, layer: { ...c.layer, def: restate(c.layer.def) } }, transposed),
  };
}

export const convolution3dLayer = asBvlc('Convolution3D', convolutionLayer, c3dAsConvolution, false);

/**
 * C3D's Deconvolution3D (its video-to-voxel nets' upsampling: deconvolution3d_layer.cpp, col2vol in vol2col.cpp)
 * is Caffe's N-D Deconvolution over (T, H, W) with Convolution3D's settings: weights (C, Cout, kd, k, k), output
 * (in - 1) stride - 2 pad + kernel per axis, no groups. Its bias_term is read from convolution_param in both
 * versions, so a v1.1 layer with convolution3d_param has a bias unless convolution_param { bias_term: false }.
 */
export function c3dAsDeconvolution(def: LayerParameter): LayerParameter {
  const conv = c3dAsConvolution(def);
  const biasTerm = paramsOf<{ bias_term: boolean }>(def, 'convolution_param').bias_term;
  return { ...conv, convolution_param: { ...(conv.convolution_param as object), bias_term: biasTerm } };
}

export const deconvolution3dLayer = asBvlc('Deconvolution3D', deconvolutionLayer, c3dAsDeconvolution, true);

/**
 * C3D v1.0's VoxelWiseSoftmax (VOXEL_SOFTMAX: its segmentation nets' output, voxel_wise_softmax_layer.cpp): each
 * voxel's softmax over the channels of N x C x L x H x W, the channels' max subtracted first: Softmax over axis 1.
 * (Its max loop reads the running max at the bottom's offset of channel 0, the right place only for image 0: at
 * batch > 1 the fork subtracts another number, which changes the result by rounding alone unless exp underflows.)
 */
export const voxelWiseSoftmaxLayer: LayerType = {
  type: 'VoxelWiseSoftmax',
  create(def, weights) {
    const inner = softmaxLayer.create({ ...def, softmax_param: { axis: 1 } }, weights);
    return {
      ...inner,
      reshape(bottoms) {
        need(def, bottoms[0]?.length === 5, () => `needs a 5-D bottom (num, channels, length, height, width), got ${bottoms[0] ? shapeString(bottoms[0]) : 'none'}`);
        return inner.reshape(bottoms);
      },
    };
  },
  onnx: (c: LayerContext) => softmaxToOnnx({ ...c, layer: { ...c.layer, def: { ...c.layer.def, softmax_param: { axis: 1 } } } }),
};

interface Pool3dParam {
  pool: 'MAX' | 'AVE' | 'STOCHASTIC';
  kernel_size: number;
  kernel_depth: number;
  stride: number;
  temporal_stride: number;
  pad: number;
}

/** Pooling3D's window per axis (T, H, W): no temporal padding. */
interface Pool3dSettings {
  method: 'MAX' | 'AVE';
  kernel: [number, number, number];
  stride: [number, number, number];
  pad: [number, number, number];
}

function readPool3d(def: LayerParameter): Pool3dSettings {
  const { p, raw, field } = c3dParams<Pool3dParam>(def, 'pooling3d_param', 'pooling_param');
  need(def, p.pool === 'MAX' || p.pool === 'AVE', () => `pool ${String(p.pool)}: crema runs C3D's MAX and AVE (its STOCHASTIC is training-time)`);
  need(def, raw.kernel_size !== undefined && raw.kernel_depth !== undefined, () => `needs kernel_size and kernel_depth in ${field}`);
  need(def, p.kernel_size > 0 && p.kernel_depth > 0, () => `kernel size must be nonzero, got ${p.kernel_depth} x ${p.kernel_size} x ${p.kernel_size}`);
  need(def, p.stride > 0 && p.temporal_stride > 0, () => `stride must be nonzero, got ${p.temporal_stride} x ${p.stride} x ${p.stride}`);
  need(def, p.pad === 0 || p.pool === 'AVE', 'Padding implemented only for average pooling (C3D\'s own check)');
  return { method: p.pool, kernel: [p.kernel_depth, p.kernel_size, p.kernel_size], stride: [p.temporal_stride, p.stride, p.stride], pad: [0, p.pad, p.pad] };
}

/** C3D's pooled sizes: ceil((size + 2 pad - kernel) / stride) + 1 on every axis, with no clip of the last window. */
function pooled3d(def: LayerParameter, s: Pool3dSettings, inSize: readonly number[]): number[] {
  need(def, inSize.every((d, i) => d + 2 * s.pad[i] >= s.kernel[i]), () =>
    `kernel ${s.kernel.join(' x ')} is larger than the padded input ${inSize.map((d, i) => d + 2 * s.pad[i]).join(' x ')} (input ${inSize.join(' x ')})`);
  const out = inSize.map((d, i) => Math.ceil((d + 2 * s.pad[i] - s.kernel[i]) / s.stride[i]) + 1);
  // C3D does not drop a last window that starts past the padded input, as BVLC does: it pools nothing there (MAX
  // gives -FLT_MAX, AVE divides by a size of zero or less). Not a shape anyone trains; refused.
  need(def, out.every((o, i) => (o - 1) * s.stride[i] - s.pad[i] < inSize[i] + s.pad[i]),
    () => `its last window (stride ${s.stride.join(' x ')} over ${inSize.join(' x ')}) starts past the padded input, where C3D pools nothing`);
  return out;
}

/**
 * Per axis (T, H, W): each output's window [start, end) clamped to the input and its AVE divisor part (pooling.ts
 * `windows`: the window clipped to [-pad, size + pad) before clamping; on T, pad 0: clipped to the clip's frames).
 */
type Windows = ReturnType<typeof windows>[];

/** The MAX over each output's frames [start, end) of planes pooled frame by frame ([planes, T, plane]). */
function framesMax(pooled: Float32Array, y: Float32Array, planes: number, T: number, oT: number, plane: number, [start, end]: Windows[number]): void {
  for (let p = 0; p < planes; p++)
    for (let ot = 0; ot < oT; ot++) {
      const yo = (p * oT + ot) * plane, first = (p * T + start[ot]) * plane;
      y.set(pooled.subarray(first, first + plane), yo);
      for (let t = start[ot] + 1; t < end[ot]; t++) {
        const xo = (p * T + t) * plane;
        for (let i = 0; i < plane; i++) if (pooled[xo + i] > y[yo + i]) y[yo + i] = pooled[xo + i];
      }
    }
}

/** C3D's AVE: the window's values summed in float in t, h, w order, over its divisor (see Windows). */
function avePool3d(x: Float32Array, y: Float32Array, planes: number, inSize: number[], out: number[], [wt, wh, ww]: Windows): void {
  const [T, H, W] = inSize, [oT, oH, oW] = out, plane = T * H * W, fround = Math.fround;
  const [ws, we, wspan] = ww;
  for (let pl = 0, yo = 0; pl < planes; pl++) {
    const xo = pl * plane;
    for (let ot = 0; ot < oT; ot++) {
      const t0 = wt[0][ot], t1 = wt[1][ot];
      for (let oh = 0; oh < oH; oh++) {
        const h0 = wh[0][oh], h1 = wh[1][oh], outer = wt[2][ot] * wh[2][oh];
        for (let ow = 0; ow < oW; ow++, yo++) {
          let sum = 0;
          for (let t = t0; t < t1; t++)
            for (let h = h0; h < h1; h++) {
              const row = xo + (t * H + h) * W;
              for (let i = row + ws[ow], e = row + we[ow]; i < e; i++) sum = fround(sum + x[i]);
            }
          y[yo] = sum / (outer * wspan[ow]);
        }
      }
    }
  }
}

/**
 * C3D's Pooling3D over (N, C, T, H, W): MAX (windows clamped to the input) and AVE (sums in float in t, h, w order,
 * divided by the window clipped to the padded plane and to the clip's frames).
 */
export const pooling3dLayer: LayerType = {
  type: 'Pooling3D',
  onnx: pooling3dToOnnx,
  create(def) {
    const s = readPool3d(def);
    let inSize: number[] = [], out: number[] = [], win: Windows = [];
    // Each frame's plane pooled by BVLC's Pooling (its wasm kernel), where its windows are C3D's: MAX (never padded:
    // the same ceil size, the same clamped windows; -FLT_MAX where empty), then a MAX over each window's frames
    // (exact in any order); AVE over one frame at a time (kernel_depth 1, temporal_stride 1, a pad BVLC takes: its
    // divisors C3D's when the sizes agree). Other AVE layers: avePool3d.
    const byFrames = s.method === 'MAX' || (s.kernel[0] === 1 && s.stride[0] === 1 && s.pad[1] < s.kernel[1]);
    const planar: Layer | undefined = byFrames
      ? poolingLayer.create({ name: def.name, type: 'Pooling', bottom: def.bottom, top: def.top?.slice(0, 1), pooling_param: { pool: s.method, kernel_size: s.kernel[1], stride: s.stride[1], pad: s.pad[1] } }, [])
      : undefined;
    let planarFits = false;
    return {
      reshape([shape]) {
        expectCounts(def, [1, 1], [1, 1]);
        need(def, shape.length === 5, () => `needs a 5-D bottom (num, channels, length, height, width), got ${shapeString(shape)}`);
        inSize = shape.slice(2);
        out = pooled3d(def, s, inSize);
        const top = [shape[0], shape[1], ...out];
        needSaneShape(def, def.top?.[0] ?? '', top);
        win = out.map((o, i) => windows(o, s.kernel[i], s.pad[i], s.stride[i], inSize[i]));
        const frames = planar?.reshape([[shape[0] * shape[1], ...inSize]])[0];
        planarFits = frames !== undefined && frames[2] === out[1] && frames[3] === out[2];
        return [top];
      },
      forward([bottom], [top]) {
        const planes = bottom.dims[0] * bottom.dims[1];
        if (!planarFits) return avePool3d(bottom.data, top.data, planes, inSize, out, win);
        const x = new Tensor([planes, ...inSize], bottom.data);
        if (s.kernel[0] === 1 && s.stride[0] === 1) return planar!.forward([x], [new Tensor([planes, ...out], top.data)]);
        const framePlanes = planes * inSize[0] * out[1] * out[2];
        const pooled = wasmEngine()?.sharedArray('pool3d', framePlanes) ?? new Float32Array(framePlanes);
        planar!.forward([x], [new Tensor([planes, inSize[0], out[1], out[2]], pooled)]);
        framesMax(pooled, top.data, planes, inSize[0], out[0], out[1] * out[2], win[0]);
      },
    };
  },
};

/**
 * MaxPool / AveragePool over 3 axes in floor mode, the end pads grown to C3D's ceil size (as Pooling's export
 * does); AVE windows whose divisor is not the full kernel (the last frames, the padded edges) rescaled by a map.
 */
function pooling3dToOnnx(c: LayerContext): void {
  const { layer } = c;
  const s = readPool3d(layer.def);
  const x = layer.bottomShapes[0], out = layer.topShapes[0].slice(2), inSize = x.slice(2);
  if (x.length !== 5) fail(c, 'Pooling3D needs a 5-D input');
  const endPad = [0, 1, 2].map((i) => Math.max(s.pad[i], (out[i] - 1) * s.stride[i] + s.kernel[i] - inSize[i] - s.pad[i]));
  if (endPad.some((p, i) => p >= s.kernel[i])) fail(c, 'its last window lies wholly outside the input (stride larger than kernel), which ONNX cannot express');
  const attrs = { kernel_shape: ints(s.kernel), strides: ints(s.stride), pads: ints([...s.pad, ...endPad]) };
  if (s.method === 'MAX') {
    c.node('MaxPool', [c.bottom(0)], [c.top(0)], attrs);
    return;
  }
  const spans = out.map((o, i) => windows(o, s.kernel[i], s.pad[i], s.stride[i], inSize[i])[2]);
  const full = sizeOf(s.kernel);
  const exact = spans.every((span, i) => span.every((d) => d === s.kernel[i]));
  const pooled = c.node('AveragePool', [c.bottom(0)], [exact ? c.top(0) : c.tmp('sum')], { ...attrs, count_include_pad: int(1) });
  if (exact) return;
  const factors = new Float32Array(sizeOf(out));
  for (let t = 0, k = 0; t < out[0]; t++)
    for (let h = 0; h < out[1]; h++) for (let w = 0; w < out[2]; w++) factors[k++] = full / (spans[0][t] * spans[1][h] * spans[2][w]);
  c.node('Mul', [pooled, c.b.floats(`${layer.name}/edge_divisors`, factors, out as Shape)], [c.top(0)]);
}
