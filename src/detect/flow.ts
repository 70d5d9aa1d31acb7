// Optical flow with FlowNet 2.0 (lmb-freiburg/flownet2) as its scripts/run-flownet.py computes and writes it: the
// deploy template filled for the images' size (the net runs at the size rounded up to multiples of 64 and resizes its
// flow back), both images fed as scipy.misc.imread reads them (bytes as floats, BGR, no mean), predict_flow_final as
// H x W x 2 (u, v), written as a Middlebury .flo; and the flow pictured by flow_vis's Middlebury colour wheel.
import type { FloatImage } from '../image/image.js';
import { Tensor } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import { printfG } from '../util/round.js';

/** A flow field: height x width x 2 (u then v per pixel, row-major), float32. */
export interface Flow {
  width: number;
  height: number;
  data: Float32Array;
}

/** The blob run-flownet.py takes. */
export const FLOW_BLOB = 'predict_flow_final';

/** The variables run-flownet.py fills, in its order. */
export const FLOW_VARIABLES = ['TARGET_WIDTH', 'TARGET_HEIGHT', 'ADAPTED_WIDTH', 'ADAPTED_HEIGHT', 'SCALE_WIDTH', 'SCALE_HEIGHT'];

/** run-flownet.py's values for an image size: the size rounded up to multiples of 64, and the ratios. */
export function flowVariables(width: number, height: number): Record<string, string> {
  const aw = Math.ceil(width / 64) * 64, ah = Math.ceil(height / 64) * 64;
  const values = [width, height, aw, ah].map(String);
  return Object.fromEntries(FLOW_VARIABLES.map((k, i) => [k, i < 4 ? values[i] : pythonFloat(i === 4 ? width / aw : height / ah)]));
}

/**
 * Python 2's str() of a float, as run-flownet.py (a python2.7 script) writes the scales into the prototxt: '%.12g'
 * (exact: printfG; 8129 / 8192 = 0.9923095703125 is a tie, written 0.992309570312), '.0' added to a whole number
 * (130 / 192 is 0.677083333333; Python 3 would write 0.6770833333333334, the same float32 for every width to 8192).
 */
function pythonFloat(x: number): string {
  const g = printfG(x, 12);
  return g.includes('.') ? g : `${g}.0`;
}

/** Whether a prototxt is a template still to fill (any $NAME$ in it). */
export function isTemplate(text: string): boolean {
  return /\$[A-Za-z0-9_]+\$/.test(text);
}

/**
 * The template filled for images of width x height as run-flownet.py fills it, line by line; a $NAME$ it does not
 * fill is refused naming its line (Caffe would reject the text it leaves).
 */
export function fillFlowTemplate(text: string, width: number, height: number, file = 'template'): string {
  const values = flowVariables(width, height);
  const lines = text.split('\n').map((line) => line.replace(/\$([A-Za-z0-9_]+)\$/g, (tag, name: string) => values[name] ?? tag));
  lines.forEach((line, i) => {
    const left = /\$([A-Za-z0-9_]+)\$/.exec(line);
    if (left) throw new CremaError(`${file}:${i + 1}: unknown template variable ${left[0]} (run-flownet.py fills ${FLOW_VARIABLES.map((v) => `$${v}$`).join(' ')})`);
  });
  return lines.join('\n');
}

/**
 * The two images as run-flownet.py feeds them: 1 x 3 x H x W, the file's values as floats, BGR (a gray image's one
 * channel in all three, as numpy broadcasts its 1 x 1 x H x W into the net's input), no mean.
 */
export function flowInputs(img0: FloatImage, img1: FloatImage, names: [string, string]): Record<string, Tensor> {
  if (img0.width !== img1.width || img0.height !== img1.height)
    throw new CremaError(`${names[0]} is ${img0.width} x ${img0.height} but ${names[1]} is ${img1.width} x ${img1.height}: FlowNet takes two images of one size`);
  const planar = (im: FloatImage) => {
    // the file's own values: bytes, or a 16-bit gray PNG's 0..65535 (Pillow's I;16, which scipy hands on as uint16)
    const max = im.bits === 16 ? 65535 : 255, ch = im.channels, plane = im.width * im.height, out = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) out[c * plane + i] = Math.round(max * im.data[i * ch + (ch >= 3 ? 2 - c : 0)]);
    return new Tensor([1, 3, im.height, im.width], out);
  };
  return { img0: planar(img0), img1: planar(img1) };
}

