/**
 * `plan` without acting: a kind's own hooks (observe, decide) run on a resource from a manifest or
 * the cluster, through the same template as the controller, but with a status session that writes
 * nothing and no finalizer, no zone lock, no engine. What the controller would run is what this
 * prints; observation is the read-only probes the controller uses too.
 */
import type { Zone } from '../api/zone.js';
import type { PlannedRunbook } from '../runbook/step.js';
import type { Violation } from '../runbook/violation.js';
import type { Request } from '../runtime/controller.js';
import type { KubeObject } from '../runtime/kube.js';
import { readyZone } from './acting.js';
import type { ControllerDeps } from './deps.js';
import { classifyAccessError } from './errors.js';
import { type ActingStatus, StatusSession } from './runner.js';
import { boundRun, type Decision, type Reconciling, type RunbookHooks } from './template.js';

export type Preview =
  | { kind: 'plan'; plan: PlannedRunbook; approval: 'Automatic' | 'Manual' }
  | { kind: 'refused'; violations: Violation[] }
  /** The kind decided without a plan (nothing to run, a verdict for a human), or could not look. */
  | { kind: 'nothing'; reason: string; message: string };

/** A session whose saves stay in memory: the preview may set conditions, it never writes them. */
class DryStatusSession extends StatusSession {
  override async save(patch: Partial<ActingStatus> = {}): Promise<void> {
    this.status = { ...this.status, ...patch };
  }
}

export async function previewPlan<T, S extends ActingStatus, O>(
  deps: ControllerDeps,
  hooks: RunbookHooks<T, S, O>,
  obj: KubeObject,
  signal: AbortSignal,
): Promise<Preview> {
  const resource = hooks.acting.parse(obj);
  const previous = (obj.status ?? {}) as S;
  const session = new DryStatusSession(deps, hooks.acting.type, obj, { ...previous } as ActingStatus);
  const req: Request = { namespace: obj.metadata.namespace ?? 'default', name: obj.metadata.name };
  const zoneName = hooks.zoneOf?.(resource);
  let zone: Zone | undefined;
  if (zoneName) {
    zone = await readyZone(deps, session, req.namespace, zoneName);
    if (!zone) return notReady(session);
  }
  const r: Reconciling<T, S> = {
    deps,
    req,
    ctx: { signal, log: deps.log } as Reconciling<T, S>['ctx'],
    obj,
    previous,
    session,
    resource,
    zone,
  };
  const early = await hooks.preflight?.(r);
  if (early) return fromDecision(early, session, r);
  let observed: O;
  try {
    observed = await hooks.observe(r);
  } catch (err) {
    const f = classifyAccessError(err, hooks.observing?.(r) ?? `firstbox ${zone?.spec.firstbox.host ?? ''}`);
    return { kind: 'nothing', reason: f.reason, message: f.message };
  }
  return fromDecision(await hooks.decide(r, observed), session, r);
}

function fromDecision<T, S extends ActingStatus>(
  d: Decision,
  session: StatusSession,
  r: Reconciling<T, S>,
): Preview {
  if ('refuse' in d) return { kind: 'refused', violations: d.refuse };
  if ('handled' in d) return notReady(session);
  // The hash the controller publishes, so an approval copied from the preview applies.
  const run = boundRun(r, d);
  return { kind: 'plan', plan: run.plan, approval: run.approval };
}

/** What the kind said in Ready when it decided without a plan. */
function notReady(session: StatusSession): Preview {
  const ready = session.status.conditions?.find((c) => c.type === 'Ready');
  return { kind: 'nothing', reason: ready?.reason ?? 'NothingToRun', message: ready?.message ?? '' };
}
