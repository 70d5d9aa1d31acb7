import type { LayerParameter } from '../caffe/types.js';
import { paramsOf } from '../caffe/schema.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
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
          for (let j = 0; j < dim; j++) best.offer(x[base + j * stride], j);
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

/** The k best (value, index) pairs seen so far, best first, ordered as std::greater orders pairs. */
class TopK {
  readonly value: Float32Array;
  readonly index: Int32Array;
  private count = 0;
  constructor(private readonly k: number) {
    this.value = new Float32Array(k);
    this.index = new Int32Array(k);
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
