import { pointwiseWasm } from '../kernels/pointwise.js';
import { type Shape, shapeString, sizeOf } from '../tensor.js';
import { type LayerContext, runtimeAxesCopied } from '../onnx/context.js';
import { type LayerType, expectCounts, need } from './layer.js';

/**
 * Axpy (hujie-frank/SENet, SE-ResNet and SE-ResNeXt): top = a * x + y with bottoms (a, x, y), a one scale per
 * (num, channel) of shape (N, C) or (N, C, 1, 1), x and y of one shape.
 */
export const axpyLayer: LayerType = {
  type: 'Axpy',
  create(def) {
    return {
      reshape([a, x, y]) {
        expectCounts(def, [3, 3], [1, 1]);
        need(def, shapeString(x) === shapeString(y), () => `x and y (bottoms 1 and 2) differ in shape: ${shapeString(x)} vs ${shapeString(y)}`);
        need(def, x.length >= 2 && a.length >= 2 && a[0] === x[0] && a[1] === x[1] && sizeOf(a) === a[0] * a[1], () =>
          `the scale (bottom 0) must be (num, channels) of x, optionally with 1 x 1 after: got ${shapeString(a)} for x ${shapeString(x)}`);
        return [x];
      },
      forward([a, x, y], [top]) {
        const scale = a.data, xs = x.data, out = top.data;
        const plane = sizeOf(x.dims.slice(2));
        // In place on x the fork's copy of y overwrites x first (top = y + a * y): only the loops below do that.
        if (out !== xs && plane > 0 && pointwiseWasm(xs, out, scale.length, plane, scale.length, { scale, addend: y.data })) return;
        out.set(y.data); // the fork copies y, then adds a * x
        for (let nc = 0; nc < scale.length; nc++) {
          const s = scale[nc];
          for (let i = nc * plane, end = i + plane; i < end; i++) out[i] += s * xs[i];
        }
      },
    };
  },
  onnx: axpyToOnnx,
};

function axpyToOnnx(c: LayerContext): void {
  const [a, x] = c.layer.bottomShapes;
  const broadcast: Shape = [a[0], a[1], ...x.slice(2).map(() => 1)];
  const scale = c.node('Reshape', [c.bottom(0), c.b.int64s(`${c.layer.name}/scale_shape`, runtimeAxesCopied(c, broadcast))], [c.tmp('scale')]);
  const scaled = c.node('Mul', [scale, c.bottom(1)], [c.tmp('ax')]);
  c.node('Add', [scaled, c.bottom(2)], [c.top(0)]);
}
