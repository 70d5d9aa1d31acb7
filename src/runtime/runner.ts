// Net.run's side of the net worker (src/runtime/net-worker.ts): the net is handed over to a worker thread once,
// then each run is a message; runs queue in the worker, in order, and each gets its own fresh output tensors.
import type { NetParameter } from '../caffe/types.js';
import type { Graph } from '../graph/graph.js';
import { LayerError } from '../layers/layer.js';
import { type NetWorker, platform } from '../platform.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { memoryRefused } from '../kernels/wasm.js';
import { SpareBuffers } from '../util/spare.js';
import type { FromWorker, ToWorker, WireTensor } from './net-worker.js';
import type { KeepBlobs } from './net.js';

/** @internal Whether runs copy their inputs into buffers the worker gave back (benchmarks turn it off to compare). */
export const runnerSpare = { on: true };

interface Pending {
  resolve: (outputs: Record<string, Tensor>) => void;
  reject: (err: Error) => void;
}

/** A weight as it goes to the worker: shared wasm memory is copied out (its blocks are freed after the handover). */
function wire(t: Tensor): WireTensor {
  const shared = typeof SharedArrayBuffer !== 'undefined' && t.data.buffer instanceof SharedArrayBuffer;
  return { dims: [...t.dims], data: shared ? t.data.slice() : t.data };
}

/** An error from the worker as the caller would have got it from forward. */
function revive(e: { name: string; message: string; layer?: string; layerType?: string }): Error {
  if (e.name === 'LayerError' && e.layer !== undefined) {
    const err = new LayerError({ name: e.layer, type: e.layerType ?? '' }, '');
    err.message = e.message; // as the worker wrote it
    return err;
  }
  return e.name === 'CremaError' || e.name === 'LayerError' ? new CremaError(e.message) : new Error(e.message);
}

/** Net workers started and not yet terminated (Net.load collects garbage while any are: see runnersAlive). */
let alive = 0;

/** How many net workers are running: each holds a whole net, freed only by its net's dispose or collection. */
export function runnersAlive(): number {
  return alive;
}

/** Net workers started since the process began (never less: Net.load's reclaimDroppedNets compares two counts). */
let started = 0;

export function runnersStarted(): number {
  return started;
}

export class NetRunner {
  private readonly worker: NetWorker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | undefined;
  private ended = false;
  /** Its net was collected: the worker ends once the runs pending (a caller may still await one) are answered. */
  private retired = false;
  /** Input buffers the worker gave back, to copy the next runs' inputs into. */
  private readonly spare = new SpareBuffers();

  /** Starts the worker and hands it the net (its layers' definitions and weights, by structured clone). */
  constructor(graph: Graph, threads: number, keepBlobs: KeepBlobs) {
    this.worker = platform().startNetWorker();
    alive++;
    started++;
    this.worker.listen(
      (m) => this.settle(m as FromWorker),
      (err) => {
        this.fail(err);
        this.endIfRetired(); // the failure answered the runs a retired runner waited for: nothing else ends it
      },
    );
    try {
      const net: NetParameter = { name: graph.name, layer: graph.layers.map((l) => l.def) };
      const weights: [string, WireTensor[]][] = graph.layers.filter((l) => l.weights.length).map((l) => [l.name, l.weights.map(wire)]);
      this.post({ kind: 'init', net, weights, threads, memoryRefused: memoryRefused(), keepBlobs });
    } catch (err) {
      this.terminate().catch(() => undefined); // no runner is returned to end it (and count it out of `alive`)
      throw err;
    }
  }

  run(feeds: Record<string, Tensor>, fetches: string[] | undefined, backend: 'native' | 'onnx' = 'native'): Promise<Record<string, Tensor>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    // The inputs are copied into buffers the worker gave back (transferred, the caller's arrays untouched): a
    // structured clone gave the worker a fresh buffer each run, its pages touched for the first time.
    const spare = runnerSpare.on;
    const wireFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { dims: [...t.dims], data: spare ? this.spare.copyOf(t.data) : t.data }]));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.keepAlive(true);
      this.post({ kind: 'run', id, feeds: wireFeeds, fetches, backend }, spare ? Object.values(wireFeeds).map((t) => t.data.buffer as ArrayBuffer) : []);
    });
  }

  async terminate(): Promise<void> {
    this.fail(new CremaError('the net was disposed while this run was pending'));
    if (!this.ended) alive--;
    this.ended = true;
    await this.worker.terminate();
  }

  /** Ends the worker of a net dropped without dispose (Net's finalizer): now, or after the runs still pending. */
  retire(): void {
    this.retired = true;
    this.endIfRetired();
  }

  /** A retired runner's worker ends once no run is pending (a caller may still await one); only once. */
  private endIfRetired(): void {
    if (this.retired && this.pending.size === 0 && !this.ended) this.terminate().catch(() => undefined);
  }

  private post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.post(message, transfer);
  }

  private settle(m: FromWorker): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.keepAlive(false);
    if ('error' in m) p.reject(revive(m.error));
    else {
      if (runnerSpare.on) this.spare.keep(m.spare);
      p.resolve(Object.fromEntries(Object.entries(m.outputs).map(([k, t]) => [k, new Tensor(t.dims, t.data)])));
    }
    this.endIfRetired();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    this.worker.keepAlive(false);
  }
}
