import type { FloatImage } from '../image/image.js';
import { layerTypeOf } from '../layers/registry.js';
import { pyCpuNms } from '../layers/proposal.js';
import type { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import type { Detection, DetectOptions } from './options.js';
import type { DetectionRun } from './detect.js';
import { FASTER_RCNN_DEFAULTS, fasterRcnnMeans, fasterRcnnScale, scaledBlob } from './faster-rcnn.js';

// unsky/FPN's detection (a096edb), as its own code computes it: lib/fast_rcnn/test.py's im_detect, which is not
// py-faster-rcnn's. _get_image_blob (lines 23-66): py-faster-rcnn's scaled blob (cfg.TEST.SCALES (768,), MAX_SIZE
// 1280, config.py 143, 146), then zero-padded below and right to a multiple of cfg.TRAIN.IMAGE_STRIDE 64 (config.py
// 42); im_info is the padded blob's height and width and the scale (244-246). After the forward (265-305): rois =
// net.blobs['rois'][:, 1:5], in the padded blob's pixels, less the rows whose sum is 0 (as_rois' zero rows); the rows'
// cls_prob and bbox_pred; the deltas times cfg.TRAIN.BBOX_NORMALIZE_STDS (0.1, 0.1, 0.2, 0.2) plus the MEANS (0)
// (BBOX_NORMALIZE_TARGETS_PRECOMPUTED: True in config.py 95 and in experiments/cfgs/FP_Net_end2end.yml), which
// makes them float64 (np.tile of a float list), so bbox_transform_inv runs in float64; clip_boxes to the padded blob
// (its shape, 303-305), then / im_scale (320). Then tools/demo.py's per class (88-98): the rows as float32, NMS 0.3
// (nms_wrapper: gpu_nms by default, the same IoU > thresh test as py_cpu_nms), scores of at least CONF_THRESH.

/** FPN's cfg.TEST.SCALES[0], MAX_SIZE, cfg.TRAIN.IMAGE_STRIDE and BBOX_NORMALIZE_STDS; PIXEL_MEANS and NMS are py-faster-rcnn's. */
export const FPN_DEFAULTS = { scale: 768, maxSize: 1280, stride: 64, stds: [0.1, 0.1, 0.2, 0.2] };

/** FPN's proposal layer (rpn.proposal_layer with 11 bottoms, fpn_proposal.ts), if the net has one. */
function fpnProposal(net: Net) {
  return net.layers.find((l) => layerTypeOf(l.def).type === 'rpn.proposal_layer.ProposalLayer');
}

/** Whether the net is unsky/FPN's (its multi-level proposal layer). */
export function isFpn(net: Net): boolean {
  return fpnProposal(net) !== undefined;
}

/** The blobs FPN's im_detect feeds and reads, by its names: data, im_info (its proposal's bottom 0), rois, cls_prob, bbox_pred. */
export function fpnBlobs(net: Net): { data: string; imInfo: string; outputs: string[] } {
  const name = `net '${net.name || 'net'}'`, proposal = fpnProposal(net);
  if (!proposal) throw new CremaError(`${name} has no FPN proposal layer`);
  const imInfo = proposal.bottoms[0];
  if (!net.inputs.includes(imInfo) || net.shapes.get(imInfo)!.reduce((a, b) => a * b, 1) !== 3)
    throw new CremaError(`${name}: FPN's proposal layer '${proposal.name}' reads im_info from '${imInfo}', which is not an input of 3 values (FPN's im_detect feeds it)`);
  const data = net.inputs.find((i) => i !== imInfo);
  if (data === undefined) throw new CremaError(`${name} has no input to feed images to besides '${imInfo}'`);
  for (const blob of ['rois', 'cls_prob', 'bbox_pred'])
    if (!net.shapes.has(blob))
      throw new CremaError(`${name} has FPN's proposal layer but no blob '${blob}': detect runs unsky/FPN's test nets (rois, cls_prob, bbox_pred as its im_detect reads them)`);
  return { data, imInfo, outputs: ['rois', 'cls_prob', 'bbox_pred'] };
}

/** `data` (1, 3, h, w) zero-padded below and right to (1, 3, H, W), multiples of `stride` (_get_image_blob's padded_im). */
export function padToStride(data: Tensor, stride: number): Tensor {
  const [, C, h, w] = data.dims, H = Math.ceil(h / stride) * stride, W = Math.ceil(w / stride) * stride;
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) for (let y = 0; y < h; y++) out.set(data.data.subarray((c * h + y) * w, (c * h + y + 1) * w), (c * H + y) * W);
  return new Tensor([1, C, H, W], out);
}

/** options.scale / maxSize (FPN's 768 / 1280 by default), checked. */
function sizeOptions(options: DetectOptions): { scale: number; maxSize: number } {
  if (options.pyramid !== undefined) throw new CremaError("pyramid: SSH's only (its demo.py's image pyramid); this net is unsky/FPN's");
  const scale = options.scale ?? FPN_DEFAULTS.scale, maxSize = options.maxSize ?? FPN_DEFAULTS.maxSize;
  for (const [name, v, cfg] of [['scale', scale, 'SCALES'], ['maxSize', maxSize, 'MAX_SIZE']] as const)
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 1 && v <= 16384))
      throw new CremaError(`${name}: a length in pixels from 1 to 16384 (FPN's cfg.TEST.${cfg}: ${FPN_DEFAULTS[name]}), got ${String(v)}`);
  return { scale, maxSize };
}

