// OpenPose's body models as its poseParameters.cpp and poseParametersRender.hpp give them (CMU-Perceptual-Computing-
// Lab/openpose 1.7): the parts, the part pairs the connector walks (in its order: it decides which person a part
// joins), each pair's PAF channels (x, y) counted after the heatmaps, the default thresholds, and the colours its
// renderer draws with; and what detectPoses takes and gives. Light: the browser's page and entry import it (no engine).
import { CremaError } from '../util/errors.js';
import { checkOptionKeys } from '../util/options.js';
import { checkBackend } from './options.js';

export type PoseModelName = 'BODY_25' | 'COCO' | 'MPI' | 'MPI_4' | 'BODY_25B' | 'BODY_135';
export const POSE_MODELS: readonly PoseModelName[] = ['BODY_25', 'COCO', 'MPI', 'MPI_4', 'BODY_25B', 'BODY_135'];

export interface PoseModel {
  name: PoseModelName;
  /** The body parts, in the heatmaps' order (the net has one more heatmap, the background, after them). */
  parts: readonly string[];
  /** POSE_BODY_PART_PAIRS: part A, part B of each PAF, in the connector's order. */
  pairs: readonly number[];
  /** POSE_MAP_INDEX: each pair's PAF x and y channels, counted from the first channel after the heatmaps. */
  mapIdx: readonly number[];
  /** getPoseDefaultNmsThreshold and getPoseDefaultConnectInterThreshold (maximize_positives off). */
  nmsThreshold: number;
  interThreshold: number;
  /** POSE_*_PAIRS_RENDER_GPU and POSE_*_COLORS_RENDER_GPU (RGB per part): what OpenPose draws. */
  renderPairs: readonly number[];
  colors: readonly number[];
  /** POSE_*_SCALES_RENDER_GPU: each part's size when drawn (BODY_135's hands 0.6, face 0.45; absent: all 1). */
  scales?: readonly number[];
  /** addBkgChannel: the net gives a background heatmap after the parts' (not BODY_25B, BODY_135). */
  background: boolean;
  /**
   * Which of OpenPose's connectors joins the parts into people: 'cpu' connectBodyPartsCpu; 'cuda' connectBodyPartsGpu's
   * (BODY_25B, BODY_135: OpenPose's CPU connector refuses them, "Model not implemented for CPU body connector").
   */
  connector: 'cpu' | 'cuda';
}

const BODY_25_PARTS = ['Nose', 'Neck', 'RShoulder', 'RElbow', 'RWrist', 'LShoulder', 'LElbow', 'LWrist', 'MidHip', 'RHip', 'RKnee', 'RAnkle', 'LHip', 'LKnee', 'LAnkle', 'REye', 'LEye', 'REar', 'LEar', 'LBigToe', 'LSmallToe', 'LHeel', 'RBigToe', 'RSmallToe', 'RHeel'];
const COCO_PARTS = ['Nose', 'Neck', 'RShoulder', 'RElbow', 'RWrist', 'LShoulder', 'LElbow', 'LWrist', 'RHip', 'RKnee', 'RAnkle', 'LHip', 'LKnee', 'LAnkle', 'REye', 'LEye', 'REar', 'LEar'];
const MPI_PARTS = ['Head', 'Neck', 'RShoulder', 'RElbow', 'RWrist', 'LShoulder', 'LElbow', 'LWrist', 'RHip', 'RKnee', 'RAnkle', 'LHip', 'LKnee', 'LAnkle', 'Chest'];

