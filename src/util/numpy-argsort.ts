// numpy 1.19's argsort of float arrays, kind 'quicksort' (the default), replayed step for step: aquicksort_<type> of
// numpy/core/src/npysort/quicksort.c.src (an introsort: median-of-three partitions, ranges of 16 items or fewer left
// to insertion sort, aheapsort of heapsort.c.src for a range still unsorted 2 * msb(n) partitions deep), one
// template for float32 and float64, ordered by FLOAT_LT / DOUBLE_LT (npysort_common.h: a < b, NaNs after every
// number). It is not stable: which of equal values comes first is what these steps make of them. py-faster-rcnn
// orders its boxes with argsort()[::-1], where a confident RPN gives thousands of scores of exactly 1, and which of
// them come first decides which boxes its cut and NMS keep; so crema replays the steps, not a stable sort.

/** numpy's "goes before" on two items of the array, by their indices. */
export type Less = (a: number, b: number) => boolean;
/** What sorts a range that the quicksort's depth limit gave up on: `order[lo .. lo + n)`. */
export type Fallback = (order: Int32Array, lo: number, n: number, less: Less) => void;

/** quicksort.c.src's SMALL_QUICKSORT: ranges of at most this + 1 items are left to insertion sort. */
const SMALL_QUICKSORT = 15;

/**
 * numpy's argsort of `values[rows]` (of all of `values` without `rows`), given as the rows themselves, in order:
 * rows[np.argsort(values[rows])]. numpy's steps only move the indices it sorts and compare the values they index, so
 * sorting the rows in place of 0 .. n - 1 is the same. argsort()[::-1] is this, reversed.
 */
export function argsort(values: ArrayLike<number>, rows?: ArrayLike<number>): Int32Array {
  const order = rows ? Int32Array.from(rows) : Int32Array.from({ length: values.length }, (_, i) => i);
  const v = values instanceof Float32Array || values instanceof Float64Array ? values : Float64Array.from(values);
  // FLOAT_LT: a < b, or b is NaN and a is not.
  aquicksort(order, (a, b) => { const x = v[a], y = v[b]; return x < y || (y !== y && x === x); });
  return order;
}

/** npy_get_msb: the index of the highest set bit (0 for 0 and 1). */
function msb(n: number): number {
  return n > 1 ? 31 - Math.clz32(n) : 0;
}

/**
 * aquicksort_<type>: sorts `order` by `less`, as numpy. The larger side of each partition waits on a stack with the
 * depth left (one less per partition); the smaller is worked on at once, its depth never checked (numpy's own
 * shortcut: it is at most half). A range taken from the stack with the depth below 0 goes to `fallback` (aheapsort).
 */
export function aquicksort(order: Int32Array, less: Less, fallback: Fallback = aheapsort): void {
  const stack: number[] = [], depths: number[] = [];
  let lo = 0, hi = order.length - 1, depth = 2 * msb(order.length);
  for (;;) {
    if (depth < 0) fallback(order, lo, hi - lo + 1, less);
    else {
      while (hi - lo > SMALL_QUICKSORT) {
        const p = partition(order, lo, hi, less);
        if (p - lo < hi - p) {
          stack.push(p + 1, hi);
          hi = p - 1;
        } else {
          stack.push(lo, p - 1);
          lo = p + 1;
        }
        depths.push(--depth);
      }
      insertionSort(order, lo, hi, less);
    }
    if (stack.length === 0) return;
    hi = stack.pop()!;
    lo = stack.pop()!;
    depth = depths.pop()!;
  }
}

/**
 * One partition of order[lo .. hi] (hi - lo > 15): the median of the first, middle and last, sorted among them, is
 * the pivot; set aside at hi - 1, it stays there until the scans meet (so comparing with its index is comparing with
 * numpy's copy of its value), then goes where they met. Equal items stop both scans and are swapped. Returns where.
 */
function partition(order: Int32Array, lo: number, hi: number, less: Less): number {
  const mid = lo + ((hi - lo) >> 1);
  if (less(order[mid], order[lo])) swap(order, mid, lo);
  if (less(order[hi], order[mid])) swap(order, hi, mid);
  if (less(order[mid], order[lo])) swap(order, mid, lo);
  swap(order, mid, hi - 1);
  const pivot = order[hi - 1];
  let i = lo, j = hi - 1;
  for (;;) {
    do i++; while (less(order[i], pivot));
    do j--; while (less(pivot, order[j]));
    if (i >= j) break;
    swap(order, i, j);
  }
  swap(order, i, hi - 1);
  return i;
}

/** quicksort.c.src's insertion sort of order[lo .. hi]: each item moved down past those it goes before. */
function insertionSort(order: Int32Array, lo: number, hi: number, less: Less): void {
  for (let i = lo + 1; i <= hi; i++) {
    const item = order[i];
    let j = i;
    for (; j > lo && less(item, order[j - 1]); j--) order[j] = order[j - 1];
    order[j] = item;
  }
}

/** heapsort.c.src's aheapsort_<type> of order[lo .. lo + n): a max-heap built bottom up, then its top taken n - 1 times. */
export function aheapsort(order: Int32Array, lo: number, n: number, less: Less): void {
  // numpy indexes the heap from 1: a[k] is order[lo + k - 1].
  for (let l = n >> 1; l > 0; l--) siftDown(order, lo - 1, l, n, less);
  for (; n > 1; n--) {
    const last = order[lo + n - 1];
    order[lo + n - 1] = order[lo];
    order[lo] = last;
    siftDown(order, lo - 1, 1, n - 1, less);
  }
}

/** The sift of aheapsort: a[at]'s item moved down while a larger child (the right one only if strictly larger) is above it. */
function siftDown(order: Int32Array, base: number, at: number, n: number, less: Less): void {
  const item = order[base + at];
  let i = at;
  for (let j = 2 * at; j <= n; j += j) {
    if (j < n && less(order[base + j], order[base + j + 1])) j++;
    if (!less(item, order[base + j])) break;
    order[base + i] = order[base + j];
    i = j;
  }
  order[base + i] = item;
}

function swap(order: Int32Array, a: number, b: number): void {
  const t = order[a];
  order[a] = order[b];
  order[b] = t;
}
