// Caffe's im2col / col2im for 2-D convolution, plus a direct kernel for depthwise convolution.
//
// Layout (as Caffe's src/caffe/util/im2col.cpp): the column matrix has one row per (channel, ky, kx) and one
// column per output position (oy, ox); entry = x[c, oy*sy - py + ky*dy, ox*sx - px + kx*dx], 0 outside the image.
// Both functions take a range of output rows [oy0, oy1) so a caller can work in bounded chunks.
// Instead of testing every element against the image bounds, each (row, ky, kx) computes the range of ox
// whose input column falls inside the image and fills the rest with zeros.

/** The 2-D geometry of a convolution: input (C, H, W), kernel, pad, stride, dilation, output (OH, OW). */
export interface ConvGeometry {
  channels: number;
  height: number;
  width: number;
  kernelH: number;
  kernelW: number;
  padH: number;
  padW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  outH: number;
  outW: number;
}

/** First and one-past-last ox for which ox*stride + offset lies in [0, size). */
function validRange(offset: number, stride: number, size: number, count: number): [number, number] {
  // ox*stride + offset >= 0  <=>  ox >= ceil(-offset / stride)
  const lo = offset >= 0 ? 0 : Math.min(count, Math.ceil(-offset / stride));
  // ox*stride + offset <= size - 1  <=>  ox <= floor((size - 1 - offset) / stride)
  const hiIncl = Math.floor((size - 1 - offset) / stride);
  const hi = Math.max(lo, Math.min(count, hiIncl + 1));
  return [lo, hi];
}

/**
 * Writes the columns for output rows [oy0, oy1) of one image (x at xOffset) into col, row-major with
 * (oy1 - oy0) * outW columns.
 */
export function im2col(g: ConvGeometry, x: Float32Array, xOffset: number, oy0: number, oy1: number, col: Float32Array): void {
  const { channels, height, width, kernelH, kernelW, padH, padW, strideH, strideW, dilationH, dilationW, outW } = g;
  let dst = 0;
  for (let c = 0; c < channels; c++) {
    const plane = xOffset + c * height * width;
    for (let ky = 0; ky < kernelH; ky++) {
      for (let kx = 0; kx < kernelW; kx++) {
        const xShift = kx * dilationW - padW;
        const [lo, hi] = validRange(xShift, strideW, width, outW);
        for (let oy = oy0; oy < oy1; oy++) {
          const iy = oy * strideH - padH + ky * dilationH;
          if (iy < 0 || iy >= height) {
            col.fill(0, dst, dst + outW);
            dst += outW;
            continue;
          }
          const rowBase = plane + iy * width + xShift;
          for (let ox = 0; ox < lo; ox++) col[dst + ox] = 0;
          // A short row is copied by a loop: subarray + set makes a view object per row (CTPN's 18-wide rows: 3x).
          if (strideW === 1 && hi - lo >= 64) {
            col.set(x.subarray(rowBase + lo, rowBase + hi), dst + lo);
          } else {
            for (let ox = lo, src = rowBase + lo * strideW; ox < hi; ox++, src += strideW) col[dst + ox] = x[src];
          }
          for (let ox = hi; ox < outW; ox++) col[dst + ox] = 0;
          dst += outW;
        }
      }
    }
  }
}

/**
 * The adjoint of im2col: adds every column entry back onto the image position it was read from
 * (out at outOffset, shape (C, H, W) of the geometry; the caller zeroes or pre-fills it).
 */
export function col2im(g: ConvGeometry, col: Float32Array, oy0: number, oy1: number, out: Float32Array, outOffset: number): void {
  const { channels, height, width, kernelH, kernelW, padH, padW, strideH, strideW, dilationH, dilationW, outW } = g;
  let src = 0;
  for (let c = 0; c < channels; c++) {
    const plane = outOffset + c * height * width;
    for (let ky = 0; ky < kernelH; ky++) {
      for (let kx = 0; kx < kernelW; kx++) {
        const xShift = kx * dilationW - padW;
        const [lo, hi] = validRange(xShift, strideW, width, outW);
        for (let oy = oy0; oy < oy1; oy++, src += outW) {
          const iy = oy * strideH - padH + ky * dilationH;
          if (iy < 0 || iy >= height) continue;
          const rowBase = plane + iy * width + xShift;
          for (let ox = lo, dst = rowBase + lo * strideW; ox < hi; ox++, dst += strideW) out[dst] += col[src + ox];
        }
      }
    }
  }
}

