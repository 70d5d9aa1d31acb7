import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type Shape, sameShape, shapeString } from '../tensor.js';
import { type LayerContext, fail, reduce } from '../onnx/context.js';
import { int, ints } from '../onnx/builder.js';
import { type LayerType, MAX_BLOB_ELEMENTS, expectCounts, need } from './layer.js';
import { refuseInPlace } from './axes.js';
import { fmaf } from '../util/round.js';
import { type CorrelationGeometry, correlationWasm } from '../kernels/correlation.js';

const f32 = Math.fround;
/** The fork's CorrelateData runs one warp of 32 threads a pixel; each sums every 32nd channel, then lane 0 adds them. */
export const LANES = 32;
/** The most displacements the ONNX export writes (FlowNet-C's: 441, DispNetCorr1D's: 81), each a few nodes. */
export const MAX_ONNX_DISPLACEMENTS = 4096;

/** The fields both layers share (Correlation1D's adds single_direction). */
export interface CorrelationParam {
  pad: number;
  kernel_size: number;
  max_displacement: number;
  stride_1: number;
  stride_2: number;
  correlation_type: 'MULTIPLY' | 'SUBTRACT';
}

interface Geometry { pad: number; kernel: number; maxDisp: number; stride1: number; stride2: number; radius: number; grid: number; topH: number; topW: number; subtract: boolean }

/** correlation_param as both layers read it: kernel_size and max_displacement given, the kernel odd, strides positive. */
export function readCorrelationParam<T extends CorrelationParam>(def: LayerParameter): T {
  const given = (def.correlation_param ?? {}) as Partial<T>;
  need(def, given.kernel_size !== undefined, 'needs correlation_param { kernel_size }');
  need(def, given.max_displacement !== undefined, 'needs correlation_param { max_displacement }');
  const p = paramsOf<T>(def, 'correlation_param');
  need(def, p.kernel_size % 2 === 1, () => `kernel_size must be odd, got ${p.kernel_size}`);
  need(def, p.stride_1 > 0 && p.stride_2 > 0, () => `stride_1 and stride_2 must be positive, got ${p.stride_1} and ${p.stride_2}`);
  return p;
}

/** correlation_layer.cpp's Reshape: the top's size and the displacement grid. */
function geometry(def: LayerParameter, p: CorrelationParam, [a, b]: Shape[]): Geometry {
  need(def, a.length === 4 && sameShape(a, b), () => `needs two 4-D bottoms of one shape, got ${shapeString(a)} and ${shapeString(b)}`);
  const kernelRadius = (p.kernel_size - 1) / 2, border = p.max_displacement + kernelRadius;
  const topW = Math.ceil(f32(f32(a[3] + 2 * p.pad - border * 2) / p.stride_1));
  const topH = Math.ceil(f32(f32(a[2] + 2 * p.pad - border * 2) / p.stride_1));
  need(def, topW >= 1 && topH >= 1, () => `the displacement and kernel do not fit in the ${a[2]} x ${a[3]} bottoms padded by ${p.pad}`);
  const radius = Math.trunc(p.max_displacement / p.stride_2);
  // The fork pads each bottom into a blob of its own (rbot1_, rbot2_), which Caffe caps as every blob
  const padded = a[0] * (a[2] + 2 * p.pad) * (a[3] + 2 * p.pad) * a[1];
  need(def, padded <= MAX_BLOB_ELEMENTS, () => `its padded bottoms would hold ${padded} values each (pad ${p.pad}), more than a blob can`);
  return { pad: p.pad, kernel: p.kernel_size, maxDisp: p.max_displacement, stride1: p.stride_1, stride2: p.stride_2, radius, grid: 2 * radius + 1, topH, topW, subtract: p.correlation_type === 'SUBTRACT' };
}

/**
 * The bottom zero-padded (pad along x, padY along y: 0 for Correlation1D) and channels last into `out`
 * (blob_rearrange_kernel2 after the fork's cudaMemset).
 */
export function paddedChannelsLast(x: Float32Array, [num, channels, height, width]: Shape, pad: number, padY: number, out: Float32Array): void {
  const pw = width + 2 * pad, ph = height + 2 * padY;
  for (let n = 0; n < num; n++)
    for (let c = 0; c < channels; c++)
      for (let y = 0; y < height; y++) {
        const row = ((n * ph + y + padY) * pw + pad) * channels + c, from = ((n * channels + c) * height + y) * width;
        for (let xx = 0; xx < width; xx++) out[row + xx * channels] = x[from + xx];
      }
}

/**
 * CorrelateData at one top pixel and displacement (2-D and 1-D alike): lane l sums channels l, l + 32, ... of each
 * patch pixel in the kernel's order by fused multiply-adds; then the lanes are added in order.
 */
