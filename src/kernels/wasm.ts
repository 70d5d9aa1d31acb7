// The WebAssembly SIMD engine: assembly/kernels.ts compiled by `npm run build` to dist/kernels.wasm, one shared
// WebAssembly.Memory, a small allocator over it, and a pool of worker threads that run the same module over the
// same memory (src/kernels/pool.ts).
//
// Layers keep their weights packed in wasm memory once (packConvWeights / packInnerProductWeights) and copy only
// activations in and out per forward. When the module is missing (not built) or CREMA_KERNELS=js is set, layers
// use the plain TypeScript kernels (gemm.ts), which stay the reference in tests.

import type { CopyHelper, FloatDestination } from '../caffe/types.js';
import { platform } from '../platform.js';
import { MemoryFullError } from '../util/errors.js';
import { ThreadPool } from './pool.js';

/** Register tile and K block of the wasm GEMM (must match assembly/kernels.ts). */
export const MR = 4;
export const NR = 8;
export const KC = 256;
/** Columns of one convolution chunk at most: thread scratch holds KC x this many packed floats. */
const MAX_CHUNK_COLS = 512;
export const THREAD_SCRATCH = 128 + KC * MAX_CHUNK_COLS * 4;
const PAGE = 65536;
const MAX_PAGES = 65536;
/** Addresses below this belong to the job control block; the allocator hands out memory above it. */
const CONTROL = 1024;
const HEAP_BASE = PAGE;

/** Floats a chunk of an elementwise job takes at least: below this a thread's wake-up costs more than it saves. */
export const MIN_CHUNK_FLOATS = 16384;

/** Job kinds: what runChunk in assembly/kernels.ts runs (must match its KIND_*). */
export const KIND_CONV = 1;
export const KIND_GEMV = 2;
export const KIND_IP = 3;
// 4 and 5: the convolution's split by output rows until round seven (free).
export const KIND_DEPTHWISE = 6;
export const KIND_POOL = 7;
export const KIND_GEMV_ROWS = 8;
export const KIND_IP_ROWS = 9;
export const KIND_WINOGRAD_PAD = 10;
export const KIND_WINOGRAD = 11;
export const KIND_WINOGRAD_FILTERS = 12;
export const KIND_ELTWISE = 13;
export const KIND_CONV_DIRECT = 14;
export const KIND_LRN = 15;
export const KIND_COPY = 16;
export const KIND_POINTWISE = 17;
export const KIND_EXP = 18;
export const KIND_COL2IM = 19;
export const KIND_NORMALIZE = 20;
export const KIND_LATTICE = 21;
export const KIND_CORRELATION = 22;

export interface KernelExports {
  runChunk(p: number, chunk: number, thread: number): void;
  packA(src: number, rs: number, cs: number, M: number, k0: number, kc: number, dst: number): void;
  /** The GEMM over packed panels (assembly/kernels.ts; flags 0 / 1): the benchmarks' core probe calls it. */
  gemmStrips(M: number, N: number, kc: number, a: number, b: number, t0: number, t1: number, c: number, ldc: number, colBase: number,
    first: number, last: number, biasMode: number, bias: number, reluOn: number, slope: number, tmp: number, res: number): void;
}

