import { platform } from '../platform.js';
import { Tensor, sizeOf } from '../tensor.js';
import { CremaError } from './errors.js';
import { type NpyHeader, parseNpyHeader } from './npy-header.js';

// NumPy .npy, version 1-3: the format Caffe users exchange blobs in (and what `--dump` writes).
// Reads little/big-endian float32/float64/int/uint/bool arrays into a float32 Tensor; writes float32 (v1.0).

const MAGIC = '\x93NUMPY';

/** Bytes as text, one character per byte (.npy headers are latin1, or ASCII in UTF-8). */
function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
}

const readers: Record<string, (v: DataView, off: number, le: boolean) => number> = {
  f4: (v, o, le) => v.getFloat32(o, le),
  f8: (v, o, le) => v.getFloat64(o, le),
  f2: (v, o, le) => halfToFloat(v.getUint16(o, le)),
  i1: (v, o) => v.getInt8(o),
  u1: (v, o) => v.getUint8(o),
  b1: (v, o) => v.getUint8(o),
  i2: (v, o, le) => v.getInt16(o, le),
  u2: (v, o, le) => v.getUint16(o, le),
  i4: (v, o, le) => v.getInt32(o, le),
  u4: (v, o, le) => v.getUint32(o, le),
  i8: (v, o, le) => Number(v.getBigInt64(o, le)),
  u8: (v, o, le) => Number(v.getBigUint64(o, le)),
};

export function parseNpy(bytes: Uint8Array, file: string): Tensor {
  const fail = (what: string): never => {
    throw new CremaError(`${file}: ${what}`);
  };
  if (bytes.length < 10 || latin1(bytes.subarray(0, 6)) !== MAGIC) fail('not a .npy file (no \\x93NUMPY header)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLenSize = major === 1 ? 2 : 4;
  if (major < 1 || major > 3) fail(`unsupported .npy version ${major}`);
  if (bytes.length < 8 + headerLenSize) fail('truncated .npy header');
  const headerLen = headerLenSize === 2 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + headerLenSize + headerLen;
  if (start > bytes.length) fail('truncated .npy header');
  const headerBytes = bytes.subarray(8 + headerLenSize, start);
  const header = major === 3 ? new TextDecoder().decode(headerBytes) : latin1(headerBytes);
  let h: NpyHeader;
  try {
    h = parseNpyHeader(header);
  } catch (e) {
    return fail(`${(e as Error).message}: ${header.trim()}`);
  }
  const descr = /^([<>|=]?)([a-z])(\d+)$/.exec(h.descr);
  if (!descr) fail(`dtype '${h.descr}' is not numeric (crema reads float, int, uint and bool arrays)`);
  const [, order, kind, width] = descr!;
  const read = readers[kind + width];
  if (!read) fail(`dtype '${kind}${width}' is not numeric (crema reads float, int, uint and bool arrays)`);
  if (h.fortranOrder) fail('Fortran-ordered arrays are not supported; save it with np.ascontiguousarray');
  const dims = h.shape;
  if (!dims.every((d) => d >= 0)) fail(`negative dimensions in shape (${dims.join(', ')})`);
  const n = sizeOf(dims), itemSize = Number(width);
  if (bytes.length - start < n * itemSize) fail(`truncated: shape (${dims.join(', ')}) needs ${n * itemSize} bytes of data, the file has ${bytes.length - start}`);
  const le = order !== '>';
  const data = new Float32Array(n);
  if (kind === 'f' && width === '4' && le) {
    new Uint8Array(data.buffer).set(bytes.subarray(start, start + 4 * n)); // the common case: one copy
  } else {
    for (let i = 0; i < n; i++) data[i] = read(view, start + i * itemSize, le);
  }
  return new Tensor(dims, data);
}

export function readNpy(file: string): Tensor {
  return parseNpy(platform().readFile(file), file);
}

export function encodeNpy(t: { dims: readonly number[]; data: Float32Array }): Uint8Array {
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n'; // pad so the data starts 64-byte aligned
  const out = new Uint8Array(10 + header.length + t.data.byteLength);
  for (let i = 0; i < 6; i++) out[i] = MAGIC.charCodeAt(i);
  out[6] = 1; // version 1.0
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), 10 + header.length);
  return out;
}

export function writeNpy(file: string, t: { dims: readonly number[]; data: Float32Array }): void {
  platform().writeFile(file, encodeNpy(t));
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
