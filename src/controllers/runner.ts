/**
 * What every acting controller does with a plan once it has computed one: publish it, wait for
 * approval (Manual), stop when paused, take the zone lock, execute it step by step with the journal
 * persisted in status, and turn the outcome into conditions, Events and the next requeue. The
 * decisions are the engine's and the journal's; this is the glue to the status subresource.
 */
import { APPROVE_ANNOTATION, type Plan } from '../api/common.js';
import { kindInfo, zoneKind } from '../api/kinds.js';
import { applyStepRequests, SKIP_STEP_ANNOTATION } from '../runbook/annotations.js';
import { type EngineOutcome, executePlan, type StepInput } from '../runbook/engine.js';
import { firstHold, type Gate, type GateHold, pauseGate } from '../runbook/gates.js';
import {
  continueInFlight,
  inFlight,
  isComplete,
  journalFor,
  progressOf,
  skipNotNeeded,
} from '../runbook/journal.js';
import type { PlannedRunbook, Step, StepHost } from '../runbook/step.js';
import type { ReconcileContext, Result } from '../runtime/controller.js';
import { isConflict } from '../runtime/kube.js';
import { backoffDelay } from '../runtime/queue.js';
import type { Executor, HostTarget } from '../ssh/types.js';
import { type ControllerDeps, nowIso, resourceType } from './deps.js';
import type { ActingStatus, StatusSession } from './status-session.js';
import {
  acquireZoneLock,
  type HolderState,
  lockHolderOf,
  releaseZoneLock,
  verifyZoneLock,
} from './zonelock.js';

const zoneType = resourceType(zoneKind);

export { RETRY_STEP_ANNOTATION, SKIP_STEP_ANNOTATION } from '../runbook/annotations.js';
export { type ActingStatus, StaleStatusError, StatusSession } from './status-session.js';

export interface RunInput {
  session: StatusSession;
  plan: PlannedRunbook;
  approval: 'Automatic' | 'Manual';
  /**
   * The kind's own gates (a maintenance window, a confirmation), asked after `spec.paused` before
   * the plan starts and again between steps (gates.ts).
   */
  gates?: readonly Gate[];
  executor: Executor;
  target(host: StepHost): HostTarget;
  /** The zone this plan needs exclusively (R4: scale-out and upgrades never overlap). */
  zoneLock?: { zoneName: string; operation: string };
  stdinFor?(step: Step): Promise<StepInput | string | undefined>;
  /** Message for Ready=True once the plan is complete (or empty). */
  readyMessage: string;
  /**
   * What the platform does not show yet, or undefined when it shows the desired state. Ready=True
   * needs both: nothing of the plan is left and the platform shows the result. A finished journal
   * whose result the platform does not show is Degraded.
   */
  converged?(): string | undefined;
  /**
   * Status fields the kind derives from the journal (R5's per-node phases and progress), written
   * with every journal write of the run, so a watcher sees each node finish when it does.
   */
  derived?(journal: Plan): Record<string, unknown>;
}

const failureCounts = new Map<string, number>();

/** Whether the holder recorded in a zone lock still needs the zone, judged on a fresh read. */
export function holderLookup(deps: ControllerDeps) {
  return async (
    holder: { kind: string; name: string; uid?: string },
    namespace: string,
  ): Promise<HolderState> => {
    const info = kindInfo(holder.kind);
    // A kind we do not know cannot be judged finished: it keeps the zone (fail closed).
    if (!info) return 'active';
    const obj = await deps.client.get(resourceType(info), namespace, holder.name);
    if (!obj || (holder.uid && obj.metadata.uid !== holder.uid) || obj.metadata.deletionTimestamp)
      return 'gone';
    const plan = (obj.status as ActingStatus | undefined)?.plan;
    return plan && !isComplete(plan) ? 'active' : 'finished';
  };
}

/** Removes annotations the operator acted on; a failure is logged, the journal already says what happened. */
async function consumeAnnotations(
  deps: ControllerDeps,
  session: StatusSession,
  keys: string[],
  ctx: ReconcileContext,
) {
  if (keys.length === 0) return;
  const { namespace, name } = session.obj.metadata;
  try {
    await deps.client.mergePatch(session.type, namespace, name, {
      metadata: { annotations: Object.fromEntries(keys.map((k) => [k, null])) },
    });
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, annotations: keys }, 'could not remove used annotations');
  }
}

/** What a run ended with: when to reconcile again, and the gate that holds the plan, if one does. */
export interface RunReport {
  result: Result | undefined;
  held?: GateHold;
}

type Held = { held: GateHold; result: Result | undefined };

