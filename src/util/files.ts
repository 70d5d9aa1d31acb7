import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { ByteSource, CopyHelper, CopyRun } from '../caffe/types.js';
import { CremaError, fileErrorWords, notRegularWords } from './errors.js';

/**
 * Opens a file for reading, with a one-line CremaError naming it when it cannot be: `PATH: no such file`,
 * `permission denied`, `is a directory`, ... (fileErrorWords: every file a user names says the same).
 */
export function openForReading(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new CremaError(`${path}: ${fileErrorWords((e as NodeJS.ErrnoException).code)}`);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new CremaError(`${path}: ${notRegularWords(stat)}`);
  }
  inputsRead?.set(fileKey(stat), path);
  return { fd, size: stat.size };
}

/**
 * The files a CLI command has read (by device and inode, to the path it named them by): writing an output over one
 * of them is refused, so `crema convert net.prototxt net.caffemodel -o net.caffemodel` cannot replace the weights
 * with the ONNX model. Off in the library (a long-running process may mean to replace a file it read once).
 */
let inputsRead: Map<string, string> | undefined;

/** Starts (afresh) or stops remembering the files read, for `writeOutput` to refuse overwriting them: one CLI command's. */
export function guardInputs(on: boolean): void {
  inputsRead = on ? new Map() : undefined;
}

const fileKey = (stat: fs.Stats): string => `${stat.dev}:${stat.ino}`;

/** Throws what openForReading would (`PATH: no such file`, ...) unless `path` is a regular file that can be read. */
export function checkReadable(path: string): void {
  fs.closeSync(openForReading(path).fd);
}

/** Runs `read` on the opened file, closing it after. */
export function withOpenFile<T>(path: string, read: (fd: number, size: number) => T): T {
  const { fd, size } = openForReading(path);
  try {
    return read(fd, size);
  } finally {
    fs.closeSync(fd);
  }
}

/** A whole file's bytes. */
export function readFileBytes(path: string): Buffer {
  return withOpenFile(path, (fd) => fs.readFileSync(fd));
}

/** Large runs are read through a buffer of this size (see fileSource's copy). */
const STAGE_BYTES = 1 << 20;

