// Two runs' detections compared as sets: ONNX's NonMaxSuppression and TopK may give a detection layer's rows in
// another order than the fork's loops (test/ssd.test.ts compares DetectionOutput that way too).
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Detection } from '../../src/detect/options.js';

const CORNERS = ['xmin', 'ymin', 'xmax', 'ymax'] as const;

/** |a - b| within `rel` of |b| (and of 1, for values near 0). */
const near = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

/**
 * Each of `expected` matched by one of `found`, and none left over: the same label and name, the score and the
 * corners (and a quadrilateral's points) within `rel` relative.
 */
export function expectSameDetections(found: readonly Detection[], expected: readonly Detection[], rel = 1e-4): void {
  expect(found.length, 'as many detections').toBe(expected.length);
  const left = [...found];
  for (const d of expected) {
    const i = left.findIndex((f) => f.label === d.label && f.name === d.name && near(f.score, d.score, rel) &&
      CORNERS.every((k) => near(f[k], d[k], rel)) && (f.quad ?? []).length === (d.quad ?? []).length && (f.quad ?? []).every((v, j) => near(v, d.quad![j], rel)));
    expect(i, `${JSON.stringify(d)} among ${JSON.stringify(left)}`).toBeGreaterThanOrEqual(0);
    left.splice(i, 1);
  }
}

/**
 * A two-stage detector's reference run (a fixture's detections.json, its make.sh: py-faster-rcnn's im_detect and the
 * demo's per-class NMS in real Caffe): the image, _get_image_blob's scale and the detections; a test adds its own.
 */
export interface DetectReference {
  width: number;
  height: number;
  scale: number;
  maxSize: number;
  threshold: number;
  /** How many ROIs the Proposal layer gave. */
  rois: number;
  detections: Omit<Detection, 'name'>[];
}

/** `fixture`'s detections.json (or `file`), and the detect options it was made with. */
export function readDetectReference<R extends DetectReference>(fixture: string, file = 'detections.json'): { ref: R; options: { scale: number; maxSize: number; threshold: number } } {
  const ref = JSON.parse(fs.readFileSync(path.join(fixture, file), 'utf8')) as R;
  return { ref, options: { scale: ref.scale, maxSize: ref.maxSize, threshold: ref.threshold } };
}