/** First-fit allocator over the wasm memory (64-byte aligned blocks), growing the memory when it runs out. */
class Heap {
  private top = HEAP_BASE;
  /** The highest `top` ever: memory past it no block has held (zeros, its pages never written). */
  private highWater = HEAP_BASE;
  /** Bytes at the start of the last block handed out that a block held before (the rest: zeros, never written). */
  heldBytes = 0;
  private readonly free: { ptr: number; size: number }[] = [];
  private readonly sizes = new Map<number, number>();
  /** Frees an owned block when its owner is garbage collected (see `own`). */
  private readonly finalizer = new FinalizationRegistry<Owned>((block) => this.releaseOwned(block));
  /**
   * Each owned block's owner, weakly: a full collection clears the ones nothing reaches at once, where the
   * finalizer's callbacks wait for a later turn of the event loop (see `reclaim`).
   */
  private readonly owners = new Map<Owned, WeakRef<object>>();
  /**
   * Bumped when an owned block is freed (a net's dispose, an owner's finalizer), the memory grows, or a net is built
   * (an older one may have been dropped): see `fruitlessAt`. Not by the kernels' unowned blocks (the engine's per-call
   * scratch, Winograd's staged weights): freed and taken again within a forward, they change nothing a collection
   * can find, and bumped by them a refusal caught at every call (Correlation's scratch, given back by each smaller
   * one another layer asked for in between) collected at every call again.
   */
  private generation = 0;
  /**
   * The generation in which a `reclaim` freed nothing: until an owned block is freed or the memory grows, another
   * would free nothing either, whatever the size refused (a memory full of live blocks: each blob's fallback to a
   * plain array, each call of Correlation's or the lattice's scratch falling back to JavaScript, would be a 25-35 ms
   * full collection). A net dropped meanwhile without dispose is freed by its finalizer after V8's next collection,
   * or at the next net built.
   */
  private fruitlessAt = -1;
  /**
   * Set by each net's load and construction (`reclaimAtGrowth`): the memory's next growth frees the blocks of
   * unreachable owners first. The memory never shrinks, and a net dropped without dispose is found only by a full
   * collection (25-35 ms), which nothing else triggers: this one runs only where it can spare a growth.
   */
  private reclaimArmed = false;
  /** @internal The most bytes blocks may reach (the memory's 4 GiB; tests set less to fill it quickly). */
  limit = MAX_PAGES * PAGE;

  constructor(readonly memory: WebAssembly.Memory) {}

  /** Frees `ptr` when `owner` is garbage collected, or when `scope` is released (then it is listed there too). */
  own(owner: object, ptr: number, scope: Set<Owned> | undefined): Owned {
    const block: Owned = { ptr, scopes: new Set() };
    this.finalizer.register(owner, block, block);
    this.owners.set(block, new WeakRef(owner));
    if (scope) addScope(block, scope);
    return block;
  }

  /** Frees an owned block now (its owner's finalizer is dropped); a no-op when it was freed already. */
  releaseOwned(block: Owned): void {
    this.finalizer.unregister(block);
    this.owners.delete(block);
    if (block.ptr === 0) return; // freed already
    this.release(block.ptr);
    this.generation++;
    block.ptr = 0;
    for (const scope of block.scopes) scope.delete(block);
    block.scopes.clear();
  }

  /** Bytes in blocks handed out and not released. */
  get used(): number {
    let bytes = 0;
    for (const size of this.sizes.values()) bytes += size;
    return bytes;
  }

  /** A block of at least `bytes`; a CremaError when the 4 GiB of wasm memory cannot hold it. */
  alloc(bytes: number): number {
    // A refusal throws, and a caller may catch it and fall back (Correlation's and the lattice's scratch, at every
    // call): it collects no more than tryAlloc (see `fruitlessAt`).
    const ptr = this.tryAlloc(bytes);
    if (!ptr)
      throw new MemoryFullError(`the wasm kernels' 4 GiB of memory cannot fit ${Math.ceil(bytes / 2 ** 20)} MiB more (${this.heldBy()}): CREMA_KERNELS=js runs blobs this large in JavaScript`);
    return ptr;
  }

  /**
   * Who holds the memory, for the 4 GiB refusal: the nets whose weights are in it (their scopes list blocks; neither
   * disposed nor collected). Not every net alive: one whose weights stay JavaScript arrays (not run yet) lists none.
   */
  private heldBy(): string {
    const nets = new Set<Set<Owned>>();
    for (const block of this.owners.keys()) for (const scope of block.scopes) nets.add(scope);
    return `${Math.ceil(this.used / 2 ** 20)} MiB in use, ${nets.size} net${nets.size === 1 ? ' holds' : 's hold'} weights there: dispose() the nets no longer used`;
  }

  /**
   * A block of at least `bytes`, or 0 (never a block) when it does not fit; nothing changes then. When it does not
   * fit, the blocks of owners no longer reachable (nets dropped without dispose) are freed first and it is tried again.
   */
  tryAlloc(bytes: number): number {
    const ptr = this.place(bytes);
    return ptr || (this.reclaim() ? this.place(bytes) : 0);
  }

  /** The next growth of the memory first frees the blocks of nets dropped without dispose (see `reclaimArmed`). */
  reclaimAtGrowth(): void {
    this.reclaimArmed = true;
    this.generation++; // a net built: the program may have dropped an older one, which only a collection finds
  }

