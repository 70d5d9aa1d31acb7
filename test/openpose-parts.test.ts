// OpenPose's hands and faces (--hand, --face) against OpenPose's own C++ (test/fixtures/openpose/parts.json, made by
// referee/parts.sh: opref's rects, crop and partpost modes, OpenPose 1.7's handDetector.cpp, faceDetector.cpp,
// maximumBase.cpp and resizeAndMergeBase.cpp compiled unchanged, with OpenCV 4.5.1). Checked: (a) the hand and face
// rectangles of designed and seeded-random BODY_25 / COCO / MPI / BODY_25B people, every float equal; (b) the crops the
// extractors make (their matrices, whether the net runs, every byte of the warped image); (c) on designed net
// outputs, every keypoint and score equal (the referee prints 9 digits: each float exactly).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toJson } from '../src/cli/json.js';
import type { Forward } from '../src/detect/forward.js';
import { detectPoses } from '../src/detect/node.js';
import { type PartKind, partAffine, partInImage, partInput, partKeypoints, posesInImage } from '../src/detect/openpose.js';
import { Net } from '../src/runtime/net.js';
import type { Tensor } from '../src/tensor.js';
import { type Person, type PoseModelName, partsLine, poseModel } from '../src/detect/pose-models.js';
import { averageScore, faceRectangle, handRectangles, handScaleRectangles, partsSkeleton } from '../src/detect/pose-parts.js';
import { imageBytes } from '../src/image/image.js';
import { loadImage } from '../src/image/load.js';
import { ostreamFloat } from '../src/util/cfloat.js';
import { readNpy } from '../src/util/npy.js';
import { cli } from './helpers/cli.js';

const fixture = path.join(import.meta.dirname, 'fixtures/openpose');
type Rect = [number, number, number, number];
interface Parts {
  rects: { name: string; model: PoseModelName; people: number[][][]; expected: { hands: [Rect, Rect][]; faces: Rect[] } }[];
  crops: { name: string; image: string; kind: PartKind; rect: [number, number, number]; netSide: number; expected: { affine: number[]; run: boolean; crop?: string; sha256: string } }[];
  posts: { name: string; kind: PartKind; rect: [number, number, number]; netSide: number; netout: string; expected: { keypoints: number[][]; peaks: number[][]; heatMapSize: [number, number]; run: boolean } }[];
  scales: {
    name: string; kind: PartKind; rect: [number, number, number]; netSide: number; number: number; range: number; netouts: string[];
    expected: { run: boolean; scales: { scale: number; rect: Rect; averageScore: number; kept: boolean; keypoints: number[][] }[]; keypoints: number[][] };
  }[];
}
const parts = JSON.parse(fs.readFileSync(path.join(fixture, 'parts.json'), 'utf8')) as Parts;
const asArray = (r: { x: number; y: number; width: number; height: number }): Rect => [r.x, r.y, r.width, r.height];
const square = ([x, y, w]: [number, number, number]) => ({ x, y, width: w, height: w });

