// Worker threads for the wasm kernels: each worker instantiates the same module over the same shared memory and
// sleeps on a futex (Atomics.wait) until the main thread opens a job. Jobs are cut into chunks that threads take
// one at a time from a shared ticket, so a thread slowed down by other processes simply takes fewer chunks; the
// main thread takes chunks too and then waits until all are done. No message passing per job.
//
// Control block (Int32 words at `control`): SEQ (bumped per job, what workers sleep on), TICKET (tag << 20 |
// next chunk; tag 0 = closed), DONE (chunks finished), CHUNKS, ALLOWED (threads that may take part), FAILED
// (the index, from 1, of the first worker whose chunk threw; 0 = none), WOKEN (jobs a worker woke up for from
// its sleep: benchmarks count them), SPIN_US (how long an idle worker polls before it sleeps: see `hold`), CUT
// (polls that the OS cut short by taking the thread's core, which then stopped polling for a while: see
// CALM_US), CALM_US (how long a thread whose poll was cut short does not poll: `calmMs`). A chunk is taken by compare-exchange on the ticket, so a worker that wakes
// late can never take a chunk of a job that was closed and reopened meanwhile: the job's parameters and CHUNKS
// only change while the ticket is closed. A chunk that throws (a trap in the kernel) still counts as done, so the
// job ends and its caller gets the error instead of waiting forever.

import { type KernelWorker, platform } from '../platform.js';

const SEQ = 0, TICKET = 1, DONE = 2, CHUNKS = 3, ALLOWED = 4, FAILED = 5, WOKEN = 6, SPIN_US = 7, CUT = 8, CALM_US = 9;
const TAG_SHIFT = 20;
const MAX_CHUNKS = 1 << TAG_SHIFT;
/** Words of the parameter block a job writes (WasmEngine.job hands out 48). */
const PARAM_WORDS = 48;

interface ChunkRunner {
  runChunk(p: number, chunk: number, thread: number): void;
}

/** Takes and runs chunks of the open job as thread `index` (the same loop runs in every worker). */
function takeChunks(h: Int32Array, run: (chunk: number) => void): void {
  for (;;) {
    const v = Atomics.load(h, 1);
    if (v >>> 20 === 0) return;
    const chunk = v & 0xfffff;
    const n = Atomics.load(h, 3);
    if (chunk >= n) return;
    if (Atomics.compareExchange(h, 1, v, v + 1) !== v) continue;
    run(chunk);
    if (Atomics.add(h, 2, 1) + 1 === n) Atomics.notify(h, 2);
  }
}

/**
 * How long an idle worker keeps polling for the next job before it sleeps: long enough for back-to-back jobs
 * (a forward opens one per layer), short enough that a worker does not hold a core the main thread or other
 * processes need. It was 2 ms: on a busy machine the spinning took turns with the main thread's own work, and
 * two threads ran slower than one (docs/PERFORMANCE.md).
 */
const WORKER_SPIN_US = 100;
/**
 * How long an idle worker polls while a forward runs in parallel (ForwardJudge): the main thread's JavaScript
 * between two jobs (a Concat's bookkeeping, an LRN, the next layer's setup) takes 0.01-1.5 ms, and a worker
 * asleep took 1.9-2.8 ms to wake on the team's VM. Polling 0.1 ms, GoogLeNet's worker woke ~40 times a forward
 * (unjudged: 104 jobs). On a machine where the polling costs more than it saves, the forward judge runs alone.
 */
const HOLD_US = 1000;
/** A gap this long between two polls means the OS took the core away: the machine is busy, stop spinning. */
const PREEMPTED_MS = 0.05;
/**
 * A gap this long means another thread ran a time slice on the core (the scheduler's slices are 0.75-3 ms; an
 * interrupt or a short-lived task takes microseconds): the thread then does not poll for the pool's `calmMs`.
 */
const TAKEN_MS = 0.5;
/**
 * After a poll the OS cut short for a time slice (TAKEN_MS), a thread does not poll at all for this long (ms): it
 * sleeps as soon as it waits. With a core busy elsewhere (goal 3's CPU-bound process: three runnable threads on two cores) a
 * polling worker ran until the OS took its core, every time it polled: it spent its share of the core on polls,
 * so the scheduler (EEVDF) took the core from it while it held a chunk and the calling thread waited a time slice
 * for that chunk, where a thread that had slept is owed time and runs its chunk at once when woken. SqueezeNet 1.1
 * with the busy core (load 7 from the other sessions besides): 2 threads unjudged 0.52x one thread's speed with
 * the workers polling 1 ms, 1.50x with them never polling (docs/PERFORMANCE.md, round nine). On a quiet machine no
 * poll is cut short and nothing changes; one that is cut short once in a while costs the next CALM_MS of jobs
 * their workers' wake-ups.
 */
