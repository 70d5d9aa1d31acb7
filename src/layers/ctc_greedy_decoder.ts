import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { type Attr, int, ints } from '../onnx/builder.js';
import { type LayerContext, joinedDims, runtimeDims } from '../onnx/context.js';
import { shapeString } from '../tensor.js';
import { type LayerType, expectCounts, need } from './layer.js';

/** ctc_decoder_param: the blank class (a negative one is the last, C - 1) and whether repeated classes merge. */
function settings(def: LayerParameter, classes: number): { blank: number; merge: boolean } {
  const p = paramsOf<{ blank_index: number; ctc_merge_repeated: boolean }>(def, 'ctc_decoder_param');
  const blank = p.blank_index < 0 ? classes - 1 : p.blank_index;
  return { blank, merge: p.ctc_merge_repeated };
}

/**
 * senlinuc/caffe_ocr's CTCGreedyDecoder (ctc_decoder_layer.cpp), as its deploy nets use it: one bottom of scores
 * (T, N, C), one top (N, T, 1, 1). Per stream and step the class of the highest score (the first of equal ones);
 * a blank is dropped, and (ctc_merge_repeated, the default) so is a class equal to the step before's, blank or not:
 * "a a blank a" decodes to "a a". The classes go to the top's first places, -1 after them. The fork's other
 * forms (a second bottom of labels for an accuracy top) are training's and refused.
 */
export const ctcGreedyDecoderLayer: LayerType = {
  type: 'CTCGreedyDecoder',
  onnx: ctcToOnnx,
  create(def) {
    expectCounts(def, [1, 1], [1, 1]);
    let T = 0, N = 0, C = 0, s = { blank: 0, merge: true };
    return {
      reshape([x]) {
        need(def, x.length === 3, () => `bottom must be (T timesteps, N streams, C classes), got ${shapeString(x)}`);
        [T, N, C] = x;
        s = settings(def, C);
        need(def, s.blank < C, () => `blank_index ${s.blank} is not one of the ${C} classes`);
        return [[N, T, 1, 1]];
      },
      forward([x], [y]) {
        y.data.fill(-1);
        for (let n = 0; n < N; n++) {
          let prev = -1, at = n * T;
          for (let t = 0; t < T; t++) {
            const row = (t * N + n) * C;
            let best = 0, max = x.data[row];
            for (let c = 1; c < C; c++) if (x.data[row + c] > max) [best, max] = [c, x.data[row + c]];
            if (best !== s.blank && !(s.merge && best === prev)) y.data[at++] = best;
            prev = best;
          }
        }
      },
    };
  },
};

/**
 * ArgMax over the classes (its first maximum), a mask of the kept steps, each kept class scattered to its place
 * (the count of kept steps before it) in a row of -1s one longer than T, whose last place takes the dropped ones.
 * With ConvertOptions.anySize, T and N from the Shape: the first column of -1s and the rows expanded to them, the
 * slices' ends -1 (all but the last), the top's shape [0, 0, 1, 1].
 */
function ctcToOnnx(c: LayerContext): void {
  const { layer } = c, [T, N, C] = layer.bottomShapes[0], s = settings(layer.def, C);
  const name = (what: string) => `${layer.name}/${what}`;
  const op = (kind: string, inputs: string[], what: string, attrs = {}) => c.node(kind, inputs, [c.tmp(what)], attrs);
  const sizes = c.anySize ? runtimeSizes(c, op) : undefined;
  // (T, N, C) -> (N, T) class indices.
  const best = op('Transpose', [op('ArgMax', [c.bottom(0)], 'argmax', { axis: int(2), keepdims: int(0) })], 'best', { perm: ints([1, 0]) });
  let keep = op('Not', [op('Equal', [best, c.b.int64s(name('blank'), [s.blank])], 'is_blank')], 'not_blank');
  if (s.merge) {
    const start = sizes
      ? op('Expand', [c.b.int64s(name('start'), [-1]), sizes.column], 'start')
      : op('Reshape', [c.b.int64s(name('start'), new Array(N).fill(-1)), c.b.int64s(name('column'), [N, 1])], 'start');
    const prev = op('Concat', [start, op('Slice', [best, c.b.int64s(name('from'), [0]), c.b.int64s(name('to'), [sizes ? -1 : T - 1]), c.b.int64s(name('axis1'), [1])], 'before')], 'prev', { axis: int(1) });
    keep = op('And', [keep, op('Not', [op('Equal', [best, prev], 'repeats')], 'new')], 'keep');
  }
  const place = op('Sub', [op('CumSum', [op('Cast', [keep], 'keep_int', { to: int(7) }), c.b.int64s(name('axis'), [1])], 'count'), c.b.int64s(name('one'), [1])], 'place');
  const where = op('Where', [keep, place, sizes ? sizes.T : c.b.int64s(name('dump'), [T])], 'where');
  const rows = sizes ? op('Expand', [c.b.floats(name('unset'), Float32Array.of(-1), [1]), sizes.rows], 'unset') : c.b.floats(name('unset'), new Float32Array(N * (T + 1)).fill(-1), [N, T + 1]);
  const out = op('ScatterElements', [rows, where, op('Cast', [best], 'best_float', { to: int(1) })], 'scattered', { axis: int(1) });
  const kept = op('Slice', [out, c.b.int64s(name('first'), [0]), c.b.int64s(name('upto'), [sizes ? -1 : T]), c.b.int64s(name('axis_t'), [1])], 'kept');
  c.node('Reshape', [kept, c.b.int64s(name('shape'), sizes ? [0, 0, 1, 1] : [N, T, 1, 1])], [c.top(0)]);
}

/** The bottom's T as [T], and the shapes (N, 1) and (N, T + 1), from its Shape at run time. */
function runtimeSizes(c: LayerContext, op: (kind: string, inputs: string[], what: string, attrs?: Record<string, Attr>) => string) {
  const T = runtimeDims(c, c.bottom(0), 0, 1), N = runtimeDims(c, c.bottom(0), 1, 2);
  const one = c.b.int64s(`${c.layer.name}/one_column`, [1]);
  return {
    T,
    column: joinedDims(c, 'column', [N, one]),
    rows: joinedDims(c, 'rows', [N, op('Add', [T, one], 'T_plus_1')]),
  };
}
