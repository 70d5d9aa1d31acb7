import type { LayerParameter } from '../caffe/types.js';
import type { Message } from '../caffe/message.js';
import { gemm, matrix } from '../kernels/gemm.js';
import type { ConvGeometry } from '../kernels/im2col.js';
import { type PackedConv, convolveWasm, packConvWeights } from '../kernels/packed.js';
import { wasmEngine } from '../kernels/wasm.js';
import type { Shape, Tensor } from '../tensor.js';
import { int, ints } from '../onnx/builder.js';
import { DataType } from '../onnx/proto.js';
import { type LayerContext, fail, gridSample, reduce } from '../onnx/context.js';
import { type Layer, LayerError, type LayerType, expectCounts, expectWeight, need, need4d } from './layer.js';
import { refuseInPlace } from './axes.js';
import { type ConvSettings, convBottom, convOutput, convWeights, readConvSettings } from './convolution.js';

// Deformable ConvNets in Caffe: unsky/Deformable-ConvNets-caffe (v1: DeformableConvolution) and
// zhanglonghao1992/Deformable-ConvNets-v1-v2-caffe (the same v1 files, and v2: ModulatedDeformableConvolution).
// Neither has a CPU forward (Forward_cpu is `{}`: the top is left as it was), so what is restated here is the CUDA
// im2col (deformable_im2col.cu, modulated_deformable_im2col.cu) followed by Caffe's convolution GEMM; docs/FORKS.md
// says where each rule comes from.

const f32 = Math.fround;

/** The settings of either layer: convolution_param's, read from its own param, and the deformable groups. */
interface DeformSettings extends ConvSettings {
  deformableGroup: number;
  /** v2: a third bottom of per-tap masks multiplies each sample; the range rule differs (see sampleTaps). */
  modulated: boolean;
}

/** The sizes one forward works at: input (C, H, W), output (oH, oW), taps K = kh * kw, per image and group. */
interface Plan {
  num: number;
  channels: number;
  height: number;
  width: number;
  outH: number;
  outW: number;
  taps: number;
  /** The column matrix as a pointwise convolution's input: (C/group * K) channels over the oH x oW plane. */
  columns: ConvGeometry;
}

/** The engine's shared array (sharedArray) holding one image's column matrix. */
const COLUMNS = 'deformable.columns';

const PARAM = { DeformableConvolution: 'deformable_convolution_param', ModulatedDeformableConvolution: 'modulated_deformable_convolution_param' } as const;

/**
 * The layer's param read as convolution_param (the forks' LayerSetUp is BaseConvolutionLayer's reading of the same
 * fields), plus deformable_group. Unsky's fork defaults deformable_group to 4, zhanglonghao1992's to 1; both CHECK the
 * offset bottom's channels against 2 * deformable_group * K, so a DeformableConvolution's unwritten one is whichever
 * of the two fits (`groupFromOffsets`).
 */
function readDeformSettings(def: LayerParameter, modulated: boolean): DeformSettings & { groupWritten: boolean } {
  const field = modulated ? PARAM.ModulatedDeformableConvolution : PARAM.DeformableConvolution;
  const raw = (def[field] ?? {}) as Message;
  const s = readConvSettings({ ...def, convolution_param: raw } as LayerParameter);
  const written = raw.deformable_group !== undefined;
  const deformableGroup = written ? Number(raw.deformable_group) : 1;
  need(def, deformableGroup > 0, () => `${field}.deformable_group must be positive, got ${deformableGroup}`);
  // v2 is zhanglonghao1992's alone: its default, 1, whatever the offsets.
  return { ...s, deformableGroup, modulated, groupWritten: written || modulated };
}

/** An unwritten deformable_group: 1 (zhanglonghao1992's default) or 4 (unsky's), the one the offsets' channels fit. */
function groupFromOffsets(def: LayerParameter, offsetChannels: number, taps: number): number {
  for (const dg of [1, 4]) if (offsetChannels === 2 * dg * taps) return dg;
  throw new LayerError(def,
    `the offsets (bottom 1) have ${offsetChannels} channels; without deformable_group written they must be 2 * K = ${2 * taps} (zhanglonghao1992's default 1) or 8 * K = ${8 * taps} (unsky's default 4) for the ${taps} taps`);
}

/**
 * The forks' LayerSetUp and Reshape checks, and what their kernel reads: the offsets (and masks) must have the
 * input's H x W (CHECK_EQ there), but the kernel reads each image's as (deformable_group, 2K, oH, oW) from its start;
 * an output plane larger than the input's would read past the image's offsets (into the next image's or past the
 * blob), which crema refuses.
 */
