import { formatFloat32 } from '../../caffe/prototxt.js';
import { int, ints } from '../../onnx/builder.js';
import { DataType, type GraphObj } from '../../onnx/proto.js';
import { type LayerContext, runtimeDims } from '../../onnx/context.js';
import { armBottoms, priorCount, readDetectionSettings, type DetectionSettings } from '../detection_output.js';
import { LOC_VALUES, ROW_VALUES, outlineToOnnx } from './textboxes.js';

/**
 * DetectionOutput as ONNX: box decoding, the fork's top_k as a TopK per class before NonMaximumSuppression
 * (the fork limits the candidates, ONNX's max_output_boxes_per_class the survivors), one NMS batch per
 * (image, class) so that unshared locations work too, keep_top_k as a TopK over the survivors put back in
 * NMS's order, and the "no detection" row when nothing is left: the same [1, 1, N, 7] as the fork, in its
 * order (image, label, score). What ONNX cannot reproduce is said in the model's notes. TextBoxes++'s outlines
 * ride along with their boxes ([.., 4 + 8] or [.., 4 + 5]) from the decoding to the rows; NMS sees the boxes.
 */
export function detectionOutputToOnnx(c: LayerContext): void {
  const { def } = c.layer;
  const s = readDetectionSettings(def, c.net);
  const [loc] = c.layer.bottomShapes;
  const { priors, outline } = priorCount(def, s, c.layer.bottomShapes);
  const num = loc[0], classes = s.numClasses, k = s.topK > -1 ? Math.min(s.topK, priors) : priors;
  const locClasses = s.shareLocation ? 1 : s.numClasses, values = LOC_VALUES[outline], width = ROW_VALUES[outline] - 3;
  if (s.eta < 1 && s.nmsThreshold > 0.5)
    c.note(`adaptive NMS (eta ${formatFloat32(s.eta)}) is not reproduced: ONNX's NonMaximumSuppression keeps the threshold at ${formatFloat32(s.nmsThreshold)}, so detections may differ`);
  // Equal scores need no note: ONNX's TopK and ONNX Runtime's NonMaxSuppression take them by index, as the fork's
  // stable_sort, and keepTopK's sorts are stable (test/detection-ties.test.ts: the rows equal, in order).
  c.dynamicShape(0, [2]);
  // Size-free (ConvertOptions.anySize): the priors (and k) follow the image size, so the shapes infer them (-1, or
  // 1 where Expand broadcasts) and k comes from the priors' Shape; otherwise they are constants.
  const P = c.anySize ? -1 : priors, K = c.anySize ? -1 : k;
  const kValue = c.anySize ? runtimeK(c, s) : undefined;
  const [priorBoxes, variances] = priorParts(c, s, P);
  // RefineDet: the priors moved by the ARM's (shared) locations first, per image: [num, 1, priors, 4].
  const anchors = armBottoms(def) > 1 ? decode(c, s, locsOf(c, num, P, c.bottom(4), 1, 4, 'arm_'), priorBoxes, variances, 'arm_') : priorBoxes;
  const locs = locsOf(c, num, P, c.bottom(0), locClasses, values, '');
  let boxes = decode(c, s, outline === 'none' ? locs : lastAxis(c, locs, 0, 4, 'box_loc'), anchors, variances, '');
  // TextBoxes++: [num, locClasses, priors, 4 + outline], the outline decoded against the plain priors.
  if (outline !== 'none') boxes = c.node('Concat', [boxes, outlineToOnnx(c, outline, lastAxis(c, locs, 4, values, 'outline_loc'), priorBoxes, variances)], [c.tmp('boxes_outlines')], { axis: int(-1) });
  const [scores, order] = candidates(c, s, num, P, kValue ?? k);
  // The boxes of each (image, class)'s candidates: [num * classes, k, width].
  const perClass = s.shareLocation && classes > 1 ? c.node('Expand', [boxes, c.b.int64s(`${c.layer.name}/class_boxes`, [num, classes, c.anySize ? 1 : priors, width])], [c.tmp('class_boxes')]) : boxes;
  const index4 = c.node('Expand', [c.node('Unsqueeze', [order, c.b.int64s(`${c.layer.name}/axis3`, [3])], [c.tmp('order4')]), c.b.int64s(`${c.layer.name}/index_shape`, [num, classes, c.anySize ? 1 : k, width])], [c.tmp('index4')]);
  const picked = c.node('GatherElements', [perClass, index4], [c.tmp('candidate_boxes')], { axis: int(2) });
  const candidates3 = reshape(c, picked, [num * classes, K, width], 'nms_rows');
  const candidateBoxes = outline === 'none' ? candidates3 : lastAxis(c, candidates3, 0, 4, 'nms_boxes');
  const nmsScores = reshape(c, scores, [num * classes, 1, K], 'nms_scores');
  const selected = c.node('NonMaxSuppression', [apartIfInverted(c, candidateBoxes, kValue ?? k), nmsScores, kValue ?? c.b.int64s(`${c.layer.name}/max_out`, [k]), c.b.floats(`${c.layer.name}/iou`, Float32Array.of(s.nmsThreshold), [1]), c.b.floats(`${c.layer.name}/score_threshold`, Float32Array.of(s.confidenceThreshold), [1])], [c.tmp('selected')]);
  let rows = detectionRows(c, dropNanOverlaps(c, selected, candidateBoxes), candidates3, reshape(c, scores, [num * classes, K], 'flat_scores'), classes);
  if (s.keepTopK > -1) rows = keepTopK(c, rows, s.keepTopK, num);
  // TextBoxes' Caffe writes the boxes clipped to [0, 1], and one row of -1 when nothing is found.
  if (s.oldSsd) rows = c.node('Concat', [lastAxis(c, rows, 0, 3, 'row_head'), c.node('Clip', [lastAxis(c, rows, 3, 7, 'row_box'), c.b.scalar(0), c.b.scalar(1)], [c.tmp('clipped_box')])], [c.tmp('clipped_rows')], { axis: int(-1) });
  const out = withNoDetectionRows(c, rows, s.oldSsd ? 0 : num, width + 3);
  c.node('Reshape', [out, c.b.int64s(`${c.layer.name}/out_shape`, [1, 1, -1, width + 3])], [c.top(0)]);
}