/** The flow as run-flownet.py's writeFlow writes it (Middlebury .flo): 'PIEH', int32 width, int32 height, float32 u v interleaved, little-endian. */
export function floBytes(flow: Flow): Uint8Array {
  const out = new Uint8Array(12 + 4 * flow.data.length), view = new DataView(out.buffer);
  out.set([0x50, 0x49, 0x45, 0x48]); // 'PIEH' (202021.25 as a float)
  view.setInt32(4, flow.width, true);
  view.setInt32(8, flow.height, true);
  for (let i = 0; i < flow.data.length; i++) view.setFloat32(12 + 4 * i, flow.data[i], true);
  return out;
}

/** The flow vectors' largest and mean length in pixels (float64: what `crema flow` prints and the page shows, flowLine). */
export function flowLengths(flow: Flow): { max: number; mean: number } {
  let max = 0, sum = 0;
  for (let i = 0; i < flow.data.length; i += 2) {
    const r = Math.hypot(flow.data[i], flow.data[i + 1]);
    max = Math.max(max, r);
    sum += r;
  }
  return { max, mean: sum / (flow.width * flow.height) };
}

/** flow_vis's make_colorwheel (Baker et al.'s Middlebury colour code): 55 hues, RGB 0..255. */
function colorWheel(): number[][] {
  const ramp = (n: number) => Array.from({ length: n }, (_, i) => Math.floor((255 * i) / n));
  const wheel: number[][] = [];
  const add = (n: number, rgb: (r: number) => number[]) => ramp(n).forEach((r) => wheel.push(rgb(r)));
  add(15, (r) => [255, r, 0]); // RY
  add(6, (r) => [255 - r, 255, 0]); // YG
  add(4, (r) => [0, 255, r]); // GC
  add(11, (r) => [0, 255 - r, 255]); // CB
  add(13, (r) => [r, 0, 255]); // BM
  add(6, (r) => [255, 0, 255 - r]); // MR
  return wheel;
}

/**
 * The flow as a picture, RGB bytes interleaved: flow_vis's flow_to_color (tomrunia/OpticalFlow_Visualization, pip
 * flow_vis; the Middlebury colour wheel), u and v divided by the largest radius (+ 1e-5), hue from the angle, the
 * colour faded to white towards radius 0. Its float32 steps are numpy's (fround), the mixing float64 as numpy's.
 */
export function flowColors(flow: Flow): Uint8Array {
  const f = Math.fround, n = flow.width * flow.height, d = flow.data;
  let radMax = 0;
  for (let i = 0; i < n; i++) radMax = Math.max(radMax, f(Math.sqrt(f(f(d[2 * i] * d[2 * i]) + f(d[2 * i + 1] * d[2 * i + 1])))));
  const scale = f(radMax + 1e-5), wheel = colorWheel(), ncols = wheel.length, pi = f(Math.PI), out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    const u = f(d[2 * i] / scale), v = f(d[2 * i + 1] / scale);
    const rad = f(Math.sqrt(f(f(u * u) + f(v * v))));
    const a = f(f(Math.atan2(-v, -u)) / pi), fk = f(f(f(a + 1) / 2) * (ncols - 1));
    const k0 = Math.floor(fk), k1 = k0 + 1 === ncols ? 0 : k0 + 1, frac = fk - k0;
    for (let c = 0; c < 3; c++) {
      let col = (1 - frac) * (wheel[k0][c] / 255) + frac * (wheel[k1][c] / 255);
      col = rad <= 1 ? 1 - rad * (1 - col) : col * 0.75;
      out[3 * i + c] = Math.floor(255 * col);
    }
  }
  return out;
}

/** What crema flow prints of a pair (and the page shows): the flow's size and its largest and mean length. */
export function flowLine(img0: string, img1: string, flow: Flow): string {
  const { max, mean } = flowLengths(flow);
  return `${img0} -> ${img1} (${flow.width} x ${flow.height}): flow length max ${max.toPrecision(4)}, mean ${mean.toPrecision(4)} pixels`;
}
