import fs from 'node:fs';
import path from 'node:path';
import { forwardOnnx } from '../onnx/run.js';
import type { LrnMode } from '../onnx/context.js';
import type { Net } from '../runtime/net.js';
import type { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { readNpy } from '../util/npy.js';
import { paramsOf } from '../caffe/schema.js';
import { layerTypeOf } from '../layers/registry.js';
import { type BlobVerdict, compareBlobs, fromFreshState, refuseSampledLayers, seededInput, withEveryBlob } from './blobs.js';

export { PAIRS, type BlobVerdict, type PairName, seededInput } from './blobs.js';

export interface VerifyReport {
  pass: boolean;
  tolerance: number;
  /** Where the input came from: a file, the reference's own input, or a seeded random draw. */
  input: string;
  reference?: string;
  blobs: BlobVerdict[];
  /** Blobs out of tolerance, in net order. */
  failed: string[];
  /** Of `failed`, the blobs whose own layer differs: the others (`explained`) only carry their inputs' difference. */
  unexplained: string[];
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
      const drawn = drawnInput(net, name, options.seed ?? 1);
      inputs[name] = drawn.tensor;
      sources.push(`${name} ${drawn.source}`);
    }
  }
  return { inputs, source: sources.join(', ') };
}

/**
 * A seeded random input, in the domain its layer takes where that is narrower than [-1, 1): an Embed's indices
 * (integers below input_dim), a Faster R-CNN Proposal's im_info (the image input's height and width, scale 1; a
 * random one is refused as no image's size). Other inputs take any value alike in both engines.
 */
function drawnInput(net: Net, name: string, seed: number): { tensor: Tensor; source: string } {
  const dims = net.shapes.get(name)!, tensor = seededInput(dims, seed);
  const embed = net.layers.find((l) => l.type === 'Embed' && l.bottoms[0] === name);
  const rows = embed ? paramsOf<{ input_dim: number }>(embed.def, 'embed_param').input_dim : 0;
  if (embed && rows > 0) {
    tensor.data.forEach((v, i) => (tensor.data[i] = Math.min(rows - 1, Math.floor(((v + 1) / 2) * rows))));
    return { tensor, source: `random indices of Embed '${embed.name}' in [0, ${rows}) (seed ${seed})` };
  }
  const proposal = net.layers.find((l) => ['Proposal', 'FrcnnProposal'].includes(layerTypeOf(l.def).type) && l.bottoms[2] === name);
  const image = net.inputs.map((i) => net.shapes.get(i)!).find((d) => d.length === 4);
  if (proposal && image && dims.at(-1) === 3) {
    for (let i = 0; i < tensor.data.length; i += 3) tensor.data.set([image[2], image[3], 1], i);
    return { tensor, source: `the image input's height and width and scale 1 (im_info of '${proposal.name}')` };
  }
  return { tensor, source: `random (seed ${seed})` };
}

/**
 * Runs the net natively and in ONNX Runtime on the same inputs and compares every blob, and both against
 * the reference blobs when a reference directory is given.
 */
export async function verifyNet(net: Net, options: VerifyOptions = {}): Promise<VerifyReport> {
  const tolerance = options.tolerance ?? 1e-4;
  if (!(tolerance > 0)) throw new CremaError(`options.tolerance must be a positive number, got ${tolerance}`);
  const refDir = options.reference === undefined ? undefined : referenceBlobDir(options.reference);
  refuseSampledLayers(net);
  const { inputs, source } = chooseInputs(net, options, refDir);
  const onnx = (await forwardOnnx(net, inputs, { threads: options.threads, lrn: options.lrn, opset: options.opset, blobs: 'all' })).blobs;
  return withEveryBlob(net, () => fromFreshState(net, async () => {
    net.forward(inputs);
    const notes: string[] = [];
    const reference = refDir ? readReference(net, refDir, notes) : undefined;
    const compared = compareBlobs(net, onnx, reference, tolerance);
    notes.push(...compared.notes);
    return { pass: compared.failed.length === 0, tolerance, input: source, reference: options.reference, blobs: compared.blobs, failed: compared.failed, unexplained: compared.unexplained, notes };
  }));
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
