import { formatFloat32 } from '../caffe/prototxt.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape } from '../tensor.js';
import { hasParam } from './axes.js';
import { expectCounts, type LayerType, need, need4d, type NetContext } from './layer.js';
import { type LayerContext, runtimeDims } from '../onnx/context.js';
import { int } from '../onnx/builder.js';
import { DataType } from '../onnx/proto.js';

/** PriorBox's settings, checked as the SSD fork's LayerSetUp checks them. */
export interface PriorSettings {
  minSizes: number[];
  maxSizes: number[];
  /** 1 first, then each new ratio (and 1/ratio with flip), duplicates within 1e-6 dropped, as the fork does. */
  aspectRatios: number[];
  clip: boolean;
  /** One value for all four coordinates, or four. */
  variance: number[];
  /** 0 = from the image bottom. */
  imgH: number;
  imgW: number;
  /** 0 = image size / feature map size. */
  stepH: number;
  stepW: number;
  offset: number;
  priorsPerCell: number;
  /** FaceBoxes' Caffe (the 'faceboxes' dialect): min_size 32 and 64 densified, the others min_size − 1 wide. */
  faceBoxes: boolean;
  /** TextBoxes++'s denser_prior_boxes (and always in TextBoxes' Caffe): each box followed by the same box one cell lower. */
  denser: boolean;
  /** TextBoxes' Caffe (the 'textboxes' dialect, the SSD fork of 2016): min_size and max_size used as floats, not truncated. */
  floatSizes: boolean;
}

const f32 = Math.fround;

/** FaceBoxes' densified min_sizes: n x n boxes a cell, their centers `gap` apart (any other min_size: one box). */
const FACEBOXES_DENSE: Record<number, { n: number; gap: number }> = { 32: { n: 4, gap: 8 }, 64: { n: 2, gap: 16 } };
const faceBoxesGrid = (minSize: number) => FACEBOXES_DENSE[Math.trunc(minSize)] ?? { n: 1, gap: 0 };
/** Boxes a min_size writes per cell in FaceBoxes' PriorBox. */
const faceBoxesDensity = (minSize: number): number => faceBoxesGrid(minSize).n ** 2;

function readPriorSettings(def: LayerParameter, net: NetContext = {}): PriorSettings {
  const p = paramsOf(def, 'prior_box_param');
  const has = (field: string) => hasParam(def, 'prior_box_param', field);
  const minSizes: number[] = p.min_size, maxSizes: number[] = p.max_size;
  need(def, minSizes.length > 0, 'needs at least one min_size (prior_box_param.min_size)');
  need(def, minSizes.every((s) => s > 0), () => `min_size must be positive, got ${minSizes.map(formatFloat32).join(', ')}`);
  need(def, maxSizes.length === 0 || maxSizes.length === minSizes.length,
    () => `has ${maxSizes.length} max_size for ${minSizes.length} min_size: give one per min_size, or none`);
  maxSizes.forEach((m, i) => need(def, m > minSizes[i], () => `max_size ${formatFloat32(m)} must be greater than min_size ${formatFloat32(minSizes[i])}`));
  const aspectRatios = [1];
  for (const ar of p.aspect_ratio as number[]) {
    need(def, ar > 0, () => `aspect_ratio must be positive, got ${formatFloat32(ar)}`);
    if (aspectRatios.some((a) => Math.abs(ar - a) < 1e-6)) continue;
    aspectRatios.push(ar);
    if (p.flip) aspectRatios.push(f32(1 / ar));
  }
  const variance: number[] = p.variance.length ? p.variance : [0.1];
  need(def, variance.length === 1 || variance.length === 4, () => `takes 1 or 4 variance values, got ${variance.length}`);
  need(def, variance.every((v) => v > 0), () => `variance must be positive, got ${variance.map(formatFloat32).join(', ')}`);
  const textBoxes = net.dialect === 'textboxes';
  if (textBoxes) checkTextBoxes(def, has, minSizes, maxSizes);
  const [imgH, imgW] = pair(def, has, p, 'img_size', 'img_h', 'img_w');
  const [stepH, stepW] = pair(def, has, p, 'step', 'step_h', 'step_w');
  const faceBoxes = net.dialect === 'faceboxes', denser: boolean = p.denser_prior_boxes || textBoxes;
  need(def, !(faceBoxes && denser), "denser_prior_boxes is TextBoxes++'s, which FaceBoxes' Caffe does not have: load the net without the faceboxes dialect");
  const priorsPerCell = faceBoxes ? faceBoxesRoom(def, minSizes, maxSizes, aspectRatios) : (aspectRatios.length * minSizes.length + maxSizes.length) * (denser ? 2 : 1);
  // TextBoxes' PriorBoxParameter has clip default true (the SSD fork's later one false).
  const clip: boolean = textBoxes && !has('clip') ? true : p.clip;
  return { minSizes, maxSizes, aspectRatios, clip, variance, imgH, imgW, stepH, stepW, offset: p.offset, priorsPerCell, faceBoxes, denser, floatSizes: textBoxes };
}

