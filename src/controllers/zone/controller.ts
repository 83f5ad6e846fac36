/**
 * Zone: observe the platform through its firstbox. Each reconcile connects with the Zone's
 * credentials and host-key policy, collects the installer version and node list in one round trip,
 * and records them with `Reachable` and `Ready`. It refreshes every `spec.refreshInterval`; an
 * unreachable firstbox backs off (5 s doubling to 5 min), never a hot loop. Deleting a Zone never
 * touches the platform: its finalizer only drops the zone's SSH connections.
 */

import { zoneKind } from '../../api/kinds.js';
import { parseZone, type Zone, type ZoneStatus } from '../../api/zone.js';
import { FIRSTBOX_COMMAND, parseFirstboxOutput } from '../../facts/firstbox.js';
import { type Condition, findCondition, setCondition } from '../../runtime/conditions.js';
import type { ReconcileContext, Reconciler, Request, Result } from '../../runtime/controller.js';
import type { KubeObject } from '../../runtime/kube.js';
import { backoffDelay } from '../../runtime/queue.js';
import { type ControllerDeps, durationMs, nowIso, resourceType } from '../deps.js';
import { classifyAccessError } from '../errors.js';
import { ensureFinalizer, removeFinalizer } from '../finalizer.js';

export const ZONE_FINALIZER = 'ops.pitrix.io/zone';
const zoneType = resourceType(zoneKind);

export class ZoneReconciler implements Reconciler {
  private readonly failures = new Map<string, number>();

  constructor(private readonly deps: ControllerDeps) {}

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result | undefined> {
    const { deps } = this;
    const key = `${req.namespace}/${req.name}`;
    let obj = deps.informers.zone.get(req.namespace, req.name);
    if (!obj) {
      deps.metrics.forgetResource('Zone', req.namespace, req.name);
      deps.platform.forget(req.namespace, req.name);
      this.failures.delete(key);
      return undefined;
    }
    if (obj.metadata.deletionTimestamp) {
      deps.platform.forget(req.namespace, req.name);
      await removeFinalizer(deps.client, zoneType, obj, ZONE_FINALIZER);
      return undefined;
    }
    obj = await ensureFinalizer(deps.client, zoneType, obj, ZONE_FINALIZER);

    const generation = obj.metadata.generation;
    const previous = (obj.status ?? {}) as ZoneStatus;
    let zone: Zone;
    try {
      zone = parseZone(obj);
    } catch (err) {
      const conditions = setCondition(previous.conditions as Condition[] | undefined, {
        type: 'Ready',
        status: 'False',
        reason: 'InvalidSpec',
        message: (err as Error).message,
        observedGeneration: generation,
      });
      await this.writeStatus(obj, { ...previous, conditions, observedGeneration: generation }, ctx);
      return undefined;
    }

    let status: ZoneStatus = { ...previous, observedGeneration: generation };
    let conditions = (previous.conditions ?? []) as Condition[];
    let result: Result;
    try {
      let trusted: string | undefined;
      const access = await deps.platform.forZone(zone, (fp) => (trusted = fp));
      const res = await access.pool.exec(access.firstbox, FIRSTBOX_COMMAND, {
        timeoutMs: 120_000,
        signal: ctx.signal,
      });
      const facts = parseFirstboxOutput(res.stdout);
      const nodeCounts: Record<string, number> = {};
      for (const n of facts.nodes) {
        if (n.zoneId && n.zoneId !== zone.spec.zoneId) continue;
        for (const r of n.roles) nodeCounts[r] = (nodeCounts[r] ?? 0) + 1;
      }
      const observed = { installerVersion: facts.installerVersion, nodeCounts, reachable: true };
      const changed =
        JSON.stringify([previous.installerVersion, previous.nodeCounts, previous.reachable]) !==
        JSON.stringify([observed.installerVersion, observed.nodeCounts, observed.reachable]);
      status = {
        ...status,
        ...observed,
        ...(trusted ? { firstboxHostKey: trusted } : {}),
        // Only moves when what we saw changed: an unchanged resync writes nothing.
        lastObservedAt: changed || !previous.lastObservedAt ? nowIso() : previous.lastObservedAt,
      };
      conditions = setCondition(conditions, {
        type: 'Reachable',
        status: 'True',
        reason: 'Connected',
        message: `firstbox ${access.firstbox.address}:${access.firstbox.port} answered`,
        observedGeneration: generation,
      });
      const total = Object.values(nodeCounts).reduce((a, b) => a + b, 0);
      conditions = setCondition(conditions, {
        type: 'Ready',
        status: 'True',
        reason: 'Observed',
        message: `installer ${facts.installerVersion}, ${total} node(s)`,
        observedGeneration: generation,
      });
      if (trusted) {
        deps.events.event(
          obj,
          'Normal',
          'HostKeyTrusted',
          `trusted firstbox host key ${trusted} on first use`,
        );
      }
      this.failures.delete(key);
      deps.metrics.factsObserved('Zone', req.namespace, req.name, ['firstbox'], ['firstbox']);
      result = { requeueAfterMs: durationMs(zone.spec.refreshInterval) };
    } catch (err) {
      const failure = classifyAccessError(err, `firstbox ${zone.spec.firstbox.host}`);
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      deps.metrics.factsObserved('Zone', req.namespace, req.name, ['firstbox'], []);
      status = { ...status, reachable: failure.connection ? false : status.reachable };
      if (failure.connection) {
        conditions = setCondition(conditions, {
          type: 'Reachable',
          status: 'False',
          reason: failure.reason,
          message: failure.message,
          observedGeneration: generation,
        });
      }
      conditions = setCondition(conditions, {
        type: 'Ready',
        status: 'False',
        reason: failure.reason,
        message: failure.message,
        observedGeneration: generation,
      });
      const before = findCondition(previous.conditions as Condition[] | undefined, 'Ready');
      if (before?.reason !== failure.reason)
        deps.events.event(obj, 'Warning', failure.reason, failure.message);
      ctx.log.warn({ reason: failure.reason, attempt: n }, failure.message);
      result = { requeueAfterMs: backoffDelay(n, { baseMs: 5_000, maxMs: 300_000 }) };
    }
    status.conditions = conditions;
    const before = findCondition(previous.conditions as Condition[] | undefined, 'Ready');
    const after = findCondition(conditions, 'Ready');
    if (after?.status === 'True' && before?.status !== 'True') {
      deps.events.event(obj, 'Normal', 'Ready', after.message);
    }
    if (!(await this.writeStatus(obj, status, ctx))) return { requeue: true };
    return result;
  }

  private async writeStatus(obj: KubeObject, status: ZoneStatus, ctx: ReconcileContext): Promise<boolean> {
    const { outcome } = await this.deps.status.write(zoneType, obj, status as Record<string, unknown>);
    this.deps.metrics.setConditions(
      'Zone',
      obj.metadata.namespace,
      obj.metadata.name,
      status.conditions ?? [],
    );
    if (outcome === 'conflict') ctx.log.debug('status conflict; will retry with a fresh object');
    return outcome !== 'conflict';
  }
}
