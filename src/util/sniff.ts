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
  // ONNX's ModelProto: ir_version (field 1, a varint: a tag Caffe's messages never start with, their field 1 being a
  // string or, in a BlobProto, followed by channels' 0x10), then producer_name (0x12) or the graph (0x3a).
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