const MPI_PAIRS = [0, 1, 1, 2, 2, 3, 3, 4, 1, 5, 5, 6, 6, 7, 1, 14, 14, 8, 8, 9, 9, 10, 14, 11, 11, 12, 12, 13];
const MPI_MAP = Array.from({ length: 28 }, (_, i) => i);
const MPI_COLORS = [255, 0, 85, 255, 0, 0, 255, 85, 0, 255, 170, 0, 255, 255, 0, 170, 255, 0, 85, 255, 0, 43, 255, 0, 0, 255, 0, 0, 255, 85, 0, 255, 170, 0, 255, 255, 0, 170, 255, 0, 85, 255, 0, 0, 255];
const COCO_COLORS = [255, 0, 85, 255, 0, 0, 255, 85, 0, 255, 170, 0, 255, 255, 0, 170, 255, 0, 85, 255, 0, 0, 255, 0, 0, 255, 85, 0, 255, 170, 0, 255, 255, 0, 170, 255, 0, 85, 255, 0, 0, 255, 255, 0, 170, 170, 0, 255, 255, 0, 255, 85, 0, 255];

const CPU = { background: true, connector: 'cpu' } as const;
const CUDA = { background: false, connector: 'cuda', nmsThreshold: 0.05, interThreshold: 0.05 } as const;

