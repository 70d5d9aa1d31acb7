import fs from 'node:fs';
import path from 'node:path';
import type { Net } from '../runtime/net.js';
import { Tensor, sameShape, shapeString } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { checkReadable } from '../util/files.js';
import { readNpy } from '../util/npy.js';
import { imageInput } from '../image/input.js';
import { isImageFile } from '../image/load.js';
import { geometryOf } from '../image/preprocess.js';
import { type ImageArgs, preprocessOptionsFrom } from './preprocess-options.js';
import { nameRecord } from '../util/names.js';

/**
 * Reads the `--input [NAME=]FILE` values of a command: the first without a name feeds the net's first input,
 * the next unnamed the second, and so on. The batch size comes from the file (the net is reshaped to it).
 */
export async function readInputs(net: Net, specs: string[], images: ImageArgs = {}): Promise<Record<string, Tensor>> {
  const inputs = nameRecord<Tensor>();
  const unnamed = net.inputs.filter((n) => !specs.some((s) => s.startsWith(`${n}=`)));
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const named = eq > 0 && net.inputs.includes(spec.slice(0, eq));
    if (eq > 0 && !named && /^[^/\\.]+$/.test(spec.slice(0, eq)) && !fs.existsSync(spec))
      throw new CremaError(`--input ${spec}: the net has no input '${spec.slice(0, eq)}' (inputs: ${net.inputs.join(', ') || 'none'})`);
    const name = named ? spec.slice(0, eq) : unnamed.shift();
    const file = named ? spec.slice(eq + 1) : spec;
    if (file === '') throw new CremaError(`--input ${spec}: no file after '='`);
    if (!name) throw new CremaError(`--input ${spec}: the net has no more inputs to feed (inputs: ${net.inputs.join(', ') || 'none'})`);
    inputs[name] = fitToInput(net, name, await readInputFile(file, net, name, images), file);
  }
  return inputs;
}

/**
 * Reshapes the net to inputs of other shapes than the prototxt's (another batch or image size); a layer's refusal
 * names the input that made it (Net.reshape).
 */
export function reshapeTo(net: Net, inputs: Record<string, Tensor>): void {
  const other = Object.entries(inputs).filter(([name, t]) => !sameShape(t.dims, net.shapes.get(name)!));
  if (other.length) net.reshape(Object.fromEntries(other.map(([name, t]) => [name, t.dims])));
}

/** A .npy as is, or an image (.jpg, .jpeg, .png, .webp) preprocessed for the input as pycaffe does (src/image/). */
async function readInputFile(file: string, net: Net, name: string, images: ImageArgs): Promise<Tensor> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') return readNpy(file);
  if (isImageFile(file)) {
    const dims = net.shapes.get(name)!;
    return imageInput(file, dims, preprocessOptionsFrom(images, geometryOf(dims, name)), name);
  }
  checkReadable(file); // a directory (`--input examples/`) or a missing file says so, not what its extension is
  throw new CremaError(`${file}: crema reads inputs from .npy files and images (.jpg, .jpeg, .png, .webp), got '${ext || 'no extension'}'`);
}

/**
 * Checks a value against the input blob: same rank (a missing batch axis is added). Other dims may differ (another
 * batch or image size): the net is reshaped, and a layer that cannot take the new shape says so.
 */
function fitToInput(net: Net, name: string, t: Tensor, file: string): Tensor {
  const want = net.shapes.get(name)!;
  const dims = t.dims.length === want.length - 1 ? [1, ...t.dims] : [...t.dims];
  // numpy reads a (0, C, H, W) array; Caffe has nothing to compute on it, and crema would print empty outputs.
  if (t.size === 0) throw new CremaError(`${file}: shape ${shapeString(t.dims)} holds no values: an input needs at least one item`);
  if (dims.length !== want.length)
    throw new CremaError(`${file}: shape ${shapeString(t.dims)} does not fit input '${name}' of shape ${shapeString(want)}`);
  return new Tensor(dims, t.data);
}
