// The forward judge (src/runtime/forward-judge.ts): whether a whole forward at several threads runs in parallel or
// alone, decided from given times (no timing here), and how Net.forward runs each way (src/runtime/net.ts): alone
// opens no job for the workers and gives the same numbers; parallel keeps the workers polling between its jobs.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Judge } from '../src/kernels/pool.js';
import { wasmEngine } from '../src/kernels/wasm.js';
import { ForwardJudge, type Way } from '../src/runtime/forward-judge.js';
import { Net } from '../src/runtime/net.js';
import { readNpy } from '../src/util/npy.js';

/** Runs `count` forwards of `key`, each taking `ms(way, i)`; returns the ways as P / A, a try marked '?'. */
function forwards(judge: ForwardJudge, key: string, count: number, ms: (way: Way, i: number) => number, marks = false): string {
  let ways = '';
  for (let i = 0; i < count; i++) {
    const way = judge.choose(key);
    ways += (way === 'parallel' ? 'P' : 'A') + (marks && judge.trying ? '?' : '');
    judge.record(key, way, ms(way, i));
  }
  return ways;
}

describe('the forward judge', () => {
  it('times both ways (the first, cold forward not counted), then runs the faster, trying the slower after 2, 4, 8, then every 16 forwards', () => {
    const judge = new ForwardJudge();
    // A quiet machine: parallel 10 ms, alone 15; the first forward (cold) 100 ms is not held against parallel.
    const quiet = forwards(judge, 'quiet', 48, (way, i) => (i === 0 ? 100 : way === 'parallel' ? 10 : 15));
    expect(quiet).toBe('PPAPAPPPAPPPPPPPAPPPPPPPPPPPPPPPAPPPPPPPPPPPPPPP');
    // A busy core: parallel 15 ms, alone 10 (another key: its own times).
    const busy = forwards(judge, 'busy', 34, (way) => (way === 'parallel' ? 15 : 10), true);
    expect(busy).toBe('P?P?A?P?AAAP?AAAAAAAP?AAAAAAAAAAAAAAAP?AA');
    // Every alone forward counted, both keys (the benchmark's note on rows run at one thread's speed).
    expect(judge.aloneForwards).toBe([...quiet, ...busy].filter((w) => w === 'A').length);
    expect(judge.aloneForwards).toBe(5 + 28);
  });

  it('a load that comes moves a quiet net to alone within a few forwards, and back to parallel within 16 once it goes', () => {
    const judge = new ForwardJudge();
    let load = false;
    const ms = (way: Way): number => (way === 'parallel' ? (load ? 30 : 10) : load ? 18 : 15);
    forwards(judge, 'net', 40, ms);
    load = true;
    const busy = forwards(judge, 'net', 20, ms);
    // Three slow parallel forwards move its median (of the latest five) past alone's.
    expect(busy.slice(0, 4)).toBe('PPPA');
    expect(busy.slice(4)).not.toContain('PP');
    load = false;
    const after = forwards(judge, 'net', 20, ms);
    expect(after.indexOf('P')).toBeLessThan(16);
    expect(after.slice(-3)).toBe('PPP');
    // A try only a little faster than the best (within 10 %: noise) does not start its way's times afresh.
    const noisy = new ForwardJudge();
    const slow = forwards(noisy, 'n', 60, (way, i) => (way === 'alone' ? 10 : i < 30 ? 15 : 9.5));
    expect(slow.slice(30)).toContain('P'); // a try after the change
    expect(slow.slice(30)).not.toContain('PP');
  });

  it('one-thread forwards of the same shapes are alone\'s times (alone runs as one thread): no alone forward of its own while they come', () => {
    // One thread's forwards before (the benchmarks' one-thread rows), the first cold: parallel 10 ms, alone 15. No
    // alone trial among the first forwards (it was the third: 'PPAPPPA...'), alone tried after 16.
    const quiet = new ForwardJudge();
    for (const ms of [100, 15, 15, 15, 15, 15]) quiet.oneThread('1,3', ms);
    expect(forwards(quiet, '2 1,3', 48, (way) => (way === 'parallel' ? 10 : 15))).toBe('PPPPPPPPPPPPPPPAPPPPPPPPPPPPPPPAPPPPPPPPPPPPPPPA');
    // A busy core, one thread 10 ms, parallel 15: the net ran these shapes at one thread (warm), so its first forward
    // at two threads is parallel's first time (it was not counted, and parallel's second try fell among a
    // benchmark's timed forwards: 'P?P?AAAP?...'); alone from the second forward, parallel tried after 2, 4, 8, 16.
    const busy = new ForwardJudge();
    for (const ms of [100, 10, 10, 10, 10, 10]) busy.oneThread('1,3', ms);
    expect(forwards(busy, '2 1,3', 34, (way) => (way === 'parallel' ? 15 : 10), true)).toBe('P?AP?AAAP?AAAAAAAP?AAAAAAAAAAAAAAAP?AAA');
    // A first forward at two threads slower than it should be (a burst of load) counts; parallel's try after 2,
    // clearly faster than alone, starts its times afresh.
    const burst = new ForwardJudge();
    for (const ms of [100, 15, 15, 15, 15, 15]) burst.oneThread('1,3', ms);
    expect(forwards(burst, '2 1,3', 20, (way, i) => (i === 0 ? 100 : way === 'parallel' ? 10 : 15))).toBe('PAPPPPPPPPPPPPPPPAPP');
    // The benchmark's 2-thread row on this round's host (AlexNet: one thread 21 ms, parallel 12): the first forward
    // at two threads, just after ONNX Runtime's session was made, took 30 ms, and the try after it met a worker the
    // host slowed down (28 ms). With tries after 4 and then 8 forwards that sent forwards 5-12 alone (the row's 3
    // untimed + 8 timed forwards: 7 of 8 timed alone); now parallel's third time comes 4 forwards after its second.
    const slowTries = new ForwardJudge();
    for (const ms of [100, 21, 21, 21, 21, 21]) slowTries.oneThread('1,3', ms);
    let parallels = 0;
    const row = forwards(slowTries, '2 1,3', 11, (way) => (way === 'alone' ? 21 : [30, 28][parallels++] ?? 12));
    expect(row).toBe('PAPAAAPPPPP');
    expect([...row.slice(3)].filter((w) => w === 'P').length).toBeGreaterThanOrEqual(5); // the median of the 8 timed: parallel's
    // Interleaved with one-thread forwards (the busy section): alone's times stay fresh, parallel runs throughout.
    const mixed = new ForwardJudge();
    let ways = '';
    mixed.oneThread('1,3', 100);
    for (let i = 0; i < 40; i++) {
      mixed.oneThread('1,3', 15);
      ways += forwards(mixed, '2 1,3', 1, (way) => (way === 'parallel' ? 10 : 15));
    }
    expect(ways).toBe('P'.repeat(40));
    // Other shapes' one-thread forwards are not these shapes' alone.
    const other = new ForwardJudge();
    for (const ms of [100, 15, 15]) other.oneThread('8,3', ms);
    expect(forwards(other, '2 1,3', 10, (way, i) => (i === 0 ? 100 : way === 'parallel' ? 10 : 15))).toBe('PPAPAPPPAP');
  });

  it('its first alone forward is the per-job judge\'s trial alone; a job timed alone outside then tries only parallel', () => {
    const judge = new ForwardJudge();
    const trials: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      const way = judge.choose('k');
      if (way === 'alone') trials.push(judge.jobTrial);
      else expect(judge.jobTrial).toBe(false);
      judge.record('k', way, way === 'parallel' ? 10 : 15);
    }
    expect(trials).toEqual([true, false]);
    // The pool's Judge: a job's trials are P s P; a run alone from an alone forward leaves parallel forwards only
    // parallel trials (P A P: P P).
    const jobs = new Judge();
    const seen: boolean[] = [];
    for (const solo of [false, true, false]) {
      if (solo) jobs.record(1, false, 2);
      else {
        seen.push(jobs.parallel(1));
        jobs.record(1, true, 1);
      }
    }
    expect(seen).toEqual([true, true]);
    expect(jobs.parallel(1)).toBe(true); // trials done: parallel, the faster
    expect(jobs.trying).toBe(false);
  });
});

