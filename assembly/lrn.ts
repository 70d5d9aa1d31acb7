// WebAssembly SIMD kernels for LRN (AssemblyScript). Compiled by scripts/build-lrn-wasm.mjs into
// src/kernels/lrn-wasm.ts (the bytes, base64), so the build needs no extra step; src/kernels/lrn.ts calls them.
//
// Same algorithm as the TypeScript kernels in src/kernels/lrn.ts (sliding window sums in float64), but four
// outputs at a time: window sums slide as two f64x2 halves, the base k + alpha/n S is rounded to float32 (what
// Caffe computes in) and b^-beta is taken with f32x4 sqrt / div, which is where the scalar code spends its time.
// Byte addresses into this module's own memory; the JavaScript side lays out x, y and the scratch.

// @ts-nocheck: AssemblyScript types (i32, f64, v128, usize) are not TypeScript's.

/** Powers with a vector form: the betas nets use. Others stay in TypeScript (tables). */
const POW_THREE_QUARTERS: i32 = 0;
const POW_HALF: i32 = 1;
const POW_ONE: i32 = 2;
const POW_ONE_AND_HALF: i32 = 3;
const POW_TWO: i32 = 4;

@inline
function negPow4(b: v128, mode: i32): v128 {
  const one = f32x4.splat(1);
  if (mode == POW_THREE_QUARTERS) {
    const r = f32x4.sqrt(b);
    return f32x4.div(one, f32x4.mul(r, f32x4.sqrt(r)));
  }
  if (mode == POW_HALF) return f32x4.div(one, f32x4.sqrt(b));
  if (mode == POW_ONE) return f32x4.div(one, b);
  if (mode == POW_ONE_AND_HALF) return f32x4.div(one, f32x4.mul(b, f32x4.sqrt(b)));
  return f32x4.div(one, f32x4.mul(b, b));
}

@inline
function negPow1(b: f32, mode: i32): f32 {
  if (mode == POW_THREE_QUARTERS) {
    const r = Mathf.sqrt(b);
    return 1 / (r * Mathf.sqrt(r));
  }
  if (mode == POW_HALF) return 1 / Mathf.sqrt(b);
  if (mode == POW_ONE) return 1 / b;
  if (mode == POW_ONE_AND_HALF) return 1 / (b * Mathf.sqrt(b));
  return 1 / (b * b);
}

/** Two f64x2 (lanes 0-1, 2-3) -> one f32x4. */
@inline
function demote4(lo: v128, hi: v128): v128 {
  return i8x16.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}

@inline
function highHalf(v: v128): v128 {
  return i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
}

/**
 * One channel step of ACROSS_CHANNELS over a plane of `len` floats: sum += in^2 - out^2 (float64 at `sum`), then
 * y = x * (k + alphaOverN * max(sum, 0))^-beta. `inp` / `outp` are the entering / leaving channels (or zeros).
 */
export function acrossStep(x: usize, y: usize, inp: usize, outp: usize, sum: usize, len: i32, alphaOverN: f64, k: f64, mode: i32): void {
  const zero = f64x2.splat(0), kk = f64x2.splat(k), an = f64x2.splat(alphaOverN);
  const vectors = len & ~3;
  for (let i = 0; i < vectors; i += 4) {
    const o = <usize>i << 2, so = <usize>i << 3;
    const a = v128.load(inp + o), b = v128.load(outp + o);
    const alo = f64x2.promote_low_f32x4(a), ahi = f64x2.promote_low_f32x4(highHalf(a));
    const blo = f64x2.promote_low_f32x4(b), bhi = f64x2.promote_low_f32x4(highHalf(b));
    const slo = f64x2.add(v128.load(sum + so), f64x2.sub(f64x2.mul(alo, alo), f64x2.mul(blo, blo)));
    const shi = f64x2.add(v128.load(sum + so, 16), f64x2.sub(f64x2.mul(ahi, ahi), f64x2.mul(bhi, bhi)));
    v128.store(sum + so, slo);
    v128.store(sum + so, shi, 16);
    const base = demote4(f64x2.add(kk, f64x2.mul(an, f64x2.pmax(slo, zero))), f64x2.add(kk, f64x2.mul(an, f64x2.pmax(shi, zero))));
    v128.store(y + o, f32x4.mul(v128.load(x + o), negPow4(base, mode)));
  }
  for (let i = vectors; i < len; i++) {
    const o = <usize>i << 2, so = <usize>i << 3;
    const a = <f64>load<f32>(inp + o), b = <f64>load<f32>(outp + o);
    const s = load<f64>(so + sum) + (a * a - b * b);
    store<f64>(sum + so, s);
    store<f32>(y + o, load<f32>(x + o) * negPow1(<f32>(k + alphaOverN * (s < 0 ? 0 : s)), mode));
  }
}

/** sum[i] += x[i]^2 (float64) for i < len. */
export function addSquares(sum: usize, x: usize, len: i32): void {
  for (let i = 0; i < len; i++) {
    const a = <f64>load<f32>(x + (<usize>i << 2));
    store<f64>(sum + (<usize>i << 3), load<f64>(sum + (<usize>i << 3)) + a * a);
  }
}

/**
 * One output row of WITHIN_CHANNEL. `col` holds width + 2 pad float64 column sums (the pads stay zero), slid here
 * by the entering / leaving rows; `prefix` (width + 2 pad + 1 float64) gets their prefix sums, so output w's box
 * sum is prefix[w + 2 pad + 1] - prefix[w]. y = x * (1 + alphaOverArea * box)^-beta.
 */
