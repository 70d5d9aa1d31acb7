// Running single layers directly (no Net): for layer tests that check one layer against Caffe's numbers
// without depending on the rest of the pipeline.
import fs from 'node:fs';
import path from 'node:path';
import { readCaffemodelFile } from '../../src/caffe/caffemodel.js';
import { parsePrototxt } from '../../src/caffe/prototxt.js';
import type { BlobProto, LayerParameter } from '../../src/caffe/types.js';
import type { LayerType } from '../../src/layers/layer.js';
import { Tensor } from '../../src/tensor.js';
import { readNpy } from '../../src/util/npy.js';

/** A layer definition as a prototxt would give it (bottom 'x', top 'y' unless set). */
export function layerDef(type: string, fields: Record<string, unknown> = {}): LayerParameter {
  return { name: type.toLowerCase(), type, bottom: ['x'], top: ['y'], ...fields };
}

/**
 * Reshape, then forward. The tops are fresh tensors, or, with `inPlace`, the bottoms themselves
 * (as the runtime passes them to a layer whose top is its bottom).
 */
export function runLayer(type: LayerType, def: LayerParameter, bottoms: Tensor[], weights: Tensor[] = [], inPlace = false): Tensor[] {
  const layer = type.create(def, weights);
  const shapes = layer.reshape(bottoms.map((b) => b.dims));
  const tops = inPlace ? bottoms : shapes.map((s) => Tensor.zeros(s));
  layer.forward(bottoms, tops);
  return tops;
}

/** A copy of a tensor (so an in-place run does not change the original). */
export function copyOf(t: Tensor): Tensor {
  return new Tensor([...t.dims], Float32Array.from(t.data));
}

function blobTensor(b: BlobProto): Tensor {
  const dims = b.shape ? b.shape.dim : [b.num ?? 1, b.channels ?? 1, b.height ?? 1, b.width ?? 1];
  return new Tensor(dims, b.data ?? Float32Array.from(b.double_data ?? []));
}

/**
 * Runs the layers of one reference case (net.prototxt, input.npy, weights.caffemodel, blobs/) whose types are
 * given, in net order; a layer whose top is its bottom runs in place (through a scratch top when it is not
 * `inPlace`). Other layers are not run: their tops are taken from Caffe's stored blobs.
 * Returns every blob this computed, by name.
 */
export function runCaseLayers(dir: string, types: LayerType[]): Map<string, Tensor> {
  const file = path.join(dir, 'net.prototxt');
  const net = parsePrototxt(fs.readFileSync(file, 'utf8'), file);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { input: string };
  const weightsFile = path.join(dir, 'weights.caffemodel');
  const weights = new Map<string, Tensor[]>();
  if (fs.existsSync(weightsFile))
    for (const l of readCaffemodelFile(weightsFile).layer ?? []) weights.set(l.name, (l.blobs ?? []).map(blobTensor));
  const byType = new Map(types.map((t) => [t.type, t]));
  const blobs = new Map<string, Tensor>([[manifest.input, readNpy(path.join(dir, 'input.npy'))]]);
  const computed = new Map<string, Tensor>();
  for (const def of net.layer as LayerParameter[]) {
    const type = byType.get(def.type);
    const bottoms = (def.bottom ?? []).map((b) => blobs.get(b)!);
    if (!type) {
      if (def.type !== 'Input') for (const t of def.top ?? []) blobs.set(t, readNpy(path.join(dir, 'blobs', `${t}.npy`)));
      continue;
    }
    const layer = type.create(def, weights.get(def.name) ?? []);
    const shapes = layer.reshape(bottoms.map((b) => b.dims));
    const inPlaceOn = (i: number) => def.top![i] === def.bottom?.[i];
    const tops = shapes.map((s, i) => (inPlaceOn(i) && layer.inPlace ? bottoms[i] : Tensor.zeros(s)));
    layer.forward(bottoms, tops);
    tops.forEach((t, i) => {
      if (inPlaceOn(i) && t !== bottoms[i]) bottoms[i].data.set(t.data);
      const value = inPlaceOn(i) ? bottoms[i] : t;
      blobs.set(def.top![i], value);
      computed.set(def.top![i], value);
    });
  }
  return computed;
}
