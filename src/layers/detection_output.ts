import { formatFloat32 } from '../caffe/prototxt.js';
import type { LayerParameter } from '../caffe/types.js';
import { paramsOf, withDefaults } from '../caffe/schema.js';
import { type Shape, type Tensor, shapeString } from '../tensor.js';
import { hasParam } from './axes.js';
import { type LayerType, LayerError, type NetContext, expectCounts, need } from './layer.js';
import { Boxes, type CodeType, type NmsSettings, checkPriors, nmsFast } from './detection/nms.js';
import { detectionOutputToOnnx } from './detection/onnx.js';
import { LOC_VALUES, type Outline, ROW_VALUES, checkOutline, decodeOutline, outlineOf } from './detection/textboxes.js';

/** DetectionOutput's settings, checked as the fork's LayerSetUp checks them. */
export interface DetectionSettings extends NmsSettings {
  numClasses: number;
  shareLocation: boolean;
  backgroundLabelId: number;
  code: CodeType;
  varianceInTarget: boolean;
  /** Detections kept per image after NMS over all classes, -1 for all. */
  keepTopK: number;
  /** RefineDet: a prior whose ARM objectness (arm_conf's second column) is below it scores only the background. */
  objectnessScore: number;
  /** TextBoxes++'s use_polygon when set (detection/textboxes.ts: unset, the location blob's size decides). */
  usePolygon?: boolean;
  /**
   * TextBoxes' Caffe (the 'textboxes' dialect, the SSD fork of 2016): the boxes written are clipped to [0, 1], and
   * "no detection" is one row of -1 for the whole batch.
   */
  oldSsd: boolean;
}

export function readDetectionSettings(def: LayerParameter, net: NetContext = {}): DetectionSettings {
  const p = paramsOf(def, 'detection_output_param');
  const nms = withDefaults('NonMaximumSuppressionParameter', p.nms_param);
  // top_k has no default: unset means every candidate (the fork's has_top_k()).
  const topK: number = (p.nms_param as { top_k?: number } | undefined)?.top_k ?? -1;
  need(def, hasParam(def, 'detection_output_param', 'num_classes') && p.num_classes > 0,
    'needs num_classes (detection_output_param.num_classes), a positive count that includes the background');
  const nmsThreshold = nms.nms_threshold as number, eta = nms.eta as number;
  need(def, nmsThreshold >= 0, () => `nms_threshold must be non-negative, got ${formatFloat32(nmsThreshold)}`);
  need(def, eta > 0 && eta <= 1, () => `eta must be in (0, 1], got ${formatFloat32(eta)}`);
  // The fork skips decoding the shared locations (label -1) as if they were the background, then aborts.
  need(def, !(p.share_location && p.background_label_id === -1),
    "background_label_id -1 with share_location: the fork aborts on it ('Could not find location predictions for label -1'); set share_location: false or a background class");
  need(def, ['CORNER', 'CENTER_SIZE', 'CORNER_SIZE'].includes(p.code_type), () => `unknown code_type ${String(p.code_type)}`);
  const oldSsd = net.dialect === 'textboxes';
  if (oldSsd) {
    // What TextBoxes' Caffe would not parse or run: the SSD fork's later fields, codes and bottoms.
    const later = ['use_polygon', 'objectness_score', 'save_file'].filter((f) => hasParam(def, 'detection_output_param', f));
    if (nms.eta !== 1) later.push('nms_param.eta');
    if (p.code_type === 'CORNER_SIZE') later.push('code_type CORNER_SIZE');
    if (armBottoms(def) > 0) later.push("RefineDet's ARM bottoms");
    need(def, later.length === 0, () => `${later.join(', ')}: not in TextBoxes' Caffe (the SSD fork of 2016), which the textboxes dialect follows; load the net without the dialect`);
  }
  return {
    numClasses: p.num_classes,
    shareLocation: p.share_location,
    backgroundLabelId: p.background_label_id,
    code: p.code_type as CodeType,
    varianceInTarget: p.variance_encoded_in_target,
    keepTopK: p.keep_top_k,
    objectnessScore: p.objectness_score,
    usePolygon: hasParam(def, 'detection_output_param', 'use_polygon') ? p.use_polygon : undefined,
    oldSsd,
    confidenceThreshold: hasParam(def, 'detection_output_param', 'confidence_threshold') ? p.confidence_threshold : -3.4028234663852886e38,
    nmsThreshold,
    topK,
    eta,
  };
}