describe("the hand and face rectangles (HandDetector::detectHands, FaceDetector::detectFaces)", () => {
  it('has designed and random cases for each model', () => {
    expect(parts.rects.length).toBeGreaterThan(40);
    expect(new Set(parts.rects.map((c) => c.model))).toEqual(new Set(['BODY_25', 'COCO', 'MPI', 'BODY_25B']));
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

describe("hands at several scales (--hand_scale_number, --hand_scale_range: opref handscales, HandExtractorCaffe's multi-scale branch)", () => {
  it('has cases where a later scale wins, where equal scores keep the first, and a hand too small to run', () => {
    const kept = parts.scales.flatMap((c) => c.expected.scales.map((s, i) => [i, s.kept] as const));
    expect(kept.some(([i, k]) => i > 0 && k) && kept.some(([i, k]) => i > 0 && !k)).toBe(true);
    // a later scale whose average equals the one kept so far, not kept (strictly greater)
    const ties = parts.scales.filter((c) => c.expected.scales.some((s, i) => i > 0 && !s.kept && c.expected.scales.slice(0, i).some((t) => t.kept && t.averageScore === s.averageScore)));
    expect(ties.length).toBeGreaterThanOrEqual(2);
    expect(parts.scales.some((c) => !c.expected.run)).toBe(true);
  });
  const hand = Net.load(path.join(fixture, 'wholeparts/hand.prototxt'), path.join(fixture, 'wholeparts/hand.caffemodel'), { threads: 1 });
  afterAll(async () => (await hand).dispose());
  it.each(parts.scales.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const want = (kp: number[][]) => kp.map((k) => k.map(Math.fround));
    const rects = handScaleRectangles(square(c.rect), c.number, c.range);
    if (c.expected.run) expect(rects.map(asArray)).toEqual(c.expected.scales.map((s) => s.rect.map(Math.fround)));
    // the designed net outputs replayed, scale i's for the i-th forward, each on that scale's crop
    const image = await loadImage(path.join(fixture, 'images/photo.png'), true);
    const bgr = { width: image.width, height: image.height, channels: 3 as const, data: imageBytes(image, 'bgr') };
    let calls = 0;
    const replay: Forward = async (_net, input) => {
      const { affine } = partAffine(c.kind, rects[calls], c.netSide);
      expect(input.data).toEqual(partInput(bgr, affine, c.netSide).data);
      const out = readNpy(path.join(fixture, c.netouts[calls++]));
      const s = c.expected.scales[calls - 1];
      expect(partKeypoints(out, affine)).toEqual(want(s.keypoints));
      expect(averageScore(partKeypoints(out, affine))).toBe(Math.fround(s.averageScore));
      return [out];
    };
    const got = await partInImage(await hand, bgr, c.kind, square(c.rect), c.netSide, replay, [c.number, c.range]);
    expect(calls).toBe(c.expected.scales.length);
    expect(got).toEqual(want(c.expected.keypoints));
  });
});

interface WholeParts {
  image: string;
  netResolution: [number, number];
  netSide: number;
  body: { netout: string; inputSha256: string; expected: { keypoints: number[][][] } };
  crops: { person: number; kind: PartKind; inputSha256: string; netout: string; expected: number[][] }[];
  handScales: { number: number; range: number; hands: { person: number; kind: PartKind; scales: { inputSha256: string; netout: string }[]; expected: number[][] }[] };
}
const whole = JSON.parse(fs.readFileSync(path.join(fixture, 'wholeparts.json'), 'utf8')) as WholeParts;
const wholeDir = path.join(fixture, 'wholeparts');
const loadWhole = (name: string) => Net.load(path.join(wholeDir, `${name}.prototxt`), path.join(wholeDir, `${name}.caffemodel`), { threads: 1 });
/** A net input (1 x 3 x h x w, x / 256 - 0.5) back to the HWC BGR bytes it was made of. */
function inputBytes(t: Tensor): Uint8Array {
  const [, , h, w] = t.dims, n = h * w, bytes = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) bytes[i * 3 + k] = (t.data[k * n + i] + 0.5) * 256;
  return bytes;
}
const zeros = (n: number) => Array.from({ length: n }, () => [0, 0, 0]);
/** What OpenPose found for a person's face or hand: its keypoints where the net ran, else zeros. */
const expectedPart = (person: number, kind: PartKind) =>
  whole.crops.find((c) => c.person === person && c.kind === kind)?.expected.map((k) => k.map(Math.fround)) ?? zeros(kind === 'face' ? 70 : 21);

describe("--hand and --face end to end: stand-in nets on a photo, Caffe's forwards, OpenPose's code (referee/wholeparts.sh)", () => {
  it('has people with faces, left and right hands, and people without', () => {
    const kinds = whole.crops.map((c) => c.kind);
    expect(['face', 'hand-left', 'hand-right'].every((k) => kinds.includes(k as PartKind))).toBe(true);
    expect(whole.crops.length).toBeLessThan(3 * whole.body.expected.keypoints.length);
  });

  it("feeds the nets OpenPose's inputs byte for byte, and from Caffe's outputs finds OpenPose's people, faces and hands exactly", async () => {
    const [body, hand, face] = await Promise.all(['body', 'hand', 'face'].map(loadWhole));
    const image = await loadImage(path.join(fixture, whole.image), true);
    const used = new Set<string>();
    // Caffe's outputs replayed: each input must be the one OpenPose gave Caffe
    const replay: Forward = async (net, input) => {
      const sha = createHash('sha256').update(inputBytes(input)).digest('hex');
      if (net === body) {
        expect(sha).toBe(whole.body.inputSha256);
        return [readNpy(path.join(fixture, whole.body.netout))];
      }
      const crop = whole.crops.find((c) => c.inputSha256 === sha && (c.kind === 'face') === (net === face));
      expect(crop, `a ${net === face ? 'face' : 'hand'} crop OpenPose made`).toBeDefined();
      used.add(crop!.netout);
      return [readNpy(path.join(fixture, crop!.netout))];
    };
    const options = { netResolution: whole.netResolution, hand, face, handNetResolution: whole.netSide, faceNetResolution: whole.netSide };
    const people = await posesInImage(body, image, options, replay);
    expect(people.map((p) => p.keypoints)).toEqual(whole.body.expected.keypoints.map((p) => p.map((k) => k.map(Math.fround))));
    expect(used.size).toBe(whole.crops.length);
    people.forEach((p, i) => {
      expect(p.face).toEqual(expectedPart(i, 'face'));
      expect(p.handLeft).toEqual(expectedPart(i, 'hand-left'));
      expect(p.handRight).toEqual(expectedPart(i, 'hand-right'));
    });
    for (const n of [body, hand, face]) n.dispose();
  });

  it("the hands at several scales (--hand_scale_number 3, --hand_scale_range 0.5): each scale's crop OpenPose's byte for byte, from Caffe's outputs OpenPose's hands exactly", async () => {
    const [body, hand] = await Promise.all(['body', 'hand'].map(loadWhole));
    const image = await loadImage(path.join(fixture, whole.image), true);
    const { number, range, hands } = whole.handScales, crops = hands.flatMap((h) => h.scales), used = new Set<string>();
    expect(hands.some((h) => h.kind === 'hand-left') && hands.some((h) => h.kind === 'hand-right')).toBe(true);
    const replay: Forward = async (net, input) => {
      if (net === body) return [readNpy(path.join(fixture, whole.body.netout))];
      const crop = crops.find((c) => c.inputSha256 === createHash('sha256').update(inputBytes(input)).digest('hex'));
      expect(crop, 'a crop OpenPose made at one of the scales').toBeDefined();
      used.add(crop!.netout);
      return [readNpy(path.join(fixture, crop!.netout))];
    };
    const people = await posesInImage(body, image, { netResolution: whole.netResolution, hand, handNetResolution: whole.netSide, handScaleNumber: number, handScaleRange: range }, replay);
    expect(used.size).toBe(crops.length);
    const want = (person: number, kind: PartKind) => hands.find((h) => h.person === person && h.kind === kind)?.expected.map((k) => k.map(Math.fround)) ?? zeros(21);
    people.forEach((p, i) => {
      expect(p.handLeft).toEqual(want(i, 'hand-left'));
      expect(p.handRight).toEqual(want(i, 'hand-right'));
    });
    for (const n of [body, hand]) n.dispose();
  });

  it("with crema's own forward (native, ONNX Runtime): the same faces and hands within 0.001 (the forwards' last bits)", async () => {
    const [body, hand, face] = await Promise.all(['body', 'hand', 'face'].map(loadWhole));
    const photo = path.join(fixture, whole.image);
    const options = { netResolution: whole.netResolution, hand, face, handNetResolution: whole.netSide, faceNetResolution: whole.netSide };
    for (const backend of ['native', 'onnx'] as const) {
      const people = await detectPoses(body, photo, { ...options, backend });
      expect(people.length).toBe(whole.body.expected.keypoints.length);
      people.forEach((p, i) => {
        for (const [got, kind] of [[p.face, 'face'], [p.handLeft, 'hand-left'], [p.handRight, 'hand-right']] as const) {
          const want = expectedPart(i, kind);
          // the body's keypoints move in their last bits, and the rectangles and crops' places with them
          const worst = Math.max(...got!.flatMap((g, k) => g.map((v, d) => Math.abs(v - want[k][d]))));
          expect(worst, `${backend} person ${i} ${kind}`).toBeLessThanOrEqual(1e-3);
        }
      });
    }
    for (const n of [body, hand, face]) n.dispose();
  });
});

describe('crema pose --hand --face', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-pose-parts-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const files = (name: string) => [path.join(wholeDir, `${name}.prototxt`), path.join(wholeDir, `${name}.caffemodel`)];
  const photo = path.join(fixture, whole.image);
  const flags = ['--net-resolution', '-1x64', '--hand-net-resolution', '48x48', '--face-net-resolution', '48x48'];

  it('--json gives what detectPoses gives; --write-json writes OpenPose\'s face and hand arrays; the text counts them', async () => {
    const [body, hand, face] = await Promise.all(['body', 'hand', 'face'].map(loadWhole));
    const expected = await detectPoses(body, photo, { netResolution: [-1, 64], hand, face, handNetResolution: 48, faceNetResolution: 48 });
    for (const n of [body, hand, face]) n.dispose();
    const jsonDir = path.join(tmp, 'keypoints');
    const r = await cli('pose', ...files('body'), photo, ...flags, '--hand', ...files('hand'), '--face', ...files('face'), '--json', '--write-json', jsonDir);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { images: { people: unknown }[] }).images[0].people).toEqual(JSON.parse(toJson(expected)));
    const written = JSON.parse(fs.readFileSync(path.join(jsonDir, 'photo_keypoints.json'), 'utf8')) as { people: Record<string, number[]>[] };
    const raw = fs.readFileSync(path.join(jsonDir, 'photo_keypoints.json'), 'utf8');
    const p = expected.findIndex((q) => q.handLeft!.some(([, , s]) => s > 0));
    expect(p).toBeGreaterThanOrEqual(0);
    expect(raw).toContain(`"hand_left_keypoints_2d":[${expected[p].handLeft!.flat().map(ostreamFloat).join(',')}]`);
    expect(written.people.map((q) => [q.face_keypoints_2d.length, q.hand_left_keypoints_2d.length, q.hand_right_keypoints_2d.length])).toEqual(expected.map(() => [210, 63, 63]));
    // --backend onnx: each net through its own sessions, the same faces and hands within the forwards' last bits
    const onnx = await cli('pose', ...files('body'), photo, ...flags, '--hand', ...files('hand'), '--face', ...files('face'), '--json', '--backend', 'onnx');
    expect(onnx.code).toBe(0);
    const onnxPeople = (JSON.parse(onnx.stdout) as { images: { people: Person[] }[] }).images[0].people;
    expect(onnxPeople.length).toBe(expected.length);
    const parts = (q: Person) => [q.face!, q.handLeft!, q.handRight!].flat(2);
    expect(Math.max(...onnxPeople.flatMap((q, i) => parts(q).map((v, k) => Math.abs(v - parts(expected[i])[k]))))).toBeLessThanOrEqual(1e-3);
    // the text's line under each person (OpenPose's render thresholds: face 0.4, hands 0.2)
    const count = (kp: number[][], t: number) => kp.filter(([, , s]) => s > t).length;
    expect(partsLine(expected[p])).toBe(`  face ${count(expected[p].face!, 0.4)} of 70 keypoints above 0.4; left hand ${count(expected[p].handLeft!, 0.2)} of 21 keypoints above 0.2; right hand ${count(expected[p].handRight!, 0.2)} of 21 keypoints above 0.2`);
    expect(partsLine({ score: 1, keypoints: [] })).toBeUndefined();
  });

  it('--hand-scale-number / --hand-scale-range reach detectPoses (hands other than at one scale)', async () => {
    const [body, hand] = await Promise.all(['body', 'hand'].map(loadWhole));
    const one = { netResolution: [-1, 64] as [number, number], hand, handNetResolution: 48 };
    const single = await detectPoses(body, photo, one), expected = await detectPoses(body, photo, { ...one, handScaleNumber: 3, handScaleRange: 0.5 });
    for (const n of [body, hand]) n.dispose();
    expect(expected.map((p) => p.handLeft)).not.toEqual(single.map((p) => p.handLeft));
    const r = await cli('pose', ...files('body'), photo, ...flags, '--hand', ...files('hand'), '--hand-scale-number', '3', '--hand-scale-range', '0.5', '--json');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { images: { people: unknown }[] }).images[0].people).toEqual(JSON.parse(toJson(expected)));
  });

  it('refuses a hand or face net that is not OpenPose\'s, a bad resolution and bad options in one line', async () => {
    const r = await cli('pose', ...files('body'), photo, '--hand', ...files('face'));
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').at(-1)).toBe("crema: pose: the hand net's output 'net_output' is 1 x 71 x 2 x 2; OpenPose's hand net gives 1 x 22 x H x W (21 keypoint heatmaps and the background)");
    const f = await cli('pose', ...files('body'), photo, '--face', ...files('hand'));
    expect(f.stderr.split('\n').at(-1)).toBe("crema: pose: the face net's output 'net_output' is 1 x 22 x 2 x 2; OpenPose's face net gives 1 x 71 x H x W (70 keypoint heatmaps and the background)");
    const side = await cli('pose', ...files('body'), photo, '--hand-net-resolution', '368x360');
    expect(side.stderr).toBe("crema: --hand-net-resolution: SIDExSIDE, a square, the side a multiple of 16 (OpenPose's default: 368x368), got '368x360'");
    const [body, hand] = await Promise.all(['body', 'hand'].map(loadWhole));
    await expect(detectPoses(body, photo, { hand, handNetResolution: 50 })).rejects.toThrow("detectPoses: options.handNetResolution is the side of the hand net's square input, a multiple of 16 (OpenPose's --hand_net_resolution, default 368), got 50");
    await expect(detectPoses(body, photo, { hand, handScaleNumber: 2.5 })).rejects.toThrow("detectPoses: options.handScaleNumber is a whole number from 1 to 16 (OpenPose's --hand_scale_number), got 2.5");
    await expect(detectPoses(body, photo, { hand, handScaleRange: 0 })).rejects.toThrow("detectPoses: options.handScaleRange is a number in (0, 1] (OpenPose's --hand_scale_range), got 0");
    const scales = await cli('pose', ...files('body'), photo, '--hand-scale-number', '17');
    expect(scales.stderr).toBe("crema: detectPoses: --hand-scale-number is a whole number from 1 to 16 (OpenPose's --hand_scale_number), got 17");
    await expect(detectPoses(body, photo, { face: 'face.prototxt' as never })).rejects.toThrow("detectPoses: options.face is OpenPose's face net (a loaded Net: models/face/pose_deploy.prototxt), got string");
    await expect(detectPoses(body, photo, { face: hand })).rejects.toThrow("pose: the face net's output 'net_output' is 1 x 22 x 2 x 2; OpenPose's face net gives 1 x 71 x H x W (70 keypoint heatmaps and the background)");
    for (const n of [body, hand]) n.dispose();
  });
});

