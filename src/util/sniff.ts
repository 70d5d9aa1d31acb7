// What a file is, from its first bytes: to refuse a JPEG given as weights, or a caffemodel given as the prototxt,
// by what it is rather than by the first byte a parser trips over.

/** What a file that is not protobuf at all most likely is, from its first bytes. */
export function sniffNonProtobuf(head: Uint8Array): string | undefined {
  const starts = (...sig: number[]): boolean => sig.every((b, i) => head[i] === b);
  if (starts(0xff, 0xd8, 0xff)) return 'a JPEG image';
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'a PNG image';
  if (starts(0x89, 0x48, 0x44, 0x46)) return 'an HDF5 file (a .caffemodel.h5?)';
  if (starts(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)) return 'a NumPy .npy file';
  if (starts(0x1f, 0x8b)) return 'a gzip file';
  if (starts(0x50, 0x4b, 0x03, 0x04)) return 'a zip file';
  if (starts(0x42, 0x4d)) return 'a BMP image';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'a GIF image';
  const state = solverStateNet(head);
  if (state !== undefined) return `a Caffe solver state (.solverstate: the state of a training; its weights are in ${state})`;
  // ONNX's ModelProto: ir_version (field 1, a varint: a tag Caffe's messages never start with, their field 1 being a
  // string or, in a BlobProto, followed by channels' 0x10; a SolverState's, told above, is followed by its learned_net),
  // then producer_name (0x12) or the graph (0x3a).
  if (head[0] === 0x08 && head[1] < 0x80 && (head[2] === 0x12 || head[2] === 0x3a)) {
    return "an ONNX model (crema reads Caffe's .prototxt and .caffemodel; run a .onnx in ONNX Runtime, or the Caffe files with --backend onnx)";
  }
  if (head.length > 0 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f))) {
    return 'a text file (a .prototxt?)';
  }
  return undefined;
}

/** True when the first bytes hold a control character no text file has (protobuf text allows tab, newlines, \v, \f). */
export function looksBinary(head: Uint8Array): boolean {
  return head.some((b) => b < 0x20 && (b < 9 || b > 13));
}

/** A protobuf varint at `at`: its value and the offset after it, or undefined where `head` ends first (or past 2^28). */
function varint(head: Uint8Array, at: number): [number, number] | undefined {
  let value = 0;
  for (let shift = 0; at < head.length && shift < 28; shift += 7) {
    const b = head[at++];
    value |= (b & 0x7f) << shift;
    if (b < 0x80) return [value, at];
  }
  return undefined;
}

/**
 * The caffemodel a SolverState names, where the bytes are one: Caffe's Solver::Snapshot writes iter (field 1, a
 * varint: 0x08) then learned_net (field 2, a string: 0x12), the .caffemodel or .caffemodel.h5 saved beside it. ONNX's
 * ModelProto starts with the same two tags (ir_version, producer_name), whose name is no caffemodel's file name.
 */
function solverStateNet(head: Uint8Array): string | undefined {
  if (head[0] !== 0x08) return undefined;
  const iter = varint(head, 1);
  if (iter === undefined || head[iter[1]] !== 0x12) return undefined;
  const length = varint(head, iter[1] + 1);
  if (length === undefined || length[1] + length[0] > head.length) return undefined;
  const name = new TextDecoder().decode(head.subarray(length[1], length[1] + length[0]));
  return /\.caffemodel(\.h5)?$/.test(name) ? name : undefined;
}