function planOf(def: LayerParameter, s: DeformSettings & { groupWritten: boolean }, bottoms: Shape[]): Plan {
  const roles = s.modulated ? ['the input', 'the offsets', 'the masks'] : ['the input', 'the offsets'];
  need4d(def, bottoms, roles);
  const b = convBottom(def, s, [bottoms[0]]);
  need(def, b.channelAxis === 1, () => `the forks' kernels read the channels at axis 1; axis ${s.axis} is not supported`);
  const g = convOutput(def, s, b, s.group);
  const [, , height, width] = bottoms[0], taps = s.kernel[0] * s.kernel[1];
  if (!s.groupWritten) s.deformableGroup = groupFromOffsets(def, bottoms[1][1], taps);
  const dg = s.deformableGroup;
  need(def, b.channels % dg === 0, () => `input channels ${b.channels} are not a multiple of deformable_group ${dg}`);
  const perTap = [2, 1];
  roles.slice(1).forEach((role, i) => {
    const x = bottoms[i + 1];
    need(def, x[0] === b.num, () => `${role} (bottom ${i + 1}) have num ${x[0]}, the input ${b.num}`);
    need(def, x[1] === perTap[i] * dg * taps, () =>
      `${role} (bottom ${i + 1}) have ${x[1]} channels; ${i ? 'deformable_group * K' : '2 * deformable_group * K'} = ${perTap[i] * dg * taps} (deformable_group ${dg}, kernel ${s.kernel.join(' x ')})`);
    need(def, x[2] === height && x[3] === width, () => `${role} (bottom ${i + 1}) are ${x[2]} x ${x[3]}, the input ${height} x ${width}: the forks CHECK they are equal`);
  });
  need(def, g.outH * g.outW <= height * width, () =>
    `its output ${g.outH} x ${g.outW} is larger than its input ${height} x ${width}: the forks' kernel would read each image's offsets as ${g.outH} x ${g.outW} planes, past their ${height} x ${width}`);
  const channelsG = b.channels / s.group;
  const columns: ConvGeometry = { ...g, channels: channelsG * taps, height: g.outH, width: g.outW, kernelH: 1, kernelW: 1, padH: 0, padW: 0, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1 };
  return { num: b.num, channels: b.channels, height, width, outH: g.outH, outW: g.outW, taps, columns };
}

/**
 * Where each tap of each output pixel samples, for one deformable group of one image: `at` the top-left corner
 * (y * W + x), `right` 0 or 1, `down` 0 or W, and the four bilinear weights; weights 0 where the sample counts as
 * zero. Made once per group, used for each of its channels (the fork recomputes them per channel: the same values).
 */
interface Taps {
  at: Int32Array;
  right: Int32Array;
  down: Int32Array;
  w1: Float32Array;
  w2: Float32Array;
  w3: Float32Array;
  w4: Float32Array;
}

function tapsOf(n: number): Taps {
  return { at: new Int32Array(n), right: new Int32Array(n), down: new Int32Array(n), w1: new Float32Array(n), w2: new Float32Array(n), w3: new Float32Array(n), w4: new Float32Array(n) };
}

/**
 * Fills `t` for deformable group `dg` from one image's offsets (and masks, v2). Restates, in float:
 * v1 (deformable_im2col.cu, deformable_im2col_gpu_kernel lines 168-196 and deformable_im2col_bilinear lines 12-46):
 *   h_im = h_in + i*dil_h + off_h (h_in = h_col*stride_h - pad_h); a sample counts only when 0 <= h_im < H and
 *   0 <= w_im < W, else 0. The bilinear reads relative to (h_in, w_in) at map_h = i*dil_h + off_h: h_low =
 *   floor(map_h); when the absolute row h_in + h_low >= H - 1 the row is clamped to H - 1 and lh = 0 (a sample in
 *   [H - 1, H) takes the last row whole, no zero neighbour); lh = map_h - h_low; the same along w. Weights
 *   hh*hw, hh*lw, lh*hw, lh*lw.
 * v2 (modulated_deformable_im2col.cu, kernel lines 136-167, dmcn_im2col_bilinear lines 12-40): a sample counts when
 *   -1 < h_im < H and -1 < w_im < W; each corner outside the image is 0 (partial weights at every border); the
 *   coordinates absolute (h_low = floor(h_im)); the value times the mask of its tap.
 * Offsets: channel 2k is tap k's dy, 2k + 1 its dx (k = i * kw + j), group dg's 2K channels after group dg - 1's.
 */