/**
 * TextBoxes' PriorBoxParameter has one min_size and one max_size at most, and none of the SSD fork's later fields
 * (it sizes its priors by the image and the feature map, centers at half a step): what it would not parse is refused.
 */
function checkTextBoxes(def: LayerParameter, has: (f: string) => boolean, minSizes: number[], maxSizes: number[]): void {
  const later = ['img_size', 'img_h', 'img_w', 'step', 'step_h', 'step_w', 'offset', 'denser_prior_boxes'].filter(has);
  need(def, later.length === 0, () => `${later.join(', ')}: not in TextBoxes' Caffe (the SSD fork of 2016), which the textboxes dialect follows; load the net without the dialect`);
  need(def, minSizes.length === 1 && maxSizes.length <= 1, () => `TextBoxes' Caffe takes one min_size and at most one max_size, got ${minSizes.length} and ${maxSizes.length}`);
}

/**
 * FaceBoxes' LayerSetUp makes room for 21 boxes a cell whenever there are three min_size (its Inception3 head: 32,
 * 64, 128), else for the SSD fork's count, then writes a box per densified position: a layer whose two counts differ
 * writes past its top (or leaves it partly unwritten) in the fork, and is refused.
 */
function faceBoxesRoom(def: LayerParameter, minSizes: number[], maxSizes: number[], aspectRatios: number[]): number {
  const room = minSizes.length === 3 ? 21 : aspectRatios.length * minSizes.length + maxSizes.length;
  const written = minSizes.reduce((n, m) => n + faceBoxesDensity(m) + aspectRatios.length - 1, 0) + maxSizes.length;
  need(def, written === room, () =>
    `in FaceBoxes' Caffe, min_size ${minSizes.map(formatFloat32).join(', ')} write ${written} boxes a cell into room for ${room} (it densifies 32 into 16 and 64 into 4, and makes room for 21 when there are three min_size): the fork's output would be wrong`);
  return room;
}

/**
 * For a shape error after it: a PriorBox that FaceBoxes' Caffe densifies (a min_size of 32 or 64) in a net not
 * loaded as that dialect. The error is then the DetectionOutput's count of priors.
 */
export function densifiedInFaceBoxes(def: LayerParameter, top: Shape): string | undefined {
  const minSizes: number[] = paramsOf(def, 'prior_box_param').min_size;
  if (!minSizes.some((m) => faceBoxesDensity(m) > 1)) return undefined;
  let boxes: number;
  try {
    boxes = readPriorSettings(def, { dialect: 'faceboxes' }).priorsPerCell;
  } catch {
    return undefined;
  }
  const cells = top[2] / 4 / readPriorSettings(def).priorsPerCell;
  return `layer '${def.name}' (PriorBox) gives ${top[2] / 4} priors in BVLC's SSD but ${cells * boxes} in FaceBoxes' Caffe, which densifies its min_size 32 and 64: for a FaceBoxes net, load it with options.dialect 'faceboxes'`;
}

