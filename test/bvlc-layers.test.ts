// BVLC Caffe 1.0's BatchReindex, Filter, LSTMUnit and HDF5Output against the blobs the real Caffe computed
// (test/fixtures/bvlc/<case>: net.prototxt, inputs/, blobs/, written by its make-fixtures.sh in the Caffe chroot),
// natively and through ONNX Runtime. BatchReindex and Filter only move numbers: they must match exactly; LSTMUnit
// within 1e-6 * max(1, |ref|), as the HDF5Output net's TanH. HDF5Output's file, as crema run and Net.run write it,
// against the one Caffe wrote (hdf5_output/caffe.h5), both read back with h5wasm.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { convertGraph, encodeConversion } from '../src/onnx/convert.js';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { encodeNpy, readNpy } from '../src/util/npy.js';
import { nodePlatform } from '../src/platform/node.js';
import { cli } from './helpers/cli.js';
import { input, netOf, random } from './helpers/fork-layers.js';
import { relativeDifference } from './helpers/reference.js';

const root = path.join(import.meta.dirname, 'fixtures', 'bvlc');

/** A case of test/fixtures/bvlc: its net, its inputs and what Caffe computed, as its manifest names them. */
function fixture(name: string) {
  const dir = path.join(root, name);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { inputs: string[]; blobs: string[] };
  const input = (k: string) => readNpy(path.join(dir, 'inputs', `${k}.npy`));
  return {
    dir,
    net: path.join(dir, 'net.prototxt'),
    blobs: manifest.blobs,
    input,
    inputs: (): Record<string, Tensor> => Object.fromEntries(manifest.inputs.map((k) => [k, input(k)])),
    caffe: (blob: string) => readNpy(path.join(dir, 'blobs', `${blob}.npy`)),
    /** The CLI's --input arguments for every input. */
    cliInputs: () => manifest.inputs.flatMap((k) => ['--input', `${k}=${path.join(dir, 'inputs', `${k}.npy`)}`]),
  };
}

function expectBlob(got: Tensor | undefined, want: Tensor, label: string, tolerance: number): void {
  expect(got, label).toBeDefined();
  expect([...got!.dims], `${label} shape`).toEqual([...want.dims]);
  if (tolerance === 0) expect(Array.from(got!.data), label).toEqual(Array.from(want.data));
  else expect(relativeDifference(got!.data, want.data), label).toBeLessThanOrEqual(tolerance);
}

/**
 * Every blob Caffe stored for the case, from crema's forward and from ONNX Runtime on crema's conversion, converted
 * before any forward: at the shapes the net loads with (a Filter's tops of all its items), which the run must not keep.
 */
async function expectCaffe(name: string, tolerance: number): Promise<Net> {
  const f = fixture(name), net = await Net.load(f.net);
  const onnx = await runOnnx(net.graph, f.inputs(), { threads: 1, outputs: f.blobs });
  net.forward(f.inputs());
  for (const blob of f.blobs) {
    expectBlob(net.blobs.get(blob), f.caffe(blob), `${name}: ${blob} native`, tolerance);
    expectBlob(onnx.get(blob), f.caffe(blob), `${name}: ${blob} ONNX`, tolerance);
  }
  return net;
}

describe('BatchReindex', () => {
  it('gathers items of a 4-D bottom by repeated, permuted and fractional (truncated) indices, as Caffe does', async () => {
    await expectCaffe('batch_reindex', 0);
  });

  it('refuses an index out of range at forward, in one line', async () => {
    const f = fixture('batch_reindex'), net = await Net.load(f.net);
    const bad = (values: number[]) => () => net.forward({ ...f.inputs(), frac: new Tensor([3], Float32Array.from(values)) });
    expect(bad([0, 5, 1])).toThrow(/^layer 'reindex_frac' \(BatchReindex\): index 5 \(item 1 of bottom 1\) is not in \[0, 5\), an item of bottom 0: Caffe refuses it at forward$/);
    expect(bad([0, 1, -0.5])).toThrow("layer 'reindex_frac' (BatchReindex): index -0.5 (item 2 of bottom 1) is not in [0, 5), an item of bottom 0: Caffe refuses it at forward");
    expect(bad([NaN, 1, 2])).toThrow("layer 'reindex_frac' (BatchReindex): index NaN (item 0 of bottom 1) is not in [0, 5), an item of bottom 0: Caffe refuses it at forward");
  });

  it('in ONNX Runtime, an index Caffe refuses fails the run too (made out of range for its Gather: never a negative one from the end)', async () => {
    const f = fixture('batch_reindex'), net = await Net.load(f.net);
    const run = (values: number[]) => runOnnx(net.graph, { ...f.inputs(), frac: new Tensor([3], Float32Array.from(values)) }, { threads: 1, outputs: ['by_frac'] });
    for (const values of [[0, 5, 1], [-1, 0, 1], [0, 1, -0.5], [NaN, 1, 2]])
      await expect(run(values), String(values)).rejects.toThrow(/Gather node\. Name:'reindex_frac\/Gather_\d+' Status Message: indices element out of data bounds, idx=5 /);
    const last = (await run([4.9, 0, 0])).get('by_frac')!, inner = last.data.length / 3;
    expect(Array.from(last.data.subarray(0, inner))).toEqual(Array.from(f.input('data').data.subarray(4 * inner, 5 * inner)));
  });
});

