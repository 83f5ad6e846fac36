/**
 * WebserviceUpgrade (runbook R5): observe the zone's webservice nodes (installer node list with the
 * VIP, their settings, the floating IP, the kept images), pin each node's host key learned through
 * the firstbox, compute the plan with `planUpgrade` (or `planRollback` when asked) and hand it to the
 * runner, which holds the zone lock for the whole rollout. This file adds what R5 needs around the
 * runner: the maintenance window at node boundaries, the re-pin of exactly the rebuilt node, the
 * health gate's condition, and the per-node status. What the reconciler observes is in observe.ts,
 * the re-pin in hostkeys.ts, and the status it reports in status.ts.
 */

import type { Logger } from 'pino';
import type { PlanStep } from '../../api/common.js';
import { webserviceUpgradeKind } from '../../api/kinds.js';
import {
  parseWebserviceUpgrade,
  type UpgradeNodeStatus,
  type UpgradePhase,
  type WebserviceUpgrade,
} from '../../api/webserviceupgrade.js';
import type { Zone } from '../../api/zone.js';
import { isComplete, nextStep } from '../../runbook/journal.js';
import { type Condition, findCondition } from '../../runtime/conditions.js';
import {
  Controller,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
} from '../../runtime/controller.js';
import type { Manager } from '../../runtime/manager.js';
import type { OperatorMetrics } from '../../runtime/metrics.js';
import { openActing, readyZone } from '../acting.js';
import { type ControllerDeps, nowIso, resourceType } from '../deps.js';
import { classifyAccessError } from '../errors.js';
import type { ZoneAccess } from '../platform.js';
import { runPlan, type StatusSession } from '../runner.js';
import { verifySupervisor } from './checks.js';
import { latestRepin, repinEvents, withRepins } from './hostkeys.js';
import { KEYS_REFRESHED_ANNOTATION, keysRefreshMessage } from './keys.js';
import { type Observed, observeUpgrade } from './observe.js';
import { isNodeStep, planUpgrade, targetNodes, type Violation } from './plan.js';
import { planRollback, ROLLBACK_ANNOTATION } from './rollback.js';
import { finishedAt, lastLine, nodeOfStep, nodeStatuses, rolloutProgress, type Status } from './status.js';
import { describeWindow, msUntilOpen, windowOpen } from './window.js';

export { nodeOfStep } from './status.js';

export const WEBSERVICEUPGRADE_FINALIZER = 'ops.pitrix.io/webserviceupgrade';
const upgradeType = resourceType(webserviceUpgradeKind);
const _zoneType = resourceType({ kind: 'Zone', plural: 'zones' });

