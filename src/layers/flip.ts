import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import type { LayerContext } from '../onnx/context.js';
import { shapeString } from '../tensor.js';
import { type LayerType, expectCounts, need } from './layer.js';
import { reversedSlice } from './reverse.js';

/**
 * happynear/caffe-windows' Flip (flip_layer.cpp; AM-Softmax's deploy nets feed a face and its mirror image): the
 * bottom mirrored along its width (flip_width, default true) and / or height (flip_height), as the fork's legacy
 * num x channels x height x width sees a blob of up to 4 axes.
 */
export const flipLayer: LayerType = {
  type: 'Flip',
  onnx(c: LayerContext) {
    const shape = c.layer.bottomShapes[0], axes = flipAxes(c.layer.def).filter((a) => a < shape.length);
    if (!axes.length) {
      c.node('Identity', [c.bottom(0)], [c.top(0)]);
      return;
    }
    reversedSlice(c, axes); // size-free under anySize
  },
  create(def) {
    expectCounts(def, [1, 1], [1, 1]);
    let dims: number[] = [];
    return {
      reshape([shape]) {
        need(def, shape.length >= 1 && shape.length <= 4, () => `needs a bottom of up to 4 axes (the fork's num, channels, height, width), got ${shapeString(shape)}`);
        dims = [0, 1, 2, 3].map((i) => shape[i] ?? 1);
        return [shape];
      },
      forward([x], [y]) {
        const [num, channels, height, width] = dims, [byH, byW] = [2, 3].map((a) => flipAxes(def).includes(a));
        for (let plane = 0; plane < num * channels; plane++)
          for (let h = 0; h < height; h++) {
            const to = (plane * height + h) * width, from = (plane * height + (byH ? height - 1 - h : h)) * width;
            if (byW) for (let w = 0; w < width; w++) y.data[to + w] = x.data[from + width - 1 - w];
            else y.data.set(x.data.subarray(from, from + width), to);
          }
      },
    };
  },
};

/** The flipped axes of the fork's 4-D view: height (2), width (3). */
function flipAxes(def: LayerParameter): number[] {
  const p = paramsOf(def, 'flip_param');
  return [...(p.flip_height ? [2] : []), ...(p.flip_width ? [3] : [])];
}