// BODY_25B and BODY_135 (poseParameters.cpp, poseParametersRender.hpp). BODY_135 is BODY_25B's body (17 the upper
// neck) with each hand's 20 parts (H135 = 25: left, then right) and the face's 70 (F135 = 65) after it.
const iota = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
/** a, a+1, a+1, a+2, ..., b-1, b: the pairs of a chain of parts. */
const chain = (a: number, b: number) => iota(b - a, a).flatMap((i) => [i, i + 1]);
const H135 = 25, F135 = 65;
const B_BODY = ['Nose', 'LEye', 'REye', 'LEar', 'REar', 'LShoulder', 'RShoulder', 'LElbow', 'RElbow', 'LWrist', 'RWrist', 'LHip', 'RHip', 'LKnee', 'RKnee', 'LAnkle', 'RAnkle'];
const B_FEET = ['LBigToe', 'LSmallToe', 'LHeel', 'RBigToe', 'RSmallToe', 'RHeel'];
const BODY_25B_PARTS = [...B_BODY, 'Neck', 'HeadTop', ...B_FEET];
const FINGERS = ['Thumb', 'Index', 'Middle', 'Ring', 'Pinky'];
const handParts = (side: string) => FINGERS.flatMap((f) => (f === 'Thumb' ? ['1CMC', '2Knuckles', '3IP', '4FingerTip'] : ['1Knuckles', '2PIP', '3DIP', '4FingerTip']).map((j) => `${side}${f}${j}`));
const named = (name: string, n: number, reversed = false) => iota(n).map((i) => `${name}${reversed ? n - 1 - i : i}`);
const FACE_135_PARTS = [...named('FaceContour', 17), ...named('REyeBrow', 5), ...named('LEyeBrow', 5, true), ...named('NoseUpper', 4), ...named('NoseLower', 5), ...named('REye', 6), ...named('LEye', 6), ...named('OMouth', 12), ...named('IMouth', 8), 'RPupil', 'LPupil'];
const BODY_135_PARTS = [...B_BODY, 'UpperNeck', 'HeadTop', ...B_FEET, ...handParts('L'), ...handParts('R'), ...FACE_135_PARTS];
// the COCO body's tree, the feet's, then (after the head and neck pairs) the redundant pairs both models share
const B_TREE = [0, 1, 0, 2, 1, 3, 2, 4, 0, 5, 0, 6, 5, 7, 6, 8, 7, 9, 8, 10, 5, 11, 6, 12, 11, 13, 12, 14, 13, 15, 14, 16, 15, 19, 19, 20, 15, 21, 16, 22, 22, 23, 16, 24];
const B_REDUNDANT = [3, 4, 3, 5, 4, 6, 5, 9, 6, 10, 9, 10, 9, 11, 10, 12, 11, 12, 15, 16];
const BODY_25B_PAIRS = [...B_TREE, 5, 17, 5, 18, 6, 17, 6, 18, ...B_REDUNDANT];
/** A hand's pairs: the wrist to each finger's first joint, then along the finger. */
const handPairs = (wrist: number, base: number) => iota(5).flatMap((f) => [wrist, base + 4 * f, ...chain(base + 4 * f, base + 4 * f + 3)]);
const HANDS_135 = [...handPairs(9, H135), ...handPairs(10, H135 + 20)];
const FACE_135 = [
  ...chain(0, 16), 0, 17, 16, 26, ...chain(17, 26), 21, 27, 22, 27, ...chain(27, 30), 30, 33, 33, 32, 32, 31, 33, 34, 34, 35,
  27, 39, 27, 42, ...chain(36, 41), ...chain(42, 47), 33, 51, ...chain(48, 59), 48, 60, 54, 64, ...chain(60, 67), 36, 68, 39, 68, 42, 69, 45, 69,
].map((k) => F135 + k);
const BODY_135_PAIRS = [...B_TREE, 5, 17, 17, 18, 6, 17, ...B_REDUNDANT, ...HANDS_135, 0, F135 + 30, 2, F135 + 39, 1, F135 + 42, ...FACE_135];
const B_RENDER = [...B_TREE.slice(0, 8), ...B_TREE.slice(12)];
const BODY_25B_RENDER = [...B_RENDER, 5, 17, 6, 17, 17, 18, 11, 12];
// the face drawn as OpenPose's face model draws it: its chains, the eyes and the mouth closed
const FACE_135_RENDER = [...chain(0, 16), ...chain(17, 21), ...chain(22, 26), ...chain(27, 30), ...chain(31, 35), ...chain(36, 41), 41, 36, ...chain(42, 47), 47, 42, ...chain(48, 59), 59, 48, ...chain(60, 67), 67, 60].map((k) => F135 + k);
const BODY_135_RENDER = [...B_RENDER, 5, 6, 17, 18, 11, 12, ...HANDS_135, ...FACE_135_RENDER];
const BODY_25B_COLORS = [255, 0, 85, 170, 0, 255, 255, 0, 170, 85, 0, 255, 255, 0, 255, 170, 255, 0, 255, 85, 0, 85, 255, 0, 255, 170, 0, 0, 255, 0, 255, 255, 0, 0, 170, 255, 0, 255, 85, 0, 85, 255, 0, 255, 170, 0, 0, 255, 0, 255, 255, 255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255];
// each finger a colour darkening from the knuckle out (the left hand's red to green, the right's pink to cyan), the face white
const HAND_135_COLORS = [
  255, 0, 0, 191, 47, 47, 127, 63, 63, 63, 47, 47, 255, 76, 0, 191, 57, 0, 127, 38, 0, 63, 19, 0, 255, 152, 0, 191, 114, 0, 127, 76, 0, 63, 38, 0,
  255, 255, 0, 191, 191, 0, 127, 127, 0, 63, 63, 0, 0, 255, 0, 0, 191, 0, 0, 127, 0, 0, 63, 0,
  255, 0, 153, 191, 0, 114, 127, 0, 76, 63, 0, 38, 203, 0, 255, 152, 0, 191, 101, 0, 127, 50, 0, 63, 50, 0, 255, 37, 0, 191, 25, 0, 127, 12, 0, 63,
  0, 102, 255, 0, 76, 191, 0, 51, 127, 0, 25, 63, 0, 255, 255, 0, 191, 191, 0, 127, 127, 0, 63, 63,
];
const BODY_135_COLORS = [...BODY_25B_COLORS, ...HAND_135_COLORS, ...Array<number>(3 * 70).fill(255)];
// "Disabled really noisy values": the upper neck and head top are not drawn (0)
const BODY_135_SCALES = [...Array<number>(17).fill(1), 0, 0, ...Array<number>(6).fill(1), ...Array<number>(40).fill(0.6), ...Array<number>(70).fill(0.45)];

