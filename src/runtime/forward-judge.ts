// Whether a net's forward runs on its threads or on the calling thread alone, chosen per whole forward.
//
// The pool's Judge (src/kernels/pool.ts) chooses per job, but a job's time depends on the jobs around it (a worker
// left asleep by jobs run alone wakes late for the next parallel one) and on a load that moves under it: with the
// benchmark's busy core two threads ran slower than one on 7 nets of 10 (docs/PERFORMANCE.md, round seven). So a
// forward at several threads is also timed whole, both ways, and runs the way that was faster lately: `parallel`
// (the workers take part, each job still judged by the pool's Judge) or `alone` (every job on the calling thread).

/** How a whole forward runs at several threads. */
export type Way = 'parallel' | 'alone';

const WAYS: readonly Way[] = ['parallel', 'alone'];
const ALONE = 1;
/** Times kept per way (the latest): a way's time is their median, which one burst of load does not move. */
const SAMPLES = 5;
/** Forwards between tries of the slower way at most (sooner while it has few times: see `choose`). */
const MAX_GAP = 16;
/** A try this much faster than the best (a ratio of times) starts its way's times afresh (see `record`). */
const CLEARLY = 0.9;
/** Alone forwards that time every job for the pool's Judge (see `jobTrial`). */
const JOB_TRIALS = 1;
/** Shapes (keys) remembered at most. */
const MAX_KEYS = 64;

interface WayTimes {
  /** The input shapes of the key (what follows its thread count: see `oneThread`). */
  shapes: string;
  /** Per way (WAYS' order): its latest times (ms), oldest first. */
  times: number[][];
  /** Per way: the forward (count) it last ran in. */
  last: number[];
  /** Forwards chosen so far. */
  forwards: number;
  /**
   * Whether the net had run a whole forward of these shapes at one thread before this key's first: that first
   * forward is then not cold (the weights packed, the pages faulted, the kernels tiered) and counts.
   */
  warm: boolean;
}

/**
 * Chooses each forward's way from how the same forward (the same net and input shapes: `key`) went before. The
 * first forward runs in parallel and its time is not counted (cold: page faults, untiered code, the per-job
 * trials' first runs); then parallel again, then alone, then the faster way (the lower median of its latest
 * times): of a short run's first three timed forwards (a benchmark's --quick), two run the faster way. The
 * slower way is tried again once it has sat out 2^n forwards, n its times so far (2, 4, 8, then every
 * MAX_GAP): a load that comes or goes is noticed within MAX_GAP forwards (a try that beats the best starts
 * its way's times afresh), and on a steady machine the slower way costs 1/MAX_GAP of the difference. The early
 * gaps are short because a way's first times are its least reliable: a first forward at two threads just after
 * a 240 MB ONNX Runtime session was made took 22-38 ms where parallel forwards take 12 (AlexNet), and when the
 * try after it (then 4 forwards on) met a worker slowed by the host too, alone ran the next 8 forwards: a
 * benchmark's whole 2-thread row at one thread's time in 3 runs of 4 (docs/PERFORMANCE.md, round twenty-seven). Times are
 * passed in (no clock inside), so the decisions are tested without timing anything. A net that ran a whole
 * forward of the same shapes at one thread before (`oneThread`) is warm: its first forward at several threads
 * counts as parallel's first time, so a benchmark that times one and two threads interleaved (the busy section)
 * meets one try of parallel fewer among its timed forwards (docs/PERFORMANCE.md, round thirteen).
 */
export class ForwardJudge {
  private readonly keys = new Map<string, WayTimes>();
  /** Per input shapes: the latest times of whole forwards at one thread, and how many ran (see `oneThread`). */
  private readonly single = new Map<string, { times: number[]; runs: number }>();
  /** Whether the last `choose` was a try of a way not (yet) known to be the faster. */
  trying = false;
  /**
   * Whether the last `choose` (alone) is the forward's first alone: it runs the jobs as cut for several threads
   * and times each alone, the pool's per-job Judge's trial of them alone (later alone forwards run the one-thread
   * cut, a few % faster on Inception-v3 and the MobileNets, and time nothing).
   */
  jobTrial = false;
  /** Whether the last `choose` was the forward's first (cold: it is not counted). */
  cold = false;
  /**
   * Forwards `choose` ran alone so far, every key: a benchmark row whose forwards ran alone is one thread's speed,
   * which its numbers alone do not tell (round fifty-one's batch-1 references, MobileNet 24.9 ms "at 2 threads").
   */
  aloneForwards = 0;

