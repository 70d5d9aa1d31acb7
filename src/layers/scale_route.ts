import { fail } from '../onnx/context.js';
import { shapeString, sizeOf } from '../tensor.js';
import { boxSize } from './box_group_output.js';
import { LayerError, type LayerType, keepRows, need } from './layer.js';

const f32 = Math.fround;
const FLT_MAX = 3.4028234663852886e38;

/**
 * ScaleRoute (zhaoweicai/cascade-rcnn's FPN heads): the rows of its bottoms whose ROI (bottom 0's rows [image, x1,
 * y1, x2, y2]) has a scale, the square root of its pixel-inclusive area, in [low_scale, high_scale); when none has,
 * the one ROI whose scale is nearest the middle (|log2(scale / mid)|, mid the geometric mean of the two bounds, the
 * one bound given, or 256), as the fork does so that each FPN level pools at least one ROI. Top k is bottom k's
 * selected rows, shaped (rows, C, H, W) as the fork's legacy Reshape; their count is known only in the forward (the
 * net shapes the layers after it again).
 */
export const scaleRouteLayer: LayerType = {
  type: 'ScaleRoute',
  create(def) {
    const p = (def.scale_route_param ?? {}) as { low_scale?: number; high_scale?: number };
    const bottoms = (def.bottom ?? []).length;
    need(def, bottoms >= 1 && bottoms === (def.top ?? []).length, () => `takes as many tops as bottoms (at least one), got ${bottoms} and ${(def.top ?? []).length}`);
    const low = p.low_scale === undefined ? 0 : f32(p.low_scale), high = p.high_scale === undefined ? FLT_MAX : f32(p.high_scale);
    need(def, p.low_scale === undefined || low > 0, () => `low_scale must be > 0, got ${low}`);
    need(def, high >= low, () => `high_scale ${high} is below low_scale ${low}`);
    const mid = p.low_scale !== undefined && p.high_scale !== undefined ? f32(Math.sqrt(f32(low * high))) : p.low_scale !== undefined ? low : p.high_scale !== undefined ? high : 256;
    return {
      sizesTops: true,
      mostTops: (shapes) => shapes.map((s) => [s[0], s[1] ?? 1, s[2] ?? 1, s[3] ?? 1]),
      // The fork's set-up shapes, one row: the layers after it are shaped by the rows of each forward.
      reshape(shapes) {
        const rows = shapes[0][0];
        need(def, shapes[0].length >= 2 && shapes[0][1] === 5 && sizeOf(shapes[0]) === rows * 5, () => `bottom 0 must be ROIs (R, 5), got ${shapeString(shapes[0])}`);
        return shapes.map((s, k) => {
          need(def, s.length <= 4 && s[0] === rows, () => `bottom ${k} must have ${rows} rows as the ROIs (at most 4 axes), got ${shapeString(s)}`);
          return [1, s[1] ?? 1, s[2] ?? 1, s[3] ?? 1];
        });
      },
      forward(bottoms, tops) {
        const r = bottoms[0].data, n = bottoms[0].dims[0], selected: number[] = [];
        let nearest = -1, best = FLT_MAX;
        for (let i = 0; i < n; i++) {
          const [x1, y1, x2, y2] = [r[5 * i + 1], r[5 * i + 2], r[5 * i + 3], r[5 * i + 4]];
          const scale = f32(Math.sqrt(boxSize(x1, y1, x2, y2)));
          if (scale >= low && scale < high) selected.push(i);
          const dist = Math.abs(f32(Math.log2(f32(scale / mid))));
          if (dist < best) [best, nearest] = [dist, i];
        }
        if (!selected.length) {
          if (nearest < 0) throw new LayerError(def, `none of its ${n} ROIs has an area (each has x2 < x1 or y2 < y1): the fork aborts`);
          selected.push(nearest);
        }
        bottoms.forEach((b, k) => {
          const dim = b.data.length / n, top = tops[k];
          keepRows(top, selected.length);
          selected.forEach((i, row) => top.data.set(b.data.subarray(i * dim, (i + 1) * dim), row * dim));
        });
      },
    };
  },
  onnx: (c) => fail(c, 'ScaleRoute keeps a count of rows known only at run time; crema runs it natively only'),
};
