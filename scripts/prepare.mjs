// npm's `prepare`: builds dist/ unless it is already newer than everything it is built from.
// Why: `npx crema` in a checkout installs the checkout itself into npm's npx cache (a link to this directory) and
// runs `prepare` again, which rebuilt everything (10-25 s) before the first command a newcomer types.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.build-stamp');
const sources = ['src', 'assembly', 'proto', 'web', 'scripts/build-browser.mjs', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];

/** The newest modification time under `p` (0 when it does not exist). */
function newest(p) {
  let st;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  return fs.readdirSync(p).reduce((m, name) => Math.max(m, newest(path.join(p, name))), st.mtimeMs);
}

// `npx crema` in the checkout finds this link and runs the checkout's own CLI; without it npm installs the checkout
// (named crema-caffe) into its npx cache first, and concurrent first calls race on that cache entry (ENOENT).
const bin = path.join(root, 'node_modules', '.bin');
if (fs.existsSync(path.join(root, 'node_modules')) && !fs.existsSync(path.join(bin, 'crema'))) {
  fs.mkdirSync(bin, { recursive: true });
  fs.symlinkSync(path.join('..', '..', 'bin', 'crema.js'), path.join(bin, 'crema'));
}

const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
if (built > 0 && sources.every((s) => newest(path.join(root, s)) < built)) {
  console.log('crema: dist/ is up to date');
} else {
  const started = Date.now();
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  fs.writeFileSync(stamp, `built in ${Date.now() - started} ms\n`);
  fs.utimesSync(stamp, new Date(started), new Date(started)); // sources edited during the build count as newer
}
