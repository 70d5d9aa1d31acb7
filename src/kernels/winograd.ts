// Winograd F(2x2, 3x3) and F(4x4, 3x3) convolution on the wasm engine (assembly/winograd.ts): 3x3, stride 1,
// dilation 1, any pad, groups (larger kernels as sums of 3x3 blocks; strided ones on their space-to-depth, whose
// 4x4 kernels take F(3x3, 4x4), or F(5x5, 4x4) with CREMA_WINOGRAD=5). The filter is transformed once (U = G g G^T, (m + 2)^2 values per 3x3 filter) and
// packed as that many GEMM A matrices per group (on 13 x 13 planes, where a large U is not kept, made again in each
// forward: uPerForward); a forward is two parallel jobs, a zero-bordered copy of the
// input and then blocks of tiles (input transform, GEMMs, output transform with bias and ReLU). The im2col path
// (packed.ts) and the TypeScript kernels stay the reference (test/wasm-kernels.test.ts compares all three).

import type { ConvGeometry } from './im2col.js';
import { type PackedConv, moveWeights, packBias } from './packed.js';
import type { Tensor } from '../tensor.js';
import { KC, KIND_WINOGRAD, KIND_WINOGRAD_FILTERS, KIND_WINOGRAD_PAD, MR, NR, type WasmEngine } from './wasm.js';

const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/**
 * Outputs a tile across: F(2x2, 3x3), F(4x4, 3x3), F(3x3, 4x4) (blocks of 4x4: the same 6 points as F(4x4, 3x3)),
 * F(6x6, 3x3) (3x3 kernels only: F(4x4, 5x5)'s 8 points, assembly/winograd5.ts), F(5x5, 4x4) (a 4x4 kernel on a
 * space-to-depth, the same 8 points); 24: F(2x4, 3x3), 2 rows x 4 columns (3x3 kernels on small planes only:
 * twoByFour).
 */
export type WinogradTileSize = 2 | 3 | 4 | 5 | 6 | 24;

/** Transformed values per tile and block, and the kernel blocks' size (3x3, or 4x4 for F(3x3, 4x4) and F(5x5, 4x4)). */
const points = (m: WinogradTileSize): number => (m === 2 ? 16 : m === 5 || m === 6 ? 64 : m === 24 ? 24 : 36);
const blockSize = (m: WinogradTileSize): number => (m === 3 || m === 5 ? 4 : 3);

/** A convolution's weights transformed for Winograd F(tile x tile, 3x3) (F(3x3, 4x4) for tile 3, F(5x5, 4x4) for 5 on a 4x4 kernel). */
export interface PackedWinograd extends PackedConv {
  tile: WinogradTileSize;
  /** The kernel's 3x3 (4x4) blocks down and across (depth = input channels x both); 1 x 3 / 3 x 1 blocks for 1-D. */
  subH: number;
  subW: number;
  /** 0: 2-D tiles; 1-D F(4, 3) for a K x 1 kernel (1: tiles of 4 x 1 outputs) or a 1 x K one (2: 1 x 4). */
  dir: 0 | 1 | 2;
  /**
   * Values per tile where not points(tile) per block: 1-D 6 (F(4, 3) on 1 x 3 blocks) or 10 (F(4, 7), the whole
   * 7-tap kernel); 64 for F(4x4, 5x5), the whole 5x5 kernel, F(6x6, 3x3), F(5x5, 4x4) and F(2x2, 7x7); 80 for F(2x4, 7x7)
   * (tile 4: 2 rows x 4 columns; subH = subW = 1 for the whole kernels); else 0.
   */
  values: number;
  /**
   * 0: U was made at load (`weights` is U). Else F(4x4, 3x3) with U made in every forward from the weights as
   * Caffe stores them (`weights`; the tensor views them: they are not kept twice), this many filters at a time
   * (winogradMadeU).
   */
  uRows: number;
}

/**
 * Which Winograd a convolution runs, 0 for none: its geometry (stride 1, dilation 1, a kernel of 3 to 9 each way:
 * larger than 3x3 runs as the sum of its 3x3 blocks, e.g. 5x5 as four, 7x7 as nine) and enough input channels
 * that the GEMMs beat one im2col GEMM (MIN_CHANNELS; any number of output channels); a K x 1 or 1 x K kernel takes
 * 1-D F(4, 3) (oneD; F(4, 7) for 7 taps: oneDPoints), reported as 4; a 5x5 F(4x4, 5x5) (whole5); a 7x7 F(2x4, 7x7),
 * reported as 4 (whole7: '2' runs F(2x2, 7x7), and neither runs the 3x3 blocks); a 3x3 on a large plane F(6x6, 3x3)
 * (bigPlane); a 3x3 on a small plane (7 x 7 to 12 x 12) F(2x4, 3x3), reported as 24 (twoByFour). `setting` is
 * CREMA_WINOGRAD: '0' none, '2', '4', '6' or '24' F(2x2, 3x3), F(4x4, 3x3), F(6x6, 3x3) or F(2x4, 3x3) only (6, 24:
 * larger kernels F(4x4)), '5' F(5x5, 4x4) for a strided layer's 4x4 kernel (fourTile; else as unset); unset: the
 * cheaper by tileCost (planes under MIN_F4_OUTPUTS / MIN_F4_TILES_LARGE at batch `num` > 1: by batchF4).
 */
export function winogradTile(g: ConvGeometry, rows: number, setting: string | undefined, num = 1): 0 | WinogradTileSize {
  if (g.strideH > 1 || g.strideW > 1) return stridedTile(g, rows, setting, num);
  if (oneD(g) !== 0) return setting === '0' || g.channels < MIN_LINE_CHANNELS || rows < MIN_LINE_CHANNELS ? 0 : 4;
  const fits = g.kernelH >= 3 && g.kernelH <= 9 && g.kernelW >= 3 && g.kernelW <= 9 && g.strideH === 1 && g.strideW === 1 && g.dilationH === 1 && g.dilationW === 1 &&
    g.channels >= MIN_CHANNELS;
  if (!fits || setting === '0') return 0;
  if (setting === '6') return f6(g) ? 6 : 4;
  if (setting === '2' || setting === '4') return Number(setting) as 2 | 4;
  if (setting === '24') return g.kernelH === 3 && g.kernelW === 3 ? 24 : 4;
  if (whole5(g, 4)) return uFits(g, rows, 4) ? 4 : 0; // F(4x4, 5x5) on every plane: see whole5
  if (whole7(g, 2)) return uFits(g, rows, 4) ? 4 : uFits(g, rows, 2) ? 2 : 0; // F(2x4, 7x7) on every plane: see whole7
  if (f6(g) && bigPlane(g, rows) && uFits(g, rows, 6)) return 6;
  const small = g.kernelH > 3 || g.kernelW > 3 ? tiles(g, 4) < MIN_F4_TILES_LARGE : g.outH * g.outW < MIN_F4_OUTPUTS;
  if (small && twoByFour(g, num) && uFits(g, rows, 24)) return 24;
  const f4 = (num > 1 && small ? batchF4(g) : small ? g.kernelH === 3 && g.kernelW === 3 && smallF4(g) : tileCost(g, 4) < tileCost(g, 2)) && uFits(g, rows, 4);
  return f4 ? 4 : uFits(g, rows, 2) ? 2 : 0;
}

