/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics: acquire when the
 * Lease is free or its holder's renewTime + leaseDuration has passed; renew every `retryPeriod`;
 * give up leadership when a renewal has not succeeded within `renewDeadline` (so two leaders never
 * act at once for longer than the clock skew); release on shutdown by clearing the holder so a
 * successor need not wait a whole lease.
 */

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeClient } from './kube.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log?: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

const micro = (d: Date) => new V1MicroTime(d.getTime());

export class LeaderElector {
  readonly identity: string;
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
    this.leaseMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    void this.tick();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => void this.tick(),
      this.retryMs * (this.leading ? 1 : 0.8 + Math.random() * 0.4),
    );
  }

  private async tick(): Promise<void> {
    try {
      const ok = await this.tryAcquireOrRenew();
      if (ok) {
        this.lastRenew = Date.now();
        if (!this.leading) {
          this.leading = true;
          this.opts.log?.info({ lease: this.opts.name, identity: this.identity }, 'became leader');
          this.opts.onStartedLeading();
        }
      }
    } catch (err) {
      this.opts.log?.warn({ err: String(err), lease: this.opts.name }, 'lease acquire/renew failed');
    }
    if (this.leading && Date.now() - this.lastRenew > this.renewDeadlineMs) {
      this.leading = false;
      this.opts.log?.error({ lease: this.opts.name }, 'lost leadership: could not renew the lease in time');
      this.opts.onStoppedLeading();
    }
    this.schedule();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name } = this.opts;
    const now = new Date();
    let lease: V1Lease | undefined;
    try {
      lease = await this.client.coordination.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const spec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.round(this.leaseMs / 1000),
      renewTime: micro(now),
    };
    if (!lease) {
      try {
        await this.client.coordination.createNamespacedLease({
          namespace,
          fieldManager: this.client.fieldManager,
          body: {
            metadata: { name, namespace },
            spec: { ...spec, acquireTime: micro(now), leaseTransitions: 0 },
          },
        });
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    const duration = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    const expired = !holder || renewed + duration < now.getTime();
    if (holder !== this.identity && !expired) return false;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === this.identity ? 0 : 1);
    try {
      await this.client.coordination.replaceNamespacedLease({
        namespace,
        name,
        fieldManager: this.client.fieldManager,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            ...spec,
            acquireTime: holder === this.identity ? lease.spec?.acquireTime : micro(now),
            leaseTransitions: transitions,
          },
        },
      });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Stops renewing and, if leading, clears the holder so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.coordination.readNamespacedLease({
        namespace: this.opts.namespace,
        name: this.opts.name,
      });
      if (lease.spec?.holderIdentity !== this.identity) return;
      await this.client.coordination.replaceNamespacedLease({
        namespace: this.opts.namespace,
        name: this.opts.name,
        fieldManager: this.client.fieldManager,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
      });
      this.opts.log?.info({ lease: this.opts.name }, 'released leadership');
    } catch (err) {
      this.opts.log?.warn(
        { err: String(err) },
        'could not release the lease; the standby will wait for it to expire',
      );
    }
  }
}