export class WebserviceUpgradeReconciler implements Reconciler {
  constructor(private readonly deps: ControllerDeps) {}

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result | undefined> {
    const { deps } = this;
    const opened = await openActing<WebserviceUpgrade, Status>(deps, req, {
      type: upgradeType,
      finalizer: WEBSERVICEUPGRADE_FINALIZER,
      informer: (d) => d.informers.webserviceUpgrade,
      parse: parseWebserviceUpgrade,
    });
    if (!opened) return undefined;
    const { obj, previous, session, resource: wsu } = opened;
    const zone = await readyZone(deps, session, req.namespace, wsu.spec.zoneRef.name);
    if (!zone) return { requeueAfterMs: 30_000 };

    const startedAt = previous.startedAt ?? nowIso();
    const backupSuffix = startedAt.slice(0, 10).replaceAll('-', '');
    let access: ZoneAccess;
    let observed: Observed;
    const hostKeys: Record<string, string> = {};
    try {
      access = await deps.platform.forZone(zone);
      observed = await observeUpgrade(access, wsu, zone, backupSuffix, ctx);
    } catch (err) {
      const failure = classifyAccessError(err, `firstbox ${zone.spec.firstbox.host}`);
      session.condition('Ready', 'False', failure.reason, failure.message);
      await session.save();
      return { requeueAfterMs: 30_000 };
    }

    const journal = previous.plan;
    const prevNodes = new Map((previous.nodes ?? []).map((n) => [n.name, n]));
    const stepsOf = (node: string) => (journal?.steps ?? []).filter((s) => nodeOfStep(s.id) === node);
    // Only the node's own rollout steps say it started: its prep backup does not.
    const rolloutSteps = (node: string) => stepsOf(node).filter((s) => isNodeStep(s.id));
    const { targets } = targetNodes(wsu.spec, zone.spec.zoneId, observed.nodes);
    const done: string[] = [];
    const started: string[] = [];
    for (const t of targets) {
      const prev = prevNodes.get(t.nodeId);
      const mine = rolloutSteps(t.nodeId);
      const gate = mine.find((s) => s.id === `healthGate-${t.nodeId}`);
      if (prev?.phase === 'Succeeded' || gate?.state === 'Succeeded') done.push(t.nodeId);
      else if (prev?.phase !== 'RolledBack' && mine.some((s) => s.state !== 'Pending'))
        started.push(t.nodeId);
    }
    // Keep the order in which nodes finished.
    done.sort((a, b) =>
      finishedAt(prevNodes.get(a), stepsOf(a)).localeCompare(finishedAt(prevNodes.get(b), stepsOf(b))),
    );

    // Record every target's host key (for status and events; the trust store is the firstbox's
    // known_hosts, which the relayed node commands check): the re-pinned one when the journal or
    // status has it, the one seen before the rebuild otherwise, or read it now from the firstbox.
    const pinnedFor = (node: string): string | undefined =>
      latestRepin(journal, node) ?? prevNodes.get(node)?.newHostKey ?? prevNodes.get(node)?.oldHostKey;
    try {
      for (const t of targets) {
        const pinned = pinnedFor(t.nodeId);
        if (!pinned && (done.includes(t.nodeId) || started.includes(t.nodeId))) continue;
        const seen = pinned ?? (await access.learnNodeHostKey(t.mgmtIp, 22));
        if (seen) hostKeys[t.nodeId] = seen;
      }
    } catch (err) {
      const failure = classifyAccessError(err, 'webservice node host keys');
      session.condition('Ready', 'False', failure.reason, failure.message);
      await session.save();
      return { requeueAfterMs: 30_000 };
    }

    const rollbackNode = obj.metadata.annotations?.[ROLLBACK_ANNOTATION]?.trim();
    // A finished rollout is never planned again (later work in the zone changes what it would see).
    if (
      !rollbackNode &&
      previous.phase === 'Succeeded' &&
      previous.observedGeneration === obj.metadata.generation &&
      isComplete(journal) &&
      targets.every((t) => done.includes(t.nodeId))
    ) {
      session.condition('Ready', 'True', 'Completed', `${targets.length} webservice node(s) rebuilt`);
      await session.save({
        nodes: (previous.nodes ?? []).map((n) => ({
          ...n,
          rollbackAvailable: observed.oldImages[n.name] ?? false,
        })),
      });
      return undefined;
    }
    if (rollbackNode) {
      return this.rollback(
        session,
        wsu,
        zone,
        access,
        observed,
        previous,
        rollbackNode,
        backupSuffix,
        startedAt,
        ctx,
      );
    }

    const recordedVip = Object.fromEntries(
      [...prevNodes.values()].filter((n) => n.holdsVip !== undefined).map((n) => [n.name, n.holdsVip!]),
    );
    const result = planUpgrade({
      name: wsu.metadata.name,
      spec: wsu.spec,
      zone: {
        zoneId: zone.spec.zoneId,
        global: zone.spec.global,
        installerVersion: observed.installerVersion,
      },
      platformNodes: observed.nodes,
      settings: observed.settings,
      ...(observed.floatingIp ? { floatingIp: observed.floatingIp } : {}),
      backupSuffix,
      done,
      started,
      recordedVip,
    });
    if (result.violations.length > 0) return this.refuse(session, previous, result.violations);

    // After a rollback the journal was replaced: what status says finished is not done again.
    if (journal && journal.hash !== result.plan.hash) {
      const anyStarted = done.length > 0 || started.length > 0;
      const synthetic: PlanStep[] = result.plan.steps
        .filter((s) => {
          const node = nodeOfStep(s.id);
          const isPrep = result.prepSteps.includes(s.id);
          return (isPrep && anyStarted) || (!isPrep && node !== undefined && done.includes(node));
        })
        .filter((s) => !journal.steps?.some((j) => j.id === s.id && j.state === 'Succeeded'))
        .map((s) => ({
          id: s.id,
          command: s.command.script,
          state: 'Succeeded',
          outputTail: 'finished earlier (status.nodes)',
        }));
      if (synthetic.length)
        session.status = {
          ...session.status,
          plan: { ...journal, steps: [...(journal.steps ?? []), ...synthetic] },
        };
    }

    // Old host keys are recorded before anything runs, so a crash mid-rebuild cannot lose them.
    const fresh = new Set(
      targets.map((t) => t.nodeId).filter((n) => !done.includes(n) && !started.includes(n)),
    );
    const before = nodeStatuses(result, session.status.plan, previous, observed, hostKeys, fresh);
    session.status = { ...session.status, nodes: before, startedAt };
    const plan = withRepins(result.plan, result.repinSteps, access, ctx.log);
    const spec = () =>
      (deps.informers.webserviceUpgrade.get(req.namespace, req.name)?.spec ?? {}) as { paused?: boolean };
    let waitingForWindow = false;
    let waitingForKeys = false;
    const firstSteps = new Set(Object.values(result.nodeSteps).map((ids) => ids[0]!));
    const keysConfirmed = () =>
      (
        deps.informers.webserviceUpgrade.get(req.namespace, req.name)?.metadata as
          | { annotations?: Record<string, string> }
          | undefined
      )?.annotations?.[KEYS_REFRESHED_ANNOTATION] === 'true';
    const res = await runPlan(
      deps,
      {
        session,
        plan,
        approval: wsu.spec.approval,
        paused: () => {
          if (spec().paused) return true;
          const next = session.status.plan ? nextStep(session.status.plan) : undefined;
          // The account-database keys gate (keys.ts): no node goes down before it is confirmed.
          waitingForKeys = !!next && next.state === 'Pending' && firstSteps.has(next.id) && !keysConfirmed();
          if (waitingForKeys) return true;
          waitingForWindow =
            !!next &&
            next.state === 'Pending' &&
            firstSteps.has(next.id) &&
            !windowOpen(wsu.spec.window, new Date());
          return waitingForWindow;
        },
        executor: access.pool,
        target: (host) =>
          host.kind === 'firstbox' ? access.firstbox : access.node(host.address, host.port ?? 22),
        zoneLock: { zoneName: zone.metadata.name, operation: 'Upgrade' },
        readyMessage: `${targets.length} webservice node(s) on ${wsu.spec.target.osName} ${wsu.spec.target.osVersion}`,
      },
      ctx,
    );

    const nodes = nodeStatuses(
      result,
      session.status.plan,
      { ...previous, nodes: before },
      observed,
      hostKeys,
      fresh,
    );
    const progress = rolloutProgress(nodes, session.status.plan);
    const { complete } = progress;
    let phase: UpgradePhase = progress.phase;
    const degraded = findCondition(session.status.conditions as Condition[] | undefined, 'Degraded');
    const failedStep = session.status.plan?.steps?.find((s) => s.state === 'Failed');
    if (degraded?.status === 'True' && failedStep) {
      phase = 'Failed';
      const node = nodeOfStep(failedStep.id);
      const kind = failedStep.id.split('-')[0]!;
      if (node && ['healthGate', 'verifyServices', 'preflight'].includes(kind)) {
        // The verdict, never raw output: for supervisorctl the programs that are NOT RUNNING (its
        // last line may well be one that is); the gate's last line is its own verdict line.
        const why =
          (kind === 'verifyServices' ? verifySupervisor(failedStep.outputTail ?? '', node) : undefined) ??
          lastLine(failedStep.outputTail) ??
          degraded.message;
        const msg = `${kind === 'preflight' ? 'pre-flight check' : 'health gate'} of ${node} failed: ${why}; nothing is done to the next node until it passes (retried with backoff)`;
        session.condition(
          'Degraded',
          'True',
          kind === 'preflight' ? 'PreflightFailed' : 'HealthCheckFailed',
          msg,
        );
        const n = nodes.find((x) => x.name === node);
        if (n) n.message = why;
      }
    }
    if (waitingForKeys && !spec().paused) {
      session.condition(
        'Progressing',
        'False',
        'KeysRefreshRequired',
        keysRefreshMessage(wsu.metadata.name, zone.spec.global),
      );
    }
    if (waitingForWindow && !spec().paused && wsu.spec.window) {
      phase = 'WaitingForWindow';
      session.condition(
        'Progressing',
        'False',
        'WaitingForWindow',
        `the next node starts inside the maintenance window ${describeWindow(wsu.spec.window)}`,
      );
    }
    await session.save({
      nodes,
      phase,
      progress: progress.progress,
      currentNode: progress.currentNode,
      startedAt,
    });
    repinEvents(this.deps.events, session, previous, nodes);
    if (waitingForWindow && wsu.spec.window)
      return {
        requeueAfterMs: Math.min(Math.max(msUntilOpen(wsu.spec.window, new Date()), 1000), 10 * 60_000),
      };
    return res ?? (complete ? { requeueAfterMs: 10 * 60_000 } : undefined);
  }

