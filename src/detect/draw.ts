import { type FloatImage, imageBytes } from '../image/image.js';
import type { Detection } from './detect.js';

// Ten distinct colours (Tableau 10), one per label, so that a class keeps its colour across images.
const COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#17becf'];

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The boxes and their "name 0.93" tags as an SVG the size of the image (boxes clipped to it). */
export function detectionsSvg(width: number, height: number, detections: readonly Detection[]): string {
  const line = Math.max(2, Math.round(Math.min(width, height) / 200));
  const font = Math.max(12, Math.round(Math.min(width, height) / 30));
  const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const shapes = detections.map((d) => {
    const colour = COLOURS[d.label % COLOURS.length];
    const x = clip(d.xmin, width), y = clip(d.ymin, height), w = clip(d.xmax, width) - x, h = clip(d.ymax, height) - y;
    const text = escapeXml(`${d.name ?? `class ${d.label}`} ${d.score.toFixed(2)}`);
    // The tag sits above the box, or inside it at the top edge of the image.
    const tagY = y >= font + line ? y - font - line : y;
    const tagW = Math.round(text.length * font * 0.6) + 2 * line;
    // TextBoxes++'s quadrilateral where there is one (the image clips it), else the box.
    const outline = d.quad
      ? `<polygon points="${d.quad.map((v) => +v.toFixed(1)).join(' ')}" fill="none" stroke="${colour}" stroke-width="${line}"/>`
      : `<rect x="${x}" y="${y}" width="${Math.max(w, 0)}" height="${Math.max(h, 0)}" fill="none" stroke="${colour}" stroke-width="${line}"/>`;
    // MTCNN's landmarks: a dot each
    const dots = (d.landmarks ?? []).map(([px, py]) => `<circle cx="${+px.toFixed(1)}" cy="${+py.toFixed(1)}" r="${line * 1.5}" fill="${colour}"/>`).join('');
    return (
      outline +
      dots +
      `<rect x="${x}" y="${tagY}" width="${tagW}" height="${font + line}" fill="${colour}"/>` +
      `<text x="${x + line}" y="${tagY + font - line / 2}" font-family="DejaVu Sans, Arial, sans-serif" font-size="${font}" fill="#fff">${text}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`;
}

/** The image (pycaffe's [0, 1] float form) with the detections drawn over it, as PNG bytes. */
export function drawDetections(image: FloatImage, detections: readonly Detection[]): Promise<Buffer> {
  return drawOver(image, detectionsSvg(image.width, image.height, detections));
}

/** The image (pycaffe's [0, 1] float form) with an SVG of its size drawn over it, as PNG bytes. */
export async function drawOver(image: FloatImage, svg: string): Promise<Buffer> {
  const { default: sharp } = await import('sharp');
  const { width, height } = image;
  const drawn = await sharp(imageBytes(image, 'rgb'), { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .raw()
    .toBuffer({ resolveWithObject: true });
  // composite runs last in a pipeline and leaves an alpha channel: a second one drops it (an RGB PNG, as the photo).
  return sharp(drawn.data, { raw: drawn.info }).removeAlpha().png().toBuffer();
}
