// The people drawn over the photo as OpenPose's renderer draws them (skeleton(): its limbs and rings, colours, render
// threshold and each person's sizes), at its default alpha, 0.6.
import { type Person, type PoseModel, skeleton } from './pose-models.js';

export function posesSvg(width: number, height: number, model: PoseModel, people: readonly Person[]): string {
  const { lines, dots } = skeleton(model, people, width, height);
  const shapes = [
    ...lines.map(([x1, y1, x2, y2, c, t]) => `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${c}" stroke-width="${t}" stroke-linecap="round"/>`),
    ...dots.map(([x, y, c, r, t]) => `<circle cx="${x}" cy="${y}" r="${r}" fill="none" stroke="${c}" stroke-width="${t}"/>`),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g opacity="0.6">${shapes.join('')}</g></svg>`;
}
