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

/** A path inside the package (`models`, `examples/plugins/...`) as seen from the working directory, with `/` between names. */
function shipped(inPackage: string): string {
  const at = path.relative(process.cwd(), fileURLToPath(new URL(`../../${inPackage}`, import.meta.url))) || '.';
  return at.split(path.sep).join('/');
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
