// Convolution and InnerProduct on the wasm engine: weights packed into wasm memory once per layer, activations
// copied in, one parallel job per layer (all images and groups), the result copied out.

import type { ConvGeometry } from './im2col.js';
import type { Tensor } from '../tensor.js';
import { KC, KIND_CONV, KIND_GEMV, KIND_GEMV_ROWS, KIND_IP, KIND_IP_ROWS, MR, NR, type Owned, type WasmEngine, addScope, registerWeights, weightsBlock } from './wasm.js';

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/** Rows assembly/rowmajor.ts' gemvRows takes a step (GEMV_ROWS there): a chunk holds whole steps of them. */
const GEMV_ROWS = 5;
/**
 * Chunks a thread of a batch-1 GEMV over W's rows, 16 and not 4: a chunk re-reads only x (K floats, from L1 / L2) and a
 * row's bits do not depend on its chunk, while the last chunk of a slow thread (a worker waking on a vCPU the host
 * gave away) held the other for up to a chunk: AlexNet's fc6-8 at 2 threads, all in parallel, 4.63 -> 4.32 ms median
 * (p90 5.94 -> 5.11), 40 forwards interleaved in one process (docs/PERFORMANCE.md, round twenty-seven).
 */
const GEMV_CHUNKS_PER_THREAD = 16;

/** A convolution's weights as MR-row strips per K block, per group; bias padded to whole strips. */
export interface PackedConv {
  weights: number;
  bias: number;
  /** Output channels per group (rows of each group's A) and the K of each (Cin/group * kh * kw). */
  rows: number;
  depth: number;
  /** The blocks packConvWeights took (weights, bias), for releasePacked. */
  blocks?: Owned[];
  /** Packed in place (packConvWeightsInPlace): the decoded array whose block holds them, kept so it is not collected. */
  keep?: Float32Array;
}

/**
 * Packs weights (groups * rows, depth) row-major into the layout of assembly/kernels.ts's packed A:
 * group g at g * rowsPad * depth, K block k0 at k0 * rowsPad, strip s at s * MR * kc, (k, r) at k * MR + r.
 */
export function packConvWeights(e: WasmEngine, owner: object, w: Float32Array, bias: Float32Array | undefined, groups: number, rows: number, depth: number): PackedConv {
  const ptr = e.heap.alloc(groups * roundUp(rows, MR) * depth * 4);
  const blocks = [e.own(owner, ptr)];
  copyPacked(e.f32, ptr / 4, w, groups, rows, depth, true);
  const biasAt = packBias(e, owner, bias, blocks);
  return { weights: ptr, bias: biasAt, rows, depth, blocks };
}

/**
 * Between Caffe's row-major weights `w` (groups * rows, depth) and packConvWeights' layout at `out[at]`: into it
 * (`toPacked`, its padding rows written as zeros) or back out of it into `w`. The one reordering both ways.
 */
function copyPacked(out: Float32Array, at: number, w: Float32Array, groups: number, rows: number, depth: number, toPacked: boolean): void {
  const rowsPad = roundUp(rows, MR);
  let o = at;
  for (let g = 0; g < groups; g++) {
    for (let k0 = 0; k0 < depth; k0 += KC) {
      const kc = Math.min(KC, depth - k0);
      for (let s = 0; s < rowsPad; s += MR) {
        // The direction chosen outside the k loop: this runs over every float of every convolution a net loads.
        if (toPacked) for (let k = k0; k < k0 + kc; k++) for (let r = s; r < s + MR; r++, o++) out[o] = r < rows ? w[(g * rows + r) * depth + k] : 0;
        else for (let k = k0; k < k0 + kc; k++) for (let r = s; r < s + MR; r++, o++) if (r < rows) w[(g * rows + r) * depth + k] = out[o];
      }
    }
  }
}

/**
 * @internal Convolution weights of at least this many bytes, in a block of the kernels' memory that only their net
 * holds (decoded there by Net.load), are packed in place of themselves rather than beside (packConvWeightsInPlace):
 * the layers whose second copy counts in a net's peak (FCN-8s's fc6, 411 MB, and fc7, 64 MiB), not the many small
 * ones whose copy costs less than the in-place reordering's scattered moves. Tests set it lower.
 */
export const inPlacePacking = { minBytes: 16 * 2 ** 20 };

