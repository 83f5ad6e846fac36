/**
 * Executes a plan one step at a time over SSH, journaling each step before and after it runs, so
 * that whatever happens to the operator the status says what ran. What each answer of a check or a
 * command means is decided in `outcome.ts`; what the journal says next in `journal.ts`; this file
 * performs them. docs/engine.md is the written contract.
 */
import type { Plan, PlanStep } from '../api/common.js';
import type { ExecResult, Executor, HostTarget, ShellCommand } from '../ssh/types.js';
import type { GateHold } from './gates.js';
import { releaseJob } from './jobguard.js';
import { outputTail, updateStep } from './journal.js';
import { classifyCheck, classifyCommand, type UnknownReason } from './outcome.js';
import type { PlannedRunbook, Step, StepHost } from './step.js';

/** What a step is fed on stdin; `secrets` are masked wherever they show in its output. */
export interface StepInput {
  text: string;
  secrets?: readonly string[];
}

export interface EngineContext {
  plan: PlannedRunbook;
  journal: Plan;
  executor: Executor;
  target(host: StepHost): HostTarget;
  /** Writes the journal to status; must have succeeded before a step's command is sent. */
  persist(journal: Plan): Promise<void>;
  /** Asked between steps (gates.ts): a hold stops the plan at the boundary, never mid-step. */
  hold?(next: PlanStep, journal: Plan): GateHold | undefined;
  signal: AbortSignal;
  /**
   * What the step is fed on stdin (passwords, file contents), resolved BEFORE the step is marked
   * Running: a throw keeps the step Pending and stops the plan as `blocked`.
   */
  stdinFor?(step: Step): Promise<StepInput | string | undefined>;
  /**
   * Asked before every step is started (not before checks): a reason to stop instead, for
   * example the zone lock is no longer ours. Errors count as a reason (fail closed).
   */
  beforeStep?(step: Step): Promise<string | undefined>;
  /** Called after each step finishes, for events and metrics. */
  onStepFinished?(step: PlanStep, durationMs: number): void;
  now?(): string;
}

export type EngineOutcome =
  | { kind: 'completed'; journal: Plan }
  | { kind: 'failed'; journal: Plan; step: PlanStep; message: string }
  | { kind: 'held'; journal: Plan; step: PlanStep; hold: GateHold }
  | { kind: 'inProgress'; journal: Plan; step: PlanStep; message: string }
  /**
   * The operator does not know the step's state. `retryCheck`: asking the check again later is
   * safe and may resolve it (a timeout, an unreachable firstbox); otherwise a human decides.
   */
  | {
      kind: 'interrupted';
      journal: Plan;
      step: PlanStep;
      reason: UnknownReason | 'StepInterrupted';
      message: string;
      retryCheck: boolean;
    }
  /** The step could not start and nothing ran: a Secret is missing, the zone is busy, the lock is gone. */
  | {
      kind: 'blocked';
      journal: Plan;
      step: PlanStep;
      reason: 'SecretUnavailable' | 'ZoneJobBusy' | 'ZoneLockLost';
      message: string;
    }
  | { kind: 'cancelled'; journal: Plan };

const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const CHECK_TIMEOUT_MS = 60_000;

const REMEDY = (id: string, hash: string) =>
  `verify on the host, then annotate ops.pitrix.io/retry-step=${hash}/${id} to run it again or ops.pitrix.io/skip-step=${hash}/${id} to record it as done`;

