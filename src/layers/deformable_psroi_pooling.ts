import type { LayerParameter } from '../caffe/types.js';
import { type LayerContext, reduce, runtimeDims } from '../onnx/context.js';
import { int } from '../onnx/builder.js';
import { DataType } from '../onnx/proto.js';
import type { Shape } from '../tensor.js';
import { type LayerType, expectCounts, need, need4d } from './layer.js';
import { type PsOps, cRoundOnnx, planeBases, psOps } from './psroi_pooling.js';
import { cRound, checkRois, roiBatch } from './roi_pooling.js';

interface DeformablePsroiPoolingParam {
  spatial_scale?: number;
  output_dim?: number;
  group_size?: number;
  pooled_size?: number;
  part_size?: number;
  sample_per_part?: number;
  trans_std?: number;
  no_trans?: boolean;
}

/** deformable_psroi_pooling_param, checked; the floats as the float32 the kernel holds them in. */
interface Params {
  scale: number;
  outputDim: number;
  group: number;
  part: number;
  samples: number;
  transStd: number;
  noTrans: boolean;
}

/**
 * DeformablePSROIPooling (Deformable R-FCN; the caffe port "Written by Bharat Singh, 2017" in soeaver/py-RFCN-priv,
 * with makefile/frcnn's CPU forward, deformable_psroi_pooling_layer.cpp: the same kernel as its .cu). Bottoms: score
 * maps (N, output_dim * group^2, H, W), rois (R, 5) of [batch index, x1, y1, x2, y2], and unless no_trans the offsets
 * (R, 2K, part_size, part_size): K classes' (x, y) pairs, output channel c reading class c / (output_dim / K). One
 * top (R, output_dim, group, group): the fork's pooled size is group_size, its pooled_size read and ignored; no
 * top_count (MXNet's second output; the fork keeps it internal). Per ROI, corners rounded (C's round), scaled, minus
 * 0.5 (the far ones one pixel further), the extent at least 0.1; bin (i, j) of output channel c samples channel
 * (c group + i) group + j at sample_per_part^2 points from its corner moved by trans_std * offset * the ROI's extent
 * (part (floor(i / group * part_size), same for j)), a point outside [-0.5, size - 0.5] skipped, the others clamped
 * to [0, size - 1] and read bilinearly; the mean of those read, 0 when none. In float32, as the kernel: crema follows
 * makefile/frcnn (its prototxts are the published Deformable R-FCN nets; deformable_psroi_pooling_param 228 there),
 * whose CPU loop is the CUDA kernel line for line (nvcc fuses its multiply-adds: GPU outputs an ulp or so apart).
 * Referee: that CPU kernel compiled (test/fixtures/dpsroi/make-fixtures.sh); docs/FORKS.md has the rules.
 */
export const deformablePsroiPoolingLayer: LayerType = {
  type: 'DeformablePSROIPooling',
  create(def) {
    const p = dpsroiParams(def);
    const parts = Int32Array.from({ length: p.group }, (_, i) => partOf(i, p)); // the same along both axes
    let perClass = p.outputDim;
    return {
      reshape(bottoms) {
        perClass = checkBottoms(def, p, bottoms);
        return [[bottoms[1][0], p.outputDim, p.group, p.group]];
      },
      forward([x, rois, trans], [top]) {
        for (let n = 0; n < rois.dims[0]; n++) {
          const batch = roiBatch(def, rois.data, n, x.dims[0]);
          poolRoi(p, x.dims, x.data, batch, rois.data.subarray(n * 5, n * 5 + 5), p.noTrans ? undefined : trans.data, n, parts, perClass, top.data);
        }
      },
    };
  },
  onnx: dpsroiToOnnx,
};

