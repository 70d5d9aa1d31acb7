import path from 'node:path';
import type { Argv } from 'yargs';
import { example } from '../examples.js';
import { type Normalize, type Picture, autoScale, tileGrid } from '../../image/grid.js';
import { encodePng } from '../../image/png.js';
import { Net } from '../../runtime/net.js';
import { type Tensor, shapeString } from '../../tensor.js';
import { CremaError } from '../../util/errors.js';
import { makeOutputDir, writeOutput } from '../../util/files.js';
import { readInputs, reshapeTo } from '../inputs.js';
import { type ImageArgs, imageArgs } from '../preprocess-options.js';
import { noBlobNamed } from '../../util/options.js';
import { loadOptionsFrom, type NetArgs, netArgs, printNotes } from '../shared.js';

interface ShowArgs extends NetArgs, ImageArgs {
  weights: string;
  input?: string[];
  blobs?: string;
  params?: string;
  output: string;
  normalize: Normalize;
  scale?: number;
}

export const showCommand = {
  builder: (y: Argv) =>
    imageArgs(netArgs(y))
      .option('input', { alias: 'i', type: 'string', array: true, describe: 'input data: [NAME=]FILE, an image (preprocessed as pycaffe does) or a .npy' })
      .option('blobs', { type: 'string', describe: 'blobs to picture after the forward pass (comma-separated): DIR/<blob>.png (--blobs and/or --params: one is needed)' })
      .option('params', { type: 'string', describe: 'layers whose filters to picture (comma-separated): DIR/<layer>-filters.png (--blobs and/or --params: one is needed)' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'the directory to write the PNGs to' })
      .option('normalize', { choices: ['all', 'each'], default: 'all', describe: 'scale to 0..255 over the whole blob (vis_square) or each channel on its own' })
      .option('scale', { type: 'number', describe: 'enlarge the pictures this many times (default: to about 512 pixels wide)' })
      .example(example('$0 show models/cifar10_full/deploy.prototxt models/cifar10_full/weights.caffemodel --input models/cifar10_full/examples/cat.jpg --channel-swap 0,1,2 --mean 125,123,114 --blobs pool1,norm1 -o out/'), 'what LRN does: its input and output')
      .example(example('$0 show models/cifar10_full/deploy.prototxt models/cifar10_full/weights.caffemodel --params conv1 --channel-swap 0,1,2 -o out/'), 'the first layer\'s filters, in colour'),
  handler: async (args: ShowArgs) => {
    const blobs = list(args.blobs), layers = list(args.params);
    if (!blobs.length && !layers.length) throw new CremaError('name what to show: --blobs conv1,norm1 and/or --params conv1');
    if (args.scale !== undefined && !(Number.isInteger(args.scale) && args.scale >= 1 && args.scale <= 64)) throw new CremaError(`--scale ${args.scale}: expected a whole number from 1 to 64`);
    const net = await Net.load(args.net, args.weights, loadOptionsFrom(args));
    printNotes(net, args);
    const pictures: [string, Picture][] = layers.map((l) => [`${l}-filters.png`, filterPicture(net, l, args)]);
    if (blobs.length) {
      for (const b of blobs) if (!net.shapes.has(b)) throw new CremaError(`--blobs: ${noBlobNamed(b, net.shapes.keys())}`);
      if (!args.input?.length) throw new CremaError(`--blobs needs an --input (an image or a .npy) to run the net on`);
      const inputs = await readInputs(net, args.input, args);
      reshapeTo(net, inputs);
      net.forward(inputs);
      for (const b of blobs) pictures.push([`${b.replaceAll('/', '__')}.png`, blobPicture(b, net.blobs.get(b)!, args.normalize)]);
    }
    makeOutputDir(args.output);
    for (const [file, p] of pictures) {
      const out = path.join(args.output, file);
      await writeOutput(out, await encodePng(p, args.scale ?? autoScale(p)));
      console.log(`wrote ${out}`);
    }
  },
};

function list(s?: string): string[] {
  return (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
}

/** The first item of the batch: its C channels as C gray tiles of H x W. */
function blobPicture(name: string, t: Tensor, normalize: Normalize): Picture {
  if (t.dims.length !== 4) throw new CremaError(`--blobs: '${name}' has shape ${shapeString(t.dims)}; pictures need N x C x H x W blobs`);
  const [, c, h, w] = t.dims;
  return tileGrid(t.data.subarray(0, c * h * w), c, h, w, false, normalize);
}

/**
 * A layer's first weights (out x in x kh x kw): colour tiles when they read 3 channels (shown in RGB: undoing the
 * channel swap the images were given, BGR by default), else one gray tile per output and input channel.
 */
function filterPicture(net: Net, layer: string, args: ShowArgs): Picture {
  const weights = net.params.get(layer)?.[0];
  if (!weights) throw new CremaError(`--params: layer '${layer}' has no weights (layers with weights: ${[...net.params.keys()].join(', ') || 'none'})`);
  if (weights.dims.length !== 4) throw new CremaError(`--params: '${layer}' has weights of shape ${shapeString(weights.dims)}; pictures need out x in x kh x kw filters`);
  const [o, i, h, w] = weights.dims;
  if (i !== 3) return tileGrid(weights.data, o * i, h, w, false, args.normalize);
  const swap = args.channelSwap ? args.channelSwap.split(',').map((x) => Number(x.trim())) : [2, 1, 0];
  if (swap.length !== 3 || [0, 1, 2].some((c) => !swap.includes(c))) throw new CremaError(`--channel-swap ${args.channelSwap}: needs a permutation of 0,1,2 for 3-channel filters`);
  const rgb = new Float32Array(weights.size), plane = h * w;
  // Net channel c holds image channel swap[c]: write it back to that RGB position, interleaved.
  for (let f = 0; f < o; f++)
    for (let c = 0; c < 3; c++)
      for (let p = 0; p < plane; p++) rgb[(f * plane + p) * 3 + swap[c]] = weights.data[(f * 3 + c) * plane + p];
  return tileGrid(rgb, o, h, w, true, args.normalize);
}
