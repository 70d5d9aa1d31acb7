// Buffers a worker gave back after a forward, to copy the next inputs into: the browser's Engine (src/browser)
// and Node's Net.run (src/runtime/runner.ts) both send each forward's inputs to a worker thread.

/** Input buffers kept for the next forwards at most. */
const MAX_SPARE = 4;

/**
 * Input buffers a worker transferred back after a forward, to copy the next inputs into. A fresh buffer for a
 * copy costs its pages' first touch: AlexNet's 0.6 MB input took 2.2-9 ms to copy into a new buffer (`slice`) in
 * Chromium on the team's VM, 0.04 ms into one used before, out of a ~25 ms forward (docs/PERFORMANCE.md, round
 * eleven). The caller's arrays are copied, never transferred: they stay theirs.
 */
export class SpareBuffers {
  /** @internal The buffers kept, oldest first. */
  readonly buffers: ArrayBuffer[] = [];

  /** Keeps buffers given back (the newest MAX_SPARE of all kept). */
  keep(buffers: readonly ArrayBuffer[]): void {
    this.buffers.push(...buffers);
    this.buffers.splice(0, Math.max(0, this.buffers.length - MAX_SPARE));
  }

  /** A copy of `data` to transfer, in a buffer given back when one has its size. */
  copyOf(data: Float32Array): Float32Array<ArrayBuffer> {
    const i = this.buffers.findIndex((b) => b.byteLength === data.byteLength);
    if (i < 0) return data.slice();
    const copy = new Float32Array(this.buffers.splice(i, 1)[0]);
    copy.set(data);
    return copy;
  }
}

/** The buffers a worker may give back after a forward: each array's own, when the array covers all of it. */
export function wholeBuffers(arrays: Iterable<Float32Array>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const a of arrays) if (a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) buffers.add(a.buffer);
  return [...buffers];
}
