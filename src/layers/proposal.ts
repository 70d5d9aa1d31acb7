import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type LayerContext, runtimeGrid } from '../onnx/context.js';
import { type Attr, int, ints } from '../onnx/builder.js';
import { shapeString, sizeOf } from '../tensor.js';
import { LayerError, type LayerType, type NetContext, expectCounts, keepRows, need } from './layer.js';
import { textProposalLayer } from './text_proposal.js';
import { argsort } from '../util/numpy-argsort.js';
import { roundHalfEven } from '../util/round.js';

const f32 = Math.fround;

/** What a Proposal layer does: py-faster-rcnn's settings (cfg.TEST and the layer's own). */
export interface ProposalSettings {
  featStride: number;
  baseSize: number;
  minSize: number;
  ratios: number[];
  scales: number[];
  preNms: number;
  postNms: number;
  nmsThresh: number;
  /** False for SSH's layer at TEST: the preNms best boxes, no NMS (its test script runs NMS after the net). */
  nms: boolean;
  /** makefile/frcnn's FrcnnProposal (frcnn_proposal.ts): its config's anchors, not generate_anchors' ones. */
  anchors?: Float64Array;
  /**
   * FrcnnProposal's order and arithmetic: std::sort of (score, index) pairs descending (equal scores: the later box
   * first) in place of numpy's argsort, exp in double (C's ::exp of a float), and its test_rpn_score_thresh: an
   * anchor k > 0 whose score is under it is skipped.
   */
  fork?: { scoreThresh: number; softNms?: SoftNms };
}

/** FrcnnProposal's test_soft_nms (1 linear, 2 gaussian, any other nonzero value plain NMS in its soft loop) and test_nms. */
export interface SoftNms {
  kind: number;
  thresh: number;
}

/** py-faster-rcnn's TEST configuration (lib/fast_rcnn/config.py) and generate_anchors' defaults. */
const PY_FASTER_RCNN: ProposalSettings = { featStride: 16, baseSize: 16, minSize: 16, ratios: [0.5, 1, 2], scales: [8, 16, 32], preNms: 6000, postNms: 300, nmsThresh: 0.7, nms: true };

/**
 * SSH's (mahyarnajibi/SSH SSH/layers/proposal_layer.py, py-faster-rcnn's modified) at TEST, with its
 * SSH/configs/default_config.yml: the N_DETS_PER_MODULE (1000) best boxes, ANCHOR_MIN_SIZE 0, NMS only in training.
 */
const SSH_TEST: ProposalSettings = { ...PY_FASTER_RCNN, minSize: 0, preNms: 1000, postNms: 1000, nms: false };
const SSH_MODULE = 'SSH.layers.proposal_layer';


/** py-faster-rcnn's generate_anchors: for each ratio, for each scale, (x1, y1, x2, y2) around the base window's center. */
export function generateAnchors(base: number, ratios: number[], scales: number[]): Float64Array {
  const out: number[] = [];
  const c = 0.5 * (base - 1);
  for (const ratio of ratios) {
    const ws = roundHalfEven(Math.sqrt((base * base) / ratio)), hs = roundHalfEven(ws * ratio);
    for (const s of scales) {
      const w = ws * s, h = hs * s;
      out.push(c - 0.5 * (w - 1), c - 0.5 * (h - 1), c + 0.5 * (w - 1), c + 0.5 * (h - 1));
    }
  }
  return Float64Array.from(out);
}

/**
 * The proposals of one image, as py-faster-rcnn's ProposalLayer.forward makes them (float32 arithmetic as numpy's):
 * anchors shifted over the map, decoded by the deltas, clipped to the image, boxes under min_size · scale dropped,
 * the pre_nms best by score, greedy NMS (IoU > thresh suppressed), the first post_nms kept. Returns [x1, y1, x2, y2]
 * rows and their scores.
 */
export function proposals(s: ProposalSettings, scores: Float32Array, deltas: Float32Array, height: number, width: number, imInfo: Float32Array): { boxes: Float32Array; scores: Float32Array } {
  const { boxes, score, keep } = decodeMap(s, scores, deltas, { height, width, rows: height, cols: width }, imInfo);
  return selectProposals(s, boxes, score, keep);
}

/** A map's size (height x width) and the rows x cols of it that a proposal layer reads (FPN's _clip_pad: the image's). */
export interface MapExtent {
  height: number;
  width: number;
  rows: number;
  cols: number;
}

/**
 * Steps 1 to 3 of ProposalLayer.forward over `m`'s rows x cols: every anchor shifted there, decoded by its deltas
 * and clipped to the image (`boxes`, (h, w, a) order), its object score, and the rows _filter_boxes keeps (not under
 * min_size · im_info's scale; FrcnnProposal's also not under its score threshold).
 */
