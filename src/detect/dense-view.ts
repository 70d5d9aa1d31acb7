// How the dense demos show their results, light enough for the page (web/app.ts imports this file, not dense.ts,
// which reaches the engine): FCN's label map in PASCAL VOC's colours, a class's line of the summary, and the edge
// map as RCF saves it. `crema segment` / `crema edges` and the page draw with the same code.
import type { SegmentClass } from './options.js';
import { roundHalfEven } from '../util/round.js';

/**
 * FCN's vis.make_palette (PASCAL VOC's colour map): class k's bits, three at a time, spread over R, G, B from the
 * top bit down. RGB a class.
 */
export function vocPalette(classes: number): Uint8Array {
  const palette = new Uint8Array(3 * classes);
  for (let k = 0; k < classes; k++)
    for (let label = k, i = 0; label; label >>= 3, i++)
      for (let c = 0; c < 3; c++) palette[3 * k + c] |= ((label >> c) & 1) << (7 - i);
  return palette;
}

/** vis.color_seg: the label map in the palette's colours, RGB bytes interleaved (infer.py saves them as an RGB PNG). */
export function colourLabels(labels: Uint8Array | Int32Array, palette: Uint8Array): Uint8Array {
  const rgb = new Uint8Array(3 * labels.length);
  for (let i = 0; i < labels.length; i++) rgb.set(palette.subarray(3 * labels[i], 3 * labels[i] + 3), 3 * i);
  return rgb;
}

/**
 * The edge map as RCF's test saves it: cv2.imwrite(path, 255 * (1 - fuse)), float32 arithmetic, then OpenCV's
 * conversion to bytes (saturate_cast: round half to even, clamped to 0..255, NaN 0). Edges dark on white.
 */
export function edgeBytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Math.fround(255 * Math.fround(1 - data[i]));
    out[i] = v === v ? Math.min(255, Math.max(0, roundHalfEven(v))) : 0; // cvRound: halves to even; NaN 0
  }
  return out;
}

/** A class of a label map of `total` pixels, as `crema segment` lists it: "15 person: 1234 pixels (12.3%)" (named when `names` has it). */
export function segmentClassLine(c: SegmentClass, total: number, names?: readonly string[]): string {
  return `${c.label}${names?.[c.label] !== undefined ? ` ${names[c.label]}` : ''}: ${c.pixels} pixels (${((100 * c.pixels) / total).toFixed(1)}%)`;
}
