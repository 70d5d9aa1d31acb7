import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, shapeString } from '../tensor.js';
import { type Layer, type LayerType, expectCounts, need } from './layer.js';

/** Input: declares the net's input blobs and their shapes; the runtime fills them before the forward pass. */
export const inputLayer: LayerType = {
  type: 'Input',
  create(def: LayerParameter): Layer {
    expectCounts(def, [0, 0], [1, Infinity]);
    const shapes = inputShapes(def);
    const tops = def.top ?? [];
    const shapeOfTop = (i: number): Shape => shapes[shapes.length === 1 ? 0 : i];
    return {
      // No caching: the graph may replace these shapes with the caller's (another batch or image size).
      reshape: () => tops.map((_, i) => [...shapeOfTop(i)]),
      forward() {
        // The runtime writes the input blobs; nothing to compute.
      },
    };
  },
};

/** An Input layer's shapes (one for all its tops, or one a top), refused in one line when Caffe would refuse them. */
export function inputShapes(def: LayerParameter): Shape[] {
  const param = paramsOf(def, 'input_param');
  const shapes: number[][] = (param.shape ?? []).map((s: { dim?: number[] }) => [...(s.dim ?? [])]);
  const numTops = def.top?.length ?? 0;
  need(def, shapes.length > 0, 'needs input_param { shape { dim: ... } } (one shape for all tops, or one per top)');
  need(
    def,
    shapes.length === 1 || shapes.length === numTops,
    () => `must give input_param shape once, or once per top: ${numTops} tops vs. ${shapes.length} shapes`,
  );
  for (const s of shapes)
    need(def, s.length > 0 && s.every((d) => Number.isSafeInteger(d) && d > 0), () => `input shape ${shapeString(s)} must have dims > 0`);
  return shapes;
}