describe("-o's faces and hands: what OpenPose's renderers draw (referee/render.cpp: renderFaceKeypointsCpu, renderHandKeypointsCpu)", () => {
  it('every line and ring, with its place, colour and each face\'s and hand\'s sizes', () => {
    type Drawn = ['line', number, number, number, number, string, number] | ['circle', number, number, string, number, number];
    const { cases } = JSON.parse(fs.readFileSync(path.join(fixture, 'render-parts.json'), 'utf8')) as {
      cases: { model: 'FACE' | 'HAND'; width: number; height: number; people: [number, number, number][][]; drawn: Drawn[] }[];
    };
    expect(cases.map((c) => c.model)).toEqual(['FACE', 'FACE', 'HAND', 'FACE', 'HAND', 'FACE', 'HAND', 'FACE', 'HAND']);
    for (const c of cases) {
      const n = c.model === 'HAND' ? c.people.length / 2 : c.people.length;
      const people = Array.from({ length: n }, (_, i) => (c.model === 'FACE' ? { score: 1, keypoints: [], face: c.people[i] } : { score: 1, keypoints: [], handLeft: c.people[i], handRight: c.people[n + i] }));
      const { lines, dots } = partsSkeleton(people, c.width, c.height);
      expect(lines.length + dots.length, `${c.model} ${c.width} x ${c.height}`).toBeGreaterThan(0);
      // OpenPose draws a set's lines, then its rings: split its calls the same way, in order
      expect(lines, `${c.model} ${c.width} x ${c.height}`).toEqual(c.drawn.filter((d) => d[0] === 'line').map((d) => d.slice(1)));
      expect(dots, `${c.model} ${c.width} x ${c.height}`).toEqual(c.drawn.filter((d) => d[0] === 'circle').map((d) => d.slice(1)));
    }
  });
});
