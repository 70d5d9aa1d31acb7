import { gemm, matrix } from '../kernels/gemm.js';
import { type ConvGeometry, col2im } from '../kernels/im2col.js';
import { type PackedConv, convolveWasm, packConvWeights } from '../kernels/packed.js';
import { col2imWasm } from '../kernels/col2im.js';
import { type WasmEngine, wasmEngine } from '../kernels/wasm.js';
import { reluRange } from '../kernels/relu.js';
import { type Tensor, sizeOf } from '../tensor.js';
import { COL_BUFFER_FLOATS, type FusableLayer, convBottom, convWeights, convolutionToOnnx, readConvSettings } from './convolution.js';
import { type LayerType, expectCounts, need } from './layer.js';

/** The engine's shared array for the columns (see WasmEngine.sharedArray). */
const COLUMNS = 'deconvolution.columns';

/**
 * Caffe's Deconvolution (the transpose of Convolution): weights (Cin, Cout/group, kh, kw), bias (Cout), output
 * s(H-1) + d(k-1) + 1 - 2p. Per image and group: columns = W^T x (GEMM), then col2im scatters them onto the
 * output, as Caffe's backward_cpu_gemm does. The geometry below is the one of the convolution being transposed:
 * its input is our output (Cout/group channels, OH x OW) and its output is our input (H x W).
 * On the wasm engine the columns are a 1x1 convolution of the input by W^T (the engine's GEMM, packed once):
 * colorization's conv8_1 (512 -> 256, 4x4 stride 2, 28 x 28) took 623 ms on the TypeScript GEMM.
 */
export const deconvolutionLayer: LayerType = {
  type: 'Deconvolution',
  onnx: (c) => convolutionToOnnx(c, true),
  create(def, weights): FusableLayer {
    const s = readConvSettings(def);
    let geometry: ConvGeometry | undefined;
    let cinG = 0;
    let w: Float32Array = new Float32Array(0), bias: Float32Array | undefined;
    let reluSlope: number | undefined;
    let col: Float32Array = new Float32Array(0); // columns: the TypeScript GEMM's rows (the engine's are shared)
    let packed: PackedConv | undefined; // W^T per group in wasm memory, made on first use
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
        if (w !== before) packed = undefined;
        geometry = { channels: s.numOutput / s.group, height: outH, width: outW, kernelH: kh, kernelW: kw, padH: ph, padW: pw, strideH: sh, strideW: sw, dilationH: dh, dilationW: dw, outH: b.height, outW: b.width };
        const top = [...bottoms[0].slice(0, b.channelAxis), s.numOutput, outH, outW];
        return bottoms.map(() => top);
      },
      forward(bottoms, tops) {
        const num = sizeOf(bottoms[0].dims.slice(0, bottoms[0].dims.length - 3));
        const engine = wasmEngine();
        for (let i = 0; i < bottoms.length; i++)
          for (let n = 0; n < num; n++) {
            if (engine) deconvolveWasm(engine, geometry!, n, bottoms[i], tops[i]);
            else deconvolveImage(geometry!, n, bottoms[i], tops[i]);
          }
      },
      prepare() {
        const engine = wasmEngine();
        if (!engine || !geometry) return;
        transposedWeights(engine, geometry);
        engine.sharedArray(COLUMNS, columns(geometry))?.fill(0); // written now: the first forward does not fault it in
      },
      macs(bottoms) {
        const g = geometry;
        if (!g) return 0;
        return bottoms.length * sizeOf(bottoms[0]) * g.channels * g.kernelH * g.kernelW;
      },
    };
    return layer;

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
  },
};