export async function executePlan(ctx: EngineContext): Promise<EngineOutcome> {
  const now = ctx.now ?? isoNow;
  let journal = ctx.journal;
  const byId = new Map(ctx.plan.steps.map((s) => [s.id, s]));
  const entryOf = (id: string) => journal.steps!.find((s) => s.id === id)!;
  const save = async (id: string, patch: Partial<PlanStep>) => {
    journal = updateStep(journal, id, patch);
    await ctx.persist(journal);
    return entryOf(id);
  };

  for (;;) {
    const entry = journal.steps?.find((s) => s.state !== 'Succeeded' && s.state !== 'Skipped');
    if (!entry) return { kind: 'completed', journal };
    if (ctx.signal.aborted) return { kind: 'cancelled', journal };
    const hold = ctx.hold?.(entry, journal);
    if (hold) return { kind: 'held', journal, step: entry, hold };
    const step = byId.get(entry.id);
    if (!step) throw new Error(`journal step ${entry.id} is not in the plan (hash ${ctx.plan.hash})`);
    const target = ctx.target(step.host);
    const wasRunning = entry.state === 'Running';

    // Check before act: also how a step found Running after a restart is resolved. A step a human
    // asked to retry (retry-step) runs without asking: they verified the host.
    if (entry.forceRun) {
      if (step.job) {
        const released = await ctx.executor
          .exec(target, releaseJob(step.job.dir), { timeoutMs: CHECK_TIMEOUT_MS })
          .catch(() => undefined);
        if (released?.exitCode !== 0)
          return {
            kind: 'interrupted',
            journal,
            step: entry,
            reason: 'CheckUnreachable',
            retryCheck: true,
            message: `step ${step.id} on ${entry.host}: could not set its earlier job aside for the requested retry; asked again with backoff`,
          };
      }
    } else if (step.check) {
      const verdict = await runCheck(ctx, target, step.check);
      if (ctx.signal.aborted) return { kind: 'cancelled', journal };
      if (verdict.kind === 'done') {
        await save(step.id, {
          state: 'Succeeded',
          finishedAt: now(),
          exitCode: 0,
          outputTail: wasRunning
            ? `verified done by its check after an interruption\n${verdict.detail}`
            : entry.outputTail || 'already done (its check passed); not run',
        });
        continue;
      }
      if (verdict.kind === 'inProgress') {
        const running = wasRunning ? entry : await save(step.id, { state: 'Running', startedAt: now() });
        return {
          kind: 'inProgress',
          journal,
          step: running,
          message: `step ${step.id} is still running on ${running.host}${verdict.detail ? `: ${lastLines(verdict.detail, 1)}` : ''}`,
        };
      }
      if (verdict.kind === 'unknown') {
        const retryCheck = verdict.reason !== 'JobLost';
        return {
          kind: 'interrupted',
          journal,
          step: entry,
          reason: verdict.reason,
          retryCheck,
          message:
            `step ${step.id} on ${entry.host}: the operator cannot tell whether it is done (${verdict.detail}); ` +
            (retryCheck
              ? 'nothing is run until its check answers; it is asked again with backoff'
              : REMEDY(step.id, ctx.plan.hash)),
        };
      }
      if (verdict.kind === 'lastRunFailed' && wasRunning) {
        // The job ended while nobody watched: record its failure as it happened.
        const done = await save(step.id, { state: 'Failed', finishedAt: now(), outputTail: verdict.detail });
        return {
          kind: 'failed',
          journal,
          step: done,
          message: `step ${step.id} on ${done.host} failed while the operator was away: ${lastLines(verdict.detail, 3)}`,
        };
      }
      // notDone, or a failed job we already know about: run it.
    } else if (wasRunning && !step.idempotent && !step.readOnly) {
      return {
        kind: 'interrupted',
        journal,
        step: entry,
        reason: 'StepInterrupted',
        retryCheck: false,
        message: `step ${entry.id} on ${entry.host} was running when the operator stopped and has no check to tell whether it finished; ${REMEDY(entry.id, ctx.plan.hash)}`,
      };
    }

    // Everything the step needs is resolved before it is marked Running.
    let input: StepInput | undefined;
    try {
      const raw = step.stdinContent ?? (await ctx.stdinFor?.(step));
      input = typeof raw === 'string' ? { text: raw } : raw;
    } catch (err) {
      return {
        kind: 'blocked',
        journal,
        step: entry,
        reason: 'SecretUnavailable',
        message: `step ${step.id} was not started: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    let stop: string | undefined;
    try {
      stop = await ctx.beforeStep?.(step);
    } catch (err) {
      stop = `could not verify the zone lock: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (stop)
      return {
        kind: 'blocked',
        journal,
        step: entry,
        reason: 'ZoneLockLost',
        message: `step ${step.id} was not started: ${stop}`,
      };

    await save(step.id, {
      state: 'Running',
      startedAt: now(),
      finishedAt: undefined,
      exitCode: undefined,
      forceRun: undefined,
      attempts: (entry.attempts ?? 0) + 1,
    });
    const started = Date.now();
    let result: ExecResult | undefined;
    let error: unknown;
    try {
      // No shutdown signal here: a step that started runs to its end (SIGTERM waits for it up to the
      // grace period); if the process is gone first, the step stays Running and its check decides.
      result = await ctx.executor.exec(target, step.command, {
        timeoutMs: step.timeoutMs,
        stdin: input?.text,
        secrets: input?.secrets?.filter((s) => s.length > 0),
      });
    } catch (err) {
      error = err;
    }
    const verdict = classifyCommand(result, error, step.acceptExitCodes ?? [0], !!step.job);

    if (verdict.kind === 'mayHaveRun') {
      const note = `outcome unknown: ${verdict.detail}`;
      if (step.check) {
        // Left Running: the next attempt asks the check (for a guarded job, its pidfile) first.
        const running = await save(step.id, { outputTail: note });
        return {
          kind: 'inProgress',
          journal,
          step: running,
          message: `step ${step.id} on ${running.host}: ${note}; its check decides next`,
        };
      }
      if (step.readOnly || step.idempotent) {
        const failed = await save(step.id, { state: 'Failed', finishedAt: now(), outputTail: note });
        return {
          kind: 'failed',
          journal,
          step: failed,
          message: `step ${step.id} on ${failed.host}: ${note}`,
        };
      }
      const running = await save(step.id, { outputTail: note });
      return {
        kind: 'interrupted',
        journal,
        step: running,
        reason: 'StepInterrupted',
        retryCheck: false,
        message: `step ${step.id} on ${running.host}: ${note}; ${REMEDY(step.id, ctx.plan.hash)}`,
      };
    }
    if (verdict.kind === 'notStarted' && verdict.zoneBusy) {
      const pending = await save(step.id, {
        state: 'Pending',
        startedAt: undefined,
        outputTail: verdict.detail,
      });
      return {
        kind: 'blocked',
        journal,
        step: pending,
        reason: 'ZoneJobBusy',
        message: `step ${step.id} was not started: ${verdict.detail}`,
      };
    }

    let failure: string | undefined;
    if (verdict.kind === 'succeeded') {
      const wrong = step.verify?.(result!.stdout);
      if (wrong) failure = `verification failed: ${wrong}`;
    } else failure = verdict.detail;
    const captured = !failure && result && step.capture ? step.capture(result.stdout) : undefined;
    const done = await save(step.id, {
      state: failure ? 'Failed' : 'Succeeded',
      finishedAt: now(),
      exitCode: result?.exitCode ?? undefined,
      outputTail: result ? outputTail(result.stdout, result.stderr) : failure,
      ...(captured ? { captured } : {}),
    });
    ctx.onStepFinished?.(done, Date.now() - started);
    if (failure) {
      const tail = result && done.outputTail ? `: ${lastLines(done.outputTail, 5)}` : '';
      return {
        kind: 'failed',
        journal,
        step: done,
        message: `step ${step.id} on ${done.host} ${failure}${tail}`,
      };
    }
  }
}

async function runCheck(ctx: EngineContext, target: HostTarget, cmd: ShellCommand) {
  try {
    return classifyCheck(
      await ctx.executor.exec(target, cmd, { timeoutMs: CHECK_TIMEOUT_MS, signal: ctx.signal }),
    );
  } catch (err) {
    return classifyCheck(undefined, err);
  }
}

function lastLines(text: string, n: number): string {
  return text.split('\n').slice(-n).join(' | ');
}
