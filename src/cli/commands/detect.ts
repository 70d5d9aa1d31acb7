import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { type Detection, type DetectOptions, checkDetectorPrototxt, detectImage, detectOnnx, detectionOutputs, parseLabels } from '../../detect/detect.js';
import { frcnnTest, isFrcnn } from '../../detect/frcnn.js';
import { isSsh } from '../../detect/ssh.js';
import { detectionLine } from '../../detect/options.js';
import { drawDetections } from '../../detect/draw.js';
import { IMAGE_EXTENSIONS } from '../../image/load.js';
import { geometryOf } from '../../image/preprocess.js';
import { paramsOf } from '../../caffe/schema.js';
import { readNetPrototxt } from '../../caffe/load.js';
import { DETECTION_TYPES } from '../../layers/detection/types.js';
import { yoloClasses } from '../../layers/yolo_detection_output.js';
import { Net } from '../../runtime/net.js';
import { ostreamFloat } from '../../util/cfloat.js';
import { CremaError } from '../../util/errors.js';
import { readFileBytes } from '../../util/files.js';
import { eachImage } from '../image-loop.js';
import { type ImageArgs, imageArgs, preprocessOptionsFrom } from '../preprocess-options.js';
import { backendArg, loadNetFor, netArgs, type NetArgs, printNotes, threadsArg } from '../shared.js';
import { collectImages } from './classify.js';

interface DetectArgs extends NetArgs, ImageArgs {
  weights: string;
  images: string[];
  labels?: string;
  threshold?: number;
  quadNms?: number;
  scale?: number;
  maxSize?: number;
  pyramid?: string | false;
  json: boolean;
  output?: string;
  backend: 'native' | 'onnx';
}

