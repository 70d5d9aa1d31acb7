// Single-precision matrix products on Float32Arrays: a cache-blocked, register-tiled GEMM and a GEMV.
//
// The GEMM follows the usual recipe (Goto / BLIS): C is computed in blocks of KC along K; for each K block a
// panel of B (KC x NC) is packed into NR-column strips and a block of A (MC x KC) into MR-row strips, so that
// the micro-kernel reads both operands sequentially. The micro-kernel keeps an MR x NR tile of C in local
// variables (which V8 keeps in registers) and does MR*NR multiply-adds per MR+NR loads.
// Packing handles any row / column stride, so transposed operands cost nothing extra.
// Products are accumulated in double precision (JS numbers) within a K block and stored as float32.

import { reluRange } from './relu.js';

/** A read-only matrix inside a Float32Array: element (i, j) is `data[offset + i * rowStride + j * colStride]`. */
export interface MatrixView {
  data: Float32Array;
  offset: number;
  rowStride: number;
  colStride: number;
}

/** What happens to C besides `C = A B`: accumulate into it, add a bias per row or per column, apply a (leaky) ReLU. */
export interface GemmOptions {
  /** C += A B instead of C = A B. */
  accumulate?: boolean;
  /** Adds rowBias[rowBiasOffset + i] to row i (a convolution's bias per output channel). */
  rowBias?: Float32Array;
  rowBiasOffset?: number;
  /** Adds colBias[j] to column j (an inner product's bias per output). */
  colBias?: Float32Array;
  /** When set, applies Caffe's ReLU (caffeRelu) with this negative slope after everything else (0 for a plain ReLU). */
  reluSlope?: number;
}

/** Row-major view helper: an (rows x cols) matrix stored contiguously, optionally read transposed. */
export function matrix(data: Float32Array, offset: number, ld: number, transposed = false): MatrixView {
  return transposed ? { data, offset, rowStride: 1, colStride: ld } : { data, offset, rowStride: ld, colStride: 1 };
}

const MR = 4;
const NR = 4;
const KC = 256;
const MC = 64;
const NC = 2048;

// Packing buffers, shared by every call (JS is single-threaded and gemm does not re-enter itself).
let packedA = new Float32Array(MC * KC);
let packedB = new Float32Array(KC * NC);

/**
 * C (M x N, row-major with leading dimension ldc, starting at cOffset) = A (M x K) * B (K x N), plus options.
 * K may be 0 (C becomes the bias, or is left as is when accumulating).
 */
export function gemm(
  M: number,
  N: number,
  K: number,
  A: MatrixView,
  B: MatrixView,
  C: Float32Array,
  cOffset: number,
  ldc: number,
  options: GemmOptions = {},
): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    initOutput(M, N, C, cOffset, ldc, options);
    applyRelu(M, N, C, cOffset, ldc, options.reluSlope);
    return;
  }
  if (packedB.length < KC * Math.min(N, NC) + NR * KC) packedB = new Float32Array(KC * (Math.min(N, NC) + NR));
  if (packedA.length < (MC + MR) * KC) packedA = new Float32Array((MC + MR) * KC);
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = Math.min(NC, N - j0);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = Math.min(KC, K - k0);
      const first = k0 === 0, last = k0 + kc >= K;
      packB(B, k0, kc, j0, nc, packedB);
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = Math.min(MC, M - i0);
        packA(A, i0, mc, k0, kc, packedA);
        macroKernel(mc, nc, kc, C, cOffset + i0 * ldc + j0, ldc, first && !options.accumulate);
        if (first) addBias(i0, mc, j0, nc, C, cOffset, ldc, options);
        if (last) applyRelu(mc, nc, C, cOffset + i0 * ldc + j0, ldc, options.reluSlope);
      }
    }
  }

}

/** C block (mc x nc) from the packed A block and B panel; `overwrite` on the first K block unless accumulating. */
function macroKernel(mc: number, nc: number, kc: number, c: Float32Array, cOff: number, ld: number, overwrite: boolean): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = Math.min(NR, nc - jr);
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = Math.min(MR, mc - ir);
      microKernel(kc, packedA, ir * kc, packedB, jr * kc, c, cOff + ir * ld + jr, ld, mr, nr, overwrite);
    }
  }
}

/**
 * Packs rows i0..i0+mc of A's columns k0..k0+kc into MR-row strips: strip s holds, for each k,
 * A[i0 + s*MR + r, k0 + k] at out[s*MR*kc + k*MR + r], with rows past mc zero-filled.
 */
