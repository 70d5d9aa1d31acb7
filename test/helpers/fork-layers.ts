// Small nets of fork layers written inline, run natively and through ONNX Runtime against a restated fork source
// (test/fork-layers.test.ts, test/flownet.test.ts).
import { expect } from 'vitest';
import type { Dialect } from '../../src/caffe/dialects.js';
import { parsePrototxt } from '../../src/caffe/prototxt.js';
import type { NetParameter } from '../../src/caffe/types.js';
import { runOnnx } from '../../src/onnx/run.js';
import { Net } from '../../src/runtime/net.js';
import { Tensor, sizeOf } from '../../src/tensor.js';
import { buildGraph } from '../../src/graph/graph.js';
import { declaredWeights } from '../../src/layers/layer.js';
import { randomArray, rng } from './compute.js';
import { TOLERANCE, relativeDifference } from './reference.js';

export type Expected = { dims: readonly number[]; data: ArrayLike<number> };

/** A net of V2 layers written inline, with weights by layer name, in `dialect`. */
export function netOf(layers: string, weights: Record<string, Tensor[]> = {}, dialect?: Dialect): Net {
  return Net.fromNetParameter(parsePrototxt(layers, 'fork.prototxt') as NetParameter, new Map(Object.entries(weights)), [], { dialect });
}

/** Runs the net natively and through ONNX Runtime (opset 17); every expected blob must match both. */
export async function expectBoth(net: Net, inputs: Record<string, Tensor>, expected: Record<string, Expected>): Promise<void> {
  net.forward(inputs);
  const native = Object.fromEntries(net.blobs);
  const onnx = await runOnnx(net.graph, inputs, { threads: 1, outputs: Object.keys(expected) });
  for (const [blob, want] of Object.entries(expected)) {
    expect(native[blob].dims, `${blob} shape`).toEqual(want.dims);
    expect(relativeDifference(native[blob].data, want.data), `${blob} native`).toBeLessThanOrEqual(TOLERANCE);
    const o = onnx.get(blob)!;
    expect(o.dims, `${blob} ONNX shape`).toEqual(want.dims);
    expect(relativeDifference(o.data, want.data), `${blob} ONNX`).toBeLessThanOrEqual(TOLERANCE);
  }
}

/** An Input layer of that name and shape. */
export const input = (name: string, dims: readonly number[]) => `layer { name: "${name}" type: "Input" top: "${name}" input_param { shape { ${dims.map((d) => `dim: ${d}`).join(' ')} } } }`;
/** Uniform values in [-amp, amp) from `seed`. */
export const random = (dims: readonly number[], seed: number, amp = 1) => new Tensor(dims, randomArray(sizeOf(dims), rng(seed)).map((v) => v * amp));

/**
 * Random weights of the shapes the net's layers declare, in `dialect` (a DataAugmentation's iteration count past its
 * recompute_mean): FlowNet 2.0's and DispNet's nets, whose fork layers no weights tool knows.
 */
export function syntheticWeights(net: NetParameter, dialect: Dialect): Map<string, Tensor[]> {
  const graph = buildGraph(net, new Map(), { dialect }), weights = new Map<string, Tensor[]>();
  graph.layers.forEach((l, k) => {
    const shapes = declaredWeights.get(l.def) ?? [];
    if (!shapes.length) return;
    weights.set(l.name, shapes.map((s, i) => (l.type === 'DataAugmentation' && i === 0 ? new Tensor(s, Float32Array.of(1e6)) : random(s, 100 + k * 7 + i, 1 / Math.sqrt(sizeOf(s.slice(1)) || 1)))));
  });
  return weights;
}
