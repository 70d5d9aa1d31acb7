import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import type { Shape } from '../tensor.js';
import type { LayerContext } from '../onnx/context.js';
import { type LayerType, expectCounts, need, need4d, needSaneShape } from './layer.js';
import { refuseInPlace } from './axes.js';
import { cRound } from './roi_pooling.js';
import { fmaf } from '../util/round.js';

const f32 = Math.fround;

interface ResampleParam {
  width?: number;
  height?: number;
  type: 'NEAREST' | 'LINEAR' | 'CUBIC' | 'AREA';
  antialias: boolean;
}

const bicubic = (v: number): number => {
  const x = Math.abs(v);
  if (x <= 1) return fmaf(f32(x * x), fmaf(1.5, x, -2.5), 1);
  if (x < 2) return fmaf(x, fmaf(x, fmaf(-0.5, x, 2.5), -4), 2);
  return 0;
};
const triangle = (x: number): number => (x >= -1 && x < 0 ? f32(x + 1) : x >= 0 && x <= 1 ? f32(1 - x) : 0);

/** One output axis's source taps: for each output index the input indices and their weights (a·filter(a·d)). */
interface Axis { a: number; start: number[]; filtered: number[][]; weights: number[][]; nearest: number[] }

function readResample(def: LayerParameter, bottoms: number): ResampleParam {
  const p = paramsOf<ResampleParam>(def, 'resample_param');
  need(def, p.type !== 'AREA', 'type AREA: the fork supports only NEAREST, LINEAR and CUBIC');
  const given = (def.resample_param ?? {}) as Partial<ResampleParam>;
  if (bottoms === 1) need(def, (given.width ?? 0) >= 1 && (given.height ?? 0) >= 1, () => `needs resample_param { width height } of at least 1, got ${given.width ?? 'none'} x ${given.height ?? 'none'}`);
  return p;
}

/**
 * The taps of one axis, as InterpolationKernel computes them: in = out·f + g/2 − 0.5 where f is this axis's
 * in/out ratio and g the OTHER axis's (the fork swaps them: x_in uses fy / 2, y_in fx / 2), the window
 * round(in) ± r, taps outside the input skipped.
 */
function axisTaps(def: LayerParameter, p: ResampleParam, inSize: number, outSize: number, f: number, g: number, antialias: boolean): Axis {
  const start: number[] = [], filtered: number[][] = [], weights: number[][] = [], nearest: number[] = [];
  const a = antialias ? f32(1 / f) : 1, kernel = p.type === 'CUBIC' ? 4 : 2, filter = p.type === 'CUBIC' ? bicubic : triangle;
  const radius = f < 1 ? 2 : Math.ceil(f32(kernel / a));
  for (let o = 0; o < outSize; o++) {
    const pos = f32(fmaf(o, f, f32(g / 2)) - 0.5), round = cRound(pos);
    nearest.push(round);
    const from = Math.max(round - radius, 0), to = Math.min(round + radius, inSize - 1), v: number[] = [];
    for (let i = from; i <= to; i++) v.push(filter(f32(a * f32(pos - i))));
    start.push(from);
    filtered.push(v);
    weights.push(v.map((x) => f32(a * x)));
  }
  if (p.type === 'NEAREST') need(def, nearest.every((i) => i >= 0 && i < inSize), () => `NEAREST from ${inSize} to ${outSize} reads outside the bottom (the fork's kernel does not check)`);
  return { a, start, filtered, weights, nearest };
}

function resampleTaps(def: LayerParameter, p: ResampleParam, [, , inH, inW]: Shape, outH: number, outW: number): { x: Axis; y: Axis } {
  const fx = f32(inW / outW), fy = f32(inH / outH);
  const antialias = (fx > 1 || fy > 1) && p.antialias;
  return { x: axisTaps(def, p, inW, outW, fx, fy, antialias), y: axisTaps(def, p, inH, outH, fy, fx, antialias) };
}

/**
 * Resample (lmb-freiburg/flownet2): resizes to resample_param's width x height (or bottom 1's size). LINEAR and
 * CUBIC weigh the input pixels round(in) ± r by a triangle or bicubic filter, widened by the ratio when downsampling
 * with antialias (FlowNet2's last layer, to the image's size), and divide by the weights' sum; NEAREST takes
 * round(in). Restated from resample_layer.cu (the layer has no CPU forward), its float arithmetic (each a·b + c
 * the fused multiply-add nvcc makes of it) and its quirk kept: the half-pixel offset of x uses the height's ratio and
 * that of y the width's.
 */
