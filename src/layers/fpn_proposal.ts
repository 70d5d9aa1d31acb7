import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { shapeString, sizeOf } from '../tensor.js';
import { LayerError, type LayerType, expectCounts, need } from './layer.js';
import { type ProposalSettings, anchorsOf, checkImInfo, decodeMap, selectProposals } from './proposal.js';
import { asRoisLayer, asRoisMergeLayer, noOnnx } from './as_rois.js';

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
    const levels = stridesOf(def).map((stride) => ({ stride, s: { ...FPN_TEST, featStride: stride, baseSize: stride }, bottom: Math.log2(stride) - 1 }));
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
  onnx: (c) => noOnnx(c.layer.def),
};

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
