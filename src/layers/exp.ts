import { type LayerContext, fail, withScalar } from '../onnx/context.js';
import { paramsOf } from '../caffe/schema.js';
import { need } from './layer.js';
import { unaryLayer } from './unary.js';

/** y = base^(shift + scale x); base -1 (the default) means e. Computed as Caffe does: base^shift * e^(ln(base) scale x). */
export const expLayer = unaryLayer('Exp', (def) => {
  const { base, scale, shift } = paramsOf<{ base: number; scale: number; shift: number }>(def, 'exp_param');
  need(def, base === -1 || base > 0, `base must be strictly positive (or -1 for e), got ${base}`);
  const logBase = base === -1 ? 1 : Math.log(base);
  const inner = logBase * scale;
  const outer = shift === 0 ? 1 : base === -1 ? Math.exp(shift) : Math.pow(base, shift);
  return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = outer * Math.exp(inner * x[i]);
  };
}, expToOnnx);

function expToOnnx(c: LayerContext): void {
  const p = paramsOf(c.layer.def, 'exp_param');
  const base = p.base as number, scale = p.scale as number, shift = p.shift as number;
  if (base !== -1 && !(base > 0)) fail(c, `base must be positive or -1 (e), got ${base}`);
  // y = base^(shift + scale x) = base^shift * exp(ln(base) * scale * x), as Caffe computes it.
  const logBase = base === -1 ? 1 : Math.log(base);
  const outer = shift === 0 ? 1 : base === -1 ? Math.exp(shift) : Math.pow(base, shift);
  const inner = withScalar(c, 'Mul', c.bottom(0), Math.fround(logBase * scale));
  if (outer === 1) {
    c.node('Exp', [inner], [c.top(0)]);
    return;
  }
  const e = c.node('Exp', [inner], [c.tmp('exp')]);
  c.node('Mul', [e, c.b.scalar(outer)], [c.top(0)]);
}
