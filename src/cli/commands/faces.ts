import type { Argv } from 'yargs';
import { drawDetections } from '../../detect/draw.js';
import { loadMtcnnWith, onnxForward } from '../../detect/faces.js';
import { type Face, facesInImage } from '../../detect/mtcnn.js';
import { MTCNN_FILES, faceDetection, faceLine, parseThresholds } from '../../detect/options.js';
import { IMAGE_EXTENSIONS } from '../../image/load.js';
import { Net } from '../../runtime/net.js';
import { CremaError } from '../../util/errors.js';
import { example } from '../examples.js';
import { backendArg, threadsArg } from '../shared.js';
import { collectImages } from './classify.js';
import { eachImage } from '../image-loop.js';

interface FacesArgs {
  dir: string;
  images: string[];
  minSize: number;
  thresholds: string;
  factor: number;
  json: boolean;
  output?: string;
  threads?: number;
  backend: 'native' | 'onnx';
}

const COLOUR = { channels: 3, height: 1, width: 1 } as const;

export const facesCommand = {
  builder: (y: Argv) =>
    backendArg(threadsArg(y))
      .positional('dir', { type: 'string', demandOption: true, describe: `MTCNN's model directory: ${Object.values(MTCNN_FILES).slice(0, 3).join(', ')} .prototxt and .caffemodel (its demo's model/), and ${MTCNN_FILES.lnet} for MTCNNv2` })
      .positional('images', { type: 'string', array: true, describe: 'image files (.jpg .jpeg .png .webp) or directories (walked)' })
      .option('min-size', { type: 'number', default: 20, describe: 'the smallest face looked for, in pixels (the demo\'s minsize)' })
      .option('thresholds', { type: 'string', default: '0.6,0.7,0.7', describe: 'P-Net\'s, R-Net\'s and O-Net\'s score thresholds (the demo\'s)' })
      .option('factor', { type: 'number', default: 0.709, describe: 'the image pyramid\'s scale step (the demo\'s)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object when done: {"images": [{"image", "width", "height", "faces": [{"score", "xmin", "ymin", "xmax", "ymax", "landmarks": [[x, y] x 5]}]}], "skipped": [{"image", "error"}]}' })
      .option('output', { alias: 'o', type: 'string', describe: 'write each image with its faces\' boxes and landmarks drawn as DIR/<name>.png' })
      .example(example('$0 faces models/mtcnn models/mtcnn/examples/handshake.jpg'), 'MTCNN (its nets ship with crema): two faces and their landmarks')
      .epilog('As MTCNN\'s MATLAB demo (detect_face.m; MTCNNv2\'s when det4 is in DIR, its LNet moving the landmarks): P-Net over an image pyramid, R-Net and O-Net on the boxes, the landmarks averaged with O-Net\'s on the mirrored crops; every resize Piotr Dollár\'s imResample, as there. Boxes are in the image\'s pixels counted from 0 (the demo\'s less 1); landmarks are left eye, right eye, nose, left and right mouth corner. Images that cannot be read are reported on stderr and skipped; the exit code is then 1 (2 if none could be read).'),
  handler: async (args: FacesArgs) => {
    const options = { minSize: args.minSize, factor: args.factor, thresholds: parseThresholds(args.thresholds) };
    const files = collectImages(args.images);
    if (files.length === 0) throw new CremaError(`${args.images.join(', ')}: no image files in it (crema reads ${IMAGE_EXTENSIONS.join(' ')})`);
    const native = args.backend === 'native';
    const nets = await loadMtcnnWith(args.dir, (f) => (native ? Net.load(f.prototxt, f.weights, { threads: args.threads }) : Net.loadUnprepared(f.prototxt, f.weights, { threads: 1 })));
    const onnx = native ? undefined : await onnxForward(nets, args.threads);
    await eachImage(
      {
        label: 'faces', files, geo: COLOUR, json: args.json, output: args.output, key: 'faces',
        found: (image) => facesInImage(nets, image, options, onnx?.forward),
        text: describe,
        draw: (image, faces) => drawDetections(image, faces.map(faceDetection)),
      },
      async () => onnx?.release(),
    );
  },
};

function describe(file: string, image: { width: number; height: number }, faces: Face[]): string {
  const lines = [`---------- Faces in ${file} (${image.width} x ${image.height}) ----------`, ...faces.map(faceLine)];
  if (faces.length === 0) lines.push('(none)');
  return lines.join('\n');
}
