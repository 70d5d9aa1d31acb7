// onnxruntime-node is an optional peer dependency: only the ONNX Runtime features (run/verify/bench with the onnx
// backend) need it, and its 288 MB of binaries are no part of the core install. Imported on first use.
import type * as Ort from 'onnxruntime-node';
import { CremaError } from '../util/errors.js';

export type OrtModule = typeof Ort;

let loading: Promise<OrtModule> | undefined;

/**
 * The onnxruntime-node module, or a one-line CremaError saying how to add it: without its install script, which on
 * Linux x64 fetches CUDA libraries the CPU build never loads, and fails the install where nuget.org is unreachable.
 */
export function loadOrt(): Promise<OrtModule> {
  loading ??= import('onnxruntime-node').then((ort) => {
    // ONNX Runtime's environment logs warnings to stderr when it starts (1.31, where HOME is not writable: a Docker
    // user's /nonexistent: "Failed to persist telemetry device ID"), which crema's sessions (logSeverityLevel 4) do
    // not: errors only, unless the app chose a level of its own (anything but the default 'warning').
    if (ort.env.logLevel === 'warning') ort.env.logLevel = 'error';
    return ort;
  }, (err: unknown) => {
    loading = undefined; // installed meanwhile: the next call tries again
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')
      throw new CremaError('ONNX Runtime is not installed: the ONNX Runtime features need the optional peer dependency onnxruntime-node (npm install onnxruntime-node --ignore-scripts: its install script only fetches CUDA libraries, from nuget.org)');
    throw new CremaError(`onnxruntime-node cannot be loaded: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  });
  return loading;
}
