// A fork's fixture head (test/fixtures/DIR/head, written by that fixture's make-fixtures.sh with the fork's own
// Caffe): the net, its inputs and every blob the fork computed, and the check each fork's test starts with.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Net } from '../../src/runtime/net.js';
import { readNpy } from '../../src/util/npy.js';
import { relativeError } from './reference.js';

export interface ForkHead {
  /** The head's directory and its net.prototxt. */
  dir: string;
  net: string;
  /** The blobs the fork stored, in its manifest's order. */
  blobs: string[];
  fork(blob: string): ReturnType<typeof readNpy>;
  input(name: string): ReturnType<typeof readNpy>;
  /** Every input the manifest names, read again (a forward may not keep them). */
  inputs(): Record<string, ReturnType<typeof readNpy>>;
}

export function forkHead(fixture: string): ForkHead {
  const dir = path.join(import.meta.dirname, '..', 'fixtures', fixture, 'head');
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { inputs?: string[]; blobs: string[] };
  const input = (name: string) => readNpy(path.join(dir, 'inputs', `${name}.npy`));
  return {
    dir,
    net: path.join(dir, 'net.prototxt'),
    blobs: manifest.blobs,
    fork: (blob) => readNpy(path.join(dir, 'blobs', `${blob}.npy`)),
    input,
    inputs: () => Object.fromEntries((manifest.inputs ?? []).map((name) => [name, input(name)])),
  };
}

/** Every blob the fork stored against `net`'s after a forward: its shape exactly, its values within `tolerance`. */
export function expectForkBlobs(net: Net, head: ForkHead, tolerance: number): void {
  for (const blob of head.blobs) {
    const ref = head.fork(blob), ours = net.blobs.get(blob)!;
    expect([...ours.dims], `shape of ${blob}`).toEqual([...ref.dims]);
    expect(relativeError(ours, ref), `blob ${blob}`).toBeLessThanOrEqual(tolerance);
  }
}
