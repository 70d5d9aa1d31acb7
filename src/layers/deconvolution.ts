import { gemm, matrix } from '../kernels/gemm.js';
import { type ConvGeometry, col2im } from '../kernels/im2col.js';
import { reluRange } from '../kernels/relu.js';
import { type Tensor, sizeOf } from '../tensor.js';
import { COL_BUFFER_FLOATS, type FusableLayer, convBottom, convWeights, convolutionToOnnx, readConvSettings } from './convolution.js';
import { type LayerType, expectCounts, need } from './layer.js';

/**
 * Caffe's Deconvolution (the transpose of Convolution): weights (Cin, Cout/group, kh, kw), bias (Cout), output
 * s(H-1) + d(k-1) + 1 - 2p. Per image and group: columns = W^T x (GEMM), then col2im scatters them onto the
 * output, as Caffe's backward_cpu_gemm does. The geometry below is the one of the convolution being transposed:
 * its input is our output (Cout/group channels, OH x OW) and its output is our input (H x W).
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
    let col = new Float32Array(0);
    return {
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
        ({ w, bias } = convWeights(def, s, weights, [b.channels, s.numOutput / s.group, kh, kw]));
        geometry = { channels: s.numOutput / s.group, height: outH, width: outW, kernelH: kh, kernelW: kw, padH: ph, padW: pw, strideH: sh, strideW: sw, dilationH: dh, dilationW: dw, outH: b.height, outW: b.width };
        const top = [...bottoms[0].slice(0, b.channelAxis), s.numOutput, outH, outW];
        return bottoms.map(() => top);
      },
      forward(bottoms, tops) {
        const num = sizeOf(bottoms[0].dims.slice(0, bottoms[0].dims.length - 3));
        for (let i = 0; i < bottoms.length; i++) for (let n = 0; n < num; n++) deconvolveImage(geometry!, n, bottoms[i], tops[i]);
      },
      macs(bottoms) {
        const g = geometry;
        if (!g) return 0;
        return bottoms.length * sizeOf(bottoms[0]) * g.channels * g.kernelH * g.kernelW;
      },
    };

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
