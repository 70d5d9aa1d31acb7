// Blob and layer names come from the user's files: any string, `__proto__` and `constructor` included.

/**
 * An empty record to key by names: without a prototype, so `r['__proto__'] = v` stores a value (on a plain object
 * it replaces the prototype and the value is lost) and `r['constructor']` is undefined until set.
 */
export function nameRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** The value `record` holds for `name` itself (never one inherited from Object.prototype). */
export function own<T>(record: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

/** A name as a message quotes it: control characters escaped, cut at 60 characters. */
export function quoteName(s: string): string {
  const cut = s.length > 60;
  return JSON.stringify(cut ? s.slice(0, 60) : s).slice(1, -1) + (cut ? '…' : '');
}

/**
 * Items as a message lists them: the first `most` joined by ', ', then "and N more", so that a net's hundreds of
 * layers make a line a user reads (a ResNet without its weights named 161 layers, twice).
 */
export function listSome(items: readonly string[], most = 6): string {
  const shown = items.length > most ? items.slice(0, most - 1) : items;
  return shown.join(', ') + (items.length > shown.length ? ` and ${items.length - shown.length} more` : '');
}

const utf8 = new TextEncoder();

/** Names in C++'s std::string order (Caffe's std::set of net outputs, HDF5's name index): UTF-8 bytes as unsigned. */
export function byBytes(a: string, b: string): number {
  const x = utf8.encode(a), y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
