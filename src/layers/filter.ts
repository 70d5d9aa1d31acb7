import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { int } from '../onnx/builder.js';
import type { LayerContext } from '../onnx/context.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
import { copyRun, countRange, expectAtMostBlobs, refuseInPlace } from './axes.js';
import { type Layer, type LayerType, canonicalAxis, expectWeight, keepRows, need } from './layer.js';

/**
 * BVLC Caffe 1.0's Filter (filter_layer.cpp): bottoms 0 .. K-1 are data, the last the selector (N, 1, ...); top k
 * is bottom k's items whose selector is nonzero (as C++ tests a float: NaN is, -0 is not), in order. Caffe counts
 * them in Reshape, which each forward runs: the net is set up with all N items (its first reshape), and the layers
 * after it take each forward's count (crema: `sizesTops`; ONNX: Compress, a dynamic axis 0). None selected gives
 * tops of 0 items, as Caffe's: the layers after them whose tops are empty too are not run (Net.runLayer).
 */
export const filterLayer: LayerType = {
  type: 'Filter',
  create(def, weights) {
    const bottoms = def.bottom?.length ?? 0, tops = def.top?.length ?? 0;
    if (bottoms >= 1 && tops === bottoms) return channelFilter(def, weights); // caffe-pro's: a top per bottom
    need(def, bottoms >= 2 && tops === bottoms - 1, () => `takes data bottoms and the selector last, and a top per data bottom (BVLC's), or a top per bottom and the selector in its weights (caffe-pro's, filter_param), got ${bottoms} bottom(s) and ${tops} top(s)`);
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
        const picked = nonzero(xs[bottoms - 1].data); // none: tops of 0 items, as Caffe's (the layers after skip them)
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
    if (c.layer.tops.length === c.layer.bottoms.length) return channelFilterToOnnx(c);
    const last = c.layer.bottoms.length - 1;
    const flat = c.node('Reshape', [c.bottom(last), c.b.int64s(`${c.layer.name}/selector_shape`, [-1])], [c.tmp('selector')]);
    const keep = c.node('Cast', [flat], [c.tmp('keep')], { to: int(9) }); // BOOL
    for (let k = 0; k < last; k++) {
      c.node('Compress', [c.bottom(k), keep], [c.top(k)], { axis: int(0) });
      c.dynamicShape(k, [0]);
    }
  },
};

/**
 * yihui-he/caffe-pro's Filter (channel-pruning's pruned nets: filter_layer.cpp, .cu at 602b9e3): a top per bottom,
 * the selector its own weight blob (C values along filter_param.axis, lr_mult 0, in the caffemodel); each top keeps its
 * bottom's slices along the axis whose selector value is nonzero, in order. The top's size there is num_output: the
 * fork's GPU forward CHECKs it against the nonzero count (its CPU forward is NOT_IMPLEMENTED), crema when the net loads.
 * Axis 0 is NOT_IMPLEMENTED there, refused here. The fork's kernel indexes with a 4-D blob's axis-1 strides (shape(2)
 * x shape(3) per channel), so it gathers only at axis 1 of 4-D blobs (channel-pruning's only use); crema gathers along
 * any other axis too, where the fork reads other elements and writes past the top.
 */
interface FilterParam {
  axis: number;
  num_output: number;
}

function channelFilter(def: LayerParameter, weights: Tensor[]): Layer {
  const p = paramsOf<FilterParam>(def, 'filter_param');
  expectAtMostBlobs(def, 1, weights.length, 'the selector');
  refuseInPlace(def);
  // A selector the weights leave out is the fork's: ones (LayerSetUp; layer.ts's fixedFiller), every slice kept. The
  // net loads shaped from num_output as the fork's Reshape does, and a num_output that is not the slice count is
  // refused at forward, where the fork CHECKs; a selector from the weights is checked at load.
  const filled = weights.length === 0;
  let axis = 1, picked: number[] = [];
  return {
    reshape(shapes) {
      axis = canonicalAxis(def, p.axis, shapes[0].length);
      need(def, axis !== 0, 'filter_param.axis 0 (the items) is NOT_IMPLEMENTED in caffe-pro\'s Filter (its selector is in its weights; BVLC\'s Filter takes it as the last bottom)');
      const size = shapes[0][axis];
      shapes.forEach((s, k) => need(def, s.length > axis && s[axis] === size, () => `bottom ${k} has shape ${shapeString(s)}, but bottom 0 has ${size} along axis ${axis}: the selector has one value per slice of each`));
      picked = selectedSlices(def, expectWeight(def, weights, 0, 'the selector', [size]), p.num_output);
      if (!filled) checkSelected(def, picked, size, p.num_output);
      return shapes.map((s) => s.map((d, i) => (i === axis ? p.num_output : d)));
    },
    forward(xs, ys) {
      if (filled) checkSelected(def, picked, xs[0].dims[axis], p.num_output);
      xs.forEach((x, k) => gatherSlices(x.data, ys[k].data, x.dims, axis, picked));
    },
  };
}

/** The indices of the nonzero values, in order (as C++ tests a float: NaN is nonzero, -0 is not). */
function nonzero(values: Float32Array): number[] {
  const picked: number[] = [];
  values.forEach((v, i) => v !== 0 && picked.push(i));
  return picked;
}

/** The indices of the selector's nonzero values (a float's truth: NaN kept, -0 not); num_output at least 1. */
function selectedSlices(def: LayerParameter, selector: Tensor, numOutput: number): number[] {
  need(def, numOutput >= 1, () => `filter_param.num_output (the top's size along the axis) must be at least 1, got ${numOutput}`);
  return nonzero(selector.data);
}

/** Refuses a num_output that is not the count of nonzero selector values, as the fork's forward CHECKs. */
function checkSelected(def: LayerParameter, picked: readonly number[], of: number, numOutput: number): void {
  need(def, picked.length === numOutput, () => `filter_param.num_output is ${numOutput} but its selector (blob 0) has ${picked.length} nonzero values of ${of}: caffe-pro's forward CHECKs they are equal`);
}

/** y = x's slices `picked` along `axis`, in that order. */
function gatherSlices(x: Float32Array, y: Float32Array, dims: Shape, axis: number, picked: readonly number[]): void {
  const outer = countRange(dims, 0, axis), size = dims[axis], inner = countRange(dims, axis + 1);
  let to = 0;
  for (let o = 0; o < outer; o++)
    for (const i of picked) { copyRun(x, (o * size + i) * inner, y, to, inner); to += inner; }
}

/** Gather along the axis with the selector's nonzero indices as a constant (int64). */
function channelFilterToOnnx(c: LayerContext): void {
  const { layer } = c, p = paramsOf<FilterParam>(layer.def, 'filter_param');
  const axis = canonicalAxis(layer.def, p.axis, layer.bottomShapes[0].length);
  const selector = expectWeight(layer.def, layer.weights, 0, 'the selector', [layer.bottomShapes[0][axis]]);
  const picked = selectedSlices(layer.def, selector, p.num_output);
  checkSelected(layer.def, picked, selector.data.length, p.num_output);
  const indices = c.b.int64s(`${layer.name}/indices`, picked);
  layer.bottoms.forEach((_, k) => c.node('Gather', [c.bottom(k), indices], [c.top(k)], { axis: int(axis) }));
}
