import { type LayerContext, fail, reduce, runtimeDims } from '../onnx/context.js';
import { int } from '../onnx/builder.js';
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
  onnx: reductionToOnnx,
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
      // 0 items (a Filter's) reduced over the items: Caffe 1.0 gives SUM, ASUM, SUMSQ 0 and MEAN NaN (0 times
      // coeff / 0), what the forward above computes at dim 0 (test/fixtures/bvlc/reduction_none).
      takesEmpty: () => true,
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

function reductionToOnnx(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'reduction_param');
  const x = layer.bottomShapes[0];
  const axis = canonicalAxis(layer.def, p.axis as number, x.length);
  const ops: Record<string, string> = { SUM: 'ReduceSum', ASUM: 'ReduceL1', SUMSQ: 'ReduceSumSquare', MEAN: 'ReduceMean' };
  const op = ops[p.operation as string];
  if (!op) fail(c, `unknown operation ${p.operation}`);
  // Caffe reduces every axis from `axis` on: name them all rather than flatten them into one, which would write the
  // load-time row count (wrong after a Filter) or a -1 (ONNX Runtime cannot infer it on an empty tensor).
  const tail = Array.from({ length: x.length - axis }, (_, i) => axis + i);
  const coeff = p.coeff as number, dynamic = c.dynamicAxes(0);
  // The top keeps the axes before `axis`: the run-time ones (a Filter's items) only if they are among them.
  if (dynamic.length) c.dynamicShape(0, dynamic.filter((a) => a < axis));
  const out = coeff === 1 ? c.top(0) : c.tmp('reduced');
  const reduced = op === 'ReduceMean' && dynamic.some((a) => a >= axis) ? runtimeMean(c, tail, out) : reduce(c, op, c.bottom(0), tail, false, out);
  if (coeff !== 1) c.node('Mul', [reduced, c.b.scalar(coeff)], [c.top(0)]);
}

/**
 * The mean over `tail` sized at run time, as the sum over the count: over 0 items (a Filter's) Caffe's is NaN (0
 * times coeff / 0), ONNX Runtime's ReduceMean 0.
 */
function runtimeMean(c: LayerContext, tail: number[], out: string): string {
  const sum = reduce(c, 'ReduceSum', c.bottom(0), tail, false, c.tmp('sum'));
  const dims = c.node('Cast', [runtimeDims(c, c.bottom(0), tail[0], tail[tail.length - 1] + 1)], [c.tmp('dims')], { to: int(1) }); // FLOAT
  return c.node('Div', [sum, c.node('ReduceProd', [dims], [c.tmp('count')], { keepdims: int(0) })], [out]);
}
