/**
 * Runbook R1 (tag service) as pure functions: preconditions, the config edits and their checks,
 * which nodes still need the packages, the migration state of each zone, and the ordered steps.
 * Every decision is "check before act": a key already set, a package already installed, a zone
 * whose migration log already exists on firstbox produce no step, so an already configured
 * platform gets an empty plan. No I/O here: the golden-plan tests run this directly.
 */
import { createHash } from 'node:crypto';
import type { MigrationResult, TagServerSpec } from '../../api/tagserver.js';
import { compareDebianVersions, versionAtLeast } from '../../facts/version.js';
import { makePlan, type PlannedRunbook, type Step } from '../../runbook/step.js';
import { seq, sh, shell, validated } from '../../ssh/command.js';
import {
  countsText,
  insertProblems,
  judgeMigration,
  type MigrationCounts,
  migrationStarted,
  parseMigrationOutput,
  type ZoneAudit,
} from './migration.js';
import {
  MIGRATION_LOG_DIR,
  type MigrationLog,
  migrateCommand,
  migrationLogPath,
  type NodeObservation,
  serverYamlPath,
} from './observe.js';
import { editYaml, type KeyEdit, pendingEdits, readKey, YamlEditError } from './yamledit.js';

export const MIN_INSTALLER = '4.6';
export const SERVER_PACKAGES = ['pitrix-ks-tag-server', 'pitrix-tag-server'];
export const PROXY_PACKAGES = ['pitrix-ks-proxy-tag', 'pitrix-tag-proxy'];
const MIN = 60_000;
const HOUR = 60 * MIN;

export interface Violation {
  reason: string;
  message: string;
}

/** A Zone object of the namespace as the preconditions need it. */
export interface ZoneInfo {
  name: string;
  zoneId: string;
  regionId?: string;
  global: boolean;
  ready: boolean;
  readyMessage?: string;
  installerVersion?: string;
  proxyHost?: string;
}

/** Preconditions that need no SSH: the global zone, its installer, the migration zones. */
export function staticPreconditions(spec: TagServerSpec, zones: readonly ZoneInfo[]): Violation[] {
  const v: Violation[] = [];
  const g = zones.find((z) => z.name === spec.zoneRef.name);
  if (!g) return [{ reason: 'ZoneNotFound', message: `Zone ${spec.zoneRef.name} does not exist; create it` }];
  if (!g.global)
    v.push({
      reason: 'NotGlobalZone',
      message: `Zone ${g.name} (${g.zoneId}) is not the global zone (spec.global is false); the tag service runs in the global zone: point spec.zoneRef at it`,
    });
  if (!g.ready)
    v.push({
      reason: 'ZoneNotReady',
      message: `Zone ${g.name} is not Ready${g.readyMessage ? ` (${g.readyMessage})` : ''}`,
    });
  else if (!g.installerVersion)
    v.push({ reason: 'InstallerVersionUnknown', message: `Zone ${g.name} reports no installer version yet` });
  else if (!safeAtLeast(g.installerVersion, MIN_INSTALLER))
    v.push({
      reason: 'InstallerTooOld',
      message: `installer ${g.installerVersion} on the firstbox of ${g.name} is older than ${MIN_INSTALLER}, which the tag service needs (R1); upgrade the installer first`,
    });
  for (const z of spec.migration?.zones ?? []) v.push(...zoneMissing(z, zones, 'spec.migration.zones'));
  return v;
}

/** Preconditions that need the platform's zone list: every sub zone in scope is a Ready Zone. */
export function subZonePreconditions(subZoneIds: readonly string[], zones: readonly ZoneInfo[]): Violation[] {
  return subZoneIds.flatMap((z) => zoneMissing(z, zones, 'sub zone of spec.enabledZones'));
}

function zoneMissing(zoneId: string, zones: readonly ZoneInfo[], why: string): Violation[] {
  const z = zones.find((x) => x.zoneId === zoneId);
  if (!z)
    return [
      {
        reason: 'ZoneNotFound',
        message: `zone ${zoneId} (${why}) has no Zone object in this namespace; create a Zone with spec.zoneId: ${zoneId}`,
      },
    ];
  if (!z.ready)
    return [
      {
        reason: 'ZoneNotReady',
        message: `Zone ${z.name} (${zoneId}, ${why}) is not Ready${z.readyMessage ? ` (${z.readyMessage})` : ''}`,
      },
    ];
  return [];
}

function safeAtLeast(v: string, min: string): boolean {
  try {
    return versionAtLeast(v, min);
  } catch {
    return false;
  }
}

