/**
 * WebserviceUpgrade (runbook R5): observe the zone's webservice nodes (installer node list with the
 * VIP, their settings, the floating IP, the kept images), pin each node's host key learned through
 * the firstbox, compute the plan with `planUpgrade` (or `planRollback` when asked) and hand it to the
 * runner, which holds the zone lock for the whole rollout. This file adds what R5 needs around the
 * runner: the maintenance window at node boundaries, the re-pin of exactly the rebuilt node, the
 * health gate's condition, and the per-node status. What the reconciler observes is in observe.ts,
 * the re-pin in hostkeys.ts, and the status it reports in status.ts.
 */

import type { Plan, PlanStep } from '../../api/common.js';
import { webserviceUpgradeKind, zoneKind } from '../../api/kinds.js';
import {
  parseWebserviceUpgrade,
  type UpgradeNodeStatus,
  type UpgradePhase,
  type WebserviceUpgrade,
} from '../../api/webserviceupgrade.js';
import { isComplete } from '../../runbook/journal.js';
import { forNode } from '../../runbook/step.js';
import { type Condition, findCondition } from '../../runtime/conditions.js';
import type { Result } from '../../runtime/controller.js';
import type { ActingKind } from '../acting.js';
import { nowIso, resourceType } from '../deps.js';
import { classifyAccessError } from '../errors.js';
import type { ZoneAccess } from '../platform.js';
import type { RunReport } from '../runner.js';
import { type Decision, type Reconciling, type Refusal, type RunbookHooks, zoneTarget } from '../template.js';
import { bindToFirstbox } from '../zone/access.js';
import { lockHolderOf, releaseFinishedLock } from '../zonelock.js';
import { ADDRESS_RESTORED_ANNOTATION, addressGate, confirmedNodes } from './address.js';
import { verifySupervisor } from './checks.js';
import { keysGate, windowGate } from './gates.js';
import { latestRepin, repinEvents, withRepins } from './hostkeys.js';
import { KEYS_REFRESHED_ANNOTATION } from './keys.js';
import { type Observed, observeUpgrade } from './observe.js';
import { isNodeStep, planUpgrade, targetNodes, type UpgradePlan } from './plan.js';
import { planRollback, ROLLBACK_ANNOTATION } from './rollback.js';
import { finishedAt, lastLine, nodeStatuses, rolloutProgress, type Status } from './status.js';
import { withObservedVip } from './vip.js';

export const WEBSERVICEUPGRADE_FINALIZER = 'ops.pitrix.io/webserviceupgrade';
const upgradeType = resourceType(webserviceUpgradeKind);
const zoneType = resourceType(zoneKind);

interface Observation extends Observed {
  access: ZoneAccess;
  startedAt: string;
  backupSuffix: string;
}

const ACTING: ActingKind<WebserviceUpgrade> = {
  type: upgradeType,
  finalizer: WEBSERVICEUPGRADE_FINALIZER,
  informer: (d) => d.informers.webserviceUpgrade,
  parse: parseWebserviceUpgrade,
};

