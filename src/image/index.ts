// Caffe's image preprocessing as a library (pycaffe's caffe.io.load_image, resize_image, Transformer, Classifier crops).
export { type FloatImage, cropImage } from './image.js';
export { IMAGE_EXTENSIONS, isImageFile, loadImage } from './load.js';
export { resizeImage } from './resize.js';
export { type Mean, readMean } from './mean.js';
export { type InputGeometry, type PreprocessOptions, geometryOf, inputsPerImage, preprocess, preprocessImage } from './preprocess.js';
export { imageInput } from './input.js';
