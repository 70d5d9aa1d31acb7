// Running single layers directly (no Net), for layer tests that do not depend on the rest of the pipeline.
// (Reference cases layer by layer: layer_by_layer.ts.)
import type { LayerParameter } from '../../src/caffe/types.js';
import type { LayerType } from '../../src/layers/layer.js';
import { Tensor } from '../../src/tensor.js';

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
