/**
 * The journal is `status.plan`: the plan's steps with their states, written before and after each
 * step runs. These pure functions decide what the journal says next; the engine only performs.
 */
import type { Plan, PlanStep } from '../api/common.js';
import { HOUR } from './durations.js';
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
        ...(s.job && s.check ? { job: s.job.dir, check: s.check.script } : {}),
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
 * re-plan holds no step the journal does not hold, each exactly as journaled (same digest: host,
 * command, check, stdin, firstbox access), and every unfinished step, except a started guarded job
 * whose effect the re-plan already sees (an update.sh that installed its package and has not ended):
 * that one is asked its journaled check, as after any restart, before the plan goes on. A step not
 * started that the re-plan dropped (its effect is already on the platform) is recorded Skipped,
 * with a note: it runs neither way, and the plan keeps its hash. The steps are the re-plan's for
 * what is left, and for a finished or dropped step a record that never runs. Anything else is a new
 * plan (PlanSuperseded).
 */
export function continueInFlight(
  plan: PlannedRunbook,
  previous: Plan | undefined,
): { plan: PlannedRunbook; notNeeded: string[] } | undefined {
  if (!previous?.steps || previous.hash === plan.hash || !inFlight(previous)) return undefined;
  const planned = new Map(plan.steps.map((s) => [s.id, s]));
  const journaled = new Map(previous.steps.map((e) => [e.id, e]));
  for (const s of plan.steps) {
    const digest = journaled.get(s.id)?.digest;
    if (digest === undefined || digest !== stepDigest(s, plan.binding)) return undefined;
  }
  const steps: Step[] = [];
  const notNeeded: string[] = [];
  for (const e of previous.steps) {
    if (!planned.has(e.id) && e.state === 'Pending') notNeeded.push(e.id);
    const s =
      planned.get(e.id) ?? (finished(e) || e.state === 'Pending' ? finishedRecord(e) : journaledJob(e));
    if (!s) return undefined;
    steps.push(s);
  }
  const binding = plan.binding === undefined ? {} : { binding: plan.binding };
  return { plan: { steps, hash: previous.hash, ...binding }, notNeeded };
}

/** The journal of a continued plan: the steps it no longer needs recorded Skipped, with why. */
export function skipNotNeeded(journal: Plan, ids: readonly string[], now: string): Plan {
  let j = journal;
  for (const id of ids)
    j = updateStep(j, id, {
      state: 'Skipped',
      finishedAt: now,
      note: 'skipped: a re-plan of the plan in flight no longer holds it (the platform already shows its effect)',
    });
  return j;
}

const finished = (e: PlanStep) => e.state === 'Succeeded' || e.state === 'Skipped';

const fromJournal = (e: PlanStep) => ({
  id: e.id,
  ...groupOf(e),
  description: e.description ?? e.id,
  host:
    e.host === undefined || e.host === 'firstbox'
      ? ({ kind: 'firstbox' } as const)
      : ({ kind: 'node', address: e.host } as const),
});

/** A finished or no longer needed step, kept in the continued plan as journaled: it never runs. */
function finishedRecord(e: PlanStep): Step {
  return {
    ...fromJournal(e),
    command: { script: e.command ?? '', purpose: `finished step ${e.id} of the plan in flight` },
    timeoutMs: 0,
    readOnly: true,
  };
}

/** A started guarded job the re-plan dropped, as journaled: its check speaks first. */
function journaledJob(e: PlanStep): Step | undefined {
  if (e.state === 'Pending' || !e.job || !e.check || !e.command || e.forceRun) return undefined;
  return {
    ...fromJournal(e),
    command: { script: e.command, purpose: `${e.id} of the plan in flight` },
    check: { script: e.check, purpose: `has job ${e.id} finished?` },
    job: { dir: e.job },
    // The guard keeps the job running past a dropped session; the check is asked again after it.
    timeoutMs: 4 * HOUR,
  };
}

/** A journal written before steps carried their group gets it from its own plan (same hash). */
function withGroups(journal: Plan, plan: PlannedRunbook): Plan {
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  const lacking = (e: PlanStep) => {
    const s = byId.get(e.id);
    return (!e.action && !!s?.action) || (!e.node && !!s?.node);
  };
  if (!journal.steps?.some(lacking)) return journal;
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
