// Protobuf text format (what .prototxt files are), read and written through the reflection of
// proto/caffe.proto. Produces the plain-object form described in types.ts.
import protobuf from 'protobufjs';
import { CremaError, clip } from '../util/errors.js';
import { messageType } from './schema.js';
import { nearest } from '../util/options.js';
import { listSome } from '../util/names.js';
import type { Message } from './message.js';
import { decodeUtf8, finishBlobArrays, isLayerType, toSafeNumber } from './wire.js';

export interface PrototxtOptions {
  /** The message the text holds (default 'NetParameter'). */
  typeName?: string;
  /** Skip fields the schema lacks (with a warning) instead of failing. */
  lenient?: boolean;
  warn?: (msg: string) => void;
}

// ---------------------------------------------------------------------------------------------
// Tokens

type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'eof' | 'bad';

interface Token {
  kind: TokenKind;
  text: string; // for strings: the raw text between quotes; for 'bad': what went wrong
  line: number;
  col: number;
}

/** Where the lexer stands: enough to scan again from there (see TextParser.layerName). */
interface LexState {
  i: number;
  line: number;
  lineStart: number;
}

// '.' and '/' only occur in extension names and type URLs ([foo.bar]).
const PUNCT = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-', '+', '.', '/']);

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isIdentStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isIdentChar = (c: number): boolean => isIdentStart(c) || isDigit(c);
const isHexDigit = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

/**
 * Splits text into tokens one at a time, on demand: the parser holds one token, never a list of them (a list
 * took an object per character of a 50 MB file of ';'). A lexical error becomes a 'bad' token, reported when
 * the parser reaches it; the lexer stops there.
 */
class Lexer {
  private i: number;
  private line: number;
  private lineStart: number;
  private stopped = false;

  constructor(readonly text: string, from: LexState = { i: 0, line: 1, lineStart: 0 }) {
    ({ i: this.i, line: this.line, lineStart: this.lineStart } = from);
  }

  state(): LexState {
    return { i: this.i, line: this.line, lineStart: this.lineStart };
  }

  next(): Token {
    const text = this.text, n = text.length;
    if (this.stopped) return this.token('eof', 'end of file', this.i);
    this.skipSpace();
    const start = this.i;
    if (start >= n) return this.token('eof', 'end of file', start);
    const c = text.charCodeAt(start);
    if (isIdentStart(c)) {
      while (this.i < n && isIdentChar(text.charCodeAt(this.i))) this.i++;
      return this.token('ident', text.slice(start, this.i), start);
    }
    if (isDigit(c) || (c === 46 && isDigit(text.charCodeAt(start + 1)))) return this.number(start);
    if (c === 34 || c === 39) return this.string(start, c);
    if (PUNCT.has(text[start])) {
      this.i++;
      return this.token('punct', text[start], start);
    }
    return this.bad(`unexpected character ${JSON.stringify(String.fromCodePoint(text.codePointAt(start)!))}`, start);
  }

  private skipSpace(): void {
    const text = this.text, n = text.length;
    while (this.i < n) {
      const c = text.charCodeAt(this.i);
      if (c === 10) {
        this.line++;
        this.lineStart = ++this.i;
      } else if (c === 32 || (c >= 9 && c <= 13)) this.i++; // space, \t \v \f \r
      else if (c === 35) { // '#' comment
        const eol = text.indexOf('\n', this.i);
        this.i = eol < 0 ? n : eol;
      } else return;
    }
  }

  private token(kind: TokenKind, text: string, start: number): Token {
    return { kind, text, line: this.line, col: start - this.lineStart + 1 };
  }

  private bad(what: string, start: number): Token {
    this.stopped = true;
    return this.token('bad', what, start);
  }