export const detectCommand = {
  builder: (y: Argv) =>
    backendArg(imageArgs(threadsArg(netArgs(y))))
      .positional('images', { type: 'string', array: true, describe: 'image files (.jpg .jpeg .png .webp) or directories (walked)' })
      .option('threshold', { type: 'number', describe: 'report detections scoring at least this (SSH: above it, as its test.py); default 0.5; for a makefile/frcnn net, its config\'s test_score_thresh' })
      .option('quad-nms', { type: 'number', describe: 'TextBoxes++: its demo\'s polygon NMS after the net, dropping a quadrilateral overlapping a better one by more than this (the demo: 0.2)' })
      .option('scale', { type: 'number', describe: 'Faster R-CNN: scale each image so its shorter side is this long (py-faster-rcnn\'s cfg.TEST.SCALES; default 600; SSH\'s pyramid: its base size, 800; SSH at one scale: 1200)' })
      .option('max-size', { type: 'number', describe: 'Faster R-CNN: the most the longer side may be scaled to (py-faster-rcnn\'s cfg.TEST.MAX_SIZE; default 1000; SSH\'s pyramid: at its base size, 1200; SSH at one scale: 1600)' })
      .option('pyramid', { type: 'string', describe: 'SSH: the sizes of its image pyramid, e.g. 500,800,1200,1600 (its demo.py\'s, the default); --no-pyramid runs its test.py at one scale (wider.yml)' })
      .option('labels', { type: 'string', describe: 'class names: one a line (line i = label i), or the SSD fork\'s labelmap .prototxt (default: labels.txt beside the net, if any)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON object when done: {"images": [{"image", "width", "height", "detections": [{"label", "name", "score", "xmin", "ymin", "xmax", "ymax", "quad" (TextBoxes++), "reason" (only when a number is not finite, hence null)}]}], "skipped": [{"image", "error"}]}' })
      .option('output', { alias: 'o', type: 'string', describe: 'write each image with its boxes and labels drawn as DIR/<name>.png' })
      .example('$0 detect res10_300x300_ssd.prototxt res10_300x300_ssd.caffemodel faces/ --mean 104,177,123 -o boxed/', 'OpenCV\'s face detector (its files: no SSD model ships with crema)')
      .example('$0 detect MobileNetSSD_deploy.prototxt MobileNetSSD_deploy.caffemodel street.jpg --mean 127.5,127.5,127.5 --input-scale 0.007843 --labels voc.txt --json', 'MobileNet-SSD, as one JSON object')
      .example('$0 detect faster_rcnn_test.pt VGG16_faster_rcnn_final.caffemodel street.jpg --labels voc.txt', 'py-faster-rcnn\'s test net (its Python proposal layer runs built in), as its tools/demo.py detects')
      .example('$0 detect test_agnostic.prototxt resnet50_rfcn_final.caffemodel street.jpg --threshold 0.8', 'py-R-FCN\'s class-agnostic test net, as its tools/demo_rfcn.py detects')
      .example('$0 detect test_ssh.prototxt SSH.caffemodel faces.jpg -o boxed/', 'SSH\'s face detector, as its demo.py detects (its image pyramid; --no-pyramid: its test.py at one scale)')
      .epilog('Images are prepared as pycaffe does (the flags of classify) and stretched to the input size; boxes are the net\'s normalized corners times the image size. A Faster R-CNN net (a Proposal layer, py-faster-rcnn\'s test.prototxt) runs as py-faster-rcnn\'s im_detect and tools/demo.py: the image scaled by --scale and --max-size, a mean per channel (--mean, default its PIXEL_MEANS), the boxes regressed per class and clipped to the image, NMS at 0.3 per class. SSH\'s face detector (mahyarnajibi/SSH\'s test_ssh.prototxt: blobs ssh_boxes, ssh_cls_prob) runs as its demo.py does (SSH/configs/wider_pyramid.yml): the image fitted to --scale 800 and --max-size 1200, then one forward at each --pyramid size s (500, 800, 1200, 1600) times s / the base size (--scale), each module\'s faces kept but M3\'s at the last size; with --no-pyramid as its SSH/test.py at one scale (wider.yml: --scale 1200, --max-size 1600); either way the faces scoring above the threshold, NMS at 0.3 over them all. An R-FCN net (py-R-FCN\'s test_agnostic.prototxt: bbox_pred R x 8) runs the same way, as its im_detect and tools/demo_rfcn.py: each ROI moved by the foreground deltas, that box for every class. A makefile/frcnn net (a FrcnnProposal layer) runs as that fork\'s test_frcnn and demo_frcnn_api (its predict_original) with the settings of --frcnn-config (its test_scales, test_max_size, pixel_means, im_size_align, bbox_normalize_*, test_nms, test_soft_nms, test_bbox_vote, test_score_thresh; its default_config.json\'s where absent): a forward per test scale, INTER_AREA when shrinking, NMS per class over all scales\' boxes; --scale, --max-size, --mean, --threshold replace their config keys. Images that cannot be read are reported on stderr and skipped; the exit code is then 1 (2 if none could be read).'),
  handler: async (args: DetectArgs) => {
    if (args.threshold !== undefined && !Number.isFinite(args.threshold)) throw new CremaError('--threshold: expected a number');
    const files = collectImages(args.images);
    if (files.length === 0) throw new CremaError(`${args.images.join(', ')}: no image files in it (crema reads ${IMAGE_EXTENSIONS.join(' ')})`);
    refuseEarly(args.net);
    // Planned from the load (Net.load writes every blob's pages once), then widened to the blobs detect reads.
    const net = await loadNetFor(args, args.backend === 'native', undefined, undefined, []);
    printNotes(net, args);
    const geo = geometryOf(net.shapes.get(net.inputs[0]) ?? [], net.inputs[0]);
    const options = { ...preprocessOptionsFrom(args, geo), threshold: args.threshold, labels: labelsOf(args, net), quadNms: args.quadNms, scale: args.scale, maxSize: args.maxSize, pyramid: pyramidOf(args.pyramid) };
    const read = detectionOutputs(net, options); // refuses a net without a detection or Proposal layer before any image is read
    if (args.backend === 'native') net.keepBlobs = read; // the others' storage reused as the forward goes (the sized ones keep their own)
    const sessions = args.backend === 'onnx' ? new (await import('../../onnx/run.js')).OnnxSessions(net, { threads: args.threads, outputs: read, anySize: true }) : undefined;
    await eachImage(
      {
        label: 'detect', files, geo, json: args.json, output: args.output, key: 'detections',
        found: async (image) => (sessions ? detectOnnx(sessions, net, image, options) : detectImage(net, image, options)),
        text: (file, image, found) => describe(file, image, found, thresholdText(args, net, options)),
        draw: drawDetections,
      },
      async () => sessions?.release(),
    );
  },
};

