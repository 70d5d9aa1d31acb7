import { declaredWeights } from '../layers/layer.js';
import { sizeOf } from '../tensor.js';
import type { Graph, GraphLayer } from './graph.js';

export interface LayerSummary {
  name: string;
  type: string;
  bottom: string[];
  top: string[];
  params: number;
  macs: number;
}

/** Parameters of a layer: its weights, or (loaded without weights) the sizes it declared. */
function paramCount(l: GraphLayer): number {
  if (l.weights.length) return l.weights.reduce((n, w) => n + w.size, 0);
  return (declaredWeights.get(l.def) ?? []).reduce((n, s) => n + sizeOf(s), 0);
}

export function summarize(graph: Graph): { blobs: Record<string, number[]>; layers: LayerSummary[] } {
  return {
    blobs: Object.fromEntries([...graph.blobShapes].map(([name, shape]) => [name, [...shape]])),
    layers: graph.layers.map((l) => ({
      name: l.name,
      type: l.type,
      bottom: [...l.bottoms],
      top: [...l.tops],
      params: paramCount(l),
      macs: l.impl.macs?.(l.bottomShapes, l.topShapes) ?? 0,
    })),
  };
}