function sampleTaps(s: DeformSettings, p: Plan, offsets: Float32Array, offsetBase: number, masks: Float32Array | undefined, maskBase: number, dg: number, t: Taps): void {
  const { height: H, width: W, outH, outW } = p, L = outH * outW, [kh, kw] = s.kernel;
  const [ph, pw] = s.pad, [sh, sw] = s.stride, [dh, dw] = s.dilation;
  const off = offsetBase + dg * 2 * p.taps * L, msk = maskBase + dg * p.taps * L;
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      const k = i * kw + j, oy = off + 2 * k * L, ox = oy + L;
      for (let hc = 0; hc < outH; hc++) {
        const hIn = hc * sh - ph;
        for (let wc = 0; wc < outW; wc++) {
          const q = hc * outW + wc, e = k * L + q, wIn = wc * sw - pw;
          const offH = offsets[oy + q], offW = offsets[ox + q];
          const hIm = f32(hIn + i * dh + offH), wIm = f32(wIn + j * dw + offW);
          if (s.modulated) modulatedTap(t, e, hIm, wIm, H, W, masks![msk + e]);
          else plainTap(t, e, hIn, wIn, hIm, wIm, f32(i * dh + offH), f32(j * dw + offW), H, W);
        }
      }
    }
}

/** v1's sample (see sampleTaps): in range by 0 <= h_im < H, corners relative to (h_in, w_in), last row/column clamped. */
function plainTap(t: Taps, e: number, hIn: number, wIn: number, hIm: number, wIm: number, mapH: number, mapW: number, H: number, W: number): void {
  if (!(hIm >= 0 && wIm >= 0 && hIm < H && wIm < W)) return zeroTap(t, e);
  const hLow = Math.floor(mapH), wLow = Math.floor(mapW);
  const lastRow = hIn + hLow >= H - 1, lastColumn = wIn + wLow >= W - 1;
  // Clamped: h_low = h = the last row, so lh = 0 (and the high row is the low one).
  const lh = lastRow ? 0 : f32(mapH - hLow), lw = lastColumn ? 0 : f32(mapW - wLow);
  t.at[e] = (lastRow ? H - 1 : hIn + hLow) * W + (lastColumn ? W - 1 : wIn + wLow);
  t.down[e] = lastRow ? 0 : W;
  t.right[e] = lastColumn ? 0 : 1;
  setWeights(t, e, f32(1 - lh), f32(1 - lw), lh, lw, 1);
}

/** v2's sample (see sampleTaps): in range by -1 < h_im < H, each corner outside the image weighted 0, times the mask. */
function modulatedTap(t: Taps, e: number, hIm: number, wIm: number, H: number, W: number, mask: number): void {
  if (!(hIm > -1 && wIm > -1 && hIm < H && wIm < W)) return zeroTap(t, e);
  const hLow = Math.floor(hIm), wLow = Math.floor(wIm);
  const lh = f32(hIm - hLow), lw = f32(wIm - wLow), hh = f32(1 - lh), hw = f32(1 - lw);
  // The corners that exist keep their weight; a missing one reads as 0 (its weight dropped, the index kept inside).
  const top = hLow >= 0, bottom = hLow + 1 <= H - 1, left = wLow >= 0, right = wLow + 1 <= W - 1;
  t.at[e] = Math.max(hLow, 0) * W + Math.max(wLow, 0);
  t.down[e] = top && bottom ? W : 0;
  t.right[e] = left && right ? 1 : 0;
  setWeights(t, e, top ? hh : 0, left ? hw : 0, bottom ? lh : 0, right ? lw : 0, mask);
  // With one row (or column) missing the kept one is read through `at` at both of its corners' slots: move the
  // weight of the missing row's slot to the kept one's.
  if (!top) {
    t.w1[e] = t.w3[e];
    t.w2[e] = t.w4[e];
    t.w3[e] = t.w4[e] = 0;
  }
  if (!left) {
    t.w1[e] = t.w2[e];
    t.w3[e] = t.w4[e];
    t.w2[e] = t.w4[e] = 0;
  }
}

