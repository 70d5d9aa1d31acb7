import { type LayerContext, withScalar } from '../onnx/context.js';
import { paramsOf } from '../caffe/schema.js';
import { unaryLayer } from './unary.js';

/** y = (shift + scale x)^power. As in Caffe, power * scale == 0 makes y a constant: 1 if power is 0, else shift^power. */
export const powerLayer = unaryLayer('Power', (def) => {
  const { power, scale, shift } = paramsOf<{ power: number; scale: number; shift: number }>(def, 'power_param');
  if (power * scale === 0) {
    const value = power === 0 ? 1 : Math.pow(shift, power);
    return (_x, y) => y.fill(value);
  }
  if (power === 1) return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = shift + scale * x[i];
  };
  if (power === 2) return (x, y) => {
    for (let i = 0; i < x.length; i++) {
      const b = shift + scale * x[i];
      y[i] = b * b;
    }
  };
  return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = Math.pow(shift + scale * x[i], power);
  };
}, powerToOnnx);

function powerToOnnx(c: LayerContext): void {
  const p = paramsOf(c.layer.def, 'power_param');
  const [pw, scale, shift] = [p.power as number, p.scale as number, p.shift as number];
  // Caffe's order: scale, then shift, then the power.
  let v = withScalar(c, 'Mul', c.bottom(0), scale);
  v = withScalar(c, 'Add', v, shift);
  if (pw === 1) {
    if (v === c.bottom(0)) c.node('Identity', [v], [c.top(0)]);
    else renameLast(c, v);
    return;
  }
  c.node('Pow', [v, c.b.scalar(pw)], [c.top(0)]);
}

/** Gives the last node's output (a helper value) the top's name instead. */
function renameLast(c: LayerContext, value: string): void {
  const last = c.b.nodes[c.b.nodes.length - 1];
  if (last.output[0] !== value) throw new Error('renameLast: value is not the last node output');
  last.output[0] = c.top(0);
}