  /** The way the forward `key` (its thread count, a space, its input shapes: Net's forwardKey) runs this time. */
  choose(key: string): Way {
    let r = this.keys.get(key);
    if (!r) {
      if (this.keys.size >= MAX_KEYS) this.keys.clear(); // many shapes: start afresh
      const shapes = key.slice(key.indexOf(' ') + 1);
      r = { shapes, times: WAYS.map(() => []), last: WAYS.map(() => -1), forwards: 0, warm: (this.single.get(shapes)?.runs ?? 0) > 0 };
      r.times[ALONE] = [...(this.single.get(shapes)?.times ?? [])];
      this.keys.set(key, r);
    }
    const way = this.pick(r);
    this.cold = r.forwards === 0 && !r.warm;
    this.jobTrial = WAYS[way] === 'alone' && r.times[way].length < JOB_TRIALS;
    r.last[way] = r.forwards++;
    if (way === ALONE) this.aloneForwards++;
    return WAYS[way];
  }

  /** The forward `key` took `ms` running `way` (the way `choose` gave it). */
  record(key: string, way: Way, ms: number): void {
    const r = this.keys.get(key);
    if (!r || (r.forwards <= 1 && !r.warm)) return; // the first forward is cold, unless warm
    this.add(r, WAYS.indexOf(way), ms);
  }

  /**
   * A whole forward of the same net at one thread, of input `shapes`, took `ms`. A forward judged alone runs as one
   * thread (the one-thread cut), so its time is alone's for every thread count of these shapes: alone's times
   * then need no forward of their own (the benchmarks run a net at one thread before or between its forwards at
   * two, whose first alone trial fell among the few timed forwards: one of VGG-16's four). A net's first forward
   * of these shapes is cold and not counted.
   */
  oneThread(shapes: string, ms: number): void {
    let s = this.single.get(shapes);
    if (!s) {
      if (this.single.size >= MAX_KEYS) this.single.clear();
      s = { times: [], runs: 0 };
      this.single.set(shapes, s);
    }
    if (s.runs++ === 0) return;
    s.times.push(ms);
    if (s.times.length > SAMPLES) s.times.shift();
    for (const r of this.keys.values()) {
      if (r.shapes !== shapes) continue;
      this.add(r, ALONE, ms);
      r.last[ALONE] = Math.max(r.last[ALONE], r.forwards - 1); // as fresh as a forward run alone just now
    }
  }

  /** A time of way `w` for `r`. */
  private add(r: WayTimes, w: number, ms: number): void {
    const times = r.times[w];
    // The slower way tried and found clearly faster than the best: the load that made it slower is gone (or
    // came), so its older times no longer count. Without this a net back on a quiet machine needed three tries
    // (48 forwards) to outvote its busy times; "clearly": with a busy core, single parallel forwards ranged over
    // 2.6x (Inception-v3, 177-471 ms), and one that merely beat alone's median started a run of slow ones.
    const best = Math.min(...r.times.filter((t, i) => i !== w && t.length).map(median));
    if (times.length && median(times) > best && ms < CLEARLY * best) times.length = 0;
    times.push(ms);
    if (times.length > SAMPLES) times.shift();
  }

  private pick(r: WayTimes): number {
    this.trying = true;
    if (r.forwards === 0) return 0;
    // A way never timed yet: the first of them (parallel's first forward was not counted).
    const untimed = r.times.findIndex((times) => times.length === 0);
    if (untimed >= 0) return untimed;
    const medians = r.times.map(median);
    const best = medians.indexOf(Math.min(...medians));
    for (const [w, times] of r.times.entries())
      if (w !== best && r.forwards - r.last[w] >= Math.min(MAX_GAP, 2 ** times.length)) return w;
    this.trying = false;
    return best;
  }
}

function median(times: number[]): number {
  const s = [...times].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