/** The location values `loc` ([num, priors * locClasses * values]) as [num, locClasses, priors, values]. */
function locsOf(c: LayerContext, num: number, priors: number, loc: string, locClasses: number, values: number, tag: string): string {
  return c.node('Transpose', [reshape(c, loc, [num, priors, locClasses, values], `${tag}loc4`)], [c.tmp(`${tag}loc`)], { perm: ints([0, 2, 1, 3]) });
}

/**
 * The boxes NMS sees: an inverted box (xmax < xmin or ymax < ymin) overlaps nothing in the fork (its
 * intersection has a negative side), while ONNX's NMS would sort its corners; so each one is replaced by a
 * unit box far away from every other box of its (image, class). The detections keep the decoded corners.
 */
function apartIfInverted(c: LayerContext, boxes: string, k: number | string): string {
  const side = (i: number) => lastAxis(c, boxes, i, i + 1, `nms_${'xyXY'[i]}`);
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map(side);
  const less = (a: string, b: string, what: string) => c.node('Less', [a, b], [c.tmp(what)]);
  const anyInverted = c.node('Or', [less(x2, x1, 'inverted_x'), less(y2, y1, 'inverted_y')], [c.tmp('inverted')]);
  return c.node('Where', [anyInverted, typeof k === 'number' ? farBoxes(c, k) : farBoxesOf(c, k), boxes], [c.tmp('nms_input')]);
}

/** The far unit boxes, [1, k, 4]: box j at (1e4 + 3j, 1e4). */
function farBoxes(c: LayerContext, k: number): string {
  const far = new Float32Array(k * 4);
  for (let j = 0; j < k; j++) far.set([1e4 + 3 * j, 1e4, 1e4 + 3 * j + 1, 1e4 + 1], j * 4);
  return c.b.floats(`${c.layer.name}/apart`, far, [1, k, 4]);
}