/** A net detect cannot run, refused from its prototxt before its weights are read; a prototxt that does not read is the load's to report. */
function refuseEarly(prototxt: string): void {
  let def;
  try {
    def = readNetPrototxt(prototxt, [], { lenient: true, warn: () => {} });
  } catch {
    return;
  }
  checkDetectorPrototxt(def);
}

/** --pyramid 500,800,1200,1600 (SSH's sizes), --no-pyramid (false: one scale), or absent (SSH's default). */
function pyramidOf(text: string | false | undefined): number[] | false | undefined {
  if (text === undefined || text === false) return text;
  const sizes = text.split(',').map((v) => (v.trim() === '' ? NaN : Number(v)));
  if (sizes.length < 2 || !sizes.every((v) => Number.isFinite(v) && v >= 1 && v <= 16384))
    throw new CremaError(`--pyramid: two or more sizes in pixels from 1 to 16384 (SSH's demo.py: 500,800,1200,1600), or --no-pyramid for one scale; got '${text}'`);
  return sizes;
}

/** `--labels FILE`, else labels.txt beside the net; warns when their count is not DetectionOutput's num_classes. */
function labelsOf(args: DetectArgs, net: Net): string[] | undefined {
  const beside = path.join(path.dirname(args.net), 'labels.txt');
  const file = args.labels ?? (fs.existsSync(beside) ? beside : undefined);
  if (!file) return undefined;
  const labels = parseLabels(readFileBytes(file).toString('utf8'));
  const layer = net.layers.find((l) => DETECTION_TYPES.has(l.type));
  if (!layer) {
    // Faster R-CNN: cls_prob's classes, background (label 0) first
    const classes = net.shapes.get('cls_prob')?.[1];
    if (classes !== undefined && labels.length !== classes) console.error(`warning: ${file} has ${labels.length} labels, cls_prob has ${classes} classes (label 0, the background, is never reported)`);
    return labels;
  }
  if (layer.type !== 'DetectionOutput') {
    // The YOLO layers' labels are class + 1: their label files (the fork's labelmaps) name label 0 too.
    const classes = yoloClasses(layer.def);
    if (labels.length !== classes + 1) console.error(`warning: ${file} has ${labels.length} labels, ${layer.type} '${layer.name}' gives labels 1 to ${classes} (the first line names label 0, which it never gives)`);
    return labels;
  }
  const classes = paramsOf(layer.def, 'detection_output_param').num_classes as number;
  if (labels.length !== classes) console.error(`warning: ${file} has ${labels.length} labels, DetectionOutput '${layer.name}' has ${classes} classes`);
  return labels;
}

/**
 * The threshold detect applies, as the text form names it: --threshold, else a makefile/frcnn net's config's
 * test_score_thresh, else 0.5; SSH keeps only scores above it (its test.py's `>`), the others it and above.
 */
function thresholdText(args: DetectArgs, net: Net, options: DetectOptions): string {
  const value = args.threshold !== undefined ? String(args.threshold) : isFrcnn(net) ? ostreamFloat(frcnnTest(net, options).threshold) : '0.5';
  return isSsh(net) ? `above ${value}` : `${value} or more`;
}

/** The text form: a header per image, then one line per detection. */
function describe(file: string, image: { width: number; height: number }, found: Detection[], threshold: string): string {
  const lines = [`---------- Detections in ${file} (${image.width} x ${image.height}) ----------`];
  for (const d of found) lines.push(detectionLine(d));
  if (found.length === 0) lines.push(`(none scoring ${threshold})`);
  return lines.join('\n');
}