const MODELS: Record<PoseModelName, PoseModel> = {
  BODY_25: {
    name: 'BODY_25',
    parts: BODY_25_PARTS,
    pairs: [1, 8, 1, 2, 1, 5, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9, 10, 10, 11, 8, 12, 12, 13, 13, 14, 1, 0, 0, 15, 15, 17, 0, 16, 16, 18, 2, 17, 5, 18, 14, 19, 19, 20, 14, 21, 11, 22, 22, 23, 11, 24],
    mapIdx: [0, 1, 14, 15, 22, 23, 16, 17, 18, 19, 24, 25, 26, 27, 6, 7, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 30, 31, 32, 33, 36, 37, 34, 35, 38, 39, 20, 21, 28, 29, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51],
    nmsThreshold: 0.05,
    interThreshold: 0.05,
    renderPairs: [1, 8, 1, 2, 1, 5, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9, 10, 10, 11, 8, 12, 12, 13, 13, 14, 1, 0, 0, 15, 15, 17, 0, 16, 16, 18, 14, 19, 19, 20, 14, 21, 11, 22, 22, 23, 11, 24],
    ...CPU,
    colors: [255, 0, 85, 255, 0, 0, 255, 85, 0, 255, 170, 0, 255, 255, 0, 170, 255, 0, 85, 255, 0, 0, 255, 0, 255, 0, 0, 0, 255, 85, 0, 255, 170, 0, 255, 255, 0, 170, 255, 0, 85, 255, 0, 0, 255, 255, 0, 170, 170, 0, 255, 255, 0, 255, 85, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255],
  },
  COCO: {
    name: 'COCO',
    parts: COCO_PARTS,
    pairs: [1, 2, 1, 5, 2, 3, 3, 4, 5, 6, 6, 7, 1, 8, 8, 9, 9, 10, 1, 11, 11, 12, 12, 13, 1, 0, 0, 14, 14, 16, 0, 15, 15, 17, 2, 16, 5, 17],
    mapIdx: [12, 13, 20, 21, 14, 15, 16, 17, 22, 23, 24, 25, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 28, 29, 30, 31, 34, 35, 32, 33, 36, 37, 18, 19, 26, 27],
    nmsThreshold: 0.05,
    interThreshold: 0.05,
    renderPairs: [1, 2, 1, 5, 2, 3, 3, 4, 5, 6, 6, 7, 1, 8, 8, 9, 9, 10, 1, 11, 11, 12, 12, 13, 1, 0, 0, 14, 14, 16, 0, 15, 15, 17],
    colors: COCO_COLORS,
    ...CPU,
  },
  MPI: { name: 'MPI', parts: MPI_PARTS, pairs: MPI_PAIRS, mapIdx: MPI_MAP, nmsThreshold: 0.6, interThreshold: 0.01, renderPairs: MPI_PAIRS, colors: MPI_COLORS, ...CPU },
  // pose_deploy_linevec_faster_4_stages: the same net with 4 stages, a lower NMS threshold
  MPI_4: { name: 'MPI_4', parts: MPI_PARTS, pairs: MPI_PAIRS, mapIdx: MPI_MAP, nmsThreshold: 0.3, interThreshold: 0.01, renderPairs: MPI_PAIRS, colors: MPI_COLORS, ...CPU },
  // openpose_train's experimental models: no background heatmap, the PAFs in the pairs' order
  BODY_25B: { name: 'BODY_25B', parts: BODY_25B_PARTS, pairs: BODY_25B_PAIRS, mapIdx: iota(BODY_25B_PAIRS.length), renderPairs: BODY_25B_RENDER, colors: BODY_25B_COLORS, ...CUDA },
  BODY_135: { name: 'BODY_135', parts: BODY_135_PARTS, pairs: BODY_135_PAIRS, mapIdx: iota(BODY_135_PAIRS.length), renderPairs: BODY_135_RENDER, colors: BODY_135_COLORS, scales: BODY_135_SCALES, ...CUDA },
};

export function poseModel(name: PoseModelName): PoseModel {
  return MODELS[name];
}

/** The net output's heatmaps for a model: one a part, then the background's (if it has one); its PAFs come after them. */
export function poseHeatmaps(m: PoseModel): number {
  return m.parts.length + (m.background ? 1 : 0);
}

