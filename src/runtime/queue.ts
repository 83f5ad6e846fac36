/**
 * A work queue with client-go's guarantees: one entry per key however many times it is added,
 * never the same key handed to two workers at once (a key added while it is being processed is
 * marked dirty and comes back after `done`), per-key exponential backoff for failures, and
 * delayed adds for `requeueAfter`.
 */

export interface QueueMetrics {
  depth(n: number): void;
  add(): void;
  retry(): void;
  /** Seconds an item waited in the queue before a worker took it. */
  queueDuration(seconds: number): void;
  workDuration(seconds: number): void;
}

export interface BackoffOptions {
  /** First retry delay; doubled per consecutive failure. controller-runtime: 5 ms. */
  baseMs: number;
  /** Cap. controller-runtime: 1000 s; ours: 2 min (below). */
  maxMs: number;
}

/**
 * Reconcile errors are mostly transient (the API server restarting, a conflict): controller-runtime's
 * 1000 s cap would leave a plan in flight idle for a quarter of an hour after a short outage, so
 * the cap is 2 minutes. Step failures have their own 5 s → 5 min backoff (runner.ts).
 */
export const defaultBackoff: BackoffOptions = { baseMs: 5, maxMs: 120_000 };

/** Pure: the delay before retry number `failures` (1-based). */
export function backoffDelay(failures: number, opts: BackoffOptions = defaultBackoff): number {
  const exp = Math.min(failures - 1, 40);
  return Math.min(opts.baseMs * 2 ** exp, opts.maxMs);
}

export class WorkQueue<K extends string = string> {
  private readonly queue: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly addedAt = new Map<K, number>();
  private readonly startedAt = new Map<K, number>();
  private readonly failures = new Map<K, number>();
  private readonly timers = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(k: K | undefined) => void> = [];
  private shuttingDown = false;

  constructor(
    private readonly backoff: BackoffOptions = defaultBackoff,
    private readonly metrics?: QueueMetrics,
  ) {}

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics?.add();
    this.dirty.add(key);
    this.addedAt.set(key, Date.now());
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Adds after a delay; an earlier pending delayed add for the key wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Adds after the key's backoff delay and counts the failure. */
  addRateLimited(key: K): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    this.metrics?.retry();
    const delay = backoffDelay(n, this.backoff);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count (after a success). */
  forget(key: K): void {
    this.failures.delete(key);
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves with the next key, or undefined once shut down and drained. */
  async get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return this.take(key);
    if (this.shuttingDown) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: K): void {
    this.processing.delete(key);
    const started = this.startedAt.get(key);
    if (started !== undefined) this.metrics?.workDuration((Date.now() - started) / 1000);
    this.startedAt.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  get length(): number {
    return this.queue.length;
  }

  /** Keys being processed and for how long, for the unfinished-work metrics. */
  inFlight(): Array<{ key: K; seconds: number }> {
    const now = Date.now();
    return [...this.startedAt].map(([key, t]) => ({ key, seconds: (now - t) / 1000 }));
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private push(key: K): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(this.take(key));
      return;
    }
    this.queue.push(key);
    this.metrics?.depth(this.queue.length);
  }

  private take(key: K): K {
    this.dirty.delete(key);
    this.processing.add(key);
    const added = this.addedAt.get(key);
    if (added !== undefined) this.metrics?.queueDuration((Date.now() - added) / 1000);
    this.addedAt.delete(key);
    this.startedAt.set(key, Date.now());
    this.metrics?.depth(this.queue.length);
    return key;
  }
}
