// The fork layers that no available referee runs as the fork does (OpenCV 4.5.1's caffe.proto lacks interp_param
// and shuffle_channel_param, its Axpy swaps x and y, it has no Upsample or BN): each is checked against a plain
// re-statement of its fork's source, natively and through ONNX Runtime, plus small cases worked out by hand.
// The forks: hszhao/PSPNet (Interp: src/caffe/util/interp.cpp; BN: bn_layer.cpp), alexgkendall/caffe-segnet
// (Upsample: upsample_layer.cpp; BN: bn_layer.cpp), farmingyard/ShuffleNet (shuffle_channel_layer.cpp),
// hujie-frank/SENet (axpy_layer.cpp), rbgirshick/caffe-fast-rcnn (Dropout scale_train), ChenYingpeng/caffe-yolov3
// (one-bottom Upsample: upsample_layer.cpp; Mish: mish_layer.cpp; its Pooling, the yolo dialect: pooling_layer.cpp;
// YOLOv4 and yolov3-tiny whole: test/fork-nets.test.ts), tianzhi0549/CTPN (transpose_layer.cpp, reverse_layer.cpp,
// lstm_layer.cpp, src/layers/text_proposal_layer.py; CTPN whole: test/fork-nets.test.ts).
import { describe, expect, it } from 'vitest';
import { runOnnx } from '../src/onnx/run.js';
import { verify } from '../src/api.js';
import { useKernels } from '../src/kernels/wasm.js';
import { Net } from '../src/runtime/net.js';
import { Tensor, sizeOf } from '../src/tensor.js';
import { randomArray, rng } from './helpers/compute.js';
import { TOLERANCE, relativeDifference } from './helpers/reference.js';
import { f32, len, packedFloats, str, tag, uint, varint } from './helpers/wire.js';
import { expectBoth, input, netOf, random } from './helpers/fork-layers.js';

const f = Math.fround;

/** caffe_cpu_interp2 (not packed) restated: the window [y1, y1 + h1) x [x1, x1 + w1) of each plane resized to h2 x w2. */
function forkInterp(x: Tensor, offset: number, h1: number, w1: number, h2: number, w2: number): { dims: readonly number[]; data: Float32Array } {
  const [num, channels, H1, W1] = x.dims, out = new Float32Array(num * channels * h2 * w2);
  const rh = h2 > 1 ? f((h1 - 1) / (h2 - 1)) : 0, rw = w2 > 1 ? f((w1 - 1) / (w2 - 1)) : 0;
  for (let c = 0; c < num * channels; c++)
    for (let i = 0; i < h2; i++)
      for (let j = 0; j < w2; j++) {
        const at = (r: number, s: number) => x.data[c * H1 * W1 + (offset + r) * W1 + offset + s];
        if (h1 === h2 && w1 === w2) {
          out[(c * h2 + i) * w2 + j] = at(i, j);
          continue;
        }
        const hr = f(rh * i), h = Math.trunc(hr), hp = h < h1 - 1 ? 1 : 0, hl = f(hr - h);
        const wr = f(rw * j), w = Math.trunc(wr), wp = w < w1 - 1 ? 1 : 0, wl = f(wr - w);
        out[(c * h2 + i) * w2 + j] = (1 - hl) * ((1 - wl) * at(h, w) + wl * at(h, w + wp)) + hl * ((1 - wl) * at(h + hp, w) + wl * at(h + hp, w + wp));
      }
  return { dims: [num, channels, h2, w2], data: out };
}

describe('Interp (hszhao/PSPNet)', () => {
  it('zoom_factor 2 of a 2 x 2 plane, worked by hand (aligned corners)', async () => {
    const net = netOf(`${input('data', [1, 1, 2, 2])} layer { name: "up" type: "Interp" bottom: "data" top: "up" interp_param { zoom_factor: 2 } }`);
    await expectBoth(net, { data: new Tensor([1, 1, 2, 2], Float32Array.of(0, 1, 2, 3)) }, {
      up: { dims: [1, 1, 3, 3], data: [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3] },
    });
  });

  it('every way to give the size, and cropping by pad_beg / pad_end, against the fork\'s interp2', async () => {
    const x = random([2, 3, 5, 7], 5, 3);
    const cases: [string, number, number, number, number, number][] = [
      // params, offset, window h x w, out h x w
      ['zoom_factor: 3', 0, 5, 7, 13, 19],
      ['shrink_factor: 2', 0, 5, 7, 3, 4],
      ['shrink_factor: 2 zoom_factor: 4', 0, 5, 7, 9, 13],
      ['height: 11 width: 4', 0, 5, 7, 11, 4],
      ['height: 1 width: 6', 0, 5, 7, 1, 6],
      ['zoom_factor: 2 pad_beg: -1 pad_end: -1', 1, 3, 5, 5, 9],
      ['height: 3 width: 5 pad_beg: -1 pad_end: -1', 1, 3, 5, 3, 5], // same size: the fork copies the window
      ['zoom_factor: 1', 0, 5, 7, 5, 7],
      ['height: 33 width: 65', 0, 5, 7, 33, 65],
    ];
    const layers = cases.map(([p], i) => `layer { name: "i${i}" type: "Interp" bottom: "data" top: "i${i}" interp_param { ${p} } }`);
    const net = netOf(`${input('data', x.dims)} ${layers.join(' ')}`);
    const expected = Object.fromEntries(cases.map(([, o, h1, w1, h2, w2], i) => [`i${i}`, forkInterp(x, o, h1, w1, h2, w2)]));
    await expectBoth(net, { data: x }, expected);
  });

  it('refuses what the fork refuses, in one line', () => {
    const one = (p: string) => () => netOf(`${input('data', [1, 2, 4, 4])} layer { name: "interp" type: "Interp" bottom: "data" top: "y" interp_param { ${p} } }`);
    expect(one('')).toThrow("layer 'interp' (Interp): needs zoom_factor, shrink_factor, both height and width, or use_blob_size");
    expect(one('height: 5')).toThrow("layer 'interp' (Interp): needs zoom_factor, shrink_factor, both height and width, or use_blob_size");
    expect(one('use_blob_size: true')).toThrow("layer 'interp' (Interp): with use_blob_size takes its output size from a second bottom: give it one");
    expect(one('zoom_factor: 0')).toThrow("layer 'interp' (Interp): zoom_factor must be at least 1, got 0");
    expect(one('shrink_factor: -2')).toThrow("layer 'interp' (Interp): shrink_factor must be at least 1, got -2");
    expect(one('zoom_factor: 2 pad_beg: 1')).toThrow("layer 'interp' (Interp): pad_beg and pad_end must be 0 or negative (the fork only crops), got 1 and 0");
    expect(one('zoom_factor: 2 pad_beg: -2 pad_end: -2')).toThrow("layer 'interp' (Interp): pad_beg -2 and pad_end -2 crop all of the 4 x 4 input");
  });
});