/**
 * A strided convolution (stride s, a K x K kernel) is a stride-1 one with a ceil(K / s) kernel on the input's
 * space-to-depth: input channel (c, p, q) is x[c, s u + p, s v + q] (Caffe's zero padding included), weight
 * W'[o, (c, p, q), a, b] = w[o, c, s a + p, s b + q] (zero past the kernel). Of stride-1 geometry: channels
 * C sh sw, kernel ceil(kh / sh) x ceil(kw / sw), no pad, the same output; its input is the output plus the kernel
 * less one (the rows and columns of the padded input past that feed no output). Undefined when it is not Winograd's
 * (dilation, a kernel not above the stride).
 */
export function spaceToDepth(g: ConvGeometry): ConvGeometry | undefined {
  if (g.dilationH !== 1 || g.dilationW !== 1) return undefined;
  const kernelH = Math.ceil(g.kernelH / g.strideH), kernelW = Math.ceil(g.kernelW / g.strideW);
  return { channels: g.channels * g.strideH * g.strideW, height: g.outH + kernelH - 1, width: g.outW + kernelW - 1, kernelH, kernelW, padH: 0, padW: 0,
    strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, outH: g.outH, outW: g.outW };
}

/**
 * The tile of a strided convolution run as Winograd on its space-to-depth (spaceToDepth), 0 for im2col: only
 * where Winograd's multiply-adds (points / m^2 per block of the new kernel, s^2 as many channels) are at most
 * winogradLimits.stridedMacs of the kernel's taps. AlexNet's conv1 (11x11, stride 4: 48 channels, 3x3 on
 * 57 x 57) takes F(4x4) at 0.30 of im2col's multiply-adds; a 7x7 stride 2 (ResNet-50's, GoogLeNet's conv1: 12
 * channels, a 4x4 kernel) F(3x3, 4x4) at 0.33 (fourTile; F(5x5, 4x4) 0.21; as four 3x3 blocks it was 0.73 in F(4x4), 1.31 in F(2x2)); a 3x3
 * stride 2 has a 2x2 kernel, not Winograd's (docs/PERFORMANCE.md, round five).
 */
function stridedTile(g: ConvGeometry, rows: number, setting: string | undefined, num: number): 0 | WinogradTileSize {
  const s = spaceToDepth(g);
  if (!s || s.kernelH < 3 || s.kernelW < 3 || !stridedWork(s.channels, rows)) return 0;
  const four = s.kernelH === 4 && s.kernelW === 4 && setting !== '0' && s.channels >= MIN_F3_CHANNELS;
  // F(6x6) and F(2x4) not measured there (a strided layer's small plane kept F(2x2))
  const stride1 = winogradTile(s, rows, setting, num), m = four ? fourTile(s, setting) : stride1 === 6 ? 4 : stride1 === 24 ? 2 : stride1;
  const macs = m && (g.strideH * g.strideW * points(m) * Math.ceil(s.kernelH / blockSize(m)) * Math.ceil(s.kernelW / blockSize(m))) / (m * m);
  return m && macs <= winogradLimits.stridedMacs * g.kernelH * g.kernelW ? m : 0;
}

/** F(5x5, 4x4) or F(3x3, 4x4) from 12 channels: a 3-channel 7x7 stride 2 (ResNet-50's conv1) has 12 on its space-to-depth. */
const MIN_F3_CHANNELS = 12;

/**
 * The tile of a 4x4 kernel on a space-to-depth: F(3x3, 4x4); with CREMA_WINOGRAD=5, F(5x5, 4x4) (the 8 points of
 * F(6x6, 3x3), assembly/winograd5.ts: 64 values per 25 outputs, 2.56 multiply-adds an output and channel) where its
 * tiles cover the plane in no more values than F(3x3, 4x4)'s (36 per 9: 4). F(5x5) took 0.81-0.82x F(3x3)'s CPU time
 * on ResNet-50's conv1 (3 -> 64 at 224; docs/PERFORMANCE.md, round fifty-three), but errs 3x more (Caffe's blobs:
 * 5.4e-6 against 1.6e-6 of ResNet-50's pool1), and a net's first layer carries that error through every later one:
 * FPN's cls_prob (test/fpn.test.ts, synthetic weights at 64 x 64) left the 1e-4 tolerance against ONNX Runtime
 * (1.5e-4), so it is not the default.
 */
function fourTile(s: ConvGeometry, setting: string | undefined): 3 | 5 {
  return setting === '5' && 64 * tiles(s, 5) <= 36 * tiles(s, 3) ? 5 : 3;
}

/**
 * Whether a strided convolution has the channels for Winograd on its space-to-depth: 12 or more in and 16 out, or
 * fewer out where the channels in make up for it (channels x rows >= MIN_STRIDED_WORK). Its gather pass is paid
 * per input channel whatever the rows, so few of both lose (one layer, 1 thread, against im2col: 7x7 stride 2
 * 3 -> 8, 12 x 8 on its space-to-depth, 0.97-1.20x; 5x5 stride 2 3 -> 8 1.00-1.14x), where more of either wins
 * (3 -> 16: 7x7 stride 2 0.79x, 5x5 stride 2 0.87x; 11x11 stride 4 3 -> 8, 48 x 8: 0.24-0.30x; 7x7 stride 2
 * 64 -> 8, 256 x 8: 0.46-0.49x).
 */
function stridedWork(channels: number, rows: number): boolean {
  return (channels >= MIN_F3_CHANNELS && rows >= 16) || channels * rows >= MIN_STRIDED_WORK;
}

const MIN_STRIDED_WORK = 256;

/**
 * 1-D Winograd F(4, 3) (6 values per 1 x 3 block, 1.5 multiply-adds an output instead of 3) for a K x 1 (1) or
 * 1 x K (2) kernel, K = 3 to 9, stride 1, dilation 1 (Inception-v3's 1x3 / 3x1; 7 taps take F(4, 7): oneDPoints);
 * 0 for other kernels. '2' and '4' of CREMA_WINOGRAD leave it on.
 */
function oneD(g: ConvGeometry): 0 | 1 | 2 {
  if (g.strideH !== 1 || g.strideW !== 1 || g.dilationH !== 1 || g.dilationW !== 1) return 0;
  if (g.kernelW === 1 && g.kernelH >= 3 && g.kernelH <= 9) return 1;
  return g.kernelH === 1 && g.kernelW >= 3 && g.kernelW <= 9 ? 2 : 0;
}

/**
 * A 7-tap 1-D kernel runs F(4, 7) (assembly/winograd7.ts): 10 GEMMs of C rows where F(4, 3) on its 1 x 3 blocks
 * ran 6 of 3 C (Inception-v3's 1x7 / 7x1: 2.5 multiply-adds per output instead of 4.5); other lengths F(4, 3).
 */
const oneDPoints = (g: ConvGeometry): number => (g.kernelH * g.kernelW === 7 ? 10 : 6);

