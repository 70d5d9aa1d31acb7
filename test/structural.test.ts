// The structural layers (Input, Concat, Slice, Split, Eltwise, Flatten, Reshape, Crop, Tile, Reduction, ArgMax,
// Embed) against Caffe's own numbers, layer by layer, and their errors on bad shapes and parameters.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { NetParameter } from '../src/caffe/types.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { Net } from '../src/runtime/net.js';
import { type Shape, Tensor } from '../src/tensor.js';
import { layerOf, runLayerByLayer } from './helpers/compute.js';
import { TOLERANCE } from './helpers/reference.js';
import { sharedDir, sharedMissing } from './helpers/shared.js';

const STRUCTURAL = new Set(['Input', 'Concat', 'Slice', 'Split', 'Eltwise', 'Flatten', 'Reshape', 'Crop', 'Tile', 'Reduction', 'ArgMax', 'Embed']);
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/layers');

/** Every stored blob matches Caffe's; the blobs named in `ours` (all but the input, when omitted) were computed by crema. */
function expectMatchesCaffe(dir: string, ours?: string[]) {
  return async () => {
    const results = await runLayerByLayer(dir, STRUCTURAL);
    const computed = results.filter((r) => r.computed).map((r) => r.blob);
    expect(computed).toEqual(ours ?? results.slice(1).map((r) => r.blob));
    for (const r of results) {
      expect(r.ours, `shape of ${r.blob}`).toEqual(r.caffe);
      expect(r.error, `max|ours - caffe| / max(1, max|caffe|) of ${r.blob}`).toBeLessThanOrEqual(TOLERANCE);
    }
  };
}

describe.skipIf(sharedMissing())('structural layers vs Caffe: ../shared/reference/sweep', () => {
  const sweep = (name: string) => path.join(sharedDir ?? '', 'reference/sweep', name);
  // The Convolutions' tops come from Caffe; Eltwise and Concat are ours.
  it('concat_eltwise', expectMatchesCaffe(sweep('concat_eltwise'), ['s', 'm', 'out']));
  it('flatten_reshape_slice', expectMatchesCaffe(sweep('flatten_reshape_slice')));
});

describe('structural layers vs Caffe: test/fixtures/layers (computed by BVLC Caffe 1.0)', () => {
  // structural_b3: batch 3; Flatten/Reshape axes, legacy concat_dim/slice_dim, 3-way Eltwise, Split, Crop, Tile.
  // reduction_argmax: every Reduction op and axis, ArgMax with/without axis, top_k, out_max_val, ties.
  for (const name of ['structural_b3', 'reduction_argmax', 'embed']) it(name, expectMatchesCaffe(path.join(fixtures, name)));
});

/** One layer from a line of prototxt, reshaped on the given bottom shapes. */
const reshape = (text: string, ...bottoms: Shape[]) => layerOf(text).reshape(bottoms);
const tensor = (dims: number[], values: number[]) => new Tensor(dims, Float32Array.from(values));

