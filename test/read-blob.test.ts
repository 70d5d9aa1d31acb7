// readBlob (src/browser/read.ts) in Node, whose Blob and ReadableStream are the browser's: a file that changes
// while it is read is refused, whether it shrank or grew, and wherever the change falls against the chunks.
import { describe, expect, it } from 'vitest';
import { readBlob } from '../src/browser/read.js';

/** A Blob that says it holds `size` bytes and streams `chunks`: a file changed between its opening and its read. */
function changed(size: number, chunks: number[][]): Blob {
  const stream = () => new ReadableStream<Uint8Array>({ start(c) { for (const k of chunks) c.enqueue(Uint8Array.from(k)); c.close(); } });
  return { size, stream } as unknown as Blob;
}

describe('readBlob', () => {
  it('reads a Blob whole, reporting its progress', async () => {
    const seen: number[] = [];
    expect([...(await readBlob(changed(5, [[1, 2], [3, 4, 5]]), 'w.caffemodel', (n) => seen.push(n)))]).toEqual([1, 2, 3, 4, 5]);
    expect(seen).toEqual([2, 5]);
  });

  it('refuses a file that shrank, grew within a chunk, or grew after a full buffer', async () => {
    const why = "w.caffemodel: changed while it was read (3 bytes when it was opened)";
    for (const chunks of [[[1, 2]], [[1, 2], [3, 4]], [[1, 2, 3], [4]]])
      await expect(readBlob(changed(3, chunks), 'w.caffemodel'), JSON.stringify(chunks)).rejects.toThrow(why);
  });
});