// soeaver/caffe-model's FPN nets (det/faster_rcnn/models/coco/inception-v4/deploy_faster_coco_inception-v4-merge-aligned-
// fpn.prototxt, commit 49dc8e06) size each top-down Interp by the lateral blob: caffe-priv's interp_param
// use_blob_size (soeaver/py-RFCN-priv ec89b865, caffe-priv/src/caffe/layers/interp_layer.cpp: asked before the factors
// and the fixed size; the output is bottom[1]'s height and width; the same interp2 resize).
describe('Interp use_blob_size (soeaver/py-RFCN-priv caffe-priv: soeaver/caffe-model FPN)', () => {
  it("the FPN's p5_interp as published (19 x 19 to the lateral's 38 x 38), and with a crop and other factors, against the fork's interp2", async () => {
    const x = random([1, 3, 19, 19], 7, 2), y = random([1, 2, 38, 38], 8), z = random([2, 3, 4, 9], 9);
    const net = netOf(`${input('p5_conv_1x1', x.dims)} ${input('inception_b7_concat', y.dims)} ${input('z', z.dims)}
      layer {
        name: "p5_interp"
        type: "Interp"
        bottom: "p5_conv_1x1"
        bottom: "inception_b7_concat"
        top: "p5_interp"
        interp_param {
          use_blob_size: true
        }
      }
      layer { name: "cropped" type: "Interp" bottom: "p5_conv_1x1" bottom: "z" top: "cropped" interp_param { use_blob_size: true zoom_factor: 3 pad_beg: -1 pad_end: -2 } }
      layer { name: "down" type: "Interp" bottom: "inception_b7_concat" bottom: "z" top: "down" interp_param { use_blob_size: true height: 50 width: 50 } }
      layer { name: "unread" type: "Interp" bottom: "p5_conv_1x1" bottom: "z" top: "unread" interp_param { use_blob_size: true zoom_factor: 0 shrink_factor: 0 } }`);
    await expectBoth(net, { p5_conv_1x1: x, inception_b7_concat: y, z }, {
      p5_interp: forkInterp(x, 0, 19, 19, 38, 38),
      cropped: forkInterp(x, 1, 16, 16, 4, 9),
      down: forkInterp(y, 0, 38, 38, 4, 9),
      unread: forkInterp(x, 0, 19, 19, 4, 9), // the fork returns before it reads (or checks) the factors
    });
  });

  it('bottoms it does not read are taken and left, as caffe-priv does (MinBottomBlobs 1; PSPNet\'s Interp takes one): the factors without use_blob_size, bottom 1 with it', async () => {
    const x = random([1, 3, 5, 6], 10, 2), y = random([1, 2, 7, 3], 11), z = random([2, 1, 4, 4], 12);
    const net = netOf(`${input('x', x.dims)} ${input('y', y.dims)} ${input('z', z.dims)}
      layer { name: "two" type: "Interp" bottom: "x" bottom: "y" top: "two" interp_param { zoom_factor: 2 } }
      layer { name: "three" type: "Interp" bottom: "x" bottom: "y" bottom: "z" top: "three" interp_param { height: 4 width: 9 } }
      layer { name: "sized" type: "Interp" bottom: "x" bottom: "y" bottom: "z" top: "sized" interp_param { use_blob_size: true } }`);
    await expectBoth(net, { x, y, z }, {
      two: forkInterp(x, 0, 5, 6, 9, 11),
      three: forkInterp(x, 0, 5, 6, 4, 9),
      sized: forkInterp(x, 0, 5, 6, 7, 3),
    });
    const unread = "not read: caffe-priv (soeaver/py-RFCN-priv) takes them and reads a second bottom only for use_blob_size (hszhao/PSPNet's Interp takes one bottom)";
    expect(net.notes.filter((n) => n.includes('not read'))).toEqual([
      `layer 'two' (Interp): bottom(s) 'y' ${unread}`, `layer 'three' (Interp): bottom(s) 'y', 'z' ${unread}`, `layer 'sized' (Interp): bottom(s) 'z' ${unread}`]);
  });
});

describe('ShuffleChannel (farmingyard/ShuffleNet)', () => {
  it('group 2 of 6 channels gives channels 0 3 1 4 2 5; group 3 of 6 gives 0 2 4 1 3 5 (worked by hand)', async () => {
    const plane = 2, x = new Tensor([1, 6, 1, plane], Float32Array.from({ length: 6 * plane }, (_, i) => Math.floor(i / plane) * 10 + (i % plane)));
    const order = (channels: number[]) => ({ dims: [1, 6, 1, plane], data: channels.flatMap((ch) => [ch * 10, ch * 10 + 1]) });
    const net = netOf(`${input('data', x.dims)}
      layer { name: "s2" type: "ShuffleChannel" bottom: "data" top: "s2" shuffle_channel_param { group: 2 } }
      layer { name: "s3" type: "ShuffleChannel" bottom: "data" top: "s3" shuffle_channel_param { group: 3 } }
      layer { name: "s1" type: "ShuffleChannel" bottom: "data" top: "s1" }`);
    await expectBoth(net, { data: x }, { s2: order([0, 3, 1, 4, 2, 5]), s3: order([0, 2, 4, 1, 3, 5]), s1: order([0, 1, 2, 3, 4, 5]) });
  });

  it('refuses channels that are not a multiple of group, and group 0', () => {
    expect(() => netOf(`${input('data', [1, 6, 2, 2])} layer { name: "sh" type: "ShuffleChannel" bottom: "data" top: "y" shuffle_channel_param { group: 4 } }`))
      .toThrow("layer 'sh' (ShuffleChannel): channels 6 are not a multiple of group 4");
    expect(() => netOf(`${input('data', [1, 6, 2, 2])} layer { name: "sh" type: "ShuffleChannel" bottom: "data" top: "y" shuffle_channel_param { group: 0 } }`))
      .toThrow("layer 'sh' (ShuffleChannel): group must be positive, got 0");
  });
});

describe('Axpy (hujie-frank/SENet)', () => {
  it('top = a * x + y with bottoms (a, x, y), a of shape (N, C, 1, 1) and (N, C)', async () => {
    const a = random([2, 3, 1, 1], 1), x = random([2, 3, 4, 5], 2, 2), y = random([2, 3, 4, 5], 3, 2);
    const want = Float32Array.from(x.data, (v, i) => a.data[Math.floor(i / 20)] * v + y.data[i]);
    const net = netOf(`${input('a', a.dims)} ${input('x', x.dims)} ${input('y', y.dims)} ${input('a2', [2, 3])}
      layer { name: "axpy" type: "Axpy" bottom: "a" bottom: "x" bottom: "y" top: "out" }
      layer { name: "axpy2" type: "Axpy" bottom: "a2" bottom: "x" bottom: "y" top: "out2" }`);
    await expectBoth(net, { a, x, y, a2: new Tensor([2, 3], a.data) }, {
      out: { dims: x.dims, data: want }, out2: { dims: x.dims, data: want },
    });
  });

  it('refuses a scale of the wrong shape', () => {
    const net = (a: number[]) => () =>
      netOf(`${input('a', a)} ${input('x', [1, 3, 2, 2])} ${input('y', [1, 3, 2, 2])} layer { name: "axpy" type: "Axpy" bottom: "a" bottom: "x" bottom: "y" top: "out" }`);
    expect(net([1, 3, 2, 1])).toThrow("layer 'axpy' (Axpy): the scale (bottom 0) must be (num, channels) of x, optionally with 1 x 1 after: got [1, 3, 2, 1] for x [1, 3, 2, 2]");
  });
});

describe('Upsample (alexgkendall/caffe-segnet) with the Pooling mask top', () => {
  it('puts each max back where the pooling found it, zeros elsewhere (worked by hand)', async () => {
    const x = new Tensor([1, 1, 4, 4], Float32Array.of(1, 2, 0, 0, 3, 4, 9, 0, -1, -2, -3, -4, -5, -6, -7, -8));
    const net = netOf(`${input('data', x.dims)}
      layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" top: "mask" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
      layer { name: "up" type: "Upsample" bottom: "pool" bottom: "mask" top: "up" upsample_param { scale: 2 } }
      layer { name: "up_hw" type: "Upsample" bottom: "pool" bottom: "mask" top: "up_hw" upsample_param { upsample_h: 3 upsample_w: 4 } }
      layer { name: "up_pad" type: "Upsample" bottom: "pool" bottom: "mask" top: "up_pad" upsample_param { scale: 2 pad_out_h: true } }`);
    await expectBoth(net, { data: x }, {
      pool: { dims: [1, 1, 2, 2], data: [4, 9, -1, -3] },
      mask: { dims: [1, 1, 2, 2], data: [5, 6, 8, 10] },
      up: { dims: [1, 1, 4, 4], data: [0, 0, 0, 0, 0, 4, 9, 0, -1, 0, -3, 0, 0, 0, 0, 0] },
      up_hw: { dims: [1, 1, 3, 4], data: [0, 0, 0, 0, 0, 4, 9, 0, -1, 0, -3, 0] },
      up_pad: { dims: [1, 1, 3, 4], data: [0, 0, 0, 0, 0, 4, 9, 0, -1, 0, -3, 0] },
    });
  });

  it('refuses a mask index outside the top, and bad sizes, in one line', () => {
    const layers = (p: string) => `${input('data', [1, 1, 4, 4])}
      layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" top: "mask" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
      layer { name: "up" type: "Upsample" bottom: "pool" bottom: "mask" top: "up" upsample_param { ${p} } }`;
    const small = netOf(layers('upsample_h: 2 upsample_w: 2'));
    expect(() => small.forward({ data: new Tensor([1, 1, 4, 4], Float32Array.from({ length: 16 }, (_, i) => i)) }))
      .toThrow("layer 'up' (Upsample): mask index 5 is outside the 2 x 2 top: the scale does not match the pooling that made the mask");
    expect(() => netOf(layers('scale: 1'))).toThrow("layer 'up' (Upsample): scale must be larger than 1, got 1 x 1");
    expect(() => netOf(layers('scale: 2 scale_h: 2 scale_w: 2'))).toThrow("layer 'up' (Upsample): needs upsample_h and upsample_w, or scale, or both scale_h and scale_w (not scale with them)");
    expect(() => netOf(layers('scale: 3 pad_out_w: true'))).toThrow("layer 'up' (Upsample): pad_out_h / pad_out_w need a scale of 2");
  });
});