/** img_size vs img_h/img_w (and step vs step_h/step_w): one or the other, positive; [0, 0] when neither is given. */
function pair(def: LayerParameter, has: (f: string) => boolean, p: Record<string, number>, both: string, h: string, w: string): [number, number] {
  if (has(h) || has(w)) {
    need(def, !has(both), `give either ${both} or ${h}/${w}, not both`);
    need(def, p[h] > 0 && p[w] > 0, () => `${h} and ${w} must both be positive, got ${formatFloat32(p[h])} and ${formatFloat32(p[w])}`);
    return [p[h], p[w]];
  }
  if (!has(both)) return [0, 0];
  need(def, p[both] > 0, () => `${both} must be positive, got ${formatFloat32(p[both])}`);
  return [p[both], p[both]];
}

/**
 * One box a cell writes, in the fork's order: its center's shift from the cell's center (FaceBoxes' densified
 * boxes), or the center one cell lower (TextBoxes++' denser boxes), and its width and height.
 */
interface CellBox { dx: number; dy: number; lower: boolean; w: number; h: number }

/** The boxes of one cell (they do not depend on the sizes): min_size, sqrt(min * max), then the aspect ratios. */
function cellBoxes(s: PriorSettings): CellBox[] {
  const boxes: CellBox[] = [];
  const put = (w: number, h: number, dx = 0, dy = 0) => {
    boxes.push({ dx, dy, lower: false, w, h });
    // TextBoxes++ (denser_prior_boxes): the same box centered at (h + 1.0) * step_h (in double, then float) follows.
    if (s.denser) boxes.push({ dx, dy, lower: true, w, h });
  };
  s.minSizes.forEach((minSize, i) => {
    const min = s.floatSizes ? minSize : Math.trunc(minSize);
    if (s.faceBoxes) putFaceBoxes(put, min);
    else put(min, min);
    if (s.maxSizes.length) {
      const max = s.floatSizes ? s.maxSizes[i] : Math.trunc(s.maxSizes[i]);
      const size = f32(Math.sqrt(f32(min * max)));
      put(size, size);
    }
    for (const ar of s.aspectRatios) {
      if (Math.abs(ar - 1) < 1e-6) continue;
      put(f32(min * Math.sqrt(ar)), f32(min / Math.sqrt(ar)));
    }
  });
  return boxes;
}

/**
 * The priors of a layerH x layerW feature map over an imgH x imgW image, as the fork's Forward_cpu writes them:
 * [2, cells * priors * 4] (corners normalized by the image size, then the variances). Its float/double mix is
 * kept (sizes truncated to int, floats in TextBoxes', centers in float, corners in double rounded to float).
 */
export function priorBoxes(s: PriorSettings, layerH: number, layerW: number, imageH: number, imageW: number): Float32Array {
  const imgH = s.imgH || imageH, imgW = s.imgW || imageW;
  const stepW = s.stepW || f32(imgW / layerW), stepH = s.stepH || f32(imgH / layerH);
  const boxes = cellBoxes(s);
  const dim = layerH * layerW * boxes.length * 4;
  const out = new Float32Array(2 * dim);
  let k = 0;
  for (let h = 0; h < layerH; h++) {
    const lowerY = f32((h + 1) * stepH);
    for (let w = 0; w < layerW; w++) {
      const cx = f32(f32(w + s.offset) * stepW), cy = f32(f32(h + s.offset) * stepH);
      for (const b of boxes) {
        // A shift of 0 leaves the float center as it is (FaceBoxes' fork adds it in float).
        const x = f32(cx + b.dx), y = b.lower ? lowerY : f32(cy + b.dy);
        out[k++] = (x - b.w / 2) / imgW;
        out[k++] = (y - b.h / 2) / imgH;
        out[k++] = (x + b.w / 2) / imgW;
        out[k++] = (y + b.h / 2) / imgH;
      }
    }
  }
  if (s.clip) for (let d = 0; d < dim; d++) out[d] = Math.min(Math.max(out[d], 0), 1);
  for (let d = 0; d < dim; d++) out[dim + d] = s.variance.length === 1 ? s.variance[0] : s.variance[d % 4];
  return out;
}