/**
 * A 5x5 kernel in F(4x4) runs F(4x4, 5x5) (assembly/winograd5.ts): 64 values per 4 x 4 tile, 4 multiply-adds an
 * output where F(4x4, 3x3) on its four 3x3 blocks made 9 and F(2x2, 3x3) on them 16, and U 2.56x the weights, as
 * much as F(2x2)'s blocks (F(4x4)'s blocks: 5.8x). It took 0.35-0.71x the time of the tile chosen before on every
 * plane from 7 x 7 to 35 x 35 (AlexNet's conv2 at 27 x 27: 0.35x F(2x2)'s, 0.58x F(4x4) blocks'; docs/PERFORMANCE.md,
 * round five), so 5x5 kernels take it on every plane and batch.
 */
function whole5(g: ConvGeometry, m: number): boolean {
  return m === 4 && g.kernelH === 5 && g.kernelW === 5;
}

/**
 * A 7x7 kernel runs whole. Tile 2: F(2x2, 7x7) (assembly/winograd5.ts, m = 2): the 8 points of F(4x4, 5x5), so the
 * same B^T d B on 8 x 8 patches 2 apart, G 8 x 7 and A^T 2 x 8: 64 values per 2 x 2 tile, 16 multiply-adds an output
 * where F(4x4, 3x3) on the kernel's nine 3x3 blocks made 20.25 (324 values per 4 x 4 tile), and U 1.31x the
 * weights instead of 6.6x. Tile 4 (the choice, on every plane): F(2x4, 7x7) (assembly/winograd27.ts), tiles of 2
 * rows x 4 columns, those 8 points down and F(4, 7)'s 10 across: 80 values per 8 outputs, 10 multiply-adds an
 * output, U 1.63x the weights (OpenPose's 50 7x7 layers: 0.29 GB of U, 1.15 with the blocks). It took 0.62-0.65x
 * F(2x2, 7x7)'s time on OpenPose's stages (0.83x the blocks'), and errs ~5x more: 3e-5 - 4.5e-5 of the output's
 * range against a float64 sum, OpenPose against Caffe 1.5e-5 (F(2x2, 7x7) 4.5e-6; docs/PERFORMANCE.md, round nine).
 * A whole F(4x4, 7x7) (10 points each way) would err ~1.3e-4 (simulated), past the tolerance.
 */
function whole7(g: ConvGeometry, m: number): boolean {
  return (m === 2 || m === 4) && g.kernelH === 7 && g.kernelW === 7;
}

/** Values per tile of a whole-kernel 7x7: F(2x2, 7x7) 64, F(2x4, 7x7) 80 (assembly/winograd27.ts; tile 4). */
const whole7Values = (m: number): number => (m === 4 ? 80 : 64);

/** F(6x6, 3x3) runs 3x3 kernels (the whole kernel: 64 values a tile), nothing larger. */
function f6(g: ConvGeometry): boolean {
  return g.kernelH === 3 && g.kernelW === 3;
}

/**
 * Where F(6x6, 3x3) is taken over F(4x4, 3x3) (docs/PERFORMANCE.md, rounds six and twenty-nine): its 64 values a
 * tile against 36 cover the plane with at most F6_WORK of F(4x4)'s values (not where 6 x 6 tiles pad much more of it:
 * 56 x 56, 28 x 28), and U (1.8x F(4x4)'s), which every block of tiles reads, pays for itself: C x M up to F6_MAX_CM
 * from 64 x 64 outputs (Inception-v3's conv2..4; its 80 -> 192 at 71 x 71 0.83x F(4x4)'s time, VGG-16's 256 channels
 * at 56 x 56 1.17x), any C x M from F6_LARGE_OUTPUTS (VGG-16's and OpenPose's first layers, the SSD's at 300 x 300,
 * HED's and FCN's: 0.81-0.95x F(4x4)'s time at 1 and 2 threads from 64 to 256 channels on 112 x 112 to 480 x 480), and
 * layers of F6_LAYER_CM channels or more (their GEMMs most of their time) with up to F6_LAYER_WORK in at least
 * F6_LAYER_TILES tiles (OpenPose's conv3 and conv4: 128 -> 256 and 256 -> 256 at 92 x 92, 0.86 of the values, 0.89-0.91x;
 * 256 -> 512, 512 -> 512 and 512 -> 256 at 46 x 46 0.78-0.86x), and from F6_MID_CM with up to F6_MID_WORK (OpenPose's
 * stage 1, 128 -> 128 at 46 x 46: 0.88x at one and two threads, in the net too; PSPNet's 128 -> 128 at 60 x 60
 * 0.93-0.95x; 64 -> 256 and 256 -> 64 at 46 x 46 0.83-0.93x; 96 -> 192 at 71 x 71 0.84x; but 128 -> 128 at 64 x 64, 0.84
 * of the values, 1.0x at one thread and 1.05-1.08x at two, at 80 x 80 and 92 x 92 0.98-1.0x and 0.91-0.94x). Fewer tiles
 * do not part between two threads: 40 x 40's 49 (37 to 42 outputs a side) ran as one block in two row blocks, each
 * thread transforming every tile's inputs, or as 32 + 17 tiles, each reading all of U (128 -> 128, 128 -> 256,
 * 256 -> 256: 1.39x, 1.16x, 1.09x F(4x4)'s time at two threads; 512 -> 512 0.99x; 0.94-0.99x at one thread;
 * docs/PERFORMANCE.md, round thirty).
 */
function bigPlane(g: ConvGeometry, rows: number): boolean {
  const six = tiles(g, 6), work = (64 * six) / (36 * tiles(g, 4));
  const outputs = g.outH * g.outW, cm = g.channels * rows, { f6Work } = winogradLimits;
  // (Past F6_LAYER_CM the rule below takes nothing this one does not: 112 x 112 is 19 x 19 tiles, F6_WORK < F6_LAYER_WORK.)
  const layerWork = cm >= F6_LAYER_CM ? F6_LAYER_WORK : F6_MID_WORK;
  if (cm >= F6_MID_CM && six >= F6_LAYER_TILES && work <= f6Work + layerWork - F6_WORK) return true;
  return work <= f6Work && outputs >= F6_MIN_OUTPUTS && (cm <= F6_MAX_CM || outputs >= F6_LARGE_OUTPUTS);
}

/**
 * Smaller planes read U (64 C x M floats) for too few tiles: Inception-v3's 64 -> 96 at 35 x 35 measured 0.87 to
 * 1.09x F(4x4)'s time in four runs, its 71 x 71 and 147 x 147 layers 0.66-0.94x.
 */
const F6_MIN_OUTPUTS = 64 * 64;
const F6_MAX_CM = 80 * 192;
const F6_LARGE_OUTPUTS = 112 * 112;
const F6_LAYER_CM = 128 * 256;
const F6_LAYER_TILES = 64;
const F6_LAYER_WORK = 0.88;
const F6_MID_CM = 128 * 128;
const F6_MID_WORK = 0.8;

/**
 * Whether U, (m + 2)^2 floats per 3x3 block of each filter, stays within 7x the weights (F(4x4) of 3x3: 4x, of
 * 5x5 and 7x7: 5.8x and 6.6x, of 4x4: 9x) and 64 MiB a layer per group (FCN's fc6, a 7x7 convolution of
 * 512 -> 4096 channels, would need 1.2 GB). F(4x4) of 5x5 and 7x7 takes 0.53-0.74x F(2x2)'s time (AlexNet
 * conv2, OpenPose's stages: docs/PERFORMANCE.md, round four) for 2.25x its U: OpenPose's 50 7x7 layers hold
 * 1.15 GB of U instead of 0.51.
 */
