// crema's library API, for Node: installs the Node platform (files, worker threads, HDF5) under the core.
import './platform/node.js';
export { Net, type ForwardOptions, type InputValue, type LoadOptions, type NetFiles, type NetOptions, type RunOptions, type TensorLike } from './runtime/net.js';
export { LayerError } from './layers/layer.js';
export type { Bytes, Source } from './util/source.js';
export { Tensor, type Shape } from './tensor.js';
export { CremaError } from './util/errors.js';
export { readNpy, writeNpy, parseNpy, encodeNpy } from './util/npy.js';
export { knownLayerTypes, registerLayer } from './layers/registry.js';
export type { Layer, LayerType, NetContext } from './layers/layer.js';
export type { Dialect } from './caffe/load.js';
export type { LayerContext, Converter } from './onnx/context.js';
export * from './image/index.js';
export { type Classification, type ConvertOptions, type LayerSummary, type VerifyOptions, type VerifyReport, classify, colorize, convert, draw, info, upgradeCaffemodel, upgradePrototxt, verify } from './api.js';
export { detectImage, detectionsOf, parseLabels, type Detection, type DetectOptions } from './detect/detect.js';
export { detect } from './detect/node.js';
export { detectFaces, loadMtcnn, type FaceOptions } from './detect/faces.js';
export { facesInImage, type Face, type MtcnnNets, type MtcnnOptions } from './detect/mtcnn.js';
export { colorizeImage } from './detect/colorize.js';
