import type { LayerParameter } from '../caffe/types.js';
import { int } from '../onnx/builder.js';
import type { LayerContext } from '../onnx/context.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
import { type Layer, type LayerType, expectCounts, keepRows, need } from './layer.js';
import { type ProposalOps, proposalOps } from './proposal.js';

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

/**
 * The least float32 area w · h that roiLevels places at `level` or above. Its steps (sqrt, / 224, log2, + 4, each
 * rounded to float32, then floor) never decrease as the area grows, so a binary search over the positive float32s
 * (ordered as their bits) finds it; a roi [0, 0, 0, s, 1] has the area s exactly.
 */
export function levelBound(level: number): number {
  const bits = new Uint32Array(1), value = new Float32Array(bits.buffer);
  const levelOf = (b: number) => ((bits[0] = b), roiLevels(Float32Array.of(0, 0, 0, value[0], 1), 1)[0]);
  let [lo, hi] = [1, 0x7f7fffff]; // the least subnormal, the greatest finite float32
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (levelOf(mid) >= level) hi = mid;
    else lo = mid + 1;
  }
  bits[0] = lo;
  return value[0];
}

/**
 * The rows of the rois (bottom 0, (R, 5)) at each level 2 to 5 as ONNX, in order: each roi's area (Sub, Mul in
 * float32, as roiLevels' w · h) against levelBound's bounds, a Compress of the rows in [bound(l), bound(l + 1)). A NaN
 * area is in no level, as roiLevels' NaN; an area at or under 0 is under bound(3), level 2, as its 1e-6.
 */
function levelRowsToOnnx(c: LayerContext, o: ProposalOps): string[] {
  const rois = c.bottom(0), side = (lo: number, what: string) => o.op('Sub', [o.column(rois, lo + 2, `${what}2`), o.column(rois, lo, `${what}1`)], `${what}_side`);
  const area = o.op('Reshape', [o.op('Mul', [side(1, 'x'), side(2, 'y')], 'area_column'), o.ints64('area_shape', [-1])], 'area');
  const bound = (l: number) => c.b.floats(`${c.layer.name}/bound_${l}`, Float32Array.of(levelBound(l)), []);
  const [b3, b4, b5] = [bound(3), bound(4), bound(5)];
  const from = (b: string, l: number) => o.op('GreaterOrEqual', [area, b], `from_${l}`), under = (b: string, l: number) => o.op('Less', [area, b], `under_${l}`);
  const masks = [under(b3, 3), o.op('And', [from(b3, 3), under(b4, 4)], 'level_3'), o.op('And', [from(b4, 4), under(b5, 5)], 'level_4'), from(b5, 5)];
  return masks.map((m, i) => o.op('Compress', [rois, m], `rois_${i + 2}`, { axis: int(0) }));
}

/** `rows` (n, 5) then zero rows, the first `end` (an int64 [1]) of them: n + `zeros` at most. */
function withZeroRows(c: LayerContext, o: ProposalOps, rows: string, zeros: number, end: string, out: string): string {
  const padding = o.op('Expand', [c.b.scalar(0), o.ints64('zero_rows', [zeros, 5])], 'zero_rows');
  return c.node('Slice', [o.op('Concat', [rows, padding], 'padded', { axis: int(0) }), o.ints64('from_row', [0]), end, o.axis0], [out]);
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
  onnx(c) {
    c.note(`each level's first ${ROWS_PER_LEVEL} rois are kept where it has more (crema's forward refuses them; FPN's writes them over the next levels' rows, and raises an IndexError past row 4000, as for any of level 5's)`);
    const o = proposalOps(c), end = o.ints64('rows', [ROWS_PER_LEVEL]);
    const blocks = levelRowsToOnnx(c, o).map((rows, i) => withZeroRows(c, o, rows, ROWS_PER_LEVEL, end, c.top(i + 1)));
    c.node('Concat', blocks, [c.top(0)], { axis: int(0) });
  },
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
  onnx(c) {
    const o = proposalOps(c);
    const levels = levelRowsToOnnx(c, o).map((rows, i) => {
      // n rows, or 4 zero rows for none: n + 4 · (n == 0).
      const n = o.op('Slice', [o.op('Shape', [rows], `shape_${i + 2}`), o.ints64('n_from', [0]), o.ints64('n_to', [1]), o.axis0], `count_${i + 2}`);
      const none = o.op('Mul', [o.op('Cast', [o.op('Equal', [n, o.ints64('none', [0])], `none_${i + 2}`)], `none_${i + 2}_int`, { to: int(7) }), o.ints64('four', [4])], `blank_${i + 2}`);
      const top = withZeroRows(c, o, rows, 4, o.op('Add', [n, none], `end_${i + 2}`), c.top(i + 1));
      c.dynamicShape(i + 1, [0]);
      return top;
    });
    c.node('Concat', levels, [c.top(0)], { axis: int(0) });
    c.dynamicShape(0, [0]);
  },
};