describe('Upsample with one bottom and Mish (ChenYingpeng/caffe-yolov3: YOLOv3 / YOLOv4 ports)', () => {
  /** upsample_layer.cpp restated: top (h, w) = bottom (h / scale, w / scale). */
  const forkUpsample = (x: Tensor, s: number) => {
    const [n, c, h, w] = x.dims, out = new Float32Array(n * c * h * s * w * s);
    for (let p = 0; p < n * c; p++)
      for (let i = 0; i < h * s; i++) for (let j = 0; j < w * s; j++) out[(p * h * s + i) * w * s + j] = x.data[(p * h + Math.floor(i / s)) * w + Math.floor(j / s)];
    return { dims: [n, c, h * s, w * s], data: out };
  };
  /** mish_layer.cpp restated, in float: softplus x above 20, e^x below -20, else log(e^x + 1); tanh 2 / (1 + e^-2s) - 1. */
  const forkMish = (x: Tensor) => ({
    dims: x.dims,
    data: x.data.map((v) => {
      const sp = v > 20 ? v : v < -20 ? f(Math.exp(v)) : f(Math.log(f(f(Math.exp(v)) + 1)));
      return f(v * f(2 / f(1 + f(Math.exp(-2 * sp))) - 1));
    }),
  });

  it('nearest-neighbour by the integer scale (scale 1 the identity; a 2 x 3 plane by hand), and Mish, against their forks\' code', async () => {
    const x = random([2, 3, 5, 7], 71, 30);
    x.data.set([25, -25, 0, 1, -1, 20.5, -20.5]);
    const net = netOf(`${input('data', x.dims)}
      layer { name: "up2" type: "Upsample" bottom: "data" top: "up2" upsample_param { scale: 2 } }
      layer { name: "up3" type: "Upsample" bottom: "data" top: "up3" upsample_param { scale: 3 } }
      layer { name: "up1" type: "Upsample" bottom: "data" top: "up1" }
      layer { name: "mish" type: "Mish" bottom: "data" top: "mish" }`);
    await expectBoth(net, { data: x }, { up2: forkUpsample(x, 2), up3: forkUpsample(x, 3), up1: x, mish: forkMish(x) });
    const small = netOf(`${input('d', [1, 1, 2, 3])}
      layer { name: "up" type: "Upsample" bottom: "d" top: "up" upsample_param { scale: 2 } }
      layer { name: "mish" type: "Mish" bottom: "d" top: "mish" }`);
    await expectBoth(small, { d: new Tensor([1, 1, 2, 3], Float32Array.of(1, 2, 3, 0, -1, 30)) }, {
      up: { dims: [1, 1, 4, 6], data: [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 0, 0, -1, -1, 30, 30, 0, 0, -1, -1, 30, 30] },
      // x tanh(log(1 + e^x)): 0.865098 at 1, 1.943614 at 2, 2.986535 at 3, -0.303401 at -1; 30 past the threshold.
      mish: { dims: [1, 1, 2, 3], data: [0.865098, 1.943614, 2.986535, 0, -0.303401, 30] },
    });
  });

  it('refuses SegNet\'s fields with one bottom, a scale that is not a positive integer, and a plane that is not 4-D', () => {
    const one = (p: string, dims = [1, 2, 3, 4]) => netOf(`${input('d', dims)} layer { name: "up" type: "Upsample" bottom: "d" top: "up" upsample_param { ${p} } }`);
    expect(() => one('scale: 2 pad_out_h: true')).toThrow(
      "layer 'up' (Upsample): with one bottom (nearest-neighbour upsampling, as the YOLO ports) takes only upsample_param { scale }, not pad_out_h (SegNet's max-unpooling takes a second bottom, the pooling mask)");
    expect(() => one('scale: 0')).toThrow("layer 'up' (Upsample): scale must be a positive integer, got 0");
    expect(() => one('scale: 2', [2, 3])).toThrow("layer 'up' (Upsample): bottom 0 must be 4-D (N, C, H, W), got [2, 3]");
  });
});

describe('BN (caffe-segnet and PSPNet)', () => {
  const x = random([2, 3, 4, 5], 9, 2);
  const channelOf = (i: number) => Math.floor(i / 20) % 3;
  const blob = (seed: number, shift = 0) => new Tensor([1, 3, 1, 1], randomArray(3, rng(seed)).map((v) => v + shift));

  it('PSPNet (4 blobs): (x - mean) / sqrt(var + eps) * slope + bias, eps from bn_param', async () => {
    const [slope, bias, mean, variance] = [blob(1, 1), blob(2), blob(3), blob(4, 1.5)];
    const want = (eps: number) => Float32Array.from(x.data, (v, i) => {
      const c = channelOf(i);
      return ((v - mean.data[c]) / Math.sqrt(variance.data[c] + eps)) * slope.data[c] + bias.data[c];
    });
    const net = netOf(`${input('data', x.dims)}
      layer { name: "bn" type: "BN" bottom: "data" top: "bn" }
      layer { name: "bn_eps" type: "BN" bottom: "data" top: "bn_eps" bn_param { eps: 0.5 frozen: true } }`,
    { bn: [slope, bias, mean, variance], bn_eps: [slope, bias, mean, variance] });
    await expectBoth(net, { data: x }, { bn: { dims: x.dims, data: want(1e-5) }, bn_eps: { dims: x.dims, data: want(0.5) } });
  });

  it('caffe-segnet (2 blobs): INFERENCE is x * scale + shift; LEARN normalizes by the batch (eps 1e-9), tops 1 and 2 its mean and variance', async () => {
    const [scale, shift] = [blob(5, 1), blob(6)];
    const stats = [0, 1, 2].map((c) => {
      const values = [...x.data].filter((_, i) => channelOf(i) === c);
      const m = values.reduce((s, v) => s + v, 0) / values.length;
      return { m, v: values.reduce((s, v) => s + v * v, 0) / values.length - m * m };
    });
    const net = netOf(`${input('data', x.dims)}
      layer { name: "inf" type: "BN" bottom: "data" top: "inf" bn_param { bn_mode: INFERENCE } }
      layer { name: "learn" type: "BN" bottom: "data" top: "learn" top: "mean" top: "var" bn_param { scale_filler { type: "constant" value: 1 } } }`,
    { inf: [scale, shift], learn: [scale, shift] });
    await expectBoth(net, { data: x }, {
      inf: { dims: x.dims, data: Float32Array.from(x.data, (v, i) => v * scale.data[channelOf(i)] + shift.data[channelOf(i)]) },
      learn: { dims: x.dims, data: Float32Array.from(x.data, (v, i) => {
        const c = channelOf(i);
        return ((v - stats[c].m) / Math.sqrt(stats[c].v + 1e-9)) * scale.data[c] + shift.data[c];
      }) },
      mean: { dims: [1, 3, 1, 1], data: stats.map((s) => s.m) },
      var: { dims: [1, 3, 1, 1], data: stats.map((s) => s.v) },
    });
  });

  it('refuses a blob count of neither fork, and one fork\'s fields with the other\'s blobs', () => {
    const bn = (p: string, blobs: number) => () => netOf(`${input('data', [1, 3, 2, 2])} layer { name: "bn" type: "BN" bottom: "data" top: "y" ${p} }`, { bn: Array.from({ length: blobs }, (_, i) => blob(i)) });
    expect(bn('', 3)).toThrow("layer 'bn' (BN): has 3 weight blobs; BN has 2 (caffe-segnet: scale, shift) or 4 (PSPNet: slope, bias, mean, variance)");
    expect(bn('bn_param { bn_mode: INFERENCE }', 4)).toThrow("layer 'bn' (BN): its weights are PSPNet's (4 blobs) but bn_param names bn_mode, which only the other fork has");
    expect(bn('bn_param { eps: 0.001 }', 2)).toThrow("layer 'bn' (BN): its weights are caffe-segnet's (2 blobs) but bn_param names eps, which only the other fork has");
    expect(bn('bn_param { bn_mode: INFERENCE eps: 0.001 }', 2)).toThrow("layer 'bn' (BN): mixes caffe-segnet's bn_param fields (bn_mode) with PSPNet's (eps)");
  });
});

