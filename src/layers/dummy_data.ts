import { dummyDataShapes } from '../caffe/phase.js';
import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import type { LayerContext } from '../onnx/context.js';
import { type Shape, sizeOf } from '../tensor.js';
import { type LayerType, expectCounts, need, needSaneShape } from './layer.js';

/** A FillerParameter as read: nested messages keep their unset fields unset (type 'constant', value 0 by default). */
interface Filler { type?: string; value?: number }

/**
 * Caffe's DummyData (dummy_data_layer.cpp): tops of the given shapes (`shape`, or the legacy num / channels /
 * height / width; once, or once per top) filled by `data_filler` (none: zeros; one for every top, or one per top).
 * Deploy nets feed constants so (an LSTM's cont of ones). Caffe draws every other filler's values again at each
 * forward from its random generator: crema refuses those by name rather than give other random numbers.
 */
export const dummyDataLayer: LayerType = {
  type: 'DummyData',
  onnx: dummyDataToOnnx,
  create(def) {
    const { shapes, values } = settings(def);
    return {
      reshape: () => shapes,
      forward(_, tops) {
        tops.forEach((t, i) => t.data.fill(values[i]));
      },
    };
  },
};

function settings(def: LayerParameter): { shapes: Shape[]; values: number[] } {
  expectCounts(def, [0, 0], [1, Infinity]);
  const fillers = paramsOf<{ data_filler: Filler[] }>(def, 'dummy_data_param').data_filler, tops = def.top!;
  need(def, fillers.length <= 1 || fillers.length === tops.length, () => `takes 0, 1 or ${tops.length} (one per top) data_filler, got ${fillers.length}`);
  const shapes = dummyDataShapes(def);
  shapes.forEach((s, t) => needSaneShape(def, tops[t], s));
  const values = tops.map((_, t) => {
    const { type = 'constant', value = 0 } = fillers[fillers.length > 1 ? t : 0] ?? {};
    need(def, type === 'constant', () => `data_filler '${type}' draws new random values at every forward in Caffe, which crema cannot reproduce; it runs constant fillers only`);
    return value;
  });
  return { shapes, values };
}

/** Each top a constant. */
function dummyDataToOnnx(c: LayerContext): void {
  const { shapes, values } = settings(c.layer.def);
  shapes.forEach((s, t) => c.node('Identity', [c.b.floats(`${c.layer.name}/${c.layer.tops[t]}`, new Float32Array(sizeOf(s)).fill(values[t]), s)], [c.top(t)]));
}

