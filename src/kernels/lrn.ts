import { platform } from '../platform.js';
import { LRN_WASM_BASE64 } from './lrn-wasm.js';
import { KIND_LRN, THREAD_SCRATCH, type WasmEngine, wasmEngine } from './wasm.js';

// Local response normalization, as Caffe's LRNLayer computes it, at a cost independent of local_size:
// window sums of squares slide (the entering square is added, the leaving one subtracted) instead of being
// re-summed. Running sums are float64: squares of float32 values are exact there, so the sliding adds only
// rounding of order 1e-16 relative, far below float32 (Caffe itself slides in float32).

/** Scratch reused across forwards; grown (never shrunk) by `lrnScratch`. */
export interface LrnScratch {
  /** ACROSS: running sum of squares for one HxW plane. WITHIN: running column sums of one row, zero-padded. */
  sum: Float64Array;
  /** Zeros standing in for the channels / rows outside the blob, so the sliding loops have no branches. */
  zeros: Float32Array;
}

export function lrnScratch(old: LrnScratch | undefined, sumLen: number, zerosLen: number): LrnScratch {
  if (old && old.sum.length >= sumLen && old.zeros.length >= zerosLen) return old;
  return { sum: new Float64Array(sumLen), zeros: new Float32Array(zerosLen) };
}

/** How base^-beta is computed: the betas nets use get sqrt / division instead of a per-element pow. */
const enum PowMode {
  /** beta 0.75 (AlexNet, CaffeNet, GoogLeNet): 1 / (sqrt(b) sqrt(sqrt(b))). */
  ThreeQuarters,
  Half,
  One,
  OneAndHalf,
  Two,
  /** Any other beta: tables (see `powTable`), about 4x faster than exp(-beta ln b) and 10x than Math.pow. */
  General,
}

function powModeOf(beta: number): PowMode {
  switch (beta) {
    case 0.75: return PowMode.ThreeQuarters;
    case 0.5: return PowMode.Half;
    case 1: return PowMode.One;
    case 1.5: return PowMode.OneAndHalf;
    case 2: return PowMode.Two;
    default: return PowMode.General;
  }
}

/**
 * b^-beta for any beta by tables: b = 2^e m with m in [1, 2), so b^-beta = (2^-beta)^e m^-beta. The first factor
 * is one of 2046 precomputed values; m^-beta is a cubic (Taylor at the start of one of 256 segments of [1, 2)),
 * relative error below 1e-8 for betas up to 3 (Caffe's float32 powx is good to 6e-8). Zero, subnormal,
 * infinite, NaN or negative b are left to Math.pow.
 */
export interface PowTable {
  beta: number;
  /** (2^-beta)^(e - 1023) by biased exponent e. */
  byExponent: Float64Array;
  /** 2^-(e - 1023): scales b to its mantissa exactly. */
  unscale: Float64Array;
  /** Per segment j of [1, 2): the Taylor coefficients of m^-beta at 1 + j / SEGMENTS. */
  cubic: Float64Array;
}

const SEGMENTS = 256;
const powTables = new Map<number, PowTable>();
// The high word of a float64 (sign, exponent, top of the mantissa), read through an aliasing Int32Array.
const bits64 = new Float64Array(1);
const bits32 = new Int32Array(bits64.buffer);
const HIGH = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1 ? 1 : 0; // little-endian: the high word is [1]

export function powTable(beta: number): PowTable {
  let t = powTables.get(beta);
  if (t) return t;
  const byExponent = new Float64Array(2048), unscale = new Float64Array(2048);
  for (let e = 1; e < 2047; e++) {
    byExponent[e] = Math.pow(2, -beta * (e - 1023));
    unscale[e] = Math.pow(2, -(e - 1023));
  }
  const cubic = new Float64Array(4 * SEGMENTS);
  for (let j = 0; j < SEGMENTS; j++) {
    const m = 1 + j / SEGMENTS, f = Math.pow(m, -beta);
    cubic[4 * j] = f;
    cubic[4 * j + 1] = (-beta * f) / m;
    cubic[4 * j + 2] = ((beta * (beta + 1)) / 2) * (f / (m * m));
    cubic[4 * j + 3] = ((-beta * (beta + 1) * (beta + 2)) / 6) * (f / (m * m * m));
  }
  t = { beta, byExponent, unscale, cubic };
  if (powTables.size > 64) powTables.clear(); // a process that loads many nets with odd betas stays small
  powTables.set(beta, t);
  return t;
}