/** Weights w1..w4 = (hh hw, hh lw, lh hw, lh lw), each rounded to float as the fork's products are, times `scale`. */
function setWeights(t: Taps, e: number, hh: number, hw: number, lh: number, lw: number, scale: number): void {
  t.w1[e] = f32(hh * hw) * scale;
  t.w2[e] = f32(hh * lw) * scale;
  t.w3[e] = f32(lh * hw) * scale;
  t.w4[e] = f32(lh * lw) * scale;
}

function zeroTap(t: Taps, e: number): void {
  t.at[e] = t.down[e] = t.right[e] = 0;
  t.w1[e] = t.w2[e] = t.w3[e] = t.w4[e] = 0;
}

/**
 * Caffe's column matrix of one image, (C * K) rows (channel c's taps at c * K + k) by oH * oW columns, each entry the
 * bilinear sample of its channel at its tap's place (sampleTaps): the four products and their sums in float, left to
 * right, as makefile/frcnn's CPU forward (g++, unfused) computes them, so v1's columns are its own to the bit (the CUDA
 * kernel's, fused by nvcc or not, within an ulp). v2's mask is in the weights, not applied after the sum: within an ulp.
 */
function deformableIm2col(s: DeformSettings, p: Plan, x: Float32Array, xBase: number, t: Taps, dg: number, col: Float32Array): void {
  const perGroup = p.channels / s.deformableGroup, plane = p.height * p.width, n = p.taps * p.outH * p.outW;
  const { at, right, down, w1, w2, w3, w4 } = t;
  for (let c = dg * perGroup; c < (dg + 1) * perGroup; c++) {
    const base = xBase + c * plane, row = c * n;
    for (let e = 0; e < n; e++) {
      const a = base + at[e], b = a + right[e];
      // The last sum is rounded to float by the store.
      col[row + e] = f32(f32(f32(w1[e] * x[a]) + f32(w2[e] * x[b])) + f32(w3[e] * x[a + down[e]])) + f32(w4[e] * x[b + down[e]]);
    }
  }
}

function deformableLayer(def: LayerParameter, weights: Tensor[], modulated: boolean): Layer {
  expectCounts(def, modulated ? [3, 3] : [2, 2], [1, 1]);
  refuseInPlace(def);
  const s = readDeformSettings(def, modulated);
  let plan: Plan | undefined, w: Float32Array = new Float32Array(0), bias: Float32Array | undefined;
  let own = new Float32Array(0), taps = tapsOf(0), packed: PackedConv | undefined;
  const layer: Layer = {
    reshape(bottoms) {
      plan = planOf(def, s, bottoms);
      const before = w;
      ({ w, bias } = convWeights(def, s, weights, [s.numOutput, plan.channels / s.group, ...s.kernel]));
      if (w !== before) packed = undefined;
      const n = plan.taps * plan.outH * plan.outW;
      if (taps.at.length !== n) taps = tapsOf(n);
      return [[plan.num, s.numOutput, plan.outH, plan.outW]];
    },
    forward([x, offsets, masks], [top]) {
      const p = plan!, L = p.outH * p.outW, outImage = s.numOutput * L;
      const offImage = offsets.data.length / p.num, maskImage = masks ? masks.data.length / p.num : 0;
      const col = columns(p.channels * p.taps * L);
      for (let n = 0; n < p.num; n++) {
        for (let dg = 0; dg < s.deformableGroup; dg++) {
          sampleTaps(s, p, offsets.data, n * offImage, masks?.data, n * maskImage, dg, taps);
          deformableIm2col(s, p, x.data, n * p.channels * p.height * p.width, taps, dg, col);
        }
        multiply(p, col, top.data.subarray(n * outImage, (n + 1) * outImage));
      }
    },
    macs: (bottoms, tops) => (plan ? tops[0][0] * s.numOutput * plan.outH * plan.outW * (plan.channels / s.group) * plan.taps : 0),
  };
  return layer;

  /**
   * One image's column matrix: on the wasm engine in its memory, shared by every layer of the process (layers run
   * one at a time; the GEMM reads it in place), else the layer's own.
   */
  function columns(length: number): Float32Array {
    const shared = wasmEngine()?.sharedArray(COLUMNS, length);
    if (shared) return shared;
    if (own.length !== length) own = new Float32Array(length);
    return own;
  }

  /** y = W · columns + bias per group: the convolution's own GEMM (a pointwise convolution over the columns). */
  function multiply(p: Plan, col: Float32Array, y: Float32Array): void {
    const engine = wasmEngine(), rows = s.numOutput / s.group, depth = p.columns.channels, L = p.outH * p.outW;
    if (engine) {
      packed ??= packConvWeights(engine, layer, w, bias, s.group, rows, depth);
      convolveWasm(engine, packed, p.columns, s.group, 1, col, y, true, undefined);
      return;
    }
    for (let grp = 0; grp < s.group; grp++)
      gemm(rows, L, depth, matrix(w, grp * rows * depth, depth), matrix(col, grp * depth * L, L), y, grp * rows * L, L, { rowBias: bias, rowBiasOffset: grp * rows });
  }
}

