// What detect takes and gives, with the checks that need no net: shared by the Node library (detect.ts, node.ts),
// the CLI and the browser entry, whose page bundle imports this file alone (not the layers detect.ts reaches).
import { PREPROCESS_OPTIONS, type PreprocessOptions } from '../image/preprocess.js';
import { CremaError, kindOf } from '../util/errors.js';
import { checkLabels, checkOptionKeys } from '../util/options.js';

/**
 * One detected object, its box in the image's pixels (the fork's normalized corners times the image size, not
 * clipped; Faster R-CNN's: py-faster-rcnn's x1, y1, x2, y2, clipped to the image).
 */
export interface Detection {
  /** The class index DetectionOutput gives, or Faster R-CNN's column of cls_prob (the background class is never reported). */
  label: number;
  /** labels[label], when labels were given. */
  name: string | null;
  score: number;
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
  /**
   * TextBoxes++'s quadrilateral (rows of 15 values), in the image's pixels: x1, y1, … x4, y4 from its top left
   * clockwise, as its demo reads them. Absent for plain boxes.
   */
  quad?: number[];
  /** MTCNN's five landmarks (eyes, nose, mouth corners) as [x, y] in the image's pixels (crema faces). */
  landmarks?: [number, number][];
  /**
   * Present only when the score or a corner is not finite (JSON writes those as null): which, and why, e.g.
   * "not finite: xmin -inf, xmax inf (…)" for a saturated SSD whose box width overflowed float32.
   */
  reason?: string;
}

/**
 * How detect runs a net: 'output' (SSD, YOLO: a detection layer writes the boxes), 'faster-rcnn' (a Proposal layer,
 * no detection layer: py-faster-rcnn's im_detect and demo.py's per-class NMS, faster-rcnn.ts) or 'ssh' (SSH's face
 * detector, its proposal layers concatenated into ssh_boxes and ssh_cls_prob: its demo.py's pyramid or test.py's
 * one scale, ssh.ts), 'frcnn' (makefile/frcnn's FrcnnProposal: its test tools' predict_original, with the settings
 * of the net's config, frcnn.ts) or 'fpn' (unsky/FPN's multi-level proposal layer: its own im_detect, fpn.ts).
 */
export type DetectorKind = 'output' | 'faster-rcnn' | 'ssh' | 'frcnn' | 'fpn';

export interface DetectOptions extends PreprocessOptions {
  /** Detections scoring below it are left out (default 0.5; a makefile/frcnn net's: its config's test_score_thresh). */
  threshold?: number;
  /** Class names by label (e.g. from a labels file or the fork's labelmap). */
  labels?: readonly string[];
  /**
   * TextBoxes++ only: its demo's polygon NMS after the net, dropping a quadrilateral that overlaps a better one by
   * more than this (its demo: 0.2; see quad-nms.ts). Off by default: the net's own rows.
   */
  quadNms?: number;
  /**
   * Faster R-CNN, R-FCN, FPN, SSH and makefile/frcnn only: the length the image's shorter side is scaled to
   * (py-faster-rcnn's cfg.TEST.SCALES[0]: 600, the default; FPN's 768; SSH's 1200 at one scale, its pyramid's base
   * size 800; a makefile/frcnn net's: its one scale in place of its config's test_scales).
   */
  scale?: number;
  /** Faster R-CNN, R-FCN, FPN, SSH and makefile/frcnn only: the most the longer side may be scaled to (py-faster-rcnn's cfg.TEST.MAX_SIZE: 1000, the default; FPN's 1280; SSH's 1600 at one scale, 1200 at its pyramid's base size; makefile/frcnn's: its config's test_max_size). */
  maxSize?: number;
  /**
   * SSH only: its image pyramid, as its demo.py runs it (SSH/configs/wider_pyramid.yml; ssh.ts): true (the default
   * for an SSH net) is its TEST.SCALES 500, 800, 1200, 1600; a list gives other sizes (two or more). The image is
   * first fitted to scale (default 800) and maxSize (default 1200), its PYRAMID_BASE_SIZE; each size s then scales
   * that by s / scale, and M3's faces are left out at the last size. false: SSH/test.py's one scale (wider.yml:
   * scale 1200, maxSize 1600 by default).
   */
  pyramid?: boolean | readonly number[];
  /**
   * What runs the forward: 'native' (crema's engine, the default) or 'onnx' (the net converted to ONNX, in
   * onnxruntime-node, or onnxruntime-web in the browser: `crema detect --backend onnx`). The detections around
   * it (preparing the image, reading the boxes) are the same code either way.
   */
  backend?: 'native' | 'onnx';
}