/** The platform's zones that must point at the tag proxy: in an enabled region (or enabled themselves), not global. */
export function subZonesOf(
  enabled: readonly string[],
  globalZoneId: string,
  platformZones:
    | ReadonlyArray<{ zoneId: string; regionId: string | null; isGlobalZone: boolean }>
    | undefined,
  zones: readonly ZoneInfo[],
): string[] {
  const list = platformZones
    ? platformZones.map((z) => ({
        zoneId: z.zoneId,
        regionId: z.regionId ?? undefined,
        global: z.isGlobalZone,
      }))
    : zones.map((z) => ({ zoneId: z.zoneId, regionId: z.regionId, global: z.global }));
  return list
    .filter(
      (z) =>
        !z.global &&
        z.zoneId !== globalZoneId &&
        (enabled.includes(z.zoneId) || (z.regionId !== undefined && enabled.includes(z.regionId))),
    )
    .map((z) => z.zoneId)
    .sort();
}

// ---- config ------------------------------------------------------------------------------------

export function globalEdits(spec: TagServerSpec, current?: string): KeyEdit[] {
  let zonesValue = spec.enabledZones.join(',');
  // The same set in another order is already right: keep the file's spelling.
  if (current !== undefined) {
    try {
      const have = readKey(current, 'common.zones_enable_tag_server');
      if (typeof have === 'string' && sameSet(have, spec.enabledZones)) zonesValue = have;
    } catch {
      // invalid YAML: reported by the edit
    }
  }
  return [
    { key: 'common.enable_global_tag_server', value: true },
    { key: 'common.zones_enable_tag_server', value: zonesValue },
    { key: 'tag_server.register_to_zk', value: spec.registerToZk },
  ];
}

export function subZoneEdits(proxyHost: string): KeyEdit[] {
  return [
    { key: 'common.enable_global_tag_server', value: true },
    { key: 'fg_server.tag_proxy_host', value: proxyHost },
  ];
}

function sameSet(csv: string, want: readonly string[]): boolean {
  const have = csv
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return have.length === want.length && want.every((w) => have.includes(w));
}

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
}

const sha256 = (t: string) => createHash('sha256').update(t).digest('hex');

