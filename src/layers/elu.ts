import { unary } from '../onnx/context.js';
import { float } from '../onnx/builder.js';
import { paramsOf } from '../caffe/schema.js';
import { unaryLayer } from './unary.js';

/** y = x > 0 ? x : alpha (e^x - 1). */
export const eluLayer = unaryLayer('ELU', (def) => {
  const alpha: number = paramsOf(def, 'elu_param').alpha;
  return (x, y) => {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      y[i] = v > 0 ? v : alpha * Math.expm1(v);
    }
  };
}, unary('Elu', (c) => ({ alpha: float(paramsOf(c.layer.def, 'elu_param').alpha as number) })));
