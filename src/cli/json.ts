/**
 * The one convention of every `--json` output (run, classify, detect, info, verify, bench): one JSON value on
 * stdout, printed once the command is done; whole numbers as they are, other numbers to 6 significant digits (float32
 * results carry no more); a number that is not finite is null (the object then has a field saying why, e.g.
 * verify's `mismatch`); a value that is unknown is null (a class without a label), never a string such as
 * "Infinity" or "NaN".
 */
export function printJson(value: unknown, indent?: number): void {
  console.log(toJson(value, indent));
}

export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' ? jsonNumber(v) : v), indent);
}

function jsonNumber(v: number): number | null {
  if (!Number.isFinite(v)) return null;
  return Number.isInteger(v) ? v : Number(v.toPrecision(6));
}
