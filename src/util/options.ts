import { CremaError, kindOf } from './errors.js';
import { listSome, quoteName } from './names.js';

/**
 * Refuses an options object with a key the function does not know, naming the known ones (and the likeliest meant):
 * `Net.load(p, w, { thread: 2 })` ran one thread per core, silently, where the user asked for two. Also refuses
 * options that are not an object (`Net.load({ prototxt, weights }, 'w.caffemodel')`). undefined is no options.
 */
export function checkOptionKeys(options: unknown, known: readonly string[], what: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new CremaError(`${what}: expected an options object ({ ${known.join(', ')} }), got ${kindOf(options)}`);
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    throw new CremaError(`${what}: unknown option '${key}'${didYouMean(key, known)}: the options are ${known.join(', ')}`);
  }
}

/**
 * Refuses `labels` (classify's and detect's class names) that are not an array of strings: a labels file's path or
 * text given as a string was read a character a class ("background\nface" named class 1 'a'), silently.
 */
export function checkLabels(labels: unknown, what: string): void {
  if (labels === undefined || (Array.isArray(labels) && labels.every((l) => typeof l === 'string'))) return;
  const got = Array.isArray(labels) ? `an array holding ${kindOf(labels.find((l) => typeof l !== 'string'))}` : kindOf(labels);
  throw new CremaError(`${what}: options.labels is the class names, an array of strings (parseLabels(text) reads a labels file's), got ${got}`);
}

/**
 * " (did you mean 'x'?)" when a known name is near `key` (nearestAll), else ''. With `most` over 1, up to that many
 * names as near ("'x' or 'y'": a layer type's typo can be one edit from two types); with 1, the first of them.
 */
export function didYouMean(key: string, known: Iterable<string>, most = 1): string {
  const near = nearestAll(key, [...known]);
  if (near.length === 0 || (most > 1 && near.length > most)) return '';
  return ` (did you mean ${near.slice(0, most).map((n) => `'${quoteName(n)}'`).join(' or ')}?)`;
}

/** The one known name closest to `key` if one is near enough to be a typo (nearestAll's first). */
export function nearest(key: string, known: readonly string[]): string | undefined {
  return nearestAll(key, known)[0];
}

/**
 * The known names closest to `key`, if any is near enough to be a typo: the same ignoring case, '_' and '-', or one
 * edit away (a letter added, dropped, changed, or two swapped: `nmae`), two from a name of 5 letters or more (`fetch`). Closer
 * is not a guess worth making: `note` is two edits from `name`, and a fork's field, not a typo. Ties all come back, in
 * `known`'s order: `Convolution3` is one edit from Convolution and from Convolution3D, `lstm` both LSTM and Lstm.
 */
export function nearestAll(key: string, known: readonly string[]): string[] {
  const plain = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const same = known.filter((k) => plain(k) === plain(key));
  if (same.length > 0) return same;
  let best: string[] = [], bestDistance = plain(key).length >= 5 ? 3 : 2;
  for (const k of known) {
    const d = editDistance(plain(key), plain(k));
    if (d < bestDistance) [best, bestDistance] = [[k], d];
    else if (d === bestDistance && best.length > 0) best.push(k);
  }
  return best;
}

/**
 * A name the net lacks, as every place that takes blob names says it: the likeliest meant, and the net's blobs (the
 * first dozen: a ResNet's hundreds made a line of thousands of characters).
 */
export function noBlobNamed(name: string, blobs: Iterable<string>): string {
  const known = [...blobs];
  return `no blob named '${quoteName(name)}'${didYouMean(name, known)}; the net's blobs: ${listSome(known.map(quoteName), 12)}`;
}

/**
 * Refuses a name among `names` that is not one of the net's inputs, as every entry that takes inputs by name says it:
 * `what` is the entry ('run', 'forward', 'reshape'), the prefix its other refusals carry.
 */
export function checkInputNames(names: Iterable<string>, inputs: readonly string[], what?: string): void {
  for (const name of names)
    if (!inputs.includes(name)) throw new CremaError(`${what ? `${what}: ` : ''}'${name}' is not an input of the net (inputs: ${inputs.join(', ') || 'none'})`);
}

/** Edits from a to b, a swap of two neighbouring letters one edit (the optimal string alignment distance). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return Infinity;
  const rows = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j], rows[i - 2][j - 2] + 1);
    }
    rows.push(row);
  }
  return rows[a.length][b.length];
}

/** A list of names (`fetches`, `stages`, `outputs`): an array of strings, or a one-line refusal naming `what`. */
export function checkNames(value: unknown, what: string): void {
  if (value === undefined) return;
  if (typeof value === 'string') throw new CremaError(`${what}: expected an array of names, got the string '${value}' (['${value}'] names one)`);
  if (!Array.isArray(value)) throw new CremaError(`${what}: expected an array of names, got ${kindOf(value)}`);
  const bad = value.findIndex((v) => typeof v !== 'string');
  if (bad >= 0) throw new CremaError(`${what}: expected an array of names, got ${kindOf(value[bad])} in it`);
}