/**
 * DeformableConvolution (Deformable ConvNets v1; unsky/Deformable-ConvNets-caffe, zhanglonghao1992's copy): bottoms
 * (data, offsets), weights (num_output, C / group, kh, kw) and bias as Convolution's. Each output pixel's taps sample
 * the input bilinearly at their grid place plus the offsets' (dy, dx) for the tap and the channel's deformable group,
 * then Caffe's GEMM. The sampling rules are in sampleTaps.
 */
export const deformableConvolutionLayer: LayerType = {
  type: 'DeformableConvolution',
  create: (def, weights) => deformableLayer(def, weights, false),
  onnx: (c) => deformableToOnnx(c, false),
};

/**
 * ModulatedDeformableConvolution (Deformable ConvNets v2, zhanglonghao1992's): bottoms (data, offsets, masks); each
 * sample times its tap's mask as given (the nets put a Sigmoid before; the layer applies none) and v2's range rule.
 */
export const modulatedDeformableConvolutionLayer: LayerType = {
  type: 'ModulatedDeformableConvolution',
  create: (def, weights) => deformableLayer(def, weights, true),
  onnx: (c) => deformableToOnnx(c, true),
};

/**
 * ModulatedDeformableConvolution at opset 19 and later: ONNX's DeformConv, whose rules are v2's (ONNX Runtime 1.31's
 * CPU kernel matches the restated fork within 2e-7; offsets (dy, dx) per tap, offset groups' channels in turn, the
 * mask per tap). Otherwise, and for v1 (whose range test and last-row clamp are not DeformConv's), GridSample (opset
 * 16, bilinear, align_corners 0: the sample at pixel p is at (2p + 1) / W - 1, which serves a plane 1 pixel wide
 * too) over the input viewed as (N * deformable_group, C / deformable_group, H, W), one grid row per (tap, output
 * row): the column matrix (N, C * K, oH * oW) in Caffe's order; then MatMul by the weights per group and the bias.
 * v1: border padding (a sample in [H - 1, H) takes the last row, as the fork's clamp) and the fork's range test
 * 0 <= p < size as a mask; v2: zeros padding (corners outside count 0, as dmcn_im2col_bilinear's; a sample at -1 or
 * below, or at H or beyond, has no corner inside) times the masks.
 */
