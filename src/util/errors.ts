/** Quoted text longer than this is cut in error messages (a 50 MB token must not become a 50 MB message). */
const MAX_QUOTE = 60;
/** An unquoted run without spaces longer than this (a huge number, a path of garbage) is cut too. */
const MAX_RUN = 200;

/** `text` cut to ~60 characters with an ellipsis and its full length, for quoting user input in a message. */
export function clip(text: string, max = MAX_QUOTE): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length.toLocaleString('en-US')} characters)`;
}

const isWordChar = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}_]/u.test(c);
/** Ends an unquoted run: a quote mark, or white space (the ASCII kinds; a message's runs are split at these). */
const isSpaceOrQuote = (c: number): boolean => c === 39 || c === 34 || c === 32 || (c >= 9 && c <= 13);

/**
 * A message with every overlong quotation ('…' or "…" on one line) and every overlong unspaced run cut (see
 * `clip`): every CremaError goes through it, so no message site can quote a whole hostile token. A quote mark
 * after a letter (Caffe's) opens nothing. A hand-written scan: a regex over a 50 MB quotation overflows the stack.
 */
export function clipMessage(message: string): string {
  if (message.length <= MAX_QUOTE) return message;
  const out: string[] = [];
  let i = 0;
  // Per quote mark, the end of the line where a search for its closing found none: later searches there fail too.
  const hopeless: Record<string, number> = { "'": -1, '"': -1 };
  while (i < message.length) {
    const c = message[i];
    if ((c === "'" || c === '"') && !isWordChar(message[i - 1]) && i > hopeless[c]) {
      const end = closingQuote(message, c, i + 1);
      if (end < 0) hopeless[c] = lineEnd(message, i);
      if (end > 0) {
        out.push(c + clip(message.slice(i + 1, end)) + c);
        i = end + 1;
        continue;
      }
    }
    if (isSpaceOrQuote(message.charCodeAt(i))) {
      out.push(c);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < message.length && !isSpaceOrQuote(message.charCodeAt(j))) j++;
    out.push(clip(message.slice(i, j), MAX_RUN));
    i = j;
  }
  return out.join('');
}

/** The index of the quote mark that closes a quotation opened before `from` (not followed by a letter), or -1. */
function closingQuote(message: string, quote: string, from: number): number {
  const eol = lineEnd(message, from);
  for (let k = message.indexOf(quote, from); k >= 0 && k < eol; k = message.indexOf(quote, k + 1)) {
    if (!isWordChar(message[k + 1])) return k;
  }
  return -1;
}

function lineEnd(message: string, from: number): number {
  const eol = message.indexOf('\n', from);
  return eol < 0 ? message.length : eol;
}

/** An error in what the user gave us (a file, a flag, a net): reported in one line, exit code 2. */
export class CremaError extends Error {
  override name = 'CremaError';
  /** A stable code to tell errors apart by: 'ERR_CREMA_INPUT' (bad input), 'ERR_CREMA_LAYER' (a layer refused it). */
  readonly code: string = 'ERR_CREMA_INPUT';
  constructor(message: string, options?: ErrorOptions) {
    super(clipMessage(message), options);
  }
}

/**
 * The wasm kernels' memory refused a block (src/kernels/wasm.ts, Heap.alloc): thrown by a kernel mid-forward, and
 * named with the layer running by the net (Net.runLayer), so the line says where the memory ran out.
 */
export class MemoryFullError extends CremaError {}

/**
 * Why a file the user named (a prototxt, weights, an input, an image, a plugin, labels) cannot be opened, in words:
 * the same few everywhere (`no such file`, `permission denied`, `is a directory`, ...); the errno code only for the
 * rare ones: `cannot read it (EIO)` when reading; when writing the code alone, after the caller's `cannot write: `.
 */
export function fileErrorWords(code: string | undefined, doing: 'read' | 'write' = 'read'): string {
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'ENOTDIR': return 'a part of its path is a file, not a directory';
    case 'ELOOP': return 'too many levels of symbolic links';
    case 'ENAMETOOLONG': return 'the name is too long';
    case 'EROFS': return 'on a read-only file system';
    default: return doing === 'read' ? `cannot read it (${code ?? 'unknown error'})` : (code ?? 'unknown error');
  }
}

/** What a path that is not a regular file is, in words (for `fileErrorWords`' callers). */
export function notRegularWords(stat: { isDirectory(): boolean }): string {
  return stat.isDirectory() ? 'is a directory' : 'not a regular file (a device, pipe or socket)';
}

/** Throws a CremaError unless `cond` holds. */
export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new CremaError(typeof message === 'string' ? message : message());
}

/** Names a value's kind in errors: "null", "a number", "an object (Map)". */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return `a ${typeof value}`;
}
