// Concat in place: a Concat's bottoms laid out in its top, so that the layers that produce them write straight into
// their slices and the Concat copies nothing (SqueezeNet's fire modules, GoogLeNet's and Inception's inception
// blocks: 0.5-3 % of those nets was the copy). A bottom's data is then a view of its slice of the top's data.
//
// Only where that cannot change a value any layer or reader sees:
// - the slice is contiguous: one run per bottom (everything before the concat axis has size 1: batch 1 on the
//   channel axis; a batch > 1 copies as before, Net.allocate deciding again at each reshape);
// - the top is written by the Concat alone (no earlier layer writing a blob of that name, no in-place layer after
//   it: either would write over the bottoms' values), or by an in-place inference Dropout after it (the identity);
// - every layer that writes the bottom runs before the Concat (an in-place layer after it would change the top),
//   and is of a type whose kernels write exactly their top's floats (the InnerProduct's wasm GEMV writes whole
//   strips past its end, a plugin layer may replace its top's data): `exactWriters`;
// - a bottom appears once in the Concat and in no other laid-out Concat (a view has one place);
// - no layer that sizes its tops at run time (Filter, Proposal: Layer.sizesTops) runs between the bottom's writers
//   and the Concat: its new rows lay the top out again mid-forward, and a bottom already written would be moved
//   to its new slice without its value.
// A Concat whose top is itself a laid-out bottom of a later Concat nests (views of views). A forward that stops
// between a bottom's producer and the Concat leaves the top's slices partly new (a copying Concat's top keeps its
// last forward's values); every blob the forward ran keeps Caffe's value. CREMA_CONCAT=copy turns this off.

import type { GraphLayer } from '../graph/graph.js';
import { isConcat } from '../layers/concat.js';
import { testFactor } from '../layers/dropout.js';
import { type Shape, sizeOf } from '../tensor.js';
import type { Fusion } from './fold.js';

/** Where a laid-out bottom lives: `top`'s data from float `offset` on. */
export interface ConcatSlice {
  top: string;
  offset: number;
}

/** Layer types whose forward writes exactly its tops' floats, in place (kernels: edge tiles through scratch). */
const exactWriters = new Set([
  'Convolution', 'ConvolutionDepthwise', 'DepthwiseConvolution', 'Pooling', 'ReLU', 'BatchNorm', 'Scale', 'Concat', 'Dropout',
]);

/** A layer that leaves its in-place blob as it is: an inference Dropout (SqueezeNet's drop9 after fire9/concat). */
function identityInPlace(l: GraphLayer): boolean {
  return l.type === 'Dropout' && l.bottoms.length === 1 && l.bottoms[0] === l.tops[0] && testFactor(l.def) === 1;
}

/** Laid-out bottoms by blob name, for the layers and shapes as they are now (after inferShapes). */
export function concatSlices(layers: readonly GraphLayer[], shapes: ReadonlyMap<string, Shape>, fusions: ReadonlyMap<number, Fusion>): Map<string, ConcatSlice> {
  const writers = new Map<string, number[]>();
  const wrote = (blob: string, i: number): void => void writers.set(blob, [...(writers.get(blob) ?? []), i]);
  layers.forEach((l, i) => l.tops.forEach((t) => wrote(t, i)));
  // A chain into new blobs (fold.ts) writes its last blob with its producer's kernel.
  for (const f of fusions.values()) if (!layers[f.producer].tops.includes(f.top)) wrote(f.top, f.producer);
  const sizing = layers.flatMap((l, i) => (l.impl.sizesTops ? [i] : []));
  const sizedBetween = (w: number, c: number): boolean => sizing.some((s) => s > w && s < c);
  const slices = new Map<string, ConcatSlice>();
  // Last Concat first: a top laid out in a later Concat is placed before its own bottoms are.
  for (let c = layers.length - 1; c >= 0; c--) {
    const l = layers[c];
    if (!isConcat(l.impl) || l.tops.length !== 1) continue;
    const top = l.tops[0], shape = shapes.get(top);
    if (!shape || sizeOf(shape.slice(0, l.impl.axis())) !== 1) continue;
    if ((writers.get(top) ?? []).some((w) => w !== c && !identityInPlace(layers[w])) || l.bottoms.includes(top)) continue;
    let offset = 0;
    for (const b of l.bottoms) {
      const once = l.bottoms.indexOf(b) === l.bottoms.lastIndexOf(b);
      const ws = writers.get(b) ?? [];
      if (once && !slices.has(b) && ws.length > 0 && ws.every((w) => w < c && exactWriters.has(layers[w].type) && !sizedBetween(w, c))) slices.set(b, { top, offset });
      offset += sizeOf(shapes.get(b)!);
    }
  }
  return slices;
}