function uFits(g: ConvGeometry, rows: number, m: WinogradTileSize): boolean {
  const u = whole5(g, m) ? 64 : whole7(g, m) ? whole7Values(m) : points(m) * Math.ceil(g.kernelH / blockSize(m)) * Math.ceil(g.kernelW / blockSize(m)), weights = g.kernelH * g.kernelW;
  return (u <= 7 * weights || m === 6) && u * rows * g.channels * 4 <= MAX_U_BYTES;
}

const MAX_U_BYTES = 64 << 20;

/**
 * F(4x4)'s U is 36/16 of F(2x2)'s. On 14 x 14 planes (ResNet-50's res4, GoogLeNet's inception 4) it takes
 * 0.65-0.69x F(2x2)'s time; smaller planes keep F(2x2) but for 13 x 13 (smallF4: the same 4 x 4 tiles, 0.66-0.72x),
 * whose large U is made per forward (uPerForward: AlexNet's conv3..5 holding it would be 16.9 MiB more, past
 * goal 4's 1.3x the caffemodel; docs/PERFORMANCE.md, rounds five and six).
 */
const MIN_F4_OUTPUTS = 14 * 14;

/**
 * A 3x3 layer on a plane under MIN_F4_OUTPUTS still takes F(4x4) where its GEMMs (whole strips of NR tiles) are
 * at most SMALL_F4_GEMMS of F(2x2)'s: 13 x 13 (16 tiles of 4 x 4, 49 of 2 x 2 in 56 columns: 0.64) took 0.64-0.70x
 * F(2x2)'s time (SqueezeNet's 48 -> 192 and 64 -> 256, AlexNet's conv3..5); 12 x 12 (0.9) and 7 x 7 keep F(2x2).
 * Where its U would be large, U is made per forward (uPerForward).
 */
function smallF4(g: ConvGeometry): boolean {
  return 36 * roundUp(tiles(g, 4), NR) <= SMALL_F4_GEMMS * 16 * roundUp(tiles(g, 2), NR);
}

const SMALL_F4_GEMMS = 0.7;

/**
 * F(2x4, 3x3) (assembly/winograd24.ts) on a 3x3 layer's plane under MIN_F4_OUTPUTS that would keep F(2x2) (not
 * smallF4, nor batchF4 at batch > 1), where its GEMMs (24 of columns(tiles of 2 x 4)) are at most TWO_BY_FOUR_GEMMS of
 * F(2x2)'s (16 of columns(its tiles)): 7 x 7 and 8 x 8 (8 tiles, one strip: 192 against 256, 0.75), 9 x 9 and 10 x 10
 * (0.94), 11 x 11 and 12 x 12 (0.75); not 6 x 6 and smaller (1.26). One layer against F(2x2), one thread (round
 * fifty-three, load 8): 512 -> 512 at 7 x 7 (ResNet-50's res5) 0.76-0.81x, GoogLeNet's inception_5a/5b 0.78-0.80x,
 * 448 -> 384 at 8 x 8 (Inception-v3's c blocks) 0.63x, 128 channels at 9 x 9 and 10 x 10 0.88-0.93x, 12 x 12 0.87x
 * (256) and 0.93-0.95x (64); 256 at 6 x 6 1.08x.
 */
function twoByFour(g: ConvGeometry, num: number): boolean {
  if (g.kernelH !== 3 || g.kernelW !== 3 || smallF4(g) || (num > 1 && batchF4(g))) return false;
  const pairs = Math.ceil(g.outH / 2) * Math.ceil(g.outW / 4);
  return 24 * columns(pairs) <= TWO_BY_FOUR_GEMMS * 16 * columns(tiles(g, 2));
}

const TWO_BY_FOUR_GEMMS = 0.95;
/**
 * The same for kernels larger than 3x3, whose F(4x4) U is 5.8x (5x5) to 6.6x (7x7) the weights: from 7 x 7 tiles
 * of 4 x 4 outputs (25 x 25 to 28 x 28: GoogLeNet's and Inception-v3's 5x5, OpenPose's 7x7 stages, AlexNet's and
 * CaffeNet's conv2, 5x5 at 27 x 27: 0.74x F(2x2)'s time, +3.8 MiB of U, within goal 4 since the filter transform
 * stopped leaving holes in the scratch: docs/PERFORMANCE.md, round five). Smaller planes (GoogLeNet's 5x5 at 14 x
 * 14: 4 x 4 tiles) keep F(2x2).
 */
const MIN_F4_TILES_LARGE = 7 * 7;

/** Tiles of m x m outputs that cover the output plane. */
function tiles(g: ConvGeometry, m: number): number {
  return Math.ceil(g.outH / m) * Math.ceil(g.outW / m);
}

/**
 * Time of F(m x m, 3x3) per image, in units of C x M: (m + 2)^2 products per tile (tiles cover the plane in
 * whole m x m blocks) at ~0.05 ns per multiply-add, plus reading U ((m + 2)^2 C x M floats) at ~0.4 ns per
 * float. The second term is why small planes (7 x 7: 4 tiles of 4 x 4, most of them padding) keep F(2x2).
 */
function tileCost(g: ConvGeometry, m: number): number {
  return (m + 2) ** 2 * (tiles(g, m) + 8);
}

/**
 * Planes below MIN_F4_OUTPUTS at batch > 1 (AlexNet's memory, goal 4, is a batch-1 figure): F(4x4) on 13x13 and
 * 14x14 with 96 to 512 input channels took 0.61-0.88 of F(2x2)'s CPU time at batch 8 (docs/PERFORMANCE.md,
 * "Batch"), with 32-64 channels 1.04-1.33; 7x7 and 8x8 are 4 tiles of 4x4 in a block NR tiles wide (1.31).
 */
function batchF4(g: ConvGeometry): boolean {
  return g.channels >= MIN_F4_BATCH_CHANNELS && 36 * roundUp(tiles(g, 4), NR) < 16 * roundUp(tiles(g, 2), NR);
}

const MIN_F4_BATCH_CHANNELS = 96;

/**
 * Below this many input channels per group, im2col's longer K wins (a 3-channel first layer: VGG-16's conv1_1 at
 * 224 x 224 1.19x im2col's time in F(4x4); 4 -> 64 at 56 x 56 0.89-0.97x; 8 and 12 channels 0.44-0.62x). Output
 * channels set no limit: GEMM rows come in strips of four (MR) either way, and im2col's columns (9 C x the
 * plane, written and read again) cost most where few rows use them: the SSD face detector's 3x3 heads, 128 -> 8
 * on 38 x 38 and 256 -> 12 on 19 x 19, took 1.70 / 0.91 ms as im2col, 0.45 / 0.33 in F(4x4); one output channel
 * 1.47 -> 0.35, 5x5 and 7x7 kernels with 1 to 8 outputs 0.17-0.30x (docs/PERFORMANCE.md, round twenty-five).
 */
const MIN_CHANNELS = 8;
/**
 * 1-D kernels (K x 1, 1 x K) take F(4, 3) from 16 channels in and out: with 8 in it ran as fast as im2col (1.00x),
 * with 4 or 8 out from 0.47x (7 x 1) to 0.86-1.26x (1 x 7) in two runs: not a rule to change on that.
 */