describe('Filter', () => {
  it('keeps the items of two data bottoms whose selector is nonzero (mixed, and all), as Caffe does', async () => {
    await expectCaffe('filter', 0);
  });

  it('gives each forward its own count, and the layer after it those items: the selectors swapped, the tops swap', async () => {
    const f = fixture('filter'), net = await Net.load(f.net);
    for (const [mixed, all] of [['mixed', 'all'], ['all', 'mixed'], ['mixed', 'all']]) {
      const inputs = f.inputs();
      net.forward({ ...inputs, mixed: new Tensor([6, 1], inputs[mixed].data), all: new Tensor([6], inputs[all].data) });
      for (const top of ['a', 'b']) {
        expectBlob(net.blobs.get(`${top}_mixed`), f.caffe(`${top}_${mixed}`), `${top}_mixed from ${mixed}`, 0);
        expectBlob(net.blobs.get(`${top}_all`), f.caffe(`${top}_${all}`), `${top}_all from ${all}`, 0);
      }
      // The Power (scale 3) after filter_mixed, shaped again for its count.
      const picked = f.caffe(`a_${mixed}`);
      expectBlob(net.blobs.get('a_tripled'), new Tensor(picked.dims, picked.data.map((v) => 3 * v)), `a_tripled from ${mixed}`, 1e-6);
    }
  });

  it('none selected: tops of 0 items, as Caffe and ONNX Runtime give', async () => {
    const f = fixture('filter_none');
    expect(f.blobs.map((b) => f.caffe(b).dims)).toEqual([[0, 3, 2, 2], [0, 4]]);
    await expectCaffe('filter_none', 0);
  });

  it('none selected into InnerProduct, and Convolution + ReLU + Pooling: their tops of 0 items too, as Caffe gives; then a forward selecting some computes them again', async () => {
    const f = fixture('filter_ip');
    expect(['ip_none', 'pool_none'].map((b) => f.caffe(b).dims)).toEqual([[0, 3], [0, 2, 1, 1]]);
    const net = await expectCaffe('filter_ip', 1e-6);
    // The selectors swapped: the 0-item side now has two items, the other none; then back.
    for (const [sel, none] of [['none', 'sel'], ['sel', 'none']]) {
      const inputs = f.inputs();
      net.forward({ ...inputs, sel: new Tensor([4, 1], inputs[sel].data), none: new Tensor([4], inputs[none].data) });
      expectBlob(net.blobs.get('ip_sel'), f.caffe(`ip_${sel}`), `ip_sel from ${sel}`, 1e-6);
      expectBlob(net.blobs.get('ip_none'), f.caffe(`ip_${none}`), `ip_none from ${none}`, 1e-6);
      expect(net.blobs.get('pool_none')!.dims).toEqual(none === 'none' ? [0, 2, 1, 1] : [2, 2, 1, 1]);
    }
  });

  it('into Reduction (axis 1), Interp and Flatten, converted before any forward: ONNX Runtime gives the rows Filter selected (2 of 4, 0 of 4), as natively', async () => {
    // The conversion once wrote the load-time row count (4) into Reduction's Reshape and Interp's Resize sizes.
    const f = fixture('filter_ip'), text = `${fs.readFileSync(f.net, 'utf8')}
layer { name: "mean_sel" type: "Reduction" bottom: "a_sel" top: "mean_sel" reduction_param { operation: MEAN axis: 1 coeff: 2 } }
layer { name: "asum_none" type: "Reduction" bottom: "a_none" top: "asum_none" reduction_param { operation: ASUM axis: 1 } }
layer { name: "interp_sel" type: "Interp" bottom: "a_sel" top: "interp_sel" interp_param { zoom_factor: 2 } }
layer { name: "interp_none" type: "Interp" bottom: "a_none" top: "interp_none" interp_param { height: 4 width: 5 } }
layer { name: "flat_sel" type: "Flatten" bottom: "a_sel" top: "flat_sel" }
layer { name: "flat_none" type: "Flatten" bottom: "a_none" top: "flat_none" flatten_param { axis: 2 } }`;
    const net = await Net.load({ prototxt: text }), inputs = f.inputs();
    const outputs = ['mean_sel', 'asum_none', 'interp_sel', 'interp_none', 'flat_sel', 'flat_none'];
    const onnx = await runOnnx(net.graph, inputs, { threads: 1, outputs });
    net.forward(inputs);
    // Restated: the mean of each selected item (items 1 and 3 of a) times coeff 2.
    const a = inputs.a.data, item = a.length / 4;
    const mean = (i: number) => (2 * a.subarray(i * item, (i + 1) * item).reduce((s, v) => s + v, 0)) / item;
    expectBlob(net.blobs.get('mean_sel'), new Tensor([2], Float32Array.from([mean(1), mean(3)])), 'mean_sel native, restated', 1e-6);
    expect(net.blobs.get('asum_none')!.dims).toEqual([0]);
    expect(net.blobs.get('interp_sel')!.dims).toEqual([2, 2, 5, 5]);
    expect(net.blobs.get('interp_none')!.dims).toEqual([0, 2, 4, 5]);
    expect([net.blobs.get('flat_sel')!.dims, net.blobs.get('flat_none')!.dims]).toEqual([[2, 18], [0, 2, 9]]);
    for (const out of outputs) expectBlob(onnx.get(out), net.blobs.get(out)!, `${out} ONNX`, 1e-6);
  });

  it('into the layers nets put after it (ArgMax, Scale, Softmax, InnerProduct at axis 2, Reshape, Concat, Eltwise, Slice, Power, a Crop to its items), two of four selected: as Caffe, natively and in ONNX Runtime', async () => {
    // The conversion once wrote the load-time item count (4) into ArgMax's, InnerProduct's and Scale's Reshapes and
    // the Crop's Slice.
    const f = fixture('filter_after');
    expect(['argmax', 'ip_axis2', 'scale_by', 'crop_items'].map((b) => f.caffe(b).dims)).toEqual([[2, 1, 2, 1], [2, 2, 3], [2, 2, 3, 3], [2, 2, 3, 3]]);
    await expectCaffe('filter_after', 1e-6);
  });

  it('none selected into those layers: Caffe\'s empty tops, and a Concat along the items and a Crop to an empty reference computed as Caffe does, natively and in ONNX Runtime', async () => {
    const f = fixture('filter_after_none');
    expect(['argmax_val', 'ip_axis2', 'concat_items', 'crop'].map((b) => f.caffe(b).dims)).toEqual([[0, 2, 3, 1], [0, 2, 3], [4, 2, 3, 3], [4, 2, 2, 2]]);
    await expectCaffe('filter_after_none', 1e-6);
    // A Reshape whose -1 Caffe cannot infer on 0 items (it dies of SIGFPE: the other dims' product is 0): one line.
    const net = await Net.load({ prototxt: `${fs.readFileSync(f.net, 'utf8')}
layer { name: "reshape" type: "Reshape" bottom: "x" top: "reshape" reshape_param { shape { dim: 0 dim: -1 dim: 3 } } }` });
    expect(() => net.forward(f.inputs())).toThrow(/^layer 'reshape' \(Reshape\): cannot infer the -1 in shape \[0, -1, 3\]: the bottom's count 0 \(shape \[0, 2, 3, 3\]\) is not divisible by the product of the other dims \(0\)$/);
  });

  it('converted after a forward that selected none (the layers after it shaped at 0 items): the model of the load-time shapes, byte for byte; ONNX Runtime gives what Caffe gives for two of four', async () => {
    // filter_after without its Reshape [0, -1, 3], which cannot take 0 items (above).
    const f = fixture('filter_after'), text = fs.readFileSync(f.net, 'utf8').replace(/^layer \{ name: "reshape" .*\n/m, '');
    const net = await Net.load({ prototxt: text }), inputs = f.inputs(), blobs = f.blobs.filter((b) => b !== 'reshape');
    net.forward({ ...inputs, sel: new Tensor([4, 1], new Float32Array(4)) });
    expect(net.graph.blobShapes.get('ip_axis2')).toEqual([0, 2, 3]);
    const onnx = await runOnnx(net.graph, inputs, { threads: 1, outputs: blobs });
    for (const blob of blobs) expectBlob(onnx.get(blob), f.caffe(blob), `${blob} ONNX`, 1e-6);
    // The model a net that never ran gives (its shapes at all 4 items), byte for byte: this net's converters after the
    // Filter read the items at run time (a copied 0 or the Shape), so the forward's 0 is in no constant; and the net
    // left as that forward left it.
    const fresh = await Net.load({ prototxt: text });
    expect(encodeConversion(convertGraph(net.graph))).toEqual(encodeConversion(convertGraph(fresh.graph)));
    expect([net.graph.blobShapes.get('ip_axis2'), net.blobs.get('ip_axis2')!.dims]).toEqual([[0, 2, 3], [0, 2, 3]]);
    // And the net itself, forward again: all its blobs as Caffe's; then after another conversion at 0 items, all 4
    // selected, as a fresh net gives them.
    net.forward(inputs);
    for (const blob of blobs) expectBlob(net.blobs.get(blob), f.caffe(blob), `${blob} native`, 1e-6);
    await runOnnx(net.graph, inputs, { threads: 1, outputs: ['power'] });
    const all = { ...inputs, sel: new Tensor([4, 1], Float32Array.of(1, 1, 1, 1)) };
    net.forward({ ...inputs, sel: new Tensor([4, 1], new Float32Array(4)) });
    await runOnnx(net.graph, inputs, { threads: 1, outputs: ['power'] });
    net.forward(all);
    fresh.forward(all);
    for (const blob of blobs) expectBlob(net.blobs.get(blob), fresh.blobs.get(blob)!, `${blob} native, all 4 selected`, 0);
  });

  it('into fork layers (SSD\'s Normalize, Permute, PriorBox; caffe-windows\' Normalize of a 2-D bottom, ShuffleChannel, Axpy, Interp with use_blob_size), converted before any forward: ONNX Runtime = crema\'s forward at 2 and 0 of 4; a bottom read for its shape alone may be empty', async () => {
    // The conversion once wrote the load-time item count into caffe-windows' Normalize's, ShuffleChannel's and Axpy's
    // Reshapes; PriorBox and Interp were refused natively with an empty shape bottom. The fork layers' own numbers are
    // checked against their forks elsewhere (fork-layers, ssd tests): here the two sides of crema, and Caffe's rule.
    const text = `${input('a', [4, 2, 3, 3])} ${input('c', [4, 1, 2, 2])} ${input('sel', [4])}
layer { name: "filter" type: "Filter" bottom: "a" bottom: "c" bottom: "sel" top: "x" top: "c_sel" }
layer { name: "ssd_norm" type: "Normalize" bottom: "x" top: "ssd_norm" norm_param { across_spatial: false channel_shared: false } }
layer { name: "permute" type: "Permute" bottom: "x" top: "permute" permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "flat" type: "Flatten" bottom: "x" top: "flat" }
layer { name: "feature_norm" type: "Normalize" bottom: "flat" top: "feature_norm" top: "norm" normalize_param { normalize_type: "L2" } }
layer { name: "shuffle" type: "ShuffleChannel" bottom: "x" top: "shuffle" shuffle_channel_param { group: 2 } }
layer { name: "mean" type: "Pooling" bottom: "x" top: "mean" pooling_param { pool: AVE global_pooling: true } }
layer { name: "axpy" type: "Axpy" bottom: "mean" bottom: "x" bottom: "x" top: "axpy" }
layer { name: "priors" type: "PriorBox" bottom: "x" bottom: "c_sel" top: "priors" prior_box_param { min_size: 2 } }
layer { name: "interp" type: "Interp" bottom: "a" bottom: "c_sel" top: "interp" interp_param { use_blob_size: true } }`;
    const outputs = ['ssd_norm', 'permute', 'feature_norm', 'norm', 'shuffle', 'axpy', 'priors', 'interp'];
    const inputs = { a: random([4, 2, 3, 3], 5), c: random([4, 1, 2, 2], 6) };
    const run = async (sel: number[]) => {
      const net = netOf(text, { ssd_norm: [new Tensor([2], Float32Array.of(2, 0.5))] }), feeds = { ...inputs, sel: new Tensor([4], Float32Array.from(sel)) };
      const onnx = await runOnnx(net.graph, feeds, { threads: 1, outputs });
      net.forward(feeds);
      for (const out of outputs) expectBlob(onnx.get(out), net.blobs.get(out)!, `${out} ONNX, ${sel}`, 1e-6);
      return net;
    };
    const all = await run([1, 1, 1, 1]), some = await run([0, 1, 0, 1]), none = await run([0, 0, 0, 0]);
    expect(some.blobs.get('shuffle')!.dims).toEqual([2, 2, 3, 3]);
    expect(outputs.slice(0, 6).map((out) => none.blobs.get(out)!.dims[0])).toEqual([0, 0, 0, 0, 0, 0]);
    // PriorBox reads its bottoms' shapes, Interp with use_blob_size its second's: the same tops at 0 items as at 4.
    for (const out of ['priors', 'interp']) expectBlob(none.blobs.get(out), all.blobs.get(out)!, `${out} of empty shape bottoms`, 0);
  });

  it('into layers whose export merges or splits the axes after the items (MVN of a 2-D bottom, LRN decomposed, Reorg, Upsample with a mask, ArgMax over the items), converted before any forward: ONNX Runtime = crema\'s forward at 2 and 0 of 4', async () => {
    // Their Reshapes once baked the load-time 4 items (ONNX Runtime refused at 2), and ArgMax over the items ranked
    // from the load-time last index (2 too high at 2 of 4): crema's own kernels, checked against Caffe and the forks
    // elsewhere, are the referee here.
    const text = `${input('a', [4, 4, 4, 4])} ${input('sel', [4])}
layer { name: "filter" type: "Filter" bottom: "a" bottom: "sel" top: "x" }
layer { name: "flat" type: "Flatten" bottom: "x" top: "flat" }
layer { name: "mvn" type: "MVN" bottom: "flat" top: "mvn" }
layer { name: "lrn" type: "LRN" bottom: "x" top: "lrn" lrn_param { local_size: 3 } }
layer { name: "reorg" type: "Reorg" bottom: "x" top: "reorg" reorg_param { stride: 2 } }
layer { name: "pool" type: "Pooling" bottom: "x" top: "pool" top: "mask" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "up" type: "Upsample" bottom: "pool" bottom: "mask" top: "up" upsample_param { scale: 2 } }`;
    const argmax = 'layer { name: "argmax" type: "ArgMax" bottom: "x" top: "argmax" argmax_param { axis: 0 top_k: 1 } }';
    const run = async (sel: number[], outputs: string[]) => {
      const net = netOf(outputs.includes('argmax') ? text + argmax : text), feeds = { a: random([4, 4, 4, 4], 5), sel: new Tensor([4], Float32Array.from(sel)) };
      const onnx = await runOnnx(net.graph, feeds, { threads: 1, outputs, lrn: 'decomposed' });
      net.forward(feeds);
      for (const out of outputs) expectBlob(onnx.get(out), net.blobs.get(out)!, `${out} ONNX, ${sel}`, 1e-6);
      return net;
    };
    const some = await run([0, 1, 0, 1], ['mvn', 'lrn', 'reorg', 'up', 'argmax']);
    // Over the 2 kept items the indices are 0 and 1, not the 2 and 3 of the load-time last index.
    expect(new Set(some.blobs.get('argmax')!.data)).toEqual(new Set([0, 1]));
    // ArgMax of top_k 1 over no items has no value (Caffe's CHECK): the others at 0 items.
    const none = await run([0, 0, 0, 0], ['mvn', 'lrn', 'reorg', 'up']);
    expect(['mvn', 'lrn', 'reorg', 'up'].map((out) => none.blobs.get(out)!.dims[0])).toEqual([0, 0, 0, 0]);
  });

  it('into a Permute that moves the items (order 1, 0, 2, 3): the model declares the run-time size where the items land (axis 1); ONNX Runtime = crema\'s forward at 2 and 0 of 4', async () => {
    // The conversion once declared the permuted top [permute_0, 4, 3, 3]: the items' run-time size at axis 0, where
    // the channels (2) are, and the load-time 4 items at axis 1.
    const text = `${input('a', [4, 2, 3, 3])} ${input('sel', [4])}
layer { name: "filter" type: "Filter" bottom: "a" bottom: "sel" top: "x" }
layer { name: "permute" type: "Permute" bottom: "x" top: "permute" permute_param { order: 1 order: 0 order: 2 order: 3 } }`;
    const net = netOf(text), a = random([4, 2, 3, 3], 5), item = 2 * 3 * 3, plane = 3 * 3;
    const declared = convertGraph(net.graph, { outputs: ['permute'] }).model.graph.output[0].type.tensor_type.shape!.dim;
    expect(declared).toEqual([{ dim_value: 2 }, { dim_param: 'permute_1' }, { dim_value: 3 }, { dim_value: 3 }]);
    for (const kept of [[1, 3], []]) {
      const sel = new Tensor([4], Float32Array.from([0, 1, 2, 3], (i) => (kept.includes(i) ? 1 : 0)));
      const onnx = await runOnnx(net.graph, { a, sel }, { threads: 1, outputs: ['permute'] });
      net.forward({ a, sel });
      // Restated: top (c, j, h, w) is item kept[j]'s (c, h, w).
      const want = new Float32Array(2 * kept.length * plane);
      for (let c = 0; c < 2; c++) for (let j = 0; j < kept.length; j++) for (let r = 0; r < plane; r++) want[(c * kept.length + j) * plane + r] = a.data[kept[j] * item + c * plane + r];
      expectBlob(net.blobs.get('permute'), new Tensor([2, kept.length, 3, 3], want), `permute native, ${kept.length} of 4`, 0);
      expectBlob(onnx.get('permute'), net.blobs.get('permute')!, `permute ONNX, ${kept.length} of 4`, 0);
    }
  });

  it('none selected into Reduction over the items (axis 0) and after them (axis 1), each operation: as Caffe gives (SUM, ASUM, SUMSQ 0, MEAN NaN), natively and in ONNX Runtime', async () => {
    // crema refused the empty bottom into the scalar top; ONNX Runtime's ReduceMean of nothing is 0, not Caffe's NaN.
    const f = fixture('reduction_none');
    expect(['sum_0', 'asum_0', 'sumsq_0', 'mean_0', 'mean_1'].map((b) => [f.caffe(b).dims, Array.from(f.caffe(b).data)])).toEqual([[[], [0]], [[], [0]], [[], [0]], [[], [NaN]], [[0], []]]);
    const net = await expectCaffe('reduction_none', 0);
    // The model declares the scalars as scalars, and axis 1's top with its run-time items.
    const declared = convertGraph(net.graph, { outputs: ['mean_0', 'mean_1'] }).model.graph.output.map((o) => o.type.tensor_type.shape!.dim);
    expect(declared).toEqual([[], [{ dim_param: 'mean_1_0' }]]);
  });

  it('into ArgMax over the items with top_k 2: at 2 of 4 ONNX Runtime = crema\'s forward; at 1 of 4 both refuse in one crema line (Caffe CHECKs top_k only at set-up, then reads past the values)', async () => {
    // ONNX Runtime's own TopK error ("k argument [2] should not be greater than ...") was all the ONNX side said.
    const text = `${input('a', [4, 2, 3, 3])} ${input('sel', [4])}
layer { name: "filter" type: "Filter" bottom: "a" bottom: "sel" top: "x" }
layer { name: "argmax" type: "ArgMax" bottom: "x" top: "argmax" argmax_param { axis: 0 top_k: 2 } }`;
    const net = netOf(text), a = random([4, 2, 3, 3], 5), feeds = (kept: number[]) => ({ a, sel: new Tensor([4], Float32Array.from(kept)) });
    const onnx = await runOnnx(net.graph, feeds([0, 1, 0, 1]), { threads: 1, outputs: ['argmax'] });
    net.forward(feeds([0, 1, 0, 1]));
    expectBlob(onnx.get('argmax'), net.blobs.get('argmax')!, 'argmax ONNX, 2 of 4', 0);
    expect(() => net.forward(feeds([0, 1, 0, 0]))).toThrow(/^layer 'argmax' \(ArgMax\): top_k 2 exceeds the size 1 of axis 0 \(bottom \[1, 2, 3, 3\]\)$/);
    await expect(runOnnx(net.graph, feeds([0, 1, 0, 0]), { threads: 1, outputs: ['argmax'] })).rejects.toThrow(/^layer 'argmax' \(ArgMax\): top_k 2 exceeds the size 1 of axis 0 \(at run time, in ONNX Runtime's TopK\): Caffe's ArgMax checks it only at set-up, and at forward would read past the values$/);
    // The axis as the native line names it (resolved), not as written.
    const negative = netOf(text.replace('axis: 0', 'axis: -4'));
    await expect(runOnnx(negative.graph, feeds([0, 1, 0, 0]), { threads: 1, outputs: ['argmax'] })).rejects.toThrow(/^layer 'argmax' \(ArgMax\): top_k 2 exceeds the size 1 of axis 0 \(at run time/);
  });

  it('after a Permute that moves the items to axis 1, the layers that follow (Power, Flatten at 1 and 2, InnerProduct at axis 2, Softmax over axis 1, Concat along it, Reshape [0, -1]) declare it run-time sized there; ONNX Runtime (opsets 13, 17, 23) = crema\'s forward = restated, at 2 and 0 of 4', async () => {
    // The conversion carried run-time axes to the layers after only at axis 0: after the Permute the Power declared a
    // fixed [2, 4, 3, 3], and the Flatten's Reshape to [2, 36] failed in ONNX Runtime on the 2 items kept.
    const text = `${input('a', [4, 2, 3, 3])} ${input('sel', [4])}
layer { name: "filter" type: "Filter" bottom: "a" bottom: "sel" top: "x" }
layer { name: "permute" type: "Permute" bottom: "x" top: "permute" permute_param { order: 1 order: 0 order: 2 order: 3 } }
layer { name: "power" type: "Power" bottom: "permute" top: "power" power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "flat" type: "Flatten" bottom: "power" top: "flat" }
layer { name: "flat_hw" type: "Flatten" bottom: "power" top: "flat_hw" flatten_param { axis: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "flat_hw" top: "ip" inner_product_param { num_output: 3 axis: 2 } }
layer { name: "softmax" type: "Softmax" bottom: "power" top: "softmax" softmax_param { axis: 1 } }
layer { name: "concat" type: "Concat" bottom: "power" bottom: "softmax" top: "concat" concat_param { axis: 1 } }
layer { name: "reshape" type: "Reshape" bottom: "power" top: "reshape" reshape_param { shape { dim: 0 dim: -1 } } }`;
    const w = random([3, 9], 11), bias = random([3], 12), a = random([4, 2, 3, 3], 5), plane = 9;
    const outputs = ['power', 'flat', 'flat_hw', 'ip', 'softmax', 'concat', 'reshape'];
    const made = () => netOf(text, { ip: [w, bias] });
    const declared = convertGraph(made().graph, { outputs }).model.graph.output.map((o) => o.type.tensor_type.shape!.dim.map((d) => ('dim_param' in d ? d.dim_param : d.dim_value)));
    expect(declared).toEqual([[2, 'power_1', 3, 3], [2, 'flat_1'], [2, 'flat_hw_1', 9], [2, 'ip_1', 3], [2, 'softmax_1', 3, 3], [2, 'concat_1', 3, 3], [2, 'reshape_1']]);
    for (const kept of [[1, 3], []]) {
      const sel = new Tensor([4], Float32Array.from([0, 1, 2, 3], (i) => (kept.includes(i) ? 1 : 0))), n = kept.length;
      // Restated: power (c, j, r) = (1 + 0.5 a[kept[j], c, r])^2; ip (c, j, o) = bias[o] + sum_r w[o, r] power (c, j, r);
      // softmax over j for each (c, r); concat along j of power and softmax.
      const power = new Float32Array(2 * n * plane), ip = new Float32Array(2 * n * 3), softmax = new Float32Array(power.length), concat = new Float32Array(2 * power.length);
      for (let c = 0; c < 2; c++) for (let j = 0; j < n; j++) for (let r = 0; r < plane; r++) power[(c * n + j) * plane + r] = (1 + 0.5 * a.data[(kept[j] * 2 + c) * plane + r]) ** 2;
      for (let row = 0; row < 2 * n; row++) for (let o = 0; o < 3; o++) ip[row * 3 + o] = bias.data[o] + w.data.subarray(o * plane, (o + 1) * plane).reduce((s, v, r) => s + v * power[row * plane + r], 0);
      for (let c = 0; c < 2; c++) for (let r = 0; r < plane; r++) {
        const at = (j: number) => (c * n + j) * plane + r, sum = kept.reduce((s, _, j) => s + Math.exp(power[at(j)]), 0);
        for (let j = 0; j < n; j++) softmax[at(j)] = Math.exp(power[at(j)]) / sum;
      }
      for (let c = 0; c < 2; c++) [power, softmax].forEach((part, k) => concat.set(part.subarray(c * n * plane, (c + 1) * n * plane), (2 * c + k) * n * plane));
      const want: Record<string, Tensor> = {
        power: new Tensor([2, n, 3, 3], power), flat: new Tensor([2, n * plane], power), flat_hw: new Tensor([2, n, plane], power), ip: new Tensor([2, n, 3], ip),
        softmax: new Tensor([2, n, 3, 3], softmax), concat: new Tensor([2, 2 * n, 3, 3], concat), reshape: new Tensor([2, n * plane], power),
      };
      for (const opset of [13, 17, 23]) {
        // Converted before the forward: at the load-time shapes (all 4 items).
        const net = made(), onnx = await runOnnx(net.graph, { a, sel }, { threads: 1, opset, outputs });
        net.forward({ a, sel });
        for (const out of outputs) {
          expectBlob(net.blobs.get(out), want[out], `${out} native, ${n} of 4`, 1e-6);
          expectBlob(onnx.get(out), net.blobs.get(out)!, `${out} ONNX opset ${opset}, ${n} of 4`, 1e-6);
        }
        // Converted after that forward (its shapes at the items kept): the model of the load-time shapes, byte for byte.
        expect(encodeConversion(convertGraph(net.graph, { opset, outputs })), `converted after ${n} of 4`).toEqual(encodeConversion(convertGraph(made().graph, { opset, outputs })));
      }
    }
  });

  it('refuses, in one line, a layer whose bottom is empty but whose top would not be (kernels never run on empty blobs)', async () => {
    const f = fixture('filter_none'), text = `${fs.readFileSync(f.net, 'utf8')}
${input('rois', [1, 5])}
layer { name: "pool" type: "ROIPooling" bottom: "a_none" bottom: "rois" top: "pool" roi_pooling_param { pooled_h: 2 pooled_w: 2 } }`;
    const net = await Net.load({ prototxt: text });
    expect(() => net.forward({ ...f.inputs(), rois: new Tensor([1, 5], new Float32Array(5)) })).toThrow(/^layer 'pool' \(ROIPooling\): bottom 'a_none' is empty \(\[0, 3, 2, 2\]\) but top 'pool' would not be \(\[1, 3, 2, 2\]\): crema runs a layer on an empty blob only when its tops are empty too$/);
  });

  it('after ONNX Runtime ran the net at another batch, a forward selecting more items than the last gets them all (the blobs allocated again)', async () => {
    const f = fixture('filter'), net = await Net.load(f.net), fresh = await Net.load(f.net);
    const inputs = f.inputs(), n = inputs.a.dims[0];
    const select = (values: number[]) => ({ ...inputs, mixed: new Tensor([n, 1], Float32Array.from(values)) });
    net.forward(select([1, 0, 0, 0, 0, 1])); // 2 of 6
    const four = (t: Tensor) => new Tensor([4, ...t.dims.slice(1)], t.data.slice(0, (4 * t.data.length) / n));
    await runOnnx(net.graph, Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, four(t)])), { threads: 1 });
    const all = select([1, 1, 1, 1, 1, 1]);
    net.forward(all);
    fresh.forward(all);
    expectBlob(net.blobs.get('a_tripled'), fresh.blobs.get('a_tripled')!, 'a_tripled after ONNX at batch 4', 0);
    await Promise.all([net.dispose(), fresh.dispose()]);
  });

  it('refuses a selector of the wrong count, and of the wrong shape, when the net is shaped', async () => {
    const f = fixture('filter'), net = await Net.load(f.net);
    const ones = (dims: number[]) => new Tensor(dims, new Float32Array(dims[0]).fill(1));
    expect(() => net.forward({ ...f.inputs(), mixed: ones([5, 1]) })).toThrow(/layer 'filter_mixed' \(Filter\): bottom 0 has 6 items but the selector \(bottom 2\) has 5 values: Caffe needs one per item$/);
    expect(() => net.reshape({ mixed: [6, 2] })).toThrow(/layer 'filter_mixed' \(Filter\): the selector \(bottom 2\) must be \(N\) or \(N, 1, \.\.\.\), one value per item, got \[6, 2\]$/);
  });
});

describe('LSTMUnit', () => {
  it('N = 3, D = 5 with cont 1, 0, 1 and cont 0.5, 0, 2 (Caffe scales the forget gate by cont)', async () => {
    await expectCaffe('lstm_unit', 1e-6);
  });
});

describe('HDF5Output', () => {
  const f = fixture('hdf5_output');
  const writes = "`crema run` and Net.run write it after each forward (a relative name from the working directory, as Caffe; replaced whole each run, never left half-written), `net.forward` (synchronous) writes none, and the two stay outputs of the net unless a later layer reads them (`crema run --dump DIR` writes every blob as .npy)";
  const note = (what: string) => `layer 'save' (HDF5Output): Caffe writes its bottoms 'doubled' and 'label' to the HDF5 file '/tmp/bvlc_hdf5_output.h5' (datasets 'data' and 'label', float32, each 4-D); ${what}`;

  it('is a sink: its bottoms stay outputs beside the net\'s other one, equal to what Caffe wrote, with one note', async () => {
    const net = await expectCaffe('hdf5_output', 1e-6); // TanH's squashed is computed
    expect(net.outputs).toEqual(['label', 'doubled', 'squashed']);
    // What Caffe's layer wrote to its file (4-D: legacy num, channels, height, width), read back with h5py.
    const written = (k: string) => readNpy(path.join(f.dir, 'written', `${k}.npy`));
    expect(Array.from(net.blobs.get('doubled')!.data)).toEqual(Array.from(written('data').data));
    expect(Array.from(net.blobs.get('label')!.data)).toEqual(Array.from(written('label').data));
    expect(net.notes.filter((n) => n.includes('HDF5'))).toEqual([note(writes)]);
  });

  it('crema info and crema run take the net from the command line', async () => {
    const info = await cli('info', f.net);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/save +│ HDF5Output +│ doubled, label → +│/);
    const dir = scratchDir();
    const run = await cli('run', netWritingTo(dir, path.join(dir, 'out.h5')), ...f.cliInputs());
    expect(run.code).toBe(0);
    expect(run.stderr.match(/^note: .*HDF5Output.*$/gm)).toHaveLength(1);
    expect(run.stdout.split('\n')).toEqual(['label [2, 1]', 'doubled [2, 3, 4]', 'squashed [2, 3, 4]']);
  });

  it("crema run writes Caffe's file: the datasets, dtypes and 4-D dims of Caffe's own .h5, its values (a relative name from the working directory)", async () => {
    const dir = scratchDir(), out = path.join(dir, 'out.h5');
    const run = await cli('run', netWritingTo(dir, path.relative(process.cwd(), out)), ...f.cliInputs());
    expect(run.code).toBe(0);
    await expectSameFile(out, path.join(f.dir, 'caffe.h5'));
    expect(fs.readdirSync(dir).sort()).toEqual(['net.prototxt', 'out.h5']); // no temporary file left
    // Through ONNX Runtime too: the file from its outputs.
    fs.rmSync(out);
    expect((await cli('run', path.join(dir, 'net.prototxt'), ...f.cliInputs(), '--backend', 'onnx')).code).toBe(0);
    await expectSameFile(out, path.join(f.dir, 'caffe.h5'));
  });

  it('Net.run writes it after each run, replacing the file whole: the second run\'s values; net.forward writes none', async () => {
    const dir = scratchDir(), out = path.join(dir, 'out.h5');
    fs.writeFileSync(out, 'what the user had');
    const net = await Net.load(netWritingTo(dir, out));
    try {
      net.forward(f.inputs()); // synchronous: writes nothing, as its note says
      expect(fs.readFileSync(out, 'utf8')).toBe('what the user had');
      await net.run(f.inputs());
      await expectSameFile(out, path.join(f.dir, 'caffe.h5'));
      const label = new Tensor([2, 1], Float32Array.from([5, -1]));
      await net.run({ ...f.inputs(), label });
      expect(Array.from((await readH5(out)).label.value)).toEqual([5, -1]);
    } finally {
      await net.dispose();
    }
  });

  it('a run that fails midway writes nothing: an existing file is left as it was, no partial .h5 beside it', async () => {
    const dir = scratchDir(), out = path.join(dir, 'out.h5');
    fs.writeFileSync(out, 'what the user had');
    // A BatchReindex after the HDF5Output, refusing its index at forward.
    const prototxt = `${fs.readFileSync(netWritingTo(dir, out), 'utf8')}
layer { name: "idx" type: "Input" top: "idx" input_param { shape { dim: 1 } } }
layer { name: "pick" type: "BatchReindex" bottom: "squashed" bottom: "idx" top: "picked" }`;
    fs.writeFileSync(path.join(dir, 'net.prototxt'), prototxt);
    const net = await Net.load(path.join(dir, 'net.prototxt'));
    try {
      await expect(net.run({ ...f.inputs(), idx: new Tensor([1], Float32Array.from([9])) })).rejects.toThrow(/^layer 'pick' \(BatchReindex\): index 9 /);
    } finally {
      await net.dispose();
    }
    const run = await cli('run', path.join(dir, 'net.prototxt'), ...f.cliInputs(), '--input', `idx=${npyOf(dir, 'idx', [9])}`);
    expect(run.code).toBe(2);
    expect(fs.readFileSync(out, 'utf8')).toBe('what the user had');
    expect(fs.readdirSync(dir).sort()).toEqual(['idx.npy', 'net.prototxt', 'out.h5']);
  });

  it('refuses a file in a directory that does not exist before the forward, in one line naming the layer and the path', async () => {
    const dir = scratchDir(), out = path.join(dir, 'nowhere', 'out.h5');
    const want = `layer 'save' (HDF5Output): ${out}: the directory ${path.dirname(out)} does not exist`;
    const run = await cli('run', netWritingTo(dir, out), ...f.cliInputs());
    expect(run.code).toBe(2);
    expect(run.stderr.split('\n').filter((l) => !l.startsWith('note: '))).toEqual([`crema: ${want}`]);
    const net = await Net.load(netWritingTo(dir, out));
    try {
      expect(await net.run(f.inputs()).then(() => 'ran', (e: Error) => e.message)).toBe(want);
    } finally {
      await net.dispose();
    }
  });

  it('refuses a later layer writing a bottom in place (the file would hold its values, not the layer\'s), and a net without file_name', async () => {
    const dir = scratchDir(), text = fs.readFileSync(f.net, 'utf8').replace('/tmp/bvlc_hdf5_output.h5', path.join(dir, 'out.h5'));
    const inPlace = path.join(dir, 'inplace.prototxt');
    fs.writeFileSync(inPlace, `${text}layer { name: "relu" type: "ReLU" bottom: "doubled" top: "doubled" }\n`);
    const net = await Net.load(inPlace);
    try {
      expect(await net.run(f.inputs()).then(() => 'ran', (e: Error) => e.message)).toBe(
        "layer 'save' (HDF5Output): layer 'relu' after it writes 'doubled' in place: crema writes the file from the blobs after the forward, Caffe at this layer; give 'relu' a top of its own");
      expect(fs.existsSync(path.join(dir, 'out.h5'))).toBe(false);
    } finally {
      await net.dispose();
    }
    const unnamed = path.join(dir, 'unnamed.prototxt');
    fs.writeFileSync(unnamed, text.replace(/ hdf5_output_param \{[^}]*\}/, ''));
    await expect(Net.load(unnamed)).rejects.toThrow(/^layer 'save' \(HDF5Output\): needs hdf5_output_param \{ file_name \}: the file Caffe writes$/);
  });

  it('without h5wasm the blobs stay outputs, no file is written, and the note says installing h5wasm writes it', async () => {
    const spy = vi.spyOn(nodePlatform, 'hdf5Writer').mockReturnValue('missing');
    try {
      const dir = scratchDir(), out = path.join(dir, 'out.h5');
      const run = await cli('run', netWritingTo(dir, out), ...f.cliInputs());
      expect(run.code).toBe(0);
      expect(run.stdout.split('\n')).toEqual(['label [2, 1]', 'doubled [2, 3, 4]', 'squashed [2, 3, 4]']);
      expect(run.stderr.match(/^note: .*HDF5Output.*$/gm)).toEqual([`note: ${note('crema writes it once the optional peer dependency h5wasm is installed (npm install h5wasm); until then the two stay outputs of the net unless a later layer reads them (`crema run --dump DIR` writes every blob as .npy)').replace("'/tmp/bvlc_hdf5_output.h5'", `'${out}'`)}`]);
      expect(fs.existsSync(out)).toBe(false);
    } finally {
      spy.mockRestore();
    }
  });

  it("refuses at load two layers writing one file, as Caffe refuses the net (HDF5: the second can't truncate a file the first holds open)", async () => {
    const twice = path.join(root, 'hdf5_output_twice');
    expect(fs.readFileSync(path.join(twice, 'caffe-refuses.txt'), 'utf8')).toContain('hdf5_output_layer.cpp:18] Check failed: file_id_ >= 0 (-1 vs. 0) Failed to open HDF5 file/tmp/bvlc_hdf5_output_twice.h5');
    await expect(Net.load(path.join(twice, 'net.prototxt'))).rejects.toThrow(/^layer 'save_again' \(HDF5Output\): writes the file '\/tmp\/bvlc_hdf5_output_twice\.h5' that layer 'save' \(HDF5Output\) writes: Caffe opens it for each, and HDF5 refuses the second \("unable to truncate a file which is already open"\); give each its own file_name$/);
  });

  it('two layers writing one file under two names are refused as well: resolved from the working directory in Node, normalized where no files are written', async () => {
    const text = fs.readFileSync(path.join(root, 'hdf5_output_twice', 'net.prototxt'), 'utf8');
    const named = (first: string, second: string): Uint8Array => new TextEncoder().encode(text.replace(/file_name: "[^"]*"/, `file_name: "${first}"`).replace(/(save_again.*)file_name: "[^"]*"/, `$1file_name: "${second}"`));
    const refusal = (first: string, second: string): string => `layer 'save_again' (HDF5Output): writes the file '${second}' that layer 'save' (HDF5Output) writes (as '${first}'): Caffe opens it for each, and HDF5 refuses the second ("unable to truncate a file which is already open"); give each its own file_name`;
    const pairs = [['a.h5', './a.h5'], ['out/a.h5', 'out//x/../a.h5'], ['/tmp/a.h5', '/tmp/./a.h5']];
    for (const [first, second] of [...pairs, ['a.h5', path.resolve('a.h5')]])
      await expect(Net.load(named(first, second)), second).rejects.toThrow(refusal(first, second));
    await expect(Net.load(named('a.h5', 'b/a.h5'))).resolves.toBeDefined(); // another file
    const resolvePath = nodePlatform.resolvePath;
    delete (nodePlatform as { resolvePath?: unknown }).resolvePath; // a browser's platform: no working directory
    try {
      for (const [first, second] of pairs) await expect(Net.load(named(first, second)), second).rejects.toThrow(refusal(first, second));
      for (const [first, second] of [['a.h5', '../a.h5'], ['a.h5', '/a.h5']]) await expect(Net.load(named(first, second)), second).resolves.toBeDefined();
    } finally {
      nodePlatform.resolvePath = resolvePath;
    }
  });

  // h5wasm works on files in a private temporary directory, one blocking call (built or read whole): a SIGINT that
  // comes then (sent by the child to itself as h5wasm's file is read or written) ends the process, and leaves no
  // directory. The child imports the build (dist/).
  for (const [what, patched, call] of [
    ['writing a file', 'readFileSync', `(await import(${JSON.stringify(path.resolve('dist/caffe/hdf5.js'))})).writeHdf5File(out, [{ name: 'data', tensor: { dims: [2, 3], data: new Float32Array(6) } }])`],
    ['reading weights from bytes', 'writeFileSync', `(await import(${JSON.stringify(path.resolve('dist/caffe/hdf5.js'))})).readHdf5Weights(fs.readFileSync(${JSON.stringify(path.join(f.dir, 'caffe.h5'))}))`],
  ] as const) {
    it(`interrupted by SIGINT while ${what}, leaves no temporary directory and ends by the signal`, () => {
      const dir = scratchDir(), out = path.join(dir, 'out.h5');
      const script = `import fs from 'node:fs';
        const out = ${JSON.stringify(out)}, original = fs.${patched};
        fs.${patched} = (file, ...rest) => { if (String(file).includes('crema-h5-')) process.kill(process.pid, 'SIGINT'); return original(file, ...rest); };
        await ${call}.catch(() => undefined);
        console.log('went on');`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TMPDIR: dir }, encoding: 'utf8' });
      expect(child.stderr).toBe('');
      expect([child.signal, child.stdout]).toEqual(['SIGINT', '']);
      expect(fs.readdirSync(dir)).toEqual([]);
    });
  }

  // net.run writes the file in the net's worker thread, where no signal arrives: the main thread removes the worker's
  // temporaries (told on a port) when a SIGINT ends the process. The file is a FIFO no one reads: the write waits
  // there, h5wasm's directory made, until the signal (sent once the directory is seen: a marker, not a time).
  for (const [what, runner] of [
    ['net.run (the write in a worker thread)', (prototxt: string) => [process.execPath, '--input-type=module', '-e', `
      const { Net } = await import(${JSON.stringify(path.resolve('dist/index.js'))});
      const { readNpy } = await import(${JSON.stringify(path.resolve('dist/util/npy.js'))});
      const inputs = Object.fromEntries(${JSON.stringify(Object.keys(f.inputs()))}.map((k) => [k, readNpy(${JSON.stringify(path.join(f.dir, 'inputs'))} + '/' + k + '.npy')]));
      await (await Net.load(${JSON.stringify(prototxt)})).run(inputs);
      console.log('went on');`]],
    ['crema run', (prototxt: string) => [process.execPath, path.resolve('bin/crema.js'), 'run', prototxt, ...f.cliInputs()]],
  ] as const) {
    it(`${what} interrupted by SIGINT while writing the file leaves no temporary directory and ends by the signal`, async () => {
      const dir = scratchDir(), temp = path.join(dir, 'tmp'), fifo = path.join(dir, 'out.h5');
      fs.mkdirSync(temp);
      if (spawnSync('mkfifo', [fifo]).status !== 0) throw new Error('mkfifo failed');
      const [command, ...args] = runner(netWritingTo(dir, fifo));
      const child = spawn(command, args, { env: { ...process.env, TMPDIR: temp }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '', stderr = '', sent = false;
      child.stdout.on('data', (d) => void (stdout += d));
      child.stderr.on('data', (d) => void (stderr += d));
      const poll = setInterval(() => {
        if (!sent && fs.readdirSync(temp).some((name) => name.startsWith('crema-h5-'))) {
          sent = true;
          child.kill('SIGINT');
        }
      }, 10);
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, sig) => resolve(sig)));
      clearInterval(poll);
      expect([sent, signal, stdout]).toEqual([true, 'SIGINT', '']);
      // No error of crema's nor a stack trace (h5wasm's worker may report the file it was creating gone: HDF5-DIAG).
      expect(stderr).not.toMatch(/^crema: |^\s+at /m);
      expect(fs.readdirSync(temp)).toEqual([]);
      expect(fs.readdirSync(dir).sort()).toEqual(['net.prototxt', 'out.h5', 'tmp']);
    }, 60_000);
  }

  /** The case's net with its file_name `file`, as DIR/net.prototxt. */
  function netWritingTo(dir: string, file: string): string {
    const text = fs.readFileSync(f.net, 'utf8').replace('/tmp/bvlc_hdf5_output.h5', file);
    fs.writeFileSync(path.join(dir, 'net.prototxt'), text);
    return path.join(dir, 'net.prototxt');
  }
});

