/**
 * TagServer (runbook R1, model R2): check the preconditions (global zone Ready, installer ≥ 4.6, every
 * zone in scope a Ready Zone), observe the global zone's firstbox (config files, node packages and
 * pushed config through exec_nodes.sh, migration logs, repository), audit the tags before
 * migrating, compute the plan with `planTagServer` and hand it to the runner. A migration whose
 * numbers do not verify stops everything with Degraded; its insert is never run again by itself.
 */

import { tagServerKind } from '../../api/kinds.js';
import {
  type MigrationResult,
  parseTagServer,
  type TagServer,
  type TagServerStatus,
} from '../../api/tagserver.js';
import { parseZone } from '../../api/zone.js';
import { collectFirstboxFacts } from '../../facts/collector.js';
import { completeOutput, PARSED_OUTPUT } from '../../facts/complete.js';
import { inFlight } from '../../runbook/journal.js';
import type { Condition } from '../../runtime/conditions.js';
import { findCondition } from '../../runtime/conditions.js';
import type { Result } from '../../runtime/controller.js';
import type { KubeObject } from '../../runtime/kube.js';
import { statusChanged } from '../../runtime/status.js';
import type { ActingKind } from '../acting.js';
import { type ControllerDeps, nowIso, resourceType } from '../deps.js';
import type { ZoneAccess } from '../platform.js';
import type { ActingStatus, StatusSession } from '../runner.js';
import { type Decision, type Reconciling, type Refusal, type RunbookHooks, zoneTarget } from '../template.js';
import { TagVerdictGauges, tagMetrics } from './metrics.js';
import { auditTags, type Probe, parseProbe, type ZoneAudit } from './migration.js';
import { migrateCommand, observeCommand, parseObservation } from './observe.js';
import {
  migrationNode,
  type NodeInfo,
  planTagServer,
  staticPreconditions,
  subZonePreconditions,
  subZonesOf,
  tagNodes,
  type Violation,
  workLeft,
  type ZoneInfo,
} from './plan.js';

export const TAGSERVER_FINALIZER = 'ops.pitrix.io/tagserver';
const tsType = resourceType(tagServerKind);
const _zoneType = resourceType({ kind: 'Zone', plural: 'zones' });

// ---- reconciler ---------------------------------------------------------------------------------

type Status = TagServerStatus & ActingStatus;

interface Observed {
  access: ZoneAccess;
  /** Rules on the zones in scope, known once the firstbox listed its zones. */
  scope: Violation[];
  globalInfo: ZoneInfo;
  subZoneIds: string[];
  subZones: Array<{ zoneId: string; proxyHost: string }>;
  nodes: NodeInfo[];
  observation?: ReturnType<typeof parseObservation>;
  audit: Record<string, ZoneAudit | undefined>;
  auditProblems: string[];
}

/** R1's hooks; an instance keeps which zones' gauges it set, to remove them. */
export class TagServerRunbook implements RunbookHooks<TagServer, Status, Observed> {
  readonly acting: ActingKind<TagServer> = {
    type: tsType,
    finalizer: TAGSERVER_FINALIZER,
    informer: (d) => d.informers.tagServer,
    parse: parseTagServer,
    forget: (r) => this.gauges.forget(r),
  };

  /** The tag gauges exist from the start, so alerts and dashboards see them before a migration. */
  private readonly gauges: TagVerdictGauges;

  constructor(private readonly deps: ControllerDeps) {
    this.gauges = new TagVerdictGauges(tagMetrics(deps.metrics));
  }

  /** Preconditions that need no SSH: the global zone and every zone named are Ready Zones. */
  preflight({ req, resource: ts }: Reconciling<TagServer, Status>): Refusal | undefined {
    const early = staticPreconditions(ts.spec, zoneInfos(this.deps, req.namespace));
    return early.length > 0 ? { refuse: early, condition: 'PreconditionsMet' } : undefined;
  }

  observing({ req, resource: ts }: Reconciling<TagServer, Status>): string {
    const global = this.deps.informers.zone.get(req.namespace, ts.spec.zoneRef.name);
    return `firstbox ${(global?.spec as { firstbox?: { host?: string } } | undefined)?.firstbox?.host ?? ts.spec.zoneRef.name}`;
  }

