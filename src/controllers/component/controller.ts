/**
 * Component (runbook R3): observe the zone through its firstbox (one read-only round trip), compute
 * the plan with `planComponent` and hand it to the runner under the zone lock (operation Deploy:
 * one component deployed per run in a zone, never during a scale-out or upgrade). Once deployed,
 * health, versions and the default password are re-checked every spec.healthCheckInterval.
 */

import { Gauge } from 'prom-client';
import { type Component, type ComponentStatus, parseComponent } from '../../api/component.js';
import { componentKind, zoneKind } from '../../api/kinds.js';
import type { Zone, ZoneLock } from '../../api/zone.js';
import { completeOutput, PARSED_OUTPUT } from '../../facts/complete.js';
import { type Condition, findCondition, isTrue, removeCondition } from '../../runtime/conditions.js';
import {
  Controller,
  type ReconcileContext,
  type Reconciler,
  type Request,
  type Result,
} from '../../runtime/controller.js';
import type { KubeObject } from '../../runtime/kube.js';
import type { Manager } from '../../runtime/manager.js';
import type { OperatorMetrics } from '../../runtime/metrics.js';
import { openActing, readyZone } from '../acting.js';
import { type ControllerDeps, durationMs, nowIso, resourceType } from '../deps.js';
import { classifyAccessError } from '../errors.js';
import { type ActingStatus, runPlan, type StatusSession } from '../runner.js';
import { releaseZoneLock } from '../zonelock.js';
import { type ComponentFacts, observeCommand, parseObservation } from './observe.js';
import { type ComponentPlan, planComponent } from './plan.js';

export const COMPONENT_FINALIZER = 'ops.pitrix.io/component';
const componentType = resourceType(componentKind);
const zoneType = resourceType(zoneKind);
const PREREQ_TYPES = ['InstallerSupported', 'ZoneEligible', 'CronusReady', 'ZoocassaOsSupported'];
/** How often the Warning Event about the default password is repeated while it is still accepted. */
const DEFAULT_PASSWORD_REMINDER_MS = 6 * 3_600_000;

type Status = ComponentStatus & ActingStatus;

interface Gauges {
  defaultCredentials: Gauge<'namespace' | 'name' | 'component'>;
  healthy: Gauge<'namespace' | 'name' | 'component'>;
}

const gaugesByRegistry = new WeakMap<OperatorMetrics, Gauges>();
function gauges(metrics: OperatorMetrics): Gauges {
  let g = gaugesByRegistry.get(metrics);
  if (!g) {
    g = {
      defaultCredentials: new Gauge({
        name: 'pitrix_component_default_credentials',
        help: 'The built-in BOSS account (boss@DOMAIN) still accepts its default password (1), not (0), or unknown (-1).',
        labelNames: ['namespace', 'name', 'component'],
        registers: [metrics.registry],
      }),
      healthy: new Gauge({
        name: 'pitrix_component_healthy',
        help: 'The last health check of the component passed (1) or failed (0).',
        labelNames: ['namespace', 'name', 'component'],
        registers: [metrics.registry],
      }),
    };
    gaugesByRegistry.set(metrics, g);
  }
  return g;
}

const specOf = (o: KubeObject) => (o.spec ?? {}) as { name?: string; zoneRef?: { name?: string } };

export class ComponentReconciler implements Reconciler {
  private readonly reminded = new Map<string, number>();
  private readonly gauges: Gauges;

  constructor(private readonly deps: ControllerDeps) {
    this.gauges = gauges(deps.metrics);
  }

