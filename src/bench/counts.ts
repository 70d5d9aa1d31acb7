import { CremaError } from '../util/errors.js';

// Counts (options.threads, .iterations, ...; the CLI's flags) checked before any work: a negative, fractional or absurd count would hang or exhaust memory.

export function checkCount(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new CremaError(`options.${name} must be a whole number from ${min} to ${max}, got ${v}`);
}

/** --threads: 0 (one per core) to 256. Each thread is a worker with its own heap: thousands exhaust memory. */
export function checkThreads(threads: number): void {
  checkCount('threads', threads, 0, 256);
}
