import type { LayerParameter } from '../caffe/types.js';
import type { LayerContext } from '../onnx/context.js';
import type { Shape } from '../tensor.js';
import { type FusableLayer, convolutionLayer, convolutionToOnnx, skipsPaddedTaps } from './convolution.js';
import { type LayerType, declaredWeights, need } from './layer.js';

/**
 * The MobileNet forks' depthwise convolution layers, run as Caffe's Convolution (and so by its fast depthwise
 * kernel, src/kernels/depthwise.ts):
 * - ConvolutionDepthwise (farmingyard/caffe-mobilenet): one filter per input channel whatever num_output and group
 *   say (conv_dw_layer.cpp sizes weights (C, 1, kh, kw) and the top C channels from the bottom). Its loop skips
 *   the taps in the padding (its sum starts at 0, the bias added after), where Convolution adds w * 0: the same
 *   numbers but for a weight that is not finite, which runs the fork's rule (skipsPaddedTaps). ONNX Runtime's Conv
 *   skips them too.
 * - DepthwiseConvolution (yonghenglh6/DepthwiseConvolution): Caffe's Convolution itself, group as written.
 */
export const convolutionDepthwiseLayer: LayerType = {
  type: 'ConvolutionDepthwise',
  create(def, weights): FusableLayer {
    let inner: FusableLayer | undefined, innerDef: LayerParameter | undefined;
    let channels = -1, reluSlope: number | undefined;
    return {
      fuseRelu(negativeSlope) {
        reluSlope = negativeSlope;
        inner?.fuseRelu(negativeSlope);
      },
      reshape(bottoms) {
        need(def, bottoms.length > 0 && bottoms[0].length >= 2, 'needs a bottom with channels (axis 1)');
        if (bottoms[0][1] !== channels) {
          channels = bottoms[0][1];
          innerDef = depthwiseDef(def, channels);
          skipsPaddedTaps.add(innerDef);
          inner = convolutionLayer.create(innerDef, weights) as FusableLayer;
          inner.fuseRelu(reluSlope);
        }
        const tops = inner!.reshape(bottoms);
        // The runtime looks up the weights a layer declared by its own definition.
        declaredWeights.set(def, declaredWeights.get(innerDef!) ?? []);
        return tops;
      },
      forward(bottoms, tops) {
        inner!.forward(bottoms, tops);
      },
      macs(bottoms: Shape[], tops: Shape[]) {
        return inner?.macs?.(bottoms, tops) ?? 0;
      },
    };
  },
  onnx: (c: LayerContext) => convolutionToOnnx({ ...c, layer: { ...c.layer, def: depthwiseDef(c.layer.def, c.layer.bottomShapes[0][1]) } }, false),
};

export const depthwiseConvolutionLayer: LayerType = {
  type: 'DepthwiseConvolution',
  create: (def, weights) => convolutionLayer.create(def, weights),
  onnx: (c) => convolutionToOnnx(c, false),
};

/** The layer as the Convolution it computes: num_output and group both the bottom's channel count. */
function depthwiseDef(def: LayerParameter, channels: number): LayerParameter {
  return { ...def, convolution_param: { ...(def.convolution_param ?? {}), num_output: channels, group: channels } };
}