export function multiplyAt(ra: Float32Array, rb: Float32Array, o1: number, o2: number, k: number, rowStride: number, channels: number, acc: Float32Array): number {
  acc.fill(0);
  for (let j = 0; j < k; j++)
    for (let i = 0; i < k; i++) {
      const p1 = o1 + j * rowStride + i * channels, p2 = o2 + j * rowStride + i * channels;
      for (let base = 0; base < channels; base += LANES) {
        const end = Math.min(LANES, channels - base);
        for (let l = 0; l < end; l++) acc[l] = fmaf(ra[p1 + base + l], rb[p2 + base + l], acc[l]);
      }
    }
  let total = 0;
  for (let l = 0; l < LANES; l++) total = f32(total + acc[l]);
  return total;
}

/**
 * CorrelateDataSubtract at one top pixel and displacement (2-D and 1-D alike): one float sum of |a − b|, rows,
 * columns, channels in order (no lanes: one thread a top element).
 */
export function subtractAt(ra: Float32Array, rb: Float32Array, o1: number, o2: number, k: number, rowStride: number, channels: number): number {
  let sum = 0;
  for (let j = 0; j < k; j++)
    for (let i = 0; i < k; i++) {
      const p1 = o1 + j * rowStride + i * channels, p2 = o2 + j * rowStride + i * channels;
      for (let c = 0; c < channels; c++) sum = f32(sum + Math.abs(f32(ra[p1 + c] - rb[p2 + c])));
    }
  return sum;
}

/**
 * Correlation (lmb-freiburg/flownet2, FlowNet-C's correlation_type MULTIPLY): for each top pixel and each
 * displacement (o, p) of the (2 r + 1)^2 grid (r = max_displacement / stride_2, channel p·(2r+1) + o), the mean over
 * a kernel_size^2 patch and the channels of bottom 0 times bottom 1 shifted by (o, p)·stride_2, both zero-padded by
 * pad; the patch's top-left corner at top (x, y)·stride_1 + max_displacement of the padded bottoms. Restated from
 * correlation_layer.cu's CorrelateData (the layer has no CPU forward): 32 partial sums, lane k over the channels
 * k, k + 32, ... of each patch pixel in turn (each product added by a fused multiply-add, as nvcc compiles
 * sum += a * b), added in lane order, divided by kernel_size^2 · channels, in float. On the wasm engine
 * src/kernels/correlation.ts gives the same bits (this loop: the fallback and reference).
 * SUBTRACT (CorrelateDataSubtract): one float sum of |a − b| in row, column, channel order, divided so (on the wasm
 * engine too). do_abs and single_direction change nothing, as in the fork: its
 * correlation_layer.cpp reads do_abs into do_abs_, which its .cu never uses, and never reads single_direction
 * (Correlation1D's).
 */
export const correlationLayer: LayerType = {
  type: 'Correlation',
  create(def) {
    expectCounts(def, [2, 2], [1, 1]);
    refuseInPlace(def);
    const p = readCorrelationParam<CorrelationParam>(def);
    let g: Geometry, grid: CorrelationGeometry, ra = new Float32Array(0), rb = ra;
    return {
      reshape(bottoms) {
        g = geometry(def, p, bottoms);
        grid = terms(g);
        return [[bottoms[0][0], g.grid * g.grid, g.topH, g.topW]];
      },
      forward([a, b], [top]) {
        if (correlationWasm(a.data, b.data, top.data, a.dims, grid)) return;
        const [num, channels, height, width] = a.dims, pw = width + 2 * g.pad, ph = height + 2 * g.pad;
        // The padded copies made when the loop first runs at this size (the wasm kernel keeps its own in scratch).
        if (ra.length !== num * ph * pw * channels) [ra, rb] = [new Float32Array(num * ph * pw * channels), new Float32Array(num * ph * pw * channels)];
        paddedChannelsLast(a.data, a.dims, g.pad, g.pad, ra);
        paddedChannelsLast(b.data, b.dims, g.pad, g.pad, rb);
        const k = g.kernel, cells = g.grid * g.grid, elems = f32(k * k * channels), y = top.data, plane = g.topH * g.topW;
        const acc = new Float32Array(LANES);
        for (let n = 0; n < num; n++)
          for (let oy = 0; oy < g.topH; oy++)
            for (let ox = 0; ox < g.topW; ox++) {
              const x1 = ox * g.stride1 + g.maxDisp, y1 = oy * g.stride1 + g.maxDisp;
              for (let tc = 0; tc < cells; tc++) {
                const x2 = x1 + ((tc % g.grid) - g.radius) * g.stride2, y2 = y1 + (Math.trunc(tc / g.grid) - g.radius) * g.stride2;
                const o1 = ((n * ph + y1) * pw + x1) * channels, o2 = ((n * ph + y2) * pw + x2) * channels;
                const total = g.subtract ? subtractAt(ra, rb, o1, o2, k, pw * channels, channels) : multiplyAt(ra, rb, o1, o2, k, pw * channels, channels, acc);
                y[(n * cells + tc) * plane + oy * g.topW + ox] = f32(total / elems);
              }
            }
      },
    };
  },
  onnx: correlationToOnnx,
};

