import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { gemm, matrix } from '../kernels/gemm.js';
import { type ConvGeometry, depthwisePlane, im2col } from '../kernels/im2col.js';
import { gatherPhases, phaseBuffers, phaseGeometry, scatterPhases } from '../kernels/phases.js';
import { type PackedConv, type RowMajorInnerProduct, convolveWasm, innerProductWasm, moveInnerProductWeights, packConvWeights, packConvWeightsInPlace, packsInPlace, releasePacked, unpackConvWeights } from '../kernels/packed.js';
import { type PackedDepthwise, depthwiseWasm, packDepthwiseWeights } from '../kernels/depthwise.js';
import { convDirectWasm, directFits } from '../kernels/direct.js';
import { eltwiseSumWasm } from '../kernels/eltwise.js';
import { reluRange, sumRelu } from '../kernels/relu.js';
import { type WasmEngine, soleWeightsBlock, wasmEngine } from '../kernels/wasm.js';
import { type PackedWinograd, type WinogradTileSize, allFinite, packWinogradWeights, uPerForward, winogradLimits, winogradMadeU, winogradScratchBytes, winogradTile, winogradWasm } from '../kernels/winograd.js';
import { type Shape, type Tensor, heldTensors, shapeString, sizeOf } from '../tensor.js';
import { type Layer, type LayerType, canonicalAxis, expectCounts, expectWeight, need } from './layer.js';
import { type LayerContext, fail } from '../onnx/context.js';
import { convolutionNd } from './convolution_nd.js';
import { int, ints } from '../onnx/builder.js';

/** ConvolutionParameter as Caffe reads it (also Deconvolution's). */
interface ConvolutionParam {
  num_output: number;
  bias_term: boolean;
  pad: number[];
  kernel_size: number[];
  stride: number[];
  dilation: number[];
  pad_h: number;
  pad_w: number;
  kernel_h: number;
  kernel_w: number;
  stride_h: number;
  stride_w: number;
  group: number;
  axis: number;
}

/** The 2-D settings of a (de)convolution, resolved from the repeated and _h/_w forms as Caffe's LayerSetUp does. */
export interface ConvSettings {
  numOutput: number;
  biasTerm: boolean;
  group: number;
  axis: number;
  kernel: [number, number];
  pad: [number, number];
  stride: [number, number];
  dilation: [number, number];
}

/** Caffe lets a repeated field give one value for every spatial dim or one per dim (`n` of them). */
function perDim(def: LayerParameter, name: string, values: number[], fallback: number | undefined, n: number): number[] {
  if (values.length === 0) {
    need(def, fallback !== undefined, `needs ${name} (or ${name === 'kernel_size' ? 'kernel_h and kernel_w' : `${name}_h and ${name}_w`})`);
    return new Array<number>(n).fill(fallback);
  }
  need(def, values.length === 1 || values.length === n, () => `${name} must be given once or once per spatial dimension (${n}), got ${values.length} values`);
  return values.length === 1 ? new Array<number>(n).fill(values[0]) : [...values];
}

/** Either `name` (repeated) or `name_h` / `name_w` (2 spatial dims only), never both, as Caffe checks. */
function hwOrRepeated(def: LayerParameter, raw: Record<string, unknown>, p: ConvolutionParam, name: 'pad' | 'kernel' | 'stride', fallback: number | undefined, n: number): number[] {
  const repeated = name === 'kernel' ? 'kernel_size' : name;
  const h = `${name}_h`, w = `${name}_w`;
  const hasHw = raw[h] !== undefined || raw[w] !== undefined;
  const values = p[repeated as 'pad'];
  if (!hasHw) return perDim(def, repeated, values, fallback, n);
  need(def, n === 2, () => `${h}/${w} can only be used for 2-D convolution; the bottom has ${n} spatial dimension${n === 1 ? '' : 's'}`);
  need(def, values.length === 0, `gives both ${repeated} and ${h}/${w}; give one or the other`);
  need(def, raw[h] !== undefined && raw[w] !== undefined || name === 'pad', `needs both ${h} and ${w}`);
  return [Number(p[h as 'pad_h']), Number(p[w as 'pad_w'])];
}

/**
 * True when convolution_param gives some repeated setting more than twice: a convolution over 3 or more
 * spatial axes (Caffe's N-D convolution), whatever the bottom.
 */
export function beyondTwoAxes(def: LayerParameter): boolean {
  const p = paramsOf<ConvolutionParam>(def, 'convolution_param');
  return [p.kernel_size, p.pad, p.stride, p.dilation].some((v) => v.length > 2);
}

/** A convolution's window as convolution_param gives it: what Im2col reads too (it has no num_output). */
export type ConvWindow = Pick<ConvSettings, 'axis' | 'kernel' | 'pad' | 'stride' | 'dilation'> & { group: 1 };

