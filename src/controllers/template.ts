/**
 * The acting reconciler, written once: open (cache, deletion, finalizer, fresh read, spec parse) →
 * the Zone it acts in (exists, parses, Ready) → preflight rules (no SSH yet) → observe (the
 * platform, read-only) → decide (a plan, a refusal, or a status the kind wrote itself) → run (gates,
 * approval, zone lock, the engine) → report. A kind supplies only its hooks (`RunbookHooks`); what
 * every kind does the same way — refusing, reporting an unreachable platform, the default requeue —
 * is here, so a fail-closed or trust fix lands once for every runbook.
 */
import type { Zone } from '../api/zone.js';
import type { Violation } from '../runbook/violation.js';
import { type Condition, findCondition } from '../runtime/conditions.js';
import type { ReconcileContext, Reconciler, Request, Result } from '../runtime/controller.js';
import type { KubeObject } from '../runtime/kube.js';
import { type ActingKind, openActing, readyZone } from './acting.js';
import type { ControllerDeps } from './deps.js';
import { classifyAccessError } from './errors.js';
import type { ZoneAccess } from './platform.js';
import { type ActingStatus, type RunInput, type RunReport, runPlan, type StatusSession } from './runner.js';
import { bindToFirstbox } from './zone/access.js';

/** What a hook sees of the reconcile in progress. */
export interface Reconciling<T, S extends ActingStatus> {
  deps: ControllerDeps;
  req: Request;
  ctx: ReconcileContext;
  obj: KubeObject;
  /** The status as read before this reconcile (the journal the engine continues). */
  previous: S;
  session: StatusSession;
  resource: T;
  /** The Ready Zone the resource acts in (`zoneOf`), when the kind has one. */
  zone: Zone | undefined;
}

/** Nothing of the plan runs: the spec or the platform breaks a rule, said in Ready and Progressing. */
export interface Refusal {
  refuse: Violation[];
  /** A further condition set False with the same reason (TagServer's PreconditionsMet). */
  condition?: string;
  /** Requeue for a rule on platform facts that may change by themselves (default 60 s). */
  retryAfterMs?: number;
  /** Words for Progressing's message (default: nothing runs until this is fixed). */
  progressing?: string;
}

/** The kind wrote its status itself (a migration to be judged by a human, a finished rollout). */
export interface Handled {
  handled: Result | undefined;
}

/** A plan to hand to the runner, and what the kind reports once it returns. */
export interface Run {
  run: Omit<RunInput, 'session'>;
  /** Status the kind derives from the journal after the run (nodes, phase); its Result wins. */
  report?(run: RunReport): Promise<Result | undefined> | Result | undefined;
  /** Requeue when the run leaves none (periodic re-observation). */
  idleRequeueMs?: number;
}

export type Decision = Refusal | Handled | Run;

export interface RunbookHooks<T, S extends ActingStatus, O> {
  acting: ActingKind<T>;
  /** The Zone that must be Ready before anything is observed; undefined: the kind checks its own. */
  zoneOf?(resource: T): string;
  /** Rules needing no SSH (and Secrets consent), before any connection is opened. */
  preflight?(r: Reconciling<T, S>): Promise<Refusal | Handled | undefined> | Refusal | Handled | undefined;
  /** What `observe` reads, for an access failure's message (default: the Zone's firstbox). */
  observing?(r: Reconciling<T, S>): string;
  /** Reads the platform. A throw is reported as an access failure and retried in 30 s. */
  observe(r: Reconciling<T, S>): Promise<O>;
  decide(r: Reconciling<T, S>, observed: O): Promise<Decision> | Decision;
}

const ACCESS_RETRY_MS = 30_000;
const REFUSAL_RETRY_MS = 60_000;

/** The controller-runtime Reconciler of one acting kind, driven by its hooks. */
export class RunbookReconciler<T, S extends ActingStatus, O> implements Reconciler {
  constructor(
    private readonly deps: ControllerDeps,
    private readonly hooks: RunbookHooks<T, S, O>,
  ) {}

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result | undefined> {
    const { deps, hooks } = this;
    const opened = await openActing<T, S>(deps, req, hooks.acting);
    if (!opened) return undefined;
    const zoneName = hooks.zoneOf?.(opened.resource);
    const zone = zoneName ? await readyZone(deps, opened.session, req.namespace, zoneName) : undefined;
    if (zoneName && !zone) return { requeueAfterMs: ACCESS_RETRY_MS };
    const r: Reconciling<T, S> = { deps, req, ctx, ...opened, zone };

    const early = await hooks.preflight?.(r);
    if (early) return this.conclude(r, early);

    let observed: O;
    try {
      observed = await hooks.observe(r);
    } catch (err) {
      const what = hooks.observing?.(r) ?? `firstbox ${zone?.spec.firstbox.host ?? '(no zone)'}`;
      const failure = classifyAccessError(err, what);
      r.session.condition('Ready', 'False', failure.reason, failure.message);
      await r.session.save();
      return { requeueAfterMs: ACCESS_RETRY_MS };
    }
    return this.conclude(r, await hooks.decide(r, observed));
  }

  private async conclude(r: Reconciling<T, S>, d: Decision): Promise<Result | undefined> {
    if ('refuse' in d) return refuse(this.deps, r.session, r.previous, d);
    if ('handled' in d) return d.handled;
    const report = await runPlan(this.deps, { session: r.session, ...boundRun(r, d) }, r.ctx);
    const own = await d.report?.(report);
    return own ?? report.result ?? (d.idleRequeueMs ? { requeueAfterMs: d.idleRequeueMs } : undefined);
  }
}

/** The run with its plan bound to the Zone's firstbox access (zone/access.ts): what an approval covers. */
export function boundRun<T, S extends ActingStatus>(r: Reconciling<T, S>, d: Run): Run['run'] {
  return r.zone ? { ...d.run, plan: bindToFirstbox(d.run.plan, r.zone) } : d.run;
}

/**
 * Ready=False and Progressing=False with the first rule's reason and every rule's message; a
 * Warning Event when the reason or the message changed (not on every resync).
 */
export async function refuse(
  deps: ControllerDeps,
  session: StatusSession,
  previous: ActingStatus,
  refusal: Refusal,
): Promise<Result> {
  const violations = refusal.refuse;
  const message = violations.map((v) => v.message).join('; ');
  const reason = violations[0]!.reason;
  const before = findCondition(previous.conditions as Condition[] | undefined, 'Ready');
  if (refusal.condition) session.condition(refusal.condition, 'False', reason, message);
  session.condition('Ready', 'False', reason, message);
  session.condition(
    'Progressing',
    'False',
    reason,
    refusal.progressing ?? 'nothing runs until this is fixed',
  );
  await session.save();
  if (before?.reason !== reason || before.message !== message)
    deps.events.event(session.obj, 'Warning', reason, message);
  return { requeueAfterMs: refusal.retryAfterMs ?? REFUSAL_RETRY_MS };
}

/** How every acting kind reaches its hosts: the firstbox itself, or a node through it. */
export function zoneTarget(access: ZoneAccess, defaultPort?: number): RunInput['target'] {
  return (host) =>
    host.kind === 'firstbox'
      ? access.firstbox
      : access.node(host.address, host.port ?? defaultPort, host.kind === 'node' ? host.user : undefined);
}
