import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
import { type Layer, LayerError, type LayerType, expectCounts, keepRows, need } from './layer.js';

const f32 = Math.fround;
/** cfg.TEST.RPN_POST_NMS_TOP_N of unsky/FPN's lib/fast_rcnn/config.py: as_rois' rows per level. */
const ROWS_PER_LEVEL = 1000;

/**
 * The pyramid level (2 to 5) of each roi [n, x1, y1, x2, y2] as unsky/FPN's as_rois.py gives it, in numpy's
 * float32: floor(4 + log2(sqrt(w · h) / 224)), w = x2 - x1 and h = y2 - y1 (no + 1), an area at or under 0 taken as
 * 1e-6, clamped to 2 to 5; NaN (a NaN roi: it goes to no level).
 */
export function roiLevels(rois: Float32Array, count: number): Float64Array {
  const levels = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const r = rois.subarray(5 * i, 5 * i + 5);
    let s = f32(f32(r[3] - r[1]) * f32(r[4] - r[2]));
    if (s <= 0) s = f32(1e-6);
    const level = Math.floor(f32(4 + f32(Math.log2(f32(f32(Math.sqrt(s)) / 224)))));
    levels[i] = Number.isNaN(level) ? NaN : Math.min(Math.max(level, 2), 5);
  }
  return levels;
}

/** What `convert` says of FPN's layers: by name, in one line (crema runs them natively only). */
export function noOnnx(def: LayerParameter): never {
  const p = paramsOf<{ module: string; layer: string }>(def, 'python_param');
  throw new LayerError(def, `unsky/FPN's ${p.module}.${p.layer} has no ONNX form in crema: run the net natively`);
}

/** The rows of `rois` at each level 2 to 5, in order. */
function rowsByLevel(rois: Tensor): number[][] {
  const levels = Array.from(roiLevels(rois.data, rois.dims[0]));
  return [2, 3, 4, 5].map((l) => levels.flatMap((v, i) => (v === l ? [i] : [])));
}

/** Copies `rows` of `rois` (5 values each) to `top` from its row `at` on. */
function copyRows(rois: Tensor, rows: number[], top: Tensor, at = 0): void {
  rows.forEach((r, i) => top.data.set(rois.data.subarray(5 * r, 5 * r + 5), 5 * (at + i)));
}

/** The check both as_rois layers make of their bottom: (R, 5) rois. */
function checkRois(def: LayerParameter, [rois]: Shape[]): number {
  need(def, rois.length === 2 && rois[1] === 5, () => `bottom[0] must be (R, 5) rois [n, x1, y1, x2, y2], got ${shapeString(rois)}`);
  return rois[0];
}

/**
 * unsky/FPN's rpn.as_rois.As_roisLayer (lib/rpn/as_rois.py), built in: the rois of each level 2 to 5 (roiLevels),
 * in order, from row 1000 · (level - 2) on, of top 0 (4000, 5), the rest zeros; tops 1 to 4 those four blocks of
 * 1000 rows (the rois of levels 2 to 5, for the ROIPooling of p2 to p5). A level of more than 1000 rois is refused
 * (FPN's would write them over the next level's).
 */
export const asRoisLayer: LayerType = {
  type: 'rpn.as_rois.As_roisLayer',
  create(def): Layer {
    expectCounts(def, [1, 1], [5, 5]);
    const N = ROWS_PER_LEVEL;
    return {
      reshape(shapes) {
        checkRois(def, shapes);
        return [[4 * N, 5], [N, 5], [N, 5], [N, 5], [N, 5]];
      },
      forward([rois], [all, ...levels]) {
        all.data.fill(0);
        rowsByLevel(rois).forEach((rows, i) => {
          need(def, rows.length <= N, () => `${rows.length} rois are of level ${i + 2}: as_rois places at most ${N} (cfg.TEST.RPN_POST_NMS_TOP_N) per level`);
          copyRows(rois, rows, all, N * i);
          levels[i].data.set(all.data.subarray(5 * N * i, 5 * N * (i + 1)));
        });
      },
    };
  },
  onnx: (c) => noOnnx(c.layer.def),
};

/**
 * unsky/FPN's rpn.as_rois_mrcnn.As_rois_MergeRcnnLayer (lib/rpn/as_rois_mrcnn.py, test_mergercnn.prototxt's), built
 * in: tops 1 to 4 the rois of levels 2 to 5 (roiLevels), in order, 4 zero rows for a level of none; top 0 the four
 * one after another. The forward sizes its tops.
 */
export const asRoisMergeLayer: LayerType = {
  type: 'rpn.as_rois_mrcnn.As_rois_MergeRcnnLayer',
  create(def): Layer {
    expectCounts(def, [1, 1], [5, 5]);
    return {
      sizesTops: true,
      reshape(shapes) {
        const R = checkRois(def, shapes), most = Math.max(R, 4);
        return [[Math.max(R + 12, 16), 5], [most, 5], [most, 5], [most, 5], [most, 5]];
      },
      forward([rois], [all, ...levels]) {
        let at = 0;
        rowsByLevel(rois).forEach((rows, i) => {
          keepRows(levels[i], rows.length || 4);
          levels[i].data.fill(0);
          copyRows(rois, rows, levels[i]);
          all.data.set(levels[i].data, 5 * at);
          at += levels[i].dims[0];
        });
        keepRows(all, at);
      },
    };
  },
  onnx: (c) => noOnnx(c.layer.def),
};
