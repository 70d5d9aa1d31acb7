import fs from 'node:fs';
import path from 'node:path';
import type { ByteSource } from '../caffe/wire.js';
import { CremaError } from './errors.js';

/** Opens a file for reading, with a one-line CremaError naming it when it cannot be (missing, a directory, ...). */
export function openForReading(path: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new CremaError(`${path}: cannot open: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new CremaError(`${path}: not a file`);
  }
  return { fd, size: stat.size };
}

/** Runs `read` on the opened file, closing it after. */
export function withOpenFile<T>(path: string, read: (fd: number, size: number) => T): T {
  const { fd, size } = openForReading(path);
  try {
    return read(fd, size);
  } finally {
    fs.closeSync(fd);
  }
}

/** A whole file's bytes. */
export function readFileBytes(path: string): Buffer {
  return withOpenFile(path, (fd) => fs.readFileSync(fd));
}

/** Reads a file through a small reusable buffer; big arrays are read straight into their own memory. */
export function fileSource(fd: number, size: number, windowSize = 1 << 16): ByteSource {
  windowSize = Math.max(windowSize, 16); // a varint or fixed64 must fit in one window
  const buf = new Uint8Array(windowSize);
  let base = 0;
  let filled = 0;
  const readFully = (dest: Uint8Array, pos: number): void => {
    let done = 0;
    while (done < dest.length) {
      const n = fs.readSync(fd, dest, done, dest.length - done, pos + done);
      if (n === 0) throw new CremaError(`file shrank while reading (at byte ${pos + done})`);
      done += n;
    }
  };
  return {
    size,
    windowSize,
    window(pos, n) {
      if (pos < base || pos + n > base + filled) {
        base = pos;
        filled = Math.min(windowSize, size - pos);
        readFully(buf.subarray(0, filled), pos);
      }
      return { buf, base };
    },
    copy(pos, dest) {
      if (pos >= base && pos + dest.length <= base + filled) dest.set(buf.subarray(pos - base, pos - base + dest.length));
      else readFully(dest, pos);
    },
  };
}

/**
 * Writes `bytes` to `file` atomically: into a temporary file beside it, then renamed over it, so an
 * existing file is replaced only when the new one is complete.
 */
export function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new CremaError(`${file}: the directory ${dir} does not exist`);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
