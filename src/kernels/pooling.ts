// MAX (without the mask top) and AVE pooling on the wasm engine (assembly/pooling.ts): one parallel job per layer
// over all planes. The layer's window tables (per output row / column: clamped start and end, AVE divisor part)
// go with the job. The TypeScript loops in src/layers/pooling.ts stay the fallback and the tests' reference.

import { KIND_POOL, THREAD_SCRATCH, type WasmEngine } from './wasm.js';

export interface PoolWindows {
  height: number;
  width: number;
  outH: number;
  outW: number;
  kernelW: number;
  strideW: number;
  padW: number;
  rowStart: Int32Array;
  rowEnd: Int32Array;
  rowSpan: Int32Array;
  colSpan: Int32Array;
}

/** Floats of the per-thread row buffer: the padded input row, and what the last vector of outputs reads. */
function bufferLength(w: PoolWindows): number {
  return Math.max(w.padW + w.width, w.outW * w.strideW + w.kernelW + 8) + 8;
}

/** The most input rows of a window: MAX keeps that many rows of row maxima (assembly/pooling.ts maxPlane). */
function windowRows(w: PoolWindows): number {
  let rows = 1;
  for (let oy = 0; oy < w.outH; oy++) rows = Math.max(rows, w.rowEnd[oy] - w.rowStart[oy]);
  return rows;
}

/**
 * MAX's other windows (assembly/pooling.ts maxPlane): the outputs [lo, hi) whose four-wide steps read only columns
 * inside the row (stride 1 or 2; none when fewer than 4), and whether no input row serves two windows.
 */
function straight(w: PoolWindows): { lo: number; hi: number; fused: boolean } {
  const { strideW: sw, kernelW: kw, padW: pw, width: W, outW } = w;
  let lo = 0, hi = 0;
  if (sw <= 2) {
    // A step at o reads columns o sw - pw .. o sw - pw + reach.
    const reach = sw === 1 ? 3 + kw - 1 : 7 + Math.max(0, kw - 2);
    lo = Math.ceil(pw / sw);
    hi = Math.min(outW, Math.floor((W - 1 - reach + pw) / sw) + 4);
    if (hi - lo < 4) lo = hi = 0;
  }
  let fused = true;
  for (let oy = 1; oy < w.outH; oy++) if (w.rowStart[oy] < w.rowEnd[oy - 1]) fused = false;
  return { lo, hi, fused };
}

/** False when the row buffers would not fit the thread scratch (then the caller pools in TypeScript). */
export function canPoolWasm(w: PoolWindows, method: 'MAX' | 'AVE'): boolean {
  return planOf(w, method).fits;
}

function fits(w: PoolWindows, method: 'MAX' | 'AVE'): boolean {
  // AVE: a ring of padded input rows (as many as a window's rows, of whole vectors), and 4 floats where a row's
  // last, partial vector of outputs goes; MAX: a ring of rows of outW (+ 4) maxima.
  const row = Math.ceil(bufferLength(w) / 4) * 4, rows = windowRows(w);
  const floats = method === 'AVE' ? rows * row : rows * (Math.ceil(w.outW / 4) * 4 + 4);
  return (floats + 4) * 4 <= THREAD_SCRATCH;
}

/**
 * What a layer's job takes from its windows besides the planes, worked out once per windows (a reshape makes new
 * ones): each forward only copies the tables and writes the words (the checks below walked every output row and
 * column in every forward: ~10 us a layer of JavaScript on GoogLeNet's pools, more between the kernels' cache misses).
 */
interface PoolPlan {
  fits: boolean;
  /** Floats of scratch each table takes (16-aligned), and all of them. */
  tableFloats: number[];
  tablesFloats: number;
  /** Words 19..24 of the job. */
  bufferLength: number;
  mode: number;
  windowRows: number;
  fused: number;
  lo: number;
  hi: number;
}

const plans = { MAX: new WeakMap<PoolWindows, PoolPlan>(), AVE: new WeakMap<PoolWindows, PoolPlan>() };

function planOf(w: PoolWindows, method: 'MAX' | 'AVE'): PoolPlan {
  let plan = plans[method].get(w);
  if (plan) return plan;
  const align = (n: number) => Math.ceil(n / 16) * 16;
  const tableFloats = [w.rowStart, w.rowEnd, w.rowSpan, w.colSpan].map((t) => align(t.length + 4));
  const { lo, hi, fused } = method === 'MAX' ? straight(w) : { lo: 0, hi: 0, fused: false };
  plan = {
    fits: fits(w, method),
    tableFloats,
    tablesFloats: tableFloats.reduce((a, b) => a + b, 0),
    bufferLength: bufferLength(w),
    mode: threeByThree(w, method) ? 1 : strided3(w, method) ? 2 : strided2(w, method) ? 3 : padded3(w, method) ? 4 : 0,
    windowRows: windowRows(w),
    fused: fused ? 1 : 0,
    lo,
    hi,
  };
  plans[method].set(w, plan);
  return plan;
}

/**
 * The 3x3 windows at stride 1 with pad 1 on a plane of at least 2 x 2 (Inception's AVE pools, GoogLeNet's MAX
 * ones): assembly/pooling.ts runs them over the plane as one flat run, in thread scratch of about the plane's size.
 */
