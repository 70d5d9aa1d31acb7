import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import type { LayerContext } from '../onnx/context.js';
import { type Shape } from '../tensor.js';
import { yoloToOnnx } from './detection/yolo_onnx.js';
import { expectCounts, LayerError, type LayerType, need, need4d } from './layer.js';

// eric612/MobileNet-YOLO's detection outputs (yolo_detection_output_layer.cpp, yolov3_detection_output_layer.cpp,
// their CPU paths): the heads decoded into boxes, the candidates above a threshold sorted by score and put through
// one greedy NMS over every class and every image of the batch, and the survivors written as the SSD fork's
// DetectionOutput rows [image, label, score, xmin, ymin, xmax, ymax] (label = class + 1; corners normalized, not
// clipped). Quirks kept: the image column is always 0 (a batch's images share one list and one NMS), a box is
// suppressed when its IoU with a better one is >= nms_threshold, and no survivor gives one [i, -1, ... -1] row
// per image. The fork sorts with std::sort, so equal scores come in an unspecified order; crema keeps the
// candidates' order among equals.

/** One candidate: center, size (normalized, as the fork's float fields), class, score. */
export interface YoloCandidate {
  x: number;
  y: number;
  w: number;
  h: number;
  label: number;
  score: number;
}

const f32 = Math.fround;
const sigmoid = (v: number) => f32(1 / (1 + Math.exp(-v)));

/** The fork's ApplyNms: greedy over the candidates sorted by score, IoU from centers and sizes in float. */
export function yoloNms(boxes: YoloCandidate[], threshold: number): YoloCandidate[] {
  const sorted = boxes.map((b, i) => ({ b, i })).sort((p, q) => q.b.score - p.b.score || p.i - q.i).map(({ b }) => b);
  const gone = new Uint8Array(sorted.length);
  const overlap = (c1: number, s1: number, c2: number, s2: number) => f32(Math.min(f32(c1 + s1 / 2), f32(c2 + s2 / 2)) - Math.max(f32(c1 - s1 / 2), f32(c2 - s2 / 2)));
  for (let i = 0; i < sorted.length; i++) {
    if (gone[i]) continue;
    const a = sorted[i];
    for (let j = i + 1; j < sorted.length; j++) {
      if (gone[j]) continue;
      const b = sorted[j];
      const w = overlap(a.x, a.w, b.x, b.w), h = overlap(a.y, a.h, b.y, b.h);
      const inter = w < 0 || h < 0 ? 0 : f32(w * h);
      const union = f32(f32(a.w * a.h) + f32(b.w * b.h) - inter);
      if (f32(inter / union) >= threshold) gone[j] = 1;
    }
  }
  return sorted.filter((_, i) => !gone[i]);
}

/** The top's rows for the kept candidates, or the fork's "no detection" row per image. */
export function yoloRows(kept: YoloCandidate[], num: number): Float32Array {
  if (kept.length === 0) return Float32Array.from({ length: num * 7 }, (_, k) => (k % 7 === 0 ? k / 7 : -1));
  const rows = new Float32Array(kept.length * 7);
  kept.forEach((b, i) => rows.set([0, b.label + 1, b.score, b.x - b.w / 2, b.y - b.h / 2, b.x + b.w / 2, b.y + b.h / 2], i * 7));
  return rows;
}

// ---- YOLOv2: YoloDetectionOutput ----

export interface Yolo2Settings {
  classes: number;
  boxes: number;
  confidence: number;
  nms: number;
  biases: number[];
}

export function readYolo2(def: LayerParameter): Yolo2Settings {
  const raw = def.yolo_detection_output_param as { num_classes?: number } | undefined;
  need(def, raw?.num_classes !== undefined, 'needs yolo_detection_output_param { num_classes } (the fork requires it)');
  const p = paramsOf<{ num_classes: number; num_box: number; confidence_threshold: number; nms_threshold: number; biases: number[] }>(def, 'yolo_detection_output_param');
  need(def, p.num_box > 0 && p.num_classes > 0, () => `num_box and num_classes must be positive, got ${p.num_box} and ${p.num_classes}`);
  need(def, p.biases.length >= 2 * p.num_box, () => `needs 2 biases (anchor width, height) per box: num_box ${p.num_box}, ${p.biases.length} biases`);
  return { classes: p.num_classes, boxes: p.num_box, confidence: p.confidence_threshold, nms: p.nms_threshold, biases: p.biases };
}