/** The net output's channel count for a model: its heatmaps, then two PAF channels a pair. */
export function poseChannels(m: PoseModel): number {
  return poseHeatmaps(m) + m.pairs.length;
}

/** One person: a keypoint a part, [x, y, score] in the image's pixels ([0, 0, 0] where not found), and OpenPose's person score. */
export interface Person {
  score: number;
  keypoints: [number, number, number][];
  /** With options.face: OpenPose's 70 face keypoints (face_keypoints_2d), all [0, 0, 0] when the face was not looked for (too small, or unseen). */
  face?: [number, number, number][];
  /** With options.hand: the person's left hand's 21 keypoints (hand_left_keypoints_2d), [0, 0, 0] where not found. */
  handLeft?: [number, number, number][];
  /** With options.hand: the right hand's (hand_right_keypoints_2d). */
  handRight?: [number, number, number][];
}

export interface PoseOptions {
  /** OpenPose's --net_resolution as [width, height]; one may be -1 (from the image's aspect ratio). Default [-1, 368]. */
  netResolution?: [number, number];
  /** The body model (default: from the net's output channels; MPI's 4-stage net by its layers). */
  model?: PoseModelName;
  /** OpenPose's --scale_number: the net run at this many scales, their maps averaged (default 1). */
  scaleNumber?: number;
  /** OpenPose's --scale_gap: scale i is 1 - i * scaleGap of the net resolution (default 0.25). */
  scaleGap?: number;
}

/**
 * --hand and --face (the Node library's; N is its Net: not named here, so that the browser's types do not reach it):
 * OpenPose's hand and face nets and the sides of their square inputs.
 */
export interface PosePartOptions<N = unknown> {
  /** OpenPose's hand net (models/hand/pose_deploy.prototxt, --hand): each person's hands, from their arms' keypoints. */
  hand?: N;
  /** OpenPose's face net (models/face/pose_deploy.prototxt, --face): each person's face, from their head's keypoints. */
  face?: N;
  /** The hand net's square input's side (OpenPose's --hand_net_resolution, default 368: 368x368), a multiple of 16. */
  handNetResolution?: number;
  /** The face net's (--face_net_resolution, default 368). */
  faceNetResolution?: number;
  /** How many scales the hand net runs at (OpenPose's --hand_scale_number, default 1; OpenPose's best results: 6), 1 to 16. */
  handScaleNumber?: number;
  /** The smallest to the largest scale, centred on 1 (--hand_scale_range, default 0.4: 0.8 to 1.2), in (0, 1]. */
  handScaleRange?: number;
}

export interface PoseDetectOptions extends PoseOptions {
  /** 'onnx': the net converted to ONNX and run in ONNX Runtime (again for each new net input size). */
  backend?: 'native' | 'onnx';
}

/** Refuses unknown options and bad values of the known ones, in one line, before any image is read. */
export function checkPoseOptions(options: PoseDetectOptions & PosePartOptions, isNet: (net: object) => boolean = hasForward): void {
  checkOptionKeys(options, ['netResolution', 'model', 'scaleNumber', 'scaleGap', 'backend', 'hand', 'face', 'handNetResolution', 'faceNetResolution', 'handScaleNumber', 'handScaleRange'], 'detectPoses');
  const { backend, model, netResolution } = options;
  checkPartOptions(options, isNet);
  for (const [key, flag] of [['scaleNumber', 'scale_number'], ['scaleGap', 'scale_gap'], ['handScaleNumber', 'hand_scale_number'], ['handScaleRange', 'hand_scale_range']] as const)
    checkScaleOption(key, options[key], flag);
  checkBackend(backend, 'detectPoses');
  if (model !== undefined && !POSE_MODELS.includes(model)) throw new CremaError(`detectPoses: options.model is one of ${POSE_MODELS.join(', ')}, got ${JSON.stringify(model)}`);
  if (netResolution !== undefined && !(Array.isArray(netResolution) && netResolution.length === 2 && netResolution.every(Number.isInteger) && netResolution.some((v) => v > 0) && !netResolution.includes(0)))
    throw new CremaError(`detectPoses: options.netResolution is [width, height] in pixels, one of them may be -1 (OpenPose's default: [-1, 368]), got ${JSON.stringify(netResolution)}`);
  checkLastScale(options.scaleNumber ?? 1, options.scaleGap ?? 0.25, netResolution ?? [-1, 368]);
}

