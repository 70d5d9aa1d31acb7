import { joinedDims, reduce, reshapeTo, runtimeAxesCopied, runtimeDims } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import type { Shape, Tensor } from '../tensor.js';
import { countRange, refuseInPlace } from './axes.js';
import { type Layer, type LayerType, canonicalAxis, expectCounts, need } from './layer.js';

/** Flatten: merges axes [axis, end_axis] into one (defaults 1 and -1: (N, C, H, W) -> (N, C*H*W)); data unchanged. */
export const flattenLayer: LayerType = {
  type: 'Flatten',
  // Size-free (ConvertOptions.anySize) where the merged axes run to the last: the axes before copied, the rest inferred.
  // Axes sized at run time before the merged ones (the items after a Filter) copied (0), the rest as loaded: ONNX
  // Runtime cannot infer a -1 on an empty tensor.
  onnx: (c) => {
    const rank = c.layer.bottomShapes[0].length, p = paramsOf(c.layer.def, 'flatten_param');
    const start = canonicalAxis(c.layer.def, p.axis, rank), toLast = canonicalAxis(c.layer.def, p.end_axis, rank) === rank - 1;
    if (c.anySize && toLast) return reshapeTo(c, c.bottom(0), [...Array<number>(start).fill(0), -1]);
    const end = canonicalAxis(c.layer.def, p.end_axis, rank), dynamic = c.dynamicAxes(0);
    if (dynamic.every((a) => a < start)) return reshapeTo(c, c.bottom(0), runtimeAxesCopied(c, c.layer.topShapes[0]));
    // An axis sized at run time among the merged ones or after (a Filter's items a Permute moved to axis 1): the
    // merged size is the product of theirs at run time, the axes after it read too (a -1 fails on 0 items).
    const merged = reduce(c, 'ReduceProd', runtimeDims(c, c.bottom(0), start, end + 1), [0], true, c.tmp('merged'));
    const parts = [...(start ? [Array<number>(start).fill(0)] : []), merged, ...(end + 1 < rank ? [runtimeDims(c, c.bottom(0), end + 1, rank)] : [])];
    c.node('Reshape', [c.bottom(0), joinedDims(c, 'shape', parts)], [c.top(0)]);
  },
  create(def: LayerParameter): Layer {
    expectCounts(def, [1, 1], [1, 1]);
    refuseInPlace(def);
    const p = paramsOf(def, 'flatten_param');
    return {
      reshape(bottoms: Shape[]): Shape[] {
        const shape = bottoms[0];
        const start = canonicalAxis(def, p.axis, shape.length);
        const end = canonicalAxis(def, p.end_axis, shape.length);
        // end == start - 1 is Caffe's count over an empty range: it inserts an axis of 1.
        need(def, end >= start - 1, () => `end_axis ${p.end_axis} comes before axis ${p.axis}`);
        return [[...shape.slice(0, start), countRange(shape, start, end + 1), ...shape.slice(end + 1)]];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        tops[0].data.set(bottoms[0].data);
      },
    };
  },
};
