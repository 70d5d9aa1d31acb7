import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared/ beside the checkout (Caffe's references and models), or undefined when this machine lacks it. */
export const sharedDir: string | undefined = (() => {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
  return fs.existsSync(path.join(dir, 'reference')) ? dir : undefined;
})();

let warned = false;
/** True when ../shared/ is missing; says so loudly once, so skipped tests are never silent. */
export function sharedMissing(): boolean {
  if (!sharedDir && !warned) {
    warned = true;
    console.warn('\n*** ../shared/ is missing: the tests against real Caffe references are SKIPPED ***\n');
  }
  return !sharedDir;
}
