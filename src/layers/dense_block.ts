import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import type { LayerContext } from '../onnx/context.js';
import { float, int, ints } from '../onnx/builder.js';
import { pointwiseWasm } from '../kernels/pointwise.js';
import { wasmEngine } from '../kernels/wasm.js';
import { type Shape, Tensor } from '../tensor.js';
import { hasParam } from './axes.js';
import { convolutionLayer } from './convolution.js';
import { expectCounts, expectWeight, type Layer, type LayerType, need, need4d, needSaneShape } from './layer.js';

const f32 = Math.fround;
/** The fork's BN epsilon: CUDNN_BN_MIN_EPSILON on its GPU path, 1e-5 in its CPU path. */
const EPS = 1e-5;

/**
 * senlinuc/caffe_ocr's DenseBlock (src/caffe/layers/DenseBlock_layer.cpp and .cu, Tongcheng Li's memory-efficient
 * DenseNet layer; its densenet OCR nets): `numTransition` transitions, each appending `growthRate` channels to its
 * input, BN (the stored statistics, scaler, bias) -> ReLU -> 3 x 3 convolution, pad 1, no bias; with use_BC first BN ->
 * ReLU -> 1 x 1 convolution to 4 x growthRate channels -> BN -> ReLU. Both of the fork's paths convolve (cuDNN's
 * CUDNN_CONVOLUTION; the CPU loop reads x[h + 1 - i][w + 1 - j]): Caffe's cross-correlation with each 3 x 3 kernel
 * turned half a circle, which is how crema runs it. Its BN follows the GPU path, on which the published models were
 * trained: the stored mean and variance as they are. (The CPU path divides them by the last blob, a factor only its own
 * training updates: 0 in a GPU-trained model, where that path gives x / sqrt(1e-5). A note says when the factor is
 * neither 0 nor 1.) Blobs for T transitions: filters [0, T), scalers, biases, means, variances [T, 5T), with use_BC
 * the 1 x 1 filters, scalers, biases, means, variances [5T, 10T); then the factor.
 */
export const denseBlockLayer: LayerType = {
  type: 'DenseBlock',
  onnx: denseBlockToOnnx,
  create(def, weights) {
    expectCounts(def, [1, 1], [1, 1]);
    const s = readSettings(def);
    let transitions: (Transition & { conv: Layer; bottleneckConv?: Layer })[] = [];
    const notes = ignoredSettings(def, weights, s);
    return {
      notes,
      // Each filter weight is one multiply-add an output pixel.
      macs: ([x]) => x[0] * x[2] * x[3] * filterWeights(s, x[1]),
      reshape([x]: Shape[]) {
        need4d(def, [x]);
        const [, channels, h, w] = x, top = [x[0], channels + s.transitions * s.growth, h, w];
        // Its size and its filters' checked before a transition is made (a numTransition of 10^9 must not loop).
        needSaneShape(def, def.top?.[0] ?? '', top);
        const filters = filterWeights(s, channels);
        need(def, filters <= 2 ** 31, () => `numTransition ${s.transitions} and growthRate ${s.growth} would need ${filters.toExponential(2)} filter weights`);
        // Each convolution on crema's kernels, an image at a time.
        const conv = (name: string, filter: Tensor): Layer => {
          const k = filter.dims[2], layer = convolutionLayer.create({ name, type: 'Convolution', bottom: ['x'], top: ['y'],
            convolution_param: { num_output: filter.dims[0], kernel_size: [k], pad: [k === 3 ? 1 : 0], bias_term: false } }, filter.data.length ? [filter] : []);
          layer.reshape([[1, filter.dims[1], h, w]]);
          return layer;
        };
        transitions = transitionWeights(def, weights, s, channels).map((t, i) => ({
          ...t,
          conv: conv(`${def.name}/conv${i}`, t.filter),
          ...(t.bottleneck ? { bottleneckConv: conv(`${def.name}/conv${i}_1x1`, t.bottleneck) } : {}),
        }));
        return [top];
      },
      prepare() {
        for (const t of transitions) for (const c of [t.conv, t.bottleneckConv]) c?.prepare?.();
      },
      forward([x], [top]) {
        const [num, c0, h, w] = x.dims, plane = h * w, total = top.dims[1];
        const widest = Math.max(c0 + (s.transitions - 1) * s.growth, s.bc ? 4 * s.growth : 0);
        // Scratch in the engine's memory (shared by every DenseBlock: layers run one at a time), so that the
        // elementwise kernel and the convolutions work on it in place.
        const e = wasmEngine();
        const scratch = e?.sharedArray('dense-block/normed', widest * plane) ?? new Float32Array(widest * plane);
        const inner = s.bc ? e?.sharedArray('dense-block/bottleneck', 4 * s.growth * plane) ?? new Float32Array(4 * s.growth * plane) : scratch;
        for (let n = 0; n < num; n++) {
          const image = top.data.subarray(n * total * plane, (n + 1) * total * plane);
          image.set(x.data.subarray(n * c0 * plane, (n + 1) * c0 * plane));
          transitions.forEach((t, i) => {
            const channels = c0 + i * s.growth;
            const normed = new Tensor([1, channels, h, w], scratch.subarray(0, channels * plane));
            bnRelu(t.bn, image.subarray(0, channels * plane), normed.data, plane);
            let input = normed;
            if (t.bottleneckConv) {
              input = new Tensor([1, 4 * s.growth, h, w], inner);
              t.bottleneckConv.forward([normed], [input]);
              bnRelu(t.bottleneckBn!, input.data, input.data, plane);
            }
            const grown = new Tensor([1, s.growth, h, w], image.subarray(channels * plane, (channels + s.growth) * plane));
            t.conv.forward([input], [grown]);
          });
        }
      },
    };
  },
};

