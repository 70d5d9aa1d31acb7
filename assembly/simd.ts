// Small SIMD helpers shared by the kernels.

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
