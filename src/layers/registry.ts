import type { LayerType } from './layer.js';
import { CremaError } from '../util/errors.js';
import { absValLayer } from './absval.js';
import { argmaxLayer } from './argmax.js';
import { axpyLayer } from './axpy.js';
import { batchNormLayer } from './batch_norm.js';
import { biasLayer } from './bias.js';
import { bnLayer } from './bn.js';
import { bnllLayer } from './bnll.js';
import { clipLayer } from './clip.js';
import { concatLayer } from './concat.js';
import { convolutionLayer } from './convolution.js';
import { convolutionDepthwiseLayer, depthwiseConvolutionLayer } from './convolution_depthwise.js';
import { cropLayer } from './crop.js';
import { deconvolutionLayer } from './deconvolution.js';
import { detectionOutputLayer } from './detection_output.js';
import { dropoutLayer } from './dropout.js';
import { eltwiseLayer } from './eltwise.js';
import { eluLayer } from './elu.js';
import { embedLayer } from './embed.js';
import { expLayer } from './exp.js';
import { flattenLayer } from './flatten.js';
import { innerProductLayer } from './inner_product.js';
import { inputLayer } from './input.js';
import { interpLayer } from './interp.js';
import { logLayer } from './log.js';
import { lrnLayer } from './lrn.js';
import { mvnLayer } from './mvn.js';
import { normalizeLayer } from './normalize.js';
import { permuteLayer } from './permute.js';
import { poolingLayer } from './pooling.js';
import { powerLayer } from './power.js';
import { preluLayer } from './prelu.js';
import { priorBoxLayer } from './prior_box.js';
import { psroiPoolingLayer } from './psroi_pooling.js';
import { reductionLayer } from './reduction.js';
import { reluLayer } from './relu.js';
import { relu6Layer } from './relu6.js';
import { reshapeLayer } from './reshape.js';
import { roiPoolingLayer } from './roi_pooling.js';
import { scaleLayer } from './scale.js';
import { shuffleChannelLayer } from './shuffle_channel.js';
import { sigmoidLayer } from './sigmoid.js';
import { silenceLayer } from './silence.js';
import { sliceLayer } from './slice.js';
import { softmaxLayer } from './softmax.js';
import { splitLayer } from './split.js';
import { swishLayer } from './swish.js';
import { tanhLayer } from './tanh.js';
import { thresholdLayer } from './threshold.js';
import { tileLayer } from './tile.js';
import { upsampleLayer } from './upsample.js';

// One line per layer type. Keep alphabetical.
const layerTypes: LayerType[] = [
  absValLayer,
  argmaxLayer,
  axpyLayer,
  batchNormLayer,
  biasLayer,
  bnLayer,
  bnllLayer,
  clipLayer,
  concatLayer,
  convolutionDepthwiseLayer,
  convolutionLayer,
  cropLayer,
  deconvolutionLayer,
  depthwiseConvolutionLayer,
  detectionOutputLayer,
  dropoutLayer,
  eltwiseLayer,
  eluLayer,
  embedLayer,
  expLayer,
  flattenLayer,
  innerProductLayer,
  inputLayer,
  interpLayer,
  logLayer,
  lrnLayer,
  mvnLayer,
  normalizeLayer,
  permuteLayer,
  poolingLayer,
  powerLayer,
  preluLayer,
  priorBoxLayer,
  psroiPoolingLayer,
  reductionLayer,
  relu6Layer,
  reluLayer,
  reshapeLayer,
  roiPoolingLayer,
  scaleLayer,
  shuffleChannelLayer,
  sigmoidLayer,
  silenceLayer,
  sliceLayer,
  softmaxLayer,
  splitLayer,
  swishLayer,
  tanhLayer,
  thresholdLayer,
  tileLayer,
  upsampleLayer,
];

const byType = new Map(layerTypes.map((t) => [t.type, t]));

/** The layer type for Caffe's type string, or undefined. */
export function findLayerType(type: string): LayerType | undefined {
  return byType.get(type);
}

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
