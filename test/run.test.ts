// Async out: `await net.run(feeds, { fetches })` off the caller's thread (a worker; the event loop keeps ticking),
// fresh output tensors, concurrent runs that never corrupt each other; dispose / Symbol.asyncDispose; the inputs a
// net takes (crema Tensor, onnxruntime Tensor, plain { dims, type, data }) and the ones it refuses in one line.
// The worker runs dist/ (npm test builds it first).
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it, vi } from 'vitest';
import { encodeCaffemodel } from '../src/caffe/caffemodel.js';
import { loadNet } from '../src/caffe/load.js';
import type { Graph } from '../src/graph/graph.js';
import { CremaError, Net, Tensor, convert } from '../src/index.js';
import { wasmEngine } from '../src/kernels/wasm.js';
import type { NetWorker } from '../src/platform.js';
import { nodePlatform } from '../src/platform/node.js';
import { NetRunner, runnersAlive } from '../src/runtime/runner.js';
import { readNpy } from '../src/util/npy.js';
import { errorOf } from './helpers/cli.js';

const model = path.resolve('models/cifar10_full');
const load = (threads?: number) => Net.load(path.join(model, 'deploy.prototxt'), path.join(model, 'weights.caffemodel'), { threads });
const example = () => readNpy(path.join(model, 'example-input.npy'));

/** Batch n of distinct images: the example, scaled and shifted. */
function batchOf(n: number, seed = 0): Tensor {
  const one = example(), data = new Float32Array(n * one.size);
  for (let i = 0; i < n; i++) for (let j = 0; j < one.size; j++) data[i * one.size + j] = one.data[j] * (1 - 0.01 * (i + seed)) + (i + seed);
  return new Tensor([n, ...one.dims.slice(1)], data);
}

// First in the file: no net's worker from an earlier test is collected (and counted out) while it counts.
describe("net.run's workers are counted out of runnersAlive (Net.load collects garbage while any is)", () => {
  it('when the net cannot be handed over, and when the worker of a dropped net fails with a run pending', async () => {
    const before = runnersAlive();
    let failWorker = (_err: Error): void => {};
    let terminated = 0;
    const fake = (postThrows: boolean): NetWorker => ({
      post: () => {
        if (postThrows) throw new Error('could not be cloned');
      },
      keepAlive: () => {},
      listen: (_onMessage, onFailure) => void (failWorker = onFailure),
      terminate: async () => void terminated++,
    });
    const graph = { name: 'g', layers: [] } as unknown as Graph;
    const spy = vi.spyOn(nodePlatform, 'startNetWorker');
    try {
      spy.mockImplementation(() => fake(true));
      expect(() => new NetRunner(graph, 1, 'all')).toThrow('could not be cloned');
      expect([runnersAlive() - before, terminated]).toEqual([0, 1]);
      spy.mockImplementation(() => fake(false));
      const runner = new NetRunner(graph, 1, 'all');
      const pending = runner.run({ data: new Tensor([1], new Float32Array(1)) }, undefined);
      runner.retire(); // its net was collected: the worker ends once the run pending is answered
      expect(runnersAlive() - before).toBe(1);
      failWorker(new Error('the worker crashed'));
      await expect(pending).rejects.toThrow('the worker crashed');
      expect([runnersAlive() - before, terminated]).toEqual([0, 2]);
    } finally {
      spy.mockRestore();
    }
  });

  it("Net.load collects garbage for dropped nets' workers only when a worker started since its last collection", async () => {
    const gc = vi.spyOn(nodePlatform, 'collectGarbage');
    try {
      const inUse = await load(1);
      await inUse.run({ data: batchOf(1) }); // starts a worker
      gc.mockClear();
      const other = await load(1); // the worker's net may have been dropped: collects
      expect(gc).toHaveBeenCalledTimes(1);
      const third = await load(1); // no worker started since: nothing new to find (a collection took 25-35 ms)
      expect(gc).toHaveBeenCalledTimes(1);
      await other.run({ data: batchOf(1) });
      await (await load(1)).dispose(); // a second worker started: collects again
      expect(gc).toHaveBeenCalledTimes(2);
      for (const net of [inUse, other, third]) await net.dispose();
    } finally {
      gc.mockRestore();
    }
  });
});