const MIN_LINE_CHANNELS = 16;

/**
 * U = G g G^T per 3x3 block of each filter (blocks past the kernel's edge are zero), packed as A matrices
 * (rows x K, K = C x blocks, column s C + c for block s of input channel c) for "group" g * n + xi
 * (n = (m + 2)^2 positions, xi = (m + 2) r + c): the layout winogradChunk reads. Computed by a wasm job
 * (winogradFiltersChunk) straight into wasm memory: no JavaScript copy of U (16/9 to 7x the weights). Undefined,
 * with nothing allocated, when the kernels' memory cannot hold U.
 */
export function packWinogradWeights(e: WasmEngine, owner: object, w: Float32Array, bias: Float32Array | undefined, groups: number, rows: number, g: ConvGeometry, m: WinogradTileSize): PackedWinograd | undefined {
  if (g.strideH > 1 || g.strideW > 1) [w, g] = [stridedWeights(w, g), spaceToDepth(g)!];
  const dir = oneD(g), values = dir ? oneDPoints(g) : whole7(g, m) ? whole7Values(m) : whole5(g, m) || m === 5 || m === 6 ? 64 : m === 24 ? 24 : 0, n = values || points(m), { channels: C, kernelH: kh, kernelW: kw } = g;
  const whole = values === 10 || values === 64 || values === 80, subH = whole ? 1 : Math.ceil(kh / blockSize(m)), subW = whole ? 1 : Math.ceil(kw / blockSize(m));
  const K = C * subH * subW, rowsPad = roundUp(rows, MR);
  const ptr = e.heap.tryAlloc(groups * n * rowsPad * K * 4);
  if (!ptr) return undefined; // no room: the caller runs im2col
  // The weights go through a block taken for this job and released right after, on top of U: the next layer's U
  // or weights reuse its pages. Through the shared scratch they left holes as it grew layer by layer (AlexNet:
  // 1.4 MiB, and 4.2 MiB more when the first forward's scratch outgrew it: resident, never used again).
  e.job(KIND_WINOGRAD_FILTERS); // the threads' scratch, if not made yet, goes below it
  const src = e.heap.tryAlloc(w.length * 4);
  if (!src) {
    e.heap.release(ptr);
    return undefined;
  }
  const blocks = [e.own(owner, ptr)];
  e.f32.set(w, src / 4);
  // Chunks of whole strips of MR filters: each writes its strips' runs of U, the rows past `rows` as zeros.
  const strips = (groups * rowsPad) / MR, per = Math.ceil(strips / e.chunkCount(strips));
  const p = e.job(KIND_WINOGRAD_FILTERS);
  p[3] = src; p[4] = C; p[5] = kh; p[6] = kw; p[7] = rows; p[8] = per; p[9] = m; p[10] = subW; p[11] = subH;
  p[12] = rowsPad; p[13] = KC; p[14] = ptr; p[15] = strips; p[16] = dir; p[17] = values;
  try {
    e.run(Math.ceil(strips / per));
  } finally {
    e.heap.release(src);
  }
  return { weights: ptr, bias: packBias(e, owner, bias, blocks), rows, depth: K, tile: m, subH, subW, dir, values, uRows: 0, blocks };
}

/**
 * Whether F(4x4)'s U is made in every forward rather than at load (winogradMadeU): a 3x3 layer on a small plane at
 * batch 1 (smallF4) whose U would be more than MADE_U_BYTES. AlexNet's and CaffeNet's conv3 and conv4 (U 13.5 and
 * 10.1 MiB, 16.9 MiB with conv5's: goal 4's memory) make it; conv5 (6.75 MiB) and SqueezeNet's 13 x 13 layers
 * (1.3-2.4 MiB) keep theirs. CREMA_WINOGRAD=4 keeps every U (the A/B of the two). `groups` x `rows` filters;
 * `tile`: winogradTile's answer for the same arguments, when the caller has it.
 */
export function uPerForward(g: ConvGeometry, rows: number, groups: number, setting: string | undefined, num: number, tile = winogradTile(g, rows, setting, num)): boolean {
  if (setting !== undefined || num !== 1 || g.kernelH !== 3 || g.kernelW !== 3 || g.outH * g.outW >= MIN_F4_OUTPUTS) return false;
  return tile === 4 && 36 * groups * rows * g.channels * 4 > winogradLimits.madeUBytes;
}

/** See uPerForward (tests lower it to make U per forward on small layers). */
const MADE_U_BYTES = 8 << 20;

/**
 * Filters whose U winogradChunk makes at a time per forward (36 x uRows x KC floats a thread: 1.2 MiB). Each group
 * of filters reads the K block's transformed inputs again: colorization's conv8_1 as phases (1024 rows, 56 tiles)
 * took 54.1 ms with 16, 49.2 with 32, 50.3 with 64 (47 with U kept); CaffeNet's conv3 / conv4 the same (0.99 /
 * 1.01), their bits too.
 */
const MADE_U_ROWS = 32;

/**
 * F(4x4, 3x3) with U made in every forward (uPerForward): the weights move into wasm memory as Caffe stores them
 * (their tensor then views them, as a fully connected layer's do), and only the bias is packed. Making U (in
 * float32, assembly/winograd.ts filtersStrip) took ~0.17x the layer's GEMMs on AlexNet's conv3..5.
 */
export function winogradMadeU(e: WasmEngine, owner: object, weights: Tensor, bias: Float32Array | undefined, rows: number, channels: number): PackedWinograd {
  return { weights: moveWeights(e, weights), bias: packBias(e, owner, bias), rows, depth: channels, tile: 4, subH: 1, subW: 1, dir: 0, values: 0, uRows: MADE_U_ROWS };
}

/** W' of spaceToDepth: W'[o, (c, p, q), a, b] = w[o, c, s a + p, s b + q], zero past the kernel (done once, at load). */
function stridedWeights(w: Float32Array, g: ConvGeometry): Float32Array {
  const { channels: C, kernelH: kh, kernelW: kw, strideH: sh, strideW: sw } = g, s = spaceToDepth(g)!;
  const a = s.kernelH, b = s.kernelW, filters = w.length / (C * kh * kw), out = new Float32Array(filters * C * sh * sw * a * b);
  for (let o = 0; o < filters * C; o++) { // (filter, input channel) pairs: both layouts keep them in this order
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        const channel = (o * sh + (y % sh)) * sw + (x % sw); // (o, c, p, q) flattened
        out[(channel * a + Math.floor(y / sh)) * b + Math.floor(x / sw)] = w[(o * kh + y) * kw + x];
      }
    }
  }
  return out;
}

/**
 * Scratch a thread may use for one block of tiles (one K block's transformed inputs, and the GEMM results): 4 MiB,
 * past the 1-2 MiB of L2 (both are written once and read once, from L3), because every block of tiles reads all of
 * U and a block of fewer tiles pads more of them to whole strips (round four: 2 -> 4 MiB took AlexNet conv2 (5x5)
 * from 3 blocks to 1, 0.86x; 8 MiB gained ~10 % more on VGG-16's 28 x 28 but put AlexNet's scratch up by 6 MiB).
 */