/** Checks a YOLOv2 head: (N, boxes * len, side, side), len >= 5 + classes. Returns len. */
export function yolo2Head(def: LayerParameter, s: Yolo2Settings, shape: Shape, num: number): number {
  const [n, channels, height, width] = shape;
  need(def, n === num, () => `its bottoms have batch sizes ${num} and ${n}`);
  need(def, height === width, () => `the fork reads a square grid (side = the width, ${width}); got ${height} x ${width}`);
  need(def, channels % s.boxes === 0 && channels / s.boxes >= 5 + s.classes,
    () => `channels ${channels} must be num_box (${s.boxes}) times at least 5 + num_classes (${5 + s.classes})`);
  return channels / s.boxes;
}

/** YOLOv2's candidates of one head: per cell and box, the best class of a softmax, scored sigmoid(obj) * its probability, kept when >= the threshold. */
function yolo2Candidates(s: Yolo2Settings, x: Float32Array, [num, channels, side]: Shape, out: YoloCandidate[]): void {
  const len = channels / s.boxes, plane = side * side, probs = new Float64Array(s.classes);
  for (let b = 0; b < num; b++)
    for (let j = 0; j < side; j++)
      for (let i = 0; i < side; i++)
        for (let n = 0; n < s.boxes; n++) {
          const at = (k: number) => x[((b * channels) + n * len + k) * plane + j * side + i];
          let large = at(5);
          for (let c = 1; c < s.classes; c++) large = Math.max(large, at(5 + c));
          let sum = 0;
          for (let c = 0; c < s.classes; c++) sum += probs[c] = f32(Math.exp(f32(at(5 + c) - large)));
          let best = 0, score = -1;
          for (let c = 0; c < s.classes; c++) {
            const p = f32(probs[c] / f32(sum));
            if (p > score) [best, score] = [c, p];
          }
          const confidence = f32(sigmoid(at(4)) * score);
          if (!(confidence >= s.confidence)) continue;
          out.push({
            x: f32((i + sigmoid(at(0))) / side), y: f32((j + sigmoid(at(1))) / side),
            w: f32(f32(Math.exp(at(2)) * s.biases[2 * n]) / side), h: f32(f32(Math.exp(at(3)) * s.biases[2 * n + 1]) / side),
            label: best, score: confidence,
          });
        }
}

/** YoloDetectionOutput (YOLOv2): one or two heads, each a square grid of num_box anchors (biases in grid cells). */
export const yoloDetectionOutputLayer: LayerType = {
  type: 'YoloDetectionOutput',
  create(def) {
    expectCounts(def, [1, 2], [1, 1]);
    const s = readYolo2(def);
    return {
      sizesTops: true, // as many rows as the forward finds: the layers after it are shaped again (Net.afterSizing)
      reshape(bottoms) {
        need4d(def, bottoms);
        for (const shape of bottoms) yolo2Head(def, s, shape, bottoms[0][0]);
        return [[1, 1, 1, 7]]; // the row count is known after the forward, as in the fork
      },
      forward(bottoms, [top]) {
        const candidates: YoloCandidate[] = [];
        for (const b of bottoms) yolo2Candidates(s, b.data, b.dims, candidates);
        top.data = yoloRows(yoloNms(candidates, s.nms), bottoms[0].dims[0]);
        top.dims = [1, 1, top.data.length / 7, 7];
      },
    };
  },
  onnx: (c: LayerContext) => yoloToOnnx(c, 2),
};

// ---- YOLOv3: Yolov3DetectionOutput ----

export interface Yolo3Settings {
  classes: number;
  boxes: number;
  confidence: number;
  nms: number;
  biases: number[];
  anchorsScale: number[];
  mask: number[];
  /** Anchors per head: mask.length / mask_group_num. */
  group: number;
}

