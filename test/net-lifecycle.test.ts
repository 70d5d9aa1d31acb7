// What a Net's life leaves behind: runOnnx on its graph at another input shape leaves the net at its own shapes;
// after dispose (or once net.run moved the net to its worker), tensors kept from net.params refuse to be read rather
// than view the freed wasm memory the fully connected weights lived in.
import { describe, expect, it } from 'vitest';
import { Net } from '../src/runtime/net.js';
import { runOnnx } from '../src/onnx/run.js';
import { Tensor } from '../src/tensor.js';
import { CremaError } from '../src/util/errors.js';

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