/** A scale option: the numbers a whole number from 1 to 16, the gap and range a number in (0, 1]. */
function checkScaleOption(key: string, value: unknown, flag: string): void {
  if (value === undefined) return;
  const whole = key.endsWith('Number');
  if (whole ? Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 16 : typeof value === 'number' && value > 0 && value <= 1) return;
  throw new CremaError(`detectPoses: options.${key} is ${whole ? 'a whole number from 1 to 16' : 'a number in (0, 1]'} (OpenPose's --${flag}), got ${JSON.stringify(value)}`);
}

/**
 * The smallest scale, 1 - (N - 1) x gap (openpose.ts netInputSizes), above 0, and the resolution's given sides at it
 * 16 pixels or more: refused here, before the net loads or any image is read, since neither depends on the image
 * (else every image would be skipped; at scale 0 every net input would be 1 x 1).
 */
function checkLastScale(scaleNumber: number, scaleGap: number, netResolution: readonly number[]): void {
  const last = 1 - (scaleNumber - 1) * scaleGap, shown = `options.scaleNumber ${scaleNumber} and options.scaleGap ${scaleGap} make the last scale 1 - ${scaleNumber - 1} x ${scaleGap} = ${shortScale(last)}`;
  if (!(last > 0)) throw new CremaError(`detectPoses: ${shown}; the scales must be in (0, 1] (a smaller options.scaleGap or options.scaleNumber)`);
  const side = netResolution.find((v) => v > 0 && scaledSide(v, last) < 16);
  if (side !== undefined)
    throw new CremaError(`detectPoses: ${shown}, at which options.netResolution's side ${side} becomes ${scaledSide(side, last)}; OpenPose's nets take 16 x 16 or more (a smaller options.scaleGap or options.scaleNumber, or a larger options.netResolution)`);
}

/** A net resolution's side at a scale (ScaleAndSizeExtractor: positiveIntRound on a double, / 16 * 16 in int, kept in [1, side]). */
export const scaledSide = (side: number, scale: number): number => Math.min(side, Math.max(1, Math.trunc(Math.trunc(side * scale + 0.5) / 16) * 16));

/** A scale as a message shows it: 1 - 3 x 0.3 is 0.1, not 0.10000000000000009. */
export const shortScale = (scale: number): number => Number(scale.toPrecision(6));

/** The Node library's Net, by its shape (pose-models.ts is light); the browser entry tells its own Net by its class. */
const hasForward = (net: object) => typeof (net as { forward?: unknown }).forward === 'function';

/** options.hand / face: nets (`isNet`); their sides: multiples of 16. */
function checkPartOptions(options: PosePartOptions, isNet: (net: object) => boolean): void {
  for (const kind of ['hand', 'face'] as const) {
    const net: unknown = options[kind], side = options[`${kind}NetResolution`];
    if (net !== undefined && !(typeof net === 'object' && net !== null && isNet(net)))
      throw new CremaError(`detectPoses: options.${kind} is OpenPose's ${kind} net (a loaded Net: models/${kind}/pose_deploy.prototxt), got ${typeof net}`);
    if (side !== undefined && !(Number.isInteger(side) && side >= 16 && side % 16 === 0))
      throw new CremaError(`detectPoses: options.${kind}NetResolution is the side of the ${kind} net's square input, a multiple of 16 (OpenPose's --${kind}_net_resolution, default 368), got ${JSON.stringify(side)}`);
  }
}

