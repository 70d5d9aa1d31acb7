import type { LayerType } from './layer.js';
import { CremaError } from '../util/errors.js';

// One line per layer type. Keep alphabetical.
const layerTypes: LayerType[] = [
];

const byType = new Map(layerTypes.map((t) => [t.type, t]));

/** The layer type for Caffe's type string; an unknown type is refused with the list of known ones. */
export function layerType(type: string, layerName?: string): LayerType {
  const t = byType.get(type);
  if (!t) {
    const where = layerName ? `layer '${layerName}': ` : '';
    throw new CremaError(`${where}unknown layer type '${type}'; crema runs: ${knownLayerTypes().join(', ')}`);
  }
  return t;
}

export function knownLayerTypes(): string[] {
  return [...byType.keys()].sort();
}