/** A new empty directory, removed when the tests end. */
function scratchDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-bvlc-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function npyOf(dir: string, name: string, values: number[]): string {
  const file = path.join(dir, `${name}.npy`);
  fs.writeFileSync(file, encodeNpy(new Tensor([values.length], Float32Array.from(values))));
  return file;
}

/** Every dataset of an HDF5 file, read with h5wasm: its dtype, dims and values. */
async function readH5(file: string): Promise<Record<string, { dtype: unknown; shape: number[]; value: Float32Array }>> {
  const h5wasm = (await import('h5wasm/node')).default;
  await h5wasm.ready;
  const h5 = new h5wasm.File(file, 'r');
  try {
    return Object.fromEntries(h5.keys().map((k) => {
      const d = h5.get(k) as import('h5wasm').Dataset;
      return [k, { dtype: d.dtype, shape: d.shape!, value: d.value as Float32Array }];
    }));
  } finally {
    h5.close();
  }
}

/** crema's file against Caffe's: the same dataset names, dtypes and dims; label (passed through) exactly, data (computed) within 1e-6 * max(1, |ref|). */
async function expectSameFile(ours: string, caffe: string): Promise<void> {
  const [got, want] = [await readH5(ours), await readH5(caffe)];
  expect(Object.keys(got).sort()).toEqual(['data', 'label']);
  expect(Object.keys(want).sort()).toEqual(['data', 'label']);
  for (const k of ['data', 'label']) {
    expect([got[k].dtype, got[k].shape], k).toEqual([want[k].dtype, want[k].shape]);
    expect(got[k].value).toBeInstanceOf(Float32Array);
  }
  expect([...want.data.shape, ...want.label.shape]).toEqual([2, 3, 4, 1, 2, 1, 1, 1]);
  expect(Array.from(got.label.value)).toEqual(Array.from(want.label.value));
  expect(relativeDifference(got.data.value, want.data.value)).toBeLessThanOrEqual(1e-6);
}