describe('net.run', () => {
  it('gives forward numbers, fresh tensors, and the fetched blobs', async () => {
    const sync = await load(1);
    const want = Float32Array.from(sync.forward({ data: batchOf(2) }).prob.data);
    const wantNorm1 = Float32Array.from(sync.blobs.get('norm1')!.data);
    await using net = await load(1);
    const a = await net.run({ data: batchOf(2) });
    const b = await net.run({ data: batchOf(2) });
    expect(Object.keys(a)).toEqual(['prob']);
    expect(a.prob.dims).toEqual([2, 10]);
    expect(a.prob.data).toEqual(want);
    expect(b.prob.data).toEqual(want);
    expect(b.prob.data.buffer).not.toBe(a.prob.data.buffer);
    const f = await net.run({ data: batchOf(2) }, { fetches: ['norm1', 'prob'] });
    expect(Object.keys(f)).toEqual(['norm1', 'prob']);
    expect(f.norm1.data).toEqual(wantNorm1);
    await expect(net.run({ data: batchOf(1) }, { fetches: ['nope'] })).rejects.toThrow(/^run: options.fetches: no blob named 'nope'; the net's blobs: data, conv1, /);
    const handedOver = new CremaError('this net runs in its worker thread since its first run (net.run): use run, or load the net again for forward, reshape, convert or verify');
    expect(() => net.forward({ data: batchOf(1) })).toThrow(handedOver);
    await expect(convert(net)).rejects.toThrow(handedOver);
  });

  it("backend 'onnx': ONNX Runtime's numbers within 1e-5 (relative) of crema's, in order with native runs, batch and fetches changing", async () => {
    const sync = await load(1);
    const want = (x: Tensor, blob = 'prob') => (sync.forward({ data: x }), Float32Array.from(sync.blobs.get(blob)!.data));
    const close = (got: Tensor, expected: Float32Array) => {
      expect(got.size).toBe(expected.length);
      let worst = 0, scale = 1; // verify's rule: max|native - onnx| <= tolerance * max(1, max|native|)
      for (let i = 0; i < expected.length; i++) {
        worst = Math.max(worst, Math.abs(got.data[i] - expected[i]));
        scale = Math.max(scale, Math.abs(expected[i]));
      }
      expect(worst).toBeLessThanOrEqual(1e-5 * scale);
    };
    await using net = await load(2);
    const [x2, x3] = [batchOf(2), batchOf(3, 7)];
    // Queued at once: the worker takes them in order (a conversion's shapes never meet a native forward).
    const [a, b, c, d] = await Promise.all([
      net.run({ data: x2 }, { backend: 'onnx' }),
      net.run({ data: x3 }),
      net.run({ data: x3 }, { backend: 'onnx' }),
      net.run({ data: x2 }, { backend: 'onnx', fetches: ['norm1', 'prob'] }),
    ]);
    close(a.prob, want(x2));
    expect(b.prob.data).toEqual(want(x3));
    close(c.prob, want(x3));
    expect(Object.keys(d)).toEqual(['norm1', 'prob']);
    close(d.norm1, want(x2, 'norm1'));
    close(d.prob, want(x2));
    await expect(net.run({ data: x2 }, { backend: 'gpu' } as never)).rejects.toThrow(new CremaError("run: options.backend is 'native' or 'onnx', got 'gpu'"));
  });

  it('ONNX sessions: one for every batch size where the conversion does not depend on it, else one per shape', async () => {
    const { OnnxSessions } = await import('../src/onnx/run.js');
    const sync = await load(1);
    const sessions = new OnnxSessions(sync, { anyBatch: true });
    for (const [n, seed] of [[2, 0], [3, 4], [1, 9], [2, 0]]) {
      const x = batchOf(n, seed);
      const got = (await sessions.run({ data: x })).get('prob')!;
      expect(got.dims).toEqual([n, 10]);
      const want = sync.forward({ data: x }).prob.data;
      for (let i = 0; i < want.length; i++) expect(Math.abs(got.data[i] - want[i])).toBeLessThanOrEqual(1e-5);
    }
    expect(sessions.made).toBe(1);
    await sessions.release();
    // A Reshape to (1, -1) puts the whole batch in one row: its output does not follow the batch size.
    const flat = Net.fromNetParameter({ name: 'flat', layer: [
      { name: 'in', type: 'Input', top: ['x'], input_param: { shape: [{ dim: [2, 4] }] } },
      { name: 'flat', type: 'Reshape', bottom: ['x'], top: ['y'], reshape_param: { shape: { dim: [1, -1] } } },
    ] } as never);
    const perShape = new OnnxSessions(flat, { anyBatch: true });
    for (const n of [2, 3, 2]) {
      const x = new Tensor([n, 4], Float32Array.from({ length: 4 * n }, (_, i) => i));
      const y = (await perShape.run({ x })).get('y')!;
      expect([...y.dims]).toEqual([1, 4 * n]);
      expect([...y.data]).toEqual([...x.data]);
    }
    expect(perShape.made).toBe(3);
    await perShape.release();
  });

  it('ONNX sessions: runs alternating fetch lists share one session that outputs both (each run gets only its own)', async () => {
    const { OnnxSessions } = await import('../src/onnx/run.js');
    const sync = await load(1);
    const sessions = new OnnxSessions(sync, { anyBatch: true });
    const plan: [string[] | undefined, number, number][] = [
      [undefined, 2, 1], // the net's output: prob
      [['norm1', 'prob'], 2, 2], // norm1 is new: a session for prob and norm1
      [['prob'], 3, 2],
      [['norm1'], 1, 2],
      [['data', 'conv1'], 2, 3], // conv1 is new (data, an input, is passed through)
      [['norm1', 'prob'], 2, 3],
    ];
    for (const [fetches, n, made] of plan) {
      const x = batchOf(n, made);
      const got = await sessions.run({ data: x }, fetches);
      sync.forward({ data: x });
      const names = fetches ?? ['prob'];
      expect([...got.keys()]).toEqual([...sync.blobs.keys()].filter((b) => names.includes(b)));
      for (const name of names) {
        const want = sync.blobs.get(name)!.data, value = got.get(name)!;
        expect(value.dims).toEqual(sync.blobs.get(name)!.dims);
        let worst = 0, scale = 1; // verify's rule: max|native - onnx| <= 1e-5 * max(1, max|native|)
        for (let i = 0; i < want.length; i++) {
          worst = Math.max(worst, Math.abs(value.data[i] - want[i]));
          scale = Math.max(scale, Math.abs(want[i]));
        }
        expect(worst).toBeLessThanOrEqual(1e-5 * scale);
      }
      expect(sessions.made).toBe(made);
    }
    await expect(sessions.run({ data: batchOf(1) }, ['nope'])).rejects.toThrow(/^no blob named 'nope'; the net's blobs: data, conv1, /);
    await sessions.release();
  });

  it('runs concurrent calls without mixing them up', async () => {
    const sync = await load(1);
    const inputs = [0, 1, 2, 3].map((s) => batchOf(3, s * 5));
    const want = inputs.map((x) => Float32Array.from(sync.forward({ data: x }).prob.data));
    const net = await load(2);
    const got = await Promise.all(inputs.map((x) => net.run({ data: x })));
    got.forEach((g, i) => expect(g.prob.data).toEqual(want[i]));
    await net.dispose();
  });

  it('keeps the event loop ticking during a batch-256 forward (forward blocks it)', async () => {
    const net = await load(2);
    const data = batchOf(256);
    const ticksDuring = async (work: () => Promise<unknown>) => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 2);
      await new Promise((r) => setTimeout(r, 10)); // the interval is running
      const before = ticks;
      await work();
      clearInterval(timer);
      return ticks - before;
    };
    const sync = await load(2);
    expect(await ticksDuring(async () => sync.forward({ data }))).toBe(0);
    await sync.dispose();
    expect(await ticksDuring(() => net.run({ data }))).toBeGreaterThanOrEqual(3);
    await net.dispose();
  });

  it("copies each run's inputs into buffers the worker gave back: the caller's arrays stay theirs, each run its own numbers", async () => {
    const sync = await load(1);
    const inputs = [0, 1, 2, 3].map((s) => batchOf(2, s * 7));
    const want = inputs.map((x) => Float32Array.from(sync.forward({ data: x }).prob.data));
    const kept = inputs.map((x) => Float32Array.from(x.data));
    const net = await load(1);
    const spare = () => (net as unknown as { runner: { spare: { buffers: ArrayBuffer[] } } }).runner.spare.buffers;
    const outputs: ArrayBuffer[] = [];
    for (const i of [0, 1, 0, 2, 3, 1]) {
      const got = await net.run({ data: inputs[i] });
      expect(got.prob.data, `input ${i}`).toEqual(want[i]);
      expect(spare().map((b) => b.byteLength)).toEqual([inputs[0].data.byteLength]); // one, given back and reused
      expect(spare()).not.toContain(got.prob.data.buffer);
      outputs.push(got.prob.data.buffer as ArrayBuffer);
    }
    expect(new Set(outputs).size).toBe(outputs.length); // every output is the caller's own
    // Concurrent runs take the one buffer and fresh copies; all come back (at most 4 kept); a view into a larger
    // array is copied as well.
    const big = new Float32Array(inputs[2].data.length + 8);
    big.set(inputs[2].data, 8);
    const view = new Tensor(inputs[2].dims, big.subarray(8));
    const got = await Promise.all([...inputs, view].map((x) => net.run({ data: x })));
    got.forEach((g, i) => expect(g.prob.data, `concurrent ${i}`).toEqual(want[i === 4 ? 2 : i]));
    expect(spare().length).toBe(4);
    inputs.forEach((x, i) => expect(x.data, `input ${i} untouched`).toEqual(kept[i]));
    expect(big.subarray(8)).toEqual(kept[2]);
    await net.dispose();
  });

  it('dispose releases the net; a disposed net says so', async () => {
    const net = await load(1);
    net.forward({ data: example() });
    await net.dispose();
    await net.dispose(); // twice is fine
    expect(() => net.forward({ data: example() })).toThrow(new CremaError('this net was disposed'));
    await expect(net.run({ data: example() })).rejects.toThrow(new CremaError('this net was disposed'));
    expect(() => net.reshape({ data: [1, 3, 32, 32] })).toThrow(new CremaError('this net was disposed'));
    const running = await load(1);
    const pending = expect(running.run({ data: batchOf(64) })).rejects.toThrow(new CremaError('the net was disposed while this run was pending'));
    await running.dispose();
    await pending;
  });
});

