// TextBoxes++'s polygon NMS, the step its demo runs after the net (MhLiao/TextBoxes_plusplus
// examples/text/demo_det.py `extract_detections` and `apply_quad_nms`, examples/text/nms.py): DetectionOutput's NMS
// works on the quadrilaterals' bounding boxes, so tilted words overlapping by their boxes survive it; the demo drops
// them by their outlines. Its numbers are restated here, quirks included: each corner rounded to a whole pixel
// (Python 2's round, halves away from zero) and kept within [1, size - 1] first; the "union" of two quadrilaterals is
// the convex hull of their eight corners, not their union; a pair of equal scores drops the smaller outline. The
// shapes are convex hulls, so the intersection is a convex clip (Sutherland-Hodgman) and shapely is not needed.

import type { Detection } from './detect.js';

type Point = [number, number];

/**
 * The detections TextBoxes++'s demo keeps of `found` (all with a `quad`) in a width x height image: by score,
 * highest first; a quadrilateral overlapping a kept one by more than `overlap` (the demo: 0.2) is dropped.
 */
export function quadNms(found: readonly Detection[], overlap: number, width: number, height: number): Detection[] {
  const corner = (v: number, size: number) => Math.max(1, Math.min(roundHalfAway(v), size - 1));
  // Python's sorted is stable: equal scores keep the net's order.
  const sorted = [...found].sort((a, b) => b.score - a.score);
  const quads = sorted.map((d) => d.quad!.map((v, i) => corner(v, i % 2 ? height : width)));
  const hulls = quads.map((q) => convexHull([0, 1, 2, 3].map((i): Point => [q[2 * i], q[2 * i + 1]])));
  const areas = hulls.map(area);
  const keep = sorted.map(() => true);
  for (let i = 0; i < sorted.length; i++) {
    if (!keep[i]) continue;
    for (let j = 0; j < sorted.length; j++) {
      if (j === i || !keep[j]) continue;
      if (!(iou(hulls[i], hulls[j]) > overlap)) continue;
      const si = sorted[i].score, sj = sorted[j].score;
      if (si > sj) keep[j] = false;
      if (si === sj && areas[i] > areas[j]) keep[j] = false;
      if (si === sj && areas[i] <= areas[j]) {
        keep[i] = false;
        break;
      }
    }
  }
  // The demo's `if dt not in results`: a row equal to a kept one (its rounded corners and score) is kept once.
  const seen = new Set<string>();
  return sorted.filter((d, i) => {
    if (!keep[i]) return false;
    const key = `${quads[i].join(',')},${d.score}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Python 2's round(): halves away from zero (Math.round is exact; floor(v + 0.5) is not just below a half). */
function roundHalfAway(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}

/** nms.py's polygon_iou: the intersection's area over the area of the convex hull of both outlines' corners. */
function iou(a: Point[], b: Point[]): number {
  const inter = area(clip(a, b));
  if (inter === 0) return 0;
  const union = area(convexHull([...a, ...b]));
  return union === 0 ? 0 : inter / union;
}

/** The convex hull of `points`, counter-clockwise (Andrew's monotone chain); collinear points dropped. */
function convexHull(points: Point[]): Point[] {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const half = (list: Point[]): Point[] => {
    const out: Point[] = [];
    for (const q of list) {
      while (out.length >= 2 && cross(out[out.length - 2], out[out.length - 1], q) <= 0) out.pop();
      out.push(q);
    }
    out.pop();
    return out;
  };
  return [...half(p), ...half([...p].reverse())];
}

/** (b - a) x (c - a): positive when a, b, c turn counter-clockwise. */
function cross(a: Point, b: Point, c: Point): number {
  return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

/** The shoelace area of a simple polygon (0 for fewer than three points). */
function area(poly: Point[]): number {
  let twice = 0;
  for (let i = 0; i < poly.length; i++) {
    const [x1, y1] = poly[i], [x2, y2] = poly[(i + 1) % poly.length];
    twice += x1 * y2 - x2 * y1;
  }
  return Math.abs(twice) / 2;
}

/** The intersection of two convex polygons, both counter-clockwise: `subject` clipped by each edge of `by`. */
function clip(subject: Point[], by: Point[]): Point[] {
  if (subject.length < 3 || by.length < 3) return [];
  let out = subject;
  for (let e = 0; e < by.length && out.length; e++) {
    const a = by[e], b = by[(e + 1) % by.length], input = out;
    out = [];
    for (let i = 0; i < input.length; i++) {
      const p = input[i], q = input[(i + 1) % input.length];
      const sp = cross(a, b, p), sq = cross(a, b, q);
      if (sp >= 0) out.push(p);
      if ((sp >= 0) !== (sq >= 0)) {
        const t = sp / (sp - sq);
        out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
      }
    }
  }
  return out;
}
