/** An error in what the user gave us (a file, a flag, a net): reported in one line, exit code 2. */
export class CremaError extends Error {
  override name = 'CremaError';
  /** A stable code to tell errors apart by: 'ERR_CREMA_INPUT' (bad input), 'ERR_CREMA_LAYER' (a layer refused it). */
  readonly code: string = 'ERR_CREMA_INPUT';
}

/** Throws a CremaError unless `cond` holds. */
export function check(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new CremaError(typeof message === 'string' ? message : message());
}
