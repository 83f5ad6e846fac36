/**
 * The journal is `status.plan`: the plan's steps with their states, written before and after each
 * step runs. These pure functions decide what the journal says next; the engine only performs.
 */
import type { Plan, PlanStep } from '../api/common.js';
import { hostLabel, type PlannedRunbook } from './step.js';

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
        state: 'Pending',
      }),
    ),
  };
}

const groupOf = (s: { action?: string; node?: string }) => ({
  ...(s.action ? { action: s.action } : {}),
  ...(s.node ? { node: s.node } : {}),
});

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