  /**
   * Frees now the blocks whose owners a full collection finds unreachable; true when it freed any. Their finalizers
   * would free them, but only in a later turn of the event loop after a collection, and wasm memory filling up never
   * triggers one: nets loaded and dropped without dispose in a loop that awaits between them filled the 4 GiB. The
   * collection includes the owners met in the current job (`collectGarbage(true)`: JavaScript keeps alive until the
   * job ends every object a WeakRef was made for or read in it, and a loop that never awaits filled the 4 GiB at 17
   * ResNet-50s). Not again in a generation where one freed nothing (`fruitlessAt`).
   */
  private reclaim(): boolean {
    if (this.fruitlessAt === this.generation) return false;
    collectGarbage(true);
    let freed = false;
    for (const [block, owner] of this.owners)
      if (owner.deref() === undefined) {
        this.releaseOwned(block);
        freed = true;
      }
    if (!freed) this.fruitlessAt = this.generation;
    return freed;
  }

  private place(bytes: number): number {
    const size = Math.max(64, Math.ceil(bytes / 64) * 64);
    const i = this.free.findIndex((b) => b.size >= size);
    let ptr: number;
    if (i >= 0) {
      const block = this.free[i];
      ptr = block.ptr;
      if (block.size === size) this.free.splice(i, 1);
      else Object.assign(block, { ptr: block.ptr + size, size: block.size - size });
    } else {
      const top = this.top + size;
      if (top > this.limit) return 0;
      const pages = this.memory.buffer.byteLength / PAGE, need = Math.ceil(top / PAGE) - pages;
      if (need > 0) {
        if (this.reclaimArmed) {
          this.reclaimArmed = false;
          if (this.reclaim()) return this.place(bytes);
        }
        try {
          this.memory.grow(Math.max(need, Math.min(MAX_PAGES - pages, 256)));
          this.generation++;
        } catch {
          return 0; // the system would not give that much
        }
      }
      ptr = this.top;
      this.top = top;
    }
    this.heldBytes = i >= 0 ? size : Math.min(size, Math.max(0, this.highWater - ptr));
    this.highWater = Math.max(this.highWater, this.top);
    this.sizes.set(ptr, size);
    return ptr;
  }

  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) return;
    this.sizes.delete(ptr);
    this.free.push({ ptr, size });
    this.free.sort((a, b) => a.ptr - b.ptr);
    for (let i = this.free.length - 1; i > 0; i--) {
      const a = this.free[i - 1], b = this.free[i];
      if (a.ptr + a.size === b.ptr) {
        a.size += b.size;
        this.free.splice(i, 1);
      }
    }
    const last = this.free[this.free.length - 1];
    if (last && last.ptr + last.size === this.top) {
      this.top = last.ptr;
      this.free.pop();
    }
  }
}

/**
 * A block of wasm memory owned by an object (see WasmEngine.own); ptr 0 once freed. `scopes`: the nets listing it
 * (their dispose frees it when no other net lists it: weights two nets share, see WasmEngine.releaseScope).
 */
export interface Owned {
  ptr: number;
  scopes: Set<Set<Owned>>;
}

/** Lists `block` in `scope` too (a net that uses it: the block lives until every such net is released). */
export function addScope(block: Owned, scope: Set<Owned>): void {
  if (block.ptr === 0) return;
  block.scopes.add(scope);
  scope.add(block);
}

/** One loaded engine: module, memory, allocator, pool. Process-wide (see `wasmEngine`). */
export class WasmEngine {
  readonly heap: Heap;
  readonly exports: KernelExports;
  readonly pool: ThreadPool;
  private f32View: Float32Array<ArrayBufferLike> = new Float32Array(0);
  private u32View: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private scratchPtr = 0;
  private scratchBytes = 0;
  private threadScratchPtr = 0;
  private threadScratchCount = 0;
  /** Threads the next jobs may use (Net.forward sets it from its `threads` option). */
  threads = 1;
  /**
   * The SharedArrayBuffers of this memory that resident arrays view (a new one after each growth). A shared
   * memory never moves, so a view made before a growth stays valid: blobs can live here (see `residentArray`).
   */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  /**
   * Where the blocks owned from now on are also listed (Net sets its own while its layers run or prepare), so
   * that Net.dispose can free them at once instead of waiting for the garbage collector.
   */
  scope: Set<Owned> | undefined;
  /**
   * The environment's settings (CREMA_WINOGRAD) as read once for the calls made while this is set (Net sets a new
   * map around each forward: a layer's kernel choice then reads no environment in every forward; ~2 us a read
   * between the kernels, V8's profile of GoogLeNet), else read at every call.
   */
  settings: Map<string, string | undefined> | undefined;

