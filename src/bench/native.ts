import type { Net } from '../runtime/net.js';
import type { Tensor } from '../tensor.js';
import type { LayerTime } from './result.js';
import { median } from './stats.js';

/**
 * Runs a native Net one layer at a time, timing each layer (as `caffe time` does). `run()` is one whole
 * forward; the per-layer timings of every run are kept, and `layerTimes()` gives their medians.
 */
export class NativeLayerTimer {
  private readonly timed: { name: string; type: string }[];
  private readonly samples: number[][];
  constructor(
    private readonly net: Net,
    private readonly inputs: Record<string, Tensor>,
  ) {
    // Input layers do nothing at forward time: no row for them.
    this.timed = net.layers.filter((l) => l.type !== 'Input').map((l) => ({ name: l.name, type: l.type }));
    this.samples = this.timed.map(() => []);
    // Once, to reshape the net for the inputs (the batch) and check them; later runs only copy the data.
    net.forward(inputs, { end: net.layers[0].name });
  }

  /** One forward pass, layer by layer; returns its total time (ms). */
  run(): number {
    for (const [name, t] of Object.entries(this.inputs)) this.net.blobs.get(name)!.data.set(t.data);
    let total = 0;
    for (let i = 0; i < this.timed.length; i++) {
      const name = this.timed[i].name;
      const t0 = performance.now();
      this.net.forward({}, { start: name, end: name });
      const ms = performance.now() - t0;
      this.samples[i].push(ms);
      total += ms;
    }
    return total;
  }

  /** Forgets the per-layer timings so far (call after warm-up runs). */
  reset(): void {
    for (const s of this.samples) s.length = 0;
  }

  layerTimes(): LayerTime[] {
    return this.timed.map((l, i) => ({ name: l.name, type: l.type, median_ms: median(this.samples[i]) }));
  }
}