describe('shape errors name the layer and say what is wrong', () => {
  it('Eltwise with mismatched bottoms names both', () => {
    expect(() => reshape('layer { name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "c" }', [1, 2, 3], [1, 3, 2])).toThrow(
      "layer 'e' (Eltwise): bottom[0] 'a' has shape [1, 2, 3] but bottom[1] 'b' has [1, 3, 2]: Eltwise needs identical shapes",
    );
  });
  it('Eltwise coefficients: one per bottom, and only for SUM', () => {
    expect(() => layerOf('layer { name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "c" eltwise_param { coeff: 1 } }')).toThrow(
      "layer 'e' (Eltwise): takes one coeff per bottom: 1 coeff(s) for 2 bottoms",
    );
    expect(() =>
      layerOf('layer { name: "e" type: "Eltwise" bottom: "a" bottom: "b" top: "c" eltwise_param { operation: PROD coeff: 1 coeff: 2 } }'),
    ).toThrow("layer 'e' (Eltwise): takes coeff only for operation SUM");
    // An operation outside the enum (a NetParameter built in code): create() refuses it, before any ONNX export.
    const def = { name: 'e', type: 'Eltwise', bottom: ['a', 'b'], top: ['c'], eltwise_param: { operation: 'DIV' } };
    expect(() => Net.fromNetParameter({ layer: [{ name: 'a', type: 'Input', top: ['a', 'b'], input_param: { shape: [{ dim: [2] }, { dim: [2] }] } }, def] } as unknown as NetParameter)).toThrow(
      "layer 'e' (Eltwise): unknown operation DIV",
    );
  });
  it('Concat with a mismatch off the concat axis', () => {
    expect(() => reshape('layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "c" }', [2, 3, 4, 4], [2, 5, 4, 3])).toThrow(
      "layer 'cat' (Concat): bottom[1] 'b' has shape [2, 5, 4, 3] but bottom[0] 'a' has [2, 3, 4, 4]: all inputs must have the same shape except at the concat axis 1",
    );
    expect(() => reshape('layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "c" concat_param { axis: 4 } }', [2, 3], [2, 3])).toThrow(
      "layer 'cat' (Concat): axis 4 is out of range for a 2-D blob",
    );
    expect(() => layerOf('layer { name: "cat" type: "Concat" bottom: "a" top: "c" concat_param { axis: 1 concat_dim: 1 } }')).toThrow(
      "layer 'cat' (Concat): give either axis or concat_dim, not both",
    );
  });
  it('Reshape that cannot infer its -1, or has two', () => {
    expect(() => reshape('layer { name: "r" type: "Reshape" bottom: "a" top: "b" reshape_param { shape { dim: 0 dim: 7 dim: -1 } } }', [2, 3, 4])).toThrow(
      "layer 'r' (Reshape): cannot infer the -1 in shape [0, 7, -1]: the bottom's count 24 (shape [2, 3, 4]) is not divisible by the product of the other dims (14)",
    );
    expect(() => layerOf('layer { name: "r" type: "Reshape" bottom: "a" top: "b" reshape_param { shape { dim: -1 dim: -1 } } }')).toThrow(
      "layer 'r' (Reshape): shape [-1, -1] contains more than one -1; at most one dim can be inferred",
    );
    expect(() => reshape('layer { name: "r" type: "Reshape" bottom: "a" top: "b" reshape_param { shape { dim: 5 dim: 5 } } }', [2, 3, 4])).toThrow(
      "layer 'r' (Reshape): output count 25 (shape [5, 5]) must match the input count 24 (shape [2, 3, 4])",
    );
    expect(() => reshape('layer { name: "r" type: "Reshape" bottom: "a" top: "b" reshape_param { shape { dim: 0 dim: 0 dim: 0 } axis: 1 } }', [2, 3, 4])).toThrow(
      "layer 'r' (Reshape): shape [0, 0, 0] has a 0 at position 2, but the bottom [2, 3, 4] has no axis 3 to copy",
    );
    expect(() => layerOf('layer { name: "r" type: "Reshape" bottom: "a" top: "a" reshape_param { shape { dim: -1 } } }')).toThrow(
      "layer 'r' (Reshape): does not allow in-place computation (top 'a' is also a bottom)",
    );
  });
  it('Slice points out of order, out of range, or the wrong number', () => {
    expect(() => layerOf('layer { name: "s" type: "Slice" bottom: "a" top: "x" top: "y" top: "z" slice_param { slice_point: 3 slice_point: 2 } }')).toThrow(
      "layer 's' (Slice): slice_point must be positive and strictly increasing, got [3, 2]",
    );
    expect(() => layerOf('layer { name: "s" type: "Slice" bottom: "a" top: "x" top: "y" slice_param { slice_point: 1 slice_point: 2 } }')).toThrow(
      "layer 's' (Slice): has 2 slice_point(s) for 2 tops; it needs 1",
    );
    expect(() => reshape('layer { name: "s" type: "Slice" bottom: "a" top: "x" top: "y" slice_param { slice_point: 4 } }', [2, 4, 5])).toThrow(
      "layer 's' (Slice): slice_point [4] must lie inside axis 1 of the bottom, of size 4 (bottom shape [2, 4, 5])",
    );
    expect(() => reshape('layer { name: "s" type: "Slice" bottom: "a" top: "x" top: "y" top: "z" }', [2, 4, 5])).toThrow(
      "layer 's' (Slice): 3 tops do not evenly divide axis 1 of size 4 (bottom shape [2, 4, 5])",
    );
  });
  it('Crop out of bounds, and offsets not matching the axes', () => {
    expect(() => reshape('layer { name: "c" type: "Crop" bottom: "a" bottom: "b" top: "c" crop_param { offset: 3 } }', [1, 2, 5, 5], [1, 2, 3, 3])).toThrow(
      "layer 'c' (Crop): the crop for axis 2 is out of bounds: size 3 at offset 3 does not fit in 5 (bottom[0] [1, 2, 5, 5])",
    );
    expect(() =>
      reshape('layer { name: "c" type: "Crop" bottom: "a" bottom: "b" top: "c" crop_param { axis: 1 offset: 0 offset: 1 } }', [1, 2, 5, 5], [1, 2, 3, 3]),
    ).toThrow("layer 'c' (Crop): has 2 offsets; it needs one, or one per axis from axis 1 on (3)");
  });
  it('Flatten, Tile, ArgMax and Input parameters', () => {
    expect(() => reshape('layer { name: "f" type: "Flatten" bottom: "a" top: "b" flatten_param { axis: 3 } }', [2, 3])).toThrow(
      "layer 'f' (Flatten): axis 3 is out of range for a 2-D blob",
    );
    expect(() => layerOf('layer { name: "t" type: "Tile" bottom: "a" top: "b" }')).toThrow("layer 't' (Tile): needs tile_param { tiles: ... }");
    expect(() => reshape('layer { name: "m" type: "ArgMax" bottom: "a" top: "b" argmax_param { top_k: 7 } }', [2, 2, 3])).toThrow(
      "layer 'm' (ArgMax): top_k 7 exceeds the 6 values per item (bottom [2, 2, 3])",
    );
    expect(() => layerOf('layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 1 } shape { dim: 2 } shape { dim: 3 } } }')).toThrow(
      "layer 'in' (Input): must give input_param shape once, or once per top: 2 tops vs. 3 shapes",
    );
    expect(() => layerOf('layer { name: "in" type: "Input" top: "a" input_param { shape { dim: 1 dim: 0 } } }')).toThrow(
      "layer 'in' (Input): input shape [1, 0] must have dims > 0",
    );
  });
  it('Embed refuses indices outside [0, input_dim) and non-integers, naming the layer', () => {
    const table = tensor([3, 2], [0, 1, 2, 3, 4, 5]);
    const embed = layerOf('layer { name: "emb" type: "Embed" bottom: "i" top: "o" embed_param { num_output: 2 input_dim: 3 bias_term: false } }', [table]);
    expect(embed.reshape([[2]])).toEqual([[2, 2]]);
    const out = Tensor.zeros([2, 2]);
    embed.forward([tensor([2], [2, 0])], [out]);
    expect([...out.data]).toEqual([4, 5, 0, 1]);
    expect(() => embed.forward([tensor([2], [1, 3])], [out])).toThrow(
      "layer 'emb' (Embed): input value 3 at position 1 is not an index in [0, 3) (input_dim)",
    );
    expect(() => embed.forward([tensor([2], [-1, 0])], [out])).toThrow("layer 'emb' (Embed): input value -1 at position 0");
    expect(() => embed.forward([tensor([2], [0.5, 0])], [out])).toThrow("layer 'emb' (Embed): input value 0.5 at position 0");
  });
});