  private number(start: number): Token {
    const text = this.text, n = text.length;
    this.i = scanNumber(text, start);
    // A number glued to letters ("12abc", "0x") is not a number.
    if (this.i < n && (isIdentChar(text.charCodeAt(this.i)) || text[this.i] === '.')) {
      while (this.i < n && (isIdentChar(text.charCodeAt(this.i)) || text[this.i] === '.')) this.i++;
      return this.bad(`bad number '${text.slice(start, this.i)}'`, start);
    }
    return this.token('number', text.slice(start, this.i), start);
  }

  private string(start: number, quote: number): Token {
    const text = this.text, n = text.length;
    let i = start + 1;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === quote || c === 10) break;
      i += c === 92 ? 2 : 1;
    }
    if (i >= n || text.charCodeAt(i) !== quote) return this.bad('unterminated string', start);
    this.i = i + 1;
    return this.token('string', text.slice(start + 1, i), start);
  }
}

/** End of a number starting at i: decimal, 0x hex (at least one digit), float with exponent, optional f suffix. */
function scanNumber(text: string, i: number): number {
  const n = text.length;
  if (text[i] === '0' && (text[i + 1] === 'x' || text[i + 1] === 'X') && isHexDigit(text.charCodeAt(i + 2))) {
    i += 2;
    while (i < n && isHexDigit(text.charCodeAt(i))) i++;
    return i;
  }
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  if (text[i] === '.') {
    i++;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
  }
  if (text[i] === 'e' || text[i] === 'E') {
    let j = i + 1;
    if (text[j] === '+' || text[j] === '-') j++;
    if (isDigit(text.charCodeAt(j))) {
      i = j;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
    }
  }
  if (text[i] === 'f' || text[i] === 'F') i++;
  return i;
}

const SIMPLE_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };

const utf8 = new TextEncoder();

/** The bytes a quoted string stands for, with C escapes resolved (text is UTF-8). */
function unescapeBytes(raw: string, where: () => string): Uint8Array {
  if (!raw.includes('\\')) return utf8.encode(raw); // the common case, and a 50 MB name, in one step
  const parts: Uint8Array[] = [];
  const escaped: number[] = []; // the bytes of the current run of escapes
  const flush = (): void => {
    if (escaped.length) parts.push(Uint8Array.from(escaped.splice(0)));
  };
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== '\\') {
      // A run of plain characters, as UTF-8.
      let j = raw.indexOf('\\', i);
      if (j < 0) j = raw.length;
      flush();
      parts.push(utf8.encode(raw.slice(i, j)));
      i = j - 1;
      continue;
    }
    const e = raw[++i];
    if (Object.hasOwn(SIMPLE_ESCAPES, e)) escaped.push(SIMPLE_ESCAPES[e]);
    else if (/[0-7]/.test(e)) {
      let j = i;
      while (j < i + 3 && /[0-7]/.test(raw[j] ?? '')) j++;
      escaped.push(parseInt(raw.slice(i, j), 8) & 0xff);
      i = j - 1;
    } else if (e === 'x' || e === 'X') {
      let j = i + 1;
      while (j < i + 3 && /[0-9A-Fa-f]/.test(raw[j] ?? '')) j++;
      if (j === i + 1) throw new CremaError(`${where()}: \\x escape without hex digits`);
      escaped.push(parseInt(raw.slice(i + 1, j), 16));
      i = j - 1;
    } else throw new CremaError(`${where()}: unknown escape '\\${e}' in string`);
  }
  flush();
  return concatBytes(parts);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parser

const INT_RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

/** How a fork's unknown field or value gets past the parser (the CLI says `--lenient`: see inCliWords). */
const LENIENT_HINT = 'options.lenient skips it';

const INT32_MAX = 2n ** 31n - 1n;

/** INT_RANGES as doubles (rounded at 2^63 and 2^64: only ever compared with numbers below 10^15). */
const NUMBER_RANGES: Record<string, [number, number]> = Object.fromEntries(
  Object.entries(INT_RANGES).map(([k, [lo, hi]]) => [k, [Number(lo), Number(hi)]]));