export async function runPlan(
  deps: ControllerDeps,
  input: RunInput,
  ctx: ReconcileContext,
): Promise<RunReport> {
  const report = await run(deps, input, ctx);
  return report && 'held' in report ? report : { result: report };
}

/** `spec.paused` of the latest cached object, then the kind's gates. */
function gatesOf(deps: ControllerDeps, input: RunInput): Gate[] {
  const { namespace, name } = input.session.obj.metadata;
  const paused = () =>
    !!(
      deps.informerOf(input.session.type.kind)?.get(namespace, name)?.spec as { paused?: boolean } | undefined
    )?.paused;
  return [pauseGate(paused), ...(input.gates ?? [])];
}

async function run(
  deps: ControllerDeps,
  input: RunInput,
  ctx: ReconcileContext,
): Promise<Result | undefined | Held> {
  const { session } = input;
  const previous = session.status.plan;
  // A re-plan that holds only what the plan in flight still has to do carries that plan on.
  const continued = continueInFlight(input.plan, previous);
  const plan = continued?.plan ?? input.plan;
  const gates = gatesOf(deps, input);
  const obj = session.obj;
  const key = `${obj.metadata.uid}`;
  const me = lockHolderOf(obj);
  const zone = input.zoneLock
    ? { namespace: obj.metadata.namespace, name: input.zoneLock.zoneName }
    : undefined;
  let journal = journalFor(plan, previous, nowIso());
  if (continued?.notNeeded.length) {
    journal = skipNotNeeded(journal, continued.notNeeded, nowIso());
    ctx.log.info(
      { plan: plan.hash, skipped: continued.notNeeded },
      'plan in flight continued; steps no longer needed skipped',
    );
  }
  const rollout = (e: 'executing' | 'progress' | 'idle') =>
    deps.metrics.rollout(obj.kind, obj.metadata.namespace, obj.metadata.name, e);

  // A plan in flight replaced by another: never silently. Kinds keep their in-flight plan stable
  // (NodePool plans the nodes its unfinished journal is deploying; a re-plan holding only what is
  // left continues, above); when it still changes, the abandoned steps are named.
  if (previous && previous.hash !== plan.hash && inFlight(previous)) {
    const abandoned = (previous.steps ?? []).filter((s) => s.state !== 'Succeeded' && s.state !== 'Skipped');
    deps.events.event(
      obj,
      'Warning',
      'PlanSuperseded',
      `plan ${previous.hash} superseded by ${plan.hash} (${plan.steps.length} step(s)); unfinished steps abandoned: ${abandoned.map((s) => `${s.id} (${s.state})`).join(', ') || 'none'}`,
    );
  }

  // A human's word on a stuck step, bound to this plan's hash; acted on once, then removed.
  const requests = applyStepRequests(journal, obj.metadata.annotations, nowIso());
  journal = requests.journal;
  for (const r of requests.refused) deps.events.event(obj, 'Warning', 'StepRequestRefused', r.message);
  if (requests.refused.length > 0)
    session.condition('StepRequest', 'False', 'Refused', requests.refused.map((r) => r.message).join('; '));
  else if (session.status.conditions?.some((c) => c.type === 'StepRequest'))
    session.status = {
      ...session.status,
      conditions: session.status.conditions.filter((c) => c.type !== 'StepRequest'),
    };
  if (requests.applied.length > 0) {
    await session.save({ plan: journal });
    await consumeAnnotations(
      deps,
      session,
      requests.applied.map((a) => a.annotation),
      ctx,
    );
    for (const a of requests.applied)
      deps.events.event(
        obj,
        'Normal',
        a.annotation === SKIP_STEP_ANNOTATION ? 'StepSkipped' : 'StepRetryRequested',
        a.message,
      );
  }

  if (plan.steps.length === 0 || isComplete(journal)) {
    rollout('idle');
    if (zone) await releaseZoneLock(deps.client, zoneType, zone, me);
    const missing = input.converged?.();
    if (missing) {
      const finished = plan.steps.length > 0;
      session.condition('Ready', 'False', 'NotConverged', missing);
      session.condition(
        'Progressing',
        'False',
        'NotConverged',
        finished
          ? 'the plan finished but the platform does not show its result'
          : 'nothing can be planned yet',
      );
      if (finished)
        session.condition('Degraded', 'True', 'NotConverged', `plan ${plan.hash} finished, yet ${missing}`);
      await session.save({ plan: finished ? journal : session.status.plan, currentStep: undefined });
      return { requeueAfterMs: 60_000 };
    }
    session.condition(
      'Ready',
      'True',
      plan.steps.length === 0 ? 'UpToDate' : 'Completed',
      input.readyMessage,
    );
    session.condition('Progressing', 'False', 'Idle', 'nothing to do');
    session.condition('Degraded', 'False', 'AsExpected', '');
    const completedNow = plan.steps.length > 0 && !isComplete(session.status.plan);
    await session.save({
      plan: plan.steps.length === 0 ? session.status.plan : journal,
      currentStep: undefined,
    });
    if (completedNow)
      deps.events.event(
        obj,
        'Normal',
        'PlanCompleted',
        `plan ${plan.hash}: ${plan.steps.length} step(s) succeeded`,
      );
    failureCounts.delete(key);
    return undefined;
  }

  const next = journal.steps!.find((s) => s.state !== 'Succeeded' && s.state !== 'Skipped')!;
  const progress = progressOf(journal);
  session.condition('Ready', 'False', 'PlanPending', `${progress.done}/${progress.total} steps done`);
  const held = firstHold(gates, next, journal);
  if (held) {
    rollout('idle');
    session.condition('Progressing', 'False', held.reason, held.message);
    await session.save({ plan: journal, currentStep: next.id });
    return { result: held.retryAfterMs ? { requeueAfterMs: held.retryAfterMs } : undefined, held };
  }
  if (input.approval === 'Manual' && obj.metadata.annotations?.[APPROVE_ANNOTATION] !== plan.hash) {
    rollout('idle');
    session.condition(
      'Progressing',
      'False',
      'AwaitingApproval',
      `plan ${plan.hash} (${plan.steps.length} steps) awaits approval: kubectl annotate ${obj.kind.toLowerCase()} ${obj.metadata.name} ${APPROVE_ANNOTATION}=${plan.hash} --overwrite`,
    );
    const earlier = session.status.plan;
    const before = earlier?.hash;
    await session.save({ plan: journal, currentStep: next.id });
    const given = obj.metadata.annotations?.[APPROVE_ANNOTATION];
    // A finished plan's approval was used up, not invalidated: the next plan is simply new.
    if (before !== plan.hash && given && given === before && !isComplete(earlier))
      // An approval is for one plan: new steps, new inputs or another firstbox make another plan.
      deps.events.event(
        obj,
        'Warning',
        'ApprovalNoLongerApplies',
        `the approval of plan ${before} does not apply to plan ${plan.hash} (its steps, their inputs or the zone's firstbox access changed); review it and approve ${plan.hash} to run`,
      );
    else if (before !== plan.hash)
      deps.events.event(
        obj,
        'Normal',
        'AwaitingApproval',
        `plan ${plan.hash} published${before && isComplete(earlier) ? ` (plan ${before} finished)` : ''}; approve it to run`,
      );
    return undefined;
  }
  // The step-failure backoff lives in the journal (attempts, finishedAt), so neither a status
  // watch event nor a restart runs a failed step again before its time.
  const wait = failedStepWait(next, Date.now());
  if (wait > 0) return { requeueAfterMs: wait };
  if (zone && input.zoneLock) {
    // The pending journal is persisted before the lock is taken: a contender judging us on a
    // fresh read sees a plan that still needs the zone.
    await session.save({ plan: journal, currentStep: next.id });
    const lock = await acquireZoneLock(
      deps.client,
      zoneType,
      zone,
      me,
      input.zoneLock.operation,
      holderLookup(deps),
    ).catch((err) => {
      if (isConflict(err))
        return { acquired: false as const, reason: 'changed while taking the lock; retrying' };
      throw err;
    });
    if (!lock.acquired) {
      rollout('idle');
      session.condition('Progressing', 'False', 'WaitingForZoneLock', `zone ${zone.name} ${lock.reason}`);
      await session.save({ plan: journal, currentStep: next.id });
      return { requeueAfterMs: 5_000 };
    }
  }

  session.condition('Progressing', 'True', 'Executing', `running plan ${plan.hash}`);
  rollout('executing');
  await session.save({ plan: journal, currentStep: next.id });
  const outcome: EngineOutcome = await executePlan({
    plan,
    journal,
    executor: input.executor,
    target: input.target,
    signal: ctx.signal,
    hold: (step, j) => firstHold(gates, step, j),
    stdinFor: input.stdinFor,
    beforeStep: zone ? () => verifyZoneLock(deps.client, zoneType, zone, me) : undefined,
    persist: async (j) => {
      const step =
        j.steps?.find((s) => s.state === 'Running') ?? j.steps?.find((s) => s.state !== 'Succeeded');
      await session.save({ ...input.derived?.(j), plan: j, currentStep: step?.id });
    },
    onStepFinished: (step, ms) => {
      deps.metrics.stepFinished(obj.kind, step, step.state, ms / 1000);
      if (step.state === 'Succeeded') rollout('progress');
      const seconds = (ms / 1000).toFixed(1);
      if (step.state === 'Succeeded') {
        deps.events.event(
          obj,
          'Normal',
          'StepSucceeded',
          `step ${step.id} on ${step.host} succeeded in ${seconds}s`,
        );
      }
      ctx.log.info(
        { step: step.id, host: step.host, state: step.state, exitCode: step.exitCode, seconds },
        'step finished',
      );
    },
  });
  return finish(deps, { ...input, plan }, outcome, key, ctx);
}

