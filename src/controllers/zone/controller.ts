/**
 * Zone: observe the platform through its firstbox. Each reconcile connects with the Zone's
 * credentials and host-key policy, collects the installer version and node list in one round trip,
 * and records them with `Reachable` and `Ready`. It refreshes every `spec.refreshInterval`; an
 * unreachable firstbox backs off (5 s doubling to 5 min), never a hot loop. Deleting a Zone never
 * touches the platform: its finalizer only drops the zone's SSH connections.
 *
 * The one action: a non-global Zone with `regionId` and `spec.newZone`, which the firstbox's
 * `describe-zones.py` does not list, is added to its region (runbook R4, new zone in a region;
 * `newzone.ts` builds the plan) through `runPlan` under the zone lock (operation `AddZone`). A run
 * that started is carried to its end even once the installer lists the zone.
 */

import { zoneKind } from '../../api/kinds.js';
import { parseZone, type Zone, type ZoneStatus } from '../../api/zone.js';
import { completeOutput, PARSED_OUTPUT } from '../../facts/complete.js';
import { FIRSTBOX_COMMAND, parseFirstboxOutput } from '../../facts/firstbox.js';
import type { FirstboxFacts } from '../../facts/types.js';
import { type Condition, findCondition, setCondition } from '../../runtime/conditions.js';
import type { ReconcileContext, Reconciler, Request, Result } from '../../runtime/controller.js';
import type { KubeObject } from '../../runtime/kube.js';
import { backoffDelay } from '../../runtime/queue.js';
import { statusChanged } from '../../runtime/status.js';
import { type ControllerDeps, durationMs, nowIso, resourceType } from '../deps.js';
import { classifyAccessError } from '../errors.js';
import { ensureFinalizer, removeFinalizer } from '../finalizer.js';
import type { ZoneAccess } from '../platform.js';
import { type ActingStatus, runPlan, StatusSession } from '../runner.js';
import { zoneTarget } from '../template.js';
import { readFirstboxFiles, SETTINGS_TEMPLATE, VARIABLES_TEMPLATE } from '../templatefill.js';
import { accessChanges, bindToFirstbox, firstboxAccessOf } from './access.js';
import { type GlobalZoneView, planNewZone } from './newzone.js';

export const ZONE_FINALIZER = 'ops.pitrix.io/zone';
const zoneType = resourceType(zoneKind);

/**
 * `status.lastObservedAt`: since when the firstbox has shown what status says (installer version,
 * node counts, reachability). An observation that finds the same keeps it, so an unchanged resync
 * writes nothing. Compared regardless of key order: the API server returns `nodeCounts` with its
 * keys sorted, the observation counts roles in the installer's node order.
 */
