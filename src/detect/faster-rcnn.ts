import type { FloatImage } from '../image/image.js';
import { cvResizeLinear } from '../image/cv-resize.js';
import type { PreprocessOptions } from '../image/preprocess.js';
import { layerTypeOf } from '../layers/registry.js';
import type { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import type { Detection } from './detect.js';
import { decodeBox, pyCpuNms } from '../layers/proposal.js';
import { roundHalfEven } from '../util/round.js';

// py-faster-rcnn's two-stage detection, as its own code computes it (rbgirshick/py-faster-rcnn 781a917):
// lib/fast_rcnn/test.py's im_detect (_get_image_blob: the image as BGR 0..255 float32 minus cfg.PIXEL_MEANS,
// scaled by cv2.resize so that the shorter side is cfg.TEST.SCALES[0], capped so the longer one is at most
// cfg.TEST.MAX_SIZE; im_info [H, W, scale]; boxes = rois / scale, moved by bbox_pred (bbox_transform_inv) and
// clipped to the image), then tools/demo.py's per class: NMS at 0.3 (py_cpu_nms), scores of at least the threshold.
// Everything numpy does in float32 is done in float32 here (Math.fround at each of its operations).

const f32 = Math.fround;

/** py-faster-rcnn's cfg.TEST.SCALES[0], cfg.TEST.MAX_SIZE, cfg.PIXEL_MEANS (B, G, R) and demo.py's NMS_THRESH. */
export const FASTER_RCNN_DEFAULTS = { scale: 600, maxSize: 1000, means: [102.9801, 115.9465, 122.7717], nms: 0.3 };

/** The blobs py-faster-rcnn's im_detect feeds and reads. */
export interface FasterRcnnBlobs {
  data: string;
  imInfo: string;
  rois: string;
  clsProb: string;
  bboxPred: string;
}

/**
 * Whether the net has a Proposal layer (crema's built-in, or py-faster-rcnn's Python rpn.proposal_layer run as it) or
 * makefile/frcnn's FrcnnProposal (frcnn.ts).
 */
export function hasProposal(net: Net): boolean {
  return net.layers.some(isProposal);
}

const isProposal = (l: Net['layers'][number]) => ['Proposal', 'FrcnnProposal'].includes(layerTypeOf(l.def).type);

/**
 * The blobs of a Faster R-CNN net as im_detect names them: the image input ('data'), im_info (the Proposal's third
 * bottom, an input), rois (its first top), cls_prob and bbox_pred. A net lacking one is refused by name.
 */
export function fasterRcnnBlobs(net: Net): FasterRcnnBlobs {
  const { data, imInfo, rois } = proposalInputs(net);
  for (const blob of ['cls_prob', 'bbox_pred'])
    if (!net.shapes.has(blob))
      throw new CremaError(`net '${net.name || 'net'}' has a Proposal layer but no blob '${blob}': detect runs py-faster-rcnn's test nets (rois, cls_prob, bbox_pred as its im_detect reads them) and SSH's (ssh_boxes, ssh_cls_prob)`);
  return { data, imInfo, rois, clsProb: 'cls_prob', bboxPred: 'bbox_pred' };
}

/** The image input, im_info (the Proposal's third bottom: an input of 3 values) and the Proposal's first top; refused by name. */
export function proposalInputs(net: Net): { data: string; imInfo: string; rois: string } {
  const name = `net '${net.name || 'net'}'`;
  const proposal = net.layers.find(isProposal);
  if (!proposal) throw new CremaError(`${name} has no Proposal layer`);
  const imInfo = proposal.bottoms[2];
  if (!net.inputs.includes(imInfo))
    throw new CremaError(`${name}: ${layerTypeOf(proposal.def).type} '${proposal.name}' reads im_info from '${imInfo}', which is not an input of the net (py-faster-rcnn's im_detect feeds it)`);
  const infoShape = net.shapes.get(imInfo)!;
  if (infoShape.reduce((a, b) => a * b, 1) !== 3)
    throw new CremaError(`${name}: im_info '${imInfo}' is ${infoShape.join(' x ')}, not 3 values (height, width, scale)`);
  const data = net.inputs.includes('data') ? 'data' : net.inputs.find((i) => i !== imInfo);
  if (data === undefined) throw new CremaError(`${name} has no input to feed images to besides '${imInfo}'`);
  return { data, imInfo, rois: proposal.tops[0] };
}

/** _get_image_blob's scale: `scale` over the shorter side, unless the longer one would round to more than maxSize. */
export function fasterRcnnScale(height: number, width: number, scale: number, maxSize: number): number {
  const lo = Math.min(height, width), hi = Math.max(height, width);
  const factor = scale / lo;
  return roundHalfEven(factor * hi) > maxSize ? maxSize / hi : factor;
}

/**
 * _get_image_blob of an image (crema's [0, 1] RGB FloatImage; cv2.imread's BGR uint8 values are round(v * 255) of
 * an 8-bit file's, and a 16-bit PNG's high bytes: libpng's strip_16): BGR float32 minus the means, resized by cv2's
 * INTER_LINEAR (cv-resize.ts), as (1, 3, H, W).
 */
export function fasterRcnnBlob(image: FloatImage, scale: number, maxSize: number, means: readonly number[] = FASTER_RCNN_DEFAULTS.means): { data: Tensor; scale: number } {
  const factor = fasterRcnnScale(image.height, image.width, scale, maxSize);
  return { data: scaledBlob(image, factor, means), scale: factor };
}

/**
 * _get_image_blob's blob of the image at `factor` (fasterRcnnBlob's; SSH's pyramid gives its own factors;
 * makefile/frcnn's shrinks with INTER_AREA: `resize`).
 */
export function scaledBlob(image: FloatImage, factor: number, means: readonly number[], resize = cvResizeLinear): Tensor {
  if (image.channels !== 3) throw new CremaError(`Faster R-CNN takes colour images (3 channels), got ${image.channels}`);
  const n = image.height * image.width, bgr = new Float32Array(3 * n), src = image.data;
  const byte = image.bits === 16 ? (v: number) => Math.round(v * 65535) >> 8 : (v: number) => Math.round(v * 255);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < 3; c++) bgr[3 * i + c] = f32(byte(src[3 * i + 2 - c]) - means[c]);
  const resized = resize({ height: image.height, width: image.width, channels: 3, data: bgr }, factor, factor);
  const { height: H, width: W } = resized, plane = H * W, data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[c * plane + i] = resized.data[3 * i + c];
  return new Tensor([1, 3, H, W], data);
}

