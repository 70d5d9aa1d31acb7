// A layer the weights file leaves out runs on its prototxt's constant fillers, as Caffe fills it (the colorization
// net's conv8_313_rh: a Scale whose filler is 2.606, left out of its released caffemodel), natively and through ONNX
// Runtime, against real Caffe (test/fixtures/fillers); any other filler stays missing and refused where the layer
// runs, and only there.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { relativeDifference } from './helpers/reference.js';

const dir = path.join(import.meta.dirname, 'fixtures/fillers');
const blobs = ['conv', 'scale', 'prelu', 'ip'];
const x = readNpy(path.join(dir, 'x.npy'));

describe('constant fillers for layers without weights', () => {
  it("take the prototxt's constants, as Caffe: its numbers, natively and through ONNX Runtime, with a note", async () => {
    const net = await Net.load(path.join(dir, 'net.prototxt'), undefined, { threads: 1 });
    expect(net.notes).toEqual(['no weights given: conv, scale, prelu, ip take the constant fillers of the prototxt, as Caffe fills a layer the weights leave out']);
    net.forward({ data: x });
    const onnx = await runOnnx(net.graph, { data: x }, { outputs: blobs, threads: 1 });
    for (const b of blobs) {
      const ref = readNpy(path.join(dir, `${b}.npy`)).data;
      expect(relativeDifference(net.blobs.get(b)!.data, ref), b).toBeLessThanOrEqual(1e-6);
      expect(relativeDifference(onnx.get(b)!.data, ref), `${b} (ONNX)`).toBeLessThanOrEqual(1e-6);
    }
    expect([...net.params.get('scale')![0].data]).toEqual([2.6059999465942383, 2.6059999465942383, 2.6059999465942383, 2.6059999465942383]);
    net.dispose();
  });

  it('a random filler (or none) is no value of the net: refused where the layer runs, not before it', async () => {
    const text = `input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }
      layer { name: "s" type: "Scale" bottom: "data" top: "s" scale_param { filler { value: 2 } } }
      layer { name: "g" type: "Convolution" bottom: "s" top: "g" convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: "gaussian" std: 0.1 } bias_filler { value: 0 } } }`;
    const net = await Net.load(Buffer.from(text), undefined, { threads: 1 });
    expect(net.notes).toEqual(['no weights given: s takes the constant fillers of the prototxt, as Caffe fills a layer the weights leave out', 'no weights given: layers that need weights have none: g']);
    const data = new Float32Array(18).fill(1.5);
    // pycaffe's forward(end='s') runs without g's weights
    net.forward({ data }, { end: 's' });
    expect([...net.blobs.get('s')!.data]).toEqual(new Array(18).fill(3));
    expect(() => net.forward({ data })).toThrow("no weights for 'g' (Convolution): give the .caffemodel that goes with the net");
    net.dispose();
  });
});
