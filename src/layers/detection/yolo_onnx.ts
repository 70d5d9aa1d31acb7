import { formatFloat32 } from '../../caffe/prototxt.js';
import { int, ints } from '../../onnx/builder.js';
import { type LayerContext, reduce, runtimeDims, runtimeGrid } from '../../onnx/context.js';
import { DataType } from '../../onnx/proto.js';
import { sizeOf } from '../../tensor.js';
import { readYolo2, readYolo3, yolo3Len } from '../yolo_detection_output.js';
import { withNoDetectionRows } from './onnx.js';

/** One head's candidates: boxes [M, 4] (center x, y, width, height), scores [M], labels [M] (class, as floats). */
interface Candidates {
  boxes: string;
  scores: string;
  labels: string;
}

/**
 * eric612/MobileNet-YOLO's YoloDetectionOutput (version 2) and Yolov3DetectionOutput (3) as ONNX: each head decoded
 * into candidates, those above the threshold kept (Compress), one NonMaxSuppression over all of them (center boxes,
 * a single class: the fork's NMS ignores classes and images), the rows [0, label + 1, score, corners] in NMS's
 * order, and the fork's "no detection" rows when none survive.
 */
export function yoloToOnnx(c: LayerContext, version: 2 | 3): void {
  const { def, bottomShapes } = c.layer, n = c.layer.name;
  const s = version === 2 ? readYolo2(def) : readYolo3(def, bottomShapes.length);
  const heads = bottomShapes.map((_, t) => (version === 2 ? yolo2Head(c, t) : yolo3Head(c, t)));
  const cat = (part: keyof Candidates) => (heads.length === 1 ? heads[0][part] : c.node('Concat', heads.map((h) => h[part]), [c.tmp(`all_${part}`)], { axis: int(0) }));
  const [boxes, scores, labels] = [cat('boxes'), cat('scores'), cat('labels')];
  const keep = c.node(version === 2 ? 'GreaterOrEqual' : 'Greater', [scores, c.b.scalar(s.confidence)], [c.tmp('above')]);
  const kept = (x: string, what: string) => c.node('Compress', [x, keep], [c.tmp(what)], { axis: int(0) });
  const [keptBoxes, keptScores, keptLabels] = [kept(boxes, 'kept_boxes'), kept(scores, 'kept_scores'), kept(labels, 'kept_labels')];
  const total = bottomShapes.reduce((sum, shape) => sum + sizeOf(shape) / shape[1] * s.boxes * (version === 2 ? 1 : s.classes), 0);
  c.note(`ONNX's NonMaxSuppression drops a box whose IoU with a better one is above ${formatFloat32(s.nms)}, the fork's at or above it; and may order equal scores otherwise (crema verify compares detections as sets)`);
  const selected = c.node('NonMaxSuppression', [
    c.node('Unsqueeze', [keptBoxes, c.b.int64s(`${n}/axis0`, [0])], [c.tmp('nms_boxes')]),
    c.node('Reshape', [keptScores, c.b.int64s(`${n}/nms_scores_shape`, [1, 1, -1])], [c.tmp('nms_scores')]),
    // Size-free: every kept candidate may survive, their count from the Shape.
    c.anySize ? c.node('Shape', [keptScores], [c.tmp('kept_count')]) : c.b.int64s(`${n}/max_out`, [total]),
    c.b.floats(`${n}/iou`, Float32Array.of(s.nms), [1]),
  ], [c.tmp('selected')], { center_point_box: int(1) });
  const index = c.node('Reshape', [c.node('Gather', [selected, c.b.int64s(`${n}/box_col`, [2])], [c.tmp('box_col')], { axis: int(1) }), c.b.int64s(`${n}/flat`, [-1])], [c.tmp('box_index')]);
  const pick = (x: string, what: string) => c.node('Gather', [x, index], [c.tmp(what)], { axis: int(0) });
  const column = (x: string, what: string) => c.node('Unsqueeze', [x, c.b.int64s(`${n}/axis1`, [1])], [c.tmp(what)]);
  const box = pick(keptBoxes, 'box');
  const label = column(pick(keptLabels, 'label_1'), 'label');
  const score = column(pick(keptScores, 'score_1'), 'score');
  const part = (i: number, what: string) => c.node('Slice', [box, c.b.int64s(`${n}/${what}_from`, [i]), c.b.int64s(`${n}/${what}_to`, [i + 2]), c.b.int64s(`${n}/axis1_`, [1])], [c.tmp(what)]);
  const center = part(0, 'center'), half = c.node('Div', [part(2, 'size'), c.b.scalar(2)], [c.tmp('half')]);
  const rows = c.node('Concat', [
    c.node('Mul', [label, c.b.scalar(0)], [c.tmp('image')]),
    c.node('Add', [label, c.b.scalar(1)], [c.tmp('label1')]),
    score,
    c.node('Sub', [center, half], [c.tmp('min')]),
    c.node('Add', [center, half], [c.tmp('max')]),
  ], [c.tmp('rows')], { axis: int(1) });
  c.dynamicShape(0, [2]);
  c.node('Reshape', [withNoDetectionRows(c, rows, bottomShapes[0][0]), c.b.int64s(`${n}/out_shape`, [1, 1, -1, 7])], [c.top(0)]);
}

