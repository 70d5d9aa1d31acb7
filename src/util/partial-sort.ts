// libstdc++'s std::partial_sort (bits/stl_algo.h __partial_sort: __heap_select, then __sort_heap; bits/stl_heap.h),
// replayed step for step. Caffe's layers call it where the items can tie (ArgMax's NaNs, cascade-rcnn's proposals of
// equal score: a confident RPN gives many boxes a foreground score of exactly 1): which of the tied items come first,
// and so which survive a cut or NMS, is what these steps make of them, not a stable order.

/** Sorts the first `k` of `items` by `comp` (a strict "goes before"), as std::partial_sort(first, first + k, last, comp). */
export function partialSort<T>(items: T[], k: number, comp: (a: T, b: T) => boolean): void {
  const n = items.length;
  k = Math.min(k, n);
  // __heap_select: a heap of the first k, then each later item that goes before the heap's top replaces it.
  if (k >= 2) for (let parent = (k - 2) >> 1; parent >= 0; parent--) adjustHeap(items, parent, k, items[parent], comp);
  for (let i = k; i < n; i++) {
    if (!comp(items[i], items[0])) continue;
    const value = items[i];
    items[i] = items[0];
    adjustHeap(items, 0, k, value, comp);
  }
  // __sort_heap
  for (let last = k - 1; last > 0; last--) {
    const value = items[last];
    items[last] = items[0];
    adjustHeap(items, 0, last, value, comp);
  }
}

/** std::__adjust_heap: moves the hole at `hole` down to a leaf, then pushes `value` up from there (__push_heap). */
function adjustHeap<T>(items: T[], hole: number, len: number, value: T, comp: (a: T, b: T) => boolean): void {
  const top = hole;
  let child = hole;
  while (child < (len - 1) >> 1) {
    child = 2 * (child + 1);
    if (comp(items[child], items[child - 1])) child--;
    items[hole] = items[child];
    hole = child;
  }
  if ((len & 1) === 0 && child === (len - 2) >> 1) {
    child = 2 * (child + 1);
    items[hole] = items[child - 1];
    hole = child - 1;
  }
  let parent = (hole - 1) >> 1;
  while (hole > top && comp(items[parent], value)) {
    items[hole] = items[parent];
    hole = parent;
    parent = (hole - 1) >> 1;
  }
  items[hole] = value;
}

/**
 * libstdc++'s std::sort (bits/stl_algo.h: __introsort_loop over runs of more than 16 with the median of three moved
 * first and __unguarded_partition, std::partial_sort once 2 log2(n) levels are spent, then __final_insertion_sort),
 * replayed step for step: which of the items `comp` leaves tied come first is what these steps make of them.
 */
export function stdSort<T>(items: T[], comp: (a: T, b: T) => boolean): void {
  const n = items.length;
  if (n < 2) return;
  const swap = (i: number, j: number) => ([items[i], items[j]] = [items[j], items[i]]);
  const loop = (first: number, last: number, depth: number): void => {
    while (last - first > 16) {
      if (depth === 0) {
        const run = items.slice(first, last);
        partialSort(run, run.length, comp);
        for (let i = 0; i < run.length; i++) items[first + i] = run[i]; // not splice(...run): a long run's spread overflows the stack
        return;
      }
      depth--;
      // __unguarded_partition_pivot: the median of first + 1, mid, last - 1 moved to first, the rest split around it
      const a = first + 1, b = first + ((last - first) >> 1), c = last - 1;
      if (comp(items[a], items[b])) swap(first, comp(items[b], items[c]) ? b : comp(items[a], items[c]) ? c : a);
      else swap(first, comp(items[a], items[c]) ? a : comp(items[b], items[c]) ? c : b);
      let lo = first + 1, hi = last;
      for (;;) {
        while (comp(items[lo], items[first])) lo++;
        hi--;
        while (comp(items[first], items[hi])) hi--;
        if (!(lo < hi)) break;
        swap(lo, hi);
        lo++;
      }
      loop(lo, last, depth);
      last = lo;
    }
  };
  loop(0, n, 2 * Math.floor(Math.log2(n)));
  // __final_insertion_sort: the first 16 by __insertion_sort, the rest by unguarded linear inserts
  const linearInsert = (i: number) => {
    const value = items[i];
    for (; comp(value, items[i - 1]); i--) items[i] = items[i - 1];
    items[i] = value;
  };
  for (let i = 1; i < Math.min(n, 16); i++) {
    if (!comp(items[i], items[0])) linearInsert(i);
    else items.unshift(...items.splice(i, 1));
  }
  for (let i = 16; i < n; i++) linearInsert(i);
}