/** Webservice node a zone's migration runs on: the VIP holder, else the first deployed one by id. */
export function migrationNode(nodes: readonly NodeInfo[], zoneId: string): NodeInfo | undefined {
  const ws = nodes
    .filter((n) => n.zoneId === zoneId && n.roles.includes('webservice') && n.status === 'deployed')
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  return ws.find((n) => n.vip) ?? ws[0];
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

function installedOf(obs: NodeObservation | undefined, names: readonly string[]): string | undefined {
  for (const n of names) if (obs?.packages?.[n]) return obs.packages[n];
  return undefined;
}

// ---- the plan ----------------------------------------------------------------------------------

export function planTagServer(input: TagServerPlanInput): TagServerPlan {
  const { spec } = input;
  const violations: Violation[] = [];
  const findings: ConfigFinding[] = [];
  const steps: Step[] = [];
  const stdin: Record<string, string> = {};
  const fb = { kind: 'firstbox' } as const;
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
  const writes: Array<{ zone: string; path: string; before: string; after: string; keys: string[] }> = [];
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
  for (const n of nodes.config) {
    const text = input.nodeObservations[n.nodeId]?.pushedConfig;
    const edits = editsByZone.get(n.zoneId);
    if (text === undefined || !edits) continue;
    try {
      const pending = pendingEdits(text, edits, `${n.nodeId}:/pitrix/conf/server.yaml`);
      if (pending.length > 0) {
        pushNeeded = true;
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
    }
  }

  // Packages: install (R1.1-2) where missing, upgrade (R1.8) where spec.packages pins a newer version.
  const serverMissing = nodes.server.filter(
    (n) => !installedOf(input.nodeObservations[n.nodeId], SERVER_PACKAGES),
  );
  const proxyMissingZones = [
    ...new Set(
      nodes.proxy
        .filter((n) => !installedOf(input.nodeObservations[n.nodeId], PROXY_PACKAGES))
        .map((n) => n.zoneId),
    ),
  ].sort((a, b) => (a === globalZone ? -1 : b === globalZone ? 1 : a.localeCompare(b)));
  const upgradeTargets = new Set<string>();
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
    for (const n of carriers) upgradeTargets.add(isServer ? `${n.zoneId}-webservice` : `${n.zoneId}-proxy`);
  }

  // Migration state of each zone (R1.6-7): from the logs on firstbox, judged against the prediction.
  const migration: ZoneMigration[] = [];
  const requireUpdatePass = spec.migration?.verify ?? true;
  let blocked = false;
  const migrationSteps: Step[] = [];
  for (const zoneId of spec.migration?.zones ?? []) {
    const zone = validated('ZONE_ID', zoneId, 'spec.migration.zones[]');
    const logs = input.logs[zone] ?? {};
    const prev = input.previous[zone];
    const insert = logs.insert?.present ? parseMigrationOutput(logs.insert.text) : undefined;
    const update = logs.update?.present ? parseMigrationOutput(logs.update.text) : undefined;
    const started = !!logs.insert?.present && migrationStarted(logs.insert.text);
    const finishedWithoutSummary = started && !insert && /^exec_nodes:/m.test(logs.insert!.text);
    const audit = input.audit[zone];
    const predicted =
      started && prev?.predictedWarnings !== undefined ? prev.predictedWarnings : audit?.predictedWarnings;
    const verdict = judgeMigration({
      insert,
      insertStartedWithoutSummary: finishedWithoutSummary,
      update,
      predictedWarnings: predicted,
      requireUpdatePass,
    });
    const running = started && !insert && !finishedWithoutSummary;
    const state: ZoneMigration['state'] = running ? 'running' : verdict.state;
    const node = migrationNode(input.nodes, zone);
    const result: MigrationResult = {
      ...(insert?.totalCount !== undefined
        ? { totalCount: insert.totalCount }
        : audit
          ? { totalCount: audit.totalCount }
          : {}),
      ...(insert
        ? {
            inserted: insert.inserted,
            updated: insert.updated,
            errors: insert.errors,
            warnings: insert.warnings,
          }
        : {}),
      ...(predicted !== undefined ? { predictedWarnings: predicted } : {}),
      ...(update ? { updatePassInserted: update.inserted, updatePassErrors: update.errors } : {}),
      verified: state === 'verified',
      ...(node ? { node: node.nodeId } : {}),
      ...(audit
        ? { sameNameTags: audit.sameName }
        : prev?.sameNameTags
          ? { sameNameTags: prev.sameNameTags }
          : {}),
      ...(audit && audit.violations.length > 0
        ? { modelViolations: audit.violations.slice(0, 32) }
        : prev?.modelViolations
          ? { modelViolations: prev.modelViolations }
          : {}),
      ...(prev?.finishedAt && state === 'verified' ? { finishedAt: prev.finishedAt } : {}),
      ...(verdict.problems.length > 0 ? { message: verdict.problems.join('; ').slice(0, 1024) } : {}),
    };
    migration.push({ zone, result, state, problems: verdict.problems, ...(insert ? { insert } : {}) });
    if (state === 'failed' || state === 'running') blocked = true;
    if (blocked || state === 'verified' || state === 'failed') continue;
    if (!node) {
      violations.push({
        reason: 'NoWebserviceNode',
        message: `zone ${zone} has no deployed webservice node to run migrate_for_tag_server.py on (R1.6)`,
      });
      blocked = true;
      continue;
    }
    if (!started) {
      if (!audit) {
        violations.push({
          reason: 'TagAuditFailed',
          message: `the pre-flight probe of zone ${zone} (-a describe on ${node.nodeId}) gave no usable DescribeTagsResponse; nothing is migrated without it`,
        });
        blocked = true;
        continue;
      }
      migrationSteps.push(insertStep(zone, node.nodeId, audit.predictedWarnings));
    }
    if (requireUpdatePass && !update) migrationSteps.push(updateStep(zone, node.nodeId));
  }

  // ---- steps, in runbook order (config first: it is verified before anything is built) ----
  for (const w of writes) {
    const id = `writeServerYaml-${w.zone}`;
    stdin[id] = w.after;
    const before = sha256(w.before);
    const after = sha256(w.after);
    steps.push({
      id,
      description: `R1.${w.zone === globalZone ? 3 : 4} set ${w.keys.join(', ')} in ${w.path} (other keys and comments kept; the new content arrives on stdin, sha256 ${after.slice(0, 12)})`,
      host: fb,
      command: sh(
        `write ${w.path}`,
      )`f=${w.path}; [ "$(sha256sum < "$f" | cut -c1-64)" = ${before} ] || { echo "$f changed since the operator read it; the next reconcile reads it again" >&2; exit 1; }; [ -e "$f.before-tagserver" ] || cp -p "$f" "$f.before-tagserver"; cp -p "$f" "$f.tagserver-new" && cat > "$f.tagserver-new" && [ "$(sha256sum < "$f.tagserver-new" | cut -c1-64)" = ${after} ] && mv "$f.tagserver-new" "$f"`,
      check: sh(`${w.path} already written?`)`[ "$(sha256sum < ${w.path} | cut -c1-64)" = ${after} ]`,
      timeoutMs: MIN,
    });
  }
  if (writes.length > 0) {
    const zones = [...editsByZone.keys()];
    steps.push({
      id: 'verifyServerYaml',
      description: `R1.3-4 read back ${zones.map((z) => `server.yaml.${z}`).join(', ')} and verify the tag-service keys before building`,
      host: fb,
      command: seq(
        zones.map(
          (z) => sh(`read back server.yaml.${z}`)`printf '@@file %s@@\\n' ${z}; cat ${serverYamlPath(z)}`,
        ),
        'read back server.yaml',
      ),
      verify: (stdout) => verifyReadBack(stdout, editsByZone),
      idempotent: true,
      timeoutMs: MIN,
    });
  }
  const buildAndInstall: Step[] = [];
  if (proxyMissingZones.length > 0) buildAndInstall.push(build('buildProxyTag', 'pitrix-ks-proxy-tag'));
  if (serverMissing.length > 0) buildAndInstall.push(build('buildTagServer', 'pitrix-ks-tag-server'));
  if (serverMissing.length > 0)
    buildAndInstall.push(install('installTagServer', `${globalZone}-webservice`, 'pitrix-ks-tag-server'));
  for (const z of proxyMissingZones)
    buildAndInstall.push(install(`installProxyTag-${z}`, `${z}-proxy`, 'pitrix-ks-proxy-tag'));
  steps.push(...buildAndInstall);
  if (pushNeeded) {
    steps.push({
      id: 'buildGlobalConf',
      description:
        'R1.5 rebuild pitrix-global-conf from /pitrix/conf/variables/global (build_global_conf.sh)',
      host: fb,
      command: shell(['/pitrix/upgrade/build_global_conf.sh'], 'build pitrix-global-conf'),
      idempotent: true,
      timeoutMs: 30 * MIN,
    });
    steps.push({
      id: 'pushGlobalConf',
      description: 'R1.5 push pitrix-global-conf to all nodes (update.sh all pitrix-global-conf)',
      host: fb,
      command: shell(['/pitrix/upgrade/update.sh', 'all', 'pitrix-global-conf'], 'push pitrix-global-conf'),
      verify: (out) =>
        /update\.sh: done/.test(out) ? undefined : 'update.sh did not print "update.sh: done"',
      idempotent: true,
      timeoutMs: 2 * HOUR,
    });
  }
  if (upgradeTargets.size > 0) {
    steps.push({
      id: 'scanRepository',
      description: 'R1.8 index the packages placed in /pitrix/repo (scan_all.sh)',
      host: fb,
      command: shell(['/pitrix/bin/scan_all.sh'], 'scan the repository'),
      idempotent: true,
      timeoutMs: 30 * MIN,
    });
    const pins = (spec.packages ?? []).filter((p) =>
      [...SERVER_PACKAGES, ...PROXY_PACKAGES].includes(p.name),
    );
    for (const target of [...upgradeTargets].sort()) {
      steps.push({
        id: `upgradeTag-${target}`,
        description: `R1.8 upgrade the tag packages on ${target} (update.sh ${target} tag; the runbook's "webservice" target would also install the group on sub-zone webservice nodes that carry none)`,
        host: fb,
        command: shell(
          ['/pitrix/upgrade/update.sh', validated('NODE_ID', target, 'update target'), 'tag'],
          'upgrade tag packages',
        ),
        verify: (out) => verifyUpgrade(out, pins),
        idempotent: true,
        timeoutMs: HOUR,
      });
    }
  }
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
  };
}

