// The tiny makefile/frcnn net of test/fixtures/frcnn-detect (FrcnnProposal, ROIPooling, per-class heads) with
// hashweights of its spec.json (salt 'frcnn'): test/frcnn-detect.test.ts and the browser test's.
import fs from 'node:fs';
import path from 'node:path';
import { encodeCaffemodel } from '../../src/caffe/caffemodel.js';
import { Tensor } from '../../src/tensor.js';
import { hashWeightBlobs } from './hashweights.mjs';

export const FRCNN_FIXTURE = path.join(import.meta.dirname, '../fixtures/frcnn-detect');

/** The net's weights by layer, as make-fixtures.sh's cases.mjs made them. */
export function frcnnWeights(): Map<string, Tensor[]> {
  const layers = hashWeightBlobs(path.join(FRCNN_FIXTURE, 'spec.json'), 'frcnn') as { name: string; blobs: { shape: number[]; data: Float32Array }[] }[];
  return new Map(layers.map((l) => [l.name, l.blobs.map((b) => new Tensor(b.shape, b.data))]));
}

/** Writes the weights as a caffemodel at `file`. */
export function writeFrcnnWeights(file: string): void {
  const layer = [...frcnnWeights()].map(([name, blobs]) => ({ name, blobs: blobs.map((b) => ({ shape: { dim: b.dims }, data: b.data })) }));
  fs.writeFileSync(file, encodeCaffemodel({ name: 'tiny-frcnn', layer }));
}
