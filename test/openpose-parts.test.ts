// OpenPose's hands and faces (--hand, --face) against OpenPose's own C++ (test/fixtures/openpose/parts.json, made by
// referee/parts.sh: opref's rects, crop and partpost modes, OpenPose 1.7's handDetector.cpp, faceDetector.cpp,
// maximumBase.cpp and resizeAndMergeBase.cpp compiled unchanged, with OpenCV 4.5.1). Checked: (a) the hand and face
// rectangles of designed and seeded-random BODY_25 / COCO / MPI people, every float equal; (b) the crops the
// extractors make (their matrices, whether the net runs, every byte of the warped image); (c) on designed net
// outputs, every keypoint and score equal (the referee prints 9 digits: each float exactly).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type PartKind, partAffine, partInput, partKeypoints } from '../src/detect/openpose-parts.js';
import { type PoseModelName, poseModel } from '../src/detect/pose-models.js';
import { faceRectangle, handRectangles } from '../src/detect/pose-parts.js';
import { imageBytes } from '../src/image/image.js';
import { loadImage } from '../src/image/load.js';
import { readNpy } from '../src/util/npy.js';

const fixture = path.join(import.meta.dirname, 'fixtures/openpose');
type Rect = [number, number, number, number];
interface Parts {
  rects: { name: string; model: PoseModelName; people: number[][][]; expected: { hands: [Rect, Rect][]; faces: Rect[] } }[];
  crops: { name: string; image: string; kind: PartKind; rect: [number, number, number]; netSide: number; expected: { affine: number[]; run: boolean; crop?: string; sha256: string } }[];
  posts: { name: string; kind: PartKind; rect: [number, number, number]; netSide: number; netout: string; expected: { keypoints: number[][]; peaks: number[][]; heatMapSize: [number, number]; run: boolean } }[];
}
const parts = JSON.parse(fs.readFileSync(path.join(fixture, 'parts.json'), 'utf8')) as Parts;
const asArray = (r: { x: number; y: number; width: number; height: number }): Rect => [r.x, r.y, r.width, r.height];
const square = ([x, y, w]: [number, number, number]) => ({ x, y, width: w, height: w });

describe("the hand and face rectangles (HandDetector::detectHands, FaceDetector::detectFaces)", () => {
  it('has designed and random cases for each model', () => {
    expect(parts.rects.length).toBeGreaterThan(40);
    expect(new Set(parts.rects.map((c) => c.model))).toEqual(new Set(['BODY_25', 'COCO', 'MPI']));
    // the cases reach every branch: some hands and faces found, some not
    const all = parts.rects.flatMap((c) => [...c.expected.hands.flat(), ...c.expected.faces]);
    expect(all.some((r) => r[2] > 0) && all.some((r) => r[2] === 0)).toBe(true);
  });
  it.each(parts.rects.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const model = poseModel(c.model);
    // (the referee prints each float in 9 digits: fround gives it back)
    expect(c.people.map((p) => handRectangles(model, p).map(asArray))).toEqual(c.expected.hands.map((h) => h.map((r) => r.map(Math.fround))));
    expect(c.people.map((p) => asArray(faceRectangle(model, p)))).toEqual(c.expected.faces.map((r) => r.map(Math.fround)));
  });
});

const sha = (a: Uint8Array) => createHash('sha256').update(a).digest('hex');

describe('the crops (HandExtractorCaffe / FaceExtractorCaffe::forwardPass: cv::warpAffine, WARP_INVERSE_MAP)', () => {
  it.each(parts.crops.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const image = await loadImage(path.join(fixture, c.image), true);
    const { affine, run } = partAffine(c.kind, square(c.rect), c.netSide);
    const [a, b, cc, d, e, ff] = c.expected.affine;
    expect([a, b, cc, d, e, ff]).toEqual([affine[0], 0, affine[1], 0, affine[2], affine[3]]);
    expect(run).toBe(c.expected.run);
    const input = partInput({ width: image.width, height: image.height, channels: 3, data: imageBytes(image, 'bgr') }, affine, c.netSide);
    expect(input.dims).toEqual([1, 3, c.netSide, c.netSide]);
    // back to OpenCV's bytes (exact: x / 256 - 0.5 of a byte), HWC BGR
    const n = c.netSide * c.netSide, bytes = new Uint8Array(3 * n);
    for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) bytes[i * 3 + k] = (input.data[k * n + i] + 0.5) * 256;
    if (c.expected.crop) {
      const want = await loadImage(path.join(fixture, c.expected.crop), true);
      let differ = 0;
      for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) if (bytes[i * 3 + k] !== Math.round(255 * want.data[i * 3 + 2 - k])) differ++;
      expect(differ).toBe(0);
    }
    expect(sha(bytes)).toBe(c.expected.sha256);
  });
});

describe('the keypoints from the nets\' maps (resizeAndMergeCpu, maximumCpu, the crop\'s matrix)', () => {
  it.each(parts.posts.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const out = readNpy(path.join(fixture, c.netout));
    const { affine } = partAffine(c.kind, square(c.rect), c.netSide);
    const got = partKeypoints(out, affine);
    expect(got.length).toBe(c.kind === 'face' ? 70 : 21);
    expect(got).toEqual(c.expected.keypoints.map((k) => k.map(Math.fround)));
  });
});
