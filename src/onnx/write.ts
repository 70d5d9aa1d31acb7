// A converted model written to files (Node: `crema convert -o` and `--triton`). Never joined into one buffer: the
// model file is written from chunks whose tensors are the net's own weights (VGG-16's 528 MiB are not allocated a
// second time), or, with external data, as a small model and its large tensors in a file beside it (what ONNX needs
// for a model of 2 GiB or more, protobuf's limit for one message).
import path from 'node:path';
import { writeOutputs } from '../util/files.js';
import { externalModel, weightsFileChunks } from './external.js';
import { type ModelObj, sizedModel } from './proto.js';

export interface ModelFileOptions {
  /** The external data file: a name beside the model ('' for `<model file name>.data`); none: one file. */
  externalData?: string;
  /** The largest single-file model (default protobuf's; lowered in tests). */
  limit?: number;
  /** What a model too large for one file is told to do (default: the CLI's flag). */
  advice?: string;
  /** Files written in the same set as the model (Triton's config.pbtxt): renamed into place only once all are complete. */
  alongside?: readonly { file: string; content: string }[];
}

export interface WrittenModel {
  /** The model file's size in bytes. */
  bytes: number;
  /** The external data file written beside it (none when no tensor is large enough to go there). */
  data?: { file: string; bytes: number };
}

/** Where a single-file model is too large: what the CLI's user can do (the library says its own). */
const ADVICE = 'give --external-data to write its large tensors to a file beside it';

/**
 * Writes `model` to `file` ('-': stdout) atomically, refused before anything is written when a single file would
 * pass `limit`. With `externalData`, its data file is written first and renamed into place only once both are
 * complete, so that a failure leaves both files as they were.
 */
export async function writeModelFile(model: ModelObj, file: string, options: ModelFileOptions = {}): Promise<WrittenModel> {
  if (options.externalData === undefined) {
    const sized = sizedModel(model, options.advice ?? ADVICE, options.limit);
    await writeOutputs([{ file, content: sized.encodeChunks() }, ...(options.alongside ?? [])]);
    return { bytes: sized.size };
  }
  const name = options.externalData || `${path.basename(file)}.data`;
  const ext = externalModel(model, name);
  if (ext.weights.length === 0) {
    await writeOutputs([{ file, content: ext.model }, ...(options.alongside ?? [])]);
    return { bytes: ext.model.length };
  }
  const data = path.join(path.dirname(file), name), last = ext.weights[ext.weights.length - 1];
  await writeOutputs([{ file: data, content: weightsFileChunks(ext.weights) }, { file, content: ext.model }, ...(options.alongside ?? [])]);
  return { bytes: ext.model.length, data: { file: data, bytes: last.offset + last.bytes.length } };
}
