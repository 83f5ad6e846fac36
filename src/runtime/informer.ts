/**
 * A list+watch cache of one resource type that must never go silent. client-node's informers have
 * stopped on the first non-410 error and gone quiet on half-open connections; this one owns the
 * loop: it relists on `410 Gone`, re-watches from the last resourceVersion after any close or error
 * with capped exponential backoff, restarts a watch that has been silent longer than `staleMs`
 * (the apiserver sends bookmarks about once a minute, so silence means a dead connection), and
 * relists every `resyncMs` so a missed event cannot persist.
 */
import { Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isGone, KubeClient, type KubeObject, type ResourceType } from './kube.js';
import { backoffDelay } from './queue.js';

export type InformerEvent = 'added' | 'modified' | 'deleted' | 'resync';
export type InformerHandler = (event: InformerEvent, obj: KubeObject, old?: KubeObject) => void;

export interface InformerOptions {
  namespace?: string;
  /** Full relist period; every object is handed to handlers as `resync`. */
  resyncMs?: number;
  /** A watch that delivered nothing (not even a bookmark) for this long is re-established. */
  staleMs?: number;
  log?: Logger;
  onRestart?: (reason: 'closed' | 'error' | 'stale' | 'gone' | 'resync') => void;
}

export const objectKey = (o: { metadata: { namespace?: string; name: string } }) =>
  `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class Informer {
  private readonly store = new Map<string, KubeObject>();
  private readonly handlers: InformerHandler[] = [];
  private resourceVersion = '';
  private stopped = false;
  private abort: AbortController | undefined;
  private lastListAt = 0;
  private failures = 0;
  private syncedResolve!: () => void;
  /** Resolves after the first successful list. */
  readonly synced = new Promise<void>((r) => (this.syncedResolve = r));
  private loop: Promise<void> | undefined;
  private restartReason: 'closed' | 'error' | 'stale' | 'gone' | 'resync' = 'closed';

  constructor(
    private readonly client: KubeClient,
    readonly type: ResourceType,
    private readonly opts: InformerOptions = {},
  ) {}

  on(handler: InformerHandler): void {
    this.handlers.push(handler);
  }

  get(namespace: string, name: string): KubeObject | undefined {
    return this.store.get(`${namespace}/${name}`);
  }

  list(namespace?: string): KubeObject[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  start(): Promise<void> {
    this.loop ??= this.run();
    return this.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.loop;
  }

  private emit(event: InformerEvent, obj: KubeObject, old?: KubeObject): void {
    for (const h of this.handlers) {
      try {
        h(event, obj, old);
      } catch (err) {
        this.opts.log?.error({ err }, 'informer handler threw');
      }
    }
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.client.list(this.type, this.opts.namespace);
    const periodic = this.lastListAt > 0;
    const seen = new Set<string>();
    for (const obj of items) {
      obj.apiVersion ??= `${this.type.group}/${this.type.version}`;
      obj.kind ??= this.type.kind;
      const key = objectKey(obj);
      seen.add(key);
      const old = this.store.get(key);
      this.store.set(key, obj);
      if (!old) this.emit('added', obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('modified', obj, old);
      else if (periodic) this.emit('resync', obj, old);
    }
    for (const [key, old] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.emit('deleted', old);
      }
    }
    this.resourceVersion = resourceVersion;
    this.lastListAt = Date.now();
    this.syncedResolve();
  }

  private async run(): Promise<void> {
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const outcome = await this.watchOnce();
        if (outcome === 'gone' || outcome === 'resync') needList = true;
        this.opts.onRestart?.(outcome);
        if (outcome === 'error')
          await this.sleep(backoffDelay(++this.failures, { baseMs: 200, maxMs: 10_000 }));
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) needList = true;
        const delay = backoffDelay(++this.failures, { baseMs: 200, maxMs: 10_000 });
        this.opts.log?.warn(
          { err: String(err), kind: this.type.kind, retryInMs: delay },
          'list/watch failed; retrying',
        );
        this.opts.onRestart?.('error');
        await this.sleep(delay);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms * (0.8 + Math.random() * 0.4)).unref());
  }

  /** One watch call; resolves with why it ended. */
  private async watchOnce(): Promise<'closed' | 'error' | 'stale' | 'gone' | 'resync'> {
    const staleMs = this.opts.staleMs ?? 90_000;
    const resyncMs = this.opts.resyncMs ?? 10 * 60_000;
    const watch = new Watch(this.client.config);
    // client-node aborts a watch that has been silent for requestTimeoutMs: use it as our
    // staleness watchdog (it covers a hung connect too).
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = staleMs;
    this.restartReason = 'closed';
    let delivered = false;
    return new Promise((resolve) => {
      let resyncTimer: NodeJS.Timeout | undefined;
      const finish = (reason: 'closed' | 'error' | 'stale' | 'gone' | 'resync') => {
        clearTimeout(resyncTimer);
        if (delivered) this.failures = 0;
        resolve(reason);
      };
      watch
        .watch(
          KubeClient.collectionPath(this.type, this.opts.namespace),
          {
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 240 + Math.floor(Math.random() * 120),
          },
          (phase, obj: KubeObject & { code?: number }) => {
            delivered = true;
            this.handleEvent(phase, obj);
          },
          (err: unknown) => {
            if (this.restartReason === 'gone' || this.restartReason === 'resync')
              return finish(this.restartReason);
            if (err && (err as Error).name === 'TimeoutError') return finish('stale');
            if (err && (err as Error).name !== 'AbortError') {
              this.opts.log?.warn({ err: String(err), kind: this.type.kind }, 'watch ended with an error');
              return finish(isGone(err) ? 'gone' : 'error');
            }
            finish(this.stopped ? 'closed' : this.restartReason);
          },
        )
        .then((ctrl) => {
          this.abort = ctrl;
          if (this.stopped) ctrl.abort();
          const untilResync = Math.max(1000, this.lastListAt + resyncMs - Date.now());
          resyncTimer = setTimeout(() => {
            this.restartReason = 'resync';
            ctrl.abort();
          }, untilResync);
          resyncTimer.unref();
        })
        .catch(() => finish('error'));
    });
  }

  private handleEvent(phase: string, obj: KubeObject & { code?: number }): void {
    if (phase === 'ERROR') {
      // A Status object: 410 means our resourceVersion is too old to watch from.
      if (obj.code === 410) {
        this.restartReason = 'gone';
        this.abort?.abort();
      }
      return;
    }
    if (obj?.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    if (phase === 'BOOKMARK') return;
    obj.apiVersion ??= `${this.type.group}/${this.type.version}`;
    obj.kind ??= this.type.kind;
    const key = objectKey(obj);
    const old = this.store.get(key);
    if (phase === 'DELETED') {
      this.store.delete(key);
      this.emit('deleted', obj);
    } else {
      this.store.set(key, obj);
      this.emit(old ? 'modified' : 'added', obj, old);
    }
  }
}