function packA(A: MatrixView, i0: number, mc: number, k0: number, kc: number, out: Float32Array): void {
  packStrips(A.data, A.offset + i0 * A.rowStride + k0 * A.colStride, A.rowStride, A.colStride, mc, kc, MR, out);
}

/**
 * Packs rows k0..k0+kc of B's columns j0..j0+nc into NR-column strips: strip t holds, for each k,
 * B[k0 + k, j0 + t*NR + c] at out[t*NR*kc + k*NR + c], with columns past nc zero-filled.
 */
function packB(B: MatrixView, k0: number, kc: number, j0: number, nc: number, out: Float32Array): void {
  packStrips(B.data, B.offset + k0 * B.rowStride + j0 * B.colStride, B.colStride, B.rowStride, nc, kc, NR, out);
}

/**
 * packA's and packB's work: `count` lanes (A's rows, B's columns) of kc values each, lane l's k-th value at
 * data[base + l*laneStride + k*kStride], into strips of `width` lanes: strip s holds, for each k, lane s + l's
 * value at out[s*kc + k*width + l], with lanes past count zero-filled.
 */
function packStrips(
  data: Float32Array,
  base: number,
  laneStride: number,
  kStride: number,
  count: number,
  kc: number,
  width: number,
  out: Float32Array,
): void {
  for (let s = 0; s < count; s += width) {
    const lanes = Math.min(width, count - s);
    const o = s * kc;
    if (lanes === 4 && width === 4 && laneStride === 1) {
      // The common case of B (row-major, e.g. im2col's output): four contiguous floats per k.
      let src = base + s;
      for (let k = 0, p = o; k < kc; k++, p += 4, src += kStride) {
        out[p] = data[src];
        out[p + 1] = data[src + 1];
        out[p + 2] = data[src + 2];
        out[p + 3] = data[src + 3];
      }
    } else {
      for (let l = 0; l < width; l++) {
        if (l < lanes) {
          let src = base + (s + l) * laneStride;
          for (let k = 0, p = o + l; k < kc; k++, p += width, src += kStride) out[p] = data[src];
        } else {
          for (let k = 0, p = o + l; k < kc; k++, p += width) out[p] = 0;
        }
      }
    }
  }
}

/** One MR x NR tile of C from a packed A strip and a packed B strip; writes only the mr x nr valid corner. */
function microKernel(
  kc: number,
  a: Float32Array,
  aOff: number,
  b: Float32Array,
  bOff: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
  mr: number,
  nr: number,
  overwrite: boolean,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  let pa = aOff, pb = bOff;
  for (let k = 0; k < kc; k++, pa += MR, pb += NR) {
    const a0 = a[pa], a1 = a[pa + 1], a2 = a[pa + 2], a3 = a[pa + 3];
    const b0 = b[pb], b1 = b[pb + 1], b2 = b[pb + 2], b3 = b[pb + 3];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
  }
  if (mr === MR && nr === NR) {
    const r0 = cOff, r1 = cOff + ldc, r2 = r1 + ldc, r3 = r2 + ldc;
    if (overwrite) {
      c[r0] = c00; c[r0 + 1] = c01; c[r0 + 2] = c02; c[r0 + 3] = c03;
      c[r1] = c10; c[r1 + 1] = c11; c[r1 + 2] = c12; c[r1 + 3] = c13;
      c[r2] = c20; c[r2 + 1] = c21; c[r2 + 2] = c22; c[r2 + 3] = c23;
      c[r3] = c30; c[r3 + 1] = c31; c[r3 + 2] = c32; c[r3 + 3] = c33;
    } else {
      c[r0] += c00; c[r0 + 1] += c01; c[r0 + 2] += c02; c[r0 + 3] += c03;
      c[r1] += c10; c[r1 + 1] += c11; c[r1 + 2] += c12; c[r1 + 3] += c13;
      c[r2] += c20; c[r2 + 1] += c21; c[r2 + 2] += c22; c[r2 + 3] += c23;
      c[r3] += c30; c[r3 + 1] += c31; c[r3 + 2] += c32; c[r3 + 3] += c33;
    }
    return;
  }
  const tile = edgeTile;
  tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c03;
  tile[4] = c10; tile[5] = c11; tile[6] = c12; tile[7] = c13;
  tile[8] = c20; tile[9] = c21; tile[10] = c22; tile[11] = c23;
  tile[12] = c30; tile[13] = c31; tile[14] = c32; tile[15] = c33;
  for (let i = 0; i < mr; i++) {
    const row = cOff + i * ldc;
    for (let j = 0; j < nr; j++) c[row + j] = overwrite ? tile[i * NR + j] : c[row + j] + tile[i * NR + j];
  }
}
const edgeTile = new Float64Array(MR * NR);