/**
 * FaceBoxes' square boxes of one min_size at a cell: min_size − 1 wide ((box_width - 1) / 2. either side of the
 * center), 32 at 4 x 4 centers 8 apart and 64 at 2 x 2 centers 16 apart, from (-2, -2) and (-1, -1) steps off the
 * cell's center (rows outer), each shifted center in float as the fork adds it.
 */
function putFaceBoxes(put: (w: number, h: number, dx: number, dy: number) => void, min: number): void {
  const { n, gap } = faceBoxesGrid(min);
  const first = -(n >> 1);
  for (let i = first; i < first + n; i++)
    for (let j = first; j < first + n; j++) put(min - 1, min - 1, j * gap, i * gap);
}

/** The feature map's and the image's (height, width), Caffe's legacy height()/width() of the two bottoms. */
function geometry(def: LayerParameter, [feature, image]: Shape[]): [number, number, number, number] {
  need4d(def, [feature, image], ['the feature map', 'the image']);
  return [feature[2], feature[3], image[2], image[3]];
}

/** The SSD fork's PriorBox (prior_box_layer.cpp): the default boxes of one feature map, with their variances. */
export const priorBoxLayer: LayerType = {
  type: 'PriorBox',
  create(def, _weights, net = {}) {
    expectCounts(def, [2, 2], [1, 1]);
    const s = readPriorSettings(def, net);
    let priors: Float32Array = new Float32Array(0);
    return {
      reshape(bottoms) {
        const [lh, lw, ih, iw] = geometry(def, bottoms);
        // The priors depend on shapes only: computed here, copied by forward.
        priors = priorBoxes(s, lh, lw, ih, iw);
        need(def, priors.length > 0, () => `gives no priors for a feature map of ${lh} x ${lw}`);
        return [[1, 2, priors.length / 2]];
      },
      forward(_bottoms, [top]) {
        top.data.set(priors);
      },
      takesEmpty: () => true, // shapes only
    };
  },
  onnx: priorBoxToOnnx,
};

/** A constant for the net's input size (the priors depend on shapes only); with anySize, computed from the shapes. */
function priorBoxToOnnx(c: LayerContext): void {
  const s = readPriorSettings(c.layer.def, c.net);
  if (c.anySize) return priorBoxAnySize(c, s);
  const [lh, lw, ih, iw] = geometry(c.layer.def, c.layer.bottomShapes);
  const data = priorBoxes(s, lh, lw, ih, iw);
  c.alias(0, c.b.floats(c.layer.tops[0], data, c.layer.topShapes[0]));
}

/**
 * The priors for every input size (ConvertOptions.anySize), as priorBoxes computes them: the float centers from
 * the feature map's and the image's Shape ((w + offset) * step, the step img / layer in float), each cell's boxes
 * (constants: their shifts, half widths and heights) added in double and divided by the image size in double,
 * then float, as the fork does. [H, W, boxes, 4] flattened, clipped, and the variances expanded after them. The
 * bottoms' ranks were checked by reshape (geometry) at the shapes the graph holds, before any conversion.
 */
