// A Blob (a File picked or dropped) read whole, into one buffer of its size allocated before any of it is read.
import { CremaError } from '../util/errors.js';

/**
 * A Blob's bytes, read chunk by chunk into one buffer of its size (`progress`: the bytes so far). The buffer is
 * allocated first: a file too large for one is refused in one line naming it and its size before any of it is read
 * (reading it into chunks, then one buffer, held it twice and failed only at the end, in the browser's words alone).
 */
export async function readBlob(blob: Blob, name: string, progress?: (got: number) => void): Promise<Uint8Array> {
  const out = bufferFor(blob.size, name);
  const reader = blob.stream().getReader();
  let got = 0, grown = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    // More bytes than the file had when opened, even once the buffer is exactly full: it grew while it was read.
    if ((grown = got + value.length > out.length)) break;
    out.set(value, got);
    got += value.length;
    progress?.(got);
  }
  if (grown || got !== out.length) {
    await reader.cancel();
    throw new CremaError(`${name}: changed while it was read (${blob.size} bytes when it was opened)`);
  }
  return out;
}

/** A buffer of `size` bytes for the file `name`, or a one-line CremaError when the browser cannot allocate one. */
function bufferFor(size: number, name: string): Uint8Array {
  try {
    return new Uint8Array(size);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new CremaError(`${name}: ${(size / 1e6).toFixed(1)} MB (${size} bytes), more than this browser can hold in one buffer`);
  }
}
