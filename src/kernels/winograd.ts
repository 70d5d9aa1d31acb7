// Winograd F(2x2, 3x3) convolution on the wasm engine (assembly/winograd.ts): 3x3, stride 1, dilation 1, any
// pad, groups. The filter is transformed once (U = G g G^T, 16 values per 3x3 filter) and packed as 16 GEMM A
// matrices per group; a forward is two parallel jobs, a zero-bordered copy of the input and then blocks of tiles
// (input transform, 16 GEMMs, output transform with bias and ReLU). The im2col path (packed.ts) and the
// TypeScript kernels stay the reference (test/wasm-kernels.test.ts compares all three).

import type { ConvGeometry } from './im2col.js';
import { type PackedConv, packConvWeights } from './packed.js';
import { KC, KIND_WINOGRAD, KIND_WINOGRAD_PAD, MR, NR, type WasmEngine } from './wasm.js';

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/**
 * Whether a convolution runs through Winograd F(2x2, 3x3): its geometry, and enough input and output channels
 * that the 16 GEMMs (K = C) beat one im2col GEMM (K = 9 C). `CREMA_WINOGRAD=0` turns it off.
 */
export function winogradFits(g: ConvGeometry, rows: number, enabled: boolean): boolean {
  return enabled && g.kernelH === 3 && g.kernelW === 3 && g.strideH === 1 && g.strideW === 1 && g.dilationH === 1 && g.dilationW === 1 &&
    g.channels >= MIN_CHANNELS && rows >= MIN_CHANNELS;
}

/** Below this many channels per group (in or out), im2col's longer K wins (measured: docs/PERFORMANCE.md). */
const MIN_CHANNELS = 16;

/**
 * U = G g G^T per filter (G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]), in float64 then rounded once, packed
 * as A matrices (rows x depth) for "group" g * 16 + xi, xi = 4 r + c: the layout winogradChunk reads.
 */
export function packWinogradWeights(e: WasmEngine, owner: object, w: Float32Array, bias: Float32Array | undefined, groups: number, rows: number, depth: number): PackedConv {
  const u = new Float32Array(groups * 16 * rows * depth);
  const t = new Float64Array(12);
  for (let g = 0; g < groups; g++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < depth; c++) {
        const f = ((g * rows + r) * depth + c) * 9;
        // t = G f (4 x 3)
        for (let j = 0; j < 3; j++) {
          const a = w[f + j], b = w[f + 3 + j], d = w[f + 6 + j];
          t[j] = a; t[3 + j] = (a + b + d) / 2; t[6 + j] = (a - b + d) / 2; t[9 + j] = d;
        }
        // U = t G^T (4 x 4), U[i][k] into matrix 4 i + k
        for (let i = 0; i < 4; i++) {
          const a = t[3 * i], b = t[3 * i + 1], d = t[3 * i + 2];
          const values = [a, (a + b + d) / 2, (a - b + d) / 2, d];
          for (let k = 0; k < 4; k++) u[((g * 16 + 4 * i + k) * rows + r) * depth + c] = values[k];
        }
      }
    }
  }
  return packConvWeights(e, owner, u, bias, groups * 16, rows, depth);
}

/** Scratch a thread may use for one block of tiles (the 16 transformed inputs and 16 GEMM results). */
const BLOCK_BYTES = 2 << 20;

/** Convolution of `num` images (x: num x groups*C x H x W) into y (num x groups*rows x OH x OW). */
export function winogradWasm(e: WasmEngine, packed: PackedConv, g: ConvGeometry, groups: number, num: number, x: Float32Array, y: Float32Array, reluSlope: number | undefined): void {
  const C = packed.depth, M = packed.rows, images = num * groups;
  const tilesY = Math.ceil(g.outH / 2), tilesX = Math.ceil(g.outW / 2), tiles = tilesY * tilesX;
  const Hp = 2 * tilesY + 2, Wp = 2 * tilesX + 2;
  // Tiles per block: as many as the scratch holds (each U value is reused once per tile of the block), but
  // enough blocks (or blocks of output rows) for every thread to have a few chunks.
  const wanted = e.chunkCount(images * Math.ceil(tiles / NR) * Math.ceil(M / (4 * MR)));
  const fit = Math.max(NR, Math.floor(BLOCK_BYTES / (64 * (C + M)) / NR) * NR);
  const blocks = Math.ceil(tiles / Math.min(fit, roundUp(Math.ceil(tiles / Math.max(1, Math.ceil(wanted / images))), NR)));
  const nt = roundUp(Math.ceil(tiles / blocks), NR); // blocks of even size: no block of a few tiles that reads all of U
  const rowBlocks = Math.max(1, Math.min(Math.ceil(wanted / (images * blocks)), Math.floor(M / (4 * MR))));
  const rowsPer = roundUp(Math.ceil(M / rowBlocks), MR);
  const xBytes = e.stagedBytes(x), yBytes = e.stagedBytes(y); // 0 for resident blobs: read and written in place
  const padBytes = roundUp((images * C * Hp * Wp + 16) * 4, 64);
  const threadBytes = roundUp(128 + 64 * (C + rowsPer) * nt, 64);
  const threads = e.pool.size + 1;
  const base = e.scratch(xBytes + yBytes + padBytes + threads * threadBytes);
  const xp = base + xBytes + yBytes;
  const xAt = e.stageIn(x, base), yAt = e.stageOut(y, base + xBytes);
  const planes = images * C, perChunk = Math.ceil(planes / e.chunkCount(planes));
  let p = e.job(KIND_WINOGRAD_PAD);
  p[3] = xAt; p[4] = planes; p[5] = g.height; p[6] = g.width; p[7] = Hp; p[8] = Wp; p[9] = g.padH; p[10] = g.padW;
  p[11] = xp; p[12] = perChunk;
  e.run(Math.ceil(planes / perChunk));
  p = e.job(KIND_WINOGRAD);
  p[1] = xp + padBytes; p[2] = threadBytes; // per-thread blocks sized for this layer, not the shared thread scratch
  p[3] = xp; p[4] = C; p[5] = Hp; p[6] = Wp; p[7] = tilesY; p[8] = tilesX; p[9] = g.outH; p[10] = g.outW;
  p[11] = M; p[12] = packed.weights; p[13] = yAt; p[14] = packed.bias;
  p[15] = reluSlope === undefined ? 0 : 1;
  e.setFloat(p, 16, reluSlope ?? 0);
  p[17] = groups; p[18] = nt; p[19] = blocks; p[20] = KC; p[21] = rowsPer; p[22] = Math.ceil(M / rowsPer);
  e.run(images * blocks * p[22]);
  e.unstage(y, yAt);
}