function priorBoxAnySize(c: LayerContext, s: PriorSettings): void {
  const n = c.layer.name, boxes = cellBoxes(s), P = boxes.length;
  const floats = (what: string, values: number[], dims: number[]) => c.b.floats(`${n}/${what}`, Float32Array.from(values), dims);
  const cast = (x: string, to: number, what: string) => c.node('Cast', [x], [c.tmp(what)], { to: int(to) });
  const op = (type: string, inputs: string[], what: string) => c.node(type, inputs, [c.tmp(what)]);
  // [H, W] of the feature map and [img H, img W] (the params' where given), in float.
  const layerHW = cast(runtimeDims(c, c.bottom(0), 2, 4), DataType.FLOAT, 'layer_hw');
  const imgHW = s.imgH ? floats('img_hw', [s.imgH, s.imgW], [2]) : cast(runtimeDims(c, c.bottom(1), 2, 4), DataType.FLOAT, 'img_hw');
  const stepHW = s.stepH ? floats('step_hw', [s.stepH, s.stepW], [2]) : op('Div', [imgHW, layerHW], 'step_hw');
  const at = (x: string, i: number, what: string) => c.node('Squeeze', [op('Slice', [x, c.b.int64s(`${n}/from`, [i]), c.b.int64s(`${n}/to`, [i + 1]), c.b.int64s(`${n}/axis`, [0])], what), c.b.int64s(`${n}/axis0`, [0])], [c.tmp(what)]);
  // One axis's centers, float: Range(0, size) + start, times the step (start = offset; TextBoxes++' lower: 1).
  const centers = (axis: number, start: number, what: string) => op('Mul', [
    op('Add', [op('Range', [c.b.scalar(0), at(layerHW, axis, `${what}_size`), c.b.scalar(1)], `${what}_index`), c.b.scalar(start)], `${what}_plus`),
    at(stepHW, axis, `${what}_step`)], what);
  const shift = (values: number[], dims: number[], what: string) => (values.some((v) => v !== 0) ? floats(what, values, dims) : undefined);
  const plus = (x: string, by: string | undefined, what: string) => (by ? op('Add', [x, by], what) : x);
  // x: [1, W, P, 1]; y: [H, 1, P, 1] (a box one cell lower takes the lower grid: y * (1 - lower) + lowerY * lower, exact).
  const cx = plus(reshape(c, centers(1, s.offset, 'cx'), [1, -1, 1, 1]), shift(boxes.map((b) => b.dx), [P, 1], 'dx'), 'x');
  let cy = plus(reshape(c, centers(0, s.offset, 'cy'), [-1, 1, 1, 1]), shift(boxes.map((b) => b.dy), [P, 1], 'dy'), 'y');
  if (s.denser) {
    const lower = reshape(c, centers(0, 1, 'lower_y'), [-1, 1, 1, 1]);
    cy = op('Add', [op('Mul', [cy, floats('upper', boxes.map((b) => (b.lower ? 0 : 1)), [P, 1])], 'upper_y'), op('Mul', [lower, floats('lower', boxes.map((b) => (b.lower ? 1 : 0)), [P, 1])], 'lower_y')], 'y');
  }
  // In double, as the fork's (center - width / 2.) / img_width: center (x, y, x, y) + (-w/2, -h/2, w/2, h/2), / (W, H, W, H).
  const double = (x: string, what: string) => cast(x, DataType.DOUBLE, what);
  const grid = op('Add', [op('Mul', [double(cx, 'x64'), double(floats('xs', [1, 0, 1, 0], [4]), 'xs64')], 'x4'), op('Mul', [double(cy, 'y64'), double(floats('ys', [0, 1, 0, 1], [4]), 'ys64')], 'y4')], 'centers');
  const half = floats('half_sizes', boxes.flatMap((b) => [-b.w / 2, -b.h / 2, b.w / 2, b.h / 2]), [P, 4]);
  const img4 = double(op('Gather', [imgHW, c.b.int64s(`${n}/whwh`, [1, 0, 1, 0])], 'img_whwh'), 'img64');
  let priors = reshape(c, cast(op('Div', [op('Add', [grid, double(half, 'half64')], 'corners'), img4], 'normalized'), DataType.FLOAT, 'priors'), [1, 1, -1, 4]);
  if (s.clip) priors = op('Clip', [priors, c.b.scalar(0), c.b.scalar(1)], 'clipped');
  const variances = op('Expand', [floats('variance', s.variance, [1, 1, 1, s.variance.length]), op('Shape', [priors], 'priors_shape')], 'variances');
  c.node('Reshape', [c.node('Concat', [priors, variances], [c.tmp('both')], { axis: int(1) }), c.b.int64s(`${n}/shape`, [1, 2, -1])], [c.top(0)]);
}

/** `x` reshaped to `dims` (0 copies, -1 infers). */
function reshape(c: LayerContext, x: string, dims: number[]): string {
  return c.node('Reshape', [x, c.b.int64s(`${c.layer.name}/dims`, dims)], [c.tmp('reshaped')]);
}
