// What a Net's life leaves behind: runOnnx on its graph at another input shape leaves the net at its own shapes;
// after dispose (or once net.run moved the net to its worker), tensors kept from net.params refuse to be read rather
// than view the freed wasm memory the fully connected weights lived in; dispose frees every block the net took.
import { describe, expect, it } from 'vitest';
import type { NetParameter } from '../src/caffe/types.js';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { wasmEngine } from '../src/kernels/wasm.js';
import { Net } from '../src/runtime/net.js';
import { runOnnx } from '../src/onnx/run.js';
import { Tensor } from '../src/tensor.js';
import { CremaError } from '../src/util/errors.js';
import { randomArray, rng } from './helpers/compute.js';

const lenet = ['models/lenet/deploy.prototxt', 'models/lenet/weights.caffemodel'] as const;

function digits(batch: number): Tensor {
  const data = new Float32Array(batch * 784);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 256) / 255;
  return new Tensor([batch, 1, 28, 28], data);
}

describe('a Net after runOnnx on its graph at another shape', () => {
  it('forwards as a fresh net does, at its own shape and at the other', async () => {
    const net = await Net.load(...lenet, { threads: 1 });
    const fresh = await Net.load(...lenet, { threads: 1 });
    const onnx = await runOnnx(net.graph, { data: digits(3) });
    expect(onnx.get('prob')!.dims).toEqual([3, 10]);
    expect(net.shapes.get('prob')).toEqual([1, 10]);
    for (const batch of [1, 3]) {
      const want = Float32Array.from(fresh.forward({ data: digits(batch) }).prob.data);
      expect(Array.from(net.forward({ data: digits(batch) }).prob.data)).toEqual(Array.from(want));
    }
    const ours = net.forward({ data: digits(3) }).prob.data;
    for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i] - onnx.get('prob')!.data[i])).toBeLessThanOrEqual(1e-4);
  });
});

describe('net.params after the net is released', () => {
  it('refuse to be read after dispose, naming why (the fully connected weights lived in wasm memory)', async () => {
    const net = await Net.load(...lenet, { threads: 1 });
    net.forward({ data: digits(1) });
    const [ip1] = net.params.get('ip1')!;
    const copy = Float32Array.from(ip1.data);
    await net.dispose();
    expect(() => ip1.data).toThrow(CremaError);
    expect(() => ip1.data).toThrow('net.params: this net was disposed; its weights were freed (copy one out before: Float32Array.from(t.data))');
    expect(copy.length).toBe(500 * 800);
  });

  it('refuse to be read once net.run moved the net to its worker', async () => {
    const net = await Net.load(...lenet, { threads: 1 });
    const [conv1] = net.params.get('conv1')!;
    await net.run({ data: digits(1) });
    expect(() => conv1.data).toThrow(/^net\.params: this net runs in its worker thread since its first run/);
    await net.dispose();
  });
});

describe('a released net says so when its blobs or params are asked for', () => {
  it('net.blobs and net.params after dispose and after net.run (were empty maps: get() gave undefined)', async () => {
    const net = await Net.load(...lenet, { threads: 1 });
    net.forward({ data: digits(1) });
    await net.dispose();
    expect(() => net.blobs.get('prob')).toThrow(new CremaError('this net was disposed'));
    expect(() => net.params.get('ip1')).toThrow(new CremaError('this net was disposed'));
    const moved = await Net.load(...lenet, { threads: 1 });
    await moved.run({ data: digits(1) });
    expect(() => moved.blobs).toThrow(/^this net runs in its worker thread since its first run/);
    await moved.dispose();
  });
});