function dpsroiParams(def: LayerParameter): Params {
  // spatial_scale, output_dim and group_size are `required` in the fork's caffe.proto; the rest have defaults there.
  const q = (def.deformable_psroi_pooling_param ?? {}) as DeformablePsroiPoolingParam;
  need(def, q.spatial_scale !== undefined && q.output_dim !== undefined && q.group_size !== undefined, 'deformable_psroi_pooling_param needs spatial_scale, output_dim and group_size');
  const p: Params = {
    scale: Math.fround(q.spatial_scale!), outputDim: q.output_dim!, group: q.group_size!, part: q.part_size ?? 0,
    samples: q.sample_per_part ?? 1, transStd: Math.fround(q.trans_std ?? 0), noTrans: q.no_trans ?? false,
  };
  need(def, p.outputDim > 0 && p.group > 0, () => `output_dim and group_size must be positive, got ${p.outputDim} and ${p.group}`);
  need(def, p.samples > 0, () => `sample_per_part must be positive, got ${p.samples}`); // the fork: every bin 0
  // With part_size 0 the fork reads offset 0 of the blob for every bin and class (MXNet takes pooled_size instead).
  need(def, p.noTrans || p.part > 0, () => `part_size must be positive when the offsets are used (no_trans false), got ${p.part}`);
  return p;
}

/** The part whose offsets move bin i (along either axis): floor(i / group * part_size) in float, as the kernel. */
function partOf(i: number, p: Params): number {
  return Math.floor(Math.fround(Math.fround(i / p.group) * p.part));
}

/** The bottoms against the parameters; the output channels per offset class (output_dim without offsets). */
function checkBottoms(def: LayerParameter, p: Params, [x, rois, trans]: Shape[]): number {
  expectCounts(def, [2, 3], [1, 1]);
  need4d(def, [x], ['the score maps']);
  need(def, x[1] === p.outputDim * p.group * p.group, () => `has ${x[1]} input channels but output_dim x group_size^2 is ${p.outputDim * p.group * p.group}`);
  checkRois(def, rois);
  if (p.noTrans) return p.outputDim;
  need(def, trans !== undefined, 'no_trans is false but there is no offsets bottom (bottom 2)');
  const want = `(${rois[0]}, 2 x classes, ${p.part}, ${p.part}): one row per ROI, part_size^2 (x, y) pairs per class`;
  need(def, trans.length === 4 && trans[0] === rois[0] && trans[2] === p.part && trans[3] === p.part && trans[1] > 0 && trans[1] % 2 === 0,
    () => `the offsets (bottom 2) must be ${want}, got [${trans.join(', ')}]`);
  const classes = trans[1] / 2;
  need(def, p.outputDim % classes === 0, () => `output_dim ${p.outputDim} is not a multiple of the offsets' ${classes} classes (their ${trans[1]} channels / 2)`);
  return p.outputDim / classes;
}

/** One ROI's bins, as the fork's DeformablePSROIPoolForward computes them (float32 steps kept), into `y`. */
function poolRoi(p: Params, [, channels, height, width]: Shape, x: Float32Array, batch: number, roi: Float32Array,
  trans: Float32Array | undefined, n: number, parts: Int32Array, perClass: number, y: Float32Array): void {
  const f = Math.fround, { group, samples, part } = p;
  const [x0, rw, bw] = roiAxis(roi[1], roi[3], p);
  const [y0, rh, bh] = roiAxis(roi[2], roi[4], p);
  const sw = f(bw / samples), sh = f(bh / samples);
  const plane = height * width, classes = p.outputDim / perClass;
  for (let c = 0; c < p.outputDim; c++) {
    const tBase = (n * classes + Math.trunc(c / perClass)) * 2 * part * part;
    for (let i = 0; i < group; i++)
      for (let j = 0; j < group; j++) {
        const t = tBase + parts[i] * part + parts[j];
        const tx = trans ? f(trans[t] * p.transStd) : 0, ty = trans ? f(trans[t + part * part] * p.transStd) : 0;
        const w0 = f(f(f(j * bw) + x0) + f(tx * rw)), h0 = f(f(f(i * bh) + y0) + f(ty * rh));
        const xo = (batch * channels + (c * group + i) * group + j) * plane; // channel (c group + gh) group + gw, gh = i, gw = j
        y[((n * p.outputDim + c) * group + i) * group + j] = sampledMean(x, xo, width, height, w0, h0, sw, sh, samples);
      }
  }
}