const BLOCK_BYTES = 4 << 20;
/**
 * Blocks within 1 MiB (about L2) instead where a group's U is at most 1 MiB, so that reading it once per block
 * costs little: with 4 MiB blocks the 36 GEMM results of a block (M x nt floats each) come back from L3 to the
 * output transform. One layer, CPU time of 1 MiB / 4 MiB blocks (load 7.5): ResNet-50's 64-channel 3x3 at 56 x 56
 * 0.86, SqueezeNet's 16 -> 64 at 55 x 55 0.93, AlexNet's conv1 0.88, ResNet-50's conv1 0.86; where U is larger
 * (ResNet-50's 128-channel 3x3 at 28 x 28: 2.4 MB) more blocks took 1.06-1.20 (docs/PERFORMANCE.md, round five).
 */
const SMALL_U_BLOCK_BYTES = 1 << 20;
/**
 * Half that for F(6x6, 3x3) on at most STEM_CHANNELS input channels (Inception-v3's stem: conv2_3x3_s1, 32 -> 32 at
 * 149 x 149, and conv3_3x3_s1, 32 -> 64 at 147): its block's 64 GEMM results dwarf its transformed inputs, and
 * with U (0.26-0.52 MB) they fit L2 at 512 KiB, not at 1 MiB. CPU time of one layer, 512 KiB / 1 MiB blocks
 * alternated (load 9-13, round fifty-two): 0.95-0.98 and 0.93-0.97; VGG-16's conv1_2 (64 -> 64 at 224) 1.01-1.02,
 * SqueezeNet's and ResNet-50's F(4x4) shapes 0.99-1.12, so only these.
 */
const STEM_BLOCK_BYTES = 1 << 19;
const STEM_CHANNELS = 32;
/** Floats of skew between the transformed matrices in thread scratch (SKEW in assembly/winograd.ts). */
const SKEW = 16;
/** Thread scratch before the transformed inputs (SCRATCH_HEAD in assembly/winograd.ts). */
const SCRATCH_HEAD = 128 + 88 * 16;

/**
 * Convolution of `num` images (x: num x groups*C x H x W) into y (num x groups*rows x OH x OW). False (y then
 * holds nothing of use: the caller writes all of it) when x holds a NaN or an infinity: the transforms would spread it over whole tiles (Inf - Inf), where
 * Caffe has it only in the outputs whose window holds it; the caller runs the im2col path then.
 */
export function winogradWasm(e: WasmEngine, packed: PackedWinograd, source: ConvGeometry, groups: number, num: number, x: Float32Array, y: Float32Array, reluSlope: number | undefined): boolean {
  const fit = imagesAtOnce(packed, source, groups);
  if (num > fit) return inImageGroups(num, fit, x, y, (k, xs, ys) => winogradWasm(e, packed, source, groups, k, xs, ys, reluSlope));
  const { g, C, M, images, dir, tilesY, tilesX, Hp, Wp, nt, blocks, rowsPer, padBytes, threadBytes } = winogradPlan(packed, source, groups, num, e.activeThreads());
  const m = packed.tile;
  const threads = e.pool.size + 1;
  // xp: the zero-bordered copy of x, then each thread's block scratch (resident x and y are used in place).
  const { xAt, yAt, extra: xp } = e.stage(x, y, padBytes + threads * threadBytes);
  // A stride-4 space-to-depth gathers four phases' planes at once (gatherFour): chunks of whole fours.
  const planes = images * C, perChunk = roundUp(Math.ceil(planes / e.chunkCount(planes)), source.strideW === 4 ? 4 : 1);
  let p = e.job(KIND_WINOGRAD_PAD);
  p[3] = xAt; p[4] = planes; p[5] = source.height; p[6] = source.width; p[7] = Hp; p[8] = Wp; p[9] = source.padH; p[10] = source.padW;
  p[11] = xp; p[12] = perChunk; p[13] = 0; p[14] = source.strideH; p[15] = source.strideW;
  e.run(Math.ceil(planes / perChunk));
  if (p[13]) return false; // a NaN or infinity in x: see winogradPadChunk
  p = e.job(KIND_WINOGRAD);
  p[1] = xp + padBytes; p[2] = threadBytes; // per-thread blocks sized for this layer, not the shared thread scratch
  p[3] = xp; p[4] = C; p[5] = Hp; p[6] = Wp; p[7] = tilesY; p[8] = tilesX; p[9] = g.outH; p[10] = g.outW;
  p[11] = M; p[12] = packed.weights; p[13] = yAt; p[14] = packed.bias;
  p[15] = reluSlope === undefined ? 0 : 1;
  e.setFloat(p, 16, reluSlope ?? 0);
  p[17] = groups; p[18] = nt; p[19] = blocks; p[20] = KC; p[21] = rowsPer; p[22] = Math.ceil(M / rowsPer); p[23] = m;
  p[24] = packed.subH; p[25] = packed.subW; p[26] = dir; p[27] = packed.values; p[28] = packed.uRows;
  e.run(images * blocks * p[22]);
  e.unstage(y, yAt);
  return true;
}

/** The bordered input's plane (Hp x Wp) and its tiles for a forward of `num` images (see winogradWasm). */
function winogradGrid(packed: PackedWinograd, source: ConvGeometry) {
  const g = source.strideH > 1 || source.strideW > 1 ? spaceToDepth(source)! : source; // the pad job gathers x's phases
  const m = packed.tile, dir = packed.dir;
  // Outputs per tile (F(2x4, 7x7): 2 down, 4 across).
  const n = packed.values || points(m), down = dir === 2 ? 1 : packed.values === 80 || m === 24 ? 2 : m, across = dir === 1 ? 1 : m === 24 ? 4 : m;
  const tilesY = Math.ceil(g.outH / down), tilesX = Math.ceil(g.outW / across), r = blockSize(m);
  // Room for every tile's patch at every block's offset (r per block down / across; F(4, 7)'s patch is 10 long,
  // F(4x4, 5x5)'s 8); a 1-D kernel's other axis is 1.
  const reach = (blocks: number): number => (packed.values === 10 || packed.values === 80 ? 6 : packed.values === 64 ? 8 - m : r - 1 + r * (blocks - 1));
  const Hp = down * tilesY + (dir === 2 ? 0 : reach(packed.subH)), Wp = across * tilesX + (dir === 1 ? 0 : reach(packed.subW));
  return { g, n, dir, tilesY, tilesX, Hp, Wp };
}

/** Images whose bordered copy fits winogradLimits.padBytes at once (a bigger batch runs in groups of these). */
function imagesAtOnce(packed: PackedWinograd, source: ConvGeometry, groups: number): number {
  const { g, Hp, Wp } = winogradGrid(packed, source);
  return Math.max(1, Math.floor(winogradLimits.padBytes / (groups * g.channels * Hp * Wp * 4)));
}

