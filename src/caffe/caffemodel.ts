// .caffemodel files: a binary NetParameter whose layers carry their weights as BlobProtos.
// Any generation is read as it is: V2 (`layer`, field 100), V1 (`layers`, field 2, enum types)
// and V0 (V1's `layer`, field 1); upgrading to V2 is a later step.
import { CremaError } from '../util/errors.js';
import { sniffNonProtobuf } from '../util/sniff.js';
import { platform } from '../platform.js';
import { messageType } from './schema.js';
import type { BlobProto, FloatDestination } from './types.js';
import type { Message } from './message.js';
import { type ByteSource, decodeMessage, encodeMessage, frcnnNumbered, memorySource } from './wire.js';

/** Refuses an empty file, or one whose first bytes say it is something else than binary protobuf. */
export function checkLooksBinary(src: ByteSource, file: string, what: string): void {
  if (src.size === 0) throw new CremaError(`${file}: empty file, not a ${what}`);
  const head = new Uint8Array(Math.min(512, src.size));
  src.copy(0, head);
  const kind = sniffNonProtobuf(head);
  if (kind) throw new CremaError(`${file}: this is ${kind}, not a binary ${what}`);
}

/** HDF5's format signature. The superblock sits at byte 0, 512, 1024, 2048, ... of the file. */
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when the bytes are HDF5 (what Caffe's H5Fis_hdf5 checks before choosing how to read weights). */
export function isHdf5Source(src: ByteSource): boolean {
  const head = new Uint8Array(8);
  for (let offset = 0; offset <= 8192 && offset + 8 <= src.size; offset = offset === 0 ? 512 : offset * 2) {
    src.copy(offset, head);
    if (HDF5_SIGNATURE.every((b, i) => head[i] === b)) return true;
  }
  return false;
}

/** True when the file is HDF5 weights rather than a caffemodel. */
export function isHdf5File(file: string): boolean {
  return platform().withFile(file, isHdf5Source);
}

/** Every blob of every layer (V2, V1 and V0 forms). */
function* layerBlobs(net: Message): Generator<[string, number, BlobProto]> {
  const layers = [...((net.layer as Message[] | undefined) ?? []), ...((net.layers as Message[] | undefined) ?? [])];
  for (const [i, l] of layers.entries()) {
    const name = String(l.name ?? l.layer?.name ?? `#${i}`);
    const blobs = [...((l.blobs as BlobProto[] | undefined) ?? []), ...((l.layer?.blobs as BlobProto[] | undefined) ?? [])];
    for (const [j, b] of blobs.entries()) yield [name, j, b];
  }
}

/**
 * The dims a blob's header gives, as Caffe's Blob::FromProto reads them: the legacy
 * num/channels/height/width when any of them is set, else shape.dim (`shape {}` is a scalar),
 * else undefined (a bare list of values, shaped by its layer).
 */
export function blobDims(b: BlobProto): number[] | undefined {
  if (b.num !== undefined || b.channels !== undefined || b.height !== undefined || b.width !== undefined) {
    return [b.num ?? 0, b.channels ?? 0, b.height ?? 0, b.width ?? 0];
  }
  return b.shape ? (b.shape.dim ?? []) : undefined;
}

/** Caffe's kMaxBlobAxes (blob.hpp): Blob::Reshape refuses more axes, in a weights file as in a net. */
export const MAX_BLOB_AXES = 32;

/** Refuses a shape of more than 32 axes, as Caffe's Blob::Reshape does, before anything walks its axes. */
export function checkAxes(count: number, where: string): void {
  if (count > MAX_BLOB_AXES) throw new CremaError(`${where}: a shape of ${count.toLocaleString('en-US')} axes; Caffe allows at most ${MAX_BLOB_AXES} (kMaxBlobAxes)`);
}

/** A blob's values as Caffe's Blob::FromProto takes them: `double_data` when it has any, else `data`. */
export function blobValues(b: BlobProto): Float32Array | Float64Array {
  return b.double_data?.length ? b.double_data : (b.data ?? new Float32Array(0));
}

/**
 * A facebook/C3D v1.0 blob (wire.ts C3D_BLOB: num, channels, length, height at BVLC's num, channels, height, width,
 * its data where BVLC has diff) as the shaped blob it is: [num, channels, length, height, width] and its data.
 */
export function c3dBlob(b: BlobProto): void {
  if (b.c3d_width === undefined) return;
  b.shape = { dim: [b.num ?? 0, b.channels ?? 0, b.height ?? 0, b.width ?? 0, b.c3d_width] };
  b.data = b.diff ?? new Float32Array(0);
  for (const k of ['num', 'channels', 'height', 'width', 'diff', 'c3d_width'] as const) delete b[k];
}

/** Caffe refuses a blob whose data does not fill its shape (Blob::FromProto); so do we, naming it. */
export function checkBlob(b: BlobProto, where: string): void {
  const dims = blobDims(b);
  if (!dims) return;
  checkAxes(dims.length, where);
  if (dims.some((d) => d < 0 || !Number.isSafeInteger(d))) throw new CremaError(`${where}: bad shape [${dims.join(', ')}]`);
  // Caffe's FromProto insists on count == number of values, even for a blob with no data at all:
  // checking here also stops a header promising 10^18 values from reaching an allocation.
  const values = blobValues(b).length;
  const count = dims.reduce((a, d) => a * d, 1);
  if (count !== values) throw new CremaError(`${where}: shape [${dims.join(', ')}] holds ${count} values but the blob has ${values}`);
}

function decodeNet(src: ByteSource, file: string, into?: FloatDestination): Message {
  checkLooksBinary(src, file, 'caffemodel');
  const net = decodeMessage(messageType('NetParameter'), src, file, into);
  if (!net.layer && !net.layers) throw new CremaError(`${file}: no layers in it: not a caffemodel`);
  for (const [layer, j, blob] of layerBlobs(net)) {
    c3dBlob(blob);
    checkBlob(blob, `${file}: layer '${layer}' blob ${j}`);
  }
  return net;
}

/** Decodes a caffemodel held in memory into a NetParameter (plain object, blobs as Float32Array). */
export function readCaffemodel(bytes: Uint8Array, file: string): Message {
  return decodeNet(memorySource(bytes), file);
}

/**
 * Decodes a caffemodel from any byte source (`label` names it in errors); `into` gives the arrays its blobs'
 * float runs are read into (Net.load: wasm memory, copied on two threads), a fresh Float32Array each by default.
 */
export function readCaffemodelSource(src: ByteSource, label: string, into?: FloatDestination): Message {
  return decodeNet(src, label, into);
}

/**
 * Reads a caffemodel from disk without holding the file in memory: the structure is read through a
 * small window and each blob's floats are read straight into their Float32Array.
 */
export function readCaffemodelFile(path: string): Message {
  return platform().withFile(path, (src) => decodeNet(src, path));
}

/**
 * A note for `notes` where a decoded caffemodel's layers carry makefile/frcnn's deformable_convolution_param (field
 * 229, its deformable_group 19; read as crema's): an upgrade writes them at crema's numbers, a change in content.
 */
export function noteFrcnnNumbers(net: Message, file: string, notes: string[]): void {
  const layers = ((net.layer ?? []) as Message[]).filter((l) => frcnnNumbered.has(l));
  if (layers.length === 0) return;
  const named = `layer '${String(layers[0].name)}'${layers.length > 1 ? ` and ${layers.length - 1} more` : ''}`;
  notes.push(`${file}: ${named} had makefile/frcnn's deformable_convolution_param numbers (field 229, deformable_group 19): written at crema's (999999, 25), which that fork's Caffe does not read`);
}

/** Encodes a NetParameter (as the readers give it) into caffemodel bytes. */
export function encodeCaffemodel(net: Message): Uint8Array {
  return encodeMessage(messageType('NetParameter'), net);
}
