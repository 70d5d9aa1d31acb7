import type { GraphLayer } from '../graph/graph.js';
import type { Net } from '../runtime/net.js';
import type { Tensor } from '../tensor.js';
import type { LayerTime } from './result.js';
import { median } from './stats.js';

/**
 * Times a native Net as its users run it: each run is one whole `net.forward` (with the fusions a forward
 * makes), and every layer that ran is timed inside it (`forward`'s onLayer), as `caffe time` reports. A layer
 * folded into the one before it (a ReLU into its Convolution) has no time of its own: its row is left out.
 * (Timing layer by layer with `forward({start, end})` instead undid the fusions, and made MobileNet's
 * forward 2x slower than the library's: docs/PERFORMANCE.md.)
 */
export class NativeLayerTimer {
  private readonly samples = new Map<GraphLayer, number[]>();
  private readonly record = (layer: GraphLayer, ms: number): void => {
    const s = this.samples.get(layer);
    if (s) s.push(ms);
    else this.samples.set(layer, [ms]);
  };

  constructor(
    private readonly net: Net,
    private readonly inputs: Record<string, Tensor>,
  ) {
    // Once, to reshape the net for the inputs (the batch) and check them.
    net.forward(inputs, { end: net.layers[0].name });
  }

  /** One forward pass; returns its total time (ms). */
  run(): number {
    const t0 = performance.now();
    // The inputs go through forward (a copy into the input blobs), not net.blobs: reading a blob that a fused
    // chain reads would first recompute that chain's hidden blobs (src/runtime/net.ts).
    this.net.forward(this.inputs, { onLayer: this.record });
    return performance.now() - t0;
  }

  /** Forgets the per-layer timings so far (call after warm-up runs). */
  reset(): void {
    this.samples.clear();
  }

  /** Per-layer medians in net order; Input layers (nothing to compute) and folded layers have no row. */
  layerTimes(): LayerTime[] {
    return this.net.layers
      .filter((l) => l.type !== 'Input' && this.samples.has(l))
      .map((l) => ({ name: l.name, type: l.type, median_ms: median(this.samples.get(l)!) }));
  }
}
