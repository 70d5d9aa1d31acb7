// zhaoweicai/cascade-rcnn's proposal layers (Cascade R-CNN, MS-CNN): BoxGroupOutput turns the RPN's scores and
// box regressions into proposals, DecodeBBox moves each proposal by a stage's regression. Both restated from the
// fork's box_group_output_layer.cpp, decode_bbox_layer.cpp and util/bbox_util.cpp, in their float arithmetic.
import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { fail } from '../onnx/context.js';
import { type Shape, shapeString, sizeOf } from '../tensor.js';
import { partialSort } from '../util/partial-sort.js';
import { LayerError, type LayerType, keepRows, need } from './layer.js';

const f32 = Math.fround;

/** A box [xmin, ymin, xmax, ymax] and its score (bbox_util's BBox; MTCNN's rows too). */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
}

/** cascade-rcnn's bbox_util BBoxSize: pixel-inclusive area, 0 for an inverted box. */
export const boxSize = (x1: number, y1: number, x2: number, y2: number) => (x2 < x1 || y2 < y1 ? 0 : f32(f32(f32(x2 - x1) + 1) * f32(f32(y2 - y1) + 1)));

/**
 * bbox_util's JaccardOverlap, quirks kept: boxes that touch in y only (ymin = ymax of the intersection) do not
 * overlap, while in x they do; IOMU divides by the smaller box, IOFU by the first; otherwise IoU.
 */
function overlap(a: Box, b: Box, mode: string): number {
  if (a.x2 < a.x1 || a.y2 < a.y1 || b.x2 < b.x1 || b.y2 < b.y1) return 0;
  const ix1 = Math.max(a.x1, b.x1), iy1 = Math.max(a.y1, b.y1), ix2 = Math.min(a.x2, b.x2), iy2 = Math.min(a.y2, b.y2);
  const inter = ix1 > ix2 || iy1 >= iy2 ? 0 : f32(f32(f32(ix2 - ix1) + 1) * f32(f32(iy2 - iy1) + 1));
  const sa = boxSize(a.x1, a.y1, a.x2, a.y2), sb = boxSize(b.x1, b.y1, b.x2, b.y2);
  const union = mode === 'IOMU' ? Math.min(sa, sb) : mode === 'IOFU' ? sa : f32(f32(sa + sb) - inter);
  return union <= 0 ? 0 : f32(inter / union);
}

/** bbox_util's greedy ApplyNMS over boxes best first: a box over `thr` with a kept one goes. */
function applyNms(boxes: Box[], thr: number, mode: string): Box[] {
  const kept = new Uint8Array(boxes.length).fill(1);
  for (let i = 0; i < boxes.length; i++) {
    if (!kept[i]) continue;
    for (let j = i + 1; j < boxes.length; j++) if (kept[j] && overlap(boxes[i], boxes[j], mode) > thr) kept[j] = 0;
  }
  return boxes.filter((_, i) => kept[i]);
}

interface BBoxReg {
  mean: number[];
  std: number[];
}

/** bbox_reg_param's means and standard deviations (4 each, stds > 0), or 0 and 1 when either list is empty. */
function bboxReg(def: LayerParameter): BBoxReg {
  const p = (def.bbox_reg_param ?? {}) as { bbox_mean?: number[]; bbox_std?: number[] };
  const mean = p.bbox_mean ?? [], std = p.bbox_std ?? [];
  if (!mean.length || !std.length) return { mean: [0, 0, 0, 0], std: [1, 1, 1, 1] };
  need(def, mean.length === 4 && std.length === 4, () => `bbox_reg_param needs 4 bbox_mean and 4 bbox_std, got ${mean.length} and ${std.length}`);
  need(def, std.every((s) => s > 0), () => `bbox_reg_param's bbox_std must be positive, got ${std.join(', ')}`);
  return { mean: mean.map(f32), std: std.map(f32) };
}

interface Group {
  fieldW: number[];
  fieldH: number[];
  stride: number;
}

interface BoxGroupOutputParam {
  fg_thr: number;
  iou_thr: number;
  nms_type: string;
  box_group_param: { field_h?: number[]; field_w?: number[]; stride?: number }[];
  field_whr: number;
  field_xyr: number;
  max_nms_num: number;
  max_post_nms_num: number;
  min_size: number;
}

/**
 * The RPN's regressions of one scale as boxes (bbox_util's DecodeGroupBBoxes): for each of num x groups maps and
 * each cell, the deltas de-normalized, bounded to [-1/xyr, 1/xyr] and [log(1/whr), log(whr)], and applied to the
 * group's field (w, h) centred on the cell. Writes [x1, y1, x2, y2] planes into `out`.
 */