  async reconcile(req: Request, ctx: ReconcileContext): Promise<Result | undefined> {
    const { deps } = this;
    const opened = await openActing<Component, Status>(deps, req, {
      type: componentType,
      finalizer: COMPONENT_FINALIZER,
      informer: (d) => d.informers.component,
      parse: parseComponent,
      forget: (r) => this.forgetGauges(r),
    });
    if (!opened) return undefined;
    const { previous, session, resource: comp } = opened;
    const zone = await readyZone(deps, session, req.namespace, comp.spec.zoneRef.name);
    if (!zone) return undefined;
    const interval = durationMs(comp.spec.healthCheckInterval);

    // Observe (read-only, one round trip through the firstbox).
    let access: Awaited<ReturnType<ControllerDeps['platform']['forZone']>>;
    let facts: ComponentFacts;
    try {
      access = await deps.platform.forZone(zone);
      const out = await access.pool.exec(access.firstbox, observeCommand(zone.spec.zoneId, comp.spec.name), {
        timeoutMs: 120_000,
        signal: ctx.signal,
        ...PARSED_OUTPUT,
      });
      facts = parseObservation(completeOutput(out, `${comp.spec.name} observation`));
    } catch (err) {
      const failure = classifyAccessError(err, `firstbox ${zone.spec.firstbox.host}`);
      session.condition(
        'Ready',
        'False',
        failure.reason,
        `observing ${comp.spec.name} through firstbox ${zone.spec.firstbox.host}: ${failure.message}`,
      );
      await session.save();
      return { requeueAfterMs: 30_000 };
    }

    const cronusReady = deps.informers.component.list(req.namespace).some((c) => {
      const s = specOf(c);
      return (
        s.name === 'cronus' &&
        s.zoneRef?.name === zone.metadata.name &&
        isTrue((c.status as { conditions?: Condition[] } | undefined)?.conditions, 'Ready')
      );
    });
    const result = planComponent({
      spec: comp.spec,
      zone: {
        zoneId: zone.spec.zoneId,
        mode: zone.spec.mode,
        global: zone.spec.global,
        ...(zone.spec.proxyHost ? { proxyHost: zone.spec.proxyHost } : {}),
      },
      facts,
      cronusReady,
      previous: previous.plan,
    });

    this.report(session, previous, comp, facts, result);

    if (comp.spec.state === 'Absent') return this.absent(session, previous, comp, result, interval);

    if (result.violations.length > 0) {
      const message = result.violations.map((v) => v.message).join('; ');
      const reason = result.violations[0]!.reason;
      const before = findCondition(previous.conditions as Condition[] | undefined, 'Ready');
      session.condition('Ready', 'False', reason, message);
      session.condition('Progressing', 'False', reason, 'nothing runs until the prerequisites are met');
      await session.save();
      if (before?.reason !== reason) deps.events.event(session.obj, 'Warning', reason, message);
      // Prerequisites are platform facts (installer, OS, cronus): looked at again like health.
      return { requeueAfterMs: Math.min(interval, 60_000) };
    }

    if (result.plan.steps.length === 0) return this.idle(session, previous, comp, zone, result, interval);

    const res = await runPlan(
      deps,
      {
        session,
        plan: result.plan,
        approval: comp.spec.approval,
        paused: () =>
          !!(deps.informers.component.get(req.namespace, req.name)?.spec as { paused?: boolean } | undefined)
            ?.paused,
        executor: access.pool,
        target: (host) =>
          host.kind === 'firstbox' ? access.firstbox : access.node(host.address, host.port ?? 22),
        zoneLock: { zoneName: zone.metadata.name, operation: 'Deploy' },
        readyMessage: `${comp.spec.name}: ${result.sections.join(', ') || 'up to date'}`,
      },
      ctx,
    );
    return res ?? { requeueAfterMs: interval };
  }