describe("Pooling in the yolo dialect (ChenYingpeng/caffe-yolov3's patched pooling_layer.cpp)", () => {
  interface Pool { pool: 'MAX' | 'AVE'; k: [number, number]; s: [number, number]; p: [number, number]; global?: boolean }
  /** The fork's Reshape and Forward_cpu restated: the extra row and column when the rows' kernel - stride is odd. */
  const forkPool = (x: Tensor, c: Pool) => {
    const [n, ch, H, W] = x.dims, [kh, kw] = c.global ? [H, W] : c.k, [sh, sw] = c.s, [ph, pw] = c.p;
    let oh = Math.ceil((H + 2 * ph - kh) / sh) + 1, ow = Math.ceil((W + 2 * pw - kw) / sw) + 1;
    if ((kh - sh) % 2 === 1) [oh, ow] = [oh + 1, ow + 1];
    if (ph || pw) {
      if ((oh - 1) * sh >= H + ph) oh--;
      if ((ow - 1) * sw >= W + pw) ow--;
    }
    const out = new Float32Array(n * ch * oh * ow);
    for (let q = 0; q < n * ch; q++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let h0 = i * sh - ph, w0 = j * sw - pw, h1 = Math.min(h0 + kh, c.pool === 'MAX' ? H : H + ph), w1 = Math.min(w0 + kw, c.pool === 'MAX' ? W : W + pw);
          const size = (h1 - h0) * (w1 - w0);
          [h0, w0, h1, w1] = [Math.max(h0, 0), Math.max(w0, 0), Math.min(h1, H), Math.min(w1, W)];
          let acc = c.pool === 'MAX' ? -3.4028234663852886e38 : 0;
          for (let h = h0; h < h1; h++)
            for (let w = w0; w < w1; w++) {
              const v = x.data[(q * H + h) * W + w];
              acc = c.pool === 'MAX' ? Math.max(acc, v) : f(acc + v);
            }
          out[(q * oh + i) * ow + j] = c.pool === 'MAX' ? acc : acc / size;
        }
    return { dims: [n, ch, oh, ow], data: out };
  };
  const layer = (name: string, c: Pool) => `layer { name: "${name}" type: "Pooling" bottom: "d" top: "${name}" pooling_param { pool: ${c.pool} ${c.global ? 'global_pooling: true' : `kernel_h: ${c.k[0]} kernel_w: ${c.k[1]} stride_h: ${c.s[0]} stride_w: ${c.s[1]} pad_h: ${c.p[0]} pad_w: ${c.p[1]}`} } }`;
  const cases: Record<string, Pool> = {
    same_max: { pool: 'MAX', k: [2, 2], s: [1, 1], p: [0, 0] }, // yolov3-tiny's: 5 x 7 stays 5 x 7
    same_ave: { pool: 'AVE', k: [2, 2], s: [1, 1], p: [0, 0] }, // the edge windows divided by 2 and 1
    halve: { pool: 'MAX', k: [2, 2], s: [2, 2], p: [0, 0] }, // kernel - stride even: as BVLC
    rows_decide: { pool: 'AVE', k: [3, 2], s: [2, 2], p: [1, 0] }, // the rows' 3 - 2 grows both axes, then the pad clip
    global_max: { pool: 'MAX', k: [0, 0], s: [1, 1], p: [0, 0], global: true }, // kernel 6 x 8 at stride 1: 2 x 2
    global_ave: { pool: 'AVE', k: [0, 0], s: [1, 1], p: [0, 0], global: true },
  };

  it("gives the fork's sizes and values, natively (both kernel sets) and through ONNX Runtime", async () => {
    for (const [dims, seed] of [[[2, 3, 5, 7], 81], [[1, 2, 6, 8], 82]] as const) {
      const x = random(dims, seed, 4);
      const expected = Object.fromEntries(Object.entries(cases).map(([name, c]) => [name, forkPool(x, c)]));
      expect(expected.same_max.dims.slice(2), 'the extra row and column').toEqual(dims.slice(2));
      const text = `${input('d', dims)}\n${Object.entries(cases).map(([name, c]) => layer(name, c)).join('\n')}`;
      try {
        useKernels('js');
        await expectBoth(netOf(text, {}, 'yolo'), { d: x }, expected);
      } finally {
        useKernels('wasm');
      }
      await expectBoth(netOf(text, {}, 'yolo'), { d: x }, expected);
      const bvlc = netOf(text);
      expect(bvlc.shapes.get('same_max'), 'BVLC Caffe shrinks it').toEqual([dims[0], dims[1], dims[2] - 1, dims[3] - 1]);
      expect(bvlc.shapes.get('global_max')).toEqual([dims[0], dims[1], 1, 1]);
    }
  });

  it("a window grown past the input pools nothing, -FLT_MAX as the fork's loop; ONNX refuses it in one line", async () => {
    const x = random([1, 1, 6, 6], 83);
    const c: Pool = { pool: 'MAX', k: [3, 3], s: [2, 2], p: [0, 0] }; // 3 windows on 6 (at 0, 2, 4), then a 4th at 6
    const net = netOf(`${input('d', [1, 1, 6, 6])}\n${layer('p', c)}`, {}, 'yolo');
    net.forward({ d: x });
    const want = forkPool(x, c);
    expect(want.dims).toEqual([1, 1, 4, 4]);
    expect([...net.blobs.get('p')!.data]).toEqual([...want.data]);
    expect([...want.data.subarray(12)]).toEqual([0, 0, 0, 0].map(() => -3.4028234663852886e38));
    await expect(runOnnx(net.graph, { d: x }, { threads: 1 })).rejects.toThrow("layer 'p' (Pooling): its last window lies wholly outside the input (stride larger than kernel), which ONNX cannot express");
  });

  it("a shape error after a 2 x 2 stride-1 pool in a net not loaded so names the pool and the dialect; a bad dialect is refused", async () => {
    const text = `${input('d', [1, 2, 5, 5])}
      layer { name: "pool" type: "Pooling" bottom: "d" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 1 } }
      layer { name: "route" type: "Concat" bottom: "pool" bottom: "d" top: "route" }`;
    expect(() => netOf(text)).toThrow("layer 'route' (Concat): bottom[1] 'd' has shape [1, 2, 5, 5] but bottom[0] 'pool' has [1, 2, 4, 4]: all inputs must have the same shape except at the concat axis 1; layer 'pool' before it pools 2 x 2 at stride 1, 5 x 5 to 4 x 4 in BVLC Caffe but to 5 x 5 in the YOLO ports' Caffe: for a net converted from darknet, load it with options.dialect 'yolo'");
    expect(netOf(text, {}, 'yolo').shapes.get('route')).toEqual([1, 4, 5, 5]);
    await expect(Net.load(text, undefined, { dialect: 'darknet' as 'yolo' })).rejects.toThrow("options.dialect: expected 'yolo', 'faceboxes', 'textboxes', 'hed' or 'flownet', got 'darknet'");
  });
});

