import type { LayerParameter } from '../caffe/types.js';
import { type Shape, sameShape, shapeString } from '../tensor.js';
import type { LayerContext } from '../onnx/context.js';
import { type LayerType, MAX_BLOB_ELEMENTS, expectCounts, need } from './layer.js';
import { refuseInPlace } from './axes.js';
import { type CorrelationGeometry, correlationWasm } from '../kernels/correlation.js';
import { type CorrelationParam, LANES, correlationOnnx, multiplyAt, paddedChannelsLast, readCorrelationParam, subtractAt } from './correlation.js';

// The loop shares CorrelateData's lane sums with the 2-D layer (multiplyAt); it pads along x only and has one row of
// displacements, which may be one-sided. On the wasm engine it runs the 2-D layer's kernel (src/kernels/correlation.ts).

const f32 = Math.fround;

interface Correlation1DParam extends CorrelationParam {
  single_direction: number;
}

interface Geometry {
  pad: number; kernel: number; maxDisp: number; stride1: number; stride2: number;
  /** The first displacement's index (x_shift): −r, or 0 to the right only. */
  shift: number;
  /** The displacements (top channels): 2r + 1, or r + 1 to one side. */
  grid: number;
  topH: number; topW: number; subtract: boolean;
}

function readCorrelation1D(def: LayerParameter): Correlation1DParam {
  const p = readCorrelationParam<Correlation1DParam>(def);
  need(def, p.single_direction >= -1 && p.single_direction <= 1, () => `single_direction must be -1 (left), 0 (off) or 1 (right), got ${p.single_direction}`);
  // x_shift = -neighborhood_grid_width_ = -(r + 1): its first displacement, -(r + 1)·stride_2, passes max_displacement,
  // so the first top pixel of the first sample reads before the padded bottom's buffer (memory of no blob).
  need(def, p.single_direction !== -1, () =>
    `single_direction -1: the fork's kernel displaces by -(max_displacement / stride_2 + 1)·stride_2 .. -stride_2, past max_displacement ${p.max_displacement}, reading before the padded bottom (memory outside any blob); crema runs 0 and 1`);
  return p;
}

/** correlation_layer1d.cpp's Reshape: the bottoms padded along x only; the top's size and displacements. */
function geometry(def: LayerParameter, p: Correlation1DParam, [a, b]: Shape[]): Geometry {
  need(def, a.length === 4 && sameShape(a, b), () => `needs two 4-D bottoms of one shape, got ${shapeString(a)} and ${shapeString(b)}`);
  const kernelRadius = (p.kernel_size - 1) / 2, border = p.max_displacement + kernelRadius;
  const topW = Math.ceil(f32(f32(a[3] + 2 * p.pad - border * 2) / p.stride_1));
  const topH = Math.ceil(f32(f32(a[2] - kernelRadius * 2) / p.stride_1));
  need(def, topW >= 1 && topH >= 1, () => `the displacement and kernel do not fit in the ${a[2]} x ${a[3]} bottoms padded by ${p.pad} along x`);
  // The fork pads each bottom into a blob of its own (rbot1_, rbot2_), capped as every blob
  const padded = a[0] * a[2] * (a[3] + 2 * p.pad) * a[1];
  need(def, padded <= MAX_BLOB_ELEMENTS, () => `its padded bottoms would hold ${padded} values each (pad ${p.pad}), more than a blob can`);
  const radius = Math.trunc(p.max_displacement / p.stride_2);
  const grid = p.single_direction === 0 ? 2 * radius + 1 : radius + 1;
  return {
    pad: p.pad, kernel: p.kernel_size, maxDisp: p.max_displacement, stride1: p.stride_1, stride2: p.stride_2,
    shift: p.single_direction === 0 ? -radius : 0, grid, topH, topW, subtract: p.correlation_type === 'SUBTRACT',
  };
}

/**
 * Correlation1D (lmb-freiburg's DispNetCorr1D, dispflownet-release and flownet2's Caffe): for each top pixel and each
 * horizontal displacement d = (t + shift)·stride_2 (channel t; shift −r with r = max_displacement / stride_2, or 0
 * with single_direction 1), the mean over a kernel_size² patch and the channels of bottom 0 times bottom 1 moved d
 * to the right, both zero-padded by pad along x only; the patch's top-left corner at top (x·stride_1 +
 * max_displacement, y·stride_1) of the padded bottoms. Restated from correlation_layer1d.cu (the layer has no CPU
 * forward): CorrelateData's 32 lane sums, each product added by a fused multiply-add (as nvcc compiles sum += a * b),
 * the lanes added in order, / (kernel_size² · channels) in float; SUBTRACT (CorrelateDataSubtract): one float sum of
 * |a − b| in row, column, channel order, divided so. do_abs the fork reads and never uses.
 */
export const correlation1DLayer: LayerType = {
  type: 'Correlation1D',
  create(def) {
    expectCounts(def, [2, 2], [1, 1]);
    refuseInPlace(def);
    const p = readCorrelation1D(def);
    let g: Geometry, grid: CorrelationGeometry, ra = new Float32Array(0), rb = ra;
    return {
      reshape(bottoms) {
        g = geometry(def, p, bottoms);
        grid = terms(g);
        return [[bottoms[0][0], g.grid, g.topH, g.topW]];
      },
      forward([a, b], [top]) {
        // On the wasm engine (the same bits), MULTIPLY and SUBTRACT
        if (correlationWasm(a.data, b.data, top.data, a.dims, grid)) return;
        const [num, channels, height, width] = a.dims, pw = width + 2 * g.pad, rowStride = pw * channels;
        // The padded copies made when the loop first runs at this size (the wasm kernel keeps its own in scratch).
        if (ra.length !== num * height * pw * channels) [ra, rb] = [new Float32Array(num * height * pw * channels), new Float32Array(num * height * pw * channels)];
        paddedChannelsLast(a.data, a.dims, g.pad, 0, ra);
        paddedChannelsLast(b.data, b.dims, g.pad, 0, rb);
        const k = g.kernel, elems = f32(k * k * channels), y = top.data, plane = g.topH * g.topW, acc = new Float32Array(LANES);
        for (let n = 0; n < num; n++)
          for (let oy = 0; oy < g.topH; oy++)
            for (let ox = 0; ox < g.topW; ox++) {
              const x1 = ox * g.stride1 + g.maxDisp, o1 = ((n * height + oy * g.stride1) * pw + x1) * channels;
              for (let t = 0; t < g.grid; t++) {
                const o2 = o1 + (t + g.shift) * g.stride2 * channels;
                const sum = g.subtract ? subtractAt(ra, rb, o1, o2, k, rowStride, channels) : multiplyAt(ra, rb, o1, o2, k, rowStride, channels, acc);
                y[(n * g.grid + t) * plane + oy * g.topW + ox] = f32(sum / elems);
              }
            }
      },
    };
  },
  onnx: correlation1DToOnnx,
};

/** The 2-D kernel's terms: no padding along y, the patches' rows from the top row's own, one row of displacements. */
const terms = (g: Geometry): CorrelationGeometry => ({ ...g, padY: 0, top0: 0, gridW: g.grid, gridH: 1, shiftX: g.shift, shiftY: 0 });

/** The 2-D layer's ONNX form (correlationOnnx) of these terms: bottom 1's rows sliced once, its columns a displacement. */
function correlation1DToOnnx(c: LayerContext): void {
  const def = c.layer.def;
  correlationOnnx(c, terms(geometry(def, readCorrelation1D(def), c.layer.bottomShapes)));
}
