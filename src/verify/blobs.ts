// The blob-by-blob comparison verify makes, platform-neutral (the CLI's verify and the browser's engine worker use
// it): native vs ONNX Runtime always, each vs the reference where there is one.
import type { Net } from '../runtime/net.js';
import { Tensor, sizeOf } from '../tensor.js';
import { type PairResult, comparePair } from './compare.js';
import { compareDetections, imageRows, tiedAtCut } from './detections.js';
import { compareIndices } from './indices.js';
import { DETECTION_TYPES } from '../layers/detection/types.js';
import { CremaError } from '../util/errors.js';
import { type CompareAs, ENGINE_NAMES, PAIR_ENGINES, type Sides, explainFailures, explainedNote, maxFinite } from './causes.js';

/**
 * Why a blob out of tolerance differs, when not by its own layer: that layer, run natively on each other side's
 * own inputs (ONNX Runtime's, the reference's), gives that side's value within the tolerance.
 */
export interface Explained {
  layer: string;
  type: string;
  /** The largest relative difference of those reruns from the sides' values (0: the same bits). */
  rerun: number;
  /** Its inputs out of tolerance it follows from; empty when every input is within the tolerance. */
  follows: string[];
  /** When every input is within it: the blob's relative difference over its inputs' largest (how much the layer amplifies it). */
  gain?: number;
  /** The layers right after `layer` that rewrite the blob in place (its ReLU, an SE block's Sigmoid), rerun with it. */
  through?: string[];
}

/** The comparisons verify makes: native vs ONNX Runtime always, each vs the reference when there is one. */
export type PairName = 'native_onnx' | 'native_reference' | 'onnx_reference';
export const PAIRS: readonly PairName[] = ['native_onnx', 'native_reference', 'onnx_reference'];

export interface BlobVerdict {
  blob: string;
  shape: number[];
  pairs: Partial<Record<PairName, PairResult>>;
  pass: boolean;
  /** A blob out of tolerance by its inputs only: its layer, run on each side's own inputs, gives that side's value. */
  explained?: Explained;
}

export interface BlobComparison {
  blobs: BlobVerdict[];
  /** Blobs out of tolerance, in net order. */
  failed: string[];
  /** Of those, the ones without `explained`: their own layer differs (or verify could not rerun it). */
  unexplained: string[];
  notes: string[];
}

/**
 * `run` with every blob of `net` kept: verify compares them all, so a net's memory plan (Net.keepBlobs) is laid aside
 * for it and put back after (its planned blobs' arrays freed again). (`net` by its one property: a Net in the signature
 * would take the Node Net into the browser entry's public types.)
 */
export async function withEveryBlob<T>(net: { keepBlobs: 'all' | readonly string[] }, run: () => Promise<T>): Promise<T> {
  const kept = net.keepBlobs;
  if (kept === 'all') return run();
  net.keepBlobs = 'all';
  try {
    return await run();
  } finally {
    net.keepBlobs = kept;
  }
}

/**
 * `run` from the state a fresh net has: ONNX Runtime's graph starts every run from zeros, so a net whose recurrent
 * layers carry a sequence from its last forward (Layer.carriesState) runs from zeros for verify too (not to compare
 * step n against step 1), and gets its sequence's state back after (the user's next forward continues it).
 */
export async function fromFreshState<T>(net: { layers: readonly { impl: { freshState?(): () => void } }[] }, run: () => Promise<T>): Promise<T> {
  const restore = net.layers.flatMap((l) => l.impl.freshState?.() ?? []);
  try {
    return await run();
  } finally {
    for (const put of restore) put();
  }
}

/**
 * @internal
 * Refuses a net with a layer that draws random values at every forward (caffe-segnet's Dropout with
 * sample_weights_test): its blobs differ between any two runs, in one engine or two, so there is nothing to verify.
 */
export function refuseSampledLayers(net: Net): void {
  const sampled = net.layers.find((l) => l.type === 'Dropout' && (l.def.dropout_param as { sample_weights_test?: boolean } | undefined)?.sample_weights_test);
  if (sampled)
    throw new CremaError(`verify compares blobs that every run computes alike; layer '${sampled.name}' (Dropout) samples new masks at each forward (sample_weights_test), so its top and the blobs after it differ from run to run`);
}

