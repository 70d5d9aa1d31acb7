import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { shapeString, sizeOf } from '../tensor.js';
import { LayerError, type LayerType, expectCounts, need } from './layer.js';
import { int } from '../onnx/builder.js';
import type { LayerContext } from '../onnx/context.js';
import { type ProposalSettings, TIES_NOTE, anchorsOf, anchorsOnHalfPixels, anchorsOverShape, checkImInfo, decodeMap, decodeToOnnx, proposalOps, roisToOnnx, selectProposals, selectToOnnx } from './proposal.js';
import { asRoisLayer, asRoisMergeLayer } from './as_rois.js';

/**
 * unsky/FPN's lib/rpn/proposal_layer.py (a096edb) at TEST, with its lib/fast_rcnn/config.py: anchors of
 * generate_anchors(base_size = the level's stride, ratios FPNRATIOS [0.5, 1, 2], scales FPNRSCALES [16, 32]),
 * min_size 16 (its own, not cfg's), cfg.TEST's RPN_PRE_NMS_TOP_N 6000, RPN_POST_NMS_TOP_N 1000, RPN_NMS_THRESH 0.7.
 */
const FPN_TEST: Omit<ProposalSettings, 'featStride' | 'baseSize'> = { minSize: 16, ratios: [0.5, 1, 2], scales: [16, 32], preNms: 6000, postNms: 1000, nmsThresh: 0.7, nms: true };
/** Its strides and the bottoms they read: bbox_pred_dict and cls_prob_dict (stride 4 the deltas of bottom 1, scores of 6). */
const STRIDES = [4, 8, 16, 32, 64];
const MODULE = 'rpn.proposal_layer.ProposalLayer';

