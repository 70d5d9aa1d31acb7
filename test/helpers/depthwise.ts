// depthwiseWasm against the TypeScript kernel (depthwisePlane), shared by the wasm-kernel tests and their 3-thread
// file (test/depthwise-threads.test.ts).
import { expect } from 'vitest';
import { depthwiseWasm, packDepthwiseWeights } from '../../src/kernels/depthwise.js';
import { type ConvGeometry, depthwisePlane } from '../../src/kernels/im2col.js';
import { caffeRelu } from '../../src/kernels/relu.js';
import { wasmEngine } from '../../src/kernels/wasm.js';

/**
 * depthwiseWasm of `x` (N x C planes, `mult` outputs each) into y between two guards of a sentinel in wasm memory,
 * the guards checked; with depthwisePlane's output on `xs` (x's numbers) and Caffe's ReLU: [y, want].
 */
export function depthwiseBoth(g: ConvGeometry, N: number, mult: number, x: Float32Array, xs: Float32Array, w: Float32Array, b: Float32Array | undefined, relu: number | undefined, label: string): [Float32Array, Float32Array] {
  const e = wasmEngine()!, GUARD = 64, SENTINEL = -777.25, C = g.channels, cout = C * mult, plane = g.outH * g.outW, n = N * cout * plane;
  const taps = g.kernelH * g.kernelW, inPlane = g.height * g.width;
  const room = e.residentArray(GUARD + n + GUARD)!.fill(SENTINEL), y = room.subarray(GUARD, GUARD + n);
  depthwiseWasm(e, packDepthwiseWeights(e, room, w, b), g, C, cout, N, x, y, relu);
  expect(room.subarray(0, GUARD).filter((v) => v !== SENTINEL).length, `${label}, before y`).toBe(0);
  expect(room.subarray(GUARD + n).filter((v) => v !== SENTINEL).length, `${label}, after y`).toBe(0);
  const want = new Float32Array(n);
  for (let i = 0; i < N; i++) {
    for (let o = 0; o < cout; o++) {
      const at = (i * cout + o) * plane;
      depthwisePlane(g, xs, (i * C + Math.floor(o / mult)) * inPlane, w, o * taps, b ? b[o] : 0, want, at);
      if (relu !== undefined) for (let j = at; j < at + plane; j++) want[j] = caffeRelu(want[j], relu);
    }
  }
  return [y, want];
}

/**
 * Where got is not want: NaN for NaN, the same infinity, the same zero (sign included), else within tol of
 * max(1, |want|). At most five, as `[i] got not want`.
 */
export function differences(got: ArrayLike<number>, want: ArrayLike<number>, tol: number): string[] {
  const out: string[] = [], show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
  for (let i = 0; i < want.length && out.length < 5; i++) {
    const g = got[i], w = want[i];
    const same = Number.isNaN(w) || w === 0 || !Number.isFinite(w) ? Object.is(g, w) : Math.abs(g - w) <= tol * Math.max(1, Math.abs(w));
    if (!same) out.push(`[${i}] ${show(g)} not ${show(w)}`);
  }
  return out;
}
