// Small helpers shared by the kernels: SIMD arithmetic, the GEMM tile, reading a job's words, copying rows.

// @ts-nocheck: AssemblyScript types (v128) are not TypeScript's.

/**
 * acc + a * b: one fused multiply-add where the engine has relaxed SIMD (the dist/kernels-fma.wasm build, see
 * src/kernels/wasm.ts), else a multiply and an add. ASC_FEATURE_RELAXED_SIMD is a compile-time constant.
 */
@inline
export function madd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** madd for one float, the same rounding as madd's lanes (a kernel's scalar edges next to its vectors). */
@inline
export function maddf(acc: f32, a: f32, b: f32): f32 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.extract_lane(f32x4.relaxed_madd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(acc)), 0);
  return acc + a * b;
}

/**
 * acc + a * b with the product exact, as Caffe's axpy (OpenBLAS: a fused multiply-add, its C tail too; real Caffe,
 * test/fixtures/nonfinite/eltwise_fma): the relaxed-SIMD fused multiply-add in dist/kernels-fma.wasm; in the
 * plain build each half in f64 (an f32 product is exact there, then one add and the rounding to f32), four times
 * the instructions of madd: only for Eltwise's coefficients, not for the GEMMs.
 */
@inline
export function maddExact(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  const lo = f64x2.add(f64x2.promote_low_f32x4(acc), f64x2.mul(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b)));
  const hi = f64x2.add(promoteHigh(acc), f64x2.mul(promoteHigh(a), promoteHigh(b)));
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

@inline
function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
}

/** maddExact for one float: the fused multiply-add's lane, or the f64 sum. */
@inline
export function maddExactf(acc: f32, a: f32, b: f32): f32 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.extract_lane(f32x4.relaxed_madd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(acc)), 0);
  return <f32>(<f64>acc + <f64>a * <f64>b);
}

/**
 * Caffe's ReLU, lanewise and bit for bit: max(v, 0) + slope * min(v, 0) with std::max(a, b) = a < b ? b : a and
 * std::min(a, b) = b < a ? b : a, which are exactly pmax and pmin. So +0 for a negative v at slope 0 (0 + -0),
 * -0 for v = -0, NaN for NaN and for -Infinity at slope 0 (0 * -Infinity), +0 where slope * v underflows to -0.
 * Four instructions (maxps, minps, mulps, addps on x64), no compare and blend.
 */
@inline
export function relu(v: v128, slope: f32): v128 {
  const zero = f32x4.splat(0);
  return f32x4.add(f32x4.pmax(v, zero), f32x4.mul(f32x4.splat(slope), f32x4.pmin(v, zero)));
}

/** relu for one float: the same formula, the same bits. */
@inline
export function reluf(v: f32, slope: f32): f32 {
  return select<f32>(0, v, v < 0) + slope * select<f32>(0, v, 0 < v);
}

/** The packed GEMM's register tile: MR rows of A by NR columns of B. */
export const MR: i32 = 4;
export const NR: i32 = 8;

/** Word i of a job's parameter block at p, as an int / as an address. */
@inline
export function word(p: usize, i: i32): i32 {
  return load<i32>(p + (<usize>i << 2));
}
@inline
export function addr(p: usize, i: i32): usize {
  return <usize>load<u32>(p + (<usize>i << 2));
}

/** W floats from src to dst; whole vectors, the last one ending at the row's end, when W >= 4. */
@inline
export function copyRow(src: usize, W: i32, dst: usize): void {
  if (W < 4) {
    for (let i = 0; i < W; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
    return;
  }
  const last = <usize>(W - 4) << 2;
  for (let at: usize = 0; at < last; at += 16) v128.store(dst + at, v128.load(src + at));
  v128.store(dst + last, v128.load(src + last)); // may overlap the one before: the same values
}

/** W zero floats at dst: whole vectors, the last one ending at the row's end, when W >= 4. */
@inline
export function zeroRow(dst: usize, W: i32): void {
  if (W < 4) {
    for (let i = 0; i < W; i++) store<f32>(dst + (<usize>i << 2), 0);
    return;
  }
  const z = f32x4.splat(0), last = <usize>(W - 4) << 2;
  for (let at: usize = 0; at < last; at += 16) v128.store(dst + at, z);
  v128.store(dst + last, z);
}

/**
 * One input row (W floats) into a stride-2 kernel's padded copy, its columns deinterleaved: padded column
 * X = c + pw goes to the even half at dst + X / 2 (X even) or to the odd half at dst + q + X / 2 (X odd, q bytes
 * on), so that columns 2 ox + kx are consecutive in ox for each kx.
 */
@inline
export function splitRow(src: usize, W: i32, pw: i32, dst: usize, q: usize): void {
  if (W < 8) {
    for (let c = 0; c < W; c++) {
      const X = c + pw;
      store<f32>(dst + ((X & 1) != 0 ? q : 0) + (<usize>(X >> 1) << 2), load<f32>(src + (<usize>c << 2)));
    }
    return;
  }
  // Eight columns a step, the last step ending at the row's end (overlapping the one before: same values).
  split8(src, 0, pw, dst, q, W - 8);
  split8(src, W - 8, pw, dst, q, W - 8 + 1);
}

/** Columns c0, c0 + 8, ... below `end` (eight each) of splitRow: lanes 0, 2, 4, 6 share X's parity. */
@inline
function split8(src: usize, c0: i32, pw: i32, dst: usize, q: usize, end: i32): void {
  const X = c0 + pw, odd = (X & 1) != 0;
  let a = dst + (odd ? q : 0) + (<usize>(X >> 1) << 2), b = dst + (odd ? 0 : q) + (<usize>((X + 1) >> 1) << 2);
  let from = src + (<usize>c0 << 2);
  for (let c = c0; c < end; c += 8) {
    const u = v128.load(from), v = v128.load(from, 16);
    v128.store(a, i32x4.shuffle(u, v, 0, 2, 4, 6));
    v128.store(b, i32x4.shuffle(u, v, 1, 3, 5, 7));
    from += 32; a += 16; b += 16;
  }
}
