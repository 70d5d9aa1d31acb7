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
  if (c.anySize && axis > 0) return sliceAnySize(c, axis);
  c.node('Split', [c.bottom(0), c.b.int64s(`${layer.name}/split`, sizes)], layer.tops.map((_, i) => c.top(i)), { axis: int(axis) });
}

/**
 * Slice for every input size (ConvertOptions.anySize), on an axis that may follow it: equal parts as Split's own
 * (no sizes: ONNX divides the axis at run time; opset 18 on, told the count), or the slice points as Slices whose
 * starts and ends are the points, the last part open to the axis's end (the points are the prototxt's constants).
 */
function sliceAnySize(c: LayerContext, axis: number): void {
  const { layer } = c, n = layer.name;
  const points: number[] = paramsOf(layer.def, 'slice_param').slice_point ?? [];
  if (!points.length) {
    c.node('Split', [c.bottom(0)], layer.tops.map((_, i) => c.top(i)), { axis: int(axis), ...(c.opset >= 18 ? { num_outputs: int(layer.tops.length) } : {}) });
    return;
  }
  const bounds = [0, ...points, Number.MAX_SAFE_INTEGER];
  const axes = c.b.int64s(`${n}/axes`, [axis]);
  layer.tops.forEach((_, i) => c.node('Slice', [c.bottom(0), c.b.int64s(`${n}/start${i}`, [bounds[i]]), c.b.int64s(`${n}/end${i}`, [bounds[i + 1]]), axes], [c.top(i)]));
}
