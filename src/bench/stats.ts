// Timing helpers for benchmarks. Numbers are wall-clock milliseconds from performance.now(); on a busy machine
// only medians and ratios of runs taken side by side (interleaved) mean much, so that is what these produce.

/** Median, fastest and slowest of a set of timings (ms). */
export interface Summary {
  median_ms: number;
  min_ms: number;
  max_ms: number;
}

/** The median (the mean of the two middle values for an even count); NaN for no samples. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) return { median_ms: NaN, min_ms: NaN, max_ms: NaN };
  let min = Infinity, max = -Infinity;
  for (const x of samples) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { median_ms: median(samples), min_ms: min, max_ms: max };
}

/** Something to time: one run of it per call (sync or async). */
export interface Contender {
  name: string;
  run: () => unknown;
}

export interface InterleaveOptions {
  iterations: number;
  /** Untimed runs of each contender first (JIT, allocations, caches). Default 2. */
  warmup?: number;
  /** Called after each timed round (one run of every contender), e.g. to move a progress bar. */
  onRound?: () => void;
}

/**
 * Times the contenders round-robin — one run of each per round, in rotating order — so that a burst of load
 * from elsewhere on the machine lands on all of them alike. Returns each contender's timings by name.
 */
export async function interleave(contenders: readonly Contender[], options: InterleaveOptions): Promise<Map<string, number[]>> {
  const warmup = options.warmup ?? 2;
  for (let i = 0; i < warmup; i++) for (const c of contenders) await c.run();
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < options.iterations; round++) {
    for (let j = 0; j < contenders.length; j++) {
      const c = contenders[(round + j) % contenders.length];
      const t0 = performance.now();
      await c.run();
      samples.get(c.name)!.push(performance.now() - t0);
    }
    options.onRound?.();
  }
  return samples;
}

/** Times one thing: `iterations` runs after `warmup` untimed ones. */
export async function timeRuns(run: () => unknown, iterations: number, warmup = 2): Promise<number[]> {
  return (await interleave([{ name: 'x', run }], { iterations, warmup })).get('x')!;
}
