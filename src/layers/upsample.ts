import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { int } from '../onnx/builder.js';
import { type LayerContext, joinedDims, onlyItemsDynamic, runtimeAxesCopied, runtimeDims } from '../onnx/context.js';
import { type Shape, shapeString } from '../tensor.js';
import { expectCounts, type Layer, LayerError, type LayerType, need, need4d } from './layer.js';

interface UpsampleParam {
  scale: number;
  scale_h: number;
  scale_w: number;
  pad_out_h: boolean;
  pad_out_w: boolean;
  upsample_h: number;
  upsample_w: number;
}

/** The fork's LayerSetUp checks; returns the top's (height, width) for a bottom's. */
function upsampleSize(def: LayerParameter): (height: number, width: number) => [number, number] {
  const p = paramsOf<UpsampleParam>(def, 'upsample_param');
  const raw = (def.upsample_param ?? {}) as Record<string, unknown>;
  const has = (f: keyof UpsampleParam) => raw[f] !== undefined;
  if (has('upsample_h') && has('upsample_w')) {
    need(def, p.upsample_h > 1 && p.upsample_w > 1, () => `upsample_h and upsample_w must be larger than 1, got ${p.upsample_h} and ${p.upsample_w}`);
    return () => [p.upsample_h, p.upsample_w];
  }
  need(def, (!has('scale') && has('scale_h') && has('scale_w')) || (!has('scale_h') && !has('scale_w')),
    'needs upsample_h and upsample_w, or scale, or both scale_h and scale_w (not scale with them)');
  const [sh, sw] = has('scale_h') ? [p.scale_h, p.scale_w] : [p.scale, p.scale];
  need(def, sh > 1 && sw > 1, () => `scale must be larger than 1, got ${sh} x ${sw}`);
  need(def, (!p.pad_out_h || sh === 2) && (!p.pad_out_w || sw === 2), 'pad_out_h / pad_out_w need a scale of 2');
  return (height, width) => [height * sh - Number(p.pad_out_h), width * sw - Number(p.pad_out_w)];
}

/**
 * Upsample (alexgkendall/caffe-segnet, SegNet and ENet): max-unpooling. Bottoms (x, mask), the mask being the
 * second top of a MAX Pooling (the index h * W + w of each maximum within its plane, as a float); each x goes to
 * its index in a zeroed top plane, later writes winning. Size: upsample_h / upsample_w, or the bottom's times
 * scale (scale_h / scale_w) less pad_out_h / pad_out_w. ONNX: ScatterElements into zeros.
 */
export const upsampleLayer: LayerType = {
  type: 'Upsample',
  create(def) {
    if ((def.bottom?.length ?? 0) === 1) return nearestUpsample(def);
    const sizeFor = upsampleSize(def);
    return {
      reshape([x, mask]) {
        expectCounts(def, [2, 2], [1, 1]);
        need4d(def, [x]);
        need(def, shapeString(mask) === shapeString(x), () => `the mask (bottom 1) has shape ${shapeString(mask)}, the input ${shapeString(x)}: they must match`);
        return [[x[0], x[1], ...sizeFor(x[2], x[3])]];
      },
      forward([x, mask], [top]) {
        const inPlane = x.dims[2] * x.dims[3], outPlane = top.dims[2] * top.dims[3];
        const xs = x.data, m = mask.data, y = top.data;
        y.fill(0);
        for (let c = 0, planes = x.dims[0] * x.dims[1]; c < planes; c++) {
          const xo = c * inPlane, yo = c * outPlane;
          for (let i = 0; i < inPlane; i++) {
            const at = Math.trunc(m[xo + i]);
            if (!(at >= 0 && at < outPlane)) throw outOfRange(def, m[xo + i], top.dims);
            y[yo + at] = xs[xo + i];
          }
        }
      },
    };
  },
  onnx: upsampleToOnnx,
};

/**
 * Upsample with one bottom (the YOLOv3 / YOLOv4 Caffe ports: ChenYingpeng/caffe-yolov3's upsample_layer.cpp):
 * nearest-neighbour, each value repeated `scale` times along both plane axes (top (h, w) = bottom (h / scale,
 * w / scale)). ONNX: Resize, nearest, asymmetric, floor.
 */
function nearestUpsample(def: LayerParameter): Layer {
  const scale = nearestScale(def);
  return {
    reshape([x]) {
      expectCounts(def, [1, 1], [1, 1]);
      need4d(def, [x]);
      return [[x[0], x[1], x[2] * scale, x[3] * scale]];
    },
    forward([x], [top]) {
      const [height, width] = [x.dims[2], x.dims[3]], outW = width * scale, xs = x.data, y = top.data;
      let at = 0;
      for (let row = 0, rows = x.dims[0] * x.dims[1] * height; row < rows; row++) {
        // One output row from the input row, then its copies below it.
        const first = at;
        for (let w = 0, src = row * width; w < width; w++, src++) y.fill(xs[src], at + w * scale, at + (w + 1) * scale);
        at += outW;
        for (let k = 1; k < scale; k++, at += outW) y.copyWithin(at, first, first + outW);
      }
    },
  };
}

