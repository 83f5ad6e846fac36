/**
 * Runbook R1 (tag service) as pure functions: preconditions, the config edits and their checks,
 * which nodes still need the packages, the migration state of each zone, and the ordered steps.
 * Every decision is "check before act": a key already set, a package already installed, a zone
 * whose migration log already exists on firstbox produce no step, so an already configured
 * platform gets an empty plan. No I/O here: the golden-plan tests run this directly.
 */
import { createHash } from 'node:crypto';
import type { MigrationResult, TagServerSpec } from '../../api/tagserver.js';
import { compareDebianVersions } from '../../facts/version.js';
import { GUARD_PATH } from '../../runbook/jobguard.js';
import { forSubject, makePlan, type PlannedRunbook, type Step } from '../../runbook/step.js';
import { validated } from '../../ssh/command.js';
import {
  globalConfSteps,
  globalEdits,
  type ServerYamlWrite,
  subZoneEdits,
  verifyServerYamlStep,
  writeServerYamlStep,
} from './config.js';
import type { MigrationCounts, ZoneAudit } from './migration.js';
import { planMigration } from './migrationplan.js';
import { type MigrationLog, type NodeObservation, serverYamlPath } from './observe.js';
import {
  build,
  install,
  installedOf,
  type PackageGuard,
  PROXY_PACKAGES,
  SERVER_PACKAGES,
  upgradeSteps,
} from './packages.js';
import { editYaml, type KeyEdit, pendingEdits, YamlEditError } from './yamledit.js';

export { globalEdits, subZoneEdits, verifyReadBack } from './config.js';
export { migrationNode } from './migrationplan.js';
export { PROXY_PACKAGES, SERVER_PACKAGES, verifyUpgrade } from './packages.js';
export {
  MIN_INSTALLER,
  staticPreconditions,
  subZonePreconditions,
  subZonesOf,
  type ZoneInfo,
} from './preconditions.js';

import type { Violation } from '../../runbook/violation.js';

export type { Violation };

// ---- input / output ----------------------------------------------------------------------------

export interface NodeInfo {
  nodeId: string;
  zoneId: string;
  roles: string[];
  status: string;
  vip: boolean;
}

export interface TagServerPlanInput {
  spec: TagServerSpec;
  globalZoneId: string;
  /** Sub zones that must point at the tag proxy, with their proxy host names. */
  subZones: ReadonlyArray<{ zoneId: string; proxyHost: string }>;
  /** The installer's node list. */
  nodes: readonly NodeInfo[];
  serverYaml: Readonly<Record<string, string | undefined>>;
  nodeObservations: Readonly<Record<string, NodeObservation>>;
  repoDebs: ReadonlyArray<{ name: string; version: string }>;
  logs: Readonly<Record<string, { insert?: MigrationLog; update?: MigrationLog }>>;
  /** Pre-flight audit of the zones not yet migrated (undefined when the probe failed). */
  audit: Readonly<Record<string, ZoneAudit | undefined>>;
  /** status.migration as last written: a prediction made before a zone migrated is kept. */
  previous: Readonly<Record<string, MigrationResult>>;
  /**
   * Node ids each push of the unfinished plan in flight covers, by step id (status.pushing). A push
   * that ran part-way leaves fewer nodes lacking it; planned from that smaller set it would be
   * another job, and the plan in flight would be superseded while its job may still be running.
   */
  pushInFlight?: Readonly<Record<string, readonly string[]>>;
}

export interface ConfigFinding {
  zone: string;
  key: string;
  expected?: string;
  actual?: string;
}

export interface ZoneMigration {
  zone: string;
  result: MigrationResult;
  state: 'pending' | 'running' | 'verified' | 'failed';
  problems: string[];
  insert?: MigrationCounts;
}

export interface TagServerPlan {
  violations: Violation[];
  findings: ConfigFinding[];
  migration: ZoneMigration[];
  installedVersions: Record<string, string>;
  plan: PlannedRunbook;
  /** Content fed to a step's stdin (the edited server.yaml), by step id. */
  stdin: Record<string, string>;
  /** Node ids each planned push covers, by step id: recorded as status.pushing. */
  pushing: Record<string, string[]>;
}