  /** The global zone's firstbox: its zones and nodes, then config, packages and logs, then the audit. */
  async observe({ req, previous, resource: ts, ctx }: Reconciling<TagServer, Status>): Promise<Observed> {
    const { deps } = this;
    const spec = ts.spec;
    const zones = zoneInfos(deps, req.namespace);
    const globalInfo = zones.find((z) => z.name === spec.zoneRef.name)!;
    const globalZoneObj = parseZone(deps.informers.zone.get(req.namespace, globalInfo.name));
    const access = await deps.platform.forZone(globalZoneObj);
    const facts = await collectFirstboxFacts(access.pool, access.firstbox, { signal: ctx.signal });
    const globalZoneId = globalInfo.zoneId;
    const subZoneIds = subZonesOf(spec.enabledZones, globalZoneId, facts.zones, zones);
    const scope = subZonePreconditions(subZoneIds, zones);
    if (facts.zones) {
      for (const e of spec.enabledZones)
        if (!facts.zones.some((z) => z.zoneId === e || z.regionId === e))
          scope.push({
            reason: 'UnknownEnabledZone',
            message: `spec.enabledZones: ${e} is neither a region nor a zone of this platform (describe-zones.py)`,
          });
    }
    const subZones = subZoneIds.map((id) => {
      const z = zones.find((x) => x.zoneId === id)!;
      return { zoneId: id, proxyHost: z.proxyHost ?? `${id}-proxy` };
    });
    const nodes = facts.nodes.map((n) => ({
      nodeId: n.nodeId,
      zoneId: n.zoneId,
      roles: n.roles,
      status: n.status,
      vip: n.vip,
    }));
    const base: Observed = {
      access,
      scope,
      globalInfo,
      subZoneIds,
      subZones,
      nodes,
      audit: {},
      auditProblems: [],
    };
    if (scope.length > 0) return base;

    const migrationZones = spec.migration?.zones ?? [];
    const observeReq = {
      configZones: [globalZoneId, ...subZoneIds],
      migrationZones,
      nodeIds: tagNodes({ nodes, globalZoneId, subZones }).config.map((n) => n.nodeId),
    };
    const r = await access.pool.exec(access.firstbox, observeCommand(observeReq), {
      timeoutMs: 10 * 60_000,
      signal: ctx.signal,
      ...PARSED_OUTPUT,
    });
    const observation = parseObservation(completeOutput(r, 'tag service observation'), observeReq);

    // Pre-flight tag audit (read-only -a describe), while any zone still has to migrate or lost its prediction.
    const prevMigration = previous.migration ?? {};
    const needAudit =
      (spec.migration?.predictWarnings ?? true) &&
      migrationZones.some((z) => {
        const started = /There are \d+ tag items/.test(observation.logs[z]?.insert?.text ?? '');
        return !started || prevMigration[z]?.predictedWarnings === undefined;
      });
    const audit: Record<string, ZoneAudit | undefined> = {};
    const auditProblems: string[] = [];
    if (needAudit) {
      const probes: Record<string, Probe> = {};
      let broken = false;
      for (const z of migrationZones) {
        const node = migrationNode(nodes, z);
        if (!node || broken) {
          broken = true;
          continue;
        }
        try {
          const out = await access.pool.exec(access.firstbox, migrateCommand(node.nodeId, z, 'describe'), {
            timeoutMs: 10 * 60_000,
            signal: ctx.signal,
            // A large zone's tag list is parsed whole (up to the parsed-output cap), never refused for its size.
            ...PARSED_OUTPUT,
          });
          probes[z] = parseProbe(completeOutput(out, `tag pre-flight of ${z}`));
        } catch (err) {
          // Later zones' predictions depend on this one: stop predicting here.
          broken = true;
          auditProblems.push(`${z} on ${node.nodeId}: ${(err as Error).message}`);
        }
      }
      Object.assign(
        audit,
        auditTags(
          migrationZones.filter((z) => probes[z]),
          probes,
        ),
      );
    }
    return { ...base, observation, audit, auditProblems };
  }

