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
