import type { Message } from '../caffe/message.js';
import { int } from '../onnx/builder.js';
import { type LayerContext, int64Once, onlyItemsDynamic, reshapeTo, runtimeAxesCopied, runtimeDims } from '../onnx/context.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, shapeString, sizeOf } from '../tensor.js';
import { partialSort } from '../util/partial-sort.js';
import { countRange, hasParam } from './axes.js';
import { type Layer, type LayerType, canonicalAxis, expectCounts, need } from './layer.js';

/**
 * ArgMax: the indices (or, with out_max_val, also/instead the values) of the top_k largest entries.
 * Without `axis`: per item over all of its other axes, top shape (N, 1 or 2, top_k[, 1 ...]), at least 3-D,
 * with out_max_val giving indices then values. With `axis`: along that axis, top_k replacing its size, and
 * out_max_val giving values only.
 * Order is Caffe's: std::partial_sort with std::greater on (value, index) pairs, so among equal values the
 * HIGHER index comes first.
 */
export const argmaxLayer: LayerType = {
  type: 'ArgMax',
  onnx: argmaxToOnnx,
  onnxRunFailure: topKAboveSize,
  create(def: LayerParameter): Layer {
    expectCounts(def, [1, 1], [1, 1]);
    const p = paramsOf(def, 'argmax_param');
    const topK: number = p.top_k, outMaxVal: boolean = p.out_max_val;
    const hasAxis = hasParam(def, 'argmax_param', 'axis');
    need(def, topK >= 1, 'top_k must be at least 1');
    let axis = 0;
    return {
      reshape(bottoms: Shape[]): Shape[] {
        const shape = bottoms[0];
        if (hasAxis) {
          axis = canonicalAxis(def, p.axis, shape.length);
          need(def, topK <= shape[axis], () => `top_k ${topK} exceeds the size ${shape[axis]} of axis ${axis} (bottom ${shapeString(shape)})`);
          return [shape.map((d, i) => (i === axis ? topK : d))];
        }
        need(def, shape.length >= 1, 'needs a bottom with at least one axis');
        const perItem = countRange(shape, 1);
        need(def, topK <= perItem, () => `top_k ${topK} exceeds the ${perItem} values per item (bottom ${shapeString(shape)})`);
        const top = new Array<number>(Math.max(3, shape.length)).fill(1);
        top[0] = shape[0];
        top[1] = outMaxVal ? 2 : 1;
        top[2] = topK;
        return [top];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        const dims = bottoms[0].dims;
        const dim = hasAxis ? dims[axis] : countRange(dims, 1);
        const stride = hasAxis ? countRange(dims, axis + 1) : 1;
        const rows = bottoms[0].size / dim;
        const best = new TopK(topK);
        const x = bottoms[0].data, out = tops[0].data;
        for (let r = 0; r < rows; r++) {
          const outer = Math.floor(r / stride), innerPos = r % stride;
          const base = outer * dim * stride + innerPos;
          best.clear();
          let nan = false;
          for (let j = 0; j < dim; j++) {
            const v = x[base + j * stride];
            nan ||= v !== v;
            best.offer(v, j);
          }
          if (nan) best.caffeOrder(x, base, stride, dim); // a NaN breaks the order the fast path assumes
          for (let j = 0; j < topK; j++) {
            if (!hasAxis) {
              out[(outMaxVal ? 2 : 1) * r * topK + j] = best.index[j];
              if (outMaxVal) out[2 * r * topK + topK + j] = best.value[j];
            } else out[(outer * topK + j) * stride + innerPos] = outMaxVal ? best.value[j] : best.index[j];
          }
        }
      },
    };
  },
};

/**
 * ONNX Runtime's TopK refusing k above the size ranked over (a Filter's items, axis 0, fewer than top_k at run time),
 * said as the native reshape says it. Caffe's ArgMax CHECKs top_k only at set-up (when a Filter still passes every
 * item); at forward its partial_sort would read past the values, and at 0 items it divides by 0: crema refuses.
 */
function topKAboveSize(def: LayerParameter, status: string, bottomShapes: readonly Shape[]): string | undefined {
  const m = /^k argument \[(\d+)\] should not be greater than specified axis dim value \[(\d+)\]/.exec(status);
  if (!m) return undefined;
  const over = hasParam(def, 'argmax_param', 'axis') ? `the size ${m[2]} of axis ${canonicalAxis(def, paramsOf(def, 'argmax_param').axis, bottomShapes[0].length)}` : `the ${m[2]} values per item`;
  return `top_k ${m[1]} exceeds ${over} (at run time, in ONNX Runtime's TopK): Caffe's ArgMax checks it only at set-up, and at forward would read past the values`;
}

/** The k best (value, index) pairs seen so far, best first, ordered as std::greater orders pairs. */
class TopK {
  readonly value: Float32Array;
  readonly index: Int32Array;
  private count = 0;
  /** Scratch for `caffeOrder`: the whole row's pairs. */
  private rowValue = new Float32Array(0);
  constructor(private readonly k: number) {
    this.value = new Float32Array(k);
    this.index = new Int32Array(k);
  }

