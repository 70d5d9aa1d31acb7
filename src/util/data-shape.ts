import { CremaError } from './errors.js';

/**
 * One data top's shape as typed, `TOP=N,C,H,W` (the CLI's --data-shape, the page's "data shape"): its name and dims.
 * `what` names the field in the error.
 */
export function parseDataShape(spec: string, what: string): [string, number[]] {
  const m = /^([^=]+)=(\d+(?:,\d+)*)$/.exec(spec);
  if (!m) throw new CremaError(`${what} ${spec}: expected TOP=N,C,H,W (e.g. data=1,3,227,227)`);
  return [m[1], m[2].split(',').map(Number)];
}
