// OpenPose's hands and face (--hand, --face with hand_detector 0 / face_detector 0): where they are, from a person's
// body keypoints, as HandDetector::detectHands (hand/handDetector.cpp) and FaceDetector::detectFaces
// (face/faceDetector.cpp) compute it in float (Math.fround where its C++ rounds), and their keypoint models' tables.
// Light: no engine import (the browser's entry and page may use it), like pose-models.ts.
import { type Dot, type KeypointStyle, type Limb, type Person, type PoseModel, renderKeypoints } from './pose-models.js';

const f = Math.fround;

/** A square OpenPose hands to the hand or face net: top-left corner and sides, float (Rectangle<float>). */
export interface PartRectangle {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** HAND_NUMBER_PARTS and FACE_NUMBER_PARTS (each net has one more map, the background, after these). */
export const HAND_PARTS = 21, FACE_PARTS = 70;

/** The blob OpenPose reads: the net's output (its body, hand and face prototxts name it net_output). */
export function poseOutput(outputs: readonly string[]): string {
  return outputs.length === 1 ? outputs[0] : 'net_output';
}

/** Which of OpenPose's part nets an output of these dims is (1 x 22 x H x W: the hand's; 1 x 71: the face's), if either. */
export function partKindOf(dims: readonly number[] | undefined): 'hand' | 'face' | undefined {
  if (!(dims?.length === 4 && dims[0] === 1)) return undefined;
  return dims[1] === HAND_PARTS + 1 ? 'hand' : dims[1] === FACE_PARTS + 1 ? 'face' : undefined;
}

/**
 * What a net that should be one of OpenPose's `kinds` nets but is not is told (its output `name` of `dims`), after
 * `who`: 'pose' (crema pose's --hand, detectPoses' options.hand), or the file the page was given (either kind).
 */
export function partNetMismatch(who: string, kinds: readonly ('hand' | 'face')[], name: string, dims: readonly number[] | undefined): string {
  // "OpenPose's hand net gives ..., its face net ...": the verb once, with the first kind
  const gives = kinds.map((k, i) => {
    const parts = k === 'hand' ? HAND_PARTS : FACE_PARTS;
    return `${k} net ${i === 0 ? 'gives ' : ''}1 x ${parts + 1} x H x W (${parts} keypoint heatmaps and the background)`;
  });
  return `${who}: the ${kinds.join(' or ')} net's output '${name}' is ${dims?.join(' x ') ?? 'missing'}; OpenPose's ${gives.join(', its ')}`;
}

/** detectHands' threshold on the wrist, elbow and shoulder scores; detectFaces' on the head's parts. */
const HAND_THRESHOLD = f(0.03), FACE_THRESHOLD = f(0.25);

/** The index of the first of `names` the model has (poseBodyPartMapStringToKey). */
function partIndex(model: PoseModel, ...names: string[]): number {
  for (const n of names) {
    const k = model.parts.indexOf(n);
    if (k >= 0) return k;
  }
  throw new Error(`pose-parts: ${model.name} has none of ${names.join(', ')}`);
}

/** getDistance: the float distance between two keypoints. */
function distance(kp: readonly (readonly number[])[], a: number, b: number): number {
  const dx = f(kp[a][0] - kp[b][0]), dy = f(kp[a][1] - kp[b][1]);
  return f(Math.sqrt(f(f(dx * dx) + f(dy * dy))));
}

/**
 * getHandFromPoseIndexes: with wrist, elbow and shoulder above 0.03, a square centred a third of the forearm past
 * the wrist, 1.5 times the longer of the forearm and 0.9 of the upper arm; else all zero.
 */
function handFrom(kp: readonly (readonly number[])[], wrist: number, elbow: number, shoulder: number): PartRectangle {
  let x = 0, y = 0, width = 0;
  if ([wrist, elbow, shoulder].every((k) => kp[k][2] > HAND_THRESHOLD)) {
    const ratio = f(0.33);
    x = f(kp[wrist][0] + f(ratio * f(kp[wrist][0] - kp[elbow][0])));
    y = f(kp[wrist][1] + f(ratio * f(kp[wrist][1] - kp[elbow][1])));
    const forearm = distance(kp, wrist, elbow), upper = f(f(0.9) * distance(kp, elbow, shoulder));
    width = f(f(1.5) * (forearm > upper ? forearm : upper));
  }
  const half = f(width / 2);
  return { x: f(x - half), y: f(y - half), width, height: width };
}

/** HandDetector::detectHands for one person: [left hand, right hand] (the person's own left and right). */
export function handRectangles(model: PoseModel, keypoints: readonly (readonly number[])[]): [PartRectangle, PartRectangle] {
  const at = (n: string) => partIndex(model, n);
  return [handFrom(keypoints, at('LWrist'), at('LElbow'), at('LShoulder')), handFrom(keypoints, at('RWrist'), at('RElbow'), at('RShoulder'))];
}

/** Rectangle::center then recenter (core/rectangle.cpp) on Rectangle<float>: the same centre, sides w x h, in float. */
function recenter(r: PartRectangle, width: number, height: number): PartRectangle {
  const cx = f(r.x + f(r.width / 2)), cy = f(r.y + f(r.height / 2));
  return { x: f(cx - f(width / 2)), y: f(cy - f(height / 2)), width, height };
}

/**
 * The rectangles HandExtractorCaffe::forwardPass runs the hand net on (handExtractorCaffe.cpp:363-407): with
 * --hand_scale_number 1 the hand's own; else, for i < number, scale = (1 - range / 2) + range * i / (number - 1)
 * (float; --hand_scale_range, a double flag, is held as a float), the rectangle recentred with sides
 * positiveIntRound(side * scale) / 2 * 2 (int(x + 0.5f), then even).
 */
export function handScaleRectangles(r: PartRectangle, number: number, range: number): PartRectangle[] {
  if (number === 1) return [r];
  const span = f(range), init = f(1 - f(span / 2));
  return Array.from({ length: number }, (_, i) => {
    const scale = f(init + f(f(span * i) / (number - 1)));
    const even = (side: number) => Math.trunc(Math.trunc(f(f(side * scale) + 0.5)) / 2) * 2;
    return recenter(r, even(r.width), even(r.height));
  });
}

/** getAverageScore (utilities/keypoint.cpp) of one hand: its keypoints' scores summed in float, over their number. */
export function averageScore(keypoints: readonly (readonly number[])[]): number {
  let sum = 0;
  for (const k of keypoints) sum = f(sum + k[2]);
  return f(sum / keypoints.length);
}

/**
 * FaceDetector::detectFaces for one person (getFaceFromPoseKeypoints, parts above 0.25): MPI (a head, no eyes or
 * ears) 1.33 times neck to head around the head; else the mean of up to three estimates (neck and nose: around
 * their midpoint, twice their distance, or in profile around nose, eye and ear, 0.85 of the three distances; both
 * eyes: 3 times theirs; both ears: twice theirs). A square, all zero when nothing was seen.
 */
export function faceRectangle(model: PoseModel, keypoints: readonly (readonly number[])[]): PartRectangle {
  const neck = partIndex(model, 'Neck'), nose = partIndex(model, 'Nose', 'Head');
  const lEar = partIndex(model, 'LEar', 'Head'), rEar = partIndex(model, 'REar', 'Head');
  const lEye = partIndex(model, 'LEye', 'Head'), rEye = partIndex(model, 'REye', 'Head');
  const kp = keypoints, seen = (k: number) => kp[k][2] > FACE_THRESHOLD, d = (a: number, b: number) => distance(kp, a, b);
  const mid = (a: number, b: number, i: number) => f(f(kp[a][i] + kp[b][i]) / 2); // the midpoint's coordinate i, in float
  let cx = 0, cy = 0, size = 0;
  if (nose === lEar && lEar === rEar) {
    if (seen(neck) && seen(nose)) [cx, cy, size] = [kp[nose][0], kp[nose][1], f(f(1.33) * d(neck, nose))];
  } else {
    let counter = 0;
    // each estimate is added to 0 or to earlier ones, in float
    const add = (x: number, y: number, s: number) => {
      [cx, cy, size] = [f(cx + x), f(cy + y), f(size + s)];
      counter++;
    };
    if (seen(neck) && seen(nose)) {
      const profile = seen(lEye) === seen(lEar) && seen(rEye) === seen(rEar) && seen(lEye) !== seen(rEye);
      if (profile) {
        const [eye, ear] = seen(lEye) ? [lEye, lEar] : [rEye, rEar];
        const mean = (i: number) => f(f(f(kp[eye][i] + kp[ear][i]) + kp[nose][i]) / 3);
        add(mean(0), mean(1), f(f(0.85) * f(f(d(nose, eye) + d(nose, ear)) + d(neck, nose))));
      } else add(mid(neck, nose, 0), mid(neck, nose, 1), f(2 * d(neck, nose)));
    }
    if (seen(lEye) && seen(rEye)) add(mid(lEye, rEye, 0), mid(lEye, rEye, 1), f(3 * d(lEye, rEye)));
    if (seen(lEar) && seen(rEar)) add(mid(lEar, rEar, 0), mid(lEar, rEar, 1), f(2 * d(lEar, rEar)));
    if (counter > 0) [cx, cy, size] = [f(cx / counter), f(cy / counter), f(size / counter)];
  }
  const half = f(size / 2);
  return { x: f(cx - half), y: f(cy - half), width: size, height: size };
}

/** renderHandKeypointsCpu's style (hand/handParameters.hpp, renderHand.cpp): HAND_PAIRS_RENDER, HAND_COLORS_RENDER. */
export const HAND_STYLE: KeypointStyle = {
  pairs: [0, 1, 1, 2, 2, 3, 3, 4, 0, 5, 5, 6, 6, 7, 7, 8, 0, 9, 9, 10, 10, 11, 11, 12, 0, 13, 13, 14, 14, 15, 15, 16, 0, 17, 17, 18, 18, 19, 19, 20],
  colors: [100, 100, 100, 100, 0, 0, 150, 0, 0, 200, 0, 0, 255, 0, 0, 100, 100, 0, 150, 150, 0, 200, 200, 0, 255, 255, 0, 0, 100, 50, 0, 150, 75, 0, 200, 100, 0, 255, 125, 0, 50, 100, 0, 75, 150, 0, 100, 200, 0, 125, 255, 100, 0, 100, 150, 0, 150, 200, 0, 200, 255, 0, 255],
  circleRatio: 1 / 50,
  lineRatio: 0.75,
  threshold: 0.2,
};

/** renderFaceKeypointsCpu's (face/faceParameters.hpp, renderFace.cpp): the face's outline, brows, nose, eyes, lips, white. */
export const FACE_STYLE: KeypointStyle = {
  pairs: [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 17, 18, 18, 19, 19, 20, 20, 21, 22, 23, 23, 24, 24, 25, 25, 26, 27, 28, 28, 29, 29, 30, 31, 32, 32, 33, 33, 34, 34, 35, 36, 37, 37, 38, 38, 39, 39, 40, 40, 41, 41, 36, 42, 43, 43, 44, 44, 45, 45, 46, 46, 47, 47, 42, 48, 49, 49, 50, 50, 51, 51, 52, 52, 53, 53, 54, 54, 55, 55, 56, 56, 57, 57, 58, 58, 59, 59, 48, 60, 61, 61, 62, 62, 63, 63, 64, 64, 65, 65, 66, 66, 67, 67, 60],
  colors: [255, 255, 255],
  circleRatio: 1 / 75,
  lineRatio: 0.334,
  threshold: 0.4,
};

/**
 * What OpenPose's face and hand renderers draw after the bodies (wrapperAuxiliary.hpp's order): every person's face
 * (renderFaceKeypointsCpu), then every left hand, then every right hand (renderHandKeypointsCpu), each at its own size.
 */
export function partsSkeleton(people: readonly Person[], width: number, height: number): { lines: Limb[]; dots: Dot[] } {
  const sets = (key: 'face' | 'handLeft' | 'handRight') => people.flatMap((p) => (p[key] ? [p[key]] : []));
  const drawn = [renderKeypoints(sets('face'), FACE_STYLE, width, height), renderKeypoints(sets('handLeft'), HAND_STYLE, width, height), renderKeypoints(sets('handRight'), HAND_STYLE, width, height)];
  return { lines: drawn.flatMap((d) => d.lines), dots: drawn.flatMap((d) => d.dots) };
}