const CALM_MS = 100;
/** How long (ms) the calling thread polls for the workers' last chunks at least (its chunks however short) and at most. */
const MIN_WAIT_SPIN_MS = 0.05;
const MAX_WAIT_SPIN_MS = 4;

// A worker's program after its platform's preamble (src/platform/node.ts), which defines module, memory, control,
// params, index, ready() and postError(message) before it: plain script, no imports, the same on every platform.
export const KERNEL_WORKER_LOOP = `
const instance = new WebAssembly.Instance(module, { env: { memory, abort() {} } });
const runChunk = instance.exports.runChunk;
const h = new Int32Array(memory.buffer, control, 16);
const takeChunks = ${takeChunks.toString()};
const PREEMPTED_MS = ${PREEMPTED_MS}, TAKEN_MS = ${TAKEN_MS};
const run = (chunk) => {
  try {
    runChunk(params, chunk, index);
  } catch (err) {
    // Told before the chunk counts as done, so the main thread finds the message when the job ends.
    if (Atomics.compareExchange(h, ${FAILED}, 0, index) === 0) postError(String(err));
  }
};
// The job count before saying ready: a job the main thread opens once it hears this is then never taken as seen.
let seen = Atomics.load(h, 0);
// Until when (this thread's clock) the worker does not poll: a poll was cut short by the OS (CALM_MS).
let calmUntil = 0;
ready();
for (;;) {
  // Poll before sleeping: a forward opens one job per layer, microseconds apart, and waking from Atomics.wait
  // can take longer than a small layer's whole job. The poll lasts SPIN_US (the main thread sets it: longer
  // while a forward is under way) from the last moment a job was seen open: while the main thread still runs
  // its own chunks of a job whose chunks are all taken, the worker polls on (the next job comes right after).
  // Not while calm: the OS took the core away from a recent poll (the machine is busy).
  let now = Atomics.load(h, 0);
  for (let t = performance.now(), active = t; now === seen && (t >= calmUntil || Atomics.load(h, ${CALM_US}) === 0) && t < active + Atomics.load(h, ${SPIN_US}) / 1000; ) {
    now = Atomics.load(h, 0);
    const next = performance.now();
    if (next - t > PREEMPTED_MS) {
      if (next - t > TAKEN_MS) {
        calmUntil = next + Atomics.load(h, ${CALM_US}) / 1000;
        Atomics.add(h, ${CUT}, 1);
      }
      break;
    }
    t = next;
    if (Atomics.load(h, 1) !== 0) active = t;
  }
  if (now === seen) {
    Atomics.wait(h, 0, seen, 1000);
    now = Atomics.load(h, 0);
    if (now !== seen) Atomics.add(h, ${WOKEN}, 1);
  }
  if (now === seen) continue;
  seen = now;
  if (index < Atomics.load(h, 4)) takeChunks(h, run);
}
`;

/** The judge's clock (ms). */
const now = (): number => performance.now();

/** What the judge knows of one recurring job: its times alone and in parallel (moving averages, ms), runs. */
interface JobTimes {
  solo: number;
  parallel: number;
  /** Runs each way so far, and in all. */
  soloRuns: number;
  parallelRuns: number;
  runs: number;
}

/**
 * Whether a job runs on several threads or on the calling thread alone, from how that same job went before. A
 * forward opens the same jobs in the same order every time (same kind, same blobs, same split), so each is
 * known by its parameter words and timed both ways: alone, and in parallel. On a busy machine the OS preempts
 * a worker while it holds a chunk and the main thread, done with its share, waits for it: a time slice
 * (milliseconds) on jobs of 0.1-3 ms, so two threads ran slower than one (docs/PERFORMANCE.md, "Two threads").
 * A job runs the way that was faster lately (moving averages), and the other way now and then to notice a
 * change (every EXPLORE_CLOSE runs while the two are within 25 %, every EXPLORE_FAR runs otherwise), after
 * trials that try both ways in turn (P s P: a first run is cold, see `record`). Estimating
 * one thread's time from the main thread's pace during a parallel job did not work: on a busy machine that pace
 * is slower than one thread's (the judge "gained" 180 ms where the wall clock lost). Times are passed in (no
 * clock inside), so the decisions are tested without timing anything.
 */