interface Settings { transitions: number; growth: number; bc: boolean }

/** The block's filter weights from `channels` in: each transition's 3 x 3 (and with use_BC its 1 x 1) filters. */
function filterWeights(s: Settings, channels: number): number {
  const T = s.transitions, G = s.growth, inputs = T * channels + (G * T * (T - 1)) / 2; // the transitions' channels in
  return s.bc ? 4 * G * inputs + 36 * G * G * T : 9 * G * inputs;
}

function readSettings(def: LayerParameter): Settings {
  const p = paramsOf(def, 'denseblock_param');
  const s = { transitions: p.numTransition as number, growth: p.growthRate as number, bc: p.use_BC as boolean };
  need(def, s.transitions >= 1 && s.growth >= 1, () => `numTransition and growthRate must be positive, got ${s.transitions} and ${s.growth}`);
  return s;
}

/** The statistics and affine of one BN, per channel. */
interface Bn { scaler: Float32Array; bias: Float32Array; mean: Float32Array; variance: Float32Array; std?: Float32Array }
interface Transition { bn: Bn; filter: Tensor; bottleneck?: Tensor; bottleneckBn?: Bn }

/** Each transition's blobs, checked against its channels, the 3 x 3 filters turned half a circle (see above). */
function transitionWeights(def: LayerParameter, weights: Tensor[], s: Settings, c0: number): Transition[] {
  const T = s.transitions, G = s.growth;
  expectWeight(def, weights, s.bc ? 10 * T : 5 * T, 'moving-average factor (unused: see the notes)', [1]);
  const bn = (base: number, t: number, channels: number, what: string): Bn => {
    const [scaler, bias, mean, variance] = ['scaler', 'bias', 'mean', 'variance'].map((name, k) =>
      expectWeight(def, weights, base + k * T + t, `transition ${t}'s ${what}${name}`, [1, channels, 1, 1]).data);
    return { scaler, bias, mean, variance };
  };
  return Array.from({ length: T }, (_, t) => {
    const channels = c0 + t * G;
    const filter = expectWeight(def, weights, t, `transition ${t}'s 3 x 3 filters`, [G, s.bc ? 4 * G : channels, 3, 3]);
    return {
      bn: bn(T, t, channels, ''),
      filter: filter.data.length ? new Tensor(filter.dims, turned(filter.data)) : filter,
      ...(s.bc ? {
        bottleneck: expectWeight(def, weights, 5 * T + t, `transition ${t}'s 1 x 1 filters`, [4 * G, channels, 1, 1]),
        bottleneckBn: bn(6 * T, t, 4 * G, '1 x 1 '),
      } : {}),
    };
  });
}