/** A ROI's start along one axis (its corner rounded, scaled, minus 0.5), its extent (at least 0.1) and a bin's size: float32 as the fork. */
function roiAxis(from: number, to: number, p: Params): [number, number, number] {
  const f = Math.fround;
  const start = f(f(cRound(from) * p.scale) - 0.5);
  const end = f(f(f(cRound(to) + 1) * p.scale) - 0.5);
  const extent = Math.max(f(end - start), f(0.1));
  return [start, extent, f(extent / p.group)];
}

/** The mean of the bilinear samples of one bin read (those within [-0.5, size - 0.5]), summed in float as the fork; 0 for none. */
function sampledMean(x: Float32Array, xo: number, width: number, height: number, w0: number, h0: number, sw: number, sh: number, samples: number): number {
  const f = Math.fround;
  let sum = 0, count = 0;
  for (let ih = 0; ih < samples; ih++) {
    let h = f(h0 + f(ih * sh));
    if (h < -0.5 || h > height - 0.5) continue;
    h = Math.min(Math.max(h, 0), height - 1);
    const y1 = Math.floor(h), y2 = Math.ceil(h), dy = f(h - y1), ey = f(1 - dy);
    for (let iw = 0; iw < samples; iw++) {
      let w = f(w0 + f(iw * sw));
      if (w < -0.5 || w > width - 0.5) continue;
      w = Math.min(Math.max(w, 0), width - 1);
      const x1 = Math.floor(w), x2 = Math.ceil(w), dx = f(w - x1), ex = f(1 - dx);
      const r1 = xo + y1 * width, r2 = xo + y2 * width;
      // ((1 - dx)(1 - dy) v11 + (1 - dx) dy v12) + dx (1 - dy) v21 + dx dy v22, in the kernel's order
      const v = f(f(f(f(f(ex * ey) * x[r1 + x1]) + f(f(ex * dy) * x[r2 + x1])) + f(f(dx * ey) * x[r1 + x2])) + f(f(dx * dy) * x[r2 + x2]));
      sum = f(sum + v);
      count++;
    }
  }
  return count === 0 ? 0 : f(sum / count);
}

/**
 * DeformablePSROIPooling as ONNX, the ROIs' count dynamic (Proposal's rows). Every sample point of every bin on
 * axes (R, D, g, g, s, s): the ROI's start and bin sizes in the kernel's float32 steps (psroi_pooling.ts' rounding),
 * the offsets gathered per (class, part) with constant indices, the points clamped, their four corners' flat indices
 * into the score maps (planeBases: image and channel) gathered by one GatherElements and weighted; the points outside
 * the map masked out, summed, divided by their count (0 for none). Sums in ONNX Runtime's order, not the kernel's:
 * within rounding. A ROI naming an image the maps lack gives NaN, as PSROIPooling's export.
 */
