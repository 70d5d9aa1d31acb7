import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { example } from '../examples.js';
import { encodeCaffemodel, readCaffemodelFile, isHdf5File, noteFrcnnNumbers } from '../../caffe/caffemodel.js';
import { missingBlob, readNetPrototxt, readWeightsFile } from '../../caffe/load.js';
import { formatPrototxt } from '../../caffe/prototxt.js';
import { upgradeNet } from '../../caffe/upgrade.js';
import { CremaError } from '../../util/errors.js';
import { withOpenFile, writeOutput } from '../../util/files.js';
import { invocation } from '../main.js';

interface UpgradeArgs {
  in: string;
  out: string;
  lenient: boolean;
}

export const upgradeCommand = {
  builder: (y: Argv) =>
    y
      .positional('in', { type: 'string', demandOption: true, describe: 'a .prototxt or .caffemodel of any version, or Caffe HDF5 weights (written as a .caffemodel)' })
      .positional('out', { type: 'string', demandOption: true, describe: 'where to write the V2 file (same kind as IN); - for stdout' })
      .option('lenient', { type: 'boolean', default: false, describe: 'skip prototxt fields and enum values crema does not know (a fork\'s), with a warning' })
      .example(example('$0 upgrade models/cifar10_full/deploy.prototxt cifar10_full_v2.prototxt'), 'V1 layers { type: CONVOLUTION } -> layer { type: "Convolution" }')
      .example(example('$0 upgrade models/cifar10_full/weights.caffemodel cifar10_full_v2.caffemodel'), 'the weights file likewise'),
  handler: async (args: UpgradeArgs) => {
    // yargs makes the positional `-` (stdout, as the README and --help say) an empty string: "cannot write: EISDIR".
    if (args.out === '' && invocation.argv.includes('-')) args.out = '-';
    const notes: string[] = [];
    if (isHdf5File(args.in)) {
      await writeOutput(args.out, encodeCaffemodel(await hdf5AsNet(args.in)));
      notes.push(`${args.in}: Caffe's HDF5 weights written as a V2 .caffemodel, its layers in the order Caffe copies them (by name)`);
    } else if (isPrototxt(args.in)) {
      const net = readNetPrototxt(args.in, notes, { lenient: args.lenient, warn: (m) => console.error(`warning: ${m}`) });
      await writeOutput(args.out, formatPrototxt(net));
    } else {
      const read = readCaffemodelFile(args.in);
      noteFrcnnNumbers(read, args.in, notes);
      const net = upgradeNet(read, args.in, notes);
      await writeOutput(args.out, encodeCaffemodel(net));
    }
    for (const note of notes) console.error(`note: ${note}`);
    if (notes.length === 0) console.error(`note: ${args.in} was already in the current format; wrote it unchanged in content`);
    console.error(`wrote ${args.out === '-' ? 'the V2 file to stdout' : args.out}`);
  },
};

/**
 * Caffe's HDF5 weights as the NetParameter of a .caffemodel (for what reads only those: crema in a browser, Caffe
 * builds without HDF5): each layer's blobs by name, in the order CopyTrainedLayersFromHDF5 copies them. A layer
 * whose group leaves out a blob before its last (a blob it shares, which Caffe's snapshot saves in its owner only) is
 * refused: a .caffemodel's blobs are by position, and which owner's blob belongs there only the net can tell.
 */
async function hdf5AsNet(file: string): Promise<{ name: string; layer: { name: string; blobs: { shape: { dim: number[] }; data: Float32Array }[] }[] }> {
  const weights = await readWeightsFile(file);
  const layer = [...weights].filter(([, blobs]) => blobs.length).map(([name, blobs]) => {
    const hole = missingBlob(blobs);
    if (hole >= 0)
      throw new CremaError(`${file}: layer '${name}' has blob ${blobs.length - 1} but not blob ${hole} (one it shares with another layer, which Caffe's snapshot saves in the owner only): a .caffemodel cannot leave it out; load the HDF5 file itself (Net.load, crema run) with the net's prototxt`);
    return { name, blobs: blobs.map((t) => ({ shape: { dim: [...t.dims] }, data: t.data })) };
  });
  return { name: path.basename(file).replace(/\.(caffemodel\.)?h5$/i, ''), layer };
}

/** Text protobuf or binary? By extension when it says, else by content (Caffe's own tools are told by the user). */
function isPrototxt(file: string): boolean {
  return withOpenFile(file, (fd) => {
    if (/\.(prototxt|pbtxt)$/i.test(file)) return true;
    if (/\.caffemodel$/i.test(file)) return false;
    const head = Buffer.alloc(512);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f) || b >= 0x80);
  });
}
