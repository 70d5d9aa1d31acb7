import { gemm, matrix } from '../kernels/gemm.js';
import { type ConvGeometry, col2im } from '../kernels/im2col.js';
import { type PackedConv, convolveWasm, packConvWeights } from '../kernels/packed.js';
import { col2imWasm } from '../kernels/col2im.js';
import { type WasmEngine, wasmEngine, wasmEngineIfLoaded } from '../kernels/wasm.js';
import { type PackedWinograd, allFinite, packWinogradWeights, winogradLimits, winogradMadeU, winogradScratchBytes, winogradTile, winogradWasm } from '../kernels/winograd.js';
import { reluRange } from '../kernels/relu.js';
import { Tensor, sizeOf } from '../tensor.js';
import type { LayerParameter } from '../caffe/types.js';
import { COL_BUFFER_FLOATS, type FusableLayer, convBottom, convWeights, convolutionToOnnx, readConvSettings, spatialSwitch } from './convolution.js';
import { type LayerType, expectCounts, need } from './layer.js';

/** The engine's shared array for the columns (see WasmEngine.sharedArray). */
const COLUMNS = 'deconvolution.columns';
/** The engine's shared array for the phases' convolution output (see phaseKernel). */
const PHASES = 'deconvolution.phases';

/**
 * One axis of a deconvolution (kernel k, stride s, pad p, input n, output out) as a stride-1 convolution of its
 * input whose output channels are the output's phases: output o = s u + r (cell u, phase r) is, with e = o + p,
 *   sum over j of x[floor(e / s) - j] * w[e mod s + s j]   (0 <= e mod s + s j < k),
 * a correlation of x over the window x[u + d_r - j] (d_r = floor((r + p) / s)). Every phase's window lies in
 * [u - pad, u - pad + kernel), so the convolution has that kernel and pad, and the phases' taps elsewhere are zero.
 * Undefined unless the output is whole cells and the convolution's own (symmetric) pad gives exactly them.
 * Colorization's conv8_1 (4 x 4, stride 2, pad 1) is a 3 x 3 convolution, pad 1, of 4x the output channels.
 */
export function phaseAxis(k: number, s: number, p: number, n: number, out: number): { kernel: number; pad: number; cells: number } | undefined {
  if (out % s !== 0 || k < s) return undefined;
  let lo = Infinity, hi = -Infinity;
  for (let r = 0; r < s; r++) {
    const d = Math.floor((r + p) / s), taps = Math.ceil((k - ((r + p) % s)) / s);
    lo = Math.min(lo, d - taps + 1);
    hi = Math.max(hi, d);
  }
  const cells = out / s, kernel = hi - lo + 1, pad = 0 - lo; // not -lo: -0
  return pad >= 0 && n + 2 * pad - kernel + 1 === cells ? { kernel, pad, cells } : undefined;
}

/**
 * W' of phaseAxis' convolution, in Convolution's layout (groups x coutG s_h s_w filters, cinG x kernel x kernel):
 * filter (o, r, c) of a group, o its output channel and (r, c) the phase, tap (a, b) = w[ci, o, kr, kc] with
 * kr = (r + p_h) mod s_h + s_h (d_r + pad_h - a) when that is a tap of the kernel, else 0 (and across likewise).
 */
export function phaseWeights(w: Float32Array, cin: number, coutG: number, group: number, k: [number, number], s: [number, number], p: [number, number], kernel: [number, number], pad: [number, number]): Float32Array {
  const [kh, kw] = k, [sh, sw] = s, [KH, KW] = kernel, cinG = cin / group, rows = coutG * sh * sw;
  const out = new Float32Array(group * rows * cinG * KH * KW);
  // The tap of kernel row a for phase r (-1: none), per axis.
  const taps = (kk: number, ss: number, pp: number, KK: number, PP: number): Int32Array => {
    const t = new Int32Array(ss * KK);
    for (let r = 0; r < ss; r++)
      for (let a = 0; a < KK; a++) {
        const j = Math.floor((r + pp) / ss) + PP - a, tap = ((r + pp) % ss) + ss * j; // window x[u + d_r - j]
        t[r * KK + a] = j >= 0 && tap < kk ? tap : -1;
      }
    return t;
  };
  const ty = taps(kh, sh, p[0], KH, pad[0]), tx = taps(kw, sw, p[1], KW, pad[1]);
  for (let grp = 0; grp < group; grp++)
    for (let o = 0; o < coutG; o++)
      for (let r = 0; r < sh; r++)
        for (let c = 0; c < sw; c++) {
          const f = grp * rows + (o * sh + r) * sw + c;
          for (let i = 0; i < cinG; i++) {
            const from = ((grp * cinG + i) * coutG + o) * kh * kw, to = (f * cinG + i) * KH * KW;
            for (let a = 0; a < KH; a++) {
              const y = ty[r * KH + a];
              if (y < 0) continue;
              for (let b = 0; b < KW; b++) {
                const x = tx[c * KW + b];
                if (x >= 0) out[to + a * KW + b] = w[from + y * kw + x];
              }
            }
          }
        }
  return out;
}