describe('PReLU over 5-D blobs (faustomilletari/3D-Caffe, V-Net: shape(1) channels; BVLC 1.0 takes 4 axes at most)', () => {
  it('slopes per channel, and shared', async () => {
    const x = random([2, 3, 2, 3, 2], 71, 2), slopes = Float32Array.of(0.25, -0.5, 2);
    const net = netOf(`${input('v', [2, 3, 2, 3, 2])}
      layer { name: "p" type: "PReLU" bottom: "v" top: "p" }
      layer { name: "s" type: "PReLU" bottom: "v" top: "s" prelu_param { channel_shared: true } }`,
    { p: [new Tensor([3], slopes)], s: [new Tensor([1], Float32Array.of(0.1))] });
    const want = (slope: (c: number) => number) => x.data.map((v, i) => (v > 0 ? v : f(v * slope(Math.floor(i / 12) % 3))));
    await expectBoth(net, { v: x }, { p: { dims: [2, 3, 2, 3, 2], data: want((c) => slopes[c]) }, s: { dims: [2, 3, 2, 3, 2], data: want(() => f(0.1)) } });
  });
});

describe("A shared slope or scale in net.params: 0-D, as BVLC's PReLU and the SSD fork's Normalize hold it (vector<int>(0))", () => {
  it('a legacy 4-D blob takes that shape, per-channel ones one a channel; an ONNX run keeps them', async () => {
    const net = netOf(`${input('v', [1, 3, 2, 2])}
      layer { name: "s" type: "PReLU" bottom: "v" top: "s" prelu_param { channel_shared: true } }
      layer { name: "p" type: "PReLU" bottom: "s" top: "p" }
      layer { name: "n" type: "Normalize" bottom: "p" top: "n" norm_param { channel_shared: true } }
      layer { name: "m" type: "Normalize" bottom: "n" top: "m" norm_param { channel_shared: false } }`,
    { s: [new Tensor([1, 1, 1, 1], Float32Array.of(0.1))], p: [new Tensor([1, 1, 1, 3], Float32Array.of(1, 2, 3))],
      n: [new Tensor([1, 1, 1, 1], Float32Array.of(2))], m: [new Tensor([1, 1, 1, 3], Float32Array.of(1, 2, 3))] });
    const shapes = () => Object.fromEntries([...net.params].map(([name, ts]) => [name, ts.map((t) => [...t.dims])]));
    const want = { s: [[]], p: [[3]], n: [[]], m: [[3]] };
    expect(shapes()).toEqual(want);
    await runOnnx(net.graph, { v: random([1, 3, 2, 2], 5, 1) }, { threads: 1, outputs: ['m'] });
    expect(shapes()).toEqual(want);
  });
});

describe("Normalize with normalize_param and Flip (happynear/caffe-windows: NormFace, AM-Softmax)", () => {
  it('L2 over the channels at each position (+ 1e-6 under the root), 4-D tops as the fork reshapes them, the norm as a second top', async () => {
    // A face feature: [3, 4] and [0, 0] per row (the 1e-6 keeps a zero feature finite: 0 / 1e-3 = 0).
    const net = netOf(`${input('fc5', [2, 2])}
      layer { name: "norm1" type: "Normalize" bottom: "fc5" top: "norm1" top: "len" normalize_param { normalize_type: "L2" } }`);
    const norm = f(Math.sqrt(f(25 + 1e-6)));
    await expectBoth(net, { fc5: new Tensor([2, 2], Float32Array.of(3, 4, 0, 0)) }, {
      norm1: { dims: [2, 2, 1, 1], data: [f(3 / norm), f(4 / norm), 0, 0] },
      len: { dims: [2, 1, 1, 1], data: [norm, f(Math.sqrt(f(1e-6)))] },
    });
  });
  it('L1 over the channels of a map: sum |x| + 1e-6, no root', async () => {
    const x = random([1, 3, 2, 2], 61, 2);
    const net = netOf(`${input('map', [1, 3, 2, 2])}
      layer { name: "n" type: "Normalize" bottom: "map" top: "n" normalize_param { normalize_type: "L1" } }`);
    const want = new Float32Array(12);
    for (let p = 0; p < 4; p++) {
      const sum = Math.abs(x.data[p]) + Math.abs(x.data[4 + p]) + Math.abs(x.data[8 + p]) + 1e-6;
      for (let c = 0; c < 3; c++) want[c * 4 + p] = x.data[c * 4 + p] / sum;
    }
    await expectBoth(net, { map: x }, { n: { dims: [1, 3, 2, 2], data: want } });
  });
  it("Flip mirrors width (its default) and height, as AM-Softmax's deploy net feeds a face and its mirror", async () => {
    const x = random([2, 2, 3, 4], 67);
    const net = netOf(`${input('data', [2, 2, 3, 4])}
      layer { name: "w" type: "Flip" bottom: "data" top: "w" }
      layer { name: "hw" type: "Flip" bottom: "data" top: "hw" flip_param { flip_height: true } }
      layer { name: "h" type: "Flip" bottom: "data" top: "h" flip_param { flip_width: false flip_height: true } }`);
    const at = (p: number, h: number, w: number) => x.data[(p * 3 + h) * 4 + w];
    const flipped = (byH: boolean, byW: boolean) => Float32Array.from({ length: 48 }, (_, i) => {
      const p = Math.floor(i / 12), h = Math.floor(i / 4) % 3, w = i % 4;
      return at(p, byH ? 2 - h : h, byW ? 3 - w : w);
    });
    await expectBoth(net, { data: x }, { w: { dims: [2, 2, 3, 4], data: flipped(false, true) }, hw: { dims: [2, 2, 3, 4], data: flipped(true, true) }, h: { dims: [2, 2, 3, 4], data: flipped(true, false) } });
  });
  it('refuses what the fork does not compute, and weights it has none of', () => {
    expect(() => netOf(`${input('x', [1, 4])}
      layer { name: "n" type: "Normalize" bottom: "x" top: "n" normalize_param { normalize_type: "L3" } }`)).toThrow("layer 'n' (Normalize): normalize_type 'L3': the fork computes L2 and L1");
  });
});

describe('Dropout scale_train (rbgirshick/caffe-fast-rcnn), ReLU6, pooling ceil_mode', () => {
  it('scale_train: false multiplies by 1 - dropout_ratio at test; true (the default) is the identity', async () => {
    const x = random([1, 2, 3, 3], 4, 5);
    const net = netOf(`${input('data', x.dims)}
      layer { name: "d" type: "Dropout" bottom: "data" top: "d" dropout_param { dropout_ratio: 0.3 scale_train: false } }
      layer { name: "d_default" type: "Dropout" bottom: "data" top: "d_default" dropout_param { dropout_ratio: 0.3 scale_train: true } }`);
    await expectBoth(net, { data: x }, {
      d: { dims: x.dims, data: Float32Array.from(x.data, (v) => v * 0.7) },
      d_default: { dims: x.dims, data: x.data },
    });
  });

  it("sample_weights_test (alexgkendall/caffe-segnet, Bayesian SegNet) drops at test: kept values scaled by 1 / (1 - ratio), new masks each forward, natively and in ONNX Runtime", async () => {
    const n = 40000, x = new Tensor([1, 1, 200, 200], Float32Array.from({ length: n }, (_, i) => 1 + (i % 7)));
    const net = netOf(`${input('data', x.dims)}
      layer { name: "encdrop" type: "Dropout" bottom: "data" top: "d" dropout_param { dropout_ratio: 0.3 sample_weights_test: true } }`);
    expect(net.notes).toContain("layer 'encdrop' (Dropout): samples its masks at TEST too (sample_weights_test, Bayesian SegNet): every forward draws new ones; average several forwards, or a batch of copies of the image, as its test script does");
    const scale = Math.fround(1 / (1 - Math.fround(0.3)));
    // Binomial(40000, 0.3): standard deviation 0.0023 of the fraction; 0.012 is more than five of them.
    // Natively Caffe's x * scale_ to the bit; ONNX Runtime divides by 1 - ratio instead (within an ulp).
    const check = (y: Float32Array, what: string, ulps = 0) => {
      let dropped = 0;
      for (let i = 0; i < n; i++) {
        const want = Math.fround(x.data[i] * scale);
        if (y[i] === 0) dropped++;
        else if (Math.abs(y[i] - want) > ulps * 2 ** (Math.floor(Math.log2(want)) - 23)) expect(y[i], `${what} value ${i}`).toBe(want);
      }
      expect(Math.abs(dropped / n - 0.3), `${what}: dropped ${dropped} of ${n}`).toBeLessThan(0.012);
    };
    net.forward({ data: x });
    const first = Float32Array.from(net.blobs.get('d')!.data);
    check(first, 'native');
    net.forward({ data: x });
    const second = net.blobs.get('d')!.data;
    check(second, 'native, again');
    const same = first.reduce((k, v, i) => k + (v === second[i] ? 1 : 0), 0);
    expect(same / n, 'masks of two forwards agree where independent ones would (0.58)').toBeLessThan(0.62);
    const onnx = await runOnnx(net.graph, { data: x }, { outputs: ['d'], threads: 1 });
    check(onnx.get('d')!.data, 'ONNX Runtime', 1);
    await expect(verify(net)).rejects.toThrow(
      "verify compares blobs that every run computes alike; layer 'encdrop' (Dropout) samples new masks at each forward (sample_weights_test), so its top and the blobs after it differ from run to run");
    expect(() => netOf(`${input('data', x.dims)}
      layer { name: "both" type: "Dropout" bottom: "data" top: "d" dropout_param { sample_weights_test: true scale_train: false } }`)).toThrow(
      "layer 'both' (Dropout): sample_weights_test (caffe-segnet) and scale_train: false (caffe-fast-rcnn) are two forks' fields: no Caffe has both");
  });

  it('ReLU6 clips to [0, 6]', async () => {
    const x = new Tensor([1, 1, 1, 5], Float32Array.of(-3, 0, 2.5, 6, 7.5));
    await expectBoth(netOf(`${input('data', x.dims)} layer { name: "r" type: "ReLU6" bottom: "data" top: "r" }`), { data: x }, { r: { dims: x.dims, data: [0, 0, 2.5, 6, 6] } });
  });

  it('ceil_mode false rounds the pooled size down, true up; giving it with round_mode is refused', () => {
    const pool = (p: string) => netOf(`${input('data', [1, 1, 5, 5])} layer { name: "pool" type: "Pooling" bottom: "data" top: "p" pooling_param { kernel_size: 2 stride: 2 ${p} } }`);
    expect(pool('ceil_mode: false').graph.blobShapes.get('p')).toEqual([1, 1, 2, 2]);
    expect(pool('ceil_mode: true').graph.blobShapes.get('p')).toEqual([1, 1, 3, 3]);
    expect(() => pool('ceil_mode: true round_mode: FLOOR')).toThrow("layer 'pool' (Pooling): gives both round_mode (BVLC) and ceil_mode (a fork's); give one");
  });
});

