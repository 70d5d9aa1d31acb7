// A memory plan for a forward whose caller reads only some blobs (net.keepBlobs): each other blob's storage is
// reused once its last reader has run, as ONNX Runtime's allocation planner and Caffe's in-place layers do. The
// blobs a net keeps every blob of (pycaffe's net.blobs) are the weights plus the sum of all blobs; planned, they are
// the weights plus the few blobs live at once (FCN-8s on a 500 x 375 image: 505 MB of blobs in 32 arrays, the
// largest two 98 MB each: conv1_1 and conv1_2, live together while conv1_2 runs).
//
// A unit is a blob with storage of its own and the Concat-laid-out bottoms viewing it (concat-views.ts); its live
// interval runs from the first layer that writes any of them (a fused chain's blobs from its producer: fold.ts's
// fused pass writes the chain's last blob there) to the last that reads any. Units whose intervals do not meet
// share a slot: first fit, largest unit first, so a slot is the size of its largest unit and never grows.
// Never planned: the net's inputs (fed before the forward), its outputs, the blobs kept, a sink's bottoms (HDF5Output
// writes them after the forward), a chain's blobs when one it hides is kept (recomputed from its sources on read),
// and the blobs whose shapes follow a layer that sizes its tops at run time (sizedBlobs: its tops and every blob
// downstream of them, which follow each forward's rows in room of their own, Net.room). The rest of such a net (a
// Faster R-CNN's backbone, an SSD's heads) is planned as any net's: their shapes do not change as the rows do.
//
// Which unit a slot holds is tracked as layers run (`wrote`): a blob is readable while its unit holds its slot, so a
// forward that starts midway over a released blob, and a read of one after the forward, say so rather than read
// another blob's values.
import type { GraphLayer } from '../graph/graph.js';
import { type Shape, sizeOf } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import type { ConcatSlice } from './concat-views.js';
import { chainMembers, type Fusion } from './fold.js';

/** No unit holds the slot: none of its blobs is readable (a forward from the first layer starts so). */
const NONE = '';

export class MemoryPlan {
  /** Each slot's length in floats (the largest unit it holds). */
  readonly lengths: number[] = [];
  /** Planned blob (a unit's root and its views) -> its unit's root. */
  private readonly unitOf = new Map<string, string>();
  /** Unit root -> its slot. */
  private readonly slotOf = new Map<string, number>();
  /** The unit each slot holds now (NONE: none, as before the first forward, when a reused slot holds old values). */
  private owners: string[] = [];

  constructor(layers: readonly GraphLayer[], shapes: ReadonlyMap<string, Shape>, slices: ReadonlyMap<string, ConcatSlice>, fusions: ReadonlyMap<number, Fusion>, kept: ReadonlySet<string>) {
    const rootOf = (name: string): string => {
      for (let s = slices.get(name); s; s = slices.get(name)) name = s.top;
      return name;
    };
    const units = new Map<string, { start: number; end: number; length: number; kept: boolean }>();
    const unit = (name: string) => {
      const root = rootOf(name);
      let u = units.get(root);
      if (!u) units.set(root, (u = { start: Infinity, end: -1, length: sizeOf(shapes.get(root)!), kept: false }));
      this.unitOf.set(name, root);
      return u;
    };
    const keep = new Set([...kept, ...sizedBlobs(layers)]);
    for (const f of fusions.values()) {
      if (!f.hidden.some((b) => keep.has(b))) continue;
      for (const i of [f.producer, ...chainMembers(f)]) for (const b of [...layers[i].bottoms, ...layers[i].tops]) keep.add(b);
    }
    layers.forEach((l, i) => {
      for (const t of l.tops) {
        const u = unit(t);
        u.start = Math.min(u.start, i);
        if (l.type === 'Input' || keep.has(t)) u.kept = true;
      }
      for (const b of l.bottoms) {
        const u = unit(b);
        u.end = Math.max(u.end, i);
        if (l.impl.sink || keep.has(b)) u.kept = true;
      }
    });
    for (const f of fusions.values()) for (const b of [f.top, ...f.hidden]) unit(b).start = Math.min(unit(b).start, f.producer);
    // A blob no layer writes is an input (net-level, or a Data layer's top given by the caller): kept.
    for (const [name, u] of units) if (u.start === Infinity || !shapes.has(name)) u.kept = true;
    const slots: { length: number; spans: [number, number][] }[] = [];
    const planned = [...units].filter(([, u]) => !u.kept).sort((a, b) => b[1].length - a[1].length);
    for (const [root, u] of planned) {
      const end = Math.max(u.end, u.start);
      let s = slots.findIndex((slot) => slot.spans.every(([a, b]) => b < u.start || a > end));
      if (s < 0) s = slots.push({ length: u.length, spans: [] }) - 1;
      slots[s].spans.push([u.start, end]);
      this.slotOf.set(root, s);
    }
    for (const [name, root] of [...this.unitOf]) if (!this.slotOf.has(root)) this.unitOf.delete(name);
    this.lengths = slots.map((s) => s.length);
    this.owners = slots.map(() => NONE);
  }