export function decodeMap(s: ProposalSettings, scores: Float32Array, deltas: Float32Array, m: MapExtent, imInfo: Float32Array): { boxes: Float32Array; score: Float32Array; keep: number[] } {
  const anchors = anchorsOf(s), A = anchors.length / 4, plane = m.height * m.width;
  const imH = imInfo[0], imW = imInfo[1], min = f32(s.minSize * imInfo[2]);
  const boxes = new Float32Array(m.rows * m.cols * A * 4), score = new Float32Array(m.rows * m.cols * A), keep: number[] = [];
  for (let h = 0, k = 0; h < m.rows; h++)
    for (let w = 0; w < m.cols; w++)
      for (let a = 0; a < A; a++, k++) {
        const x1 = f32(anchors[4 * a] + w * s.featStride), y1 = f32(anchors[4 * a + 1] + h * s.featStride);
        const x2 = f32(anchors[4 * a + 2] + w * s.featStride), y2 = f32(anchors[4 * a + 3] + h * s.featStride);
        const d = (j: number) => deltas[(4 * a + j) * plane + h * m.width + w];
        const b = decodeBox(x1, y1, x2, y2, d(0), d(1), d(2), d(3), imW, imH, s.fork !== undefined);
        boxes.set(b, 4 * k);
        score[k] = scores[(A + a) * plane + h * m.width + w];
        if (s.fork && a > 0 && score[k] < s.fork.scoreThresh) continue;
        if (f32(f32(b[2] - b[0]) + 1) >= min && f32(f32(b[3] - b[1]) + 1) >= min) keep.push(k);
      }
  return { boxes, score, keep };
}

/**
 * Steps 4 to 8 of ProposalLayer.forward: the `keep` rows of `boxes` sorted by score, best first, cut to pre_nms,
 * NMS'd, cut to post_nms. Returns [x1, y1, x2, y2] rows and their scores.
 */
export function selectProposals(s: ProposalSettings, boxes: Float32Array, score: Float32Array, keep: number[]): { boxes: Float32Array; scores: Float32Array } {
  // scores.ravel().argsort()[::-1] of the boxes _filter_boxes kept, cut to pre_nms_topN: numpy's own order of equal
  // scores (util/numpy-argsort.ts), which decides which of them the cut and NMS keep.
  const best = s.fork ? Int32Array.from(keep).sort((i, j) => score[j] - score[i] || j - i) : argsort(score, keep).reverse();
  const order = best.subarray(0, s.preNms > 0 ? Math.min(s.preNms, best.length) : best.length);
  const limit = s.postNms > 0 ? s.postNms : order.length;
  if (s.fork?.softNms) return boxesOf(boxes, softNms(s.fork.softNms, boxes, score, order, limit));
  const kept = !s.nms ? Array.from(order) : s.fork ? greedyNms(boxes, order, s.nmsThresh, limit) : pyCpuNms(boxes, score, order, s.nmsThresh, limit);
  return boxesOf(boxes, { rows: kept, scores: kept.map((k) => score[k]) });
}

/** The proposals' [x1, y1, x2, y2] rows (of `boxes`) and scores. */
function boxesOf(boxes: Float32Array, kept: { rows: number[]; scores: number[] }): { boxes: Float32Array; scores: Float32Array } {
  return { boxes: Float32Array.from(kept.rows.flatMap((k) => Array.from(boxes.subarray(4 * k, 4 * k + 4)))), scores: Float32Array.from(kept.scores) };
}

/**
 * FrcnnProposal's soft-NMS (frcnn_proposal_layer.cpp lines 188-235, the Soft-NMS paper's loop) over `order` (best
 * first, cut to pre_nms): at each step the best remaining box is moved to the front and kept; the later ones' scores
 * are scaled by 1 - IoU where IoU > test_nms (linear), exp(-IoU² / 0.5) (gaussian) or 0 where IoU > test_nms (other),
 * in float32; a score falling under 0.001 swaps its box with the last one, which leaves the loop. At most `limit`.
 */
export function softNms(how: SoftNms, boxes: Float32Array, score: Float32Array, order: ArrayLike<number>, limit: number): { rows: number[]; scores: number[] } {
  const id = Array.from(order), sc = Float32Array.from(id, (k) => score[k]);
  const swap = (p: number, q: number) => {
    [id[p], id[q]] = [id[q], id[p]];
    [sc[p], sc[q]] = [sc[q], sc[p]];
  };
  const floor = f32(0.001), thresh = f32(how.thresh);
  const rows: number[] = [], scores: number[] = [];
  let n = id.length;
  for (let cur = 0; cur < n && rows.length < limit; cur++) {
    let best = cur;
    for (let i = cur + 1; i < n; i++) if (sc[best] < sc[i]) best = i;
    swap(cur, best);
    for (let i = cur + 1; i < n; i++) {
      const iou = boxIou(boxes, id[cur], id[i]);
      const weight = how.kind === 1 ? (iou > thresh ? f32(1 - iou) : 1) : how.kind === 2 ? f32(Math.exp(f32(-f32(iou * iou) / 0.5))) : iou > thresh ? 0 : 1;
      sc[i] = f32(sc[i] * weight);
      if (sc[i] < floor) swap(i--, --n);
    }
    rows.push(id[cur]);
    scores.push(sc[cur]);
  }
  return { rows, scores };
}

/** Row k's area in `boxes`, pixel-inclusive (+1), in float32. */
const boxArea = (boxes: Float32Array, k: number) => f32(f32(f32(boxes[4 * k + 2] - boxes[4 * k]) + 1) * f32(f32(boxes[4 * k + 3] - boxes[4 * k + 1]) + 1));

