// Small helpers shared by the kernels: SIMD arithmetic, the GEMM tile, reading a job's words.

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

/** y = y > 0 ? y : y * slope, lanewise (Caffe's ReLU with negative_slope; NaN stays NaN). */
@inline
export function relu(v: v128, slope: f32): v128 {
  const scaled = f32x4.mul(v, f32x4.splat(slope));
  return v128.bitselect(v, scaled, f32x4.gt(v, f32x4.splat(0)));
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