describe('an input of no values', () => {
  it('is refused by reshape and forward, as the CLI refuses it (a batch of 0 ran and gave empty outputs)', async () => {
    const net = await Net.load(...lenet, { threads: 1 });
    const want = Float32Array.from(net.forward({ data: digits(1) }).prob.data);
    expect(() => net.reshape({ data: [0, 1, 28, 28] })).toThrow(new CremaError("input 'data': shape [0, 1, 28, 28] holds no values: an input needs at least one item"));
    expect(() => net.forward({ data: new Tensor([0, 1, 28, 28], new Float32Array(0)) }))
      .toThrow(new CremaError("input 'data': shape [0, 1, 28, 28] holds no values: an input needs at least one item"));
    expect(() => net.reshape({ data: [1, -1, 28, 28] })).toThrow(new CremaError("input 'data': shape [1, -1, 28, 28]: its dims must be whole numbers > 0"));
    expect(() => net.reshape({ data: [1.5, 1, 28, 28] })).toThrow(new CremaError("input 'data': shape [1.5, 1, 28, 28]: its dims must be whole numbers > 0"));
    // The net is as it was.
    expect(net.shapes.get('prob')).toEqual([1, 10]);
    expect(Float32Array.from(net.forward({ data: digits(1) }).prob.data)).toEqual(want);
    await expect(net.run({ data: new Tensor([0, 1, 28, 28], new Float32Array(0)) })).rejects.toThrow("input 'data': shape [0, 1, 28, 28] holds no values");
    await net.dispose();
  });
});

describe('dispose frees every wasm block the net took, at once', () => {
  // conv1 (3x3 on the plane): GEMM-packed or Winograd weights, each with a padded bias block; conv2 (5x5): at a 5 x 5
  // input its window is the whole input (an inner product on the weights moved into wasm memory as they are), at
  // 12 x 12 packed or Winograd's. The bias block of Winograd's weights was once taken and never owned: 64 bytes that
  // neither dispose nor a collection freed, per net (the browser's dispose test caught it on TinyFlow's 5x5
  // convolution). At the net's own shape: blobs a reshape replaces are the collector's (net.ts allocate).
  const prototxt = (h: number) => `layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 8 dim: ${h} dim: ${h} } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 16 kernel_size: 3 pad: 1 } }
layer { name: "conv2" type: "Convolution" bottom: "c1" top: "c2" convolution_param { num_output: 10 kernel_size: 5 } }`;
  const weights = () => {
    const t = (seed: number, ...dims: number[]) => new Tensor(dims, randomArray(dims.reduce((a, b) => a * b, 1), rng(seed)));
    return new Map([['conv1', [t(1, 16, 8, 3, 3), t(2, 16)]], ['conv2', [t(3, 10, 16, 5, 5), t(4, 10)]]]);
  };

  for (const [h, winograd] of [[5, '0'], [12, '0'], [12, '4']] as const) {
    it(`a net at 8 x ${h} x ${h}, forwarded twice (CREMA_WINOGRAD=${winograd}), leaves the memory in use as it found it`, async () => {
      const e = wasmEngine();
      if (!e) return;
      process.env.CREMA_WINOGRAD = winograd;
      try {
        const cycle = async () => {
          const before = e.heap.used;
          const net = Net.fromNetParameter(parsePrototxt(prototxt(h), 'whole.prototxt') as NetParameter, weights(), [], { threads: 1 });
          net.freesBlobs = true; // as the browser engine's nets: the blobs' blocks go with the net too
          const x = new Tensor([1, 8, h, h], randomArray(8 * h * h, rng(h)));
          for (let i = 0; i < 2; i++) expect(net.forward({ data: x }).c2.dims).toEqual([1, 10, h - 4, h - 4]);
          const loaded = e.heap.used;
          await net.dispose();
          return { before, loaded, after: e.heap.used };
        };
        await cycle(); // the engine's scratch grows to what the net needs, and stays
        const { before, loaded, after } = await cycle();
        expect(loaded).toBeGreaterThan(before + 10 * 16 * 25 * 4); // conv2's weights at least
        expect(after).toBe(before);
      } finally {
        delete process.env.CREMA_WINOGRAD;
      }
    });
  }
});
