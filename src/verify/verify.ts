import fs from 'node:fs';
import path from 'node:path';
import { forwardOnnx } from '../onnx/run.js';
import type { LrnMode } from '../onnx/context.js';
import type { Net } from '../runtime/net.js';
import { Tensor, sizeOf } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { readNpy } from '../util/npy.js';
import { type PairResult, comparePair } from './compare.js';
import { compareDetections } from './detections.js';

/** The comparisons verify makes: native vs ONNX Runtime always, each vs the reference when there is one. */
export type PairName = 'native_onnx' | 'native_reference' | 'onnx_reference';
export const PAIRS: readonly PairName[] = ['native_onnx', 'native_reference', 'onnx_reference'];

export interface BlobVerdict {
  blob: string;
  shape: number[];
  pairs: Partial<Record<PairName, PairResult>>;
  pass: boolean;
}

export interface VerifyReport {
  pass: boolean;
  tolerance: number;
  /** Where the input came from: a file, the reference's own input, or a seeded random draw. */
  input: string;
  reference?: string;
  blobs: BlobVerdict[];
  /** Blobs out of tolerance, in net order. */
  failed: string[];
  notes: string[];
}

export interface VerifyOptions {
  /** Inputs by blob name (from --input files); otherwise the reference's, else random. */
  inputs?: Record<string, Tensor>;
  /** A directory of <blob>.npy (a --dump, Caffe's dump, or a reference case with blobs/). */
  reference?: string;
  tolerance?: number;
  seed?: number;
  threads?: number;
  lrn?: LrnMode;
  opset?: number;
}

const fileOf = (blob: string) => `${blob.replaceAll('/', '__')}.npy`;

/** The directory holding the <blob>.npy files: DIR itself, or DIR/blobs for a reference case. */
export function referenceBlobDir(dir: string): string {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new CremaError(`options.reference ${dir}: not a directory`);
  const blobs = path.join(dir, 'blobs');
  return fs.existsSync(blobs) && fs.statSync(blobs).isDirectory() ? blobs : dir;
}

/** Uniform values in [-1, 1) from a seeded generator (mulberry32), so a run can be repeated exactly. */
export function seededInput(dims: readonly number[], seed: number): Tensor {
  let a = seed >>> 0;
  const data = new Float32Array(sizeOf(dims));
  for (let i = 0; i < data.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    data[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return new Tensor(dims, data);
}

/** Picks the inputs: given ones, else the reference's own `<input>.npy`, else seeded random values. */
function chooseInputs(net: Net, options: VerifyOptions, refDir: string | undefined): { inputs: Record<string, Tensor>; source: string } {
  const inputs: Record<string, Tensor> = { ...(options.inputs ?? {}) };
  const sources: string[] = [];
  for (const name of Object.keys(inputs)) sources.push(`${name} from options.inputs`);
  for (const name of net.inputs) {
    if (inputs[name]) continue;
    const file = refDir && path.join(refDir, fileOf(name));
    if (file && fs.existsSync(file)) {
      inputs[name] = readNpy(file);
      sources.push(`${name} from the reference`);
    } else {
      inputs[name] = seededInput(net.shapes.get(name)!, options.seed ?? 1);
      sources.push(`${name} random (seed ${options.seed ?? 1})`);
    }
  }
  return { inputs, source: sources.join(', ') };
}

/**
 * Runs the net natively and in ONNX Runtime on the same inputs and compares every blob, and both against
 * the reference blobs when a reference directory is given.
 */
export async function verifyNet(net: Net, options: VerifyOptions = {}): Promise<VerifyReport> {
  const tolerance = options.tolerance ?? 1e-4;
  if (!(tolerance > 0)) throw new CremaError(`options.tolerance must be a positive number, got ${tolerance}`);
  const refDir = options.reference === undefined ? undefined : referenceBlobDir(options.reference);
  const { inputs, source } = chooseInputs(net, options, refDir);
  const onnx = (await forwardOnnx(net, inputs, { threads: options.threads, lrn: options.lrn, opset: options.opset, blobs: 'all' })).blobs;
  net.forward(inputs);
  const notes: string[] = [];
  const reference = refDir ? readReference(net, refDir, notes) : undefined;
  const blobs: BlobVerdict[] = [];
  // DetectionOutput's rows are compared as sets: ONNX's NonMaximumSuppression may order equal scores otherwise.
  const detections = new Set(net.layers.filter((l) => l.type === 'DetectionOutput').flatMap((l) => l.tops));
  if (detections.size) notes.push(`detections (${[...detections].join(', ')}) compared as sets: same image and label, IoU >= 0.99, |score difference| <= ${tolerance}`);
  for (const [blob, native] of net.blobs) {
    const ref = reference?.get(blob);
    const compare = (ours: Tensor, theirs: Tensor) => (detections.has(blob) ? compareDetections : comparePair)(ours, theirs, tolerance);
    const pairs: BlobVerdict['pairs'] = { native_onnx: compare(onnx.get(blob)!, native) };
    if (ref) {
      pairs.native_reference = compare(native, ref);
      pairs.onnx_reference = compare(onnx.get(blob)!, ref);
    }
    blobs.push({ blob, shape: [...native.dims], pairs, pass: Object.values(pairs).every((p) => p.pass) });
  }
  notes.push(...nonfiniteNotes(blobs));
  const failed = blobs.filter((b) => !b.pass).map((b) => b.blob);
  return { pass: failed.length === 0, tolerance, input: source, reference: options.reference, blobs, failed, notes };
}

/** Says which blobs have NaN or infinite values on both sides of a pair, which the comparison counts as equal. */
function nonfiniteNotes(blobs: BlobVerdict[]): string[] {
  const notes: string[] = [];
  for (const b of blobs) {
    const most = Math.max(0, ...Object.values(b.pairs).map((p) => p.nonfinite ?? 0));
    if (most > 0) notes.push(`'${b.blob}': ${most} value${most === 1 ? ' is' : 's are'} NaN or infinite on both sides, counted as equal`);
  }
  return notes;
}

/** The reference's blobs that the net has; other files are noted (Caffe's own *_split_* blobs silently skipped). */
function readReference(net: Net, dir: string, notes: string[]): Map<string, Tensor> {
  const byFile = new Map([...net.blobs.keys()].map((b) => [fileOf(b), b]));
  const found = new Map<string, Tensor>();
  const unknown: string[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.npy')).sort()) {
    const blob = byFile.get(file);
    if (blob) found.set(blob, readNpy(path.join(dir, file)));
    else if (!/_split_\d+\.npy$/.test(file)) unknown.push(file);
  }
  if (found.size === 0)
    throw new CremaError(`options.reference ${dir}: no <blob>.npy file for any blob of the net (blobs: ${[...net.blobs.keys()].slice(0, 10).join(', ')}${net.blobs.size > 10 ? ', …' : ''})`);
  if (unknown.length) notes.push(`the reference has files for blobs the net lacks: ${unknown.join(', ')}`);
  const missing = [...net.blobs.keys()].filter((b) => !found.has(b));
  if (missing.length) notes.push(`the reference has no file for ${missing.length} blob(s), compared native vs ONNX only: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`);
  return found;
}
