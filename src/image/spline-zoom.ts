// scipy.ndimage.zoom of 2-D planes with its defaults (order 3, mode 'constant', prefilter, grid_mode False; scipy 1.6,
// as the colorization demo calls it): the planes' cubic B-spline coefficients (a mirror-symmetric recursive filter per
// axis), sampled at out * (in - 1) / (out - 1), neighbours beyond an edge mirrored. In double; the result rounded to
// float32, as scipy returns a float32 input's. No JavaScript library computes scipy's spline: restated from its
// definition and checked against scipy itself (test/colorize.test.ts).

const POLE = Math.sqrt(3) - 2;
const GAIN = (1 - POLE) * (1 - 1 / POLE);

/** One line's cubic spline coefficients, in place (scipy's spline_filter1d with the mirror boundary). */
function splineFilter(c: Float64Array, start: number, n: number, step: number): void {
  if (n < 2) return;
  const z = POLE, at = (i: number) => start + i * step;
  for (let i = 0; i < n; i++) c[at(i)] *= GAIN;
  // causal initial value for a mirror-symmetric signal
  const zn1 = z ** (n - 1);
  let c0 = c[at(0)] + zn1 * c[at(n - 1)], zi = z;
  for (let i = 1; i < n - 1; i++) {
    c0 += zi * (c[at(i)] + zn1 * c[at(n - 1 - i)]);
    zi *= z;
  }
  c[at(0)] = c0 / (1 - zn1 * zn1);
  for (let i = 1; i < n; i++) c[at(i)] += z * c[at(i - 1)];
  c[at(n - 1)] = ((z * c[at(n - 2)] + c[at(n - 1)]) * z) / (z * z - 1);
  for (let i = n - 2; i >= 0; i--) c[at(i)] = z * (c[at(i + 1)] - c[at(i)]);
}

/** The cubic B-spline's four weights at offset t (0 <= t < 1) from the second of the four knots. */
function weights(t: number): [number, number, number, number] {
  const u = 1 - t;
  return [(u * u * u) / 6, (2 / 3) - t * t + (t * t * t) / 2, (2 / 3) - u * u + (u * u * u) / 2, (t * t * t) / 6];
}

/** A knot index mirrored into 0..n-1 (scipy's 'mirror' extension: the edge sample not repeated). */
function mirror(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n - 2;
  i = Math.abs(i) % period;
  return i >= n ? period - i : i;
}

/** Each sample's four knots and weights along one axis of `n` inputs zoomed to `m` outputs. */
function taps(n: number, m: number): { index: Int32Array; weight: Float64Array } {
  const zoom = m > 1 ? (n - 1) / (m - 1) : 1;
  const index = new Int32Array(4 * m), weight = new Float64Array(4 * m);
  for (let o = 0; o < m; o++) {
    const x = o * zoom, k = Math.floor(x), w = weights(x - k);
    for (let j = 0; j < 4; j++) {
      index[4 * o + j] = mirror(k - 1 + j, n);
      weight[4 * o + j] = w[j];
    }
  }
  return { index, weight };
}

/**
 * `planes` planes of h x w (float32, one after another) zoomed to hb x wb: scipy.ndimage.zoom with order 3 on each
 * (the demo's zoom of 1 on the channel axis leaves the planes apart).
 */
export function splineZoom(planes: Float32Array, count: number, h: number, w: number, hb: number, wb: number): Float32Array {
  const out = new Float32Array(count * hb * wb);
  const ty = taps(h, hb), tx = taps(w, wb);
  const c = new Float64Array(h * w), rows = new Float64Array(h * wb);
  for (let p = 0; p < count; p++) {
    for (let i = 0; i < h * w; i++) c[i] = planes[p * h * w + i];
    for (let y = 0; y < h; y++) splineFilter(c, y * w, w, 1);
    for (let x = 0; x < w; x++) splineFilter(c, x, h, w);
    // along x into h x wb, then along y
    for (let y = 0; y < h; y++)
      for (let o = 0; o < wb; o++) {
        let s = 0;
        for (let j = 0; j < 4; j++) s += c[y * w + tx.index[4 * o + j]] * tx.weight[4 * o + j];
        rows[y * wb + o] = s;
      }
    for (let o = 0; o < hb; o++)
      for (let x = 0; x < wb; x++) {
        let s = 0;
        for (let j = 0; j < 4; j++) s += rows[ty.index[4 * o + j] * wb + x] * ty.weight[4 * o + j];
        out[p * hb * wb + o * wb + x] = s;
      }
  }
  return out;
}
