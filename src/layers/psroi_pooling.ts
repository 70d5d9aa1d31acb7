import type { LayerParameter } from '../caffe/types.js';
import { type Attr, int } from '../onnx/builder.js';
import { type LayerContext, reduce, runtimeDims } from '../onnx/context.js';
import { DataType } from '../onnx/proto.js';
import { type LayerType, expectCounts, need, need4d } from './layer.js';
import { cRound, checkRois, roiBatch } from './roi_pooling.js';

interface PsroiPoolingParam {
  spatial_scale?: number;
  output_dim?: number;
  group_size?: number;
}


/**
 * PSROIPooling (daijifeng001/caffe-rfcn, R-FCN): position-sensitive average pooling. Bottoms (score maps
 * (N, output_dim * group^2, H, W), rois (R, 5) of [batch index, x1, y1, x2, y2]); top (R, output_dim, group, group):
 * bin (i, j) of output channel c averages channel (c * group + i) * group + j over its part of the ROI, whose corners
 * are rounded, then scaled, the far ones one pixel further (psroi_pooling_layer.cu, the fork's only forward; its
 * float arithmetic kept). An empty bin is 0. ONNX: no operator computes it; psroiPoolingToOnnx builds it exactly.
 */
export const psroiPoolingLayer: LayerType = {
  type: 'PSROIPooling',
  create(def) {
    const { scale, outputDim, group } = psroiParams(def);
    return {
      reshape([x, rois]) {
        expectCounts(def, [2, 2], [1, 1]);
        need4d(def, [x], ['the score maps']);
        need(def, x[1] === outputDim * group * group, () => `has ${x[1]} input channels but output_dim x group_size^2 is ${outputDim * group * group}`);
        checkRois(def, rois);
        return [[rois[0], outputDim, group, group]];
      },
      forward([x, rois], [top]) {
        const [num, channels, height, width] = x.dims, plane = height * width;
        const r = rois.data, y = top.data;
        const hBins = new Int32Array(2 * group), wBins = new Int32Array(2 * group);
        for (let n = 0; n < rois.dims[0]; n++) {
          const batch = roiBatch(def, r, n, num);
          psBins(r[n * 5 + 2], r[n * 5 + 4], scale, group, height, hBins);
          psBins(r[n * 5 + 1], r[n * 5 + 3], scale, group, width, wBins);
          for (let c = 0; c < outputDim; c++)
            for (let i = 0; i < group; i++)
              for (let j = 0; j < group; j++) {
                const xo = (batch * channels + (c * group + i) * group + j) * plane;
                y[((n * outputDim + c) * group + i) * group + j] = binMean(x.data, xo, width, hBins[2 * i], hBins[2 * i + 1], wBins[2 * j], wBins[2 * j + 1]);
              }
        }
      },
    };
  },
  onnx: psroiPoolingToOnnx,
};

/** psroi_pooling_param, checked: the scale as the float the kernel multiplies by. */
function psroiParams(def: LayerParameter): { scale: number; outputDim: number; group: number } {
  // All three fields are `required` in the fork's caffe.proto: no defaults.
  const p = (def.psroi_pooling_param ?? {}) as PsroiPoolingParam;
  need(def, p.spatial_scale !== undefined && p.output_dim !== undefined && p.group_size !== undefined, 'psroi_pooling_param needs spatial_scale, output_dim and group_size');
  const scale = Math.fround(p.spatial_scale!), outputDim = p.output_dim!, group = p.group_size!;
  need(def, outputDim > 0 && group > 0, () => `output_dim and group_size must be positive, got ${outputDim} and ${group}`);
  return { scale, outputDim, group };
}

/** [start, end) of each bin along one axis, in the fork's float arithmetic, clamped to [0, size]. */
function psBins(from: number, to: number, scale: number, group: number, size: number, out: Int32Array): void {
  const start = Math.fround(cRound(from) * scale);
  const end = Math.fround(Math.fround(cRound(to) + 1) * scale);
  const length = Math.fround(Math.max(Math.fround(end - start), 0.1)); // too small a ROI counts as 0.1 pixel
  const bin = Math.fround(length / group);
  const clamp = (v: number) => Math.min(Math.max(v, 0), size);
  for (let i = 0; i < group; i++) {
    out[2 * i] = clamp(Math.floor(Math.fround(Math.fround(i * bin) + start)));
    out[2 * i + 1] = clamp(Math.ceil(Math.fround(Math.fround((i + 1) * bin) + start)));
  }
}

