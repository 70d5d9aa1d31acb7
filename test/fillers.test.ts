// A layer the weights file leaves out runs on its prototxt's constant or bilinear fillers, as Caffe fills it (the
// colorization net's conv8_313_rh: a Scale whose filler is 2.606, left out of its released caffemodel; an FCN-style
// upsampling Deconvolution), natively and through ONNX Runtime, against real Caffe (test/fixtures/fillers); any other
// filler stays missing and refused where the layer runs, and only there.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOnnx } from '../src/onnx/run.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';
import { relativeDifference } from './helpers/reference.js';

const dir = path.join(import.meta.dirname, 'fixtures/fillers');
const blobs = ['conv', 'scale', 'prelu', 'ip'];
const x = readNpy(path.join(dir, 'x.npy'));

describe('constant and bilinear fillers for layers without weights', () => {
  it("take the prototxt's constants, as Caffe: its numbers, natively and through ONNX Runtime, with a note", async () => {
    const net = await Net.load(path.join(dir, 'net.prototxt'), undefined, { threads: 1 });
    expect(net.notes).toEqual(["no weights given: conv, scale, prelu, ip take the prototxt's fillers, as Caffe fills a layer the weights leave out"]);
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
    expect(net.notes).toEqual(["no weights given: s takes the prototxt's fillers, as Caffe fills a layer the weights leave out", 'no weights given: layers that need weights have none: g']);
    const data = new Float32Array(18).fill(1.5);
    // pycaffe's forward(end='s') runs without g's weights
    net.forward({ data }, { end: 's' });
    expect([...net.blobs.get('s')!.data]).toEqual(new Array(18).fill(3));
    expect(() => net.forward({ data })).toThrow("no weights for 'g' (Convolution): give the .caffemodel that goes with the net");
    net.dispose();
  });

  it("bilinear ones as Caffe 1.0's BilinearFiller: the weights bit for bit, the upsampled outputs natively and through ONNX Runtime", async () => {
    const bil = path.join(dir, 'bilinear'), tops = ['up2', 'up3', 'up8', 'odd3', 'odd5', 'odd7'];
    const net = await Net.load(path.join(bil, 'net.prototxt'), undefined, { threads: 1 });
    expect(net.notes).toEqual(["no weights given: up2, up3, up8, odd3, odd5, odd7 take the prototxt's fillers, as Caffe fills a layer the weights leave out"]);
    const input = readNpy(path.join(bil, 'x.npy'));
    net.forward({ data: input });
    const onnx = await runOnnx(net.graph, { data: input }, { outputs: tops, threads: 1 });
    for (const t of tops) {
      expect([...net.params.get(t)![0].data], `${t}'s weights`).toEqual([...readNpy(path.join(bil, `${t}_w.npy`)).data]);
      const ref = readNpy(path.join(bil, `${t}.npy`)).data;
      expect(relativeDifference(net.blobs.get(t)!.data, ref), t).toBeLessThanOrEqual(1e-6);
      expect(relativeDifference(onnx.get(t)!.data, ref), `${t} (ONNX)`).toBeLessThanOrEqual(1e-6);
    }
    expect([...net.params.get('odd3')![1].data]).toEqual([0.25, 0.25]);
    net.dispose();
  });

  it('a bilinear filler of a blob that is not a square 4-D kernel is refused naming the layer (Caffe aborts)', async () => {
    const layer = (params: string) => Buffer.from(`input: "data" input_shape { dim: 1 dim: 2 dim: 6 dim: 6 }
      layer { name: "d" type: "Deconvolution" bottom: "data" top: "d" convolution_param { num_output: 2 ${params} } }`);
    await expect(Net.load(layer('kernel_h: 3 kernel_w: 4 bias_term: false weight_filler { type: "bilinear" }'), undefined, { threads: 1 })).rejects.toThrow(
      "layer 'd' (Deconvolution): the bilinear filler of its weights fills a 4-D blob of a square kernel (Caffe: \"Filter must be square\"), not [2, 2, 3, 4]");
    await expect(Net.load(layer('kernel_size: 4 weight_filler { type: "bilinear" } bias_filler { type: "bilinear" }'), undefined, { threads: 1 })).rejects.toThrow(
      "layer 'd' (Deconvolution): the bilinear filler of its bias fills a 4-D blob of a square kernel (Caffe: \"Filter must be square\"), not [2]");
  });
});