/** feat_stride of FPN's param_str: "'feat_stride': 4,8,16,32,64" (YAML reads it as a string, the layer splits it at commas). */
function stridesOf(def: LayerParameter): number[] {
  const text = paramsOf<{ param_str: string }>(def, 'python_param').param_str;
  const m = /^\s*['"]?feat_stride['"]?\s*:\s*['"]?([\d\s,]+?)['"]?\s*$/.exec(text);
  const strides = m ? m[1].split(',').map(Number) : [];
  need(def, strides.length > 0 && strides.every((s) => STRIDES.includes(s)), `param_str '${text}': FPN's proposal layer reads one thing, 'feat_stride': a list of strides among ${STRIDES.join(',')} (its bottoms are the levels of those strides)`);
  return strides;
}

/** The levels of the layer's feat_stride: each one's stride, its Proposal settings, and its bottom of deltas (its scores' is 5 on). */
const levelsOf = (def: LayerParameter) => stridesOf(def).map((stride) => ({ stride, s: { ...FPN_TEST, featStride: stride, baseSize: stride }, bottom: Math.log2(stride) - 1 }));

/**
 * unsky/FPN's multi-level region proposals (rpn.proposal_layer.ProposalLayer with 11 bottoms), built in. Bottoms:
 * im_info, the RPN's deltas (1, 24, H, W) of strides 4 to 64, then its class probabilities (1, 12, H, W) of the same.
 * Per stride of feat_stride: its six anchors over the image's int(im_info / stride) rows and columns of the map
 * (_clip_pad), decoded, clipped, the boxes under 16 · scale dropped; then all levels together as py-faster-rcnn's:
 * the 6000 best, NMS 0.7, the first 1000. Top: (1000, 5) rows [0, x1, y1, x2, y2]: fewer boxes left are padded to
 * 1000 rows with copies of them (FPN's own with npr.choice, random copies; crema's the kept rows again in order).
 */
export const fpnProposalLayer: LayerType = {
  type: MODULE,
  create(def) {
    expectCounts(def, [11, 11], [1, 1]);
    const levels = levelsOf(def);
    const A = anchorsOf(levels[0].s).length / 4;
    return {
      reshape(shapes) {
        need(def, sizeOf(shapes[0]) >= 3, () => `bottom[0] must hold im_info (height, width, scale), got ${shapeString(shapes[0])}`);
        for (const { stride, bottom } of levels) {
          const [deltas, cls] = [shapes[bottom], shapes[bottom + 5]];
          need(def, cls.length === 4 && cls[0] === 1 && cls[1] === 2 * A, () => `bottom[${bottom + 5}] (stride ${stride}) must be (1, ${2 * A}, H, W): background and object scores of ${A} anchors, got ${shapeString(cls)}`);
          need(def, deltas.length === 4 && deltas[0] === 1 && deltas[1] === 4 * A && deltas[2] === cls[2] && deltas[3] === cls[3], () => `bottom[${bottom}] (stride ${stride}) must be (1, ${4 * A}, ${cls[2]}, ${cls[3]}): 4 deltas per anchor, got ${shapeString(deltas)}`);
        }
        return [[FPN_TEST.postNms, 5]];
      },
      forward(bottoms, [rois]) {
        const info = bottoms[0].data;
        checkImInfo(def, info);
        // Every level's boxes, scores and kept rows one after another: np.vstack of the levels' kept ones.
        const all = levels.map(({ stride, s, bottom }) => {
          const [deltas, cls] = [bottoms[bottom], bottoms[bottom + 5]], [, , height, width] = cls.dims;
          const rows = Math.trunc(info[0] / stride), cols = Math.trunc(info[1] / stride);
          need(def, rows <= height && cols <= width, () => `im_info's image ${info[0]} x ${info[1]} is ${rows} x ${cols} cells of stride ${stride}, more than its map's ${height} x ${width} (FPN's layer reads that many)`);
          return decodeMap(s, cls.data, deltas.data, { height, width, rows, cols }, info);
        });
        const count = all.reduce((n, l) => n + l.score.length, 0);
        need(def, count > 0, () => `im_info's image ${info[0]} x ${info[1]} has no cell at any stride (${levels.map((l) => l.stride).join(',')})`);
        const boxes = new Float32Array(4 * count), score = new Float32Array(count), keep: number[] = [];
        for (let i = 0, at = 0; i < all.length; at += all[i++].score.length) {
          boxes.set(all[i].boxes, 4 * at);
          score.set(all[i].score, at);
          for (const k of all[i].keep) keep.push(at + k);
        }
        const p = selectProposals(levels[0].s, boxes, score, keep), n = p.scores.length;
        // FPN's npr.choice of an empty keep raises: no tops at all.
        if (n === 0) throw new LayerError(def, `no proposal is left: every box is smaller than min_size ${FPN_TEST.minSize} x im_info's scale ${info[2]} (the image is ${info[0]} x ${info[1]})`);
        for (let i = 0; i < FPN_TEST.postNms; i++) rois.data.set([0, ...p.boxes.subarray(4 * (i % n), 4 * (i % n) + 4)], 5 * i);
      },
    };
  },
  onnx: fpnProposalToOnnx,
  onnxRunFailure: noProposalLeft,
};

/**
 * ONNX Runtime's Gather of the kept rows over none (the 1000 rows' index 0 in an empty range): the forward's "no
 * proposal is left" (or its im_info refusals, which the graph does not check: they leave no box either).
 */
function noProposalLeft(def: LayerParameter, status: string): string | undefined {
  if (!/^indices element out of data bounds, idx=\d+ must be within the inclusive range \[0,-1\]/.test(status)) return undefined;
  return `no proposal is left (at run time, in ONNX Runtime): every box is smaller than min_size ${FPN_TEST.minSize} x im_info's scale, or im_info's image has no cell at any stride (${stridesOf(def).join(',')}) or is no image's size and finite scale; FPN's own layer raises there too (npr.choice of no rows)`;
}

/**
 * FPN's proposal as ONNX, its forward's steps: per stride, the scores and deltas cropped by a Slice to the
 * int(im_info / stride) rows and columns (_clip_pad, at run time: Div, Floor, Cast), the anchors over the cropped map
 * (anchorsOverShape), Proposal's decode of it (decodeToOnnx); the levels' boxes and scores Concat'ed (np.vstack),
 * Proposal's TopK and NMS (selectToOnnx); the R rows kept then repeated in order to 1000 (Gather of Range mod R), as
 * crema's forward pads them.
 */
function fpnProposalToOnnx(c: LayerContext): void {
  const levels = levelsOf(c.layer.def), o = proposalOps(c), { op, ints64 } = o;
  c.note(`${TIES_NOTE}; fewer than ${FPN_TEST.postNms} rows are padded with the kept ones again in order (FPN's own: random copies of them); an im_info beyond a map reads the whole map (crema's forward refuses it); no row left (every box under min_size, or a bad im_info) fails at run time with crema's "no proposal is left" line`);
  const info = op('Reshape', [c.bottom(0), ints64('info_shape', [-1])], 'im_info');
  const size = op('Relu', [op('Slice', [info, ints64('size_from', [0]), ints64('size_to', [2]), o.axis0], 'im_size')], 'im_extent');
  const [from, axes] = [ints64('crop_from', [0, 0]), ints64('crop_axes', [2, 3])];
  const kept = levels.map(({ stride, s, bottom }) => {
    if (!anchorsOnHalfPixels(s)) throw new LayerError(c.layer.def, `stride ${stride}: its anchors are not on half pixels, which the ONNX form's run-time grid needs`);
    const cells = op('Cast', [op('Floor', [op('Div', [size, c.b.scalar(stride)], `cells_${stride}`)], `cells_${stride}_int`)], `crop_${stride}`, { to: int(7) }); // INT64
    const crop = (x: string, what: string) => op('Slice', [x, from, cells, axes], `${what}_${stride}`);
    const cls = crop(c.bottom(bottom + 5), 'cls');
    return decodeToOnnx(c, o, s, { cls, deltas: crop(c.bottom(bottom), 'deltas'), info, anchors: anchorsOverShape(c, s, cls), rows: -1 });
  });
  const joined = (part: 'boxes' | 'scores') => op('Concat', kept.map((k) => k[part]), `all_${part}`, { axis: int(0) });
  const { rows } = selectToOnnx(c, o, levels[0].s, { boxes: joined('boxes'), scores: joined('scores') }, FPN_TEST.postNms);
  // Row i of the 1000 is kept row i mod R; R at least 1 (R = 0: ONNX Runtime's Gather refuses index 0, not a Mod by 0).
  const count = op('Max', [op('Slice', [op('Shape', [rows], 'rows_shape'), ints64('count_from', [0]), ints64('count_to', [1]), o.axis0], 'rows_count'), ints64('one', [1])], 'rows_divisor');
  const again = op('Mod', [ints64('pad_rows', Array.from({ length: FPN_TEST.postNms }, (_, i) => i)), count], 'pad_index');
  roisToOnnx(c, o, op('Gather', [rows, again], 'padded', { axis: int(0) }), c.top(0));
}

/** The note of a Python layer crema runs as FPN's. */
const noteOf = (def: LayerParameter, key: string, what: string) => `layer '${def.name}': the Python layer ${key} (unsky/FPN's) runs as crema's built-in copy of it: ${what}`;

/**
 * unsky/FPN's Python layers crema builds in, by `module.layer` (its proposal layer by its 11 bottoms too: the module
 * name is py-faster-rcnn's), and what loading says of each.
 */
export function fpnPythonLayer(def: LayerParameter, key: string): { type: LayerType; note: (def: LayerParameter) => string } | undefined {
  if (key === MODULE && def.bottom?.length === 11)
    return { type: fpnProposalLayer, note: (d) => noteOf(d, key, `the levels' proposals together, cfg.TEST's pre_nms_topN 6000, NMS 0.7, post_nms_topN 1000, min_size 16; fewer boxes are padded to 1000 rows with the kept ones again in order (FPN's own pads with random copies of them)`) };
  if (key === asRoisLayer.type) return { type: asRoisLayer, note: (d) => noteOf(d, key, 'each roi to level 2 to 5 by floor(4 + log2(sqrt(wh) / 224)), 1000 rows per level (cfg.TEST.RPN_POST_NMS_TOP_N), zero rows after its own') };
  if (key === asRoisMergeLayer.type) return { type: asRoisMergeLayer, note: (d) => noteOf(d, key, 'each roi to level 2 to 5 by floor(4 + log2(sqrt(wh) / 224)), each level its rows (4 zero rows for a level of none)') };
  return undefined;
}
