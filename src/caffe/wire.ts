// Protobuf binary wire format, decoded and encoded through the reflection of proto/caffe.proto.
// Written for weights files: BlobProto float data goes straight from the file into a Float32Array
// (one copy, no JS number arrays), and the decoder can read from a file descriptor through a small
// window so that loading a caffemodel never holds the whole file in memory next to its floats.
import protobuf from 'protobufjs';
import { CremaError } from '../util/errors.js';
import type { Message } from './message.js';
import type { ByteSource, CopyRun, FloatDestination } from './types.js';

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Message types that are layers (error messages name the layer they are in). */
export function isLayerType(name: string): boolean {
  return name === 'LayerParameter' || name === 'V1LayerParameter' || name === 'V0LayerParameter';
}

/** A bigint as a JS number, refusing what a double cannot hold exactly. */
export function toSafeNumber(v: bigint, tooLarge: () => string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new CremaError(tooLarge());
  return Number(v);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A string field's bytes as text. Invalid UTF-8 is refused: decoded leniently, two different byte strings would
 * become the same name (both U+FFFD), and crema would wire blobs that Caffe, comparing bytes, keeps apart.
 */
export function decodeUtf8(bytes: Uint8Array, where: () => string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new CremaError(`${where()}: string is not valid UTF-8 (crema reads names as UTF-8 text; Caffe compares their bytes)`);
  }
}

/** BlobProto's repeated float/double fields are typed arrays in every reader's output. */
const BLOB_ARRAYS: Record<string, 'f32' | 'f64'> = { data: 'f32', diff: 'f32', double_data: 'f64', double_diff: 'f64' };

/** Turns a parsed BlobProto's number[] data into typed arrays (for readers that build arrays). */
export function finishBlobArrays(type: protobuf.Type, msg: Message): void {
  if (type.name !== 'BlobProto') return;
  for (const [name, kind] of Object.entries(BLOB_ARRAYS)) {
    const v = msg[name];
    if (Array.isArray(v)) msg[name] = kind === 'f32' ? Float32Array.from(v) : Float64Array.from(v);
  }
}

// ---------------------------------------------------------------------------------------------
// Field tables: what the decoder/encoder needs per field, computed once per message type.

const enum Kind {
  Int32, Int64, Uint32, Uint64, Sint32, Sint64, Bool, Enum,
  Fixed32, Sfixed32, Float, Fixed64, Sfixed64, Double,
  String, Bytes, Message,
}

const KIND_OF: Record<string, Kind> = {
  int32: Kind.Int32, int64: Kind.Int64, uint32: Kind.Uint32, uint64: Kind.Uint64, sint32: Kind.Sint32,
  sint64: Kind.Sint64, bool: Kind.Bool, fixed32: Kind.Fixed32, sfixed32: Kind.Sfixed32, float: Kind.Float,
  fixed64: Kind.Fixed64, sfixed64: Kind.Sfixed64, double: Kind.Double, string: Kind.String, bytes: Kind.Bytes,
};

/** The wire type a kind is written with when not packed. */
function wireTypeOf(kind: Kind): number {
  if (kind <= Kind.Enum) return 0;
  if (kind <= Kind.Float) return 5;
  if (kind <= Kind.Double) return 1;
  return 2;
}

interface FieldInfo {
  name: string;
  id: number;
  kind: Kind;
  wireType: number;
  repeated: boolean;
  packed: boolean; // written packed (proto2: only with [packed = true])
  packable: boolean; // a repeated scalar number: readers accept both forms
  typedArray?: 'f32' | 'f64';
  message?: MessageInfo;
  enumById?: Record<number, string>;
  enumByName?: Record<string, number>;
}

/**
 * facebook/C3D v1.0's caffemodels write a BlobProto of its own: num, channels, length, height, width at fields 1-5,
 * data at 6 (BVLC: num, channels, height, width at 1-4, data 5, diff 6). Its width, a varint where BVLC's data is
 * floats, is kept as `c3d_width` (the only way such a field ever arrives) and caffemodel.ts reads the blob as C3D's.
 */
export const C3D_BLOB = 'c3d_width';

interface MessageInfo {
  type: protobuf.Type;
  byId: Map<number, FieldInfo>;
  ordered: FieldInfo[]; // by field number: the order the encoder writes
}

const infos = new Map<protobuf.Type, MessageInfo>();