/** 0, or 1 to 15 decimal digits without a leading 0 (an octal): exact as a double. */
function isShortDecimal(text: string): boolean {
  if (text.length > 15 || (text.length > 1 && text.charCodeAt(0) === 48)) return false;
  for (let i = 0; i < text.length; i++) if (!isDigit(text.charCodeAt(i))) return false;
  return text.length > 0;
}

const BOOL_WORDS = new Map<string, boolean>([
  ['true', true], ['True', true], ['t', true], ['1', true],
  ['false', false], ['False', false], ['f', false], ['0', false],
]);

/** What the parser knows about the layer it is inside, for error messages. */
interface LayerContext {
  name?: string;
  index: number;
  body: LexState; // just after the layer's opening brace, to look ahead for its name
  pathDepth: number; // fieldPath's length inside the layer
}

class TextParser {
  private cur: Token;
  /** Where the lexer stood before it read `cur`. */
  private curFrom: LexState;
  private readonly layers: LayerContext[] = [];
  private readonly fieldPath: string[] = []; // message fields entered, outermost first
  private layerCount = 0;

  constructor(
    private readonly lexer: Lexer,
    private readonly file: string,
    private readonly opts: PrototxtOptions,
  ) {
    this.curFrom = lexer.state();
    this.cur = lexer.next();
  }

  private peek(): Token {
    return this.cur;
  }

  /** Moves past the current token. */
  private advance(): void {
    if (this.cur.kind === 'eof' || this.cur.kind === 'bad') return;
    this.curFrom = this.lexer.state();
    this.cur = this.lexer.next();
  }

  private next(): Token {
    const t = this.cur;
    if (t.kind === 'bad') this.fail(t, t.text);
    this.advance();
    return t;
  }

  private at(t: Token): string {
    return `${this.file}:${t.line}:${t.col}`;
  }

  private fail(t: Token, what: string): never {
    throw new CremaError(`${this.at(t)}: ${what}`);
  }

  private describe(t: Token): string {
    if (t.kind === 'eof') return 'end of file';
    if (t.kind === 'string') return `string "${clip(t.text)}"`;
    return `'${clip(t.text)}'`;
  }

  private expected(what: string): never {
    const t = this.peek();
    if (t.kind === 'bad') this.fail(t, t.text);
    this.fail(t, `expected ${what}, got ${this.describe(t)}`);
  }

  private isPunct(text: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === text;
  }

  private eat(text: string): boolean {
    if (!this.isPunct(text)) return false;
    this.advance();
    return true;
  }

  private expect(text: string, what = `'${text}'`): void {
    if (!this.eat(text)) this.expected(what);
  }

  /** The fields of one message up to `close` ('}' / '>' or end of file for the top level). */
  parseMessage(type: protobuf.Type, close: string | null): Message {
    const out: Message = {};
    for (;;) {
      const t = this.peek();
      if (close === null ? t.kind === 'eof' : t.kind === 'punct' && t.text === close) {
        if (close !== null) this.advance();
        return out;
      }
      if (t.kind === 'eof') this.expected(`'${close}'`);
      this.parseField(type, out);
      if (!this.eat(';')) this.eat(',');
    }
  }

  private parseField(type: protobuf.Type, out: Message): void {
    const nameTok = this.peek();
    let name: string;
    if (nameTok.kind === 'ident') {
      name = nameTok.text;
      this.advance();
    } else if (this.isPunct('[')) {
      // An extension or Any type URL: caffe.proto has none, so it is always unknown.
      this.advance();
      name = '[';
      while (!this.isPunct(']')) {
        const t = this.next();
        if (t.kind === 'eof') this.expected("']'");
        name += t.text;
      }
      this.advance();
      name += ']';
    } else this.expected('a field name');
    const field = Object.hasOwn(type.fields, name) ? type.fields[name] : undefined;
    if (!field) {
      this.unknownField(type, name, nameTok);
      return;
    }
    field.resolve();
    if (field.resolvedType instanceof protobuf.Type) this.parseMessageField(field, field.resolvedType, out, nameTok);
    else this.parseScalarField(field, out, nameTok);
  }