/** b^-beta through `t` (see PowTable). */
export function tablePow(b: number, t: PowTable): number {
  bits64[0] = b;
  const e = bits32[HIGH] >>> 20; // the sign bit makes a negative b's e >= 2048
  if ((e - 1) >>> 0 >= 2046) return Math.pow(b, -t.beta); // zero / subnormal (e = 0), inf / NaN, negative
  const u = (b * t.unscale[e] - 1) * SEGMENTS;
  const j = u | 0;
  const d = (u - j) * (1 / SEGMENTS);
  const c = t.cubic, i = 4 * j;
  return t.byExponent[e] * (c[i] + d * (c[i + 1] + d * (c[i + 2] + d * c[i + 3])));
}

/**
 * b^-beta. Small enough for V8 to inline into the hot loops, where the switch on a loop-invariant mode is
 * perfectly predicted; fusing it into the loop that slides the sums lets the sums hide behind sqrt's latency.
 * `table` is `powTable(beta)` (only the General mode reads it).
 */
function negPow(b: number, mode: PowMode, table: PowTable): number {
  switch (mode) {
    case PowMode.ThreeQuarters: {
      const r = Math.sqrt(b);
      return 1 / (r * Math.sqrt(r));
    }
    case PowMode.Half: return 1 / Math.sqrt(b);
    case PowMode.One: return 1 / b;
    case PowMode.OneAndHalf: return 1 / (b * Math.sqrt(b));
    case PowMode.Two: return 1 / (b * b);
    default: return tablePow(b, table);
  }
}

/**
 * ACROSS_CHANNELS on NCHW: y = x (k + alpha/n S)^-beta, S = sum of x^2 over channels c-(n-1)/2 .. c+(n-1)/2
 * (outside [0, C) counts as zero). Whole HxW planes are the vectors: the running sum of one plane slides
 * over the channels, so each element is read three times (entering, leaving, centre) whatever n is.
 */
export function lrnAcrossChannels(
  x: Float32Array, y: Float32Array, num: number, channels: number, plane: number,
  n: number, alpha: number, beta: number, k: number, scratch: LrnScratch,
): void {
  const pre = Math.min((n - 1) / 2, channels); // a window wider than the blob sums the same channels
  const alphaOverN = alpha / n;
  const { sum, zeros } = scratch;
  const mode = powModeOf(beta), table = powTable(beta);
  if (mode !== PowMode.General && lrnPool.enabled && (simdEnabled ??= platform().env('CREMA_KERNELS') !== 'js')) {
    const e = wasmEngine();
    // In place (x is y) only the standalone module's copies keep the channels still to be read.
    if (e && !(x.buffer === y.buffer && x.byteOffset === y.byteOffset)) {
      lrnAcrossWasm(e, x, y, num, channels, plane, pre, alphaOverN, k, mode);
      return;
    }
  }
  const simd = mode === PowMode.General ? null : lrnSimd(acrossBytes(channels, plane));
  if (simd) {
    acrossSimd(simd, x, y, num, channels, plane, pre, alphaOverN, k, mode);
    return;
  }
  for (let img = 0; img < num; img++) {
    const image = img * channels * plane;
    sum.fill(0, 0, plane);
    // Channels 0 .. pre-1 are in channel 0's window before the loop adds channel 0 + pre.
    for (let c = 0; c < pre; c++) addSquares(sum, x, image + c * plane, plane);
    for (let c = 0; c < channels; c++) {
      const entering = c + pre, leaving = c - pre - 1;
      const inArr = entering < channels ? x : zeros, inOff = entering < channels ? image + entering * plane : 0;
      const outArr = leaving >= 0 ? x : zeros, outOff = leaving >= 0 ? image + leaving * plane : 0;
      const at = image + c * plane;
      for (let i = 0; i < plane; i++) {
        const a = inArr[inOff + i], b = outArr[outOff + i];
        const s = sum[i] + (a * a - b * b);
        sum[i] = s;
        // S >= 0, but rounding in the slide can leave a hair below 0 where all squares have left (k = 0 would then
        // take a real power of a negative base). A NaN stays NaN, as in Caffe's sliding sum.
        y[at + i] = x[at + i] * negPow(k + alphaOverN * (s < 0 ? 0 : s), mode, table);
      }
    }
  }
}