/** Reads and checks convolution_param once (Convolution and Deconvolution share it). */
export function readConvSettings(def: LayerParameter): ConvSettings {
  return readConvSettingsNd(def, 2) as ConvSettings;
}

/** A (de)convolution's settings over `n` spatial axes: ConvSettings with a value per axis. */
export type ConvSettingsNd = Omit<ConvSettings, 'kernel' | 'pad' | 'stride' | 'dilation'> & { kernel: number[]; pad: number[]; stride: number[]; dilation: number[] };

/** convolution_param read and checked for a bottom of `n` spatial axes, as Caffe's LayerSetUp reads it. */
export function readConvSettingsNd(def: LayerParameter, n: number): ConvSettingsNd {
  const p = paramsOf<ConvolutionParam>(def, 'convolution_param');
  const s: ConvSettingsNd = { ...readWindowFieldsNd(def, n), numOutput: p.num_output, biasTerm: p.bias_term, group: p.group };
  need(def, s.numOutput > 0, 'needs num_output > 0');
  need(def, s.group > 0, 'needs group > 0');
  need(def, s.numOutput % s.group === 0, () => `num_output ${s.numOutput} is not a multiple of group ${s.group}`);
  checkWindow(def, s);
  return s;
}

/** Im2col's window: convolution_param's kernel, pad, stride, dilation and axis, checked as Caffe's Im2colLayer does. */
export function readConvWindow(def: LayerParameter): ConvWindow {
  const s = { ...readWindowFields(def), group: 1 as const };
  checkWindow(def, s);
  return s;
}

function readWindowFields(def: LayerParameter): Omit<ConvWindow, 'group'> {
  return readWindowFieldsNd(def, 2) as Omit<ConvWindow, 'group'>;
}

/** The window over `n` spatial axes (BaseConvolutionLayer::LayerSetUp's reading). */
export function readWindowFieldsNd(def: LayerParameter, n: number): { axis: number; kernel: number[]; pad: number[]; stride: number[]; dilation: number[] } {
  const p = paramsOf<ConvolutionParam>(def, 'convolution_param');
  const raw = (def.convolution_param ?? {}) as Record<string, unknown>;
  return {
    axis: p.axis,
    kernel: hwOrRepeated(def, raw, p, 'kernel', undefined, n),
    pad: hwOrRepeated(def, raw, p, 'pad', 0, n),
    stride: hwOrRepeated(def, raw, p, 'stride', 1, n),
    dilation: perDim(def, 'dilation', p.dilation, 1, n),
  };
}

function checkWindow(def: LayerParameter, s: { kernel: readonly number[]; stride: readonly number[]; dilation: readonly number[] }): void {
  need(def, s.kernel.every((k) => k > 0), () => `kernel size must be nonzero, got ${s.kernel.join(' x ')}`);
  need(def, s.stride.every((k) => k > 0), () => `stride must be nonzero, got ${s.stride.join(' x ')}`);
  need(def, s.dilation.every((k) => k > 0), () => `dilation must be nonzero, got ${s.dilation.join(' x ')}`);
}

/** Caffe's output size of a window over the bottom (floor), refusing a window larger than the padded input. */
export function convOutput(def: LayerParameter, s: Omit<ConvWindow, 'group'>, b: { channels: number; height: number; width: number }, groups = 1): ConvGeometry {
  const [kh, kw] = s.kernel, [ph, pw] = s.pad, [sh, sw] = s.stride, [dh, dw] = s.dilation;
  const extentH = dh * (kh - 1) + 1, extentW = dw * (kw - 1) + 1;
  need(def, b.height + 2 * ph >= extentH && b.width + 2 * pw >= extentW, () =>
    `kernel extent ${extentH} x ${extentW} is larger than the padded input ${b.height + 2 * ph} x ${b.width + 2 * pw} (input ${b.height} x ${b.width}, pad ${ph} x ${pw})`);
  const outH = Math.floor((b.height + 2 * ph - extentH) / sh) + 1;
  const outW = Math.floor((b.width + 2 * pw - extentW) / sw) + 1;
  return { channels: b.channels / groups, height: b.height, width: b.width, kernelH: kh, kernelW: kw, padH: ph, padW: pw, strideH: sh, strideW: sw, dilationH: dh, dilationW: dw, outH, outW };
}

