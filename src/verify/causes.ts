// Why a blob out of tolerance differs: its own layer, or only what that layer was given. verify reruns the layer
// natively on each side's own inputs; where that gives each side's value, the layer computes alike and the blob's
// difference is its inputs' (a Flatten of a failing Softmax, or a Softmax amplifying its logits' float32 rounding).
import type { Net } from '../runtime/net.js';
import type { GraphLayer } from '../graph/graph.js';
import { Tensor } from '../tensor.js';
import type { PairResult } from './compare.js';
import type { BlobVerdict, Explained, PairName } from './blobs.js';

/** The engines a pair compares: crema's own (native), ONNX Runtime's, the reference's. */
export type Engine = 'native' | 'onnx' | 'reference';
type Side = Exclude<Engine, 'native'>;
/** The other engines' blobs: ONNX Runtime's, the reference's (when there is one). */
export type Sides = Record<Side, Map<string, Tensor> | undefined>;
/** How verify compares a blob (comparePair, compareDetections), undefined for one a rerun cannot judge (a pooling mask). */
export type CompareAs = (blob: string) => ((ours: Tensor, theirs: Tensor, tolerance: number) => PairResult) | undefined;

export const PAIR_ENGINES: Record<PairName, [Engine, Engine]> = { native_onnx: ['native', 'onnx'], native_reference: ['native', 'reference'], onnx_reference: ['onnx', 'reference'] };
export const ENGINE_NAMES: Record<Engine, string> = { native: 'crema', onnx: 'ONNX Runtime', reference: 'the reference' };

/** The engines other than crema's that the failing pairs take in, ONNX Runtime first. */
const sidesOf = (failing: PairName[]): Side[] => (['onnx', 'reference'] as const).filter((s) => failing.some((p) => PAIR_ENGINES[p].includes(s)));

/**
 * Explains the failing blobs that only inherit their difference (see Explained); `differs`: the failing blobs whose
 * layer's rerun showed it computes otherwise on the same inputs. The tolerance itself is not widened
 * for layers that amplify an input's error (Softmax, Exp, Power, division): the widening a bound gives (a softmax
 * moves by up to twice its input's absolute error, 3e-2 on logits of 170 at 1e-4) would let a wrong layer pass,
 * and Caffe's own values carry the same float32 rounding, so no tolerance on the blob alone tells the two apart.
 * The rerun does: it holds the layer to the full tolerance on identical inputs, so a layer that computes wrongly
 * still fails without an explanation. The blob stays out of tolerance (its values do differ by that much).
 * A blob rewritten in place right after its layer (a Convolution's ReLU, an SE block's Sigmoid, BatchNorm + Scale)
 * is rerun with those layers (`through`): its value is theirs. Pooling masks, other blobs rewritten in place, a
 * sizing layer's tops that later layers read and a recurrent layer's that carries its state are left unexplained.
 */