function addSquares(sum: Float64Array, x: Float32Array, off: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const a = x[off + i];
    sum[i] += a * a;
  }
}

/**
 * WITHIN_CHANNEL on NCHW: y = x (1 + alpha/n^2 S)^-beta, S = sum of x^2 over the n x n window centred on the
 * pixel, zero-padded (Caffe: Power(2) -> AVE pool (pad (n-1)/2, stride 1, divisor n^2) -> Power(-beta, alpha, 1)
 * -> product; k plays no part). Separable box sums: a vector of column sums slides down the rows, and a
 * scalar running sum of those slides along each row, in the same loop that writes the row.
 * `sum` must hold width + 2 min((n - 1) / 2, width) values (the pads stay zero); `zeros` width.
 */
export function lrnWithinChannel(
  x: Float32Array, y: Float32Array, planes: number, height: number, width: number,
  n: number, alpha: number, beta: number, scratch: LrnScratch,
): void {
  const count = planes * height * width;
  if (firstUnsafe(x, count) < 0) withinFinite(x, y, planes, height, width, n, alpha, beta, scratch);
  else withinNonFinite(x, y, planes, height, width, n, alpha, beta, scratch);
}

/**
 * From this on a value's float32 square is infinite in Caffe, which squares in float32 (the running sums here are
 * float64, where it would stay finite): 2^64, the float32 square root of FLT_MAX rounded up.
 */
const SQUARE_OVERFLOW = 2 ** 64;

/** The first index whose square is not finite in float32 (NaN, an infinity, or a huge value), or -1. */
function firstUnsafe(x: Float32Array, count: number): number {
  for (let i = 0; i < count; i++) if (!(Math.abs(x[i]) < SQUARE_OVERFLOW)) return i;
  return -1;
}

/**
 * WITHIN_CHANNEL with NaN or infinite squares. Caffe sums each window anew (AVE pooling), so such a value reaches
 * only the outputs whose window holds it; the running sums above would carry it across whole planes (a NaN never
 * leaves a running sum). So: the sliding kernel on a copy with those values zeroed, then the outputs whose window
 * holds one are set as Caffe's arithmetic makes them: S is NaN if the window holds a NaN, else +inf, and
 * y = x (1 + alpha/n^2 S)^-beta (0 times x, NaN for an infinite x). Window counts come from 2-D prefix sums, so the
 * cost stays linear in the plane whatever local_size is.
 */
function withinNonFinite(
  x: Float32Array, y: Float32Array, planes: number, height: number, width: number,
  n: number, alpha: number, beta: number, scratch: LrnScratch,
): void {
  const count = planes * height * width, plane = height * width;
  const clean = new Float32Array(count);
  for (let i = 0; i < count; i++) clean[i] = Math.abs(x[i]) < SQUARE_OVERFLOW ? x[i] : 0;
  withinFinite(clean, y, planes, height, width, n, alpha, beta, scratch);
  const pre = (n - 1) / 2, stride = width + 1;
  const nans = new Int32Array((height + 1) * stride), infs = new Int32Array((height + 1) * stride);
  const scale = alpha / (n * n);
  for (let p = 0; p < planes; p++) {
    const at = p * plane;
    if (firstUnsafe(x.subarray(at, at + plane), plane) < 0) continue;
    prefixCounts(x, at, height, width, nans, infs);
    for (let h = 0; h < height; h++) {
      const r0 = Math.max(0, h - pre), r1 = Math.min(height, h + pre + 1);
      for (let w = 0; w < width; w++) {
        const c0 = Math.max(0, w - pre), c1 = Math.min(width, w + pre + 1);
        const boxNan = nans[r1 * stride + c1] - nans[r0 * stride + c1] - nans[r1 * stride + c0] + nans[r0 * stride + c0];
        const boxInf = infs[r1 * stride + c1] - infs[r0 * stride + c1] - infs[r1 * stride + c0] + infs[r0 * stride + c0];
        if (boxNan === 0 && boxInf === 0) continue;
        const i = at + h * width + w;
        y[i] = x[i] * Math.pow(1 + scale * (boxNan > 0 ? NaN : Infinity), -beta);
      }
    }
  }
}

