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

/**
 * The double x (finite, >= 0) times 10^places rounded to a whole number, halves to even, on x's exact binary value as C's
 * printf rounds it (and so Python's '%.8f' and '%.12g'): JavaScript's toFixed and toPrecision round halves up, and
 * rounding a decimal string of x would round twice.
 */
export function scaledDecimal(x: number, places: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0), biased = (hi >>> 20) & 0x7ff;
  // x = mantissa * 2^exponent exactly (a subnormal has no implicit bit)
  const mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4)) | (biased ? 1n << 52n : 0n);
  const exponent = (biased || 1) - 1075, scaled = mantissa * 10n ** BigInt(places);
  if (exponent >= 0) return scaled << BigInt(exponent);
  const unit = 1n << BigInt(-exponent);
  let q = scaled / unit;
  const twice = 2n * (scaled - q * unit);
  if (twice > unit || (twice === unit && q % 2n === 1n)) q += 1n;
  return q;
}

/** The digits of a scaledDecimal with its decimal point put back: '%.{places}f'. */
function withPoint(digits: bigint, places: number): string {
  const text = digits.toString().padStart(places + 1, '0');
  return places > 0 ? `${text.slice(0, -places)}.${text.slice(-places)}` : text;
}

/** C's (and Python's) '%.{places}f' of a double x >= 0, exactly. */
export function printfF(x: number, places: number): string {
  return withPoint(scaledDecimal(x, places), places);
}

/**
 * C's (and Python's) '%.{precision}g' of a double x > 0, exactly, where it takes the fixed style (its exponent after
 * rounding from -4 to precision - 1: the scales the flow and disparity templates take); else a RangeError.
 */
export function printfG(x: number, precision: number): string {
  let exponent = Math.floor(Math.log10(x)), digits = scaledDecimal(x, precision - 1 - exponent);
  // log10 one off near a power of ten, or the rounding carried into the next one: the exponent of the digits rounded
  for (let length = digits.toString().length; length !== precision; length = digits.toString().length) {
    exponent += length > precision ? 1 : -1;
    digits = scaledDecimal(x, precision - 1 - exponent);
  }
  if (exponent < -4 || exponent >= precision) throw new RangeError(`printfG: ${x} at precision ${precision} takes the exponent style`);
  const places = precision - 1 - exponent, text = withPoint(digits, places);
  return places > 0 ? text.replace(/\.?0+$/, '') : text;
}
