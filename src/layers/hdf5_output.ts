import { paramsOf } from '../caffe/schema.js';
import { shapeString } from '../tensor.js';
import { type LayerType, expectCounts, need } from './layer.js';

/**
 * BVLC Caffe 1.0's HDF5Output (hdf5_output_layer.cpp): no top; each forward Caffe writes its two bottoms to
 * hdf5_output_param.file_name as the datasets 'data' and 'label'. crema writes no HDF5: the layer is a sink as
 * Silence is (`sink`: its bottoms stay the net's outputs, which `crema run` writes) and the net's notes say so.
 */
export const hdf5OutputLayer: LayerType = {
  type: 'HDF5Output',
  create(def) {
    expectCounts(def, [2, 2], [0, 0]);
    const file: string = paramsOf(def, 'hdf5_output_param').file_name ?? '';
    const [data, label] = def.bottom!;
    return {
      sink: true,
      notes: [`Caffe writes its bottoms '${data}' and '${label}' to the HDF5 file '${file}' (datasets 'data' and 'label', each 4-D); crema writes no HDF5: the two stay outputs of the net instead (\`crema run --dump DIR\` writes them as .npy)`],
      reshape(shapes) {
        // Caffe's legacy num() of each (at most 4 axes), which it checks equal before writing.
        need(def, shapes.every((s) => s.length <= 4), () => `Caffe writes bottoms of at most 4 axes, got ${shapes.map(shapeString).join(' and ')}`);
        const [a, b] = shapes.map((s) => s[0] ?? 1);
        need(def, a === b, () => `its bottoms must have the same number of items (Caffe checks their num() equal), got ${shapes.map(shapeString).join(' and ')}`);
        return [];
      },
      forward: () => undefined,
    };
  },
  // Nothing to compute: its bottoms are outputs of the model.
  onnx: () => undefined,
};
