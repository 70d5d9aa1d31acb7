// MTCNN from Node: its model directory's three nets loaded together, and detectFaces on an image file or its bytes,
// natively or in ONNX Runtime (each net converted in memory, again for each input size the pyramid asks).
import fs from 'node:fs';
import path from 'node:path';
import type { LoadOptions } from '../caffe/load.js';
import { loadImage } from '../image/load.js';
import { Net, type NetOptions } from '../runtime/net.js';
import { CremaError } from '../util/errors.js';
import { type Source, kindOf, resolveSource } from '../util/source.js';
import { type Face, type Forward, type MtcnnNets, facesInImage } from './mtcnn.js';
import { type FaceOptions, MTCNN_FILES, type MtcnnRole, checkFaceOptions, mtcnnRoles } from './options.js';
import { onnxForwardEach } from './forward.js';

type NetFiles = { prototxt: string; weights: string };
const WHAT = "MTCNN's model directory holds det1, det2 and det3 .prototxt and .caffemodel (and MTCNNv2's det4)";

/** The files of an MTCNN model directory (det4's when either of its is there), or a one-line error naming the ones missing. */
export function mtcnnFiles(dir: string): Partial<Record<keyof MtcnnNets, NetFiles>> {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) throw new CremaError(`${dir}: ${stat ? 'not a directory' : 'no such directory'} (${WHAT})`);
  const { roles, missing } = mtcnnRoles((f) => fs.existsSync(path.join(dir, f)));
  if (missing.length) throw new CremaError(`${dir}: no ${missing.join(', ')} in it (${WHAT}, as its demo's model/)`);
  const file = (r: MtcnnRole, ext: string) => path.join(dir, `${MTCNN_FILES[r]}.${ext}`);
  return Object.fromEntries(roles.map((r) => [r, { prototxt: file(r, 'prototxt'), weights: file(r, 'caffemodel') }]));
}

/**
 * MTCNN's nets from its model directory (det1-det3 .prototxt and .caffemodel, det4 too for MTCNNv2), loaded with
 * `options`. The directory is a path or a file: URL, as Net.load's files (import.meta.resolve('crema-caffe/models/mtcnn')).
 */
export async function loadMtcnn(dir: string | URL, options: LoadOptions & NetOptions = {}): Promise<MtcnnNets> {
  checkMtcnnDir(dir);
  return loadMtcnnWith(resolveSource('loadMtcnn', dir).path!, (f) => Net.load(f.prototxt, f.weights, options));
}

/**
 * loadMtcnn's own line for what is no directory: resolveSource's would advise giving bytes (which loadMtcnn does
 * not take) for an https URL, and call '' "neither a file path nor its contents".
 */
function checkMtcnnDir(dir: unknown): void {
  if (dir instanceof URL ? dir.protocol === 'file:' : typeof dir === 'string' && dir !== '' && (!/^[a-z][a-z\d+.-]*:\/\//i.test(dir) || /^file:/i.test(dir))) return;
  const got = dir === '' ? 'an empty string' : typeof dir === 'string' || dir instanceof URL ? `'${String(dir)}'` : kindOf(dir);
  throw new CremaError(`loadMtcnn: the model directory (det1, det2, det3 .prototxt and .caffemodel; MTCNNv2's det4 too) is a path or a file: URL, got ${got}`);
}

/** The nets of an MTCNN directory, each loaded by `load`. */
export async function loadMtcnnWith(dir: string, load: (files: NetFiles) => Promise<Net>): Promise<MtcnnNets> {
  const entries = await Promise.all(Object.entries(mtcnnFiles(dir)).map(async ([k, f]) => [k, await load(f)] as const));
  return Object.fromEntries(entries) as unknown as MtcnnNets;
}

export type { FaceOptions };

/**
 * The faces in an image file (or its bytes), as MTCNN's MATLAB demo finds them (mtcnn.ts): boxes in the image's
 * pixels, O-Net's score, five landmarks, best first.
 */
export async function detectFaces(nets: MtcnnNets, image: Source, options: FaceOptions = {}): Promise<Face[]> {
  checkFaceOptions(options);
  const { backend = 'native', ...rest } = options;
  const decoded = await loadImage(image, true);
  if (backend === 'native') return facesInImage(nets, decoded, rest);
  const onnx = await onnxForward(nets);
  try {
    return await facesInImage(nets, decoded, rest, onnx.forward);
  } finally {
    await onnx.release();
  }
}

/** A Forward through ONNX Runtime: one set of sessions a net, converted again for each input size. */
export async function onnxForward(nets: MtcnnNets, threads?: number): Promise<{ forward: Forward; release: () => Promise<void> }> {
  const { OnnxSessions } = await import('../onnx/run.js');
  const sessions = new Map(Object.values(nets).map((net: Net) => [net, new OnnxSessions(net, { threads, anySize: true, anyBatch: true })]));
  return {
    forward: onnxForwardEach(sessions),
    release: async () => {
      await Promise.all([...sessions.values()].map((s) => s.release()));
    },
  };
}
