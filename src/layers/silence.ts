import type { LayerType } from './layer.js';
import { expectCounts } from './layer.js';

/**
 * Caffe's Silence (silence_layer.cpp): takes one or more bottoms, gives no top and computes nothing. Deploy nets
 * end with it (colorization) so that Caffe does not list the blob as a net output.
 */
export const silenceLayer: LayerType = {
  type: 'Silence',
  create(def) {
    expectCounts(def, [1, Infinity], [0, 0]);
    return { sink: true, reshape: () => [], forward: () => undefined };
  },
  // Nothing to compute, hence no node.
  onnx: () => undefined,
};
