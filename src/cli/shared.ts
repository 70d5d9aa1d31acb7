import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { DIALECTS, DIALECT_WORDS, type Dialect } from '../caffe/dialects.js';
import type { DialectOf } from '../caffe/load.js';
import { type KeepBlobs, type LoadOptions, Net, type NetOptions } from '../runtime/net.js';
import { checkThreads } from '../bench/counts.js';
import { sizeOf } from '../tensor.js';
import { parseDataShape } from '../util/data-shape.js';
import { CremaError } from '../util/errors.js';
import { readFileBytes } from '../util/files.js';
import { inCliWords } from './main.js';

/** The arguments every command that loads a net takes. */
export function netArgs(y: Argv) {
  return y
    .positional('net', { type: 'string', demandOption: true, describe: 'the net: .prototxt (V0, V1 or V2)' })
    .positional('weights', { type: 'string', describe: 'the weights: .caffemodel (V0, V1 or V2) or .caffemodel.h5' })
    .option('phase', { choices: ['TEST', 'TRAIN'], default: 'TEST', describe: 'which phase\'s layers to keep' })
    .option('stage', { type: 'string', array: true, describe: 'NetState stages for include/exclude { stage } rules (repeatable)' })
    .option('level', { type: 'number', describe: 'NetState level for min_level / max_level rules' })
    .option('data-shape', { type: 'string', array: true, describe: 'shape of a data layer\'s top the prototxt cannot tell, or of an input to make the net at, TOP=N,C,H,W (repeatable)' })
    .option('verbose', { type: 'boolean', default: false, describe: 'also say which format upgrades loading applied' })
    .option('lenient', { type: 'boolean', default: false, describe: 'skip prototxt fields and enum values crema does not know (a fork\'s), with a warning' })
    .option('dialect', { choices: DIALECTS, describe: `the Caffe fork the net was built for, where it changes a BVLC layer: ${DIALECTS.map((d) => `${d} (${DIALECT_WORDS[d].changes})`).join(', ')}` })
    .option('frcnn-config', { type: 'string', requiresArg: true, describe: 'makefile/frcnn\'s JSON config (its tools\' --default_c) for FrcnnProposal layers: anchors, feat_stride, test_rpn_* (default: the fork\'s default_config.json)' })
    .option('plugin', { type: 'string', array: true, describe: 'a JS module adding layer types crema lacks (export default { type, create, onnx? }); repeatable' });
}

/** `--threads` for the commands that compute natively. */
export function threadsArg<T>(y: Argv<T>) {
  return y.option('threads', { type: 'number', requiresArg: true, describe: 'threads for the compute (default: one per core)' });
}

/** `--backend` for the commands that run a net: natively, or converted in memory and run in ONNX Runtime. */
export function backendArg<T>(y: Argv<T>) {
  return y.option('backend', { choices: ['native', 'onnx'] as const, default: 'native' as const, describe: 'run natively, or converted to ONNX in ONNX Runtime (in memory)' });
}

/** The arguments `netArgs` declares. */
export interface NetArgs {
  net: string;
  weights?: string;
  phase: string;
  lenient: boolean;
  dialect?: Dialect;
  stage?: string[];
  level?: number;
  dataShape?: string[];
  verbose?: boolean;
  plugin?: string[];
  frcnnConfig?: string;
  /** For commands that compute: threads for the native kernels (default: one per core). */
  threads?: number;
}

/** What loading noticed, on stderr: always what may matter, the format upgrades with --verbose. */
export function printNotes(net: Net, args: NetArgs): void {
  // The library's options in a note as the CLI's flags (options.dialect 'hed' -> --dialect hed).
  for (const note of [...(args.verbose ? net.upgrades : []), ...net.notes]) console.error(`note: ${inCliWords(note)}`);
}