  async decide(r: Reconciling<TagServer, Status>, o: Observed): Promise<Decision> {
    const { req, previous, session, resource: ts, ctx } = r;
    const spec = ts.spec;
    if (o.scope.length > 0 || !o.observation) return { refuse: o.scope, condition: 'PreconditionsMet' };
    const { observation, globalInfo, subZoneIds, auditProblems } = o;
    const migrationZones = spec.migration?.zones ?? [];
    const prevMigration = previous.migration ?? {};
    const result = planTagServer({
      spec,
      globalZoneId: globalInfo.zoneId,
      subZones: o.subZones,
      nodes: o.nodes,
      serverYaml: observation.serverYaml,
      nodeObservations: observation.nodes,
      repoDebs: observation.repoDebs,
      logs: observation.logs,
      audit: o.audit,
      previous: prevMigration,
      pushInFlight: inFlight(previous.plan) ? previous.pushing : undefined,
    });

    // Status: what was found, before anything runs.
    const now = nowIso();
    const migration: Record<string, MigrationResult> = {};
    for (const m of result.migration) {
      const prev = prevMigration[m.zone];
      migration[m.zone] = {
        ...m.result,
        ...(m.state === 'verified' ? { finishedAt: prev?.finishedAt ?? now } : {}),
      };
    }
    const findings = result.findings.slice(0, 128).map((f) => ({
      zone: f.zone,
      key: f.key,
      ...(f.expected ? { expected: f.expected } : {}),
      ...(f.actual ? { actual: f.actual } : {}),
    }));
    session.status = {
      ...session.status,
      ...(migrationZones.length > 0 ? { migration } : {}),
      // checkedAt: when the findings became what they are (a resync that finds the same writes nothing).
      audit: {
        checkedAt:
          previous.audit?.checkedAt && !statusChanged(previous.audit.findings ?? [], findings)
            ? previous.audit.checkedAt
            : now,
        findings,
      },
      installedVersions: result.installedVersions,
      pushing: Object.keys(result.pushing).length > 0 ? result.pushing : undefined,
    };
    session.condition(
      'PreconditionsMet',
      'True',
      'AllMet',
      preconditionsText(globalInfo, subZoneIds, migrationZones),
    );
    this.auditEvents(session.obj, prevMigration, migration);
    this.gauges.update(
      req,
      result.migration.map((m) => ({ zone: m.zone, r: migration[m.zone]! })),
    );

    if (
      auditProblems.length > 0 &&
      result.violations.length === 0 &&
      result.migration.some((m) => m.state === 'pending')
    )
      ctx.log.warn({ problems: auditProblems }, 'tag audit incomplete');
    if (result.violations.length > 0) {
      const v = result.violations.map((x) =>
        x.reason === 'TagAuditFailed' && auditProblems.length > 0
          ? { ...x, message: `${x.message} (${auditProblems.join('; ')})` }
          : x,
      );
      return { refuse: v };
    }
    const failed = result.migration.filter((m) => m.state === 'failed');
    if (failed.length > 0) return { handled: await this.migrationFailed(session, previous, failed) };
    const running = result.migration.find((m) => m.state === 'running');
    if (running && result.plan.steps.length === 0) {
      session.condition(
        'Ready',
        'False',
        'MigrationRunning',
        `the migration of ${running.zone} is still running`,
      );
      session.condition(
        'Progressing',
        'True',
        'MigrationRunning',
        `the insert of ${running.zone} started and has not finished (log ${`/pitrix/conf/operator/tagserver/${running.zone}.insert.log`} on firstbox)`,
      );
      await session.save();
      return { handled: { requeueAfterMs: 15_000 } };
    }

    const verified = result.migration.filter((m) => m.state === 'verified').length;
    const versions = Object.entries(result.installedVersions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    return {
      run: {
        plan: result.plan,
        approval: spec.approval,
        executor: o.access.pool,
        target: zoneTarget(o.access),
        zoneLock: { zoneName: globalInfo.name, operation: 'TagService' },
        stdinFor: async (step) => result.stdin[step.id],
        readyMessage: `tag service configured for ${spec.enabledZones.join(',')}${versions ? ` (${versions})` : ''}; ${verified}/${migrationZones.length} zone migration(s) verified`,
        // Asked only when the plan is empty or its journal finished: every step is planned from what
        // the platform shows, so a step still planned after its plan finished (a job that ended 0
        // and left no result) is named, never reported Ready.
        converged: () => workLeft(result.plan),
      },
      idleRequeueMs: 5 * 60_000,
    };
  }

  private async migrationFailed(
    session: StatusSession,
    previous: ActingStatus,
    failed: ReadonlyArray<{ zone: string; problems: string[]; result: MigrationResult }>,
  ): Promise<Result> {
    const message = failed
      .map((f) => {
        const r = f.result;
        return `zone ${f.zone}: total_count ${r.totalCount ?? '?'}, inserted ${r.inserted ?? '?'}, updated ${r.updated ?? '?'}, errors ${r.errors ?? '?'}, warnings ${r.warnings ?? '?'} (predicted ${r.predictedWarnings ?? '?'})${r.updatePassInserted !== undefined ? `, update pass inserted ${r.updatePassInserted}` : ''}: ${f.problems.join('; ')}`;
      })
      .join('. ');
    const full = `${message}. The insert is not run again automatically: check the tags on the tag server, then remove /pitrix/conf/operator/tagserver/ZONE.insert.log on firstbox to migrate that zone again`;
    const before = findCondition(previous.conditions as Condition[] | undefined, 'Degraded');
    session.condition('Ready', 'False', 'MigrationNotVerified', message);
    session.condition('Degraded', 'True', 'MigrationNotVerified', full);
    session.condition('Progressing', 'False', 'MigrationNotVerified', 'waiting for a human decision');
    await session.save();
    if (before?.reason !== 'MigrationNotVerified' || before.message !== full)
      this.deps.events.event(session.obj, 'Warning', 'MigrationNotVerified', full);
    return { requeueAfterMs: 5 * 60_000 };
  }

  /** One Event when a zone's pre-flight audit first shows predicted warnings or model violations. */
  private auditEvents(
    obj: KubeObject,
    prev: Record<string, MigrationResult>,
    now: Record<string, MigrationResult>,
  ): void {
    for (const [zone, r] of Object.entries(now)) {
      const p = prev[zone];
      if (r.predictedWarnings !== undefined && p?.predictedWarnings !== r.predictedWarnings)
        this.deps.events.event(
          obj,
          'Normal',
          'TagAudit',
          `zone ${zone}: ${r.totalCount ?? '?'} tag(s), ${r.predictedWarnings} warning(s) predicted${r.sameNameTags?.length ? ` (${r.sameNameTags.slice(0, 3).join(', ')})` : ''}`,
        );
      if (
        r.modelViolations?.length &&
        // Key order aside: the API server returns each violation's keys sorted.
        statusChanged(p?.modelViolations, r.modelViolations)
      )
        this.deps.events.event(
          obj,
          'Warning',
          'TagModelViolations',
          `zone ${zone}: ${r.modelViolations.length} tag(s) break the R2 tag model: ${r.modelViolations
            .slice(0, 3)
            .map((v) => `${v.tagId} ${v.problem}`)
            .join('; ')}`,
        );
    }
  }
}

function preconditionsText(g: ZoneInfo, subs: readonly string[], migration: readonly string[]): string {
  return `global zone ${g.name} (${g.zoneId}) Ready, installer ${g.installerVersion}; sub zones ${subs.join(', ') || 'none'} and migration zones ${migration.join(', ') || 'none'} Ready`;
}

function zoneInfos(deps: ControllerDeps, namespace: string): ZoneInfo[] {
  const out: ZoneInfo[] = [];
  for (const o of deps.informers.zone.list(namespace)) {
    try {
      const z = parseZone(o);
      const ready = findCondition(z.status?.conditions as Condition[] | undefined, 'Ready');
      out.push({
        name: z.metadata.name,
        zoneId: z.spec.zoneId,
        ...(z.spec.regionId ? { regionId: z.spec.regionId } : {}),
        global: z.spec.global,
        ready: ready?.status === 'True',
        ...(ready && ready.status !== 'True' ? { readyMessage: `${ready.reason}: ${ready.message}` } : {}),
        ...(z.status?.installerVersion ? { installerVersion: z.status.installerVersion } : {}),
        ...(z.spec.proxyHost ? { proxyHost: z.spec.proxyHost } : {}),
      });
    } catch {
      // an invalid Zone is reported on the Zone itself
    }
  }
  return out;
}
