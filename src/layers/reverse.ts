import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import type { LayerContext } from '../onnx/context.js';
import { countRange, refuseInPlace } from './axes.js';
import { type LayerType, expectCounts, need } from './layer.js';

/** The least int64 (exact as a double), Slice's idiom for an end before index 0 whatever the size. */
const INT64_MIN = -(2 ** 63);

/**
 * The layer's top: its bottom reversed along `axes` by one Slice with step -1 on each, from its last index to before
 * its first. For every size (ConvertOptions.anySize) that end is INT64_MIN, which Slice clamps to before the first
 * index whatever the size; otherwise -(size + 1), as the models have always been written. Reverse's and Flip's.
 */
export function reversedSlice(c: LayerContext, axes: number[]): void {
  const shape = c.layer.bottomShapes[0];
  const ints = (what: string, v: number[]) => c.b.int64s(`${c.layer.name}/${what}`, v);
  const ends = axes.map((a) => (c.anySize ? INT64_MIN : -(shape[a] + 1)));
  c.node('Slice', [c.bottom(0), ints('starts', axes.map(() => -1)), ints('ends', ends), ints('axes', axes), ints('steps', axes.map(() => -1))], [c.top(0)]);
}

/** reverse_param.axis, which the fork takes as is: 0 to the bottom's axes - 1, no negative axes. */
function axisOf(def: LayerParameter, numAxes: number): number {
  const axis: number = paramsOf(def, 'reverse_param').axis;
  need(def, axis >= 0 && axis < numAxes, () => `reverse_param axis ${axis} must be 0 to ${numAxes - 1} for a ${numAxes}-D bottom (the fork takes no negative axis)`);
  return axis;
}

/**
 * tianzhi0549/CTPN's Reverse (reverse_layer.cpp): the bottom with its order along `axis` (default 0) reversed,
 * for the second direction of a bidirectional LSTM, whose (T, N, ...) sequence it reads backwards, and its output
 * turned back. Other forks' Reverse layers with a second bottom (sequence lengths) are refused by their bottom count.
 */
export const reverseLayer: LayerType = {
  type: 'Reverse',
  onnx(c: LayerContext) {
    reversedSlice(c, [axisOf(c.layer.def, c.layer.bottomShapes[0].length)]);
  },
  create(def) {
    expectCounts(def, [1, 1], [1, 1]);
    refuseInPlace(def);
    let outer = 0, steps = 0, inner = 0;
    return {
      reshape([shape]) {
        need(def, shape.length > 0, 'needs a bottom with at least one axis');
        const axis = axisOf(def, shape.length);
        [outer, steps, inner] = [countRange(shape, 0, axis), shape[axis], countRange(shape, axis + 1)];
        return [shape];
      },
      forward([x], [y]) {
        // Block t of each outer slice goes to block steps - 1 - t.
        for (let o = 0; o < outer; o++)
          for (let t = 0; t < steps; t++) {
            const from = (o * steps + t) * inner, to = (o * steps + steps - 1 - t) * inner;
            y.data.set(x.data.subarray(from, from + inner), to);
          }
      },
    };
  },
};