export class Judge {
  private readonly jobs = new Map<number, JobTimes>();
  /** Jobs run alone and in parallel so far (benchmarks print them). */
  solo = 0;
  parallelRuns = 0;
  /**
   * Whether the last `parallel` answer was a try (a trial, or the slower way now and then) rather than the way
   * the job is known to run faster: a parallel try is timed from when a worker joins (ThreadPool.run).
   */
  trying = false;
  /** The job's time alone as the last `parallel` answer knew it (ms; NaN before it ran alone). */
  soloMs = NaN;

  /** Whether the job `key` runs in parallel this time. */
  parallel(key: number): boolean {
    const r = this.jobs.get(key);
    let parallel: boolean;
    this.soloMs = r ? r.solo : NaN;
    if (!r || r.parallelRuns < 2 || r.soloRuns < 1) {
      // Trials: parallel twice (its first run is cold), alone once, in turn (P s P). A forward the Net runs alone
      // (ForwardJudge) times every job alone, so parallel forwards then try only parallel.
      parallel = !r || r.soloRuns > 0 || r.parallelRuns === 0;
      this.trying = true;
    } else {
      const better = r.parallel <= r.solo, close = Math.max(r.parallel, r.solo) < 1.25 * Math.min(r.parallel, r.solo);
      this.trying = r.runs % (close ? EXPLORE_CLOSE : EXPLORE_FAR) === 0;
      parallel = better !== this.trying;
    }
    if (parallel) this.parallelRuns++;
    else this.solo++;
    return parallel;
  }

  /** The job `key` took `ms`, in parallel or alone. */
  record(key: number, parallel: boolean, ms: number): void {
    let r = this.jobs.get(key);
    if (!r) {
      if (this.jobs.size >= MAX_JOBS) this.jobs.clear(); // many nets or shapes: start afresh
      r = { solo: NaN, parallel: NaN, soloRuns: 0, parallelRuns: 0, runs: 0 };
      this.jobs.set(key, r);
    }
    const field = parallel ? 'parallel' : 'solo', count = parallel ? r.parallelRuns++ : r.soloRuns++, old = r[field];
    // A job's first run each way is cold (the first forward's page faults and untiered code, workers asleep, the
    // caches holding another layer's data): 2-9x its later runs on a quiet machine (CaffeNet's conv1 in parallel
    // 12.2 ms, then 1.3-1.7; fc6 13.0, then ~5). Fed into the average, it kept that way off for 32 runs, and a try then moved it back by
    // only an eighth: the judge ran CaffeNet's convolutions alone and lost to plain two threads. So the trials'
    // second run replaces the first unless it is slower.
    if (count === 0) r[field] = ms;
    else if (count === 1) r[field] = Math.min(old, ms);
    // A time far from the average moves it as if it were twice (or half) the average: one burst of load from
    // elsewhere (a 10 ms run of a 1 ms job) would otherwise keep a job off that way until its next try, 32 runs
    // later; a lasting change still moves the average by a quarter per run.
    else r[field] = old + WEIGHT * (Math.min(2 * old, Math.max(old / 2, ms)) - old);
    r.runs++;
  }
}

/** Runs between tries of the slower way: often while the two are close, seldom when one is far ahead. */
const EXPLORE_CLOSE = 8;
const EXPLORE_FAR = 32;
/** Weight of the newest time in a moving average. */
const WEIGHT = 0.25;
/** How long a parallel try waits at most for a sleeping worker before the main thread starts (ms). */
const PROBE_WAIT_MS = 4;
/** Jobs remembered at most. */
const MAX_JOBS = 4096;

/** A job's key: a hash of its parameter words (kind, addresses, sizes: the same for the same layer's job). */
function jobKey(words: Uint32Array, chunks: number): number {
  let h = chunks | 0;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x9e3779b1) ^ (h >>> 15);
  return h;
}

