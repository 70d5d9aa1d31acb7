import { int } from '../onnx/builder.js';
import { type LayerContext } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
import { axisRuns, copyRun, joinAxis } from './axes.js';
import { type Layer, type LayerType, expectCounts, need } from './layer.js';

/**
 * Slice: cuts its bottom along one axis (`axis`, or the legacy `slice_dim`) into its tops, at `slice_point`s
 * (one fewer than the tops) or, without them, into equal parts.
 */
export const sliceLayer: LayerType = {
  type: 'Slice',
  onnx: sliceToOnnx,
  create(def: LayerParameter): Layer {
    expectCounts(def, [1, 1], [1, Infinity]);
    const p = paramsOf(def, 'slice_param');
    const axisOf = joinAxis(def, 'slice_param', 'slice_dim');
    const points: number[] = p.slice_point ?? [];
    const numTops = def.top?.length ?? 0;
    if (points.length > 0) {
      need(def, points.length === numTops - 1, () => `has ${points.length} slice_point(s) for ${numTops} tops; it needs ${numTops - 1}`);
      need(def, points.every((s, i) => s > (i === 0 ? 0 : points[i - 1])), () =>
        `slice_point must be positive and strictly increasing, got [${points.join(', ')}]`);
    }
    let axis = 0;
    return {
      reshape(bottoms: Shape[]): Shape[] {
        const shape = bottoms[0];
        axis = axisOf(shape.length);
        const dim = shape[axis];
        const sizes: number[] = [];
        if (points.length > 0) {
          need(def, points[points.length - 1] < dim, () =>
            `slice_point [${points.join(', ')}] must lie inside axis ${axis} of the bottom, of size ${dim} (bottom shape ${shapeString(shape)})`);
          let prev = 0;
          for (const s of points) {
            sizes.push(s - prev);
            prev = s;
          }
          sizes.push(dim - prev);
        } else {
          need(def, dim % numTops === 0, () => `${numTops} tops do not evenly divide axis ${axis} of size ${dim} (bottom shape ${shapeString(shape)})`);
          for (let i = 0; i < numTops; i++) sizes.push(dim / numTops);
        }
        return sizes.map((size) => shape.map((d, j) => (j === axis ? size : d)));
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        const src = bottoms[0].data;
        axisRuns(bottoms[0].dims, tops, axis, (t, to, from, n) => copyRun(src, from, t.data, to, n));
      },
    };
  },
};

function sliceToOnnx(c: LayerContext): void {
  const { layer } = c;
  const axis = joinAxis(layer.def, 'slice_param', 'slice_dim')(layer.bottomShapes[0].length);
  const sizes = layer.topShapes.map((s) => s[axis]);
  if (layer.tops.length === 1) {
    c.alias(0, c.bottom(0));
    return;
  }
  c.node('Split', [c.bottom(0), c.b.int64s(`${layer.name}/split`, sizes)], layer.tops.map((_, i) => c.top(i)), { axis: int(axis) });
}
