import type { Message } from '../caffe/message.js';
import { paramsOf } from '../caffe/schema.js';
import { canonicalAxis, expectWeight } from '../layers/layer.js';
import { sizeOf } from '../tensor.js';
import { int, ints } from './builder.js';
import { readConvSettings } from '../layers/convolution.js';
import { findLayerType, knownLayerTypes } from '../layers/registry.js';
import { aveDivisors, poolGeometry } from './geometry.js';

import { type Converter, type LayerContext, fail, reshapeTo, withScalar } from './context.js';
export type { LrnMode } from './context.js';

// ---- Vision layers ----

function convolution(c: LayerContext, transposed: boolean): void {
  const { layer } = c;
  const def = layer.def;
  // The settings the native layer read and checked when the graph was built (2 spatial axes, channels at axis 1).
  const s = readConvSettings(def);
  const x = layer.bottomShapes[0];
  if (layer.bottoms.length !== 1) fail(c, 'crema converts Convolution/Deconvolution with one bottom only');
  if (canonicalAxis(def, s.axis, x.length) !== 1) fail(c, 'only axis 1 (channels) is supported in ONNX');
  const channels = x[1];
  const weightShape = transposed
    ? [channels, s.numOutput / s.group, ...s.kernel]
    : [s.numOutput, channels / s.group, ...s.kernel];
  const w = expectWeight(def, layer.weights, 0, 'weights', weightShape);
  const inputs = [c.bottom(0), c.b.floats(`${layer.name}/weights`, w.data, weightShape)];
  if (s.biasTerm) {
    const bias = expectWeight(def, layer.weights, 1, 'bias', [s.numOutput]);
    inputs.push(c.b.floats(`${layer.name}/bias`, bias.data, [s.numOutput]));
  }
  c.node(transposed ? 'ConvTranspose' : 'Conv', inputs, [c.top(0)], {
    kernel_shape: ints(s.kernel),
    strides: ints(s.stride),
    pads: ints([...s.pad, ...s.pad]),
    dilations: ints(s.dilation),
    group: int(s.group),
  });
}

function pooling(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'pooling_param');
  const x = layer.bottomShapes[0];
  if (x.length !== 4) fail(c, 'Pooling needs a 4-D input');
  if (p.pool !== 'MAX' && p.pool !== 'AVE') fail(c, `pool ${p.pool} has no ONNX equivalent; crema converts MAX and AVE`);
  const [height, width] = [x[2], x[3]];
  const g = poolGeometry(layer.def, p, height, width);
  if (g.global) {
    c.node(p.pool === 'MAX' ? 'GlobalMaxPool' : 'GlobalAveragePool', [c.bottom(0)], [c.top(0)]);
    return;
  }
  // ONNX's ceil_mode differs between versions and runtimes on the window that starts in the padding, so
  // crema never uses it: floor mode, with the bottom/right pad grown so that floor gives Caffe's size.
  const endPad = [0, 1].map((i) => {
    const n = i === 0 ? height : width;
    return Math.max(g.pad[i], (g.out[i] - 1) * g.stride[i] + g.kernel[i] - n - g.pad[i]);
  });
  if (endPad[0] >= g.kernel[0] || endPad[1] >= g.kernel[1])
    fail(c, 'its last window lies wholly outside the input (stride larger than kernel), which ONNX cannot express');
  const attrs = {
    kernel_shape: ints(g.kernel),
    strides: ints(g.stride),
    pads: ints([g.pad[0], g.pad[1], endPad[0], endPad[1]]),
  };
  if (p.pool === 'MAX') {
    // Padding never wins a MAX, however wide. The mask top (SegNet's Upsample reads it) is Caffe's h * W + w within
    // the plane, as a float: ONNX's Indices count from the start of the tensor, so they are taken modulo H * W.
    const outputs = layer.tops.length > 1 ? [c.top(0), c.tmp('indices')] : [c.top(0)];
    c.node('MaxPool', [c.bottom(0)], outputs, attrs);
    if (layer.tops.length > 1) {
      const within = c.node('Mod', [outputs[1], c.b.int64s(`${layer.name}/plane`, [height * width])], [c.tmp('plane_index')]);
      c.node('Cast', [within], [c.top(1)], { to: int(1) }); // FLOAT
    }
    return;
  }
  // AVE: with count_include_pad every window here is divided by kh * kw. Caffe divides the window that
  // overhangs the padded input by its clipped size instead: rescale those outputs by a constant map.
  const rows = aveDivisors(height, g.kernel[0], g.stride[0], g.pad[0], g.out[0]);
  const cols = aveDivisors(width, g.kernel[1], g.stride[1], g.pad[1], g.out[1]);
  const full = g.kernel[0] * g.kernel[1];
  const exact = rows.every((d) => d === g.kernel[0]) && cols.every((d) => d === g.kernel[1]);
  const pooled = c.node('AveragePool', [c.bottom(0)], [exact ? c.top(0) : c.tmp('sum')], { ...attrs, count_include_pad: int(1) });
  if (exact) return;
  const factors = new Float32Array(g.out[0] * g.out[1]);
  for (let r = 0; r < g.out[0]; r++)
    for (let col = 0; col < g.out[1]; col++) factors[r * g.out[1] + col] = full / (rows[r] * cols[col]);
  c.node('Mul', [pooled, c.b.floats(`${layer.name}/edge_divisors`, factors, g.out)], [c.top(0)]);
}

