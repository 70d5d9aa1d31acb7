// .binaryproto files: one BlobProto, e.g. the mean image of a data set (imagenet_mean.binaryproto).
import { CremaError } from '../util/errors.js';
import { platform } from '../platform.js';
import { c3dBlob, checkBlob, checkLooksBinary } from './caffemodel.js';
import { messageType } from './schema.js';
import type { BlobProto } from './types.js';
import { type ByteSource, decodeMessage, memorySource } from './wire.js';

function decodeBlob(src: ByteSource, file: string): BlobProto {
  checkLooksBinary(src, file, 'binaryproto');
  const blob = decodeMessage(messageType('BlobProto'), src, file) as BlobProto;
  c3dBlob(blob); // C3D v1.0's mean clips (sport1m_train16_128_mean.binaryproto: 1 x 3 x 16 x 128 x 171)
  if (!blob.data?.length && !blob.double_data?.length) throw new CremaError(`${file}: the blob has no data: not a binaryproto`);
  checkBlob(blob, file);
  return blob;
}

/** Decodes a .binaryproto (one BlobProto) held in memory. */
export function readBlobProto(bytes: Uint8Array, file: string): BlobProto {
  return decodeBlob(memorySource(bytes), file);
}

/** Reads a .binaryproto from disk. */
export function readBlobProtoFile(path: string): BlobProto {
  return platform().withFile(path, (src) => decodeBlob(src, path));
}