  constructor(readonly module: WebAssembly.Module, readonly memory: WebAssembly.Memory, heap = new Heap(memory)) {
    this.heap = heap;
    const instance = new WebAssembly.Instance(module, { env: { memory, abort: () => {} } });
    this.exports = instance.exports as unknown as KernelExports;
    this.pool = new ThreadPool(module, memory, CONTROL, this.exports);
  }

  /** The environment variable `name` (see `settings`). */
  setting(name: string): string | undefined {
    const settings = this.settings;
    if (!settings) return platform().env(name);
    if (settings.has(name)) return settings.get(name);
    const value = platform().env(name);
    settings.set(name, value);
    return value;
  }

  /** A Float32Array over the whole memory (renewed after the memory grows). */
  get f32(): Float32Array<ArrayBufferLike> {
    if (this.f32View.buffer !== this.memory.buffer || this.f32View.length * 4 !== this.memory.buffer.byteLength)
      this.f32View = new Float32Array(this.memory.buffer);
    return this.f32View;
  }

  get u32(): Uint32Array<ArrayBufferLike> {
    if (this.u32View.buffer !== this.memory.buffer || this.u32View.length * 4 !== this.memory.buffer.byteLength)
      this.u32View = new Uint32Array(this.memory.buffer);
    return this.u32View;
  }

  /** Frees `ptr` when `owner` is garbage collected (packed weights belong to a layer instance), or its scope is released. */
  own(owner: object, ptr: number): Owned {
    return this.heap.own(owner, ptr, this.scope);
  }

  /**
   * A zeroed array of `length` floats in this memory, freed when the array is garbage collected (never by a
   * scope: a caller may hold a net's output after dispose), with `pad` bytes of room after it (kernels' vector
   * loads may read past a row). Kernels read and write it in place instead of copying it in and out (see
   * `addressOf`). Undefined when the memory is not shared (a view would be detached by a growth) or is full.
   */
  residentArray(length: number, pad = 64): Float32Array | undefined {
    if (typeof SharedArrayBuffer === 'undefined' || !(this.memory.buffer instanceof SharedArrayBuffer)) return undefined;
    const ptr = this.heap.tryAlloc(length * 4 + pad);
    if (!ptr) return undefined;
    const buffer = this.memory.buffer;
    this.buffers.add(buffer);
    // Zeros already where no block was before: those pages stay unwritten (not resident) until a kernel writes them.
    const view = new Float32Array(buffer, ptr, length);
    view.fill(0, 0, Math.min(length, Math.ceil(this.heap.heldBytes / 4)));
    this.residentBlocks.set(view, this.heap.own(view, ptr, undefined));
    return view;
  }
  private readonly residentBlocks = new WeakMap<Float32Array, Owned>();

  /**
   * Frees a resident array now rather than when it is garbage collected (a layer's per-forward working memory: the
   * collector sees a small view, not the megabytes it holds). The caller drops the array: it must not be used after.
   */
  releaseArray(a: Float32Array): void {
    const block = this.residentBlocks.get(a);
    if (!block) return;
    this.residentBlocks.delete(a);
    this.heap.releaseOwned(block);
  }

  /**
   * A resident array of `length` floats that every caller naming `slot` shares (grown as needed; undefined when the
   * memory is not shared): scratch a layer uses only while it runs, as layers run one at a time (a dilated
   * convolution's phases, Deconvolution's columns). One per slot in the process, not one per layer.
   */
  sharedArray(slot: string, length: number): Float32Array | undefined {
    let a = this.shared.get(slot);
    if (!a || a.length < length) {
      a = this.residentArray(length);
      if (!a) return undefined;
      this.shared.set(slot, a);
    }
    return a.subarray(0, length);
  }
  private readonly shared = new Map<string, Float32Array>();

  /** The address of `a` in this memory when it is a resident array (see `residentArray`), else 0. */
  addressOf(a: Float32Array): number {
    return this.buffers.has(a.buffer) ? a.byteOffset : 0;
  }

