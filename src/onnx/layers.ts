import type { Message } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { canonicalAxis, expectWeight } from '../layers/layer.js';
import { type Shape, sizeOf } from '../tensor.js';
import { float, int, ints } from './builder.js';
import { readConvSettings } from '../layers/convolution.js';
import { findLayerType, knownLayerTypes } from '../layers/registry.js';
import { aveDivisors, poolGeometry } from './geometry.js';

import { type Converter, type LayerContext, fail, unary, withScalar } from './context.js';
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

/** Reshapes `value` to the static `shape` as top 0. */
function reshapeTo(c: LayerContext, value: string, shape: Shape): void {
  c.node('Reshape', [value, c.b.int64s(`${c.layer.name}/shape`, shape)], [c.top(0)]);
}

function softmax(c: LayerContext): void {
  const p = paramsOf(c.layer.def, 'softmax_param');
  const axis = canonicalAxis(c.layer.def, p.axis as number, c.layer.bottomShapes[0].length);
  c.node('Softmax', [c.bottom(0)], [c.top(0)], { axis: int(axis) });
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

function slice(c: LayerContext): void {
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

const reshapeLayer: Converter = (c) => reshapeTo(c, c.bottom(0), c.layer.topShapes[0]);

const identity: Converter = (c) => c.layer.tops.forEach((_, i) => c.alias(i, c.bottom(0)));

function batchNorm(c: LayerContext): void {
  const { layer } = c;
  const def = layer.def;
  const p = paramsOf(def, 'batch_norm_param');
  const x = layer.bottomShapes[0];
  const eps = p.eps as number;
  const useGlobal = (def.batch_norm_param as Message | undefined)?.use_global_stats ?? def.phase !== 'TRAIN';
  if (!useGlobal) {
    batchStatsNorm(c, x, eps);
    return;
  }
  const channels = x.length > 1 ? x[1] : 1;
  const mean = expectWeight(def, layer.weights, 0, 'mean', [channels]).data;
  const variance = expectWeight(def, layer.weights, 1, 'variance', [channels]).data;
  const factor = expectWeight(def, layer.weights, 2, 'moving average factor', [1]).data[0];
  // Caffe stores running sums: the statistics are blob / factor, and all zero when the factor is 0.
  const scale = factor === 0 ? 0 : Math.fround(1 / factor);
  const m = new Float32Array(channels), v = new Float32Array(channels);
  for (let i = 0; i < channels; i++) {
    m[i] = mean[i] * scale;
    v[i] = variance[i] * scale;
  }
  const ones = new Float32Array(channels).fill(1), zeros = new Float32Array(channels);
  c.node('BatchNormalization', [
    c.bottom(0),
    c.b.floats(`${layer.name}/gamma`, ones, [channels]),
    c.b.floats(`${layer.name}/beta`, zeros, [channels]),
    c.b.floats(`${layer.name}/mean`, m, [channels]),
    c.b.floats(`${layer.name}/variance`, v, [channels]),
  ], [c.top(0)], { epsilon: float(eps) });
}

/** BatchNorm with use_global_stats false: normalizes with this batch's mean and (biased) variance. */
function batchStatsNorm(c: LayerContext, x: Shape, eps: number): void {
  const axes = [0, ...Array.from({ length: x.length - 2 }, (_, i) => i + 2)];
  const reduceMean = (v: string, what: string): string => reduce(c, 'ReduceMean', v, axes, true, c.tmp(what));
  const mean = reduceMean(c.bottom(0), 'batch_mean');
  const centered = c.node('Sub', [c.bottom(0), mean], [c.tmp('centered')]);
  const variance = reduceMean(c.node('Mul', [centered, centered], [c.tmp('squared')]), 'batch_variance');
  const std = c.node('Sqrt', [withScalar(c, 'Add', variance, eps)], [c.tmp('std')]);
  c.node('Div', [centered, std], [c.top(0)]);
}

/** The shape that broadcasts a parameter over axes [axis, axis + shape.length) of an input of `rank` axes. */
function broadcastShape(shape: Shape, axis: number, rank: number): number[] {
  return [...shape, ...Array(rank - axis - shape.length).fill(1)];
}

/** Scale (and Bias): y = x * scale + bias, the parameter over axes [axis, axis + num_axes). */
function scaleOrBias(c: LayerContext, isScale: boolean): void {
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
  if (fromBottom) param = c.node('Reshape', [c.bottom(1), c.b.int64s(`${layer.name}/param_shape`, bshape)], [c.tmp('param')]);
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

// ---- Activations ----

function relu(c: LayerContext): void {
  const slope = paramsOf(c.layer.def, 'relu_param').negative_slope as number;
  if (slope === 0) c.node('Relu', [c.bottom(0)], [c.top(0)]);
  else c.node('LeakyRelu', [c.bottom(0)], [c.top(0)], { alpha: float(slope) });
}

function power(c: LayerContext): void {
  const p = paramsOf(c.layer.def, 'power_param');
  const [pw, scale, shift] = [p.power as number, p.scale as number, p.shift as number];
  // Caffe's order: scale, then shift, then the power.
  let v = withScalar(c, 'Mul', c.bottom(0), scale);
  v = withScalar(c, 'Add', v, shift);
  if (pw === 1) {
    if (v === c.bottom(0)) c.node('Identity', [v], [c.top(0)]);
    else renameLast(c, v);
    return;
  }
  c.node('Pow', [v, c.b.scalar(pw)], [c.top(0)]);
}

/** Gives the last node's output (a helper value) the top's name instead. */
function renameLast(c: LayerContext, value: string): void {
  const last = c.b.nodes[c.b.nodes.length - 1];
  if (last.output[0] !== value) throw new Error('renameLast: value is not the last node output');
  last.output[0] = c.top(0);
}

function expLayer(c: LayerContext): void {
  const p = paramsOf(c.layer.def, 'exp_param');
  const base = p.base as number, scale = p.scale as number, shift = p.shift as number;
  if (base !== -1 && !(base > 0)) fail(c, `base must be positive or -1 (e), got ${base}`);
  // y = base^(shift + scale x) = base^shift * exp(ln(base) * scale * x), as Caffe computes it.
  const logBase = base === -1 ? 1 : Math.log(base);
  const outer = shift === 0 ? 1 : base === -1 ? Math.exp(shift) : Math.pow(base, shift);
  const inner = withScalar(c, 'Mul', c.bottom(0), Math.fround(logBase * scale));
  if (outer === 1) {
    c.node('Exp', [inner], [c.top(0)]);
    return;
  }
  const e = c.node('Exp', [inner], [c.tmp('exp')]);
  c.node('Mul', [e, c.b.scalar(outer)], [c.top(0)]);
}

function logLayer(c: LayerContext): void {
  const p = paramsOf(c.layer.def, 'log_param');
  const base = p.base as number, scale = p.scale as number, shift = p.shift as number;
  if (base !== -1 && !(base > 0 && base !== 1)) fail(c, `base must be positive (not 1) or -1 (e), got ${base}`);
  let v = withScalar(c, 'Add', withScalar(c, 'Mul', c.bottom(0), scale), shift);
  if (base === -1) {
    c.node('Log', [v], [c.top(0)]);
    return;
  }
  v = c.node('Log', [v], [c.tmp('ln')]);
  c.node('Mul', [v, c.b.scalar(Math.fround(1 / Math.log(base)))], [c.top(0)]);
}

function threshold(c: LayerContext): void {
  const t = paramsOf(c.layer.def, 'threshold_param').threshold as number;
  const above = c.node('Greater', [c.bottom(0), c.b.scalar(t)], [c.tmp('above')]);
  c.node('Cast', [above], [c.top(0)], { to: int(1) });
}

// ---- The rest of the layers the native engine runs ----

/** A Reduce* node over `axes`: the axes are an attribute before opset 18 (ReduceSum: before 13), an input after. */
function reduce(c: LayerContext, op: string, x: string, axes: number[], keepdims: boolean, out: string): string {
  const asInput = op === 'ReduceSum' ? c.opset >= 13 : c.opset >= 18;
  return asInput
    ? c.node(op, [x, c.b.int64s(`${c.layer.name}/axes`, axes)], [out], { keepdims: int(keepdims ? 1 : 0) })
    : c.node(op, [x], [out], { axes: ints(axes), keepdims: int(keepdims ? 1 : 0) });
}

function clip(c: LayerContext): void {
  // min and max are `required` in caffe.proto: no defaults to fall back on.
  const raw = c.layer.def.clip_param as { min?: number; max?: number } | undefined;
  if (raw?.min === undefined || raw?.max === undefined) fail(c, 'clip_param needs both min and max');
  c.node('Clip', [c.bottom(0), c.b.scalar(raw!.min!), c.b.scalar(raw!.max!)], [c.top(0)]);
}

function swish(c: LayerContext): void {
  const beta = paramsOf(c.layer.def, 'swish_param').beta as number;
  const gate = c.node('Sigmoid', [withScalar(c, 'Mul', c.bottom(0), beta)], [c.tmp('gate')]);
  c.node('Mul', [c.bottom(0), gate], [c.top(0)]);
}

function crop(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'crop_param');
  const data = layer.bottomShapes[0], top = layer.topShapes[0];
  const start = canonicalAxis(layer.def, p.axis as number, data.length);
  const given = (p.offset as number[]) ?? [];
  const axes = data.map((_, i) => i).filter((i) => i >= start);
  const offsets = axes.map((i) => (given.length === 0 ? 0 : given.length === 1 ? given[0] : given[i - start]));
  c.node('Slice', [
    c.bottom(0),
    c.b.int64s(`${layer.name}/starts`, offsets),
    c.b.int64s(`${layer.name}/ends`, axes.map((a, j) => offsets[j] + top[a])),
    c.b.int64s(`${layer.name}/axes`, axes),
  ], [c.top(0)]);
}

function tile(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'tile_param');
  const x = layer.bottomShapes[0];
  const axis = canonicalAxis(layer.def, p.axis as number, x.length);
  const repeats = x.map((_, i) => (i === axis ? (p.tiles as number) : 1));
  c.node('Tile', [c.bottom(0), c.b.int64s(`${layer.name}/repeats`, repeats)], [c.top(0)]);
}

function reduction(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'reduction_param');
  const x = layer.bottomShapes[0];
  const axis = canonicalAxis(layer.def, p.axis as number, x.length);
  const ops: Record<string, string> = { SUM: 'ReduceSum', ASUM: 'ReduceL1', SUMSQ: 'ReduceSumSquare', MEAN: 'ReduceMean' };
  const op = ops[p.operation as string];
  if (!op) fail(c, `unknown operation ${p.operation}`);
  // Caffe reduces every axis from `axis` on: flatten them into one, reduce it away.
  const rows = c.node('Reshape', [c.bottom(0), c.b.int64s(`${layer.name}/rows`, [...x.slice(0, axis), -1])], [c.tmp('rows')]);
  const coeff = p.coeff as number;
  const reduced = reduce(c, op, rows, [axis], false, coeff === 1 ? c.top(0) : c.tmp('reduced'));
  if (coeff !== 1) c.node('Mul', [reduced, c.b.scalar(coeff)], [c.top(0)]);
}