/** 2-D prefix counts of one plane's NaNs and of its values with an infinite float32 square. */
function prefixCounts(x: Float32Array, at: number, height: number, width: number, nans: Int32Array, infs: Int32Array): void {
  const stride = width + 1;
  for (let h = 0; h < height; h++) {
    let rowNan = 0, rowInf = 0;
    for (let w = 0; w < width; w++) {
      const v = x[at + h * width + w];
      if (v !== v) rowNan++;
      else if (!(Math.abs(v) < SQUARE_OVERFLOW)) rowInf++;
      nans[(h + 1) * stride + w + 1] = nans[h * stride + w + 1] + rowNan;
      infs[(h + 1) * stride + w + 1] = infs[h * stride + w + 1] + rowInf;
    }
  }
}

/** lrnWithinChannel on values whose squares are all finite. */
function withinFinite(
  x: Float32Array, y: Float32Array, planes: number, height: number, width: number,
  n: number, alpha: number, beta: number, scratch: LrnScratch,
): void {
  const alphaOverArea = alpha / (n * n);
  // A window reaching further than the plane sums the same values as one reaching just to its edges, so the
  // half-widths are clamped to the plane: no scratch or loop grows with an absurd local_size.
  const padW = Math.min((n - 1) / 2, width), preH = Math.min((n - 1) / 2, height);
  const { sum: colSum, zeros } = scratch;
  const mode = powModeOf(beta), table = powTable(beta);
  const simd = mode === PowMode.General ? null : lrnSimd(withinBytes(planes, height, width, padW));
  if (simd) {
    withinSimd(simd, x, y, planes, height, width, padW, preH, alphaOverArea, mode);
    return;
  }
  for (let p = 0; p < planes; p++) {
    const plane = p * height * width;
    colSum.fill(0, 0, width + 2 * padW);
    for (let r = 0; r < preH; r++) addSquaresAt(colSum, padW, x, plane + r * width, width);
    for (let h = 0; h < height; h++) {
      const entering = h + preH, leaving = h - preH - 1;
      const inArr = entering < height ? x : zeros, inOff = entering < height ? plane + entering * width : 0;
      const outArr = leaving >= 0 ? x : zeros, outOff = leaving >= 0 ? plane + leaving * width : 0;
      const row = plane + h * width;
      // colSum[padW + c] is column c's sum over the rows h - preH .. h + preH, brought up to date (row `entering`
      // in, row `leaving` out) just before the row window first reaches it; output w sums colSum[w .. w + 2 padW].
      let s = 0;
      for (let c = 0; c < padW; c++) s += slideColumn(colSum, padW + c, inArr[inOff + c], outArr[outOff + c]);
      const updating = width - padW;
      for (let w = 0; w < updating; w++) {
        const c = w + padW;
        s += slideColumn(colSum, padW + c, inArr[inOff + c], outArr[outOff + c]);
        y[row + w] = x[row + w] * negPow(1 + alphaOverArea * s, mode, table);
        s -= colSum[w];
      }
      for (let w = Math.max(updating, 0); w < width; w++) {
        s += colSum[w + 2 * padW]; // the right pad (zeros): kept so the window arithmetic stays uniform
        y[row + w] = x[row + w] * negPow(1 + alphaOverArea * s, mode, table);
        s -= colSum[w];
      }
    }
  }
}

/** Adds a^2 - b^2 to colSum[j] and returns the new value. */
function slideColumn(colSum: Float64Array, j: number, a: number, b: number): number {
  const v = colSum[j] + (a * a - b * b);
  colSum[j] = v;
  return v;
}