function addBias(i0: number, mc: number, j0: number, nc: number, c: Float32Array, cOffset: number, ldc: number, o: GemmOptions): void {
  const { rowBias, colBias } = o;
  if (!rowBias && !colBias) return;
  const rbo = o.rowBiasOffset ?? 0;
  for (let i = i0; i < i0 + mc; i++) {
    const row = cOffset + i * ldc;
    if (rowBias) {
      const bias = rowBias[rbo + i];
      for (let j = j0; j < j0 + nc; j++) c[row + j] += bias;
    }
    if (colBias) for (let j = j0; j < j0 + nc; j++) c[row + j] += colBias[j];
  }
}

function initOutput(M: number, N: number, c: Float32Array, cOffset: number, ldc: number, o: GemmOptions): void {
  if (!o.accumulate) for (let i = 0; i < M; i++) c.fill(0, cOffset + i * ldc, cOffset + i * ldc + N);
  addBias(0, M, 0, N, c, cOffset, ldc, o);
}

function applyRelu(M: number, N: number, c: Float32Array, cOffset: number, ldc: number, slope: number | undefined): void {
  if (slope === undefined) return;
  for (let i = 0; i < M; i++) reluRange(c, cOffset + i * ldc, cOffset + i * ldc + N, slope);
}

/**
 * y[i] = sum_k A[i, k] x[k] (+ bias[i]) for an (M x K) matrix A, with optional leaky ReLU.
 * Row-major A (rowStride = K, colStride = 1) takes the dot-product path, four rows at a time so each x load
 * serves four rows; a transposed A (colStride = M) takes the axpy path over A's contiguous columns.
 */
export function gemv(
  M: number,
  K: number,
  A: MatrixView,
  x: Float32Array,
  xOffset: number,
  y: Float32Array,
  yOffset: number,
  bias?: Float32Array,
  reluSlope?: number,
): void {
  if (A.colStride === 1) gemvRows(M, K, A, x, xOffset, y, yOffset);
  else if (A.rowStride === 1) gemvColumns(M, K, A, x, xOffset, y, yOffset);
  else throw new Error('gemv: A needs a unit stride along one axis');
  if (bias) for (let i = 0; i < M; i++) y[yOffset + i] += bias[i];
  if (reluSlope !== undefined) applyRelu(1, M, y, yOffset, M, reluSlope);
}

function gemvRows(M: number, K: number, A: MatrixView, x: Float32Array, xOff: number, y: Float32Array, yOff: number): void {
  const a = A.data, ld = A.rowStride;
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const r0 = A.offset + i * ld, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let k = 0; k < K; k++) {
      const xv = x[xOff + k];
      s0 += a[r0 + k] * xv;
      s1 += a[r1 + k] * xv;
      s2 += a[r2 + k] * xv;
      s3 += a[r3 + k] * xv;
    }
    y[yOff + i] = s0;
    y[yOff + i + 1] = s1;
    y[yOff + i + 2] = s2;
    y[yOff + i + 3] = s3;
  }
  for (; i < M; i++) {
    const r = A.offset + i * ld;
    let s = 0;
    for (let k = 0; k < K; k++) s += a[r + k] * x[xOff + k];
    y[yOff + i] = s;
  }
}

// A transposed: column k of A (M values) is contiguous at offset + k * colStride. Accumulates in a
// Float64Array so the sum keeps double precision like the row path.
let axpyAcc = new Float64Array(0);
function gemvColumns(M: number, K: number, A: MatrixView, x: Float32Array, xOff: number, y: Float32Array, yOff: number): void {
  if (axpyAcc.length < M) axpyAcc = new Float64Array(M);
  const acc = axpyAcc, a = A.data, ld = A.colStride;
  acc.fill(0, 0, M);
  for (let k = 0; k < K; k++) {
    const xv = x[xOff + k];
    if (xv === 0) continue;
    const col = A.offset + k * ld;
    for (let i = 0; i < M; i++) acc[i] += a[col + i] * xv;
  }
  for (let i = 0; i < M; i++) y[yOff + i] = acc[i];
}
