// What the loaders accept: a file path, or the file's bytes (Uint8Array, ArrayBuffer, Node's Buffer), or for a
// prototxt its text. Errors name a path as it was given and bytes by what they are: "weights (Uint8Array, 1.2 MB)".
import type { ByteSource } from '../caffe/types.js';
import { memorySource } from '../caffe/wire.js';
import { platform } from '../platform.js';
import { CremaError, kindOf } from './errors.js';
import { looksBinary, sniffNonProtobuf } from './sniff.js';

/** Bytes as the loaders take them. A Node Buffer is a Uint8Array. */
export type Bytes = Uint8Array | ArrayBuffer;
/** A file path (in Node also a `file:` URL, as a URL or its string) or the file's bytes. */
export type Source = string | URL | Bytes;

/** A source made concrete: bytes in memory, or a file path; `label` is how errors name it. */
export type Resolved = { label: string; bytes: Uint8Array; path?: undefined } | { label: string; path: string; bytes?: undefined };

export function isBytes(value: unknown): value is Bytes {
  return value instanceof Uint8Array || value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer);
}

/** "1.2 MB", "512 bytes": sizes in errors, decimal units. */
export function sizeText(bytes: number): string {
  if (bytes < 1000) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  const [unit, div] = bytes < 1e6 ? ['kB', 1e3] : bytes < 1e9 ? ['MB', 1e6] : ['GB', 1e9];
  return `${(bytes / div).toFixed(1)} ${unit}`;
}

/** How errors name bytes given for `role`: "weights (Uint8Array, 1.2 MB)". */
export function bytesLabel(role: string, bytes: Bytes): string {
  const kind = bytes.constructor?.name || 'bytes';
  return `${role} (${kind}, ${sizeText(bytes.byteLength)})`;
}

/**
 * A load's error for a prototxt filled from a template (its bytes, `filled`) naming the template (`label`) instead:
 * the filling keeps the template's lines, so "prototxt (Uint8Array, 9 kB):12: ..." becomes "label:12: ...".
 */
export function namingTemplate(err: unknown, filled: Bytes, label: string): unknown {
  const given = bytesLabel('prototxt', filled);
  return err instanceof CremaError && err.message.startsWith(given) ? new CremaError(label + err.message.slice(given.length)) : err;
}

/**
 * Resolves a path or bytes given as `role` ('weights', 'mean', ...). Anything else is refused naming what it is,
 * so a wrong argument never reaches a parser.
 */
export function resolveSource(role: string, source: unknown): Resolved {
  const urlPath = typeof source === 'string' || source instanceof URL ? pathOfUrl(role, source) : undefined;
  if (urlPath !== undefined) return { label: urlPath, path: urlPath };
  if (typeof source === 'string') {
    if (source === '') throw new CremaError(`${role}: an empty string is neither a file path nor its contents`);
    return { label: source, path: source };
  }
  if (isBytes(source)) return { label: bytesLabel(role, source), bytes: source instanceof Uint8Array ? source : new Uint8Array(source) };
  throw new CremaError(`${role}: expected a file path or the file's bytes (Uint8Array, ArrayBuffer, Buffer), got ${kindOf(source)}`);
}

export { kindOf };

/**
 * A URL given for a file (a URL, or a string 'scheme://…'): a `file:` URL's path where files are read (Node:
 * `new URL('file:///…')` and `import.meta.resolve` give them); any other URL refused in one line (crema reads files
 * and bytes, it fetches nothing). undefined for a string that is no URL (a path).
 */
function pathOfUrl(role: string, source: string | URL): string | undefined {
  if (typeof source === 'string' && !/^[a-z][a-z\d+.-]*:\/\//i.test(source)) return undefined;
  const href = String(source);
  let url: URL | undefined;
  try {
    url = new URL(href);
  } catch {
    url = undefined; // 'http://' alone: refused below as this URL
  }
  const fileUrlPath = platform().fileUrlPath;
  if (url?.protocol === 'file:' && fileUrlPath) {
    try {
      return fileUrlPath(url);
    } catch (err) {
      throw new CremaError(`${role}: ${href}: ${(err as Error).message}`); // file://host/… on Linux
    }
  }
  throw new CremaError(`${role}: ${href}: crema reads a file path${fileUrlPath ? " (or a 'file:' URL)" : ''} or the file's bytes, not ${url ? `a '${url.protocol}' URL` : 'this URL'}: fetch it and give the bytes (new Uint8Array(await (await fetch(url)).arrayBuffer()))`);
}

/** The bytes of a resolved source (a path is read whole). */
export function bytesOf(r: Resolved): Uint8Array {
  return r.bytes ?? platform().readFile(r.path);
}

/** Runs `read` over the source: bytes in memory as they are, a file through a window (never held whole). */
export function withSource<T>(r: Resolved, read: (src: ByteSource) => T): T {
  return r.bytes ? read(memorySource(r.bytes)) : platform().withFile(r.path, read);
}

/** UTF-8 text of bytes (prototxt, labels). */
export function utf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}

/**
 * A prototxt given as a string is its text when it reads as protobuf text (a newline, a brace, or `name: value`
 * at the start), else a path. A path never has those in practice; Windows drive letters (`C:\`) stay paths.
 */
export function looksLikePrototxtText(s: string): boolean {
  return /[\n{}]/.test(s) || /^\s*#/.test(s) || /^\s*[A-Za-z_]\w*\s*:\s*["'\w-]/.test(s);
}

/** A prototxt's text and how errors name it: a path read, bytes decoded, or the text itself. */
export function prototxtText(source: unknown): { text: string; label: string; path?: string } {
  if (typeof source === 'string' && looksLikePrototxtText(source)) {
    const lines = source.split('\n').length;
    return { text: source, label: `prototxt (text, ${lines} line${lines === 1 ? '' : 's'})` };
  }
  const r = resolveSource('prototxt', source);
  const bytes = bytesOf(r);
  checkLooksText(bytes, r.label);
  const text = utf8(bytes);
  if (!/\S/.test(text)) throw new CremaError(`${r.label}: empty file, not a prototxt`);
  return { text, label: r.label, path: r.path };
}

/**
 * Refuses binary bytes as a prototxt by what they are, not by the first character the parser cannot read: most
 * often the .caffemodel, given first (`crema run weights.caffemodel deploy.prototxt`).
 */
function checkLooksText(bytes: Uint8Array, label: string): void {
  const head = bytes.subarray(0, 512);
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    throw new CremaError(`${label}: this is UTF-16 text; a prototxt is read as UTF-8, as Caffe reads it (save it as UTF-8)`);
  }
  if (!looksBinary(head)) return;
  const kind = sniffNonProtobuf(head) ?? 'binary data (a .caffemodel? the .prototxt comes first)';
  throw new CremaError(`${label}: this is ${kind}, not a prototxt`);
}
