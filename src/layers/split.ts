import type { LayerParameter } from '../caffe/types.js';
import type { Shape, Tensor } from '../tensor.js';
import { refuseInPlace } from './axes.js';
import { type Layer, type LayerType, expectCounts } from './layer.js';

/** Split: gives its bottom to several tops (Caffe shares the data; we copy it, since tops are separate blobs). */
export const splitLayer: LayerType = {
  type: 'Split',
  onnx: (c) => c.layer.tops.forEach((_, i) => c.alias(i, c.bottom(0))),
  create(def: LayerParameter): Layer {
    expectCounts(def, [1, 1], [1, Infinity]);
    refuseInPlace(def);
    return {
      reshape: (bottoms: Shape[]) => (def.top ?? []).map(() => [...bottoms[0]]),
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        for (const t of tops) t.data.set(bottoms[0].data);
      },
    };
  },
};