function mvn(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'mvn_param');
  const top = layer.topShapes[0];
  // Caffe shapes MVN's top as (N, C, H, W), padding a shorter bottom with 1s.
  const x = layer.bottomShapes[0].length === 4 ? c.bottom(0) : c.node('Reshape', [c.bottom(0), c.b.int64s(`${layer.name}/nchw`, top)], [c.tmp('nchw')]);
  const axes = p.across_channels ? [1, 2, 3] : [2, 3];
  const mean = reduce(c, 'ReduceMean', x, axes, true, c.tmp('mean'));
  if (!p.normalize_variance) {
    c.node('Sub', [x, mean], [c.top(0)]);
    return;
  }
  const centred = c.node('Sub', [x, mean], [c.tmp('centred')]);
  const variance = reduce(c, 'ReduceMean', c.node('Mul', [centred, centred], [c.tmp('squared')]), axes, true, c.tmp('variance'));
  // Caffe adds eps to the standard deviation, not to the variance.
  const denominator = withScalar(c, 'Add', c.node('Sqrt', [variance], [c.tmp('std')]), p.eps as number);
  c.node('Div', [centred, denominator], [c.top(0)]);
}

function embed(c: LayerContext): void {
  const { layer } = c;
  const p = paramsOf(layer.def, 'embed_param');
  const numOutput = p.num_output as number, inputDim = p.input_dim as number;
  const table = expectWeight(layer.def, layer.weights, 0, 'weights', [inputDim, numOutput]);
  const indices = c.node('Cast', [c.bottom(0)], [c.tmp('indices')], { to: int(7) });
  const rows = c.node('Gather', [c.b.floats(`${layer.name}/weights`, table.data, [inputDim, numOutput]), indices], [p.bias_term ? c.tmp('rows') : c.top(0)], { axis: int(0) });
  if (!p.bias_term) return;
  const bias = expectWeight(layer.def, layer.weights, 1, 'bias', [numOutput]);
  c.node('Add', [rows, c.b.floats(`${layer.name}/bias`, bias.data, [numOutput])], [c.top(0)]);
}

