// The GEMM / GEMV kernels against plain triple loops, over odd sizes that cross the block and tile edges.
import { describe, expect, it } from 'vitest';
import { gemm, gemv, matrix } from '../src/kernels/gemm.js';
import { randomArray, relDiff, rng } from './helpers/compute.js';

/** C = A B (+ bias) with A (M x K) and B (K x N) given by element functions. */
function referenceGemm(M: number, N: number, K: number, a: (i: number, k: number) => number, b: (k: number, j: number) => number): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a(i, k) * b(k, j);
      c[i * N + j] = s;
    }
  return c;
}

const SIZES = [1, 3, 4, 17, 65, 130, 300];

describe('gemm', () => {
  const random = rng(1);
  for (const [M, N, K] of [[1, 1, 1], [3, 17, 65], [17, 3, 300], [65, 65, 17], [130, 5, 257], [4, 300, 3], [66, 9, 520], [5, 2100, 7]]) {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      it(`${M}x${N}x${K}, A${ta ? '^T' : ''} B${tb ? '^T' : ''}`, () => {
        const A = randomArray(M * K + 3, random), B = randomArray(K * N + 5, random);
        // A stored (M x K) or, transposed, (K x M); same for B; both at a nonzero offset.
        const a = (i: number, k: number) => (ta ? A[3 + k * M + i] : A[3 + i * K + k]);
        const b = (k: number, j: number) => (tb ? B[5 + j * K + k] : B[5 + k * N + j]);
        const want = referenceGemm(M, N, K, a, b);
        const C = new Float32Array(M * N);
        gemm(M, N, K, matrix(A, 3, ta ? M : K, ta), matrix(B, 5, tb ? K : N, tb), C, 0, N);
        expect(relDiff(C, want)).toBeLessThan(1e-5);
      });
    }
  }

  it('writes only its block of a larger C (offset, ldc), adds row and column biases, accumulates, applies leaky ReLU', () => {
    const M = 19, N = 23, K = 37, ldc = 31, off = 7;
    const A = randomArray(M * K, random), B = randomArray(K * N, random);
    const rowBias = randomArray(M + 2, random), colBias = randomArray(N, random);
    const prior = randomArray(off + M * ldc + 3, random);
    const C = prior.slice();
    gemm(M, N, K, matrix(A, 0, K), matrix(B, 0, N), C, off, ldc, { accumulate: true, rowBias, rowBiasOffset: 2, colBias, reluSlope: 0.25 });
    const ab = referenceGemm(M, N, K, (i, k) => A[i * K + k], (k, j) => B[k * N + j]);
    const want = prior.slice();
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        const v = prior[off + i * ldc + j] + ab[i * N + j] + rowBias[2 + i] + colBias[j];
        want[off + i * ldc + j] = v > 0 ? v : v * 0.25;
      }
    expect(relDiff(C, want)).toBeLessThan(1e-5);
  });

  it('K = 0 gives the bias alone', () => {
    const C = new Float32Array(6).fill(9), rowBias = new Float32Array([1, -2]);
    gemm(2, 3, 0, matrix(new Float32Array(0), 0, 0), matrix(new Float32Array(0), 0, 3), C, 0, 3, { rowBias, reluSlope: 0 });
    expect([...C].map((v) => v + 0)).toEqual([1, 1, 1, 0, 0, 0]);
  });

  it('random sizes, seeded', () => {
    const r = rng(7);
    for (let t = 0; t < 40; t++) {
      const M = SIZES[Math.floor(r() * SIZES.length)], N = 1 + Math.floor(r() * 90), K = 1 + Math.floor(r() * 300);
      const A = randomArray(M * K, r), B = randomArray(K * N, r), C = new Float32Array(M * N);
      gemm(M, N, K, matrix(A, 0, K), matrix(B, 0, N), C, 0, N);
      expect(relDiff(C, referenceGemm(M, N, K, (i, k) => A[i * K + k], (k, j) => B[k * N + j])), `${M}x${N}x${K}`).toBeLessThan(1e-5);
    }
  });
});

describe('gemv', () => {
  const random = rng(2);
  for (const [M, K] of [[1, 1], [3, 17], [17, 3], [65, 300], [4, 4], [7, 1000]]) {
    for (const transposed of [false, true]) {
      it(`${M}x${K}${transposed ? ' (A stored transposed)' : ''}, with bias and ReLU`, () => {
        const A = randomArray(M * K, random), x = randomArray(K + 2, random), bias = randomArray(M, random);
        const at = (i: number, k: number) => (transposed ? A[k * M + i] : A[i * K + k]);
        const want = new Float64Array(M);
        for (let i = 0; i < M; i++) {
          let s = bias[i];
          for (let k = 0; k < K; k++) s += at(i, k) * x[2 + k];
          want[i] = Math.max(0, s);
        }
        const y = new Float32Array(M + 1);
        gemv(M, K, matrix(A, 0, transposed ? M : K, transposed), x, 2, y, 1, bias, 0);
        expect(relDiff(y.subarray(1), want)).toBeLessThan(1e-5);
        expect(y[0]).toBe(0);
      });
    }
  }
});