describe('inputs a net takes', () => {
  it('takes crema, onnxruntime and plain tensors alike', async () => {
    const net = await load(1);
    const x = example();
    const want = Float32Array.from(net.forward({ data: x }).prob.data);
    for (const value of [new ort.Tensor('float32', x.data, x.dims), { dims: [...x.dims], type: 'float32', data: x.data }, x.data]) {
      expect(net.forward({ data: value }).prob.data).toEqual(want);
    }
    const out = net.forward({ data: x }).prob;
    const asOrt = new ort.Tensor(out.type, out.data, out.dims); // no copy: the same buffer
    expect(asOrt.data).toBe(out.data);
  });

  it('refuses other element types, null and undefined in one line', async () => {
    const net = await load(1);
    const x = example();
    const cases: [unknown, string][] = [
      [null, "input 'data' is null: give a Tensor, an onnxruntime Tensor, { dims, type: 'float32', data: Float32Array } or a Float32Array"],
      [undefined, "input 'data' is undefined: give a Tensor, an onnxruntime Tensor, { dims, type: 'float32', data: Float32Array } or a Float32Array"],
      [Float64Array.from(x.data), "input 'data' is a Float64Array: give a Tensor, an onnxruntime Tensor, { dims, type: 'float32', data: Float32Array } or a Float32Array"],
      [Array.from(x.data), "input 'data' is an array: give a Tensor, an onnxruntime Tensor, { dims, type: 'float32', data: Float32Array } or a Float32Array"],
      [new ort.Tensor('float64', Float64Array.from(x.data), x.dims), "input 'data' is a float64 tensor: crema computes in float32 (convert its data with Float32Array.from)"],
      [{ dims: x.dims, data: Array.from(x.data) }, "input 'data' has data of type an array: crema computes in float32 (Float32Array.from(data) converts it)"],
      [{ dims: [1, 3, 32], type: 'float32', data: x.data }, "input 'data' has 3072 values, its dims [1, 3, 32] need 96"],
    ];
    for (const [value, message] of cases) expect(() => net.forward({ data: value as Float32Array }), message).toThrow(new CremaError(message));
    expect(() => net.forward(null as unknown as Record<string, Tensor>)).toThrow(new CremaError('forward takes an object of inputs by name (e.g. { data: tensor }), got null'));
    expect(() => net.reshape(null as unknown as Record<string, number[]>)).toThrow(
      new CremaError('reshape takes an object of inputs by name (e.g. { data: [1, 3, 224, 224] }), got null'));
    await expect(net.run({ data: null as unknown as Float32Array })).rejects.toThrow(/^input 'data' is null: /);
    // every input, as onnxruntime's session.run (run({}) ran on the zeros of a fresh net's input)
    await expect(net.run({})).rejects.toThrow(new CremaError("run: no value for 'data' [1, 3, 32, 32] (run takes every input: { data })"));
    // a misspelt input is named with the missing one (it read as if nothing had been given)
    await expect(net.run({ date: new Float32Array(3072) })).rejects.toThrow(new CremaError("run: no value for 'data' [1, 3, 32, 32] (run takes every input: { data }; 'date' is not an input of the net)"));
    await expect(net.run({ Data: new Float32Array(3072), prob: new Float32Array(10) })).rejects.toThrow(new CremaError("run: no value for 'data' [1, 3, 32, 32] (run takes every input: { data }; 'Data', 'prob' are not inputs of the net)"));
  });
});

