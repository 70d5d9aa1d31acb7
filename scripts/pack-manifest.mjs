// npm's `prepack` and `postpack`: the packed package.json carries none of the checkout's own scripts of packing and
// building. Why: `prepare` (scripts/prepare.mjs, the build of a clone) is an install script for an install from a
// tarball, a file: path or git, and npm 11 warns that it is "not covered by allowScripts" there; an installed
// package has dist/ built and no sources to build it from. npm reads package.json from disk when it tars the
// directory (after prepack), so the package gets the stripped file; postpack puts the checkout's back.
//
//   node scripts/pack-manifest.mjs strip     (prepack: package.json without prepare, prepack, postpack)
//   node scripts/pack-manifest.mjs restore   (postpack: the checkout's package.json as it was)
//
// The checkout's file is kept as .package.json.packing until postpack; a pack that failed in between leaves it, and
// the next strip or restore puts it back first, so the checkout never loses its scripts for good.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const manifest = path.join(root, 'package.json');
const kept = path.join(root, '.package.json.packing');
/** The scripts that only a checkout runs: its build on install (prepare) and these two. */
const CHECKOUT_SCRIPTS = ['prepare', 'prepack', 'postpack'];

/** The checkout's package.json back from a strip (a no-op without one). */
function restore() {
  if (fs.existsSync(kept)) fs.renameSync(kept, manifest);
}

/** package.json without the checkout's scripts, written atomically; the original kept for restore. */
function strip() {
  restore();
  const text = fs.readFileSync(manifest, 'utf8');
  const pkg = JSON.parse(text);
  for (const name of CHECKOUT_SCRIPTS) delete pkg.scripts?.[name];
  const tmp = `${manifest}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(pkg, null, 2)}\n`);
  fs.copyFileSync(manifest, kept);
  fs.renameSync(tmp, manifest);
}

const action = process.argv[2];
if (action === 'strip') strip();
else if (action === 'restore') restore();
else {
  console.error('usage: node scripts/pack-manifest.mjs strip|restore');
  process.exit(2);
}
