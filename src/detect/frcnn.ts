import type { FloatImage } from '../image/image.js';
import { cvResizeArea, cvResizeLinear } from '../image/cv-resize.js';
import { atoi, cFloat, cFloats, readFrcnnConfig } from '../layers/frcnn_proposal.js';
import { boxIou, decodeBox, greedyNms, softNms } from '../layers/proposal.js';
import type { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { stdSort } from '../util/partial-sort.js';
import type { Detection, DetectionRun } from './detect.js';
import { type DetectOptions, lengthOption, thresholdOf } from './options.js';
import { fasterRcnnMeans, roiOf, scaledBlob } from './faster-rcnn.js';

// makefile/frcnn's two-stage detection, as its test tools run it (test_frcnn.cpp and demo_frcnn_api.cpp call
// API::Detector::predict, src/api/FRCNN/frcnn_api.cpp at 8d9b9eb, predict_original, lines 93-304), every setting from
// its JSON config (the one FrcnnProposal reads: LoadOptions.frcnnConfig, --frcnn-config):
// - per test_scales entry (lines 98-141): get_scale_factor (frcnn_bbox.cpp 98-108: in float, test_scales[i] over the
//   shorter side unless that times the longer side is over test_max_size, then test_max_size over the longer side,
//   both sizes cut to int); the image BGR minus pixel_means, then cv::resize by the factor, INTER_AREA when it is
//   under 1, else INTER_LINEAR; zero-padded to a multiple of im_size_align; im_info [rows, cols, factor];
// - per class 1..C-1 and row (lines 153-191): a score under test_score_thresh is skipped; the roi over the factor, the
//   deltas times bbox_normalize_stds plus bbox_normalize_means when bbox_normalize_targets, bbox_transform_inv
//   (frcnn_bbox_transform.cpp 9-23: exp of a float in double), clipped to the image; all scales' boxes together;
// - per class (lines 193-302): test_soft_nms 0: sorted by score (BBox::operator<), greedy NMS, IoU (get_iou,
//   pixel-inclusive, float) above test_nms dropped; else the soft-NMS loop (FrcnnProposal's own, proposal.ts
//   softNms) and the scores of at least test_score_thresh; test_bbox_vote: bbox_vote (frcnn_bbox.cpp 110-139).
// The detections class by class, each in its NMS order. Where the config lacks a key, examples/FRCNN/config/
// default_config.json's value (load_param would abort), im_size_align's, test_soft_nms's, test_bbox_vote's load_param
// defaults (1, 0, 0). Not done: iter_test other than -1 (predict_iterative re-runs the head from the roi_pool layer:
// refused), test_use_gpu_nms (a GPU build's; the CPU loop is the same NMS), test_frcnn's --max_per_image.

const f32 = Math.fround;

/** default_config.json's test keys, and load_param's defaults of im_size_align, test_soft_nms, test_bbox_vote. */
const TEST_DEFAULTS: Record<string, string> = {
  test_scales: '600', test_max_size: '1000', test_nms: '0.3', pixel_means: '102.9801, 115.9465, 122.7717',
  bbox_normalize_targets: '1', bbox_normalize_means: '0.0, 0.0, 0.0, 0.0', bbox_normalize_stds: '0.1, 0.1, 0.2, 0.2',
  test_score_thresh: '0.2', iter_test: '-1', im_size_align: '1', test_soft_nms: '0', test_bbox_vote: '0',
};

/** What predict_original reads of the config (options.scale, maxSize, mean and threshold in place of theirs). */
export interface FrcnnTest {
  scales: number[];
  maxSize: number;
  means: readonly number[];
  nms: number;
  threshold: number;
  soft: number;
  vote: boolean;
  align: number;
  boxMeans: number[];
  boxStds: number[];
  /** n_classes, when the config gives it: the fork checks cls_prob's channels against it. */
  classes?: number;
}

/** Whether the net's proposals are makefile/frcnn's FrcnnProposal (detect runs it as the fork's test tool). */
export function isFrcnn(net: Net): boolean {
  return net.layers.some((l) => l.type === 'FrcnnProposal');
}

/** The net's config's test settings (the default config's where it has none), with the options given in place of theirs. */
export function frcnnTest(net: Net, options: DetectOptions): FrcnnTest {
  const text = net.graph.frcnnConfig;
  const where = text !== undefined ? 'the FrcnnProposal config (--frcnn-config)' : 'the default FrcnnProposal config';
  const fail = (why: string) => new CremaError(`${where}: ${why}`);
  const keys = text !== undefined ? readFrcnnConfig(text, fail) : new Map<string, string>();
  const value = (key: string) => keys.get(key) ?? TEST_DEFAULTS[key];
  const four = (key: string) => {
    const v = cFloats(value(key)).map(f32);
    if (v.length < 4) throw fail(`"${key}" must have 4 numbers (dx, dy, dw, dh), got ${v.length}`);
    return v.slice(0, 4);
  };
  const iter = atoi(value('iter_test'));
  if (iter !== -1) throw fail(`iter_test ${iter}: crema runs the fork's predict_original (iter_test -1), not its predict_iterative`);
  const normalized = atoi(value('bbox_normalize_targets')) !== 0;
  const origin = (key: string) => `in place of makefile/frcnn's ${key}: ${value(key)}`;
  const scales = options.scale !== undefined ? [lengthOption('scale', options.scale, origin('test_scales'))] : cFloats(value('test_scales')).map(Math.trunc);
  if (scales.length === 0 || scales.some((s) => !(s >= 1))) throw fail(`"test_scales" must be lengths of at least 1 pixel, got "${value('test_scales')}"`);
  const maxSize = options.maxSize !== undefined ? lengthOption('maxSize', options.maxSize, origin('test_max_size')) : Math.trunc(cFloat(value('test_max_size')));
  if (!(maxSize >= 1)) throw fail(`"test_max_size" must be a length of at least 1 pixel, got "${value('test_max_size')}"`);
  const means = options.mean !== undefined ? fasterRcnnMeans(options) : cFloats(value('pixel_means')).map(f32);
  if (means.length < 3) throw fail(`"pixel_means" must have 3 numbers (B, G, R), got ${means.length}`);
  if (options.mean === undefined) fasterRcnnMeans(options); // refuses the preprocessing options that do not apply
  return {
    scales, maxSize, means,
    nms: f32(cFloat(value('test_nms'))), threshold: f32(thresholdOf(options, cFloat(value('test_score_thresh')))),
    soft: atoi(value('test_soft_nms')), vote: atoi(value('test_bbox_vote')) !== 0, align: atoi(value('im_size_align')),
    boxMeans: normalized ? four('bbox_normalize_means') : [0, 0, 0, 0], boxStds: normalized ? four('bbox_normalize_stds') : [1, 1, 1, 1],
    ...(keys.has('n_classes') ? { classes: atoi(keys.get('n_classes')!) } : {}),
  };
}

/** get_scale_factor (frcnn_bbox.cpp 98-108), in float. */
export function frcnnScaleFactor(width: number, height: number, short: number, maxLong: number): number {
  const lo = Math.min(width, height), hi = Math.max(width, height);
  const factor = f32(short / lo);
  return f32(factor * hi) > maxLong ? f32(maxLong / hi) : factor;
}

/** predict_original's image blob at `factor`: BGR minus the means, INTER_AREA under 1 (else INTER_LINEAR), zero-padded to a multiple of `align`. */
export function frcnnBlob(image: FloatImage, factor: number, means: readonly number[], align: number): Tensor {
  const blob = scaledBlob(image, factor, means, factor < 1 ? cvResizeArea : cvResizeLinear);
  const [, , h, w] = blob.dims;
  if (align <= 1) return blob;
  const H = Math.ceil(h / align) * align, W = Math.ceil(w / align) * align, data = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) data.set(blob.data.subarray((c * h + y) * w, (c * h + y + 1) * w), (c * H + y) * W);
  return new Tensor([1, 3, H, W], data);
}

