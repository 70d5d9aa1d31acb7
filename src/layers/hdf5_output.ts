import { paramsOf } from '../caffe/schema.js';
import { platformIfInstalled } from '../platform.js';
import { type Shape, shapeString } from '../tensor.js';
import { type LayerType, expectCounts, need } from './layer.js';

/**
 * BVLC Caffe 1.0's HDF5Output (hdf5_output_layer.cpp): no top; each forward Caffe writes its two bottoms to
 * hdf5_output_param.file_name as the float32 datasets 'data' and 'label', each 4-D (legacy num, channels, height,
 * width). crema writes that file after each whole forward of `crema run` and Net.run where the platform writes files
 * (Node, with the optional h5wasm: runtime/layer-files.ts), not in the synchronous net.forward; the layer is a sink
 * as Silence is (`sink`: its bottoms stay the net's outputs, in a browser the only ones) and the net's notes say which.
 */
export const hdf5OutputLayer: LayerType = {
  type: 'HDF5Output',
  create(def) {
    expectCounts(def, [2, 2], [0, 0]);
    const file: string = paramsOf(def, 'hdf5_output_param').file_name ?? '';
    need(def, file !== '', 'needs hdf5_output_param { file_name }: the file Caffe writes');
    const [data, label] = def.bottom!;
    return {
      sink: true,
      hdf5File: { file, datasets: ['data', 'label'], dims: legacyDims },
      notes: [`Caffe writes its bottoms '${data}' and '${label}' to the HDF5 file '${file}' (datasets 'data' and 'label', float32, each 4-D); ${whatCremaDoes()}`],
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

/**
 * Which file a file_name names, for telling two layers' apart: resolved from the working directory where files are
 * written (Node: 'a.h5', './a.h5' and its absolute path are one file), else normalized as a POSIX path ('./a.h5',
 * 'x/../a.h5' and 'a.h5' are one; a browser writes none, but Caffe would refuse the net there too).
 */
export function sameFileKey(file: string): string {
  const resolve = platformIfInstalled()?.resolvePath;
  if (resolve) return resolve(file);
  const parts: string[] = [];
  for (const part of file.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && parts.length && parts.at(-1) !== '..') parts.pop();
    else if (part !== '..' || !file.startsWith('/')) parts.push(part);
  }
  return (file.startsWith('/') ? '/' : '') + parts.join('/');
}

/** The dims Caffe writes a bottom with: its Reshape(num, channels, height, width), a missing axis 1. */
function legacyDims(shape: Shape): Shape {
  return [0, 1, 2, 3].map((i) => shape[i] ?? 1);
}

/** The rest of the note: whether this platform writes the file, and what else the user gets. */
function whatCremaDoes(): string {
  const writer = platformIfInstalled()?.hdf5Writer?.();
  const outputs = 'the two stay outputs of the net unless a later layer reads them (`crema run --dump DIR` writes every blob as .npy)';
  if (writer === undefined) return `no file is written here (a browser): ${outputs}`;
  if (writer === 'missing') return `crema writes it once the optional peer dependency h5wasm is installed (npm install h5wasm); until then ${outputs}`;
  // A relative name from the working directory, as Caffe opens it; replaced whole by each run (Caffe truncates it at
  // load, and its second forward fails as the datasets exist).
  // net.forward is synchronous, and the file's writing is not (h5wasm loads, and the file is written as every output).
  return `\`crema run\` and Net.run write it after each forward (a relative name from the working directory, as Caffe; replaced whole each run, never left half-written), \`net.forward\` (synchronous) writes none, and ${outputs}`;
}
