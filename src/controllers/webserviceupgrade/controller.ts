/**
 * WebserviceUpgrade (runbook R5): observe the zone's webservice nodes (installer node list with the
 * VIP, their settings, the floating IP, the kept images), pin each node's host key learned through
 * the firstbox, compute the plan with `planUpgrade` (or `planRollback` when asked) and hand it to the
 * runner, which holds the zone lock for the whole rollout. This file adds what R5 needs around the
 * runner: the maintenance window at node boundaries, the re-pin of exactly the rebuilt node, the
 * health gate's condition, and the per-node status.
 */

import type { Logger } from 'pino';
import type { Plan, PlanStep } from '../../api/common.js';
import { webserviceUpgradeKind } from '../../api/kinds.js';
import {
  parseWebserviceUpgrade,
  type UpgradeNodeStatus,
  type UpgradePhase,
  type WebserviceUpgrade,
  type WebserviceUpgradeStatus,
} from '../../api/webserviceupgrade.js';
import type { Zone } from '../../api/zone.js';
import { collectFirstboxFacts } from '../../facts/collector.js';
import type { PlatformNode } from '../../facts/types.js';
import { isComplete, nextStep } from '../../runbook/journal.js';
import type { PlannedRunbook } from '../../runbook/step.js';
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
import { seq, sh, shell } from '../../ssh/command.js';
import { openActing, readyZone } from '../acting.js';
import { type ControllerDeps, nowIso, resourceType } from '../deps.js';
import { classifyAccessError } from '../errors.js';
import { splitExecNodesOutput } from '../nodepool/checks.js';
import type { ZoneAccess } from '../platform.js';
import { type ActingStatus, runPlan, type StatusSession } from '../runner.js';
import { keyscanFingerprint, parseFloatingIp, parseNodeSettings, splitSections } from './checks.js';
import {
  floatingIpLocation,
  isNodeStep,
  type NodeSettings,
  phaseOfStep,
  planUpgrade,
  settingsBackupDir,
  settingsPath,
  targetNodes,
  type UpgradePlan,
  type Violation,
} from './plan.js';
import { planRollback, ROLLBACK_ANNOTATION } from './rollback.js';
import { describeWindow, msUntilOpen, windowOpen } from './window.js';

export const WEBSERVICEUPGRADE_FINALIZER = 'ops.pitrix.io/webserviceupgrade';
const upgradeType = resourceType(webserviceUpgradeKind);
const _zoneType = resourceType({ kind: 'Zone', plural: 'zones' });

type Status = WebserviceUpgradeStatus & ActingStatus;

/** The node a step id belongs to (`launchVm-webservice-a1` → `webservice-a1`). */
export const nodeOfStep = (id: string): string | undefined => {
  const i = id.indexOf('-');
  return i > 0 ? id.slice(i + 1) : undefined;
};