describe('small cases worked by hand', () => {
  it('Input gives one shape to every top, or one shape per top', () => {
    expect(reshape('layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 2 dim: 3 } } }')).toEqual([[2, 3], [2, 3]]);
    expect(reshape('layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 2 } shape { dim: 1 dim: 4 } } }')).toEqual([[2], [1, 4]]);
    expect(() => layerOf('layer { name: "sp" type: "Split" bottom: "a" top: "a" top: "b" }')).toThrow(
      "layer 'sp' (Split): does not allow in-place computation (top 'a' is also a bottom)",
    );
  });
  it('ArgMax puts the higher index first among equal values, as Caffe partial_sort on (value, index) pairs does', () => {
    const argmax = layerOf('layer { name: "m" type: "ArgMax" bottom: "a" top: "b" argmax_param { top_k: 3 out_max_val: true } }');
    expect(argmax.reshape([[1, 5]])).toEqual([[1, 2, 3]]);
    const out = Tensor.zeros([1, 2, 3]);
    argmax.forward([tensor([1, 5], [1, 3, 2, 3, 3])], [out]);
    expect([...out.data]).toEqual([4, 3, 1, 3, 3, 3]);
  });
  it('Reduction over axis 0 gives a scalar (shape [])', () => {
    const mean = layerOf('layer { name: "r" type: "Reduction" bottom: "a" top: "b" reduction_param { operation: MEAN } }');
    expect(mean.reshape([[2, 2]])).toEqual([[]]);
    const out = Tensor.zeros([]);
    mean.forward([tensor([2, 2], [1, 2, 3, 6])], [out]);
    expect(out.data[0]).toBe(3);
  });
  it('Flatten with end_axis just before axis inserts an axis of 1, as Caffe\'s count over an empty range does', () => {
    expect(reshape('layer { name: "f" type: "Flatten" bottom: "a" top: "b" flatten_param { axis: 2 end_axis: 1 } }', [2, 3, 4])).toEqual([[2, 3, 1, 4]]);
  });
  describe('Eltwise in place on bottom 0, as Caffe: the top is written before the bottoms are read (fixture eltwise_inplace)', () => {
    const net = (eltwise: string, after = '') =>
      Net.fromNetParameter(parsePrototxt(`
        layer { name: "in" type: "Input" top: "a" top: "b" top: "c" input_param { shape { dim: 4 } } }
        layer { name: "e" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "a" ${eltwise} }
        ${after}`, 'inplace.prototxt') as NetParameter, new Map(), [], { threads: 1 });
    const inputs = { a: [1, -2, 3, -4], b: [5, 6, -7, 8], c: [-1, 2, 2, -3] };
    const floats = () => Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, Float32Array.from(v)]));
    const resultOf = (eltwise: string, after?: string) => {
      const n = net(eltwise, after);
      n.forward(floats());
      return [...n.blobs.get('a')!.data];
    };
    it('SUM drops bottom 0: the sum of the other bottoms (with their coeffs), also when a ReLU in place follows', () => {
      expect(resultOf('')).toEqual([4, 8, -5, 5]);
      expect(resultOf('eltwise_param { coeff: 10 coeff: 2 coeff: -1 }')).toEqual([11, 10, -16, 19]);
      expect(resultOf('', 'layer { name: "r" type: "ReLU" bottom: "a" top: "a" }')).toEqual([4, 8, 0, 5]);
    });
    it('MAX reads bottom 0 as -FLT_MAX; PROD reads it before writing', () => {
      expect(resultOf('eltwise_param { operation: MAX }')).toEqual([5, 6, 2, 8]);
      expect(resultOf('eltwise_param { operation: PROD }')).toEqual([-5, -24, -42, 96]);
    });
    it('a top that is a later bottom is refused, as Caffe refuses it', () => {
      const text = `layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 4 } } }
        layer { name: "e" type: "Eltwise" bottom: "b" bottom: "a" top: "a" }`;
      expect(() => Net.fromNetParameter(parsePrototxt(text, 'x.prototxt') as NetParameter, new Map(), [], { threads: 1 })).toThrow(
        "layer 'e' (Eltwise): top[0] 'a' is bottom[1], not bottom[0]: Caffe works in place only when top k is bottom k",
      );
    });
  });
});
