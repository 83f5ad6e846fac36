/**
 * One controller per kind, as in controller-runtime: events from watched caches become keys in a
 * work queue; a bounded number of workers take keys and call the Reconciler; its result decides
 * whether and when the key comes back (error → per-key backoff, requeueAfter → delayed add).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Informer, InformerEvent } from './informer.js';
import type { KubeObject } from './kube.js';
import type { OperatorMetrics } from './metrics.js';
import { type BackoffOptions, defaultBackoff, WorkQueue } from './queue.js';

export interface Request {
  namespace: string;
  name: string;
}

export interface Result {
  /** Come back after this long even if nothing changes (periodic observation). */
  requeueAfterMs?: number;
  /** Come back after the key's backoff delay without counting as an error. */
  requeue?: boolean;
}

export interface ReconcileContext {
  log: Logger;
  reconcileId: string;
  /** Aborted when the operator shuts down or loses leadership: stop at the next safe point. */
  signal: AbortSignal;
}

export interface Reconciler {
  reconcile(req: Request, ctx: ReconcileContext): Promise<Result | undefined>;
}

/** An error that retrying cannot fix (bad spec): logged and counted, not requeued. */
export class TerminalError extends Error {
  override name = 'TerminalError';
}

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  maxConcurrentReconciles?: number;
  backoff?: BackoffOptions;
  metrics: OperatorMetrics;
  log: Logger;
}

export const requestKey = (r: Request) => `${r.namespace}/${r.name}`;
export function parseKey(key: string): Request {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  private started = false;

  constructor(private readonly opts: ControllerOptions) {
    this.name = opts.name;
    this.queue = new WorkQueue(opts.backoff ?? defaultBackoff, opts.metrics.queueMetricsFor(opts.name));
  }

  /** Enqueues the object itself for events of its primary kind. */
  watchPrimary(
    informer: Informer,
    filter?: (event: InformerEvent, obj: KubeObject, old?: KubeObject) => boolean,
  ): void {
    informer.on((event, obj, old) => {
      if (filter && !filter(event, obj, old)) return;
      this.enqueue({ namespace: obj.metadata.namespace, name: obj.metadata.name });
    });
  }

  /** Enqueues the requests `map` derives from events of another kind (a Zone → its NodePools). */
  watchMapped(informer: Informer, map: (obj: KubeObject) => Request[]): void {
    informer.on((_event, obj) => {
      for (const r of map(obj)) this.enqueue(r);
    });
  }

  enqueue(r: Request): void {
    this.queue.add(requestKey(r));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const n = this.opts.maxConcurrentReconciles ?? 1;
    this.opts.metrics.maxWorkers.set({ controller: this.name }, n);
    // As controller-runtime does: every counter of this controller exists from the start at 0, so
    // a dashboard shows 0 (not "no data") and rate() and increase() see the first error.
    this.opts.metrics.initController(this.name);
    for (let i = 0; i < n; i++) this.workers.push(this.worker());
  }

  /** Stops taking keys; running reconciles see `signal` aborted and are awaited up to `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    this.abort.abort();
    this.queue.shutDown();
    await Promise.race([Promise.all(this.workers), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(key: string): Promise<void> {
    const { metrics } = this.opts;
    const labels = { controller: this.name };
    const reconcileId = randomUUID();
    const req = parseKey(key);
    const log = this.opts.log.child({
      controller: this.name,
      namespace: req.namespace,
      name: req.name,
      reconcileID: reconcileId,
    });
    const end = metrics.reconcileTime.startTimer(labels);
    metrics.activeWorkers.inc(labels);
    try {
      const result = await this.opts.reconciler.reconcile(req, {
        log,
        reconcileId,
        signal: this.abort.signal,
      });
      if (result?.requeue) {
        this.queue.addRateLimited(key);
        metrics.reconcileTotal.inc({ ...labels, result: 'requeue' });
      } else if (result?.requeueAfterMs && result.requeueAfterMs > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfterMs);
        metrics.reconcileTotal.inc({ ...labels, result: 'requeue_after' });
      } else {
        this.queue.forget(key);
        metrics.reconcileTotal.inc({ ...labels, result: 'success' });
      }
    } catch (err) {
      metrics.reconcileTotal.inc({ ...labels, result: 'error' });
      metrics.reconcileErrors.inc(labels);
      if (err instanceof TerminalError) {
        metrics.terminalErrors.inc(labels);
        this.queue.forget(key);
        log.error({ err: err.message }, 'reconcile failed terminally; waiting for a spec change');
      } else {
        if (!(err instanceof Error)) metrics.reconcilePanics.inc(labels);
        const delay = this.queue.addRateLimited(key);
        log.error(
          { err: err instanceof Error ? err.message : String(err), retryInMs: delay },
          'reconcile failed',
        );
      }
    } finally {
      end();
      metrics.activeWorkers.dec(labels);
    }
  }
}
