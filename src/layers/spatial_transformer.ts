import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type Shape, shapeString, sizeOf } from '../tensor.js';
import { type LayerContext, fail, gridSample } from '../onnx/context.js';
import { ints } from '../onnx/builder.js';
import { type LayerType, expectCounts, need, need4d } from './layer.js';
import { refuseInPlace } from './axes.js';

const f32 = Math.fround;
const THETA = ['theta_1_1', 'theta_1_2', 'theta_1_3', 'theta_2_1', 'theta_2_2', 'theta_2_3'] as const;

interface StParam { transform_type: string; sampler_type: string; output_H?: number; output_W?: number }

/** st_param read once: the output size (undefined: the image's) and theta's six entries, a number where fixed. */
function stParamOf(def: LayerParameter): { outH?: number; outW?: number; fixed: (number | undefined)[]; free: number } {
  const p = paramsOf<StParam>(def, 'st_param');
  const raw = (def.st_param ?? {}) as Record<string, unknown>;
  need(def, p.transform_type === 'affine', () => `transform_type "${p.transform_type}" is not one the fork has: only "affine"`);
  need(def, p.sampler_type === 'bilinear', () => `sampler_type "${p.sampler_type}" is not one the fork has: only "bilinear"`);
  const size = (f: 'output_H' | 'output_W') => {
    if (raw[f] === undefined) return undefined;
    need(def, Number(raw[f]) > 0, () => `${f} must be positive, got ${raw[f]}`);
    return Number(raw[f]);
  };
  // The proto's doubles land in a float array (pre_defined_theta is Dtype[6])
  const fixed = THETA.map((f) => (raw[f] === undefined ? undefined : f32(Number(raw[f]))));
  return { outH: size('output_H'), outW: size('output_W'), fixed, free: fixed.filter((v) => v === undefined).length };
}

function stShape(def: LayerParameter, st: ReturnType<typeof stParamOf>, [image, theta]: Shape[]): Shape {
  need4d(def, [image], ['the image']);
  const given = theta.length ? sizeOf(theta) / theta[0] : 0;
  need(def, theta.length >= 1 && given === st.free,
    () => `theta (bottom 1) must give the ${st.free} entries st_param does not fix (6 - ${6 - st.free}) per image, got ${theta.length ? given : 'none'} (${shapeString(theta)})`);
  need(def, theta[0] === image[0], () => `theta's num ${theta[0]} is not the image's ${image[0]}`);
  return [image[0], image[1], st.outH ?? image[2], st.outW ?? image[3]];
}

/** Each image's full theta (2 x 3, row major): the fixed entries, the bottom's in order between them. */
function fullTheta(st: ReturnType<typeof stParamOf>, theta: Float32Array, n: number): Float32Array {
  const full = new Float32Array(6);
  let k = 0;
  for (let i = 0; i < 6; i++) full[i] = st.fixed[i] ?? theta[n * st.free + k++];
  return full;
}

/**
 * The output grid, LayerSetUp's: cell (s, t) is (s / outH * 2 - 1, t / outW * 2 - 1, 1), in double, stored as float.
 * The first coordinate is the row: theta's first row gives the input row.
 */
function outputGrid(outH: number, outW: number): Float32Array {
  const grid = new Float32Array(outH * outW * 3);
  for (let i = 0; i < outH * outW; i++) {
    grid[3 * i] = (Math.floor(i / outW) * 1.0 / outH) * 2 - 1;
    grid[3 * i + 1] = ((i % outW) * 1.0 / outW) * 2 - 1;
    grid[3 * i + 2] = 1;
  }
  return grid;
}

/**
 * SpatialTransformer (daerduoCarey/SpatialTransformerLayer, Kaichun Mo's; st_param): the image (bottom 0) sampled at
 * an affine map of a grid. theta is 2 x 3; st_param's theta_i_j fix entries, the bottom (N, 6 - fixed) gives the
 * rest in row order. Output cell (s, t) has normalised coordinates (s / outH * 2 - 1, t / outW * 2 - 1) in [-1, 1)
 * (not pixel centres, not corners); theta maps them to (px, py), and the input row x = (px + 1) / 2 * H, column
 * y = (py + 1) / 2 * W: identity theta reads pixel (s, t) itself. Bilinear over the four neighbours floor(x|y) and
 * + 1, each one outside the image adding nothing (zeros outside). Restated from st_layer.cu's Forward_gpu and its
 * kernel (the CPU forward refuses to run and ignores the fixed entries) in float32 steps: the grid times theta summed
 * in column order, the weights (1 - (x - m)) (1 - (y - n)), the four products added in the kernel's order.
 */