/** Rows [from, to) of axis 2 of x. */
function rows(c: LayerContext, x: string, from: number, to: number, what: string): string {
  const n = c.layer.name;
  return c.node('Slice', [x, c.b.int64s(`${n}/${what}_from`, [from]), c.b.int64s(`${n}/${what}_to`, [to]), c.b.int64s(`${n}/axis2`, [2])], [c.tmp(what)]);
}

/** The cells' column and row numbers as [1, 1, 1, H * W] constants (size-free: from head t's Shape). */
function grid(c: LayerContext, height: number, width: number, t: number): [string, string] {
  if (c.anySize) {
    // Range over the width (the height) broadcast to (H, W) by Expand, flattened.
    const { shifts, rows: spread } = runtimeGrid(c, c.bottom(t));
    return [spread(shifts(3, [1, -1], `x${t}`), `grid_x${t}`, [1, 1, 1, -1]), spread(shifts(2, [-1, 1], `y${t}`), `grid_y${t}`, [1, 1, 1, -1])];
  }
  const col = new Float32Array(height * width), row = new Float32Array(height * width);
  for (let p = 0; p < col.length; p++) [col[p], row[p]] = [p % width, Math.floor(p / width)];
  return [c.b.floats(`${c.layer.name}/grid_x${t}`, col, [1, 1, 1, col.length]), c.b.floats(`${c.layer.name}/grid_y${t}`, row, [1, 1, 1, row.length])];
}

/** Head t's height and width as [1] floats: constants, or (size-free) from its Shape. Made when asked (the models' order). */
function sizes(c: LayerContext, t: number): { h: () => string; w: () => string } {
  const [, , height, width] = c.layer.bottomShapes[t];
  const dim = (axis: number, what: string) => () => c.node('Cast', [runtimeDims(c, c.bottom(t), axis, axis + 1)], [c.tmp(`${what}${t}`)], { to: int(DataType.FLOAT) });
  return c.anySize ? { h: dim(2, 'grid_h'), w: dim(3, 'grid_w') } : { h: () => c.b.scalar(height), w: () => c.b.scalar(width) };
}

/** The head reshaped to (N, A, len, H * W): the cells inferred when size-free. */
function headRows(c: LayerContext, x: string, t: number, boxes: number, len: number): string {
  const [num, , height, width] = c.layer.bottomShapes[t];
  return c.node('Reshape', [x, c.b.int64s(`${c.layer.name}/head${t}`, c.anySize ? [0, boxes, len, -1] : [num, boxes, len, height * width])], [c.tmp(`head${t}`)]);
}

/** Boxes [N, A, 1, HW] x 4 as [N * A * copies * HW, 4]: each box once per class when `copies` > 1 (YOLOv3's candidates are (box, class) pairs). */
function boxRows(c: LayerContext, parts: string[], shape: number[], copies: number, t: number): string {
  const n = c.layer.name, [num, anchors, , cells] = shape;
  const box = c.node('Transpose', [c.node('Concat', parts, [c.tmp(`box4_${t}`)], { axis: int(2) })], [c.tmp(`box_last_${t}`)], { perm: ints([0, 1, 3, 2]) });
  // Size-free, Expand's broadcast gives the rest of the shape.
  const perClass = c.anySize ? [1, 1, copies, 1, 1] : [num, anchors, copies, cells, 4];
  const each = copies === 1 ? box : c.node('Expand', [c.node('Unsqueeze', [box, c.b.int64s(`${n}/axis2_`, [2])], [c.tmp(`box5_${t}`)]), c.b.int64s(`${n}/per_class${t}`, perClass)], [c.tmp(`box_per_class_${t}`)]);
  return c.node('Reshape', [each, c.b.int64s(`${n}/box_rows`, [-1, 4])], [c.tmp(`boxes_${t}`)]);
}

const flat = (c: LayerContext, x: string, what: string) => c.node('Reshape', [x, c.b.int64s(`${c.layer.name}/flat_`, [-1])], [c.tmp(what)]);

