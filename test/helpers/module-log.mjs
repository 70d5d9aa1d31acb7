// `node --import ./test/helpers/module-log.mjs …` appends every module the process loads (ES modules as file: URLs,
// CommonJS files as paths) to the file named by CREMA_MODULE_LOG, one a line: test/startup.test.ts reads it to check
// what `crema --help` and `crema info` load. The ES module hook runs on Node's loader thread, so it writes the file
// itself; CommonJS files nested in require() calls are listed from require.cache when the process exits.
import fs from 'node:fs';
import { createRequire, register } from 'node:module';

const log = process.env.CREMA_MODULE_LOG;
if (log) {
  const hook = `import fs from 'node:fs';
export async function load(url, context, next) {
  if (url.startsWith('file:')) fs.appendFileSync(${JSON.stringify(log)}, url + '\\n');
  return next(url, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => fs.appendFileSync(log, Object.keys(cache).map((f) => `${f}\n`).join('')));
}
