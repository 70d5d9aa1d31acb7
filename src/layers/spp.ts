import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { int } from '../onnx/builder.js';
import { type LayerContext, fail, reduce, runtimeDims, runtimePositions } from '../onnx/context.js';
import { DataType } from '../onnx/proto.js';
import { Tensor, shapeString, sizeOf } from '../tensor.js';
import { expectCounts, type Layer, type LayerType, need, need4d } from './layer.js';
import { poolingLayer } from './pooling.js';

/**
 * Caffe's SPP (spp_layer.cpp, spatial pyramid pooling): level i pools the whole plane into about 2^i x 2^i bins
 * (kernel ceil(H / 2^i), stride = kernel, pad (kernel 2^i - H + 1) / 2; each axis alike) with Caffe's own Pooling,
 * flattens each level to (N, C * bins) and concatenates them along axis 1. A pyramid of height 1 is that one
 * pooling, its top 4-D, as Caffe's. The levels are Pooling layers made again whenever the plane changes size.
 */
export const sppLayer: LayerType = {
  type: 'SPP',
  onnx: sppToOnnx,
  create(def): Layer {
    expectCounts(def, [1, 1], [1, 1]);
    const height = pyramidHeight(def);
    let levels: { layer: Layer; top: Tensor }[] = [];
    let planeKey = '';
    return {
      reshape([shape]) {
        need4d(def, [shape]);
        const key = shapeString(shape);
        if (key !== planeKey) {
          levels = levelDefs(def, height, shape[2], shape[3]).map((levelDef) => ({ layer: poolingLayer.create(levelDef, []), top: Tensor.zeros([]) }));
          planeKey = key;
        }
        // Each level pools into its own tensor (a pyramid of height 1: straight into the top).
        for (const level of levels) level.top = Tensor.zeros(level.layer.reshape([shape])[0]);
        if (height === 1) return [levels[0].top.dims];
        return [[shape[0], levels.reduce((sum, l) => sum + sizeOf(l.top.dims.slice(1)), 0)]];
      },
      forward([bottom], [top]) {
        if (height === 1) return levels[0].layer.forward([bottom], [top]);
        // Each level's (N, C * bins) rows go to their columns of the top.
        const n = bottom.dims[0], width = top.dims[1], y = top.data;
        let column = 0;
        for (const { layer, top: level } of levels) {
          layer.forward([bottom], [level]);
          const pooled = level.data, row = pooled.length / n;
          for (let i = 0; i < n; i++) y.set(pooled.subarray(i * row, (i + 1) * row), i * width + column);
          column += row;
        }
      },
    };
  },
};

function pyramidHeight(def: LayerParameter): number {
  const raw = (def.spp_param ?? {}) as Record<string, unknown>;
  need(def, raw.pyramid_height !== undefined, 'needs spp_param { pyramid_height: ... }');
  const h = Number(raw.pyramid_height);
  // 2^i bins a side: beyond 2^30, no plane crema can hold pools into them.
  need(def, Number.isSafeInteger(h) && h >= 1 && h <= 31, () => `pyramid_height must be 1 to 31, got ${String(raw.pyramid_height)}`);
  return h;
}

/** Caffe's SPPLayer::GetPoolingParam for every level, as Pooling layers named after the SPP layer. */
function levelDefs(def: LayerParameter, height: number, h: number, w: number): LayerParameter[] {
  const p = paramsOf<{ pool: string }>(def, 'spp_param');
  need(def, h > 0 && w > 0, 'needs a plane of at least 1 x 1');
  return Array.from({ length: height }, (_, i) => {
    const bins = 2 ** i;
    const [kh, kw] = [Math.ceil(h / bins), Math.ceil(w / bins)];
    const [ph, pw] = [Math.floor((kh * bins - h + 1) / 2), Math.floor((kw * bins - w + 1) / 2)];
    // Caffe's Pooling CHECKs pad < kernel: a pyramid too tall for the plane stops there.
    need(def, ph < kh && pw < kw, () => `pyramid_height ${height} is too tall for a ${h} x ${w} plane: level ${i} (${bins} x ${bins} bins) would pool ${kh} x ${kw} windows with pad ${ph} x ${pw}, and Caffe's Pooling needs the pad smaller than the window`);
    need(def, p.pool !== 'STOCHASTIC' || (ph === 0 && pw === 0), () => `STOCHASTIC pooling takes no padding (as in Caffe), but level ${i} (${bins} x ${bins} bins of a ${h} x ${w} plane) needs pad ${ph} x ${pw}`);
    return {
      ...def,
      pooling_param: { pool: p.pool, kernel_h: kh, kernel_w: kw, stride_h: kh, stride_w: kw, pad_h: ph, pad_w: pw },
    } as LayerParameter;
  });
}

