import { type LayerContext } from '../onnx/context.js';
import { int } from '../onnx/builder.js';
import { paramsOf } from '../caffe/schema.js';
import { unaryLayer } from './unary.js';

/** y = x > threshold ? 1 : 0. */
export const thresholdLayer = unaryLayer('Threshold', (def) => {
  // Caffe compares against the float32 parameter: 0.2 must mean 0.2f, or x = 0.2f would pass.
  const t = Math.fround(paramsOf(def, 'threshold_param').threshold as number);
  return (x, y) => {
    for (let i = 0; i < x.length; i++) y[i] = x[i] > t ? 1 : 0;
  };
}, thresholdToOnnx);

function thresholdToOnnx(c: LayerContext): void {
  const t = paramsOf(c.layer.def, 'threshold_param').threshold as number;
  const above = c.node('Greater', [c.bottom(0), c.b.scalar(t)], [c.tmp('above')]);
  c.node('Cast', [above], [c.top(0)], { to: int(1) });
}