/**
 * im_detect's boxes and demo.py's per-class detections: rois (R, 5) / scale (float32, as numpy divides a float32 array
 * by a float64 scalar), bbox_transform_inv by bbox_pred in float32, clip_boxes to the width x height image; then for
 * each class 1..C-1 py_cpu_nms at `nms` and the rows scoring at least `threshold` (compared in float32). bbox_pred is
 * py-faster-rcnn's (R, 4C), 4 deltas per class, or R-FCN's class-agnostic (R, 8) (py-R-FCN's test_agnostic nets:
 * background and foreground deltas): its demo_rfcn.py / test_net with cfg.TEST.AGNOSTIC give every class the
 * foreground box, columns 4:8 (the background one, 0:4, is decoded by im_detect but read by none).
 */
export function fasterRcnnDetections(rois: Tensor, clsProb: Tensor, bboxPred: Tensor, scale: number, width: number, height: number, threshold: number, labels?: readonly string[], nms = FASTER_RCNN_DEFAULTS.nms): Detection[] {
  const R = rois.dims[0], C = clsProb.dims.length >= 2 ? clsProb.dims[1] : 0;
  const perClass = bboxPred.data.length === R * 4 * C, agnostic = !perClass && bboxPred.data.length === R * 8;
  if (clsProb.data.length !== R * C || rois.data.length !== R * 5 || !(perClass || agnostic))
    throw new CremaError(`Faster R-CNN: rois ${rois.dims.join(' x ')}, cls_prob ${clsProb.dims.join(' x ')} and bbox_pred ${bboxPred.dims.join(' x ')} do not go together (R x 5, R x C, R x 4C or R-FCN's class-agnostic R x 8)`);
  const boxes = deltaBoxes(rois, bboxPred, scale, width, height, C, agnostic);
  const p = clsProb.data, limit = f32(threshold), out: Detection[] = [];
  for (let c = 1; c < C; c++) {
    // demo.py's nms(dets) of every row, dets = (boxes, scores) of the class: py_cpu_nms orders them itself.
    const scores = Float32Array.from({ length: R }, (_, i) => p[i * C + c]);
    for (const k of pyCpuNms(boxes[c], scores, Int32Array.from({ length: R }, (_, i) => i), nms)) {
      const score = p[k * C + c], b = boxes[c].subarray(4 * k, 4 * k + 4);
      if (score >= limit) out.push({ label: c, name: labels?.[c] ?? null, score, xmin: b[0], ymin: b[1], xmax: b[2], ymax: b[3] });
    }
  }
  return out;
}