  /** Where a kernel reads `a`: in place when it is resident, else at `at` (scratch the caller holds), copied there. */
  placed(a: Float32Array, at: number): number {
    const own = this.addressOf(a);
    if (!own) this.f32.set(a, at / 4);
    return own || at;
  }

  /**
   * Where a kernel reads its input x and writes its output y, and `extraBytes` of scratch for the job (at `extra`):
   * a resident array (the Net's blobs) is used in place; another goes through scratch, x copied in (with `xPad`
   * bytes of room after it) and y copied back by `unstage` (with `yPad`), each 64-byte aligned.
   */
  stage(x: Float32Array, y: Float32Array, extraBytes = 0, xPad = 0, yPad = 0): { xAt: number; yAt: number; extra: number } {
    const xOwn = this.addressOf(x), yOwn = this.addressOf(y);
    const bytes = (a: Float32Array, own: number, pad: number): number => (own ? 0 : Math.ceil((a.length * 4 + pad) / 64) * 64);
    const xBytes = bytes(x, xOwn, xPad), yBytes = bytes(y, yOwn, yPad);
    const base = this.scratch(xBytes + yBytes + extraBytes);
    if (!xOwn) this.f32.set(x, base / 4);
    return { xAt: xOwn || base, yAt: yOwn || base + xBytes, extra: base + xBytes + yBytes };
  }

  /** Copies a kernel's output at `ptr` into `a`, unless `a` is resident (the kernel wrote it in place). */
  unstage(a: Float32Array, ptr: number): void {
    if (ptr !== this.addressOf(a)) a.set(this.f32.subarray(ptr / 4, ptr / 4 + a.length));
  }

  /**
   * Frees the blocks of a scope now (a disposed net's packed weights; their owners' finalizers are dropped), but
   * for those another scope lists too (weights another net shares: the last one's release frees them).
   */
  releaseScope(scope: Set<Owned>): void {
    for (const block of [...scope]) {
      block.scopes.delete(scope);
      if (block.scopes.size === 0) this.heap.releaseOwned(block);
    }
    scope.clear();
  }

  /**
   * A per-call scratch region of at least `bytes`, reused by every call (the main thread calls one at a time). When
   * it must grow, it takes a quarter more than asked where the memory has that (a request that grows a little each
   * call does not move it every call), else `bytes` exactly (a CremaError when even those do not fit).
   */
  scratch(bytes: number): number {
    if (bytes <= this.scratchBytes) return this.scratchPtr;
    this.heap.release(this.scratchPtr);
    this.scratchPtr = this.scratchBytes = 0; // released: a failed alloc below must not leave it in use
    let size = Math.ceil((bytes * 1.25) / 64) * 64;
    let ptr = this.heap.tryAlloc(size);
    if (!ptr) [ptr, size] = [this.heap.alloc(bytes), bytes];
    this.scratchPtr = ptr;
    this.scratchBytes = size;
    return ptr;
  }

  /** Threads for the coming job: the requested count, limited to the pool's started workers + this thread. */
  activeThreads(): number {
    return Math.max(1, Math.min(this.threads, this.pool.started + 1));
  }

  /**
   * Writes the job's common header (kind, per-thread scratch) into the parameter block and returns it as words;
   * the caller fills fields 3... and calls `run`.
   */
  job(kind: number): Uint32Array<ArrayBufferLike> {
    this.threadScratch();
    const u32 = this.u32, p = this.pool.params / 4;
    // The block's view, made again only after the memory grew (not a new subarray for every job).
    let words = this.paramsView;
    if (words.buffer !== u32.buffer || words.byteOffset !== p * 4) words = this.paramsView = u32.subarray(p, p + 48);
    words[0] = kind;
    words[1] = this.threadScratchPtr;
    words[2] = THREAD_SCRATCH;
    return words;
  }
  private paramsView: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

  /** The threads' scratch: one block for this thread and every worker, ready or not. */
  private threadScratch(): boolean {
    const count = this.pool.size + 1;
    if (count <= this.threadScratchCount) return false;
    this.heap.release(this.threadScratchPtr);
    this.threadScratchPtr = this.threadScratchCount = 0;
    this.threadScratchPtr = this.heap.alloc(THREAD_SCRATCH * count);
    this.threadScratchCount = count;
    return true;
  }