/** The bottom's (num, channels, height, width) as seen from the channel axis; refuses other than 2 spatial dims. */
export function convBottom(def: LayerParameter, s: Pick<ConvSettings, 'axis' | 'group'>, bottoms: Shape[]): { channelAxis: number; num: number; channels: number; height: number; width: number } {
  need(def, bottoms.length > 0, 'needs a bottom');
  const shape = bottoms[0];
  for (let i = 1; i < bottoms.length; i++)
    need(def, bottoms[i].join() === shape.join(), () => `all bottoms must have one shape: bottom 0 is ${shapeString(shape)}, bottom ${i} is ${shapeString(bottoms[i])}`);
  const channelAxis = canonicalAxis(def, s.axis, shape.length);
  const spatial = shape.length - channelAxis - 1;
  need(def, spatial === 2, () => `crema runs ${def.type} over 2 spatial dimensions (Caffe's N-D ${def.type} over ${spatial} is not supported); bottom ${shapeString(shape)} with axis ${s.axis}`);
  const channels = shape[channelAxis];
  need(def, channels % s.group === 0, () => `input channels ${channels} are not a multiple of group ${s.group}`);
  return { channelAxis, num: sizeOf(shape.slice(0, channelAxis)), channels, height: shape[channelAxis + 1], width: shape[channelAxis + 2] };
}

/** Checks weight and bias blobs: count first (Caffe: 1 + bias_term), then shapes. */
export function convWeights(def: LayerParameter, s: Pick<ConvSettings, 'numOutput' | 'biasTerm'>, weights: Tensor[], weightShape: Shape, held?: Float32Array): { w: Float32Array; bias: Float32Array | undefined } {
  const want = 1 + (s.biasTerm ? 1 : 0);
  need(def, weights.length === 0 || weights.length === want, () => `has ${weights.length} weight blobs but needs ${want} (${s.biasTerm ? 'weights and bias' : 'weights only: bias_term is false'})`);
  // `held`: the layer's dropped weights (the tensor's data then unpacks them when read: not here, for a shape check).
  const w = held ?? expectWeight(def, weights, 0, 'the weights', weightShape).data;
  if (held) expectWeight(def, weights, 0, 'the weights', weightShape);
  const bias = s.biasTerm ? expectWeight(def, weights, 1, 'the bias', [s.numOutput]).data : undefined;
  return { w, bias };
}

/** Bounds the column buffer: im2col works in chunks of output rows of at most this many floats (16 MB). */
export const COL_BUFFER_FLOATS = 1 << 22;

/**
 * The window is the whole unpadded input (one output pixel, dilation 1): the input image, C x H x W, is the
 * column of the convolution's GEMM as it is, in the order of the weights' rows.
 */
function wholeWindow(g: ConvGeometry): boolean {
  return g.outH === 1 && g.outW === 1 && g.padH === 0 && g.padW === 0 && g.kernelH === g.height && g.kernelW === g.width && g.dilationH === 1 && g.dilationW === 1;
}

/** 1x1, stride 1, no pad: the input planes are already the column matrix. */
function isPointwise(g: ConvGeometry): boolean {
  return g.kernelH === 1 && g.kernelW === 1 && g.strideH === 1 && g.strideW === 1 && g.padH === 0 && g.padW === 0;
}

/** A (de)convolution that a runtime may fuse with the ReLU after it. */
export interface FusableLayer extends Layer {
  /** Applies Caffe's ReLU with negativeSlope (caffeRelu) to the output as part of forward; undefined turns that off. */
  fuseRelu(negativeSlope: number | undefined): void;
  /**
   * (Convolution only.) Writes y = conv + residual, rounded to float as Caffe's Eltwise SUM with coefficients 1
   * does, before the fused ReLU: the Eltwise after the convolution (ResNet's shortcut joins) computed as the
   * convolution writes its output. `residual` has the top's size; undefined turns that off.
   */
  fuseSum?(residual: Float32Array | undefined): void;
  /**
   * (Convolution only.) Drops the layer's weights where the kernels it chose hold their own packed copy, keeping
   * `refill` to make them again when another form is needed (a new geometry, the TypeScript kernels, a Winograd
   * layer's input with a NaN); true when dropped. For folded producers, whose weights are copies made at load.
   */
  releaseWeights?(refill: () => Float32Array): boolean;
}

/**
 * y = relu(y + r) (no ReLU when `slope` is undefined) after a convolution that could not take its fused sum in
 * the GEMM's last pass: the same roundings (Eltwise SUM with coefficients 1, then ReLU).
 */
function addResidual(y: Float32Array, r: Float32Array, slope: number | undefined): void {
  if (!eltwiseSumWasm([y, r], SUM_ONES, y, slope)) sumRelu(y, r, y, slope);
}
const SUM_ONES = Float32Array.of(1, 1);

/**
 * Definitions of depthwise layers whose fork skips the taps in the padding rather than adding w * 0 as Caffe's
 * im2col does (ConvolutionDepthwise: farmingyard's conv_dw_layer.cpp).
 */
