// numpy 1.19's argsort (kind 'quicksort', its default), replayed by src/util/numpy-argsort.ts, against numpy's own
// permutations (test/fixtures/numpy-argsort, make.sh: the chroot's numpy 1.19.5, py-faster-rcnn's referee): values
// with few distinct values, many exactly 1 (a saturated RPN's scores), NaNs, sorted and reversed runs, sizes about the
// insertion-sort cut (15 .. 18, 31 .. 33) up to 20000, float32 and float64, and median-of-three killers that drive it
// into its heapsort fallback over thousands of equal values. A stable sort, or any other quicksort, orders the ties
// otherwise.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { aheapsort, aquicksort, argsort } from '../src/util/numpy-argsort.js';
import { readNpy } from '../src/util/npy.js';

const fixture = path.join(import.meta.dirname, 'fixtures/numpy-argsort');

interface Case { kind: string; n: number; k?: number; seed?: number; dtype: 'f4' | 'f8'; at: number; solids?: [number, number][]; gas?: number }
const { numpy, cases } = JSON.parse(fs.readFileSync(path.join(fixture, 'cases.json'), 'utf8')) as { numpy: string; cases: Case[] };
const orders = readNpy(path.join(fixture, 'orders.npy')).data;

/** shared/tools/hashweights.mjs's hash of i ^ seed (make.py's lowbias32). */
function lowbias32(i: number, seed: number): number {
  let x = (i ^ seed) >>> 0;
  x ^= x >>> 16; x = Math.imul(x, 0x7feb352d); x ^= x >>> 15; x = Math.imul(x, 0x846ca68b); x ^= x >>> 16;
  return x >>> 0;
}

/** make.py's values of a case. */
function valuesOf(c: Case): Float32Array | Float64Array {
  const k = c.k ?? 0, v = new Float64Array(c.n);
  for (let i = 0; i < c.n; i++) {
    const x = lowbias32(i, c.seed ?? 0);
    v[i] = c.kind === 'levels' ? (x % k) / 3
      : c.kind === 'saturated' ? (x % 100 < k ? 1 : (x >>> 8) / 16777216)
        : c.kind === 'nan' ? (x % 10 === 0 ? NaN : (x % k) / 3)
          : c.kind === 'sorted' ? Math.floor((i * k) / c.n) / 3
            : c.kind === 'reversed' ? (k - 1 - Math.floor((i * k) / c.n)) / 3
              : c.kind === 'distinct' ? (x >>> 8) / 16777216
                : c.gas!;
  }
  for (const [i, s] of c.solids ?? []) v[i] = s;
  return c.dtype === 'f4' ? Float32Array.from(v) : v;
}

const name = (c: Case) => `${c.kind}${c.k === undefined ? '' : ` ${c.k}`} of ${c.n} (${c.dtype === 'f4' ? 'float32' : 'float64'})`;

describe(`argsort replays numpy ${numpy}'s own (aquicksort: introsort, heapsort fallback, NaNs last)`, () => {
  it('has the cases, numpy 1.19.5\'s', () => {
    expect(numpy).toBe('1.19.5');
    expect(cases.length).toBe(30);
    expect(orders.length).toBe(cases.reduce((s, c) => s + c.n, 0));
  });

  for (const c of cases)
    it(`${name(c)}: numpy's permutation exactly`, () => {
      const values = valuesOf(c), expected = Array.from(orders.subarray(c.at, c.at + c.n));
      // Ties are what the case is about (the distinct and killer ones aside).
      if (c.kind !== 'distinct' && c.kind !== 'killer') expect(new Set(values).size).toBeLessThan(c.n);
      expect(Array.from(argsort(values))).toEqual(expected);
      // The same as rows of a larger array: argsort(values, rows) is rows[np.argsort(values[rows])].
      const rows = Int32Array.from({ length: c.n }, (_, i) => 3 * i + 1), spread = new Float64Array(3 * c.n + 1).fill(-1);
      rows.forEach((r, i) => (spread[r] = values[i]));
      expect(Array.from(argsort(spread, rows))).toEqual(expected.map((i) => 3 * i + 1));
    });

  it("the killers reach the heapsort fallback, on a range of thousands of equal values, and numpy's order needs it", () => {
    for (const c of cases.filter((k) => k.kind === 'killer')) {
      const values = valuesOf(c), ranges: number[] = [];
      const less = (a: number, b: number) => values[a] < values[b];
      const order = Int32Array.from({ length: c.n }, (_, i) => i);
      aquicksort(order, less, (o, lo, n, lt) => (ranges.push(n), aheapsort(o, lo, n, lt)));
      expect(ranges.length, name(c)).toBe(1);
      expect(ranges[0], name(c)).toBeGreaterThan(c.n - 2 * c.solids!.length);
      // Without the depth limit (quicksort to the end) the equal values come out in another order.
      const quick = Int32Array.from({ length: c.n }, (_, i) => i);
      aquicksort(quick, less, (o, lo, n, lt) => aquicksort(o.subarray(lo, lo + n), lt));
      expect(Array.from(quick)).not.toEqual(Array.from(orders.subarray(c.at, c.at + c.n)));
    }
  });

  it('takes any array of numbers, and an empty or one-item one', () => {
    expect(Array.from(argsort([]))).toEqual([]);
    expect(Array.from(argsort([5]))).toEqual([0]);
    expect(Array.from(argsort([NaN, 2, 1, NaN, 1]))).toEqual(Array.from(argsort(Float64Array.of(NaN, 2, 1, NaN, 1))));
    expect(Array.from(argsort([NaN, 2, 1]))).toEqual([2, 1, 0]);
  });
});
