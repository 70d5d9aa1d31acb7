import { int } from '../onnx/builder.js';
import { shapeString } from '../tensor.js';
import { copyRun, countRange, refuseInPlace } from './axes.js';
import { LayerError, type LayerType, keepRows, need } from './layer.js';

/**
 * BVLC Caffe 1.0's Filter (filter_layer.cpp): bottoms 0 .. K-1 are data, the last the selector (N, 1, ...); top k
 * is bottom k's items whose selector is nonzero (as C++ tests a float: NaN is, -0 is not), in order. Caffe counts
 * them in Reshape, which each forward runs: the net is set up with all N items (its first reshape), and the layers
 * after it take each forward's count (crema: `sizesTops`; ONNX: Compress, a dynamic axis 0). None selected gives
 * Caffe tops of 0 items; crema holds no empty blob and refuses that forward.
 */
export const filterLayer: LayerType = {
  type: 'Filter',
  create(def) {
    const bottoms = def.bottom?.length ?? 0, tops = def.top?.length ?? 0;
    need(def, bottoms >= 2 && tops === bottoms - 1, () => `takes data bottoms and the selector last, and a top per data bottom, got ${bottoms} bottom(s) and ${tops} top(s)`);
    refuseInPlace(def);
    return {
      sizesTops: true,
      reshape(shapes) {
        const selector = shapes[bottoms - 1], items = selector[0];
        need(def, selector.length >= 1 && selector.slice(1).every((d) => d === 1), () => `the selector (bottom ${bottoms - 1}) must be (N) or (N, 1, ...), one value per item, got ${shapeString(selector)}`);
        return shapes.slice(0, -1).map((s, k) => {
          need(def, s[0] === items, () => `bottom ${k} has ${s[0]} items but the selector (bottom ${bottoms - 1}) has ${items} values: Caffe needs one per item`);
          return s;
        });
      },
      forward(xs, ys) {
        const selector = xs[bottoms - 1].data, picked: number[] = [];
        selector.forEach((v, n) => v !== 0 && picked.push(n));
        if (!picked.length)
          throw new LayerError(def, `none of its ${selector.length} selector values (bottom ${bottoms - 1}) is nonzero: Caffe gives tops of 0 items, and crema holds no empty blob`);
        ys.forEach((y, k) => {
          const inner = countRange(xs[k].dims, 1);
          keepRows(y, picked.length);
          picked.forEach((n, row) => copyRun(xs[k].data, n * inner, y.data, row * inner, inner));
        });
      },
    };
  },
  // Compress along axis 0 by the selector as booleans (Cast: nonzero and NaN true); the tops' items are known at run time.
  onnx(c) {
    const last = c.layer.bottoms.length - 1;
    const flat = c.node('Reshape', [c.bottom(last), c.b.int64s(`${c.layer.name}/selector_shape`, [-1])], [c.tmp('selector')]);
    const keep = c.node('Cast', [flat], [c.tmp('keep')], { to: int(9) }); // BOOL
    for (let k = 0; k < last; k++) {
      c.node('Compress', [c.bottom(k), keep], [c.top(k)], { axis: int(0) });
      c.dynamicShape(k, [0]);
    }
  },
};