/** The same boxes for a k known at run time (a [1] int64), [k, 4]: 3j (exact in float) times (1, 0, 1, 0) plus the corner. */
function farBoxesOf(c: LayerContext, k: string): string {
  const n = c.layer.name;
  const count = c.node('Cast', [c.node('Squeeze', [k, c.b.int64s(`${n}/axis0`, [0])], [c.tmp('k_scalar')])], [c.tmp('k_float')], { to: int(1) });
  const j3 = c.node('Mul', [c.node('Range', [c.b.scalar(0), count, c.b.scalar(1)], [c.tmp('far_index')]), c.b.scalar(3)], [c.tmp('far_x')]);
  const column = reshape(c, j3, [-1, 1], 'far_column');
  const xs = c.node('Mul', [column, c.b.floats(`${n}/far_xs`, Float32Array.of(1, 0, 1, 0), [4])], [c.tmp('far_shift')]);
  return c.node('Add', [xs, c.b.floats(`${n}/far_corner`, Float32Array.of(1e4, 1e4, 1e4 + 1, 1e4 + 1), [4])], [c.tmp('apart')]);
}

/** k = min(top_k, priors) from the priors' Shape (bottom 2: [1, 2, priors * 4]), a [1] int64. */
function runtimeK(c: LayerContext, s: DetectionSettings): string {
  const n = c.layer.name;
  const values = runtimeDims(c, c.bottom(2), 2, 3);
  const priors = c.node('Div', [values, c.b.int64s(`${n}/four`, [4])], [c.tmp('priors')]);
  return s.topK > -1 ? c.node('Min', [priors, c.b.int64s(`${n}/top_k`, [s.topK])], [c.tmp('k')]) : priors;
}

function reshape(c: LayerContext, x: string, shape: number[], what: string): string {
  return c.node('Reshape', [x, c.b.int64s(`${c.layer.name}/${what}_shape`, shape)], [c.tmp(what)]);
}

/** Slice of the last axis [from, to). */
function lastAxis(c: LayerContext, x: string, from: number, to: number, what: string): string {
  const n = c.layer.name;
  return c.node('Slice', [x, c.b.int64s(`${n}/${what}_from`, [from]), c.b.int64s(`${n}/${what}_to`, [to]), c.b.int64s(`${n}/last_axis`, [-1])], [c.tmp(what)]);
}

/** PriorBox's output (bottom 2) as its boxes and variances, [priors, 4] each. */
function priorParts(c: LayerContext, s: DetectionSettings, priors: number): [string, string] {
  const prior = reshape(c, c.bottom(2), [2, priors, 4], 'prior2');
  const pick = (i: number, what: string) =>
    reshape(c, c.node('Gather', [prior, c.b.int64s(`${c.layer.name}/${what}_index`, [i])], [c.tmp(`${what}_1`)], { axis: int(0) }), [priors, 4], what);
  return [pick(0, 'prior_box'), pick(1, 'prior_var')];
}

/**
 * DecodeBBox of `locs` ([num, locClasses, priors, 4]) against `box` (priors [priors, 4], or per image [num, 1,
 * priors, 4]) and their variances: [num, locClasses, priors, 4] corners. `tag` keeps two decodings' names apart.
 */
function decode(c: LayerContext, s: DetectionSettings, locs: string, box: string, variances: string, tag: string): string {
  const t = s.varianceInTarget ? locs : c.node('Mul', [locs, variances], [c.tmp(`${tag}scaled_loc`)]);
  if (s.code === 'CORNER') return c.node('Add', [box, t], [c.tmp(`${tag}boxes`)]);
  const min = lastAxis(c, box, 0, 2, `${tag}prior_min`), max = lastAxis(c, box, 2, 4, `${tag}prior_max`);
  const size = c.node('Sub', [max, min], [c.tmp(`${tag}prior_size`)]);
  if (s.code === 'CORNER_SIZE') {
    const sizes = c.node('Concat', [size, size], [c.tmp(`${tag}prior_sizes`)], { axis: int(-1) });
    return c.node('Add', [box, c.node('Mul', [t, sizes], [c.tmp(`${tag}offsets`)])], [c.tmp(`${tag}boxes`)]);
  }
  const center = c.node('Mul', [c.node('Add', [min, max], [c.tmp(`${tag}corner_sum`)]), c.b.scalar(0.5)], [c.tmp(`${tag}prior_center`)]);
  const cxy = c.node('Add', [c.node('Mul', [lastAxis(c, t, 0, 2, `${tag}dxy`), size], [c.tmp(`${tag}shift`)]), center], [c.tmp(`${tag}center`)]);
  const half = c.node('Mul', [c.node('Mul', [c.node('Exp', [lastAxis(c, t, 2, 4, `${tag}dwh`)], [c.tmp(`${tag}growth`)]), size], [c.tmp(`${tag}wh`)]), c.b.scalar(0.5)], [c.tmp(`${tag}half_wh`)]);
  const lo = c.node('Sub', [cxy, half], [c.tmp(`${tag}box_min`)]), hi = c.node('Add', [cxy, half], [c.tmp(`${tag}box_max`)]);
  return c.node('Concat', [lo, hi], [c.tmp(`${tag}boxes`)], { axis: int(-1) });
}