export function loadOptionsFrom(args: NetArgs): LoadOptions & NetOptions {
  if (args.threads !== undefined) checkThreads(args.threads);
  checkInteger('--level', args.level);
  return {
    phase: args.phase as 'TEST' | 'TRAIN',
    lenient: args.lenient,
    stages: args.stage,
    level: args.level,
    dataShapes: args.dataShape && Object.fromEntries(args.dataShape.map((spec) => parseDataShape(spec, '--data-shape'))),
    dialect: args.dialect,
    warn: (m: string) => console.error(`warning: ${m}`),
    threads: args.threads || undefined, // 0 or unset: one per core
    plugins: args.plugin,
    ...(args.frcnnConfig !== undefined ? { frcnnConfig: readFileBytes(args.frcnnConfig).toString('utf8') } : {}),
  };
}

/**
 * The net a command runs: prepared for native forwards, or (`native` false: converted, inspected or run in ONNX
 * Runtime) as loaded, on one thread, nothing packed for kernels that will not run. `dialectOf`: a command's own
 * (edges'). `prepare` false: native, but nothing made for the prototxt's input shape, which the command replaces
 * with each image's (segment and edges: FCN-8s prepared at its 500 x 500 held 2.2 GB to run a 1 x 1 image).
 */
export function loadNetFor(args: NetArgs, native: boolean, dialectOf?: DialectOf, prepare = native, keepBlobs?: KeepBlobs): Promise<Net> {
  const options = loadOptionsFrom(args);
  return Net.open(args.net, args.weights, native ? { ...options, keepBlobs } : { ...options, threads: 1 }, { prepare, dialectOf });
}

/**
 * Class names for a net's output: `--labels FILE`, else a labels.txt beside the prototxt, if any. Warns when their
 * number is not the output's.
 */
export function labelsFor(args: { net: string; labels?: string }, net: Net): string[] | undefined {
  const beside = path.join(path.dirname(args.net), 'labels.txt');
  const file = args.labels ?? (fs.existsSync(beside) ? beside : undefined);
  if (!file) return undefined;
  const labels = readLabels(file);
  // A CTC decoder's classes are its scores' last axis (its output holds the decoded steps).
  const decoder = net.layers.find((l) => l.type === 'CTCGreedyDecoder' && l.tops[0] === net.outputs[0]);
  const dims = decoder ? net.shapes.get(decoder.bottoms[0])?.slice(-1) : net.shapes.get(net.outputs[0])?.slice(1);
  const classes = dims && dims.length >= 1 ? sizeOf(dims) : undefined;
  if (classes !== undefined && labels.length !== classes)
    console.error(`warning: ${file} has ${labels.length} labels, the net's output '${net.outputs[0]}' has ${classes} classes`);
  return labels;
}

/**
 * Labels one a line, as UTF-8 or, when the file is not UTF-8, GB18030 (a superset of the GBK in which Chinese OCR
 * models' label files come: senlinuc/caffe_ocr's).
 */
export function readLabels(file: string): string[] {
  const bytes = readFileBytes(file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = new TextDecoder('gb18030').decode(bytes);
  }
  return text.split(/\r?\n/).filter((l, i, all) => l !== '' || i < all.length - 1);
}

/** Refuses a flag that is not a whole number (yargs reads `--seed abc` as NaN, which would be used as is). */
/** A flag's comma-separated numbers ('' between commas is NaN, for the caller to refuse). */
export function commaNumbers(text: string): number[] {
  return text.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
}

export function checkInteger(flag: string, v: number | undefined): void {
  if (v !== undefined && !Number.isSafeInteger(v)) throw new CremaError(`${flag} ${v}: expected a whole number`);
}

/** Refuses a count flag (--top, --batch) that is not a whole number of at least 1. */
export function checkPositive(flag: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new CremaError(`${flag} ${v}: expected a positive whole number`);
}

/** The k largest scores, best first (ties by lower index). */
export function topK(scores: Float32Array, k: number): { index: number; score: number }[] {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, k).map((index) => ({ index, score: scores[index] }));
}
