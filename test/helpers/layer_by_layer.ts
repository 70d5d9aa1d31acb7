import fs from 'node:fs';
import path from 'node:path';
import { readNetPrototxt, readWeightsFile } from '../../src/caffe/load.js';
import type { LayerParameter } from '../../src/caffe/types.js';
import { layerType } from '../../src/layers/registry.js';
import { Tensor } from '../../src/tensor.js';
import { readNpy } from '../../src/util/npy.js';
import { relativeError } from './reference.js';

/** What one case gave: every stored blob's shape (ours vs Caffe's) and relative error. */
export interface BlobResult {
  blob: string;
  ours: number[];
  caffe: number[];
  error: number;
  /** True when crema computed this blob (a layer of `types` wrote it last); false when it is Caffe's, copied. */
  computed: boolean;
}

/**
 * Runs a reference case (sweep layout) layer by layer, in net order, with ONLY the layer types in `types`
 * computed by crema: every other layer's tops are taken from Caffe's stored blobs. So a case with, say,
 * Convolutions tests our Eltwise and Concat on Caffe's own inputs, independently of our Convolution.
 * Each of our layers goes through create -> reshape -> forward, in place when its top is its bottom, exactly
 * as the runtime would drive it. Returns each stored blob compared with Caffe's (final values: in-place
 * layers included).
 */
export async function runLayerByLayer(dir: string, types: ReadonlySet<string>): Promise<BlobResult[]> {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { input: string; blobs: string[] };
  const caffe = (b: string) => readNpy(path.join(dir, 'blobs', `${b.replaceAll('/', '__')}.npy`));
  const net = readNetPrototxt(path.join(dir, 'net.prototxt'));
  const weightsFile = path.join(dir, 'weights.caffemodel');
  const weights = fs.existsSync(weightsFile) ? await readWeightsFile(weightsFile) : new Map<string, Tensor[]>();
  const blobs = new Map<string, Tensor>();
  const computed = new Set<string>();
  for (const def of net.layer ?? []) {
    if (def.type === 'Input') {
      runLayer(def, weights.get(def.name) ?? [], blobs);
      blobs.set(manifest.input, readNpy(path.join(dir, 'input.npy')));
    } else if (types.has(def.type)) {
      runLayer(def, weights.get(def.name) ?? [], blobs);
      for (const t of def.top ?? []) computed.add(t);
    } else
      for (const t of def.top ?? []) {
        blobs.set(t, caffe(t));
        computed.delete(t);
      }
  }
  return manifest.blobs.map((b) => {
    const ours = blobs.get(b)!, ref = caffe(b);
    return { blob: b, ours: [...ours.dims], caffe: [...ref.dims], error: relativeError(ours, ref), computed: computed.has(b) };
  });
}

function runLayer(def: LayerParameter, weights: Tensor[], blobs: Map<string, Tensor>): void {
  const layer = layerType(def.type, def.name).create(def, weights);
  const bottoms = (def.bottom ?? []).map((b) => blobs.get(b)!);
  const topShapes = layer.reshape(bottoms.map((b) => b.dims));
  const tops = topShapes.map((s, i) => {
    const sameBlob = def.top![i] === def.bottom?.[i];
    // In place: the runtime hands the bottom itself to layers that allow it.
    return sameBlob && layer.inPlace ? bottoms[i] : Tensor.zeros(s);
  });
  layer.forward(bottoms, tops);
  tops.forEach((t, i) => blobs.set(def.top![i], sameDims(t, topShapes[i])));
}

/** A top computed in place keeps the bottom's Tensor; give it the top shape the layer declared (MVN pads to 4-D). */
function sameDims(t: Tensor, dims: readonly number[]): Tensor {
  return t.dims.join() === dims.join() ? t : new Tensor(dims, t.data);
}