/** R5's hooks: a rollout node by node, or the rollback of one node when asked. */
export const webserviceUpgradeHooks: RunbookHooks<WebserviceUpgrade, Status, Observation> = {
  acting: ACTING,
  zoneOf: (wsu) => wsu.spec.zoneRef.name,

  async observe({ deps, previous, resource: wsu, zone, ctx }) {
    const startedAt = previous.startedAt ?? nowIso();
    const backupSuffix = startedAt.slice(0, 10).replaceAll('-', '');
    const access = await deps.platform.forZone(zone!);
    const observed = await observeUpgrade(access, wsu, zone!, backupSuffix, ctx);
    return { ...observed, access, startedAt, backupSuffix };
  },

  async decide(r, observed) {
    const { obj, previous, session, resource: wsu } = r;
    const zone = r.zone!;
    const { access, startedAt, backupSuffix } = observed;
    const journal = previous.plan;
    const prevNodes = new Map((previous.nodes ?? []).map((n) => [n.name, n]));
    const stepsOf = (node: string) => (journal?.steps ?? []).filter((s) => s.node === node);
    const { targets } = targetNodes(wsu.spec, zone.spec.zoneId, observed.nodes);
    const { done, started } = rolloutState(targets, prevNodes, stepsOf);

    let hostKeys: Record<string, string>;
    try {
      hostKeys = await knownHostKeys(access, targets, journal, prevNodes, done, started);
    } catch (err) {
      const failure = classifyAccessError(err, 'webservice node host keys');
      session.condition('Ready', 'False', failure.reason, failure.message);
      await session.save();
      return { handled: { requeueAfterMs: 30_000 } };
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
      // The run that finished is not run again, so the runner never sees it end: the zone is freed here.
      await releaseFinishedLock(r.deps.client, zoneType, zone, lockHolderOf(obj));
      await session.save({
        nodes: (previous.nodes ?? []).map((n) => ({
          ...n,
          rollbackAvailable: observed.oldImages[n.name] ?? false,
        })),
      });
      return { handled: undefined };
    }
    if (rollbackNode) return rollback(r, observed, rollbackNode);

    const recordedVip = Object.fromEntries(
      [...prevNodes.values()].filter((n) => n.holdsVip !== undefined).map((n) => [n.name, n.holdsVip!]),
    );
    // The VIP holder as the platform shows it; not known before the next node starts: nothing starts.
    const pending = targets.some((t) => !done.includes(t.nodeId) && !started.includes(t.nodeId));
    const vip = withObservedVip(observed.nodes, observed.vip, pending && started.length === 0);
    if (vip.violation) return { refuse: [vip.violation], retryAfterMs: 15_000 };
    const result = planUpgrade({
      name: wsu.metadata.name,
      spec: wsu.spec,
      zone: {
        zoneId: zone.spec.zoneId,
        global: zone.spec.global,
        installerVersion: observed.installerVersion,
      },
      platformNodes: vip.nodes,
      settings: observed.settings,
      ...(observed.floatingIp ? { floatingIp: observed.floatingIp } : {}),
      backupSuffix,
      startedAt,
      done,
      started,
      recordedVip,
    });
    if (result.violations.length > 0) return { refuse: result.violations };

    // After a rollback the journal was replaced: what status says finished is not done again.
    if (journal && journal.hash !== bindToFirstbox(result.plan, zone).hash) {
      const synthetic = finishedEarlier(result, journal, done, started);
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
    const firstSteps = new Set(Object.values(result.nodeSteps).map((ids) => ids[0]!));
    const annotation = (key: string) =>
      r.deps.informers.webserviceUpgrade.get(r.req.namespace, r.req.name)?.metadata.annotations?.[key];
    const keysConfirmed = () => annotation(KEYS_REFRESHED_ANNOTATION) === 'true';
    const addressesConfirmed = () => confirmedNodes(annotation(ADDRESS_RESTORED_ANNOTATION));
    return {
      run: {
        plan: withRepins(result.plan, result.repinSteps),
        approval: wsu.spec.approval,
        // The keys and the window hold only before a node's first step (a node never stops
        // halfway); the address switch-back is the one hold inside a node, by necessity (address.ts).
        gates: [
          keysGate(firstSteps, keysConfirmed, wsu.metadata.name, zone.spec.global),
          windowGate(firstSteps, wsu.spec.window),
          addressGate(new Map(Object.entries(result.lentAddresses)), addressesConfirmed, wsu.metadata.name),
        ],
        executor: access.pool,
        target: zoneTarget(access, 22),
        zoneLock: { zoneName: zone.metadata.name, operation: 'Upgrade' },
        readyMessage: `${targets.length} webservice node(s) on ${wsu.spec.target.osName} ${wsu.spec.target.osVersion}`,
        // Each node's phase and the progress move with the journal, not only when the run returns.
        derived: (j) => {
          const nodes = nodeStatuses(result, j, { ...previous, nodes: before }, observed, hostKeys, fresh);
          const p = rolloutProgress(nodes, j);
          return { nodes, phase: p.phase, progress: p.progress, currentNode: p.currentNode };
        },
      },
      report: (run) => reportRollout(r, result, observed, hostKeys, fresh, before, run),
    };
  },
};

/** Which targets finished (in the order they finished) and which started, from status and journal. */
function rolloutState(
  targets: ReturnType<typeof targetNodes>['targets'],
  prevNodes: Map<string, UpgradeNodeStatus>,
  stepsOf: (node: string) => PlanStep[],
): { done: string[]; started: string[] } {
  // Only the node's own rollout steps say it started: its prep backup does not.
  const rolloutSteps = (node: string) => stepsOf(node).filter(isNodeStep);
  const done: string[] = [];
  const started: string[] = [];
  for (const t of targets) {
    const prev = prevNodes.get(t.nodeId);
    const mine = rolloutSteps(t.nodeId);
    const gate = mine.find((s) => s.id === forNode('healthGate', t.nodeId).id);
    if (prev?.phase === 'Succeeded' || gate?.state === 'Succeeded') done.push(t.nodeId);
    else if (prev?.phase !== 'RolledBack' && mine.some((s) => s.state !== 'Pending')) started.push(t.nodeId);
  }
  done.sort((a, b) =>
    finishedAt(prevNodes.get(a), stepsOf(a)).localeCompare(finishedAt(prevNodes.get(b), stepsOf(b))),
  );
  return { done, started };
}

/**
 * Every target's host key (for status and events; the trust store is the firstbox's known_hosts,
 * which the relayed node commands check): the re-pinned one when the journal or status has it, the
 * one seen before the rebuild otherwise, or read now from the firstbox.
 */
async function knownHostKeys(
  access: ZoneAccess,
  targets: ReturnType<typeof targetNodes>['targets'],
  journal: Plan | undefined,
  prevNodes: Map<string, UpgradeNodeStatus>,
  done: string[],
  started: string[],
): Promise<Record<string, string>> {
  const hostKeys: Record<string, string> = {};
  for (const t of targets) {
    const pinned =
      latestRepin(journal, t.nodeId) ??
      prevNodes.get(t.nodeId)?.newHostKey ??
      prevNodes.get(t.nodeId)?.oldHostKey;
    if (!pinned && (done.includes(t.nodeId) || started.includes(t.nodeId))) continue;
    const seen = pinned ?? (await access.learnNodeHostKey(t.mgmtIp, 22));
    if (seen) hostKeys[t.nodeId] = seen;
  }
  return hostKeys;
}

/** Steps of the new plan that status says finished before a rollback replaced the journal. */
function finishedEarlier(result: UpgradePlan, journal: Plan, done: string[], started: string[]): PlanStep[] {
  const anyStarted = done.length > 0 || started.length > 0;
  return result.plan.steps
    .filter((s) => {
      const node = s.node;
      const isPrep = result.prepSteps.includes(s.id);
      return (isPrep && anyStarted) || (!isPrep && node !== undefined && done.includes(node));
    })
    .filter((s) => !journal.steps?.some((j) => j.id === s.id && j.state === 'Succeeded'))
    .map((s) => ({
      id: s.id,
      ...(s.action ? { action: s.action } : {}),
      ...(s.node ? { node: s.node } : {}),
      command: s.command.script,
      state: 'Succeeded' as const,
      outputTail: 'finished earlier (status.nodes)',
    }));
}

/** Per-node status, phase and progress from the journal the run left; the failed gate's verdict. */
async function reportRollout(
  r: Reconciling<WebserviceUpgrade, Status>,
  result: UpgradePlan,
  observed: Observation,
  hostKeys: Record<string, string>,
  fresh: Set<string>,
  before: UpgradeNodeStatus[],
  run: RunReport,
): Promise<Result | undefined> {
  const { session, previous } = r;
  const nodes = nodeStatuses(
    result,
    session.status.plan,
    { ...previous, nodes: before },
    observed,
    hostKeys,
    fresh,
  );
  const progress = rolloutProgress(nodes, session.status.plan);
  let phase: UpgradePhase = run.held?.reason === 'WaitingForWindow' ? 'WaitingForWindow' : progress.phase;
  const degraded = findCondition(session.status.conditions as Condition[] | undefined, 'Degraded');
  const failedStep = session.status.plan?.steps?.find((s) => s.state === 'Failed');
  if (degraded?.status === 'True' && failedStep) {
    phase = 'Failed';
    const node = failedStep.node;
    const kind = failedStep.action ?? '';
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
  await session.save({
    nodes,
    phase,
    progress: progress.progress,
    currentNode: progress.currentNode,
    startedAt: observed.startedAt,
  });
  repinEvents(r.deps.events, session, previous, nodes);
  return run.result ?? (progress.complete ? { requeueAfterMs: 10 * 60_000 } : undefined);
}

/** The `ops.pitrix.io/rollback` annotation: one node back to its old image (R5 "Rollback"). */
async function rollback(
  r: Reconciling<WebserviceUpgrade, Status>,
  observed: Observation,
  node: string,
): Promise<Decision> {
  const { previous, resource: wsu } = r;
  const zone = r.zone!;
  const { targets } = targetNodes(wsu.spec, zone.spec.zoneId, observed.nodes);
  const target = targets.find((t) => t.nodeId === node);
  const original = observed.settings[node];
  const inJournal = previous.plan?.steps?.some((s) => s.id === forNode('rollbackStop', node).id);
  const refusal = (reason: string, message: string): Refusal => ({ refuse: [{ reason, message }] });
  if (!target)
    return refusal('RollbackUnknownNode', `${ROLLBACK_ANNOTATION}: ${node} is not a node of this upgrade`);
  if (!inJournal && !observed.oldImages[node])
    return refusal(
      'RollbackUnavailable',
      `${ROLLBACK_ANNOTATION}: old-${node}.img is not on ${original?.physicalHost ?? 'its physical host'}; nothing to roll back to (remove the annotation)`,
    );
  if (!original?.physicalHost)
    return refusal('SettingsMissing', `${node}: no settings backup to restore; cannot roll back`);
  let rb: ReturnType<typeof planRollback>;
  try {
    rb = planRollback({
      node,
      address: target.mgmtIp,
      original,
      backupSuffix: observed.backupSuffix,
      installerVersion: observed.installerVersion,
      zoneId: zone.spec.zoneId,
      rollout: `${wsu.metadata.name}@${observed.startedAt}`,
    });
  } catch (err) {
    return refusal('InvalidSpec', (err as Error).message);
  }
  return {
    run: {
      plan: withRepins(rb.plan, rb.repinSteps),
      approval: wsu.spec.approval,
      executor: observed.access.pool,
      target: zoneTarget(observed.access, 22),
      zoneLock: { zoneName: zone.metadata.name, operation: 'Upgrade' },
      readyMessage: `${node} rolled back to its old image`,
    },
    report: (run) => reportRollback(r, observed, node, run),
  };
}

async function reportRollback(
  r: Reconciling<WebserviceUpgrade, Status>,
  observed: Observation,
  node: string,
  run: RunReport,
): Promise<Result | undefined> {
  const { session, previous } = r;
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
    startedAt: observed.startedAt,
    progress: `${nodes.filter((n) => n.phase === 'Succeeded').length}/${nodes.length}`,
  });
  if (complete && previous.nodes?.find((n) => n.name === node)?.phase !== 'RolledBack')
    r.deps.events.event(
      session.obj,
      'Normal',
      'RolledBack',
      `${node} restored from old-${node}.img and relaunched`,
    );
  repinEvents(r.deps.events, session, previous, nodes);
  return run.result ?? (complete ? undefined : { requeueAfterMs: 5_000 });
}