function threeByThree(w: PoolWindows, method: 'MAX' | 'AVE'): boolean {
  const { height: H, width: W } = w;
  if (w.kernelW !== 3 || w.strideW !== 1 || w.padW !== 1 || w.outH !== H || w.outW !== W || H < 2 || W < 2) return false;
  // MAX: a plane of row maxima; AVE: a copy of the plane between W + 1 zeros (and a vector) on each side.
  if (((method === 'MAX' ? H * W : H * W + 2 * W + 8) + 8) * 4 > THREAD_SCRATCH) return false;
  for (let oy = 0; oy < H; oy++)
    if (w.rowStart[oy] !== Math.max(oy - 1, 0) || w.rowEnd[oy] !== Math.min(oy + 2, H) || w.rowSpan[oy] !== 3) return false;
  return w.colSpan.every((span) => span === 3);
}

/**
 * MAX 3x3 at stride 2 without padding, every window at least 2 x 2 (clipped at the plane's last column or row, as
 * CEIL leaves it) and output rows of at least 4 (SqueezeNet's, AlexNet's / CaffeNet's, GoogLeNet's, ResNet-50's
 * and Inception-v3's stride-2 MAX pools): assembly/pooling.ts reads the input rows straight, eight and four
 * outputs a step (maxPlane3s2), rows first (Caffe's order), without the row buffer.
 */
function strided3(w: PoolWindows, method: 'MAX' | 'AVE'): boolean {
  const { height: H, width: W } = w;
  if (method !== 'MAX' || w.kernelW !== 3 || w.strideW !== 2 || w.padW !== 0 || w.outW < 4 || 2 * w.outW > W) return false;
  if ((w.outW + 16) * 4 > THREAD_SCRATCH) return false; // a row of row maxima in thread scratch
  for (let oy = 0; oy < w.outH; oy++)
    if (w.rowStart[oy] !== 2 * oy || w.rowEnd[oy] !== Math.min(2 * oy + 3, H) || 2 * oy + 2 > H) return false;
  return true;
}

/**
 * MAX 2x2 at stride 2 without padding, at least 4 outputs of two columns a row (VGG-16's, FCN's, HED's, SSD300's
 * pools): assembly/pooling.ts maxPlane2s2 reads the window's two input rows straight, four outputs a step.
 */
function strided2(w: PoolWindows, method: 'MAX' | 'AVE'): boolean {
  const { height: H } = w;
  if (method !== 'MAX' || w.kernelW !== 2 || w.strideW !== 2 || w.padW !== 0 || Math.min(w.outW, w.width >> 1) < 4) return false;
  for (let oy = 0; oy < w.outH; oy++) if (w.rowStart[oy] !== 2 * oy || w.rowEnd[oy] !== Math.min(2 * oy + 2, H) || 2 * oy >= H) return false;
  return true;
}

/**
 * MAX 3x3 at stride 2 with pad 1 (DenseNet's pool1, Xception's pools): assembly/pooling.ts maxPlane3s2p1 copies each
 * input row between -FLT_MAX borders and runs maxPlane3s2's steps over it. Its scratch: the bordered row and three
 * rows of row maxima.
 */
function padded3(w: PoolWindows, method: 'MAX' | 'AVE'): boolean {
  const { height: H, width: W, outW } = w;
  if (method !== 'MAX' || w.kernelW !== 3 || w.strideW !== 2 || w.padW !== 1) return false;
  const steps = Math.ceil(outW / 4), rowFloats = 4 * steps + 4;
  if ((Math.max(W + 2, 8 * steps + 12) + 4 + 4 * rowFloats + 8) * 4 > THREAD_SCRATCH) return false;
  // Windows of rows 2 oy - 1 .. 2 oy + 1 clipped to the plane (the last one may hold row 2 oy - 1 alone).
  for (let oy = 0; oy < w.outH; oy++)
    if (w.rowStart[oy] !== Math.max(2 * oy - 1, 0) || w.rowEnd[oy] !== Math.min(2 * oy + 2, H) || 2 * oy - 1 >= H) return false;
  // Every window's first column inside the row (pooledSize's clip): 2 ox - 1 < W.
  return 2 * (outW - 1) - 1 < W;
}

/** y (planes x outH x outW) = MAX or AVE pooling of x (planes x H x W). */
export function poolWasm(e: WasmEngine, w: PoolWindows, method: 'MAX' | 'AVE', planes: number, x: Float32Array, y: Float32Array): void {
  const plan = planOf(w, method);
  const { xAt, yAt, extra } = e.stage(x, y, plan.tablesFloats * 4);
  const p = e.job(KIND_POOL), u32 = e.u32;
  // The tables (the windows' bounds, as they were when the plan was made: the layer makes new ones at reshape).
  let at = extra;
  u32.set(w.rowStart, at >>> 2); p[15] = at; at += plan.tableFloats[0] * 4;
  u32.set(w.rowEnd, at >>> 2); p[16] = at; at += plan.tableFloats[1] * 4;
  u32.set(w.rowSpan, at >>> 2); p[17] = at; at += plan.tableFloats[2] * 4;
  u32.set(w.colSpan, at >>> 2); p[18] = at;
  const perChunk = Math.ceil(planes / e.chunkCount(planes));
  p[3] = xAt; p[4] = yAt; p[5] = perChunk; p[6] = planes;
  p[7] = w.height; p[8] = w.width; p[9] = w.outH; p[10] = w.outW; p[11] = w.kernelW; p[12] = w.strideW; p[13] = w.padW;
  p[14] = method === 'AVE' ? 1 : 0;
  p[19] = plan.bufferLength;
  p[20] = plan.mode;
  p[21] = plan.windowRows;
  if (method === 'MAX') {
    p[22] = plan.fused; p[23] = plan.lo; p[24] = plan.hi;
  }
  e.run(Math.ceil(planes / perChunk));
  e.unstage(y, yAt);
}