export function explainFailures(net: Net, blobs: BlobVerdict[], sides: Sides, compareAs: CompareAs, tolerance: number): { explained: Map<string, Explained>; differs: Set<string> } {
  const byBlob = new Map(blobs.map((b) => [b.blob, b]));
  const explained = new Map<string, Explained>(), differs = new Set<string>();
  for (const b of blobs) {
    const compare = compareAs(b.blob), range = b.pass || !compare ? undefined : producer(net, b.blob);
    if (!range) continue;
    const layer = net.layers[range.first], run = net.layers.slice(range.first, range.last + 1);
    const failing = (Object.keys(b.pairs) as PairName[]).filter((p) => !b.pairs[p]!.pass);
    let rerun = 0;
    for (const side of sidesOf(failing)) {
      const values = sides[side];
      const inputs = layer.bottoms.map((n) => values?.get(n));
      const theirs = values?.get(b.blob);
      if (!theirs || inputs.some((t) => !t)) {
        rerun = Infinity; // a side without the inputs (a reference dump without them): nothing to rerun on
        break;
      }
      const agree = compare!(rerunLayers(net, run, inputs as Tensor[], b.blob), theirs, tolerance);
      rerun = agree.pass ? Math.max(rerun, agree.rel) : Infinity;
      if (agree.pass) continue;
      // Conclusive only when the rerun gives crema's own value on crema's own inputs: a DetectionOutput whose
      // scores all saturate to 1 (synthetic weights) keeps 100 of more tied boxes, and a hidden blob recomputed
      // unfused moves the tie; then the layer neither passes nor fails the test (precisionNotes may still speak).
      if (rerunGivesOwn(net, run, b.blob, compare!, tolerance)) differs.add(b.blob);
      break;
    }
    if (!(rerun <= tolerance)) continue;
    // The rerun stands for crema's forward only when it gives crema's own value on crema's own inputs: a blob the
    // forward wrote otherwise (a fused chain's folded weights or fused ReLU, while the rerun of a chain's member runs
    // the layer alone) is crema's own difference, not its inputs'.
    if (!rerunGivesOwn(net, run, b.blob, compare!, tolerance)) {
      differs.add(b.blob);
      continue;
    }
    const follows = layer.bottoms.filter((n) => failing.some((p) => byBlob.get(n)?.pairs[p]?.pass === false));
    const inputRel = Math.max(...layer.bottoms.flatMap((n) => failing.map((p) => byBlob.get(n)?.pairs[p]?.rel ?? 0)));
    const outputRel = Math.max(...failing.map((p) => b.pairs[p]!.rel));
    const gain = follows.length === 0 && inputRel > 0 && outputRel < Infinity ? { gain: outputRel / inputRel } : {};
    const through = run.length > 1 ? { through: run.slice(1).map((l) => l.name) } : {};
    explained.set(b.blob, { layer: layer.name, type: layer.type, rerun, follows: [...new Set(follows)], ...gain, ...through });
  }
  return { explained, differs };
}

/** Whether `run`, on crema's own inputs, gives crema's own `blob` (as the forward left it) within the tolerance. */
function rerunGivesOwn(net: Net, run: GraphLayer[], blob: string, compare: ReturnType<CompareAs> & {}, tolerance: number): boolean {
  const own = run[0].bottoms.map((n) => net.blobs.get(n)!);
  return compare(rerunLayers(net, run, own, blob), net.blobs.get(blob)!, tolerance).pass;
}

/**
 * The layers `first`..`last` that write `blob`, when a rerun of them recomputes the blob as the forward left it: the
 * first not in place, the others (if any) right after it, each in place on the blob alone (a ReLU, a Sigmoid,
 * BatchNorm + Scale), no later layer rewriting the first's inputs in place, no state carried from the last forward
 * (Layer.carriesState: a recurrent layer's rerun would start from another and move the next forward's), and every
 * name its own (forward's start and end take a repeated name's first layer). Undefined otherwise.
 */
function producer(net: Net, blob: string): { first: number; last: number } | undefined {
  const layers = net.layers;
  const writers = layers.flatMap((l, i) => (l.tops.includes(blob) ? [i] : []));
  const first = writers[0], last = writers.at(-1)!, layer = layers[first];
  if (first === undefined || layer.bottoms.length === 0 || layer.bottoms.includes(blob)) return undefined;
  const inPlace = (l: GraphLayer, k: number) => k === 0 || (l.bottoms.length === 1 && l.bottoms[0] === blob && l.tops.length === 1 && !l.impl.sizesTops);
  const run = layers.slice(first, last + 1);
  if (writers.length !== run.length || !run.every(inPlace) || run.some((l, k) => l.impl.carriesState || layers.findIndex((m) => m.name === l.name) !== first + k)) return undefined;
  const later = layers.slice(last + 1);
  if (layer.impl.sizesTops && later.some((l) => l.bottoms.some((n) => layer.tops.includes(n)))) return undefined; // its rerun would shape them again
  return later.some((l) => l.tops.some((t) => layer.bottoms.includes(t))) ? undefined : { first, last };
}