/** Row i's ROI in the image's pixels: rois[i, 1:5] / scale, in float32 as numpy divides it. */
export function roiOf(r: Float32Array, i: number, s: number): number[] {
  return [1, 2, 3, 4].map((k) => f32(r[5 * i + k] / s));
}

/**
 * Each class's boxes (R rows of x1, y1, x2, y2): the ROIs moved by the class's 4 deltas of bbox_pred. py-faster-rcnn's
 * (R, 4C): class c's at columns 4c:4c+4. R-FCN's class-agnostic (R, 8): the foreground's, columns 4:8, decoded once
 * and the same array for every class.
 */
function deltaBoxes(rois: Tensor, bboxPred: Tensor, scale: number, width: number, height: number, C: number, agnostic: boolean): Float32Array[] {
  const R = rois.dims[0], s = f32(scale), d = bboxPred.data, stride = agnostic ? 8 : 4 * C;
  const boxes = Array.from({ length: agnostic ? 2 : C }, () => new Float32Array(4 * R)); // [0]: the background's, unread
  for (let i = 0; i < R; i++) {
    const [x1, y1, x2, y2] = roiOf(rois.data, i, s);
    for (let c = 1; c < boxes.length; c++) {
      const at = i * stride + 4 * c;
      boxes[c].set(decodeBox(x1, y1, x2, y2, d[at], d[at + 1], d[at + 2], d[at + 3], width, height), 4 * i);
    }
  }
  return agnostic ? Array.from({ length: C }, () => boxes[1]) : boxes;
}

/**
 * What of the detect options py-faster-rcnn's preparation takes: a mean of one value per channel (B, G, R: its
 * PIXEL_MEANS); raw scale 255 and channel swap 2,1,0 are what it does. Anything else is refused: its blob is fixed.
 */
export function fasterRcnnMeans(options: PreprocessOptions & { quadNms?: number }): readonly number[] {
  const given: string[] = (['inputScale', 'resize', 'crop', 'oversample', 'quadNms'] as const).filter((k) => options[k] !== undefined && options[k] !== false);
  if (options.rawScale !== undefined && options.rawScale !== 255) given.unshift('rawScale');
  if (options.channelSwap !== undefined && options.channelSwap.join() !== '2,1,0') given.unshift('channelSwap');
  if (given.length)
    throw new CremaError(`Faster R-CNN: ${given.join(', ')} do not apply (py-faster-rcnn prepares images its own way: BGR 0..255 minus a mean per channel, scaled by the options scale and maxSize)`);
  const mean = options.mean;
  if (mean === undefined) return FASTER_RCNN_DEFAULTS.means;
  if (!('perChannel' in mean) || mean.perChannel.length !== 3)
    throw new CremaError('Faster R-CNN: the mean is one value per channel (B, G, R; py-faster-rcnn\'s PIXEL_MEANS are 102.9801, 115.9465, 122.7717), not an image');
  return Array.from(mean.perChannel);
}
