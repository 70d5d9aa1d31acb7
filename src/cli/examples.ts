import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A `--help` example naming the package's shipped models (`models/...`) as the user types it from where they are:
 * `models/lenet/...` in a checkout, `node_modules/crema-caffe/models/...` in an app that installed the package.
 */
export function example(command: string): string {
  return command.replace(/(^|[ =])models\//g, `$1${shippedModels()}/`);
}

/** The package's `models/` directory as seen from the working directory, with `/` between names. */
function shippedModels(): string {
  return shipped('models');
}

/**
 * A path inside the package (`models`, `examples/plugins/...`) as seen from `cwd`, with `/` between names: relative
 * when it lies under `cwd` (a checkout, or an app's node_modules), else the absolute path as installed, since a
 * relative one would climb out of `cwd` (`../../work/wt-x/models/...`) and read as noise.
 */
export function shipped(inPackage: string, cwd = process.cwd()): string {
  const installed = fileURLToPath(new URL(`../../${inPackage}`, import.meta.url));
  const at = path.relative(cwd, installed) || '.';
  const climbs = at === '..' || at.startsWith(`..${path.sep}`) || path.isAbsolute(at);
  return (climbs ? installed : at).split(path.sep).join('/');
}

/**
 * The README's commands name the shipped models and the plugin example as a checkout has them
 * (`models/lenet/...`, `examples/plugins/...`); typed in an app they are missing, and the message says where the
 * package has them: ` (the shipped one is node_modules/crema-caffe/models/lenet/deploy.prototxt)` after a message
 * about such a path, else ''.
 */
export function shippedModelHint(message: string): string {
  const file = /^(?:--plugin )?((?:models|examples\/plugins)\/[^:]+): (no such file|no such directory)/.exec(message)?.[1];
  if (!file || fs.existsSync(file)) return '';
  const there = shipped(file);
  return there !== file && fs.existsSync(there) ? ` (the shipped one is ${there})` : '';
}
