// The loop crema detect and crema faces share: each image file read (an unreadable one skipped with a warning),
// its results printed as text or kept for --json, drawn into -o DIR; then the JSON and the exit code.
import fs from 'node:fs';
import path from 'node:path';
import type { FloatImage } from '../image/image.js';
import type { InputGeometry } from '../image/preprocess.js';
import { CremaError } from '../util/errors.js';
import { makeOutputDir, writeOutput } from '../util/files.js';
import { type JsonResults, loadOne } from './commands/classify.js';
import { printJson } from './json.js';
import { EXIT_CHECK_FAILED, exitState } from './main.js';
import { startProgress } from './progress.js';

export interface ImageLoop<T> {
  /** The progress bar's label: the command. */
  label: string;
  files: string[];
  /** How images are read (colour or gray). */
  geo: InputGeometry;
  json: boolean;
  /** -o DIR: each image drawn as DIR/<name>.png. */
  output?: string;
  /** The JSON key of an image's results ("detections", "faces"). */
  key: string;
  /** Refuses an image the command cannot take (OpenPose's: too small to scale): skipped as an unreadable one, named. */
  check?: (image: FloatImage) => void;
  found: (image: FloatImage) => Promise<T[]>;
  text: (file: string, image: FloatImage, found: T[]) => string;
  draw: (image: FloatImage, found: T[]) => Promise<Uint8Array>;
  /** false: a JPEG's EXIF orientation left unapplied, as PIL's Image.open reads it (`crema segment`, `crema edges`). */
  upright?: boolean;
  /** A file more for each image (`crema pose --write-json DIR`: OpenPose's DIR/<name>_keypoints.json). */
  also?: { dir: string; suffix: string; content: (image: FloatImage, found: T[]) => string };
  /** An image's JSON from what was found, in place of `{ [key]: found }` (`crema segment`: its map's size and classes). */
  jsonOf?: (found: T[]) => Record<string, unknown>;
}

/** Runs `loop.found` on each image; exit code 1 when some were skipped, an error when none could be read. */
export async function eachImage<T>(loop: ImageLoop<T>, release?: () => Promise<void>): Promise<void> {
  if (loop.output !== undefined) makeOutputDir(loop.output);
  if (loop.also) makeOutputDir(loop.also.dir);
  const outputs = loop.output === undefined ? undefined : outputNames(loop.output, loop.files);
  const alsos = new Set<string>();
  const progress = startProgress(loop.label, loop.files.length, { unit: 'images' });
  const json: JsonResults<Record<string, unknown>> = { images: [], skipped: [] };
  let done = 0, skipped = 0;
  try {
    for (const file of loop.files) {
      const image = await loadOne(file, loop.geo, loop.upright)
        .then((im) => {
          loop.check?.(im);
          return im;
        })
        .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      progress.tick(1);
      if (image instanceof Error) {
        skipped++;
        const error = image.message.startsWith(`${file}: `) ? image.message.slice(file.length + 2) : image.message;
        json.skipped.push({ image: file, error });
        progress.warn(`crema: skipped ${file}: ${error}`);
        continue;
      }
      const found = await loop.found(image);
      done++;
      if (loop.json) json.images.push({ image: file, width: image.width, height: image.height, ...(loop.jsonOf ? loop.jsonOf(found) : { [loop.key]: found }) });
      else progress.print(loop.text(file, image, found));
      if (outputs) await writeOutput(outputs.get(file)!, await loop.draw(image, found));
      if (loop.also) await writeOutput(outputName(loop.also.dir, file, alsos, loop.also.suffix), loop.also.content(image, found));
    }
  } finally {
    progress.stop();
    await release?.();
  }
  if (done === 0) throw new CremaError(`no image could be used (${skipped} skipped)`);
  if (loop.json) printJson(json);
  if (skipped) exitState.code = EXIT_CHECK_FAILED;
}

/**
 * Each image's DIR/<name>.png, named before any image runs (a skipped image keeps its name), refusing one that is
 * an input image: `crema colorize NET W photos/ -o photos/` ran the net on cat.png and printed it colorized
 * before writeOutput refused to replace it.
 */
function outputNames(dir: string, files: string[]): Map<string, string> {
  const used = new Set<string>(), names = new Map<string, string>();
  const inputs = new Map<string, string>();
  for (const f of files) if (fileId(f) !== undefined) inputs.set(fileId(f)!, f);
  for (const file of files) {
    const name = outputName(dir, file, used);
    const id = fileId(name), input = id === undefined ? undefined : inputs.get(id);
    if (input !== undefined) throw new CremaError(`${name}: ${input === name ? 'is' : `is the same file as ${input},`} an input of this command: writing it would replace it; give another output`);
    names.set(file, name);
  }
  return names;
}

/** A file's device and inode (undefined when it does not exist), to tell two names of one file. */
function fileId(file: string): string | undefined {
  try {
    const stat = fs.statSync(file);
    return `${stat.dev}:${stat.ino}`;
  } catch {
    return undefined; // missing or unreachable: writeOutput or the image's reading says why
  }
}

/** DIR/<image name>.png (or another suffix); a second image of the same name gets -2, -3, … */
function outputName(dir: string, file: string, used: Set<string>, suffix = '.png'): string {
  const base = path.basename(file, path.extname(file));
  let name = `${base}${suffix}`;
  for (let n = 2; used.has(name); n++) name = `${base}-${n}${suffix}`;
  used.add(name);
  return path.join(dir, name);
}
