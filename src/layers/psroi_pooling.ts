import type { LayerParameter } from '../caffe/types.js';
import { type Attr, int } from '../onnx/builder.js';
import { type LayerContext, int64Once, reduce, runtimeDims } from '../onnx/context.js';
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
 * comes from a summed-area table of the score maps in float64 (summedAreaTable), four corners gathered per ROI, output
 * channel and bin (cornerSums); float64 keeps the corners' difference within ~1e-16 of the map's total, so the mean
 * (divided by the bin's area in float64, then Cast to float) is the bin's true mean rounded once, where the kernel's
 * float32 running sum is off by its own rounding. The bins' bounds are the kernel's float32 steps on the ROI
 * (psAxisBins), the channel of bin (i, j) of output channel c the constant (c group + i) group + j, an empty bin 0.
 * A ROI naming an image the maps lack (its batch index truncated outside [0, N)), which the native engine refuses by
 * name, gives NaN in all its outputs (binMeans): its gathers read image 0 instead, where ONNX's gathers would refuse
 * an index past the end or count a negative one from it (-1 the last image, silently).
 */
function psroiPoolingToOnnx(c: LayerContext): void {
  const { scale, outputDim, group } = psroiParams(c.layer.def);
  const k = psOps(c);
  const [h, w] = [mapExtent(c, k, 2), mapExtent(c, k, 3)];
  // The ROIs' columns as (R, 1, 1, 1), to broadcast against the bins (R, 1, g, 1) or (R, 1, 1, g) and channels (1, D, g, g).
  const rois = k.op('Reshape', [c.bottom(1), k.i64([-1, 5, 1, 1])], 'rois');
  const column = (i: number, what: string) => k.op('Slice', [rois, k.i64([i]), k.i64([i + 1]), k.i64([1])], what);
  const bins = {
    h: psAxisBins(c, column(2, 'y1'), column(4, 'y2'), scale, group, h.size, [1, 1, group, 1], 'h'),
    w: psAxisBins(c, column(1, 'x1'), column(3, 'x2'), scale, group, w.size, [1, 1, 1, group], 'w'),
  };
  const { base, valid } = planeBases(c, k, column(0, 'batch'), outputDim, group, k.op('Mul', [h.stride, w.stride], 'plane_size'));
  const sum = cornerSums(c, k, summedAreaTable(c, k), base, bins, w.stride, outputDim, group);
  binMeans(c, k, sum, bins, valid);
}

/** The node helpers psroiPoolingToOnnx's steps share: an op with a fresh output, an int64 constant (one per value: int64Once), a Cast. */
export interface PsOps {
  op(type: string, inputs: string[], what: string, attrs?: Record<string, Attr>): string;
  i64(v: number[]): string;
  cast(v: string, to: number, what: string): string;
}

export function psOps(c: LayerContext): PsOps {
  const op: PsOps['op'] = (type, inputs, what, attrs) => c.node(type, inputs, [c.tmp(what)], attrs);
  return { op, i64: (v) => int64Once(c, v), cast: (v, to, what) => op('Cast', [v], what, { to: int(to) }) };
}

/** The score maps' summed-area table: (N, C, H + 1, W + 1) in float64 (Pad a zero row and column in front, CumSum over H then W: entry (h, w) sums rows < h and columns < w), flattened for GatherElements. */
function summedAreaTable(c: LayerContext, k: PsOps): string {
  const padded = k.op('Pad', [c.bottom(0), k.i64([0, 0, 1, 1, 0, 0, 0, 0])], 'maps_padded');
  const rowSums = k.op('CumSum', [k.cast(padded, DataType.DOUBLE, 'maps_f64'), k.i64([2])], 'sums_h');
  return k.op('Reshape', [k.op('CumSum', [rowSums, k.i64([3])], 'sums_hw'), k.i64([-1])], 'table');
}

/** The maps' size along `axis` (float, the bins' clip bound) and the table's stride there, size + 1 (int64): constants, or from Shape (anySize). */
function mapExtent(c: LayerContext, k: PsOps, axis: number): { size: string; stride: string } {
  const x = c.layer.bottomShapes[0];
  if (!c.anySize) return { size: c.b.scalar(x[axis]), stride: k.i64([x[axis] + 1]) };
  const size = runtimeDims(c, c.bottom(0), axis, axis + 1);
  return { size: k.cast(size, DataType.FLOAT, `size${axis}`), stride: k.op('Add', [size, k.i64([1])], `stride${axis}`) };
}

/**
 * The flat table index of (image, channel, 0, 0) per ROI and output bin, (R, D, g, g): the batch index truncated
 * (Cast), as the kernel's int conversion; `valid` (R, 1, 1, 1) whether that image exists (batch > -1 and < N, in
 * float: a NaN or huge index is not one), the image read otherwise 0 (any index in range: the ROI's outputs are NaN).
 */
export function planeBases(c: LayerContext, k: PsOps, batch: string, outputDim: number, group: number, planeSize: string): { base: string; valid: string } {
  const images = k.cast(runtimeDims(c, c.bottom(0), 0, 1), DataType.FLOAT, 'images');
  const valid = k.op('And', [k.op('Greater', [batch, c.b.scalar(-1)], 'batch_from'), k.op('Less', [batch, images], 'batch_to')], 'batch_valid');
  const image = k.cast(k.op('Where', [valid, batch, c.b.scalar(0)], 'batch_read'), DataType.INT64, 'image');
  const channels = k.op('Reshape', [k.i64(Array.from({ length: outputDim * group * group }, (_, i) => i)), k.i64([1, outputDim, group, group])], 'channel');
  const first = k.op('Mul', [image, k.i64([c.layer.bottomShapes[0][1]])], 'image_channel0');
  return { base: k.op('Mul', [k.op('Add', [first, channels], 'plane'), planeSize], 'base'), valid };
}

/**
 * Each bin's sum, (R, D, g, g) float64: the four corners (he, we) - (hs, we) + (hs, ws) - (he, ws), on a first axis:
 * offsets per ROI and bin (4, R, 1, g, g) added to the planes' (R, D, g, g), one GatherElements over the flat table
 * (far quicker in ONNX Runtime than Gather of single elements), their signed sum (Mul, ReduceSum over that axis).
 */
function cornerSums(c: LayerContext, k: PsOps, table: string, base: string, bins: Bins, rowStride: string, outputDim: number, group: number): string {
  const { h: [hs, he], w: [ws, we] } = bins, first = k.i64([0]);
  const offset = (row: string, col: string, what: string) =>
    k.op('Unsqueeze', [k.op('Add', [k.op('Mul', [row, rowStride], `${what}_row`), col], `${what}_offset`), first], `${what}_corner`);
  const offsets = k.op('Concat', [offset(he, we, 'end_end'), offset(hs, we, 'start_end'), offset(hs, ws, 'start_start'), offset(he, ws, 'end_start')], 'offsets', { axis: int(0) });
  const index = k.op('Reshape', [k.op('Add', [base, offsets], 'corner_index'), k.i64([-1])], 'corner_flat');
  const corners = k.op('Reshape', [k.op('GatherElements', [table, index], 'corner_sums', { axis: int(0) }), k.i64([4, -1, outputDim, group, group])], 'corners');
  const signs = k.cast(c.b.floats(`${c.layer.name}/signs`, Float32Array.of(1, -1, 1, -1), [4, 1, 1, 1, 1]), DataType.DOUBLE, 'signs_f64');
  return reduce(c, 'ReduceSum', k.op('Mul', [corners, signs], 'signed'), [0], false, c.tmp('sum'));
}

/** The top: each bin's mean (its sum over its area in float64, then float), 0 for an empty bin, NaN for a ROI whose image is not there. */
function binMeans(c: LayerContext, k: PsOps, sum: string, { h: [hs, he], w: [ws, we] }: Bins, valid: string): void {
  const area = k.op('Mul', [k.op('Sub', [he, hs], 'rows'), k.op('Sub', [we, ws], 'cols')], 'area');
  const mean = k.cast(k.op('Div', [sum, k.cast(area, DataType.DOUBLE, 'area_f64')], 'mean_f64'), DataType.FLOAT, 'mean');
  const filled = k.op('Where', [k.op('Greater', [area, k.i64([0])], 'filled'), mean, c.b.scalar(0)], 'bin_means');
  c.node('Where', [valid, filled, c.b.scalar(NaN)], [c.top(0)]);
}

/** [start, end) of every bin along the height (R, 1, g, 1) and the width (R, 1, 1, g), int64. */
interface Bins {
  h: [string, string];
  w: [string, string];
}

/**
 * [start, end) of each bin along one axis as int64 (shaped `dims`: the bins on their axis), in the kernel's float32
 * steps as psBins: C's round() of the corners (cRoundOnnx), scaled,
 * the far corner one further, the length at least 0.1, the bins Floor / Ceil of multiples of length / group, clipped.
 */
function psAxisBins(c: LayerContext, from: string, to: string, scale: number, group: number, size: string, dims: number[], axis: string): [string, string] {
  const op = (type: string, inputs: string[], what: string, attrs?: Record<string, Attr>) => c.node(type, inputs, [c.tmp(`${axis}_${what}`)], attrs);
  const start = op('Mul', [cRoundOnnx(c, from, `${axis}_from`), c.b.scalar(scale)], 'start');
  const end = op('Mul', [op('Add', [cRoundOnnx(c, to, `${axis}_to`), c.b.scalar(1)], 'to_next'), c.b.scalar(scale)], 'end');
  const bin = op('Div', [op('Max', [op('Sub', [end, start], 'length_raw'), c.b.scalar(0.1)], 'length'), c.b.scalar(group)], 'bin');
  const bound = (first: number, rounding: 'Floor' | 'Ceil') => {
    const index = c.b.floats(`${c.layer.name}/${axis}_bins_${first}`, Float32Array.from({ length: group }, (_, i) => i + first), dims);
    const at = op(rounding, [op('Add', [op('Mul', [index, bin], `${rounding}_offset`), start], `${rounding}_at`)], `${rounding}_raw`);
    const clipped = op('Min', [op('Max', [at, c.b.scalar(0)], `${rounding}_nonneg`), size], `${rounding}_clipped`);
    return op('Cast', [clipped], rounding, { to: int(DataType.INT64) });
  };
  return [bound(0, 'Floor'), bound(1, 'Ceil')];
}

/** C's round() of float `v` (halves away from zero) as ONNX: Floor of |v| plus a half-way test, the sign put back (ONNX's Round takes halves to even). */
export function cRoundOnnx(c: LayerContext, v: string, what: string): string {
  const op = (type: string, inputs: string[], step: string, attrs?: Record<string, Attr>) => c.node(type, inputs, [c.tmp(`${what}_${step}`)], attrs);
  const magnitude = op('Abs', [v], 'abs'), whole = op('Floor', [magnitude], 'whole');
  const up = op('Cast', [op('GreaterOrEqual', [op('Sub', [magnitude, whole], 'frac'), c.b.scalar(0.5)], 'up')], 'carry', { to: int(DataType.FLOAT) });
  return op('Mul', [op('Sign', [v], 'sign'), op('Add', [whole, up], 'rounded_abs')], 'rounded');
}