/** Each level as Caffe's Pooling exports it, then Flatten and Concat (a pyramid of height 1: the pooling alone). */
function sppToOnnx(c: LayerContext): void {
  const { layer } = c;
  const x = layer.bottomShapes[0];
  const height = pyramidHeight(layer.def);
  if (c.anySize) return sppAnySize(c, height);
  const defs = levelDefs(layer.def, height, x[2], x[3]);
  const pooled = defs.map((def, i) => {
    const top = poolingLayer.create(def, []).reshape([x])[0];
    const out = height === 1 ? c.top(0) : c.tmp(`level${i}`);
    poolingLayer.onnx!({ ...c, layer: { ...layer, def, topShapes: [top] }, top: () => out });
    return out;
  });
  if (height === 1) return;
  const flat = pooled.map((v, i) => c.node('Flatten', [v], [c.tmp(`level${i}_flat`)], { axis: int(1) }));
  c.node('Concat', flat, [c.top(0)], { axis: int(1) });
}

/**
 * SPP for every input size (ConvertOptions.anySize). A level's windows (kernel ceil(H / bins), stride = kernel, pad
 * (kernel bins - H + 1) / 2) change with H, and ONNX's pooling takes its kernel as an attribute: each level is
 * computed instead as Caffe's Pooling computes those windows, one axis after the other (both MAX and AVE's sum are
 * separable), from a 0/1 membership of each position in each bin's window built from the input's Shape: MAX as
 * Where + ReduceMax, AVE as two MatMuls by the membership divided by Caffe's divisor (the window clipped to
 * [-pad, H + pad), before its clip to the image). Level 0 is the whole plane (kernel H, pad 0): a global pooling.
 * Every bin's window holds part of the image (pad < kernel; Caffe's clip), so a MAX is never of nothing. A size whose
 * pyramid Caffe refuses (too tall for the plane) is the native engine's to refuse.
 */
function sppAnySize(c: LayerContext, height: number): void {
  const pool = paramsOf<{ pool: string }>(c.layer.def, 'spp_param').pool;
  if (pool !== 'MAX' && pool !== 'AVE') fail(c, `pool ${pool} has no ONNX equivalent; crema converts MAX and AVE`);
  const x = c.bottom(0), max = pool === 'MAX';
  // Each axis's size from the Shape once, for every level after the global one.
  let extents: Extent[] | undefined;
  const levels = Array.from({ length: height }, (_, i) => {
    const out = height === 1 ? c.top(0) : c.tmp(`level${i}`);
    if (i === 0) return c.node(max ? 'GlobalMaxPool' : 'GlobalAveragePool', [x], [out]);
    const bins = 2 ** i, [rowsAxis, colsAxis] = (extents ??= [2, 3].map((axis) => runtimeExtent(c, x, axis)));
    if (max) {
      // rows: (N, C, 1, H, W) against (bins, H, 1) -> (N, C, bins, W); columns: (N, C, bins, 1, W) against (bins, W)
      const rows = reduce(c, 'ReduceMax', maskedMax(c, x, 2, sppWindows(c, rowsAxis, bins, [bins, 1, 1], [-1, 1], 'mask')), [3], false, c.tmp(`level${i}_rows`));
      return reduce(c, 'ReduceMax', maskedMax(c, rows, 3, sppWindows(c, colsAxis, bins, [bins, 1], [-1], 'mask')), [4], false, out);
    }
    // (bins, H) x (N, C, H, W) -> (N, C, bins, W); that x (W, bins) -> (N, C, bins, bins)
    const rows = c.node('MatMul', [sppWindows(c, rowsAxis, bins, [bins, 1], [-1], 'shares'), x], [c.tmp(`level${i}_rows`)]);
    return c.node('MatMul', [rows, sppWindows(c, colsAxis, bins, [1, bins], [-1, 1], 'shares')], [out]);
  });
  if (height === 1) return;
  const flat = levels.map((v, i) => c.node('Flatten', [v], [c.tmp(`level${i}_flat`)], { axis: int(1) }));
  c.node('Concat', flat, [c.top(0)], { axis: int(1) });
}

