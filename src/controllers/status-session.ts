/**
 * The status of one object across a reconcile: the latest version read or written, and writes with
 * optimistic concurrency that never overwrite a newer journal with an older one.
 */

import type { Plan } from '../api/common.js';
import { type Condition, setCondition } from '../runtime/conditions.js';
import { kstatusConditions } from '../runtime/kstatus.js';
import type { KubeObject, ResourceType } from '../runtime/kube.js';
import { statusChanged } from '../runtime/status.js';
import type { ControllerDeps } from './deps.js';

/** Status of an acting kind: whatever it reports plus the runbook fields this module owns. */
export type ActingStatus = Record<string, unknown> & {
  conditions?: Condition[];
  plan?: Plan;
  currentStep?: string;
  observedGeneration?: number;
};

/** The status changed underneath us (another writer, or a cache behind our own last write). */
export class StaleStatusError extends Error {
  override name = 'StaleStatusError';
}

/**
 * Keeps the latest version of an object and writes its status with optimistic concurrency. A
 * conflict caused only by a metadata change (an annotation, a finalizer) is retried on a fresh
 * read; a conflict where the status itself moved since we read it means our view of the journal is
 * old, so the write is refused (StaleStatusError) and the reconcile starts again from fresh state:
 * a journal must never be overwritten by an older one, or a finished step could run twice.
 */
export class StatusSession {
  /** The status as last read from or written to the API server: what our changes are based on. */
  private basis: unknown;

  constructor(
    private readonly deps: ControllerDeps,
    readonly type: ResourceType,
    public obj: KubeObject,
    public status: ActingStatus,
    /**
     * Status fields another writer owns (a Zone's `lock` belongs to zonelock.ts, taken by other
     * kinds' runs): a conflict on them alone is not a stale journal, and the fresh value wins.
     */
    private readonly foreign: readonly string[] = [],
  ) {
    this.basis = obj.status;
  }

  async save(patch: Partial<ActingStatus> = {}): Promise<void> {
    this.status = { ...this.status, ...patch };
    // Reconciling/Stalled for kstatus (Flux) and Argo CD, derived from our own conditions on every write.
    this.status = {
      ...this.status,
      conditions: kstatusConditions(this.status.conditions, this.obj.metadata.generation),
    };
    for (let attempt = 0; ; attempt++) {
      const { outcome, object } = await this.deps.status.write(this.type, this.obj, this.status);
      if (outcome !== 'conflict') {
        this.obj = object;
        this.basis = object.status;
        break;
      }
      const fresh = await this.deps.client.get(
        this.type,
        this.obj.metadata.namespace,
        this.obj.metadata.name,
      );
      if (!fresh || attempt >= 4)
        throw new Error(`could not write status of ${this.type.kind} ${this.obj.metadata.name}: conflicts`);
      if (statusChanged(this.withoutForeign(fresh.status), this.withoutForeign(this.basis))) {
        throw new StaleStatusError(
          `status of ${this.type.kind} ${this.obj.metadata.namespace}/${this.obj.metadata.name} changed since it was read; reconciling again from the current state`,
        );
      }
      this.obj = fresh;
      this.basis = fresh.status;
      const theirs = (fresh.status ?? {}) as Record<string, unknown>;
      const mine = this.withoutForeign(this.status) as ActingStatus;
      for (const f of this.foreign) if (theirs[f] !== undefined) mine[f] = theirs[f];
      this.status = mine;
    }
    const { namespace, name } = this.obj.metadata;
    this.deps.metrics.setConditions(this.type.kind, namespace, name, this.status.conditions ?? []);
  }

  private withoutForeign(st: unknown): unknown {
    if (!st || this.foreign.length === 0) return st;
    const rest = { ...(st as Record<string, unknown>) };
    for (const f of this.foreign) delete rest[f];
    return rest;
  }

  condition(type: string, status: Condition['status'], reason: string, message: string): void {
    this.status = {
      ...this.status,
      conditions: setCondition(this.status.conditions, {
        type,
        status,
        reason,
        message,
        observedGeneration: this.obj.metadata.generation,
      }),
    };
  }
}