/** Nodes that carry the tag service: global webservice (server), proxies of every zone in scope (proxy). */
export function tagNodes(input: Pick<TagServerPlanInput, 'nodes' | 'globalZoneId' | 'subZones'>) {
  const zones = [input.globalZoneId, ...input.subZones.map((z) => z.zoneId)];
  const deployed = input.nodes.filter((n) => n.status === 'deployed');
  return {
    server: deployed.filter((n) => n.zoneId === input.globalZoneId && n.roles.includes('webservice')),
    proxy: deployed.filter((n) => zones.includes(n.zoneId) && n.roles.includes('proxy')),
    /** Nodes whose pushed config is checked: webservice and proxy nodes of the zones in scope. */
    config: deployed.filter(
      (n) => zones.includes(n.zoneId) && (n.roles.includes('webservice') || n.roles.includes('proxy')),
    ),
  };
}
const nodeIds = (list: readonly NodeInfo[]) =>
  list
    .map((n) => n.nodeId)
    .sort()
    .join(',');

/** `pek3a-webservice` → pek3a: update targets are built from a zone id and a role. */
const zoneOfTarget = (target: string) => target.slice(0, target.lastIndexOf('-'));

// ---- the plan ----------------------------------------------------------------------------------
export function planTagServer(input: TagServerPlanInput): TagServerPlan {
  const { spec } = input;
  const violations: Violation[] = [];
  const findings: ConfigFinding[] = [];
  const steps: Step[] = [];
  const stdin: Record<string, string> = {};
  const globalZone = validated('ZONE_ID', input.globalZoneId, 'global zone id');
  const nodes = tagNodes(input);

  // Nodes must be readable, and every zone in scope needs the nodes the runbook installs to.
  for (const n of nodes.config) {
    const o = input.nodeObservations[n.nodeId];
    if (!o || o.error)
      violations.push({
        reason: 'NodeUnobservable',
        message: `${n.nodeId} (${n.zoneId}): ${o?.error ?? 'not observed'}; the operator reads installed packages and config through exec_nodes.sh on firstbox: bring the node back or fix its SSH from firstbox`,
      });
  }
  if (nodes.server.length === 0)
    violations.push({
      reason: 'NoWebserviceNode',
      message: `the global zone ${globalZone} has no deployed webservice node to run pitrix-ks-tag-server`,
    });
  for (const z of [globalZone, ...input.subZones.map((s) => s.zoneId)])
    if (!nodes.proxy.some((n) => n.zoneId === z))
      violations.push({
        reason: 'NoProxyNode',
        message: `zone ${z} has no deployed proxy node for pitrix-ks-proxy-tag (R1.2)`,
      });

  // R1.3-4: what each server.yaml must say.
  const editsByZone = new Map<string, KeyEdit[]>();
  editsByZone.set(globalZone, globalEdits(spec, input.serverYaml[globalZone]));
  for (const s of input.subZones)
    editsByZone.set(
      validated('ZONE_ID', s.zoneId, 'sub zone id'),
      subZoneEdits(validated('HOST', s.proxyHost, `proxy host of ${s.zoneId}`)),
    );
  const writes: ServerYamlWrite[] = [];
  for (const [zone, edits] of editsByZone) {
    const text = input.serverYaml[zone];
    const path = serverYamlPath(zone);
    if (text === undefined) {
      violations.push({
        reason: 'ConfigMissing',
        message: `${path} not found on firstbox; the installer writes one per zone: check the zone id`,
      });
      continue;
    }
    try {
      const r = editYaml(text, edits, path);
      for (const c of r.changes)
        findings.push({ zone, key: c.key, expected: c.after, ...(c.before ? { actual: c.before } : {}) });
      if (r.changes.length > 0)
        writes.push({ zone, path, before: text, after: r.text, keys: r.changes.map((c) => c.key) });
    } catch (err) {
      if (!(err instanceof YamlEditError)) throw err;
      violations.push({ reason: 'ConfigUneditable', message: `${err.message}; fix the file by hand` });
    }
  }
  // Pushed config on the nodes (R1.5): the firstbox files may be right and never pushed.
  let pushNeeded = writes.length > 0;
  const pushPending: NodeInfo[] = [];
  for (const n of nodes.config) {
    const text = input.nodeObservations[n.nodeId]?.pushedConfig;
    const edits = editsByZone.get(n.zoneId);
    if (text === undefined || !edits) continue;
    try {
      const pending = pendingEdits(text, edits, `${n.nodeId}:/pitrix/conf/server.yaml`);
      if (pending.length > 0) {
        pushNeeded = true;
        pushPending.push(n);
        if (writes.length === 0)
          for (const c of pending)
            findings.push({
              zone: `${n.zoneId}/${n.nodeId}`.slice(0, 32),
              key: c.key,
              expected: c.after,
              ...(c.before ? { actual: c.before } : {}),
            });
      }
    } catch {
      pushNeeded = true;
      pushPending.push(n);
    }
  }

  // A push of the plan in flight stays planned, for the nodes it was published with (pushInFlight).
  const held = input.pushInFlight ?? {};
  const pushing: Record<string, string[]> = {};
  const pushedOn = (stepId: string, lacking: readonly NodeInfo[]) => {
    const ids = [...(held[stepId] ?? lacking.map((n) => n.nodeId))].sort();
    if (ids.length > 0) pushing[stepId] = ids;
    return ids.join(',');
  };
  if (held.pushGlobalConf) pushNeeded = true;
  const scopeZones = [globalZone, ...input.subZones.map((z) => z.zoneId)];

  // Packages: install (R1.1-2) where missing, upgrade (R1.8) where spec.packages pins a newer version.
  const serverMissing = nodes.server.filter(
    (n) => !installedOf(input.nodeObservations[n.nodeId], SERVER_PACKAGES),
  );
  const installServer = serverMissing.length > 0 || held.installTagServer !== undefined;
  const proxyMissingZones = [
    ...new Set([
      ...nodes.proxy
        .filter((n) => !installedOf(input.nodeObservations[n.nodeId], PROXY_PACKAGES))
        .map((n) => n.zoneId),
      ...scopeZones.filter((z) => held[forSubject('installProxyTag', z).id]),
    ]),
  ].sort((a, b) => (a === globalZone ? -1 : b === globalZone ? 1 : a.localeCompare(b)));
  /** Update target → the nodes below a pinned version. */
  const upgradeTargets = new Map<string, NodeInfo[]>();
  for (const [i, pin] of (spec.packages ?? []).entries()) {
    const isServer = SERVER_PACKAGES.includes(pin.name);
    const isProxy = PROXY_PACKAGES.includes(pin.name);
    if (!isServer && !isProxy) {
      violations.push({
        reason: 'NotATagPackage',
        message: `spec.packages[${i}]: ${pin.name} is not a tag-service package (${[...SERVER_PACKAGES, ...PROXY_PACKAGES].join(', ')})`,
      });
      continue;
    }
    const carriers = (isServer ? nodes.server : nodes.proxy).filter((n) => {
      const have = input.nodeObservations[n.nodeId]?.packages?.[pin.name];
      return have !== undefined && compareDebianVersions(have, pin.version) < 0;
    });
    if (carriers.length === 0) continue;
    if (!input.repoDebs.some((d) => d.name === pin.name && d.version === pin.version)) {
      violations.push({
        reason: 'PackageNotInRepository',
        message: `spec.packages[${i}]: ${pin.name} ${pin.version} is not in /pitrix/repo on firstbox; place ${pin.name}_${pin.version}_all.deb in /pitrix/repo/indep/ (R1.8)`,
      });
      continue;
    }
    for (const n of carriers) {
      const target = isServer ? `${n.zoneId}-webservice` : `${n.zoneId}-proxy`;
      const below = upgradeTargets.get(target) ?? [];
      if (!below.includes(n)) below.push(n);
      upgradeTargets.set(target, below);
    }
  }

  for (const z of scopeZones)
    for (const target of [`${z}-webservice`, `${z}-proxy`])
      if (held[forSubject('upgradeTag', target).id] && !upgradeTargets.has(target))
        upgradeTargets.set(target, []);

  const { migration, steps: migrationSteps } = planMigration(input, violations);

  // ---- steps, in runbook order (config first: it is verified before anything is built) ----
  for (const w of writes) {
    const step = writeServerYamlStep(w, globalZone);
    stdin[step.id] = w.after;
    steps.push(step);
  }
  if (writes.length > 0) steps.push(verifyServerYamlStep(editsByZone));
  // Package jobs run under the job guard (PackageGuard). A build is known by the nodes it serves: a
  // finished build is still in the repository for a later need. A push is known by what it pushes
  // and by the nodes observed without it: the same nodes while a run is re-planned before the push
  // starts, other nodes (or none: the step is gone) once it ran, and a later loss of the package is
  // a new push, never "already done" by an old job. A re-plan while a push runs finds other nodes
  // without it; its new job is refused by the zone's lock until the first one ended.
  const guard = (lockScope: string, ...inputs: string[]): PackageGuard => ({ lockScope, inputs });
  const lacking = (list: readonly NodeInfo[], names: readonly string[]) =>
    list.filter((n) => !installedOf(input.nodeObservations[n.nodeId], names));
  const buildAndInstall: Step[] = [];
  if (proxyMissingZones.length > 0)
    buildAndInstall.push(
      build('buildProxyTag', 'pitrix-ks-proxy-tag', guard(globalZone, `serves ${nodeIds(nodes.proxy)}`)),
    );
  if (installServer)
    buildAndInstall.push(
      build('buildTagServer', 'pitrix-ks-tag-server', guard(globalZone, `serves ${nodeIds(nodes.server)}`)),
    );
  if (installServer)
    buildAndInstall.push(
      install(
        'installTagServer',
        `${globalZone}-webservice`,
        'pitrix-ks-tag-server',
        guard(globalZone, `missing on ${pushedOn('installTagServer', serverMissing)}`),
      ),
    );
  for (const z of proxyMissingZones) {
    const missing = lacking(
      nodes.proxy.filter((n) => n.zoneId === z),
      PROXY_PACKAGES,
    );
    const id = forSubject('installProxyTag', z);
    buildAndInstall.push(
      install(id, `${z}-proxy`, 'pitrix-ks-proxy-tag', guard(z, `missing on ${pushedOn(id.id, missing)}`)),
    );
  }
  steps.push(...buildAndInstall);
  if (pushNeeded) {
    // What pitrix-global-conf carries: every server.yaml as it is once the writes above are done.
    const written = new Map(writes.map((w) => [w.zone, w.after]));
    const digests = [...editsByZone.keys()].sort().map((z) => {
      const text = written.get(z) ?? input.serverYaml[z] ?? '';
      return `server.yaml.${z} sha256 ${createHash('sha256').update(text).digest('hex')}`;
    });
    const deployed = input.nodes.filter((n) => n.status === 'deployed');
    steps.push(
      ...globalConfSteps(
        guard(globalZone, ...digests, `serves ${nodeIds(deployed)}`),
        guard(globalZone, ...digests, `pending on ${pushedOn('pushGlobalConf', pushPending)}`),
      ),
    );
  }
  if (upgradeTargets.size > 0)
    steps.push(
      ...upgradeSteps(spec.packages, new Set(upgradeTargets.keys()), (target, pins) =>
        guard(
          zoneOfTarget(target),
          ...pins,
          `below the pin on ${pushedOn(forSubject('upgradeTag', target).id, upgradeTargets.get(target)!)}`,
        ),
      ),
    );
  steps.push(...migrationSteps);

  const installedVersions: Record<string, string> = {};
  for (const [names, list] of [
    [SERVER_PACKAGES, nodes.server],
    [PROXY_PACKAGES, nodes.proxy],
  ] as const) {
    for (const name of names) {
      const per = list.map((n) => [n.nodeId, input.nodeObservations[n.nodeId]?.packages?.[name]] as const);
      if (!per.some(([, v]) => v)) continue;
      const versions = new Set(per.map(([, v]) => v ?? 'none'));
      installedVersions[name] = (
        versions.size === 1 ? [...versions][0]! : per.map(([n, v]) => `${n}=${v ?? 'none'}`).join(', ')
      ).slice(0, 128);
    }
  }

  const blockedByViolations = violations.length > 0;
  return {
    violations,
    findings,
    migration,
    installedVersions,
    plan: makePlan(blockedByViolations ? [] : steps),
    stdin: blockedByViolations ? {} : stdin,
    pushing: blockedByViolations ? {} : pushing,
  };
}

/**
 * What the platform still needs when the runner asks (the plan is empty or its journal finished):
 * every step is planned from what the platform shows, so a step still planned after its plan
 * finished (a job that ended 0 and left no result) is named, never reported Ready.
 */
export function workLeft(plan: PlannedRunbook): string | undefined {
  const left = plan.steps.filter((s) => s.id !== 'installJobGuard');
  if (left.length === 0) return undefined;
  const jobs = left.filter((s) => s.job).map((s) => `${GUARD_PATH} release ${s.job!.dir}`);
  return `the platform still shows work for ${left.map((s) => s.id).join(', ')} (${left[0]!.description}) although plan ${plan.hash} finished; a finished plan is not run again${jobs.length > 0 ? `: verify on the firstbox why it left no result, set its jobs aside (${jobs.join('; ')}), then delete and apply the TagServer again to plan afresh` : ''}`;
}
