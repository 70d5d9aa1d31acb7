import { formatFloat32 } from '../caffe/prototxt.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, shapeString } from '../tensor.js';
import { hasParam } from './axes.js';
import { type LayerType, expectCounts, need } from './layer.js';
import type { LayerContext } from '../onnx/context.js';

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
}

const f32 = Math.fround;

function readPriorSettings(def: LayerParameter): PriorSettings {
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
  const [imgH, imgW] = pair(def, has, p, 'img_size', 'img_h', 'img_w');
  const [stepH, stepW] = pair(def, has, p, 'step', 'step_h', 'step_w');
  return {
    minSizes, maxSizes, aspectRatios, clip: p.clip, variance, imgH, imgW, stepH, stepW, offset: p.offset,
    priorsPerCell: aspectRatios.length * minSizes.length + maxSizes.length,
  };
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
 * The priors of a layerH x layerW feature map over an imgH x imgW image, as the fork's Forward_cpu writes them:
 * [2, cells * priors * 4] (corners normalized by the image size, then the variances). Its float/double mix is
 * kept (sizes truncated to int, centers in float, corners in double rounded to float).
 */
export function priorBoxes(s: PriorSettings, layerH: number, layerW: number, imageH: number, imageW: number): Float32Array {
  const imgH = s.imgH || imageH, imgW = s.imgW || imageW;
  const stepW = s.stepW || f32(imgW / layerW), stepH = s.stepH || f32(imgH / layerH);
  const dim = layerH * layerW * s.priorsPerCell * 4;
  const out = new Float32Array(2 * dim);
  let k = 0;
  const put = (cx: number, cy: number, bw: number, bh: number) => {
    out[k++] = (cx - bw / 2) / imgW;
    out[k++] = (cy - bh / 2) / imgH;
    out[k++] = (cx + bw / 2) / imgW;
    out[k++] = (cy + bh / 2) / imgH;
  };
  for (let h = 0; h < layerH; h++) {
    for (let w = 0; w < layerW; w++) {
      const cx = f32(f32(w + s.offset) * stepW), cy = f32(f32(h + s.offset) * stepH);
      s.minSizes.forEach((minSize, i) => {
        const min = Math.trunc(minSize);
        put(cx, cy, min, min);
        if (s.maxSizes.length) {
          const size = f32(Math.sqrt(min * Math.trunc(s.maxSizes[i])));
          put(cx, cy, size, size);
        }
        for (const ar of s.aspectRatios) {
          if (Math.abs(ar - 1) < 1e-6) continue;
          put(cx, cy, f32(min * Math.sqrt(ar)), f32(min / Math.sqrt(ar)));
        }
      });
    }
  }
  if (s.clip) for (let d = 0; d < dim; d++) out[d] = Math.min(Math.max(out[d], 0), 1);
  for (let d = 0; d < dim; d++) out[dim + d] = s.variance.length === 1 ? s.variance[0] : s.variance[d % 4];
  return out;
}

/** The feature map's and the image's (height, width), Caffe's legacy height()/width() of the two bottoms. */
function geometry(def: LayerParameter, [feature, image]: Shape[]): [number, number, number, number] {
  for (const [what, s] of [['feature map (bottom 0)', feature], ['image (bottom 1)', image]] as const)
    need(def, s.length === 4, () => `needs a 4-D ${what}, got ${shapeString(s)}`);
  return [feature[2], feature[3], image[2], image[3]];
}

/** The SSD fork's PriorBox (prior_box_layer.cpp): the default boxes of one feature map, with their variances. */
export const priorBoxLayer: LayerType = {
  type: 'PriorBox',
  create(def) {
    expectCounts(def, [2, 2], [1, 1]);
    const s = readPriorSettings(def);
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
    };
  },
  onnx: priorBoxToOnnx,
};

/** A constant for the net's input size (the priors depend on shapes only, which are fixed in the model). */
function priorBoxToOnnx(c: LayerContext): void {
  const [lh, lw, ih, iw] = geometry(c.layer.def, c.layer.bottomShapes);
  const data = priorBoxes(readPriorSettings(c.layer.def), lh, lw, ih, iw);
  c.alias(0, c.b.floats(c.layer.tops[0], data, c.layer.topShapes[0]));
}