/**
 * Whether a convolution's weights (groups * rows, depth) of `bytes` pack in place (packConvWeightsInPlace): large
 * enough (inPlacePacking), no padding rows, and moved in runs of 16 k's or more (64 floats: an odd depth's runs
 * of one k, 12.8 million moves of 16 bytes for fc6's size, took 9 s where the copy takes 0.7).
 */
export function packsInPlace(bytes: number, rows: number, depth: number): boolean {
  return bytes >= inPlacePacking.minBytes && rows % MR === 0 && inPlaceRun(depth) >= 16;
}

/** The k's packConvWeightsInPlace moves as one run: gcd(KC, depth), the most that never straddles a K block. */
function inPlaceRun(depth: number): number {
  let [a, b] = [KC, depth];
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * packConvWeights' layout made in `view`'s own block (decoded weights, `block`), which must hold exactly the
 * weights (groups * rows, depth) with `rows` a multiple of MR (no padding rows: the same size): the net keeps
 * one copy. `view` reads scrambled after; unpackConvWeights gives the weights back. The block is freed with the
 * packed weights (releasePacked), or with the net's scope as before.
 */
export function packConvWeightsInPlace(e: WasmEngine, owner: object, view: Float32Array, block: Owned, bias: Float32Array | undefined, groups: number, rows: number, depth: number): PackedConv {
  const f32 = e.f32, strips = rows / MR, unit = inPlaceRun(depth);
  const tmp = new Float32Array(MR * depth);
  for (let g = 0; g < groups; g++) {
    const base = block.ptr / 4 + g * rows * depth;
    // 1. Each strip's MR rows (contiguous) turned to depth x MR: (k, r) of strip s at s * MR * depth + k * MR + r.
    for (let s = 0; s < strips; s++) {
      const at = base + s * MR * depth;
      tmp.set(f32.subarray(at, at + MR * depth));
      for (let k = 0, o = at; k < depth; k++) for (let r = 0; r < MR; r++, o++) f32[o] = tmp[r * depth + k];
    }
    // 2. Each run of `unit` k's of a strip moved to its K block's place (block k0 at k0 * strips, strip s at s * kc),
    // by following each cycle of that permutation with one run in hand: no second array of the weights' size. Runs
    // of gcd(KC, depth) k's (FCN's fc6 and fc7: 256, 4 KB) make it ~50,000 moves of 4 KB, not 12.8 million of 16 bytes.
    const runs = depth / unit, floats = unit * MR, seen = new Uint8Array(strips * runs);
    let hand = new Float32Array(floats), next = new Float32Array(floats);
    for (let start = 0; start < strips * runs; start++) {
      if (seen[start]) continue;
      hand.set(f32.subarray(base + start * floats, base + (start + 1) * floats));
      let u = start;
      do {
        const s = Math.floor(u / runs), k = (u - s * runs) * unit, k0 = k - (k % KC), kc = Math.min(KC, depth - k0);
        u = (k0 * strips + s * kc + (k - k0)) / unit;
        const at = base + u * floats;
        next.set(f32.subarray(at, at + floats)); // the run displaced, in hand next (the two buffers swap: no copy back)
        f32.set(hand, at);
        [hand, next] = [next, hand];
        seen[u] = 1;
      } while (u !== start);
    }
  }
  const blocks = [block];
  const biasAt = packBias(e, owner, bias, blocks);
  return { weights: block.ptr, bias: biasAt, rows, depth, blocks, keep: view };
}

/** The weights (groups * rows, depth) row-major again, a new array, from a convolution's packed ones. */
export function unpackConvWeights(e: WasmEngine, packed: PackedConv, groups: number): Float32Array {
  const w = new Float32Array(groups * packed.rows * packed.depth);
  copyPacked(e.f32, packed.weights / 4, w, groups, packed.rows, packed.depth, false);
  return w;
}

/** Frees a convolution's packed weights now, not when their owner is collected: it must not be used after. */
export function releasePacked(e: WasmEngine, packed: PackedConv): void {
  for (const block of packed.blocks ?? []) e.heap.releaseOwned(block);
}

/** A convolution's bias in wasm memory, padded with zeros to a whole MR strip past its end; 0 for none. */
export function packBias(e: WasmEngine, owner: object, bias: Float32Array | undefined, blocks?: Owned[]): number {
  if (!bias) return 0;
  const ptr = e.heap.alloc((bias.length + MR) * 4);
  const block = e.own(owner, ptr); // owned whatever `blocks` is (`blocks?.push(e.own(...))` skipped it for Winograd's)
  blocks?.push(block);
  e.f32.fill(0, ptr / 4, ptr / 4 + bias.length + MR);
  e.f32.set(bias, ptr / 4);
  return ptr;
}

/**
 * Convolution of `num` images (x: num x groups*C x H x W) into y (num x groups*rows x OH x OW).
 * `pointwise`: 1x1 kernel, stride 1, no pad, so the input planes are the column matrix. `residualAt`: 0, or the
 * address of a resident array shaped as y added to the output before the ReLU (an Eltwise SUM fused in).
 */
export function convolveWasm(e: WasmEngine, packed: PackedConv, g: ConvGeometry, groups: number, num: number, x: Float32Array, y: Float32Array, pointwise: boolean, reluSlope: number | undefined, residualAt = 0): void {
  const N = g.outH * g.outW;
  const images = num * groups;
  // Chunks of columns, a few per thread; each streams all of the group's weights (from L3 where they are large).
  // A split by output rows (each chunk streaming the whole packed column matrix instead, packed by a job of its
  // own first) was taken at 2 threads for weights over 256 KB and at most 1024 columns until round seven: it lost
  // to this split on every layer measured (docs/PERFORMANCE.md, "Big layers at two threads").
  const { xAt, yAt } = e.stage(x, y);
  const p = e.job(KIND_CONV);
  p[3] = xAt;
  p[4] = g.channels; p[5] = g.height; p[6] = g.width; p[7] = g.kernelH; p[8] = g.kernelW;
  p[9] = g.padH; p[10] = g.padW; p[11] = g.strideH; p[12] = g.strideW; p[13] = g.dilationH; p[14] = g.dilationW;
  p[15] = g.outH; p[16] = g.outW;
  p[17] = packed.rows; p[18] = packed.depth; p[19] = KC; p[20] = packed.weights; p[21] = yAt; p[22] = packed.bias;
  p[23] = reluSlope === undefined ? 0 : 1;
  e.setFloat(p, 24, reluSlope ?? 0);
  p[25] = pointwise ? 1 : 0;
  p[26] = groups;
  const perImage = Math.max(1, Math.ceil(e.chunkCount(images * Math.ceil(N / NR)) / images));
  const chunkCols = NR * chunkStrips(Math.ceil(N / NR), Math.min(MAX_CHUNK_STRIPS, Math.ceil(N / NR / perImage)), e.activeThreads());
  const { rowBlocks, rowsPer } = convRowSplit(e.chunkCount(Infinity), images * Math.ceil(N / chunkCols), packed.rows);
  p[27] = chunkCols; p[28] = Math.ceil(N / chunkCols);
  p[29] = residualAt;
  p[30] = rowBlocks; p[31] = rowsPer;
  p[32] = convSplit.fewRows ? 1 : 0;
  e.run(images * p[28] * rowBlocks);
  e.unstage(y, yAt);
}

/**
 * @internal Whether convolution jobs may cut output rows, whether their column chunks are picked to end together
 * (chunkStrips; off: `most`, as until round fifty), and whether a 1x1 with 1 to 4 output channels a group
 * runs straight from x (assembly/fewrows.ts; the same bits as the GEMM) rather than packing it: benchmarks and
 * tests turn them off to compare.
 */
export const convSplit = { rows: true, fewRows: true, balanced: true };

/** Column strips a convolution chunk holds at most (its packed B in a thread's scratch: KC x 512 floats). */
const MAX_CHUNK_STRIPS = 512 / NR;

/**
 * Column strips a chunk of a plane of `strips` strips, from `most` (a few chunks a thread) down to half of it:
 * the count whose chunks end soonest on `threads` threads of equal speed, each taking the next chunk when free
 * (the pool's ticket; ties: the larger count, fewer chunks). Every chunk but a plane's last holds the same count,
 * so `most` could leave one thread a whole chunk more: 28 x 28 (98 strips) in chunks of 13 ran 4 chunks (52
 * strips) on one thread and 3 and a 7 (46) on the other, where chunks of 7 run 49 each; 112 x 112 (1568 strips, 64
 * at most a chunk) 800 against 784 in chunks of 49. Same bits: each output's sum does not depend on its chunk.
 */
export function chunkStrips(strips: number, most: number, threads: number): number {
  if (!convSplit.balanced) return Math.max(1, most);
  const key = `${strips},${most},${threads}`; // a net's layers ask the same few each forward: simulated once
  let best = chosenStrips.get(key);
  if (best !== undefined) return best;
  let bestEnd = Infinity;
  best = Math.max(1, most);
  for (let c = best; c >= 1 && 2 * c >= most; c--) {
    const end = finish(strips, c, threads);
    if (end < bestEnd) [best, bestEnd] = [c, end];
  }
  chosenStrips.set(key, best);
  return best;
}

/** chunkStrips' picks by (strips, most, threads). */
const chosenStrips = new Map<string, number>();

/** When the last of `strips` strips in chunks of `per` ends, on `threads` threads of equal speed taking chunks in turn. */
function finish(strips: number, per: number, threads: number): number {
  const loads = new Array<number>(Math.max(1, threads)).fill(0);
  for (let left = strips; left > 0; left -= per) {
    const t = loads.indexOf(Math.min(...loads));
    loads[t] += Math.min(per, left);
  }
  return Math.max(...loads);
}

/** Output rows a convolution chunk keeps at least when a job cuts rows (8 strips of the 4 x 8 tile). */
const MIN_CHUNK_ROWS = 32;

/**
 * Row blocks for a convolution job of `columnChunks` column blocks (over all images and groups) and `rows` output
 * channels a group, when it wants `want` chunks (a few a thread): none while the columns give that many; else
 * enough that they do, each block a multiple of MR and at least MIN_CHUNK_ROWS rows. A plane of a few strips
 * (ResNet-50's and GoogLeNet's 7 x 7: 7 strips, one a chunk) left one thread 4 of 7 chunks: 14 chunks of half
 * the rows even them out. Each row block packs its columns again (K x 8 floats a strip, against the rows x K x 8
 * multiply-adds it saves the other thread); every output's sum runs in the same order: the same bits.
 */
export function convRowSplit(want: number, columnChunks: number, rows: number): { rowBlocks: number; rowsPer: number } {
  const rowBlocks = columnChunks >= want || !convSplit.rows ? 1 : Math.max(1, Math.min(Math.ceil(want / columnChunks), Math.floor(rows / MIN_CHUNK_ROWS)));
  return { rowBlocks, rowsPer: rowBlocks > 1 ? roundUp(Math.ceil(rows / rowBlocks), MR) : rows };
}

/** An inner product's weights as packed B (K x N: column n is output n), NR-column strips per K block. */
export interface PackedInnerProduct {
  weights: number;
  bias: number;
  outputs: number;
  depth: number;
}

/** Packs W (N x K row-major, or K x N when `transpose`) as B = W^T in the packed-B layout. */
export function packInnerProductWeights(e: WasmEngine, owner: object, w: Float32Array, bias: Float32Array | undefined, N: number, K: number, transpose: boolean): PackedInnerProduct {
  const nPad = roundUp(N, NR);
  const ptr = e.heap.alloc(nPad * K * 4);
  e.own(owner, ptr);
  const out = e.f32;
  let o = ptr / 4;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = Math.min(KC, K - k0);
    for (let t = 0; t < nPad; t += NR) {
      for (let k = k0; k < k0 + kc; k++) {
        for (let n = t; n < t + NR; n++, o++) out[o] = n >= N ? 0 : transpose ? w[k * N + n] : w[n * K + k];
      }
    }
  }
  let biasPtr = 0;
  if (bias) {
    biasPtr = e.heap.alloc((nPad + NR) * 4);
    e.own(owner, biasPtr);
    e.f32.fill(0, biasPtr / 4, biasPtr / 4 + nPad + NR);
    e.f32.set(bias, biasPtr / 4);
  }
  return { weights: ptr, bias: biasPtr, outputs: N, depth: K };
}