export function withinRow(x: usize, y: usize, inp: usize, outp: usize, col: usize, prefix: usize, width: i32, pad: i32, alphaOverArea: f64, mode: i32): void {
  const colAt = col + (<usize>pad << 3);
  const vectors = width & ~3;
  for (let i = 0; i < vectors; i += 4) {
    const o = <usize>i << 2, so = <usize>i << 3;
    const a = v128.load(inp + o), b = v128.load(outp + o);
    const alo = f64x2.promote_low_f32x4(a), ahi = f64x2.promote_low_f32x4(highHalf(a));
    const blo = f64x2.promote_low_f32x4(b), bhi = f64x2.promote_low_f32x4(highHalf(b));
    v128.store(colAt + so, f64x2.add(v128.load(colAt + so), f64x2.sub(f64x2.mul(alo, alo), f64x2.mul(blo, blo))));
    v128.store(colAt + so, f64x2.add(v128.load(colAt + so, 16), f64x2.sub(f64x2.mul(ahi, ahi), f64x2.mul(bhi, bhi))), 16);
  }
  for (let i = vectors; i < width; i++) {
    const a = <f64>load<f32>(inp + (<usize>i << 2)), b = <f64>load<f32>(outp + (<usize>i << 2));
    store<f64>(colAt + (<usize>i << 3), load<f64>(colAt + (<usize>i << 3)) + (a * a - b * b));
  }
  const padded = width + 2 * pad;
  let run: f64 = 0;
  store<f64>(prefix, 0);
  for (let j = 0; j < padded; j++) {
    run += load<f64>(col + (<usize>j << 3));
    store<f64>(prefix + (<usize>(j + 1) << 3), run);
  }
  const ahead = prefix + (<usize>(2 * pad + 1) << 3);
  const zero = f64x2.splat(0), one = f64x2.splat(1), aa = f64x2.splat(alphaOverArea);
  for (let w = 0; w < vectors; w += 4) {
    const o = <usize>w << 2, so = <usize>w << 3;
    const slo = f64x2.pmax(f64x2.sub(v128.load(ahead + so), v128.load(prefix + so)), zero);
    const shi = f64x2.pmax(f64x2.sub(v128.load(ahead + so, 16), v128.load(prefix + so, 16)), zero);
    const base = demote4(f64x2.add(one, f64x2.mul(aa, slo)), f64x2.add(one, f64x2.mul(aa, shi)));
    v128.store(y + o, f32x4.mul(v128.load(x + o), negPow4(base, mode)));
  }
  for (let w = vectors; w < width; w++) {
    const so = <usize>w << 3;
    const s = load<f64>(ahead + so) - load<f64>(prefix + so);
    store<f32>(y + (<usize>w << 2), load<f32>(x + (<usize>w << 2)) * negPow1(<f32>(1 + alphaOverArea * (s < 0 ? 0 : s)), mode));
  }
}

/** ACROSS_CHANNELS over one image: `channels` planes of `plane` floats at x -> y. `sum`: plane float64 of scratch. */
export function acrossImage(x: usize, y: usize, zeros: usize, sum: usize, channels: i32, plane: i32, pre: i32, alphaOverN: f64, k: f64, mode: i32): void {
  acrossRun(x, y, zeros, sum, channels, plane, plane, pre, alphaOverN, k, mode);
}

/**
 * ACROSS_CHANNELS over `len` pixels of each of `channels` planes `plane` floats apart, at x -> y (a whole image, or
 * one run of it: assembly/lrnjob.ts); each pixel's steps are the same whatever the run. `sum`: len float64,
 * `zeros`: len zero floats.
 */
export function acrossRun(x: usize, y: usize, zeros: usize, sum: usize, channels: i32, plane: i32, len: i32, pre: i32, alphaOverN: f64, k: f64, mode: i32): void {
  memory.fill(sum, 0, <usize>len << 3);
  const planeBytes = <usize>plane << 2;
  for (let c = 0; c < pre; c++) addSquares(sum, x + <usize>c * planeBytes, len);
  for (let c = 0; c < channels; c++) {
    const entering = c + pre, leaving = c - pre - 1;
    const inp = entering < channels ? x + <usize>entering * planeBytes : zeros;
    const outp = leaving >= 0 ? x + <usize>leaving * planeBytes : zeros;
    acrossStep(x + <usize>c * planeBytes, y + <usize>c * planeBytes, inp, outp, sum, len, alphaOverN, k, mode);
  }
}

/**
 * WITHIN_CHANNEL over one height x width plane. `col`: width + 2 pad float64, `prefix`: width + 2 pad + 1 float64,
 * `zeros`: width floats. `pad` / `preH`: the window's half-widths, clamped to the plane's width / height.
 */
export function withinPlane(x: usize, y: usize, zeros: usize, col: usize, prefix: usize, height: i32, width: i32, pad: i32, preH: i32, alphaOverArea: f64, mode: i32): void {
  memory.fill(col, 0, <usize>(width + 2 * pad) << 3);
  const rowBytes = <usize>width << 2;
  const colAt = col + (<usize>pad << 3);
  for (let r = 0; r < preH; r++) addSquares(colAt, x + <usize>r * rowBytes, width);
  for (let h = 0; h < height; h++) {
    const entering = h + preH, leaving = h - preH - 1;
    const inp = entering < height ? x + <usize>entering * rowBytes : zeros;
    const outp = leaving >= 0 ? x + <usize>leaving * rowBytes : zeros;
    withinRow(x + <usize>h * rowBytes, y + <usize>h * rowBytes, inp, outp, col, prefix, width, pad, alphaOverArea, mode);
  }
}