/** Each (image, class)'s k best scores (k a number, or a [1] int64 at run time) and their prior indices ([num, classes, k]); the background never qualifies. */
function candidates(c: LayerContext, s: DetectionSettings, num: number, priors: number, k: number | string): [string, string] {
  const classes = s.numClasses, n = c.layer.name;
  let conf = reshape(c, c.bottom(1), [num, priors, classes], 'conf3');
  if (armBottoms(c.layer.def) > 0) {
    // RefineDet's objectness filter: where the ARM's objectness is below objectness_score, class 0 scores 1, the rest 0.
    const objectness = lastAxis(c, reshape(c, c.bottom(3), [num, priors, 2], 'arm_conf3'), 1, 2, 'objectness');
    const onlyClass0 = c.b.floats(`${n}/class0`, Float32Array.from({ length: classes }, (_, i) => (i === 0 ? 1 : 0)), [classes]);
    conf = c.node('Where', [c.node('Less', [objectness, c.b.scalar(s.objectnessScore)], [c.tmp('not_object')]), onlyClass0, conf], [c.tmp('filtered_conf')]);
  }
  let scores = c.node('Transpose', [conf], [c.tmp('class_scores')], { perm: ints([0, 2, 1]) });
  if (s.backgroundLabelId >= 0 && s.backgroundLabelId < classes) {
    const mask = new Float32Array(classes);
    mask[s.backgroundLabelId] = -Infinity; // never above the score threshold (at least -FLT_MAX)
    scores = c.node('Add', [scores, c.b.floats(`${n}/background_mask`, mask, [1, classes, 1])], [c.tmp('scores')]);
  }
  const [values, order] = [c.tmp('top_scores'), c.tmp('top_index')];
  c.node('TopK', [scores, typeof k === 'number' ? c.b.int64s(`${n}/top_k`, [k]) : k], [values, order], { axis: int(2), largest: int(1), sorted: int(1) });
  return [values, order];
}

/** [image, label, score, xmin, ymin, xmax, ymax, (outline)] for each selected (batch = image * classes + label, 0, candidate). */
function detectionRows(c: LayerContext, selected: string, boxes: string, scores: string, classes: number): string {
  const n = c.layer.name;
  const column = (cols: number[], what: string) => c.node('Gather', [selected, c.b.int64s(`${n}/${what}_cols`, cols)], [c.tmp(what)], { axis: int(1) });
  const pairs = column([0, 2], 'pairs');
  const batch = column([0], 'batch');
  const classCount = c.b.int64s(`${n}/classes`, [classes]);
  const asFloat = (x: string, what: string) => c.node('Cast', [x], [c.tmp(what)], { to: int(1) });
  const image = asFloat(c.node('Div', [batch, classCount], [c.tmp('image_i')]), 'image');
  const label = asFloat(c.node('Mod', [batch, classCount], [c.tmp('label_i')]), 'label');
  const score = c.node('Unsqueeze', [c.node('GatherND', [scores, pairs], [c.tmp('score_1')]), c.b.int64s(`${n}/axis1`, [1])], [c.tmp('score')]);
  const box = c.node('GatherND', [boxes, pairs], [c.tmp('box')]);
  return c.node('Concat', [image, label, score, box], [c.tmp('rows')], { axis: int(1) });
}

