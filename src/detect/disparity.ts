// Stereo disparity with DispNet / DispNetCorr1D (lmb-freiburg's dispflownet-release, Mayer et al. 2016) as its
// models/*/demo.py computes and writes it: the deploy template (model/deploy.tpl.prototxt) filled for the images'
// size (the net runs at the size rounded up to multiples of 64, resizes its disparity back and scales it by width /
// adapted width), both images fed as the template's ImageData layers read them (cv::imread in colour: BGR bytes as
// floats, no mean; the net scales and normalises them itself), and the PFMWriter's bottom written as that layer
// writes it (negated: the net's disparity is an x offset, negative from the left view to the right).
import type { FloatImage } from '../image/image.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { printfF } from '../util/round.js';

/** A disparity map: height x width, row-major, float32, as the PFM holds it (positive: the PFMWriter negates). */
export interface Disparity {
  width: number;
  height: number;
  data: Float32Array;
}

/** The blob the release's PFMWriter writes when a net names none (its templates' predict_disp_final). */
export const DISPARITY_BLOB = 'predict_disp_final';

/** The variables demo.py fills, in its order: plain `$NAME` (no closing `$`, unlike FlowNet 2.0's templates). */
export const DISPARITY_VARIABLES = ['ADAPTED_WIDTH', 'ADAPTED_HEIGHT', 'TARGET_WIDTH', 'TARGET_HEIGHT', 'SCALE_WIDTH'];

/**
 * Python's '%.8f' of width / adapted width: the double Python divides, written as the nearest 8-digit decimal, ties
 * to even on the double's exact value (printfF: 449 / 512 is 0.876953125: Python writes 0.87695312, JavaScript's
 * toFixed 0.87695313). The double, not the exact ratio: 2507 / 2560 = 0.979296875 exactly, a tie, but its double lies
 * below it, so Python writes 0.97929687.
 */
export function pythonFixed8(num: number, den: number): string {
  return printfF(num / den, 8);
}

/** demo.py's values for an image size: the size rounded up to multiples of 64, the x scale as '%.8f'. */
export function disparityVariables(width: number, height: number): Record<string, string> {
  const aw = Math.ceil(width / 64) * 64, ah = Math.ceil(height / 64) * 64;
  return { ADAPTED_WIDTH: String(aw), ADAPTED_HEIGHT: String(ah), TARGET_WIDTH: String(width), TARGET_HEIGHT: String(height), SCALE_WIDTH: pythonFixed8(width, aw) };
}

/** Whether a prototxt is a DispNet template still to fill (a `$NAME` in it). */
export function isDisparityTemplate(text: string): boolean {
  return /\$[A-Za-z_][A-Za-z0-9_]*/.test(text);
}

/**
 * The template filled for images of width x height as demo.py fills it: each `$NAME` replaced wherever it occurs, in
 * its order; a `$NAME` it leaves is refused naming its line (Caffe would reject the text).
 */
export function fillDisparityTemplate(text: string, width: number, height: number, file = 'template'): string {
  const values = disparityVariables(width, height);
  let out = text;
  for (const name of DISPARITY_VARIABLES) out = out.split(`$${name}`).join(values[name]);
  out.split('\n').forEach((line, i) => {
    const left = /\$[A-Za-z_][A-Za-z0-9_]*\$?/.exec(line);
    if (left) throw new CremaError(`${file}:${i + 1}: unknown template variable ${left[0]} (demo.py fills ${DISPARITY_VARIABLES.map((v) => `$${v}`).join(' ')})`);
  });
  return out;
}

/**
 * An image as the template's ImageData reads it (OpenCV's imread in colour, no new size, no transform): 1 x 3 x H x
 * W, BGR, the bytes as floats; a gray image's one channel in all three; a 16-bit PNG's high bytes (libpng's strip_16,
 * as OpenCV reads 16-bit files into bytes).
 */
export function imageDataInput(im: FloatImage): Tensor {
  const ch = im.channels, plane = im.width * im.height, out = new Float32Array(3 * plane);
  const value = im.bits === 16 ? (v: number) => Math.floor(Math.round(65535 * v) / 256) : (v: number) => Math.round(255 * v);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = value(im.data[i * ch + (ch >= 3 ? 2 - c : 0)]);
  return new Tensor([1, 3, im.height, im.width], out);
}

/** The two images' inputs, refused unless of one size (demo.py: "Images do not have the same size."). */
export function disparityInputs(left: FloatImage, right: FloatImage, names: [string, string]): [Tensor, Tensor] {
  if (left.width !== right.width || left.height !== right.height)
    throw new CremaError(`${names[0]} is ${left.width} x ${left.height} but ${names[1]} is ${right.width} x ${right.height}: DispNet takes two images of one size`);
  return [imageDataInput(left), imageDataInput(right)];
}

/** The PFMWriter's bottom (1 x 1 x H x W) as it writes it: negated. */
export function disparityOf(blob: Tensor): Disparity {
  const [, , height, width] = blob.dims;
  return { width, height, data: blob.data.slice(0, width * height).map((v) => -v) };
}

/**
 * The disparity as the PFMWriter writes it (CImg's save_pfm): "Pf\n<width> <height>\n1.0\n", then the floats
 * big-endian (scale 1.0, positive), the top row first (CImg's order: readers that follow the PFM convention of the
 * bottom row first see it upside down, as they see the release's own files).
 */
export function pfmBytes(d: Disparity): Uint8Array {
  const head = new TextEncoder().encode(`Pf\n${d.width} ${d.height}\n1.0\n`);
  const out = new Uint8Array(head.length + 4 * d.data.length), view = new DataView(out.buffer);
  out.set(head);
  for (let i = 0; i < d.data.length; i++) view.setFloat32(head.length + 4 * i, d.data[i], false);
  return out;
}

/**
 * The disparity's largest and mean value in pixels (float64: what `crema disparity` prints, disparityLine, and the
 * white of disparityGray). A NaN is no largest value (the picture stays drawn) but makes the mean NaN.
 */
export function disparityRange(d: Disparity): { max: number; mean: number } {
  let max = -Infinity, sum = 0;
  for (const v of d.data) {
    if (v > max) max = v;
    sum += v;
  }
  return { max, mean: sum / d.data.length };
}

/** What crema disparity prints of a pair: the disparity's size and its largest and mean value. */
export function disparityLine(left: string, right: string, d: Disparity): string {
  const { max, mean } = disparityRange(d);
  return `${left} | ${right} (${d.width} x ${d.height}): disparity max ${max.toPrecision(4)}, mean ${mean.toPrecision(4)} pixels`;
}

/** The disparity as 8-bit gray (crema's picture; the release writes only the PFM): 0 black, the largest white. */
export function disparityGray(d: Disparity): Uint8Array {
  const max = Math.max(0, disparityRange(d).max);
  return Uint8Array.from(d.data, (v) => (max > 0 && v > 0 ? Math.round((255 * Math.min(v, max)) / max) : 0));
}