function addSquaresAt(sum: Float64Array, at: number, x: Float32Array, off: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const a = x[off + i];
    sum[at + i] += a * a;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The same two kernels in WebAssembly SIMD (assembly/lrn.ts): four outputs at a time, b^-beta with f32x4 sqrt /
// div. Used for the betas with a PowMode other than General; CREMA_KERNELS=js (or `useLrnSimd(false)`) keeps
// everything in the TypeScript above, which stays the reference.

interface LrnSimdExports {
  memory: WebAssembly.Memory;
  acrossImage(x: number, y: number, zeros: number, sum: number, channels: number, plane: number, pre: number, alphaOverN: number, k: number, mode: number): void;
  withinPlane(x: number, y: number, zeros: number, col: number, prefix: number, height: number, width: number, pad: number, preH: number, alphaOverArea: number, mode: number): void;
}

/** The module's data starts at its second page (the first is left to AssemblyScript's own statics). */
const SIMD_BASE = 65536;
/** Above this the TypeScript kernels run: wasm32 memory is at most 4 GiB, and growing it that far is no help. */
const SIMD_MAX_BYTES = 1 << 30;
let simdModule: LrnSimdExports | null | undefined;
/** Off when CREMA_KERNELS=js (read from the platform when first asked) or useLrnSimd(false). */
let simdEnabled: boolean | undefined;

/** Turns the SIMD kernels on or off (tests compare both); returns whether they are available. */
export function useLrnSimd(enabled: boolean): boolean {
  simdEnabled = enabled;
  return loadSimd() !== null;
}

function loadSimd(): LrnSimdExports | null {
  if (simdModule === undefined) {
    try {
      const bytes = Uint8Array.from(atob(LRN_WASM_BASE64), (c) => c.charCodeAt(0));
      const module = platform().compileOptimized?.(bytes) ?? new WebAssembly.Module(bytes);
      simdModule = new WebAssembly.Instance(module, {}).exports as unknown as LrnSimdExports;
    } catch {
      simdModule = null; // no SIMD in this engine: the TypeScript kernels do the work
    }
  }
  return simdModule;
}

/** Bytes of the SIMD module's memory (0 before its first use): tests see whether a forward had to grow it. */
export function lrnSimdMemoryBytes(): number {
  return simdModule ? simdModule.memory.buffer.byteLength : 0;
}

/** The SIMD module with at least `bytes` of room above SIMD_BASE, or null (disabled, unavailable, too big). */
function lrnSimd(bytes: number): LrnSimdExports | null {
  simdEnabled ??= platform().env('CREMA_KERNELS') !== 'js';
  if (!simdEnabled || bytes > SIMD_MAX_BYTES) return null;
  const m = loadSimd();
  if (!m) return null;
  const need = Math.ceil((SIMD_BASE + bytes + 64) / 65536) - m.memory.buffer.byteLength / 65536;
  if (need > 0) m.memory.grow(need);
  return m;
}

/** The SIMD module's room for one image across channels (x, y, the sums, the zeros: see acrossSimd). */
const acrossBytes = (channels: number, plane: number): number => 8 * channels * plane + 12 * plane;
/** The SIMD module's room for `planes` planes within channels (see withinSimd). */
const withinBytes = (planes: number, height: number, width: number, padW: number): number => 8 * planes * height * width + 28 * (width + 2 * padW + 1);

/**
 * Readies what an LRN of this shape will use, so that the first forward runs at the speed of the next ones
 * (Net.load, through the layer's prepare): the SIMD module is compiled, its memory grown and its pages and the
 * scratch's written once. A page's first write costs ~12 us on the team's VM (a first AlexNet forward took
 * 1900-2900 page faults, 600-700 of them in norm1, and ran 3-4x a steady one).
 */
export function lrnPrepare(
  within: boolean, num: number, channels: number, height: number, width: number, n: number, beta: number, scratch: LrnScratch,
): void {
  scratch.sum.fill(0);
  scratch.zeros.fill(0);
  if (powModeOf(beta) === PowMode.General) return;
  const bytes = within ? withinBytes(num * channels, height, width, Math.min((n - 1) / 2, width)) : acrossBytes(channels, height * width);
  const m = lrnSimd(bytes);
  if (m) new Uint8Array(m.memory.buffer, SIMD_BASE, bytes).fill(0);
}

const align16 = (n: number) => (n + 15) & ~15;

function acrossSimd(m: LrnSimdExports, x: Float32Array, y: Float32Array, num: number, channels: number, plane: number, pre: number, alphaOverN: number, k: number, mode: PowMode): void {
  const count = channels * plane;
  const xAt = SIMD_BASE, yAt = align16(xAt + 4 * count), sumAt = align16(yAt + 4 * count), zerosAt = align16(sumAt + 8 * plane);
  const mem = new Float32Array(m.memory.buffer);
  mem.fill(0, zerosAt >> 2, (zerosAt >> 2) + plane);
  for (let img = 0; img < num; img++) {
    mem.set(x.subarray(img * count, (img + 1) * count), xAt >> 2);
    m.acrossImage(xAt, yAt, zerosAt, sumAt, channels, plane, pre, alphaOverN, k, mode);
    y.set(mem.subarray(yAt >> 2, (yAt >> 2) + count), img * count);
  }
}

function withinSimd(m: LrnSimdExports, x: Float32Array, y: Float32Array, planes: number, height: number, width: number, pad: number, preH: number, alphaOverArea: number, mode: PowMode): void {
  const count = planes * height * width, padded = width + 2 * pad;
  const xAt = SIMD_BASE, yAt = align16(xAt + 4 * count), colAt = align16(yAt + 4 * count);
  const prefixAt = align16(colAt + 8 * padded), zerosAt = align16(prefixAt + 8 * (padded + 1));
  const mem = new Float32Array(m.memory.buffer);
  mem.fill(0, zerosAt >> 2, (zerosAt >> 2) + width);
  mem.set(x.subarray(0, count), xAt >> 2);
  const planeBytes = 4 * height * width;
  for (let p = 0; p < planes; p++)
    m.withinPlane(xAt + p * planeBytes, yAt + p * planeBytes, zerosAt, colAt, prefixAt, height, width, pad, preH, alphaOverArea, mode);
  y.set(mem.subarray(yAt >> 2, (yAt >> 2) + count));
}

/** @internal Whether ACROSS_CHANNELS runs as a job of the native engine's pool (tests and benchmarks compare). */
export const lrnPool = { enabled: true };

/** Pixels a chunk takes at most: its float64 sums and its zeros (12 bytes a pixel) fit a thread's scratch. */
const MAX_RUN = Math.floor((THREAD_SCRATCH - 256) / 12 / 4) * 4;

/**
 * ACROSS_CHANNELS on the native engine (assembly/lrnjob.ts): one job over the images, each cut into runs of
 * pixels (every pixel's sum runs over its own channels, so the runs are independent), over the resident blobs.
 * The same kernels as the standalone module (acrossSimd), which copied every image in and out on the calling thread.
 */
function lrnAcrossWasm(e: WasmEngine, x: Float32Array, y: Float32Array, num: number, channels: number, plane: number, pre: number, alphaOverN: number, k: number, mode: PowMode): void {
  const { xAt, yAt } = e.stage(x, y);
  const quads = Math.ceil(plane / 4);
  const want = e.chunkCount(num * quads, num * channels * plane);
  let per = Math.ceil(quads / Math.max(1, Math.ceil(want / num))) * 4;
  if (per > MAX_RUN) per = MAX_RUN;
  const runs = Math.ceil(plane / per);
  const p = e.job(KIND_LRN);
  p[3] = xAt; p[4] = yAt; p[5] = channels; p[6] = plane; p[7] = pre; p[8] = mode; p[9] = runs; p[10] = per;
  const f64 = new DataView(p.buffer, p.byteOffset, 64);
  f64.setFloat64(48, alphaOverN, true);
  f64.setFloat64(56, k, true);
  e.run(num * runs);
  e.unstage(y, yAt);
}
