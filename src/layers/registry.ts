import { paramsOf } from '../caffe/schema.js';
import type { LayerParameter } from '../caffe/types.js';
import { LayerError, type LayerType } from './layer.js';
import { pluginLayerType } from './plugin.js';
import { CremaError } from '../util/errors.js';
import { platformIfInstalled } from '../platform.js';
import { didYouMean } from '../util/options.js';
import { absValLayer } from './absval.js';
import { argmaxLayer } from './argmax.js';
import { axpyLayer } from './axpy.js';
import { batchNormLayer } from './batch_norm.js';
import { batchReindexLayer } from './batch_reindex.js';
import { biasLayer } from './bias.js';
import { bnLayer } from './bn.js';
import { bnllLayer } from './bnll.js';
import { clipLayer } from './clip.js';
import { concatLayer } from './concat.js';
import { convolution3dLayer, deconvolution3dLayer, pooling3dLayer, voxelWiseSoftmaxLayer } from './c3d.js';
import { convolutionLayer } from './convolution.js';
import { convolutionDepthwiseLayer, depthwiseConvolutionLayer } from './convolution_depthwise.js';
import { cropLayer } from './crop.js';
import { deconvolutionLayer } from './deconvolution.js';
import { detectionOutputLayer } from './detection_output.js';
import { dropoutLayer } from './dropout.js';
import { dummyDataLayer } from './dummy_data.js';
import { eltwiseLayer } from './eltwise.js';
import { eluLayer } from './elu.js';
import { embedLayer } from './embed.js';
import { expLayer } from './exp.js';
import { filterLayer } from './filter.js';
import { flattenLayer } from './flatten.js';
import { flipLayer } from './flip.js';
import { ctcGreedyDecoderLayer } from './ctc_greedy_decoder.js';
import { denseBlockLayer } from './dense_block.js';
import { hdf5OutputLayer } from './hdf5_output.js';
import { im2colLayer } from './im2col.js';
import { ctpnLstmLayer } from './lstm_ctpn.js';
import { lstmUnitLayer } from './lstm_unit.js';
import { reverseLayer } from './reverse.js';
import { transposeLayer } from './transpose.js';
import { innerProductLayer } from './inner_product.js';
import { inputLayer } from './input.js';
import { interpLayer } from './interp.js';
import { logLayer } from './log.js';
import { lrnLayer } from './lrn.js';
import { mishLayer } from './mish.js';
import { mvnLayer } from './mvn.js';
import { normalizeLayer } from './normalize.js';
import { parameterLayer } from './parameter.js';
import { permuteLayer } from './permute.js';
import { poolingLayer } from './pooling.js';
import { powerLayer } from './power.js';
import { preluLayer } from './prelu.js';
import { priorBoxLayer } from './prior_box.js';
import { builtInPythonLayers, proposalLayer } from './proposal.js';
import { fpnPythonLayer } from './fpn_proposal.js';
import { frcnnProposalLayer } from './frcnn_proposal.js';
import { psroiPoolingLayer } from './psroi_pooling.js';
import { deformablePsroiPoolingLayer } from './deformable_psroi_pooling.js';
import { deformableConvolutionLayer, modulatedDeformableConvolutionLayer } from './deformable_convolution.js';
import { multiStageMeanfieldLayer } from './multi_stage_meanfield.js';
import { autoCropLayer } from './auto_crop.js';
import { lstmLayer, rnnLayer } from './recurrent.js';
import { reductionLayer } from './reduction.js';
import { reluLayer } from './relu.js';
import { relu6Layer } from './relu6.js';
import { reorgLayer } from './reorg.js';
import { accumLayer } from './accum.js';
import { channelNormLayer } from './channel_norm.js';
import { correlationLayer } from './correlation.js';
import { correlation1DLayer } from './correlation1d.js';
import { dataAugmentationLayer } from './data_augmentation.js';
import { flowWarpLayer } from './flow_warp.js';
import { spatialTransformerLayer } from './spatial_transformer.js';
import { resampleLayer } from './resample.js';
import { reshapeLayer } from './reshape.js';
import { roiPoolingLayer } from './roi_pooling.js';
import { roiAlignLayer } from './roi_align.js';
import { scaleRouteLayer } from './scale_route.js';
import { boxGroupOutputLayer, decodeBBoxLayer } from './box_group_output.js';
import { scaleLayer } from './scale.js';
import { shuffleChannelLayer } from './shuffle_channel.js';
import { sigmoidLayer } from './sigmoid.js';
import { silenceLayer } from './silence.js';
import { sliceLayer } from './slice.js';
import { softmaxLayer } from './softmax.js';
import { splitLayer } from './split.js';
import { sppLayer } from './spp.js';
import { swishLayer } from './swish.js';
import { tanhLayer } from './tanh.js';
import { thresholdLayer } from './threshold.js';
import { tileLayer } from './tile.js';
import { upsampleLayer } from './upsample.js';
import { yoloDetectionOutputLayer, yolov3DetectionOutputLayer } from './yolo_detection_output.js';

