import fs from 'node:fs';
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
