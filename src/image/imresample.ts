// Piotr Dollár's imResample (his Matlab toolbox, channels/private/imResampleMex.cpp), bilinear, as MTCNN's MATLAB
// demo resizes with it: restated step for step, in the precision MATLAB gives it (single: every operation rounded to
// float32; double: plain JavaScript numbers), so that its pyramid and crops are the demo's to the bit. Its arithmetic is
// its own (area sums when shrinking, weights normalized by 1 + 1e-6, exact 2x/3x/4x paths), not cv2's or imresize's:
// no library computes it.
//
// Arrays are MATLAB's: column-major planes (a pixel (y, x) of channel z at z*h*w + x*h + y).

type Round = (x: number) => number;
const same: Round = (x) => x;

interface Coefficients {
  n: number;
  as: Int32Array;
  bs: Int32Array;
  wts: Float64Array;
  bd: [number, number];
}

/** resampleCoef: the source index and weight of each tap of each output along one axis (`pad` taps at least when shrinking). */
function coefficients(ha: number, hb: number, pad: number, f: Round): Coefficients {
  const s = f(hb / ha), sInv = f(1 / s), wt0 = f(f(1e-3) * s);
  const bd: [number, number] = [0, 0];
  if (ha > hb) {
    const max = ha + Math.max(pad, 2) * hb;
    const as = new Int32Array(max), bs = new Int32Array(max), wts = new Float64Array(max);
    let n = 0;
    for (let yb = 0; yb < hb; yb++) {
      const ya0f = f(yb * sInv), ya1f = f(ya0f + sInv);
      const ya0 = Math.ceil(ya0f), ya1 = Math.trunc(ya1f);
      let w = 0, n1 = 0;
      for (let ya = ya0 - 1; ya < ya1 + 1; ya++) {
        const wt = ya === ya0 - 1 ? f(f(ya0 - ya0f) * s) : ya === ya1 ? f(f(ya1f - ya1) * s) : s;
        if (wt > wt0 && ya >= 0) {
          bs[n] = yb;
          as[n] = ya;
          wts[n] = wt;
          n++;
          n1++;
          w = f(w + wt);
        }
      }
      if (w > 1) for (let i = 0; i < n1; i++) wts[n - n1 + i] = f(wts[n - n1 + i] / w);
      if (n1 > bd[0]) bd[0] = n1;
      for (; n1 < pad; n1++, n++) {
        bs[n] = yb;
        as[n] = as[n - 1];
        wts[n] = 0;
      }
    }
    return { n, as, bs, wts, bd };
  }
  const as = new Int32Array(hb), bs = new Int32Array(hb), wts = new Float64Array(hb);
  for (let yb = 0; yb < hb; yb++) {
    const yaf = f(f(f(0.5 + yb) * sInv) - 0.5);
    let ya = Math.floor(yaf), wt = 1;
    if (ya >= 0 && ya < ha - 1) wt = f(1 - f(yaf - ya));
    if (ya < 0) {
      ya = 0;
      bd[0]++;
    }
    if (ya >= ha - 1) {
      ya = ha - 1;
      bd[1]++;
    }
    bs[yb] = yb;
    as[yb] = ya;
    wts[yb] = wt;
  }
  return { n: hb, as, bs, wts, bd };
}

/**
 * imResample(A, [hb wb], 'bilinear') of an ha x wa x d array: float32 arithmetic for a single array (`single`),
 * double otherwise. The same size gives A itself, as imResample returns it.
 */
export function imResample<T extends Float32Array | Float64Array>(A: T, ha: number, wa: number, d: number, hb: number, wb: number): T {
  if (ha === hb && wa === wb) return A;
  const f: Round = A instanceof Float32Array ? Math.fround : same;
  const B = new (A.constructor as new (n: number) => T)(hb * wb * d);
  const C = new Float64Array(ha + 4);
  const x = coefficients(wa, wb, 0, f), y = coefficients(ha, hb, 4, f);
  let r = 1;
  if (wa === 2 * wb) r = f(r / 2);
  if (wa === 3 * wb) r = f(r / 3);
  if (wa === 4 * wb) r = f(r / 4);
  r = f(r / f(1 + 1e-6));
  for (let i = 0; i < y.n; i++) y.wts[i] = f(y.wts[i] * r);
  for (let z = 0; z < d; z++) {
    let x1 = 0;
    for (let xo = 0; xo < wb; xo++) {
      const xa = x.as[x1], xb = x.bs[x1], wt = x.wts[x1], wt1 = f(1 - wt);
      const a0 = z * ha * wa + xa * ha, b0 = z * hb * wb + xb * hb;
      x1 = alongX(A, C, ha, wa, wb, a0, x, x1, xo, wt, wt1, f);
      alongY(B, C, ha, hb, b0, y, r, f);
    }
  }
  return B;
}