/** The IoU of two rows of `boxes`, pixel-inclusive (+1), in float32: py_cpu_nms's and makefile/frcnn's get_iou (a's area once per a in NMS's loop). */
export function boxIou(boxes: Float32Array, a: number, b: number, areaA = boxArea(boxes, a)): number {
  const side = (lo: number, hi: number) => Math.max(0, f32(f32(Math.min(boxes[4 * a + hi], boxes[4 * b + hi]) - Math.max(boxes[4 * a + lo], boxes[4 * b + lo])) + 1));
  const inter = f32(side(0, 2) * side(1, 3));
  return f32(inter / f32(f32(areaA + boxArea(boxes, b)) - inter));
}

/** The anchors a Proposal shifts over the map: the config's (FrcnnProposal), else generate_anchors' of its settings. */
export function anchorsOf(s: ProposalSettings): Float64Array {
  return s.anchors ?? generateAnchors(s.baseSize, s.ratios, s.scales);
}

/**
 * py-faster-rcnn's bbox_transform_inv and clip_boxes of one box, in numpy's float32: (x1, y1, x2, y2) moved by the
 * deltas (dx, dy: of the centre in widths, dw, dh: log sizes), clipped to [0, width - 1] x [0, height - 1].
 * `expInDouble`: makefile/frcnn's bbox_transform_inv, whose exp of a float is C's double ::exp, times the float width
 * in double, then rounded (its other steps are these float32 ones).
 */
export function decodeBox(x1: number, y1: number, x2: number, y2: number, dx: number, dy: number, dw: number, dh: number, width: number, height: number, expInDouble = false): number[] {
  const clip = (v: number, hi: number) => Math.max(Math.min(v, f32(hi - 1)), 0);
  const bw = f32(f32(x2 - x1) + 1), bh = f32(f32(y2 - y1) + 1);
  const cx = f32(f32(dx * bw) + f32(x1 + f32(0.5 * bw))), cy = f32(f32(dy * bh) + f32(y1 + f32(0.5 * bh)));
  const exp = expInDouble ? Math.exp : (v: number) => f32(Math.exp(v));
  const pw = f32(exp(dw) * bw), ph = f32(exp(dh) * bh);
  return [clip(f32(cx - f32(0.5 * pw)), width), clip(f32(cy - f32(0.5 * ph)), height), clip(f32(cx + f32(0.5 * pw)), width), clip(f32(cy + f32(0.5 * ph)), height)];
}

/**
 * py-faster-rcnn's py_cpu_nms of dets = the `rows` of `boxes` (x1, y1, x2, y2) and `scores`, in that order: it orders
 * them itself, by numpy's argsort()[::-1] of those rows' scores (ties as numpy's argsort leaves them: rows already in
 * score order come out reordered again), then a box whose IoU (pixel-inclusive, +1, float32) with a kept one is
 * above `thresh` (as numpy compares: in float32) goes; at most `limit` kept. Returns the kept rows in order.
 */
export function pyCpuNms(boxes: Float32Array, scores: ArrayLike<number>, rows: ArrayLike<number>, thresh: number, limit = Infinity): number[] {
  return greedyNms(boxes, argsort(scores, rows).reverse(), thresh, limit);
}

/**
 * Greedy NMS of `boxes`' rows in the given order (best first): a box whose IoU (pixel-inclusive, +1, float32) with a
 * kept one is above `thresh` goes; at most `limit` kept. py_cpu_nms's loop, and makefile/frcnn's (get_iou in float).
 */
export function greedyNms(boxes: Float32Array, order: ArrayLike<number>, thresh: number, limit = Infinity): number[] {
  thresh = f32(thresh);
  const kept: number[] = [];
  const suppressed = new Uint8Array(order.length);
  for (let i = 0; i < order.length && kept.length < limit; i++) {
    if (suppressed[i]) continue;
    const a = order[i], areaA = boxArea(boxes, a);
    kept.push(a);
    for (let j = i + 1; j < order.length; j++) if (!suppressed[j] && boxIou(boxes, a, order[j], areaA) > thresh) suppressed[j] = 1;
  }
  return kept;
}

/** The settings of a built-in `Proposal` layer (proposal_param, OpenCV's and Intel's fields) or of py-faster-rcnn's Python layer. */
function settingsOf(def: LayerParameter): ProposalSettings {
  if (def.type === 'Python') return { ...(paramsOf<{ module: string }>(def, 'python_param').module === SSH_MODULE ? SSH_TEST : PY_FASTER_RCNN), ...pythonParams(def) };
  const p = paramsOf<{ feat_stride: number; base_size: number; min_size: number; ratio: number[]; scale: number[]; pre_nms_topn: number; post_nms_topn: number; nms_thresh: number }>(def, 'proposal_param');
  return {
    featStride: p.feat_stride, baseSize: p.base_size, minSize: p.min_size,
    ratios: p.ratio.length ? p.ratio : PY_FASTER_RCNN.ratios, scales: p.scale.length ? p.scale : PY_FASTER_RCNN.scales,
    preNms: p.pre_nms_topn, postNms: p.post_nms_topn, nmsThresh: p.nms_thresh, nms: true,
  };
}

