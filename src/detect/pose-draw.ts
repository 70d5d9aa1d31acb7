// The people drawn over the photo as OpenPose's renderer draws them (skeleton(): its limbs and dots, colours and
// render threshold), at its default alpha, 0.6. Lines and dots are sized to the image (OpenPose sizes them to each
// person's box).
import { type Person, type PoseModel, skeleton } from './pose-models.js';

export function posesSvg(width: number, height: number, model: PoseModel, people: readonly Person[]): string {
  const line = Math.max(2, Math.round(6 * Math.max(width / 1280, height / 720)));
  const { lines, dots } = skeleton(model, people), n = (v: number) => +v.toFixed(1);
  const shapes = [
    ...lines.map(([x1, y1, x2, y2, c]) => `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${c}" stroke-width="${line}" stroke-linecap="round"/>`),
    ...dots.map(([x, y, c]) => `<circle cx="${n(x)}" cy="${n(y)}" r="${line}" fill="${c}"/>`),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g opacity="0.6">${shapes.join('')}</g></svg>`;
}
