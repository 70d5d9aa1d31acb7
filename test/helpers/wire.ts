// A tiny protobuf writer for tests, independent of src/caffe/wire.ts: hand-built files with
// forms our encoder never writes (unpacked floats, split packed runs, groups, unknown fields).

export function varint(v: number | bigint): number[] {
  let b = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (b >= 0x80n) {
    out.push(Number(b & 0x7fn) | 0x80);
    b >>= 7n;
  }
  out.push(Number(b));
  return out;
}

export const tag = (field: number, wireType: number): number[] => varint(field * 8 + wireType);
export const len = (field: number, body: number[]): number[] => [...tag(field, 2), ...varint(body.length), ...body];
export const str = (field: number, s: string): number[] => len(field, [...new TextEncoder().encode(s)]);
export const uint = (field: number, v: number | bigint): number[] => [...tag(field, 0), ...varint(v)];

export function f32(v: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return [...b];
}

export function f64(v: number): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v, true);
  return [...b];
}

export const packedFloats = (field: number, values: number[]): number[] => len(field, values.flatMap(f32));
export const unpackedFloats = (field: number, values: number[]): number[] => values.flatMap((v) => [...tag(field, 5), ...f32(v)]);

/** A legacy 4-D blob (num/channels/height/width) with the given data bytes. */
export function legacyBlob(dims: [number, number, number, number], data: number[]): number[] {
  return [...uint(1, dims[0]), ...uint(2, dims[1]), ...uint(3, dims[2]), ...uint(4, dims[3]), ...data];
}
