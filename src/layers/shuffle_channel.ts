import { paramsOf } from '../caffe/schema.js';
import { shapeString, sizeOf } from '../tensor.js';
import { ints } from '../onnx/builder.js';
import { type LayerContext, onlyItemsDynamic, runtimeAxesCopied, runtimeDims } from '../onnx/context.js';
import { type LayerType, expectCounts, need } from './layer.js';

/**
 * ShuffleChannel (farmingyard/ShuffleNet, ShuffleNet v1/v2): the channels seen as a group x (C / group) matrix,
 * transposed: input channel i * (C / group) + j goes to output channel j * group + i. Axes after 1 move together.
 */
export const shuffleChannelLayer: LayerType = {
  type: 'ShuffleChannel',
  create(def) {
    const group = paramsOf<{ group: number }>(def, 'shuffle_channel_param').group;
    need(def, group > 0, `group must be positive, got ${group}`);
    return {
      reshape([shape]) {
        expectCounts(def, [1, 1], [1, 1]);
        need(def, shape.length >= 2, () => `needs a bottom with channels (axis 1), got ${shapeString(shape)}`);
        need(def, shape[1] % group === 0, () => `channels ${shape[1]} are not a multiple of group ${group}`);
        return [shape];
      },
      forward([bottom], [top]) {
        const [num, channels] = bottom.dims;
        const plane = sizeOf(bottom.dims.slice(2)), perGroup = channels / group;
        const x = bottom.data, y = top.data;
        for (let n = 0; n < num; n++) {
          const base = n * channels * plane;
          for (let i = 0; i < group; i++)
            for (let j = 0; j < perGroup; j++) {
              const from = base + (i * perGroup + j) * plane;
              y.set(x.subarray(from, from + plane), base + (j * group + i) * plane);
            }
        }
      },
    };
  },
  onnx: shuffleToOnnx,
};

/** Reshape to (N, group, C / group, rest), swap axes 1 and 2, reshape back. */
function shuffleToOnnx(c: LayerContext): void {
  const { layer } = c;
  const x = layer.bottomShapes[0];
  const group = paramsOf<{ group: number }>(layer.def, 'shuffle_channel_param').group;
  // Size-free (ConvertOptions.anySize): the batch and the rest copied or inferred, the shape back from the input's.
  // After a Filter: its items copied (0), not the load-time count (where only they are sized at run time).
  const anySize = c.anySize || !onlyItemsDynamic(c);
  const groups = anySize ? [0, group, x[1] / group, -1] : runtimeAxesCopied(c, [x[0], group, x[1] / group, sizeOf(x.slice(2))]);
  const split = c.node('Reshape', [c.bottom(0), c.b.int64s(`${layer.name}/groups`, groups)], [c.tmp('groups')]);
  const swapped = c.node('Transpose', [split], [c.tmp('swapped')], { perm: ints([0, 2, 1, 3]) });
  c.node('Reshape', [swapped, anySize ? runtimeDims(c, c.bottom(0), 0, x.length) : c.b.int64s(`${layer.name}/shape`, runtimeAxesCopied(c, x))], [c.top(0)]);
}