/** --hand-net-resolution / --face-net-resolution SIDExSIDE (OpenPose's flags): a square's side. */
export function parseSquareResolution(text: string, flag: string): number {
  const m = /^(\d+)x(\d+)$/.exec(text.trim());
  if (!m || m[1] !== m[2] || Number(m[1]) < 16 || Number(m[1]) % 16 !== 0)
    throw new CremaError(`${flag}: SIDExSIDE, a square, the side a multiple of 16 (OpenPose's default: 368x368), got '${text}'`);
  return Number(m[1]);
}

/** --net-resolution WIDTHxHEIGHT (the CLI's and the page's), each an integer, one of them may be -1. */
export function parseResolution(text: string): [number, number] {
  const m = /^(-1|\d+)x(-1|\d+)$/.exec(text.trim());
  const wh = m ? ([Number(m[1]), Number(m[2])] as [number, number]) : undefined;
  if (!wh || (wh[0] <= 0 && wh[1] <= 0) || wh.some((v) => v === 0))
    throw new CremaError(`--net-resolution: WIDTHxHEIGHT in pixels, one of them may be -1 (OpenPose's default: -1x368), got '${text}'`);
  return wh;
}

/** A person as `crema pose` prints it: its score, then each part found with its place (rounded) and score. */
export function personLine(parts: readonly string[], p: Person, i: number): string {
  const seen = p.keypoints.flatMap(([x, y, s], k) => (s > 0 ? [`${parts[k]} (${Math.round(x)}, ${Math.round(y)}) ${s.toFixed(2)}`] : []));
  return `person ${i + 1}, score ${p.score.toFixed(4)}: ${seen.join(', ')}`;
}

/** A person as `crema pose` prints it: its line (personLine), then its face's and hands' (partsLine) when it has them. */
export function personLines(parts: readonly string[], p: Person, i: number): string[] {
  return [personLine(parts, p, i), partsLine(p)].filter((l) => l !== undefined);
}

/**
 * A person's face and hands as `crema pose` prints them (with --face, --hand): how many keypoints score above what
 * OpenPose draws (--face_render_threshold 0.4, --hand_render_threshold 0.2).
 */
export function partsLine(p: Person): string | undefined {
  const seen = (kp: [number, number, number][], t: number) => `${kp.filter(([, , s]) => s > t).length} of ${kp.length} keypoints above ${t}`;
  const parts = [p.face && `face ${seen(p.face, 0.4)}`, p.handLeft && `left hand ${seen(p.handLeft, 0.2)}`, p.handRight && `right hand ${seen(p.handRight, 0.2)}`];
  const said = parts.filter((t) => t !== undefined);
  return said.length ? `  ${said.join('; ')}` : undefined;
}

/** A limb as OpenPose draws it: from x1, y1 to x2, y2, a cv::line `thickness` pixels wide (round ends). */
export type Limb = [x1: number, y1: number, x2: number, y2: number, colour: string, thickness: number];
/** A keypoint as OpenPose draws it: a cv::circle (a ring: radius, and a line `thickness` wide) around x, y. */
export type Dot = [x: number, y: number, colour: string, radius: number, thickness: number];

/** How OpenPose's renderKeypointsCpu draws a kind of keypoints: its render pairs, colours (RGB a part), sizes, threshold. */
export interface KeypointStyle {
  pairs: readonly number[];
  colors: readonly number[];
  /** thicknessCircleRatio and thicknessLineRatioWRTCircle (floats). */
  circleRatio: number;
  lineRatio: number;
  /** The render threshold: --render_threshold 0.05, --face_render_threshold 0.4, --hand_render_threshold 0.2. */
  threshold: number;
  /** Each part's size factor (poseScales, a float each; absent: 1): a limb takes its second part's. */
  scales?: readonly number[];
}

