// crema's library API.
export { Net, type ForwardOptions, type InputValue, type LoadOptions } from './runtime/net.js';
export { Tensor, type Shape } from './tensor.js';
export { CremaError } from './util/errors.js';
export { readNpy, writeNpy, parseNpy, encodeNpy } from './util/npy.js';
export { knownLayerTypes, registerLayer } from './layers/registry.js';
export { LayerError, type Layer, type LayerType } from './layers/layer.js';
export type { LayerContext, Converter } from './onnx/context.js';
export * from './image/index.js';
