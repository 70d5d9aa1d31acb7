// Shared by the tests that run published deformable nets with hashweights' weights.
import type { NetParameter } from '../../src/caffe/types.js';
import { Net } from '../../src/runtime/net.js';
import { Tensor } from '../../src/tensor.js';

/** The standard deviation of `a`. */
export const deviation = (a: Float32Array) => {
  const mean = a.reduce((t, v) => t + v, 0) / a.length;
  return Math.sqrt(a.reduce((t, v) => t + (v - mean) ** 2, 0) / a.length);
};

/**
 * The net with each deformable layer's offset producer (the Convolution whose top, or whose Slice's bottom, is the
 * layer's bottom 1) scaled, in turn, to offsets of 1.5 pixels' deviation: hashweights' activations grow through
 * ResNet-50 (offsets of 1e11 as they come), which would put every sample off the plane and the check would be of
 * zeros. Offsets are linear in the producer's weights and bias. `options` as Net.fromNetParameter's.
 */
export function tamedOffsets(parsed: NetParameter, weights: Map<string, Tensor[]>, type: string, inputs: Record<string, Tensor>,
  options: Parameters<typeof Net.fromNetParameter>[3] = {}): Net {
  let net = Net.fromNetParameter(parsed, weights, [], options);
  const count = net.graph.layers.filter((l) => l.type === type).length;
  for (let i = 0; i < count; i++) {
    net.forward(inputs);
    const layers = net.graph.layers, offsets = layers.filter((l) => l.type === type)[i].bottoms[1];
    let producer = layers.find((l) => l.tops.includes(offsets))!;
    if (producer.type === 'Slice') producer = layers.find((l) => l.tops.includes(producer.bottoms[0]))!;
    scaleTo(net, weights, producer.name, offsets, 1.5);
    net = Net.fromNetParameter(parsed, weights, [], options);
  }
  return net;
}

/** Scales `layer`'s weights and bias (in `weights`) so that its top `blob`, as `net` last computed it, has deviation `sd`. */
export function scaleTo(net: Net, weights: Map<string, Tensor[]>, layer: string, blob: string, sd: number): void {
  const f = sd / deviation(net.blobs.get(blob)!.data);
  weights.set(layer, weights.get(layer)!.map((t) => new Tensor(t.dims, t.data.map((v) => v * f))));
}
