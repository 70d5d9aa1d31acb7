import type { LayerParameter } from '../caffe/types.js';
import { type CopyRun, copyRunsWasm } from '../kernels/copy.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
import { axisRuns, copyRun, joinAxis } from './axes.js';
import { type Layer, type LayerType, expectCounts, need } from './layer.js';
import { type LayerContext } from '../onnx/context.js';
import { int } from '../onnx/builder.js';

/** A Concat's implementation: the axis of its last reshape (Net.allocate lays bottoms out in its top: concat-views.ts). */
export interface ConcatLayer extends Layer {
  axis(): number;
}

export function isConcat(layer: Layer): layer is ConcatLayer {
  return typeof (layer as Partial<ConcatLayer>).axis === 'function';
}

/**
 * Concat: joins its bottoms along one axis (`axis`, or the legacy non-negative `concat_dim`); all other dims must
 * agree. A bottom whose data already is its slice of the top (a view Net.allocate made) is not copied.
 */
export const concatLayer: LayerType = {
  type: 'Concat',
  onnx: concatToOnnx,
  create(def: LayerParameter): ConcatLayer {
    expectCounts(def, [1, Infinity], [1, 1]);
    const axisOf = joinAxis(def, 'concat_param', 'concat_dim');
    const bottomNames = def.bottom ?? [];
    let axis = 0;
    return {
      axis: () => axis,
      reshape(bottoms: Shape[]): Shape[] {
        const first = bottoms[0];
        axis = axisOf(first.length);
        const top = [...first];
        bottoms.forEach((b, i) => {
          if (i === 0) return;
          const mismatch = () =>
            `bottom[${i}] '${bottomNames[i]}' has shape ${shapeString(b)} but bottom[0] '${bottomNames[0]}' has ${shapeString(first)}: ` +
            `all inputs must have the same shape except at the concat axis ${axis}`;
          need(def, b.length === first.length, mismatch);
          for (let j = 0; j < first.length; j++) need(def, j === axis || b[j] === first[j], mismatch);
          top[axis] += b[axis];
        });
        return [top];
      },
      forward(bottoms: Tensor[], tops: Tensor[]): void {
        const out = tops[0].data;
        const runs: CopyRun[] = [];
        axisRuns(tops[0].dims, bottoms, axis, (b, from, to, n) => {
          if (n > 0 && !sameFloats(b.data, from, out, to)) runs.push({ src: b.data, from, dst: out, to, n });
        });
        // At batch > 1 on resident blobs, the copies as one parallel job (a bottom that is its top's slice is
        // never among them, and no bottom overlaps the top otherwise).
        if (!copyRunsWasm(runs)) for (const r of runs) copyRun(r.src, r.from, r.dst, r.to, r.n);
      },
      takesEmpty: () => true, // along the items: an empty bottom adds none
    };
  },
};

/** Whether src[from] and dst[to] are the same float in memory (a bottom laid out in its top: nothing to copy). */
function sameFloats(src: Float32Array, from: number, dst: Float32Array, to: number): boolean {
  return src.buffer === dst.buffer && src.byteOffset + from * 4 === dst.byteOffset + to * 4;
}

/** ONNX Concat on the axis (concat_dim when the prototxt gives it); one bottom is the top itself. */
function concatToOnnx(c: LayerContext): void {
  const { layer } = c;
  const axis = joinAxis(layer.def, 'concat_param', 'concat_dim')(layer.bottomShapes[0].length);
  if (layer.bottoms.length === 1) c.alias(0, c.bottom(0));
  else c.node('Concat', layer.bottoms.map((_, i) => c.bottom(i)), [c.top(0)], { axis: int(axis) });
}
