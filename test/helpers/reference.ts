import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../../src/tensor.js';
import { readNpy } from '../../src/util/npy.js';
import { agreement } from '../../src/verify/compare.js';
import { sharedDir } from './shared.js';

/** A reference case: a net, its weights, an input and the blobs real Caffe computed (the layout of ../shared/reference). */
export interface ReferenceCase {
  name: string;
  dir: string;
  prototxt: string;
  input: string;
  inputName: string;
  blobs: string[];
}

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/layers');

/** The cases of ../shared/reference/<set> (none when ../shared is missing), or of test/fixtures/layers. */
export function referenceCases(set: 'sweep' | 'zoo' | 'fixtures'): ReferenceCase[] {
  const root = set === 'fixtures' ? fixtures : sharedDir && path.join(sharedDir, 'reference', set);
  if (!root || !fs.existsSync(root)) return [];
  return fs.readdirSync(root).sort().filter((n) => fs.existsSync(path.join(root, n, 'manifest.json'))).map((name) => {
    const dir = path.join(root, name);
    const man = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { input: string; blobs: string[] };
    return { name, dir, prototxt: path.join(dir, 'net.prototxt'), input: path.join(dir, 'input.npy'), inputName: man.input, blobs: man.blobs };
  });
}

/** The case's weights file: its own, the trained model's, or regenerated from spec.json (cached, as conformance.mjs does). */
export function weightsOf(c: ReferenceCase): string {
  for (const f of ['weights.caffemodel', 'weights.caffemodel.h5']) if (fs.existsSync(path.join(c.dir, f))) return path.join(c.dir, f);
  const trained = sharedDir && path.join(sharedDir, 'models/trained', c.name, 'weights.caffemodel');
  if (trained && fs.existsSync(trained)) return trained;
  const cache = path.join(os.tmpdir(), 'crema-reference-weights');
  const out = path.join(cache, `${c.name}.caffemodel`);
  if (!fs.existsSync(out)) {
    fs.mkdirSync(cache, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    execFileSync('node', [path.join(sharedDir!, 'tools/hashweights.mjs'), 'model', path.join(c.dir, 'spec.json'), tmp, '--salt', 'dev']);
    fs.renameSync(tmp, out);
  }
  return out;
}

export function referenceBlob(c: ReferenceCase, blob: string): Tensor {
  return readNpy(path.join(c.dir, 'blobs', `${blob.replaceAll('/', '__')}.npy`));
}

/** max|ours - ref| / max(1, max|ref|): the project's measure of agreement with Caffe (pass: <= 1e-4). */
export function relativeError(ours: Tensor, ref: Tensor): number {
  return ours.dims.join() === ref.dims.join() ? relativeDifference(ours.data, ref.data) : Infinity;
}

/** The same measure on bare arrays of one length (NaN on both sides agrees, as verify counts it; on one: Infinity). */
export function relativeDifference(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  return agreement(ours, ref).rel;
}

export const TOLERANCE = 1e-4;