/**
 * What OpenPose's renderer (renderPoseKeypointsCpu: renderKeypointsCpu, utilities/keypoint.cpp) draws of the people:
 * each limb of the model's render pairs in the colour of its second part, each keypoint a ring in its part's, only
 * where the scores pass --render_threshold (0.05), at whole pixels (positiveIntRound). Sizes are each person's (see
 * renderKeypoints; thicknessCircleRatio 1/75, the line 0.75 of it).
 */
export function skeleton(model: PoseModel, people: readonly Person[], width: number, height: number): { lines: Limb[]; dots: Dot[] } {
  const style = { pairs: model.renderPairs, colors: model.colors, circleRatio: 1 / 75, lineRatio: 0.75, threshold: 0.05, scales: model.scales };
  return renderKeypoints(people.map((p) => p.keypoints), style, width, height);
}

/**
 * renderKeypointsCpu: for each set of keypoints (a person's body, face or hand), its lines, then its rings. Sizes
 * are each set's: from the box of its keypoints scoring above 0.1 (a set whose box has no area is not drawn), its
 * larger side's share of the image's, as OpenPose's float and double arithmetic computes them, then each part's
 * scale (BODY_135's hands 0.6, face 0.45, upper neck and head top 0: OpenCV would refuse those lines, 0 wide).
 */
export function renderKeypoints(sets: readonly (readonly [number, number, number][])[], style: KeypointStyle, width: number, height: number): { lines: Limb[]; dots: Dot[] } {
  const { pairs, colors } = style, f = Math.fround, threshold = f(style.threshold), scales = (style.scales ?? [1]).map(f);
  const colour = (k: number) => `rgb(${colors.slice((k * 3) % colors.length, ((k * 3) % colors.length) + 3).join(',')})`;
  const round = (v: number) => Math.trunc(f(v + 0.5)) || 0; // positiveIntRound: int(a + 0.5f), a float (an int: no -0)
  const lines: Limb[] = [], dots: Dot[] = [];
  for (const kp of sets) {
    const box = keypointsBox(kp, f(0.1));
    if (!box || box.width * box.height <= 0) continue;
    const ratioAreas = Math.min(1, Math.max(f(box.width / width), f(box.height / height)));
    // std::sqrt(int area) is a double, and so is the product with the float ratios: rounded as a double
    const thicknessRatio = Math.max(Math.trunc(Math.sqrt(width * height) * f(style.circleRatio) * ratioAreas + 0.5), 2);
    const thicknessCircle = Math.max(1, ratioAreas > F05 ? thicknessRatio : -1);
    const thicknessLine = Math.max(1, Math.trunc(f(f(thicknessRatio * f(style.lineRatio)) + 0.5)));
    const radius = Math.trunc(thicknessRatio / 2);
    // positiveIntRound(size * poseScales[part % scales]): an int times a float
    const scaled = (size: number, k: number) => Math.trunc(f(f(size * scales[k % scales.length]) + 0.5));
    const seen = (k: number) => kp[k][2] > threshold;
    const at = (k: number) => [round(kp[k][0]), round(kp[k][1])] as const;
    for (let i = 0; i < pairs.length; i += 2) {
      const a = pairs[i], b = pairs[i + 1];
      if (seen(a) && seen(b)) lines.push([...at(a), ...at(b), colour(b), scaled(thicknessLine, b)]);
    }
    kp.forEach((_, k) => {
      if (seen(k)) dots.push([...at(k), colour(k), scaled(radius, k), scaled(thicknessCircle, k)]);
    });
  }
  return { lines, dots };
}

const F05 = Math.fround(0.05);

/** getKeypointsRectangle: the box of the parts scoring above `threshold`, in float (none if no part does). */
function keypointsBox(kp: readonly [number, number, number][], threshold: number): { width: number; height: number } | undefined {
  const found = kp.filter(([, , s]) => s > threshold);
  if (found.length === 0) return undefined;
  const xs = found.map(([x]) => x), ys = found.map(([, y]) => y);
  return { width: Math.fround(Math.max(...xs) - Math.min(...xs)), height: Math.fround(Math.max(...ys) - Math.min(...ys)) };
}
