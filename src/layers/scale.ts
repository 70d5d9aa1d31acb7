import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type LayerContext, fail, runtimeAxesCopied } from '../onnx/context.js';
import { pointwiseWasm } from '../kernels/pointwise.js';
import { type Shape, type Tensor, sizeOf } from '../tensor.js';
import { type Broadcast, broadcastOver, expectAtMostBlobs, learnedParamShape } from './axes.js';
import { type Layer, type LayerType, canonicalAxis, expectCounts, expectWeight } from './layer.js';

/**
 * Scale: y = x * s (+ b with bias_term), s and b covering bottom axes [axis, axis + num_axes) and broadcast
 * over the rest. s is the layer's blob 0, or bottom[1] when there are two bottoms (then its shape decides the
 * axes); b is the next blob. A scalar s (no axes) multiplies everything.
 */
export const scaleLayer: LayerType = {
  type: 'Scale',
  onnx: (c) => scaleOrBiasToOnnx(c, true),
  create(def: LayerParameter, weights: Tensor[]): Layer {
    expectCounts(def, [1, 2], [1, 1]);
    const p = paramsOf(def, 'scale_param');
    const scaleFromBottom = (def.bottom?.length ?? 0) === 2;
    const biasTerm: boolean = p.bias_term;
    const blobCount = (scaleFromBottom ? 0 : 1) + (biasTerm ? 1 : 0);
    expectAtMostBlobs(def, blobCount, weights.length, scaleFromBottom ? 'bias' : biasTerm ? 'scale, bias' : 'scale');
    let scale: Tensor | undefined, bias: Tensor | undefined;
    let shape: Broadcast = { outer: 0, dim: 0, inner: 0 };
    return {
      inPlace: true,
      reshape(bottoms: Shape[]): Shape[] {
        const scaleShape = scaleFromBottom ? bottoms[1] : learnedParamShape(def, bottoms[0], p.axis, p.num_axes);
        if (!scaleFromBottom) scale = expectWeight(def, weights, 0, 'scale', scaleShape);
        shape = broadcastOver(def, bottoms[0], scaleShape, p.axis, scaleFromBottom ? 'bottom[1] (the scale)' : 'scale');
        if (biasTerm) {
          // Caffe's inner Bias layer: same axis, as many axes as the scale (bottom[1]'s, or num_axes).
          const biasShape = learnedParamShape(def, bottoms[0], p.axis, scaleFromBottom ? bottoms[1].length : p.num_axes);
          bias = expectWeight(def, weights, scaleFromBottom ? 0 : 1, 'bias', biasShape);
        }
        return [[...bottoms[0]]];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        const factors = scaleFromBottom ? bottoms[1].data : scale!.data;
        scaleRows(bottoms[0].data, tops[0].data, factors, bias?.data, shape);
      },
      macs: (bottoms: Shape[]) => sizeOf(bottoms[0]),
    };
  },
};

/** y = x * s[d] (+ b[d]) for every (outer, d, inner) position; safe in place. */
function scaleRows(x: Float32Array, y: Float32Array, s: Float32Array, b: Float32Array | undefined, { outer, dim, inner }: Broadcast): void {
  if (inner > 0 && pointwiseWasm(x, y, outer * dim, inner, dim, { scale: s, bias: b })) return;
  let at = 0;
  for (let n = 0; n < outer; n++) {
    for (let d = 0; d < dim; d++) {
      const factor = s[d], offset = b ? b[d] : 0;
      const end = at + inner;
      // Round the product to float before adding, as Caffe's separate scale and bias passes do.
      if (b) for (; at < end; at++) y[at] = Math.fround(x[at] * factor) + offset;
      else for (; at < end; at++) y[at] = x[at] * factor;
    }
  }
}

/** The shape that broadcasts a parameter over axes [axis, axis + shape.length) of an input of `rank` axes. */
function broadcastShape(shape: Shape, axis: number, rank: number): number[] {
  return [...shape, ...Array(rank - axis - shape.length).fill(1)];
}

/** Scale (and Bias): y = x * scale + bias, the parameter over axes [axis, axis + num_axes). */
export function scaleOrBiasToOnnx(c: LayerContext, isScale: boolean): void {
  const { layer } = c;
  const def = layer.def;
  const p = paramsOf(def, isScale ? 'scale_param' : 'bias_param');
  const x = layer.bottomShapes[0];
  const axis = canonicalAxis(def, p.axis as number, x.length);
  const fromBottom = layer.bottoms.length > 1;
  const numAxes = p.num_axes as number;
  if (!fromBottom && numAxes < -1) fail(c, 'num_axes must be -1 or more');
  const paramShape = fromBottom ? layer.bottomShapes[1] : x.slice(axis, numAxes === -1 ? x.length : axis + numAxes);
  if (axis + paramShape.length > x.length) fail(c, 'its parameter has more axes than the input has after axis');
  const bshape = broadcastShape(paramShape, axis, x.length);
  let param: string;
  let weightIndex = 0;
  if (fromBottom) param = c.node('Reshape', [c.bottom(1), c.b.int64s(`${layer.name}/param_shape`, runtimeAxesCopied(c, bshape, 1))], [c.tmp('param')]);
  else param = c.b.floats(`${layer.name}/${isScale ? 'scale' : 'bias'}`, expectWeight(def, layer.weights, weightIndex++, isScale ? 'scale' : 'bias', paramShape).data, bshape);
  if (!isScale) {
    c.node('Add', [c.bottom(0), param], [c.top(0)]);
    return;
  }
  if (!p.bias_term) {
    c.node('Mul', [c.bottom(0), param], [c.top(0)]);
    return;
  }
  const bias = expectWeight(def, layer.weights, weightIndex, 'bias', paramShape).data;
  const scaled = c.node('Mul', [c.bottom(0), param], [c.tmp('scaled')]);
  c.node('Add', [scaled, c.b.floats(`${layer.name}/bias`, bias, bshape)], [c.top(0)]);
}