export const DETECT_OPTIONS = [...PREPROCESS_OPTIONS, 'threshold', 'labels', 'quadNms', 'scale', 'maxSize', 'pyramid', 'backend'];

/**
 * Class names from a labels file: one a line (line i = label i), or the SSD fork's labelmap prototxt
 * (`item { name label display_name }`, display_name preferred). Here, beside detect's options, for the browser's page
 * module to export it too: detect's refusal of other labels names it there as in Node.
 */
export function parseLabels(text: string): string[] {
  if (!/^\s*item\s*\{/m.test(text)) return text.split(/\r?\n/).filter((l, i, all) => l !== '' || i < all.length - 1);
  const names: string[] = [];
  for (const [, body] of text.matchAll(/item\s*\{([^}]*)\}/g)) {
    const label = Number(/\blabel\s*:\s*(\d+)/.exec(body)?.[1]);
    const name = /\bdisplay_name\s*:\s*"([^"]*)"/.exec(body)?.[1] ?? /\bname\s*:\s*"([^"]*)"/.exec(body)?.[1];
    if (Number.isInteger(label) && name !== undefined && label < 1e5) names[label] = name;
  }
  return Array.from(names, (n, i) => n ?? `class ${i}`);
}

/** Refuses an unknown option and a backend that is not 'native' or 'onnx' (as Net.run's), before any image is read. */
export function checkDetectOptions(options: DetectOptions): void {
  checkOptionKeys(options, DETECT_OPTIONS, 'detect');
  checkLabels(options?.labels, 'detect');
  const backend = options?.backend;
  if (backend !== undefined && backend !== 'native' && backend !== 'onnx')
    throw new CremaError(`detect: options.backend is 'native' or 'onnx', got ${typeof backend === 'string' ? `'${backend}'` : kindOf(backend)}`);
  const pyramid = options?.pyramid;
  if (pyramid !== undefined && typeof pyramid !== 'boolean' && !(Array.isArray(pyramid) && pyramid.length >= 2 && pyramid.every((v) => typeof v === 'number' && v >= 1 && v <= 16384)))
    throw new CremaError(`detect: options.pyramid is true, false or two or more sizes in pixels from 1 to 16384 (SSH's wider_pyramid.yml: [500, 800, 1200, 1600]), got ${JSON.stringify(pyramid)}`);
}

/** options.threshold (default `fallback`: 0.5, a makefile/frcnn net's config's test_score_thresh), checked. */
export function thresholdOf(options: DetectOptions, fallback = 0.5): number {
  const threshold = options.threshold ?? fallback;
  if (!Number.isFinite(threshold)) throw new CremaError(`the threshold must be a number, got ${threshold}`);
  return threshold;
}

/** options.scale or options.maxSize (`v`, the option or its default), checked; `origin` names the setting it replaces. */
export function lengthOption(name: 'scale' | 'maxSize', v: unknown, origin: string): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 1 && v <= 16384)) throw new CremaError(`${name}: a length in pixels from 1 to 16384 (${origin}), got ${String(v)}`);
  return v;
}

/** One detection as `crema detect` prints it (and the page lists it): score, name, corners, a quadrilateral's points, its reason. */
export function detectionLine(d: Detection): string {
  const px = (v: number) => (Number.isFinite(v) ? String(Math.round(v)) : cFloat(v));
  const score = Number.isFinite(d.score) ? d.score.toFixed(4) : cFloat(d.score);
  return `${score} - "${d.name ?? `class ${d.label}`}" at [${px(d.xmin)}, ${px(d.ymin)}, ${px(d.xmax)}, ${px(d.ymax)}]${d.quad ? `, quadrilateral [${d.quad.map(px).join(', ')}]` : ''}${d.reason ? ` (${d.reason})` : ''}`;
}

