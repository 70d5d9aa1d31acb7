// The header of a .npy file: a Python dict literal, read as numpy reads it (ast.literal_eval, then exactly the
// keys descr, fortran_order and shape). Regexes over the text misread crafted headers: 'fortran_order' inside
// a string value, or 'shape' given twice (Python, and so numpy, keeps the last).

type PyValue = string | number | boolean | { tuple: PyValue[] } | { list: PyValue[] };

export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/** Parses the header dict; throws a plain message (the caller names the file). */
export function parseNpyHeader(text: string): NpyHeader {
  const p = new PyLiteral(text);
  const dict = p.dict();
  p.end();
  const keys = [...dict.keys()].sort();
  if (keys.join() !== 'descr,fortran_order,shape')
    throw new Error(`the header's keys are [${keys.join(', ')}]; numpy reads exactly descr, fortran_order and shape`);
  const descr = dict.get('descr'), fortran = dict.get('fortran_order'), shape = dict.get('shape');
  if (typeof descr !== 'string') throw new Error('descr is not a string (crema reads simple numeric dtypes)');
  if (typeof fortran !== 'boolean') throw new Error('fortran_order is not a valid bool');
  if (typeof shape !== 'object' || !('tuple' in shape) || !shape.tuple.every((d) => typeof d === 'number'))
    throw new Error('shape is not a tuple of integers');
  return { descr, fortranOrder: fortran, shape: shape.tuple as number[] };
}

/** A recursive-descent reader of the Python literals numpy headers hold: dicts, strings, ints, bools, tuples, lists. */
class PyLiteral {
  private i = 0;
  constructor(private readonly s: string) {}

  private fail(what: string): never {
    throw new Error(`cannot read the header at character ${this.i + 1}: ${what}`);
  }

  private space(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private eat(c: string): boolean {
    this.space();
    if (this.s[this.i] !== c) return false;
    this.i++;
    return true;
  }

  end(): void {
    this.space();
    if (this.i < this.s.length) this.fail('text after the dict');
  }

  dict(): Map<string, PyValue> {
    if (!this.eat('{')) this.fail("expected '{'");
    const out = new Map<string, PyValue>();
    while (!this.eat('}')) {
      const key = this.value();
      if (typeof key !== 'string') this.fail('a key that is not a string');
      if (!this.eat(':')) this.fail("expected ':'");
      out.set(key, this.value()); // a repeated key: the last wins, as in Python
      if (!this.eat(',') && !this.eat('}')) this.fail("expected ',' or '}'");
      else if (this.s[this.i - 1] === '}') break;
    }
    return out;
  }

  private value(): PyValue {
    this.space();
    const c = this.s[this.i];
    if (c === "'" || c === '"') return this.string(c);
    if (c === '(') return { tuple: this.sequence(')') };
    if (c === '[') return { list: this.sequence(']') };
    const word = /^(True|False|-?\d+L?)/.exec(this.s.slice(this.i, this.i + 40));
    if (!word) this.fail('expected a string, a number, True, False or a tuple');
    this.i += word[0].length;
    if (word[0] === 'True' || word[0] === 'False') return word[0] === 'True';
    const n = Number(word[0].replace(/L$/, '')); // Python 2 files write longs as 3L
    if (!Number.isSafeInteger(n)) this.fail(`integer ${word[0]} is too large`);
    return n;
  }

  private string(quote: string): string {
    const close = this.s.indexOf(quote, this.i + 1);
    if (close < 0) this.fail('unterminated string');
    const body = this.s.slice(this.i + 1, close);
    if (body.includes('\\')) this.fail('escapes in a string');
    this.i = close + 1;
    return body;
  }

  private sequence(close: string): PyValue[] {
    this.i++;
    const out: PyValue[] = [];
    while (!this.eat(close)) {
      out.push(this.value());
      if (!this.eat(',')) {
        if (!this.eat(close)) this.fail(`expected ',' or '${close}'`);
        break;
      }
    }
    return out;
  }
}