function dpsroiToOnnx(c: LayerContext): void {
  const p = dpsroiParams(c.layer.def), k = psOps(c), { outputDim: d, group: g, samples: s } = p;
  const [xShape, , transShape] = c.layer.bottomShapes;
  const perClass = checkBottoms(c.layer.def, p, c.layer.bottomShapes);
  const rois = k.op('Reshape', [c.bottom(1), k.i64([-1, 5, 1, 1, 1, 1])], 'rois');
  const column = (i: number, what: string) => k.op('Slice', [rois, k.i64([i]), k.i64([i + 1]), k.i64([1])], what);
  const size = (axis: number) => (c.anySize ? k.cast(runtimeDims(c, c.bottom(0), axis, axis + 1), DataType.FLOAT, `size${axis}`) : c.b.scalar(xShape[axis]));
  const offsets = p.noTrans ? undefined : transGather(c, k, p, transShape[1] / 2, perClass);
  const xs = sampleAxis(c, k, p, column(1, 'x1'), column(3, 'x2'), size(3), 3, offsets?.[0], 'x');
  const ys = sampleAxis(c, k, p, column(2, 'y1'), column(4, 'y2'), size(2), 2, offsets?.[1], 'y');
  const width64 = c.anySize ? runtimeDims(c, c.bottom(0), 3, 4) : k.i64([xShape[3]]);
  const planeSize = c.anySize ? k.op('Mul', [runtimeDims(c, c.bottom(0), 2, 3), width64], 'plane_size') : k.i64([xShape[2] * xShape[3]]);
  const { base, valid } = planeBases(c, k, k.op('Reshape', [column(0, 'batch'), k.i64([-1, 1, 1, 1])], 'batch4'), d, g, planeSize);
  // The corners' indices in int32 (a blob has fewer than 2^31 elements: MAX_BLOB_ELEMENTS), half int64's memory.
  const width = k.cast(width64, DataType.INT32, 'width32');
  const base6 = k.cast(k.op('Reshape', [base, k.i64([-1, d, g, g, 1, 1])], 'base6'), DataType.INT32, 'base32');
  const at = (row: string, col: string, what: string) =>
    k.op('Unsqueeze', [k.op('Add', [k.op('Add', [base6, k.op('Mul', [row, width], `${what}_row`)], `${what}_rowbase`), col], `${what}_index`), k.i64([0])], `${what}_corner`);
  const index = k.op('Concat', [at(ys.lo, xs.lo, 'c11'), at(ys.hi, xs.lo, 'c12'), at(ys.lo, xs.hi, 'c21'), at(ys.hi, xs.hi, 'c22')], 'corner_indices', { axis: int(0) });
  const flatMaps = k.op('Reshape', [c.bottom(0), k.i64([-1])], 'maps_flat');
  const values = k.op('Reshape', [k.op('GatherElements', [flatMaps, k.op('Reshape', [index, k.i64([-1])], 'index_flat')], 'corner_values', { axis: int(0) }), k.i64([4, -1, d, g, g, s, s])], 'corners');
  const weight = (a: string, b: string, what: string) => k.op('Unsqueeze', [k.op('Mul', [a, b], what), k.i64([0])], `${what}_1`);
  const weights = k.op('Concat', [weight(xs.away, ys.away, 'w11'), weight(xs.away, ys.frac, 'w12'), weight(xs.frac, ys.away, 'w21'), weight(xs.frac, ys.frac, 'w22')], 'weights', { axis: int(0) });
  const sampled = reduce(c, 'ReduceSum', k.op('Mul', [values, weights], 'weighted'), [0], false, c.tmp('samples'));
  const inside = k.op('And', [xs.inside, ys.inside], 'inside');
  const sum = reduce(c, 'ReduceSum', k.op('Where', [inside, sampled, c.b.scalar(0)], 'kept'), [4, 5], false, c.tmp('sum'));
  const count = reduce(c, 'ReduceSum', k.cast(inside, DataType.FLOAT, 'inside_f'), [4, 5], false, c.tmp('count'));
  const mean = k.op('Div', [sum, k.op('Max', [count, c.b.scalar(1)], 'count_1')], 'mean');
  // a bin with no sample: its sum of Where's zeros is +0, so the mean is the fork's 0
  c.node('Where', [valid, mean, c.b.scalar(NaN)], [c.top(0)]);
}

/**
 * The offsets of each output channel and bin, (R, D, g, g, 1, 1) for x and for y, times trans_std: Gather along
 * the flattened (2K part^2) axis of the offsets with constant indices ((class, 0 or 1, part(i), part(j)) per (c, i, j)).
 */