function build(id: string, pkg: string): Step {
  return {
    id,
    description: `R1.1 build ${pkg} (build_pkgs.py -p ${pkg})`,
    host: { kind: 'firstbox' },
    command: shell(['/pitrix/build/build_pkgs.py', '-p', pkg], `build ${pkg}`),
    idempotent: true,
    timeoutMs: HOUR,
  };
}

function install(id: string, target: string, pkg: string): Step {
  return {
    id,
    description: `R1.2 install ${pkg} on ${target} (update.sh ${target} ${pkg})`,
    host: { kind: 'firstbox' },
    command: shell(
      ['/pitrix/upgrade/update.sh', validated('NODE_ID', target, 'update target'), pkg],
      `install ${pkg}`,
    ),
    verify: (out) =>
      new RegExp(`^update ${pkg.replaceAll('.', '\\.')} on \\S+: \\S+ -> \\S+$`, 'm').test(out) &&
      /update\.sh: done/.test(out)
        ? undefined
        : `update.sh did not report ${pkg} installed on ${target}`,
    idempotent: true,
    timeoutMs: HOUR,
  };
}

/**
 * R1.6: runs once. Its output goes to a log on firstbox; the check says "done" as soon as that log
 * shows the migration started, so neither a retry nor a restarted operator runs the insert again.
 */