/**
 * The NMS selection ([S, 3]: batch, 0, candidate) less the boxes the fork drops for a NaN overlap: where two boxes'
 * intersection overflows float (boxes of infinite extent: offsets whose exp overflows, under synthetic weights), the
 * fork's overlap is inf / (inf + inf - inf) = NaN and its `overlap <= threshold` drops the later box; ONNX Runtime's
 * `iou > threshold` keeps it. Such boxes have infinite areas, so they overlap every finite box by 0 in both (and
 * every other by 0 or NaN): ONNX Runtime keeps all of them, and the fork's choice among them is redone here, in NMS
 * order, on the M selected boxes of infinite area alone (none with trained weights: a Loop of 0 steps). `boxes` are
 * the decoded candidates, [batches, k, 4].
 */
function dropNanOverlaps(c: LayerContext, selected: string, boxes: string): string {
  const n = c.layer.name;
  const col = (x: string, i: number, what: string) => c.node('Gather', [x, c.b.int64s(`${n}/${what}_col`, [i])], [c.tmp(what)], { axis: int(1) });
  const box = c.node('GatherND', [boxes, c.node('Gather', [selected, c.b.int64s(`${n}/sel_cols`, [0, 2])], [c.tmp('sel_pairs')], { axis: int(1) })], [c.tmp('sel_box')]);
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map((i) => col(box, i, `sel_${'xyXY'[i]}`));
  const sub = (a: string, b: string, what: string) => c.node('Sub', [a, b], [c.tmp(what)]);
  const area = c.node('Mul', [sub(x2, x1, 'sel_w'), sub(y2, y1, 'sel_h')], [c.tmp('sel_area')]);
  // Not finite: |area| < inf fails for inf and NaN. [S, 1] -> the indices of those rows, [M].
  const finite = c.node('Less', [c.node('Abs', [area], [c.tmp('sel_abs_area')]), c.b.scalar(Infinity)], [c.tmp('sel_finite')]);
  const huge = reshape(c, c.node('NonZero', [reshape(c, c.node('Not', [finite], [c.tmp('sel_huge_b')]), [-1], 'sel_huge_flat')], [c.tmp('sel_huge_nz')]), [-1], 'huge');
  const pick = (x: string, what: string) => c.node('Gather', [x, huge], [c.tmp(what)], { axis: int(0) });
  const [hx1, hy1, hx2, hy2] = [x1, y1, x2, y2].map((v, i) => pick(v, `huge_${'xyXY'[i]}`)); // [M, 1]
  const row = (x: string, what: string) => reshape(c, x, [1, -1], what); // [1, M]
  const side = (lo: string, hi: string, what: string) =>
    sub(c.node('Min', [hi, row(hi, `${what}_hi_row`)], [c.tmp(`${what}_hi`)]), c.node('Max', [lo, row(lo, `${what}_lo_row`)], [c.tmp(`${what}_lo`)]), what);
  const w = side(hx1, hx2, 'pair_w'), h = side(hy1, hy2, 'pair_h');
  const positive = (x: string, what: string) => c.node('Greater', [x, c.b.scalar(0)], [c.tmp(what)]);
  const overflows = c.node('Equal', [c.node('Mul', [w, h], [c.tmp('pair_inter')]), c.b.scalar(Infinity)], [c.tmp('pair_overflow')]);
  const batch = pick(col(selected, 0, 'sel_batch'), 'huge_batch'); // [M, 1] int64
  const sameBatch = c.node('Equal', [batch, row(batch, 'huge_batch_row')], [c.tmp('pair_same')]);
  // Only a later box is dropped: i < j, from the rows' positions (the selection is in NMS order within a batch).
  const count = c.node('Shape', [huge], [c.tmp('huge_count')]);
  const m = c.node('Squeeze', [count, c.b.int64s(`${n}/sq0`, [0])], [c.tmp('huge_m')]);
  const at = c.node('Range', [scalarInt(c, 0, 'range_start'), m, scalarInt(c, 1, 'range_step')], [c.tmp('huge_at')]);
  const later = c.node('Less', [reshape(c, at, [-1, 1], 'huge_at_col'), row(at, 'huge_at_row')], [c.tmp('pair_later')]);
  const and = (a: string, b: string, what: string) => c.node('And', [a, b], [c.tmp(what)]);
  const drops = and(and(and(positive(w, 'pair_w_pos'), positive(h, 'pair_h_pos'), 'pair_pos'), and(overflows, sameBatch, 'pair_nan'), 'pair_nan_pos'), later, 'pair_drops'); // [M, M]
  // The fork's greedy choice: box t, if still kept, drops the later boxes it overlaps by NaN.
  const [step, cond, keep] = [c.tmp('nan_step'), c.tmp('nan_cond'), c.tmp('nan_keep')];
  let condOut = '', keepOut = '';
  const nodes = c.b.collect(() => {
    const kept = c.node('Gather', [keep, step], [c.tmp('nan_kept_t')], { axis: int(0) });
    const dropped = c.node('And', [c.node('Gather', [drops, step], [c.tmp('nan_drops_t')], { axis: int(0) }), kept], [c.tmp('nan_dropped')]);
    keepOut = c.node('And', [keep, c.node('Not', [dropped], [c.tmp('nan_spared')])], [c.tmp('nan_keep_out')]);
    condOut = c.node('Identity', [cond], [c.tmp('nan_cond_out')]);
  });
  const typed = (name: string, elem: number, rank: number) => ({ name, type: { tensor_type: { elem_type: elem, shape: { dim: new Array(rank).fill({}) } } } });
  const body: GraphObj = { name: `${n}/nan_overlaps`, node: nodes, initializer: [], input: [typed(step, DataType.INT64, 0), typed(cond, DataType.BOOL, 0), typed(keep, DataType.BOOL, 1)], output: [typed(condOut, DataType.BOOL, 0), typed(keepOut, DataType.BOOL, 1)] };
  const allKept = c.node('Equal', [at, at], [c.tmp('huge_all')]);
  const finalKeep = c.tmp('huge_keep');
  c.node('Loop', [m, c.b.bool(`${n}/nan_true`, true), allKept], [finalKeep], { body: { graph: body } });
  // Back onto the S rows: kept unless a huge one the loop dropped.
  const everyRow = reshape(c, finite, [-1], 'sel_every');
  const ones = c.node('Or', [everyRow, c.node('Not', [everyRow], [c.tmp('sel_not_every')])], [c.tmp('sel_ones')]);
  const mask = c.node('ScatterElements', [ones, huge, finalKeep], [c.tmp('sel_mask')], { axis: int(0) });
  return c.node('Compress', [selected, mask], [c.tmp('selected_fork')], { axis: int(0) });
}