/** Reads a file through a small reusable buffer; big arrays are read in pieces through another, and copied. */
export function fileSource(fd: number, size: number, windowSize = 1 << 16): ByteSource {
  windowSize = Math.max(windowSize, 16); // a varint or fixed64 must fit in one window
  const buf = new Uint8Array(windowSize);
  let stage: Uint8Array | undefined;
  let base = 0;
  let filled = 0;
  const readFully = (dest: Uint8Array, pos: number): void => {
    let done = 0;
    while (done < dest.length) {
      const n = fs.readSync(fd, dest, done, dest.length - done, pos + done);
      if (n === 0) throw new CremaError(`file shrank while reading (at byte ${pos + done})`);
      done += n;
    }
  };
  return {
    size,
    windowSize,
    window(pos, n) {
      if (pos < base || pos + n > base + filled) {
        base = pos;
        filled = Math.min(windowSize, size - pos);
        readFully(buf.subarray(0, filled), pos);
      }
      return { buf, base };
    },
    copy(pos, dest) {
      if (pos >= base && pos + dest.length <= base + filled) {
        dest.set(buf.subarray(pos - base, pos - base + dest.length));
        return;
      }
      // Through a small buffer, not read() straight into dest: on the team's VM a page the kernel's read wrote
      // first was slow again at its first read from JavaScript or wasm (no page fault counted; ~6 us a 4 KB page):
      // AlexNet's first forward took 830-880 ms (fc6-fc8) after a load that read the weights straight into wasm
      // memory, 40 ms when JavaScript wrote them there. The copy out of a 1 MB buffer costs ~0.1 ms a MB.
      if (dest.length <= STAGE_BYTES) {
        readFully(dest, pos);
        return;
      }
      stage ??= new Uint8Array(STAGE_BYTES);
      for (let at = 0; at < dest.length; at += STAGE_BYTES) {
        const piece = stage.subarray(0, Math.min(STAGE_BYTES, dest.length - at));
        readFully(piece, pos + at);
        dest.set(piece, at);
      }
    },
    copyRuns(runs, helper) {
      if (helper instanceof ReadHelper) helper.fill(fd, runs, (pos, dest) => this.copy(pos, dest));
      else for (const r of runs) this.copy(r.pos, r.dest);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Net.load at two threads or more: a second thread copies half of the weights' large runs. On the team's VM the
// first user-space write of a fresh page is the load's cost (AlexNet: ~1 s of its ~1.2 s decode for 233 MB,
// `copy` in a profile; read() itself ~0.1 s), and two threads writing halves of fresh memory take ~0.6x one.

/** A chunk of a run that one thread copies: small enough that the two threads end together. */
const FILL_CHUNK_BYTES = 4 << 20;

/**
 * The helper's program (CommonJS, run with eval). A fill: it takes chunks from a shared ticket as the main thread
 * does, [pos, address, length] triples of `table`, each read through its own 1 MB buffer and copied into the
 * memory from user space (see fileSource's copy), then marked done (1) or failed (2: the main thread copies it
 * again, and its read says what went wrong) in `state`. Then it may become the kernels' first worker ('kernels':
 * the platform's preamble and the pool's loop, run with `init` as its workerData), so that no second thread is
 * started for them. It first writes its thread's id (Linux: /proc/thread-self) where the main thread can see that
 * it still runs: a helper that dies mid-chunk (out of memory, an error) never ends that chunk (see `fill`).
 */
const HELPER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { memory, control } = workerData;
const h = new Int32Array(control);
try {
  Atomics.store(h, ${4 /* TID */}, Number(fs.readlinkSync('/proc/thread-self').split('/').pop()) || 0);
} catch {}
function fill({ fd, table, state, die }) {
  const n = state.length;
  const mem = new Uint8Array(memory.buffer);
  let stage;
  for (;;) {
    const i = Atomics.add(h, 0, 1);
    if (i >= n) break;
    if (die === 'exit') process.exit(1); // tests: the thread ends holding a chunk
    if (die === 'throw') throw new Error('the copy helper failed (test)');
    const pos = table[3 * i], at = table[3 * i + 1], len = table[3 * i + 2];
    let ok = at + len <= mem.length;
    try {
      stage ??= new Uint8Array(${STAGE_BYTES});
      for (let off = 0; ok && off < len; off += stage.length) {
        const piece = stage.subarray(0, Math.min(stage.length, len - off));
        for (let done = 0; ok && done < piece.length; ) {
          const got = fs.readSync(fd, piece, done, piece.length - done, pos + off + done);
          if (got === 0) ok = false;
          done += got;
        }
        if (ok) mem.set(piece, at + off);
        Atomics.add(h, ${3 /* PIECES */}, 1);
      }
    } catch {
      ok = false;
    }
    Atomics.store(state, i, ok ? 1 : 2);
    Atomics.add(h, 2, 1);
    Atomics.add(h, 1, 1);
    Atomics.notify(h, 1);
  }
}
parentPort.on('message', (msg) => {
  if (msg.kind === 'fill') return fill(msg);
  parentPort.removeAllListeners('message');
  const init = msg.init;
  new Function('require', msg.source)((name) => (name === 'node:worker_threads' ? { workerData: init, parentPort } : require(name)));
});
`;

/**
 * Control words: the next chunk's ticket, chunks ended, chunks the helper took (tests and benchmarks read it), the
 * helper's pieces copied (its progress), its thread's id (Linux; 0 elsewhere).
 */
const TICKET = 0, ENDED = 1, HELPED = 2, PIECES = 3, TID = 4;

/**
 * A thread started at the beginning of Net.load (so that it is up by the time the file's structure is read) that
 * copies chunks of the large runs into the kernels' shared memory while this thread copies the others (one fill),
 * then becomes the kernels' first worker when the pool starts one over the same memory (`claim`), or ends (`close`).
 */
export class ReadHelper implements CopyHelper {
  /** Helpers not closed nor claimed, for startKernelWorker to take. */
  private static readonly parked = new Set<ReadHelper>();
  private worker: Worker | undefined;
  private filled = false;
  private readonly control = new Int32Array(new SharedArrayBuffer(32));
  /** @internal Chunks the helper copied in its fill (tests). */
  get helped(): number {
    return Atomics.load(this.control, HELPED);
  }
  /** @internal Tests: this thread copies no chunk unless the helper failed it (the helper must copy them all). */
  helperOnly = false;
  /** @internal Helpers the kernels took as their worker so far (tests). */
  static claims = 0;
  /** @internal Tests: every helper's thread ends ('exit') or throws ('throw') once it has taken a chunk. */
  static dieForTest: 'exit' | 'throw' | undefined;
  /** @internal Tests: pretend the helper's thread cannot be seen (as off Linux), so that only its silence tells. */
  static blindForTest = false;
  /**
   * A helper whose thread cannot be seen (no /proc) and that copied nothing for this long is taken for dead. On
   * Linux the thread's end is seen (/proc/self/task/<id> goes) and a live helper is waited for however slow.
   */
  static stallMs = 30_000;

  constructor(readonly memory: WebAssembly.Memory) {
    const worker = new Worker(HELPER_SOURCE, { eval: true, execArgv: [], workerData: { memory, control: this.control.buffer } });
    worker.unref(); // never keeps the process alive
    // A helper that failed to start takes no chunk (this thread copies them) and is no kernel worker.
    const gone = (): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      ReadHelper.parked.delete(this);
    };
    worker.on('error', gone);
    worker.on('exit', gone);
    this.worker = worker;
    ReadHelper.parked.add(this);
  }

  /** Copies every run: this thread and the helper take chunks in turn; `copyHere` copies one on this thread. */
  fill(fd: number, runs: readonly CopyRun[], copyHere: (pos: number, dest: Uint8Array) => void): void {
    const chunks: CopyRun[] = [];
    for (const r of runs) {
      if (!this.worker || this.filled || !(r.dest.buffer instanceof SharedArrayBuffer)) {
        copyHere(r.pos, r.dest);
        continue;
      }
      for (let off = 0; off < r.dest.length; off += FILL_CHUNK_BYTES)
        chunks.push({ pos: r.pos + off, dest: r.dest.subarray(off, Math.min(off + FILL_CHUNK_BYTES, r.dest.length)) });
    }
    if (!chunks.length) return;
    const n = chunks.length, h = this.control;
    const table = new Float64Array(new SharedArrayBuffer(n * 24));
    const state = new Int32Array(new SharedArrayBuffer(n * 4));
    chunks.forEach((c, i) => table.set([c.pos, c.dest.byteOffset, c.dest.length], 3 * i));
    this.worker!.postMessage({ kind: 'fill', fd, table, state, die: ReadHelper.dieForTest });
    this.filled = true;
    for (let i; !this.helperOnly && (i = Atomics.add(h, TICKET, 1)) < n; ) {
      copyHere(chunks[i].pos, chunks[i].dest);
      Atomics.store(state, i, 1);
      Atomics.add(h, ENDED, 1);
    }
    // The helper's last chunks. A helper that never started takes no ticket; one that fails a chunk still ends it;
    // one that died holding a chunk (its thread gone: out of memory, an error, terminated) never will: this thread
    // copies what it did not end. The 'exit' and 'error' events cannot tell: this thread's event loop waits here.
    let progress = -1, since = Date.now();
    for (let ended; (ended = Atomics.load(h, ENDED)) < n; ) {
      Atomics.wait(h, ENDED, ended, 50);
      const now = Atomics.load(h, ENDED) + Atomics.load(h, PIECES);
      if (now !== progress) [progress, since] = [now, Date.now()];
      else if (this.helperDead(since)) {
        this.abandon();
        break;
      }
    }
    for (let i = 0; i < n; i++) if (state[i] !== 1) copyHere(chunks[i].pos, chunks[i].dest);
  }

  /** Whether the helper, silent since `since`, is gone: its thread ended (Linux), or (elsewhere) silent too long. */
  private helperDead(since: number): boolean {
    const tid = ReadHelper.blindForTest ? 0 : Atomics.load(this.control, TID);
    if (tid > 0) return !fs.existsSync(`/proc/self/task/${tid}`);
    return Date.now() - since > ReadHelper.stallMs;
  }

  /** A helper that died in its fill: no kernel worker, ended if it somehow still runs. */
  private abandon(): void {
    ReadHelper.parked.delete(this);
    void this.worker?.terminate();
    this.worker = undefined;
  }

  /**
   * A helper over `memory` that is free (its fill done, or none), taken as a kernel worker (`source`: the
   * platform's preamble and the pool's loop; `init`: its workerData): the started Worker, or undefined.
   */
  static claim(memory: WebAssembly.Memory, source: string, init: object, transfer: MessagePort[]): Worker | undefined {
    const helper = [...ReadHelper.parked].find((p) => p.memory === memory);
    if (!helper?.worker) return undefined;
    ReadHelper.parked.delete(helper);
    ReadHelper.claims++;
    const worker = helper.worker;
    helper.worker = undefined;
    worker.postMessage({ kind: 'kernels', source, init }, transfer);
    return worker;
  }

  /** Ends the thread unless the kernels took it (then it is theirs). */
  close(): void {
    ReadHelper.parked.delete(this);
    void this.worker?.terminate();
    this.worker = undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Writing: every command that writes a file goes through `writeOutput`, so none of them can lose what the user had.
// A regular file (or a new one) is written into a temporary file beside it and renamed over it when complete, so
// it is replaced only by a whole new file; a symlink is followed, so the file it points to is what changes (the
// link stays a link). Devices, pipes and sockets (/dev/null, /proc/self/fd/1, a FIFO) are written straight: a rename
// would replace the device node itself. `-` is stdout.

/** Written per chunk, awaiting each, so a SIGINT / SIGTERM is handled (and the temporary file removed) mid-write. */
const CHUNK = 8 << 20;
/** Temporary files being written; removed if the process is interrupted or exits before their rename. */
const pending = new Set<string>();
/** Directories made for a write under way (outermost first); removed, where still empty, if it is interrupted. */
const pendingDirs = new Set<string>();

/** What an output holds: bytes, text, or bytes in chunks (written in order, never joined: a model's tensors are views). */
export type OutputContent = Uint8Array | string | readonly Uint8Array[];

export async function writeOutput(file: string, content: OutputContent): Promise<void> {
  await writeOutputs([{ file, content }]);
}

/**
 * Writes several outputs as one (a model and its external data, a `--dump`'s blobs): every file is checked, then
 * each regular one written whole into its temporary file, and only when all are complete are they renamed over
 * theirs, in order. A failure or a signal before the renames leaves every file as the user had it. A content given
 * as a function is made only when its file is written (one `--dump` blob's bytes at a time, not all at once).
 */
export async function writeOutputs(outputs: readonly { file: string; content: OutputContent | (() => OutputContent) }[]): Promise<void> {
  const planned = outputs.map(({ file, content }) => ({ file, content, target: file === '-' ? undefined : resolveOutput(file) }));
  const chunks = (content: OutputContent | (() => OutputContent)) => chunksOf(typeof content === 'function' ? content() : content);
  const staged = new Map<string, string>(); // file -> its temporary file
  try {
    for (const { file, content, target } of planned)
      if (target && !target.straight) staged.set(file, await writeTemporary(file, target.path, chunks(content), target.mode));
    for (const { file, content, target } of planned) {
      const tmp = staged.get(file);
      if (tmp !== undefined) rename(file, tmp, target!.path);
      else if (!target || target.stdout) await writeStdout(chunks(content));
      else await writeStraight(file, chunks(content));
    }
  } finally {
    for (const tmp of staged.values()) discard(tmp); // gone already where renamed
  }
}

function chunksOf(content: OutputContent): readonly Uint8Array[] {
  return typeof content === 'string' ? [Buffer.from(content)] : content instanceof Uint8Array ? [content] : content;
}

/** Refuses now, before anything is written, what `writeOutput(file)` would refuse (a directory, an input, ...). */
export function checkOutput(file: string): void {
  if (file !== '-') resolveOutput(file);
}

/** Where to write `file`: its final target after symlinks, and how (straight, or atomically keeping `mode`). */
function resolveOutput(file: string): { path: string; straight: boolean; stdout?: boolean; mode?: number } {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file); // follows symlinks
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CremaError(`${file}: cannot write: ${fileErrorWords((e as NodeJS.ErrnoException).code, 'write')}`);
  }
  if (stat?.isDirectory()) throw new CremaError(`${file}: is a directory, expected a file name`);
  // Our own stdout (e.g. a link to /proc/self/fd/1) is written as stdout: a socket cannot be opened by name.
  if (stat && !stat.isFile()) return { path: file, straight: true, stdout: sameFile(stat, 1) }; // a device, FIFO or socket
  const input = stat && inputsRead?.get(fileKey(stat));
  if (input !== undefined) {
    throw new CremaError(`${file}: ${input === file ? 'is' : `is the same file as ${input},`} an input of this command: writing it would replace it; give another output`);
  }
  const real = stat ? fs.realpathSync(file) : danglingTarget(file);
  const dir = path.dirname(real);
  if (!fs.existsSync(dir)) throw new CremaError(`${file}: the directory ${dir} does not exist`);
  // A rename would replace a file its owner made read-only (the directory being writable): refuse as writing it would.
  if (stat && !writable(real)) throw new CremaError(`${file}: cannot write: the file is read-only`);
  return { path: real, straight: false, mode: stat ? stat.mode & 0o7777 : undefined };
}

function writable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function sameFile(stat: fs.Stats, fd: number): boolean {
  try {
    const other = fs.fstatSync(fd);
    return other.dev === stat.dev && other.ino === stat.ino;
  } catch {
    return false;
  }
}

/** A path that does not exist yet: itself, or, when it is a dangling symlink (a chain of them), where it points. */
function danglingTarget(file: string): string {
  let at = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      link = fs.readlinkSync(at);
    } catch {
      return at; // not a link (or not there): the file to create
    }
    at = path.resolve(path.dirname(at), link);
  }
  throw new CremaError(`${file}: too many levels of symbolic links`);
}

/** `chunks` in a new temporary file beside `real` (with `mode`, the replaced file's), synced: its path. */
async function writeTemporary(file: string, real: string, chunks: readonly Uint8Array[], mode?: number): Promise<string> {
  const tmp = path.join(path.dirname(real), `.${path.basename(real)}.${process.pid}.${Date.now()}.tmp`);
  track(tmp);
  try {
    // Made here, synchronously: a signal handled at the first await finds the file there to remove. An async open
    // ('wx') still in libuv's pool then made it after the handler's cleanup, as the process died (a flaky test).
    fs.closeSync(fs.openSync(tmp, 'wx', mode ?? 0o666));
    const handle = await fs.promises.open(tmp, 'r+');
    try {
      if (mode !== undefined) await handle.chmod(mode); // the replaced file's permissions, not the umask's
      await writeAll(handle, chunks);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    discard(tmp);
    throw err instanceof CremaError ? err : new CremaError(`${file}: cannot write: ${fileErrorWords((err as NodeJS.ErrnoException).code, 'write')}`);
  }
  return tmp;
}

function rename(file: string, tmp: string, real: string): void {
  try {
    fs.renameSync(tmp, real);
  } catch (err) {
    throw new CremaError(`${file}: cannot write: ${fileErrorWords((err as NodeJS.ErrnoException).code, 'write')}`);
  }
}

/** Removes a temporary file (gone already once renamed) and stops tracking it. */
function discard(tmp: string): void {
  fs.rmSync(tmp, { force: true });
  untrack(tmp);
}

async function writeStraight(file: string, chunks: readonly Uint8Array[]): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, 'w'); // a FIFO blocks here until a reader opens it: on libuv's pool, not the event loop
    await writeAll(handle, chunks);
  } catch (err) {
    throw new CremaError(`${file}: cannot write: ${fileErrorWords((err as NodeJS.ErrnoException).code, 'write')}`);
  } finally {
    await handle?.close();
  }
}

async function writeAll(handle: fs.promises.FileHandle, chunks: readonly Uint8Array[]): Promise<void> {
  for (const bytes of chunks)
    for (let done = 0; done < bytes.length; ) done += (await handle.write(bytes, done, Math.min(CHUNK, bytes.length - done))).bytesWritten;
}

async function writeStdout(chunks: readonly Uint8Array[]): Promise<void> {
  for (const bytes of chunks)
    for (let done = 0; done < bytes.length; done += CHUNK) {
      const chunk = bytes.subarray(done, done + CHUNK);
      await new Promise<void>((resolve, reject) => process.stdout.write(chunk, (err) => (err ? reject(err) : resolve())));
    }
}

/**
 * A worker thread's temporary files and directories (a net worker's HDF5Output write: h5wasm's private directory,
 * the file beside the output) told to the main thread, which alone gets the signals and whose exit ends the process:
 * its cleanup removes them too (a worker's own `process` listeners never see a SIGINT). Set in the worker thread.
 */
let mainThread: MessagePort | undefined;
/** The ports of worker threads that tell their temporaries (see `mainThread`), in the main thread. */
const workerPorts = new Set<MessagePort>();
type Temporary = { tmp: string; dir: boolean; on: boolean };

/** In a worker thread: its temporaries are also tracked by the main thread, which watches the other end of `port`. */
export function tellTemporaries(port: MessagePort): void {
  mainThread = port;
}

/** In the main thread: tracks the temporaries a worker thread tells on `port` (see `tellTemporaries`). */
export function watchTemporaries(port: MessagePort): void {
  // Listening from now on, not from the first message: a signal may come before that message is delivered (taken then).
  listenWhile(() => workerPorts.add(port));
  port.on('message', takeTemporary);
  port.on('close', () => listenWhile(() => workerPorts.delete(port)));
  port.unref(); // a listener would keep the process alive
}

function takeTemporary({ tmp, dir, on }: Temporary): void {
  if (on) track(tmp, dir ? pendingDirs : pending);
  else untrack(tmp, dir ? pendingDirs : pending);
}

/** The temporaries told but not yet delivered (a signal's handler may run before their messages). */
function takeToldTemporaries(): void {
  for (const port of workerPorts) for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) takeTemporary(m.message as Temporary);
}

function track(tmp: string, set = pending): void {
  mainThread?.postMessage({ tmp, dir: set === pendingDirs, on: true } satisfies Temporary);
  listenWhile(() => set.add(tmp));
}

function untrack(tmp: string, set = pending): void {
  mainThread?.postMessage({ tmp, dir: set === pendingDirs, on: false } satisfies Temporary);
  listenWhile(() => set.delete(tmp));
}

/** `change` to what the signal and exit listeners clean up: they listen while it holds anything. */
function listenWhile(change: () => unknown): void {
  const count = () => pending.size + pendingDirs.size + workerPorts.size;
  const before = count();
  change();
  if (before === 0 && count() > 0) {
    // First in line: a program's own `once` listener is removed before it is called, so onSignal must count it earlier.
    process.prependListener('SIGINT', onSignal);
    process.prependListener('SIGTERM', onSignal);
    process.on('exit', removePending);
  } else if (before > 0 && count() === 0) stopListening();
}

function stopListening(): void {
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('exit', removePending);
}

function removePending(): void {
  takeToldTemporaries();
  for (const tmp of pending) fs.rmSync(tmp, { recursive: true, force: true }); // a file, or inTemporaryDir's directory
  removeEmptyDirs([...pendingDirs]);
}

/** Removes each of `dirs` (outermost first) that is empty, innermost first; one holding anything stays. */
function removeEmptyDirs(dirs: string[]): void {
  for (const dir of dirs.reverse()) {
    try {
      fs.rmdirSync(dir);
    } catch {
      // not empty (or gone): it stays as it is
    }
  }
}

/**
 * Interrupted mid-write: the temporary files go, then the signal takes its default course (the exit status says so).
 * A program with listeners of its own for the signal (the library's caller: a server's graceful shutdown) decides
 * what it does: the write goes on (its temporary files removed at exit, should the program exit), and the signal is
 * not raised again, which would call the program's listeners twice.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  removePending();
  pending.clear();
  pendingDirs.clear();
  stopListening();
  process.kill(process.pid, signal);
}

/**
 * `use` of a new private directory in the system's temporary folder (h5wasm's Node build works on files only),
 * removed after, and, as writeOutput's temporary files, when a SIGINT / SIGTERM interrupts it or the process exits
 * first. `use` may block (h5wasm builds or reads a whole file in one call): a signal that came meanwhile waits for the
 * event loop, which is let run before the directory stops being tracked, so the signal is handled, not lost.
 */
export async function inTemporaryDir<T>(prefix: string, use: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = privateDir(path.join(os.tmpdir(), prefix));
  try {
    return await use(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    // Two turns of the loop: the second's check phase comes after a poll, where a signal that came is taken.
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    untrack(dir);
  }
}

/**
 * A new directory `base` + 6 random characters, only the user's (as mkdtemp), tracked before it is made: a worker
 * thread tells its main thread first (see `mainThread`), so a signal that comes just after it is made removes it too.
 */
function privateDir(base: string): string {
  for (;;) {
    const dir = base + randomBytes(6).toString('base64url').slice(0, 6);
    track(dir);
    try {
      fs.mkdirSync(dir, 0o700);
      return dir;
    } catch (e) {
      untrack(dir);
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * Writes into `dir`, created first (as makeOutputDir: up to `owned`, whose parent must exist); the directories made for it are removed again, where still
 * empty, when the write fails or a signal interrupts it (a Triton version directory left empty is a version Triton
 * cannot load, and the next convert would count it as one).
 */
export async function writeIntoDir<T>(dir: string, write: () => Promise<T>, owned = dir): Promise<T> {
  const first = makeOutputDir(dir, owned);
  const made: string[] = [];
  if (first !== undefined) for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    made.unshift(d);
    if (d === path.resolve(first) || d === path.dirname(d)) break;
  }
  for (const d of made) track(d, pendingDirs);
  try {
    return await write();
  } catch (err) {
    removeEmptyDirs([...made]);
    throw err;
  } finally {
    for (const d of made) untrack(d, pendingDirs);
  }
}

/**
 * Creates a directory for outputs, as a one-line error when it cannot be; returns the first one it made. The rule for
 * every command that writes: a directory the command owns (`owned`: `dir` itself, or for `convert --triton` the
 * repository it fills) is created with the levels between, but `owned`'s parent must exist, as an output file's
 * directory must: a typo (`--dump /nonexist/d`) is refused naming the missing folder, not made into a tree. One level at a time, not `mkdirSync(dir, { recursive: true })`: Node 20's recursive form hangs under /proc
 * and reports ENOENT for a read-only file system, where each level's own mkdir says EROFS / EACCES / ENOTDIR.
 */
export function makeOutputDir(dir: string, owned = dir): string | undefined {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d) && d !== path.dirname(d); d = path.dirname(d)) missing.unshift(d);
  const parent = path.dirname(path.resolve(owned));
  if (missing.length && !fs.existsSync(parent)) throw new CremaError(`${owned}: the directory ${path.dirname(owned)} does not exist`);
  if (missing.length === 0 && !isDirectory(dir)) missing.push(path.resolve(dir)); // mkdir says EEXIST
  for (const level of missing) {
    try {
      fs.mkdirSync(level);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && isDirectory(level)) continue; // made meanwhile by another process
      throw new CremaError(`${dir}: cannot create the directory${level === path.resolve(dir) ? '' : ` ${level}`}: ${mkdirErrorWords(code)}`);
    }
  }
  return missing[0];
}

const isDirectory = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;

/** Why mkdir failed, in words: its parent exists, so ENOENT means a file system that takes no new directories (/proc). */
function mkdirErrorWords(code: string | undefined): string {
  if (code === 'EEXIST' || code === 'ENOTDIR') return 'a file is in the way';
  if (code === 'ENOENT') return 'the file system there does not take new directories';
  return fileErrorWords(code, 'write');
}
