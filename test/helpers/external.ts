// Reading back a model with ONNX external data (src/onnx/external.ts): each external tensor's bytes put back as
// raw_data, as the converter wrote them; encoded, the result is the model a session from bytes is made from.
import { expect } from 'vitest';
import path from 'node:path';
import { type ModelObj, type TensorObj, decodeModel } from '../../src/onnx/proto.js';
import { nodePlatform } from '../../src/platform/node.js';

export type Stored = TensorObj & { data_location?: number; external_data?: { key: string; value: string }[] };

/** The outer model with each external tensor's bytes read back from its file (`fileOf` its location) as raw_data. */
export function readBack(outer: Uint8Array, fileOf: (location: string) => Uint8Array): ModelObj {
  const model = decodeModel(outer);
  for (const t of model.graph.initializer as Stored[]) {
    if (!t.external_data?.length) continue;
    const entry = Object.fromEntries(t.external_data.map((e) => [e.key, e.value]));
    expect(t.data_location).toBe(1);
    t.raw_data = fileOf(entry.location).subarray(Number(entry.offset), Number(entry.offset) + Number(entry.length));
    delete t.external_data;
    delete t.data_location;
  }
  return model;
}

/**
 * Records the directories the Node platform writes ONNX Runtime's model files into (src/platform/node.ts
 * onnxModelFiles), until `restore` puts its own writer back.
 */
export function watchModelDirs(): { made: string[]; restore(): void } {
  const made: string[] = [];
  const write = nodePlatform.onnxModelFiles!;
  nodePlatform.onnxModelFiles = (model) => {
    const files = write(model);
    made.push(path.dirname(files.path));
    return files;
  };
  return { made, restore: () => void (nodePlatform.onnxModelFiles = write) };
}
