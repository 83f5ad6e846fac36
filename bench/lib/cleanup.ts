/**
 * Everything the benchmark starts is registered here as it starts, and stopped in reverse order
 * at the end, on an error, or on Ctrl-C / SIGTERM. Each step is bounded so a stuck stop cannot
 * keep the machine busy.
 */
export class Cleanup {
  private readonly early: { name: string; fn: () => Promise<void> | void }[] = [];
  private readonly steps: { name: string; fn: () => Promise<void> | void }[] = [];
  private running: Promise<void> | undefined;
  /** Set by Ctrl-C / SIGTERM: the run must not go on to report half-measured numbers. */
  interrupted: NodeJS.Signals | undefined;

  /** `first`: run before every other step whenever it was added (killing child processes). */
  add(name: string, fn: () => Promise<void> | void, opts: { first?: boolean } = {}): void {
    if (opts.first) this.early.push({ name, fn });
    else this.steps.unshift({ name, fn });
  }

  /** Runs every step once: `first` steps, then the rest last-added first; later calls wait for the first. */
  run(timeoutMs = 15_000): Promise<void> {
    this.running ??= (async () => {
      for (const { name, fn } of [...this.early.splice(0), ...this.steps.splice(0)]) {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            Promise.resolve().then(fn),
            new Promise<void>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
            }),
          ]);
        } catch (err) {
          process.stderr.write(`[bench] cleanup "${name}" failed: ${(err as Error).message}\n`);
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return this.running;
  }

  /** Throws once a signal arrived; called between phases. */
  check(): void {
    if (this.interrupted) throw new Error(`interrupted by ${this.interrupted}; no results written`);
  }

  /** Ctrl-C and SIGTERM stop everything, then exit 130 / 143. */
  onSignals(): void {
    const handle = (signal: NodeJS.Signals, code: number) => {
      this.interrupted = signal;
      process.stderr.write(`\n[bench] ${signal}: stopping every host and process the benchmark started\n`);
      void this.run().finally(() => process.exit(code));
    };
    process.once('SIGINT', () => handle('SIGINT', 130));
    process.once('SIGTERM', () => handle('SIGTERM', 143));
  }
}
