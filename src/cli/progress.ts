import cliProgress from 'cli-progress';

/** Progress of long work (a directory of images, a big model, a benchmark). */
export interface Progress {
  /** `n` more items done. */
  tick(n?: number): void;
  /** Prints a result line to stdout without breaking the bar. */
  print(line: string): void;
  /** Prints a message line to stderr without breaking the bar. */
  warn(line: string): void;
  stop(): void;
}

export interface ProgressOptions {
  /** What is counted, e.g. 'images'. */
  unit: string;
  /** Where the bar or progress lines go (default process.stderr). */
  stream?: NodeJS.WriteStream;
}

/**
 * A progress bar (cli-progress) when `stream` is a terminal; otherwise plain lines (`label: 40/100 images`) at each
 * tenth of the way, so logs show the run advancing without a line per item.
 */
export function startProgress(label: string, total: number, options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  return stream.isTTY ? barProgress(label, total, options.unit, stream) : lineProgress(label, total, options.unit, stream);
}

function barProgress(label: string, total: number, unit: string, stream: NodeJS.WriteStream): Progress {
  const bars = new cliProgress.MultiBar(
    { stream, format: `${label} [{bar}] {value}/{total} ${unit} | {eta_formatted} left`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  const bar = bars.create(total, 0);
  // On one terminal, lines go through the bar (which redraws below them); when stdout is a pipe, straight to it.
  const sameTerminal = process.stdout.isTTY === true;
  // MultiBar.log only buffers until the next redraw, which a busy event loop delays: redraw (and flush) on each tick,
  // and once more before stopping, or the last lines would be lost.
  const redraw = () => (bars as unknown as { update(): void }).update();
  return {
    tick: (n = 1) => {
      bar.increment(n);
      redraw();
    },
    print: (line) => (sameTerminal ? bars.log(`${line}\n`) : process.stdout.write(`${line}\n`)),
    warn: (line) => bars.log(`${line}\n`),
    stop: () => {
      redraw();
      bars.stop();
    },
  };
}

function lineProgress(label: string, total: number, unit: string, stream: NodeJS.WriteStream): Progress {
  let done = 0, reported = 0;
  return {
    tick: (n = 1) => {
      done += n;
      const tenth = Math.floor((10 * done) / Math.max(1, total));
      if (total >= 10 && tenth > reported) {
        reported = tenth;
        stream.write(`${label}: ${done}/${total} ${unit}\n`);
      }
    },
    print: (line) => process.stdout.write(`${line}\n`),
    warn: (line) => stream.write(`${line}\n`),
    stop: () => {},
  };
}