/**
 * The bottoms after the three predictions that are RefineDet's ARM (its confidences, then its locations). A fourth
 * bottom with `visualize` is the SSD fork's image to draw on (its webcam demos' `bottom: "data"`), read by nothing
 * crema computes; RefineDet's nets give five.
 */
export function armBottoms(def: LayerParameter): number {
  const n = def.bottom?.length ?? 0;
  const visualize = (def.detection_output_param as { visualize?: boolean } | undefined)?.visualize;
  return n === 4 && visualize ? 0 : Math.max(0, n - 3);
}

/**
 * The number of priors and what each one's location values hold (the box alone, or TextBoxes++'s outline after it),
 * checked against the location and confidence predictions as the fork's Reshape does.
 */
export function priorCount(def: LayerParameter, s: DetectionSettings, bottoms: Shape[]): { priors: number; outline: Outline } {
  const [loc, conf, prior, armConf, armLoc] = bottoms.slice(0, 3 + armBottoms(def));
  // Caffe's legacy accessors: num = shape(0), channels = shape(1), height = shape(2), 1 where the blob has no such axis.
  const axis = (shape: Shape, i: number) => shape[i] ?? 1;
  need(def, axis(loc, 0) === axis(conf, 0), () => `location ${shapeString(loc)} and confidence ${shapeString(conf)} have different batch sizes`);
  const priors = Math.floor(axis(prior, 2) / 4), locClasses = s.shareLocation ? 1 : s.numClasses;
  const outline = outlineOf(s.usePolygon, axis(loc, 1) / Math.max(1, priors * locClasses)), values = LOC_VALUES[outline];
  const what = outline === 'none' ? '' : ` (${values} a prior: TextBoxes++'s box and ${outline === 'polygon' ? 'quadrilateral' : 'rotated box'}, use_polygon ${outline === 'polygon'})`;
  // TextBoxes' Caffe gives each prior box again one cell lower: twice the priors of the SSD fork's PriorBox.
  const textBoxes = outline === 'none' && axis(loc, 1) === 2 * priors * locClasses * 4
    ? `; in TextBoxes' Caffe every PriorBox gives twice the priors (each box again one cell lower): for a TextBoxes net, load it with options.dialect 'textboxes'` : '';
  need(def, priors * locClasses * values === axis(loc, 1),
    () => `location predictions ${shapeString(loc)} have ${axis(loc, 1)} values per image, but ${priors} priors need ${priors * locClasses * values}${what}${textBoxes}`);
  checkOutline(def, outline, s.code, s.varianceInTarget, armBottoms(def) > 0);
  need(def, priors * s.numClasses === axis(conf, 1),
    () => `confidence predictions ${shapeString(conf)} have ${axis(conf, 1)} values per image, but ${priors} priors x ${s.numClasses} classes need ${priors * s.numClasses}`);
  need(def, prior.length >= 3 && axis(prior, 1) === 2, () => `priors ${shapeString(prior)} must be [1, 2, priors * 4] (PriorBox's output)`);
  // RefineDet's anchor refinement module: objectness (2 per prior) and, shared by every class, the priors' refinement.
  if (armConf) need(def, axis(armConf, 0) === axis(loc, 0) && armConf.slice(1).reduce((a, b) => a * b, 1) === priors * 2,
    () => `ARM confidences (bottom 3) ${shapeString(armConf)} must hold 2 values per prior for each of the ${axis(loc, 0)} images (${priors} priors)`);
  if (armLoc) {
    need(def, s.shareLocation, 'ARM locations (bottom 4) need share_location: the fork reads them as shared and aborts otherwise');
    need(def, axis(armLoc, 0) === axis(loc, 0) && armLoc.slice(1).reduce((a, b) => a * b, 1) === priors * 4,
      () => `ARM locations (bottom 4) ${shapeString(armLoc)} must hold 4 values per prior for each of the ${axis(loc, 0)} images (${priors} priors)`);
  }
  return { priors, outline };
}

