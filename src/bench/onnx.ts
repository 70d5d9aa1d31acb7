import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { loadOrt } from '../onnx/ort.js';
import type { Graph } from '../graph/graph.js';
import { convertGraph } from '../onnx/convert.js';
import type { ModelObj } from '../onnx/proto.js';
import { openSession, sessionOptions, sessionSafe } from '../onnx/run.js';
import type { LrnMode } from '../onnx/context.js';
import type { Tensor } from '../tensor.js';
import type { LayerTime } from './result.js';
import { median } from './stats.js';

export interface OnnxSessionOptions {
  /** ONNX Runtime's intra-op threads (0: its default, one per core). */
  threads: number;
  /** Record per-node times with ORT's profiler (writes a JSON file into a temporary directory). */
  profile?: boolean;
}

/** An ONNX Runtime session as a benchmark holds it: `release` also removes model files that outlived its creation. */
export interface BenchSession {
  readonly session: ort.InferenceSession;
  release(): Promise<void>;
}

/**
 * An ONNX Runtime session set up the way crema's benchmarks compare engines: crema's conversion opened as users'
 * sessions are (run.ts's openSession and sessionOptions: in Node from files, the weights mapped), so that the
 * benchmark times and holds what users get; a model given as bytes (scripts/bench.mjs's hand-built ones) from them,
 * with the same options. ORT's pool threads do not spin (`spin` turns it on).
 */
export async function openBenchSession(model: ModelObj | Uint8Array, options: OnnxSessionOptions & { profileDir?: string; spin?: boolean }): Promise<BenchSession> {
  const runtime = await loadOrt();
  const base = sessionOptions(model instanceof Uint8Array ? undefined : model, options.threads);
  const settings: ort.InferenceSession.SessionOptions = {
    ...base,
    // ORT's pool threads spin after each run; interleaved with the native engine, that would take its cores.
    extra: { ...base.extra, session: { intra_op: { allow_spinning: options.spin ? '1' : '0' } } },
    ...(options.profile ? { enableProfiling: true, profileFilePrefix: path.join(options.profileDir!, 'ort') } : {}),
  };
  if (model instanceof Uint8Array) {
    const session = await runtime.InferenceSession.create(model, settings);
    return { session, release: () => session.release() };
  }
  const { session, leftover } = await openSession(runtime, model, settings);
  return {
    session,
    async release() {
      await session.release();
      leftover?.();
    },
  };
}

/**
 * A Caffe graph converted by crema (in memory) and run in ONNX Runtime for timing: `run()` is one forward;
 * with profiling, `finish()` maps ORT's per-node times back to the Caffe layers the nodes came from.
 */
export class OnnxLayerTimer {
  private runs = 0;
  private warmupRuns = 0;

  private constructor(
    private readonly graph: Graph,
    private readonly session: BenchSession,
    private readonly feeds: Record<string, ort.Tensor>,
    private readonly profileDir: string | undefined,
  ) {}

  static async create(graph: Graph, inputs: Record<string, Tensor>, options: OnnxSessionOptions & { lrn?: LrnMode }): Promise<OnnxLayerTimer> {
    const conversion = convertGraph(graph, { lrn: options.lrn });
    const renamed = sessionSafe(conversion.model); // a graph input or output named __proto__ (see sessionSafe)
    const profileDir = options.profile ? fs.mkdtempSync(path.join(os.tmpdir(), 'crema-bench-profile-')) : undefined;
    const session = await openBenchSession(conversion.model, { ...options, profileDir });
    const { Tensor: OrtTensor } = await loadOrt();
    const feeds = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [renamed.get(name) ?? name, new OrtTensor('float32', t.data, [...t.dims])]));
    return new OnnxLayerTimer(graph, session, feeds, profileDir);
  }

  async run(): Promise<void> {
    await this.session.session.run(this.feeds);
    this.runs++;
  }

  /** The runs so far are warm-up: their per-node times are left out. */
  reset(): void {
    this.warmupRuns = this.runs;
  }

  /** Releases the session; with profiling, returns per-layer medians (else an empty list). */
  async finish(): Promise<LayerTime[]> {
    if (!this.profileDir) {
      await this.session.release();
      return [];
    }
    try {
      this.session.session.endProfiling();
      await this.session.release();
      const file = fs.readdirSync(this.profileDir).find((f) => f.endsWith('.json'));
      if (!file) return [];
      const events = JSON.parse(fs.readFileSync(path.join(this.profileDir, file), 'utf8')) as ProfileEvent[];
      return layerTimesFromProfile(events, this.graph, this.warmupRuns);
    } finally {
      fs.rmSync(this.profileDir, { recursive: true, force: true });
    }
  }
}

/** The fields of ORT's profile events (Chrome trace format) that are used here. */
export interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

/**
 * Per-layer medians from ORT's profile: node events are grouped by the `model_run` they fall in (the first
 * `skipRuns` are dropped), summed per Caffe layer, and the median over runs taken. Nodes crema's converter
 * made are named after their layer (`conv1`, `conv1/Add_2`); ORT's rewrites add `fused ` or `_nchwc`. Nodes
 * ORT inserted itself (layout reorders) get a row per op type, named `(ORT ReorderInput)`.
 */
export function layerTimesFromProfile(events: readonly ProfileEvent[], graph: Graph, skipRuns: number): LayerTime[] {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts).slice(skipRuns);
  const layerNames = graph.layers.map((l) => l.name).sort((a, b) => b.length - a.length);
  const typeOf = new Map(graph.layers.map((l) => [l.name, l.type]));
  const perRun = runs.map(() => new Map<string, number>());
  const rowType = new Map<string, string>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const run = runs.findIndex((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
    if (run < 0) continue;
    const node = nodeNameOf(e.name);
    const layer = layerNames.find((l) => node === l || node.startsWith(`${l}/`));
    const row = layer ?? `(ORT ${e.args?.op_name ?? node})`;
    rowType.set(row, layer ? typeOf.get(layer)! : (e.args?.op_name ?? 'ORT'));
    perRun[run].set(row, (perRun[run].get(row) ?? 0) + e.dur / 1000);
  }
  const order = [...graph.layers.map((l) => l.name).filter((n) => rowType.has(n)), ...[...rowType.keys()].filter((r) => !typeOf.has(r))];
  return order.map((name) => ({ name, type: rowType.get(name)!, median_ms: median(perRun.map((m) => m.get(name) ?? 0)) }));
}

/** `fused conv1_nchwc_kernel_time` -> `conv1`. */
export function nodeNameOf(eventName: string): string {
  return eventName.replace(/_kernel_time$/, '').replace(/^fused /, '').replace(/_nchwc$/, '');
}