  /**
   * The top k of a row holding a NaN, exactly as Caffe finds them: libstdc++'s std::partial_sort (heap select, then
   * sort_heap) with std::greater on (value, index) pairs. A NaN compares neither less nor greater than any value,
   * so pairs with a NaN are ordered by index alone and the order is not transitive: the result depends on the
   * algorithm's steps, which this replays (for [NaN, 1, 2] Caffe's top 1 is 2, not the NaN).
   */
  caffeOrder(x: Float32Array, base: number, stride: number, dim: number): void {
    if (this.rowValue.length < dim) this.rowValue = new Float32Array(dim);
    const v = this.rowValue, order = Array.from({ length: dim }, (_, j) => j);
    for (let j = 0; j < dim; j++) v[j] = x[base + j * stride];
    // std::partial_sort with std::greater on (value, index) pairs: the pairs as their indices.
    partialSort(order, this.k, (a, b) => greater(v[a], a, v[b], b));
    for (let t = 0; t < this.k; t++) {
      this.value[t] = v[order[t]];
      this.index[t] = order[t];
    }
  }

  clear(): void {
    this.count = 0;
  }
  offer(v: number, i: number): void {
    let at = this.count;
    // Indices arrive in increasing order, so an equal value always outranks the ones already kept.
    while (at > 0 && v >= this.value[at - 1]) at--;
    if (at >= this.k) return;
    const last = Math.min(this.count, this.k - 1);
    for (let s = last; s > at; s--) {
      this.value[s] = this.value[s - 1];
      this.index[s] = this.index[s - 1];
    }
    this.value[at] = v;
    this.index[at] = i;
    if (this.count < this.k) this.count++;
  }
}

/** std::greater on pairs: b < a, i.e. b.value < a.value, or neither value less and b.index < a.index. */
function greater(av: number, ai: number, bv: number, bi: number): boolean {
  return bv < av || (!(av < bv) && bi < ai);
}

/**
 * ArgMax through TopK. Caffe ranks equal values by the HIGHER index first, ONNX's TopK by the lower one: so
 * TopK runs on the axis reversed, and its indices are mapped back (i -> size - 1 - i), which is exact on ties.
 */
function argmaxToOnnx(c: LayerContext): void {
  const { layer } = c;
  const def = layer.def;
  const p = paramsOf(def, 'argmax_param');
  const x = layer.bottomShapes[0];
  const k = p.top_k as number, outMaxVal = p.out_max_val === true;
  const hasAxis = (def.argmax_param as Message | undefined)?.axis !== undefined;
  const axis = hasAxis ? canonicalAxis(def, p.axis as number, x.length) : 1;
  const size = hasAxis ? x[axis] : sizeOf(x.slice(1));
  // (items, values per item): the items copied where a Filter sizes them at run time, the values as loaded (not a
  // -1: ONNX Runtime cannot infer it on 0 items).
  // Where another axis is sized at run time (DetectionOutput's rows), a Flatten: the items' copied 0 would not line up.
  const dynamic = c.dynamicAxes(0), itemsOnly = onlyItemsDynamic(c);
  const input = hasAxis ? c.bottom(0) : itemsOnly ? c.node('Reshape', [c.bottom(0), c.b.int64s(`${layer.name}/items`, runtimeAxesCopied(c, [x[0], size]))], [c.tmp('items')]) : c.node('Flatten', [c.bottom(0)], [c.tmp('items')], { axis: int(1) });
  // The size ranked over, when a Filter (or Proposal) sizes it at run time: read from the input's Shape.
  const sizedAtRun = hasAxis ? dynamic.includes(axis) : !itemsOnly;
  const reversed = c.node('Slice', [
    input,
    c.b.int64s(`${layer.name}/rev_starts`, [-1]),
    c.b.int64s(`${layer.name}/rev_ends`, [sizedAtRun ? -(2 ** 31) : -size - 1]),
    c.b.int64s(`${layer.name}/rev_axes`, [axis]),
    c.b.int64s(`${layer.name}/rev_steps`, [-1]),
  ], [c.tmp('reversed')]);
  const values = c.tmp('values'), reversedIndex = c.tmp('reversed_index');
  c.node('TopK', [reversed, c.b.int64s(`${layer.name}/k`, [k])], [values, reversedIndex], { axis: int(axis), largest: int(1), sorted: int(1) });
  const top = layer.topShapes[0];
  if (hasAxis && outMaxVal) {
    c.node('Identity', [values], [c.top(0)]);
    return;
  }
  const last = sizedAtRun
    ? c.node('Sub', [runtimeDims(c, input, hasAxis ? axis : 1, hasAxis ? axis + 1 : 2), int64Once(c, [1])], [c.tmp('last')])
    : c.b.int64s(`${layer.name}/last`, [size - 1]);
  const index = c.node('Sub', [last, reversedIndex], [c.tmp('index')]);
  if (hasAxis) {
    c.node('Cast', [index], [c.top(0)], { to: int(1) });
    return;
  }
  const indexFloat = c.node('Cast', [index], [c.tmp('index_float')], { to: int(1) });
  const both = outMaxVal ? c.node('Concat', [indexFloat, values], [c.tmp('index_value')], { axis: int(1) }) : indexFloat;
  reshapeTo(c, both, top.map((d, a) => (a === 0 && dynamic.includes(0) ? 0 : d)));
}