/** A value that is not finite as C's printf and Python print it (inf, -inf, nan), not JavaScript's "-Infinity". */
const cFloat = (v: number): string => (Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf');

const REASON_FIELDS = ['score', 'xmin', 'ymin', 'xmax', 'ymax'] as const;

/**
 * Each detection whose score or corners are not finite given its `reason` (JSON writes such numbers as null, and
 * its rule is that a field then says why). They are the net's own numbers: Caffe's float arithmetic gives the same
 * (SSD's DecodeBBox: a width of exp(variance x offset) x the prior's overflows to inf when weights saturate the net,
 * its corners center -/+ inf), so they are reported as they are, not dropped or clipped.
 */
export function explainNonFinite(found: Detection[]): Detection[] {
  for (const d of found) {
    const bad = REASON_FIELDS.filter((k) => !Number.isFinite(d[k])).map((k) => `${k} ${cFloat(d[k])}`);
    if (d.quad?.some((v) => !Number.isFinite(v))) bad.push('quad');
    if (bad.length) d.reason = `not finite: ${bad.join(', ')} (the net's output past float32's range, as Caffe computes it: weights that saturate the net)`;
  }
  return found;
}

// MTCNN's (mtcnn.ts), here so that the browser entry's types reach no engine.
export interface MtcnnOptions {
  /** The smallest face looked for, in pixels (the demo's minsize: 20). */
  minSize?: number;
  /** Each stage's score threshold (the demo's threshold: [0.6 0.7 0.7]). */
  thresholds?: readonly [number, number, number];
  /** The pyramid's scale step (the demo's factor: 0.709). */
  factor?: number;
}

/** detectFaces' options (the Node library's and the browser's): the demo's, and what runs the nets. */
export interface FaceOptions extends MtcnnOptions {
  /** 'onnx': each net converted to ONNX and run in ONNX Runtime (onnxruntime-node, or onnxruntime-web in the browser). */
  backend?: 'native' | 'onnx';
}

/** Refuses an unknown option and a backend that is not 'native' or 'onnx', before any image is read (the demo's options: mtcnnOptions). */
/** --thresholds P,R,O (the CLI's and the page's): P-Net's, R-Net's and O-Net's score thresholds. */
export function parseThresholds(text: string): [number, number, number] {
  const t = text.split(',').map((v) => (v.trim() === '' ? NaN : Number(v)));
  if (t.length !== 3 || t.some((v) => !Number.isFinite(v))) throw new CremaError(`--thresholds: three numbers, P-Net's, R-Net's and O-Net's (the demo's: 0.6,0.7,0.7), got '${text}'`);
  return t as [number, number, number];
}

export function checkFaceOptions(options: FaceOptions): void {
  checkOptionKeys(options, ['minSize', 'thresholds', 'factor', 'backend'], 'detectFaces');
  checkBackend(options.backend, 'detectFaces');
}

/** One face: its box in the image's pixels (counted from 0: the demo's less 1), O-Net's score, five landmarks. */
export interface Face {
  score: number;
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
  /** Left eye, right eye, nose, left and right mouth corners: [x, y] in the image's pixels (the demo's points). */
  landmarks: [number, number][];
}

const LANDMARKS = ['left eye', 'right eye', 'nose', 'left mouth', 'right mouth'];

/** One face as `crema faces` prints it (and the page lists it): score, corners, each landmark named. */
export function faceLine(f: Face): string {
  const px = (v: number) => Math.round(v);
  return `${f.score.toFixed(4)} at [${px(f.xmin)}, ${px(f.ymin)}, ${px(f.xmax)}, ${px(f.ymax)}]; ${f.landmarks.map(([x, y], i) => `${LANDMARKS[i]} (${px(x)}, ${px(y)})`).join(', ')}`;
}

/** A face as a detection named 'face', for what draws detections (its landmarks drawn as dots). */
export const faceDetection = (f: Face): Detection => ({ label: 0, name: 'face', ...f });

/** MTCNN's nets: det1 (P-Net), det2 (R-Net), det3 (O-Net), and MTCNNv2's det4 (LNet). */
export type MtcnnRole = 'pnet' | 'rnet' | 'onet' | 'lnet';

/** The demo's file names (its model/ directory): det1 is P-Net, det2 R-Net, det3 O-Net, det4 MTCNNv2's LNet. */
export const MTCNN_FILES: Record<MtcnnRole, string> = { pnet: 'det1', rnet: 'det2', onet: 'det3', lnet: 'det4' };

/**
 * The nets a set of MTCNN's files makes (LNet when either of det4's files is there) and the files it lacks; `has`
 * tells whether a file ('det1.prototxt') is there: in a directory (crema faces), among the files picked (the page).
 */
export function mtcnnRoles(has: (file: string) => boolean): { roles: MtcnnRole[]; missing: string[] } {
  const both = (r: MtcnnRole) => [`${MTCNN_FILES[r]}.prototxt`, `${MTCNN_FILES[r]}.caffemodel`];
  const roles = (Object.keys(MTCNN_FILES) as MtcnnRole[]).filter((r) => r !== 'lnet' || both(r).some(has));
  return { roles, missing: roles.flatMap(both).filter((f) => !has(f)) };
}

// FCN's, HED's and RCF's (dense.ts): shared by the Node library, the CLI and the browser entry.

export interface DenseOptions {
  /** The blob read: 'score' (FCN) for segment, 'sigmoid-fuse' (HED, RCF) for edges; HED's side outputs are sigmoid-dsn1..5. */
  blob?: string;
  /** The mean subtracted, B, G, R (default DEMO_MEAN). */
  mean?: readonly [number, number, number];
}

export interface EdgeOptions extends DenseOptions {
  /**
   * RCF's multi-scale test: the (mean-subtracted) image scaled by each factor (cv2.resize, INTER_LINEAR), each map
   * resized back to the image's size the same way, their mean; RCF's factors are [0.5, 1, 1.5]. Default: one
   * forward at the image's size, the map as the net gives it (HED's tutorial, RCF's single-scale test).
   */
  scales?: readonly number[];
}

/** A class present in a label map: its label (the score's channel) and its pixels. */
export interface SegmentClass {
  label: number;
  pixels: number;
}

/**
 * A label map: each pixel's class (row-major, width x height: the score's size, the image's for FCN's nets, which
 * crop back to their input), the score's channels (the classes the net knows) and the classes present, by label.
 */
export interface Segmentation {
  width: number;
  height: number;
  labels: Uint8Array | Int32Array;
  channels: number;
  classes: SegmentClass[];
}

/** An edge map: each pixel's value of the blob (HED's and RCF's sigmoid-fuse: 1 an edge), width x height row-major. */
export interface EdgeMap {
  width: number;
  height: number;
  data: Float32Array;
}

/** segment's options: the blob read, the mean, and where the net runs. */
export interface DenseDetectOptions extends DenseOptions {
  /** 'onnx': the net converted to ONNX and run in ONNX Runtime (again for each new image size). */
  backend?: 'native' | 'onnx';
}

/** edges' options: segment's, and RCF's multi-scale `scales`. */
export interface EdgeDetectOptions extends DenseDetectOptions, EdgeOptions {}

/** Refuses unknown options and bad values, in one line, before the image is read. */
export function checkDenseOptions(options: EdgeDetectOptions, what: 'segment' | 'edges'): void {
  checkOptionKeys(options, what === 'edges' ? ['blob', 'mean', 'scales', 'backend'] : ['blob', 'mean', 'backend'], what);
  const { backend, blob, mean, scales } = options;
  if (scales !== undefined && !(Array.isArray(scales) && scales.length > 0 && scales.every((v) => typeof v === 'number' && Number.isFinite(v) && v > 0)))
    throw new CremaError(`${what}: options.scales is a list of factors above 0 (RCF's multi-scale test: [0.5, 1, 1.5]), got ${JSON.stringify(scales)}`);
  checkBackend(backend, what);
  if (blob !== undefined && (typeof blob !== 'string' || blob === '')) throw new CremaError(`${what}: options.blob is a blob's name, got ${JSON.stringify(blob)}`);
  if (mean !== undefined && !(Array.isArray(mean) && mean.length === 3 && mean.every((v) => typeof v === 'number' && Number.isFinite(v))))
    throw new CremaError(`${what}: options.mean is [B, G, R], three finite numbers (the demos': [104.00698793, 116.66876762, 122.67891434]), got ${JSON.stringify(mean)}`);
}

/** colorize's options: the backend its net runs on. */
export interface ColorizeOptions {
  backend?: 'native' | 'onnx';
}

export function checkColorizeOptions(options: ColorizeOptions): void {
  checkOptionKeys(options, ['backend'], 'colorize');
  checkBackend(options.backend, 'colorize');
}

/** options.backend of the task pipelines (detectFaces, detectPoses, segment, edges, colorize): absent, 'native' or 'onnx'. */
export function checkBackend(backend: unknown, what: string): void {
  if (backend !== undefined && backend !== 'native' && backend !== 'onnx') throw new CremaError(`${what}: options.backend is 'native' or 'onnx', got ${JSON.stringify(backend)}`);
}