/** 3 x 3 kernels turned half a circle: a convolution's filters as Caffe's cross-correlation takes them. */
function turned(w: Float32Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let k = 0; k < w.length; k += 9) for (let i = 0; i < 9; i++) out[k + i] = w[k + 8 - i];
  return out;
}

/**
 * y = max((x - mean) / std * scaler + bias, 0) per channel, std = sqrt(var + eps), each step rounded to float as
 * BatchNorm, Scale and ReLU in Caffe (the fork's cuDNN and CPU paths each round in their own order); on the wasm
 * engine's elementwise kernel when the arrays are in its memory, else these loops (the same steps). y may be x.
 */
function bnRelu(bn: Bn, x: Float32Array, y: Float32Array, plane: number): void {
  const channels = bn.mean.length;
  const std = bn.std ??= bn.variance.map((v) => Math.sqrt(f32(v + f32(EPS))));
  if (pointwiseWasm(x, y, channels, plane, channels, { norm: { mean: bn.mean, std }, scale: bn.scaler, bias: bn.bias, relu: 0 })) return;
  for (let c = 0, at = 0; c < channels; c++) {
    const mean = bn.mean[c], s = std[c], scaler = bn.scaler[c], bias = bn.bias[c];
    for (const end = at + plane; at < end; at++) {
      const v = f32(f32(f32(f32(x[at] - mean) / s) * scaler) + bias);
      y[at] = v > 0 ? v : 0;
    }
  }
}

/** What the layer reads but the fork does not use, and the CPU path's factor when it would change that path's numbers. */
function ignoredSettings(def: LayerParameter, weights: Tensor[], s: Settings): string[] {
  const notes: string[] = [];
  const set = ['pad_h', 'pad_w', 'conv_verticalStride', 'conv_horizentalStride', 'filter_H', 'filter_W'].filter((f) => hasParam(def, 'denseblock_param', f));
  if (set.length) notes.push(`${set.join(', ')} not read, as the fork reads none of them: its transitions are 3 x 3, pad 1, stride 1`);
  const factor = weights[s.bc ? 10 * s.transitions : 5 * s.transitions]?.data[0];
  if (factor !== undefined && factor !== 0 && factor !== 1)
    notes.push(`its last blob (the CPU path's moving-average factor) is ${factor}: the fork's CPU forward divides the statistics by it, its GPU (cuDNN) forward does not; crema runs the GPU's, on which the published models were trained`);
  return notes;
}

/** BN, Relu and Conv nodes a transition, each output Concat'ed after its input. */
function denseBlockToOnnx(c: LayerContext): void {
  const { layer } = c, def = layer.def, s = readSettings(def), name = layer.name;
  const transitions = transitionWeights(def, layer.weights, s, layer.bottomShapes[0][1]);
  const bnRelu = (x: string, bn: Bn, tag: string): string => {
    const dims = [bn.mean.length], w = (what: string, data: Float32Array) => c.b.floats(`${name}/${tag}/${what}`, data, dims);
    const y = c.node('BatchNormalization', [x, w('scale', bn.scaler), w('bias', bn.bias), w('mean', bn.mean), w('var', bn.variance)], [c.tmp(`${tag}_bn`)], { epsilon: float(EPS) });
    return c.node('Relu', [y], [c.tmp(`${tag}_relu`)]);
  };
  const conv = (x: string, filter: Tensor, tag: string): string => {
    const k = filter.dims[2], pad = k === 3 ? 1 : 0;
    return c.node('Conv', [x, c.b.floats(`${name}/${tag}/weights`, filter.data, [...filter.dims])], [c.tmp(`${tag}_conv`)], {
      kernel_shape: ints([k, k]), pads: ints([pad, pad, pad, pad]), strides: ints([1, 1]), group: int(1),
    });
  };
  let x = c.bottom(0);
  transitions.forEach((t, i) => {
    let input = bnRelu(x, t.bn, `t${i}`);
    if (t.bottleneck) input = bnRelu(conv(input, t.bottleneck, `t${i}_1x1`), t.bottleneckBn!, `t${i}_1x1`);
    const grown = conv(input, t.filter, `t${i}`);
    x = c.node('Concat', [x, grown], [i === transitions.length - 1 ? c.top(0) : c.tmp(`t${i}_concat`)], { axis: int(1) });
  });
}