export const skipsPaddedTaps = new WeakSet<LayerParameter>();

/**
 * Caffe's Convolution: weights (Cout, Cin/group, kh, kw), bias (Cout), output
 * floor((H + 2p - (d(k-1)+1)) / s) + 1. Runs as im2col + GEMM per image and group, with special cases:
 * 1x1 / stride 1 / pad 0 (the input is already the column matrix), depthwise (one input channel per group:
 * direct convolution), a few input channels (a first layer: kernels/direct.ts, no im2col), Winograd, and
 * chunked im2col when the column matrix would be large.
 */
export const convolutionLayer: LayerType = {
  type: 'Convolution',
  onnx: (c) => convolutionToOnnx(c, false),
  create: (def, weights) => spatialSwitch(def, weights, planarConvolution, false),
};

/**
 * Caffe's (De)Convolution takes its number of spatial axes from the bottom at set-up: 2 runs as `planar` (the 2-D
 * layer), 1 or 3 and more as convolutionNd over it. A net's layer is made before its bottom's shape is known, so
 * this layer picks at each reshape (the 2-D one made at once, keeping its load-time errors, unless
 * convolution_param gives some setting for 3 or more axes).
 */
export function spatialSwitch(def: LayerParameter, weights: Tensor[], planar: (def: LayerParameter, weights: Tensor[]) => FusableLayer, transposed: boolean): FusableLayer {
  const axis = paramsOf<ConvolutionParam>(def, 'convolution_param').axis;
  const flat = beyondTwoAxes(def) ? undefined : planar(def, weights);
  let impl = flat, nd: { axes: number; layer: FusableLayer } | undefined;
  let slope: number | undefined, residual: Float32Array | undefined;
  return {
    fuseRelu(s) {
      slope = s;
      impl?.fuseRelu(s);
    },
    fuseSum(r) {
      residual = r;
      impl?.fuseSum?.(r);
    },
    releaseWeights: (again) => impl === flat && !!flat?.releaseWeights?.(again),
    reshape(bottoms) {
      const rank = bottoms[0]?.length ?? 4;
      const axes = rank - 1 - (axis < 0 ? axis + rank : axis);
      if (axes === 2 || axes < 1 || !bottoms.length) impl = flat ?? planar(def, weights);
      else {
        if (nd?.axes !== axes) nd = { axes, layer: convolutionNd(def, weights, axes, planar, transposed) };
        impl = nd.layer;
      }
      impl.fuseRelu(slope);
      impl.fuseSum?.(residual);
      return impl.reshape(bottoms);
    },
    forward: (bottoms, tops) => impl!.forward(bottoms, tops),
    macs: (bottoms, tops) => impl?.macs?.(bottoms, tops) ?? 0,
    prepare: () => impl?.prepare?.(),
    scratchBytes: (threads, poolThreads) => impl?.scratchBytes?.(threads, poolThreads) ?? 0,
  };
}

