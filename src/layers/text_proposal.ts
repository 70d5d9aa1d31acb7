import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { int, ints } from '../onnx/builder.js';
import { type LayerContext, runtimeGrid } from '../onnx/context.js';
import { shapeString, sizeOf } from '../tensor.js';
import { type LayerType, LayerError, expectCounts, need } from './layer.js';

/**
 * CTPN's anchors per feature-map cell (tianzhi0549/CTPN src/anchor.py, run by Python 2.7 as CTPN requires): 16
 * wide, these heights, centred on the 16 x 16 cell's (7.5, 7.5) with Python 2's integer h / 2 and w / 2, stored in
 * int32 (truncated toward zero): x from 0 to 15, y from 2 to 12 for the 11-high anchor, 0 to 15 for 16, -3 to 18
 * for 23, and so on.
 */
const HEIGHTS = [11, 16, 23, 33, 48, 68, 97, 139, 198, 283];
const A = HEIGHTS.length;
const int32 = (v: number) => Math.trunc(v) | 0; // numpy's float to int32: toward zero (and +0)
const ANCHOR_X = [int32(7.5 - 8), int32(7.5 + 8)];
const ANCHOR_Y = HEIGHTS.map((h) => [int32(7.5 - Math.floor(h / 2)), int32(7.5 + Math.floor(h / 2))]);