export const resampleLayer: LayerType = {
  type: 'Resample',
  create(def) {
    expectCounts(def, [1, 2], [1, 1]);
    refuseInPlace(def);
    const p = readResample(def, def.bottom?.length ?? 0);
    let taps: { x: Axis; y: Axis };
    return {
      reshape(bottoms) {
        need4d(def, bottoms);
        const [outH, outW] = bottoms.length === 2 ? [bottoms[1][2], bottoms[1][3]] : [p.height!, p.width!];
        const top = [bottoms[0][0], bottoms[0][1], outH, outW];
        needSaneShape(def, def.top?.[0] ?? '', top); // before the taps' tables, which are that size
        taps = resampleTaps(def, p, bottoms[0], outH, outW);
        return [top];
      },
      forward([bottom], [top]) {
        const [num, channels, inH, inW] = bottom.dims, [, , outH, outW] = top.dims, x = bottom.data, y = top.data;
        for (let nc = 0; nc < num * channels; nc++) {
          const src = nc * inH * inW, dst = nc * outH * outW;
          if (p.type === 'NEAREST') {
            for (let oy = 0; oy < outH; oy++) {
              const row = src + taps.y.nearest[oy] * inW;
              for (let ox = 0; ox < outW; ox++) y[dst + oy * outW + ox] = x[row + taps.x.nearest[ox]];
            }
            continue;
          }
          for (let oy = 0; oy < outH; oy++)
            for (let ox = 0; ox < outW; ox++) {
              // w = ax·f(ax·dx) · ay · f(ay·dy), multiplied left to right as the kernel writes it
              const fy = taps.y.filtered[oy], wx = taps.x.weights[ox], ay = taps.y.a, y0 = taps.y.start[oy], x0 = taps.x.start[ox];
              let sum = 0, wsum = 0;
              for (let j = 0; j < fy.length; j++) {
                const row = src + (y0 + j) * inW + x0;
                for (let i = 0; i < wx.length; i++) {
                  const w = f32(f32(wx[i] * ay) * fy[j]);
                  sum = fmaf(w, x[row + i], sum);
                  wsum = f32(wsum + w);
                }
              }
              y[dst + oy * outW + ox] = wsum === 0 ? 0 : f32(sum / wsum);
            }
        }
      },
    };
  },
  onnx: resampleToOnnx,
};

/** One axis's taps as an (out x in) matrix of normalised weights (0/1 for NEAREST), or its (in x out) transpose. */
function axisMatrix(axis: Axis, inSize: number, nearest: boolean, transposed = false): Float32Array {
  const outSize = axis.start.length, m = new Float32Array(outSize * inSize);
  const at = transposed ? (o: number, i: number) => i * outSize + o : (o: number, i: number) => o * inSize + i;
  for (let o = 0; o < outSize; o++) {
    if (nearest) { m[at(o, axis.nearest[o])] = 1; continue; }
    const w = axis.weights[o], total = w.reduce((s, v) => s + v, 0);
    if (total !== 0) w.forEach((v, i) => (m[at(o, axis.start[o] + i)] = v / total));
  }
  return m;
}

/**
 * The fork's weights are a product of one per axis and normalised by their sum, so the resize is two MatMuls by
 * constant matrices: X·Rxᵀ then Ry·(that). Equal to the kernel up to float rounding (the sums' order differs).
 */
function resampleToOnnx(c: LayerContext): void {
  const def = c.layer.def, p = readResample(def, c.layer.bottomShapes.length), n = c.layer.name;
  const bottom = c.layer.bottomShapes[0], [, , outH, outW] = c.layer.topShapes[0];
  const taps = resampleTaps(def, p, bottom, outH, outW), nearest = p.type === 'NEAREST';
  const rxT = axisMatrix(taps.x, bottom[3], nearest, true), ry = axisMatrix(taps.y, bottom[2], nearest);
  const rows = c.node('MatMul', [c.bottom(0), c.b.floats(`${n}/rx`, rxT, [bottom[3], outW])], [c.tmp('rows')]);
  c.node('MatMul', [c.b.floats(`${n}/ry`, ry, [outH, bottom[2]]), rows], [c.top(0)]);
}