/**
 * param_str of rpn.proposal_layer: YAML "'feat_stride': 16", and 'scales' (the COCO models': "'scales':
 * !!python/tuple [4, 8, 16, 32]", a YAML tag before the list) or 'ratios' in some forks. A key whose value cannot be
 * read is refused: skipping it would change the anchors silently.
 */
function pythonParams(def: LayerParameter): Partial<ProposalSettings> {
  const text = paramsOf<{ param_str: string }>(def, 'python_param').param_str;
  const out: Partial<ProposalSettings> = {};
  const keys = [...text.matchAll(/['"]?(\w+)['"]?\s*:(?!\w)/g)].map((m) => m[1]);
  const read = [...text.matchAll(/['"]?(\w+)['"]?\s*:\s*(?:!!\S+\s+)?(\[[^\]]*\]|\([^)]*\)|[-+\d.eE]+)/g)];
  const unread = keys.filter((k) => !read.some((m) => m[1] === k));
  if (unread.length) throw new LayerError(def, `param_str '${text}': cannot read ${unread.join(', ')}`);
  for (const m of read) {
    const values = m[2].replace(/[[\]()]/g, '').split(',').filter((v) => v.trim()).map(Number);
    if (values.some((v) => !Number.isFinite(v))) throw new LayerError(def, `param_str '${text}': cannot read ${m[1]}`);
    if (m[1] === 'feat_stride') out.featStride = values[0];
    else if (m[1] === 'scales') out.scales = values;
    else if (m[1] === 'ratios') out.ratios = values;
    else throw new LayerError(def, `param_str '${text}': crema's Proposal does not know '${m[1]}' (it reads feat_stride, scales, ratios)`);
  }
  if (out.featStride === undefined) throw new LayerError(def, `param_str '${text}' has no feat_stride`);
  return out;
}

/**
 * Faster R-CNN's region proposals: py-faster-rcnn's Python layer rpn.proposal_layer.ProposalLayer, built in (as
 * OpenCV builds in its `Proposal`). Bottoms: the RPN's class probabilities (1, 2A, H, W), its box deltas
 * (1, 4A, H, W), im_info (height, width, scale). Top: (R, 5) rows [0, x1, y1, x2, y2], and optionally the scores
 * (R, 1), R the boxes NMS leaves, at most post_nms_topN: the forward sizes its tops, as py-faster-rcnn's does, and
 * the net shapes the layers after it again (ROIPooling and the classifier then run on R rows).
 */
export const proposalLayer: LayerType = proposalType('Proposal', settingsOf);

/**
 * im_info (height, width, scale) read at forward: a NaN or negative side reads as NaN or negative rows and clip
 * bounds, a NaN scale keeps no box: say that, not what follows from it (no proposal left, a map too small).
 */
export function checkImInfo(def: LayerParameter, info: Float32Array): void {
  need(def, info[0] >= 0 && info[1] >= 0 && Number.isFinite(info[2]), () => `im_info (${info[0]}, ${info[1]}, ${info[2]}) must be an image's height and width (0 or more) and a finite scale`);
}

/**
 * A region proposal layer type whose settings `settings` reads (from the layer, or for FrcnnProposal from the net's
 * config): its shapes, forward and ONNX form are Proposal's.
 */
export function proposalType(type: string, settings: (def: LayerParameter, net: NetContext) => ProposalSettings): LayerType {
  return {
    type,
    create(def, _weights, net: NetContext = {}) {
      notAnotherProposal(def);
      expectCounts(def, [3, 3], [1, 2]);
      const s = settings(def, net);
      const A = anchorsOf(s).length / 4;
      need(def, s.featStride > 0 && s.postNms > 0 && A > 0, 'needs feat_stride > 0, post_nms_topn > 0, and anchors');
      return {
        sizesTops: true,
        reshape([cls, deltas, info]) {
          need(def, cls.length === 4 && cls[0] === 1 && cls[1] === 2 * A, () => `bottom[0] must be (1, ${2 * A}, H, W): background and object scores of ${A} anchors${s.fork ? " (the FrcnnProposal config's: a net's own is given by --frcnn-config, options.frcnnConfig)" : ''}, got ${shapeString(cls)}`);
          need(def, deltas.length === 4 && deltas[1] === 4 * A && deltas[2] === cls[2] && deltas[3] === cls[3], () => `bottom[1] must be (1, ${4 * A}, ${cls[2]}, ${cls[3]}): 4 deltas per anchor, got ${shapeString(deltas)}`);
          need(def, sizeOf(info) >= 3, () => `bottom[2] must hold im_info (height, width, scale), got ${shapeString(info)}`);
          return [[s.postNms, 5], [s.postNms, 1]].slice(0, def.top!.length);
        },
        forward([cls, deltas, info], [rois, scores]) {
          // std::sort's order of a NaN is undefined: the fork's proposals would be anyone's.
          if (s.fork) need(def, !cls.data.subarray(A * cls.dims[2] * cls.dims[3]).some(Number.isNaN), 'an object score is NaN (the fork sorts them with std::sort: its order is undefined)');
          checkImInfo(def, info.data);
          const p = proposals(s, cls.data, deltas.data, cls.dims[2], cls.dims[3], info.data);
          const n = p.scores.length;
          // py-faster-rcnn would give empty tops, and every layer after them nothing to compute.
          if (n === 0) throw new LayerError(def, `no proposal is left: every box is smaller than min_size ${s.minSize} x im_info's scale ${info.data[2]} (the image is ${info.data[0]} x ${info.data[1]})`);
          keepRows(rois, n);
          for (let i = 0; i < n; i++) rois.data.set([0, ...p.boxes.subarray(4 * i, 4 * i + 4)], 5 * i);
          if (scores) {
            keepRows(scores, n);
            scores.data.set(p.scores);
          }
        },
      };
    },
    onnx: (c) => proposalToOnnx(c, settings(c.layer.def, c.net)),
  };
}

/**
 * The Proposal layer as ONNX, step for step as py-faster-rcnn's forward: the anchors over the map and their sizes
 * and centres are constants (float32 as numpy makes them); the deltas decoded by Mul, Add and Exp; clipped by Min
 * and Max against im_info; _filter_boxes a Compress; argsort()[::-1] and pre_nms_topN a TopK; py_cpu_nms ONNX's
 * NonMaxSuppression on the boxes one pixel larger (x2 + 1, y2 + 1: its IoU of those is py_cpu_nms's IoU with its +1
 * sides), post_nms_topN its max_output_boxes_per_class. The tops have as many rows as NMS keeps (a dynamic axis).
 */
function proposalToOnnx(c: LayerContext, s: ProposalSettings): void {
  const [cls] = c.layer.bottomShapes; // (1, 2A, H, W): one image, as the layer's set-up checks
  const A = anchorsOf(s).length / 4, K = cls[2] * cls[3] * A;
  if (s.fork?.softNms) throw new LayerError(c.layer.def, `FrcnnProposal's soft-NMS (test_soft_nms ${s.fork.softNms.kind}) has no ONNX form (its scores change as it goes): convert with a config of test_soft_nms 0`);
  if (s.fork) c.note("FrcnnProposal's exp is in double, ONNX Runtime's in float (a box may differ in the last bit)");
  else c.note(TIES_NOTE);
  const o = proposalOps(c);
  // Size-free (ConvertOptions.anySize): the counts inferred, the anchors computed over the map's Shape.
  const free = c.anySize && anchorsOnHalfPixels(s) && !(s.fork && s.fork.scoreThresh > 0), anchorRows = free ? -1 : K;
  const constant = (what: string, v: Float32Array) => c.b.floats(`${c.layer.name}/${what}`, v, [K, 1]);
  const anchors = free ? anchorsOverShape(c, s, c.bottom(0)) : anchorValues(c, anchorConstants(s, cls[2], cls[3]), constant);
  const info = o.op('Reshape', [c.bottom(2), o.ints64('info_shape', [-1])], 'im_info');
  const kept = decodeToOnnx(c, o, s, { cls: c.bottom(0), deltas: c.bottom(1), info, anchors, rows: anchorRows });
  const { rows, scores } = selectToOnnx(c, o, s, kept, K);
  roisToOnnx(c, o, rows, c.top(0));
  c.dynamicShape(0, [0]);
  if (c.layer.tops.length > 1) {
    c.node('Unsqueeze', [scores, o.axis1], [c.top(1)]);
    c.dynamicShape(1, [0]);
  }
}

/** What proposalToOnnx notes of py-faster-rcnn's order and exp (FPN's proposal's too). */
export const TIES_NOTE = "ONNX's TopK and NonMaxSuppression take equal scores in index order, where py-faster-rcnn's argsort takes them in its own (numpy's introsort): with tied scores the proposals may differ; ONNX Runtime's Exp may differ from numpy's in the last bit";

/** The nodes and constants a proposal layer's ONNX form makes: a node of one output, 1-D int64s, Slices of one column. */
export interface ProposalOps {
  op(type: string, inputs: string[], what: string, attrs?: Record<string, Attr>): string;
  ints64(what: string, v: number[]): string;
  axis0: string;
  axis1: string;
  /** Column i of the 2-D `x`, as (R, 1). */
  column(x: string, i: number, what: string): string;
}

/** The layer's ProposalOps (axis 0 and 1 one initializer each, for every Slice). */
export function proposalOps(c: LayerContext): ProposalOps {
  const op = (type: string, inputs: string[], what: string, attrs?: Record<string, Attr>) => c.node(type, inputs, [c.tmp(what)], attrs);
  const ints64 = (what: string, v: number[]) => c.b.int64s(`${c.layer.name}/${what}`, v);
  const [axis0, axis1] = [ints64('axis_0', [0]), ints64('axis_1', [1])];
  const column = (x: string, i: number, what: string) => op('Slice', [x, ints64(`${what}_from`, [i]), ints64(`${what}_to`, [i + 1]), axis1], what);
  return { op, ints64, axis0, axis1, column };
}

/** What decodeToOnnx reads: the scores (1, 2A, H, W), deltas (1, 4A, H, W), im_info flattened, the anchors, K (or -1: inferred). */
export interface DecodeValues {
  cls: string;
  deltas: string;
  info: string;
  anchors: AnchorValues;
  rows: number;
}

/**
 * Steps 1 to 3 of ProposalLayer.forward as ONNX (decodeMap's): the objects' scores and deltas in (h, w, a) order,
 * bbox_transform_inv by Mul, Add and Exp, clip_boxes by Min and Max against im_info, _filter_boxes a Compress.
 * Returns the boxes kept (N, 4) and their scores (N).
 */
export function decodeToOnnx(c: LayerContext, o: ProposalOps, s: ProposalSettings, v: DecodeValues): { boxes: string; scores: string } {
  const { op, ints64, axis0, column } = o, a = v.anchors, A = anchorsOf(s).length / 4;
  // The objects' scores (channels A to 2A) and the deltas in (h, w, a) order: py-faster-rcnn's transpose((0, 2, 3, 1)).
  const objects = op('Slice', [v.cls, ints64('fg_from', [A]), ints64('fg_to', [2 * A]), o.axis1], 'fg');
  const scores = op('Reshape', [op('Transpose', [objects], 'fg_hwa', { perm: ints([0, 2, 3, 1]) }), ints64('scores_shape', [v.rows])], 'scores');
  const d = op('Reshape', [op('Transpose', [v.deltas], 'deltas_hwa', { perm: ints([0, 2, 3, 1]) }), ints64('deltas_shape', [v.rows, 4])], 'deltas');
  // bbox_transform_inv: the anchors' sizes and centres given, the rest its float32 steps.
  const centre = (i: number, size: () => string, mid: () => string, what: string) => op('Add', [op('Mul', [column(d, i, `d${what}`), size()], `${what}_moved`), mid()], `${what}_centre`);
  const extent = (i: number, size: () => string, what: string) => op('Mul', [op('Mul', [op('Exp', [column(d, i, `d${what}_log`)], `${what}_scale`), size()], `${what}_len`), c.b.scalar(0.5)], `${what}_half`);
  const [cx, cy] = [centre(0, a.widths, a.cx, 'x'), centre(1, a.heights, a.cy, 'y')];
  const [hw, hh] = [extent(2, a.extentW, 'w'), extent(3, a.extentH, 'h')];
  // clip_boxes against im_info's height and width (less one), then _filter_boxes' min_size times its scale.
  const part = (i: number, what: string) => op('Slice', [v.info, ints64(`${what}_from`, [i]), ints64(`${what}_to`, [i + 1]), axis0], what);
  const limitX = op('Sub', [part(1, 'im_w'), c.b.scalar(1)], 'max_x'), limitY = op('Sub', [part(0, 'im_h'), c.b.scalar(1)], 'max_y');
  const clip = (x: string, limit: string, what: string) => op('Max', [op('Min', [x, limit], `${what}_under`), c.b.scalar(0)], what);
  const x1 = clip(op('Sub', [cx, hw], 'x1_raw'), limitX, 'x1'), y1 = clip(op('Sub', [cy, hh], 'y1_raw'), limitY, 'y1');
  const x2 = clip(op('Add', [cx, hw], 'x2_raw'), limitX, 'x2'), y2 = clip(op('Add', [cy, hh], 'y2_raw'), limitY, 'y2');
  const boxes = op('Concat', [x1, y1, x2, y2], 'boxes', { axis: int(1) });
  const minSize = op('Mul', [part(2, 'im_scale'), c.b.scalar(s.minSize)], 'min_size');
  const side = (lo: string, hi: string, what: string) => op('GreaterOrEqual', [op('Add', [op('Sub', [hi, lo], `${what}_span`), c.b.scalar(1)], `${what}_side`), minSize], `${what}_big`);
  const sized = op('And', [side(x1, x2, 'w'), side(y1, y2, 'h')], 'big2');
  const big = op('Reshape', [s.fork && s.fork.scoreThresh > 0 ? op('And', [sized, confident(c, s.fork.scoreThresh, scores, A, v.rows)], 'big_confident') : sized, ints64('keep_shape', [v.rows])], 'big');
  return { boxes: op('Compress', [boxes, big], 'kept_boxes', { axis: int(0) }), scores: op('Compress', [scores, big], 'kept_scores', { axis: int(0) }) };
}

/**
 * Steps 4 to 8 of ProposalLayer.forward as ONNX (selectProposals'): argsort()[::-1][:pre_nms_topN] a TopK, the best
 * first; py_cpu_nms a NonMaxSuppression of the boxes one pixel larger; post_nms_topN (or `most`) its
 * max_output_boxes_per_class. Returns the rows (R, 4) and their scores (R), R at run time.
 */
export function selectToOnnx(c: LayerContext, o: ProposalOps, s: ProposalSettings, kept: { boxes: string; scores: string }, most: number): { rows: string; scores: string } {
  const { op, ints64, axis0, column } = o;
  const count = op('Shape', [kept.scores], 'kept_count');
  const k = s.preNms > 0 ? op('Min', [count, ints64('pre_nms', [s.preNms])], 'pre_nms_count') : count;
  const best = c.tmp('best'), order = c.tmp('order');
  // FrcnnProposal's std::sort of (score, index) pairs takes equal scores the later box first: TopK (equal values, the
  // lower index first) runs on the boxes reversed, and NonMaxSuppression takes its ties in TopK's order.
  const reversed = (x: string, what: string) => op('Slice', [x, ints64('last', [-1]), ints64('before_first', [-(2 ** 63)]), axis0, ints64('back', [-1])], what);
  const [scores, boxes] = s.fork ? [reversed(kept.scores, 'scores_reversed'), reversed(kept.boxes, 'boxes_reversed')] : [kept.scores, kept.boxes];
  c.node('TopK', [scores, k], [best, order], { axis: int(0), largest: int(1), sorted: int(1) });
  const candidates = op('Gather', [boxes, order], 'candidates', { axis: int(0) });
  if (!s.nms) return { rows: candidates, scores: best }; // SSH's: the TopK's boxes as they are
  // py_cpu_nms: areas and overlaps of (x2 - x1 + 1) sides, which ONNX's plain IoU gives for boxes one pixel larger.
  const grown = op('Add', [candidates, c.b.floats(`${c.layer.name}/one_pixel`, Float32Array.of(0, 0, 1, 1), [1, 4])], 'nms_boxes');
  const selected = op('NonMaxSuppression', [
    op('Unsqueeze', [grown, axis0], 'nms_boxes_1'), op('Reshape', [best, ints64('nms_scores_shape', [1, 1, -1])], 'nms_scores'),
    ints64('post_nms', [s.postNms > 0 ? s.postNms : most]), c.b.floats(`${c.layer.name}/iou`, Float32Array.of(s.nmsThresh), [1]),
  ], 'selected');
  const picked = op('Reshape', [column(selected, 2, 'selected_box'), ints64('picked_shape', [-1])], 'picked');
  return { rows: op('Gather', [candidates, picked], 'rows', { axis: int(0) }), scores: op('Gather', [best, picked], 'row_scores', { axis: int(0) }) };
}

/** Rows [0, x1, y1, x2, y2] of the boxes `rows` (R, 4) as `out` (image 0; the boxes are finite: clipped). */
export function roisToOnnx(c: LayerContext, o: ProposalOps, rows: string, out: string): void {
  const image = o.op('Mul', [o.column(rows, 0, 'row_x1'), c.b.scalar(0)], 'image');
  c.node('Concat', [image, rows], [out], { axis: int(1) });
}

/**
 * FrcnnProposal's test_rpn_score_thresh as a [K, 1] mask: a score at or above it, or anchor 0 of its place (the fork
 * keeps those whatever their score: their threshold here is -Infinity). K fixed: not size-free.
 */
function confident(c: LayerContext, thresh: number, scores: string, A: number, K: number): string {
  const limits = c.b.floats(`${c.layer.name}/score_thresh`, Float32Array.from({ length: K }, (_, k) => (k % A === 0 ? -Infinity : thresh)), [K, 1]);
  const column = c.node('Reshape', [scores, c.b.int64s(`${c.layer.name}/score_column`, [-1, 1])], [c.tmp('score_column')]);
  return c.node('GreaterOrEqual', [column, limits], [c.tmp('confident')]);
}

/** The anchors' sizes and centres as the decoding reads them ([K, 1] values), each made when first read (the model's order). */
export interface AnchorValues {
  widths: () => string;
  heights: () => string;
  cx: () => string;
  cy: () => string;
  extentW: () => string;
  extentH: () => string;
}

/** anchorConstants as initializers: the sizes twice (as the centres' step and the extents'), as ever. */
function anchorValues(c: LayerContext, a: ReturnType<typeof anchorConstants>, constant: (what: string, v: Float32Array) => string): AnchorValues {
  return {
    widths: () => constant('x_size', a.widths), heights: () => constant('y_size', a.heights),
    cx: () => constant('x_mid', a.cx), cy: () => constant('y_mid', a.cy),
    extentW: () => constant('w_extent', a.widths), extentH: () => constant('h_extent', a.heights),
  };
}

/**
 * Whether anchorConstants' float32 sums are exact (every anchor corner on a half pixel, an integer stride: py-faster-
 * rcnn's anchors), so that the same float32 steps computed at run time give its values bit for bit.
 */
export function anchorsOnHalfPixels(s: ProposalSettings): boolean {
  return Number.isInteger(s.featStride) && anchorsOf(s).every((v) => Number.isInteger(2 * v) && Math.abs(v) < 2 ** 20);
}

/**
 * anchorConstants for every map size (ConvertOptions.anySize), its float32 steps at run time: the shifts w * stride
 * and h * stride from Ranges over the Shape of `value` (the scores; FPN's: the scores cropped to the image), each
 * anchor's corners added (x over (1, W, A), y over (H, 1, A)), then widths, heights and centres broadcast to
 * (H, W, A) and flattened to [K, 1] in (h, w, a) order.
 */
export function anchorsOverShape(c: LayerContext, s: ProposalSettings, value: string): AnchorValues {
  const n = c.layer.name, anchors = anchorsOf(s), A = anchors.length / 4;
  const node = (type: string, inputs: string[], what: string, attrs?: Record<string, Attr>) => c.node(type, inputs, [c.tmp(what)], attrs);
  const corner = (i: number, dims: number[]) => c.b.floats(`${n}/anchor_${i}`, Float32Array.from({ length: A }, (_, a) => anchors[4 * a + i]), dims);
  const { shifts, rows: flat } = runtimeGrid(c, value, s.featStride, A);
  const axis = (i: number, dims: number[], shiftDims: number[], what: string) => {
    const shift = shifts(3 - i, shiftDims, what); // x along the width (axis 3), y the height
    const lo = node('Add', [shift, corner(i, dims)], `${what}1`), hi = node('Add', [shift, corner(i + 2, dims)], `${what}2`);
    const size = node('Add', [node('Sub', [hi, lo], `${what}_span`), c.b.scalar(1)], `${what}_size_grid`);
    const mid = node('Add', [lo, node('Mul', [size, c.b.scalar(0.5)], `${what}_half_size`)], `${what}_mid_grid`);
    const sizes = flat(size, `${what}_size`);
    return { size: () => sizes, mid: () => flat(mid, `${what}_mid`) };
  };
  const x = axis(0, [1, 1, A], [1, -1, 1], 'x'), y = axis(1, [1, 1, A], [-1, 1, 1], 'y');
  return { widths: x.size, heights: y.size, cx: x.mid, cy: y.mid, extentW: x.size, extentH: y.size };
}

/** The anchors' widths, heights and centres over a height x width map, (h, w, a) order, as [K, 1] float32 constants. */
function anchorConstants(s: ProposalSettings, height: number, width: number): { widths: Float32Array; heights: Float32Array; cx: Float32Array; cy: Float32Array } {
  const anchors = anchorsOf(s), A = anchors.length / 4, K = height * width * A;
  const widths = new Float32Array(K), heights = new Float32Array(K), cx = new Float32Array(K), cy = new Float32Array(K);
  for (let h = 0, k = 0; h < height; h++)
    for (let w = 0; w < width; w++)
      for (let a = 0; a < A; a++, k++) {
        const x1 = f32(anchors[4 * a] + w * s.featStride), y1 = f32(anchors[4 * a + 1] + h * s.featStride);
        const x2 = f32(anchors[4 * a + 2] + w * s.featStride), y2 = f32(anchors[4 * a + 3] + h * s.featStride);
        widths[k] = f32(f32(x2 - x1) + 1);
        heights[k] = f32(f32(y2 - y1) + 1);
        cx[k] = f32(x1 + f32(0.5 * widths[k]));
        cy[k] = f32(y1 + f32(0.5 * heights[k]));
      }
  return { widths, heights, cx, cy };
}

/**
 * Forks reuse py-faster-rcnn's module name for their own proposal layers (unsky/FPN's rpn.proposal_layer takes
 * im_info and five levels' deltas and scores: 11 bottoms, built in as fpn_proposal.ts): one with another bottom count
 * is not a layer crema has built in, and can only run as a plugin.
 */
function notAnotherProposal(def: LayerParameter): void {
  const n = def.bottom?.length ?? 0;
  if (def.type !== 'Python' || n === 3) return;
  const p = def.python_param as { module?: string; layer?: string } | undefined;
  const key = `${p?.module}.${p?.layer}`;
  throw new LayerError(def, `${key} with ${n} bottoms is not py-faster-rcnn's proposal layer (3 bottoms: scores, deltas, im_info), which crema builds in, but a fork's own (FPN's, with 11, crema builds in too); crema cannot run Python layers: register a plugin of type '${key}', given in options.plugins (or registerLayer)`);
}

/** The Python layers crema builds in, by `module.layer`, and what it says when it uses one. */
export const builtInPythonLayers = new Map<string, { type: LayerType; note: (def: LayerParameter) => string }>([
  ['rpn.proposal_layer.ProposalLayer', {
    type: proposalLayer,
    note: (def) => `layer '${def.name}': the Python layer rpn.proposal_layer.ProposalLayer runs as crema's built-in Proposal (as OpenCV does), with py-faster-rcnn's TEST settings: pre_nms_topN 6000, post_nms_topN 300, NMS 0.7, min_size 16`,
  }],
  [`${SSH_MODULE}.ProposalLayer`, {
    type: proposalLayer,
    note: (def) => `layer '${def.name}': the Python layer ${SSH_MODULE}.ProposalLayer (SSH's) runs as crema's built-in Proposal with SSH's TEST settings: the 1000 best boxes (N_DETS_PER_MODULE), min_size 0, no NMS (SSH's test runs it after the net)`,
  }],
  ['layers.text_proposal_layer.ProposalLayer', {
    type: textProposalLayer,
    note: (def) => `layer '${def.name}': the Python layer layers.text_proposal_layer.ProposalLayer (CTPN's) runs as crema's built-in copy of it: every anchor's box and score, no threshold or NMS (CTPN does those after the net)`,
  }],
]);