/**
 * makefile/frcnn's caffe.proto has LayerParameter.deformable_convolution_param at 229, its deformable_group at 19
 * (default 4; unsky's numbering); crema's are zhanglonghao1992's, 999999 and 25 (229 is free here): a binary layer
 * parameter at 229 is read as deformable_convolution_param, its field 19 as deformable_group (an unwritten one is, as
 * in the text format, the default that fits the offsets' channels). Written back at crema's numbers.
 */
const FRCNN_DEFORMABLE = 229;
/** The layers decoded with a parameter at 229 (makefile/frcnn's numbers): an upgrade writes them at crema's, and says so. */
export const frcnnNumbered = new WeakSet<Message>();
function frcnnDeformable(layer: MessageInfo): FieldInfo | undefined {
  const own = [...layer.byId.values()].find((f) => f.name === 'deformable_convolution_param');
  const group = own?.message && [...own.message.byId.values()].find((f) => f.name === 'deformable_group');
  if (!own?.message || !group) return undefined;
  const byId = new Map([...own.message.byId].filter(([, f]) => f !== group));
  byId.set(19, group);
  return { ...own, message: { ...own.message, byId } };
}

function messageInfo(type: protobuf.Type): MessageInfo {
  let info = infos.get(type);
  if (info) return info;
  info = { type, byId: new Map(), ordered: [] };
  infos.set(type, info); // before the fields: messages may be recursive
  for (const field of type.fieldsArray) {
    field.resolve();
    const resolved = field.resolvedType;
    const kind = resolved instanceof protobuf.Type ? Kind.Message : resolved instanceof protobuf.Enum ? Kind.Enum : KIND_OF[field.type];
    if (kind === undefined) throw new Error(`caffe.proto: unsupported field type ${field.type}`);
    const f: FieldInfo = {
      name: field.name,
      id: field.id,
      kind,
      wireType: wireTypeOf(kind),
      repeated: field.repeated,
      packed: field.repeated && field.packed && kind < Kind.String,
      packable: field.repeated && kind < Kind.String,
    };
    if (type.name === 'BlobProto' && field.repeated && Object.hasOwn(BLOB_ARRAYS, field.name)) f.typedArray = BLOB_ARRAYS[field.name];
    if (resolved instanceof protobuf.Type) f.message = messageInfo(resolved);
    if (resolved instanceof protobuf.Enum) {
      f.enumById = { ...resolved.valuesById };
      f.enumByName = { ...resolved.values };
    }
    info.byId.set(field.id, f);
    info.ordered.push(f);
  }
  if (type.name === 'LayerParameter' && !info.byId.has(FRCNN_DEFORMABLE)) {
    const f = frcnnDeformable(info); // read only: the encoder writes `ordered`, crema's own numbers
    if (f) info.byId.set(FRCNN_DEFORMABLE, f);
  }
  info.ordered.sort((a, b) => a.id - b.id);
  return info;
}

// ---------------------------------------------------------------------------------------------
// Byte sources: a whole buffer in memory, or a file read through a window (the platform's withFile).

export type { ByteSource };

export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    windowSize: Infinity,
    window: () => ({ buf: bytes, base: 0 }),
    copy: (pos, dest) => dest.set(bytes.subarray(pos, pos + dest.length)),
  };
}

// ---------------------------------------------------------------------------------------------
// Decoder

const MAX_DEPTH = 64;

class Decoder {
  private buf: Uint8Array;
  private base = 0;
  pos = 0;
  private view: DataView = new DataView(new ArrayBuffer(0));
  // The last varint read, as two unsigned 32-bit halves.
  private lo = 0;
  private hi = 0;
  private readonly growing = new Map<Message, Map<string, { arr: Float32Array | Float64Array; n: number }>>();

  /** Where packed float runs of blob data are read into (default: a fresh Float32Array). */
  private readonly floats: (n: number) => Float32Array;
  /** Runs into shared memory whose copy waits for the end of the structure (then done on two threads: `flush`). */
  private deferred: CopyRun[] | undefined;

  constructor(
    private readonly src: ByteSource,
    private readonly file: string,
    private readonly into?: FloatDestination,
  ) {
    this.buf = new Uint8Array(0);
    this.floats = into ? (n) => into.floats(n) : (n) => new Float32Array(n);
    if (into?.helper && src.copyRuns && LITTLE_ENDIAN_HOST) this.deferred = [];
  }

