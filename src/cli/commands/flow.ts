import type { Argv } from 'yargs';
import { flow } from '../../detect/node.js';
import { floBytes, flowColors, flowLengths } from '../../detect/flow.js';
import { rgbPng } from '../../image/png.js';
import { checkOutput, writeOutputs } from '../../util/files.js';
import { inCliWords } from '../main.js';
import { backendArg, threadsArg } from '../shared.js';

interface FlowArgs {
  template: string;
  weights: string;
  img0: string;
  img1: string;
  output?: string;
  png?: string;
  backend: 'native' | 'onnx';
  threads?: number;
}

export const flowCommand = {
  builder: (y: Argv) =>
    backendArg(threadsArg(y))
      .positional('template', { type: 'string', describe: 'a FlowNet 2.0 deploy .prototxt.template (filled for the images\' size), or a deploy net already filled for it' })
      .positional('weights', { type: 'string', describe: 'its .caffemodel or .caffemodel.h5' })
      .positional('img0', { type: 'string', describe: 'the first image (.png .jpg .webp)' })
      .positional('img1', { type: 'string', describe: 'the second image, of the first one\'s size' })
      .option('output', { alias: 'o', type: 'string', describe: 'write the flow as a Middlebury .flo (run-flownet.py\'s writeFlow: \'PIEH\', int32 width, height, float32 u v interleaved)' })
      .option('png', { type: 'string', describe: 'write the flow as a picture: the Middlebury colour wheel as flow_vis draws it (normalised by the largest radius)' })
      .example('$0 flow FlowNet2_deploy.prototxt.template FlowNet2_weights.caffemodel.h5 frame0.png frame1.png -o out.flo --png out.png', 'FlowNet2\'s flow from frame0 to frame1, as `python scripts/run-flownet.py FlowNet2_weights.caffemodel.h5 FlowNet2_deploy.prototxt.template frame0.png frame1.png out.flo` writes it, and its picture')
      .epilog("As FlowNet 2.0's scripts/run-flownet.py (lmb-freiburg/flownet2): the template's $TARGET_WIDTH$, $TARGET_HEIGHT$, $ADAPTED_WIDTH$, $ADAPTED_HEIGHT$ (the size rounded up to multiples of 64), $SCALE_WIDTH$ and $SCALE_HEIGHT$ filled as the script's Python 2.7 writes them (12 digits); the images' bytes as floats in BGR order (a gray image's one channel in all three), no mean, no EXIF rotation (scipy.misc.imread); the flow is the blob predict_flow_final, u then v in pixels at the images' size. Prints the flow's size and its largest and mean length."),
  handler: async (args: FlowArgs) => {
    const outputs = [args.output, args.png].filter((f): f is string => f !== undefined);
    outputs.forEach(checkOutput);
    const f = await flow(args.template, args.weights, args.img0, args.img1, { backend: args.backend, threads: args.threads, onNote: (note) => console.error(`note: ${inCliWords(note)}`) });
    const files = [];
    if (args.output !== undefined) files.push({ file: args.output, content: floBytes(f) });
    if (args.png !== undefined) files.push({ file: args.png, content: await rgbPng(f.width, f.height, flowColors(f)) });
    await writeOutputs(files);
    const { max, mean } = flowLengths(f);
    console.log(`${args.img0} -> ${args.img1} (${f.width} x ${f.height}): flow length max ${max.toPrecision(4)}, mean ${mean.toPrecision(4)} pixels${outputs.length ? `; wrote ${outputs.join(', ')}` : ''}`);
  },
};