// One line per layer type. Keep alphabetical.
const layerTypes: LayerType[] = [
  absValLayer,
  argmaxLayer,
  autoCropLayer,
  axpyLayer,
  batchNormLayer,
  batchReindexLayer,
  biasLayer,
  bnLayer,
  bnllLayer,
  clipLayer,
  concatLayer,
  ctcGreedyDecoderLayer,
  denseBlockLayer,
  convolutionDepthwiseLayer,
  convolutionLayer,
  convolution3dLayer,
  deconvolution3dLayer,
  cropLayer,
  deconvolutionLayer,
  depthwiseConvolutionLayer,
  detectionOutputLayer,
  dropoutLayer,
  dummyDataLayer,
  eltwiseLayer,
  eluLayer,
  embedLayer,
  expLayer,
  filterLayer,
  flattenLayer,
  flipLayer,
  hdf5OutputLayer,
  im2colLayer,
  innerProductLayer,
  inputLayer,
  interpLayer,
  logLayer,
  lrnLayer,
  lstmLayer,
  lstmUnitLayer,
  ctpnLstmLayer,
  mishLayer,
  multiStageMeanfieldLayer,
  mvnLayer,
  normalizeLayer,
  parameterLayer,
  permuteLayer,
  poolingLayer,
  pooling3dLayer,
  voxelWiseSoftmaxLayer,
  powerLayer,
  preluLayer,
  priorBoxLayer,
  proposalLayer,
  frcnnProposalLayer,
  psroiPoolingLayer,
  deformablePsroiPoolingLayer,
  deformableConvolutionLayer, // Deformable ConvNets v1 / v2 (unsky's, zhanglonghao1992's Caffe)
  modulatedDeformableConvolutionLayer,
  // daerduoCarey/SpatialTransformerLayer
  spatialTransformerLayer,
  reductionLayer,
  relu6Layer,
  reorgLayer,
  // lmb-freiburg/flownet2 (FlowNet 2.0)
  accumLayer,
  channelNormLayer,
  correlationLayer,
  correlation1DLayer,
  dataAugmentationLayer,
  flowWarpLayer,
  resampleLayer,
  reverseLayer,
  reluLayer,
  reshapeLayer,
  rnnLayer,
  roiPoolingLayer,
  roiAlignLayer,
  scaleRouteLayer,
  boxGroupOutputLayer,
  decodeBBoxLayer,
  scaleLayer,
  shuffleChannelLayer,
  sigmoidLayer,
  silenceLayer,
  sliceLayer,
  softmaxLayer,
  splitLayer,
  sppLayer,
  swishLayer,
  tanhLayer,
  thresholdLayer,
  tileLayer,
  transposeLayer,
  upsampleLayer,
  yoloDetectionOutputLayer,
  yolov3DetectionOutputLayer,
];

const byType = new Map(layerTypes.map((t) => [t.type, t]));
/** Layer types added by plugins (registerLayer, --plugin), by type string; a Python layer's by `module.layer`. */
const pluginTypes = new Map<string, LayerType>();

/**
 * Adds a layer type from outside crema (the plugin API): the same interface as the built-in types, checked and
 * wrapped so that what it throws is one line naming `source` (the plugin file) and the layer. Registering a type
 * again replaces it; a built-in type cannot be replaced.
 */
export function registerLayer(type: LayerType, source = 'given to registerLayer'): void {
  const t = pluginLayerType(type, source);
  if (byType.has(t.type)) throw new CremaError(`registerLayer: '${t.type}' is a built-in layer type of crema; a plugin adds types crema lacks`);
  pluginTypes.set(t.type, t);
}

/** The layer type for Caffe's type string, or undefined. */
export function findLayerType(type: string): LayerType | undefined {
  return byType.get(type) ?? pluginTypes.get(type);
}

/**
 * The layer type for Caffe's type string. An unknown type is refused in one short line: the likeliest meant, where
 * the known ones are listed (all of them made a line of ~970 characters), and how to add one.
 */
export function layerType(type: string, layerName?: string): LayerType {
  const t = findLayerType(type);
  if (!t) {
    const where = layerName ? `layer '${layerName}': ` : '';
    const known = knownLayerTypes();
    // The browser's engine takes no plugins (nor exports knownLayerTypes): its line offers nothing it lacks.
    const tail = platformIfInstalled()?.name === 'browser'
      ? `(listed by README.md's "Layers, by family"); plugins run in Node's crema (--plugin FILE.js or options.plugins: README.md's "Plugins"), not in the browser's`
      : `(listed by README.md's "Layers, by family" and knownLayerTypes()); add one as a plugin (--plugin FILE.js or options.plugins: README.md's "Plugins", examples/plugins)`;
    throw new CremaError(`${where}unknown layer type '${type}'${didYouMean(type, known, 3)}; crema knows ${known.length} types ${tail}`);
  }
  return t;
}

/**
 * The layer type of a layer: by its type string, and for Caffe's `Python` layers by python_param's module and
 * class, which a plugin registers as the type 'module.layer'.
 */
export function layerTypeOf(def: LayerParameter): LayerType {
  if (def.type !== 'Python') return layerType(def.type, def.name);
  const p = paramsOf<{ module: string; layer: string }>(def, 'python_param');
  const key = `${p.module}.${p.layer}`;
  const t = pluginTypes.get(key) ?? (fpnPythonLayer(def, key) ?? builtInPythonLayers.get(key))?.type;
  if (!t)
    throw new LayerError(def, `crema cannot run Python layers; this one is ${key} (python_param module '${p.module}', layer '${p.layer}'). Register a replacement: a plugin module exporting { type: '${key}', create(def, weights) { … } }, given in options.plugins (or registerLayer)`);
  return t;
}

/** What loading says about a Python layer that runs as one of crema's built-in layers (none for a plugin's). */
export function builtInPythonNote(def: LayerParameter): string | undefined {
  if (def.type !== 'Python') return undefined;
  const p = paramsOf<{ module: string; layer: string }>(def, 'python_param');
  const key = `${p.module}.${p.layer}`;
  return pluginTypes.has(key) ? undefined : (fpnPythonLayer(def, key) ?? builtInPythonLayers.get(key))?.note(def);
}

export function knownLayerTypes(): string[] {
  return [...byType.keys(), ...pluginTypes.keys()].sort();
}
