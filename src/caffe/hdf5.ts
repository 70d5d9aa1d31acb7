// Caffe's HDF5 weights in Node (hdf5-weights.ts reads them): h5wasm's Node build, which reads host files. The Node
// platform imports this module when HDF5 weights come in.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import type { Tensor } from '../tensor.js';
import { checkReadable } from '../util/files.js';
import { readHdf5With } from './hdf5-weights.js';

export { isHdf5File } from './caffemodel.js';

/**
 * The weights of Caffe HDF5 weights, by layer name (in Caffe's copy order), blobs by index: a file, or its bytes
 * (written to a private temporary file, removed after: h5wasm's Node build reads files only). `label` names them.
 */
export async function readHdf5Weights(source: string | Uint8Array, label = String(source)): Promise<Map<string, Tensor[]>> {
  if (typeof source === 'string') return readHdf5File(source, label);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-h5-'));
  try {
    const file = path.join(dir, 'weights.h5');
    fs.writeFileSync(file, source);
    return await readHdf5File(file, label);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function readHdf5File(file: string, label: string): Promise<Map<string, Tensor[]>> {
  checkReadable(file);
  return readHdf5With(h5wasm, file, fs.statSync(file).size, label);
}