function scalarInt(c: LayerContext, v: number, what: string): string {
  return c.node('Squeeze', [c.b.int64s(`${c.layer.name}/${what}`, [v]), c.b.int64s(`${c.layer.name}/${what}_axis`, [0])], [c.tmp(what)]);
}

/** The number of rows of a [K, ...] value, as a [1] int64. */
function rowCount(c: LayerContext, x: string, what: string): string {
  return c.node('Gather', [c.node('Shape', [x], [c.tmp(`${what}_shape`)]), c.b.int64s(`${c.layer.name}/dim0`, [0])], [c.tmp(what)], { axis: int(0) });
}

/** Sorts `x` ([K] floats) along its only axis; equal values keep their order (TopK's rule). Returns [values, indices]. */
function sorted(c: LayerContext, x: string, count: string, largest: boolean, what: string): [string, string] {
  const [values, indices] = [c.tmp(`${what}_values`), c.tmp(`${what}_index`)];
  c.node('TopK', [x, count], [values, indices], { axis: int(0), largest: int(largest ? 1 : 0), sorted: int(1) });
  return [values, indices];
}

/**
 * The keep_top_k best rows of each image by score, back in NMS's (image, label, score) order: the rows sorted
 * by score, then stably by image; a row's rank is its position less the rows of the images before its own.
 */