  /**
   * Writes the threads' scratch and `bytes` of the shared scratch once where they are new (Net.load: the first
   * forward then does not fault their pages in; scratch is never written before a kernel writes it).
   */
  prefault(bytes: number): void {
    if (this.threadScratch()) new Uint8Array(this.memory.buffer, this.threadScratchPtr, THREAD_SCRATCH * this.threadScratchCount).fill(0);
    if (bytes <= this.scratchBytes) return;
    const ptr = this.scratch(bytes); // may grow the memory: its buffer after
    new Uint8Array(this.memory.buffer, ptr, bytes).fill(0);
  }

  setFloat(words: Uint32Array<ArrayBufferLike>, index: number, value: number): void {
    const f32 = this.f32;
    if (f32.buffer === words.buffer) f32[(words.byteOffset >>> 2) + index] = value;
    else new Float32Array(words.buffer, words.byteOffset + index * 4, 1)[0] = value;
  }

  run(chunks: number): void {
    this.pool.run(chunks, this.activeThreads());
  }

  /**
   * Chunks to cut `units` of parallel work into: a few per thread (`perThread`), so a thread slowed by the machine
   * evens out; for a job over `floats` floats, at least one and none smaller than MIN_CHUNK_FLOATS.
   */
  chunkCount(units: number, floats = Infinity, perThread = 4): number {
    const t = this.activeThreads();
    if (t <= 1) return 1;
    const n = Math.min(units, perThread * t);
    return floats === Infinity ? n : Math.max(1, Math.min(n, Math.floor(floats / MIN_CHUNK_FLOATS)));
  }

  /**
   * A job over `blocks` blocks of `inner` positions (`floats` in all) cut into chunks of whole vectors of positions:
   * [positions a chunk, chunks a block], as many chunks a block as chunkCount gives (Softmax, Normalize).
   */
  innerPieces(blocks: number, inner: number, floats: number): [number, number] {
    const chunks = this.chunkCount(blocks * Math.ceil(inner / 4), floats);
    const perBlock = Math.max(1, Math.min(Math.ceil(inner / 4), Math.ceil(chunks / blocks)));
    const per = Math.ceil(inner / perBlock / 4) * 4;
    return [per, Math.ceil(inner / per)];
  }
}

let engine: WasmEngine | null | undefined;
/** 'js' when CREMA_KERNELS=js (read from the platform when first asked) or useKernels('js'). */
let mode: 'wasm' | 'js' | undefined;

/** The wasm engine, or null when the plain TypeScript kernels are to be used (not built, or CREMA_KERNELS=js). */
export function wasmEngine(): WasmEngine | null {
  mode ??= platform().env('CREMA_KERNELS') === 'js' ? 'js' : 'wasm';
  if (mode === 'js') return null;
  if (engine === undefined) engine = loadEngine();
  return engine;
}

/** The wasm engine if one was made already (none is made here). */
export function wasmEngineIfLoaded(): WasmEngine | null {
  return engine ?? null;
}

/**
 * Lets the platform compile the kernels ahead (Node: optimized, on V8's background threads) if no engine exists
 * yet: Net.load starts it before reading the files and awaits it before the net is built.
 */
export async function compileEngine(): Promise<void> {
  mode ??= platform().env('CREMA_KERNELS') === 'js' ? 'js' : 'wasm';
  if (engine === undefined && mode === 'wasm') await platform().compileKernels?.();
}

/** The module the platform finds (dist/kernels-fma.wasm when this engine runs relaxed SIMD, else dist/kernels.wasm). */
function loadEngine(): WasmEngine | null {
  const kernels = platform().kernels();
  if (!kernels) return null;
  build = kernels.build;
  const module = 'module' in kernels ? kernels.module : new WebAssembly.Module(kernels.bytes as Uint8Array<ArrayBuffer>);
  const shared = kernels.shared ?? true;
  // The memory made ahead for the weights (see weightHeap) when it is the kind this module imports.
  const ahead = early && isShared(early.memory) === shared ? early : undefined;
  early = undefined;
  const memory = ahead?.memory ?? reserveMemory(shared);
  return memory ? new WasmEngine(module, memory, ahead?.heap) : null;
}

