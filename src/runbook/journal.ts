/**
 * The journal is `status.plan`: the plan's steps with their states, written before and after each
 * step runs. These pure functions decide what the journal says next; the engine only performs.
 */
import type { Plan, PlanStep } from '../api/common.js';
import { hostLabel, type PlannedRunbook, type Step, stepDigest } from './step.js';

export const OUTPUT_TAIL_BYTES = 2048;

/** The last lines of output that fit in the status (a human reads the end of a log first). */
export function outputTail(stdout: string, stderr: string, max = OUTPUT_TAIL_BYTES): string {
  const text = [stdout.trimEnd(), stderr.trimEnd()].filter(Boolean).join('\n');
  if (text.length <= max) return text;
  const cut = text.slice(text.length - max);
  const nl = cut.indexOf('\n');
  return nl >= 0 && nl < 200 ? cut.slice(nl + 1) : cut;
}

/**
 * The journal for `plan` given the previous one. Same hash: the previous journal as is. A new
 * hash: every step Pending. A journal belongs to one plan: whether a step of a new plan is already
 * done is decided by that step's check against the platform, never by another plan's journal
 * (the same command text can mean other work once the files it reads have changed).
 */
export function journalFor(plan: PlannedRunbook, previous: Plan | undefined, now: string): Plan {
  if (previous && previous.hash === plan.hash && previous.steps?.length === plan.steps.length)
    return withGroups(previous, plan);
  return {
    hash: plan.hash,
    generatedAt: now,
    steps: plan.steps.map(
      (s): PlanStep => ({
        id: s.id,
        ...groupOf(s),
        description: s.description + (s.destructive ? ' [destructive]' : ''),
        host: hostLabel(s.host),
        command: s.command.script,
        digest: stepDigest(s, plan.binding),
        state: 'Pending',
      }),
    ),
  };
}

const groupOf = (s: { action?: string; node?: string }) => ({
  ...(s.action ? { action: s.action } : {}),
  ...(s.node ? { node: s.node } : {}),
});

/**
 * The plan in flight, carried on by a re-plan that holds nothing new. A kind that plans from what
 * it observes (TagServer, Component) re-plans after a restart without the steps that already took
 * effect; replacing the journal then would restart the plan under a new hash, and a Manual plan
 * would need a new approval for work that was approved. The plan in flight continues when the
 * re-plan holds every unfinished step exactly as journaled (same digest: host, command, check,
 * stdin, firstbox access) and no step the journal does not hold. Its steps are then the re-plan's
 * for what is left and, for a finished step the re-plan dropped, a record that never runs again.
 * Anything else (new work, a changed or dropped unfinished step) is a new plan (PlanSuperseded).
 */
export function continueInFlight(
  plan: PlannedRunbook,
  previous: Plan | undefined,
): PlannedRunbook | undefined {
  if (!previous?.steps || previous.hash === plan.hash || !inFlight(previous)) return undefined;
  const planned = new Map(plan.steps.map((s) => [s.id, s]));
  const journaled = new Map(previous.steps.map((e) => [e.id, e]));
  for (const s of plan.steps)
    if (
      journaled.get(s.id)?.digest === undefined ||
      journaled.get(s.id)!.digest !== stepDigest(s, plan.binding)
    )
      return undefined;
  const done = (e: PlanStep) => e.state === 'Succeeded' || e.state === 'Skipped';
  if (previous.steps.some((e) => !done(e) && !planned.has(e.id))) return undefined;
  const steps = previous.steps.map((e): Step => planned.get(e.id) ?? finishedRecord(e));
  return { steps, hash: previous.hash, ...(plan.binding === undefined ? {} : { binding: plan.binding }) };
}

/** A finished step kept in the continued plan only as its journal says it: it never runs again. */
function finishedRecord(e: PlanStep): Step {
  return {
    id: e.id,
    ...groupOf(e),
    description: e.description ?? e.id,
    host:
      e.host === undefined || e.host === 'firstbox'
        ? { kind: 'firstbox' }
        : { kind: 'node', address: e.host },
    command: { script: e.command ?? '', purpose: `finished step ${e.id} of plan in flight` },
    timeoutMs: 0,
    readOnly: true,
  };
}

/** A journal written before steps carried their group gets it from its own plan (same hash). */
function withGroups(journal: Plan, plan: PlannedRunbook): Plan {
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  if (!journal.steps?.some((e) => !e.node && byId.get(e.id)?.node)) return journal;
  return { ...journal, steps: journal.steps.map((e) => ({ ...e, ...groupOf(byId.get(e.id) ?? {}) })) };
}

/** A journal some of whose steps ran and that has not finished: a plan in flight. */
export function inFlight(journal: Plan | undefined): boolean {
  return !!journal?.steps && !isComplete(journal) && journal.steps.some((s) => s.state !== 'Pending');
}

/** A step found Running when no execution is under way: the operator stopped while it ran. */
export function interruptedStep(journal: Plan): PlanStep | undefined {
  return journal.steps?.find((s) => s.state === 'Running');
}

/** The next step to run: the first that has not succeeded or been skipped. */
export function nextStep(journal: Plan): PlanStep | undefined {
  return journal.steps?.find((s) => s.state !== 'Succeeded' && s.state !== 'Skipped');
}

export function isComplete(journal: Plan | undefined): boolean {
  return !!journal?.steps && journal.steps.every((s) => s.state === 'Succeeded' || s.state === 'Skipped');
}

export function progressOf(journal: Plan | undefined): { done: number; total: number } {
  const steps = journal?.steps ?? [];
  return {
    done: steps.filter((s) => s.state === 'Succeeded' || s.state === 'Skipped').length,
    total: steps.length,
  };
}

/** Returns a copy of the journal with one step changed. */
export function updateStep(journal: Plan, id: string, patch: Partial<PlanStep>): Plan {
  return { ...journal, steps: (journal.steps ?? []).map((s) => (s.id === id ? { ...s, ...patch } : s)) };
}
