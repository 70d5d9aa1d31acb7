import { type LayerContext, fail, withScalar } from '../onnx/context.js';
import { paramsOf } from '../caffe/schema.js';
import { need } from './layer.js';
import { unaryLayer } from './unary.js';

/** y = log_base(shift + scale x); base -1 (the default) means e. */
export const logLayer = unaryLayer('Log', (def) => {
  const { base, scale, shift } = paramsOf<{ base: number; scale: number; shift: number }>(def, 'log_param');
  need(def, base === -1 || base > 0, `base must be strictly positive (or -1 for e), got ${base}`);
  // Caffe checks 1 / log(base) is finite: base 1 has no logarithm.
  need(def, base !== 1, 'base 1 has no logarithm (1 / log(base) is infinite)');
  const invLogBase = base === -1 ? 1 : 1 / Math.log(base);
  return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = Math.log(shift + scale * x[i]) * invLogBase;
  };
}, logToOnnx);

function logToOnnx(c: LayerContext): void {
  const p = paramsOf(c.layer.def, 'log_param');
  const base = p.base as number, scale = p.scale as number, shift = p.shift as number;
  if (base !== -1 && !(base > 0 && base !== 1)) fail(c, `base must be positive (not 1) or -1 (e), got ${base}`);
  let v = withScalar(c, 'Add', withScalar(c, 'Mul', c.bottom(0), scale), shift);
  if (base === -1) {
    c.node('Log', [v], [c.top(0)]);
    return;
  }
  v = c.node('Log', [v], [c.tmp('ln')]);
  c.node('Mul', [v, c.b.scalar(Math.fround(1 / Math.log(base)))], [c.top(0)]);
}
