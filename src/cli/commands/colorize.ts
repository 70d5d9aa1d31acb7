import type { Argv } from 'yargs';
import { PROBS, colorizeImage, isColorizer } from '../../detect/colorize.js';
import { onnxForwardOf } from '../../detect/forward.js';
import { IMAGE_EXTENSIONS } from '../../image/load.js';
import { rgbPng } from '../../image/png.js';
import { CremaError } from '../../util/errors.js';
import { eachImage } from '../image-loop.js';
import { backendArg, loadNetFor, netArgs, type NetArgs, printNotes, threadsArg } from '../shared.js';
import { collectImages } from './classify.js';

interface ColorizeArgs extends NetArgs {
  weights: string;
  backend: 'native' | 'onnx';
  images: string[];
  output: string;
}

export const colorizeCommand = {
  builder: (y: Argv) =>
    backendArg(threadsArg(netArgs(y)))
      .positional('images', { type: 'string', array: true, describe: 'image files (.jpg .jpeg .png .webp) or directories (walked)' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'write each image colorized as DIR/<name>.png' })
      .example('$0 colorize colorization_deploy_v2.prototxt colorization_release_v2.caffemodel old-photos/ -o colour/', 'the photos in colour')
      .epilog("As the colorization demo (richzhang/colorization, colorize.py): the image's L channel (scikit-image's Lab) at the net's input size, the net's 313 ab bins decoded by their centres (class8_ab needs no weights), ab zoomed back by scipy's cubic spline beside the image's own L, then RGB. Images that cannot be read are reported on stderr and skipped; the exit code is then 1 (2 if none could be read)."),
  handler: async (args: ColorizeArgs) => {
    const files = collectImages(args.images);
    if (files.length === 0) throw new CremaError(`${args.images.join(', ')}: no image files in it (crema reads ${IMAGE_EXTENSIONS.join(' ')})`);
    const net = await loadNetFor(args, args.backend === 'native');
    printNotes(net, args);
    // The demo reads the bins' probabilities alone: the other blobs' storage reused (their arrays freed for it).
    if (args.backend === 'native' && isColorizer(net)) net.keepBlobs = [PROBS];
    const sessions = args.backend === 'onnx' ? new (await import('../../onnx/run.js')).OnnxSessions(net, { threads: args.threads }) : undefined;
    const forward = sessions ? onnxForwardOf(sessions) : undefined;
    await eachImage({
      label: 'colorize', files, geo: { channels: 3, height: 1, width: 1 }, json: false, output: args.output, key: 'colorized',
      found: async (image) => [await colorizeImage(net, image, forward)],
      text: (file, image) => `${file} (${image.width} x ${image.height}): colorized`,
      draw: (image, [rgb]) => rgbPng(image.width, image.height, rgb),
    }, async () => sessions?.release());
  },
};