const isWinograd = (k: PackedWinograd | PackedConv): k is PackedWinograd => 'tile' in k;

/** @internal Whether deconvolutions may run as their output's phases (phaseKernel): tests and benchmarks turn it off to compare. */
export const deconvolutionPhases = { on: true };

/**
 * Caffe's Deconvolution (the transpose of Convolution): weights (Cin, Cout/group, kh, kw), bias (Cout), output
 * s(H-1) + d(k-1) + 1 - 2p. Per image and group: columns = W^T x (GEMM), then col2im scatters them onto the
 * output, as Caffe's backward_cpu_gemm does. The geometry below is the one of the convolution being transposed:
 * its input is our output (Cout/group channels, OH x OW) and its output is our input (H x W).
 * On the wasm engine the columns are a 1x1 convolution of the input by W^T (the engine's GEMM, packed once):
 * colorization's conv8_1 (512 -> 256, 4x4 stride 2, 28 x 28) took 623 ms on the TypeScript GEMM. Where the output's
 * phases make a 3x3 convolution of the input (phaseAxis), that convolution runs in Winograd instead (phaseKernel):
 * conv8_1 73.5 -> 49.1 ms (docs/PERFORMANCE.md, round twenty-six).
 */
export const deconvolutionLayer: LayerType = {
  type: 'Deconvolution',
  onnx: (c) => convolutionToOnnx(c, true),
  create: (def, weights) => spatialSwitch(def, weights, planarDeconvolution, true),
};

