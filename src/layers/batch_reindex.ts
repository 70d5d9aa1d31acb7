import { int } from '../onnx/builder.js';
import { runtimeDims } from '../onnx/context.js';
import { shapeString } from '../tensor.js';
import { copyRun, countRange, refuseInPlace } from './axes.js';
import { LayerError, type LayerType, expectCounts, need } from './layer.js';

/**
 * BVLC Caffe 1.0's BatchReindex (batch_reindex_layer.cpp): top item n is bottom 0's item indices[n], indices being
 * bottom 1 (one axis, float values, as many as the top has items); top (len(indices), ...bottom 0's other axes).
 * Caffe checks every index at forward (0 <= index < bottom 0's items, as floats) and truncates it to an int.
 */
export const batchReindexLayer: LayerType = {
  type: 'BatchReindex',
  create(def) {
    expectCounts(def, [2, 2], [1, 1]);
    refuseInPlace(def);
    let items = 0, inner = 0;
    return {
      reshape([data, indices]) {
        need(def, indices.length === 1, () => `the indices (bottom 1) must have one axis (Caffe: CHECK_EQ(1, num_axes)), got ${shapeString(indices)}`);
        need(def, data.length >= 1, 'needs a bottom 0 with at least one axis');
        [items, inner] = [data[0], countRange(data, 1)];
        return [[indices[0], ...data.slice(1)]];
      },
      forward([x, indices], [y]) {
        indices.data.forEach((index, n) => {
          // As Caffe's CHECK_GE / CHECK_LT on the float: NaN fails both.
          if (!(index >= 0 && index < items))
            throw new LayerError(def, `index ${index} (item ${n} of bottom 1) is not in [0, ${items}), an item of bottom 0: Caffe refuses it at forward`);
          copyRun(x.data, Math.trunc(index) * inner, y.data, n * inner, inner);
        });
      },
    };
  },
  // Gather along axis 0 by the indices as int64 (Cast truncates as Caffe's static_cast<int>). ONNX has no check that
  // refuses: an index Caffe refuses (not in [0, items) as a float; NaN) becomes `items`, which Gather refuses, so ONNX
  // Runtime fails the run as Caffe and crema do, never taking a negative one from the end nor truncating -0.5 to 0.
  onnx(c) {
    c.note('an index out of [0, items of bottom 0), which Caffe and crema refuse, is made out of range for Gather, which ONNX Runtime refuses (its message names the Gather node, this layer\'s)');
    const items = runtimeDims(c, c.bottom(0), 0, 1);
    const index = c.bottom(1), limit = c.node('Cast', [items], [c.tmp('items_float')], { to: int(1) });
    const inRange = c.node('And', [c.node('GreaterOrEqual', [index, c.b.scalar(0)], [c.tmp('from_0')]), c.node('Less', [index, limit], [c.tmp('below_items')])], [c.tmp('in_range')]);
    const truncated = c.node('Cast', [index], [c.tmp('indices')], { to: int(7) });
    const indices = c.node('Where', [inRange, truncated, items], [c.tmp('checked')]);
    c.node('Gather', [c.bottom(0), indices], [c.top(0)], { axis: int(0) });
  },
};
