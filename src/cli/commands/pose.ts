import type { Argv } from 'yargs';
import { drawOver } from '../../detect/draw.js';
import { onnxForwardEach } from '../../detect/forward.js';
import { checkFaceModel, checkPartNet, modelOf, netInputSizes, posesInImage } from '../../detect/openpose.js';
import { posesSvg } from '../../detect/pose-draw.js';
import { type Person, POSE_MODELS, type PoseModelName, checkPoseOptions, parseResolution, parseSquareResolution, personLines, poseModel } from '../../detect/pose-models.js';
import { IMAGE_EXTENSIONS } from '../../image/load.js';
import { ostreamFloat } from '../../util/cfloat.js';
import { CremaError } from '../../util/errors.js';
import { eachImage } from '../image-loop.js';
import type { Net } from '../../runtime/net.js';
import { backendArg, loadNetFor, netArgs, type NetArgs, printNotes, threadsArg } from '../shared.js';
import { collectImages } from './classify.js';

interface PoseArgs extends NetArgs {
  weights: string;
  images: string[];
  netResolution: string;
  scaleNumber: number;
  scaleGap: number;
  model?: PoseModelName;
  json: boolean;
  output?: string;
  writeJson?: string;
  backend: 'native' | 'onnx';
  hand?: string[];
  face?: string[];
  handNetResolution: string;
  faceNetResolution: string;
  handScaleNumber: number;
  handScaleRange: number;
}

export const poseCommand = {
  builder: (y: Argv) =>
    backendArg(threadsArg(netArgs(y)))
      .positional('images', { type: 'string', array: true, describe: 'image files (.jpg .jpeg .png .webp) or directories (walked)' })
      .option('net-resolution', { type: 'string', default: '-1x368', describe: 'the net\'s input, WIDTHxHEIGHT, multiples of 16; one may be -1, from the image\'s aspect ratio (OpenPose\'s --net_resolution)' })
      .option('scale-number', { type: 'number', default: 1, describe: 'run the net at this many scales and average their maps (OpenPose\'s --scale_number; its best results: 4)' })
      .option('scale-gap', { type: 'number', default: 0.25, describe: 'scale i is 1 - i x this of the net resolution (OpenPose\'s --scale_gap)' })
      .option('model', { choices: POSE_MODELS, describe: 'the body model (default: from the net\'s output: BODY_25, COCO, MPI, BODY_25B or BODY_135; MPI_4 is MPI\'s 4-stage net)' })
      .option('hand', { type: 'string', nargs: 2, describe: 'also each person\'s hands, with OpenPose\'s hand net: HAND.prototxt HAND.caffemodel (its models/hand/pose_deploy.prototxt, pose_iter_102000.caffemodel; OpenPose\'s --hand)' })
      .option('face', { type: 'string', nargs: 2, describe: 'also each person\'s face, with OpenPose\'s face net: FACE.prototxt FACE.caffemodel (its models/face/pose_deploy.prototxt, pose_iter_116000.caffemodel; OpenPose\'s --face)' })
      .option('hand-net-resolution', { type: 'string', default: '368x368', describe: 'the hand net\'s input, SIDExSIDE, a multiple of 16 (OpenPose\'s --hand_net_resolution)' })
      .option('hand-scale-number', { type: 'number', default: 1, describe: 'run the hand net at this many scales of each hand\'s square and keep the best scoring (OpenPose\'s --hand_scale_number; its best results: 6)' })
      .option('hand-scale-range', { type: 'number', default: 0.4, describe: 'the smallest to the largest of those scales, centred on 1 (OpenPose\'s --hand_scale_range: 0.4 is 0.8 to 1.2)' })
      .option('face-net-resolution', { type: 'string', default: '368x368', describe: 'the face net\'s input (OpenPose\'s --face_net_resolution)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object when done: {"images": [{"image", "width", "height", "model", "parts": [names], "people": [{"score", "keypoints": [[x, y, score] a part], "face", "handLeft", "handRight" (with --face, --hand: 70 and 21 [x, y, score])}]}], "skipped": [{"image", "error"}]}' })
      .option('output', { alias: 'o', type: 'string', describe: 'write each image with its people\'s skeletons drawn (OpenPose\'s colours) as DIR/<name>.png' })
      .option('write-json', { type: 'string', describe: 'write each image\'s people as OpenPose\'s --write_json does: DIR/<name>_keypoints.json, {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [x0, y0, c0, x1, …], …}]}' })
      .example('$0 pose pose_deploy.prototxt pose_iter_584000.caffemodel people.jpg -o posed/', 'OpenPose\'s BODY_25 model (its files: no OpenPose model ships with crema)')
      .example('$0 pose pose_deploy_linevec.prototxt pose_iter_440000.caffemodel photos/ --json --net-resolution 656x368', 'the COCO model, as one JSON object')
      .example('$0 pose body_135/pose_deploy.prototxt body_135/pose_iter_XXXXXX.caffemodel people.jpg --net-resolution -1x480', 'OpenPose\'s BODY_135 (body, hands and face in one net: 135 keypoints a person)')
      .epilog('As OpenPose 1.7 computes it on the CPU with its default flags: the image scaled into the net\'s input (cubic when enlarging) and padded with black, x / 256 - 0.5; the net\'s heatmaps and part affinity fields resized to the input (cubic), the peaks above 0.05 (MPI: 0.6, its 4-stage net 0.3), the parts joined along the fields into people of 3 parts or more scoring 0.4 a part. BODY_25B and BODY_135 (openpose_train\'s experimental models, which OpenPose runs only with CUDA): the same maps and peaks, the parts joined by its CUDA connector\'s rules. Keypoints are [x, y, score] in the image\'s pixels, [0, 0, 0] for a part not found; people in OpenPose\'s order. With --hand / --face, each person\'s hands (21 keypoints each) and face (70) as OpenPose\'s --hand / --face find them: squares from the arms\' and head\'s keypoints, cropped into the nets\' input (368x368), each keypoint its map\'s maximum. Images that cannot be read, or too small for the net (a side of the net input under 16 pixels at a scale, or an image under 2 x 2), are reported on stderr and skipped; the exit code is then 1 (2 if none could be used).'),
  handler: async (args: PoseArgs) => {
    const netResolution = parseResolution(args.netResolution);
    const sides = { handNetResolution: parseSquareResolution(args.handNetResolution, '--hand-net-resolution'), faceNetResolution: parseSquareResolution(args.faceNetResolution, '--face-net-resolution') };
    const options = { netResolution, scaleNumber: args.scaleNumber, scaleGap: args.scaleGap, ...sides, handScaleNumber: args.handScaleNumber, handScaleRange: args.handScaleRange };
    checkPoseOptions(options);
    const files = collectImages(args.images);
    if (files.length === 0) throw new CremaError(`${args.images.join(', ')}: no image files in it (crema reads ${IMAGE_EXTENSIONS.join(' ')})`);
    // OpenPose reads the outputs: the other blobs' storage reused as the forward goes.
    const net = await loadNetFor(args, args.backend === 'native', undefined, undefined, []);
    printNotes(net, args);
    const model = poseModel(args.model ?? modelOf(net)); // refuses a net that is not OpenPose's before any image is read
    if (args.face) checkFaceModel(model);
    const hand = await partNet(args, 'hand'), face = await partNet(args, 'face');
    const nets = [net, hand, face].filter((n) => n !== undefined);
    const onnx = args.backend === 'onnx' ? await import('../../onnx/run.js') : undefined;
    const sessions = onnx && new Map(nets.map((n) => [n, new onnx.OnnxSessions(n, { threads: args.threads, anySize: true })]));
    const forward = sessions ? onnxForwardEach(sessions) : undefined;
    await eachImage(
      {
        label: 'pose', files, geo: { channels: 3, height: 1, width: 1 }, json: args.json, output: args.output, key: 'people',
        check: (image) => void netInputSizes(image.width, image.height, netResolution, args.scaleNumber, args.scaleGap),
        found: (image) => posesInImage(net, image, { ...options, model: model.name, hand, face }, forward),
        text: (file, image, people) => describe(file, image, model.parts, people),
        draw: (image, people) => drawOver(image, posesSvg(image.width, image.height, model, people)),
        jsonOf: (people) => ({ model: model.name, parts: model.parts, people }),
        also: args.writeJson === undefined ? undefined : { dir: args.writeJson, suffix: '_keypoints.json', content: (_, people) => openPoseJson(people) },
      },
      async () => {
        await Promise.all([...(sessions?.values() ?? [])].map((s) => s.release()));
      },
    );
  },
};

