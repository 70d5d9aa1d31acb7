import path from 'node:path';
import type { Argv } from 'yargs';
import { example } from '../examples.js';
import { Net } from '../../runtime/net.js';
import type { Tensor } from '../../tensor.js';
import { shapeString } from '../../tensor.js';
import { CremaError } from '../../util/errors.js';
import { encodeNpy } from '../../util/npy.js';
import { writeIntoDir, writeOutputs } from '../../util/files.js';
import { forwardOnnx } from '../../onnx/run.js';
import { checkLayerFiles, layerFileBlobs, writeLayerFiles } from '../../runtime/layer-files.js';
import { readInputs, reshapeTo } from '../inputs.js';
import { type ImageArgs, imageArgs } from '../preprocess-options.js';
import { backendArg, checkPositive, labelsFor, loadNetFor, netArgs, type NetArgs, printNotes, threadsArg, topK } from '../shared.js';
import { quoteName } from '../../util/names.js';
import { noBlobNamed } from '../../util/options.js';
import { printJson } from '../json.js';

interface RunArgs extends NetArgs, ImageArgs {
  input: string[];
  dump?: string;
  blobs?: string;
  labels?: string;
  top: number;
  backend: 'native' | 'onnx';
  threads?: number;
  json: boolean;
}

export const runCommand = {
  builder: (y: Argv) =>
    backendArg(imageArgs(threadsArg(netArgs(y))))
      .option('input', { alias: 'i', type: 'string', array: true, default: [], describe: 'input data, [NAME=]FILE (.npy, or an image: .jpg .png .webp, preprocessed as pycaffe does; repeatable)' })
      .option('dump', { type: 'string', describe: 'write every blob after the forward pass as DIR/<blob>.npy (/ in names as __)' })
      .option('blobs', { type: 'string', describe: 'with --dump: only these blobs (comma-separated)' })
      .option('labels', { type: 'string', describe: 'class names, one a line, e.g. synset_words.txt (default: labels.txt beside the net, if any)' })
      .option('top', { type: 'number', default: 5, describe: 'how many top classes to print for a classifier output' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object: {"outputs": [{"blob", "shape", "top"}]} (top: per item, the classes {"index", "label", "prob"}; classifier outputs only; a CTCGreedyDecoder\'s output has "sequences": per item {"classes", "text"})' })
      .example(example('$0 run models/lenet/deploy.prototxt models/lenet/weights.caffemodel --input models/lenet/example-input.npy'), 'classify one input')
      .example(example('$0 run models/cifar10_full/deploy.prototxt models/cifar10_full/weights.caffemodel --input data=models/cifar10_full/example-input.npy --dump out/ --blobs conv1,norm1'), 'dump two blobs')
      .example(example('$0 run models/lenet/deploy.prototxt models/lenet/weights.caffemodel --input models/lenet/examples/digit-7.png --raw-scale 1'), 'an image, preprocessed as pycaffe does'),
  handler: async (args: RunArgs) => {
    checkPositive('--top', args.top);
    if (args.blobs !== undefined && args.dump === undefined) throw new CremaError('--blobs names the blobs --dump writes: give --dump DIR too');
    // Without --dump only the outputs are read (and an HDF5Output's bottoms, which the plan keeps): the other blobs'
    // storage is reused as the forward goes (planned from the load: a prepared net writes its blobs' pages there).
    const net = await loadNetFor(args, args.backend === 'native', undefined, undefined, args.dump ? 'all' : []);
    if (net.layers.length === 0) throw new CremaError(`${args.net}: the net has no layers: nothing to run`);
    printNotes(net, args);
    // Before the forward: a bad --labels or --dump is found before the work.
    const labels = labelsFor(args, net);
    if (args.dump) dumpNames([...net.shapes.keys()], args.blobs);
    checkLayerFiles(net.layersAsIs); // HDF5Output's file: its directory, ...
    const inputs = await readInputs(net, args.input, args);
    const missing = net.inputs.filter((n) => !(n in inputs));
    if (missing.length) throw new CremaError(`no --input for ${missing.map((n) => `'${n}' ${shapeString(net.shapes.get(n)!)}`).join(', ')}`);
    if (args.backend === 'native') reshapeTo(net, inputs);
    const { outputs, blobs } = args.backend === 'onnx'
      ? await forwardOnnx(net, inputs, { threads: args.threads, blobs: args.dump || layerFileBlobs(net.layersAsIs).some((b) => !net.outputs.includes(b)) ? 'all' : 'outputs' })
      : { outputs: net.forward(inputs), blobs: net.blobs };
    await writeLayerFiles(net.layersAsIs, blobs);
    if (args.dump) await dumpBlobs(blobs, args.dump, args.blobs);
    if (args.json) {
      printJson({ outputs: Object.entries(outputs).map(([name, t]) => outputJson(net, name, t, args.top, labels)) });
      return;
    }
    for (const [name, t] of Object.entries(outputs)) {
      console.log(`${name} ${shapeString(t.dims)}`);
      if (isClassifierOutput(net, name, t)) printTopClasses(t, args.top, labels);
      else if (isSequenceOutput(net, name)) printSequences(t, labels);
    }
  },
};

/**
 * Writes blobs as DIR/<blob>.npy, `/` in a blob name written `__` (the layout Caffe references use), as one set: all
 * or none (an error or Ctrl-C midway leaves DIR as it was, not half of this forward's blobs beside the last one's).
 */
export async function dumpBlobs(blobs: Map<string, Tensor>, dir: string, only?: string): Promise<void> {
  const names = dumpNames([...blobs.keys()], only);
  await writeIntoDir(dir, () => writeOutputs(names.map((n) => ({ file: path.join(dir, dumpFileName(n)), content: () => encodeNpy(blobs.get(n)!) }))));
}

/** The blobs `--dump` writes (all, or `--blobs`), each checked to exist and to make a file name. */
export function dumpNames(all: string[], only?: string): string[] {
  const names = only ? only.split(',').map((s) => s.trim()).filter(Boolean) : all;
  const known = new Set(all);
  for (const n of names) if (!known.has(n)) throw new CremaError(`--blobs: ${noBlobNamed(n, all)}`);
  names.forEach(dumpFileName);
  return names;
}

/**
 * DIR/<blob>.npy, with `/` written `__` (the layout Caffe references use). A name no file can have (NUL, `.`,
 * `..`, or too long for a file name) is refused by name rather than failing in the file system.
 */
export function dumpFileName(blob: string): string {
  const file = `${blob.replaceAll('/', '__')}.npy`;
  if (blob.includes('\0') || blob === '.' || blob === '..' || Buffer.byteLength(file) > 255)
    throw new CremaError(`--dump: blob '${quoteName(blob)}' cannot be a file name (a NUL, '.' or '..', or over 255 bytes); name the others with --blobs`);
  return file;
}



/**
 * A classifier's output: (N, K[, 1, 1]) with K > 1, written by Softmax, or (N, K) by an InnerProduct (a deploy net
 * without its Softmax). Not other (N, K) blobs: boxes (a proposal layer's (rows, 4)) have no classes to rank.
 */
function isClassifierOutput(net: Net, name: string, t: Tensor): boolean {
  const writer = writerTypes(net).get(name);
  const perImage = t.dims.slice(1).filter((d) => d !== 1);
  return perImage.length === 1 && perImage[0] > 1 && (writer === 'Softmax' || (t.dims.length === 2 && writer === 'InnerProduct'));
}

const writers = new WeakMap<Net, Map<string, string>>();

/** The type of the layer that last writes each blob, found once per net (a search per output is quadratic on a Slice of 10^6 tops). */
function writerTypes(net: Net): Map<string, string> {
  let m = writers.get(net);
  if (!m) writers.set(net, (m = new Map(net.layers.flatMap((l) => l.tops.map((top) => [top, l.type] as const)))));
  return m;
}

/** A CTCGreedyDecoder's output (caffe_ocr's line readers): (N, T, 1, 1), each item's classes then -1s. */
function isSequenceOutput(net: Net, name: string): boolean {
  return writerTypes(net).get(name) === 'CTCGreedyDecoder';
}

/** Each item's decoded classes (up to its first -1). */
function sequencesOf(t: Tensor): number[][] {
  const n = t.dims[0], steps = t.size / n;
  return Array.from({ length: n }, (_, i) => {
    const out: number[] = [];
    for (let s = 0; s < steps && t.data[i * steps + s] >= 0; s++) out.push(t.data[i * steps + s]);
    return out;
  });
}

/** The labels of a sequence joined (a text line's characters), or null without labels. */
function textOf(sequence: number[], labels?: string[]): string | null {
  return labels ? sequence.map((c) => labels[c] ?? `<${c}>`).join('') : null;
}

function printSequences(t: Tensor, labels?: string[]): void {
  const all = sequencesOf(t);
  all.forEach((sequence, i) => {
    const prefix = all.length > 1 ? `  [${i}] ` : '  ';
    const classes = sequence.length ? sequence.join(' ') : '(none)';
    console.log(labels ? `${prefix}"${textOf(sequence, labels)}" (classes ${classes})` : `${prefix}classes ${classes}`);
  });
}

/**
 * An output for --json: its shape, and a classifier's top classes per item (label null without labels), or a
 * decoder's sequences per item (their text joined from the labels, null without).
 */
function outputJson(net: Net, blob: string, t: Tensor, k: number, labels?: string[]): {
  blob: string; shape: number[]; top?: { index: number; label: string | null; prob: number }[][]; sequences?: { classes: number[]; text: string | null }[];
} {
  if (isSequenceOutput(net, blob)) return { blob, shape: [...t.dims], sequences: sequencesOf(t).map((classes) => ({ classes, text: textOf(classes, labels) })) };
  if (!isClassifierOutput(net, blob, t)) return { blob, shape: [...t.dims] };
  const n = t.dims[0], classes = t.size / n;
  const top = Array.from({ length: n }, (_, i) =>
    topK(t.data.subarray(i * classes, (i + 1) * classes), k).map(({ index, score }) => ({ index, label: labels?.[index] ?? null, prob: score })));
  return { blob, shape: [...t.dims], top };
}

function printTopClasses(t: Tensor, k: number, labels?: string[]): void {
  const n = t.dims[0], classes = t.size / n;
  for (let i = 0; i < n; i++) {
    if (n > 1) console.log(`  [${i}]`);
    for (const { index, score } of topK(t.data.subarray(i * classes, (i + 1) * classes), k))
      console.log(`  ${score.toFixed(4)} - ${labels?.[index] !== undefined ? `"${labels[index]}"` : `class ${index}`}`);
  }
}
