// A caller keeps a net's output and drops the net: the output must keep its values. Outputs of layers that size
// their tops (Filter: the start of the larger room the net keeps, Layer.sizesTops) and a Concat's laid-out bottoms
// (views of the Concat's top, concat-views.ts) are views of a larger wasm array, which owns the block; before the
// view kept it alive, the block was freed with the net and the next net's blobs landed in it (7 read back as -1).
// A file of its own: a fresh process, whose freed blocks the next nets' blobs reuse first.
import { describe, expect, it } from 'vitest';
import { wasmEngine } from '../src/kernels/wasm.js';
import { nodePlatform } from '../src/platform/node.js';
import { Net } from '../src/runtime/net.js';
import type { Tensor } from '../src/tensor.js';

const N = 64, INNER = 16384; // 4 MiB a blob

const FILTER = `name: "f"
input: "data" input_shape { dim: ${N} dim: ${INNER} }
input: "sel" input_shape { dim: ${N} }
layer { name: "f" type: "Filter" bottom: "data" bottom: "sel" top: "out" }
`;
const filterFeeds = (value: number) => {
  const sel = new Float32Array(N).fill(1);
  sel[0] = 0; // 63 rows of 64: a view of the start of the room
  return { data: new Float32Array(N * INNER).fill(value), sel };
};

const CONCAT = `name: "c"
input: "data" input_shape { dim: 1 dim: ${N} dim: 128 dim: 128 }
layer { name: "a" type: "ReLU" bottom: "data" top: "a" }
layer { name: "b" type: "ReLU" bottom: "data" top: "b" }
layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "cat" }
`;
const concatFeeds = (value: number) => ({ data: new Float32Array(N * 128 * 128).fill(value) });

/** Loads a net, runs it and returns the blob kept (the net is dropped as this returns: nothing else holds it). */
async function keptBlob(prototxt: string, feeds: Record<string, Float32Array>, blob: string): Promise<Tensor> {
  const net = await Net.load({ prototxt });
  net.forward(feeds);
  return net.blobs.get(blob)!;
}

describe('an output kept after its net is dropped keeps its values', () => {
  it.each([
    ['a Filter output (the start of the room the net keeps)', FILTER, filterFeeds, 'out'],
    ["a Concat's laid-out bottom (a view of the Concat's top)", CONCAT, concatFeeds, 'b'],
  ])('%s', async (_, prototxt, feeds, blob) => {
    const engine = wasmEngine();
    expect(engine, 'the wasm kernels are built').not.toBeNull();
    const kept = await keptBlob(prototxt, feeds(7), blob);
    expect(engine!.addressOf(kept.data), 'the blob lives in wasm memory').not.toBe(0);
    const others: Net[] = [];
    for (let i = 0; i < 3; i++) {
      // The dropped net's blocks freed (a full collection, then their finalizers), and other nets' blobs laid there.
      nodePlatform.collectGarbage!(true);
      await new Promise((resolve) => setImmediate(resolve));
      const net = await Net.load({ prototxt });
      net.forward(feeds(-1));
      others.push(net);
    }
    expect([kept.data[0], kept.data[kept.data.length - 1], kept.data.every((v) => v === 7)]).toEqual([7, 7, true]);
    await Promise.all(others.map((net) => net.dispose()));
  });
});
