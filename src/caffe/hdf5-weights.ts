// Weights in HDF5, as Caffe writes them (Net::ToHDF5: `snapshot_format: HDF5`, pycaffe's `net.save_hdf5`):
// a group `data` holding one group per layer, named after it, holding datasets `0`, `1`, ... (the layer's
// blobs, float32, N-D). Read with h5wasm (HDF5 compiled to WebAssembly), whichever build the platform gives: Node's
// (src/caffe/hdf5.ts, host files) or the browser's (src/platform/browser.ts, its in-memory file system). Nothing
// here touches a file of the host.
import type h5wasmApi from 'h5wasm';
import { Tensor, sizeOf } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { byBytes } from '../util/names.js';
import { checkAxes } from './caffemodel.js';

/** h5wasm's module: the Node build's and the ESM build's have the same shape. */
export type H5wasm = typeof h5wasmApi;
type H5Group = InstanceType<H5wasm['Group']>;
type H5Dataset = InstanceType<H5wasm['Dataset']>;

/**
 * The weights of the HDF5 file at `file` in h5wasm's file system, by layer name (in Caffe's copy order), blobs by
 * index. `size` is the file's size in bytes (it bounds what its datasets may declare); `label` names it in errors.
 */
export async function readHdf5With(h5: H5wasm, file: string, size: number, label: string): Promise<Map<string, Tensor[]>> {
  const module = await h5.ready;
  // HDF5's errors become thrown Errors instead of HDF5-DIAG pages on the console.
  module.activate_throwing_error_handler();
  try {
    return readWeightsFrom(h5, file, size, label);
  } catch (err) {
    if (err instanceof CremaError) throw err;
    throw new CremaError(`${label}: cannot read it as HDF5 weights (truncated or damaged?): ${hdf5Reason(err)}`);
  } finally {
    module.deactivate_throwing_error_handler();
  }
}

let nextFile = 0;

/**
 * The weights of HDF5 bytes, through h5wasm's in-memory file system (the browser's build: it reads no host file).
 * The copy there is removed after, whatever happens.
 */
export async function readHdf5Bytes(h5: H5wasm, bytes: Uint8Array, label: string): Promise<Map<string, Tensor[]>> {
  const { FS } = await h5.ready;
  const file = `/crema-weights-${nextFile++}.h5`;
  FS.writeFile(file, bytes);
  try {
    return await readHdf5With(h5, file, bytes.length, label);
  } finally {
    FS.unlink(file);
  }
}

function readWeightsFrom(h5: H5wasm, path: string, size: number, file: string): Map<string, Tensor[]> {
  const f = new h5.File(path, 'r');
  if (f.file_id < 0n) throw new CremaError(`${file}: cannot open it as HDF5 (truncated or damaged?)`);
  try {
    const data = f.get('data');
    if (!(data instanceof h5.Group))
      throw new CremaError(`${file}: has no group 'data': not Caffe HDF5 weights (Caffe writes data/<layer>/<blob index>)`);
    const weights = new Map<string, Tensor[]>();
    const budget = { bytes: valueBudget(size), file };
    // In Caffe's copy order: CopyTrainedLayersFromHDF5 lists the groups by name (hdf5_get_name_by_idx, H5_INDEX_NAME),
    // which decides the copy a shared blob keeps (share.ts).
    for (const layer of data.keys().sort(byBytes)) {
      const group = data.get(layer);
      if (!(group instanceof h5.Group)) throw new CremaError(`${file}: data/${layer} is not a group of blobs`);
      weights.set(layer, readLayerBlobs(h5, group, `${file}: layer '${layer}'`, budget));
    }
    return weights;
  } finally {
    f.close();
  }
}

/** One line out of an HDF5 error stack: its innermost "minor" reason, else its first line. */
function hdf5Reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const minors = [...text.matchAll(/minor:\s*(.+)/g)].map((m) => m[1].trim());
  return minors.at(-1) ?? text.split('\n')[0].trim();
}

/**
 * How many bytes of values a weights file of `size` bytes may declare. Caffe writes its datasets uncompressed
 * (values <= file size); h5py users may compress, so allow 16 times the file and 16 MB more. A 7 KB file
 * declaring a 20000 x 20000 dataset (1.6 GB read, 3.15 GB peak) is refused before anything is read.
 */
function valueBudget(size: number): number {
  return 16 * size + 16 * 2 ** 20;
}

interface Budget {
  bytes: number;
  readonly file: string;
}

/** Takes a dataset's declared size out of the budget before its values are read, or refuses the file. */
function spend(budget: Budget, dataset: H5Dataset, where: string): void {
  const dims = dataset.shape ?? [];
  checkAxes(dims.length, where);
  const bytes = sizeOf(dims) * Math.max(4, Number(dataset.metadata.size) || 4);
  if (bytes > budget.bytes)
    throw new CremaError(`${where}: declares shape [${dims.join(', ')}] (${mb(bytes)}), more than a file of its size can hold ` +
      `(crema reads at most 16 times the file's size in values, for compressed datasets)`);
  budget.bytes -= bytes;
}

/** More blobs than any Caffe layer has (LSTM's 3, BatchNorm's 3, a fork's few): a bound on an index read. */
const MAX_BLOBS = 64;

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toLocaleString('en-US', { maximumFractionDigits: 1 })} MB`;

/**
 * Datasets `0`, `1`, ... of one layer's group, as tensors of the dataset's shape, by index. Caffe's own snapshots
 * leave out the blobs a layer shares with another (Net::ToHDF5 saves a blob in its owner only): those indices
 * stay empty here for the owner's to fill (load.ts).
 */
function readLayerBlobs(h5: H5wasm, group: H5Group, where: string, budget: Budget): Tensor[] {
  const blobs: Tensor[] = [];
  for (const name of group.keys()) {
    const index = Number(name);
    if (String(index) !== name || !Number.isInteger(index) || index < 0) // '01' is not Caffe's name for blob 1
      throw new CremaError(`${where}: has an entry '${name}'; Caffe names a layer's blobs by index: 0, 1, 2, ...`);
    if (index >= MAX_BLOBS) throw new CremaError(`${where}: has blob ${name}; no Caffe layer has more than ${MAX_BLOBS} blobs`);
    const dataset = group.get(name);
    if (!(dataset instanceof h5.Dataset)) throw new CremaError(`${where}: blob ${name} is not a dataset`);
    spend(budget, dataset, `${where} blob ${name}`);
    blobs[index] = tensorFromDataset(dataset, `${where} blob ${name}`);
  }
  return blobs;
}

function tensorFromDataset(dataset: H5Dataset, where: string): Tensor {
  const dims = dataset.shape ?? [];
  const value = dataset.value;
  if (!(ArrayBuffer.isView(value) && !(value instanceof DataView)) || value instanceof BigInt64Array || value instanceof BigUint64Array)
    throw new CremaError(`${where}: is not a numeric array (dtype ${JSON.stringify(dataset.dtype)})`);
  const numbers = value as unknown as ArrayLike<number>;
  if (numbers.length !== sizeOf(dims))
    throw new CremaError(`${where}: has ${numbers.length} values but its shape [${dims.join(', ')}] needs ${sizeOf(dims)}`);
  return new Tensor(dims, numbers instanceof Float32Array ? numbers : Float32Array.from(numbers));
}
