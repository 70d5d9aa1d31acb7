import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A `--help` example naming the package's shipped models (`models/...`) as the user types it from where they are:
 * `models/lenet/...` in a checkout, `node_modules/crema-caffe/models/...` in an app that installed the package.
 */
export function example(command: string): string {
  const models = path.relative(process.cwd(), fileURLToPath(new URL('../../models', import.meta.url))) || '.';
  return command.replace(/(^|[ =])models\//g, `$1${models.split(path.sep).join('/')}/`);
}