/** One kept detection: image, label, score and the index of its box among the priors. */
interface Kept {
  label: number;
  score: number;
  box: number;
}

/**
 * The detections of one image, in the fork's order: by label ascending, by score within a label. Over
 * keep_top_k, the best keep_top_k by score are kept (equal scores: the earlier label and box first; the fork's
 * std::sort leaves their order unspecified).
 */
function detectImage(s: DetectionSettings, loc: Float32Array, conf: Float32Array, priors: Float32Array, n: number, count: number, values: number): { kept: Kept[]; boxes: Map<number, Boxes> } {
  const locClasses = s.shareLocation ? 1 : s.numClasses;
  // Per location class (one for all classes with share_location), each box decoded once when a class needs it.
  const boxes = new Map<number, Boxes>();
  const boxesOf = (locClass: number): Boxes => {
    let b = boxes.get(locClass);
    if (!b) boxes.set(locClass, (b = new Boxes(loc, (n * count * locClasses + locClass) * values, locClasses * values, priors, count, s.code, s.varianceInTarget)));
    return b;
  };
  let kept: Kept[] = [];
  for (let c = 0; c < s.numClasses; c++) {
    if (c === s.backgroundLabelId) continue;
    const confAt = n * count * s.numClasses + c;
    for (const box of nmsFast(boxesOf(s.shareLocation ? 0 : c), conf, confAt, s.numClasses, count, s))
      kept.push({ label: c, score: conf[confAt + box * s.numClasses], box });
  }
  if (s.keepTopK > -1 && kept.length > s.keepTopK) {
    kept = kept.map((k, i) => ({ k, i })).sort((a, b) => b.k.score - a.k.score || a.i - b.i).slice(0, s.keepTopK).map(({ k }) => k);
    kept.sort((a, b) => a.label - b.label); // stable: by score within a label
  }
  return { kept, boxes };
}


/**
 * RefineDet's OSGetConfidenceScores: the confidences with every prior whose ARM objectness is below objectness_score
 * scoring 1 for class 0 and 0 for the others (class 0, whatever background_label_id says, as the fork).
 */
export function objectnessFiltered(s: DetectionSettings, conf: Float32Array, armConf: Float32Array): Float32Array {
  const out = Float32Array.from(conf), classes = s.numClasses;
  for (let p = 0; p < armConf.length / 2; p++) {
    if (!(armConf[p * 2 + 1] < s.objectnessScore)) continue;
    out.fill(0, p * classes, (p + 1) * classes);
    out[p * classes] = 1;
  }
  return out;
}

/**
 * RefineDet's CasRegDecodeBBoxesAll, its first half: image n's priors moved by the ARM's locations (decoded as the
 * ODM's are, with the same code and variances), in PriorBox's layout [2, count * 4] (the variances kept).
 */
function refinedPriors(s: DetectionSettings, armLoc: Float32Array, priors: Float32Array, n: number, count: number): Float32Array {
  const moved = new Boxes(armLoc, n * count * 4, 4, priors, count, s.code, s.varianceInTarget);
  moved.decode(Array.from({ length: count }, (_, i) => i));
  const out = Float32Array.from(priors);
  out.set(moved.coords);
  return out;
}

/**
 * The fork's DetectionOutput (detection_output_layer.cpp, CPU): decode, per-class NMS, keep_top_k; [1, 1, N, 7].
 * RefineDet's (sfzhang15/RefineDet) takes two more bottoms: the ARM's confidences (objectness filter) and locations
 * (the priors refined before the ODM's locations are decoded against them). TextBoxes++'s (MhLiao/TextBoxes_plusplus)
 * reads an outline after each box and writes it after the box: [1, 1, N, 15] or [1, 1, N, 12] (detection/textboxes.ts).
 */