/** The mean over rows [h0, h1) and columns [w0, w1) of one plane, summed in float as the fork; 0 for an empty bin. */
function binMean(x: Float32Array, xo: number, width: number, h0: number, h1: number, w0: number, w1: number): number {
  if (h1 <= h0 || w1 <= w0) return 0;
  let sum = 0;
  for (let h = h0; h < h1; h++)
    for (let i = xo + h * width + w0, end = xo + h * width + w1; i < end; i++) sum = Math.fround(sum + x[i]);
  return Math.fround(sum / Math.fround((h1 - h0) * (w1 - w0)));
}

/**
 * PSROIPooling as ONNX, for ROIs given at run time (their count a dynamic axis, as Proposal's rows). Each bin's sum
 * comes from a summed-area table of the score maps in float64 (Pad a zero row and column in front, CumSum over H then
 * W: entry (h, w) sums rows < h and columns < w), four corners gathered per ROI, output channel and bin; float64 keeps
 * the corners' difference within ~1e-16 of the map's total, so the mean (divided by the bin's area in float64, then
 * Cast to float) is the bin's true mean rounded once, where the kernel's float32 running sum is off by its own
 * rounding. The bins' bounds are the kernel's float32 steps on the ROI (psAxisBins), the channel of bin (i, j) of
 * output channel c the constant (c group + i) group + j, an empty bin 0 (Where). A ROI naming an image the features
 * lack, which the native engine refuses: ONNX Runtime's GatherElements refuses an index past the table, and a
 * negative batch index counts from its end (ONNX's gathers).
 */
function psroiPoolingToOnnx(c: LayerContext): void {
  const { scale, outputDim, group } = psroiParams(c.layer.def);
  const [x] = c.layer.bottomShapes, name = c.layer.name;
  const op = (type: string, inputs: string[], what: string, attrs?: Record<string, Attr>) => c.node(type, inputs, [c.tmp(what)], attrs);
  const i64 = (what: string, v: number[]) => c.b.int64s(`${name}/${what}`, v);
  const cast = (v: string, to: number, what: string) => op('Cast', [v], what, { to: int(to) });
  const [flat, axis1] = [i64('flat', [-1]), i64('axis_1', [1])]; // one initializer each, for every Reshape and Slice
  // The table: (N, C, H + 1, W + 1) in float64, flattened for GatherElements.
  const padded = op('Pad', [c.bottom(0), i64('pads', [0, 0, 1, 1, 0, 0, 0, 0])], 'maps_padded');
  const rowSums = op('CumSum', [cast(padded, DataType.DOUBLE, 'maps_f64'), i64('axis_h', [2])], 'sums_h');
  const table = op('Reshape', [op('CumSum', [rowSums, i64('axis_w', [3])], 'sums_hw'), flat], 'table');
  // H, W (float, the clip bounds) and H + 1, W + 1 (int64, the table's strides): constants, or from Shape (anySize).
  const extent = (axis: number) => {
    if (!c.anySize) return { size: c.b.scalar(x[axis]), stride: i64(`stride${axis}`, [x[axis] + 1]) };
    const size = runtimeDims(c, c.bottom(0), axis, axis + 1);
    return { size: cast(size, DataType.FLOAT, `size${axis}`), stride: op('Add', [size, i64('one', [1])], `stride${axis}`) };
  };
  const [h, w] = [extent(2), extent(3)];
  // The ROIs' columns as (R, 1, 1, 1), to broadcast against the bins (R, 1, g, 1) or (R, 1, 1, g) and channels (1, D, g, g).
  const rois = op('Reshape', [c.bottom(1), i64('rois_shape', [-1, 5, 1, 1])], 'rois');
  const column = (i: number, what: string) => op('Slice', [rois, i64(`${what}_from`, [i]), i64(`${what}_to`, [i + 1]), axis1], what);
  const [hs, he] = psAxisBins(c, column(2, 'y1'), column(4, 'y2'), scale, group, h.size, [1, 1, group, 1], 'h');
  const [ws, we] = psAxisBins(c, column(1, 'x1'), column(3, 'x2'), scale, group, w.size, [1, 1, 1, group], 'w');
  // The flat index of (image, channel, 0, 0): the batch index truncated (Cast), as the kernel's int conversion.
  const channels = op('Reshape', [i64('channels', Array.from({ length: outputDim * group * group }, (_, i) => i)), i64('channels_shape', [1, outputDim, group, group])], 'channel');
  const image = op('Mul', [cast(column(0, 'batch'), DataType.INT64, 'image'), i64('channel_count', [x[1]])], 'image_channel0');
  const base = op('Mul', [op('Add', [image, channels], 'plane'), op('Mul', [h.stride, w.stride], 'plane_size')], 'base');
  // The four corners of every bin, (he, we) - (hs, we) + (hs, ws) - (he, ws), on a first axis: offsets per ROI and bin
  // (4, R, 1, g, g) added to the planes' (R, D, g, g), one GatherElements over the flat table (far quicker in ONNX
  // Runtime than Gather of single elements), their signed sum (Mul, ReduceSum over that leading axis).
  const first = i64('first_axis', [0]);
  const offset = (row: string, col: string, what: string) =>
    op('Unsqueeze', [op('Add', [op('Mul', [row, w.stride], `${what}_row`), col], `${what}_offset`), first], `${what}_corner`);
  const offsets = op('Concat', [offset(he, we, 'end_end'), offset(hs, we, 'start_end'), offset(hs, ws, 'start_start'), offset(he, ws, 'end_start')], 'offsets', { axis: int(0) });
  const index = op('Reshape', [op('Add', [base, offsets], 'corner_index'), flat], 'corner_flat');
  const corners = op('Reshape', [op('GatherElements', [table, index], 'corner_sums', { axis: int(0) }), i64('corners_shape', [4, -1, outputDim, group, group])], 'corners');
  const signs = cast(c.b.floats(`${name}/signs`, Float32Array.of(1, -1, 1, -1), [4, 1, 1, 1, 1]), DataType.DOUBLE, 'signs_f64');
  const sum = reduce(c, 'ReduceSum', op('Mul', [corners, signs], 'signed'), [0], false, c.tmp('sum'));
  const area = op('Mul', [op('Sub', [he, hs], 'rows'), op('Sub', [we, ws], 'cols')], 'area');
  const mean = cast(op('Div', [sum, cast(area, DataType.DOUBLE, 'area_f64')], 'mean_f64'), DataType.FLOAT, 'mean');
  c.node('Where', [op('Greater', [area, i64('zero', [0])], 'filled'), mean, c.b.scalar(0)], [c.top(0)]);
}