/** One image's FPN detections, whatever runs the forward: the padded blob and im_info, the blobs to read, the detections. */
export function fpnJob(net: Net, image: FloatImage, options: DetectOptions, threshold: number): DetectionRun {
  const { scale, maxSize } = sizeOptions(options), means = fasterRcnnMeans(options);
  const { data, imInfo, outputs } = fpnBlobs(net);
  const factor = fasterRcnnScale(image.height, image.width, scale, maxSize);
  const blob = padToStride(scaledBlob(image, factor, means), FPN_DEFAULTS.stride);
  const info = new Tensor(net.shapes.get(imInfo)!, Float32Array.of(blob.dims[2], blob.dims[3], factor));
  return {
    passes: [{ [data]: blob, [imInfo]: info }],
    outputs,
    found: ([get]) => fpnDetections(get('rois'), get('cls_prob'), get('bbox_pred'), factor, blob.dims[3], blob.dims[2], threshold, options.labels),
  };
}

/** im_detect's `index`: the rows of rois whose x1 + y1 + x2 + y2 (numpy's float32 sum) is not 0. */
function nonzeroRows(rois: Float32Array, R: number): number[] {
  const f32 = Math.fround, rows: number[] = [];
  for (let i = 0; i < R; i++) {
    const r = rois.subarray(5 * i + 1, 5 * i + 5);
    if (f32(f32(f32(r[0] + r[1]) + r[2]) + r[3]) !== 0) rows.push(i);
  }
  return rows;
}

/**
 * im_detect's boxes of the kept rows (float64, as numpy computes them once the stds are applied), class c's box of
 * row k at 4 (k · C + c): bbox_transform_inv, clip_boxes to the padded width x height blob, / scale.
 */
function fpnBoxes(rois: Float32Array, deltas: Float32Array, rows: number[], C: number, scale: number, width: number, height: number): Float64Array {
  const out = new Float64Array(rows.length * 4 * C), [sx, sy, sw, sh] = FPN_DEFAULTS.stds;
  const clip = (v: number, hi: number) => Math.max(Math.min(v, hi - 1), 0);
  rows.forEach((i, k) => {
    const [x1, y1, x2, y2] = rois.subarray(5 * i + 1, 5 * i + 5);
    const w = x2 - x1 + 1, h = y2 - y1 + 1, cx = x1 + 0.5 * w, cy = y1 + 0.5 * h;
    for (let c = 0; c < C; c++) {
      const d = 4 * (i * C + c), px = deltas[d] * sx * w + cx, py = deltas[d + 1] * sy * h + cy;
      const pw = Math.exp(deltas[d + 2] * sw) * w, ph = Math.exp(deltas[d + 3] * sh) * h;
      const box = [clip(px - 0.5 * pw, width), clip(py - 0.5 * ph, height), clip(px + 0.5 * pw, width), clip(py + 0.5 * ph, height)];
      out.set(box.map((v) => v / scale), 4 * (k * C + c));
    }
  });
  return out;
}

/**
 * FPN's im_detect and demo.py's per-class detections from its blobs: rois (R, 5) in the padded width x height blob's
 * pixels, cls_prob (R, C), bbox_pred (R, 4C); the boxes in the image's pixels.
 */
export function fpnDetections(rois: Tensor, clsProb: Tensor, bboxPred: Tensor, scale: number, width: number, height: number, threshold: number, labels?: readonly string[], nms = FASTER_RCNN_DEFAULTS.nms): Detection[] {
  const R = rois.dims[0], C = clsProb.dims.length >= 2 ? clsProb.dims[1] : 0;
  if (clsProb.data.length !== R * C || rois.data.length !== R * 5 || bboxPred.data.length !== R * 4 * C)
    throw new CremaError(`FPN: rois ${rois.dims.join(' x ')}, cls_prob ${clsProb.dims.join(' x ')} and bbox_pred ${bboxPred.dims.join(' x ')} do not go together (R x 5, R x C, R x 4C)`);
  const rows = nonzeroRows(rois.data, R), boxes = fpnBoxes(rois.data, bboxPred.data, rows, C, scale, width, height);
  const p = clsProb.data, limit = Math.fround(threshold), out: Detection[] = [], n = rows.length;
  for (let c = 1; c < C; c++) {
    // demo.py's dets: the class's boxes and scores as float32, every row to nms
    const dets = Float32Array.from({ length: 4 * n }, (_, j) => boxes[4 * (Math.floor(j / 4) * C + c) + (j % 4)]);
    const scores = Float32Array.from(rows, (i) => p[i * C + c]);
    for (const k of pyCpuNms(dets, scores, Int32Array.from({ length: n }, (_, i) => i), nms))
      if (scores[k] >= limit) {
        const b = dets.subarray(4 * k, 4 * k + 4);
        out.push({ label: c, name: labels?.[c] ?? null, score: scores[k], xmin: b[0], ymin: b[1], xmax: b[2], ymax: b[3] });
      }
  }
  return out;
}
