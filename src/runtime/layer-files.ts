// The files layers write (Layer.hdf5File: HDF5Output's), where the platform writes files (Node: `crema run` and
// Net.run; a browser writes none): checked before a run's forward, written after it, so a forward that fails
// midway writes nothing and leaves the file as it was (Caffe opens and truncates it when the net loads).
import type { GraphLayer } from '../graph/graph.js';
import { LayerError } from '../layers/layer.js';
import { type Hdf5Writer, platform } from '../platform.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';

/** The writer, when this platform writes the files and the net has any. */
function writerFor(layers: GraphLayer[]): Hdf5Writer | undefined {
  if (!layers.length) return undefined;
  const writer = platform().hdf5Writer?.();
  return writer === 'missing' ? undefined : writer;
}

function fileLayers(layers: readonly GraphLayer[]): GraphLayer[] {
  return layers.filter((l) => l.impl.hdf5File);
}

/** The blobs the files hold, for a run that fetches blobs by name (ONNX Runtime gives only those asked). */
export function layerFileBlobs(all: readonly GraphLayer[]): string[] {
  const layers = fileLayers(all);
  return writerFor(layers) ? layers.flatMap((l) => l.bottoms) : [];
}

/** Refuses, before the forward, a file that could not be written: one line naming the layer and the file. */
export function checkLayerFiles(all: readonly GraphLayer[]): void {
  const layers = fileLayers(all), writer = writerFor(layers);
  if (!writer) return;
  for (const l of layers) {
    // The file is written from the blobs after the forward; Caffe writes them as they are at the layer. A later layer
    // writing one in place would change what the file holds: refused, not written wrong.
    const [later, blob] = all.slice(all.indexOf(l) + 1).flatMap((m) => m.tops.filter((t) => l.bottoms.includes(t)).map((t) => [m.name, t]))[0] ?? [];
    if (later !== undefined)
      throw new LayerError(l.def, `layer '${later}' after it writes '${blob}' in place: crema writes the file from the blobs after the forward, Caffe at this layer; give '${later}' a top of its own`);
    try {
      writer.check(l.impl.hdf5File!.file);
    } catch (err) {
      throw asLayers(l, err);
    }
  }
}

/** Writes each layer's file from the blobs after a whole forward (`blobs`: the net's, or ONNX Runtime's outputs). */
export async function writeLayerFiles(all: readonly GraphLayer[], blobs: ReadonlyMap<string, Tensor>): Promise<void> {
  const layers = fileLayers(all), writer = writerFor(layers);
  if (!writer) return;
  for (const l of layers) {
    const { file, datasets, dims } = l.impl.hdf5File!;
    const tensors = datasets.map((name, i) => {
      const blob = blobs.get(l.bottoms[i])!;
      return { name, tensor: new Tensor(dims(blob.dims), blob.data) };
    });
    await writer.write(file, tensors).catch((err: unknown) => Promise.reject(asLayers(l, err)));
  }
}

/** A one-line refusal naming the file (a CremaError), said as the layer's. */
function asLayers(l: GraphLayer, err: unknown): unknown {
  return err instanceof CremaError && !(err instanceof LayerError) ? new LayerError(l.def, err.message) : err;
}