/**
 * ArgMax through TopK. Caffe ranks equal values by the HIGHER index first, ONNX's TopK by the lower one: so
 * TopK runs on the axis reversed, and its indices are mapped back (i -> size - 1 - i), which is exact on ties.
 */
function argmax(c: LayerContext): void {
  const { layer } = c;
  const def = layer.def;
  const p = paramsOf(def, 'argmax_param');
  const x = layer.bottomShapes[0];
  const k = p.top_k as number, outMaxVal = p.out_max_val === true;
  const hasAxis = (def.argmax_param as Message | undefined)?.axis !== undefined;
  const axis = hasAxis ? canonicalAxis(def, p.axis as number, x.length) : 1;
  const input = hasAxis ? c.bottom(0) : c.node('Reshape', [c.bottom(0), c.b.int64s(`${layer.name}/items`, [x[0], -1])], [c.tmp('items')]);
  const size = hasAxis ? x[axis] : sizeOf(x.slice(1));
  const reversed = c.node('Slice', [
    input,
    c.b.int64s(`${layer.name}/rev_starts`, [-1]),
    c.b.int64s(`${layer.name}/rev_ends`, [-size - 1]),
    c.b.int64s(`${layer.name}/rev_axes`, [axis]),
    c.b.int64s(`${layer.name}/rev_steps`, [-1]),
  ], [c.tmp('reversed')]);
  const values = c.tmp('values'), reversedIndex = c.tmp('reversed_index');
  c.node('TopK', [reversed, c.b.int64s(`${layer.name}/k`, [k])], [values, reversedIndex], { axis: int(axis), largest: int(1), sorted: int(1) });
  const top = layer.topShapes[0];
  if (hasAxis && outMaxVal) {
    c.node('Identity', [values], [c.top(0)]);
    return;
  }
  const index = c.node('Sub', [c.b.int64s(`${layer.name}/last`, [size - 1]), reversedIndex], [c.tmp('index')]);
  if (hasAxis) {
    c.node('Cast', [index], [c.top(0)], { to: int(1) });
    return;
  }
  const indexFloat = c.node('Cast', [index], [c.tmp('index_float')], { to: int(1) });
  const both = outMaxVal ? c.node('Concat', [indexFloat, values], [c.tmp('index_value')], { axis: int(1) }) : indexFloat;
  reshapeTo(c, both, top);
}