  /** Copies the deferred runs (on the helper's thread too). */
  flush(): void {
    const runs = this.deferred;
    if (!runs?.length) return;
    this.deferred = [];
    this.src.copyRuns!(runs, this.into!.helper!);
  }

  fail(what: string, at = this.pos): never {
    throw new CremaError(`${this.file}: ${what} at byte ${at}`);
  }

  /** Makes bytes [pos, pos + n) addressable in this.buf (n clipped to `end`). */
  private need(n: number, end: number): void {
    const want = Math.min(n, end - this.pos);
    if (this.pos - this.base + want <= this.buf.length && this.pos >= this.base) return;
    const w = this.src.window(this.pos, Math.min(want, this.src.windowSize));
    if (w.buf !== this.buf) this.view = new DataView(w.buf.buffer, w.buf.byteOffset, w.buf.byteLength);
    this.buf = w.buf;
    this.base = w.base;
  }

  private truncated(what: string, end: number, at: number): never {
    if (end >= this.src.size) this.fail(`truncated file: ${what} runs past the end of the file`, at);
    this.fail(`${what} runs past the end of its enclosing message (byte ${end})`, at);
  }

  /** Reads a varint into lo/hi. */
  varint(end: number): void {
    const start = this.pos;
    this.need(10, end);
    const buf = this.buf;
    let p = this.pos - this.base;
    const stop = Math.min(end - this.base, p + 10);
    let lo = 0;
    let hi = 0;
    for (let shift = 0; ; shift += 7) {
      if (p >= stop) {
        if (p - (this.pos - this.base) >= 10) this.fail('varint longer than 10 bytes', start);
        this.truncated('varint', end, start);
      }
      const b = buf[p++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if (b < 0x80) break;
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    this.pos = this.base + p;
  }

  /** A varint that must fit a JS number exactly (lengths, tags). */
  private uvarint(end: number, what: string): number {
    const at = this.pos;
    this.varint(end);
    if (this.hi >= 0x200000) this.fail(`${what} too large`, at);
    return this.hi * 0x100000000 + this.lo;
  }

  /** Positions a fixed-width value: returns its offset in this.view. */
  private fixed(width: number, end: number): number {
    if (end - this.pos < width) this.truncated(`${width * 8}-bit value`, end, this.pos);
    this.need(width, end);
    const off = this.pos - this.base;
    this.pos += width;
    return off;
  }

  /** Bytes [pos, pos + len) copied into a fresh array. */
  private bytes(len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.src.copy(this.pos, out);
    this.pos += len;
    return out;
  }

  private int64(signed: boolean, at: number): number {
    let hi = this.hi;
    let lo = this.lo;
    let negative = false;
    if (signed && hi >= 0x80000000) {
      negative = true;
      lo = (~lo + 1) >>> 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    }
    if (hi >= 0x200000) this.fail('64-bit integer too large for a JS number', at);
    const v = hi * 0x100000000 + lo;
    return negative ? -v : v;
  }

  /** One scalar of a number kind, the wire value already positioned. */
  private scalar(f: FieldInfo, end: number): number | boolean | string | undefined {
    const at = this.pos;
    switch (f.kind) {
      case Kind.Float:
        return this.view.getFloat32(this.fixed(4, end), true);
      case Kind.Double:
        return this.view.getFloat64(this.fixed(8, end), true);
      case Kind.Fixed32:
        return this.view.getUint32(this.fixed(4, end), true);
      case Kind.Sfixed32:
        return this.view.getInt32(this.fixed(4, end), true);
      case Kind.Fixed64:
      case Kind.Sfixed64: {
        const off = this.fixed(8, end);
        this.lo = this.view.getUint32(off, true);
        this.hi = this.view.getUint32(off + 4, true);
        return this.int64(f.kind === Kind.Sfixed64, at);
      }
    }
    this.varint(end);
    switch (f.kind) {
      case Kind.Int32:
        return this.lo | 0;
      case Kind.Uint32:
        return this.lo;
      case Kind.Int64:
        return this.int64(true, at);
      case Kind.Uint64:
        return this.int64(false, at);
      case Kind.Sint32:
        return (this.lo >>> 1) ^ -(this.lo & 1);
      case Kind.Sint64: {
        const negative = (this.lo & 1) === 1;
        this.lo = ((this.lo >>> 1) | (this.hi << 31)) >>> 0;
        this.hi = this.hi >>> 1;
        const v = this.int64(false, at);
        return negative ? -v - 1 : v;
      }
      case Kind.Bool:
        return this.lo !== 0 || this.hi !== 0;
      case Kind.Enum:
        // proto2 keeps an unknown enum number as an unknown field: we drop it.
        return f.enumById![this.lo | 0];
    }
    throw new Error(`unreachable kind ${f.kind}`);
  }

  /** Decodes a message occupying [pos, end). */
  message(info: MessageInfo, end: number, depth: number): Message {
    if (depth > MAX_DEPTH) this.fail('messages nested too deeply');
    const out: Message = {};
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.uvarint(end, 'field tag');
      const id = Math.floor(tag / 8);
      const wt = tag & 7;
      if (id === 0) this.fail('invalid field number 0', at);
      if (wt === 6 || wt === 7) this.fail(`bad wire type ${wt} (field ${id})`, at);
      if (wt === 4) this.fail(`unexpected end-group (field ${id})`, at);
      const f = info.byId.get(id);
      if (!f) this.skip(wt, id, end, depth, at);
      else if (f.packable && wt === 2) this.packed(f, out, end, at);
      else if (id === 5 && wt === 0 && info.type.name === 'BlobProto') out[C3D_BLOB] = this.uvarint(end, 'width'); // see C3D_BLOB
      else if (wt !== f.wireType) this.skip(wt, id, end, depth, at); // mismatched wire type: protobuf treats it as unknown
      else {
        this.field(f, out, end, depth);
        if (id === FRCNN_DEFORMABLE && info.type.name === 'LayerParameter') frcnnNumbered.add(out);
      }
    }
    if (this.pos > end) this.truncated('last field', end, end);
    return out;
  }

  private length(end: number): number {
    const at = this.pos;
    const len = this.uvarint(end, 'length');
    if (len > end - this.pos) this.truncated(`field of length ${len}`, end, at);
    return len;
  }

  private field(f: FieldInfo, out: Message, end: number, depth: number): void {
    let value: unknown;
    if (f.kind === Kind.Message) {
      const len = this.length(end);
      value = this.message(f.message!, this.pos + len, depth + 1);
    } else if (f.kind === Kind.String || f.kind === Kind.Bytes) {
      const at = this.pos;
      const bytes = this.bytes(this.length(end));
      value = f.kind === Kind.String ? decodeUtf8(bytes, () => `${this.file}: field '${f.name}' at byte ${at}`) : bytes;
    } else {
      value = this.scalar(f, end);
      if (value === undefined) return;
      if (f.typedArray) {
        this.appendTyped(out, f, value as number);
        return;
      }
    }
    if (f.repeated) ((out[f.name] ??= []) as unknown[]).push(value);
    else if (f.kind === Kind.Message && out[f.name]) mergeInto(out[f.name] as Message, value as Message);
    else out[f.name] = value; // proto2: the last value of a non-repeated field wins
  }

  /** Unpacked float blob data (rare: one tag per value) grows a typed array by doubling. */
  private appendTyped(out: Message, f: FieldInfo, v: number): void {
    let fields = this.growing.get(out);
    if (!fields) this.growing.set(out, (fields = new Map()));
    let g = fields.get(f.name);
    if (!g) {
      const prev = out[f.name] as Float32Array | Float64Array | undefined;
      if (prev) this.flush(); // prev may be a deferred run, copied below
      g = { arr: newTyped(f, (prev?.length ?? 0) + 16), n: 0 };
      if (prev) g.arr.set(prev);
      g.n = prev?.length ?? 0;
      fields.set(f.name, g);
    }
    if (g.n === g.arr.length) {
      const bigger = newTyped(f, g.n * 2);
      bigger.set(g.arr);
      g.arr = bigger;
    }
    g.arr[g.n++] = v;
    out[f.name] = g.arr.subarray(0, g.n);
  }

  /** A packed run of scalars; float/double blob data is copied straight into a typed array. */
  private packed(f: FieldInfo, out: Message, end: number, at: number): void {
    const len = this.length(end);
    const stop = this.pos + len;
    if (f.typedArray) {
      const width = f.typedArray === 'f32' ? 4 : 8;
      if (len % width !== 0) this.fail(`packed ${f.name} of ${len} bytes is not a whole number of values`, at);
      const arr = f.typedArray === 'f32' ? this.floats(len / 4) : new Float64Array(len / 8);
      const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
      const prev = out[f.name] as Float32Array | Float64Array | undefined;
      if (prev) this.flush(); // prev may be a deferred run, concatenated below
      // A large run into shared memory (Net.load's blocks) is copied after the structure, on two threads.
      if (this.deferred && !prev && len >= DEFER_BYTES && isShared(arr.buffer)) this.deferred.push({ pos: this.pos, dest: bytes });
      else this.src.copy(this.pos, bytes);
      if (!LITTLE_ENDIAN_HOST) swapBytes(bytes, width);
      this.pos = stop;
      out[f.name] = prev ? concatTyped(prev, arr) : arr;
      // Unpacked values after this run grow from out[f.name], not from the array they grew before it.
      this.growing.get(out)?.delete(f.name);
      return;
    }
    const list = (out[f.name] ??= []) as unknown[];
    while (this.pos < stop) {
      const v = this.scalar(f, stop);
      if (v !== undefined) list.push(v);
    }
  }

  /** Skips an unknown field by its wire type. */
  private skip(wt: number, id: number, end: number, depth: number, at: number): void {
    switch (wt) {
      case 0:
        this.varint(end);
        return;
      case 1:
        if (end - this.pos < 8) this.truncated(`field ${id}`, end, at);
        this.pos += 8;
        return;
      case 5:
        if (end - this.pos < 4) this.truncated(`field ${id}`, end, at);
        this.pos += 4;
        return;
      case 2: {
        const n = this.length(end);
        this.pos += n;
        return;
      }
      case 3:
        this.skipGroup(id, end, depth, at);
        return;
    }
  }

  private skipGroup(id: number, end: number, depth: number, at: number): void {
    if (depth > MAX_DEPTH) this.fail('groups nested too deeply', at);
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.uvarint(end, 'field tag');
      const wt = tag & 7;
      const inner = Math.floor(tag / 8);
      if (wt === 4) {
        if (inner !== id) this.fail(`end-group ${inner} does not match group ${id}`, tagAt);
        return;
      }
      if (wt === 6 || wt === 7) this.fail(`bad wire type ${wt} (field ${inner})`, tagAt);
      this.skip(wt, inner, end, depth + 1, tagAt);
    }
    this.truncated(`group ${id}`, end, at);
  }
}