  private unknownField(type: protobuf.Type, name: string, at: Token): void {
    // The SSD fork's labelmap_voc.prototxt (item { name label display_name }) given where a net goes: no net to skip to.
    const labelMap = type.name === 'NetParameter' && name === 'item';
    // A solver.prototxt given for the net (`net: "train_val.prototxt"`, `base_lr`): --lenient would skip every line
    // of it into an empty net. A stray `type:` is no sign of one: a layer's, outside its braces.
    const solver = type.name === 'NetParameter' && name !== 'type' && Object.hasOwn(messageType('SolverParameter').fields, name);
    const why = labelMap ? ": this is a label map (the SSD fork's labelmap), not a net; crema detect takes it as --labels"
      : solver ? `: this is a solver (its '${name}' is a SolverParameter field), not a net: give the net's prototxt (the solver's net: or train_net: names it)` : '';
    const outside = `${type.name} has unknown field '${name}'${why}`;
    // A typo (num_ouput) is likelier than a fork's field within two edits of one of caffe.proto's.
    const near = labelMap || solver ? undefined : nearest(name, Object.keys(type.fields));
    this.unknown(at, outside, `has unknown field '${name}'`, undefined, !labelMap && !solver, near && `did you mean '${near}'?`);
    this.skipValue();
  }

  /**
   * A field or enum value caffe.proto lacks (a fork's: `region_param`, `engine: MKL2017`): refused, naming the layer
   * and the way past it; with `lenient`, warned about and skipped (the layer keeps the field's default).
   */
  private unknown(at: Token, outside: string, inLayer: string, detail?: string, skippable = true, guess?: string): void {
    let msg = `${this.at(at)}: ${outside}`;
    const layer = this.layers[this.layers.length - 1];
    if (layer) {
      const inner = this.fieldPath.slice(layer.pathDepth).join('.');
      msg = `${this.at(at)}: layer '${this.layerName()}' ${inLayer}${inner ? ` in ${inner}` : ''}`;
    }
    if (guess) msg += `: ${guess}`;
    // Outside a layer too: a fork's net-wide setting (Cysu/dgd_person_reid's `richness`, Intel Caffe's
    // `bn_stats_batch_size`); a typo skipped (`nmae:`) is in the warning.
    const notes = [detail, skippable && !this.opts.lenient ? LENIENT_HINT : undefined].filter(Boolean);
    if (notes.length) msg += ` (${notes.join('; ')})`;
    if (!this.opts.lenient) throw new CremaError(msg);
    this.opts.warn?.(`${msg} (skipped)`);
  }

  /** The name of the innermost layer, looked up ahead when `name:` comes later in its block. */
  private layerName(): string {
    const ctx = this.layers[this.layers.length - 1];
    if (ctx.name !== undefined) return ctx.name;
    // Only ever on the way to an error: scanning the layer's text again costs nothing that matters.
    const ahead = new Lexer(this.lexer.text, ctx.body);
    let depth = 0;
    for (let t = ahead.next(); t.kind !== 'eof' && t.kind !== 'bad'; t = ahead.next()) {
      if (t.kind === 'punct' && (t.text === '{' || t.text === '<' || t.text === '[')) depth++;
      else if (t.kind === 'punct' && (t.text === '}' || t.text === '>' || t.text === ']')) {
        if (--depth < 0) break;
      } else if (depth === 0 && t.kind === 'ident' && t.text === 'name') {
        const a = ahead.next();
        const b = a.text === ':' ? ahead.next() : a;
        if (a.text === ':' && b.kind === 'string') return b.text;
        if (b.kind === 'punct' && (b.text === '{' || b.text === '<' || b.text === '[')) depth++;
      }
    }
    return `#${ctx.index}`;
  }