/** --hand / --face: the net, loaded as the body's (its threads, its backend), refused unless it is OpenPose's. */
async function partNet(args: PoseArgs, kind: 'hand' | 'face'): Promise<Net | undefined> {
  const files = args[kind];
  if (files === undefined) return undefined;
  if (files.length !== 2) throw new CremaError(`--${kind}: ${kind.toUpperCase()}.prototxt ${kind.toUpperCase()}.caffemodel, OpenPose's ${kind} net, got ${files.length} file(s)`);
  const net = await loadNetFor({ ...args, net: files[0], weights: files[1] }, args.backend === 'native', undefined, undefined, []);
  printNotes(net, args);
  checkPartNet(net, kind);
  return net;
}

function describe(file: string, image: { width: number; height: number }, parts: readonly string[], people: Person[]): string {
  const lines = [`---------- People in ${file} (${image.width} x ${image.height}) ----------`];
  people.forEach((p, i) => lines.push(...personLines(parts, p, i)));
  if (people.length === 0) lines.push('(none)');
  return lines.join('\n');
}

/**
 * OpenPose's --write_json file (PeopleJsonSaver, filestream/fileStream.cpp): version 1.3, a person's keypoints flat,
 * no tracking id (-1), the face's and hands' flat too (empty without --face, --hand), the 3-D arrays empty, on one
 * line (humanReadable false); each number as its std::ofstream writes a float (ostreamFloat: 1e-05, 1.23457e+06).
 */
export function openPoseJson(people: readonly Person[]): string {
  const empty = ['pose_keypoints_3d', 'face_keypoints_3d', 'hand_left_keypoints_3d', 'hand_right_keypoints_3d'];
  const flat = (kp?: [number, number, number][]) => `[${(kp ?? []).flat().map(ostreamFloat).join(',')}]`;
  const person = (p: Person) =>
    `{"person_id":[-1],"pose_keypoints_2d":${flat(p.keypoints)},"face_keypoints_2d":${flat(p.face)},"hand_left_keypoints_2d":${flat(p.handLeft)},"hand_right_keypoints_2d":${flat(p.handRight)},${empty.map((k) => `"${k}":[]`).join(',')}}`;
  return `{"version":1.3,"people":[${people.map(person).join(',')}]}`;
}
