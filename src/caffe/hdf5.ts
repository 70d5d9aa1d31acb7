// Caffe's HDF5 weights in Node (hdf5-weights.ts reads them), and HDF5Output's files: h5wasm's Node build, which
// reads and writes host files. The Node platform imports this module when HDF5 weights come in or a file is written.
import fs from 'node:fs';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import type { Tensor } from '../tensor.js';
import { checkReadable, inTemporaryDir, writeOutput } from '../util/files.js';
import { readHdf5With } from './hdf5-weights.js';

export { isHdf5File } from './caffemodel.js';

/**
 * The weights of Caffe HDF5 weights, by layer name (in Caffe's copy order), blobs by index: a file, or its bytes
 * (written to a private temporary file, removed after: h5wasm's Node build reads files only). `label` names them.
 */
export async function readHdf5Weights(source: string | Uint8Array, label = String(source)): Promise<Map<string, Tensor[]>> {
  if (typeof source === 'string') return readHdf5File(source, label);
  return inPrivateDir((file) => {
    fs.writeFileSync(file, source);
    return readHdf5File(file, label);
  });
}

/**
 * HDF5Output's file (Caffe's H5LTmake_dataset_float: float32 datasets, contiguous): built by h5wasm in a private
 * temporary file, then written to `file` as every output of crema is (util/files.ts: beside it, renamed over it).
 * Interrupted (SIGINT, SIGTERM), neither temporary file is left.
 */
export async function writeHdf5File(file: string, datasets: readonly { name: string; tensor: Tensor }[]): Promise<void> {
  await h5wasm.ready;
  await inPrivateDir(async (built) => {
    const h5 = new h5wasm.File(built, 'w');
    try {
      // A copy: a blob is a view of the kernels' (shared) memory, which h5wasm would read from its buffer's start.
      for (const { name, tensor } of datasets) h5.create_dataset({ name, data: new Float32Array(tensor.data), shape: [...tensor.dims], dtype: '<f' });
    } finally {
      h5.close();
    }
    await writeOutput(file, fs.readFileSync(built));
  });
}

/** `use` of a file name in a new private temporary directory, removed after, and if interrupted (util/files.ts). */
function inPrivateDir<T>(use: (file: string) => T | Promise<T>): Promise<T> {
  return inTemporaryDir('crema-h5-', (dir) => use(path.join(dir, 'file.h5')));
}

async function readHdf5File(file: string, label: string): Promise<Map<string, Tensor[]>> {
  checkReadable(file);
  return readHdf5With(h5wasm, file, fs.statSync(file).size, label);
}