export function readYolo3(def: LayerParameter, heads: number): Yolo3Settings {
  const raw = def.yolov3_detection_output_param as { num_classes?: number } | undefined;
  need(def, raw?.num_classes !== undefined, 'needs yolov3_detection_output_param { num_classes } (the fork requires it)');
  const p = paramsOf<{ num_classes: number; num_box: number; confidence_threshold: number; nms_threshold: number; biases: number[]; anchors_scale: number[]; mask_group_num: number; mask: number[]; gaussian_box: boolean }>(def, 'yolov3_detection_output_param');
  // Gaussian YOLOv3's output: the fork's CPU code never sets the objectness it reads (0: no box, ever) and writes
  // past its class scores; its GPU code counts the x uncertainty twice. Neither is a semantics to follow.
  need(def, !p.gaussian_box, "gaussian_box: the fork's CPU code never finds a box (the objectness it reads is never set) and its GPU code counts one uncertainty twice; crema runs neither");
  need(def, p.mask_group_num === heads, () => `mask_group_num (${p.mask_group_num}) must be its number of bottoms (${heads})`);
  need(def, p.num_box > 0 && p.num_classes > 0, () => `num_box and num_classes must be positive, got ${p.num_box} and ${p.num_classes}`);
  need(def, p.anchors_scale.length >= heads, () => `needs an anchors_scale per bottom: ${heads} bottoms, ${p.anchors_scale.length} given`);
  const group = Math.floor(p.mask.length / p.mask_group_num);
  need(def, (heads - 1) * group + p.num_box <= p.mask.length, () => `mask has ${p.mask.length} anchors: too few for ${heads} heads of num_box ${p.num_box} (mask_group_num ${p.mask_group_num})`);
  for (const m of p.mask) need(def, 2 * m + 1 < p.biases.length, () => `mask ${m} has no anchor in biases (${p.biases.length / 2} anchors)`);
  return { classes: p.num_classes, boxes: p.num_box, confidence: p.confidence_threshold, nms: p.nms_threshold, biases: p.biases, anchorsScale: p.anchors_scale, mask: p.mask, group };
}

/** Values per anchor: x, y, w, h, objectness and the classes. */
export const yolo3Len = (s: Yolo3Settings) => 5 + s.classes;

function yolo3Head(def: LayerParameter, s: Yolo3Settings, shape: Shape, num: number): void {
  need(def, shape[0] === num, () => `its bottoms have batch sizes ${num} and ${shape[0]}`);
  need(def, shape[1] >= s.boxes * yolo3Len(s), () => `channels ${shape[1]} are fewer than num_box (${s.boxes}) times ${yolo3Len(s)} (5 + num_classes)`);
}

/** YOLOv3's candidates of head t: per cell, anchor and class, sigmoid(class) * objectness, kept when > the threshold. */
function yolo3Candidates(s: Yolo3Settings, t: number, x: Float32Array, [num, channels, height, width]: Shape, out: YoloCandidate[]): void {
  const len = yolo3Len(s), plane = height * width;
  const netW = width * s.anchorsScale[t], netH = height * s.anchorsScale[t];
  for (let b = 0; b < num; b++)
    for (let pos = 0; pos < plane; pos++)
      for (let n = 0; n < s.boxes; n++) {
        const base = b * channels * plane + n * len * plane + pos, at = (k: number) => x[base + k * plane];
        const obj = sigmoid(at(4));
        const anchor = s.mask[n + t * s.group], col = pos % width, row = Math.floor(pos / width);
        for (let c = 0; c < s.classes; c++) {
          const score = f32(sigmoid(at(5 + c)) * obj);
          if (!(score > s.confidence)) continue;
          out.push({
            x: f32((col + sigmoid(at(0))) / width), y: f32((row + sigmoid(at(1))) / height),
            w: f32(f32(Math.exp(at(2)) * s.biases[2 * anchor]) / netW), h: f32(f32(Math.exp(at(3)) * s.biases[2 * anchor + 1]) / netH),
            label: c, score,
          });
        }
      }
}

/** Yolov3DetectionOutput (YOLOv3): a head per bottom, its anchors picked by mask, biases in input pixels. */
export const yolov3DetectionOutputLayer: LayerType = {
  type: 'Yolov3DetectionOutput',
  create(def) {
    expectCounts(def, [1, Infinity], [1, 1]);
    const s = readYolo3(def, def.bottom!.length);
    return {
      sizesTops: true, // as many rows as the forward finds: the layers after it are shaped again (Net.afterSizing)
      reshape(bottoms) {
        need4d(def, bottoms);
        for (const shape of bottoms) yolo3Head(def, s, shape, bottoms[0][0]);
        return [[1, 1, 1, 7]];
      },
      forward(bottoms, [top]) {
        const candidates: YoloCandidate[] = [];
        bottoms.forEach((b, t) => yolo3Candidates(s, t, b.data, b.dims, candidates));
        top.data = yoloRows(yoloNms(candidates, s.nms), bottoms[0].dims[0]);
        top.dims = [1, 1, top.data.length / 7, 7];
      },
    };
  },
  onnx: (c: LayerContext) => yoloToOnnx(c, 3),
};

/** For callers that report a YOLO layer's class count (labels files): classes, not counting the label 0 no class has. */
export function yoloClasses(def: LayerParameter): number {
  try {
    return def.type === 'YoloDetectionOutput' ? readYolo2(def).classes : readYolo3(def, def.bottom?.length ?? 0).classes;
  } catch (err) {
    if (err instanceof LayerError) return 0;
    throw err;
  }
}