  /** Skips an unknown field's value: `: scalar`, `: [list]`, `{...}`, `: {...}` or `<...>`. */
  private skipValue(): void {
    const colon = this.eat(':');
    if (this.isPunct('{') || this.isPunct('<') || this.isPunct('[')) {
      this.skipBlock();
      return;
    }
    if (!colon) this.expected("':' or '{'");
    if (!this.eat('-')) this.eat('+');
    const t = this.next();
    if (t.kind === 'string') {
      while (this.peek().kind === 'string') this.advance();
    } else if (t.kind !== 'ident' && t.kind !== 'number') this.fail(t, `expected a value, got ${this.describe(t)}`);
  }

  private skipBlock(): void {
    const stack: string[] = [];
    do {
      const t = this.next();
      if (t.kind === 'eof') this.expected(`'${stack[stack.length - 1]}'`);
      if (t.kind !== 'punct') continue;
      if (t.text === '{') stack.push('}');
      else if (t.text === '<') stack.push('>');
      else if (t.text === '[') stack.push(']');
      else if (t.text === '}' || t.text === '>' || t.text === ']') {
        if (stack.pop() !== t.text) this.fail(t, `unbalanced '${t.text}'`);
      }
    } while (stack.length > 0);
  }

  private store(field: protobuf.Field, out: Message, value: unknown, at: Token): void {
    if (field.repeated) {
      ((out[field.name] ??= []) as unknown[]).push(value);
      return;
    }
    if (field.name in out) this.fail(at, `field '${field.name}' is set more than once`);
    out[field.name] = value;
  }

  private parseMessageField(field: protobuf.Field, type: protobuf.Type, out: Message, at: Token): void {
    this.fieldPath.push(field.name);
    this.parseMessageValues(field, type, out, at);
    this.fieldPath.pop();
  }

  private parseMessageValues(field: protobuf.Field, type: protobuf.Type, out: Message, at: Token): void {
    const colon = this.eat(':');
    if (field.repeated && this.isPunct('[')) {
      this.advance();
      if (this.eat(']')) return;
      do this.store(field, out, this.parseSubmessage(type), at);
      while (this.eat(','));
      this.expect(']', "',' or ']'");
      return;
    }
    if (!this.isPunct('{') && !this.isPunct('<')) this.expected(colon ? "'{'" : "'{' or ':'");
    this.store(field, out, this.parseSubmessage(type), at);
  }

  private parseSubmessage(type: protobuf.Type): Message {
    const open = this.peek();
    if (!this.eat('{') && !this.eat('<')) this.expected("'{'");
    const layer = isLayerType(type.name);
    if (layer) this.layers.push({ index: this.layerCount++, body: this.curFrom, pathDepth: this.fieldPath.length });
    const msg = this.parseMessage(type, open.text === '{' ? '}' : '>');
    if (layer) this.layers.pop();
    finishBlobArrays(type, msg);
    return msg;
  }

  private parseScalarField(field: protobuf.Field, out: Message, at: Token): void {
    this.expect(':', "':'");
    if (this.isPunct('[')) {
      if (!field.repeated) this.fail(this.peek(), `field '${field.name}' is not repeated: a list is not allowed`);
      this.advance();
      if (this.eat(']')) return;
      do {
        const value = this.parseScalar(field);
        if (value !== undefined) this.store(field, out, value, at);
      } while (this.eat(','));
      this.expect(']', "',' or ']'");
      return;
    }
    const value = this.parseScalar(field);
    if (value === undefined) return;
    this.store(field, out, value, at);
    if (field.name === 'name' && this.layers.length > 0 && typeof value === 'string') {
      const ctx = this.layers[this.layers.length - 1];
      ctx.name ??= value;
    }
  }

