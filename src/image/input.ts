import { Tensor } from '../tensor.js';
import type { Source } from '../util/source.js';
import { loadImage } from './load.js';
import { PREPROCESS_OPTIONS, type PreprocessOptions, geometryOf, preprocess } from './preprocess.js';
import { checkOptionKeys } from '../util/options.js';

/**
 * An image (a file path or its bytes) as the value of a net input of shape `dims` (N x C x H x W): loaded as pycaffe's load_image (gray
 * for 1-channel inputs) and preprocessed. Returns 1 x C x H x W (10 x ... with oversample).
 */
export async function imageInput(file: Source, dims: readonly number[], options: PreprocessOptions = {}, name = 'data'): Promise<Tensor> {
  checkOptionKeys(options, PREPROCESS_OPTIONS, 'imageInput');
  const geo = geometryOf(dims, name);
  return preprocess(await loadImage(file, geo.channels === 3), geo, options);
}
