// What `crema flow` and `crema disparity` share: a template's net run on a pair of images, its result written as
// -o (the release's own file) and --png (crema's picture) ask, and one line of it printed.
import type { Argv } from 'yargs';
import type { FlowOptions } from '../detect/node.js';
import { type OutputContent, checkOutput, writeOutputs } from '../util/files.js';
import { inCliWords } from './main.js';
import { backendArg, threadsArg } from './shared.js';

/** The arguments of a pair command. */
export interface PairArgs {
  template: string;
  weights: string;
  output?: string;
  png?: string;
  backend: 'native' | 'onnx';
  threads?: number;
}

/** Their yargs: --backend, --threads, TEMPLATE and WEIGHTS, -o and --png, each described in the command's words. */
export function pairArgs(y: Argv, describe: Record<'template' | 'weights' | 'output' | 'png', string>) {
  return backendArg(threadsArg(y))
    .positional('template', { type: 'string', describe: describe.template })
    .positional('weights', { type: 'string', describe: describe.weights })
    .option('output', { alias: 'o', type: 'string', describe: describe.output })
    .option('png', { type: 'string', describe: describe.png });
}

/** The library's options from them: the backend, the threads, each note on stderr. */
export function pairOptions(args: PairArgs): FlowOptions {
  return { backend: args.backend, threads: args.threads, onNote: (note) => console.error(`note: ${inCliWords(note)}`) };
}

/** How a pair command writes its result: -o's file, --png's picture, and the line it prints. */
export interface PairWriters<T> {
  output: (result: T) => OutputContent;
  png: (result: T) => Promise<OutputContent>;
  line: (result: T) => string;
}

/**
 * One pair: -o and --png checked writable before any work, `run`'s result written to those asked (together,
 * atomically), and its line printed naming them.
 */
export async function runPair<T>(args: PairArgs, run: (options: FlowOptions) => Promise<T>, writers: PairWriters<T>): Promise<void> {
  const outputs = [args.output, args.png].filter((f): f is string => f !== undefined);
  outputs.forEach(checkOutput);
  const result = await run(pairOptions(args));
  const files = [];
  if (args.output !== undefined) files.push({ file: args.output, content: writers.output(result) });
  if (args.png !== undefined) files.push({ file: args.png, content: await writers.png(result) });
  await writeOutputs(files);
  console.log(`${writers.line(result)}${outputs.length ? `; wrote ${outputs.join(', ')}` : ''}`);
}