/** Caffe's Deconvolution over 2 spatial axes (see deconvolutionLayer). */
function planarDeconvolution(def: LayerParameter, weights: Tensor[]): FusableLayer {
    const s = readConvSettings(def);
    let geometry: ConvGeometry | undefined;
    let cinG = 0;
    let w: Float32Array = new Float32Array(0), bias: Float32Array | undefined;
    let reluSlope: number | undefined;
    let col: Float32Array = new Float32Array(0); // columns: the TypeScript GEMM's rows (the engine's are shared)
    let packed: PackedConv | undefined; // W^T per group in wasm memory, made on first use
    // The deconvolution as a convolution of its output's phases (phaseAxis), and the scatter of those phases onto
    // the output (a col2im with kernel = stride: every output from one phase); undefined where it is not one.
    let phase: { conv: ConvGeometry; spread: ConvGeometry; rows: number } | undefined;
    // Its kernels, made on first use: Winograd's (and W' when U is made from it per forward), or the GEMM's.
    let made: { u: PackedWinograd; w: Tensor | undefined } | undefined;
    let madeGemm: PackedConv | undefined;
    let finite: boolean | undefined; // Winograd only with finite weights (see allFinite)
    let batch = 1;
    const layer: FusableLayer = {
      fuseRelu(negativeSlope) {
        reluSlope = negativeSlope;
      },
      reshape(bottoms) {
        expectCounts(def, [1, Infinity], [bottoms.length, bottoms.length]);
        const b = convBottom(def, s, bottoms);
        const [kh, kw] = s.kernel, [ph, pw] = s.pad, [sh, sw] = s.stride, [dh, dw] = s.dilation;
        const outH = sh * (b.height - 1) + dh * (kh - 1) + 1 - 2 * ph;
        const outW = sw * (b.width - 1) + dw * (kw - 1) + 1 - 2 * pw;
        need(def, outH > 0 && outW > 0, () => `output would be ${outH} x ${outW}: pad ${ph} x ${pw} is too large for input ${b.height} x ${b.width} and kernel ${kh} x ${kw}`);
        cinG = b.channels / s.group;
        const before = w;
        ({ w, bias } = convWeights(def, s, weights, [b.channels, s.numOutput / s.group, kh, kw]));
        if (w !== before) [packed, made, madeGemm, finite] = [undefined, undefined, undefined, undefined];
        geometry = { channels: s.numOutput / s.group, height: outH, width: outW, kernelH: kh, kernelW: kw, padH: ph, padW: pw, strideH: sh, strideW: sw, dilationH: dh, dilationW: dw, outH: b.height, outW: b.width };
        batch = b.num;
        const ay = dh === 1 ? phaseAxis(kh, sh, ph, b.height, outH) : undefined, ax = dw === 1 ? phaseAxis(kw, sw, pw, b.width, outW) : undefined;
        phase = ay && ax ? {
          conv: { channels: cinG, height: b.height, width: b.width, kernelH: ay.kernel, kernelW: ax.kernel, padH: ay.pad, padW: ax.pad, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, outH: ay.cells, outW: ax.cells },
          spread: { channels: s.numOutput, height: outH, width: outW, kernelH: sh, kernelW: sw, padH: 0, padW: 0, strideH: sh, strideW: sw, dilationH: 1, dilationW: 1, outH: ay.cells, outW: ax.cells },
          rows: (s.numOutput / s.group) * sh * sw,
        } : undefined; // its kernel and pad (W''s shape) follow from the layer's settings alone: made kernels stay valid
        const top = [...bottoms[0].slice(0, b.channelAxis), s.numOutput, outH, outW];
        return bottoms.map(() => top);
      },
      forward(bottoms, tops) {
        const num = sizeOf(bottoms[0].dims.slice(0, bottoms[0].dims.length - 3));
        const engine = wasmEngine();
        const u = engine && phaseKernel(engine, num);
        for (let i = 0; i < bottoms.length; i++) {
          if (u && phasesWasm(engine, u, num, bottoms[i].data, tops[i].data)) continue;
          for (let n = 0; n < num; n++) {
            if (engine) deconvolveWasm(engine, geometry!, n, bottoms[i], tops[i]);
            else deconvolveImage(geometry!, n, bottoms[i], tops[i]);
          }
        }
      },
      prepare() {
        const engine = wasmEngine();
        if (!engine || !geometry) return;
        // Written now (Net's prepare): the first forward does not fault them in.
        if (phaseKernel(engine, batch)) engine.sharedArray(PHASES, phaseFloats(batch))?.fill(0);
        else {
          transposedWeights(engine, geometry);
          engine.sharedArray(COLUMNS, columns(geometry))?.fill(0);
        }
      },
      scratchBytes(threads, poolThreads) {
        // The phases' Winograd: its bordered input and tile blocks (the GEMMs work in the thread scratch).
        const e = wasmEngineIfLoaded(), k = e && phaseKernel(e, batch);
        return k && isWinograd(k) ? winogradScratchBytes(k, phase!.conv, s.group, batch, threads, poolThreads) : 0;
      },
      macs(bottoms) {
        const g = geometry;
        if (!g) return 0;
        return bottoms.length * sizeOf(bottoms[0]) * g.channels * g.kernelH * g.kernelW;
      },
    };
    return layer;

    /**
     * The phases' convolution, where it beats the GEMM of W^T and col2im: as Winograd F(4x4, 3x3) where its kernel
     * is 3 x 3 (4 x 4 stride 2 pad 1, 8 x 8 stride 4 pad 2, 3 x 3 stride 1) and Winograd would take F(4x4) there
     * (enough channels, and not F(2x2)'s small planes: 256 -> 256 on 7 x 7 took 1.8x the GEMM's time as F(4x4)
     * phases): 2.25 multiply-adds an output for W''s 9 taps, of which 4 are the deconvolution's, 1.78x fewer than the
     * GEMM's; U made in every forward where it would be large (winogradMadeU: U of W' is 9x the layer's weights, 75
     * MB for colorization's conv8_1), else kept. Or as the engine's im2col GEMM where W' has no zero taps (a kernel of
     * twice the stride, no pad: FCN's and HED's upsamplings, 2 x 2 windows): the multiply-adds of the GEMM path, with
     * K 4x as deep and a quarter of the columns to write and scatter. Undefined where neither (the GEMM path then).
     */
    function phaseKernel(e: WasmEngine, num: number): PackedWinograd | PackedConv | undefined {
      const q = phase?.conv;
      if (!q || !deconvolutionPhases.on) return undefined;
      const rows = phase!.rows, [sh, sw] = s.stride, taps = q.kernelH * q.kernelW;
      // The tile Winograd would take, were U's size no limit (one filter: U made per forward has none).
      const tile = taps === 9 && q.kernelH === 3 ? winogradTile(q, 1, e.setting('CREMA_WINOGRAD'), num) : 0;
      const winograd = tile === 4 || tile === 6;
      if (!winograd && (taps === 1 || taps * sh * sw !== s.kernel[0] * s.kernel[1])) return undefined;
      if (!winograd) return (madeGemm ??= packConvWeights(e, layer, phaseW(), phaseBias(), s.group, rows, cinG * taps));
      finite ??= allFinite(w);
      if (!finite) return undefined;
      if (!made) {
        const W = new Tensor([s.group * rows, cinG, 3, 3], phaseW()), b = phaseBias();
        // U kept where it is small (as a 13 x 13 convolution's, winogradLimits.madeUBytes), else made per forward
        // from W', which then lives as long as the layer (its block is U's source).
        const kept = 36 * rows * s.group * cinG * 4 <= winogradLimits.madeUBytes ? packWinogradWeights(e, layer, W.data, b, s.group, rows, q, 4) : undefined;
        made = kept ? { u: kept, w: undefined } : { u: winogradMadeU(e, layer, W, b, rows, cinG), w: W };
      }
      return made.u;
    }

    /**
     * The phases' convolution (bias and ReLU in it) into a shared buffer, then spread onto y. False when it cannot
     * (no shared memory, a NaN or infinity in x for Winograd): the caller runs the GEMM path.
     */
    function phasesWasm(e: WasmEngine, k: PackedWinograd | PackedConv, num: number, x: Float32Array, y: Float32Array): boolean {
      const { conv, spread } = phase!, per = phaseFloats(1), outPlane = spread.height * spread.width;
      const ys = e.sharedArray(PHASES, num * per);
      if (!ys) return false;
      if (!isWinograd(k)) convolveWasm(e, k, conv, s.group, num, x, ys, false, reluSlope);
      else if (!winogradWasm(e, k, conv, s.group, num, x, ys, reluSlope)) return false;
      const ysAt = e.addressOf(ys), yAt = e.addressOf(y);
      for (let n = 0; n < num; n++) {
        if (yAt) col2imWasm(e, spread, s.numOutput, ysAt + n * per * 4, yAt + n * s.numOutput * outPlane * 4, undefined, undefined);
        else {
          y.fill(0, n * s.numOutput * outPlane, (n + 1) * s.numOutput * outPlane);
          col2im(spread, ys.subarray(n * per), 0, conv.outH, y, n * s.numOutput * outPlane);
        }
      }
      return true;
    }

    /** W' of the phases' convolution (phaseWeights), made when a kernel is. */
    function phaseW(): Float32Array {
      const q = phase!.conv;
      return phaseWeights(w, cinG * s.group, s.numOutput / s.group, s.group, s.kernel, s.stride, s.pad, [q.kernelH, q.kernelW], [q.padH, q.padW]);
    }

    /** The bias of each phase's channel (its output channel's), made when a kernel is. */
    function phaseBias(): Float32Array | undefined {
      const phases = s.stride[0] * s.stride[1];
      return bias && Float32Array.from({ length: s.numOutput * phases }, (_, i) => bias![Math.floor(i / phases)]);
    }

    /** The floats of the phases' convolution output for `num` images (every group). */
    function phaseFloats(num: number): number {
      return num * s.group * phase!.rows * phase!.conv.outH * phase!.conv.outW;
    }

    /** Per group, W_g^T ((Cout/group * kh * kw) x Cin/group) packed as a 1x1 convolution's weights. */
    function transposedWeights(e: WasmEngine, g: ConvGeometry): PackedConv {
      if (packed) return packed;
      const kdim = g.channels * g.kernelH * g.kernelW, t = new Float32Array(w.length);
      for (let grp = 0; grp < s.group; grp++)
        for (let k = 0; k < cinG; k++) {
          const from = (grp * cinG + k) * kdim;
          for (let r = 0; r < kdim; r++) t[(grp * kdim + r) * cinG + k] = w[from + r];
        }
      return (packed = packConvWeights(e, layer, t, undefined, s.group, kdim, cinG));
    }

    /**
     * deconvolveImage with the columns from the engine's GEMM (every group in one job) into a resident buffer, then
     * col2im, bias and ReLU on the engine when the top is resident too (a Net's blob), else in TypeScript.
     */
    function deconvolveWasm(e: WasmEngine, g: ConvGeometry, n: number, bottom: Tensor, top: Tensor): void {
      const inPlane = g.outH * g.outW, outPlane = g.height * g.width, kdim = g.channels * g.kernelH * g.kernelW;
      const inSize = cinG * s.group * inPlane, yBase = n * s.numOutput * outPlane;
      const need = columns(g);
      const cols = e.sharedArray(COLUMNS, need) ?? (col.length < need ? (col = new Float32Array(need)) : col).subarray(0, need);
      const pointwise: ConvGeometry = { channels: cinG, height: g.outH, width: g.outW, kernelH: 1, kernelW: 1, padH: 0, padW: 0, strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, outH: g.outH, outW: g.outW };
      convolveWasm(e, transposedWeights(e, g), pointwise, s.group, 1, bottom.data.subarray(n * inSize, (n + 1) * inSize), cols, true, undefined);
      const y = top.data, colAt = e.addressOf(cols), yAt = e.addressOf(y);
      if (colAt && yAt) return col2imWasm(e, g, s.numOutput, colAt, yAt + yBase * 4, bias, reluSlope);
      y.fill(0, yBase, yBase + s.numOutput * outPlane);
      for (let grp = 0; grp < s.group; grp++) col2im(g, cols.subarray(grp * kdim * inPlane), 0, g.outH, y, yBase + grp * g.channels * outPlane);
      finish(y, yBase, outPlane);
    }

    /** The floats of one image's columns on the engine, every group. */
    function columns(g: ConvGeometry): number {
      return s.group * g.channels * g.kernelH * g.kernelW * g.outH * g.outW;
    }

    function deconvolveImage(g: ConvGeometry, n: number, bottom: Tensor, top: Tensor): void {
      const x = bottom.data, y = top.data;
      const coutG = g.channels, inPlane = g.outH * g.outW, outPlane = g.height * g.width;
      const kdim = coutG * g.kernelH * g.kernelW;
      const xBase = n * cinG * s.group * inPlane, yBase = n * s.numOutput * outPlane;
      y.fill(0, yBase, yBase + s.numOutput * outPlane);
      const rows = Math.max(1, Math.min(g.outH, Math.floor(COL_BUFFER_FLOATS / (kdim * g.outW))));
      if (col.length < kdim * rows * g.outW) col = new Float32Array(kdim * rows * g.outW);
      for (let grp = 0; grp < s.group; grp++) {
        // W_g is (Cin/group) x kdim; the columns are W_g^T (kdim x Cin/group) times x_g (Cin/group x H*W).
        const At = matrix(w, grp * cinG * kdim, kdim, true);
        const xg = xBase + grp * cinG * inPlane, yg = yBase + grp * coutG * outPlane;
        for (let iy0 = 0; iy0 < g.outH; iy0 += rows) {
          const iy1 = Math.min(g.outH, iy0 + rows), cols = (iy1 - iy0) * g.outW;
          gemm(kdim, cols, cinG, At, matrix(x, xg + iy0 * g.outW, inPlane), col, 0, cols);
          col2im(g, col, iy0, iy1, y, yg);
        }
      }
      finish(y, yBase, outPlane);
    }

    function finish(y: Float32Array, yBase: number, outPlane: number): void {
      for (let o = 0; o < s.numOutput; o++) {
        const b = bias ? bias[o] : 0;
        const start = yBase + o * outPlane, end = start + outPlane;
        if (b !== 0) for (let i = start; i < end; i++) y[i] += b;
        if (reluSlope !== undefined) reluRange(y, start, end, reluSlope);
      }
    }
}