/**
 * @internal
 * Compares every blob of `net` (after its forward on the inputs ONNX Runtime ran) with ONNX Runtime's `onnx`
 * blobs, and both with `reference` where it has the blob. Internal: the browser entry's types reach this file
 * (seededInput, BlobVerdict), and the Node Net's would take Symbol.asyncDispose (lib esnext.disposable) with them.
 */
export function compareBlobs(net: Net, onnx: Map<string, Tensor>, reference: Map<string, Tensor> | undefined, tolerance: number): BlobComparison {
  const notes: string[] = [];
  const blobs: BlobVerdict[] = [];
  // Detection rows are compared as sets: the fork's std::sort leaves equal scores' order unspecified (and OpenCV's
  // detections come by score); ONNX Runtime's come in crema's order.
  const detections = new Set(net.layers.filter((l) => DETECTION_TYPES.has(l.type)).flatMap((l) => l.tops));
  const outlines = [...detections].some((b) => (net.blobs.get(b)?.dims[3] ?? 7) > 7);
  if (detections.size) notes.push(`detections (${[...detections].join(', ')}) compared as sets: same image and label, IoU >= 0.99 or corners within 1e-4 (relative beyond 1), ${outlines ? 'outlines within 1e-4, ' : ''}|score difference| <= ${tolerance}`);
  // A Pooling's second top (SegNet's pool*_mask) holds argmax indices: compared as indices (compareIndices), against its bottom.
  const masks = new Map(net.layers.filter((l) => l.type === 'Pooling' && l.tops.length > 1).map((l) => [l.tops[1], l.bottoms[0]]));
  if (masks.size) notes.push(`pooling masks (${[...masks.keys()].join(', ')}) compared as indices: a differing index agrees when the values both point at in the pooled blob are within the tolerance`);
  const compareAs = (blob: string) => (detections.has(blob) ? compareDetections : comparePair);
  for (const [blob, native] of net.blobs) {
    const ref = reference?.get(blob), bottom = masks.get(blob);
    const compare = (ours: Tensor, theirs: Tensor) =>
      bottom !== undefined ? compareIndices(ours, theirs, net.blobs.get(bottom)!, tolerance) : compareAs(blob)(ours, theirs, tolerance);
    const pairs: BlobVerdict['pairs'] = { native_onnx: compare(onnx.get(blob)!, native) };
    if (ref) {
      pairs.native_reference = compare(native, ref);
      pairs.onnx_reference = compare(onnx.get(blob)!, ref);
    }
    blobs.push({ blob, shape: [...native.dims], pairs, pass: Object.values(pairs).every((p) => p.pass) });
  }
  notes.push(...nonfiniteNotes(blobs), ...explain(net, blobs, { onnx, reference }, (blob) => (masks.has(blob) ? undefined : compareAs(blob)), tolerance));
  const names = (list: BlobVerdict[]) => list.map((b) => b.blob);
  const failed = blobs.filter((b) => !b.pass);
  return { blobs, failed: names(failed), unexplained: names(failed.filter((b) => !b.explained)), notes };
}

/** Says which blobs have NaN or infinite values on both sides of a pair, which the comparison counts as equal. */
function nonfiniteNotes(blobs: BlobVerdict[]): string[] {
  const notes: string[] = [];
  for (const b of blobs) {
    const most = Math.max(0, ...Object.values(b.pairs).map((p) => p.nonfinite ?? 0));
    if (most > 0) notes.push(`'${b.blob}': ${most} value${most === 1 ? ' is' : 's are'} NaN or infinite on both sides, counted as equal`);
  }
  return notes;
}

/**
 * Says, for a failing blob whose layer verify could not rerun, or not conclusively (a layer in place, a
 * DetectionOutput choosing among tied scores), when
 * an input of that layer agrees within the tolerance relative to its scale but not in absolute terms because it is
 * huge (an SSD head's DetectionOutput under synthetic weights takes box offsets of ~1e7 that two engines' float32
 * sums round apart by ~10): a hint, not an explanation (the blob stays in `unexplained`).
 */
