import path from 'node:path';
import type { Argv } from 'yargs';
import { readNetPrototxt } from '../../caffe/load.js';
import { selectLayers } from '../../caffe/phase.js';
import { paramsOf } from '../../caffe/schema.js';
import type { LayerParameter, NetParameter } from '../../caffe/types.js';
import { CremaError } from '../../util/errors.js';
import { writeOutput } from '../../util/files.js';

interface DrawArgs {
  net: string;
  output: string;
  rankdir: 'LR' | 'TB' | 'BT' | 'RL';
  phase: 'ALL' | 'TRAIN' | 'TEST';
  lenient: boolean;
}

export const drawCommand = {
  command: 'draw <net>',
  describe: 'Draw a net\'s layer graph as Caffe\'s draw_net.py does: .dot (Graphviz), .svg or .png',
  builder: (y: Argv) =>
    y
      .positional('net', { type: 'string', demandOption: true, describe: 'the net: .prototxt (V0, V1 or V2)' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the picture: FILE.svg, FILE.png or FILE.dot' })
      .option('rankdir', { choices: ['LR', 'TB', 'BT', 'RL'], default: 'LR', describe: 'direction of the graph (draw_net.py\'s default: LR)' })
      .option('phase', { choices: ['ALL', 'TRAIN', 'TEST'], default: 'ALL', describe: 'draw only this phase\'s layers (default: every layer)' })
      .option('lenient', { type: 'boolean', default: false, describe: 'skip prototxt fields crema does not know (a fork\'s), with a warning' })
      .example('$0 draw models/cifar10_full/deploy.prototxt -o cifar10_full.svg', 'the layer graph as SVG')
      .example('$0 draw models/zoo/alexnet_train_val.prototxt -o alexnet.dot --phase TRAIN --rankdir TB', 'the training net as Graphviz DOT'),
  handler: async (args: DrawArgs) => {
    const ext = path.extname(args.output).toLowerCase();
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
    console.log(`wrote ${args.output} (${net.layer?.length ?? 0} layers)`);
  },
};

/**
 * The most layers `draw` lays out as .svg / .png. Graphviz (compiled to WebAssembly) recurses along the graph: a
 * chain of 5,000 layers lays out, 7,000 overflow its stack (measured). .dot output has no limit.
 */
const MAX_DRAWN_LAYERS = 4000;

// draw_net.py's styles: layers are filled records coloured by type, blobs grey octagons, in-place layers green.
const BLOB_STYLE = 'shape=octagon, style=filled, fillcolor="#E0E0E0"';
const IN_PLACE_COLOR = '#90EE90';
const TYPE_COLORS: Record<string, string> = { Convolution: '#FF5050', Deconvolution: '#FF5050', Pooling: '#FF9900', InnerProduct: '#CC33FF' };
const DEFAULT_COLOR = '#6495ED';

/** Graphviz DOT of a net, as Caffe's python/caffe/draw.py builds it (labels, colours, edge labels). */
export function netToDot(net: NetParameter, rankdir: string = 'LR'): string {
  const separator = rankdir === 'TB' || rankdir === 'BT' ? ' ' : '\n';
  const nodes = new Map<string, string>();
  const edges: string[] = [];
  const blob = (name: string) => `blob:${name}`;
  for (const l of net.layer ?? []) {
    const id = `layer:${l.name}:${l.type}`;
    const bottoms = l.bottom ?? [], tops = l.top ?? [];
    const inPlace = bottoms.length === 1 && tops.length === 1 && bottoms[0] === tops[0];
    const color = inPlace ? IN_PLACE_COLOR : (TYPE_COLORS[l.type] ?? DEFAULT_COLOR);
    nodes.set(id, `${q(id)} [label=${q(layerLabel(l, separator), true)}, shape=record, style=filled, fillcolor="${color}"]`);
    for (const b of bottoms) {
      nodes.set(blob(b), `${q(blob(b))} [label=${q(b)}, ${BLOB_STYLE}]`);
      edges.push(`${q(blob(b))} -> ${q(id)}`);
    }
    const label = edgeLabel(l);
    for (const t of tops) {
      if (!nodes.has(blob(t))) nodes.set(blob(t), `${q(blob(t))} [label=${q(t)}, ${BLOB_STYLE}]`);
      edges.push(`${q(id)} -> ${q(blob(t))}${label ? ` [label=${q(label)}]` : ''}`);
    }
  }
  const lines = [`digraph ${q(net.name || 'Net')} {`, `  rankdir=${rankdir};`, '  node [fontname="Helvetica", fontsize=11];', '  edge [fontname="Helvetica", fontsize=10];'];
  for (const n of nodes.values()) lines.push(`  ${n};`);
  for (const e of edges) lines.push(`  ${e};`);
  lines.push('}', '');
  return lines.join('\n');
}

/** name, (type), and for spatial layers kernel size / stride / pad, as draw.py's get_layer_label. */
function layerLabel(l: LayerParameter, separator: string): string {
  const parts = [l.name];
  if (l.type === 'Pooling') parts.push(`(Pooling ${paramsOf<{ pool: string }>(l, 'pooling_param').pool})`);
  else parts.push(`(${l.type})`);
  const spatial = spatialParams(l);
  if (spatial) parts.push(`kernel size: ${spatial.kernel}`, `stride: ${spatial.stride}`, `pad: ${spatial.pad}`);
  return parts.join(separator);
}

function spatialParams(l: LayerParameter): { kernel: number; stride: number; pad: number } | undefined {
  if (l.type === 'Pooling') {
    const p = paramsOf<{ kernel_size: number; kernel_h?: number; stride: number; pad: number }>(l, 'pooling_param');
    return { kernel: p.kernel_size || p.kernel_h || 0, stride: p.stride, pad: p.pad }; // kernel_h/_w when set instead
  }
  if (l.type !== 'Convolution' && l.type !== 'Deconvolution') return undefined;
  const p = paramsOf<{ kernel_size?: number[]; kernel_h?: number; stride?: number[]; pad?: number[] }>(l, 'convolution_param');
  return { kernel: p.kernel_size?.[0] ?? (p.kernel_h || 1), stride: p.stride?.[0] ?? 1, pad: p.pad?.[0] ?? 0 };
}

/** draw.py labels a layer's output edges with num_output (conv, IP) or the batch size (Data). */
function edgeLabel(l: LayerParameter): string | undefined {
  if (l.type === 'Convolution' || l.type === 'Deconvolution') return String(paramsOf<{ num_output: number }>(l, 'convolution_param').num_output);
  if (l.type === 'InnerProduct') return String(paramsOf<{ num_output: number }>(l, 'inner_product_param').num_output);
  if (l.type === 'Data') return `Batch ${paramsOf<{ batch_size: number }>(l, 'data_param').batch_size}`;
  return undefined;
}

/** A DOT string literal; for a record-shaped node, its field syntax ({ } | < >) is escaped to stay text. */
function q(s: string, record = false): string {
  const text = s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `"${record ? text.replace(/[{}|<>]/g, (c) => `\\${c}`) : text}"`;
}

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