describe('Net.forward by the forward judge\'s way', () => {
  const model = path.resolve('models/cifar10_full');
  const load = () => Net.load(path.join(model, 'deploy.prototxt'), path.join(model, 'weights.caffemodel'), { threads: 2 });
  const input = () => readNpy(path.join(model, 'example-input.npy'));

  it('alone opens no job for the workers (with jobsInForwards: a trial cut for two threads, then the one-thread cut) and gives the parallel numbers', async () => {
    const e = wasmEngine()!;
    const net = await load();
    net.jobsInForwards = true; // CREMA_JUDGE=both
    const want = Float32Array.from(net.forward({ data: input() }).prob.data); // no judge (CREMA_JUDGE=0): parallel
    const judge = new ForwardJudge();
    const recorded: Way[] = [];
    judge.choose = (key) => {
      judge.jobTrial = recorded.length < 2; // as if the first two were trials: both cuts run here
      expect(key).toBe('2 1,3,32,32');
      return 'alone';
    };
    judge.record = (_key, way) => void recorded.push(way);
    net.forwardJudge = judge;
    const seq = new Int32Array(e.memory.buffer, 1024, 1);
    const threadsSeen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = Atomics.load(seq, 0);
      const got = net.forward({ data: input() }, { onLayer: () => void threadsSeen.push(e.threads) }).prob.data;
      expect(Atomics.load(seq, 0), `forward ${i}: no job opened for the workers`).toBe(before);
      expect(Array.from(got)).toEqual(Array.from(want));
    }
    expect(recorded).toEqual(['alone', 'alone', 'alone']);
    // The trials keep the two-thread cut (the pool runs each job alone), the third runs as one thread.
    expect(new Set(threadsSeen)).toEqual(new Set([2, 1]));
    expect(e.threads).toBe(2);
    expect(e.pool.alone).toBe(false);
    await net.dispose();
  });

  it('by default a parallel forward runs every job in parallel (the per-job Judge is not asked), an alone one as one thread', async () => {
    const e = wasmEngine()!;
    const net = await load();
    const asked: number[] = [];
    const jobs = new Judge();
    jobs.parallel = (key) => (asked.push(key), false); // would run every job alone
    const saved = e.pool.judge;
    e.pool.judge = jobs;
    const judge = new ForwardJudge();
    let way: Way = 'parallel';
    judge.choose = () => way;
    net.forwardJudge = judge;
    const seq = new Int32Array(e.memory.buffer, 1024, 1);
    try {
      const before = Atomics.load(seq, 0);
      net.forward({ data: input() });
      expect(Atomics.load(seq, 0), 'jobs opened for the workers').toBeGreaterThan(before);
      way = 'alone';
      const threadsSeen = new Set<number>();
      net.forward({ data: input() }, { onLayer: () => void threadsSeen.add(e.threads) });
      expect(threadsSeen).toEqual(new Set([1]));
      expect(asked).toEqual([]);
      expect(e.pool.judging).toBe(true); // the per-job Judge decides again outside forwards (partial ones)
    } finally {
      e.pool.judge = saved;
      await net.dispose();
    }
  });

  it('a whole forward at one thread tells the judge its time as alone\'s for its input shapes (not a partial one, not at two threads)', async () => {
    const net = await load();
    const judge = new ForwardJudge();
    const told: string[] = [];
    judge.oneThread = (shapes) => void told.push(shapes);
    net.forwardJudge = judge;
    try {
      net.forward({ data: input() });
      expect(told).toEqual([]);
      net.threads = 1;
      net.forward({ data: input() });
      net.forward({ data: input() }, { end: net.layers[1].name });
      net.forward({ data: input() });
      expect(told).toEqual(['1,3,32,32', '1,3,32,32']);
    } finally {
      await net.dispose();
    }
  });

  it('parallel keeps the workers polling between its jobs (the pool\'s hold), and lets them sleep after it', async () => {
    const e = wasmEngine()!;
    const net = await load();
    const judge = new ForwardJudge();
    judge.choose = () => 'parallel';
    net.forwardJudge = judge;
    const spin = new Int32Array(e.memory.buffer, 1024, 8);
    const during: number[] = [];
    const before = Atomics.load(spin, 0);
    net.forward({ data: input() }, { onLayer: () => void during.push(Atomics.load(spin, 7)) });
    expect(Atomics.load(spin, 0), 'jobs opened for the workers').toBeGreaterThan(before);
    expect(new Set(during)).toEqual(new Set([e.pool.holdUs]));
    expect(Atomics.load(spin, 7)).toBeLessThan(e.pool.holdUs);
    await net.dispose();
  });

  it('a net\'s first forward (cold: it packs weights between its jobs) runs in parallel without the hold, the next with it', async () => {
    const e = wasmEngine()!;
    const net = await load();
    net.forwardJudge = new ForwardJudge();
    const spin = new Int32Array(e.memory.buffer, 1024, 8);
    const polled = (): Set<number> => {
      const during = new Set<number>();
      net.forward({ data: input() }, { onLayer: () => void during.add(Atomics.load(spin, 7)) });
      return during;
    };
    expect(polled().has(e.pool.holdUs)).toBe(false);
    expect(polled()).toEqual(new Set([e.pool.holdUs]));
    await net.dispose();
  });

  it('a net that ran its shapes at one thread is warm: its first forward at two threads holds the workers and counts', async () => {
    const e = wasmEngine()!;
    const net = await load();
    const judge = new ForwardJudge();
    const counted: Way[] = [];
    const record = judge.record.bind(judge);
    judge.record = (key, way, ms) => {
      record(key, way, ms);
      counted.push(way);
    };
    net.forwardJudge = judge;
    const spin = new Int32Array(e.memory.buffer, 1024, 8);
    try {
      net.threads = 1;
      net.forward({ data: input() });
      net.threads = 2;
      const during = new Set<number>();
      net.forward({ data: input() }, { onLayer: () => void during.add(Atomics.load(spin, 7)) });
      expect(judge.cold).toBe(false);
      expect(during).toEqual(new Set([e.pool.holdUs]));
      expect(counted).toEqual(['parallel']);
      // Its time is parallel's first: the next forward is alone's (untimed: the one-thread forward was the net's first, cold).
      expect(net.forward({ data: input() }) && counted).toEqual(['parallel', 'alone']);
    } finally {
      await net.dispose();
    }
  });
});