/** The kernel's terms of the 2-D layer's geometry: padded and displaced alike along y and x. */
const terms = (g: Geometry): CorrelationGeometry => ({ ...g, padY: g.pad, top0: g.maxDisp, gridW: g.grid, gridH: g.grid, shiftX: -g.radius, shiftY: -g.radius });

function correlationToOnnx(c: LayerContext): void {
  const def = c.layer.def;
  correlationOnnx(c, terms(geometry(def, readCorrelationParam<CorrelationParam>(def), c.layer.bottomShapes)));
}

/**
 * Both layers' ONNX form (the 1-D one's: padY 0, one row of displacements). Pad both bottoms (when padded); Slice
 * each over the patches' rows, bottom 1 once a vertical shift, then the columns once a displacement (so FlowNet-C's
 * 441 share 21 row and 21 column ranges: 84 start and end initializers, not 882); Mul (or Abs of Sub), ReduceMean
 * over the channels and (kernel_size > 1 or stride_1 > 1) an AveragePool of kernel_size, stride stride_1: the mean
 * over k^2 · C; Concat in the top's channel order. The sums' order differs from the kernel's (float rounding only).
 */
export function correlationOnnx(c: LayerContext, g: CorrelationGeometry): void {
  const n = c.layer.name, count = g.gridW * g.gridH;
  if (count > MAX_ONNX_DISPLACEMENTS)
    fail(c, `its ONNX form has a Slice, Mul and ReduceMean per displacement: ${count} displacements (max_displacement ${g.maxDisp} / stride_2 ${g.stride2}) are more than the ${MAX_ONNX_DISPLACEMENTS} crema writes`);
  const pads = g.pad || g.padY ? c.b.int64s(`${n}/pads`, [0, 0, g.padY, g.pad, 0, 0, g.padY, g.pad]) : '';
  const [a, b] = [0, 1].map((i) => (pads ? c.node('Pad', [c.bottom(i), pads], [c.tmp(`padded${i}`)]) : c.bottom(i)));
  const spanH = (g.topH - 1) * g.stride1 + g.kernel, spanW = (g.topW - 1) * g.stride1 + g.kernel;
  // Each range's start and end written once, whichever slices read it
  const ranges = new Map<string, string[]>(), axes = [2, 3].map((axis) => c.b.int64s(`${n}/axis${axis}`, [axis]));
  const slice = (x: string, axis: 0 | 1, from: number, what: string) => {
    const key = `${axis} ${from}`, span = axis ? spanW : spanH;
    if (!ranges.has(key)) ranges.set(key, [c.b.int64s(`${n}/${key.replace(' ', '_')}_from`, [from]), c.b.int64s(`${n}/${key.replace(' ', '_')}_to`, [from + span])]);
    return c.node('Slice', [x, ...ranges.get(key)!, axes[axis]], [c.tmp(what)]);
  };
  const patches = slice(slice(a, 0, g.top0, 'a_rows'), 1, g.maxDisp, 'a');
  const pool = g.kernel > 1 || g.stride1 > 1, last = count === 1, outs: string[] = [];
  for (let dy = 0; dy < g.gridH; dy++) {
    const rows = slice(b, 0, g.top0 + (dy + g.shiftY) * g.stride2, `b_rows${dy}`);
    for (let dx = 0; dx < g.gridW; dx++) {
      const t = dy * g.gridW + dx, moved = slice(rows, 1, g.maxDisp + (dx + g.shiftX) * g.stride2, `b${t}`);
      const mean = reduce(c, 'ReduceMean', pairwise(c, patches, moved, t, g.subtract), [1], true, pool || !last ? c.tmp(`mean${t}`) : c.top(0));
      outs.push(pool ? c.node('AveragePool', [mean], [last ? c.top(0) : c.tmp(`pool${t}`)], { kernel_shape: ints([g.kernel, g.kernel]), strides: ints([g.stride1, g.stride1]) }) : mean);
    }
  }
  if (!last) c.node('Concat', outs, [c.top(0)], { axis: int(1) });
}

/** Bottom 0's patches with bottom 1's moved ones for displacement `t`: Mul, or SUBTRACT's Abs of Sub. */
export function pairwise(c: LayerContext, patches: string, moved: string, t: number, subtract: boolean): string {
  if (!subtract) return c.node('Mul', [patches, moved], [c.tmp(`prod${t}`)]);
  return c.node('Abs', [c.node('Sub', [patches, moved], [c.tmp(`diff${t}`)])], [c.tmp(`abs${t}`)]);
}
