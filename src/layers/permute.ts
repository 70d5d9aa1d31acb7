import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import type { Shape, Tensor } from '../tensor.js';
import { refuseInPlace } from './axes.js';
import { type LayerType, expectCounts, need } from './layer.js';
import { ints } from '../onnx/builder.js';
import type { LayerContext } from '../onnx/context.js';

/** The full axis order: the given axes first, then the others in their order (as the fork completes it). */
function axisOrder(def: LayerParameter, numAxes: number): number[] {
  const given: number[] = paramsOf(def, 'permute_param').order;
  const order: number[] = [];
  for (const axis of given) {
    need(def, axis < numAxes, () => `order ${axis} is out of range for a ${numAxes}-D bottom`);
    need(def, !order.includes(axis), () => `order ${given.join(', ')} repeats axis ${axis}`);
    order.push(axis);
  }
  for (let i = 0; i < numAxes; i++) if (!order.includes(i)) order.push(i);
  return order;
}

/** Row-major strides of a shape. */
function strides(shape: Shape): number[] {
  const out = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) out[i] = out[i + 1] * shape[i + 1];
  return out;
}

/** top[i...] = bottom at the permuted position: walks the top in order with an odometer over its axes. */
export function permuteAxes(bottom: Tensor, top: Tensor, order: number[]): void {
  const n = order.length, dims = top.dims, inStrides = strides(bottom.dims);
  const step = order.map((a) => inStrides[a]);
  const counter = new Array<number>(n).fill(0);
  const x = bottom.data, y = top.data;
  const inner = dims[n - 1], innerStep = step[n - 1];
  let src = 0;
  for (let i = 0; i < y.length; i += inner) {
    for (let j = 0, s = src; j < inner; j++, s += innerStep) y[i + j] = x[s];
    // Advance the odometer over the outer axes.
    for (let a = n - 2; a >= 0; a--) {
      src += step[a];
      if (++counter[a] < dims[a]) break;
      src -= step[a] * dims[a];
      counter[a] = 0;
    }
  }
}

/**
 * A layer that reorders its bottom's axes by the order `orderOf` reads from its parameter (the SSD fork's Permute,
 * CTPN's Transpose): the odometer walk here, and ONNX Transpose.
 */
export function reorderingLayer(type: string, orderOf: (def: LayerParameter, numAxes: number) => number[]): LayerType {
  return {
    type,
    create(def) {
      expectCounts(def, [1, 1], [1, 1]);
      refuseInPlace(def);
      let order: number[] = [];
      return {
        reshape([shape]) {
          need(def, shape.length > 0, 'needs a bottom with at least one axis');
          order = orderOf(def, shape.length);
          return [order.map((a) => shape[a])];
        },
        forward([bottom], [top]) {
          if (top.data.length) permuteAxes(bottom, top, order);
        },
      };
    },
    onnx: (c: LayerContext) => {
      const order = orderOf(c.layer.def, c.layer.bottomShapes[0].length), dynamic = c.dynamicAxes(0);
      c.node('Transpose', [c.bottom(0)], [c.top(0)], { perm: ints(order) });
      // The axes sized at run time (a Filter's items) move with the others: declared where they land, not at axis 0.
      if (dynamic.length) c.dynamicShape(0, order.flatMap((axis, at) => (dynamic.includes(axis) ? [at] : [])));
    },
  };
}

/** The SSD fork's Permute (permute_layer.cpp): reorders the axes (SSD: N, C, H, W -> N, H, W, C). */
export const permuteLayer = reorderingLayer('Permute', axisOrder);