/** Caffe's Convolution over 2 spatial axes (see convolutionLayer). */
function planarConvolution(def: LayerParameter, weights: Tensor[]): FusableLayer {
    const s = readConvSettings(def);
    const skipPadded = skipsPaddedTaps.has(def);
    let geometry: ConvGeometry | undefined;
    let phases: ConvGeometry | undefined; // a dilated layer's phases (phaseGeometry), when it can run on them
    let batch = 1; // images of the last reshape (the Winograd tile depends on it)
    let w: Float32Array = new Float32Array(0), bias: Float32Array | undefined;
    let reluSlope: number | undefined;
    let residual: Float32Array | undefined;
    let col = new Float32Array(0);
    // Weights packed in wasm memory, made on the first forward that uses the wasm kernels (freed with the layer).
    let packed: PackedConv | undefined;
    let packedDepthwise: PackedDepthwise | undefined;
    let rowMajor: RowMajorInnerProduct | undefined; // a 1x1 convolution of 1 x 1 planes: an inner product
    // By tile: a net run at batch 1 and at batch > 1 may take both (winogradTile), each made once.
    let packedWinograd: Partial<Record<WinogradTileSize | 'made', PackedWinograd>> = {};
    let finiteWeights: boolean | undefined; // Winograd only with finite weights (see allFinite)
    // ready's last answer and what it was for (the same geometry, batch, CREMA_WINOGRAD and engine give the same).
    let chosen: { g: ConvGeometry; num: number; setting: string | undefined; engine: WasmEngine; madeUBytes: number; stridedMacs: number; f6Work: number; kind: ReturnType<typeof ready> } | undefined;
    let refill: (() => Float32Array) | undefined; // set by releaseWeights; `w` is empty until source() refills it
    const layer: FusableLayer = {
      fuseRelu(negativeSlope) {
        reluSlope = negativeSlope;
      },
      fuseSum(r) {
        residual = r;
      },
      releaseWeights(again) {
        const kind = chosen?.kind;
        if (!kind || kind === 'rows' || kind === packedWinograd.made || w.length === 0) return false; // those kernels read `w` itself
        refill = again;
        w = new Float32Array(0);
        weights[0].data = w;
        return true;
      },
      reshape(bottoms) {
        expectCounts(def, [1, Infinity], [bottoms.length, bottoms.length]);
        const b = convBottom(def, s, bottoms);
        const g = convOutput(def, s, b, s.group);
        const [kh, kw] = s.kernel, { outH, outW } = g;
        // Dropped weights (releaseWeights) stay dropped: the packs made from them serve the new geometry too (the
        // shape check reads the dims; a tensor of other rank would be viewed anew, which needs the data).
        if (weights[0]?.dims.length !== 4) source();
        const before = w;
        ({ w, bias } = convWeights(def, s, weights, [s.numOutput, b.channels / s.group, kh, kw], refill && w.length === 0 ? w : undefined));
        if (w !== before) [packed, packedDepthwise, rowMajor, packedWinograd, finiteWeights] = [undefined, undefined, undefined, {}, undefined];
        chosen = undefined;
        batch = b.num;
        geometry = g;
        phases = phaseGeometry(geometry);
        const top = [...bottoms[0].slice(0, b.channelAxis), s.numOutput, outH, outW];
        return bottoms.map(() => top);
      },
      forward(bottoms, tops) {
        const g = geometry!;
        const dims = bottoms[0].dims;
        let num = 1;
        for (let i = 0; i < dims.length - 3; i++) num *= dims[i];
        const engine = wasmEngine();
        const r = residual && bottoms.length === 1 && residual.length === tops[0].data.length ? residual : undefined;
        if (residual && !r) throw new Error(`Convolution '${def.name}': a fused sum needs one bottom and a residual of the top's size`);
        if (!r) return convolve(engine, bottoms, tops, num, reluSlope);
        // The GEMM adds the residual in its last pass when the layer runs there on resident arrays; else the
        // layer runs as it would alone and the sum and ReLU follow in one pass.
        const rAt = engine ? engine.addressOf(r) : 0;
        if (engine && rAt && ready(engine, g, num) === 'gemm' && engine.addressOf(tops[0].data)) {
          convolveWasm(engine, gemmWeights(engine, g), g, s.group, num, bottoms[0].data, tops[0].data, isPointwise(g), reluSlope, rAt);
          return;
        }
        convolve(engine, bottoms, tops, num, undefined);
        addResidual(tops[0].data, r, reluSlope);
      },
      macs(bottoms, tops) {
        const g = geometry;
        if (!g) return 0;
        return bottoms.length * sizeOf(tops[0]) * g.channels * g.kernelH * g.kernelW;
      },
      prepare() {
        const engine = wasmEngine();
        if (!engine || !geometry || !weights.length) return;
        // The phases' buffers written now, as the scratch is (Net's prepare): the first forward does not fault them in.
        if (typeof ready(engine, geometry, batch) !== 'object' || !phases) return;
        const b = phaseBuffers(engine, ...phaseLengths(geometry, phases, batch));
        b?.x.fill(0);
        b?.y.fill(0);
      },
      scratchBytes(threads, poolThreads) {
        // Winograd's bordered input and tile blocks; the other kernels work in place on the net's resident blobs.
        const kind = chosen?.kind;
        if (!geometry || typeof kind !== 'object') return 0;
        // A dilated layer's Winograd runs on its phases, dh * dw images an image.
        return phases ? winogradScratchBytes(kind, phases, s.group, batch * geometry.dilationH * geometry.dilationW, threads, poolThreads) : winogradScratchBytes(kind, geometry, s.group, batch, threads, poolThreads);
      },
    };
    return layer;

    /**
     * The convolution of each bottom into its top on `engine` (null: the TypeScript kernels), ReLU with `slope`
     * fused (undefined: none), no residual.
     */
    function convolve(engine: WasmEngine | null, bottoms: Tensor[], tops: Tensor[], num: number, slope: number | undefined): void {
      const g = geometry!;
      // A fork that skips padded taps differs only for a weight that is not finite (w * 0 is NaN there, else +-0
      // added to a sum that starts at +0): then its rule, in the TypeScript kernel.
      if (!engine || (skipPadded && !(finiteWeights ??= allFinite(source())))) {
        source();
        for (let i = 0; i < bottoms.length; i++) for (let n = 0; n < num; n++) convolveImage(g, n, bottoms[i].data, tops[i].data, slope);
        return;
      }
      const kind = ready(engine, g, num);
      for (let i = 0; i < bottoms.length; i++) {
        const [x, y] = [bottoms[i].data, tops[i].data];
        if (kind === 'depthwise') depthwiseWasm(engine, packedDepthwise!, g, s.group, s.numOutput, num, x, y, slope);
        else if (kind === 'rows') innerProductWasm(engine, rowMajor!, num, x, y, slope);
        else if (kind === 'direct') convDirectWasm(engine, gemmWeights(engine, g), g, num, x, y, slope);
        else if (typeof kind !== 'object' || !(phases ? phasesWasm(engine, kind, g, num, x, y, slope) : winogradWasm(engine, kind, g, s.group, num, x, y, slope)))
          convolveWasm(engine, gemmWeights(engine, g), g, s.group, num, x, y, isPointwise(g), slope);
      }
    }

    /**
     * The weights in the wasm kernel's form for this geometry, made once (by Net.load's prepare, so the first
     * forward runs at the speed of the next ones) and again only when the form changes (a reshape to a plane or a
     * batch that picks another Winograd tile, or CREMA_WINOGRAD changed). Winograd returns its packed weights.
     */
    function ready(engine: WasmEngine, g: ConvGeometry, num: number): 'depthwise' | 'direct' | 'rows' | PackedWinograd | 'gemm' {
      const setting = engine.setting('CREMA_WINOGRAD'), last = chosen;
      const { madeUBytes, stridedMacs, f6Work } = winogradLimits;
      if (last && last.g === g && last.num === num && last.setting === setting && last.engine === engine && last.madeUBytes === madeUBytes &&
        last.stridedMacs === stridedMacs && last.f6Work === f6Work) return last.kind;
      const kind = choose(engine, g, num, setting);
      // Not a Winograd layer that fell back for want of memory for U: it tries again in the next forward.
      const fellBack = (kind === 'direct' || kind === 'gemm') && finiteWeights && winogradTile(g, s.numOutput / s.group, setting, num) !== 0;
      chosen = fellBack ? undefined : { g, num, setting, engine, madeUBytes, stridedMacs, f6Work, kind };
      return kind;
    }

    function choose(engine: WasmEngine, g: ConvGeometry, num: number, setting: string | undefined): 'depthwise' | 'direct' | 'rows' | PackedWinograd | 'gemm' {
      const rows = s.numOutput / s.group;
      if (g.channels === 1) {
        packedDepthwise ??= packDepthwiseWeights(engine, layer, source(), bias);
        return 'depthwise';
      }
      if (wholeWindow(g) && s.group === 1) {
        // One output pixel from the whole unpadded input: an inner product over Caffe's row-major weights (moved
        // into wasm memory, the tensor viewing them), the input being its column as it is. The classifier of a net
        // ending in a 1x1 convolution (MobileNets' fc7), and FCN's fc6 (7x7, 512 -> 4096) and fc7 on a small image:
        // not 8-column GEMM strips of a packed copy (fc6: 411 MB more), nor Winograd's U for one pixel.
        if (!rowMajor) source();
        dropPacked(engine); // first: weights packed in place are in `w` again, and the move may take their block
        rowMajor ??= moveInnerProductWeights(engine, layer, weights[0], bias, rows, g.channels * g.kernelH * g.kernelW);
        w = weights[0].data;
        return 'rows';
      }
      const q = phases;
      if (q) {
        // Dilated: Winograd on the input's phases (see src/kernels/phases.ts) where it would run them undilated.
        const qTile = winogradTile(q, rows, setting, num * g.dilationH * g.dilationW);
        const u = qTile && (finiteWeights ??= allFinite(source())) ? (packedWinograd[qTile] ??= tileU(engine, qTile, () => packWinogradWeights(engine, layer, source(), bias, s.group, rows, q, qTile))) : undefined;
        if (u) return u;
      }
      const tile = winogradTile(g, rows, setting, num);
      // Every weight read only for a layer Winograd would run (ResNet-50's 1x1 layers, most of its weights, are not).
      const winograd = tile !== 0 && (finiteWeights ??= allFinite(source()));
      if (winograd && uPerForward(g, rows, s.group, setting, num, tile)) {
        if (!packedWinograd.made) source();
        packedWinograd.made ??= winogradMadeU(engine, layer, weights[0], bias, rows, g.channels);
        w = weights[0].data; // moved into wasm memory: the tensor views it
        return packedWinograd.made;
      }
      if (winograd) {
        // U is up to 7x the weights (OpenPose's 7x7 stages: 1.15 GB): when the kernels' one 4 GiB memory cannot hold
        // it (big batches, or several large nets in one process), the layer runs im2col on its 1x packed weights
        // instead of failing; it tries again on the next forward (memory may have been freed meanwhile).
        const u = (packedWinograd[tile] ??= tileU(engine, tile, () => packWinogradWeights(engine, layer, source(), bias, s.group, rows, g, tile)));
        if (u) return u;
      }
      gemmWeights(engine, g); // the direct kernel walks them too
      return directFits(g, s.group) ? 'direct' : 'gemm';
    }

    /**
     * A tile's U made (`make`), the other tiles' freed first: a folder of rising image sizes took another tile at a
     * larger one and kept each U beside the next (FCN-8s: 0.22 GB above its largest image alone). Safe: a forward is
     * synchronous and this layer's has not started (its kernels read U only inside it); a layer alternating tiles
     * (batch 1 and 8, sizes back and forth) makes U again at each switch, as the first forward at that shape did.
     */
    function tileU(engine: WasmEngine, tile: WinogradTileSize, make: () => PackedWinograd | undefined): PackedWinograd | undefined {
      for (const [k, other] of Object.entries(packedWinograd)) {
        if (k === 'made' || k === String(tile) || !other) continue; // not `made` (winogradMadeU's, for a U made per forward), as before
        releasePacked(engine, other);
        delete packedWinograd[k as `${WinogradTileSize}`];
      }
      return make();
    }

    /**
     * A dilated convolution through Winograd on its input's phases (src/kernels/phases.ts): gathered into a batch
     * of undilated images, convolved with bias and ReLU, the outputs interleaved back. False when it cannot (no
     * shared memory for the phases, a NaN or infinity in the input): the caller runs im2col.
     */
    function phasesWasm(engine: WasmEngine, u: PackedWinograd, g: ConvGeometry, num: number, x: Float32Array, y: Float32Array, slope: number | undefined): boolean {
      const q = phases!, k = g.dilationH * g.dilationW, all = { ...g, channels: g.channels * s.group };
      const buffers = phaseBuffers(engine, ...phaseLengths(g, q, num));
      if (!buffers) return false;
      gatherPhases(all, q, num, x, buffers.x);
      if (!winogradWasm(engine, u, q, s.group, num * k, buffers.x, buffers.y, slope)) return false;
      scatterPhases(g, q, num, s.numOutput, buffers.y, y);
      return true;
    }

    /** The floats of the gathered phases and of their outputs for `num` images. */
    function phaseLengths(g: ConvGeometry, q: ConvGeometry, num: number): [number, number] {
      const k = num * g.dilationH * g.dilationW;
      return [k * g.channels * s.group * q.height * q.width, k * s.numOutput * q.outH * q.outW];
    }

    /**
     * Frees the GEMM's packed weights when the layer stops using them (a reshape to a plane the row-major weights
     * serve): FCN loads at 500 x 500, where fc6 packs its 411 MB, then runs a small image on the weights as loaded.
     * Made again if a later reshape needs them.
     */
    function dropPacked(engine: WasmEngine): void {
      if (packed) releasePacked(engine, packed);
      packed = undefined;
    }

    /** The weights packed for the im2col GEMM (made once; also the path of a Winograd layer whose input has a NaN). */
    function gemmWeights(engine: WasmEngine, g: ConvGeometry): PackedConv {
      return (packed ??= packOnce(engine, s.numOutput / s.group, g.channels * g.kernelH * g.kernelW));
    }

    /**
     * Packs the weights for the GEMM: in place of the loaded array where it is large and only this net holds it
     * (decoded into the kernels' memory by Net.load, net.params not yet read), so the net keeps one copy (FCN-8s's
     * fc6: 411 MB, not twice). The tensor's data then unpacks them when read (net.params, ONNX export, verify),
     * and so does `source` for a route wanting them as Caffe lays them out (another plane, the TypeScript kernels).
     */
    function packOnce(engine: WasmEngine, rows: number, depth: number): PackedConv {
      const t = weights[0], block = packsInPlace(w.length * 4, rows, depth) && w.length === s.group * rows * depth && !heldTensors.has(t) ? soleWeightsBlock(engine, w) : undefined;
      if (!block) return packConvWeights(engine, layer, source(), bias, s.group, rows, depth);
      const p = packConvWeightsInPlace(engine, layer, w, block, bias, s.group, rows, depth);
      refill = () => unpackConvWeights(engine, p, s.group);
      w = new Float32Array(0);
      unpackedWhenRead(t, source);
      return p;
    }

    /** The weights, made again by `refill` if releaseWeights dropped them. */
    function source(): Float32Array {
      if (refill && w.length === 0) weights[0].data = w = refill();
      return w;
    }

    /** One image's convolution in TypeScript, ReLU with `slope` fused (not the layer's own with a residual to add first). */
    function convolveImage(g: ConvGeometry, n: number, x: Float32Array, y: Float32Array, slope: number | undefined): void {
      const cinG = g.channels, coutG = s.numOutput / s.group;
      const inPlane = g.height * g.width, outPlane = g.outH * g.outW;
      const kdim = cinG * g.kernelH * g.kernelW;
      const xBase = n * cinG * s.group * inPlane, yBase = n * s.numOutput * outPlane;
      if (cinG === 1) {
        depthwise(g, coutG, x, xBase, y, yBase, slope);
        return;
      }
      const pointwise = isPointwise(g);
      for (let grp = 0; grp < s.group; grp++) {
        const A = matrix(w, grp * coutG * kdim, kdim);
        const xg = xBase + grp * cinG * inPlane, yg = yBase + grp * coutG * outPlane;
        const options = { rowBias: bias, rowBiasOffset: grp * coutG, reluSlope: slope };
        if (pointwise) {
          gemm(coutG, outPlane, kdim, A, matrix(x, xg, inPlane), y, yg, outPlane, options);
          continue;
        }
        const rows = Math.max(1, Math.min(g.outH, Math.floor(COL_BUFFER_FLOATS / (kdim * g.outW))));
        if (col.length < kdim * rows * g.outW) col = new Float32Array(kdim * rows * g.outW);
        for (let oy0 = 0; oy0 < g.outH; oy0 += rows) {
          const oy1 = Math.min(g.outH, oy0 + rows), cols = (oy1 - oy0) * g.outW;
          im2col(g, x, xg, oy0, oy1, col);
          gemm(coutG, cols, kdim, A, matrix(col, 0, cols), y, yg + oy0 * g.outW, outPlane, options);
        }
      }
    }

    function depthwise(g: ConvGeometry, coutG: number, x: Float32Array, xBase: number, y: Float32Array, yBase: number, slope: number | undefined): void {
      const inPlane = g.height * g.width, outPlane = g.outH * g.outW, taps = g.kernelH * g.kernelW;
      for (let o = 0; o < s.numOutput; o++) {
        const c = Math.floor(o / coutG);
        depthwisePlane(g, x, xBase + c * inPlane, w, o * taps, bias ? bias[o] : 0, y, yBase + o * outPlane, skipPadded);
        if (slope !== undefined) reluRange(y, yBase + o * outPlane, yBase + (o + 1) * outPlane, slope);
      }
    }
}

