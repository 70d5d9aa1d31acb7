/**
 * A number as C++'s `std::ostream << value` writes it by default (printf's %g at precision 6): six significant
 * digits, trailing zeros dropped, in exponent form (two digits at least: 1e-05) below 1e-4 or from 1e6 on. OpenPose's
 * --write_json writes its floats so; JavaScript's own shortest form differs for those (0.00001, 1234570).
 */
export function ostreamFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, exp] = v.toExponential(5).split('e'); // rounded to 6 digits first: its exponent picks the form
  const x = Number(exp);
  if (x < -4 || x >= 6) return `${trimZeros(mantissa)}e${x < 0 ? '-' : '+'}${String(Math.abs(x)).padStart(2, '0')}`;
  return trimZeros(v.toFixed(5 - x));
}

/** 1.50000 -> 1.5, 2.00000 -> 2 (%g without '#'). */
const trimZeros = (s: string) => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);
