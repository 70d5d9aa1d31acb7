import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { int } from '../onnx/builder.js';
import type { LayerContext } from '../onnx/context.js';
import { Tensor, shapeString, sizeOf } from '../tensor.js';
import { type Layer, type LayerType, expectCounts, need } from './layer.js';
import { poolingLayer } from './pooling.js';

/**
 * Caffe's SPP (spp_layer.cpp, spatial pyramid pooling): level i pools the whole plane into about 2^i x 2^i bins
 * (kernel ceil(H / 2^i), stride = kernel, pad (kernel 2^i - H + 1) / 2; each axis alike) with Caffe's own Pooling,
 * flattens each level to (N, C * bins) and concatenates them along axis 1. A pyramid of height 1 is that one
 * pooling, its top 4-D, as Caffe's. The levels are Pooling layers made again whenever the plane changes size.
 */
export const sppLayer: LayerType = {
  type: 'SPP',
  onnx: sppToOnnx,
  create(def): Layer {
    expectCounts(def, [1, 1], [1, 1]);
    const height = pyramidHeight(def);
    let levels: { layer: Layer; top: Tensor }[] = [];
    let planeKey = '';
    return {
      reshape([shape]) {
        need(def, shape.length === 4, () => `needs a 4-D bottom (num, channels, height, width), got ${shapeString(shape)}`);
        const key = shapeString(shape);
        if (key !== planeKey) {
          levels = levelDefs(def, height, shape[2], shape[3]).map((levelDef) => ({ layer: poolingLayer.create(levelDef, []), top: Tensor.zeros([]) }));
          planeKey = key;
        }
        // Each level pools into its own tensor (a pyramid of height 1: straight into the top).
        for (const level of levels) level.top = Tensor.zeros(level.layer.reshape([shape])[0]);
        if (height === 1) return [levels[0].top.dims];
        return [[shape[0], levels.reduce((sum, l) => sum + sizeOf(l.top.dims.slice(1)), 0)]];
      },
      forward([bottom], [top]) {
        if (height === 1) return levels[0].layer.forward([bottom], [top]);
        // Each level's (N, C * bins) rows go to their columns of the top.
        const n = bottom.dims[0], width = top.dims[1], y = top.data;
        let column = 0;
        for (const { layer, top: level } of levels) {
          layer.forward([bottom], [level]);
          const pooled = level.data, row = pooled.length / n;
          for (let i = 0; i < n; i++) y.set(pooled.subarray(i * row, (i + 1) * row), i * width + column);
          column += row;
        }
      },
    };
  },
};

function pyramidHeight(def: LayerParameter): number {
  const raw = (def.spp_param ?? {}) as Record<string, unknown>;
  need(def, raw.pyramid_height !== undefined, 'needs spp_param { pyramid_height: ... }');
  const h = Number(raw.pyramid_height);
  // 2^i bins a side: beyond 2^30, no plane crema can hold pools into them.
  need(def, Number.isSafeInteger(h) && h >= 1 && h <= 31, () => `pyramid_height must be 1 to 31, got ${String(raw.pyramid_height)}`);
  return h;
}

/** Caffe's SPPLayer::GetPoolingParam for every level, as Pooling layers named after the SPP layer. */
function levelDefs(def: LayerParameter, height: number, h: number, w: number): LayerParameter[] {
  const p = paramsOf<{ pool: string }>(def, 'spp_param');
  need(def, h > 0 && w > 0, 'needs a plane of at least 1 x 1');
  return Array.from({ length: height }, (_, i) => {
    const bins = 2 ** i;
    const [kh, kw] = [Math.ceil(h / bins), Math.ceil(w / bins)];
    const [ph, pw] = [Math.floor((kh * bins - h + 1) / 2), Math.floor((kw * bins - w + 1) / 2)];
    // Caffe's Pooling CHECKs pad < kernel: a pyramid too tall for the plane stops there.
    need(def, ph < kh && pw < kw, () => `pyramid_height ${height} is too tall for a ${h} x ${w} plane: level ${i} (${bins} x ${bins} bins) would pool ${kh} x ${kw} windows with pad ${ph} x ${pw}, and Caffe's Pooling needs the pad smaller than the window`);
    need(def, p.pool !== 'STOCHASTIC' || (ph === 0 && pw === 0), () => `STOCHASTIC pooling takes no padding (as in Caffe), but level ${i} (${bins} x ${bins} bins of a ${h} x ${w} plane) needs pad ${ph} x ${pw}`);
    return {
      ...def,
      pooling_param: { pool: p.pool, kernel_h: kh, kernel_w: kw, stride_h: kh, stride_w: kw, pad_h: ph, pad_w: pw },
    } as LayerParameter;
  });
}

/** Each level as Caffe's Pooling exports it, then Flatten and Concat (a pyramid of height 1: the pooling alone). */
function sppToOnnx(c: LayerContext): void {
  const { layer } = c;
  const x = layer.bottomShapes[0];
  const height = pyramidHeight(layer.def);
  const defs = levelDefs(layer.def, height, x[2], x[3]);
  const pooled = defs.map((def, i) => {
    const top = poolingLayer.create(def, []).reshape([x])[0];
    const out = height === 1 ? c.top(0) : c.tmp(`level${i}`);
    poolingLayer.onnx!({ ...c, layer: { ...layer, def, topShapes: [top] }, top: () => out });
    return out;
  });
  if (height === 1) return;
  const flat = pooled.map((v, i) => c.node('Flatten', [v], [c.tmp(`level${i}_flat`)], { axis: int(1) }));
  c.node('Concat', flat, [c.top(0)], { axis: int(1) });
}
