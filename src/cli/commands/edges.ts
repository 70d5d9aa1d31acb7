import type { Argv } from 'yargs';
import { type EdgeMap, edgeBytes, edgesInImage } from '../../detect/dense.js';
import type { FloatImage } from '../../image/image.js';
import { CremaError } from '../../util/errors.js';
import { commaNumbers } from '../shared.js';
import { rgbPng } from '../../image/png.js';
import { type DenseArgs, denseArgs, denseLoop } from './segment.js';

interface EdgesArgs extends DenseArgs {
  scales?: string;
}

export const edgesCommand = {
  builder: (y: Argv) =>
    denseArgs(y)
      .option('blob', { type: 'string', default: 'sigmoid-fuse', describe: 'the edge map (1 x 1 x H x W): HED\'s and RCF\'s fused one, or a side output, sigmoid-dsn1 .. sigmoid-dsn5' })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'write each edge map as DIR/<name>.png: 255 * (1 - edge), gray, as RCF saves it (edges dark)' })
      .option('scales', { type: 'string', describe: 'RCF\'s multi-scale test: the image scaled by each factor (cv2.resize), the maps resized back and averaged; RCF\'s: 0.5,1,1.5' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object when done: {"images": [{"image", "width", "height", "blob", "map": {"width", "height"}, "mean", "max", "edges"}], "skipped": [{"image", "error"}]} (edges: the pixels of 0.5 or more)' })
      .example('$0 edges hed/deploy.prototxt hed_pretrained_bsds.caffemodel photos/ -o edges/', 'HED (its Crops without crop_param are FCN\'s Caffe of 2015\'s: taken as --dialect hed; no HED model ships with crema)')
      .example('$0 edges test_vgg16.prototxt rcf_pretrained_bsds.caffemodel photo.jpg -o edges/ --blob sigmoid-dsn3', 'RCF\'s third side output')
      .example('$0 edges test_vgg16.prototxt rcf_pretrained_bsds.caffemodel photos/ -o edges/ --scales 0.5,1,1.5', 'RCF\'s multi-scale test')
      .epilog("As HED's tutorial (s9xie/hed, HED-tutorial.ipynb) and RCF's single-scale test (yun-liu/RCF, RCF-singlescale.ipynb): the image's bytes as PIL reads them (a JPEG's EXIF orientation not applied) as float32, BGR, less the mean (in float64), the net reshaped to the image's size, channel 0 of sigmoid-fuse (--scales: RCF-multiscale.ipynb's mean over the image scaled by cv2.resize, INTER_LINEAR, each map resized back); the PNG is RCF's cv2.imwrite(255 * (1 - fuse)). Images that cannot be read are reported on stderr and skipped; the exit code is then 1 (2 if none could be read)."),
  handler: async (args: EdgesArgs) => {
    const scales = args.scales === undefined ? undefined : parseScales(args.scales);
    await denseLoop(args, 'edges', (net, options, forward) => ({
      label: 'edges', key: 'edges',
      found: async (image: FloatImage) => [await edgesInImage(net, image, { ...options, scales }, forward)],
      text: (file: string, image: FloatImage, [e]: EdgeMap[]) => `${file} (${image.width} x ${image.height}): ${args.blob} ${summary(e).edges} pixels of 0.5 or more${sized(e, image)}`,
      draw: (_: FloatImage, [e]: EdgeMap[]) => rgbPng(e.width, e.height, edgeBytes(e.data), 1),
      jsonOf: ([e]: EdgeMap[]) => ({ blob: args.blob, map: { width: e.width, height: e.height }, ...summary(e) }),
    }));
  },
};

/** --scales 0.5,1,1.5: factors above 0. */
export function parseScales(text: string): number[] {
  const v = commaNumbers(text);
  if (!v.every((x) => Number.isFinite(x) && x > 0)) throw new CremaError(`--scales: factors above 0, e.g. 0.5,1,1.5 (RCF's multi-scale test), got '${text}'`);
  return v;
}

function summary(e: EdgeMap): { mean: number; max: number; edges: number } {
  let sum = 0, max = -Infinity, edges = 0;
  for (const v of e.data) {
    sum += v;
    max = Math.max(max, v);
    if (v >= 0.5) edges++;
  }
  return { mean: sum / e.data.length, max, edges };
}

const sized = (e: EdgeMap, image: FloatImage) => (e.width === image.width && e.height === image.height ? '' : ` (the map is ${e.width} x ${e.height}, not the image's size)`);