describe('ROIPooling (rbgirshick/caffe-fast-rcnn): the refusals (its values: fixture fork_roi_pooling, by OpenCV)', () => {
  const net = (p: string, rois: number[]) => netOf(`${input('data', [1, 2, 4, 4])} ${input('rois', rois)}
    layer { name: "roi" type: "ROIPooling" bottom: "data" bottom: "rois" top: "y" roi_pooling_param { ${p} } }`);
  it('refuses a zero pooled size, ROIs that are not rows of 5, and a batch index outside the features', () => {
    expect(() => net('pooled_w: 2', [1, 5])).toThrow("layer 'roi' (ROIPooling): pooled_h and pooled_w must be positive, got 0 and 2");
    expect(() => net('pooled_h: 2 pooled_w: 2', [2, 4])).toThrow("layer 'roi' (ROIPooling): the ROIs (bottom 1) must be (R, 5): [batch index, x1, y1, x2, y2] per row, got [2, 4]");
    const ok = net('pooled_h: 2 pooled_w: 2', [1, 5]);
    expect(() => ok.forward({ data: random([1, 2, 4, 4], 1), rois: new Tensor([1, 5], Float32Array.of(1, 0, 0, 3, 3)) }))
      .toThrow("layer 'roi' (ROIPooling): ROI 0 names batch index 1, but the features have 1 image(s)");
  });
});

describe('PSROIPooling (daijifeng001/caffe-rfcn): the refusals (its values: fixture fork_psroi_pooling, by OpenCV)', () => {
  const net = (p: string, channels = 18) => () => netOf(`${input('data', [1, channels, 4, 4])} ${input('rois', [2, 5])}
    layer { name: "ps" type: "PSROIPooling" bottom: "data" bottom: "rois" top: "y" psroi_pooling_param { ${p} } }`);
  it('refuses missing fields (required in the fork), and score maps that are not output_dim x group_size^2', () => {
    expect(net('spatial_scale: 1 output_dim: 2')).toThrow("layer 'ps' (PSROIPooling): psroi_pooling_param needs spatial_scale, output_dim and group_size");
    expect(net('spatial_scale: 1 output_dim: 0 group_size: 3')).toThrow("layer 'ps' (PSROIPooling): output_dim and group_size must be positive, got 0 and 3");
    expect(net('spatial_scale: 1 output_dim: 2 group_size: 3', 16)).toThrow("layer 'ps' (PSROIPooling): has 16 input channels but output_dim x group_size^2 is 18");
    expect(() => netOf(`${input('data', [1, 18, 16])} ${input('rois', [2, 5])}
      layer { name: "ps" type: "PSROIPooling" bottom: "data" bottom: "rois" top: "y" psroi_pooling_param { spatial_scale: 1 output_dim: 2 group_size: 3 } }`))
      .toThrow("layer 'ps' (PSROIPooling): bottom 0 (the score maps) must be 4-D (N, C, H, W), got [1, 18, 16]");
  });
});