function keepTopK(c: LayerContext, rows: string, keep: number, num: number): string {
  const n = c.layer.name;
  const count = rowCount(c, rows, 'row_count');
  const column = (i: number, what: string) => reshape(c, c.node('Gather', [rows, c.b.int64s(`${n}/${what}_col`, [i])], [c.tmp(`${what}_1`)], { axis: int(1) }), [-1], what);
  const gather = (x: string, at: string, what: string) => c.node('Gather', [x, at], [c.tmp(what)], { axis: int(0) });
  const byScore = sorted(c, column(2, 'row_scores'), count, true, 'by_score')[1];
  const [image, byImage] = sorted(c, gather(column(0, 'row_images'), byScore, 'images_by_score'), count, false, 'by_image');
  const order = gather(byScore, byImage, 'order');
  // Rows of each image (one-hot over the images, summed), and of the images before each (a strict prefix sum).
  const images = c.b.floats(`${n}/image_ids`, Float32Array.from({ length: num }, (_, i) => i), [1, num]);
  const onehot = c.node('Cast', [c.node('Equal', [c.node('Unsqueeze', [image, c.b.int64s(`${n}/axis1`, [1])], [c.tmp('image_col')]), images], [c.tmp('is_image')])], [c.tmp('onehot')], { to: int(1) });
  const perImage = c.node('ReduceSum', [onehot, c.b.int64s(`${n}/axis0`, [0])], [c.tmp('per_image')], { keepdims: int(1) });
  const before = new Float32Array(num * num);
  for (let i = 0; i < num; i++) for (let j = i + 1; j < num; j++) before[i * num + j] = 1;
  const starts = reshape(c, c.node('MatMul', [perImage, c.b.floats(`${n}/earlier`, before, [num, num])], [c.tmp('starts_1')]), [-1], 'starts');
  const start = gather(starts, c.node('Cast', [image], [c.tmp('image_i')], { to: int(7) }), 'start');
  // A row's position in the sorted list, as floats: the running count of ones.
  const ones = c.node('Cast', [c.node('Equal', [order, order], [c.tmp('true')])], [c.tmp('ones')], { to: int(1) });
  const position = c.node('Sub', [c.node('CumSum', [ones, c.b.int64s(`${n}/cumsum_axis`, [0])], [c.tmp('running')]), c.b.scalar(1)], [c.tmp('position')]);
  const rank = c.node('Sub', [position, start], [c.tmp('rank')]);
  const kept = c.node('Compress', [order, c.node('Less', [rank, c.b.scalar(keep)], [c.tmp('keep')])], [c.tmp('kept_order')], { axis: int(0) });
  // The kept row numbers ascending restore NMS's order.
  const ascending = sorted(c, c.node('Cast', [kept], [c.tmp('kept_f')], { to: int(1) }), rowCount(c, kept, 'kept_count'), false, 'restore')[0];
  return gather(rows, c.node('Cast', [ascending], [c.tmp('kept_rows')], { to: int(7) }), 'kept');
}

/**
 * rows when there are any, else the fork's [image, -1, -1, ...] per image (rows of `width` values); `num` 0: one row
 * of -1 (TextBoxes' Caffe).
 */
export function withNoDetectionRows(c: LayerContext, rows: string, num: number, width = 7): string {
  const n = c.layer.name;
  const none = new Float32Array(Math.max(num, 1) * width).fill(-1);
  for (let i = 0; i < num; i++) none[i * width] = i;
  num = Math.max(num, 1);
  const all = c.node('Concat', [rows, c.b.floats(`${n}/no_detection`, none, [num, width])], [c.tmp('rows_or_none')], { axis: int(0) });
  const count = rowCount(c, rows, 'found');
  const zero = c.b.int64s(`${n}/zero`, [0]);
  const empty = c.node('Cast', [c.node('Equal', [count, zero], [c.tmp('empty_b')])], [c.tmp('empty')], { to: int(7) });
  const end = c.node('Add', [count, c.node('Mul', [empty, c.b.int64s(`${n}/images`, [num])], [c.tmp('extra')])], [c.tmp('end')]);
  return c.node('Slice', [all, zero, end, zero], [c.tmp('out')]);
}
