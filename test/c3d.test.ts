// facebook/C3D's layers (src/layers/c3d.ts): a C3D net's shapes as its Caffe sizes them, and bad settings refused
// by name. Their numbers against C3D's own Caffe: test/fixtures/layers/c3d_layers (reference.test.ts, onnx-reference).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaffemodelFile } from '../src/caffe/caffemodel.js';
import type { BlobProto } from '../src/caffe/types.js';
import { Net } from '../src/index.js';
import { CremaError } from '../src/util/errors.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { layerDef, randomArray, rng, runLayer } from './helpers/compute.js';
import { TOLERANCE, relativeDifference, relativeError } from './helpers/reference.js';
import { len, packedFloats, str, uint } from './helpers/wire.js';

// C3D v1.1's layout (its ResNet-18 feature extractor's, cut short): VideoData clips, Convolution3D, BatchNorm /
// Scale / ReLU over 5-D blobs, Pooling3D, InnerProduct, and the training layers a deploy run drops.
const NET = `name: "C3D-small"
layer { name: "data" type: "VideoData" top: "data" top: "label"
  transform_param { crop_size: 112 mean_value: 128 mirror: false }
  video_data_param { source: "list.txt" root_folder: "" new_length: 8 sampling_rate: 2 new_height: 128 new_width: 171
    use_image: true show_data: false use_temporal_jitter: false batch_size: 2 shuffle: false } }
layer { name: "conv1" type: "Convolution3D" bottom: "data" top: "conv1" param { lr_mult: 1 decay_mult: 1 }
  convolution3d_param { num_output: 4 kernel_size: 7 kernel_depth: 3 pad: 3 temporal_pad: 1 stride: 2 temporal_stride: 1
    bias_term: false weight_filler { type: "msra" variance_norm: FAN_OUT } } }
layer { name: "bn_conv1" type: "BatchNorm" bottom: "conv1" top: "conv1" batch_norm_param { use_global_stats: true } }
layer { name: "scale_conv1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "conv1_relu" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling3D" bottom: "conv1" top: "pool1"
  pooling3d_param { pool: MAX kernel_size: 2 kernel_depth: 2 stride: 2 temporal_stride: 2 } }
layer { name: "conv2" type: "Convolution3D" bottom: "pool1" top: "conv2"
  convolution3d_param { num_output: 8 kernel_size: 3 kernel_depth: 3 pad: 1 temporal_pad: 1 stride: 2 temporal_stride: 2 } }
layer { name: "pool5" type: "Pooling3D" bottom: "conv2" top: "pool5"
  pooling3d_param { kernel_size: 7 kernel_depth: 1 stride: 1 temporal_stride: 1 pool: AVE } }
layer { name: "fc8" type: "InnerProduct" bottom: "pool5" top: "fc8" inner_product_param { num_output: 10 } }
layer { name: "prob" type: "Softmax" bottom: "fc8" top: "prob" include { phase: TEST } }
layer { name: "accuracy" type: "Accuracy" bottom: "prob" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc8" bottom: "label" top: "loss" }
`;

describe('a C3D v1.1 net', () => {
  it('loads with its clips as input and every blob sized as C3D sizes it', async () => {
    const net = await Net.load(new TextEncoder().encode(NET));
    expect(net.notes).toContain('VideoData layer \'data\' became an Input layer: data [2, 3, 8, 112, 112]; dropped its top(s) label, which no remaining layer reads');
    const shapes = Object.fromEntries(net.layers.map((l) => [l.name, l.topShapes[0]]));
    expect(shapes).toMatchObject({
      conv1: [2, 4, 8, 56, 56], pool1: [2, 4, 4, 28, 28], conv2: [2, 8, 2, 14, 14], pool5: [2, 8, 2, 8, 8], fc8: [2, 10], prob: [2, 10],
    });
  });

  it('says which size to give when a clip has neither crop nor frame size', async () => {
    const bare = NET.replace('crop_size: 112 ', '').replace('new_height: 128 new_width: 171', '');
    await expect(Net.load(new TextEncoder().encode(bare))).rejects.toThrow(
      "layer 'data' (VideoData): cannot turn it into an Input layer: its frames come from videos and neither transform_param.crop_size nor video_data_param.new_height / new_width is set; give the shape of 'data' (options.dataShapes: { 'data': [N, C, H, W] })");
  });
});

