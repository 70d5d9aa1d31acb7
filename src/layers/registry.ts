import type { LayerType } from './layer.js';
import { CremaError } from '../util/errors.js';
import { absValLayer } from './absval.js';
import { bnllLayer } from './bnll.js';
import { clipLayer } from './clip.js';
import { dropoutLayer } from './dropout.js';
import { eluLayer } from './elu.js';
import { expLayer } from './exp.js';
import { logLayer } from './log.js';
import { lrnLayer } from './lrn.js';
import { powerLayer } from './power.js';
import { preluLayer } from './prelu.js';
import { reluLayer } from './relu.js';
import { sigmoidLayer } from './sigmoid.js';
import { softmaxLayer } from './softmax.js';
import { swishLayer } from './swish.js';
import { tanhLayer } from './tanh.js';
import { thresholdLayer } from './threshold.js';

// One line per layer type. Keep alphabetical.
const layerTypes: LayerType[] = [
  absValLayer,
  bnllLayer,
  clipLayer,
  dropoutLayer,
  eluLayer,
  expLayer,
  logLayer,
  lrnLayer,
  powerLayer,
  preluLayer,
  reluLayer,
  sigmoidLayer,
  softmaxLayer,
  swishLayer,
  tanhLayer,
  thresholdLayer,
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
