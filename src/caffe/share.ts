// Parameters shared by name (ParamSpec.name), as Caffe shares them: Net::AppendParam makes the first layer that
// names a param its owner and has every later layer naming it share the owner's blob (Blob::ShareData), so all
// of them read one set of values. Every copy written for any of them lands in that one blob, in the order Caffe
// copies weights in: the prototxt's own blobs first (an owner's; a sharer's are replaced by the owner's when the
// net shares them), then the weights file's layers (Net::CopyTrainedLayersFrom: a .caffemodel's in the file's
// order; CopyTrainedLayersFromHDF5: the groups by name), a sharer's copy written into its owner's blob. So the
// last copy wins for all of them, and a sharer needs no copy of its own: Net::ToHDF5 saves only the blobs a
// layer owns (a .caffemodel from Caffe has a copy in every sharer; other tools may leave them out).
import { Tensor, sameShape, sizeOf, viewedShares } from '../tensor.js';
import { CremaError } from '../util/errors.js';
import type { LayerParameter } from './types.js';

/** The copies of each layer's blobs, in the order Caffe writes them into the net (`Iterable`s of [layer, blobs]). */
export interface Copies {
  /** The prototxt's own blobs (only an owner's count: a sharer's are replaced by its owner's). */
  prototxt: Iterable<[string, readonly Tensor[]]>;
  /** The weights file's layers in Caffe's copy order (a caffemodel's: the file's; HDF5's: by name). */
  file?: Iterable<[string, readonly Tensor[]]>;
}

interface ParamSpecLike {
  name?: string;
  share_mode?: string;
}

/** One shared blob: who owns it, and the copy that reached it last (Caffe's order). */
interface Slot {
  name: string;
  owner: string;
  index: number;
  last?: { layer: string; tensor: Tensor };
}

/**
 * `weights` (each layer's blobs by layer name: the copy a layer of its name got last) with the shared blobs put
 * in: each (layer, blob index) of a named param gets its owner's blob as `copies` leave it. A layer keeps its own
 * copy's shape where it has one (share_mode PERMISSIVE views the owner's values in another shape of the same
 * count). Layers that share nothing are untouched. `file` names the weights in errors.
 */
export function shareParams(layers: readonly LayerParameter[], weights: Map<string, Tensor[]>, copies: Copies, file: string): Map<string, Tensor[]> {
  const slots = sharedSlots(layers);
  if (!slots.size) return weights;
  const write = (entries: Iterable<[string, readonly Tensor[]]>, owners: boolean): void => {
    for (const [layer, blobs] of entries)
      blobs.forEach((tensor, i) => {
        const slot = slots.get(key(layer, i));
        if (slot && tensor && (!owners || isOwner(slot, layer, i))) slot.last = { layer, tensor };
      });
  };
  write(copies.prototxt, true);
  write(copies.file ?? [], false);
  const out = new Map(weights);
  for (const l of layers) {
    const own = weights.get(l.name) ?? [];
    const blobs = [...own];
    params(l).forEach((p, i) => {
      const slot = slots.get(key(l.name, i));
      if (slot?.last) blobs[i] = view(slot, l, p?.share_mode === 'PERMISSIVE', own[i], weights, file);
    });
    if (blobs.length) out.set(l.name, blobs);
  }
  return out;
}

/** Each (layer, index) of a named param, sharer or owner, keyed to one Slot per name. */
function sharedSlots(layers: readonly LayerParameter[]): Map<string, Slot> {
  const byName = new Map<string, Slot>(), slots = new Map<string, Slot>();
  for (const l of layers)
    params(l).forEach((p, i) => {
      if (!p?.name) return;
      let slot = byName.get(p.name);
      if (!slot) byName.set(p.name, (slot = { name: p.name, owner: l.name, index: i }));
      slots.set(key(l.name, i), slot);
    });
  // A name no other param gives shares nothing: its layer's blob is its own.
  const users = new Map<Slot, number>();
  for (const slot of slots.values()) users.set(slot, (users.get(slot) ?? 0) + 1);
  for (const [k, slot] of slots) if (users.get(slot) === 1) slots.delete(k);
  return slots;
}

function isOwner(slot: Slot, layer: string, index: number): boolean {
  return slot.owner === layer && slot.index === index;
}

/**
 * The shared blob as layer `l` reads it: the last copy's values in the layer's own shape, which is its own copy's
 * where it has one (Caffe checks each copy against its layer's blob), else its owner's. Caffe checks a sharer's
 * shape against its owner's (Net::AppendParam): the same shape (share_mode STRICT, the default) or the same count
 * (PERMISSIVE); a PERMISSIVE sharer with no copy of its own takes the shape its layer asks (expectWeight).
 */
function view(slot: Slot, l: LayerParameter, permissive: boolean, own: Tensor | undefined, weights: Map<string, Tensor[]>, file: string): Tensor {
  const last = slot.last!.tensor;
  const ownerDims = weights.get(slot.owner)?.[slot.index]?.dims;
  if (own && ownerDims && !(permissive ? sizeOf(own.dims) === sizeOf(ownerDims) : sameShape(own.dims, ownerDims)))
    throw new CremaError(`${file}: cannot share param '${slot.name}' owned by layer '${slot.owner}' with layer '${l.name}': ` +
      `${permissive ? 'count' : 'shape'} mismatch (the owner's blob ${slot.index} has shape [${ownerDims.join(', ')}], ` +
      `the sharer's [${own.dims.join(', ')}]${permissive ? '' : '; share_mode PERMISSIVE would need only the counts to agree'})`);
  const dims = own?.dims ?? ownerDims ?? last.dims;
  if (sizeOf(dims) !== last.data.length)
    throw new CremaError(`${file}: layer '${slot.last!.layer}' writes ${last.data.length} values into param '${slot.name}' (shared by ` +
      `layers '${slot.owner}' and '${l.name}'), whose blob holds ${sizeOf(dims)}`);
  if (sameShape(dims, last.dims) && !(permissive && !own)) return last;
  const shared = new Tensor([...dims], last.data);
  if (permissive && !own) viewedShares.add(shared);
  return shared;
}

function params(l: LayerParameter): (ParamSpecLike | undefined)[] {
  return (l.param as ParamSpecLike[] | undefined) ?? [];
}

const key = (layer: string, index: number): string => `${layer}\n${index}`;