/**
 * The kernels' memory, or null (said once on stderr) when the host will not reserve it: V8 reserves about 10 GB of
 * address space for any wasm memory whatever its maximum, so under a virtual memory limit (`ulimit -v` below that,
 * some containers and shared hosts) every load failed with a stack trace. The TypeScript kernels then run, as with
 * CREMA_KERNELS=js: the same numbers, slower.
 */
function reserveMemory(shared: boolean): WebAssembly.Memory | null {
  try {
    return new WebAssembly.Memory({ initial: 256, maximum: MAX_PAGES, shared });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    mode = 'js';
    refused = true;
    console.warn(`crema: the WebAssembly kernels' memory could not be reserved (${err.message}; it takes about 10 GB of address space: is a virtual memory limit set, ulimit -v?): the JavaScript kernels run instead, slower`);
    return null;
  }
}

/**
 * Whether this thread's host refused the kernels' memory (said on stderr). A net's worker thread (net.run) is told, and
 * runs the TypeScript kernels without asking again: one line a process, not one more a worker.
 */
let refused = false;

export function memoryRefused(): boolean {
  return refused;
}

/** The engine's memory and allocator, made before the engine while its kernels compile (see weightHeap). */
let early: { memory: WebAssembly.Memory; heap: Heap } | undefined;

function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * The allocator of the memory the wasm kernels will run on, when arrays may live in it (a shared memory: growth
 * never moves or detaches it), made now if the engine is not yet (Net.load reads the weights while the kernels
 * compile); undefined when the TypeScript kernels run or the memory is not shared.
 */
function weightHeap(): Heap | undefined {
  mode ??= platform().env('CREMA_KERNELS') === 'js' ? 'js' : 'wasm';
  if (mode === 'js' || engine === null) return undefined;
  if (engine) return isShared(engine.memory) ? engine.heap : undefined;
  if (!early) {
    const kernels = platform().kernels();
    if (!kernels || kernels.shared === false || typeof SharedArrayBuffer === 'undefined') return undefined;
    const memory = reserveMemory(true);
    if (!memory) return undefined;
    early = { memory, heap: new Heap(memory) };
  }
  return early.heap;
}

/**
 * Weight arrays in wasm memory, by their view: decoded there by Net.load (DecodedWeights) or moved there by a
 * layer (moveWeights), each with its block. Nets that share the weights list the block in their scopes.
 */
const weightBlocks = new WeakMap<Float32Array, { block: Owned; heap: Heap }>();

/** Decoded arrays below this many floats stay JavaScript arrays (biases, small filters: no page to spare). */
const MIN_DECODED_FLOATS = 16384;

/**
 * Where Net.load decodes a weights file's float runs: straight into blocks of the kernels' memory, so that the
 * layers that keep Caffe's layout there (fully connected, Winograd's made-U convolutions: moveWeights) find them
 * in place and each weight byte is written once (AlexNet: 2.5-2.7 s to load, the first touch of 233 MB of pages
 * twice on the team's VM). A block lives as long as its array, or until a net that adopted it is disposed.
 */
export class DecodedWeights implements FloatDestination {
  private readonly blocks = new Map<Float32Array, Owned>();

  constructor(
    private readonly heap: Heap,
    /** A second thread copying half of the large runs (Net.load at two threads or more, where the platform has one). */
    readonly helper?: CopyHelper,
  ) {}

  /** An array of `n` floats for the decoder to fill (every value: a block is not zeroed). */
  readonly floats = (n: number): Float32Array => {
    if (n < MIN_DECODED_FLOATS) return new Float32Array(n);
    const ptr = this.heap.tryAlloc(n * 4);
    if (!ptr) return new Float32Array(n);
    const view = new Float32Array(this.heap.memory.buffer, ptr, n);
    const block = this.heap.own(view, ptr, undefined);
    weightBlocks.set(view, { block, heap: this.heap });
    this.blocks.set(view, block);
    return view;
  };

  /** Frees now the blocks of the arrays not in `keep` (weights no layer uses; all of them after an error). */
  releaseExcept(keep: ReadonlySet<Float32Array>): void {
    for (const [view, block] of this.blocks) if (!keep.has(view)) this.heap.releaseOwned(block);
    this.blocks.clear();
  }
}

/**
 * Where Net.load decodes weights (see DecodedWeights): undefined when no shared wasm memory is to run them. At
 * `threads` >= 2 a helper thread starts now, to copy half of the large runs once the file's structure is read
 * (and then, on Node, to be the kernels' first worker; Net.load closes it when they did not take it).
 */