function nearestScale(def: LayerParameter): number {
  const raw = (def.upsample_param ?? {}) as Record<string, unknown>;
  const others = Object.keys(raw).filter((f) => f !== 'scale');
  need(def, others.length === 0, () => `with one bottom (nearest-neighbour upsampling, as the YOLO ports) takes only upsample_param { scale }, not ${others.join(', ')} (SegNet's max-unpooling takes a second bottom, the pooling mask)`);
  const scale = Number(raw.scale ?? 1);
  need(def, Number.isSafeInteger(scale) && scale >= 1 && scale <= 65536, () => `scale must be a positive integer, got ${String(raw.scale)}`);
  return scale;
}

function nearestToOnnx(c: LayerContext): void {
  const s = nearestScale(c.layer.def);
  c.node('Resize', [c.bottom(0), '', c.b.floats(`${c.layer.name}/scales`, Float32Array.of(1, 1, s, s), [4])], [c.top(0)], {
    mode: { string: 'nearest' },
    coordinate_transformation_mode: { string: 'asymmetric' },
    nearest_mode: { string: 'floor' },
  });
}

function outOfRange(def: LayerParameter, index: number, top: Shape): LayerError {
  return new LayerError(def, `mask index ${index} is outside the ${top[2]} x ${top[3]} top: the scale does not match the pooling that made the mask`);
}

/** Per (N, C) plane: zeros of the top's plane size, x scattered to the mask's indices (the last write wins, as in the fork). */
function upsampleToOnnx(c: LayerContext): void {
  const { layer } = c;
  if (layer.bottoms.length === 1) return nearestToOnnx(c);
  if (c.anySize || !onlyItemsDynamic(c)) return scatterAnySize(c);
  const [x] = layer.bottomShapes, top = layer.topShapes[0];
  // After a Filter: rows per (N, C) plane as (N, C, plane), N copied (0) and read at run time, not the load-time count.
  const items = c.dynamicAxes(0).includes(0), planes = items ? [0, x[1]] : [x[0] * x[1]], axis = planes.length;
  const rows = (name: string, value: string, width: number) => c.node('Reshape', [value, c.b.int64s(`${layer.name}/${name}_shape`, [...planes, width])], [c.tmp(name)]);
  const updates = rows('updates', c.bottom(0), x[2] * x[3]);
  const indices = c.node('Cast', [rows('mask', c.bottom(1), x[2] * x[3])], [c.tmp('indices')], { to: int(7) }); // INT64
  const zerosShape = items ? joinedDims(c, 'zeros_shape', [runtimeDims(c, c.bottom(0), 0, 1), [x[1], top[2] * top[3]]]) : c.b.int64s(`${layer.name}/zeros_shape`, [...planes, top[2] * top[3]]);
  const zeros = c.node('Expand', [c.b.scalar(0), zerosShape], [c.tmp('zeros')]);
  const scattered = c.node('ScatterElements', [zeros, indices, updates], [c.tmp('scattered')], { axis: int(axis) });
  c.node('Reshape', [scattered, c.b.int64s(`${layer.name}/shape`, runtimeAxesCopied(c, top))], [c.top(0)]);
}

/**
 * The mask's scatter for every input size (ConvertOptions.anySize): per (N, C) row of the flattened planes, the top's
 * plane size from the input's Shape. upsampleSize is affine in the bottom's size (the scale times it less pad_out, or
 * a fixed size): its value at 0 x 0 and its step to 1 x 1 give it.
 */
function scatterAnySize(c: LayerContext): void {
  const n = c.layer.name, size = upsampleSize(c.layer.def), [b0, b1] = size(0, 0), [a0, a1] = size(1, 1);
  const rows = (name: string, value: string) => c.node('Reshape', [value, c.b.int64s(`${n}/${name}_shape`, [0, 0, -1])], [c.tmp(name)]);
  const updates = rows('updates', c.bottom(0));
  const indices = c.node('Cast', [rows('mask', c.bottom(1))], [c.tmp('indices')], { to: int(7) }); // INT64
  const scaled = c.node('Mul', [runtimeDims(c, c.bottom(0), 2, 4), c.b.int64s(`${n}/scale`, [a0 - b0, a1 - b1])], [c.tmp('scaled')]);
  const plane = c.node('Add', [scaled, c.b.int64s(`${n}/offset`, [b0, b1])], [c.tmp('top_plane')]);
  const planes = runtimeDims(c, c.bottom(0), 0, 2);
  const flatShape = c.node('Concat', [planes, c.node('ReduceProd', [plane], [c.tmp('plane_size')], { keepdims: int(1) })], [c.tmp('zeros_shape')], { axis: int(0) });
  const zeros = c.node('Expand', [c.b.scalar(0), flatShape], [c.tmp('zeros')]);
  const scattered = c.node('ScatterElements', [zeros, indices, updates], [c.tmp('scattered')], { axis: int(2) });
  c.node('Reshape', [scattered, c.node('Concat', [planes, plane], [c.tmp('shape')], { axis: int(0) })], [c.top(0)]);
}