export function observedSince(
  previous: ZoneStatus,
  observed: Pick<ZoneStatus, 'installerVersion' | 'nodeCounts' | 'reachable'>,
  now: string,
): string {
  const same = !statusChanged(
    [previous.installerVersion, previous.nodeCounts, previous.reachable],
    [observed.installerVersion, observed.nodeCounts, observed.reachable],
  );
  return same && previous.lastObservedAt ? previous.lastObservedAt : now;
}

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

    // Where the credentials go: a change is a change of trust, reported before connecting.
    const accessNow = firstboxAccessOf(zone.spec.firstbox);
    const changes = accessChanges(previous.firstboxAccess, accessNow);
    if (changes.length > 0) {
      deps.events.event(
        obj,
        'Warning',
        'FirstboxAccessChanged',
        `firstbox access changed: ${changes.join('; ')}; the credentials now go to ${accessNow.host}:${accessNow.port}; every plan of the zone gets a new hash, so approvals given before no longer apply` +
          (previous.firstboxHostKey && zone.spec.firstbox.hostKeyPolicy === 'TrustOnFirstUse'
            ? ` and only a host presenting the recorded key ${previous.firstboxHostKey} is trusted (TrustOnFirstUse does not re-arm)`
            : ''),
      );
    }
    let status: ZoneStatus = { ...previous, observedGeneration: generation, firstboxAccess: accessNow };
    let conditions = (previous.conditions ?? []) as Condition[];
    let result: Result;
    let seen: { facts: FirstboxFacts; access: ZoneAccess } | undefined;
    try {
      let trusted: string | undefined;
      const access = await deps.platform.forZone(zone, (fp) => (trusted = fp));
      const res = await access.pool.exec(access.firstbox, FIRSTBOX_COMMAND, {
        timeoutMs: 120_000,
        signal: ctx.signal,
        ...PARSED_OUTPUT,
      });
      const facts = parseFirstboxOutput(completeOutput(res, 'firstbox observation'));
      seen = { facts, access };
      const nodeCounts: Record<string, number> = {};
      for (const n of facts.nodes) {
        if (n.zoneId && n.zoneId !== zone.spec.zoneId) continue;
        for (const r of n.roles) nodeCounts[r] = (nodeCounts[r] ?? 0) + 1;
      }
      const observed = { installerVersion: facts.installerVersion, nodeCounts, reachable: true };
      status = {
        ...status,
        ...observed,
        ...(trusted ? { firstboxHostKey: trusted } : {}),
        lastObservedAt: observedSince(previous, observed, nowIso()),
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
    if (seen && zone.spec.newZone) {
      const acted = await this.addZone(obj, zone, status, seen.facts, seen.access, ctx);
      if (acted) return acted;
    }
    const before = findCondition(previous.conditions as Condition[] | undefined, 'Ready');
    const after = findCondition(conditions, 'Ready');
    if (after?.status === 'True' && before?.status !== 'True') {
      deps.events.event(obj, 'Normal', 'Ready', after.message);
    }
    if (!(await this.writeStatus(obj, status, ctx))) return { requeue: true };
    return result;
  }

  /**
   * R4 new zone in a region. Returns the reconcile result when this Zone took (or was refused)
   * the new-zone path and its status is written; undefined to go on observing only.
   */
  private async addZone(
    obj: KubeObject,
    zone: Zone,
    status: ZoneStatus,
    facts: FirstboxFacts,
    access: ZoneAccess,
    ctx: ReconcileContext,
  ): Promise<Result | undefined> {
    const { deps } = this;
    const newZone = zone.spec.newZone!;
    const ns = obj.metadata.namespace;
    const refresh = durationMs(zone.spec.refreshInterval);
    const globalObj = deps.informers.zone.get(ns, newZone.globalZoneRef.name);
    let globalZone: GlobalZoneView | undefined;
    if (globalObj) {
      const spec = globalObj.spec as { zoneId?: string; global?: boolean; regionId?: string } | undefined;
      globalZone = {
        name: globalObj.metadata.name,
        zoneId: spec?.zoneId ?? '',
        global: spec?.global === true,
        ...(spec?.regionId ? { regionId: spec.regionId } : {}),
      };
    }
    const files = await readFirstboxFiles(access, [VARIABLES_TEMPLATE, SETTINGS_TEMPLATE], ctx.signal);
    const decision = planNewZone({
      files,
      zoneId: zone.spec.zoneId,
      regionId: zone.spec.regionId,
      global: zone.spec.global,
      mode: zone.spec.mode,
      newZone,
      globalZone,
      platformNodes: facts.nodes,
      platformZones: facts.zones,
      journal: status.plan,
    });
    if (decision.kind === 'observe') {
      // Our own finished AddZone run leaves its lock behind: drop it with this status write.
      const lock = status.lock;
      if (lock?.holder.kind === 'Zone' && lock.holder.name === obj.metadata.name) delete status.lock;
      return undefined;
    }
    if (decision.kind === 'unknown' || decision.kind === 'refuse') {
      const reason = decision.kind === 'unknown' ? decision.reason : decision.violations[0]!.reason;
      const message =
        decision.kind === 'unknown' ? decision.message : decision.violations.map((v) => v.message).join('; ');
      const before = findCondition(status.conditions as Condition[] | undefined, 'Ready');
      const gen = obj.metadata.generation;
      status.conditions = setCondition(
        setCondition(status.conditions as Condition[], {
          type: 'Ready',
          status: 'False',
          reason,
          message,
          observedGeneration: gen,
        }),
        {
          type: 'Progressing',
          status: 'False',
          reason,
          message: 'the zone is not added to its region until this is fixed; nothing ran',
          observedGeneration: gen,
        },
      );
      if (before?.reason !== reason) deps.events.event(obj, 'Warning', reason, message);
      if (!(await this.writeStatus(obj, status, ctx))) return { requeue: true };
      return { requeueAfterMs: decision.kind === 'refuse' ? Math.min(refresh, 60_000) : refresh };
    }
    // The Zone's lock is zonelock.ts's: R4 AddZone runs on the Zone itself while it holds its own lock.
    const session = new StatusSession(deps, zoneType, obj, status as ActingStatus, ['lock']);
    const { result: res } = await runPlan(
      deps,
      {
        session,
        plan: bindToFirstbox(decision.plan, zone),
        approval: newZone.approval,
        executor: access.pool,
        target: zoneTarget(access),
        zoneLock: { zoneName: obj.metadata.name, operation: 'AddZone' },
        readyMessage: `zone ${zone.spec.zoneId} added to region ${zone.spec.regionId}: ${decision.nodes.length} machine(s), ${decision.proxies.length} proxy(ies) forwarding to ${decision.globalWebservices.length} global webservice(s)`,
      },
      ctx,
    );
    return res ?? { requeueAfterMs: refresh };
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