/** One image's detections by the fork's predict_original: a forward per test scale, then its per-class NMS. */
export function frcnnJob(net: Net, image: FloatImage, options: DetectOptions, inputs: { data: string; imInfo: string }, outputs: string[]): DetectionRun {
  const t = frcnnTest(net, options);
  const factors = t.scales.map((s) => frcnnScaleFactor(image.width, image.height, s, t.maxSize));
  const passes = factors.map((factor) => {
    const data = frcnnBlob(image, factor, t.means, t.align);
    return { [inputs.data]: data, [inputs.imInfo]: new Tensor(net.shapes.get(inputs.imInfo)!, Float32Array.of(data.dims[2], data.dims[3], factor)) };
  });
  const found: DetectionRun['found'] = (got) =>
    frcnnDetections(got.map((get, i) => ({ rois: get(outputs[0]), clsProb: get(outputs[1]), bboxPred: get(outputs[2]), factor: factors[i] })), image.width, image.height, t, options.labels);
  return { passes, outputs, found };
}

/** One forward's rois, cls_prob, bbox_pred and its scale factor. */
export interface FrcnnPass {
  rois: Tensor;
  clsProb: Tensor;
  bboxPred: Tensor;
  factor: number;
}

/** predict_original's boxes of every pass (lines 153-191), then each class's NMS (193-302): see the top of this file. */
export function frcnnDetections(passes: FrcnnPass[], width: number, height: number, t: FrcnnTest, labels?: readonly string[]): Detection[] {
  const C = passes[0].clsProb.dims[1] ?? 0;
  if (t.classes !== undefined && t.classes !== C) throw new CremaError(`the FrcnnProposal config's n_classes is ${t.classes}, but cls_prob has ${C} classes (the fork checks them equal)`);
  const out: Detection[] = [];
  for (let c = 1; c < C; c++) {
    const { boxes, scores } = classBoxes(passes, c, width, height, t);
    for (const d of classNms(boxes, scores, t)) out.push({ label: c, name: labels?.[c] ?? null, score: d.score, xmin: d.box[0], ymin: d.box[1], xmax: d.box[2], ymax: d.box[3] });
  }
  return out;
}