describe('CTPN (tianzhi0549/CTPN): Transpose, Reverse, Lstm and its Python proposal layer', () => {
  /** transpose_layer.cpp's transpose_cpu restated: index arithmetic over the bottom's and top's counts. */
  const forkTranspose = (x: Tensor, dims: number[]) => {
    const shape = dims.map((d) => x.dims[d]), n = dims.length;
    const counts = (s: readonly number[]) => s.map((_, i) => sizeOf(s.slice(i + 1)));
    const from = counts(x.dims), to = counts(shape), out = new Float32Array(x.data.length);
    for (let index = 0; index < x.data.length; index++) {
      let rest = index, target = 0;
      const inds = from.map((c) => { const v = Math.floor(rest / c); rest %= c; return v; });
      for (let i = 0; i < n; i++) target += inds[dims[i]] * to[i];
      out[target] = x.data[index];
    }
    return { dims: shape, data: out };
  };
  /** reverse_layer.cpp's reverse_cpu restated: to = counts[axis] * (axis_count - 2 ind - 1) + index. */
  const forkReverse = (x: Tensor, axis: number) => {
    const inner = sizeOf(x.dims.slice(axis + 1)), count = x.dims[axis], out = new Float32Array(x.data.length);
    for (let index = 0; index < x.data.length; index++) {
      const ind = Math.floor(index / inner) % count;
      out[inner * (count - 2 * ind - 1) + index] = x.data[index];
    }
    return { dims: x.dims, data: out };
  };
  /** lstm_layer.cpp's Forward_cpu restated (no clip bottom): float arrays, state from zeros, gates i f o g. */
  const forkLstm = (x: Tensor, wx: Tensor, wh: Tensor, b: Tensor, H: number) => {
    const [T, N] = x.dims, I = sizeOf(x.dims.slice(2)), out = new Float32Array(T * N * H), cell = new Float32Array(T * N * H);
    const sigmoid = (v: number) => f(1 / (1 + Math.exp(-v)));
    for (let t = 0; t < T; t++)
      for (let n = 0; n < N; n++) {
        const pre = new Float32Array(4 * H);
        for (let g = 0; g < 4 * H; g++) {
          let sum = 0;
          for (let i = 0; i < I; i++) sum += x.data[(t * N + n) * I + i] * wx.data[g * I + i];
          pre[g] = f(f(sum) + b.data[g]);
          if (t > 0) { // cont: t > 0; h_to_gate from h_{t-1}
            let h = 0;
            for (let d = 0; d < H; d++) h += out[((t - 1) * N + n) * H + d] * wh.data[g * H + d];
            pre[g] = f(pre[g] + f(h));
          }
        }
        for (let d = 0; d < H; d++) {
          const i = sigmoid(pre[d]), fg = t > 0 ? sigmoid(pre[H + d]) : 0, o = sigmoid(pre[2 * H + d]), g = f(Math.tanh(pre[3 * H + d]));
          const c = f(fg * (t > 0 ? cell[((t - 1) * N + n) * H + d] : 0) + i * g);
          cell[(t * N + n) * H + d] = c;
          out[(t * N + n) * H + d] = f(o * Math.tanh(c));
        }
      }
    return { dims: [T, N, H], data: out };
  };

  it('Transpose and Reverse move values as the fork\'s index arithmetic does; Lstm computes its loop', async () => {
    const x = random([2, 3, 4, 5], 91), seq = random([5, 3, 2, 4], 92), [H, I] = [6, 8];
    const wx = random([4 * H, I], 93, 0.5), wh = random([4 * H, H], 94, 0.5), b = random([4 * H], 95, 0.5);
    const net = netOf(`${input('x', x.dims)}\n${input('seq', seq.dims)}
      layer { name: "t3201" type: "Transpose" bottom: "x" top: "t3201" transpose_param { dim: 3 dim: 2 dim: 0 dim: 1 } }
      layer { name: "t2310" type: "Transpose" bottom: "x" top: "t2310" transpose_param { dim: 2 dim: 3 dim: 1 dim: 0 } }
      layer { name: "r0" type: "Reverse" bottom: "x" top: "r0" }
      layer { name: "r2" type: "Reverse" bottom: "x" top: "r2" reverse_param { axis: 2 } }
      layer { name: "r3" type: "Reverse" bottom: "x" top: "r3" reverse_param { axis: 3 } }
      layer { name: "lstm" type: "Lstm" bottom: "seq" top: "lstm" lstm_param { num_output: ${H} clipping_threshold: 1 } }`, { lstm: [wx, wh, b] });
    const expected = {
      t3201: forkTranspose(x, [3, 2, 0, 1]), t2310: forkTranspose(x, [2, 3, 1, 0]),
      r0: forkReverse(x, 0), r2: forkReverse(x, 2), r3: forkReverse(x, 3),
      lstm: forkLstm(seq, wx, wh, b, H),
    };
    await expectBoth(net, { x, seq }, expected);
    // The fork starts every forward from zeros: a second forward gives the same (BVLC's LSTM would carry its state).
    net.forward({ x, seq });
    expect(relativeDifference(net.blobs.get('lstm')!.data, expected.lstm.data)).toBeLessThanOrEqual(TOLERANCE);
  });

  /** text_proposal_layer.py and anchor.py restated (Python 2.7: h / 2 and w / 2 of ints are floored). */
  const forkProposals = (prob: Tensor, deltas: Tensor, info: number[], stride: number) => {
    const heights = [11, 16, 23, 33, 48, 68, 97, 139, 198, 283], [, , H, W] = prob.dims, rows = H * W * 10;
    const int32 = (v: number) => Math.trunc(v) | 0;
    const base = heights.map((h) => [int32(7.5 - 8), int32(7.5 - Math.floor(h / 2)), int32(7.5 + 8), int32(7.5 + Math.floor(h / 2))]);
    const rois = new Float32Array(rows * 4), scores = new Float32Array(rows);
    for (let y = 0, r = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let k = 0; k < 10; k++, r++) {
          const [x1, y1, x2, y2] = [base[k][0] + x * stride, base[k][1] + y * stride, base[k][2] + x * stride, base[k][3] + y * stride];
          scores[r] = prob.data[((10 + k) * H + y) * W + x];
          const dy = deltas.data[((2 * k) * H + y) * W + x], dh = deltas.data[((2 * k + 1) * H + y) * W + x];
          const ah = y2 - y1 + 1, yc = (y1 + y2) / 2;
          const h = f(f(Math.exp(dh)) * ah), top = f(dy * ah + yc - h / 2), bottom = f(top + h);
          const clip = (v: number, max: number) => Math.max(Math.min(v, f(max - 1)), 0);
          rois.set([clip(x1, info[1]), clip(top, info[0]), clip(x2, info[1]), clip(bottom, info[0])], 4 * r);
        }
    return { rois: { dims: [rows, 4], data: rois }, scores: { dims: [rows, 1], data: scores }, base };
  };

  it("the Python layer layers.text_proposal_layer.ProposalLayer: every anchor's box and score, natively and through ONNX Runtime", async () => {
    const [H, W] = [3, 4];
    const p = new Tensor([1, 20, H, W], random([1, 20, H, W], 96).data.map((v) => (v + 1) / 2));
    const deltas = random([1, 20, H, W], 97, 1.5), info = new Tensor([1, 3], Float32Array.of(40, 50, 1));
    const net = netOf(`${input('prob', p.dims)}\n${input('deltas', deltas.dims)}\n${input('im_info', info.dims)}
      layer { name: "proposal" type: "Python" bottom: "prob" bottom: "deltas" bottom: "im_info" top: "rois" top: "scores"
        python_param { module: "layers.text_proposal_layer" layer: "ProposalLayer" param_str: "'feat_stride': 16" } }`);
    const want = forkProposals(p, deltas, [40, 50], 16);
    // anchor.py's heights under Python 2, worked by hand: 7.5 -/+ h // 2, truncated toward zero into int32.
    expect(want.base.map(([, y1, , y2]) => [y1, y2])).toEqual([[2, 12], [0, 15], [-3, 18], [-8, 23], [-16, 31], [-26, 41], [-40, 55], [-61, 76], [-91, 106], [-133, 148]]);
    await expectBoth(net, { prob: p, deltas, im_info: info }, { rois: want.rois, scores: want.scores });
    const rois = net.blobs.get('rois')!.data;
    expect(Math.max(...rois.filter((_, i) => i % 2 === 1)), 'y clipped to height - 1').toBe(39);
    expect(Math.min(...rois), 'clipped at 0').toBe(0);
  });

  it('refuses what the fork refuses or crema does not run, in one line', () => {
    const one = (layer: string, dims = [2, 3, 4]) => () => netOf(`${input('x', dims)}\n${layer}`);
    expect(one('layer { name: "t" type: "Transpose" bottom: "x" top: "t" transpose_param { dim: 1 dim: 0 } }')).toThrow("layer 't' (Transpose): transpose_param gives 2 dims for a 3-D bottom; it needs one per axis");
    expect(one('layer { name: "t" type: "Transpose" bottom: "x" top: "t" transpose_param { dim: 1 dim: 1 dim: 0 } }')).toThrow("layer 't' (Transpose): transpose_param dims 1, 1, 0 are not an order of the axes 0 to 2");
    expect(one('layer { name: "r" type: "Reverse" bottom: "x" top: "r" reverse_param { axis: -1 } }')).toThrow("layer 'r' (Reverse): reverse_param axis -1 must be 0 to 2 for a 3-D bottom (the fork takes no negative axis)");
    expect(one('layer { name: "l" type: "Lstm" bottom: "x" bottom: "x" top: "l" lstm_param { num_output: 2 } }')).toThrow("layer 'l' (Lstm): takes 1 bottom(s), got 2");
    expect(one('layer { name: "l" type: "Lstm" bottom: "x" top: "l" }')).toThrow("layer 'l' (Lstm): needs lstm_param { num_output: ... } (positive)");
    expect(() => netOf(`${input('x', [2, 3, 4])}\nlayer { name: "l" type: "Lstm" bottom: "x" top: "l" lstm_param { num_output: 2 } }`, { l: [random([8, 4], 1), random([8, 3], 2), random([8], 3)] }))
      .toThrow("layer 'l' (Lstm): W_h (hidden to gates) (blob 1) has shape [8, 3] but the layer needs [8, 2]");
  });
});

