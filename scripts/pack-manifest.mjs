// npm's `prepack` and `postpack`: the packed package.json carries none of the checkout's own scripts of packing and
// building. Why: `prepare` (scripts/prepare.mjs, the build of a clone) is an install script for an install from a
// tarball, a file: path or git, and npm 11 warns that it is "not covered by allowScripts" there; an installed
// package has dist/ built and no sources to build it from. npm reads package.json from disk when it tars the
// directory (after prepack), so the package gets the stripped file; postpack puts the checkout's back.
//
//   node scripts/pack-manifest.mjs strip     (prepack: package.json without prepare, prepack, postpack)
//   node scripts/pack-manifest.mjs restore   (postpack: the checkout's package.json as it was)
//   node scripts/pack-manifest.mjs heal      (pretest: restore when the pack that stripped it is gone)
//
// The checkout's file is kept as .package.json.packing until postpack; a pack that failed in between leaves it, and
// the next strip or restore puts it back first, so the checkout never loses its scripts for good. The stripped file
// has no prepack, postpack or prepare left to run, so `npm test` heals it (pretest, which the strip keeps): the strip
// notes the pack's process (npm's pid and start time, before it keeps the copy) in .package.json.packing.pid, and a
// strip whose pack is gone (a process reusing its pid is not it) is undone. It goes back
// byte for byte and with its own modification time (scripts/prepare.mjs rebuilds dist/ when package.json is newer
// than the build), and only over the file strip wrote: a package.json changed since (restored by git, a dependency
// added) is kept, given back only the scripts it lacks.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { alive } from './pack-app.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = path.join(root, 'package.json');
const kept = path.join(root, '.package.json.packing');
const marker = `${kept}.pid`;
/** The scripts that only a checkout runs: its build on install (prepare) and these two. */
const CHECKOUT_SCRIPTS = ['prepare', 'prepack', 'postpack'];

/** package.json's text without the checkout's scripts. */
function stripped(text) {
  const pkg = JSON.parse(text);
  for (const name of CHECKOUT_SCRIPTS) delete pkg.scripts?.[name];
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** `text` written to package.json atomically. */
function writeManifest(text) {
  const tmp = `${manifest}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, manifest);
}

/** The checkout's package.json back from a strip (a no-op without one). */
function restore() {
  if (!fs.existsSync(kept)) return;
  fs.rmSync(marker, { force: true });
  const original = fs.readFileSync(kept, 'utf8'), now = fs.existsSync(manifest) ? fs.readFileSync(manifest, 'utf8') : undefined;
  if (now === undefined || now === stripped(original)) return fs.renameSync(kept, manifest);
  // Changed since the strip (a pack interrupted before postpack, then edited): its edits stay.
  const pkg = JSON.parse(now), scripts = JSON.parse(original).scripts ?? {};
  const lacking = CHECKOUT_SCRIPTS.filter((name) => scripts[name] !== undefined && pkg.scripts?.[name] === undefined);
  if (lacking.length) {
    pkg.scripts = { ...pkg.scripts, ...Object.fromEntries(lacking.map((name) => [name, scripts[name]])) };
    writeManifest(`${JSON.stringify(pkg, null, 2)}\n`);
    console.error(`${manifest}: changed since an interrupted pack stripped it: kept, its scripts ${lacking.join(', ')} put back`);
  }
  fs.rmSync(kept);
}

/** A process's start time (clock ticks since boot, /proc/PID/stat's 22nd field): with its pid, it names one process. */
function started(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop().split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * The npm that runs this script (npm spawns `sh -c`, whose parent it is) as "PID STARTTIME", where /proc tells;
 * else "0". The start time tells the npm from a process given its pid after it exited.
 */
function packer() {
  try {
    const parent = (pid) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop().split(' ')[1]);
    const shell = /^(sh|bash|dash)$/.test(fs.readFileSync(`/proc/${process.ppid}/comm`, 'utf8').trim());
    const pid = shell ? parent(process.ppid) : process.ppid;
    return `${pid} ${started(pid)}`;
  } catch {
    return '0';
  }
}

/** True when the pack a marker names still runs: its pid alive, and the same process where the marker has its start. */
function packRuns(note) {
  const [pid, start] = note.trim().split(' ');
  return alive(Number(pid)) && (start === undefined || started(pid) === undefined || started(pid) === start);
}

/**
 * A strip left by a pack that is gone undone, said in one line: its npm exited (where no pid was known, the strip is
 * ten minutes old; without a note at all, it predates them).
 */
function heal() {
  if (!fs.existsSync(kept)) return;
  if (fs.existsSync(marker)) {
    const note = fs.readFileSync(marker, 'utf8');
    if (Number.parseInt(note) > 0 ? packRuns(note) : Date.now() - fs.statSync(marker).mtimeMs < 10 * 60_000) return; // its pack still runs
  }
  restore();
  console.error(`${manifest}: restored from a pack that stopped between prepack and postpack`);
}

/**
 * package.json without the checkout's scripts, written atomically; the original kept (its time too) for restore.
 * First the build prepare would have run (npm runs prepare on pack and publish, from the manifest it reads after
 * prepack, which has none): dist/ built when older than its sources. Not for CREMA_PACK_AS_BUILT=1 (pack-app.mjs:
 * the tests pack the dist/ they run, which a build in the middle of the suite would replace).
 */
function strip() {
  if (process.env.CREMA_PACK_AS_BUILT !== '1') {
    const built = spawnSync(process.execPath, [path.join(root, 'scripts', 'prepare.mjs')], { cwd: root, stdio: 'inherit' });
    if (built.status !== 0) process.exit(built.status ?? 1);
  }
  restore();
  const text = fs.readFileSync(manifest, 'utf8'), { atimeMs, mtimeMs } = fs.statSync(manifest);
  fs.writeFileSync(marker, packer()); // before the copy: a heal (npm test in another shell) that sees the copy sees whose it is
  fs.copyFileSync(manifest, kept);
  fs.utimesSync(kept, atimeMs / 1000, mtimeMs / 1000); // seconds as a number: a Date would round to the millisecond
  writeManifest(stripped(text));
}

const action = process.argv[2];
if (action === 'strip') strip();
else if (action === 'restore') restore();
else if (action === 'heal') heal();
else {
  console.error('usage: node scripts/pack-manifest.mjs strip|restore|heal');
  process.exit(2);
}
