import { type LayerContext, fail } from '../onnx/context.js';
import { unaryLayer } from './unary.js';
import { need } from './layer.js';

/** y = max(min, min(x, max)) in Caffe's std::min / std::max order, so NaN comes out as `min`. */
export const clipLayer = unaryLayer('Clip', (def) => {
  // min and max are `required` in caffe.proto: there is no default to fall back on.
  const p = def.clip_param as { min?: number; max?: number } | undefined;
  need(def, p?.min !== undefined && p?.max !== undefined, 'clip_param needs both min and max');
  const lo = Math.fround(p.min!), hi = Math.fround(p.max!); // float32 bounds, as Caffe holds them
  return (x, y) => {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      const below = hi < v ? hi : v;
      y[i] = lo < below ? below : lo;
    }
  };
}, clipToOnnx);

function clipToOnnx(c: LayerContext): void {
  // min and max are `required` in caffe.proto: no defaults to fall back on.
  const raw = c.layer.def.clip_param as { min?: number; max?: number } | undefined;
  if (raw?.min === undefined || raw?.max === undefined) fail(c, 'clip_param needs both min and max');
  c.node('Clip', [c.bottom(0), c.b.scalar(raw!.min!), c.b.scalar(raw!.max!)], [c.top(0)]);
}