function transGather(c: LayerContext, k: PsOps, p: Params, classes: number, perClass: number): [string, string] {
  const { outputDim: d, group: g, part } = p, pp = part * part;
  const flat = k.op('Reshape', [c.bottom(2), k.i64([-1, 2 * classes * pp])], 'trans_flat');
  const pick = (which: 0 | 1, what: string) => {
    const indices: number[] = [];
    for (let ch = 0; ch < d; ch++) for (let i = 0; i < g; i++) for (let j = 0; j < g; j++) indices.push((Math.trunc(ch / perClass) * 2 + which) * pp + partOf(i, p) * part + partOf(j, p));
    const picked = k.op('Gather', [flat, k.op('Reshape', [k.i64(indices), k.i64([d, g, g])], `${what}_indices`)], `${what}_picked`, { axis: int(1) });
    return k.op('Mul', [k.op('Reshape', [picked, k.i64([-1, d, g, g, 1, 1])], `${what}_6d`), c.b.scalar(p.transStd)], `${what}_scaled`);
  };
  return [pick(0, 'trans_x'), pick(1, 'trans_y')];
}

/** One axis' sample points: the clamped floor and ceil as int32 (lo, hi), the weights of each (away = 1 - frac, frac), and whether a point is inside [-0.5, size - 0.5]. */
interface AxisSamples {
  lo: string;
  hi: string;
  frac: string;
  away: string;
  inside: string;
}

/**
 * The sample points along x (dim 3: bins on axis 3, samples on axis 5) or y (dim 2: axes 2 and 4) of every ROI, in
 * the kernel's float32 steps: start = round(from) scale - 0.5, extent max(end - start, 0.1), bin = extent / group,
 * step = bin / samples; point = (bin index * bin + start + offset * extent) + sample * step.
 */
function sampleAxis(c: LayerContext, k: PsOps, p: Params, from: string, to: string, size: string, dim: 3 | 2, offset: string | undefined, what: string): AxisSamples {
  const op = (type: string, inputs: string[], step: string) => k.op(type, inputs, `${what}_${step}`);
  const start = op('Sub', [op('Mul', [cRoundOnnx(c, from, `${what}_from`), c.b.scalar(p.scale)], 'scaled_from'), c.b.scalar(0.5)], 'start');
  const end = op('Sub', [op('Mul', [op('Add', [cRoundOnnx(c, to, `${what}_to`), c.b.scalar(1)], 'to_next'), c.b.scalar(p.scale)], 'scaled_to'), c.b.scalar(0.5)], 'end');
  const extent = op('Max', [op('Sub', [end, start], 'extent_raw'), c.b.scalar(0.1)], 'extent');
  const bin = op('Div', [extent, c.b.scalar(p.group)], 'bin'), step = op('Div', [bin, c.b.scalar(p.samples)], 'step');
  const positions = (n: number, axis: number, name: string) =>
    c.b.floats(`${c.layer.name}/${what}_${name}`, Float32Array.from({ length: n }, (_, i) => i), Array.from({ length: 6 }, (_, a) => (a === axis ? n : 1)));
  let corner = op('Add', [op('Mul', [positions(p.group, dim, 'bins'), bin], 'bin_offset'), start], 'bin_start');
  if (offset) corner = op('Add', [corner, op('Mul', [offset, extent], 'moved')], 'moved_start');
  const point = op('Add', [corner, op('Mul', [positions(p.samples, dim + 2, 'samples'), step], 'sample_offset')], 'point');
  const inside = op('And', [op('GreaterOrEqual', [point, c.b.scalar(-0.5)], 'from_edge'), op('LessOrEqual', [point, op('Sub', [size, c.b.scalar(0.5)], 'far_edge')], 'to_edge')], 'inside');
  const clamped = op('Min', [op('Max', [point, c.b.scalar(0)], 'nonneg'), op('Sub', [size, c.b.scalar(1)], 'last')], 'clamped');
  const floor = op('Floor', [clamped], 'floor');
  const frac = op('Sub', [clamped, floor], 'frac');
  return {
    lo: k.cast(floor, DataType.INT32, `${what}_lo`), hi: k.cast(op('Ceil', [clamped], 'ceil'), DataType.INT32, `${what}_hi`),
    frac, away: op('Sub', [c.b.scalar(1), frac], 'away'), inside,
  };
}
