import fs from 'node:fs';
import path from 'node:path';
import type { Graph } from '../graph/graph.js';
import { CremaError } from '../util/errors.js';
import { writeIntoDir } from '../util/files.js';
import type { ConvertOptions } from './convert.js';
import { type ModelFileOptions, type WrittenModel, writeModelFile } from './write.js';
import { type ReshapeTo, convertFree } from './batch.js';
import type { ValueInfoObj } from './proto.js';

// A Triton Inference Server model repository for a converted net:
//   DIR/<name>/config.pbtxt      the model configuration (protobuf text format)
//   DIR/<name>/1/model.onnx      version 1, run by Triton's onnxruntime backend
// Inputs and outputs keep Caffe's blob names. Triton batches requests itself (max_batch_size > 0) only when the
// model's first dimension is free; crema makes it free after checking that the graph does not depend on the batch
// size, and otherwise writes max_batch_size 0 with the net's full, fixed shapes.

export interface TritonTensor {
  name: string;
  /** Without the batch dimension when maxBatchSize > 0 (Triton's convention). */
  dims: number[];
}

export interface TritonConfig {
  name: string;
  maxBatchSize: number;
  inputs: TritonTensor[];
  outputs: TritonTensor[];
}

/** config.pbtxt text for an ONNX model. */
export function tritonConfigText(c: TritonConfig): string {
  const tensors = (list: TritonTensor[]) =>
    list.map((t) => `  {\n    name: ${JSON.stringify(t.name)}\n    data_type: TYPE_FP32\n    dims: [ ${t.dims.join(', ')} ]\n  }`).join(',\n');
  const lines = [
    `name: ${JSON.stringify(c.name)}`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${c.maxBatchSize}`,
    `input [\n${tensors(c.inputs)}\n]`,
    `output [\n${tensors(c.outputs)}\n]`,
  ];
  if (c.maxBatchSize > 0) lines.push('dynamic_batching { }');
  return lines.join('\n') + '\n';
}

/** A Triton model name from a net's name (letters, digits, _ . -). */
export function tritonModelName(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._]+/, '');
  return clean || 'model';
}

export interface TritonExport {
  dir: string;
  /** The version directory written (DIR/<name>/<version>/model.onnx). */
  version: number;
  /** The versions that were there before, kept. */
  kept: number[];
  config: TritonConfig;
  /** Why batching is off, when it is. */
  fixedBatchReason?: string;
  /** model.onnx's size, and its external data file's when there is one. */
  model: WrittenModel;
}

/** Triton reads max_batch_size and dims as int32. */
const INT32_MAX = 2 ** 31 - 1;

/**
 * Converts `graph` and writes the repository entry DIR/<name>/. `maxBatchSize` 0 asks for no batching; above 0,
 * batching is used when the conversion does not depend on the batch size (checked by converting at two sizes).
 * `options.anySize`: the height and width free too (dims -1), or refused in one line (convertFree); `anyBatch`:
 * batching required, a net that depends on the batch refused rather than written with max_batch_size 0.
 * The model goes into version `version`, by default the one after the highest already there (1 in a new
 * directory): Triton serves the highest version, so a 1/ beside an existing 2/ would never be served. `files`
 * as for writeModelFile: with external data, its file is beside model.onnx, where Triton's ONNX Runtime finds it.
 */
export async function writeTritonRepository(graph: Graph, reshape: ReshapeTo, dir: string, name: string, maxBatchSize: number, options: ConvertOptions, version?: number, files: ModelFileOptions = {}, anyBatch = false): Promise<TritonExport> {
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 0 || maxBatchSize > INT32_MAX)
    throw new CremaError(`options.maxBatchSize ${maxBatchSize}: expected a whole number from 0 (no batching) to ${INT32_MAX} (Triton reads it as an int32)`);
  if (version !== undefined && !(Number.isInteger(version) && version >= 1 && version <= INT32_MAX))
    throw new CremaError(`options.modelVersion ${version}: expected a whole number from 1 to ${INT32_MAX}`);
  const modelDir = path.join(dir, name);
  const kept = existingVersions(modelDir);
  const chosen = version ?? (kept.length ? kept[kept.length - 1] + 1 : 1);
  if (chosen > INT32_MAX) throw new CremaError(`${modelDir}: already has version ${kept[kept.length - 1]}, the highest Triton reads; name one with options.modelVersion`);
  const { conversion, fixedBatchReason } = convertFree(graph, reshape, options, maxBatchSize > 0 ? (anyBatch ? 'any' : 'where free') : 'fixed');
  const batched = maxBatchSize > 0 && !fixedBatchReason;
  // The model's own dims: -1 (Triton's "any") where they are symbolic: a size the data decides, a free height or width.
  const dimsOf = (v: ValueInfoObj): number[] => {
    const dims = v.type.tensor_type.shape!.dim.map((d) => ('dim_value' in d ? d.dim_value : -1));
    return batched ? dims.slice(1) : dims;
  };
  const infoOf = (name: string, list: ValueInfoObj[]) => list.find((v) => v.name === name)!;
  const config: TritonConfig = {
    name,
    maxBatchSize: batched ? maxBatchSize : 0,
    inputs: conversion.inputs.map((n) => ({ name: n, dims: dimsOf(infoOf(n, conversion.model.graph.input)) })),
    outputs: [...conversion.outputs.values()].map((n) => ({ name: n, dims: dimsOf(infoOf(n, conversion.model.graph.output)) })),
  };
  const model = await writeIntoDir(path.join(modelDir, String(chosen)), async () => {
    // The config in the model's set: a config that cannot be written leaves no version without it.
    const alongside = [{ file: path.join(modelDir, 'config.pbtxt'), content: tritonConfigText(config) }];
    return writeModelFile(conversion.model, path.join(modelDir, String(chosen), 'model.onnx'), { ...files, alongside });
  }, dir);
  return { dir: modelDir, config, fixedBatchReason, version: chosen, kept: kept.filter((v) => v !== chosen), model };
}

/** The version directories (positive whole numbers, as Triton reads them) under a model's directory, ascending. */
function existingVersions(modelDir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(modelDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^[0-9]+$/.test(n) && Number(n) >= 1 && fs.statSync(path.join(modelDir, n)).isDirectory())
    .map(Number)
    .sort((a, b) => a - b);
}
