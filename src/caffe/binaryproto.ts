// .binaryproto files: one BlobProto, e.g. the mean image of a data set (imagenet_mean.binaryproto).
import fs from 'node:fs';
import { CremaError } from '../util/errors.js';
import { checkBlob, checkLooksBinary, openForReading } from './caffemodel.js';
import { messageType } from './schema.js';
import type { BlobProto } from './types.js';
import { type ByteSource, decodeMessage, fileSource, memorySource } from './wire.js';

function decodeBlob(src: ByteSource, file: string): BlobProto {
  const head = new Uint8Array(Math.min(512, src.size));
  src.copy(0, head);
  checkLooksBinary(head, src.size, file, 'binaryproto');
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
  const { fd, size } = openForReading(path);
  try {
    return decodeBlob(fileSource(fd, size), path);
  } finally {
    fs.closeSync(fd);
  }
}
