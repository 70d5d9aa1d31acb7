// What a net takes as an input value: crema's Tensor, an onnxruntime Tensor, a plain { dims, type, data }, or a
// bare Float32Array for the input's current shape. Computation is float32: anything else is refused by name.
import { type Shape, Tensor, shapeString, sizeOf } from '../tensor.js';
import { CremaError, kindOf } from '../util/errors.js';
import { checkInputNames, noBlobNamed } from '../util/options.js';

/** A tensor as other libraries give one (onnxruntime's Tensor is one): float32 only. */
export interface TensorLike {
  readonly dims: readonly number[];
  readonly type: string;
  readonly data: unknown;
}

/** An input value: a Tensor (crema's, onnxruntime's, or a plain { dims, type: 'float32', data }) or bare data. */
export type InputValue = Tensor | TensorLike | Float32Array;

const HOW = "give a Tensor, an onnxruntime Tensor, { dims, type: 'float32', data: Float32Array } or a Float32Array";

/** The data's kind, for messages: 'Float64Array', 'an array', ... */
function dataKind(data: unknown): string {
  return ArrayBuffer.isView(data) ? data.constructor.name : kindOf(data);
}

/**
 * The value given for input `name` as a Tensor; a bare Float32Array takes the shape `current`. The Tensor shares
 * the caller's data (no copy). Refuses null, other element types and malformed shapes in one line.
 */
export function inputTensor(name: string, value: unknown, current: Shape): Tensor {
  if (value instanceof Tensor) return value;
  if (value instanceof Float32Array) {
    if (value.length !== sizeOf(current))
      throw new CremaError(`input '${name}' has ${value.length} values, its shape ${shapeString(current)} needs ${sizeOf(current)}`);
    return new Tensor(current, value);
  }
  if (value === null || typeof value !== 'object' || !('dims' in value) || !('data' in value))
    throw new CremaError(`input '${name}' is ${ArrayBuffer.isView(value) ? `a ${dataKind(value)}` : kindOf(value)}: ${HOW}`);
  const t = value as TensorLike;
  const type = 'type' in t ? String(t.type) : undefined;
  if (type !== undefined && type !== 'float32')
    throw new CremaError(`input '${name}' is a ${type} tensor: crema computes in float32 (convert its data with Float32Array.from)`);
  if (!(t.data instanceof Float32Array))
    throw new CremaError(`input '${name}' has data of type ${dataKind(t.data)}: crema computes in float32 (Float32Array.from(data) converts it)`);
  const dims = Array.isArray(t.dims) || ArrayBuffer.isView(t.dims) ? [...(t.dims as ArrayLike<number>) as number[]] : undefined;
  if (!dims || dims.some((d) => !Number.isSafeInteger(d) || d < 0))
    throw new CremaError(`input '${name}' has dims ${JSON.stringify(t.dims)}: expected whole numbers, e.g. [1, 3, 224, 224]`);
  if (sizeOf(dims) !== t.data.length)
    throw new CremaError(`input '${name}' has ${t.data.length} values, its dims ${shapeString(dims)} need ${sizeOf(dims)}`);
  return new Tensor(dims, t.data);
}

/** Checks a feeds object itself (not null, not an array). */
export function checkFeeds(feeds: unknown, what: string, example = '{ data: tensor }'): asserts feeds is Record<string, unknown> {
  if (feeds === null || typeof feeds !== 'object' || Array.isArray(feeds) || feeds instanceof Map)
    throw new CremaError(`${what} takes an object of inputs by name (e.g. ${example}), got ${kindOf(feeds)}`);
}

/**
 * As onnxruntime's session.run: a value for every input (the Node Net's run and the browser's; `run({})` ran on
 * whatever the input blobs held, zeros at first).
 */
export function checkEveryInput(inputs: readonly string[], shapeOf: (name: string) => Shape, feeds: Record<string, unknown>): void {
  const missing = inputs.filter((n) => !Object.prototype.hasOwnProperty.call(feeds, n));
  if (!missing.length) return checkInputNames(Object.keys(feeds), inputs, 'run');
  // A misspelt name is said with the missing one: "no value for 'data'" alone hid that { date } was given.
  const strangers = Object.keys(feeds).filter((n) => !inputs.includes(n)).map((n) => `'${n}'`);
  const given = strangers.length ? `; ${strangers.join(', ')} ${strangers.length > 1 ? 'are not inputs' : 'is not an input'} of the net` : '';
  throw new CremaError(`run: no value for ${missing.map((n) => `'${n}' ${shapeString(shapeOf(n))}`).join(', ')} (run takes every input: { ${inputs.join(', ')} }${given})`);
}

/** Refuses a fetch that names no blob, in one line listing the blobs (Node's run and the browser's alike). */
export function checkFetches(fetches: readonly string[] | undefined, blobs: ReadonlyMap<string, unknown>): void {
  for (const name of fetches ?? []) if (!blobs.has(name)) throw new CremaError(`run: options.fetches: ${noBlobNamed(name, blobs.keys())}`);
}
