// The CLI's commands as library functions (Node entry): convert, info, verify, classify, upgrade, draw. Each takes
// what the loaders take (a Net, paths or bytes) and returns data; messages name no CLI flag.
import { encodeCaffemodel, noteFrcnnNumbers, readCaffemodelSource } from './caffe/caffemodel.js';
import { readNetPrototxt } from './caffe/load.js';
import { type Phase, selectLayers } from './caffe/phase.js';
import { formatPrototxt } from './caffe/prototxt.js';
import { upgradeNet } from './caffe/upgrade.js';
import { dotToSvg } from './cli/commands/draw.js';
import { netToDot } from './graph/dot.js';
import { type LayerSummary, summarize } from './graph/summary.js';
import { imageInput } from './image/input.js';
import { PREPROCESS_OPTIONS, type PreprocessOptions, geometryOf, preprocessPart } from './image/preprocess.js';
import { type ConvertOptions, encodeConversion } from './onnx/convert.js';
import { convertFree, graphReshaper } from './onnx/batch.js';
import { TOO_LARGE_ADVICE } from './onnx/proto.js';
import { writeModelFile } from './onnx/write.js';
import type { Net } from './runtime/net.js';
import { CremaError } from './util/errors.js';
import { checkLabels, checkOptionKeys } from './util/options.js';
import { type Source, kindOf, resolveSource, withSource } from './util/source.js';
import { type VerifyOptions, type VerifyReport, verifyNet } from './verify/verify.js';

export type { ConvertOptions, LayerSummary, VerifyOptions, VerifyReport };

const VERIFY_OPTIONS: readonly (keyof VerifyOptions)[] = ['inputs', 'reference', 'tolerance', 'seed', 'threads', 'lrn', 'opset'];

/**
 * The net as an ONNX model with Caffe's semantics: its bytes; or, with `file`, written there (atomically) from
 * chunks whose tensors are the net's own weights, never one buffer of the model's size (VGG-16: 619 MB at the peak
 * rather than 1.47 GB), and then the file's name and size. The model's inputs and outputs are the net's at its
 * current input shapes; `anySize` makes their height and width symbolic, `anyBatch` their batch (checked by
 * converting at other shapes: a net that builds them in is refused in one line naming the layer).
 */
type ConvertCall = ConvertOptions & { anyBatch?: boolean };
export async function convert(net: Net, options?: ConvertCall & { file?: undefined }): Promise<Uint8Array>;
export async function convert(net: Net, options: ConvertCall & { file: string }): Promise<{ file: string; size: number }>;
export async function convert(net: Net, options?: ConvertCall & { file?: string }): Promise<Uint8Array | { file: string; size: number }>;
export async function convert(net: Net, options: ConvertCall & { file?: string } = {}): Promise<Uint8Array | { file: string; size: number }> {
  checkOptionKeys(options, ['opset', 'outputs', 'lrn', 'anySize', 'anyBatch', 'file'], 'convert');
  if (options.anyBatch !== undefined && typeof options.anyBatch !== 'boolean') throw new CremaError(`options.anyBatch is true or false, got ${kindOf(options.anyBatch)}`);
  net.checkWeights();
  const { file, anyBatch, ...convertOptions } = options;
  const { conversion } = convertFree(net.graph, graphReshaper(net.graph), convertOptions, anyBatch ? 'any' : 'fixed');
  if (file === undefined) return encodeConversion(conversion);
  const written = await writeModelFile(conversion.model, file, { advice: TOO_LARGE_ADVICE });
  return { file, size: written.bytes };
}

/** Every blob's shape and, per layer, its bottoms, tops, parameter count and multiply-adds (`crema info --json`). */
export function info(net: Net): { blobs: Record<string, number[]>; layers: LayerSummary[] } {
  return summarize(net.graph);
}

/** The native engine against ONNX Runtime (and a directory of Caffe's `<blob>.npy` dumps), blob by blob. */
export async function verify(net: Net, options: VerifyOptions = {}): Promise<VerifyReport> {
  checkOptionKeys(options, VERIFY_OPTIONS, 'verify');
  return verifyNet(net, options);
}

/** One image's top classes. */
export interface Classification {
  top: { index: number; label?: string; prob: number }[];
}