  /** Versions, health, progress and the default-credential warning: written whatever happens next. */
  private report(
    session: StatusSession,
    previous: Status,
    comp: Component,
    facts: ComponentFacts,
    result: ComponentPlan,
  ): void {
    const { namespace = '', name } = session.obj.metadata;
    const labels = { namespace, name, component: comp.spec.name };
    const patch: Partial<Status> = {};
    if (Object.keys(result.versions).length > 0) patch.versions = result.versions;
    if (result.health) {
      patch.health = {
        healthy: result.health.healthy,
        checkedAt: nowIso(),
        ...(result.health.message ? { message: result.health.message } : {}),
      };
      this.gauges.healthy.set(labels, result.health.healthy ? 1 : 0);
    }
    const planSteps = result.plan.steps.map((s) => s.id);
    if (facts.job && (planSteps.includes('deploy-wait') || previous.progress?.jobId === facts.job.jobId)) {
      const same = previous.progress?.jobId === facts.job.jobId;
      const changed =
        !same ||
        previous.progress?.status !== facts.job.status ||
        previous.progress?.percent !== facts.job.progress ||
        previous.progress?.step !== facts.job.step;
      patch.progress = changed
        ? {
            jobId: facts.job.jobId,
            status: facts.job.status,
            ...(facts.job.progress !== undefined ? { percent: facts.job.progress } : {}),
            ...(facts.job.step ? { step: facts.job.step.slice(0, 512) } : {}),
            updatedAt: nowIso(),
          }
        : previous.progress;
    }
    const dc = result.defaultCredentials;
    if (dc && dc.accepted === undefined) {
      // Unknown is never reported as fine (issue 13): no False, no stale True.
      patch.defaultCredentials = undefined;
      this.gauges.defaultCredentials.set(labels, -1);
      session.condition(
        'DefaultCredentials',
        'Unknown',
        'CheckUnavailable',
        `whether ${dc.account} still accepts its default password (runbook R3.4) is unknown: ${dc.why ?? 'no answer'}; change it in the BOSS console if not done`,
      );
    } else if (dc) {
      patch.defaultCredentials = dc.accepted;
      this.gauges.defaultCredentials.set(labels, dc.accepted ? 1 : 0);
      const key = `${namespace}/${name}`;
      if (dc.accepted) {
        const message = `the built-in account ${dc.account} still accepts its default password (R3.4); change it in the BOSS console (or django_manage.sh change_password ${dc.account})`;
        session.condition('DefaultCredentials', 'True', 'DefaultPasswordAccepted', message);
        const last = this.reminded.get(key) ?? 0;
        if (previous.defaultCredentials !== true || Date.now() - last > DEFAULT_PASSWORD_REMINDER_MS) {
          this.deps.events.event(session.obj, 'Warning', 'DefaultCredentials', message);
          this.reminded.set(key, Date.now());
        }
      } else {
        session.condition(
          'DefaultCredentials',
          'False',
          'DefaultPasswordRejected',
          `${dc.account} no longer accepts the default password`,
        );
        if (previous.defaultCredentials === true)
          this.deps.events.event(
            session.obj,
            'Normal',
            'DefaultCredentialsChanged',
            `${dc.account} no longer accepts the default password`,
          );
        this.reminded.delete(key);
      }
    }
    session.status = { ...session.status, ...patch };
    // One condition per prerequisite that applies (met or not), none for the ones that do not.
    let conditions = session.status.conditions as Condition[] | undefined;
    const applicable = new Set(result.prerequisites.map((p) => p.type));
    for (const t of PREREQ_TYPES) if (!applicable.has(t)) conditions = removeCondition(conditions, t);
    session.status = { ...session.status, conditions };
    for (const p of result.prerequisites)
      session.condition(p.type, p.ok ? 'True' : 'False', p.reason, p.message);
  }

