// The thread side of Net.run (src/runtime/runner.ts): holds the net handed over to it and runs each request's
// forward in turn, answering with fresh copies of the fetched blobs (transferred, not copied again) and giving the
// input buffers back.
import type { NetParameter } from '../caffe/types.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { useKernels } from '../kernels/wasm.js';
import { wholeBuffers } from '../util/spare.js';
import { checkLayerFiles, layerFileBlobs, writeLayerFiles } from './layer-files.js';
import { type KeepBlobs, Net } from './net.js';

/** A tensor as it crosses threads. */
export interface WireTensor {
  dims: number[];
  data: Float32Array;
}

export type ToWorker =
  | { kind: 'init'; net: NetParameter; weights: [string, WireTensor[]][]; threads: number; memoryRefused: boolean; keepBlobs: KeepBlobs }
  | { kind: 'run'; id: number; feeds: Record<string, WireTensor>; fetches?: string[]; backend?: 'native' | 'onnx' };

export type FromWorker =
  /** `spare`: the run's input buffers, given back to copy the next inputs into (runner.ts, SpareBuffers). */
  | { id: number; outputs: Record<string, WireTensor>; spare: ArrayBuffer[] }
  | { id: number; error: { name: string; message: string; layer?: string; layerType?: string; code?: string } };

/**
 * The message handler of a net worker; `post` sends a reply, transferring the listed buffers. Messages are handled
 * one at a time, in order: an ONNX Runtime run awaits, and a forward must not start while the graph's shapes are
 * those of a conversion in progress (src/onnx/run.ts, atShapes).
 */
export function serveNet(post: (message: FromWorker, transfer: ArrayBuffer[]) => void): (message: ToWorker) => void {
  let net: Net | undefined;
  // The ONNX backend by dynamic import only: the core reaches no ONNX Runtime statically (test/bytes.test.ts).
  let sessions: InstanceType<typeof import('../onnx/run.js').OnnxSessions> | undefined;
  let queue = Promise.resolve();
  const handle = async (message: ToWorker): Promise<void> => {
    if (message.kind === 'init') {
      if (message.memoryRefused) useKernels('js'); // the thread that sent it said so on stderr already
      const weights = new Map(message.weights.map(([name, ts]) => [name, ts.map((t) => new Tensor(t.dims, t.data))]));
      // The net's memory plan goes with it: run's fetches are among the blobs it keeps (Net.run checks them).
      net = Net.fromNetParameter(message.net, weights, [], { threads: message.threads, keepBlobs: message.keepBlobs });
      return;
    }
    try {
      if (!net) throw new CremaError('the net worker got a run before its net');
      const feeds = Object.fromEntries(Object.entries(message.feeds).map(([k, t]) => [k, new Tensor(t.dims, t.data)]));
      let blobs: Map<string, Tensor>, names: string[];
      checkLayerFiles(net.layersAsIs); // HDF5Output's file, refused before the work
      if (message.backend === 'onnx') {
        names = message.fetches ?? net.outputs;
        sessions ??= new (await import('../onnx/run.js')).OnnxSessions(net, { threads: net.threads, anyBatch: true, anySize: true });
        blobs = await sessions.run(feeds, [...new Set([...names, ...layerFileBlobs(net.layersAsIs)])]);
      } else {
        const out = net.forward(feeds);
        names = message.fetches ?? Object.keys(out);
        blobs = net.blobs;
      }
      await writeLayerFiles(net.layersAsIs, blobs);
      const outputs: Record<string, WireTensor> = {};
      for (const name of names) {
        const blob = blobs.get(name)!;
        outputs[name] = { dims: [...blob.dims], data: blob.data.slice() };
      }
      // The net copied the inputs into its own memory (ONNX Runtime into its own): their buffers go back, to be filled again.
      const spare = wholeBuffers(Object.values(message.feeds).map((t) => t.data));
      post({ id: message.id, outputs, spare }, [...Object.values(outputs).map((t) => t.data.buffer as ArrayBuffer), ...spare]);
    } catch (err) {
      const e = err as Error & { layer?: string; layerType?: string; code?: string };
      post({ id: message.id, error: { name: e.name, message: e.message, layer: e.layer, layerType: e.layerType, code: e.code } }, []);
    }
  };
  return (message) => {
    queue = queue.then(() => handle(message));
  };
}