describe("CTCGreedyDecoder (senlinuc/caffe_ocr's ctc_decoder_layer.cpp)", () => {
  // 6 steps of 2 streams, 3 classes; each step's scores put the maximum where `classes` says (equal scores at
  // stream 1's step 4: the first maximum, class 0, wins).
  const classes = [[1, 2], [1, 0], [0, 2], [1, 0], [2, 0], [2, 1]];
  const x = new Tensor([6, 2, 3], Float32Array.from(classes.flatMap((step, t) => step.flatMap((k, n) => [0, 1, 2].map((c) => (c === k || (t === 3 && n === 1 && c === 1) ? 1 : 0))))));
  const net = (param: string) => netOf(`${input('x', x.dims)}\nlayer { name: "ctc" type: "CTCGreedyDecoder" bottom: "x" top: "ctc" ${param} }`);
  const padded = (rows: number[][]) => ({ dims: [2, 6, 1, 1], data: rows.flatMap((r) => [...r, ...new Array(6 - r.length).fill(-1)]) });

  it('keeps each step\'s best class but blanks and (by default) repeats, then -1s: worked by hand, natively and through ONNX Runtime', async () => {
    // Stream 0: 1 1 0 1 2 2; stream 1: 2 0 2 0 0 1 (step 3's tie: class 0).
    expect(classes.map((s) => s[1])).toEqual([2, 0, 2, 0, 0, 1]);
    await expectBoth(net(''), { x }, { ctc: padded([[1, 1, 2], [2, 2, 1]]) });
    await expectBoth(net('ctc_decoder_param { ctc_merge_repeated: false }'), { x }, { ctc: padded([[1, 1, 1, 2, 2], [2, 2, 1]]) });
    await expectBoth(net('ctc_decoder_param { blank_index: -1 }'), { x }, { ctc: padded([[1, 0, 1], [0, 0, 1]]) }); // blank: class 2
  });

  it('refuses other than (T, N, C) scores, a blank past the classes, and the training form with labels', () => {
    expect(() => netOf(`${input('x', [6, 3])}\nlayer { name: "ctc" type: "CTCGreedyDecoder" bottom: "x" top: "ctc" }`)).toThrow("layer 'ctc' (CTCGreedyDecoder): bottom must be (T timesteps, N streams, C classes), got [6, 3]");
    expect(() => net('ctc_decoder_param { blank_index: 3 }')).toThrow("layer 'ctc' (CTCGreedyDecoder): blank_index 3 is not one of the 3 classes");
    expect(() => netOf(`${input('x', x.dims)}\n${input('labels', [2, 6])}\nlayer { name: "ctc" type: "CTCGreedyDecoder" bottom: "x" bottom: "labels" top: "acc" }`)).toThrow("layer 'ctc' (CTCGreedyDecoder): takes 1 bottom(s), got 2");
  });
});

describe("caffemodels written by the forks: their layer parameters at the forks' field numbers", () => {
  it('still give their weights: PSPNet interp_param at 143 and bn_param at 152, caffe-segnet upsample_param at 137, a ceil_mode bool at 13', async () => {
    // A trained fork's caffemodel stores each layer's parameters beside its blobs, under the fork's numbers, some of
    // which BVLC uses for other messages (docs/FORKS.md). Only the blobs are read from it; the rest must not get in the way.
    const blob = (values: number[]) => len(7, [...len(7, len(1, [1, values.length, 1, 1].flatMap((d) => varint(d)))), ...packedFloats(5, values)]); // (1, C, 1, 1)
    const layer = (name: string, type: string, ...rest: number[][]) => len(100, [...str(1, name), ...str(2, type), ...rest.flat()]);
    const caffemodel = Uint8Array.from([
      ...str(1, 'fork'),
      ...layer('pool', 'Pooling', len(121, [...uint(1, 0), ...uint(2, 2), ...uint(3, 2), ...uint(13, 1)])),
      ...layer('bn', 'BN', len(152, [...tag(3, 5), ...f32(0.9), ...tag(4, 5), ...f32(1e-5), ...uint(5, 1)]), blob([2, 3]), blob([0.5, -1]), blob([1, 2]), blob([4, 9])),
      ...layer('interp', 'Interp', len(143, [...uint(3, 2)])),
      ...layer('up', 'Upsample', len(137, [...uint(1, 2), ...uint(4, 1)])),
    ]);
    const net = await Net.load({ prototxt: `${input('data', [1, 2, 2, 2])}
      layer { name: "bn" type: "BN" bottom: "data" top: "bn" bn_param { frozen: true } }
      layer { name: "interp" type: "Interp" bottom: "bn" top: "interp" interp_param { zoom_factor: 2 } }
      layer { name: "pool" type: "Pooling" bottom: "interp" top: "pool" top: "mask" pooling_param { pool: MAX kernel_size: 2 stride: 2 ceil_mode: true } }
      layer { name: "up" type: "Upsample" bottom: "pool" bottom: "mask" top: "up" upsample_param { scale: 2 pad_out_h: true pad_out_w: true } }`, weights: caffemodel });
    expect(net.params.get('bn')?.map((t) => [...t.data])).toEqual([[2, 3], [0.5, -1], [1, 2], [4, 9]]);
    const x = new Tensor([1, 2, 2, 2], Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    net.forward({ data: x });
    const bn = [...x.data].map((v, i) => { const c = i < 4 ? 0 : 1; return ((v - [1, 2][c]) / Math.sqrt([4, 9][c] + 1e-5)) * [2, 3][c] + [0.5, -1][c]; });
    expect(relativeDifference(net.blobs.get('bn')!.data, bn)).toBeLessThanOrEqual(TOLERANCE);
    expect(net.blobs.get('pool')!.dims).toEqual([1, 2, 2, 2]); // the prototxt's ceil_mode, not the file's 13 read as round_mode FLOOR
    expect(net.blobs.get('up')!.dims).toEqual([1, 2, 3, 3]);
  });

  it("CTPN's: lstm_param at 140, transpose_param at 142, reverse_param at 143 (BVLC's elu_param, scale_param, input_param)", async () => {
    const blob = (dims: number[], values: number[]) => len(7, [...len(7, len(1, dims.flatMap((d) => varint(d)))), ...packedFloats(5, values)]);
    const layer = (name: string, type: string, ...rest: number[][]) => len(100, [...str(1, name), ...str(2, type), ...rest.flat()]);
    const ramp = (n: number, k: number) => Array.from({ length: n }, (_, i) => ((i * k) % 7) / 10 - 0.3);
    const caffemodel = Uint8Array.from([
      ...str(1, 'ctpn'),
      ...layer('t', 'Transpose', len(142, [...uint(1, 1), ...uint(1, 0), ...uint(1, 2)])),
      ...layer('lstm', 'Lstm', len(140, [...uint(1, 2), ...tag(2, 5), ...f32(1), ...len(3, str(1, 'gaussian'))]), blob([8, 3], ramp(24, 3)), blob([8, 2], ramp(16, 5)), blob([8], ramp(8, 1))),
      ...layer('r', 'Reverse', len(143, [...uint(1, 0)])),
    ]);
    const net = await Net.load({ prototxt: `${input('x', [2, 3, 3])}
      layer { name: "t" type: "Transpose" bottom: "x" top: "t" transpose_param { dim: 1 dim: 0 dim: 2 } }
      layer { name: "lstm" type: "Lstm" bottom: "t" top: "lstm" lstm_param { num_output: 2 } }
      layer { name: "r" type: "Reverse" bottom: "lstm" top: "r" reverse_param { axis: 0 } }`, weights: caffemodel });
    expect(net.params.get('lstm')?.map((t) => t.dims)).toEqual([[8, 3], [8, 2], [8]]);
    net.forward({ x: random([2, 3, 3], 98) });
    expect(net.blobs.get('r')!.dims).toEqual([3, 2, 2]);
  });
});

describe('DepthwiseConvolution (yonghenglh6/DepthwiseConvolution): Caffe\'s Convolution under another name', () => {
  it('computes what Convolution computes with the same convolution_param and weights, natively and through ONNX', async () => {
    const x = random([1, 4, 6, 5], 12, 2), w = random([4, 1, 3, 3], 13), b = random([4], 14);
    const conv = (type: string) => `layer { name: "${type}" type: "${type}" bottom: "data" top: "${type}" convolution_param { num_output: 4 group: 4 kernel_size: 3 pad: 1 stride: 2 } }`;
    const reference = netOf(`${input('data', x.dims)} ${conv('Convolution')}`, { Convolution: [w, b] });
    reference.forward({ data: x });
    const want = reference.blobs.get('Convolution')!;
    await expectBoth(netOf(`${input('data', x.dims)} ${conv('DepthwiseConvolution')}`, { DepthwiseConvolution: [w, b] }), { data: x }, { DepthwiseConvolution: { dims: want.dims, data: want.data } });
  });
});