export function decodedWeights(threads = 1): DecodedWeights | undefined {
  const heap = weightHeap();
  if (!heap) return undefined;
  return new DecodedWeights(heap, threads >= 2 ? platform().startCopyHelper?.(heap.memory) : undefined);
}

/** Registers a weight array moved into `heap`'s memory (moveWeights), with its block. */
export function registerWeights(view: Float32Array, block: Owned, heap: Heap): void {
  weightBlocks.set(view, { block, heap });
}

/** The block of a weight array in `e`'s memory (decoded there by Net.load, or moved by a layer), if it is one and not freed. */
export function weightsBlock(e: WasmEngine, a: Float32Array): Owned | undefined {
  const d = weightBlocks.get(a);
  return d && d.heap === e.heap && d.block.ptr !== 0 ? d.block : undefined;
}

/** The block of a weight array in `e`'s memory that at most one net lists (none shares it), if it is one. */
export function soleWeightsBlock(e: WasmEngine, a: Float32Array): Owned | undefined {
  const block = weightsBlock(e, a);
  return block && block.scopes.size <= 1 ? block : undefined;
}

/**
 * Lists a weight array's block (decoded or moved into wasm memory) in `scope`, a net's: its dispose frees it unless
 * another net that shares the weights lists it too. A no-op for other arrays.
 */
export function adoptWeights(a: Float32Array, scope: Set<Owned>): void {
  const block = weightBlocks.get(a)?.block;
  if (block) addScope(block, scope);
}

let build: 'fma' | 'simd' = 'simd';

/**
 * Runs a full garbage collection where the platform can (Node: V8's gc). Net.load calls it after moving large
 * weights into wasm memory: the JavaScript copies are garbage then, but V8 would free them only at some later
 * collection, which a steady forward (no new buffers) may never trigger, so the net would keep its weights twice.
 * `evenKept`: the objects only the current job's WeakRefs keep alive are collected too (Heap.reclaim).
 */
export function collectGarbage(evenKept = false): void {
  platform().collectGarbage?.(evenKept);
}

/** Which build runs: 'fma' (relaxed SIMD), 'simd', or 'none' (the TypeScript kernels). */
export function wasmBuild(): 'fma' | 'simd' | 'none' {
  return wasmEngine() ? build : 'none';
}

/** Chooses the kernels for layers created or run from now on: 'wasm' (default, when built) or 'js'. */
export function useKernels(kind: 'wasm' | 'js'): void {
  mode = kind;
}

export function kernelsInUse(): 'wasm' | 'js' {
  return wasmEngine() ? 'wasm' : 'js';
}

/** Threads the kernels use at most: each is a worker with its own heap, and thousands exhaust memory. */
export const MAX_THREADS = 256;

/**
 * The most threads that can help: one per core. The kernels are CPU-bound, so a thread beyond the cores only
 * takes turns with another (and each worker costs an isolate, ~10 MB): `--threads 256` on 2 cores started 255
 * workers, 2.1 GB and 15 s, to run no faster.
 */
export function usefulThreads(): number {
  return Math.min(MAX_THREADS, platform().cores());
}

/**
 * Threads a net uses when not told: one per core on the main thread; 1 in a worker thread, where the
 * application already runs in parallel (eight library users in eight workers would otherwise start eight pools
 * of one thread per core each).
 */
export function defaultThreads(): number {
  return platform().inWorkerThread?.() ? 1 : usefulThreads();
}

/** A thread count as asked (NaN and fractions taken as whole numbers, at least 1), bounded by `cap`. */
export function boundThreads(threads: number, cap: number = usefulThreads()): number {
  return Math.min(cap, MAX_THREADS, Math.max(1, Math.floor(threads) || 1));
}

/**
 * Sets the threads the kernels may use (1 = this thread only; at most one per core, or `cap`: tests pass a
 * higher one to exercise the pool on a one-core machine) and starts the workers needed. Resolves, to the
 * threads set, when they are ready; jobs run before that simply use fewer threads.
 */
export async function setThreads(threads: number, cap?: number): Promise<number> {
  const e = wasmEngine();
  if (!e) return 1;
  e.threads = boundThreads(threads, cap);
  await e.pool.grow(e.threads - 1);
  return e.threads;
}
