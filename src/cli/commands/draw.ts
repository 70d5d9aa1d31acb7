import path from 'node:path';
import type { Argv } from 'yargs';
import { example } from '../examples.js';
import { readNetPrototxt } from '../../caffe/load.js';
import { selectLayers } from '../../caffe/phase.js';
import { netToDot } from '../../graph/dot.js';
import { CremaError } from '../../util/errors.js';
import { writeOutput } from '../../util/files.js';

interface DrawArgs {
  net: string;
  output: string;
  format?: 'svg' | 'png' | 'dot';
  rankdir: 'LR' | 'TB' | 'BT' | 'RL';
  phase: 'ALL' | 'TRAIN' | 'TEST';
  lenient: boolean;
}

export const drawCommand = {
  builder: (y: Argv) =>
    y
      .positional('net', { type: 'string', demandOption: true, describe: 'the net: .prototxt (V0, V1 or V2)' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the picture: FILE.svg, FILE.png or FILE.dot; - writes it to stdout (SVG unless --format)' })
      .option('format', { choices: ['svg', 'png', 'dot'], describe: 'the picture\'s format (default: -o\'s extension; svg for -o -)' })
      .option('rankdir', { choices: ['LR', 'TB', 'BT', 'RL'], default: 'LR', describe: 'direction of the graph (draw_net.py\'s default: LR)' })
      .option('phase', { choices: ['ALL', 'TRAIN', 'TEST'], default: 'ALL', describe: 'draw only this phase\'s layers (default: every layer)' })
      .option('lenient', { type: 'boolean', default: false, describe: 'skip prototxt fields and enum values crema does not know (a fork\'s), with a warning' })
      .example(example('$0 draw models/cifar10_full/deploy.prototxt -o cifar10_full.svg'), 'the layer graph as SVG')
      .example(example('$0 draw models/zoo/alexnet_train_val.prototxt -o alexnet.dot --phase TRAIN --rankdir TB'), 'the training net as Graphviz DOT'),
  handler: async (args: DrawArgs) => {
    const ext = args.format ? `.${args.format}` : args.output === '-' ? '.svg' : path.extname(args.output).toLowerCase();
    if (!['.dot', '.gv', '.svg', '.png'].includes(ext)) throw new CremaError(`-o ${args.output}: crema draws .svg, .png or .dot (got '${ext || 'no extension'}')`);
    let net = readNetPrototxt(args.net, [], { lenient: args.lenient, warn: (m) => console.error(`warning: ${m}`) });
    if (args.phase !== 'ALL') net = selectLayers(net, { phase: args.phase });
    const dot = netToDot(net, args.rankdir);
    const layers = net.layer?.length ?? 0;
    if (ext !== '.dot' && ext !== '.gv' && layers > MAX_DRAWN_LAYERS)
      throw new CremaError(`${args.net}: ${layers.toLocaleString('en-US')} layers are more than crema lays out (${MAX_DRAWN_LAYERS.toLocaleString('en-US')}: ` +
        `Graphviz's layout runs out of stack on long chains); write -o net.dot and lay it out with a system Graphviz (dot -Tsvg)`);
    const picture = ext === '.dot' || ext === '.gv' ? dot : ext === '.svg' ? await dotToSvg(dot) : await svgToPng(await dotToSvg(dot));
    await writeOutput(args.output, picture);
    // With -o -, stdout is the picture: what crema says goes to stderr.
    (args.output === '-' ? console.error : console.log)(`wrote ${args.output === '-' ? 'stdout' : args.output} (${layers} layers)`);
  },
};

/**
 * The most layers `draw` lays out as .svg / .png. Graphviz (compiled to WebAssembly) recurses along the graph: a
 * chain of 5,000 layers lays out, 7,000 overflow its stack (measured). .dot output has no limit.
 */
const MAX_DRAWN_LAYERS = 4000;

/** Lays the graph out with Graphviz itself (compiled to WebAssembly: no system graphviz needed). */
export async function dotToSvg(dot: string): Promise<string> {
  const { Graphviz } = await import('@hpcc-js/wasm-graphviz');
  const graphviz = await Graphviz.load();
  return graphviz.dot(dot, 'svg');
}

async function svgToPng(svg: string): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  return sharp(Buffer.from(svg), { density: 96, limitInputPixels: false }).png().toBuffer();
}
