import cliProgress from 'cli-progress';

/** Progress of long work, one bar per part (per cell), on stderr so stdout stays the result. */
export interface Progress {
  add(key: string, label: string, total: number | null): void;
  /** A line of output that must not tear the bars (printed above them). */
  log(line: string, write: (line: string) => void): void;
  advance(key: string, by: number): void;
  stop(): void;
}

/**
 * Bars on a terminal; on anything else (a log file, CI), a plain line each
 * time a part passes another tenth of its total, so logs stay short.
 */
export function createProgress(terminal: boolean, write: (line: string) => void): Progress {
  return terminal ? new Bars() : new Lines(write);
}

class Bars implements Progress {
  private readonly multi = new cliProgress.MultiBar(
    {
      format: ' {label} |{bar}| {value}/{total} groups | {percentage}% | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  private readonly bars = new Map<string, cliProgress.SingleBar>();

  add(key: string, label: string, total: number | null): void {
    if (total === 0) return; // nothing to move there: no bar
    this.bars.set(key, this.multi.create(total ?? 0, 0, { label }));
  }
  log(line: string): void {
    this.multi.log(`${line}\n`);
  }
  advance(key: string, by: number): void {
    const bar = this.bars.get(key);
    if (!bar) return;
    // A cell may hold more than it did when counted (groups created there by old services).
    if (bar.getProgress() >= 1) bar.setTotal(bar.getTotal() + by);
    bar.increment(by);
  }
  stop(): void {
    this.multi.stop();
  }
}

class Lines implements Progress {
  private readonly parts = new Map<
    string,
    { label: string; total: number | null; done: number; tenth: number }
  >();
  constructor(private readonly write: (line: string) => void) {}

  add(key: string, label: string, total: number | null): void {
    this.parts.set(key, { label, total, done: 0, tenth: 0 });
  }
  log(line: string, write: (line: string) => void): void {
    write(line);
  }
  advance(key: string, by: number): void {
    const part = this.parts.get(key);
    if (!part) return;
    part.done += by;
    const tenth = part.total ? Math.min(10, Math.floor((part.done / part.total) * 10)) : 0;
    if (tenth > part.tenth) {
      part.tenth = tenth;
      this.write(`${part.label}: ${part.done}/${part.total ?? '?'} groups moved (${tenth * 10}%)`);
    }
  }
  stop(): void {
    for (const part of this.parts.values()) {
      if (part.tenth < 10 && part.done > 0)
        this.write(`${part.label}: ${part.done}/${part.total ?? '?'} groups moved`);
    }
  }
}
