// Detection around a forward pass, whatever runs it (crema's engine, ONNX Runtime in Node or in the browser's engine
// worker): the image prepared for the net, then its boxes read from the blobs. Platform-neutral: the Node library's
// detect (node.ts, which reads image files) and the browser's engine worker both call it.
import type { FloatImage } from '../image/image.js';
import { geometryOf, preprocess, preprocessPart } from '../image/preprocess.js';
import type { OnnxSessions } from '../onnx/run.js';
import type { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { DETECTION_TYPES } from '../layers/detection/types.js';
import { quadNms } from './quad-nms.js';
import { frcnnJob, isFrcnn } from './frcnn.js';
import { FASTER_RCNN_DEFAULTS, fasterRcnnBlobs, fasterRcnnDetections, fasterRcnnMeans, fasterRcnnScale, hasProposal, proposalInputs, scaledBlob } from './faster-rcnn.js';
import { fpnBlobs, fpnJob, isFpn } from './fpn.js';
import type { LayerParameter, NetParameter } from '../caffe/types.js';
import { layerTypeOf } from '../layers/registry.js';
import { SSH_BLOBS, SSH_DEFAULTS, SSH_PYRAMID, isSsh, sshDetections, sshModuleBlobs, sshPyramidRows, sshPyramidScales } from './ssh.js';
import { type Detection, type DetectOptions, type DetectorKind, checkDetectOptions, explainNonFinite, lengthOption, thresholdOf } from './options.js';

export { type Detection, type DetectOptions, type DetectorKind, checkDetectOptions, parseLabels } from './options.js';

/** The blob the net's (first) detection layer (DETECTION_TYPES) writes; a net without one is refused. */
export function detectionBlob(net: Net): string {
  const layer = net.layers.find((l) => DETECTION_TYPES.has(l.type));
  if (!layer) throw noDetectionLayer(net);
  return layer.tops[0];
}

function noDetectionLayer(net: { name?: string }): CremaError {
  return new CremaError(`net '${net.name || 'net'}' has no detection layer (DetectionOutput, YoloDetectionOutput, Yolov3DetectionOutput) nor a Proposal layer (Faster R-CNN, unsky/FPN): detect runs SSD- and YOLO-style nets, Faster R-CNN and FPN (classify runs classifiers)`);
}

/**
 * The CLI's refusal from the prototxt, before any weights are read (a ResNet-50 FPN's 1.2 GB take 17 s): a net none
 * of whose layers is a detection layer or a proposal layer (py-faster-rcnn's, SSH's, FPN's). Silent when a layer's
 * type is not known before loading (a plugin's): the loaded net's detectionKind decides then.
 */
export function checkDetectorPrototxt(def: NetParameter): void {
  let layers: { def: LayerParameter; type: string }[];
  try {
    layers = (def.layer ?? []).map((l) => ({ def: l, type: layerTypeOf(l).type }));
  } catch {
    return;
  }
  // detectorKind's tests before its `undefined`, on the layers alone (they read only their defs and types)
  const net = { layers } as unknown as Net;
  if (!(layers.some((l) => DETECTION_TYPES.has(l.type)) || isFpn(net) || hasProposal(net))) throw noDetectionLayer(def);
}

/** The net's DetectorKind; a net that is none, or lacks the blobs its kind reads, is refused. */
export function detectionKind(net: Net): DetectorKind {
  const kind = detectorKind(net);
  if (kind === undefined) throw noDetectionLayer(net);
  if (kind !== 'output') detectionOutputs(net, { pyramid: false }); // refuses a net without im_detect's (or SSH's test.py's) blobs
  return kind;
}

/**
 * The blobs detect reads after the forward: the detection layer's top, im_detect's, or SSH's: ssh_boxes and
 * ssh_cls_prob at one scale, each module's proposal tops in the pyramid (`options.pyramid`, SSH's default).
 */
export function detectionOutputs(net: Net, options: DetectOptions = {}): string[] {
  const kind = detectorKind(net);
  if (kind === 'fpn') return fpnBlobs(net).outputs;
  if (kind === 'faster-rcnn' || kind === 'frcnn') {
    const blobs = fasterRcnnBlobs(net);
    return [blobs.rois, blobs.clsProb, blobs.bboxPred];
  }
  if (kind !== 'ssh') return [detectionBlob(net)];
  proposalInputs(net); // refuses an SSH net without its image and im_info inputs
  return pyramidSizes(options) ? sshModuleBlobs(net) : [SSH_BLOBS.boxes, SSH_BLOBS.probs];
}

/** detectionKind's answer without its refusals: undefined for a net that is no detector (the page classifies those). */
export function detectorKind(net: Net): DetectorKind | undefined {
  if (net.layers.some((l) => DETECTION_TYPES.has(l.type))) return 'output';
  if (isFpn(net)) return 'fpn';
  if (!hasProposal(net)) return undefined;
  return isFrcnn(net) ? 'frcnn' : isSsh(net) ? 'ssh' : 'faster-rcnn';
}

/** The sizes of SSH's pyramid options.pyramid asks for (SSH_PYRAMID's by default), or undefined: one scale. */
function pyramidSizes(options: DetectOptions): readonly number[] | undefined {
  const { pyramid } = options;
  return pyramid === false ? undefined : Array.isArray(pyramid) ? pyramid : SSH_PYRAMID.sizes;
}

/** options.pyramid is SSH's (its demo.py's image pyramid): refused for any other net. */
function noPyramid(options: DetectOptions, kind: string): undefined {
  if (options.pyramid !== undefined) throw new CremaError(`pyramid: SSH's only (its demo.py's image pyramid); this net is ${kind}`);
  return undefined;
}

/**
 * The rows of a DetectionOutput blob ([1, 1, N, 7]: image, label, score, xmin, ymin, xmax, ymax normalized;
 * TextBoxes++'s [1, 1, N, 15] add a quadrilateral, its [1, 1, N, 12] a rotated box, kept as its box) for image
 * `index`, scored at least `threshold`, as boxes in a width x height image. The fork's "no detection" row (label
 * -1) gives none.
 */
export function detectionsOf(rows: Tensor, index: number, width: number, height: number, threshold: number, labels?: readonly string[]): Detection[] {
  const d = rows.data, out: Detection[] = [], step = rows.dims[3] ?? 7;
  for (let r = 0; r + step <= d.length; r += step) {
    if (d[r] !== index || d[r + 1] < 0 || !(d[r + 2] >= threshold)) continue;
    const label = d[r + 1];
    const found: Detection = {
      label, name: labels?.[label] ?? null, score: d[r + 2],
      xmin: d[r + 3] * width, ymin: d[r + 4] * height, xmax: d[r + 5] * width, ymax: d[r + 6] * height,
    };
    if (step === 15) found.quad = Array.from(d.subarray(r + 7, r + 15), (v, i) => v * (i % 2 ? height : width));
    out.push(found);
  }
  return out;
}

/**
 * One image's detections, whatever runs the forwards: the feeds of each (one; one per scale of SSH's pyramid), the
 * blobs to read after each, and the detections from them (`got[i]` reads forward i's).
 */
export interface DetectionRun {
  passes: Record<string, Tensor>[];
  outputs: string[];
  found: (got: readonly ((blob: string) => Tensor)[]) => Detection[];
}

/** The run of any kind of detector (detectionKind): a detection layer's (detectionJob), Faster R-CNN's or SSH's (fasterRcnnJob). */
export function detectionRun(net: Net, image: FloatImage, options: DetectOptions = {}): DetectionRun {
  const run = kindRun(net, image, options);
  return { ...run, found: (got) => explainNonFinite(run.found(got)) };
}

/** detectionRun's run for the net's kind, its detections as they come (not yet explained). */
function kindRun(net: Net, image: FloatImage, options: DetectOptions): DetectionRun {
  const kind = detectionKind(net);
  if (kind === 'fpn') return checkDetectOptions(options), fpnJob(net, image, options, thresholdOf(options));
  if (kind !== 'output') return fasterRcnnJob(net, image, options);
  const job = detectionJob(net, image, options);
  return { passes: [{ [job.input]: job.data }], outputs: [job.blob], found: ([get]) => imageDetections(get(job.blob), image, options) };
}

/**
 * Detections in an already decoded image (pycaffe's load_image form), prepared with `options` for the net, by
 * crema's engine here (a net forward; `backend: 'onnx'` is detectOnnx's, or the library's detect).
 */
export function detectImage(net: Net, image: FloatImage, options: DetectOptions = {}): Detection[] {
  checkDetectOptions(options);
  if (options.backend === 'onnx') throw new CremaError("detectImage runs crema's engine: for options.backend 'onnx' call detect");
  const run = detectionRun(net, image, options);
  const got = run.passes.map((feeds, i) => {
    net.forward(feeds);
    if (i === run.passes.length - 1) return (b: string) => net.blobs.get(b)!;
    // the next forward overwrites the blobs: this one's outputs kept
    const kept = new Map(run.outputs.map((b) => { const t = net.blobs.get(b)!; return [b, new Tensor(t.dims, t.data.slice())]; }));
    return (b: string) => kept.get(b)!;
  });
  return run.found(got);
}

/**
 * detectImage's work with the forward in ONNX Runtime (the CLI's and the library's --backend onnx, the browser's
 * engine worker): a Faster R-CNN net is converted again for each new image size.
 */
export async function detectOnnx(sessions: OnnxSessions, net: Net, image: FloatImage, options: DetectOptions = {}): Promise<Detection[]> {
  const run = detectionRun(net, image, options);
  const got: ((blob: string) => Tensor)[] = [];
  for (const feeds of run.passes) {
    const blobs = await sessions.run(feeds, run.outputs);
    got.push((b) => blobs.get(b)!);
  }
  return run.found(got);
}

/** The first image's detections in `rows` (the detection layer's top) as options ask: threshold, labels, quadNms. */
export function imageDetections(rows: Tensor, image: { width: number; height: number }, options: DetectOptions): Detection[] {
  const found = detectionsOf(rows, 0, image.width, image.height, options.threshold ?? 0.5, options.labels);
  if (options.quadNms === undefined) return found;
  quadRows(rows.dims[3]);
  return quadNms(found, options.quadNms, image.width, image.height);
}

/** quadNms needs TextBoxes++'s rows of 15 (a box, then a quadrilateral). */
function quadRows(width: number | undefined): void {
  if (width !== 15)
    throw new CremaError(`quadNms: the net's detections have no quadrilaterals (rows of ${width}; TextBoxes++'s DetectionOutput with use_polygon gives rows of 15)`);
}

/**
 * The options of a Faster R-CNN or SSH net's detect, checked: threshold, scale, maxSize (SSH's own defaults: its
 * pyramid's base size, or its one scale's), the means, SSH's pyramid sizes (undefined: one scale).
 */
function fasterRcnnOptions(options: DetectOptions, ssh: boolean): { threshold: number; scale: number; maxSize: number; means: readonly number[]; pyramid?: readonly number[] } {
  checkDetectOptions(options);
  const threshold = thresholdOf(options), pyramid = ssh ? pyramidSizes(options) : noPyramid(options, "py-faster-rcnn's");
  const sizes = pyramid ? SSH_PYRAMID : ssh ? SSH_DEFAULTS : FASTER_RCNN_DEFAULTS;
  const setting = { scale: pyramid ? 'PYRAMID_BASE_SIZE[0]' : 'SCALES', maxSize: pyramid ? 'PYRAMID_BASE_SIZE[1]' : 'MAX_SIZE' };
  const scale = options.scale ?? sizes.scale, maxSize = options.maxSize ?? sizes.maxSize;
  for (const [name, v] of [['scale', scale], ['maxSize', maxSize]] as const) lengthOption(name, v, `${ssh ? 'SSH' : 'py-faster-rcnn'}'s cfg.TEST.${setting[name]}: ${sizes[name]}`);
  return { threshold, scale, maxSize, means: fasterRcnnMeans(options), pyramid };
}

/**
 * One image's Faster R-CNN or SSH detections, whatever runs the forwards: their feeds (the image scaled, im_info;
 * SSH's pyramid: one forward per size), the blobs to read after each, and the detections from them.
 */
export function fasterRcnnJob(net: Net, image: FloatImage, options: DetectOptions): DetectionRun {
  if (detectorKind(net) === 'frcnn') {
    noPyramid(options, "makefile/frcnn's (its config's test_scales)");
    checkDetectOptions(options);
    return frcnnJob(net, image, options, proposalInputs(net), detectionOutputs(net, options));
  }
  const ssh = isSsh(net);
  const { threshold, scale, maxSize, means, pyramid } = fasterRcnnOptions(options, ssh);
  const inputs = proposalInputs(net), outputs = detectionOutputs(net, options);
  const scales = pyramid ? sshPyramidScales(image.height, image.width, pyramid, scale, maxSize) : [fasterRcnnScale(image.height, image.width, scale, maxSize)];
  const passes = scales.map((factor) => {
    const data = scaledBlob(image, factor, means);
    return { [inputs.data]: data, [inputs.imInfo]: new Tensor(net.shapes.get(inputs.imInfo)!, Float32Array.of(data.dims[2], data.dims[3], factor)) };
  });
  const found: DetectionRun['found'] = pyramid
    ? (got) => sshDetections(sshPyramidRows(got, scales), threshold, options.labels)
    : ssh
    ? ([get]) => sshDetections([{ boxes: get(SSH_BLOBS.boxes), probs: get(SSH_BLOBS.probs), scale: scales[0] }], threshold, options.labels)
    : ([get]) => fasterRcnnDetections(get(outputs[0]), get(outputs[1]), get(outputs[2]), scales[0], image.width, image.height, threshold, options.labels);
  return { passes, outputs, found };
}

/**
 * What one image's detections take, whatever runs the forward: the net's input and the image prepared for it, the
 * blob DetectionOutput writes, the threshold.
 */
export function detectionJob(net: Net, image: FloatImage, options: DetectOptions = {}): { input: string; data: Tensor; blob: string; threshold: number } {
  checkDetectOptions(options);
  const threshold = thresholdOf(options);
  const overlap = options.quadNms;
  noPyramid(options, 'an SSD- or YOLO-style one');
  const faster = (['scale', 'maxSize'] as const).filter((k) => options[k] !== undefined);
  if (faster.length) throw new CremaError(`${faster.join(', ')}: Faster R-CNN's only (py-faster-rcnn's image scaling); this net ends in a detection layer, its images are stretched to its input`);
  if (overlap !== undefined && !(typeof overlap === 'number' && overlap >= 0 && overlap <= 1))
    throw new CremaError(`quadNms: the overlap above which a quadrilateral is dropped, from 0 to 1 (TextBoxes++'s demo: 0.2), got ${String(overlap)}`);
  const input = net.inputs[0];
  if (!input) throw new CremaError(`net '${net.name || 'net'}' has no input to feed images to`);
  const blob = detectionBlob(net);
  if (overlap !== undefined) quadRows(net.shapes.get(blob)![3]);
  const geo = geometryOf(net.shapes.get(input)!, input);
  return { input, data: preprocess(image, geo, { ...preprocessPart(options), oversample: false }), blob, threshold };
}

