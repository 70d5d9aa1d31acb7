import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import type { Shape, Tensor } from '../tensor.js';
import { countRange } from './axes.js';
import { type Layer, type LayerType, canonicalAxis, expectCounts, need } from './layer.js';

type ReductionOp = 'SUM' | 'ASUM' | 'SUMSQ' | 'MEAN';
const OPS: readonly string[] = ['SUM', 'ASUM', 'SUMSQ', 'MEAN'];

/**
 * Reduction: SUM, ASUM (sum of |x|), SUMSQ or MEAN over ALL axes from `axis` on (Caffe reduces only tails),
 * times `coeff`. The top keeps the axes before `axis` (axis 0: a scalar, shape []).
 */
export const reductionLayer: LayerType = {
  type: 'Reduction',
  create(def: LayerParameter): Layer {
    expectCounts(def, [1, 1], [1, 1]);
    const p = paramsOf(def, 'reduction_param');
    const op = p.operation as ReductionOp;
    need(def, OPS.includes(op), () => `unknown operation ${String(op)}`);
    const coeff: number = p.coeff;
    let axis = 0;
    return {
      reshape(bottoms: Shape[]): Shape[] {
        axis = canonicalAxis(def, p.axis, bottoms[0].length);
        return [bottoms[0].slice(0, axis)];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        const x = bottoms[0].data, out = tops[0].data;
        const dim = countRange(bottoms[0].dims, axis);
        const scale = op === 'MEAN' ? coeff / dim : coeff;
        for (let n = 0; n < out.length; n++) out[n] = Math.fround(reduceRow(x, n * dim, dim, op) * scale);
      },
      macs: (bottoms: Shape[]) => countRange(bottoms[0], 0),
    };
  },
};

/** One row's reduction, accumulated in double (Caffe's BLAS sums in float; this is at least as accurate). */
function reduceRow(x: Float32Array, start: number, dim: number, op: ReductionOp): number {
  let acc = 0;
  const end = start + dim;
  if (op === 'ASUM') for (let i = start; i < end; i++) acc += Math.abs(x[i]);
  else if (op === 'SUMSQ') for (let i = start; i < end; i++) acc += x[i] * x[i];
  else for (let i = start; i < end; i++) acc += x[i];
  return acc;
}