/** A forward's split over `threads` active threads and its scratch: the bordered copy, and each thread's block. */
function winogradPlan(packed: PackedWinograd, source: ConvGeometry, groups: number, num: number, threads: number) {
  const { g, n, dir, tilesY, tilesX, Hp, Wp } = winogradGrid(packed, source);
  const C = g.channels, K = packed.depth, M = packed.rows, images = num * groups;
  const { nt, blocks, rowsPer } = splitOf(packed, threads, tilesY * tilesX, images, n);
  const padBytes = roundUp((images * C * Hp * Wp + 32) * 4, 64); // F(4, 7)'s and F(6x6)'s unstored lanes read up to 18 floats past
  // Per thread: the GEMM results and transformed inputs, and U's filters made at a time when U is made here.
  const madeU = packed.uRows ? 4 * n * (packed.uRows * Math.min(K, KC) + SKEW) : 0;
  const threadBytes = roundUp(SCRATCH_HEAD + 4 * n * ((Math.min(K, KC) + rowsPer) * nt + 2 * SKEW) + madeU, 64);
  return { g, C, M, images, dir, tilesY, tilesX, Hp, Wp, nt, blocks, rowsPer, padBytes, threadBytes };
}

/**
 * The engine scratch winogradWasm asks for `num` images, the most over 1 to `threads` active threads with a block
 * for each of `poolThreads` (Net.load writes that much ahead, so that the first forward does not fault it in).
 */
export function winogradScratchBytes(packed: PackedWinograd, source: ConvGeometry, groups: number, num: number, threads: number, poolThreads: number): number {
  const images = Math.min(num, imagesAtOnce(packed, source, groups));
  let most = 0;
  for (let t = 1; t <= threads; t++) {
    const { padBytes, threadBytes } = winogradPlan(packed, source, groups, images, t);
    most = Math.max(most, padBytes + poolThreads * threadBytes);
  }
  return most;
}

/** See bigPlane (benchmarks set it to 0 to run F(4x4) instead). */
const F6_WORK = 0.85;

/** See stridedTile (tests raise it to run other strided shapes as Winograd). */
const STRIDED_MACS = 0.5;

/**
 * The zero-bordered copy of a batch's input lives in the engine's one scratch region, which keeps its largest size
 * in the 4 GiB that every net of the process shares: a batch whose copy would pass this runs in groups of images
 * (OpenPose at batch 8: conv1_2's copy was 280 MB, one image's is 35 MB).
 * @internal The bound (tests lower it to run small batches in groups).
 */
export const winogradLimits = { padBytes: 64 << 20, stridedMacs: STRIDED_MACS, f6Work: F6_WORK, madeUBytes: MADE_U_BYTES };

/** Runs `run` on groups of at most `fit` images of x and y (views, no copies); false as soon as one is. */
function inImageGroups(num: number, fit: number, x: Float32Array, y: Float32Array, run: (images: number, x: Float32Array, y: Float32Array) => boolean): boolean {
  const xPer = x.length / num, yPer = y.length / num;
  for (let n0 = 0; n0 < num; n0 += fit) {
    const k = Math.min(fit, num - n0);
    if (!run(k, x.subarray(n0 * xPer, (n0 + k) * xPer), y.subarray(n0 * yPer, (n0 + k) * yPer))) return false;
  }
  return true;
}

/**
 * How a Winograd job is cut: blocks of `nt` tiles (a multiple of NR) per image-group, each block's output rows
 * in pieces of `rowsPer`. One thread: blocks as large as the scratch holds (each U value is reused once per
 * tile of a block; reading U costs about as much as 8 more tiles), in the count that pads fewest (leastPadding).
 * Several threads: the block size (or the one that evens its blocks out) whose job ends first when the threads
 * take blocks in turn (makespan: a plane's last block costs only its strips, and the workers start LATE_MACS
 * late), so that 5 blocks no longer leave one thread 3 and the other 2 (VGG-16's 56 x 56 and AlexNet's conv1:
 * 196 tiles in 5 blocks of 40 until round seven, now 4 of 48 and one of 4) and OpenPose's stages (7x7, 144 tiles)
 * run one block of 72 a thread, not 3 of 24 each reading all of U. Blocks of output rows only when the tiles
 * cannot give each thread a chunk: every row block transforms its tiles' inputs again (ResNet's 64-channel 3x3 at
 * 56 x 56 took 1.8x the CPU time of one thread when it was cut into 2 row blocks x 7 tile blocks).
 */
export function winogradSplit(threads: number, tiles: number, images: number, n: number, K: number, M: number, madeU = false, tile = 0): { nt: number; blocks: number; rowsPer: number } {
  const small = (tile === 5 || tile === 6) && K <= STEM_CHANNELS ? STEM_BLOCK_BYTES : SMALL_U_BLOCK_BYTES;
  const budget = 4 * n * K * M <= SMALL_U_BLOCK_BYTES ? small : BLOCK_BYTES;
  if (madeU) return madeUSplit(threads, tiles, images, n, K, M, budget);
  const fit = blockFit(budget, n, K, M);
  let nt = Math.min(fit, roundUp(tiles, NR)), blocks: number, cut = 1;
  if (threads > 1) {
    const late = LATE_MACS / (n * K * M);
    let best = Infinity;
    // Block sizes up to `most` tiles, with output rows in `r` row blocks.
    const search = (r: number, most: number): void => {
      for (let size = Math.min(most, MIN_BLOCK_TILES); size <= most; size += NR) {
        for (const s of [roundUp(Math.ceil(tiles / Math.ceil(tiles / size)), NR), size]) {
          const at = (delay: number): number => makespan(threads, images, tiles, s, delay, r, TRANSFORM_ROWS / M);
          const cost = at(late) + at(0) / 1000; // ties: the sooner without delay
          if (cost < best) [best, nt, cut] = [cost, s, r];
        }
      }
    };
    search(1, nt);
    // Where the tiles do not part evenly into blocks (VGG-16's 28 x 28: 49 tiles as 32 + 17), output rows are
    // weighed too, in one block a thread of at least MIN_CUT_ROWS rows: each row block transforms its tiles' inputs
    // again (TRANSFORM_ROWS), but no thread is left most of the job. Even blocks are kept (16 tiles as 8 + 8: VGG-16's
    // 14 x 14 took 3.75 ms as two row blocks against 3.45).
    const even = tiles % nt === 0 && (images * (tiles / nt)) % threads === 0;
    if (!even && M >= threads * MIN_CUT_ROWS) search(threads, Math.min(blockFit(budget, n, K, roundUp(Math.ceil(M / threads), MR)), roundUp(tiles, NR)));
    blocks = Math.ceil(tiles / nt);
  } else [blocks, nt] = leastPadding(tiles, Math.ceil(tiles / nt));
  const rowBlocks = cut > 1 ? cut : images * blocks >= threads ? 1 : Math.max(1, Math.min(Math.ceil((CHUNKS_PER_THREAD * threads) / (images * blocks)), Math.floor(M / (4 * MR))));
  return { nt, blocks, rowsPer: roundUp(Math.ceil(M / rowBlocks), MR) };
}

/** Tiles a block of `rows` output rows may hold in `budget` bytes of thread scratch (a multiple of NR, at least NR). */
function blockFit(budget: number, n: number, K: number, rows: number): number {
  return Math.max(NR, Math.floor(budget / (4 * n * (Math.min(K, KC) + rows)) / NR) * NR);
}

/** winogradSplit's answers by layer (its packed weights), for each thread count, tile count and image count. */
const splits = new WeakMap<PackedWinograd, Map<number, { nt: number; blocks: number; rowsPer: number }>>();

/**
 * winogradSplit for a layer, worked out once for each thread count, plane and batch (at two threads its search
 * times every block size: serial JavaScript between the kernels in every forward).
 */
