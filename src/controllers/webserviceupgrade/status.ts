/**
 * How a WebserviceUpgrade reports its rollout (runbook R5): each node's phase from its journaled
 * steps, the upgrade's progress and current node (the printer columns), and the helpers that read
 * the journal by node.
 */
import type { Plan, PlanStep } from '../../api/common.js';
import type {
  UpgradeNodeStatus,
  UpgradePhase,
  WebserviceUpgradeStatus,
} from '../../api/webserviceupgrade.js';
import { isComplete } from '../../runbook/journal.js';
import { forNode } from '../../runbook/step.js';
import type { ActingStatus } from '../runner.js';
import { latestRepin } from './hostkeys.js';
import type { Observed } from './observe.js';
import { phaseOfStep, type UpgradePlan } from './plan.js';

export type Status = WebserviceUpgradeStatus & ActingStatus;

export function nodeStatuses(
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
    const steps = ids.map((id) => journal?.steps?.find((s) => s.id === id)).filter((s): s is PlanStep => !!s);
    const allDone = steps.length > 0 && steps.every((s) => s.state === 'Succeeded' || s.state === 'Skipped');
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
          : phaseOfStep(steps.find((s) => s.state !== 'Succeeded')!);
    const repinned = latestRepin(journal, n.name);
    const gate = steps.find((s) => s.id === forNode('healthGate', n.name).id);
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

/** Progress and the current node, for the printer columns; the phase before failures and windows. */
export function rolloutProgress(
  nodes: UpgradeNodeStatus[],
  journal: Plan | undefined,
): { phase: UpgradePhase; progress: string; currentNode: string | undefined; complete: boolean } {
  const doneCount = nodes.filter((n) => n.phase === 'Succeeded').length;
  const current = nodes.find(
    (n) => n.phase !== 'Succeeded' && n.phase !== 'Pending' && n.phase !== 'RolledBack',
  );
  const complete = isComplete(journal) && (journal?.steps?.length ?? 0) > 0;
  const phase: UpgradePhase = complete ? 'Succeeded' : current ? 'Progressing' : 'Pending';
  return {
    phase,
    progress: `${doneCount}/${nodes.length}`,
    currentNode: current?.name ?? (complete ? undefined : nodes.find((n) => n.phase === 'Pending')?.name),
    complete,
  };
}

export function finishedAt(prev: UpgradeNodeStatus | undefined, steps: PlanStep[]): string {
  return steps.find((s) => s.action === 'healthGate')?.finishedAt ?? prev?.finishedAt ?? '';
}

export function lastLine(text: string | undefined): string | undefined {
  const lines = (text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.at(-1);
}
