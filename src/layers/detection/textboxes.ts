// MhLiao/TextBoxes_plusplus's DetectionOutput (its detection_output_layer.cpp and bbox_util.cpp, CPU): each prior's
// location predictions are its box's 4 offsets and then an outline's, 8 for a quadrilateral (use_polygon, the fork's
// default) or 5 for a rotated box (use_polygon: false). NMS runs on the boxes alone, as the SSD fork's; each kept
// row carries its decoded outline after the box: 15 values (image, label, score, box, x1 y1 ... x4 y4) or 12 (image,
// label, score, box, x1 y1 x2 y2 h).

import type { LayerParameter } from '../../caffe/types.js';
import { int } from '../../onnx/builder.js';
import type { LayerContext } from '../../onnx/context.js';
import { need } from '../layer.js';

const f32 = Math.fround;

/** What follows the box in a prior's location values: nothing (the SSD fork), TextBoxes++'s quadrilateral or rotated box. */
export type Outline = 'none' | 'polygon' | 'rbox';

/** Location values a prior (per location class) and values a detection row, by outline. */
export const LOC_VALUES: Record<Outline, number> = { none: 4, polygon: 12, rbox: 9 };
export const ROW_VALUES: Record<Outline, number> = { none: 7, polygon: 15, rbox: 12 };

/**
 * The outline a DetectionOutput decodes. use_polygon set: TextBoxes++'s (true: quadrilaterals, false: rotated
 * boxes). Unset it is TextBoxes++'s default (quadrilaterals) for a location blob of 12 values a prior, and the SSD
 * fork's plain boxes otherwise (a net of 4 values a prior is an SSD net: TextBoxes++'s Caffe would refuse it).
 */
export function outlineOf(usePolygon: boolean | undefined, locValuesPerPrior: number): Outline {
  if (usePolygon === undefined) return locValuesPerPrior === LOC_VALUES.polygon ? 'polygon' : 'none';
  return usePolygon ? 'polygon' : 'rbox';
}

/**
 * The fork decodes an outline only for code_type CENTER_SIZE with the variances applied here; with any other code,
 * or variance_encoded_in_target, it writes the rows from values it never set: refused.
 */
export function checkOutline(def: LayerParameter, outline: Outline, code: string, varianceInTarget: boolean, armInputs: boolean): void {
  if (outline === 'none') return;
  need(def, code === 'CENTER_SIZE' && !varianceInTarget, () =>
    `TextBoxes++ decodes its ${outline === 'polygon' ? 'quadrilaterals' : 'rotated boxes'} only with code_type CENTER_SIZE and variance_encoded_in_target false (with ${code}${varianceInTarget ? ' and the variances in the target' : ''} the fork writes values it never set)`);
  need(def, !armInputs, "use_polygon (TextBoxes++) and ARM bottoms 4 and 5 (RefineDet) belong to two different forks of DetectionOutput: no Caffe has both");
}

/**
 * Prior i's outline (bbox_util.cpp DecodeBBoxPolygon / DecodeBBoxRBox, in float as the fork's float arithmetic),
 * from its `extra` location values at loc[l]: a quadrilateral's corners are offsets from the prior's corners (x1 y1 at
 * its top left, then clockwise), scaled by the variances of x and y and the prior's size; a rotated box's two points
 * offsets from the prior's center, its height h as a box height is (exp(v3 h) times the prior's height).
 */
export function decodeOutline(outline: Outline, loc: Float32Array, l: number, priors: Float32Array, i: number, count: number): number[] {
  const p = i * 4, v = count * 4 + p;
  const xmin = priors[p], ymin = priors[p + 1], xmax = priors[p + 2], ymax = priors[p + 3];
  const v0 = priors[v], v1 = priors[v + 1], v3 = priors[v + 3];
  const pw = f32(xmax - xmin), ph = f32(ymax - ymin);
  const x = (j: number, base: number) => f32(f32(f32(v0 * loc[l + j]) * pw) + base);
  const y = (j: number, base: number) => f32(f32(f32(v1 * loc[l + j]) * ph) + base);
  if (outline === 'polygon') return [x(0, xmin), y(1, ymin), x(2, xmax), y(3, ymin), x(4, xmax), y(5, ymax), x(6, xmin), y(7, ymax)];
  const cx = f32(xmin + xmax) / 2, cy = f32(ymin + ymax) / 2;
  return [x(0, cx), y(1, cy), x(2, cx), y(3, cy), f32(f32(Math.exp(f32(v3 * loc[l + 4]))) * ph)];
}

/**
 * The outlines in ONNX: `extra` ([num, locClasses, priors, 8 or 5], the location values after the box) against the
 * priors `box` and `variances` ([priors, 4] each), with the native decoding's operations in its order.
 */
export function outlineToOnnx(c: LayerContext, outline: Outline, extra: string, box: string, variances: string): string {
  const n = c.layer.name;
  const pick = (x: string, cols: number[], what: string) => c.node('Gather', [x, c.b.int64s(`${n}/${what}_cols`, cols)], [c.tmp(what)], { axis: int(-1) });
  const size = c.node('Sub', [pick(box, [2, 3], 'outline_max'), pick(box, [0, 1], 'outline_min')], [c.tmp('outline_prior_size')]);
  if (outline === 'polygon') {
    const xy = [0, 1, 0, 1, 0, 1, 0, 1];
    const scaled = c.node('Mul', [c.node('Mul', [extra, pick(variances, xy, 'quad_var')], [c.tmp('quad_offsets')]), pick(size, xy, 'quad_size')], [c.tmp('quad_shift')]);
    // The prior's corners clockwise from its top left: (xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax).
    return c.node('Add', [scaled, pick(box, [0, 1, 2, 1, 2, 3, 0, 3], 'quad_base')], [c.tmp('quads')]);
  }
  const scaled = c.node('Mul', [extra, pick(variances, [0, 1, 0, 1, 3], 'rbox_var')], [c.tmp('rbox_offsets')]);
  const center = c.node('Mul', [c.node('Add', [pick(box, [0, 1], 'rbox_min'), pick(box, [2, 3], 'rbox_max')], [c.tmp('rbox_corner_sum')]), c.b.scalar(0.5)], [c.tmp('rbox_center')]);
  const points = c.node('Add', [c.node('Mul', [pick(scaled, [0, 1, 2, 3], 'rbox_xy'), pick(size, [0, 1, 0, 1], 'rbox_size')], [c.tmp('rbox_shift')]), pick(center, [0, 1, 0, 1], 'rbox_base')], [c.tmp('rbox_points')]);
  const h = c.node('Mul', [c.node('Exp', [pick(scaled, [4], 'rbox_dh')], [c.tmp('rbox_growth')]), pick(size, [1], 'rbox_height')], [c.tmp('rbox_h')]);
  return c.node('Concat', [points, h], [c.tmp('rboxes')], { axis: int(-1) });
}
