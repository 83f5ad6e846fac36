/**
 * The two conditions kstatus reads (sigs.k8s.io/cli-utils/pkg/kstatus, used by Flux's health
 * checks, `kubectl wait`-style tooling and Argo CD's generic logic): `Reconciling` and `Stalled`,
 * derived from the conditions our controllers already write (`Ready`, `Progressing`, `Degraded`).
 *
 * kstatus's rules for a custom resource (cli-utils v0.37.2, pkg/kstatus/status generic.go and
 * status.go): `metadata.deletionTimestamp` → Terminating; `status.observedGeneration` not equal to
 * `metadata.generation` → InProgress; then the FIRST condition in the list that is
 * `Reconciling=True` (→ InProgress) or `Stalled=True` (→ Failed) decides; else `Ready=True` →
 * Current, `Ready=False|Unknown` → InProgress; no such condition at all → Current. So:
 * - `Reconciling=True` while the operator will get on by itself or through the normal flow: a
 *   step runs, it waits for the zone lock, a maintenance window, an approval, a resume, a Zone
 *   becoming Ready, a transient SSH failure it retries.
 * - `Stalled=True` when it cannot get on without a human: a failed or interrupted step, a
 *   refused spec, a missing Secret, wrong credentials or host key, output it cannot read.
 * - both False once `Ready=True` for this generation: Current.
 * They are never both True (kstatus would take whichever comes first in the list).
 *
 * Fail closed: a reason this file does not know is Stalled, never Current, so a GitOps pipeline
 * does not move on over something we have not classified. A condition whose `observedGeneration`
 * is behind `generation` describes an older spec and is ignored.
 */
import { type Condition, type ConditionInput, setCondition } from './conditions.js';

/** `Progressing=False` reasons that wait for something expected to happen (Reconciling=True). */
export const WAITING_REASONS: ReadonlySet<string> = new Set([
  'WaitingForZoneLock', // another plan holds the zone lock; acquired when it finishes
  'ZoneJobBusy', // another guarded job runs on the zone's firstbox; the step starts after it
  'WaitingForWindow', // WebserviceUpgrade: the next node starts inside the maintenance window
  'AwaitingApproval', // Manual approval: the normal flow, a person approves the published plan
  'Paused', // spec.paused with steps left: waits for resume
]);

/** `Progressing=False` reasons that mean "nothing to do" (then `Ready` decides). */
export const IDLE_REASONS: ReadonlySet<string> = new Set(['Idle']);

/**
 * `Ready=False` / `Ready=Unknown` reasons the operator gets past by itself: a plan between two
 * saves, a Zone still converging, a migration running on the platform, SSH failures it retries
 * with backoff (a network blip must not fail a GitOps apply; one that lasts shows in the reason).
 */
export const TRANSIENT_READY_REASONS: ReadonlySet<string> = new Set([
  'PlanPending',
  'ZoneNotReady',
  'MigrationRunning',
  'Unreachable',
  'Timeout',
  'ConnectionDropped',
  'Cancelled',
  'ObserveFailed',
]);

export interface KstatusVerdict {
  reconciling: { reason: string; message: string } | undefined;
  stalled: { reason: string; message: string } | undefined;
}

/** Which of Reconciling / Stalled is True (at most one), from our conditions. */
export function kstatusVerdict(
  conditions: readonly Condition[] | undefined,
  generation: number | undefined,
): KstatusVerdict {
  const fresh = (type: string): Condition | undefined => {
    const c = conditions?.find((x) => x.type === type);
    if (!c) return undefined;
    if (generation !== undefined && c.observedGeneration !== undefined && c.observedGeneration < generation)
      return undefined;
    return c;
  };
  const reconciling = (c: Condition | undefined, reason = c?.reason ?? '', message = c?.message ?? '') => ({
    reconciling: { reason, message },
    stalled: undefined,
  });
  const stalled = (c: Condition) => ({
    reconciling: undefined,
    stalled: { reason: c.reason, message: c.message },
  });

  const progressing = fresh('Progressing');
  const degraded = fresh('Degraded');
  const ready = fresh('Ready');
  // A step runs (also the retry of one that failed): the operator is at work.
  if (progressing?.status === 'True') return reconciling(progressing);
  if (degraded?.status === 'True') return stalled(degraded);
  if (progressing?.status === 'False' && !IDLE_REASONS.has(progressing.reason)) {
    if (WAITING_REASONS.has(progressing.reason)) return reconciling(progressing);
    // StepFailed, StepInterrupted, MigrationNotVerified and every refusal ("nothing runs until
    // the spec is fixed") end here, as does any reason this file does not know.
    return stalled(progressing);
  }
  if (!ready) {
    const stale = conditions?.find((x) => x.type === 'Ready');
    return stale
      ? reconciling(
          undefined,
          'ObservedGenerationStale',
          `generation ${generation} not observed yet (Ready describes generation ${stale.observedGeneration})`,
        )
      : reconciling(undefined, 'NotObserved', 'the operator has not reported on this resource yet');
  }
  if (ready.status === 'True') return { reconciling: undefined, stalled: undefined };
  if (ready.status === 'Unknown' || TRANSIENT_READY_REASONS.has(ready.reason)) return reconciling(ready);
  // SecretNotFound, InvalidCredentials, AuthenticationFailed, HostKeyMismatch, InvalidSpec,
  // ZoneNotFound, UnexpectedOutput, RolledBack, HealthCheckFailed… and anything unknown.
  return stalled(ready);
}

/**
 * Returns `conditions` with `Reconciling` and `Stalled` set for `generation` (both always present,
 * True or False, with `observedGeneration`); the input is not modified. Transition times move only
 * when a status flips (see conditions.ts), so an unchanged verdict changes no byte of the status.
 */
export function kstatusConditions(
  conditions: readonly Condition[] | undefined,
  generation: number | undefined,
  now = new Date(),
): Condition[] {
  const v = kstatusVerdict(conditions, generation);
  const base = { ...(generation !== undefined ? { observedGeneration: generation } : {}) };
  const reconciling: ConditionInput = v.reconciling
    ? { type: 'Reconciling', status: 'True', ...v.reconciling, ...base }
    : {
        type: 'Reconciling',
        status: 'False',
        reason: v.stalled ? 'Stalled' : 'Reconciled',
        message: v.stalled ? 'stopped: see the Stalled condition' : '',
        ...base,
      };
  const stalled: ConditionInput = v.stalled
    ? { type: 'Stalled', status: 'True', ...v.stalled, ...base }
    : { type: 'Stalled', status: 'False', reason: 'AsExpected', message: '', ...base };
  return setCondition(setCondition(conditions, reconciling, now), stalled, now);
}
