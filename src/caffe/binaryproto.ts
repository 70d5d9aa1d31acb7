// .binaryproto files: one BlobProto, e.g. the mean image of a data set (imagenet_mean.binaryproto).
import { CremaError } from '../util/errors.js';
import { platform } from '../platform.js';
import { checkBlob, checkLooksBinary } from './caffemodel.js';
import { messageType } from './schema.js';
import type { BlobProto } from './types.js';
import { type ByteSource, decodeMessage, memorySource } from './wire.js';

function decodeBlob(src: ByteSource, file: string): BlobProto {
  checkLooksBinary(src, file, 'binaryproto');
  const blob = decodeMessage(messageType('BlobProto'), src, file) as BlobProto;
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
