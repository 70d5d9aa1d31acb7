import { type LayerContext, joinedDims, reshapeTo, runtimeDims } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, shapeString, sizeOf } from '../tensor.js';
import { countRange, refuseInPlace } from './axes.js';
import { type Layer, type LayerType, expectCounts, need } from './layer.js';

/**
 * Reshape: replaces bottom axes [axis, axis + num_axes) by `shape`, where 0 copies the bottom's dim at that
 * position and a single -1 is inferred from the element count. Data unchanged.
 */
export const reshapeLayer: LayerType = {
  type: 'Reshape',
  // Caffe's spec where sizes vary at run time (anySize, or rows sized by the data: R-FCN's (R, 21) after Proposal).
  onnx: (c) => (c.anySize || c.dynamicAxes(0).length > 0 ? sizeFreeReshape(c) : reshapeTo(c, c.bottom(0), c.layer.topShapes[0])),
  create(def: LayerParameter): Layer {
    expectCounts(def, [1, 1], [1, 1]);
    refuseInPlace(def);
    const p = paramsOf(def, 'reshape_param');
    const newDims: number[] = [...(p.shape?.dim ?? [])];
    const copyAxes = newDims.flatMap((d, i) => (d === 0 ? [i] : []));
    const inferred = newDims.flatMap((d, i) => (d === -1 ? [i] : []));
    need(def, inferred.length <= 1, () => `shape ${shapeString(newDims)} contains more than one -1; at most one dim can be inferred`);
    need(def, newDims.every((d) => Number.isSafeInteger(d) && d >= -1), () => `shape ${shapeString(newDims)} has a dim below -1`);
    const constantCount = newDims.reduce((n, d) => (d > 0 ? n * d : n), 1);
    const numAxes: number = p.num_axes;
    need(def, numAxes >= -1, () => `num_axes ${numAxes} must be >= 0, or -1 for all`);
    return {
      reshape(bottoms: Shape[]): Shape[] {
        const bottom = bottoms[0];
        const start = p.axis >= 0 ? p.axis : bottom.length + p.axis + 1;
        need(def, start >= 0 && start <= bottom.length, () => `axis ${p.axis} is out of range for a ${bottom.length}-D bottom`);
        const end = numAxes === -1 ? bottom.length : start + numAxes;
        need(def, end <= bottom.length, () => `axis + num_axes = ${end} is out of range for a ${bottom.length}-D bottom`);
        const top = [...bottom.slice(0, start), ...newDims, ...bottom.slice(end)];
        for (const i of copyAxes) {
          need(def, start + i < bottom.length, () =>
            `shape ${shapeString(newDims)} has a 0 at position ${i}, but the bottom ${shapeString(bottom)} has no axis ${start + i} to copy`);
          top[start + i] = bottom[start + i];
        }
        if (inferred.length === 1) {
          let explicit = constantCount * countRange(bottom, 0, start) * countRange(bottom, end);
          for (const i of copyAxes) explicit *= top[start + i];
          need(def, explicit > 0 && sizeOf(bottom) % explicit === 0, () =>
            `cannot infer the -1 in shape ${shapeString(newDims)}: the bottom's count ${sizeOf(bottom)} (shape ${shapeString(bottom)}) ` +
            `is not divisible by the product of the other dims (${explicit})`);
          top[start + inferred[0]] = sizeOf(bottom) / explicit;
        }
        need(def, sizeOf(top) === sizeOf(bottom), () =>
          `output count ${sizeOf(top)} (shape ${shapeString(top)}) must match the input count ${sizeOf(bottom)} (shape ${shapeString(bottom)})`);
        return [top];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        tops[0].data.set(bottoms[0].data);
      },
    };
  },
};

/**
 * Caffe's reshape spec as ONNX Reshape's, for every input size (ConvertOptions.anySize) or row count: both copy a dim at 0 and
 * infer one at -1, so the spec serves as it is where its positions are the bottom's: the axes before it copied (0),
 * and after it the bottom's last axes, as 0s where the spec replaces as many axes as it gives, else from the Shape
 * at run time (CTPN's and caffe_ocr's `shape { dim: -1 } axis: 1 num_axes: 2` merges (W, H, N, C)'s H and N before
 * the C it keeps: [0, -1] and C from the Shape).
 */
function sizeFreeReshape(c: LayerContext): void {
  const rank = c.layer.bottomShapes[0].length, p = paramsOf(c.layer.def, 'reshape_param');
  const dims: number[] = [...(p.shape?.dim ?? [])];
  const start = p.axis >= 0 ? p.axis : rank + p.axis + 1, end = p.num_axes === -1 ? rank : start + p.num_axes;
  if (end === rank || end - start === dims.length) return reshapeTo(c, c.bottom(0), [...Array<number>(start).fill(0), ...dims, ...Array<number>(rank - end).fill(0)]);
  const shape = joinedDims(c, 'shape', [[...Array<number>(start).fill(0), ...dims], runtimeDims(c, c.bottom(0), end, rank)]);
  c.node('Reshape', [c.bottom(0), shape], [c.top(0)]);
}