  private async rollback(
    session: StatusSession,
    wsu: WebserviceUpgrade,
    zone: Zone,
    access: ZoneAccess,
    observed: Observed,
    previous: Status,
    node: string,
    backupSuffix: string,
    startedAt: string,
    ctx: ReconcileContext,
  ): Promise<Result | undefined> {
    const { targets } = targetNodes(wsu.spec, zone.spec.zoneId, observed.nodes);
    const target = targets.find((t) => t.nodeId === node);
    const original = observed.settings[node];
    const inJournal = previous.plan?.steps?.some((s) => s.id === `rollbackStop-${node}`);
    const refuse = (reason: string, message: string) => this.refuse(session, previous, [{ reason, message }]);
    if (!target)
      return refuse('RollbackUnknownNode', `${ROLLBACK_ANNOTATION}: ${node} is not a node of this upgrade`);
    if (!inJournal && !observed.oldImages[node])
      return refuse(
        'RollbackUnavailable',
        `${ROLLBACK_ANNOTATION}: old-${node}.img is not on ${original?.physicalHost ?? 'its physical host'}; nothing to roll back to (remove the annotation)`,
      );
    if (!original?.physicalHost)
      return refuse('SettingsMissing', `${node}: no settings backup to restore; cannot roll back`);
    let rb: ReturnType<typeof planRollback>;
    try {
      rb = planRollback({
        node,
        address: target.mgmtIp,
        original,
        backupSuffix,
        installerVersion: observed.installerVersion,
      });
    } catch (err) {
      return refuse('InvalidSpec', (err as Error).message);
    }
    const plan = withRepins(rb.plan, rb.repinSteps, access, ctx.log);
    const res = await runPlan(
      this.deps,
      {
        session,
        plan,
        approval: wsu.spec.approval,
        paused: () =>
          !!(
            (this.deps.informers.webserviceUpgrade.get(wsu.metadata.namespace ?? '', wsu.metadata.name)
              ?.spec ?? {}) as { paused?: boolean }
          ).paused,
        executor: access.pool,
        target: (host) =>
          host.kind === 'firstbox' ? access.firstbox : access.node(host.address, host.port ?? 22),
        zoneLock: { zoneName: zone.metadata.name, operation: 'Upgrade' },
        readyMessage: `${node} rolled back to its old image`,
      },
      ctx,
    );
    const complete = isComplete(session.status.plan);
    const nodes: UpgradeNodeStatus[] = (previous.nodes ?? []).map((n) => {
      if (n.name !== node) return { ...n, rollbackAvailable: observed.oldImages[n.name] ?? false };
      const key = latestRepin(session.status.plan, node) ?? n.newHostKey;
      return {
        ...n,
        phase: complete ? 'RolledBack' : 'Rebuilding',
        ...(key ? { newHostKey: key } : {}),
        rollbackAvailable: complete ? false : (observed.oldImages[node] ?? false),
        message: complete
          ? `rolled back to old-${node}.img; remove ${ROLLBACK_ANNOTATION} to rebuild it again`
          : `rolling back to old-${node}.img`,
      };
    });
    if (complete) {
      session.condition(
        'Ready',
        'False',
        'RolledBack',
        `${node} runs its old image again; the rollout stays stopped while ${ROLLBACK_ANNOTATION} is set (removing it rebuilds ${node} again)`,
      );
    }
    await session.save({
      nodes,
      phase: complete ? 'Failed' : 'Progressing',
      currentNode: node,
      startedAt,
      progress: `${nodes.filter((n) => n.phase === 'Succeeded').length}/${nodes.length}`,
    });
    if (complete && previous.nodes?.find((n) => n.name === node)?.phase !== 'RolledBack')
      this.deps.events.event(
        session.obj,
        'Normal',
        'RolledBack',
        `${node} restored from old-${node}.img and relaunched`,
      );
    repinEvents(this.deps.events, session, previous, nodes);
    return res ?? (complete ? undefined : { requeueAfterMs: 5_000 });
  }