export const detectionOutputLayer: LayerType = {
  type: 'DetectionOutput',
  create(def, _weights, net = {}) {
    expectCounts(def, [3, 5], [1, 1]);
    const s = readDetectionSettings(def, net);
    const arm = armBottoms(def);
    let count = 0, outline: Outline = 'none';
    return {
      notes: ignoredSettings(def),
      sizesTops: true, // as many rows as the forward finds: the layers after it are shaped again (Net.afterSizing)
      reshape(bottoms) {
        ({ priors: count, outline } = priorCount(def, s, bottoms));
        // The real row count is known only after the forward (the fork reshapes its top there too).
        return [[1, 1, 1, ROW_VALUES[outline]]];
      },
      forward(bottoms, [top]) {
        const [loc, odmConf, prior, armConf, armLoc] = bottoms.slice(0, 3 + arm);
        const num = loc.dims[0], values = LOC_VALUES[outline], locClasses = s.shareLocation ? 1 : s.numClasses;
        const rows: number[] = [];
        const conf = armConf ? objectnessFiltered(s, odmConf.data, armConf.data) : odmConf.data;
        // The fork decodes the boxes (and checks the priors) when a class other than the background is there.
        const background = s.backgroundLabelId >= 0 && s.backgroundLabelId < s.numClasses ? 1 : 0;
        for (let n = 0; n < num; n++) {
          let result;
          try {
            if (n === 0 && (s.numClasses > background || armLoc)) checkPriors(prior.data, count, s.code);
            let priors = prior.data;
            if (armLoc) {
              priors = refinedPriors(s, armLoc.data, prior.data, n, count);
              if (s.numClasses > background) checkPriors(priors, count, s.code);
            }
            result = detectImage(s, loc.data, conf, priors, n, count, values);
          } catch (err) {
            throw new LayerError(def, (err as Error).message);
          }
          for (const k of result.kept) {
            const locClass = s.shareLocation ? 0 : k.label, b = result.boxes.get(locClass)!.coords, at = k.box * 4;
            // TextBoxes' Caffe writes each box clipped to the image (ClipBBox); NMS saw it unclipped.
            if (s.oldSsd) rows.push(n, k.label, k.score, unit(b[at]), unit(b[at + 1]), unit(b[at + 2]), unit(b[at + 3]));
            else rows.push(n, k.label, k.score, b[at], b[at + 1], b[at + 2], b[at + 3]);
            // TextBoxes++: the outline's values after the box's 4, decoded against the plain priors.
            if (outline !== 'none') rows.push(...decodeOutline(outline, loc.data, ((n * count + k.box) * locClasses + locClass) * values + 4, prior.data, k.box, count));
          }
        }
        // The fork's "no detection" output: one row per image, [image, -1, -1, ...]; TextBoxes' one row of -1.
        const width = ROW_VALUES[outline];
        if (rows.length === 0 && s.oldSsd) rows.push(...new Array<number>(width).fill(-1));
        else if (rows.length === 0) for (let n = 0; n < num; n++) rows.push(n, ...new Array<number>(width - 1).fill(-1));
        setTop(top, Float32Array.from(rows), width);
      },
    };
  },
  onnx: detectionOutputToOnnx,
};

/** ClipBBox's std::max(std::min(v, 1.f), 0.f) (a NaN stays NaN, as min / max with it first do). */
const unit = (v: number): number => Math.max(Math.min(v, 1), 0);

/** The fork's side effects crema does not have: writing results to files, showing them in a window. */
function ignoredSettings(def: LayerParameter): string[] {
  const p = def.detection_output_param as { save_output_param?: { output_directory?: string }; visualize?: boolean } | undefined;
  const notes: string[] = [];
  if (p?.save_output_param)
    notes.push(`save_output_param (the fork's writing of detections to ${p.save_output_param.output_directory || 'files'}) is ignored: the detections are the blob '${def.top?.[0]}'`);
  if (p?.visualize)
    notes.push(`visualize (the fork's OpenCV window${def.bottom?.length === 4 ? `, drawn on bottom '${def.bottom[3]}'` : ''}) is ignored: use crema detect -o DIR to draw the boxes`);
  return notes;
}

/** DetectionOutput's top changes size with the data, as the fork's Forward reshapes it. */
function setTop(top: Tensor, rows: Float32Array, width: number): void {
  top.dims = [1, 1, rows.length / width, width];
  top.data = rows;
}
