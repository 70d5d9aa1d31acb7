// A converted model with its weights as ONNX external data: what ONNX Runtime (onnxruntime-node) is given, as two
// files, to open a session. Loaded from bytes, ONNX Runtime parses them into its own copy and then copies every
// tensor again into the session (FCN-8s, 513 MiB of weights: the bytes, that copy and the session's, 3x the weights
// on top of the Net's); a tensor in an external file it maps instead (no copy, pages shared with the file cache).
// `crema convert --external-data` writes the same two files for the user (a model of 2 GiB or more has to be).
import { type ModelObj, type TensorObj, encodeModel } from './proto.js';

/** The weights file's name, beside the model (ONNX resolves `location` against the model's directory). */
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Tensors of at least this many bytes go to the weights file, each at a multiple of it: the mapping granularity of
 * every system (64 KiB on Windows, a page elsewhere), so that ONNX Runtime can map each one where it lies.
 */
export const EXTERNAL_ALIGN = 65536;

/** TensorProto.DataLocation EXTERNAL. */
const EXTERNAL = 1;

/** A tensor of the weights file: its bytes (a view on the net's weights, not a copy) and where they go. */
export interface ExternalChunk {
  offset: number;
  bytes: Uint8Array;
  /** Its own file's name, with `perTensor` (offset 0); else it is in the model's `location`. */
  location?: string;
}

export interface ExternalModel {
  /** The model's bytes, the large tensors left out (kilobytes for any net). */
  model: Uint8Array;
  /** The weights file's name, as the model refers to it (WEIGHTS_FILE unless named), beside the model. */
  location: string;
  /** The large tensors' bytes, in file order; the weights file ends where the last one does. */
  weights: ExternalChunk[];
}

/** An initializer whose bytes are in the weights file. */
interface ExternalTensorObj extends Omit<TensorObj, 'raw_data'> {
  data_location: number;
  external_data: { key: string; value: string }[];
}

/**
 * `model` with each initializer of EXTERNAL_ALIGN bytes or more moved out to the weights file `location` (a name
 * beside the model; the model is not changed). Read back in place of its external_data, each tensor is the
 * converted one: test/onnx-external.test.ts checks that the result then encodes to encodeModel's bytes. `perTensor`:
 * each in a file of its own instead (weights-<n>.bin, at offset 0), for a runtime given the files' bytes
 * (onnxruntime-web): one file would be a copy of every tensor, each its own is the tensor's bytes as they are.
 */
export function externalModel(model: ModelObj, location = WEIGHTS_FILE, perTensor = false): ExternalModel {
  const weights: ExternalChunk[] = [];
  let end = 0;
  const initializer = model.graph.initializer.map((t): TensorObj | ExternalTensorObj => {
    if (t.raw_data.length < EXTERNAL_ALIGN) return t;
    const file = perTensor ? `weights-${weights.length}.bin` : location;
    const offset = perTensor ? 0 : Math.ceil(end / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
    weights.push(perTensor ? { offset, bytes: t.raw_data, location: file } : { offset, bytes: t.raw_data });
    end = offset + t.raw_data.length;
    const { raw_data: _, ...rest } = t;
    const entries = { location: file, offset: String(offset), length: String(t.raw_data.length) };
    return { ...rest, data_location: EXTERNAL, external_data: Object.entries(entries).map(([key, value]) => ({ key, value })) };
  });
  const outer: ModelObj = { ...model, graph: { ...model.graph, initializer: initializer as TensorObj[] } };
  return { model: encodeModel(outer), location, weights };
}

let zeros: Uint8Array | undefined;

/** The weights file's bytes in order, for writing it whole: each tensor (not copied) after the zeros that align it. */
export function weightsFileChunks(weights: readonly ExternalChunk[]): Uint8Array[] {
  zeros ??= new Uint8Array(EXTERNAL_ALIGN);
  const chunks: Uint8Array[] = [];
  let end = 0;
  for (const { offset, bytes } of weights) {
    if (offset > end) chunks.push(zeros.subarray(0, offset - end));
    chunks.push(bytes);
    end = offset + bytes.length;
  }
  return chunks;
}