/**
 * `t.data` made by `make` when first read (then a plain property again); an assignment replaces it. A layer's
 * weights packed in place: net.params reads them as loaded, the same bits.
 */
function unpackedWhenRead(t: Tensor, make: () => Float32Array): void {
  const plain = (data: Float32Array): Float32Array => (Object.defineProperty(t, 'data', { value: data, writable: true, configurable: true, enumerable: true }), data);
  Object.defineProperty(t, 'data', { get: () => plain(make()), set: plain, configurable: true, enumerable: true });
}

/** Conv, or ConvTranspose for Deconvolution (its weights are C x M/g x kh x kw). */
export function convolutionToOnnx(c: LayerContext, transposed: boolean): void {
  const { layer } = c;
  const def = layer.def;
  // The settings the native layer read and checked when the graph was built (channels at axis 1; Convolution over
  // any number of spatial axes, Deconvolution over 2).
  const x = layer.bottomShapes[0];
  const s = readConvSettingsNd(def, x.length - 2);
  if (canonicalAxis(def, s.axis, x.length) !== 1) fail(c, 'only axis 1 (channels) is supported in ONNX');
  const channels = x[1];
  const weightShape = transposed
    ? [channels, s.numOutput / s.group, ...s.kernel]
    : [s.numOutput, channels / s.group, ...s.kernel];
  const w = expectWeight(def, layer.weights, 0, 'weights', weightShape);
  const params = [c.b.floats(`${layer.name}/weights`, w.data, weightShape)];
  if (s.biasTerm) {
    const bias = expectWeight(def, layer.weights, 1, 'bias', [s.numOutput]);
    params.push(c.b.floats(`${layer.name}/bias`, bias.data, [s.numOutput]));
  }
  // Caffe's convolution of several bottoms (of one shape: Reshape checks) gives each its top with the same weights
  // (FlowNet's siamese first layers): one node per bottom sharing the initializers.
  const attrs = {
    kernel_shape: ints(s.kernel),
    strides: ints(s.stride),
    pads: ints([...s.pad, ...s.pad]),
    dilations: ints(s.dilation),
    group: int(s.group),
  };
  layer.bottoms.forEach((_, i) => c.node(transposed ? 'ConvTranspose' : 'Conv', [c.bottom(i), ...params], [c.top(i)], attrs));
}