  private async idle(
    session: StatusSession,
    previous: Status,
    comp: Component,
    zone: Zone,
    result: ComponentPlan,
    interval: number,
  ): Promise<Result> {
    const { deps } = this;
    const lock = (zone.status as { lock?: ZoneLock } | undefined)?.lock;
    if (lock?.holder.kind === 'Component' && lock.holder.name === session.obj.metadata.name)
      await releaseZoneLock(
        deps.client,
        zoneType,
        { namespace: session.obj.metadata.namespace ?? '', name: zone.metadata.name },
        {
          kind: 'Component',
          name: session.obj.metadata.name,
          uid: session.obj.metadata.uid ?? '',
        },
      );
    const wasDegraded = isTrue(previous.conditions as Condition[] | undefined, 'Degraded');
    const prevReady = findCondition(previous.conditions as Condition[] | undefined, 'Ready');
    const health = result.health;
    session.condition('Progressing', 'False', 'Idle', 'nothing to do');
    if (health && !health.healthy) {
      const message = `${comp.spec.name} health check failed: ${health.message ?? 'unhealthy'}`;
      session.condition('Ready', 'False', 'HealthCheckFailed', message);
      session.condition('Degraded', 'True', 'HealthCheckFailed', message);
      await session.save({ currentStep: undefined });
      if (!wasDegraded || prevReady?.reason !== 'HealthCheckFailed')
        deps.events.event(session.obj, 'Warning', 'HealthCheckFailed', message);
      return { requeueAfterMs: Math.min(interval, 60_000) };
    }
    const versions = Object.entries(result.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    session.condition(
      'Ready',
      'True',
      'Healthy',
      `${comp.spec.name} deployed and healthy${versions ? ` (${versions})` : ''}`,
    );
    session.condition('Degraded', 'False', 'AsExpected', '');
    await session.save({ currentStep: undefined });
    if (prevReady?.reason === 'HealthCheckFailed')
      deps.events.event(
        session.obj,
        'Normal',
        'HealthRecovered',
        `${comp.spec.name} health check passes again`,
      );
    return { requeueAfterMs: interval };
  }

  private async absent(
    session: StatusSession,
    previous: Status,
    comp: Component,
    result: ComponentPlan,
    interval: number,
  ): Promise<Result> {
    const before = findCondition(previous.conditions as Condition[] | undefined, 'Ready');
    session.condition('Progressing', 'False', 'Idle', 'nothing is removed');
    if (result.unsupported) {
      session.condition('Ready', 'False', 'RemovalUnsupported', result.unsupported);
      await session.save({ currentStep: undefined });
      if (before?.reason !== 'RemovalUnsupported')
        this.deps.events.event(session.obj, 'Warning', 'RemovalUnsupported', result.unsupported);
    } else {
      session.condition('Ready', 'True', 'Absent', `${comp.spec.name} is not deployed`);
      await session.save({ currentStep: undefined });
    }
    return { requeueAfterMs: interval };
  }

  private forgetGauges(req: Request): void {
    for (const component of ['boss', 'cronus', 'websupervisor']) {
      const labels = { namespace: req.namespace, name: req.name, component };
      this.gauges.defaultCredentials.remove(labels);
      this.gauges.healthy.remove(labels);
    }
  }
}

function specOrMetaChanged(obj: KubeObject, old: KubeObject): boolean {
  return (
    obj.metadata.generation !== old.metadata.generation ||
    obj.metadata.deletionTimestamp !== old.metadata.deletionTimestamp ||
    JSON.stringify(obj.metadata.annotations ?? {}) !== JSON.stringify(old.metadata.annotations ?? {})
  );
}

/** Creates the Component controller with its watches and adds it to the manager. */
export function registerComponentController(
  manager: Manager,
  deps: ControllerDeps,
  base: { metrics: OperatorMetrics; log: ControllerDeps['log']; maxConcurrentReconciles: number },
): void {
  const controller = new Controller({
    ...base,
    name: 'component',
    reconciler: new ComponentReconciler(deps),
  });
  controller.watchPrimary(
    deps.informers.component,
    (event, obj, old) => event !== 'modified' || !old || specOrMetaChanged(obj, old),
  );
  const sameZone = (namespace: string | undefined, zoneName: string | undefined, except?: string) =>
    deps.informers.component
      .list(namespace)
      .filter((c) => specOf(c).zoneRef?.name === zoneName && c.metadata.name !== except)
      .map((c) => ({ namespace: c.metadata.namespace, name: c.metadata.name }));
  // A cronus Component becoming Ready (or not) unblocks or blocks BOSS in its zone.
  deps.informers.component.on((_event, obj, old) => {
    if (specOf(obj).name !== 'cronus') return;
    const ready = (o?: KubeObject) =>
      isTrue((o?.status as { conditions?: Condition[] } | undefined)?.conditions, 'Ready');
    if (old && ready(obj) === ready(old)) return;
    for (const r of sameZone(obj.metadata.namespace, specOf(obj).zoneRef?.name, obj.metadata.name))
      controller.enqueue(r);
  });
  // A Zone becoming Ready, or its lock being released, lets its components proceed.
  controller.watchMapped(deps.informers.zone, (zone) =>
    sameZone(zone.metadata.namespace, zone.metadata.name),
  );
  manager.add(controller);
}