// ---- Common layers ----

function innerProduct(c: LayerContext): void {
  const { layer } = c;
  const def = layer.def;
  const p = paramsOf(def, 'inner_product_param');
  const x = layer.bottomShapes[0];
  const axis = canonicalAxis(def, p.axis as number, x.length);
  const outputs = p.num_output as number, inputs = sizeOf(x.slice(axis));
  const shape = p.transpose ? [inputs, outputs] : [outputs, inputs];
  const w = expectWeight(def, layer.weights, 0, 'weights', shape);
  const flat = c.node('Flatten', [c.bottom(0)], [c.tmp('flat')], { axis: int(axis) });
  const gemmInputs = [flat, c.b.floats(`${layer.name}/weights`, w.data, shape)];
  if (p.bias_term) gemmInputs.push(c.b.floats(`${layer.name}/bias`, expectWeight(def, layer.weights, 1, 'bias', [outputs]).data, [outputs]));
  const top = layer.topShapes[0];
  const direct = top.length === 2;
  const y = c.node('Gemm', gemmInputs, [direct ? c.top(0) : c.tmp('gemm')], { transB: int(p.transpose ? 0 : 1) });
  if (!direct) reshapeTo(c, y, top);
}

/**
 * Caffe writes an Eltwise top before reading every bottom, so in place the aliased bottom is read as the running
 * result: SUM starts from 0 (bottom 0 aliased adds nothing), MAX from -FLT_MAX; PROD reads bottoms 0 and 1 before writing.
 */
function eltwise(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'eltwise_param');
  const coeff = (p.coeff as number[]) ?? [];
  const n = layer.bottoms.length;
  if (n < 2) fail(c, 'Eltwise needs at least 2 bottoms');
  const aliased = layer.bottoms.map((b) => b === layer.tops[0]);
  const bottoms = layer.bottoms.map((_, i) => c.bottom(i));
  if (p.operation === 'PROD') {
    let product = c.node('Mul', [bottoms[0], bottoms[1]], [n === 2 ? c.top(0) : c.tmp('product')]);
    for (let i = 2; i < n; i++) product = c.node('Mul', [product, aliased[i] ? product : bottoms[i]], [i === n - 1 ? c.top(0) : c.tmp('product')]);
    return;
  }
  if (p.operation === 'MAX') {
    const lowest = (): string => c.b.scalar(-3.4028234663852886e38);
    const terms = bottoms.flatMap((b, i) => (!aliased[i] ? [b] : i < 2 ? [lowest()] : []));
    c.node('Max', terms, [c.top(0)]);
    return;
  }
  if (p.operation !== 'SUM') fail(c, `unknown operation ${p.operation}`);
  if (coeff.length !== 0 && coeff.length !== n) fail(c, `has ${coeff.length} coeff for ${n} bottoms`);
  if (!aliased.includes(true)) {
    c.node('Sum', bottoms.map((b, i) => withScalar(c, 'Mul', b, coeff[i] ?? 1)), [c.top(0)]);
    return;
  }
  let sum: string | undefined; // undefined: still Caffe's zero fill
  bottoms.forEach((b, i) => {
    const k = coeff[i] ?? 1;
    if (aliased[i]) sum = sum && withScalar(c, 'Mul', sum, 1 + k);
    else sum = sum ? c.node('Add', [sum, withScalar(c, 'Mul', b, k)], [c.tmp('sum')]) : withScalar(c, 'Mul', b, k);
  });
  c.alias(0, sum ?? withScalar(c, 'Mul', bottoms[0], 0));
}

function concat(c: LayerContext): void {
  const { layer } = c;
  const raw = layer.def.concat_param as Message | undefined;
  const p = paramsOf(layer.def, 'concat_param');
  const rank = layer.bottomShapes[0].length;
  const axis = raw?.concat_dim !== undefined ? (p.concat_dim as number) : canonicalAxis(layer.def, p.axis as number, rank);
  if (layer.bottoms.length === 1) c.alias(0, c.bottom(0));
  else c.node('Concat', layer.bottoms.map((_, i) => c.bottom(i)), [c.top(0)], { axis: int(axis) });
}

/**
 * The ONNX forms of the built-in layer types whose converters have not yet moved into their layer files.
 * A layer type in src/layers/ may carry its own `onnx` converter instead (LayerType.onnx), which wins: new layers
 * put their export there, next to their shape and forward.
 */
export const converters: Record<string, Converter> = {
  Concat: concat,
  Convolution: (c) => convolution(c, false),
  Deconvolution: (c) => convolution(c, true),
  Eltwise: eltwise,
  InnerProduct: innerProduct,
  Pooling: pooling,
};

/** The converter of a layer type: its own (LayerType.onnx), else the table's. */
export function converterFor(type: string): Converter | undefined {
  return findLayerType(type)?.onnx ?? converters[type];
}

export function convertibleTypes(): string[] {
  const own = knownLayerTypes().filter((t) => findLayerType(t)?.onnx);
  return [...new Set([...Object.keys(converters), ...own])].sort();
}