/**
 * y (M x N) = x (M x K) W^T + bias, then leaky ReLU when given: a GEMV at M = 1, else a GEMM with x packed as A.
 * W is packed B (PackedInnerProduct) or Caffe's own row-major N x K (RowMajorInnerProduct).
 */
export function innerProductWasm(e: WasmEngine, w: PackedInnerProduct | RowMajorInnerProduct, M: number, x: Float32Array, y: Float32Array, reluSlope: number | undefined): void {
  const { outputs: N, depth: K } = w;
  const rowMajor = 'view' in w;
  const strips = roundUp(N, NR) / NR;
  const mPad = roundUp(M, MR);
  // The kernels write whole NR strips of y: a resident y (64 bytes of room after it) takes up to NR - 1 more floats.
  const { xAt, yAt, extra: a } = e.stage(x, y, M > 1 ? mPad * K * 4 : 0, 0, NR * 4);
  if (M > 1) for (let k0 = 0; k0 < K; k0 += KC) e.exports.packA(xAt, K, 1, M, k0, Math.min(KC, K - k0), a + k0 * mPad * 4);
  const relu = (p: Uint32Array<ArrayBufferLike>, at: number): void => {
    p[at] = reluSlope === undefined ? 0 : 1;
    e.setFloat(p, at + 1, reluSlope ?? 0);
  };
  if (rowMajor && M === 1) {
    const p = e.job(KIND_GEMV_ROWS);
    const rowsPerChunk = roundUp(Math.ceil(N / e.chunkCount(Math.ceil(N / GEMV_ROWS), Infinity, GEMV_CHUNKS_PER_THREAD)), GEMV_ROWS);
    p[3] = K; p[4] = N; p[5] = xAt; p[6] = w.weights; p[7] = yAt; p[8] = w.bias;
    relu(p, 9);
    p[11] = rowsPerChunk;
    e.run(Math.ceil(N / rowsPerChunk));
  } else {
    const p = e.job(rowMajor ? KIND_IP_ROWS : M > 1 ? KIND_IP : KIND_GEMV);
    const chunkStrips = Math.ceil(strips / e.chunkCount(strips));
    p[3] = K; p[4] = KC; p[5] = N; p[6] = M > 1 ? a : xAt; p[7] = w.weights; p[8] = yAt; p[9] = w.bias;
    relu(p, 10);
    p[12] = chunkStrips; p[13] = M;
    e.run(Math.ceil(strips / chunkStrips));
  }
  e.unstage(y, yAt);
}