function precisionNotes(net: Net, blobs: BlobVerdict[], tolerance: number, all = blobs): string[] {
  const byBlob = new Map(all.map((b) => [b.blob, b]));
  const notes: string[] = [];
  for (const b of blobs) {
    if (b.pass) continue;
    const layer = net.layers.find((l) => l.tops.includes(b.blob) && !l.bottoms.includes(b.blob));
    const failing = Object.keys(b.pairs).filter((p) => !b.pairs[p as PairName]!.pass) as PairName[];
    for (const bottom of layer?.bottoms ?? []) {
      const input = byBlob.get(bottom);
      const pair = failing.map((p) => input?.pairs[p]).find((r) => r?.pass && r.abs > tolerance);
      if (!pair) continue;
      const reach = maxFinite(net.blobs.get(bottom)!.data);
      notes.push(`'${b.blob}': its input '${bottom}' reaches ${reach.toExponential(1)} and agrees to ${pair.rel.toExponential(1)} relative but ${pair.abs.toExponential(1)} absolute: float32 keeps ~7 digits, so engines differ there; saturated or synthetic weights?`);
      break;
    }
  }
  return notes;
}

/** Explains the failing blobs whose layer, run on each side's own inputs, gives that side's value (causes.ts). */
function explain(net: Net, blobs: BlobVerdict[], sides: Sides, compareAs: CompareAs, tolerance: number): string[] {
  const { explained, differs } = explainFailures(net, blobs, sides, compareAs, tolerance);
  const byBlob = new Map(blobs.map((b) => [b.blob, b]));
  const notes = blobs.flatMap((b) => {
    const e = explained.get(b.blob);
    if (!e) return [];
    b.explained = e;
    return [explainedNote(b, e, byBlob, net)];
  });
  return [...notes, ...precisionNotes(net, blobs.filter((b) => !b.explained && !differs.has(b.blob)), tolerance, blobs), ...tieNotes(net, blobs, sides, tolerance)];
}

/**
 * Says which failing DetectionOutput blobs tie at keep_top_k's cut of an image against the reference (tiedAtCut: real
 * Caffe's std::sort orders the tied boxes as it may), for each image whose rows differ.
 */
function tieNotes(net: Net, blobs: BlobVerdict[], sides: Sides, tolerance: number): string[] {
  const notes: string[] = [];
  for (const layer of net.layers.filter((l) => l.type === 'DetectionOutput')) {
    const b = blobs.find((v) => v.blob === layer.tops[0]);
    const keep = (layer.def.detection_output_param as { keep_top_k?: number } | undefined)?.keep_top_k;
    if (!b || b.pass || b.explained || !keep) continue;
    const images = net.blobs.get(layer.bottoms[0])?.dims[0] ?? 1;
    // Natively vs ONNX Runtime, equal scores come in the same order (test/detection-ties.test.ts): no tie to name.
    for (const pair of (Object.keys(b.pairs) as PairName[]).filter((p) => p !== 'native_onnx' && !b.pairs[p]!.pass)) {
      const [ours, theirs] = PAIR_ENGINES[pair].map((e) => (e === 'native' ? net.blobs : sides[e])?.get(b.blob));
      if (!ours || !theirs) continue;
      const [x, y] = PAIR_ENGINES[pair].map((e) => ENGINE_NAMES[e]);
      // Each image cut alone, noted where its rows differ.
      const differ = (n: number) => !compareDetections(imageRows(ours, n), imageRows(theirs, n), tolerance).pass;
      const ties = Array.from({ length: images }, (_, n) => ({ n, tie: tiedAtCut(ours, theirs, keep, n) })).filter((t) => t.tie && differ(t.n));
      for (const { n, tie } of ties)
        notes.push(`'${b.blob}'${images > 1 ? ` image ${n}` : ''}: ${x} and ${y} each keep keep_top_k = ${keep} rows, ${tie!.ours} and ${tie!.theirs} of them at the lowest kept score ${tie!.score}: which of the boxes tied there are kept is the sort's order, which the SSD fork's std::sort leaves unspecified (saturated or synthetic weights?)`);
      if (ties.length) break;
    }
  }
  return notes;
}

/** Uniform values in [-1, 1) from a seeded generator (mulberry32), so a run can be repeated exactly. */
export function seededInput(dims: readonly number[], seed: number): Tensor {
  let a = seed >>> 0;
  const data = new Float32Array(sizeOf(dims));
  for (let i = 0; i < data.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    data[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return new Tensor(dims, data);
}
