// Repeated and missing layer names, and Silence, as BVLC Caffe 1.0 handles them. The fixture
// test/fixtures/layers/names (checked blob by blob natively and through ONNX by reference.test.ts and
// onnx-reference.test.ts) was computed by real Caffe: two ReLUs named 'r', two unnamed Powers, two Crops named
// 'crop', a Silence with two bottoms. What Caffe does there (checked with shared/tools/caffe-ref):
// Net::CopyTrainedLayersFrom gives the caffemodel's weights to the FIRST layer of a name; a later one runs on its
// fillers (zeros for a conv without weight_filler); pycaffe's forward(start=, end=) finds the first layer of a name.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../src/caffe/prototxt.js';
import { upgradeNet } from '../src/caffe/upgrade.js';
import { Net } from '../src/runtime/net.js';
import { Tensor } from '../src/tensor.js';
import { readNpy } from '../src/util/npy.js';
import { cli, errorOf } from './helpers/cli.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/layers/names');
const fixture = (f: string) => path.join(dir, f);
const netOf = (text: string, weights?: Map<string, Tensor[]>) => Net.fromNetParameter(upgradeNet(parsePrototxt(text, 'net.prototxt'), 'net.prototxt'), weights, [], { threads: 1 });
const head = 'input: "data" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }';
const conv = (name: string, bottom: string, top: string) =>
  `layer { name: "${name}" type: "Convolution" bottom: "${bottom}" top: "${top}" convolution_param { num_output: 2 kernel_size: 1 } }`;
const weightsC = () => new Map([['c', [new Tensor([2, 2, 1, 1], Float32Array.of(1, 2, 3, 4)), new Tensor([2], Float32Array.of(0.5, -0.5))]]]);

describe('repeated layer names (HED, unnamed layers): loaded as Caffe 1.0 loads them', () => {
  it('the net of the fixture loads, with a note saying which layer a repeated name means', async () => {
    const net = await Net.load(fixture('net.prototxt'), fixture('weights.caffemodel'), { threads: 1 });
    expect(net.layers.map((l) => l.name)).toEqual(['input', 'c', 'r', 'r', '', '', 'pool', 'crop', 'crop', 's']);
    expect(net.notes).toEqual([
      "2 layers are named 'r' (#2, #3): by that name (weights, forward start/end, net.params) crema means the first, #2",
      "2 layers are named '' (#4, #5): by that name (weights, forward start/end, net.params) crema means the first, #4",
      "2 layers are named 'crop' (#7, #8): by that name (weights, forward start/end, net.params) crema means the first, #7",
    ]);
  });

  it('forward({ start, end }) by a repeated name means its first layer, as pycaffe finds it', async () => {
    const net = await Net.load(fixture('net.prototxt'), fixture('weights.caffemodel'), { threads: 1 });
    const out = net.forward({ data: readNpy(fixture('input.npy')) }, { end: 'r' });
    expect(Object.keys(out)).toEqual(['b']); // the first 'r' computes b; pycaffe names the last one's top ('d') here
    expect(net.blobs.get('d')!.data.every((v) => v === 0)).toBe(true); // the second 'r' did not run
    net.forward({}, { start: 'r', end: 'r' });
    expect(net.blobs.get('d')!.data.every((v) => v === 0)).toBe(true);
  });

  it('weights go to the first layer of a name; a later one that needs weights is refused by name', () => {
    const twice = `${head} ${conv('c', 'data', 'a')} ${conv('c', 'a', 'b')}`;
    expect(errorOf(() => netOf(twice, weightsC()))).toBe(
      "layer 'c' (Convolution): needs weights, but it is the 2nd layer of this name and Caffe copies the caffemodel's weights into the first one only (layer #1); this one would run on its fillers: give the layers distinct names",
    );
    const once = netOf(`${head} ${conv('c', 'data', 'a')} layer { name: "c" type: "ReLU" bottom: "a" top: "b" }`, weightsC());
    expect(once.layers[1].weights.length).toBe(2);
    expect(once.layers[2].weights.length).toBe(0);
    expect([...once.params.keys()]).toEqual(['c']);
    expect(once.params.get('c')![0].data).toEqual(Float32Array.of(1, 2, 3, 4));
  });

  it('crema info prints the note', async () => {
    const r = await cli('info', fixture('net.prototxt'), fixture('weights.caffemodel'));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("note: 2 layers are named 'crop' (#7, #8)");
  });

  it('an error in an unnamed layer says so', () => {
    expect(errorOf(() => netOf(`${head} layer { type: "Power" bottom: "data" top: "e" } layer { type: "Pooling" bottom: "e" top: "p" pooling_param { kernel_size: 9 } }`))).toMatch(/^an unnamed layer \(Pooling\): /);
  });
});

describe('Silence', () => {
  const silenced = `${head} ${conv('c', 'data', 'a')} layer { name: "r" type: "ReLU" bottom: "a" top: "b" } layer { name: "s" type: "Silence" bottom: "b" bottom: "a" }`;
  it('takes bottoms and gives no top; the blobs it swallows stay net outputs (as OpenCV, unlike Caffe\'s net.outputs)', () => {
    const net = netOf(silenced, weightsC());
    expect(net.outputs).toEqual(['b']);
    const out = net.forward({ data: new Tensor([1, 2, 3, 3], new Float32Array(18).fill(1)) });
    expect(Array.from(out.b.data.slice(0, 2))).toEqual([3.5, 3.5]);
  });
  it('refuses a top', () => {
    expect(errorOf(() => netOf(`${head} layer { name: "s" type: "Silence" bottom: "data" top: "x" }`))).toBe("layer 's' (Silence): gives 0 top(s), got 1");
    expect(errorOf(() => netOf(`${head} layer { name: "s" type: "Silence" }`))).toBe("layer 's' (Silence): takes at least 1 bottom(s), got 0");
  });
});