function insertStep(zone: string, nodeId: string, predicted: number): Step {
  const log = migrationLogPath(zone, 'insert');
  return {
    id: `migrateInsert-${zone}`,
    description: `R1.6 migrate the tags of ${zone} into the tag service (-a insert on ${nodeId}; ${predicted} warning(s) predicted); runs once, its log ${log} marks it done`,
    host: { kind: 'firstbox' },
    command: sh(
      `migrate ${zone} (insert)`,
    )`mkdir -p ${MIGRATION_LOG_DIR} && { ${migrateCommand(nodeId, zone, 'insert')}; } > ${log} 2>&1; rc=$?; cat ${log}; exit $rc`,
    check: sh(`${zone} insert already ran?`)`grep -Eq '^There are [0-9]+ tag items' ${log}`,
    verify: (out) => {
      const c = parseMigrationOutput(out);
      if (!c) return 'no summary line (tag: N + N ^ N X N W ...) in the output';
      const p = insertProblems(c, predicted);
      return p.length > 0 ? `${countsText(c)}: ${p.join('; ')}` : undefined;
    },
    timeoutMs: 4 * HOUR,
  };
}

/** R1.7: the update pass must insert nothing. Runs once, like the insert. */
function updateStep(zone: string, nodeId: string): Step {
  const log = migrationLogPath(zone, 'update');
  return {
    id: `migrateUpdate-${zone}`,
    description: `R1.7 confirm the migration of ${zone} (-a update on ${nodeId}): it must insert nothing`,
    host: { kind: 'firstbox' },
    command: sh(
      `migrate ${zone} (update)`,
    )`mkdir -p ${MIGRATION_LOG_DIR} && { ${migrateCommand(nodeId, zone, 'update')}; } > ${log} 2>&1; rc=$?; cat ${log}; exit $rc`,
    check: sh(`${zone} update pass already ran?`)`grep -Eq '^There are [0-9]+ tag items' ${log}`,
    verify: (out) => {
      const c = parseMigrationOutput(out);
      if (!c) return 'no summary line (tag: N + N ^ N X N W ...) in the output';
      const p: string[] = [];
      if (c.inserted > 0) p.push(`inserted ${c.inserted} (must be 0)`);
      if (c.errors > 0) p.push(`${c.errors} error(s)`);
      return p.length > 0 ? `update pass: ${countsText(c)}: ${p.join('; ')}` : undefined;
    },
    timeoutMs: 4 * HOUR,
  };
}

/** Read-back check of the written files (R1.3-4): every key holds its value. */
export function verifyReadBack(
  stdout: string,
  editsByZone: ReadonlyMap<string, KeyEdit[]>,
): string | undefined {
  const files = new Map<string, string>();
  const parts = stdout.split(/^@@file ([a-z0-9-]+)@@$/m);
  for (let i = 1; i + 1 < parts.length; i += 2) files.set(parts[i]!, parts[i + 1]!.replace(/^\n/, ''));
  const problems: string[] = [];
  for (const [zone, edits] of editsByZone) {
    const text = files.get(zone);
    if (text === undefined) {
      problems.push(`server.yaml.${zone} was not read back`);
      continue;
    }
    try {
      for (const p of pendingEdits(text, edits, `server.yaml.${zone}`))
        problems.push(`server.yaml.${zone}: ${p.key} is ${p.before ?? '(missing)'}, expected ${p.after}`);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/** `update PKG on NODE: OLD -> NEW` for every pinned package: NEW at least the pinned version. */
export function verifyUpgrade(
  out: string,
  pins: ReadonlyArray<{ name: string; version: string }>,
): string | undefined {
  if (!/update\.sh: done/.test(out)) return 'update.sh did not print "update.sh: done"';
  const problems: string[] = [];
  for (const m of out.matchAll(/^update (\S+) on (\S+): (\S+) -> (\S+)$/gm)) {
    const pin = pins.find((p) => p.name === m[1]);
    if (pin && compareDebianVersions(m[4]!, pin.version) < 0)
      problems.push(`${m[1]} on ${m[2]} is ${m[4]}, pinned ${pin.version}`);
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}