  private async refuse(session: StatusSession, previous: Status, violations: Violation[]): Promise<Result> {
    const message = violations.map((v) => v.message).join('; ');
    const reason = violations[0]!.reason;
    const before = findCondition(previous.conditions as Condition[] | undefined, 'Ready');
    session.condition('Ready', 'False', reason, message);
    session.condition('Progressing', 'False', reason, 'nothing runs until this is fixed');
    await session.save();
    if (before?.reason !== reason) this.deps.events.event(session.obj, 'Warning', reason, message);
    return { requeueAfterMs: 60_000 };
  }
}

/** Creates the WebserviceUpgrade controller, its watches, and adds it to the manager. */
export function registerWebserviceUpgradeController(
  manager: Manager,
  deps: ControllerDeps,
  base: { metrics: OperatorMetrics; log: Logger; maxConcurrentReconciles: number },
): void {
  const c = new Controller({
    ...base,
    name: 'webserviceupgrade',
    reconciler: new WebserviceUpgradeReconciler(deps),
  });
  c.watchPrimary(deps.informers.webserviceUpgrade, (event, obj, old) => {
    if (event !== 'modified' || !old) return true;
    return (
      obj.metadata.generation !== old.metadata.generation ||
      obj.metadata.deletionTimestamp !== old.metadata.deletionTimestamp ||
      JSON.stringify(obj.metadata.annotations ?? {}) !== JSON.stringify(old.metadata.annotations ?? {})
    );
  });
  // A Zone becoming Ready or its lock being released lets its upgrades proceed.
  c.watchMapped(deps.informers.zone, (zone) =>
    deps.informers.webserviceUpgrade
      .list(zone.metadata.namespace)
      .filter(
        (u) => (u.spec as { zoneRef?: { name?: string } } | undefined)?.zoneRef?.name === zone.metadata.name,
      )
      .map((u) => ({ namespace: u.metadata.namespace, name: u.metadata.name })),
  );
  manager.add(c);
}