/**
 * The top `blob` of `layers` (one, or one and those in place after it) computed natively from `inputs` (the first's
 * bottoms); every blob they touched is put back as the forward left it (a layer that sizes its tops, e.g.
 * DetectionOutput, by running it again on its own inputs: its rows may change).
 */
function rerunLayers(net: Net, layers: GraphLayer[], inputs: Tensor[], blob: string): Tensor {
  const layer = layers[0];
  const touched = [...new Set([...layer.bottoms, ...(layer.impl.sizesTops ? [] : layer.tops)])];
  const saved = touched.map((n) => net.blobs.get(n)!.data.slice()); // reading .data computes a fused chain's hidden blobs first
  const run = () => net.forward({}, { start: layer.name, end: layers.at(-1)!.name });
  try {
    layer.bottoms.forEach((n, k) => net.blobs.get(n)!.data.set(inputs[k].data));
    run();
    const top = net.blobs.get(blob)!;
    return new Tensor([...top.dims], top.data.slice());
  } finally {
    touched.forEach((n, k) => net.blobs.get(n)!.data.set(saved[k]));
    if (layer.impl.sizesTops) run();
  }
}

/** The note saying why an explained blob differs. */
export function explainedNote(b: BlobVerdict, e: Explained, byBlob: Map<string, BlobVerdict>, net: Net): string {
  const failing = (Object.keys(b.pairs) as PairName[]).filter((p) => !b.pairs[p]!.pass);
  const sides = sidesOf(failing).map((s) => `${ENGINE_NAMES[s]}'s`).join(' and ');
  const inputs = net.layers.find((l) => l.name === e.layer)!.bottoms;
  const after = (e.through ?? []).map((name) => `'${name}' (${net.layers.find((l) => l.name === name)!.type})`);
  const layers = after.length ? `its layers '${e.layer}' (${e.type}) and in place ${after.join(', ')}` : `its layer '${e.layer}' (${e.type})`;
  const rerun = `${layers}, run by crema on ${sides} own input${inputs.length > 1 ? 's' : ''}, give${after.length ? '' : 's'} ${sides.includes(' and ') ? 'their values' : 'its value'} within ${e.rerun.toExponential(1)} relative`;
  if (e.follows.length) return `'${b.blob}' follows from ${e.follows.map((f) => `'${f}'`).join(', ')} (out of tolerance): ${rerun}`;
  const described = inputs.map((n) => {
    const worst = failing.map((p) => byBlob.get(n)!.pairs[p]!).reduce((a, c) => (c.rel > a.rel ? c : a));
    return `'${n}' (${worst.rel.toExponential(1)} relative, ${worst.abs.toExponential(1)} absolute at values up to ${maxFinite(net.blobs.get(n)!.data).toExponential(1)})`;
  });
  const gain = e.gain === undefined ? '' : ` ${e.gain < 10 ? e.gain.toFixed(1) : e.gain < 1e4 ? Math.round(e.gain) : e.gain.toExponential(1)}x`;
  const by = [e.type, ...(e.through ?? []).map((name) => net.layers.find((l) => l.name === name)!.type)].join(' + ');
  return `'${b.blob}': its input${inputs.length > 1 ? 's' : ''} ${described.join(', ')} ${inputs.length > 1 ? 'are' : 'is'} within tolerance, amplified${gain} by ${by}; ${rerun}: float32's rounding, not the layer${after.length ? 's' : ''}`;
}

/** The largest finite |value|. */
export function maxFinite(data: ArrayLike<number>): number {
  let most = 0;
  for (let i = 0; i < data.length; i++) if (Math.abs(data[i]) > most && Math.abs(data[i]) < Infinity) most = Math.abs(data[i]);
  return most;
}
