import type { Message } from '../caffe/message.js';
import { int } from '../onnx/builder.js';
import { type LayerContext } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
import { copyRun, countRange, hasParam } from './axes.js';
import { type Layer, type LayerType, canonicalAxis, expectCounts, need } from './layer.js';

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
    const legacyDim = hasParam(def, 'slice_param', 'slice_dim');
    need(def, !(legacyDim && hasParam(def, 'slice_param', 'axis')), 'give either axis or slice_dim, not both');
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
        if (legacyDim) {
          need(def, p.slice_dim < shape.length, () => `slice_dim ${p.slice_dim} is out of range for a ${shape.length}-D blob`);
          axis = p.slice_dim;
        } else axis = canonicalAxis(def, p.axis, shape.length);
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
        const outer = countRange(bottoms[0].dims, 0, axis);
        const inner = countRange(bottoms[0].dims, axis + 1);
        const bottomRow = bottoms[0].dims[axis] * inner;
        let offset = 0;
        for (const t of tops) {
          const row = t.dims[axis] * inner;
          for (let n = 0; n < outer; n++) copyRun(src, n * bottomRow + offset, t.data, n * row, row);
          offset += row;
        }
      },
    };
  },
};

function sliceToOnnx(c: LayerContext): void {
  const { layer } = c;
  const raw = layer.def.slice_param as Message | undefined;
  const p = paramsOf(layer.def, 'slice_param');
  const x = layer.bottomShapes[0];
  const axis = raw?.slice_dim !== undefined ? (p.slice_dim as number) : canonicalAxis(layer.def, p.axis as number, x.length);
  const sizes = layer.topShapes.map((s) => s[axis]);
  if (layer.tops.length === 1) {
    c.alias(0, c.bottom(0));
    return;
  }
  c.node('Split', [c.bottom(0), c.b.int64s(`${layer.name}/split`, sizes)], layer.tops.map((_, i) => c.top(i)), { axis: int(axis) });
}