/** param_str "'feat_stride': 16", the only key CTPN's layer reads. */
function featStride(def: LayerParameter): number {
  const text = paramsOf<{ param_str: string }>(def, 'python_param').param_str;
  const keys = [...text.matchAll(/['"]?(\w+)['"]?\s*:\s*([-+\d.eE]+)/g)];
  for (const m of keys) if (m[1] !== 'feat_stride') throw new LayerError(def, `param_str '${text}': CTPN's proposal layer does not know '${m[1]}' (it reads feat_stride)`);
  const stride = Number(keys.find((m) => m[1] === 'feat_stride')?.[2]);
  need(def, Number.isInteger(stride) && stride > 0, () => `param_str '${text}' needs a whole feat_stride > 0`);
  return stride;
}

/** Every anchor's corners, in CTPN's order (row y, column x, anchor k), as float32 columns. */
function anchors(height: number, width: number, stride: number): { x1: Float32Array; x2: Float32Array; yc: Float32Array; h: Float32Array } {
  const n = height * width * A;
  const out = { x1: new Float32Array(n), x2: new Float32Array(n), yc: new Float32Array(n), h: new Float32Array(n) };
  for (let y = 0, i = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let k = 0; k < A; k++, i++) {
        const [top, bottom] = ANCHOR_Y[k];
        out.x1[i] = x * stride + ANCHOR_X[0];
        out.x2[i] = x * stride + ANCHOR_X[1];
        out.yc[i] = (2 * y * stride + top + bottom) / 2; // halves: exact in float32
        out.h[i] = bottom - top + 1;
      }
  return out;
}

/**
 * CTPN's text proposals: its Python layer layers.text_proposal_layer.ProposalLayer, built in. Bottoms: the
 * reshaped class probabilities (1, 20, H, W), the vertical deltas (1, 20, H, W), im_info (height, width, ...).
 * Tops: every anchor's box (H · W · 10, 4) [x1, y1, x2, y2], and its text score (H · W · 10, 1), rows ordered by
 * row, column, anchor. Each box keeps its anchor's x and takes its height and centre from the deltas (dy, dh):
 * h = e^dh · anchor height, y1 = dy · anchor height + anchor centre − h / 2, y2 = y1 + h (numpy's float64, stored
 * as float32), then clipped to the image. No threshold or NMS: CTPN's Python code does that after the net.
 */
export const textProposalLayer: LayerType = {
  type: 'layers.text_proposal_layer.ProposalLayer',
  create(def) {
    expectCounts(def, [3, 3], [2, 2]);
    const stride = featStride(def);
    let boxes = anchors(0, 0, stride);
    return {
      reshape([cls, deltas, info]) {
        need(def, cls.length === 4 && cls[0] === 1 && cls[1] === 2 * A, () => `bottom[0] must be (1, ${2 * A}, H, W): the text / non-text scores of ${A} anchors (one image: CTPN's layer asserts it), got ${shapeString(cls)}`);
        need(def, deltas.length === 4 && deltas[0] === 1 && deltas[1] === 2 * A && deltas[2] === cls[2] && deltas[3] === cls[3], () => `bottom[1] must be (1, ${2 * A}, ${cls[2]}, ${cls[3]}): dy and dh per anchor, got ${shapeString(deltas)}`);
        need(def, sizeOf(info) >= 2, () => `bottom[2] must hold im_info (height, width), got ${shapeString(info)}`);
        boxes = anchors(cls[2], cls[3], stride);
        const n = cls[2] * cls[3] * A;
        return [[n, 4], [n, 1]];
      },
      forward([cls, deltas, info], [rois, scores]) {
        const plane = cls.dims[2] * cls.dims[3], f = Math.fround;
        const maxY = f(info.data[0] - 1), maxX = f(info.data[1] - 1);
        const clip = (v: number, max: number) => Math.max(Math.min(v, max), 0);
        for (let p = 0, i = 0; p < plane; p++)
          for (let k = 0; k < A; k++, i++) {
            scores.data[i] = cls.data[(A + k) * plane + p];
            const dy = deltas.data[2 * k * plane + p], dh = deltas.data[(2 * k + 1) * plane + p];
            const h = f(f(Math.exp(dh)) * boxes.h[i]);
            const y1 = f(dy * boxes.h[i] + boxes.yc[i] - h / 2);
            rois.data.set([clip(boxes.x1[i], maxX), clip(y1, maxY), clip(boxes.x2[i], maxX), clip(f(y1 + h), maxY)], 4 * i);
          }
      },
    };
  },
  onnx: textProposalToOnnx,
};

/**
 * The same arithmetic over all anchors at once, in float32: the anchors as constants, or with ConvertOptions.anySize
 * from the map's Shape (anchorsAtRunTime) and the rows' count inferred (-1).
 */
function textProposalToOnnx(c: LayerContext): void {
  const { layer } = c, [, , height, width] = layer.bottomShapes[0], n = height * width * A;
  const name = (what: string) => `${layer.name}/${what}`;
  const column = c.anySize ? anchorsAtRunTime(c) : anchorConstants(c, anchors(height, width, featStride(layer.def)), n);
  const rows = c.anySize ? -1 : n;
  const nhwc = (i: number, what: string, cols: number) =>
    c.node('Reshape', [c.node('Transpose', [c.bottom(i)], [c.tmp(`${what}_nhwc`)], { perm: ints([0, 2, 3, 1]) }), c.b.int64s(name(`${what}_rows`), [rows, cols])], [c.tmp(what)]);
  const slice = (x: string, from: number, to: number, axis: number, what: string) =>
    c.node('Slice', [x, c.b.int64s(name(`${what}_from`), [from]), c.b.int64s(name(`${what}_to`), [to]), c.b.int64s(name(`${what}_axis`), [axis])], [c.tmp(what)]);
  const op = (kind: string, inputs: string[], what: string) => c.node(kind, inputs, [c.tmp(what)]);
  // Scores: channels 10 to 19, one row per anchor.
  const text = slice(c.bottom(0), A, 2 * A, 1, 'text');
  c.node('Reshape', [c.node('Transpose', [text], [c.tmp('text_nhwc')], { perm: ints([0, 2, 3, 1]) }), c.b.int64s(name('score_rows'), [rows, 1])], [c.top(1)]);
  const d = nhwc(1, 'deltas', 2);
  const dy = slice(d, 0, 1, 1, 'dy'), dh = slice(d, 1, 2, 1, 'dh');
  const ah = column('anchor_h');
  const h = op('Mul', [op('Exp', [dh], 'exp_dh'), ah], 'h');
  const y1 = op('Sub', [op('Add', [op('Mul', [dy, ah], 'dy_h'), column('anchor_yc')], 'centre'), op('Mul', [h, c.b.scalar(0.5)], 'half_h')], 'y1');
  const raw = c.node('Concat', [column('x1'), y1, column('x2'), op('Add', [y1, h], 'y2')], [c.tmp('boxes')], { axis: int(1) });
  // Clipped to [0, width - 1] and [0, height - 1] from im_info (height, width): the limits per column x1 y1 x2 y2.
  const size = slice(c.node('Reshape', [c.bottom(2), c.b.int64s(name('info_row'), [1, -1])], [c.tmp('info')]), 0, 2, 1, 'size');
  const limits = c.node('Gather', [op('Sub', [size, c.b.scalar(1)], 'last'), c.b.int64s(name('xyxy'), [1, 0, 1, 0])], [c.tmp('limits')], { axis: int(1) });
  c.node('Max', [op('Min', [raw, limits], 'below'), c.b.scalar(0)], [c.top(0)]);
}

type AnchorColumn = 'x1' | 'x2' | 'anchor_yc' | 'anchor_h';

/** Each anchor column as an (n, 1) constant, made when first asked for. */
function anchorConstants(c: LayerContext, boxes: ReturnType<typeof anchors>, n: number): (what: AnchorColumn) => string {
  const data = { x1: boxes.x1, x2: boxes.x2, anchor_yc: boxes.yc, anchor_h: boxes.h };
  return (what) => c.b.floats(`${c.layer.name}/${what}`, data[what], [n, 1]);
}

/**
 * Each anchor column over the (H, W, 10) grid the map has at run time, flattened to (n, 1) in anchors()' order:
 * x1 and x2 the column's x · stride plus the anchor's, the centre y · stride plus the anchor's (top + bottom) / 2
 * (anchors()' (2 y stride + top + bottom) / 2, the same float32), the height the anchor's. Exact: whole numbers and
 * halves.
 */
function anchorsAtRunTime(c: LayerContext): (what: AnchorColumn) => string {
  const stride = featStride(c.layer.def), name = (what: string) => `${c.layer.name}/${what}`;
  const { shifts, rows } = runtimeGrid(c, c.bottom(0), stride, A);
  const perAnchor = (what: string, v: number[]) => c.b.floats(name(what), Float32Array.from(v), [1, 1, A]);
  let xs: string | undefined; // the columns' x · stride, made once for x1 and x2
  return (what) => {
    if (what === 'anchor_h') return rows(perAnchor('anchor_heights', ANCHOR_Y.map(([top, bottom]) => bottom - top + 1)), what);
    if (what === 'anchor_yc') return rows(c.node('Add', [shifts(2, [-1, 1, 1], 'y'), perAnchor('anchor_centres', ANCHOR_Y.map(([top, bottom]) => (top + bottom) / 2))], [c.tmp('yc')]), what);
    return rows(c.node('Add', [(xs ??= shifts(3, [1, -1, 1], 'x')), c.b.scalar(ANCHOR_X[what === 'x1' ? 0 : 1])], [c.tmp(`${what}_x`)]), what);
  };
}
