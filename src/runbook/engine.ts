/**
 * Executes a plan one step at a time over SSH, journaling each step before and after it runs, so
 * that whatever happens to the operator the status says what ran. Decisions about what the journal
 * says live in `journal.ts`; this file performs them.
 */
import type { Plan, PlanStep } from '../api/common.js';
import { CommandMayHaveRunError, CommandTimeoutError, SshError } from '../ssh/errors.js';
import type { ExecResult, Executor, HostTarget, ShellCommand } from '../ssh/types.js';
import { nextStep, outputTail, updateStep } from './journal.js';
import { CHECK_DONE, CHECK_IN_PROGRESS, type PlannedRunbook, type Step, type StepHost } from './step.js';

export interface EngineContext {
  plan: PlannedRunbook;
  journal: Plan;
  executor: Executor;
  target(host: StepHost): HostTarget;
  /** Writes the journal to status; must have succeeded before a step's command is sent. */
  persist(journal: Plan): Promise<void>;
  /** Re-read between steps: `spec.paused` stops at a step boundary, never mid-step. */
  isPaused(): boolean;
  signal: AbortSignal;
  /** Values fed to a step's stdin (passwords); also masked from its output. */
  stdinFor?(step: Step): Promise<string | undefined>;
  /** Called after each step finishes, for events and metrics. */
  onStepFinished?(step: PlanStep, durationMs: number): void;
  now?(): string;
}

export type EngineOutcome =
  | { kind: 'completed'; journal: Plan }
  | { kind: 'failed'; journal: Plan; step: PlanStep; message: string }
  | { kind: 'paused'; journal: Plan }
  | { kind: 'inProgress'; journal: Plan; step: PlanStep }
  | { kind: 'interrupted'; journal: Plan; step: PlanStep; message: string }
  | { kind: 'cancelled'; journal: Plan };

const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export async function executePlan(ctx: EngineContext): Promise<EngineOutcome> {
  const now = ctx.now ?? isoNow;
  let journal = ctx.journal;
  const byId = new Map(ctx.plan.steps.map((s) => [s.id, s]));
  for (;;) {
    const entry = nextStep(journal);
    if (!entry) return { kind: 'completed', journal };
    if (ctx.signal.aborted) return { kind: 'cancelled', journal };
    if (ctx.isPaused()) return { kind: 'paused', journal };
    const step = byId.get(entry.id);
    if (!step) throw new Error(`journal step ${entry.id} is not in the plan (hash ${ctx.plan.hash})`);
    const target = ctx.target(step.host);

    // Check before act: also how a step found Running after a restart is resolved.
    if (step.check) {
      const check = await runQuietly(ctx, target, step.check, 60_000);
      if (check.exitCode === CHECK_DONE) {
        journal = updateStep(journal, step.id, {
          state: 'Succeeded',
          finishedAt: now(),
          exitCode: 0,
          outputTail:
            entry.state === 'Running'
              ? `verified done by its check after an interruption\n${outputTail(check.stdout, check.stderr, 1024)}`
              : (entry.outputTail ?? 'already done (its check passed); not run'),
        });
        await ctx.persist(journal);
        continue;
      }
      if (check.exitCode === CHECK_IN_PROGRESS) {
        if (entry.state !== 'Running') {
          journal = updateStep(journal, step.id, { state: 'Running', startedAt: entry.startedAt ?? now() });
          await ctx.persist(journal);
        }
        return { kind: 'inProgress', journal, step: { ...entry, state: 'Running' } };
      }
    } else if (entry.state === 'Running' && !step.idempotent) {
      return {
        kind: 'interrupted',
        journal,
        step: entry,
        message:
          `step ${entry.id} on ${entry.host} was running when the operator stopped and has no check to tell ` +
          `whether it finished; verify on the host, then set the annotation ops.pitrix.io/retry-step=${entry.id} ` +
          `to run it again or ops.pitrix.io/skip-step=${entry.id} to mark it done`,
      };
    }

    journal = updateStep(journal, step.id, {
      state: 'Running',
      startedAt: now(),
      finishedAt: undefined,
      exitCode: undefined,
      attempts: (entry.attempts ?? 0) + 1,
    });
    await ctx.persist(journal);
    const started = Date.now();
    const stdin = await ctx.stdinFor?.(step);
    let result: ExecResult | undefined;
    let failure: string | undefined;
    let mayHaveRun = false;
    try {
      // No shutdown signal here: a step that started runs to its end (SIGTERM waits for it up to the
      // grace period); if the process is gone first, the step stays Running and its check decides.
      result = await ctx.executor.exec(target, step.command, {
        timeoutMs: step.timeoutMs,
        stdin,
        // Each line fed on stdin (a user name, a password) is masked wherever it shows in the output.
        secrets: stdin ? stdin.split('\n').filter((l) => l.length >= 4) : undefined,
      });
    } catch (err) {
      failure = describeExecError(err);
      mayHaveRun = err instanceof CommandMayHaveRunError || err instanceof CommandTimeoutError;
    }
    if (mayHaveRun && !step.check && !step.idempotent) {
      // Without a check nobody can tell whether it completed: leave it Running for a human.
      journal = updateStep(journal, step.id, { outputTail: failure });
      await ctx.persist(journal);
      const entryNow = journal.steps!.find((s) => s.id === step.id)!;
      return {
        kind: 'interrupted',
        journal,
        step: entryNow,
        message: `step ${step.id} on ${entryNow.host}: ${failure}`,
      };
    }
    const accepted = step.acceptExitCodes ?? [0];
    if (result && result.exitCode !== null && accepted.includes(result.exitCode)) {
      const wrong = step.verify?.(result.stdout);
      if (wrong) failure = `verification failed: ${wrong}`;
    } else if (result) {
      failure =
        result.exitCode === null
          ? `ended by signal ${result.signal ?? 'unknown'}`
          : `exited ${result.exitCode}`;
    }
    const finished: Partial<PlanStep> = {
      state: failure ? 'Failed' : 'Succeeded',
      finishedAt: now(),
      exitCode: result?.exitCode ?? undefined,
      outputTail: result ? outputTail(result.stdout, result.stderr) : failure,
    };
    journal = updateStep(journal, step.id, finished);
    await ctx.persist(journal);
    const done = journal.steps!.find((s) => s.id === step.id)!;
    ctx.onStepFinished?.(done, Date.now() - started);
    if (failure) {
      const tail = done.outputTail ? `: ${lastLines(done.outputTail, 5)}` : '';
      return {
        kind: 'failed',
        journal,
        step: done,
        message: `step ${step.id} on ${done.host} ${failure}${tail}`,
      };
    }
  }
}

async function runQuietly(ctx: EngineContext, target: HostTarget, cmd: ShellCommand, timeoutMs: number) {
  return ctx.executor.exec(target, cmd, { timeoutMs, signal: ctx.signal });
}

function describeExecError(err: unknown): string {
  if (err instanceof CommandMayHaveRunError || err instanceof CommandTimeoutError) {
    return `${err.message} (the step's check decides on the next attempt whether it completed)`;
  }
  if (err instanceof SshError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

function lastLines(text: string, n: number): string {
  return text.split('\n').slice(-n).join(' | ');
}