interface Observed {
  nodes: PlatformNode[];
  installerVersion: string;
  settings: Record<string, NodeSettings | undefined>;
  floatingIp?: string;
  /** Node id → old-N.img exists on its original physical host. */
  oldImages: Record<string, boolean>;
}

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
      observed = await this.observe(access, wsu, zone, backupSuffix, ctx);
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

    // Pin every target's host key: the re-pinned one when the journal or status has it, the one
    // seen before the rebuild otherwise, or learn it now through the firstbox (before any change).
    const pinnedFor = (node: string): string | undefined =>
      latestRepin(journal, node) ?? prevNodes.get(node)?.newHostKey ?? prevNodes.get(node)?.oldHostKey;
    try {
      for (const t of targets) {
        const pinned = pinnedFor(t.nodeId);
        if (!pinned && (done.includes(t.nodeId) || started.includes(t.nodeId))) continue;
        hostKeys[t.nodeId] = await access.learnNodeHostKey(t.mgmtIp, 22, pinned);
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
    const before = this.nodeStatuses(result, session.status.plan, previous, observed, hostKeys, fresh);
    session.status = { ...session.status, nodes: before, startedAt };
    const plan = this.withRepins(result.plan, result.repinSteps, access, ctx.log);
    const spec = () =>
      (deps.informers.webserviceUpgrade.get(req.namespace, req.name)?.spec ?? {}) as { paused?: boolean };
    let waitingForWindow = false;
    const firstSteps = new Set(Object.values(result.nodeSteps).map((ids) => ids[0]!));
    const res = await runPlan(
      deps,
      {
        session,
        plan,
        approval: wsu.spec.approval,
        paused: () => {
          if (spec().paused) return true;
          const next = session.status.plan ? nextStep(session.status.plan) : undefined;
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

    const nodes = this.nodeStatuses(
      result,
      session.status.plan,
      { ...previous, nodes: before },
      observed,
      hostKeys,
      fresh,
    );
    const doneCount = nodes.filter((n) => n.phase === 'Succeeded').length;
    const current = nodes.find(
      (n) => n.phase !== 'Succeeded' && n.phase !== 'Pending' && n.phase !== 'RolledBack',
    );
    const complete = isComplete(session.status.plan) && (session.status.plan?.steps?.length ?? 0) > 0;
    let phase: UpgradePhase = complete ? 'Succeeded' : current ? 'Progressing' : 'Pending';
    const degraded = findCondition(session.status.conditions as Condition[] | undefined, 'Degraded');
    const failedStep = session.status.plan?.steps?.find((s) => s.state === 'Failed');
    if (degraded?.status === 'True' && failedStep) {
      phase = 'Failed';
      const node = nodeOfStep(failedStep.id);
      const kind = failedStep.id.split('-')[0]!;
      if (node && ['healthGate', 'verifyServices', 'preflight'].includes(kind)) {
        const why = lastLine(failedStep.outputTail) ?? degraded.message;
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
      progress: `${doneCount}/${nodes.length}`,
      currentNode: current?.name ?? (complete ? undefined : nodes.find((n) => n.phase === 'Pending')?.name),
      startedAt,
    });
    this.repinEvents(session, previous, nodes);
    if (waitingForWindow && wsu.spec.window)
      return {
        requeueAfterMs: Math.min(Math.max(msUntilOpen(wsu.spec.window, new Date()), 1000), 10 * 60_000),
      };
    return res ?? (complete ? { requeueAfterMs: 10 * 60_000 } : undefined);
  }

  /** The Zone, Ready; otherwise a condition saying why and undefined. */
  /** Two firstbox round trips: node list + settings + floating IP, then the kept images. */
  private async observe(
    access: ZoneAccess,
    wsu: WebserviceUpgrade,
    zone: Zone,
    backupSuffix: string,
    ctx: ReconcileContext,
  ): Promise<Observed> {
    const facts = await collectFirstboxFacts(access.pool, access.firstbox, { signal: ctx.signal });
    const { targets } = targetNodes(wsu.spec, zone.spec.zoneId, facts.nodes);
    const backup = settingsBackupDir(backupSuffix);
    const marker = `${backup}/.pitrix-operator-${wsu.metadata.name}`;
    const loc = floatingIpLocation({
      zoneId: zone.spec.zoneId,
      global: zone.spec.global,
      installerVersion: facts.installerVersion,
    });
    const section = (name: string) => shell(['printf', '@@wsu:%s@@\\n', name], 'section');
    const cat = (file: string) => sh('read file')`cat ${file} 2>/dev/null || true`;
    const parts = [section('fip'), cat(loc.file)];
    for (const t of targets) {
      parts.push(section(`live:${t.nodeId}`), cat(settingsPath(t.nodeId)));
      parts.push(
        section(`backup:${t.nodeId}`),
        sh('read backup')`if test -f ${marker}; then cat ${`${backup}/${t.nodeId}`} 2>/dev/null; fi; true`,
      );
    }
    const out = targets.length
      ? splitSections(
          (
            await access.pool.exec(access.firstbox, seq(parts, 'read node settings'), {
              timeoutMs: 60_000,
              signal: ctx.signal,
            })
          ).stdout,
        )
      : new Map<string, string>();
    const settings: Record<string, NodeSettings | undefined> = {};
    for (const t of targets) {
      const b = out.get(`backup:${t.nodeId}`);
      settings[t.nodeId] = parseNodeSettings(b?.trim() ? b : (out.get(`live:${t.nodeId}`) ?? ''));
    }
    const oldImages: Record<string, boolean> = {};
    const hosts = [
      ...new Set(
        targets
          .map((t) => settings[t.nodeId]?.physicalHost)
          .filter((h): h is string => !!h && /^[a-z][a-z0-9-]*$/.test(h)),
      ),
    ];
    if (hosts.length) {
      const res = await access.pool.exec(
        access.firstbox,
        shell(['/pitrix/upgrade/exec_nodes.sh', '-f', hosts.join(','), 'ls /pitrix/vm'], 'list kept images'),
        { timeoutMs: 60_000, signal: ctx.signal },
      );
      const byIp = splitExecNodesOutput(res.stdout);
      for (const t of targets) {
        const ph = settings[t.nodeId]?.physicalHost;
        const ip = facts.nodes.find((n) => n.nodeId === ph)?.mgmtIp;
        const listing = ip ? byIp.get(ip) : undefined;
        oldImages[t.nodeId] = !!listing?.split(/\s+/).includes(`old-${t.nodeId}.img`);
      }
    }
    const fip = parseFloatingIp(out.get('fip'), loc.key);
    return {
      nodes: facts.nodes,
      installerVersion: facts.installerVersion,
      settings,
      ...(fip ? { floatingIp: fip } : {}),
      oldImages,
    };
  }

  /** The repin steps re-pin exactly their node once ssh-keyscan on the firstbox returned its key. */
  private withRepins(
    plan: PlannedRunbook,
    repins: UpgradePlan['repinSteps'],
    access: ZoneAccess,
    log: Logger,
  ): PlannedRunbook {
    return {
      hash: plan.hash,
      steps: plan.steps.map((s) => {
        const r = repins[s.id];
        if (!r) return s;
        return {
          ...s,
          verify: (out: string) => {
            const fp = keyscanFingerprint(out);
            if (!fp) return `ssh-keyscan on firstbox returned no host key for ${r.node} (${r.address})`;
            access.pool.repin(
              r.address,
              fp,
              `R5 rebuilt VM ${r.node}; key read through the trusted firstbox`,
            );
            log.info({ node: r.node, address: r.address, fingerprint: fp }, 'host key re-pinned');
            return undefined;
          },
        };
      }),
    };
  }

  private nodeStatuses(
    result: UpgradePlan,
    journal: Plan | undefined,
    previous: Status,
    observed: Observed,
    hostKeys: Record<string, string>,
    fresh: ReadonlySet<string>,
  ): UpgradeNodeStatus[] {
    const prevNodes = new Map((previous.nodes ?? []).map((n) => [n.name, n]));
    return result.order.map((n) => {
      const prev = prevNodes.get(n.name);
      const ids = result.nodeSteps[n.name] ?? [];
      const steps = ids
        .map((id) => journal?.steps?.find((s) => s.id === id))
        .filter((s): s is PlanStep => !!s);
      const allDone =
        steps.length > 0 && steps.every((s) => s.state === 'Succeeded' || s.state === 'Skipped');
      const failed = steps.find((s) => s.state === 'Failed');
      const startedStep = steps.find((s) => s.state !== 'Pending');
      const phase: UpgradeNodeStatus['phase'] = allDone
        ? 'Succeeded'
        : failed
          ? 'Failed'
          : !startedStep
            ? prev?.phase === 'RolledBack'
              ? 'RolledBack'
              : 'Pending'
            : phaseOfStep(steps.find((s) => s.state !== 'Succeeded')!.id);
      const repinned = latestRepin(journal, n.name);
      const gate = steps.find((s) => s.id === `healthGate-${n.name}`);
      const oldKey = prev?.oldHostKey ?? (fresh.has(n.name) ? hostKeys[n.name] : undefined);
      const newKey = repinned ?? prev?.newHostKey;
      return {
        name: n.name,
        address: n.address,
        phase,
        holdsVip: startedStep || allDone ? (prev?.holdsVip ?? n.holdsVip) : n.holdsVip,
        ...(startedStep?.startedAt
          ? { startedAt: startedStep.startedAt }
          : prev?.startedAt
            ? { startedAt: prev.startedAt }
            : {}),
        ...(allDone && gate?.finishedAt
          ? { finishedAt: gate.finishedAt }
          : allDone && prev?.finishedAt
            ? { finishedAt: prev.finishedAt }
            : {}),
        ...(oldKey ? { oldHostKey: oldKey } : {}),
        ...(newKey ? { newHostKey: newKey } : {}),
        rollbackAvailable: observed.oldImages[n.name] ?? false,
        ...(failed ? { message: lastLine(failed.outputTail) ?? `step ${failed.id} failed` } : {}),
      };
    });
  }

  private repinEvents(session: StatusSession, previous: Status, nodes: UpgradeNodeStatus[]): void {
    for (const n of nodes) {
      const before = previous.nodes?.find((p) => p.name === n.name)?.newHostKey;
      if (n.newHostKey && n.newHostKey !== before)
        this.deps.events.event(
          session.obj,
          'Normal',
          'HostKeyRepinned',
          `${n.name} (${n.address}) was rebuilt: host key ${n.oldHostKey ?? 'unknown'} → ${n.newHostKey}, read through the trusted firstbox and pinned for this node only`,
        );
    }
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
    const plan = this.withRepins(rb.plan, rb.repinSteps, access, ctx.log);
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
    this.repinEvents(session, previous, nodes);
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

/** The fingerprint the latest succeeded re-pin step of a node recorded in its output. */
function latestRepin(journal: Plan | undefined, node: string): string | undefined {
  const steps = (journal?.steps ?? []).filter(
    (s) =>
      (s.id === `repinHostKey-${node}` || s.id === `repinRolledBackKey-${node}`) && s.state === 'Succeeded',
  );
  steps.sort((a, b) => (a.finishedAt ?? '').localeCompare(b.finishedAt ?? ''));
  for (const s of steps.reverse()) {
    const fp = keyscanFingerprint(s.outputTail);
    if (fp) return fp;
  }
  return undefined;
}

function finishedAt(prev: UpgradeNodeStatus | undefined, steps: PlanStep[]): string {
  return steps.find((s) => s.id.startsWith('healthGate-'))?.finishedAt ?? prev?.finishedAt ?? '';
}

function lastLine(text: string | undefined): string | undefined {
  const lines = (text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.at(-1);
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