function splitOf(packed: PackedWinograd, threads: number, tiles: number, images: number, n: number): { nt: number; blocks: number; rowsPer: number } {
  const key = threads < 512 && images < 2 ** 20 && tiles < 2 ** 20 ? threads + 512 * (images + 2 ** 20 * tiles) : -1;
  let byKey = splits.get(packed);
  const known = byKey?.get(key);
  if (known) return known;
  const split = winogradSplit(threads, tiles, images, n, packed.depth, packed.rows, packed.uRows > 0, packed.tile);
  if (key < 0) return split;
  if (!byKey) splits.set(packed, (byKey = new Map()));
  byKey.set(key, split);
  return split;
}

/**
 * When a job of `images` x ceil(tiles / size) blocks of `size` tiles ends, in tiles of work, on `threads` threads of
 * one speed that take the blocks in turn (the pool's ticket), the workers `late` tiles after the calling thread:
 * a block costs the columns of its strips (a plane's last block runs only those that hold its tiles) and U_TILES
 * for reading U. A worker that takes no block does not count.
 */
function makespan(threads: number, images: number, tiles: number, size: number, late: number, rowBlocks = 1, transform = 0): number {
  const free = new Array<number>(threads).fill(late), blocks = Math.ceil(tiles / size);
  free[0] = 0;
  let end = 0;
  for (let i = 0; i < images * blocks * rowBlocks; i++) {
    const b = Math.floor(i / rowBlocks) % blocks, held = Math.min(size, tiles - b * size);
    let t = 0;
    for (let j = 1; j < threads; j++) if (free[j] < free[t]) t = j;
    free[t] += (columns(held) + U_TILES) / rowBlocks + transform * held;
    end = Math.max(end, free[t]);
  }
  return end;
}

/**
 * What a block's GEMMs cost in tiles: whole strips of NR, but for a last strip of 1 to 4 tiles, which gemmStrips runs
 * a column at a time (tile24x1; assembly/kernels.ts stripColumns) at about EDGE_COLUMN of a strip's column each.
 */
function columns(tiles: number): number {
  const edge = tiles % NR;
  return edge >= 1 && edge <= 4 ? tiles - edge + EDGE_COLUMN * edge : roundUp(tiles, NR);
}

/**
 * winogradSplit where U is made per forward (winogradMadeU): every chunk makes U for its rows, so a second block
 * of tiles would make it again, where a second block of rows transforms the tiles' inputs again. Of the block
 * counts, the one that makes the fewest U and input transforms (about the same work per filter and channel as
 * per tile and channel) with its rows cut to fit the scratch: AlexNet's 13 x 13 (16 tiles) one block of all rows,
 * colorization's conv8_1 as phases (28 x 28: 49 tiles, 1024 rows) one block of 56 tiles in 4 row blocks of 256,
 * not 4 blocks of 16 tiles each making all of U. Output rows cut further into one block per thread only when the
 * image-groups cannot give each thread a chunk: AlexNet's conv3 (one group of 384 rows, 16 tiles) at 2 threads
 * took 2.17 ms as 2 row blocks, 2.75 as 4 and 2.65 as 6 (each transforms the inputs again), conv4 and conv5
 * (2 groups) one chunk a group.
 */
function madeUSplit(threads: number, tiles: number, images: number, n: number, K: number, M: number, budget: number): { nt: number; blocks: number; rowsPer: number } {
  const mPad = roundUp(M, MR);
  let best = { cost: Infinity, nt: roundUp(tiles, NR), blocks: 1, rowBlocks: 1 };
  for (let blocks = 1; blocks <= Math.ceil(tiles / NR); blocks++) {
    const nt = roundUp(Math.ceil(tiles / blocks), NR);
    const most = Math.min(mPad, Math.floor((budget / (4 * n * nt) - Math.min(K, KC)) / MR) * MR); // blockFit's rows for nt tiles
    if (most < MR && blocks < Math.ceil(tiles / NR)) continue;
    const rowBlocks = Math.ceil(M / Math.max(MR, most)), cost = blocks * mPad + rowBlocks * blocks * nt;
    if (cost < best.cost) best = { cost, nt, blocks: Math.ceil(tiles / nt), rowBlocks };
  }
  const { nt, blocks } = best;
  const chunks = images * blocks;
  const rowBlocks = chunks * best.rowBlocks >= threads ? best.rowBlocks : Math.min(Math.ceil(threads / chunks), Math.ceil(M / MR));
  return { nt, blocks, rowsPer: roundUp(Math.ceil(M / rowBlocks), MR) };
}

/**
 * Of `least` blocks (the fewest whose scratch fits) and up to two more, the count that pads the fewest tiles to
 * whole strips of NR (fewer blocks on a tie): AlexNet's 13 x 13 F(2x2) has 49 tiles, one block of 56 rather than
 * two of 32 (0.88x the layer's time); 390 tiles in blocks of at most 104: 5 of 80, not 4 of 104.
 */
function leastPadding(tiles: number, least: number): [number, number] {
  let best: [number, number] = [least, roundUp(Math.ceil(tiles / least), NR)];
  for (let b = least + 1; b <= Math.min(Math.ceil(tiles / NR), least + 2); b++) {
    const nt = roundUp(Math.ceil(tiles / b), NR), blocks = Math.ceil(tiles / nt);
    if (blocks * nt < best[0] * best[1]) best = [blocks, nt];
  }
  return best;
}

/** Reading a block's U costs about as much as this many more tiles (tileCost's 8). */
const U_TILES = 8;
/** Chunks per thread when a job must be cut into blocks of output rows (see winogradSplit). */
const CHUNKS_PER_THREAD = 3;
/**
 * How late winogradSplit expects a worker to take its first block, in multiply-adds of the calling thread (~0.05 ms
 * at ~25 G a second): a worker that polls between a forward's jobs starts within microseconds, one waking from its
 * sleep within 2-3 ms. Enough that a small layer is not cut into a block a thread that the worker starts late.
 */
const LATE_MACS = 1.25e6;
/**
 * A row block's input transform of one tile, in rows of that tile's GEMMs (makespan's units: a tile's GEMMs over
 * all M rows are 1): VGG-16's 28 x 28 layers (M = 512) at 2 threads in two row blocks of 256 spent ~7.5 % more CPU
 * than at 1 thread (10.7 ms each against 19.9 at 1 thread; 13.3 as blocks of 32 and 17 tiles).
 */
const TRANSFORM_ROWS = 48;
/** Output rows a row block holds at least, where winogradSplit weighs cutting them (MR multiples). */
const MIN_CUT_ROWS = 64;
/** A column of gemmStrips' tile24x1 edge against a column of a whole strip (columns). */
const EDGE_COLUMN = 1.5;
/** Tile blocks smaller than this read U too often for what they compute. */
const MIN_BLOCK_TILES = 8;

/**
 * Whether every weight is finite: a NaN or infinity in a filter would spread through U the same way. On the bits (an
 * exponent of all ones is NaN or infinity, its + 1 carries into the sign bit): no float conversion per weight.
 */
export function allFinite(w: Float32Array): boolean {
  const bits = new Int32Array(w.buffer, w.byteOffset, w.length);
  let any = 0;
  for (let i = 0; i < bits.length; i++) any |= (bits[i] & 0x7f800000) + 0x00800000;
  return any >= 0;
}
