// Packs crema (npm pack) and installs the tarball into a fresh app directory, offline: what a user's
// `npm install crema-caffe` does, without the network. The app gets a lockfile made from crema's own
// package-lock.json (the production dependencies only, as the registry would resolve them), so npm takes every
// package from its cache (filled by `npm ci` in the checkout) and never asks the registry.
//
//   node scripts/pack-app.mjs APP_DIR [--npm "npx -y npm@10"] [--from examples/app] [--dev typescript,@types/node]
//
// APP_DIR is created (it must not exist); --from copies an app's files (package.json, sources) into it first;
// --dev adds packages of crema's own devDependencies (e.g. TypeScript for a TypeScript app) to the app's.
import { execFileSync, execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `npm pack` of the checkout as it is built (dist/ must be current: no build here) into `dir`; the tarball's path.
 * With its scripts, as `npm publish` packs: prepack strips the checkout's prepare (the build) from the packed
 * package.json (scripts/pack-manifest.mjs), hence npm runs no prepare here either, and CREMA_PACK_AS_BUILT skips
 * the build prepack runs in its place.
 */
export function packTarball(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const manifest = path.join(root, 'package.json');
  return oneAtATime(() => {
    const before = fs.readFileSync(manifest, 'utf8');
    const env = { ...process.env, CREMA_PACK_AS_BUILT: '1' }; // prepack builds no dist/ here (scripts/pack-manifest.mjs)
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    if (fs.readFileSync(manifest, 'utf8') !== before) throw new Error(`${manifest}: npm pack left it changed (postpack: node scripts/pack-manifest.mjs restore)`);
    return path.join(dir, JSON.parse(out)[0].filename);
  });
}

/**
 * `pack` while no other packTarball packs this checkout (the install and example tests run in parallel): prepack
 * rewrites package.json until postpack, so two packs at once could tar each other's. The lock names its process: one
 * left by a process that is gone (a test run stopped by Ctrl-C mid-pack) is taken over, not waited on for 10 minutes.
 */
export function oneAtATime(pack, lock = path.join(root, '.pack.lock')) {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' }); // atomic: made by one process only
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw new Error(`${lock}: cannot make the pack lock (${e.code ?? e.message}): is the checkout writable?`);
      if (takeOver(lock)) continue;
      if (Date.now() > deadline) throw new Error(`${lock}: another pack has held it for 10 minutes (remove it if none runs)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    return pack();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/**
 * Removes the lock when the process it names is gone (or it names none: an empty directory, round fifty-one's form);
 * whether it did. What it cannot read, or a directory with files in it (no lock of ours), is refused in one line
 * naming it, never removed.
 */
function takeOver(lock) {
  let holder, made, dir;
  try {
    const st = fs.statSync(lock);
    [made, dir] = [st.mtimeMs, st.isDirectory()];
    holder = dir ? 0 : Number(fs.readFileSync(lock, 'utf8') || NaN);
  } catch (e) {
    if (e.code === 'ENOENT') return true; // released meanwhile: try again
    throw new Error(`${lock}: cannot read the pack lock (${e.code ?? e.message}): remove it if no pack runs`);
  }
  if (Number.isNaN(holder) && Date.now() - made < 10_000) return false; // made, its pid not yet written
  if (holder > 0 && alive(holder)) return false;
  try {
    if (dir) fs.rmdirSync(lock); // empty only: a directory with files is someone's, not a lock
    else fs.rmSync(lock, { force: true });
  } catch (e) {
    if (e.code === 'ENOENT') return true;
    throw new Error(`${lock}: ${dir ? 'a directory with files in it' : 'a lock'} where the pack lock goes, not removable (${e.code ?? e.message}): remove it if no pack runs`);
  }
  return true;
}

/** Whether process `pid` exists (EPERM: it does, another user's). */
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** A lockfile for an app depending on the tarball: crema's production dependency tree, as its lockfile resolved it. */
function appLock(app, tarball, appPkg, lock) {
  const own = lock.packages[''];
  const rel = `file:${path.relative(app, tarball)}`;
  const packages = {
    '': { name: appPkg.name, version: appPkg.version, dependencies: appPkg.dependencies, devDependencies: appPkg.devDependencies },
    'node_modules/crema-caffe': {
      version: own.version,
      resolved: rel,
      license: own.license,
      dependencies: own.dependencies,
      peerDependencies: own.peerDependencies,
      peerDependenciesMeta: own.peerDependenciesMeta,
      bin: own.bin,
      engines: own.engines,
    },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    // devOptional: needed by a dev dependency and by an optional one (tslib: puppeteer-core's and sharp's): the
    // app needs it as optional.
    if (key === '' || entry.dev || entry.link) continue;
    const { devOptional, ...rest } = entry;
    packages[key] = devOptional ? { ...rest, optional: true } : entry;
  }
  for (const name of Object.keys(appPkg.devDependencies ?? {})) addWithDependencies(lock, packages, name);
  return { name: appPkg.name, version: appPkg.version, lockfileVersion: 3, requires: true, packages };
}

/** A package of crema's lockfile and what it depends on (hoisted at the top level, as crema's lockfile has them). */
function addWithDependencies(lock, packages, name) {
  const key = `node_modules/${name}`;
  const entry = lock.packages[key];
  if (!entry) throw new Error(`${name} is not in crema's package-lock.json`);
  if (packages[key] && !packages[key].dev) return;
  packages[key] = { ...entry, dev: true };
  for (const dep of Object.keys(entry.dependencies ?? {})) addWithDependencies(lock, packages, dep);
}

/**
 * Creates `app` (from the files of `from`, if given), packs crema and installs it offline with `npm` (a command
 * line, e.g. 'npm' or 'npx -y npm@10'). Returns the tarball's path.
 */
export function installPackedApp(app, { npm = 'npm', from, dev = [] } = {}) {
  if (fs.existsSync(app)) throw new Error(`${app} exists`);
  fs.mkdirSync(app, { recursive: true });
  if (from) fs.cpSync(from, app, { recursive: true, filter: (src) => !/node_modules|package-lock\.json/.test(path.relative(from, src)) });
  const tarball = packTarball(path.join(app, '..', `${path.basename(app)}-pack`));
  const pkgFile = path.join(app, 'package.json');
  const pkg = fs.existsSync(pkgFile) ? JSON.parse(fs.readFileSync(pkgFile, 'utf8')) : { name: 'app', version: '1.0.0', private: true, type: 'module' };
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
  pkg.dependencies = { ...pkg.dependencies, 'crema-caffe': `file:${path.relative(app, tarball)}` };
  if (dev.length) pkg.devDependencies = { ...pkg.devDependencies, ...Object.fromEntries(dev.map((d) => [d, lock.packages[`node_modules/${d}`].version])) };
  fs.writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  fs.writeFileSync(path.join(app, 'package-lock.json'), `${JSON.stringify(appLock(app, tarball, pkg, lock), null, 2)}\n`);
  // No onnxruntime setting of any kind: a user's app has none. --offline: the cache or nothing.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/onnxruntime/i.test(k) && !k.startsWith('npm_')));
  execSync(`${npm} ci --offline --no-audit --no-fund --loglevel=error`, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  return tarball;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const npm = opt('--npm'), from = opt('--from'), dev = opt('--dev');
  if (args.length !== 1) {
    console.error('usage: node scripts/pack-app.mjs APP_DIR [--npm "npx -y npm@10"] [--from DIR] [--dev a,b]');
    process.exit(2);
  }
  installPackedApp(path.resolve(args[0]), { npm, from: from && path.resolve(from), dev: dev ? dev.split(',') : [] });
  console.log(`installed crema-caffe into ${args[0]}`);
}