/**
 * Direct convolution of one input plane with one kh x kw filter (depthwise convolution: one input channel per
 * output channel). Writes out (OH x OW at outOffset) = conv(x plane) + bias. Interior positions (whose whole
 * window is inside the image) run without bounds checks; a tap in the padding adds w * 0, as Caffe's im2col zeros.
 * A -0 bias starts the sum at +0: Caffe adds the bias after the taps' sum (from +0), so its zero sums are +0.
 * `skipPadded`: a fork's rule (ConvolutionDepthwise) that skips the taps in the padding instead.
 */
export function depthwisePlane(
  g: ConvGeometry,
  x: Float32Array,
  xOffset: number,
  w: Float32Array,
  wOffset: number,
  bias: number,
  out: Float32Array,
  outOffset: number,
  skipPadded = false,
): void {
  const { height, width, kernelH, kernelW, padH, padW, strideH, strideW, dilationH, dilationW, outH, outW } = g;
  const b0 = bias + 0;
  // Output columns whose every kernel column is inside the image: ox*s - p >= 0 and ox*s - p + (kw-1)d < W.
  const [lo, loHi] = validRange(-padW, strideW, width, outW);
  const [, hi] = validRange(-padW + (kernelW - 1) * dilationW, strideW, width, outW);
  const interiorLo = lo, interiorHi = Math.max(lo, Math.min(loHi, hi));
  // Per kernel column: its valid output range (independent of the row), computed once per plane.
  if (depthwiseScratch.lo.length < kernelW) growDepthwiseScratch(kernelW);
  for (let kx = 0; kx < kernelW; kx++) {
    const [a, b] = validRange(kx * dilationW - padW, strideW, width, outW);
    depthwiseScratch.lo[kx] = a;
    depthwiseScratch.hi[kx] = b;
  }
  const rangeLo = depthwiseScratch.lo, rangeHi = depthwiseScratch.hi;
  for (let oy = 0; oy < outH; oy++) {
    const iy0 = oy * strideH - padH;
    const dst = outOffset + oy * outW;
    for (let ox = 0; ox < outW; ox++) out[dst + ox] = b0;
    for (let ky = 0; ky < kernelH; ky++) {
      const iy = iy0 + ky * dilationH;
      const wRow = wOffset + ky * kernelW;
      if (iy < 0 || iy >= height) {
        // A row of padding: w * 0 for every tap, as Caffe's im2col zeros (NaN for an infinite or NaN weight).
        if (!skipPadded) for (let kx = 0; kx < kernelW; kx++) addZeroTaps(out, dst, 0, outW, w[wRow + kx]);
        continue;
      }
      const row = xOffset + iy * width;
      for (let kx = 0; kx < kernelW; kx++) {
        const wv = w[wRow + kx];
        const shift = kx * dilationW - padW;
        const a = rangeLo[kx], b = rangeHi[kx];
        // Interior span first (valid for every kx), then the border bits this kx can reach, then w * 0 where its
        // column is in the padding.
        let src = row + interiorLo * strideW + shift;
        for (let ox = interiorLo; ox < interiorHi; ox++, src += strideW) out[dst + ox] += wv * x[src];
        for (let ox = a, end = Math.min(b, interiorLo); ox < end; ox++) out[dst + ox] += wv * x[row + ox * strideW + shift];
        for (let ox = Math.max(a, interiorHi); ox < b; ox++) out[dst + ox] += wv * x[row + ox * strideW + shift];
        if (skipPadded) continue;
        addZeroTaps(out, dst, 0, a, wv);
        addZeroTaps(out, dst, b, outW, wv);
      }
    }
  }
}

/** out[dst + ox] += wv * 0 for ox in [from, to): a tap in the padding (wv * 0 is NaN for an infinite wv). */
function addZeroTaps(out: Float32Array, dst: number, from: number, to: number, wv: number): void {
  const z = wv * 0;
  for (let ox = from; ox < to; ox++) out[dst + ox] += z;
}

const depthwiseScratch = { lo: new Int32Array(16), hi: new Int32Array(16) };
function growDepthwiseScratch(n: number): void {
  depthwiseScratch.lo = new Int32Array(n);
  depthwiseScratch.hi = new Int32Array(n);
}