/**
 * An inner product's weights kept as Caffe stores them (N x K, row-major) in wasm memory, the only copy: the
 * weight tensor's data becomes a view of that memory (net.params shows it), so a net holds its fully connected
 * weights once rather than as loaded and packed (AlexNet: 557 MB after the first forward for a 233 MB file).
 */
export interface RowMajorInnerProduct {
  weights: number;
  /** Bias padded to whole NR strips (0: none). */
  bias: number;
  outputs: number;
  depth: number;
  /** The weight tensor's data: a view of `weights`. */
  view: Float32Array;
}

/**
 * Moves a weight tensor's data into wasm memory as it is and points the tensor there (the only copy: net.params
 * views it); a no-op when it is there already. The block lives as long as that view. Returns its address.
 */
export function moveWeights(e: WasmEngine, weights: Tensor): number {
  // In place already: decoded there by Net.load, or moved by a layer before (a reshape, another net sharing it).
  let block = weightsBlock(e, weights.data);
  if (!block) {
    const ptr = e.heap.alloc(weights.data.length * 4);
    const view = new Float32Array(e.memory.buffer, ptr, weights.data.length);
    // Owned by the view, not the tensor: other nets' tensors over the same view (ownTensors) read it after this
    // tensor is collected (as DecodedWeights' blocks).
    block = e.heap.own(view, ptr, undefined);
    view.set(weights.data);
    weights.data = view;
    registerWeights(view, block, e.heap);
  }
  // The net preparing (e.scope) uses it: its dispose frees the block unless another net sharing the weights does too.
  if (e.scope) addScope(block, e.scope);
  return block.ptr;
}

/**
 * Moves `weights` (an N x K tensor) into wasm memory and points its data there (a no-op when it is there
 * already); the block lives as long as its view. The bias is copied, padded, and belongs to `owner`.
 */
export function moveInnerProductWeights(e: WasmEngine, owner: object, weights: Tensor, bias: Float32Array | undefined, N: number, K: number): RowMajorInnerProduct {
  const ptr = moveWeights(e, weights);
  let biasPtr = 0;
  if (bias) {
    biasPtr = e.heap.alloc((roundUp(N, NR) + NR) * 4);
    e.own(owner, biasPtr);
    e.f32.fill(0, biasPtr / 4, biasPtr / 4 + roundUp(N, NR) + NR);
    e.f32.set(bias, biasPtr / 4);
  }
  return { weights: ptr, bias: biasPtr, outputs: N, depth: K, view: weights.data };
}
