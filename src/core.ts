// crema's platform-neutral core: parse prototxt / caffemodel bytes -> upgrade -> phase -> graph -> forward -> ONNX.
// Nothing here (or below) imports a `node:` module, Buffer or process (test/core.test.ts checks): an entry installs
// a Platform (src/platform.ts) first, as src/index.ts does for Node and a browser entry does for the browser.
export { Net, type ForwardOptions, type InputValue, type KeepBlobs, type LoadOptions, type NetFiles, type NetOptions, type RunOptions, type TensorLike } from './runtime/net.js';
export { LayerError } from './layers/layer.js';
export { Tensor, type Shape } from './tensor.js';
export { CremaError } from './util/errors.js';
export type { Bytes, Source } from './util/source.js';
export { parseNpy, encodeNpy } from './util/npy.js';
export { knownLayerTypes, registerLayer } from './layers/registry.js';
export type { Layer, LayerType, NetContext } from './layers/layer.js';
export type { Dialect } from './caffe/dialects.js';
export type { LayerContext, Converter } from './onnx/context.js';
export type { ConvertOptions } from './onnx/convert.js';
export { type FloatImage, cropImage } from './image/image.js';
export { resizeImage } from './image/resize.js';
export { type Mean, readMean } from './image/mean.js';
export { type InputGeometry, type PreprocessOptions, geometryOf, inputsPerImage, preprocess, preprocessImage } from './image/preprocess.js';

// The seams a platform's entry needs (the browser's: its Platform, the net worker's protocol, the converter over a
// graph): exported for it, @internal so they are not in the public types.
/** @internal */
export { type KernelWorker, type KernelWorkerInit, type NetWorker, type Platform, setPlatform } from './platform.js';
/** @internal */
export { type FromWorker, type ToWorker, serveNet } from './runtime/net-worker.js';
/** @internal */
export { convertGraph, encodeConversion } from './onnx/convert.js';