async function finish(
  deps: ControllerDeps,
  input: RunInput,
  outcome: EngineOutcome,
  key: string,
  ctx: ReconcileContext,
): Promise<Result | undefined | Held> {
  const { session } = input;
  const obj = session.obj;
  const backoff = () => {
    const n = (failureCounts.get(key) ?? 0) + 1;
    failureCounts.set(key, n);
    return backoffDelay(n, { baseMs: 5_000, maxMs: 300_000 });
  };
  switch (outcome.kind) {
    case 'completed':
      // The next reconcile observes the platform afresh, sees nothing left to do and reports Ready.
      failureCounts.delete(key);
      deps.events.event(
        obj,
        'Normal',
        'PlanCompleted',
        `plan ${input.plan.hash}: ${input.plan.steps.length} step(s) succeeded`,
      );
      session.condition('Degraded', 'False', 'AsExpected', '');
      await session.save({ plan: outcome.journal, currentStep: undefined });
      return { requeueAfterMs: 1000 };
    case 'failed': {
      const delay = backoff();
      session.condition('Degraded', 'True', 'StepFailed', outcome.message);
      session.condition(
        'Progressing',
        'False',
        'StepFailed',
        `stopped at ${outcome.step.id}; retrying with backoff`,
      );
      await session.save({ plan: outcome.journal, currentStep: outcome.step.id });
      deps.events.event(obj, 'Warning', 'StepFailed', outcome.message);
      ctx.log.warn({ step: outcome.step.id, attempt: failureCounts.get(key) }, outcome.message);
      return { requeueAfterMs: delay };
    }
    case 'interrupted': {
      session.condition('Degraded', 'True', outcome.reason, outcome.message);
      session.condition(
        'Progressing',
        'False',
        outcome.reason,
        outcome.retryCheck ? 'nothing runs until the check answers' : 'waiting for a human decision',
      );
      await session.save({ plan: outcome.journal, currentStep: outcome.step.id });
      deps.events.event(obj, 'Warning', outcome.reason, outcome.message);
      ctx.log.warn({ step: outcome.step.id, reason: outcome.reason }, outcome.message);
      return outcome.retryCheck ? { requeueAfterMs: backoff() } : undefined;
    }
    case 'blocked': {
      const degraded = outcome.reason === 'SecretUnavailable';
      if (degraded) session.condition('Degraded', 'True', outcome.reason, outcome.message);
      session.condition(
        'Progressing',
        'False',
        outcome.reason === 'ZoneLockLost' ? 'WaitingForZoneLock' : outcome.reason,
        outcome.message,
      );
      await session.save({ plan: outcome.journal, currentStep: outcome.step.id });
      deps.events.event(obj, degraded ? 'Warning' : 'Normal', outcome.reason, outcome.message);
      return { requeueAfterMs: degraded ? backoff() : 10_000 };
    }
    case 'inProgress':
      session.condition('Progressing', 'True', 'StepInProgress', outcome.message);
      await session.save({ plan: outcome.journal, currentStep: outcome.step.id });
      return { requeueAfterMs: 3_000 };
    case 'held': {
      const { hold } = outcome;
      session.condition('Progressing', 'False', hold.reason, hold.message);
      await session.save({ plan: outcome.journal, currentStep: outcome.step.id });
      return { result: hold.retryAfterMs ? { requeueAfterMs: hold.retryAfterMs } : undefined, held: hold };
    }
    case 'cancelled':
      return undefined;
  }
}

/** How long a Failed step still waits before its next attempt (5 s doubling per attempt, at most 5 min). */
export function failedStepWait(
  step: { state: string; finishedAt?: string; attempts?: number },
  now: number,
): number {
  if (step.state !== 'Failed' || !step.finishedAt) return 0;
  const due =
    Date.parse(step.finishedAt) +
    backoffDelay(Math.max(1, step.attempts ?? 1), { baseMs: 5_000, maxMs: 300_000 });
  return Number.isNaN(due) ? 0 : Math.max(0, due - now);
}