  private parseScalar(field: protobuf.Field): unknown {
    if (field.resolvedType instanceof protobuf.Enum) return this.parseEnum(field, field.resolvedType);
    switch (field.type) {
      case 'string': {
        const at = this.peek();
        return decodeUtf8(this.parseStringBytes(), () => this.at(at));
      }
      case 'bytes':
        return this.parseStringBytes();
      case 'bool':
        return this.parseBool();
      case 'float':
        return Math.fround(this.parseFloat());
      case 'double':
        return this.parseFloat();
      default:
        return this.parseInteger(field.type, field.name);
    }
  }

  /** One string value: adjacent quoted strings are one ("a" "b" is "ab"). */
  private parseStringBytes(): Uint8Array {
    const first = this.peek();
    if (first.kind !== 'string') this.expected('a string');
    const parts: Uint8Array[] = [];
    while (this.peek().kind === 'string') {
      const t = this.next();
      parts.push(unescapeBytes(t.text, () => this.at(t)));
    }
    return concatBytes(parts);
  }

  private parseBool(): boolean {
    const t = this.peek();
    const truthy = t.kind === 'ident' || t.kind === 'number' ? BOOL_WORDS.get(t.text) : undefined;
    if (truthy === undefined) this.expected('true or false');
    this.advance();
    return truthy;
  }

  private parseFloat(): number {
    const negative = this.eat('-');
    const t = this.peek();
    let value: number;
    if (t.kind === 'number') {
      const text = t.text.replace(/[fF]$/, '');
      value = /^0[xX]/.test(text) ? Number(BigInt(text)) : Number(text);
      if (Number.isNaN(value)) this.fail(t, `bad number '${t.text}'`);
    } else if (t.kind === 'ident' && /^(inf|infinity)$/i.test(t.text)) value = Infinity;
    else if (t.kind === 'ident' && /^nan$/i.test(t.text)) value = NaN;
    else this.expected('a number');
    this.advance();
    return negative ? -value : value;
  }

  private parseInteger(type: string, field: string): number {
    const start = this.peek();
    const negative = this.eat('-');
    const t = this.peek();
    if (t.kind !== 'number') this.expected('an integer');
    const range = INT_RANGES[type];
    if (!range) this.fail(t, `unsupported field type ${type}`);
    // The common case without BigInt (7.5 M dims took 5 s through it): up to 15 decimal digits are exact doubles.
    if (isShortDecimal(t.text)) {
      const n = Number(t.text), value = negative && n !== 0 ? -n : n;
      const [lo, hi] = NUMBER_RANGES[type];
      if (value >= lo && value <= (type === 'uint32' ? 2 ** 31 - 1 : hi)) {
        this.advance();
        return value;
      }
    }
    // No 64-bit integer has more digits (and BigInt reads a long decimal in quadratic time).
    if (t.text.length > 24) this.fail(start, `integer ${negative ? '-' : ''}${t.text} out of range for ${type}`);
    let big: bigint;
    if (/^0[xX][0-9A-Fa-f]+$/.test(t.text)) big = BigInt(t.text);
    else if (/^0[0-7]+$/.test(t.text)) big = BigInt('0o' + t.text.slice(1));
    else if (/^(0|[1-9][0-9]*)$/.test(t.text)) big = BigInt(t.text);
    else this.fail(t, `expected an integer, got '${t.text}'`);
    if (negative) big = -big;
    if (big < range[0] || big > range[1]) this.fail(start, `integer ${big} out of range for ${type}`);
    // Caffe's layers read their uint32 settings (sizes, strides, counts) into an int: above 2^31 - 1 they turn
    // negative there, and Caffe refuses them (LRN: "only supports odd values for local_size"), or runs nonsense.
    if (type === 'uint32' && big > INT32_MAX)
      this.fail(start, `'${field}: ${big}' is above ${INT32_MAX}: Caffe reads it into an int as ${big - 2n ** 32n} and refuses it`);
    this.advance();
    return toSafeNumber(big, () => `${this.at(t)}: integer ${big} is too large`);
  }