/** A YOLOv2 head: per cell and anchor, the box, its best class of a softmax and sigmoid(obj) times that probability. */
function yolo2Head(c: LayerContext, t: number): Candidates {
  const s = readYolo2(c.layer.def), shape = c.layer.bottomShapes[t], [num, channels, height, width] = shape;
  const n = c.layer.name, len = channels / s.boxes, cells = height * width;
  const x = headRows(c, c.bottom(t), t, s.boxes, len);
  // The fork's side is the width (its grids are square); size-free, y and h by the height, as darknet's region layer.
  const { h, w } = sizes(c, t), side = { x: w, y: c.anySize ? h : w, w, h: c.anySize ? h : w };
  const sig = (k: number, what: string) => c.node('Sigmoid', [rows(c, x, k, k + 1, `${what}_raw${t}`)], [c.tmp(`${what}${t}`)]);
  const [gx, gy] = grid(c, height, width, t);
  const anchor = (k: number, what: string) => c.b.floats(`${n}/anchor_${what}`, Float32Array.from({ length: s.boxes }, (_, a) => s.biases[2 * a + k]), [1, s.boxes, 1, 1]);
  const size = (k: number, what: 'w' | 'h') => c.node('Div', [c.node('Mul', [c.node('Exp', [rows(c, x, 2 + k, 3 + k, `t${what}${t}`)], [c.tmp(`e${what}${t}`)]), anchor(k, what)], [c.tmp(`${what}_cells${t}`)]), side[what]()], [c.tmp(`${what}${t}`)]);
  const coord = (g: string, k: number, what: 'x' | 'y') => c.node('Div', [c.node('Add', [g, sig(k, `s${what}`)], [c.tmp(`${what}_cell${t}`)]), side[what]()], [c.tmp(`${what}${t}`)]);
  const parts = [coord(gx, 0, 'x'), coord(gy, 1, 'y'), size(0, 'w'), size(1, 'h')];
  const probs = c.node('Softmax', [rows(c, x, 5, 5 + s.classes, `logits${t}`)], [c.tmp(`probs${t}`)], { axis: int(2) });
  const best = reduce(c, 'ReduceMax', probs, [2], true, c.tmp(`best${t}`));
  const label = c.node('Cast', [c.node('ArgMax', [probs], [c.tmp(`class${t}`)], { axis: int(2), keepdims: int(1) })], [c.tmp(`label${t}`)], { to: int(1) });
  const score = c.node('Mul', [sig(4, 'obj'), best], [c.tmp(`score${t}`)]);
  return { boxes: boxRows(c, parts, [num, s.boxes, 1, cells], 1, t), scores: flat(c, score, `scores${t}`), labels: flat(c, label, `labels${t}`) };
}

/** A YOLOv3 head: per cell, anchor and class, the anchor's box and sigmoid(class) times the objectness. */
function yolo3Head(c: LayerContext, t: number): Candidates {
  const s = readYolo3(c.layer.def, c.layer.bottomShapes.length), shape = c.layer.bottomShapes[t], [num, channels, height, width] = shape;
  const n = c.layer.name, len = yolo3Len(s), cells = height * width, scale = s.anchorsScale[t];
  let input = c.bottom(t);
  if (channels > s.boxes * len) input = c.node('Slice', [input, c.b.int64s(`${n}/zero`, [0]), c.b.int64s(`${n}/used${t}`, [s.boxes * len]), c.b.int64s(`${n}/axis1_`, [1])], [c.tmp(`used${t}`)]);
  const x = headRows(c, input, t, s.boxes, len);
  const sig = (k: number, what: string) => c.node('Sigmoid', [rows(c, x, k, k + 1, `${what}_raw${t}`)], [c.tmp(`${what}${t}`)]);
  const [gx, gy] = grid(c, height, width, t);
  const along = sizes(c, t), net = (size: () => string, constant: number) => () => (c.anySize ? c.node('Mul', [size(), c.b.scalar(scale)], [c.tmp(`net${t}`)]) : c.b.scalar(constant));
  const anchors = s.mask.slice(t * s.group, t * s.group + s.boxes);
  const anchor = (k: number, what: string) => c.b.floats(`${n}/anchor_${what}${t}`, Float32Array.from(anchors, (a) => s.biases[2 * a + k]), [1, s.boxes, 1, 1]);
  const size = (k: number, at: number, divisor: () => string, what: string) => c.node('Div', [c.node('Mul', [c.node('Exp', [rows(c, x, at, at + 1, `t${what}${t}`)], [c.tmp(`e${what}${t}`)]), anchor(k, what)], [c.tmp(`${what}_px${t}`)]), divisor()], [c.tmp(`${what}${t}`)]);
  const coord = (g: string, at: number, divisor: () => string, what: string) => c.node('Div', [c.node('Add', [g, sig(at, `s${what}`)], [c.tmp(`${what}_cell${t}`)]), divisor()], [c.tmp(`${what}${t}`)]);
  const parts = [coord(gx, 0, along.w, 'x'), coord(gy, 1, along.h, 'y'), size(0, 2, net(along.w, width * scale), 'w'), size(1, 3, net(along.h, height * scale), 'h')];
  const classes = c.node('Sigmoid', [rows(c, x, 5, 5 + s.classes, `class_raw${t}`)], [c.tmp(`classes${t}`)]);
  const score = c.node('Mul', [classes, sig(4, 'obj')], [c.tmp(`score${t}`)]);
  const ids = c.b.floats(`${n}/class_ids${t}`, Float32Array.from({ length: s.classes }, (_, k) => k), [1, 1, s.classes, 1]);
  const labelShape = c.anySize ? c.node('Shape', [score], [c.tmp(`score_shape${t}`)]) : c.b.int64s(`${n}/score_shape${t}`, [num, s.boxes, s.classes, cells]);
  const label = c.node('Expand', [ids, labelShape], [c.tmp(`label${t}`)]);
  return { boxes: boxRows(c, parts, [num, s.boxes, 1, cells], s.classes, t), scores: flat(c, score, `scores${t}`), labels: flat(c, label, `labels${t}`) };
}
