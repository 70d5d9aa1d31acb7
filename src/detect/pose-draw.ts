// The people drawn over the photo as OpenPose's renderer draws them (skeleton(): its limbs and rings, colours, render
// threshold and each person's sizes) and, with --face / --hand, their faces and hands (partsSkeleton), at its default
// alpha, 0.6 (--face_alpha_pose and --hand_alpha_pose alike).
import { type Person, type PoseModel, skeleton } from './pose-models.js';
import { partsSkeleton } from './pose-parts.js';

export function posesSvg(width: number, height: number, model: PoseModel, people: readonly Person[]): string {
  const body = skeleton(model, people, width, height), parts = partsSkeleton(people, width, height);
  const lines = [...body.lines, ...parts.lines], dots = [...body.dots, ...parts.dots];
  const shapes = [
    ...lines.map(([x1, y1, x2, y2, c, t]) => `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${c}" stroke-width="${t}" stroke-linecap="round"/>`),
    ...dots.map(([x, y, c, r, t]) => `<circle cx="${x}" cy="${y}" r="${r}" fill="none" stroke="${c}" stroke-width="${t}"/>`),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g opacity="0.6">${shapes.join('')}</g></svg>`;
}