/**
 * Images (paths, file: URLs or bytes) through a classifier, prepared as pycaffe does (`options`: mean, raw scale, channel
 * swap, resize, crop, oversample): each image's `top` classes (5 by default), the net's first output read as
 * probabilities (averaged over crops when oversampling), labelled from `labels` when given.
 */
export async function classify(net: Net, images: Source[], options: PreprocessOptions & { top?: number; labels?: string[] } = {}): Promise<Classification[]> {
  checkOptionKeys(options, [...PREPROCESS_OPTIONS, 'top', 'labels'], 'classify');
  checkLabels(options.labels, 'classify');
  if (!Array.isArray(images)) throw new CremaError(`classify: expected an array of images (paths, file: URLs or bytes), got ${kindOf(images)}`);
  const input = net.inputs[0];
  if (!input) throw new CremaError('classify: the net has no input to feed images to');
  const top = options.top ?? 5;
  if (!Number.isInteger(top) || top < 1) throw new CremaError(`classify: top must be a positive whole number, got ${typeof top === 'number' ? top : kindOf(top)}`);
  const dims = [1, ...net.shapes.get(input)!.slice(1)];
  geometryOf(dims, input);
  const results: Classification[] = [];
  for (const image of images) {
    const data = await imageInput(image, dims, preprocessPart(options), input);
    const out = net.forward({ [input]: data })[net.outputs[0]];
    const rows = out.dims[0], classes = out.size / rows;
    const scores = new Float64Array(classes);
    for (let r = 0; r < rows; r++) for (let c = 0; c < classes; c++) scores[c] += out.data[r * classes + c] / rows;
    const order = [...scores.keys()].sort((a, b) => scores[b] - scores[a]).slice(0, top);
    results.push({ top: order.map((index) => ({ index, ...(options.labels?.[index] !== undefined ? { label: options.labels[index] } : {}), prob: scores[index] })) });
  }
  return results;
}

/** A V0/V1 prototxt rewritten as V2 text, as Caffe's upgrade_net_proto_text does; `notes` say what changed. */
export function upgradePrototxt(prototxt: Source, options: { lenient?: boolean } = {}): { text: string; notes: string[] } {
  checkOptionKeys(options, ['lenient'], 'upgradePrototxt');
  const notes: string[] = [];
  const net = readNetPrototxt(prototxt, notes, { lenient: options.lenient });
  return { text: formatPrototxt(net), notes };
}

/** A V0/V1 caffemodel rewritten as V2 bytes, as Caffe's upgrade_net_proto_binary does; `notes` say what changed. */
export function upgradeCaffemodel(caffemodel: Source): { bytes: Uint8Array; notes: string[] } {
  const notes: string[] = [];
  const r = resolveSource('caffemodel', caffemodel);
  const read = withSource(r, (src) => readCaffemodelSource(src, r.label));
  noteFrcnnNumbers(read, r.label, notes);
  return { bytes: encodeCaffemodel(upgradeNet(read, r.label, notes)), notes };
}

/** The layer graph as Caffe's draw_net.py draws it: Graphviz DOT, or laid out as SVG (Graphviz in WebAssembly). */
export async function draw(prototxt: Source, options: { format?: 'svg' | 'dot'; rankdir?: 'LR' | 'TB' | 'BT' | 'RL'; phase?: Phase } = {}): Promise<string> {
  checkOptionKeys(options, ['format', 'rankdir', 'phase'], 'draw');
  if (options.format !== undefined && options.format !== 'svg' && options.format !== 'dot')
    throw new CremaError(`draw: options.format is 'svg' or 'dot', got ${typeof options.format === 'string' ? `'${options.format}'` : kindOf(options.format)}`);
  if (options.rankdir !== undefined && !['LR', 'TB', 'BT', 'RL'].includes(options.rankdir))
    throw new CremaError(`draw: options.rankdir is 'LR', 'TB', 'BT' or 'RL', got ${typeof options.rankdir === 'string' ? `'${options.rankdir}'` : kindOf(options.rankdir)}`);
  let net = readNetPrototxt(prototxt);
  if (options.phase) net = selectLayers(net, { phase: options.phase });
  const dot = netToDot(net, options.rankdir ?? 'LR');
  return options.format === 'dot' ? dot : dotToSvg(dot);
}
