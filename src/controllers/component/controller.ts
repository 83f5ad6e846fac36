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
import type { Request, Result } from '../../runtime/controller.js';
import type { KubeObject } from '../../runtime/kube.js';
import type { OperatorMetrics } from '../../runtime/metrics.js';
import type { ActingKind } from '../acting.js';
import { type ControllerDeps, durationMs, nowIso, resourceType } from '../deps.js';
import type { ZoneAccess } from '../platform.js';
import type { ActingStatus, StatusSession } from '../runner.js';
import { type Decision, type Reconciling, type RunbookHooks, zoneTarget } from '../template.js';
import { releaseZoneLock } from '../zonelock.js';
import { type ComponentFacts, observeCommand, parseObservation } from './observe.js';
import { type ComponentPlan, planComponent } from './plan.js';
import { deployProgress } from './progress.js';

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

interface Observed {
  access: ZoneAccess;
  facts: ComponentFacts;
}

/** R3's hooks; an instance keeps the reminder times and gauges of its operator. */
export class ComponentRunbook implements RunbookHooks<Component, Status, Observed> {
  private readonly reminded = new Map<string, number>();
  private readonly gauges: Gauges;

  readonly acting: ActingKind<Component> = {
    type: componentType,
    finalizer: COMPONENT_FINALIZER,
    informer: (d) => d.informers.component,
    parse: parseComponent,
    forget: (r) => this.forgetGauges(r),
  };

  constructor(private readonly deps: ControllerDeps) {
    this.gauges = gauges(deps.metrics);
  }

  zoneOf(comp: Component): string {
    return comp.spec.zoneRef.name;
  }

  observing({ resource, zone }: Reconciling<Component, Status>): string {
    return `the ${resource.spec.name} observation through firstbox ${zone!.spec.firstbox.host}`;
  }

  /** Read-only, one round trip through the firstbox. */
  async observe({ deps, resource: comp, zone, ctx }: Reconciling<Component, Status>): Promise<Observed> {
    const access = await deps.platform.forZone(zone!);
    const out = await access.pool.exec(access.firstbox, observeCommand(zone!.spec.zoneId, comp.spec.name), {
      timeoutMs: 120_000,
      signal: ctx.signal,
      ...PARSED_OUTPUT,
    });
    return { access, facts: parseObservation(completeOutput(out, `${comp.spec.name} observation`)) };
  }

  async decide(r: Reconciling<Component, Status>, { access, facts }: Observed): Promise<Decision> {
    const { deps, req, previous, session, resource: comp } = r;
    const zone = r.zone!;
    const interval = durationMs(comp.spec.healthCheckInterval);
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

    if (comp.spec.state === 'Absent')
      return { handled: await this.absent(session, previous, comp, result, interval) };
    // Prerequisites are platform facts (installer, OS, cronus): looked at again like health.
    if (result.violations.length > 0)
      return {
        refuse: result.violations,
        progressing: 'nothing runs until the prerequisites are met',
        retryAfterMs: Math.min(interval, 60_000),
      };
    if (result.plan.steps.length === 0)
      return { handled: await this.idle(session, previous, comp, zone, result, interval) };

    return {
      run: {
        plan: result.plan,
        approval: comp.spec.approval,
        executor: access.pool,
        target: zoneTarget(access, 22),
        zoneLock: { zoneName: zone.metadata.name, operation: 'Deploy' },
        readyMessage: `${comp.spec.name}: ${result.sections.join(', ') || 'up to date'}`,
      },
      idleRequeueMs: interval,
    };
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
      // checkedAt: since when the check gives this verdict, so a resync that finds the same writes
      // nothing (the gauge and the idle requeue say the check still runs).
      const same =
        previous.health?.healthy === result.health.healthy &&
        (previous.health.message ?? '') === (result.health.message ?? '');
      patch.health = {
        healthy: result.health.healthy,
        checkedAt: same && previous.health?.checkedAt ? previous.health.checkedAt : nowIso(),
        ...(result.health.message ? { message: result.health.message } : {}),
      };
      this.gauges.healthy.set(labels, result.health.healthy ? 1 : 0);
    }
    const progress = deployProgress(previous, facts.job, nowIso());
    if (progress) patch.progress = progress;
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