function newTyped(f: FieldInfo, n: number): Float32Array | Float64Array {
  return f.typedArray === 'f32' ? new Float32Array(n) : new Float64Array(n);
}

function concatTyped<T extends Float32Array | Float64Array>(a: T, b: T): T {
  const out = new (a.constructor as new (n: number) => T)(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** protobuf's merge of a repeated occurrence of a non-repeated message field. */
function mergeInto(target: Message, extra: Message): void {
  for (const [k, v] of Object.entries(extra)) {
    const old = target[k];
    if (Array.isArray(old) && Array.isArray(v)) old.push(...(v as unknown[]));
    else if (old && typeof old === 'object' && !ArrayBuffer.isView(old) && v && typeof v === 'object' && !ArrayBuffer.isView(v)) mergeInto(old as Message, v as Message);
    else target[k] = v;
  }
}

/**
 * Decodes a whole source as a message of `type`; `into` gives the arrays blob float runs are read into and, with a
 * helper, has the large ones in shared memory copied after the structure is read, on two threads.
 */
export function decodeMessage(type: protobuf.Type, src: ByteSource, file: string, into?: FloatDestination): Message {
  const d = new Decoder(src, file, into);
  const msg = d.message(messageInfo(type), src.size, 0);
  d.flush();
  return msg;
}

/** Runs of at least this many bytes are deferred to the two-thread copy (Net.load decodes runs of >= 16384 floats into wasm memory). */
const DEFER_BYTES = 65536;

function isShared(buffer: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
}

// ---------------------------------------------------------------------------------------------
// Encoder

/**
 * Writes a message whose size is known (messageSize) into `buf`. With `viewAt`, a run of raw bytes (a `bytes`
 * field, packed floats) of at least that many is not copied: the bytes before it and the run itself (the caller's
 * own view) become chunks, and `buf` holds only the rest.
 */
class Encoder {
  pos = 0;
  readonly view: DataView;
  readonly chunks: Uint8Array[] = [];
  /** Where the bytes of `buf` not yet in `chunks` start. */
  private mark = 0;
  constructor(
    readonly buf: Uint8Array,
    private readonly viewAt = Infinity,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  varint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** A negative 64-bit value, two's complement: always 10 bytes. */
  negVarint(v: number): void {
    let big = BigInt.asUintN(64, BigInt(v));
    while (big >= 0x80n) {
      this.buf[this.pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.buf[this.pos++] = Number(big);
  }

  /** Reserves `width` bytes and returns their offset, for the caller to fill through `view`. */
  fixed(width: number): number {
    this.pos += width;
    return this.pos - width;
  }

  raw(bytes: Uint8Array): void {
    if (bytes.length < this.viewAt) {
      this.buf.set(bytes, this.pos);
      this.pos += bytes.length;
      return;
    }
    this.cut();
    this.chunks.push(bytes);
  }

  /** The bytes written since the last cut, as a chunk. */
  cut(): void {
    if (this.pos > this.mark) this.chunks.push(this.buf.subarray(this.mark, this.pos));
    this.mark = this.pos;
  }
}

function varintSize(v: number): number {
  if (v < 0) return 10;
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** The wire form of one number-kind value as a varint payload (after zigzag / enum lookup). */
function varintValue(f: FieldInfo, v: unknown): number {
  switch (f.kind) {
    case Kind.Bool:
      return v ? 1 : 0;
    case Kind.Enum: {
      if (typeof v === 'number') return v;
      const id = f.enumByName![String(v)];
      if (id === undefined) throw new CremaError(`cannot encode ${f.name}: '${String(v)}' is not one of ${Object.keys(f.enumByName!).join(', ')}`);
      return id;
    }
    case Kind.Sint32:
    case Kind.Sint64: {
      const n = Number(v);
      return n >= 0 ? 2 * n : -2 * n - 1;
    }
    case Kind.Uint32:
      return Number(v) >>> 0;
    default:
      return Number(v);
  }
}

function scalarSize(f: FieldInfo, v: unknown): number {
  if (f.kind <= Kind.Enum) return varintSize(varintValue(f, v));
  return f.wireType === 5 ? 4 : 8;
}

function writeScalar(e: Encoder, f: FieldInfo, v: unknown): void {
  if (f.kind <= Kind.Enum) {
    const n = varintValue(f, v);
    if (n < 0) e.negVarint(n);
    else e.varint(n);
    return;
  }
  const n = Number(v);
  switch (f.kind) {
    case Kind.Float:
      return e.view.setFloat32(e.fixed(4), n, true);
    case Kind.Double:
      return e.view.setFloat64(e.fixed(8), n, true);
    case Kind.Fixed32:
    case Kind.Sfixed32:
      return e.view.setUint32(e.fixed(4), n >>> 0, true);
    default:
      return e.view.setBigInt64(e.fixed(8), BigInt(n), true);
  }
}

/**
 * What sizing a message learns: the body size of each nested message and packed run (`of`), and how many of its
 * bytes are raw runs of VIEW_BYTES or more (`viewed`), which a chunked encoding leaves where they are.
 */
interface Sizes {
  of: Map<object, number>;
  viewed: number;
}

/** Raw runs this long or longer are chunks of their own in encodeChunks (views, not copies). */
export const VIEW_BYTES = 65536;

/** Counts a raw run of `n` bytes as viewed when it is. */
function rawRun(sizes: Sizes, n: number): number {
  if (n >= VIEW_BYTES) sizes.viewed += n;
  return n;
}

function valuesOf(f: FieldInfo, v: unknown): ArrayLike<unknown> {
  if (!f.repeated) return [v];
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new CremaError(`cannot encode ${f.name}: a repeated field needs an array`);
  return v as ArrayLike<unknown>;
}

/** Body size of a packed field's values. */
function packedSize(f: FieldInfo, values: ArrayLike<unknown>, sizes: Sizes): number {
  if (packedBytes(f, values)) return rawRun(sizes, (values as Float32Array | Float64Array).byteLength);
  if (f.wireType === 5) return values.length * 4;
  if (f.wireType === 1) return values.length * 8;
  let n = 0;
  for (let i = 0; i < values.length; i++) n += scalarSize(f, values[i]);
  return n;
}

function messageSize(info: MessageInfo, msg: Message, sizes: Sizes): number {
  let total = 0;
  for (const f of info.ordered) {
    const v = msg[f.name];
    if (v === undefined || v === null) continue;
    const values = valuesOf(f, v);
    const tag = varintSize(f.id * 8);
    if (f.packed) {
      if (values.length === 0) continue;
      const body = packedSize(f, values, sizes);
      sizes.of.set(values as object, body);
      total += tag + varintSize(body) + body;
      continue;
    }
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      let body: number;
      if (f.kind === Kind.Message) {
        body = messageSize(f.message!, x as Message, sizes);
        sizes.of.set(x as object, body);
        body += varintSize(body);
      } else if (f.kind === Kind.String || f.kind === Kind.Bytes) {
        const n = rawRun(sizes, f.kind === Kind.String ? stringBytes(x).length : (x as Uint8Array).length);
        body = n + varintSize(n);
      } else body = scalarSize(f, x);
      total += tag + body;
    }
  }
  return total;
}

const utf8 = new TextEncoder();
function stringBytes(v: unknown): Uint8Array {
  return utf8.encode(String(v));
}

function writeMessage(e: Encoder, info: MessageInfo, msg: Message, sizes: Sizes): void {
  for (const f of info.ordered) {
    const v = msg[f.name];
    if (v === undefined || v === null) continue;
    const values = valuesOf(f, v);
    if (f.packed) {
      if (values.length === 0) continue;
      e.varint(f.id * 8 + 2);
      e.varint(sizes.of.get(values as object)!);
      writePacked(e, f, values);
      continue;
    }
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      e.varint(f.id * 8 + f.wireType);
      if (f.kind === Kind.Message) {
        e.varint(sizes.of.get(x as object)!);
        writeMessage(e, f.message!, x as Message, sizes);
      } else if (f.kind === Kind.String || f.kind === Kind.Bytes) {
        const bytes = f.kind === Kind.String ? stringBytes(x) : (x as Uint8Array);
        e.varint(bytes.length);
        e.raw(bytes);
      } else writeScalar(e, f, x);
    }
  }
}

/** A packed run's bytes as they are in memory, when that is its wire form (floats as floats, little-endian host). */
function packedBytes(f: FieldInfo, values: ArrayLike<unknown>): Uint8Array | undefined {
  const sameType = (f.kind === Kind.Float && values instanceof Float32Array) || (f.kind === Kind.Double && values instanceof Float64Array);
  if (!sameType || !LITTLE_ENDIAN_HOST) return undefined;
  const a = values as Float32Array | Float64Array;
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function writePacked(e: Encoder, f: FieldInfo, values: ArrayLike<unknown>): void {
  const bytes = packedBytes(f, values);
  if (bytes) return e.raw(bytes);
  for (let i = 0; i < values.length; i++) writeScalar(e, f, values[i]);
}

/**
 * A plain-object message (the readers' form) sized for the binary wire format: its encoded `size`, known before
 * anything is written, then its bytes as one buffer (`encode`) or as chunks (`encodeChunks`).
 */
export interface SizedMessage {
  size: number;
  /** The message in one buffer of `size` bytes. */
  encode(): Uint8Array;
  /**
   * The message as chunks that concatenate to `encode()`'s bytes: each raw run of VIEW_BYTES or more (a tensor's
   * raw_data, a blob's floats) is the caller's own memory, not copied; the rest is in one buffer of its own.
   */
  encodeChunks(): Uint8Array[];
}

export function sizeMessage(type: protobuf.Type, msg: Message): SizedMessage {
  const info = messageInfo(type);
  const sizes: Sizes = { of: new Map(), viewed: 0 };
  const size = messageSize(info, msg, sizes);
  const write = (e: Encoder, expected: number) => {
    writeMessage(e, info, msg, sizes);
    if (e.pos !== expected) throw new Error(`encoder wrote ${e.pos} bytes, expected ${expected}`);
    e.cut();
    return e.chunks;
  };
  return {
    size,
    encode: () => {
      const e = new Encoder(new Uint8Array(size));
      write(e, size);
      return e.buf;
    },
    encodeChunks: () => write(new Encoder(new Uint8Array(size - sizes.viewed), VIEW_BYTES), size - sizes.viewed),
  };
}

/** Encodes a plain-object message (the readers' form) in the binary wire format. */
export function encodeMessage(type: protobuf.Type, msg: Message): Uint8Array {
  return sizeMessage(type, msg).encode();
}