export class ThreadPool {
  private readonly workers: KernelWorker[] = [];
  /** Each worker's start, settled when it is ready (or failed). */
  private starting: Promise<void>[] = [];
  /**
   * Decides when a parallel job would lose to the main thread alone (see Judge); undefined: always parallel
   * (CREMA_JUDGE=0, which the tests set so that their 2-thread cases run the parallel paths on a busy machine).
   */
  judge: Judge | undefined = platform().env('CREMA_JUDGE') === '0' ? undefined : new Judge();
  private readyCount = 0;
  private tag = 0;
  /**
   * Every job runs on the calling thread, still cut for `threads` and timed alone for the judge: a forward the
   * Net runs alone (ForwardJudge, src/runtime/forward-judge.ts) sets it.
   */
  alone = false;
  /** Whether `judge` decides jobs now (Net.forward turns it off in forwards its ForwardJudge runs in parallel). */
  judging = true;
  /**
   * Whether this thread polls for the workers' last chunks of a job before it sleeps (see `run`); false: it sleeps
   * after a few microseconds, as until round eight (benchmarks compare the two).
   */
  waitSpin = true;
  /** Time (ms) this thread waited, its chunks done, for the workers' last chunks of parallel jobs (benchmarks). */
  waitedMs = 0;
  /** Until when (ms, `now()`) this thread does not poll for the workers' last chunks: see CALM_MS. */
  private calmUntil = 0;
  private readonly h: Int32Array;
  /** Address of the job parameter block, and its words (what identifies a job to the judge). */
  readonly params: number;
  private readonly words: Uint32Array;

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    private readonly control: number,
    private readonly kernels: ChunkRunner,
  ) {
    this.h = new Int32Array(memory.buffer, control, 16);
    this.params = control + 64;
    this.words = new Uint32Array(memory.buffer, this.params, PARAM_WORDS);
    Atomics.store(this.h, SPIN_US, WORKER_SPIN_US);
    Atomics.store(this.h, CALM_US, CALM_MS * 1000);
  }

  /** How long (ms) a thread whose poll the OS cut short does not poll (CALM_MS; 0: it polls on, as until round nine). */
  get calmMs(): number {
    return Atomics.load(this.h, CALM_US) / 1000;
  }

  set calmMs(ms: number) {
    Atomics.store(this.h, CALM_US, Math.round(ms * 1000));
    if (ms <= 0) this.calmUntil = 0;
  }

  /**
   * How long idle workers poll for the next job before they sleep, from now on (µs; `undefined`: the default,
   * WORKER_SPIN_US). A longer poll wakes the sleeping workers at once, so that they poll from now on.
   */
  poll(us?: number): void {
    const spin = us ?? WORKER_SPIN_US;
    Atomics.store(this.h, SPIN_US, spin);
    if (spin > WORKER_SPIN_US) Atomics.notify(this.h, SEQ);
  }

  /** How long idle workers poll while a forward is under way (µs; see `hold`). */
  holdUs = HOLD_US;

  /** A forward starts (true: workers poll `holdUs` between its jobs) or ends (false: back to the default). */
  hold(on: boolean): void {
    this.poll(on ? this.holdUs : undefined);
  }

  /** Workers started (ready to take chunks). */
  get started(): number {
    return this.readyCount;
  }

  /** Jobs the workers found asleep (each one's wake-up counted; benchmarks print them per forward). */
  get wakeups(): number {
    return Atomics.load(this.h, WOKEN);
  }

  /** @internal This thread's poll was cut short by the OS: it does not poll for `calmMs` from now (see CALM_MS). */
  calm(): void {
    this.calmUntil = now() + Atomics.load(this.h, CALM_US) / 1000;
    Atomics.add(this.h, CUT, 1);
  }

  /** Polls the OS cut short so far, the workers' and this thread's (each then stopped polling for CALM_MS). */
  get cut(): number {
    return Atomics.load(this.h, CUT);
  }

  /** Workers created, ready or not. */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Starts workers until there are `count`; resolves when the first `count` are ready, those an earlier call
   * started included (Net's constructor starts them in the background and Net.load awaits the same count: it
   * returned before they were ready, and a caller running forwards without yielding to the event loop never
   * heard them, staying on one thread). Workers never keep the process alive.
   */
  async grow(count: number): Promise<void> {
    while (this.workers.length < count) {
      const index = this.workers.length + 1;
      const worker = platform().startKernelWorker(KERNEL_WORKER_LOOP, { module: this.module, memory: this.memory, control: this.control, params: this.params, index });
      this.workers.push(worker);
      this.starting.push(worker.ready.then(() => void this.readyCount++));
    }
    await Promise.all(this.starting.slice(0, count));
  }

  /** Runs chunks 0..chunks-1 of the job whose parameters are in place, on up to `threads` threads. */
  run(chunks: number, threads: number): void {
    if (chunks <= 0) return;
    const { h, kernels, params } = this;
    // More chunks than the ticket counts (a net with a million groups): this thread runs them all.
    if (threads <= 1 || chunks === 1 || chunks >= MAX_CHUNKS) {
      for (let c = 0; c < chunks; c++) kernels.runChunk(params, c, 0);
      return;
    }
    const judge = this.judging ? this.judge : undefined, key = judge ? jobKey(this.words, chunks) : 0;
    let start = now();
    if (this.alone || (judge && !judge.parallel(key))) {
      for (let c = 0; c < chunks; c++) kernels.runChunk(params, c, 0);
      judge?.record(key, false, now() - start);
      return;
    }
    this.tag = (this.tag % 2047) + 1;
    const open = this.tag << TAG_SHIFT;
    Atomics.store(h, DONE, 0);
    Atomics.store(h, CHUNKS, chunks);
    Atomics.store(h, ALLOWED, threads);
    Atomics.store(h, TICKET, open);
    Atomics.add(h, SEQ, 1);
    Atomics.notify(h, SEQ);
    if (judge?.trying) start = this.awaitWorker(open, start, Number.isNaN(judge.soloMs) ? PROBE_WAIT_MS : Math.min(PROBE_WAIT_MS, judge.soloMs));
    let error: unknown, mine = 0;
    const first = now();
    takeChunks(h, (chunk) => {
      mine++;
      try {
        kernels.runChunk(params, chunk, 0);
      } catch (err) {
        error ??= err;
      }
    });
    const waitFrom = now();
    // Polls for the workers' last chunks before it sleeps: for twice this thread's time a chunk (a worker's last
    // chunk, started before this thread's last ended, ends within one chunk unless the OS took its core away:
    // then sleeping frees this core, which the OS may give it), and not once the OS took this core away. It slept
    // after ~2000 polls (a few microseconds), and a thread asleep on the team's VM took ~2 ms to wake once its idle
    // core halted (round six: a worker asleep for 1 ms took 1.85 ms to start a job), on jobs of 0.1-3 ms.
    // Not while calm (CALM_MS): the OS took this core away from a recent poll.
    const perChunk = mine ? (waitFrom - first) / mine : Atomics.load(h, SPIN_US) / 1000;
    const spin = this.waitSpin && waitFrom >= this.calmUntil ? Math.min(MAX_WAIT_SPIN_MS, Math.max(MIN_WAIT_SPIN_MS, 2 * perChunk)) : 0;
    for (let t = waitFrom, until = waitFrom + spin, spins = 0; ; spins++) {
      const done = Atomics.load(h, DONE);
      if (done >= chunks) break;
      if (t < until) {
        const next = now();
        if (next - t > PREEMPTED_MS) {
          if (next - t > TAKEN_MS) this.calm();
          t = Infinity;
        } else t = next;
      } else if (spins >= 2000) Atomics.wait(h, DONE, done, 5);
    }
    Atomics.store(h, TICKET, 0);
    const end = now();
    this.waitedMs += end - waitFrom;
    judge?.record(key, true, end - start);
    const failed = Atomics.exchange(h, FAILED, 0);
    if (failed) {
      const message = this.workers[failed - 1]?.takeError();
      error ??= new Error(`wasm kernels: worker thread ${failed} failed: ${message ?? 'no message'}`);
    }
    if (error !== undefined) throw error;
  }

  /**
   * Waits (at most `wait` ms) until a worker takes the open job's first chunk, and returns when the job's
   * clock starts. A worker asleep for a millisecond took 1.9-2.8 ms to wake on the team's VM (its idle core
   * halted; 0.03 ms a moment after its last job: docs/PERFORMANCE.md, round six), more than many whole jobs: a
   * try of parallel among jobs run alone (whose workers had gone to sleep) timed that wake-up, lost, and kept
   * every job alone (CaffeNet's conv3 tried in parallel among lone jobs 5.6-6.3 ms, 4.2 alone, 2.7 in parallel
   * among parallel jobs). Jobs run in parallel by choice still count their wake-ups: the forward pays those.
   * The wait is at most the job's time alone: a worker that cannot come sooner cannot win it (on a busy
   * machine, waiting PROBE_WAIT_MS for every try of SqueezeNet's 0.1-0.5 ms jobs cost more than the jobs), and
   * a try that times out counts its wait.
   */
  private awaitWorker(open: number, start: number, wait: number): number {
    // From the last time the first chunk was seen untaken: this thread may be preempted while it polls, and
    // the worker meanwhile take every chunk (a job "done" in 0.01 ms).
    const h = this.h;
    let untaken = start;
    for (let t = start, until = start + wait; t < until; t = now()) {
      if (Atomics.load(h, TICKET) !== open) return untaken;
      untaken = t;
    }
    return start;
  }

  /** Stops the workers (they are unref'd, so this is only needed to free them early). */
  async terminate(): Promise<void> {
    const workers = this.workers.splice(0);
    this.starting = [];
    this.readyCount = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
