// scripts/pack-manifest.mjs, npm's prepack / postpack, run on a copy of the checkout's layout (a package.json beside
// scripts/): the checkout's package.json comes back as it was, and a pack interrupted before postpack loses no edit.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'crema-pack-manifest-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SCRIPTS = { build: 'tsc', test: 'node -e 0', prepare: 'node scripts/prepare.mjs', prepack: 'node scripts/pack-manifest.mjs strip', postpack: 'node scripts/pack-manifest.mjs restore', pretest: 'node scripts/pack-manifest.mjs heal' };
let made = 0;

/** A checkout's root with the script and a package.json (two-space JSON, as npm writes it); its path. */
function checkout(pkg: object = { name: 'p', version: '1.0.0', scripts: SCRIPTS }): string {
  const root = path.join(tmp, `c${made++}`);
  fs.mkdirSync(path.join(root, 'scripts'), { recursive: true });
  for (const script of ['pack-manifest.mjs', 'pack-app.mjs']) fs.copyFileSync(path.join(import.meta.dirname, '../scripts', script), path.join(root, 'scripts', script));
  // The build prepare runs: here it counts its runs in `built` (and fails when a file `broken` exists).
  fs.writeFileSync(path.join(root, 'scripts/prepare.mjs'), "import fs from 'node:fs';\nif (fs.existsSync('broken')) process.exit(3);\nfs.appendFileSync('built', 'x');\n");
  fs.writeFileSync(path.join(root, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  const old = new Date(Date.UTC(2026, 0, 1));
  fs.utimesSync(path.join(root, 'package.json'), old, old); // older than any build
  return root;
}
const run = (root: string, action: 'strip' | 'restore', env: Record<string, string> = {}) =>
  execFileSync('node', [path.join(root, 'scripts/pack-manifest.mjs'), action], { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const builds = (root: string) => (fs.existsSync(path.join(root, 'built')) ? fs.readFileSync(path.join(root, 'built'), 'utf8').length : 0);
const manifestOf = (root: string) => JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string>; dependencies?: Record<string, string> };

describe('pack-manifest: prepack strips, postpack restores', () => {
  it('a pack gives the checkout its package.json back byte for byte, with its modification time (prepare.mjs builds when it is newer)', () => {
    const root = checkout(), file = path.join(root, 'package.json');
    const text = fs.readFileSync(file, 'utf8'), mtime = fs.statSync(file).mtimeMs;
    for (let pack = 0; pack < 2; pack++) {
      run(root, 'strip');
      expect(Object.keys(manifestOf(root).scripts)).toEqual(['build', 'test', 'pretest']);
      run(root, 'restore');
      expect(fs.readFileSync(file, 'utf8')).toBe(text);
      expect(fs.statSync(file).mtimeMs).toBe(mtime); // was the time of the pack: the next `npm install` rebuilt dist/
      expect(fs.existsSync(path.join(root, '.package.json.packing'))).toBe(false);
    }
  });

  it("prepack runs prepare's build first, as npm pack and publish did before prepare was stripped; not for pack-app (CREMA_PACK_AS_BUILT=1)", () => {
    const root = checkout(), file = path.join(root, 'package.json'), text = fs.readFileSync(file, 'utf8');
    run(root, 'strip');
    expect(builds(root)).toBe(1); // was 0: a pack of a checkout edited since its build packed the old dist/
    run(root, 'restore');
    run(root, 'strip', { CREMA_PACK_AS_BUILT: '1' });
    expect(builds(root)).toBe(1);
    run(root, 'restore');
    fs.writeFileSync(path.join(root, 'broken'), '');
    expect(() => run(root, 'strip')).toThrow(expect.objectContaining({ status: 3 })); // the build failed: no pack
    expect([fs.readFileSync(file, 'utf8'), fs.existsSync(path.join(root, '.package.json.packing'))]).toEqual([text, false]);
  });

  it('interrupted before postpack, then package.json restored by git and edited: the next pack keeps the edit', () => {
    const root = checkout(), file = path.join(root, 'package.json');
    run(root, 'strip'); // npm pack stopped here (Ctrl-C): no postpack
    const edited = { name: 'p', version: '1.1.0', scripts: SCRIPTS, dependencies: { yargs: '^18' } };
    fs.writeFileSync(file, `${JSON.stringify(edited, null, 2)}\n`); // `git checkout package.json`, then a version bump and a dependency
    run(root, 'strip'); // the next pack: was the old package.json put back over the edit, and packed
    expect(manifestOf(root)).toEqual({ ...edited, scripts: { build: 'tsc', test: SCRIPTS.test, pretest: SCRIPTS.pretest } });
    run(root, 'restore');
    expect(manifestOf(root)).toEqual(edited);
  });

  it('interrupted before postpack, then a dependency added to the stripped file: restore keeps it and puts the scripts back', () => {
    const root = checkout(), file = path.join(root, 'package.json');
    run(root, 'strip');
    fs.writeFileSync(file, `${JSON.stringify({ ...manifestOf(root), dependencies: { yargs: '^18' } }, null, 2)}\n`); // `npm install yargs`
    expect(execFileSync('node', [path.join(root, 'scripts/pack-manifest.mjs'), 'restore'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe('');
    expect(manifestOf(root)).toEqual({ name: 'p', version: '1.0.0', scripts: { build: 'tsc', test: SCRIPTS.test, pretest: SCRIPTS.pretest, prepare: SCRIPTS.prepare, prepack: SCRIPTS.prepack, postpack: SCRIPTS.postpack }, dependencies: { yargs: '^18' } });
    expect(fs.existsSync(path.join(root, '.package.json.packing'))).toBe(false);
    run(root, 'strip');
    fs.rmSync(file); // and none at all
    run(root, 'restore');
    expect(manifestOf(root).dependencies).toEqual({ yargs: '^18' });
  });

  it("a pack that failed between prepack and postpack leaves the checkout stripped only until the next npm test (pretest heals; not while its npm runs)", () => {
    const root = checkout(), file = path.join(root, 'package.json'), text = fs.readFileSync(file, 'utf8');
    const npm = (...args: string[]) => spawnSync('npm', args, { cwd: root, encoding: 'utf8', env: { ...process.env, CREMA_PACK_AS_BUILT: '1' } });
    expect(npm('pack', '--pack-destination', path.join(root, 'no-such-dir')).status).not.toBe(0); // the tarball unwritable: no postpack
    expect(Object.keys(manifestOf(root).scripts)).toEqual(['build', 'test', 'pretest']); // stripped, as it was left for good
    const healed = npm('test');
    expect(healed.status).toBe(0);
    expect(healed.stderr).toContain(`${file}: restored from a pack that stopped between prepack and postpack\n`);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    expect(fs.readdirSync(root).filter((f) => f.startsWith('.package.json'))).toEqual([]);
    // A strip whose npm still runs (this test process stands for it) is left to its postpack.
    run(root, 'strip');
    fs.writeFileSync(path.join(root, '.package.json.packing.pid'), String(process.pid));
    expect(npm('test').stderr).not.toContain('restored');
    expect(Object.keys(manifestOf(root).scripts)).toEqual(['build', 'test', 'pretest']);
    run(root, 'restore');
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
  });

  it("a strip whose npm is gone is healed though its pid now names another process (the marker holds npm's start time too)", () => {
    const root = checkout(), file = path.join(root, 'package.json'), text = fs.readFileSync(file, 'utf8');
    const marker = path.join(root, '.package.json.packing.pid');
    const heal = () => execFileSync('node', [path.join(root, 'scripts/pack-manifest.mjs'), 'heal'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const start = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ').pop()!.split(' ')[19];
    run(root, 'strip');
    expect(fs.readFileSync(marker, 'utf8')).toMatch(/^\d+ \d+$/); // the pid and start time of this strip's parent
    fs.writeFileSync(marker, `${process.pid} ${start}`); // the pack's npm, still running: left to its postpack
    heal();
    expect(Object.keys(manifestOf(root).scripts)).toEqual(['build', 'test', 'pretest']);
    fs.writeFileSync(marker, `${process.pid} ${Number(start) - 1}`); // its pid, another process's: was left stripped for good
    heal();
    expect([fs.readFileSync(file, 'utf8'), fs.readdirSync(root).filter((f) => f.startsWith('.package.json'))]).toEqual([text, []]);
  });
});

describe("pack-app's lock (one pack of the checkout at a time)", () => {
  /** oneAtATime under `lock` in a child process, killed after `ms` (a lock waited on: 10 minutes); its output. */
  const packUnder = (lock: string, ms = 20_000) => execFileSync('node', ['--input-type=module', '-e',
    `const { oneAtATime } = await import(${JSON.stringify(path.join(import.meta.dirname, '../scripts/pack-app.mjs'))});
     console.log(oneAtATime(() => 'packed', ${JSON.stringify(lock)}));`], { encoding: 'utf8', timeout: ms }).trim();

  it('a lock left by a process that is gone (Ctrl-C mid-pack) is taken over, not waited on; released after', () => {
    const dead = execFileSync('node', ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).trim(); // exited
    const lock = path.join(tmp, 'dead.lock');
    fs.writeFileSync(lock, dead);
    expect(packUnder(lock)).toBe('packed');
    expect(fs.existsSync(lock)).toBe(false);
    fs.mkdirSync(lock); // the form of round fifty-one's first lock, a directory naming no process
    expect(packUnder(lock)).toBe('packed');
    expect(fs.existsSync(lock)).toBe(false);
  });

  it('a directory with files where the lock goes is refused in one line and kept (it was removed with its files)', () => {
    const lock = path.join(tmp, 'full.lock');
    fs.mkdirSync(lock);
    fs.writeFileSync(path.join(lock, 'mine'), 'x');
    const r = spawnSync('node', ['--input-type=module', '-e', `const { oneAtATime } = await import(${JSON.stringify(path.join(import.meta.dirname, '../scripts/pack-app.mjs'))});
      try { oneAtATime(() => 'packed', ${JSON.stringify(lock)}); } catch (e) { console.error(e.message); process.exit(1); }`], { encoding: 'utf8', timeout: 20_000 });
    expect([r.status, r.stderr]).toEqual([1, `${lock}: a directory with files in it where the pack lock goes, not removable (ENOTEMPTY): remove it if no pack runs\n`]);
    expect(fs.readFileSync(path.join(lock, 'mine'), 'utf8')).toBe('x');
  });

  it("a live holder's lock is waited on (this test process's: the child still waits when killed at 3 s)", () => {
    const lock = path.join(tmp, 'live.lock');
    fs.writeFileSync(lock, String(process.pid));
    expect(() => packUnder(lock, 3000)).toThrow(/ETIMEDOUT|SIGTERM/);
    expect(fs.readFileSync(lock, 'utf8')).toBe(String(process.pid));
  });
});
