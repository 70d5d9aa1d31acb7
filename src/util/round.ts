/** Rounding to the nearest integer, halves to even: numpy's round() and C's rint (cv2's saturate_cast<int>). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
