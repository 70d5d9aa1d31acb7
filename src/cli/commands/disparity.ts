import type { Argv } from 'yargs';
import { disparity } from '../../detect/node.js';
import { disparityGray, disparityLine, pfmBytes } from '../../detect/disparity.js';
import { encodePng } from '../../image/png.js';
import { type PairArgs, pairArgs, runPair } from '../pair.js';

interface DisparityArgs extends PairArgs {
  left: string;
  right: string;
}

export const disparityCommand = {
  builder: (y: Argv) =>
    pairArgs(y, {
      template: 'a DispNet or DispNetCorr1D deploy.tpl.prototxt (filled for the images\' size), or a deploy net already filled for it',
      weights: 'its .caffemodel',
      output: 'write the disparity as its PFMWriter does: a PFM (\'Pf\', width height, 1.0: big-endian float32, the top row first)',
      png: 'write the disparity as 8-bit gray: 0 black, the largest white (crema\'s picture; the release writes only the PFM)',
    })
      .positional('left', { type: 'string', describe: 'the left image (.png .jpg .webp)' })
      .positional('right', { type: 'string', describe: 'the right image, of the left one\'s size' })
      .example('$0 disparity model/deploy.tpl.prototxt model/DispNetCorr1D_CVPR2016.caffemodel left.png right.png -o disp.pfm --png disp.png', 'DispNetCorr1D\'s disparity, as `./demo.py left.png right.png disp.pfm 0` writes it in models/DispNetCorr1D, and its picture')
      .epilog("As dispflownet-release's models/*/demo.py (lmb-freiburg's DispNet, Mayer et al. 2016): the template's $ADAPTED_WIDTH, $ADAPTED_HEIGHT (the size rounded up to multiples of 64), $TARGET_WIDTH, $TARGET_HEIGHT and $SCALE_WIDTH (width / adapted width, '%.8f') filled as it fills them; the images as its ImageData layers read them (OpenCV in colour: BGR bytes as floats, a gray image's one channel in all three, no EXIF rotation; the left image is the one tmp/img1.txt lists); the disparity is its PFMWriter's bottom (predict_disp_final), negated as that layer writes it: positive, in pixels at the images' size. Prints the disparity's size, largest and mean."),
  handler: (args: DisparityArgs) =>
    runPair(args, (options) => disparity(args.template, args.weights, args.left, args.right, options), {
      output: pfmBytes,
      png: (d) => encodePng({ width: d.width, height: d.height, channels: 1, data: disparityGray(d) }),
      line: (d) => disparityLine(args.left, args.right, d),
    }),
};
