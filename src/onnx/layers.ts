import { findLayerType, knownLayerTypes } from '../layers/registry.js';
import type { Converter } from './context.js';
export type { LrnMode } from './context.js';

// Every layer type carries its own ONNX export (LayerType.onnx, next to its shape and forward in src/layers/);
// a type without one is refused by the converter, naming the types it knows.

/** The converter of a layer type, undefined when it has none. */
export function converterFor(type: string): Converter | undefined {
  return findLayerType(type)?.onnx;
}

export function convertibleTypes(): string[] {
  return knownLayerTypes().filter((t) => findLayerType(t)?.onnx).sort();
}
