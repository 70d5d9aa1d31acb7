// Colorful Image Colorization (Zhang, Isola, Efros 2016) as its authors' demo colorizes a photo
// (richzhang/colorization, colorization/colorize.py, with its colorization_deploy_v2.prototxt): the image's L
// channel (skimage's Lab, lab.ts) at the net's 224 x 224 (pycaffe's resize_image), less 50; the net's distribution
// over 313 ab bins (class8_313_rh) decoded by the bins' centres (the demo writes pts_in_hull into class8_ab's weights;
// here the same sums, with class8_ab's own bias); ab zoomed to the image's size by scipy's cubic spline
// (spline-zoom.ts) beside the image's own L; back to RGB, clipped, times 255, truncated to bytes.
import type { FloatImage } from '../image/image.js';
import { labToRgb, rgbToLab } from '../image/lab.js';
import { resizeImage } from '../image/resize.js';
import { splineZoom } from '../image/spline-zoom.js';
import type { Net } from '../runtime/net.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import type { Forward } from './forward.js';

/**
 * The 313 ab bins' centres (the demo's resources/pts_in_hull.npy): for a = -90, -80, ... 100, b from the first to
 * the second value in steps of 10, in that order.
 */
const GAMUT: [number, number, number][] = [
  [-90, 50, 90], [-80, 20, 90], [-70, 0, 90], [-60, -20, 90], [-50, -30, 100], [-40, -40, 100], [-30, -50, 100],
  [-20, -50, 100], [-10, -60, 100], [0, -70, 100], [10, -80, 90], [20, -80, 90], [30, -90, 90], [40, -100, 90],
  [50, -100, 80], [60, -110, 80], [70, -110, 80], [80, -110, 70], [90, -110, 70], [100, -90, 0],
];
export const AB_BINS: [number, number][] = GAMUT.flatMap(([a, lo, hi]) => Array.from({ length: (hi - lo) / 10 + 1 }, (_, i): [number, number] => [a, lo + 10 * i]));

/** The blobs the demo reads: the 313 bins' probabilities, and the layer it writes the bins' centres into. */
export const PROBS = 'class8_313_rh';
const DECODER = 'class8_ab';

/** Whether the net is the colorization net: one input of 1 channel (L), and the 313 bins' probabilities. */
export function isColorizer(net: Net): boolean {
  return net.inputs.length === 1 && net.shapes.get(net.inputs[0])?.[1] === 1 && net.shapes.get(PROBS)?.[1] === AB_BINS.length;
}

/**
 * crema's engine up to the bins' probabilities only: class8_ab, whose weights the release leaves out (the demo writes
 * them), is decoded here instead.
 */
const forwardToProbs: Forward = async (net, input, outputs) => {
  net.forward({ [net.inputs[0]]: input }, { end: PROBS });
  return outputs.map((n) => net.blobs.get(n)!);
};

/** The image colorized as the demo does it: RGB bytes (interleaved) of the image's size. `run`: the net's forward. */
export async function colorizeImage(net: Net, image: FloatImage, run: Forward = forwardToProbs): Promise<Uint8Array> {
  const input = net.inputs[0], dims = net.shapes.get(input);
  if (!dims || dims.length !== 4 || dims[1] !== 1)
    throw new CremaError(`net '${net.name || 'net'}': its input '${input}' is ${JSON.stringify(dims)}; the colorization net takes the L channel, 1 x 1 x H x W`);
  const probs = net.shapes.get(PROBS);
  if (!probs || probs[1] !== AB_BINS.length)
    throw new CremaError(`net '${net.name || 'net'}' has no blob '${PROBS}' of ${AB_BINS.length} channels (the colorization demo's colorization_deploy_v2.prototxt: its ab bins' probabilities)`);
  const rgb = colour(image);
  const L = rgbToLab(rgb.data);
  // the net's input: the image resized (pycaffe's resize_image), its L less 50
  const small = rgbToLab(resizeImage(rgb, dims[2], dims[3]).data);
  const data = new Float32Array(dims[2] * dims[3]);
  for (let i = 0; i < data.length; i++) data[i] = small[3 * i] - 50;
  const [p] = await run(net, new Tensor([1, 1, dims[2], dims[3]], data), [PROBS]);
  const ab = decode(p, net.params.get(DECODER)?.[1]?.data);
  const [ho, wo] = probs.slice(2), { height: h, width: w } = image;
  const zoomed = splineZoom(ab, 2, ho, wo, Math.round(ho * (h / ho)), Math.round(wo * (w / wo)));
  const lab = new Float32Array(h * w * 3);
  for (let i = 0; i < h * w; i++) {
    lab[3 * i] = L[3 * i];
    lab[3 * i + 1] = zoomed[i];
    lab[3 * i + 2] = zoomed[h * w + i];
  }
  return Uint8Array.from(labToRgb(lab), (v) => Math.trunc(Math.fround(255 * v)));
}

/** A gray image as colour (pycaffe's load_image tiles it). */
function colour(image: FloatImage): FloatImage {
  if (image.channels === 3) return image;
  const data = new Float32Array(image.height * image.width * 3);
  for (let i = 0; i < image.height * image.width; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = image.data[i * image.channels];
  return { height: image.height, width: image.width, channels: 3, data };
}

/** class8_ab: each pixel's a and b, the bins' centres weighted by their probabilities, plus the layer's bias. */
function decode(p: Tensor, bias?: Float32Array): Float32Array {
  const plane = p.dims[2] * p.dims[3], out = new Float32Array(2 * plane);
  for (let c = 0; c < 2; c++)
    for (let i = 0; i < plane; i++) {
      let s = 0;
      for (let k = 0; k < AB_BINS.length; k++) s += AB_BINS[k][c] * p.data[k * plane + i];
      out[c * plane + i] = s + (bias?.[c] ?? 0);
    }
  return out;
}