function decodeGroups(d: Float32Array, maps: number, g: Group, width: number, height: number, reg: BBoxReg, bounds: number[], out: Float32Array): void {
  const plane = width * height, [m0, m1, m2, m3] = reg.mean, [s0, s1, s2, s3] = reg.std;
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
  for (let i = 0; i < maps; i++) {
    const fw = g.fieldW[i % g.fieldW.length], fh = g.fieldH[i % g.fieldH.length];
    for (let s = 0; s < plane; s++) {
      const at = 4 * i * plane + s, h = Math.floor(s / width), w = s % width;
      let bx = clamp(f32(f32(d[at] * s0) + m0), bounds[0], bounds[1]);
      let by = clamp(f32(f32(d[at + plane] * s1) + m1), bounds[0], bounds[1]);
      let bw = clamp(f32(f32(d[at + 2 * plane] * s2) + m2), bounds[2], bounds[3]);
      let bh = clamp(f32(f32(d[at + 3 * plane] * s3) + m3), bounds[2], bounds[3]);
      bx = f32(f32(bx * fw) + f32(f32(w + 0.5) * g.stride));
      by = f32(f32(by * fh) + f32(f32(h + 0.5) * g.stride));
      bw = f32(fw * f32(Math.exp(bw)));
      bh = f32(fh * f32(Math.exp(bh)));
      bx = f32(bx - f32(bw / 2));
      by = f32(by - f32(bh / 2));
      out[at] = bx;
      out[at + plane] = by;
      out[at + 2 * plane] = f32(f32(bx + bw) - 1);
      out[at + 3 * plane] = f32(f32(by + bh) - 1);
    }
  }
}

/**
 * BoxGroupOutput (zhaoweicai/cascade-rcnn): proposals from one or more RPN scales. Bottoms: per scale its
 * probabilities (num x groups, C, H, W: channel 0 the background's) and regressions (num x groups, 4, H, W);
 * box_group_param per scale: each group's field (field_w, field_h) and the scale's stride. Each cell of each group
 * whose foreground score (1 - background) reaches fg_thr gives a box, clipped to the map's image (W x stride,
 * H x stride, the far edge itself), kept when both sides (+1) reach min_size; per image the best max_nms_num by
 * score, greedy NMS at iou_thr (nms_type IOU, IOMU or IOFU), the first max_post_nms_num kept. Tops: (R, 5, 1, 1)
 * rows [image, x1, y1, x2, y2] and optionally (R, 6, 1, 1) with the score; R is what survives, as in the fork (the
 * net shapes the layers after it again); none at all gives the fork's one placeholder row [0, 1, 1, 10, 10] (and
 * zeros). Boxes of equal score are ordered as the fork's std::partial_sort (libstdc++'s) leaves them.
 */