describe('memory of nets loaded and dropped', () => {
  // A 64 MB fully connected layer: Net.load moves its weights into the kernels' wasm memory.
  const K = 4096, N = 4096;
  const prototxt = `name: "big"\ninput: "data"\ninput_shape { dim: 1 dim: ${K} }\nlayer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: ${N} bias_term: false } }\n`;
  const weights = encodeCaffemodel({ name: 'big', layer: [{ name: 'ip', type: 'InnerProduct', blobs: [{ shape: { dim: [N, K] }, data: new Float32Array(N * K).fill(0.001) }] }] });
  const wasmBytes = () => wasmEngine()?.memory.buffer.byteLength ?? 0;

  it.each([
    ['disposed', true],
    ['dropped without dispose', false],
  ])('grows the wasm memory by about one net, not one per load (%s)', async (_, dispose) => {
    const first = await Net.load({ prototxt, weights });
    first.forward({ data: new Float32Array(K).fill(1) });
    await first.dispose();
    const start = wasmBytes();
    for (let i = 0; i < 12; i++) {
      const net = await Net.load({ prototxt, weights });
      expect(net.forward({ data: new Float32Array(K).fill(1) }).ip.data[0]).toBeCloseTo(K * 0.001, 3);
      if (dispose) await net.dispose();
    }
    expect(wasmEngine(), 'the wasm kernels are built').not.toBeNull();
    expect(wasmBytes() - start).toBeLessThanOrEqual(2 * N * K * 4);
  });

  it.each([
    ['awaiting between them (a server)', true],
    ['in a loop that never awaits (one job: its WeakRefs keep their targets until it ends)', false],
  ])('a memory that fills up frees the blocks of nets dropped without dispose, with no Net.load to collect them, %s', async (_, awaits) => {
    // One weights map allocates no JavaScript memory that would make V8 collect: the 64 MB moved copy of each
    // dropped net stays until an allocation would grow the memory or finds it full. Without awaiting, the nets
    // dropped in the loop were kept alive by the job's WeakRefs, and the fourth net threw the 4 GiB error.
    const engine = wasmEngine()!;
    expect(engine, 'the wasm kernels are built').not.toBeNull();
    const { net: parsed, weights: map } = await loadNet(new TextEncoder().encode(prototxt), weights);
    const limit = engine.heap.limit;
    engine.heap.limit = engine.memory.buffer.byteLength + 3 * N * K * 4; // room for three more nets, not ten
    const one = () => Net.fromNetParameter(parsed, map, [], { threads: 1 }).forward({ data: new Float32Array(K).fill(1) }).ip.data[0];
    try {
      for (let i = 0; i < 10; i++) {
        expect(one()).toBeCloseTo(K * 0.001, 3);
        if (awaits) await new Promise((resolve) => setImmediate(resolve)); // a new task, as a server's next request
      }
      // Nets held, not dropped: the refusal says how many hold weights there (the ones that ran: packed at their
      // first forward; the rest keep the map's JavaScript arrays) and what the memory holds.
      const held = Array.from({ length: Math.ceil(engine.heap.limit / (N * K * 4)) }, () => Net.fromNetParameter(parsed, map, [], { threads: 1 }));
      const refusal = /^layer 'ip' \(InnerProduct\): the wasm kernels' 4 GiB of memory cannot fit 64 MiB more \((\d+) MiB in use, (\d+) nets hold weights there: dispose\(\) the nets no longer used\): CREMA_KERNELS=js runs blobs this large in JavaScript$/;
      let ran = 0;
      const message = errorOf(() => held.forEach((net) => {
        net.forward({ data: new Float32Array(K) });
        ran++;
      }));
      expect(message).toMatch(refusal);
      const [, mib, nets] = refusal.exec(message)!;
      expect([Number(nets), Number(mib) >= 64 * ran, ran >= 3]).toEqual([ran, true, true]); // the ones that ran
      await Promise.all(held.map((net) => net.dispose()));
    } finally {
      engine.heap.limit = limit;
    }
  });

  it('Net.load collects garbage for dropped nets only where the memory would grow: a big net held costs other loads none', async () => {
    const gc = vi.spyOn(nodePlatform, 'collectGarbage');
    try {
      const big = await Net.load({ prototxt, weights }); // 64 MB held (a collection at every load while so, before)
      await (await load(1)).dispose(); // its blocks free ones now; a collection for workers started before, if any
      gc.mockClear();
      for (let i = 0; i < 3; i++) await (await load(1)).dispose();
      expect(gc).toHaveBeenCalledTimes(0);
      // Big nets dropped without dispose still do not grow the memory a net a load (the first growth frees them).
      const bytes = wasmBytes();
      for (let i = 0; i < 6; i++) (await Net.load({ prototxt, weights })).forward({ data: new Float32Array(K).fill(1) });
      expect(wasmBytes() - bytes).toBeLessThanOrEqual(N * K * 4);
      await big.dispose();
    } finally {
      gc.mockRestore();
    }
  });

  it('a memory found full of live blocks collects again only once memory was freed, grew or a net was built (a refusal caught at every call costs none)', async () => {
    // A heap of its own, full with three 1 MiB blocks held (after its first page: the job control block's).
    const engine = wasmEngine()!;
    expect(engine, 'the wasm kernels are built').not.toBeNull();
    const heap = new (engine.heap.constructor as new (m: WebAssembly.Memory) => typeof engine.heap)(new WebAssembly.Memory({ initial: 1, maximum: 1024, shared: true }));
    const MiB = 2 ** 20, owners: (object | undefined)[] = [{}, {}, {}];
    heap.limit = 65536 + 3 * MiB;
    const blocks = owners.map((owner) => heap.own(owner!, heap.alloc(MiB), undefined));
    const gc = vi.spyOn(nodePlatform, 'collectGarbage');
    const collections = () => gc.mock.calls.length;
    const refused = /^the wasm kernels' 4 GiB of memory cannot fit (1|2) MiB more/;
    try {
      expect(heap.tryAlloc(MiB)).toBe(0); // a full collection that freed nothing: none again until memory changes
      expect(collections()).toBe(1);
      // Correlation's scratch falling back at every call, in this job and later ones, any size: no more collections
      // (one each, before: 25-35 ms a call).
      for (let call = 0; call < 20; call++) {
        expect(() => heap.alloc(call % 2 ? 2 * MiB : MiB)).toThrow(refused);
        if (call % 5 === 4) await Promise.resolve(); // a new job
      }
      expect(heap.tryAlloc(MiB)).toBe(0);
      expect(collections()).toBe(1);
      owners[0] = undefined; // dropped, not freed: found by its finalizer after V8's own collection, or...
      await Promise.resolve();
      expect(() => heap.alloc(MiB)).toThrow(refused);
      expect(collections()).toBe(1);
      heap.reclaimAtGrowth(); // ...once a net is built (an older one may have been dropped): collected then
      expect(heap.alloc(MiB)).not.toBe(0);
      expect(collections()).toBe(2);
      expect(heap.tryAlloc(MiB)).toBe(0); // full of live blocks again
      expect(collections()).toBe(3);
      expect(heap.tryAlloc(MiB)).toBe(0);
      expect(collections()).toBe(3);
      heap.releaseOwned(blocks[1]); // memory freed: a new generation, where a refusal is worth a collection again
      expect(heap.tryAlloc(MiB)).not.toBe(0); // placed in the freed block: no collection needed
      expect(() => heap.alloc(MiB)).toThrow(refused);
      expect(collections()).toBe(4);
      expect(() => heap.alloc(MiB)).toThrow(refused);
      expect(collections()).toBe(4);
    } finally {
      gc.mockRestore();
    }
  });

  it("a refusal caught at every call stops collecting while the kernels' own scratch churns between the calls (another layer's smaller scratch, then Correlation's refused)", () => {
    // The engine's scratch gives its block back before it takes a larger one: that release of an unowned block once
    // counted as memory freed, and each forward's refusal collected again (one collection a forward).
    const engine = wasmEngine()!;
    expect(engine, 'the wasm kernels are built').not.toBeNull();
    const gc = vi.spyOn(nodePlatform, 'collectGarbage'), limit = engine.heap.limit;
    // Larger than any block the file's earlier tests left free (the scratch, blobs): past the heap's top.
    const big = (engine.heap as unknown as { top: number }).top + 64 * 2 ** 20;
    engine.heap.limit = engine.heap.used + 4 * 2 ** 20; // no room for `big` more; the small scratch fits
    try {
      const collections: number[] = [];
      for (let forward = 0; forward < 8; forward++) {
        engine.scratch(64 * 1024); // a convolution's
        expect(() => engine.scratch(big)).toThrow(/^the wasm kernels' 4 GiB of memory cannot fit \d+ MiB more/); // Correlation's: falls back to JavaScript
        collections.push(gc.mock.calls.length);
      }
      // The first refusal collects (a second one too when that freed blocks of owners the earlier tests dropped), then
      // none: the memory is as full of live blocks as it was.
      expect(collections[1]).toBeLessThanOrEqual(2);
      expect(collections.slice(2)).toEqual(new Array(6).fill(collections[1]));
    } finally {
      engine.heap.limit = limit;
      gc.mockRestore();
    }
  });

  it('the worker thread of a net dropped after net.run ends once the net is collected (each held a whole net)', async () => {
    const before = runnersAlive();
    const want = Float32Array.from((await load(1)).forward({ data: batchOf(1) }).prob.data);
    for (let i = 0; i < 6; i++) {
      const net = await load(1); // collects the nets dropped before it (and ends their workers)
      expect((await net.run({ data: batchOf(1) })).prob.data).toEqual(want);
    }
    // A run still pending when its net is collected is answered before the worker ends.
    // Loaded and run in a function that returns: a stale register of this suspended test function kept the net.
    const dropped = async (): Promise<{ pending: Promise<Record<string, Tensor>> }> => ({ pending: (await load(1)).run({ data: batchOf(1) }) });
    const { pending } = await dropped();
    await load(1); // collects that net while its worker still starts (tens of ms): its run is pending
    const during = runnersAlive();
    expect(during - before).toBeLessThanOrEqual(2); // this loop's last net, or its last two: not seven
    expect((await pending).prob.data).toEqual(want);
    // Its worker ended as the run was answered, with no collection since: its net was collected while it was pending.
    expect(runnersAlive()).toBe(during - 1);
  });
});

// The net's memory plan goes to its worker with it: the worker's forward shares the storage of the blobs not kept,
// as forward does here; the outputs and kept blobs are keepBlobs 'all''s, bit for bit.
describe('net.run with keepBlobs', () => {
  const bytesOf = (t: Tensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const plannedNet = () => Net.load(path.join(model, 'deploy.prototxt'), path.join(model, 'weights.caffemodel'), { threads: 1, keepBlobs: ['pool1'] });

  it("gives keepBlobs 'all''s outputs and kept blobs bit for bit, and refuses a fetch of a blob it does not keep in one line", async () => {
    const all = await load(1), planned = await plannedNet(), x = batchOf(2);
    const a = await all.run({ data: x }, { fetches: ['prob', 'pool1'] }), b = await planned.run({ data: x }, { fetches: ['prob', 'pool1'] });
    for (const name of ['prob', 'pool1']) expect(bytesOf(b[name]).equals(bytesOf(a[name])), name).toBe(true);
    await expect(planned.run({ data: x }, { fetches: ['conv2'] })).rejects.toThrow(
      "run: options.fetches names blob 'conv2', which net.keepBlobs does not keep (it keeps the inputs, the outputs and the blobs it lists, the others' storage going to later blobs): list 'conv2' in it, or set it to 'all', before the net's first run",
    );
    await Promise.all([all.dispose(), planned.dispose()]);
  });

  it("the worker's net is planned: a blob it released, fetched past run's check, is refused naming it", async () => {
    const { serveNet } = await import('../src/runtime/net-worker.js');
    const { net: parsed, weights: map } = await loadNet(path.join(model, 'deploy.prototxt'), path.join(model, 'weights.caffemodel'));
    const replies: unknown[] = [];
    const handle = serveNet((m) => void replies.push(m));
    const weights = [...map].map(([name, ts]) => [name, ts.map((t) => ({ dims: [...t.dims], data: t.data }))] as [string, { dims: number[]; data: Float32Array }[]]);
    const x = batchOf(1);
    handle({ kind: 'init', net: parsed, weights, threads: 1, memoryRefused: false, keepBlobs: ['pool1'] });
    handle({ kind: 'run', id: 1, feeds: { data: { dims: [...x.dims], data: x.data } }, fetches: ['prob', 'pool1', 'conv1'] });
    await vi.waitFor(() => expect(replies.length).toBe(1));
    expect(replies[0]).toMatchObject({ id: 1, error: { name: 'CremaError', message: expect.stringMatching(/^net\.blobs: blob 'conv1' holds no value: /) } });
  });
});
