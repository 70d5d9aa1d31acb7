import fs from 'node:fs';
import type { Argv } from 'yargs';
import type { LoadOptions } from '../runtime/net.js';

/** The arguments every command that loads a net takes. */
export function netArgs(y: Argv) {
  return y
    .positional('net', { type: 'string', demandOption: true, describe: 'the net: .prototxt (V0, V1 or V2)' })
    .positional('weights', { type: 'string', describe: 'the weights: .caffemodel (V0, V1 or V2) or .caffemodel.h5' })
    .option('phase', { choices: ['TEST', 'TRAIN'], default: 'TEST', describe: 'which phase\'s layers to keep' })
    .option('lenient', { type: 'boolean', default: false, describe: 'skip prototxt fields crema does not know (a fork\'s), with a warning' });
}

export function loadOptionsFrom(args: { phase: string; lenient: boolean }): LoadOptions {
  return { phase: args.phase as 'TEST' | 'TRAIN', lenient: args.lenient, warn: (m: string) => console.error(`warning: ${m}`) };
}

export function readLabels(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split(/\r?\n/).filter((l, i, all) => l !== '' || i < all.length - 1);
}

/** The k largest scores, best first (ties by lower index). */
export function topK(scores: Float32Array, k: number): { index: number; score: number }[] {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, k).map((index) => ({ index, score: scores[index] }));
}
