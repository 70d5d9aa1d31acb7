/** Rounding to the nearest integer, halves to even: numpy's round() and C's rint (cv2's saturate_cast<int>). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * CUDA's fmaf(a, b, c) on floats, which nvcc makes of a * b + c by default (--fmad=true): the product of two floats
 * is exact in a double, so one double addition and one rounding to float give it (a double rounding could differ from
 * fmaf's single one only in a tie of a tie: never met in the kernels that use it).
 */
export const fmaf = (a: number, b: number, c: number): number => Math.fround(a * b + c);
