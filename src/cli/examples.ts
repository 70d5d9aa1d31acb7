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
  const models = path.relative(process.cwd(), fileURLToPath(new URL('../../models', import.meta.url))) || '.';
  return models.split(path.sep).join('/');
}

/**
 * The README's commands name the shipped models as a checkout has them (`models/lenet/...`); typed in an app they
 * are missing, and the message says where the package has them: ` (the shipped one is
 * node_modules/crema-caffe/models/lenet/deploy.prototxt)` after a message about such a path, else ''.
 */
export function shippedModelHint(message: string): string {
  const file = /^(models\/[^:]+): (no such file|no such directory)/.exec(message)?.[1];
  if (!file || fs.existsSync(file)) return '';
  const shipped = `${shippedModels()}/${file.slice('models/'.length)}`;
  return shipped !== file && fs.existsSync(shipped) ? ` (the shipped one is ${shipped})` : '';
}