/** `x` unsqueezed at `axis` and its positions outside `mask` set to -inf (for a ReduceMax over the next axis). */
function maskedMax(c: LayerContext, x: string, axis: number, mask: string): string {
  const spread = c.node('Unsqueeze', [x, c.b.int64s(`${c.layer.name}/at`, [axis])], [c.tmp('spread')]);
  return c.node('Where', [mask, spread, c.b.scalar(-Infinity)], [c.tmp('masked')]);
}

/** An axis of the input at run time: its size D ([1] int64 and float) and its positions 0 .. D - 1 (float). */
interface Extent {
  size: string;
  sizeF: string;
  positions: string;
}

function runtimeExtent(c: LayerContext, x: string, axis: number): Extent {
  const size = runtimeDims(c, x, axis, axis + 1), { positions, size: sizeF } = runtimePositions(c, x, axis, size);
  return { size, sizeF, positions };
}

/**
 * The level's windows along one axis of the input (`extent`, size D; bins j of kernel k = ceil(D / bins), start
 * j k - p, p = (k bins - D + 1) / 2, in int64 as Caffe's ints, then as floats, exact): `mask` whether position r lies
 * in bin j's window, or (`shares`) that divided by Caffe's AVE divisor, min(start + k, D + p) - start. The bins lie along
 * `binDims` (the bin index's shape), the positions along `positionDims` (Reshape of the positions 0 .. D - 1), so
 * that the two broadcast to the form the caller wants.
 */
function sppWindows(c: LayerContext, { size, sizeF: d, positions }: Extent, bins: number, binDims: number[], positionDims: number[], want: 'mask' | 'shares'): string {
  const n = c.layer.name;
  const float = (v: string, what: string) => c.node('Cast', [v], [c.tmp(what)], { to: int(DataType.FLOAT) });
  const kernel = c.node('Div', [c.node('Add', [size, c.b.int64s(`${n}/bins_less_one`, [bins - 1])], [c.tmp('size_up')]), c.b.int64s(`${n}/bins`, [bins])], [c.tmp('kernel')]);
  const spill = c.node('Sub', [c.node('Mul', [kernel, c.b.int64s(`${n}/bins`, [bins])], [c.tmp('covered')]), size], [c.tmp('spill')]);
  const pad = c.node('Div', [c.node('Add', [spill, c.b.int64s(`${n}/one`, [1])], [c.tmp('spill_one')]), c.b.int64s(`${n}/two`, [2])], [c.tmp('pad')]);
  const [k, p] = [float(kernel, 'kernel_f'), float(pad, 'pad_f')];
  const index = c.b.floats(`${n}/bin_index`, Float32Array.from({ length: bins }, (_, j) => j), binDims);
  const start = c.node('Sub', [c.node('Mul', [index, k], [c.tmp('bin_at')]), p], [c.tmp('start')]);
  const end = c.node('Add', [start, k], [c.tmp('end')]);
  const r = c.node('Reshape', [positions, c.b.int64s(`${n}/positions_shape`, positionDims)], [c.tmp('positions_shaped')]);
  const mask = c.node('And', [c.node('GreaterOrEqual', [r, start], [c.tmp('after_start')]), c.node('Less', [r, end], [c.tmp('before_end')])], [c.tmp('in_window')]);
  if (want === 'mask') return mask;
  const divisor = c.node('Sub', [c.node('Min', [end, c.node('Add', [d, p], [c.tmp('padded_end')])], [c.tmp('end_in_pad')]), start], [c.tmp('divisor')]);
  return c.node('Div', [float(mask, 'in_window_f'), divisor], [c.tmp('shares')]);
}