export const boxGroupOutputLayer: LayerType = {
  type: 'BoxGroupOutput',
  create(def) {
    const p = paramsOf<BoxGroupOutputParam>(def, 'box_group_output_param');
    const scales = (def.bottom ?? []).length / 2, tops = (def.top ?? []).length;
    need(def, scales >= 1 && Number.isInteger(scales), () => `takes pairs of bottoms (probabilities, regressions) per scale, got ${(def.bottom ?? []).length}`);
    need(def, tops === 1 || tops === 2, () => `gives 1 or 2 tops (the rois, and with scores), got ${tops}`);
    need(def, p.box_group_param.length === scales, () => `has ${scales} scale(s) of bottoms but ${p.box_group_param.length} box_group_param`);
    const groups: Group[] = p.box_group_param.map((g, j) => {
      const fieldW = (g.field_w ?? []).map(f32), fieldH = (g.field_h ?? []).map(f32);
      need(def, fieldW.length > 0 && fieldW.length === fieldH.length, () => `box_group_param ${j} needs as many field_w as field_h (at least one), got ${fieldW.length} and ${fieldH.length}`);
      need(def, (g.stride ?? 0) > 0, () => `box_group_param ${j} needs a stride > 0`);
      return { fieldW, fieldH, stride: g.stride! };
    });
    need(def, ['IOU', 'IOMU', 'IOFU'].includes(p.nms_type), () => `nms_type is IOU, IOMU or IOFU, got '${p.nms_type}'`);
    const reg = bboxReg(def);
    const xyr = f32(p.field_xyr), whr = f32(p.field_whr);
    const bounds = [f32(-1 / xyr), f32(1 / xyr), f32(Math.log(f32(1 / whr))), f32(Math.log(whr))];
    const fgThr = f32(p.fg_thr), iouThr = f32(p.iou_thr), minSize = f32(p.min_size);
    let preds: Float32Array[] = [];
    return {
      sizesTops: true,
      mostTops(bottoms) {
        const num = bottoms[0][0] / groups[0].fieldW.length;
        let perImage = 0;
        groups.forEach((g, j) => (perImage += (bottoms[2 * j][0] / num) * bottoms[2 * j][2] * bottoms[2 * j][3]));
        if (p.max_nms_num > 0) perImage = Math.min(perImage, p.max_nms_num);
        if (p.max_post_nms_num > 0) perImage = Math.min(perImage, p.max_post_nms_num);
        const rows = Math.max(1, num * perImage);
        return [[rows, 5, 1, 1], [rows, 6, 1, 1]].slice(0, tops);
      },
      // The fork's set-up shapes, one row: the layers after it are shaped by the rows of each forward.
      reshape(bottoms) {
        const num = bottoms[0][0] / groups[0].fieldW.length;
        groups.forEach((g, j) => {
          const [prob, box] = [bottoms[2 * j], bottoms[2 * j + 1]];
          need(def, prob.length === 4 && box.length === 4, () => `scale ${j}'s bottoms must be 4-D (maps, C, H, W), got ${shapeString(prob)} and ${shapeString(box)}`);
          const k = g.fieldW.length;
          need(def, prob[0] % k === 0, () => `scale ${j}'s probabilities have ${prob[0]} maps, not a multiple of its ${k} groups`);
          need(def, prob[0] / k === num, () => `scale ${j}'s probabilities have ${prob[0]} maps, ${prob[0] / k} image(s) of ${k} groups; scale 0's are ${num}`);
          need(def, prob[1] === bottoms[0][1], () => `scale ${j}'s probabilities have ${prob[1]} channels, scale 0's ${bottoms[0][1]}`);
          need(def, box[1] === 4 && box[0] === prob[0] && box[2] === prob[2] && box[3] === prob[3], () => `scale ${j}'s regressions must be (${prob[0]}, 4, ${prob[2]}, ${prob[3]}), got ${shapeString(box)}`);
        });
        preds = groups.map((_, j) => (preds[j]?.length === sizeOf(bottoms[2 * j + 1]) ? preds[j] : new Float32Array(sizeOf(bottoms[2 * j + 1]))));
        return [[1, 5, 1, 1], [1, 6, 1, 1]].slice(0, tops);
      },
      forward(bottoms, [rois, scored]) {
        const num = bottoms[0].dims[0] / groups[0].fieldW.length;
        groups.forEach((g, j) => {
          const [, , height, width] = bottoms[2 * j + 1].dims;
          decodeGroups(bottoms[2 * j + 1].data, bottoms[2 * j + 1].dims[0], g, width, height, reg, bounds, preds[j]);
        });
        const perImage: Box[][] = [];
        for (let i = 0; i < num; i++) {
          const boxes: Box[] = [];
          groups.forEach((g, j) => {
            const prob = bottoms[2 * j], [, channels, height, width] = prob.dims, plane = width * height, k = g.fieldW.length;
            const imgW = width * g.stride, imgH = height * g.stride, pred = preds[j];
            for (let group = i * k; group < (i + 1) * k; group++)
              for (let s = 0; s < plane; s++) {
                const score = f32(1 - prob.data[group * channels * plane + s]);
                if (!(score >= fgThr)) continue;
                const at = 4 * group * plane + s;
                const b = { x1: Math.max(0, pred[at]), y1: Math.max(0, pred[at + plane]), x2: Math.min(imgW, pred[at + 2 * plane]), y2: Math.min(imgH, pred[at + 3 * plane]), score };
                if (f32(f32(b.x2 - b.x1) + 1) >= minSize && f32(f32(b.y2 - b.y1) + 1) >= minSize) boxes.push(b);
              }
          });
          // The best max_nms_num by score, as the fork's std::partial_sort orders them (ties included).
          const keep = p.max_nms_num > 0 ? Math.min(boxes.length, p.max_nms_num) : boxes.length;
          partialSort(boxes, keep, (a, b) => a.score > b.score);
          boxes.length = keep;
          const kept = applyNms(boxes, iouThr, p.nms_type);
          perImage.push(p.max_post_nms_num > 0 ? kept.slice(0, p.max_post_nms_num) : kept);
        }
        const rows = perImage.reduce((n, b) => n + b.length, 0);
        if (rows === 0) {
          // The fork's placeholder when no image has a box.
          keepRows(rois, 1);
          rois.data.set([0, 1, 1, 10, 10]);
          if (scored) {
            keepRows(scored, 1);
            scored.data.fill(0);
          }
          return;
        }
        keepRows(rois, rows);
        if (scored) keepRows(scored, rows);
        let row = 0;
        perImage.forEach((boxes, i) => {
          for (const b of boxes) {
            rois.data.set([i, b.x1, b.y1, b.x2, b.y2], 5 * row);
            scored?.data.set([i, b.x1, b.y1, b.x2, b.y2, b.score], 6 * row);
            row++;
          }
        });
      },
    };
  },
  onnx: (c) => fail(c, 'BoxGroupOutput has no exact ONNX form (its greedy NMS over a count of boxes known only at run time); crema runs it natively only'),
};