const noTops: Converter = () => {};

/**
 * The ONNX forms of the built-in layer types whose converters have not yet moved into their layer files.
 * A layer type in src/layers/ may carry its own `onnx` converter instead (LayerType.onnx), which wins: new layers
 * put their export there, next to their shape and forward.
 */
export const converters: Record<string, Converter> = {
  AbsVal: unary('Abs'),
  ArgMax: argmax,
  BatchNorm: batchNorm,
  Bias: (c) => scaleOrBias(c, false),
  BNLL: unary('Softplus'),
  Clip: clip,
  Concat: concat,
  Convolution: (c) => convolution(c, false),
  Crop: crop,
  Deconvolution: (c) => convolution(c, true),
  Eltwise: eltwise,
  Embed: embed,
  ELU: unary('Elu', (c) => ({ alpha: float(paramsOf(c.layer.def, 'elu_param').alpha as number) })),
  Exp: expLayer,
  Flatten: reshapeLayer,
  InnerProduct: innerProduct,
  Log: logLayer,
  MVN: mvn,
  Pooling: pooling,
  Power: power,
  Reduction: reduction,
  ReLU: relu,
  Reshape: reshapeLayer,
  Scale: (c) => scaleOrBias(c, true),
  Sigmoid: unary('Sigmoid'),
  Silence: noTops,
  Slice: slice,
  Softmax: softmax,
  Split: identity,
  Swish: swish,
  TanH: unary('Tanh'),
  Threshold: threshold,
  Tile: tile,
};

/** The converter of a layer type: its own (LayerType.onnx), else the table's. */
export function converterFor(type: string): Converter | undefined {
  return findLayerType(type)?.onnx ?? converters[type];
}

export function convertibleTypes(): string[] {
  const own = knownLayerTypes().filter((t) => findLayerType(t)?.onnx);
  return [...new Set([...Object.keys(converters), ...own])].sort();
}
