/**
 * The Manager wires the runtime together as controller-runtime's does: shared caches that every
 * replica keeps warm, controllers whose workers run only while this replica leads, the health and
 * metrics server, and an orderly shutdown (stop taking work, let reconciles reach a safe point,
 * release the Lease, exit 0).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Controller } from './controller.js';
import { KubeEventRecorder } from './events.js';
import { startHealthServer } from './health.js';
import { Informer } from './informer.js';
import type { KubeClient, ResourceType } from './kube.js';
import { LeaderElector } from './leader.js';
import { OperatorMetrics } from './metrics.js';
import { StatusWriter } from './status.js';

export interface ManagerOptions {
  client: KubeClient;
  log: Logger;
  /** Watch only this namespace; all namespaces when unset. */
  namespace?: string;
  metricsPort?: number;
  metricsHost?: string;
  leaderElection?: {
    enabled: boolean;
    namespace: string;
    name?: string;
    identity?: string;
    leaseDurationMs?: number;
    renewDeadlineMs?: number;
    retryPeriodMs?: number;
  };
  resyncMs?: number;
  staleWatchMs?: number;
  shutdownGraceMs?: number;
}

export class Manager {
  readonly metrics = new OperatorMetrics();
  readonly events: KubeEventRecorder;
  readonly status: StatusWriter;
  private readonly informers = new Map<string, Informer>();
  private readonly controllers: Controller[] = [];
  private elector: LeaderElector | undefined;
  private server: Server | undefined;
  private leading = false;
  private stopping = false;
  private synced = false;

  constructor(readonly opts: ManagerOptions) {
    this.events = new KubeEventRecorder(opts.client, 'pitrix-operator', opts.log);
    this.status = new StatusWriter(opts.client, (kind, outcome) =>
      this.metrics.statusWrites.inc({ kind, outcome }),
    );
  }

  get client(): KubeClient {
    return this.opts.client;
  }

  get log(): Logger {
    return this.opts.log;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The shared cache of a kind (one list+watch however many controllers read it). */
  informer(type: ResourceType): Informer {
    const key = `${type.group}/${type.plural}`;
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer(this.opts.client, type, {
        namespace: this.opts.namespace,
        resyncMs: this.opts.resyncMs,
        staleMs: this.opts.staleWatchMs,
        log: this.opts.log,
        onRestart: (reason) => this.metrics.watchRestarts.inc({ kind: type.kind, reason }),
      });
      this.informers.set(key, inf);
    }
    return inf;
  }

  add(controller: Controller): void {
    this.controllers.push(controller);
  }

  get metricsAddress(): AddressInfo | undefined {
    return this.server?.address() as AddressInfo | undefined;
  }

  async start(): Promise<void> {
    this.server = await startHealthServer(
      this.opts.metricsPort ?? 8080,
      this.opts.metricsHost ?? '0.0.0.0',
      this.metrics.registry,
      {
        healthy: () => !this.stopping,
        ready: () => this.synced,
      },
    );
    await Promise.all([...this.informers.values()].map((i) => i.start()));
    this.synced = true;
    this.opts.log.info({ kinds: [...this.informers.keys()] }, 'caches synced');
    const le = this.opts.leaderElection;
    if (!le?.enabled) {
      this.startLeading();
      return;
    }
    const leaseName = le.name ?? 'pitrix-operator-leader';
    this.metrics.leaderStatus.set({ name: leaseName }, 0);
    this.elector = new LeaderElector(this.opts.client, {
      namespace: le.namespace,
      name: leaseName,
      identity: le.identity,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      log: this.opts.log,
      onStartedLeading: () => {
        this.metrics.leaderStatus.set({ name: leaseName }, 1);
        this.startLeading();
      },
      onStoppedLeading: () => {
        this.metrics.leaderStatus.set({ name: leaseName }, 0);
        // As controller-runtime does: a replica that lost its lease may have stale assumptions;
        // exit and let the Deployment restart it as a clean standby.
        this.opts.log.error('leadership lost; exiting so a clean replica can stand by');
        void this.stop().then(() => process.exit(1));
      },
    });
    this.elector.start();
  }

  private startLeading(): void {
    if (this.leading || this.stopping) return;
    this.leading = true;
    this.opts.log.info({ controllers: this.controllers.map((c) => c.name) }, 'starting controllers');
    for (const c of this.controllers) c.start();
    // Keys queued by the caches' initial lists while standing by are now worked off.
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.opts.log.info('shutting down: no new work; waiting for running reconciles');
    await Promise.all(this.controllers.map((c) => c.stop(this.opts.shutdownGraceMs ?? 30_000)));
    await this.elector?.release();
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections?.();
    this.opts.log.info('stopped');
  }
}
