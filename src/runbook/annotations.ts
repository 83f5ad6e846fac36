/**
 * A human's word on one step of one plan: `ops.pitrix.io/retry-step=HASH/STEP_ID` (run it again,
 * without asking its check) and `ops.pitrix.io/skip-step=HASH/STEP_ID` (record it as done). Each
 * names the plan hash it was given for, acts once, and is removed by the operator after use, so a
 * leftover value can never pre-authorise anything in a later plan whose step ids repeat.
 */
import type { Plan, PlanStep } from '../api/common.js';
import { updateStep } from './journal.js';

export const RETRY_STEP_ANNOTATION = 'ops.pitrix.io/retry-step';
export const SKIP_STEP_ANNOTATION = 'ops.pitrix.io/skip-step';

export interface StepRequestResult {
  journal: Plan;
  /** Annotations acted on, to be removed, each with what was done (for an Event). */
  applied: Array<{ annotation: string; step: string; message: string }>;
  /** Annotations refused, with why and the fix; left in place for the human to correct. */
  refused: Array<{ annotation: string; value: string; message: string }>;
}

const STUCK: ReadonlySet<PlanStep['state']> = new Set(['Running', 'Failed', 'Pending']);

/** Applies the retry/skip annotations to the journal; pure. */
export function applyStepRequests(
  journal: Plan,
  annotations: Readonly<Record<string, string>> | undefined,
  now: string,
): StepRequestResult {
  const out: StepRequestResult = { journal, applied: [], refused: [] };
  for (const annotation of [RETRY_STEP_ANNOTATION, SKIP_STEP_ANNOTATION]) {
    const value = annotations?.[annotation];
    if (value === undefined) continue;
    const m = /^([0-9a-f]{8,64})\/([A-Za-z0-9_.-]+)$/.exec(value.trim());
    if (!m) {
      out.refused.push({
        annotation,
        value,
        message: `${annotation}=${JSON.stringify(value)} is not HASH/STEP_ID; set it to ${journal.hash}/STEP_ID (the hash of status.plan)`,
      });
      continue;
    }
    const [, hash, id] = m as unknown as [string, string, string];
    if (hash !== journal.hash) {
      out.refused.push({
        annotation,
        value,
        message: `${annotation} names plan ${hash}, but the current plan is ${journal.hash}; nothing was done. Remove it, or check step ${id} of plan ${journal.hash} and set ${journal.hash}/${id}`,
      });
      continue;
    }
    const entry = out.journal.steps?.find((s) => s.id === id);
    if (!entry || !STUCK.has(entry.state)) {
      out.refused.push({
        annotation,
        value,
        message: entry
          ? `${annotation}: step ${id} of plan ${hash} is ${entry.state}; only a Pending, Running or Failed step can be retried or skipped. Remove the annotation`
          : `${annotation}: plan ${hash} has no step ${id}; remove the annotation`,
      });
      continue;
    }
    if (annotation === SKIP_STEP_ANNOTATION) {
      out.journal = updateStep(out.journal, id, {
        state: 'Skipped',
        finishedAt: now,
        forceRun: undefined,
        note: `skipped by annotation ${annotation}=${value} at ${now} (was ${entry.state})`,
      });
      out.applied.push({
        annotation,
        step: id,
        message: `step ${id} of plan ${hash} recorded as Skipped (done by a human) as requested by ${annotation}`,
      });
    } else {
      out.journal = updateStep(out.journal, id, {
        state: 'Pending',
        forceRun: true,
        note: `retry requested by annotation ${annotation}=${value} at ${now} (was ${entry.state})`,
      });
      out.applied.push({
        annotation,
        step: id,
        message: `step ${id} of plan ${hash} will run again, without asking its check, as requested by ${annotation}`,
      });
    }
  }
  return out;
}
