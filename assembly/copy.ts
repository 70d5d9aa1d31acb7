// Copies of runs of floats between resident blobs, cut into chunks of equal floats (a run may be split between
// chunks): Concat's and Slice's copies at batch > 1, where its bottoms cannot be views of its top.
//
// Job fields (32-bit words at p, written by src/kernels/copy.ts): 3 the table of runs (four u32 each: source
// address, destination address, floats, floats of the runs before it), 4 runs, 5 floats a chunk.

// @ts-nocheck: AssemblyScript types (i32, usize) are not TypeScript's.

import { addr, word } from './simd';

export function copyChunk(p: usize, chunk: i32): void {
  const table = addr(p, 3), runs = word(p, 4), per = word(p, 5);
  const first = chunk * per, end = first + per;
  for (let r = 0; r < runs; r++) {
    const t = table + (<usize>r << 4);
    const src = <usize>load<u32>(t), dst = <usize>load<u32>(t, 4), n = load<u32>(t, 8), at = load<u32>(t, 12);
    if (at >= <u32>end) break;
    if (at + n <= <u32>first) continue;
    const from = max<u32>(at, <u32>first), to = min<u32>(at + n, <u32>end);
    memory.copy(dst + (<usize>(from - at) << 2), src + (<usize>(from - at) << 2), <usize>(to - from) << 2);
  }
}