function deformableToOnnx(c: LayerContext, modulated: boolean): void {
  if (c.opset < 16) fail(c, `${c.layer.def.type} needs GridSample (opset 16), converting at opset ${c.opset}`);
  const def = c.layer.def, n = c.layer.name, shapes = c.layer.bottomShapes;
  const s = readDeformSettings(def, modulated), p = planOf(def, s, shapes);
  const { num: N, channels: C, height: H, width: W, outH, outW, taps: K } = p, L = outH * outW, dg = s.deformableGroup;
  const shape = (what: string, dims: number[]) => c.b.int64s(`${n}/${what}_shape`, dims);
  const reshaped = (x: string, what: string, dims: number[]) => c.node('Reshape', [x, shape(what, dims)], [c.tmp(what)]);
  // The fork's reading of bottom i (offsets, masks) for each image: its first dg * perTap * K * L values.
  const firstPlanes = (i: number, perTap: number, what: string, dims: number[]) => {
    if (L === H * W) return reshaped(c.bottom(i), what, dims);
    const flat = reshaped(c.bottom(i), `${what}_flat`, [N, shapes[i][1] * H * W]);
    const used = c.node('Slice', [flat, c.b.int64s(`${n}/${what}_from`, [0]), c.b.int64s(`${n}/${what}_to`, [dg * perTap * K * L]), c.b.int64s(`${n}/${what}_axis`, [1])], [c.tmp(`${what}_used`)]);
    return reshaped(used, what, dims);
  };
  const wt = expectWeight(def, c.layer.weights, 0, 'weights', [s.numOutput, C / s.group, ...s.kernel]);
  const b = s.biasTerm ? expectWeight(def, c.layer.weights, 1, 'bias', [s.numOutput]) : undefined;
  if (modulated && c.opset >= 19) {
    const inputs = [c.bottom(0), c.b.floats(`${n}/weights`, wt.data, wt.dims), firstPlanes(1, 2, 'offsets', [N, 2 * dg * K, outH, outW]),
      b ? c.b.floats(`${n}/bias`, b.data, [s.numOutput]) : '', firstPlanes(2, 1, 'masks', [N, dg * K, outH, outW])];
    c.node('DeformConv', inputs, [c.top(0)], { kernel_shape: ints(s.kernel), strides: ints(s.stride), pads: ints([...s.pad, ...s.pad]), dilations: ints(s.dilation), group: int(s.group), offset_group: int(dg) });
    return;
  }
  const pos = c.node('Add', [firstPlanes(1, 2, 'offsets', [N, dg, K, 2, outH, outW]), c.b.floats(`${n}/grid`, tapGrid(s, p), [1, 1, K, 2, outH, outW])], [c.tmp('pos')]);
  const pair = (what: string, a: number, z: number) => c.b.floats(`${n}/${what}`, Float32Array.of(a, z), [1, 1, 1, 2, 1, 1]);
  const scaled = c.node('Mul', [pos, pair('scale', 2 / H, 2 / W)], [c.tmp('scaled')]);
  const normed = c.node('Add', [scaled, pair('shift', 1 / H - 1, 1 / W - 1)], [c.tmp('normed')]);
  const last = c.node('Transpose', [normed], [c.tmp('last')], { perm: ints([0, 1, 2, 4, 5, 3]) });
  const xy = c.node('Gather', [last, c.b.int64s(`${n}/xy`, [1, 0])], [c.tmp('xy')], { axis: int(5) });
  const grid = reshaped(xy, 'grid', [N * dg, K * outH, outW, 2]);
  const image = reshaped(c.bottom(0), 'image', [N * dg, C / dg, H, W]);
  const sampled = gridSample(c, image, grid, c.tmp('sampled'), false, modulated ? 'zeros' : 'border');
  const perTap = [N * dg, 1, K * outH, outW];
  let kept: string;
  if (modulated) kept = c.node('Mul', [sampled, firstPlanes(2, 1, 'masks', perTap)], [c.tmp('kept')]);
  else {
    const low = c.node('GreaterOrEqual', [pos, c.b.scalar(0)], [c.tmp('low')]);
    const high = c.node('Less', [pos, pair('limit', H, W)], [c.tmp('high')]);
    const inside = c.node('Cast', [c.node('And', [low, high], [c.tmp('inside2')])], [c.tmp('insidef')], { to: int(DataType.FLOAT) });
    const both = reshaped(reduce(c, 'ReduceMin', inside, [3], true, c.tmp('insidemin')), 'inside', perTap);
    const mask = c.node('Cast', [both], [c.tmp('mask')], { to: int(DataType.BOOL) });
    kept = c.node('Where', [mask, sampled, c.b.scalar(0)], [c.tmp('kept')]);
  }
  const G = s.group, rows = s.numOutput / G, depth = (C / G) * K;
  const product = c.node('MatMul', [c.b.floats(`${n}/weights`, wt.data, [G, rows, depth]), reshaped(kept, 'columns', [N, G, depth, L])], [c.tmp('product')]);
  const top = [N, s.numOutput, outH, outW];
  if (!b) return void c.node('Reshape', [product, shape('top', top)], [c.top(0)]);
  c.node('Add', [reshaped(product, 'planes', top), c.b.floats(`${n}/bias`, b.data, [1, s.numOutput, 1, 1])], [c.top(0)]);
}

/** Each tap's place before its offset, (K, 2, oH, oW): (h_col * stride - pad + i * dilation, the same along w). */
function tapGrid(s: DeformSettings, p: Plan): Float32Array {
  const [, kw] = s.kernel, L = p.outH * p.outW, out = new Float32Array(p.taps * 2 * L);
  for (let k = 0; k < p.taps; k++)
    for (let q = 0; q < L; q++) {
      const hc = Math.floor(q / p.outW), wc = q % p.outW;
      out[(2 * k) * L + q] = hc * s.stride[0] - s.pad[0] + Math.floor(k / kw) * s.dilation[0];
      out[(2 * k + 1) * L + q] = wc * s.stride[1] - s.pad[1] + (k % kw) * s.dilation[1];
    }
  return out;
}