/** Class c's boxes of every pass whose score is at least the threshold (rows of x1, y1, x2, y2), and their scores. */
function classBoxes(passes: FrcnnPass[], c: number, width: number, height: number, t: FrcnnTest): { boxes: Float32Array; scores: Float32Array } {
  const boxes: number[] = [], scores: number[] = [];
  for (const { rois, clsProb, bboxPred, factor } of passes) {
    const R = bboxPred.dims[0], C = clsProb.dims[1];
    if (clsProb.data.length !== R * C || rois.data.length !== R * 5 || bboxPred.data.length !== R * 4 * C)
      throw new CremaError(`makefile/frcnn: rois ${rois.dims.join(' x ')}, cls_prob ${clsProb.dims.join(' x ')} and bbox_pred ${bboxPred.dims.join(' x ')} do not go together (R x 5, R x C, R x 4C: the fork reads 4 deltas per class)`);
    const r = rois.data, d = bboxPred.data, s = f32(factor);
    for (let i = 0; i < R; i++) {
      const score = clsProb.data[i * C + c];
      if (score < t.threshold) continue;
      const delta = [0, 1, 2, 3].map((k) => f32(f32(d[(i * C + c) * 4 + k] * t.boxStds[k]) + t.boxMeans[k]));
      const [x1, y1, x2, y2] = roiOf(r, i, s);
      boxes.push(...decodeBox(x1, y1, x2, y2, delta[0], delta[1], delta[2], delta[3], width, height, true));
      scores.push(score);
    }
  }
  return { boxes: Float32Array.from(boxes), scores: Float32Array.from(scores) };
}

/**
 * One class's NMS as predict_original does it: sorted by score (libstdc++'s std::sort replayed: which of equal
 * scores comes first decides which survives; the padding of im_size_align gives many ROIs equal scores) and greedy NMS at test_nms, or the soft-NMS loop (in the boxes' order) and the scores of at least the
 * threshold; then bbox_vote when test_bbox_vote.
 */
function classNms(boxes: Float32Array, scores: Float32Array, t: FrcnnTest): { box: number[]; score: number }[] {
  const n = scores.length, rows = Array.from({ length: n }, (_, i) => i);
  let kept: { row: number; score: number }[];
  if (t.soft === 0) {
    stdSort(rows, (a, b) => scores[a] > scores[b]); // BBox::operator< (one class: its ids equal)
    kept = greedyNms(boxes, rows, t.nms).map((row) => ({ row, score: scores[row] }));
  }
  else {
    const soft = softNms({ kind: t.soft, thresh: t.nms }, boxes, scores, rows, Infinity);
    kept = soft.rows.map((row, i) => ({ row, score: soft.scores[i] })).filter((k) => k.score >= t.threshold);
  }
  return kept.map(({ row, score }) => ({ box: t.vote ? voted(boxes, scores, row) : Array.from(boxes.subarray(4 * row, 4 * row + 4)), score }));
}

/** bbox_vote's box for kept row k (frcnn_bbox.cpp 110-139, iou_thresh 0.5, add_val 1.5): the boxes overlapping it by 0.5 or more, weighted by score + 1.5, in float. */
function voted(boxes: Float32Array, scores: Float32Array, k: number): number[] {
  const acc = [0, 0, 0, 0];
  let total = f32(1e-8);
  for (let j = 0; j < scores.length; j++) {
    if (boxIou(boxes, k, j) < 0.5) continue;
    const w = f32(scores[j] + 1.5);
    for (let q = 0; q < 4; q++) acc[q] = f32(acc[q] + f32(w * boxes[4 * j + q]));
    total = f32(total + w);
  }
  return acc.map((v) => f32(v / total));
}