export const spatialTransformerLayer: LayerType = {
  type: 'SpatialTransformer',
  create(def) {
    expectCounts(def, [2, 2], [1, 1]);
    refuseInPlace(def);
    const st = stParamOf(def);
    let grid: Float32Array = new Float32Array(0); // the output's fixed grid, made at reshape as the fork's LayerSetUp makes it
    return {
      reshape(bottoms) {
        const top = stShape(def, st, bottoms);
        grid = outputGrid(top[2], top[3]);
        return [top];
      },
      forward([image, theta], [top]) {
        const [num, channels, height, width] = image.dims, [, , outH, outW] = top.dims;
        const src = image.data, v = top.data, plane = height * width, cells = outH * outW;
        for (let n = 0; n < num; n++) {
          const t = fullTheta(st, theta.data, n), base = n * channels * plane;
          for (let cell = 0; cell < cells; cell++) {
            const g0 = grid[3 * cell], g1 = grid[3 * cell + 1];
            const px = f32(f32(f32(g0 * t[0]) + f32(g1 * t[1])) + t[2]), py = f32(f32(f32(g0 * t[3]) + f32(g1 * t[4])) + t[5]);
            const x = f32(f32(f32(px + 1) / 2) * height), y = f32(f32(f32(py + 1) / 2) * width);
            const m = Math.floor(x), k = Math.floor(y);
            const rowIn0 = m >= 0 && m < height, rowIn1 = m + 1 >= 0 && m + 1 < height;
            const colIn0 = k >= 0 && k < width, colIn1 = k + 1 >= 0 && k + 1 < width;
            const wx0 = f32(1 - f32(x - m)), wx1 = f32(1 - f32(m + 1 - x)), wy0 = f32(1 - f32(y - k)), wy1 = f32(1 - f32(k + 1 - y));
            const in00 = rowIn0 && colIn0, in10 = rowIn1 && colIn0, in01 = rowIn0 && colIn1, in11 = rowIn1 && colIn1;
            const w00 = f32(wx0 * wy0), w10 = f32(wx1 * wy0), w01 = f32(wx0 * wy1), w11 = f32(wx1 * wy1);
            const i00 = m * width + k, i10 = i00 + width, i01 = i00 + 1, i11 = i10 + 1;
            // the kernel's sum from +0, a neighbour off the image skipped (not added as 0 x a value: NaN stays out)
            for (let c = 0, o = base, at = n * channels * cells + cell; c < channels; c++, o += plane, at += cells) {
              let sum = 0;
              if (in00) sum = f32(sum + f32(w00 * src[o + i00]));
              if (in10) sum = f32(sum + f32(w10 * src[o + i10]));
              if (in01) sum = f32(sum + f32(w01 * src[o + i01]));
              if (in11) sum = f32(sum + f32(w11 * src[o + i11]));
              v[at] = sum;
            }
          }
        }
      },
    };
  },
  onnx: spatialTransformerToOnnx,
};

/**
 * GridSample (opset 16), bilinear, zeros padding, align_corners 0 reads pixel ((g + 1) W - 1) / 2; the fork reads
 * (p + 1) / 2 W, so g = p + 1 / W: the half pixel folded into theta's shift column (the grid's third coordinate is 1).
 * Zeros padding adds nothing for a neighbour off the image, as the fork. theta: the bottom's entries spread into six by
 * a constant 0/1 MatMul, the fixed ones (and the half pixels) added, its rows swapped (GridSample's grid is (x: column,
 * y: row)); the grid is the constant output grid times theta's transpose.
 */
function spatialTransformerToOnnx(c: LayerContext): void {
  if (c.opset < 16) fail(c, `SpatialTransformer needs GridSample (opset 16), converting at opset ${c.opset}`);
  const st = stParamOf(c.layer.def), n = c.layer.name;
  const [[num, , height, width], [, , outH, outW]] = [c.layer.bottomShapes[0], c.layer.topShapes[0]];
  if (st.free === 0) fail(c, 'SpatialTransformer with all six theta entries fixed has no ONNX form here (its theta bottom is empty)');
  const order = [3, 4, 5, 0, 1, 2]; // the swapped rows: (column, row)
  const spread = new Float32Array(st.free * 6), fixed = new Float32Array(6);
  let k = 0;
  for (let i = 0; i < 6; i++) if (st.fixed[i] === undefined) spread[k++ * 6 + order.indexOf(i)] = 1;
  order.forEach((from, to) => { fixed[to] = st.fixed[from] ?? 0; });
  fixed[2] += 1 / width;
  fixed[5] += 1 / height;
  const free = c.node('Reshape', [c.bottom(1), c.b.int64s(`${n}/theta_shape`, [num, st.free])], [c.tmp('theta')]);
  const spreadOut = c.node('MatMul', [free, c.b.floats(`${n}/spread`, spread, [st.free, 6])], [c.tmp('spread')]);
  const full = c.node('Add', [spreadOut, c.b.floats(`${n}/fixed`, fixed, [1, 6])], [c.tmp('full')]);
  const rows = c.node('Reshape', [full, c.b.int64s(`${n}/rows_shape`, [num, 2, 3])], [c.tmp('rows')]);
  const columns = c.node('Transpose', [rows], [c.tmp('columns')], { perm: ints([0, 2, 1]) });
  const points = c.node('MatMul', [c.b.floats(`${n}/grid`, outputGrid(outH, outW), [outH * outW, 3]), columns], [c.tmp('points')]);
  const grid = c.node('Reshape', [points, c.b.int64s(`${n}/grid_shape`, [num, outH, outW, 2])], [c.tmp('grid')]);
  gridSample(c, c.bottom(0), grid, c.top(0), false, 'zeros');
}