  /** An enum's value by name or number; undefined when `lenient` skipped an unknown name. */
  private parseEnum(field: protobuf.Field, en: protobuf.Enum): string | undefined {
    const t = this.peek();
    const names = Object.keys(en.values);
    // V1's layer types are 49 values: all of them made a refusal of ~730 characters around its one guess.
    const some = listSome(names, 12);
    let name: string | undefined;
    if (t.kind === 'ident') name = Object.hasOwn(en.values, t.text) ? t.text : undefined;
    else if (t.kind === 'number' || this.isPunct('-')) {
      const id = this.parseInteger('int32', field.name);
      name = en.valuesById[id];
      if (name === undefined) this.fail(t, `${id} is not a value of ${en.name} for '${field.name}' (${some})`);
      return name;
    } else this.expected(`one of ${some}`);
    this.advance();
    // A typo (CONVOLUTOIN, MAXX) is likelier than a fork's value within two edits of one of caffe.proto's.
    const near = name === undefined ? nearest(t.text, names) : undefined;
    if (name === undefined) this.unknown(t, `unknown value '${t.text}' for '${field.name}'`, `has unknown value '${t.text}' for '${field.name}'`, `expected one of ${some}`, true, near && `did you mean '${near}'?`);
    return name;
  }
}

/** Parses a prototxt (protobuf text format) into the plain-object form of `opts.typeName`. */
export function parsePrototxt(text: string, file: string, opts: PrototxtOptions = {}): Message {
  const type = messageType(opts.typeName ?? 'NetParameter');
  // A byte-order mark (editors on Windows add one) is not part of the text.
  const parser = new TextParser(new Lexer(text.startsWith('\uFEFF') ? text.slice(1) : text), file, opts);
  const msg = parser.parseMessage(type, null);
  finishBlobArrays(type, msg);
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Writer

/** Shortest decimal that reads back as the same float32. */
export function formatFloat32(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Object.is(x, -0)) return '-0';
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) return String(Number(s));
  }
  return String(f);
}

function formatDouble(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  return String(x);
}

function quote(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += '\\\\';
    else if (b === 0x0a) s += '\\n';
    else if (b === 0x09) s += '\\t';
    else if (b === 0x0d) s += '\\r';
    else if (b < 0x20 || b >= 0x7f) s += '\\' + b.toString(8).padStart(3, '0');
    else s += String.fromCharCode(b);
  }
  return s + '"';
}

function formatScalar(field: protobuf.Field, value: unknown): string {
  if (field.resolvedType instanceof protobuf.Enum) {
    return typeof value === 'number' ? (field.resolvedType.valuesById[value] ?? String(value)) : String(value);
  }
  switch (field.type) {
    case 'string':
      return quote(new TextEncoder().encode(String(value)));
    case 'bytes':
      return quote(value as Uint8Array);
    case 'bool':
      return value ? 'true' : 'false';
    case 'float':
      return formatFloat32(Number(value));
    case 'double':
      return formatDouble(Number(value));
    default:
      return String(value);
  }
}

function writeMessage(type: protobuf.Type, msg: Message, indent: string, lines: string[]): void {
  for (const [key, value] of Object.entries(msg)) {
    if (value === undefined) continue;
    const field = type.fields[key];
    if (!field) throw new CremaError(`cannot write field '${key}': ${type.name} has no such field`);
    field.resolve();
    const values: ArrayLike<unknown> = field.repeated ? (value as ArrayLike<unknown>) : [value];
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (field.resolvedType instanceof protobuf.Type) {
        lines.push(`${indent}${key} {`);
        writeMessage(field.resolvedType, v as Message, indent + '  ', lines);
        lines.push(`${indent}}`);
      } else lines.push(`${indent}${key}: ${formatScalar(field, v)}`);
    }
  }
}

/** Writes a plain-object message back as protobuf text format (fields in the object's key order). */
export function formatPrototxt(msg: Message, typeName = 'NetParameter'): string {
  const lines: string[] = [];
  writeMessage(messageType(typeName), msg, '', lines);
  return lines.length ? lines.join('\n') + '\n' : '';
}