/** A rois blob of rows [image, x1, y1, x2, y2]: (R, 5) or (R, 5, 1, 1). */
function checkRows(def: LayerParameter, what: string, s: Shape, width: number): void {
  need(def, s.length >= 2 && s[1] === width && sizeOf(s) === s[0] * width, () => `${what} must be (R, ${width}), got ${shapeString(s)}`);
}

/**
 * DecodeBBox (zhaoweicai/cascade-rcnn): each proposal moved by its foreground regression (bbox_util's
 * DecodeBBoxesWithPrior: de-normalized by bbox_reg_param, centre shifted by the proposal's size, size scaled by
 * exp; no clipping), for the next stage of the cascade. Bottoms: the regressions (R, 8): background's then
 * foreground's 4 values, and the proposals (R, 5); top: the proposals' shape, rows [image, x1, y1, x2, y2]. The
 * fork's TRAIN phase drops inverted boxes and boxes matching ground truth (a third bottom): at test it keeps all.
 */
export const decodeBBoxLayer: LayerType = {
  type: 'DecodeBBox',
  create(def) {
    const reg = bboxReg(def);
    need(def, (def.top ?? []).length === 1, () => `gives one top, got ${(def.top ?? []).length}`);
    const bottoms = (def.bottom ?? []).length;
    if (bottoms === 3) throw new LayerError(def, 'its third bottom (the matched ground truth) is for training; at test DecodeBBox takes the regressions and the proposals');
    need(def, bottoms === 2, () => `takes 2 bottoms (regressions, proposals), got ${bottoms}`);
    const [m0, m1, m2, m3] = reg.mean, [s0, s1, s2, s3] = reg.std;
    return {
      reshape([deltas, priors]) {
        checkRows(def, 'bottom 0 (the regressions)', deltas, 8);
        checkRows(def, 'bottom 1 (the proposals)', priors, 5);
        need(def, deltas[0] === priors[0], () => `has ${deltas[0]} regressions for ${priors[0]} proposals`);
        return [priors];
      },
      forward([deltas, priors], [top]) {
        const d = deltas.data, r = priors.data, y = top.data;
        for (let i = 0; i < priors.dims[0]; i++) {
          const [x1, y1, x2, y2] = [r[5 * i + 1], r[5 * i + 2], r[5 * i + 3], r[5 * i + 4]];
          const pw = f32(f32(x2 - x1) + 1), ph = f32(f32(y2 - y1) + 1), cx = f32(0.5 * f32(x2 + x1)), cy = f32(0.5 * f32(y2 + y1));
          const at = 8 * i + 4;
          const bx = f32(f32(d[at] * s0) + m0), by = f32(f32(d[at + 1] * s1) + m1);
          const bw = f32(f32(d[at + 2] * s2) + m2), bh = f32(f32(d[at + 3] * s3) + m3);
          const tw = f32(pw * f32(Math.exp(bw))), th = f32(ph * f32(Math.exp(bh)));
          const tx = f32(f32(f32(bx * pw) + cx) - f32(f32(tw - 1) / 2)), ty = f32(f32(f32(by * ph) + cy) - f32(f32(th - 1) / 2));
          y.set([r[5 * i], tx, ty, f32(f32(tx + tw) - 1), f32(f32(ty + th) - 1)], 5 * i);
        }
      },
    };
  },
  onnx: (c) => fail(c, 'DecodeBBox follows BoxGroupOutput, whose count of boxes is known only at run time; crema runs it natively only'),
};
