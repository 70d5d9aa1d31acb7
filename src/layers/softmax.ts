import { int } from '../onnx/builder.js';
import { type LayerContext } from '../onnx/context.js';
import { paramsOf } from '../caffe/schema.js';
import { softmaxWasm } from '../kernels/exp.js';
import { type Shape } from '../tensor.js';
import { type LayerType, canonicalAxis, expectCounts } from './layer.js';

/**
 * Softmax over `axis` (default 1, negative counts from the end), independently at every other position:
 * the blob is (outer, channels, inner) and each of the outer * inner columns is normalized. The column's max
 * is subtracted before exp, as Caffe does, so large inputs do not overflow. On the wasm engine in float
 * (src/kernels/exp.ts), else in double here.
 */
export const softmaxLayer: LayerType = {
  type: 'Softmax',
  onnx: softmaxToOnnx,
  create(def) {
    const axisParam: number = paramsOf(def, 'softmax_param').axis;
    let axis = 1;
    let scratch = new Float64Array(0);
    return {
      inPlace: true,
      reshape([shape]: Shape[]) {
        expectCounts(def, [1, 1], [1, 1]);
        axis = canonicalAxis(def, axisParam, shape.length);
        const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
        if (scratch.length < inner) scratch = new Float64Array(inner);
        return [shape];
      },
      forward([bottom], [top]) {
        const dims = bottom.dims;
        const channels = dims[axis], inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
        const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
        if (scratch.length < inner) scratch = new Float64Array(inner);
        softmax(bottom.data, top.data, outer, channels, inner, scratch);
      },
    };
  },
};

/**
 * Softmax of an (outer, channels, inner) blob over its channels, as the layer computes it (also for layers that run
 * one inside them: CRF-RNN's mean-field iterations). `scratch` holds at least `inner` doubles.
 */
export function softmax(x: Float32Array, y: Float32Array, outer: number, channels: number, inner: number, scratch: Float64Array): void {
  if (softmaxWasm(x, y, outer, channels, inner)) return;
  if (inner === 1) for (let o = 0; o < outer; o++) softmaxColumn(x, y, o * channels, channels);
  else for (let o = 0; o < outer; o++) softmaxBlock(x, y, o * channels * inner, channels, inner, scratch);
}

/**
 * One (channels, inner) block; the inner positions are the vector (contiguous), so each pass runs along
 * memory. x and y may be the same array: every x value is read before its y is written.
 */
function softmaxBlock(x: Float32Array, y: Float32Array, off: number, channels: number, inner: number, acc: Float64Array): void {
  if (channels === 0) return;
  // acc = the max over channels at each inner position.
  for (let i = 0; i < inner; i++) acc[i] = x[off + i];
  for (let c = 1; c < channels; c++) {
    const row = off + c * inner;
    for (let i = 0; i < inner; i++) if (x[row + i] > acc[i]) acc[i] = x[row + i];
  }
  // y = e^(x - max); then acc = the sum of y over channels.
  for (let c = 0; c < channels; c++) {
    const row = off + c * inner;
    for (let i = 0; i < inner; i++) y[row + i] = Math.exp(x[row + i] - acc[i]);
  }
  for (let i = 0; i < inner; i++) acc[i] = y[off + i];
  for (let c = 1; c < channels; c++) {
    const row = off + c * inner;
    for (let i = 0; i < inner; i++) acc[i] += y[row + i];
  }
  for (let i = 0; i < inner; i++) acc[i] = 1 / acc[i];
  for (let c = 0; c < channels; c++) {
    const row = off + c * inner;
    for (let i = 0; i < inner; i++) y[row + i] *= acc[i];
  }
}

/**
 * softmaxBlock of one inner position (a classifier's probabilities): the same steps, in the same order, on the
 * one column, without a loop of one position in every channel (GoogLeNet's 1000 classes: 76 us in five passes).
 */
function softmaxColumn(x: Float32Array, y: Float32Array, off: number, channels: number): void {
  if (channels === 0) return;
  const end = off + channels;
  let max = x[off];
  for (let i = off + 1; i < end; i++) if (x[i] > max) max = x[i];
  for (let i = off; i < end; i++) y[i] = Math.exp(x[i] - max);
  let sum = y[off];
  for (let i = off + 1; i < end; i++) sum += y[i];
  const scale = 1 / sum;
  for (let i = off; i < end; i++) y[i] *= scale;
}

export function softmaxToOnnx(c: LayerContext): void {
  const p = paramsOf(c.layer.def, 'softmax_param');
  const axis = canonicalAxis(c.layer.def, p.axis as number, c.layer.bottomShapes[0].length);
  c.node('Softmax', [c.bottom(0)], [c.top(0)], { axis: int(axis) });
}