/** One output column's source column(s) summed or blended into C; returns the next tap's index. */
function alongX(A: Float32Array | Float64Array, C: Float64Array, ha: number, wa: number, wb: number, a0: number, c: Coefficients, x1: number, xo: number, wt: number, wt1: number, f: Round): number {
  const k = wa === 2 * wb ? 2 : wa === 3 * wb ? 3 : wa === 4 * wb ? 4 : 0;
  if (k) {
    // the exact ratios: plain sums (r carries the 1/k)
    for (let y = 0; y < ha; y++) {
      let s = f(A[a0 + y] + A[a0 + ha + y]);
      for (let j = 2; j < k; j++) s = f(s + A[a0 + j * ha + y]);
      C[y] = s;
    }
    return x1 + k;
  }
  if (wa > wb) {
    let m = 1;
    while (x1 + m < c.n && c.bs[x1] === c.bs[x1 + m]) m++;
    // the first four taps in one sum, as its SSE and scalar loops add them; any more added one by one after
    const first = Math.min(m, 4);
    for (let y = 0; y < ha; y++) {
      let s = f(A[a0 + y] * c.wts[x1]);
      for (let j = 1; j < first; j++) s = f(s + f(A[a0 + j * ha + y] * c.wts[x1 + j]));
      C[y] = s;
    }
    for (let j = 4; j < m; j++) for (let y = 0; y < ha; y++) C[y] = f(C[y] + f(A[a0 + j * ha + y] * c.wts[x1 + j]));
    return x1 + m;
  }
  if (xo < c.bd[0] || xo >= wb - c.bd[1]) for (let y = 0; y < ha; y++) C[y] = A[a0 + y];
  else for (let y = 0; y < ha; y++) C[y] = f(f(A[a0 + y] * wt) + f(A[a0 + ha + y] * wt1));
  return x1 + 1;
}

/** C resampled along y into B's column at b0. */
function alongY(B: Float32Array | Float64Array, C: Float64Array, ha: number, hb: number, b0: number, c: Coefficients, r: number, f: Round): void {
  const k = ha === 2 * hb ? 2 : ha === 3 * hb ? 3 : ha === 4 * hb ? 4 : 0;
  if (k) {
    const rk = f(r / k);
    for (let y = 0; y < hb; y++) {
      let s = f(C[k * y] + C[k * y + 1]);
      for (let j = 2; j < k; j++) s = f(s + C[k * y + j]);
      B[b0 + y] = f(s * rk);
    }
  } else if (ha > hb) {
    // (an output of one tap each, a shrink by less than 1.001, matches none of its cases: it stays 0, as there)
    const taps = c.bd[0];
    if (taps >= 2 && taps <= 4)
      // four coefficients an output (padded with zero weights), read from consecutive rows
      for (let y = 0; y < hb; y++) {
        const ya = c.as[y * 4];
        let s = f(C[ya] * c.wts[y * 4]);
        for (let o = 1; o < taps; o++) s = f(s + f(C[ya + o] * c.wts[y * 4 + o]));
        B[b0 + y] = s;
      }
    else if (taps > 4) for (let i = 0; i < c.n; i++) B[b0 + c.bs[i]] = f(B[b0 + c.bs[i]] + f(C[c.as[i]] * c.wts[i]));
  } else {
    const [lo, hi] = c.bd;
    for (let y = 0; y < hb; y++) {
      const ya = c.as[y], w = c.wts[y];
      B[b0 + y] = y < lo || y >= hb - hi ? f(C[ya] * w) : f(f(C[ya] * w) + f(C[ya + 1] * f(r - w)));
    }
  }
}
