// CIE Lab as scikit-image 0.18 converts a float32 image (skimage.color.rgb2lab and lab2rgb: sRGB, illuminant D65,
// 2° observer), the colorization demo's conversions. skimage keeps a float32 image in float32 throughout (its
// matrices and white point cast to the image's type, numpy's Python constants too), so every step here is rounded to
// float32 as numpy rounds it. Restated rather than taken from a colour library: their constants and thresholds
// differ (skimage's 0.008856 and 7.787, the matrix it inverts), and the demo's numbers are skimage's.

const f = Math.fround;

const XYZ_FROM_RGB = [
  [0.412453, 0.35758, 0.180423],
  [0.212671, 0.71516, 0.072169],
  [0.019334, 0.119193, 0.950227],
];
/** skimage's rgb_from_xyz: linalg.inv(xyz_from_rgb), in double, then cast to the image's float32. */
const RGB_FROM_XYZ = inverse3(XYZ_FROM_RGB).map((row) => row.map(f));
const XYZ32 = XYZ_FROM_RGB.map((row) => row.map(f));
/** D65, 2°: skimage's illuminants['D65']['2']. */
const WHITE = [0.95047, 1, 1.08883];
const WHITE32 = WHITE.map(f);

function inverse3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, g], [h, i, k]] = m;
  const A = e * k - g * i, B = -(d * k - g * h), C = d * i - e * h;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * k - c * i) / det, (b * g - c * e) / det],
    [B / det, (a * k - c * h) / det, -(a * g - c * d) / det],
    [C / det, -(a * i - b * h) / det, (a * e - b * d) / det],
  ];
}

/** A float32 3x3 matrix times a colour, summed in order and rounded as numpy's float32 matmul. */
const times = (m: number[][], v: number[], k: number) => f(f(f(m[k][0] * v[0]) + f(m[k][1] * v[1])) + f(m[k][2] * v[2]));

const C = {
  gammaCut: f(0.04045), a: f(0.055), b: f(1.055), lin: f(12.92), power: f(2.4),
  labCut: f(0.008856), slope: f(7.787), offset: f(16 / 116), invCut: f(0.2068966), rgbCut: f(0.0031308), invPower: f(1 / 2.4),
};

/** rgb2lab of an RGB float32 image (0-1, interleaved): Lab, interleaved, float32. */
export function rgbToLab(rgb: Float32Array): Float32Array {
  const out = new Float32Array(rgb.length), lin = [0, 0, 0];
  for (let p = 0; p < rgb.length; p += 3) {
    for (let c = 0; c < 3; c++) {
      const v = rgb[p + c];
      lin[c] = v > C.gammaCut ? f(f(f(v + C.a) / C.b) ** C.power) : f(v / C.lin);
    }
    const t = [0, 1, 2].map((k) => {
      const x = f(times(XYZ32, lin, k) / WHITE32[k]);
      return x > C.labCut ? f(Math.cbrt(x)) : f(f(C.slope * x) + C.offset);
    });
    out[p] = f(f(116 * t[1]) - 16);
    out[p + 1] = f(500 * f(t[0] - t[1]));
    out[p + 2] = f(200 * f(t[1] - t[2]));
  }
  return out;
}

/** lab2rgb of float32 Lab (interleaved): RGB clipped to 0-1, float32, as skimage gives it (Z < 0 taken as 0, as there). */
export function labToRgb(lab: Float32Array): Float32Array {
  const out = new Float32Array(lab.length);
  const inverse = (t: number) => (t > C.invCut ? f(t ** 3) : f(f(t - C.offset) / C.slope));
  for (let p = 0; p < lab.length; p += 3) {
    const y = f(f(lab[p] + 16) / 116), x = f(f(lab[p + 1] / 500) + y), z = Math.max(f(y - f(lab[p + 2] / 200)), 0);
    // out *= xyz_ref_white: a float32 array times float64 white, rounded back
    const xyz = [f(inverse(x) * WHITE[0]), f(inverse(y) * WHITE[1]), f(inverse(z) * WHITE[2])];
    for (let c = 0; c < 3; c++) {
      const v = times(RGB_FROM_XYZ, xyz, c);
      const g = v > C.rgbCut ? f(f(C.b * f(v ** C.invPower)) - C.a) : f(v * C.lin);
      out[p + c] = Math.min(Math.max(g, 0), 1);
    }
  }
  return out;
}