/**
 * [start, end) of each bin along one axis as int64 (shaped `dims`: the bins on their axis), in the kernel's float32
 * steps as psBins: C's round() of the corners as Floor plus a half-way test (ONNX's Round takes halves to even), scaled,
 * the far corner one further, the length at least 0.1, the bins Floor / Ceil of multiples of length / group, clipped.
 */
function psAxisBins(c: LayerContext, from: string, to: string, scale: number, group: number, size: string, dims: number[], axis: string): [string, string] {
  const op = (type: string, inputs: string[], what: string, attrs?: Record<string, Attr>) => c.node(type, inputs, [c.tmp(`${axis}_${what}`)], attrs);
  const round = (v: string, what: string) => {
    const magnitude = op('Abs', [v], `${what}_abs`), whole = op('Floor', [magnitude], `${what}_whole`);
    const up = op('Cast', [op('GreaterOrEqual', [op('Sub', [magnitude, whole], `${what}_frac`), c.b.scalar(0.5)], `${what}_up`)], `${what}_carry`, { to: int(DataType.FLOAT) });
    return op('Mul', [op('Sign', [v], `${what}_sign`), op('Add', [whole, up], `${what}_rounded_abs`)], `${what}_rounded`);
  };
  const start = op('Mul', [round(from, 'from'), c.b.scalar(scale)], 'start');
  const end = op('Mul', [op('Add', [round(to, 'to'), c.b.scalar(1)], 'to_next'), c.b.scalar(scale)], 'end');
  const bin = op('Div', [op('Max', [op('Sub', [end, start], 'length_raw'), c.b.scalar(0.1)], 'length'), c.b.scalar(group)], 'bin');
  const bound = (first: number, rounding: 'Floor' | 'Ceil') => {
    const index = c.b.floats(`${c.layer.name}/${axis}_bins_${first}`, Float32Array.from({ length: group }, (_, i) => i + first), dims);
    const at = op(rounding, [op('Add', [op('Mul', [index, bin], `${rounding}_offset`), start], `${rounding}_at`)], `${rounding}_raw`);
    const clipped = op('Min', [op('Max', [at, c.b.scalar(0)], `${rounding}_nonneg`), size], `${rounding}_clipped`);
    return op('Cast', [clipped], rounding, { to: int(DataType.INT64) });
  };
  return [bound(0, 'Floor'), bound(1, 'Ceil')];
}
