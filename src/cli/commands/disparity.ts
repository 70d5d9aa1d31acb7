import type { Argv } from 'yargs';
import { disparity } from '../../detect/node.js';
import { disparityGray, pfmBytes } from '../../detect/disparity.js';
import { encodePng } from '../../image/png.js';
import { checkOutput, writeOutputs } from '../../util/files.js';
import { inCliWords } from '../main.js';
import { backendArg, threadsArg } from '../shared.js';

interface DisparityArgs {
  template: string;
  weights: string;
  left: string;
  right: string;
  output?: string;
  png?: string;
  backend: 'native' | 'onnx';
  threads?: number;
}

export const disparityCommand = {
  builder: (y: Argv) =>
    backendArg(threadsArg(y))
      .positional('template', { type: 'string', describe: 'a DispNet or DispNetCorr1D deploy.tpl.prototxt (filled for the images\' size), or a deploy net already filled for it' })
      .positional('weights', { type: 'string', describe: 'its .caffemodel' })
      .positional('left', { type: 'string', describe: 'the left image (.png .jpg .webp)' })
      .positional('right', { type: 'string', describe: 'the right image, of the left one\'s size' })
      .option('output', { alias: 'o', type: 'string', describe: 'write the disparity as its PFMWriter does: a PFM (\'Pf\', width height, 1.0: big-endian float32, the top row first)' })
      .option('png', { type: 'string', describe: 'write the disparity as 8-bit gray: 0 black, the largest white (crema\'s picture; the release writes only the PFM)' })
      .example('$0 disparity model/deploy.tpl.prototxt model/DispNetCorr1D_CVPR2016.caffemodel left.png right.png -o disp.pfm --png disp.png', 'DispNetCorr1D\'s disparity, as `./demo.py left.png right.png disp.pfm 0` writes it in models/DispNetCorr1D, and its picture')
      .epilog("As dispflownet-release's models/*/demo.py (lmb-freiburg's DispNet, Mayer et al. 2016): the template's $ADAPTED_WIDTH, $ADAPTED_HEIGHT (the size rounded up to multiples of 64), $TARGET_WIDTH, $TARGET_HEIGHT and $SCALE_WIDTH (width / adapted width, '%.8f') filled as it fills them; the images as its ImageData layers read them (OpenCV in colour: BGR bytes as floats, a gray image's one channel in all three, no EXIF rotation; the left image is the one tmp/img1.txt lists); the disparity is its PFMWriter's bottom (predict_disp_final), negated as that layer writes it: positive, in pixels at the images' size. Prints the disparity's size, largest and mean."),
  handler: async (args: DisparityArgs) => {
    const outputs = [args.output, args.png].filter((f): f is string => f !== undefined);
    outputs.forEach(checkOutput);
    const d = await disparity(args.template, args.weights, args.left, args.right, { backend: args.backend, threads: args.threads, onNote: (note) => console.error(`note: ${inCliWords(note)}`) });
    const files = [];
    if (args.output !== undefined) files.push({ file: args.output, content: pfmBytes(d) });
    if (args.png !== undefined) files.push({ file: args.png, content: await encodePng({ width: d.width, height: d.height, channels: 1, data: disparityGray(d) }) });
    await writeOutputs(files);
    let max = -Infinity, sum = 0;
    for (const v of d.data) {
      max = Math.max(max, v);
      sum += v;
    }
    console.log(`${args.left} | ${args.right} (${d.width} x ${d.height}): disparity max ${max.toPrecision(4)}, mean ${(sum / d.data.length).toPrecision(4)} pixels${outputs.length ? `; wrote ${outputs.join(', ')}` : ''}`);
  },
};