  /** The slot `name`'s unit lives in when it is planned and is its unit's root (views follow their Concat's top). */
  slotFor(name: string): number | undefined {
    return this.slotOf.get(name);
  }

  /** Whether `name` is planned (its storage shared with other blobs'). */
  has(name: string): boolean {
    return this.unitOf.has(name);
  }

  /** A forward from the first layer: nothing planned holds a value until a layer writes it. */
  startForward(): void {
    this.owners.fill(NONE);
  }

  /** A layer is about to write `tops`: their units take their slots (the units there before are released). */
  wrote(tops: readonly string[]): void {
    for (const t of tops) {
      const root = this.unitOf.get(t);
      if (root !== undefined) this.owners[this.slotOf.get(root)!] = root;
    }
  }

  /** Whether `name` holds the value its last writer gave it (not planned, or its unit still holds its slot). */
  readable(name: string): boolean {
    const root = this.unitOf.get(name);
    if (root === undefined) return true;
    return this.owners[this.slotOf.get(root)!] === root;
  }
}

/**
 * The blobs whose shapes a forward may change: the tops of each layer that sizes its tops (Proposal, Filter,
 * DetectionOutput), and the tops of every layer reading one of them (layers run in order: one pass).
 */
export function sizedBlobs(layers: readonly GraphLayer[]): Set<string> {
  const sized = new Set<string>();
  for (const l of layers) if (l.impl.sizesTops || l.bottoms.some((b) => sized.has(b))) for (const t of l.tops) sized.add(t);
  return sized;
}

/** The one-line refusal of a released blob's read: `where` says who read it. */
export function releasedBlob(name: string, where: string): CremaError {
  return new CremaError(`${where}blob '${name}' holds no value: net.keepBlobs keeps only the outputs and the blobs it lists, the others' storage going to later blobs once their last reader has run (set net.keepBlobs = 'all', or list '${name}' in it, before the forward to read it)`);
}

/**
 * The first of a run's `fetches` that a plan keeping `kept` does not keep (it keeps the net's inputs and outputs too),
 * or undefined: a run refuses it before the forward, as another blob may hold a later one's values by the time it is read.
 */
export function unkeptFetch(fetches: readonly string[] | undefined, inputs: readonly string[], outputs: readonly string[], kept: 'all' | readonly string[]): string | undefined {
  if (kept === 'all' || !fetches) return undefined;
  const ok = new Set([...inputs, ...outputs, ...kept]);
  return fetches.find((f) => !ok.has(f));
}

/**
 * run's one-line refusal of such a fetch: `keeper` names where keepBlobs lives and `advice` says what the caller can
 * do, which differs: the Node library's net.keepBlobs is set before the first run, the browser's is a Net.load option.
 */
export function unkeptError(name: string, keeper: string, advice: string): CremaError {
  return new CremaError(`run: options.fetches names blob '${name}', which ${keeper} does not keep (it keeps the inputs, the outputs and the blobs it lists, the others' storage going to later blobs): ${advice}`);
}
