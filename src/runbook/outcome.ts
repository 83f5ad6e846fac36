/**
 * The contract between the engine and the platform: what every answer of a check or a command
 * means, in one place (docs/engine.md has the same table for humans). The rule: only a check that
 * answers "not done" in a form the operator recognises lets a step run; an answer the operator
 * does not recognise, or no answer, stops the plan and says what is unknown.
 */
import { CommandMayHaveRunError, CommandTimeoutError, SshError } from '../ssh/errors.js';
import type { ExecResult } from '../ssh/types.js';
import { GuardCheckExit, GuardExit } from './jobguard.js';
import { CHECK_DONE, CHECK_IN_PROGRESS, CHECK_NOT_DONE } from './step.js';

/** Why the operator does not know a step's state; a condition reason, CamelCase. */
export type UnknownReason =
  | 'CheckCancelled'
  | 'CheckTimedOut'
  | 'CheckUnreachable'
  | 'CheckUnrecognised'
  | 'JobLost';

export type CheckVerdict =
  | { kind: 'done'; detail: string }
  | { kind: 'notDone' }
  | { kind: 'inProgress'; detail: string }
  /** A guarded job ran to its end and failed (its log tail in detail). */
  | { kind: 'lastRunFailed'; detail: string }
  | { kind: 'unknown'; reason: UnknownReason; detail: string };

export type CommandVerdict =
  | { kind: 'succeeded' }
  /** The command ended and said it failed: nothing is unknown. */
  | { kind: 'failed'; detail: string }
  /** Nothing ran (connection or auth failed before the command was sent, or the zone's job lock is held). */
  | { kind: 'notStarted'; detail: string; zoneBusy?: boolean }
  /** It may have run, partly or fully, and may still be running: only a check can tell. */
  | { kind: 'mayHaveRun'; detail: string };

const text = (r: ExecResult) => [r.stdout.trimEnd(), r.stderr.trimEnd()].filter(Boolean).join('\n');
const last = (s: string, n = 400) => (s.length > n ? s.slice(s.length - n) : s);

/** Classifies a check's answer. `err` is what exec threw, if it threw. */
export function classifyCheck(result: ExecResult | undefined, err?: unknown): CheckVerdict {
  if (err !== undefined || !result) {
    if (err instanceof CommandTimeoutError)
      return { kind: 'unknown', reason: 'CheckTimedOut', detail: err.message };
    if (err instanceof CommandMayHaveRunError)
      return { kind: 'unknown', reason: 'CheckUnreachable', detail: err.message };
    if (err instanceof SshError && err.reason === 'cancelled')
      return { kind: 'unknown', reason: 'CheckCancelled', detail: err.message };
    if (err instanceof SshError) return { kind: 'unknown', reason: 'CheckUnreachable', detail: err.message };
    return {
      kind: 'unknown',
      reason: 'CheckUnreachable',
      detail: err instanceof Error ? err.message : String(err ?? 'no result'),
    };
  }
  if (result.cancelled)
    return {
      kind: 'unknown',
      reason: 'CheckCancelled',
      detail: 'the check was cancelled before it answered',
    };
  switch (result.exitCode) {
    case CHECK_DONE:
      return { kind: 'done', detail: last(text(result), 1024) };
    case CHECK_NOT_DONE:
      return { kind: 'notDone' };
    case CHECK_IN_PROGRESS:
      return { kind: 'inProgress', detail: last(text(result)) };
    case GuardCheckExit.lastRunFailed:
      return { kind: 'lastRunFailed', detail: last(text(result), 1500) };
    case GuardCheckExit.lost:
      return { kind: 'unknown', reason: 'JobLost', detail: last(text(result)) };
    case null:
      return {
        kind: 'unknown',
        reason: 'CheckUnrecognised',
        detail: `the check ended by signal ${result.signal ?? 'unknown'} without an exit code`,
      };
    default:
      return {
        kind: 'unknown',
        reason: 'CheckUnrecognised',
        detail: `the check answered exit ${result.exitCode}, which means neither done (0), not done (1) nor running (3)${text(result) ? `: ${last(text(result), 300)}` : ''}`,
      };
  }
}

/** Classifies a command's end. `accepted` are the exit codes that count as success. */
export function classifyCommand(
  result: ExecResult | undefined,
  err: unknown,
  accepted: readonly number[],
  guarded: boolean,
): CommandVerdict {
  if (err !== undefined || !result) {
    if (err instanceof CommandMayHaveRunError || err instanceof CommandTimeoutError)
      return { kind: 'mayHaveRun', detail: err.message };
    if (err instanceof SshError) return { kind: 'notStarted', detail: err.message };
    // Anything else (a bug, an unexpected rejection) gives no proof that nothing was sent.
    return { kind: 'mayHaveRun', detail: err instanceof Error ? err.message : String(err) };
  }
  if (result.cancelled) return { kind: 'mayHaveRun', detail: 'the command was cancelled after it was sent' };
  if (result.exitCode === null)
    return {
      kind: 'mayHaveRun',
      detail: `the command ended by signal ${result.signal ?? 'unknown'} without an exit code`,
    };
  if (guarded) {
    if (result.exitCode === GuardExit.zoneBusy)
      return { kind: 'notStarted', zoneBusy: true, detail: last(text(result)) };
    if (result.exitCode === GuardExit.alreadyStarted || result.exitCode === GuardExit.lost)
      return { kind: 'mayHaveRun', detail: last(text(result)) };
  }
  if (accepted.includes(result.exitCode)) return { kind: 'succeeded' };
  return { kind: 'failed', detail: `exited ${result.exitCode}` };
}