/** A V2 caffemodel of seeded values for these layers' blobs (BatchNorm: variances in [0.5, 1.5), factor 1). */
function weightsFile(blobs: Record<string, number[][]>): Uint8Array {
  const random = rng(5);
  const layers = Object.entries(blobs).map(([name, shapes]) => len(100, [...str(1, name), ...shapes.flatMap((shape, j) => {
    const n = shape.reduce((a, b) => a * b, 1);
    let data = [...randomArray(n, random)];
    if (name.startsWith('bn')) data = j === 1 ? data.map((v) => 1 + v / 2) : j === 2 ? [1] : data;
    return len(7, [...len(7, len(1, shape.flatMap((d) => [...varintOf(d)]))), ...packedFloats(5, data)]);
  })]));
  return Uint8Array.from(layers.flat());
}
const varintOf = (d: number) => uint(1, d).slice(1); // a bare varint

describe('a C3D v1.1 net with weights', () => {
  it('runs natively (BatchNorm and Scale folded into Convolution3D) as in ONNX Runtime', async () => {
    const weights = weightsFile({
      conv1: [[4, 3, 3, 7, 7]], bn_conv1: [[4], [4], [1]], scale_conv1: [[4], [4]], conv2: [[8, 4, 3, 3, 3], [8]], fc8: [[10, 1024], [10]],
    });
    const net = await Net.load({ prototxt: new TextEncoder().encode(NET), weights });
    const data = new Tensor([2, 3, 8, 112, 112], randomArray(2 * 3 * 8 * 112 * 112, rng(9)));
    const native = await net.run({ data }, { fetches: ['pool5', 'fc8'] });
    const onnx = await net.run({ data }, { fetches: ['pool5', 'fc8'], backend: 'onnx' });
    for (const blob of ['pool5', 'fc8']) expect(relativeError(native[blob], onnx[blob]), blob).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('C3D layers refuse what C3D refuses, naming the layer', () => {
  const zeros = (shape: number[]) => [Tensor.zeros(shape)];
  it('Convolution3D needs both sizes and a 5-D bottom', () => {
    expect(() => runLayer({ ...layerDef('Convolution3D', { convolution3d_param: { num_output: 2, kernel_size: 3 } }), name: 'c' }, [], zeros([1, 2, 4, 5, 5])))
      .toThrow("layer 'c' (Convolution3D): needs kernel_size and kernel_depth in convolution3d_param");
    expect(() => runLayer({ ...layerDef('Convolution3D', { convolution3d_param: { num_output: 2, kernel_size: 3, kernel_depth: 1 } }), name: 'c' }, [], zeros([1, 2, 5, 5])))
      .toThrow("layer 'c' (Convolution3D): needs a 5-D bottom (num, channels, length, height, width), got [1, 2, 5, 5]");
  });
  it('Pooling3D pads only AVE, and refuses a last window past the input', () => {
    const pool = (p: Record<string, unknown>, shape: number[]) => () => runLayer({ ...layerDef('Pooling3D', { pooling3d_param: p }), name: 'p' }, [], zeros(shape));
    expect(pool({ pool: 'MAX', kernel_size: 3, kernel_depth: 1, pad: 1 }, [1, 2, 3, 5, 5])).toThrow("layer 'p' (Pooling3D): Padding implemented only for average pooling (C3D's own check)");
    expect(pool({ pool: 'MAX', kernel_size: 1, kernel_depth: 1, stride: 3 }, [1, 2, 3, 5, 5])).toThrow("layer 'p' (Pooling3D): its last window (stride 1 x 3 x 3 over 3 x 5 x 5) starts past the padded input, where C3D pools nothing");
    expect(pool({ pool: 'AVE', kernel_size: 7, kernel_depth: 1 }, [1, 2, 3, 5, 5])).toThrow("layer 'p' (Pooling3D): kernel 1 x 7 x 7 is larger than the padded input 3 x 5 x 5 (input 3 x 5 x 5)");
  });
});

// The fixture c3d_layers (C3D v1.1's own numbers) written as C3D v1.0 wrote its nets: a V1 prototxt naming its
// layer types (CONVOLUTION3D, POOLING3D, VIDEO_DATA) and its fields in BVLC's messages, and a V1 caffemodel of its
// own BlobProto (num, channels, length, height, width at fields 1-5, data at 6), types by its numbers (30, 31).
const V10_NET = `name: "c3d_layers_v10"
layers { name: "data" type: VIDEO_DATA top: "data" top: "label"
  image_data_param { source: "list.txt" use_image: true batch_size: 2 new_height: 9 new_width: 8 new_length: 6 show_data: 0 shuffle: false } }
layers { name: "ca" type: CONVOLUTION3D bottom: "data" top: "ca" blobs_lr: 1 blobs_lr: 2
  convolution_param { num_output: 8 kernel_size: 3 kernel_depth: 3 pad: 1 temporal_pad: 1 } }
layers { name: "ca_relu" type: RELU bottom: "ca" top: "ca" }
layers { name: "cb" type: CONVOLUTION3D bottom: "ca" top: "cb"
  convolution_param { num_output: 6 kernel_size: 3 kernel_depth: 2 stride: 2 temporal_stride: 2 pad: 1 bias_term: false filter_group: 2 } }
layers { name: "pmax" type: POOLING3D bottom: "ca" top: "pmax" pooling_param { pool: MAX kernel_size: 2 kernel_depth: 2 stride: 2 temporal_stride: 2 } }
layers { name: "pave" type: POOLING3D bottom: "ca" top: "pave" pooling_param { pool: AVE kernel_size: 3 kernel_depth: 2 stride: 2 temporal_stride: 1 pad: 1 } }
layers { name: "pcb" type: POOLING3D bottom: "cb" top: "pcb" pooling_param { pool: AVE kernel_size: 3 kernel_depth: 1 stride: 2 } }
layers { name: "fc" type: INNER_PRODUCT bottom: "pcb" top: "fc" inner_product_param { num_output: 4 } }
`;

/** A C3D v1.0 BlobProto: its five dims (leading 1s for fewer), the width a varint at field 5, the data at 6. */
function c3dBlob(dims: readonly number[], data: Float32Array): number[] {
  const five = [...new Array<number>(5 - dims.length).fill(1), ...dims];
  return [...five.flatMap((d, i) => uint(i + 1, d)), ...packedFloats(6, [...data])];
}

const fixture = path.join(import.meta.dirname, 'fixtures/layers/c3d_layers');
describe.skipIf(!fs.existsSync(fixture))('C3D v1.0 files (V1 prototxt, its own BlobProto)', () => {
  it('run as C3D v1.1 computes them (test/fixtures/layers/c3d_layers, C3D\'s own numbers)', async () => {
    const v11 = readCaffemodelFile(path.join(fixture, 'weights.caffemodel'));
    const typeNumber: Record<string, number> = { Convolution3D: 30, InnerProduct: 14 }; // C3D v1.0's enum
    const layers = (v11.layer as { name: string; type: string; blobs?: BlobProto[] }[]).filter((l) => l.blobs?.length).map((l) =>
      len(2, [...str(4, l.name), ...uint(5, typeNumber[l.type]), ...l.blobs!.flatMap((b) => len(6, c3dBlob(b.shape!.dim!, b.data!)))]));
    const weights = Uint8Array.from([...str(1, 'c3d_layers_v10'), ...layers.flat()]);
    const net = await Net.load({ prototxt: new TextEncoder().encode(V10_NET), weights }, { dataShapes: { data: [2, 5, 6, 9, 8] } });
    net.forward({ data: readNpy(path.join(fixture, 'input.npy')) });
    for (const blob of ['ca', 'cb', 'pmax', 'pave', 'pcb', 'fc'])
      expect(relativeError(net.blobs.get(blob)!, readNpy(path.join(fixture, 'blobs', `${blob}.npy`))), blob).toBeLessThanOrEqual(TOLERANCE);
  });

  it('say the clip size they have', async () => {
    const net = await Net.load(new TextEncoder().encode(V10_NET));
    expect(net.notes).toContain("VideoData layer 'data' became an Input layer: data [2, 3, 6, 9, 8]; dropped its top(s) label, which no remaining layer reads");
  });
});

// The fixture c3d_deconv (C3D v1.1's own Deconvolution3D) written as C3D v1.0's video-to-voxel nets are
// (examples/v2v: deconv3d_ucf101_brox_test.prototxt): VIDEO_WITH_VOXEL_TRUTH_DATA and DECONVOLUTION3D by name, the
// settings in convolution_param (bias_term too, read there in both versions), its own BlobProto, type number 34.
const V10_DECONV = `name: "c3d_deconv_v10"
layers { name: "data" type: VIDEO_WITH_VOXEL_TRUTH_DATA top: "data" top: "truth"
  image_data_param { source: "list.txt" num_truth_channels: 2 batch_size: 1 crop_size: 112 mirror: false is_flow: true show_data: 0 truth_scale: 0.125 } }
layers { name: "up" type: DECONVOLUTION3D bottom: "data" top: "up" blobs_lr: 1 blobs_lr: 2
  convolution_param { num_output: 3 kernel_size: 4 kernel_depth: 4 stride: 2 temporal_stride: 2 pad: 1 temporal_pad: 1 } }
layers { name: "up_relu" type: RELU bottom: "up" top: "up" }
layers { name: "flat" type: DECONVOLUTION3D bottom: "up" top: "flat" convolution_param { num_output: 2 kernel_size: 3 kernel_depth: 2 bias_term: false } }
layers { name: "apart" type: DECONVOLUTION3D bottom: "data" top: "apart" convolution_param { num_output: 2 kernel_size: 3 kernel_depth: 1 stride: 3 } }
layers { name: "loss" type: EUCLIDEAN_LOSS bottom: "flat" bottom: "truth" }
`;

const deconvFixture = path.join(import.meta.dirname, 'fixtures/layers/c3d_deconv');
describe('C3D v1.0 video-to-voxel nets (VIDEO_WITH_VOXEL_TRUTH_DATA, DECONVOLUTION3D)', () => {
  it('run as C3D computes them (test/fixtures/layers/c3d_deconv, C3D v1.1\'s own numbers)', async () => {
    const v11 = readCaffemodelFile(path.join(deconvFixture, 'weights.caffemodel'));
    const layers = (v11.layer as { name: string; type: string; blobs?: BlobProto[] }[]).filter((l) => l.blobs?.length).map((l) =>
      len(2, [...str(4, l.name), ...uint(5, 34), ...l.blobs!.flatMap((b) => len(6, c3dBlob(b.shape!.dim!, b.data!)))]));
    const weights = Uint8Array.from([...str(1, 'c3d_deconv_v10'), ...layers.flat()]);
    const net = await Net.load({ prototxt: new TextEncoder().encode(V10_DECONV), weights }, { dataShapes: { data: [1, 4, 3, 5, 6] } });
    expect(net.layers.map((l) => l.type)).toEqual(['Input', 'Deconvolution3D', 'ReLU', 'Deconvolution3D', 'Deconvolution3D']);
    net.forward({ data: readNpy(path.join(deconvFixture, 'input.npy')) });
    for (const blob of ['up', 'flat', 'apart'])
      expect(relativeError(net.blobs.get(blob)!, readNpy(path.join(deconvFixture, 'blobs', `${blob}.npy`))), blob).toBeLessThanOrEqual(TOLERANCE);
  });

  it('ask for the clip\'s shape, which only their data files tell', async () => {
    await expect(Net.load(new TextEncoder().encode(V10_DECONV))).rejects.toThrow(new CremaError("prototxt (Uint8Array, 917 bytes): layer 'data' (VideoWithVoxelTruthData): cannot turn it into an Input layer: " +
      "its clips' channels and length come from its data files (2 truth channels after the clip's); give the shape of 'data' (options.dataShapes: { 'data': [N, C, L, H, W] })"));
  });
});

// C3D v1.0's segmentation nets (examples/v2v/video_segmentation_gatech): VIDEO_SEGMENTATION_DATA (one truth channel),
// VOXEL_SOFTMAX over each voxel's channels, VOXEL_SOFTMAX_LOSS (a loss: dropped).
const V10_SEGMENTATION = `name: "c3d_segmentation_v10"
layers { name: "data" type: VIDEO_SEGMENTATION_DATA top: "data" top: "truth" image_data_param { source: "list.txt" batch_size: 1 crop_size: 112 } }
layers { name: "predict" type: CONVOLUTION3D bottom: "data" top: "predict" convolution_param { num_output: 5 kernel_size: 3 kernel_depth: 3 pad: 1 temporal_pad: 1 } }
layers { name: "prob" type: VOXEL_SOFTMAX bottom: "predict" top: "prob" }
layers { name: "loss" type: VOXEL_SOFTMAX_LOSS bottom: "predict" bottom: "truth" }
`;

describe('C3D v1.0 segmentation nets (VIDEO_SEGMENTATION_DATA, VOXEL_SOFTMAX)', () => {
  it("VoxelWiseSoftmax: each voxel's softmax over the channels, its max subtracted first (voxel_wise_softmax_layer.cpp's loops, in float)", () => {
    const random = rng(37), dims = [2, 3, 2, 3, 4], x = new Tensor(dims, randomArray(2 * 3 * 2 * 3 * 4, random).map((v) => 20 * v));
    const [got] = runLayer(layerDef('VoxelWiseSoftmax'), [], [x]);
    const voxels = 2 * 3 * 4, f = Math.fround;
    for (let n = 0; n < 2; n++)
      for (let v = 0; v < voxels; v++) {
        const at = (c: number) => (n * 3 + c) * voxels + v;
        let max = x.data[at(0)];
        for (let c = 1; c < 3; c++) max = Math.max(max, x.data[at(c)]);
        const e = [0, 1, 2].map((c) => f(Math.exp(f(x.data[at(c)] - max))));
        const sum = e.reduce((a, b) => f(a + b), 0);
        for (let c = 0; c < 3; c++) expect(Math.abs(got.data[at(c)] - f(e[c] / sum)), `image ${n} voxel ${v} channel ${c}`).toBeLessThanOrEqual(2.5e-7); // two ulps below 1: exp rounded once either way
      }
    expect(() => runLayer(layerDef('VoxelWiseSoftmax'), [], [new Tensor([1, 3, 4, 4], new Float32Array(48))])).toThrow("layer 'voxelwisesoftmax' (VoxelWiseSoftmax): needs a 5-D bottom (num, channels, length, height, width), got [1, 3, 4, 4]");
  });

  it('load with the clip\'s shape given, the loss dropped, and run natively as in ONNX Runtime', async () => {
    await expect(Net.load(new TextEncoder().encode(V10_SEGMENTATION))).rejects.toThrow("its clips' channels and length come from its data files (1 truth channel after the clip's)");
    const random = rng(41);
    const weights = { predict: [new Tensor([5, 3, 3, 3, 3], randomArray(405, random)), new Tensor([1, 1, 1, 1, 5], randomArray(5, random))] };
    const net = await Net.load(new TextEncoder().encode(V10_SEGMENTATION), undefined, { dataShapes: { data: [1, 3, 4, 6, 6] } });
    expect(net.layers.map((l) => l.type)).toEqual(['Input', 'Convolution3D', 'VoxelWiseSoftmax']);
    net.dispose();
    const { loadNet } = await import('../src/caffe/load.js');
    const loaded = await loadNet(new TextEncoder().encode(V10_SEGMENTATION), undefined, { dataShapes: { data: [1, 3, 4, 6, 6] } });
    const withWeights = Net.fromNetParameter(loaded.net, new Map(Object.entries(weights)));
    const data = new Tensor([1, 3, 4, 6, 6], randomArray(432, random));
    const native = withWeights.forward({ data }).prob.data.slice();
    const onnx = (await withWeights.run({ data }, { backend: 'onnx', fetches: ['prob'] })).prob.data;
    expect(relativeDifference(native, onnx)).toBeLessThanOrEqual(1e-5);
    withWeights.dispose();
  });
});
