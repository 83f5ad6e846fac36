/**
 * Runbook R3 (BOSS V2, cronus, websupervisor) as a pure function: from the Component's spec, the
 * zone, the observed facts and the previous journal, decide which prerequisites fail (nothing runs
 * then), what is installed, how healthy it is, and the ordered steps: remove BOSS V1, deploy,
 * upgrade, apply configuration. No I/O here: the golden-plan tests run this directly.
 *
 * Plan stability: the observation changes while a plan runs (V1 programs disappear, packages get
 * installed), so a section whose steps are in the previous, unfinished journal stays in the plan
 * until that journal completes; every command of a section is built from inputs that its own steps
 * do not change (node roles, the template, files edited idempotently), so the hash stays the same.
 */
import type { Plan } from '../../api/common.js';
import type { ComponentSpec } from '../../api/component.js';
import { patternRegExp } from '../../api/patterns.js';
import { compareDebianVersions, versionAtLeast } from '../../facts/version.js';
import { isComplete } from '../../runbook/journal.js';
import { makePlan, type PlannedRunbook, type Step } from '../../runbook/step.js';
import { pipe, sh, shell, validated } from '../../ssh/command.js';
import type { ShellCommand } from '../../ssh/types.js';
import {
  boss2YamlPath,
  type ComponentFacts,
  DJANGO_MANAGE,
  deployLogPath,
  jobFilePath,
  LOCAL_CONFIG,
  parseBossVersions,
  REPO_DIRS,
  repoVersions,
  SERVER_YAML_DIR,
  splitExecNodes,
  VM_TEMPLATE,
  vmVariablesPath,
  zoneVariablesPath,
} from './observe.js';
import { applySettings, ConfigError, flattenOverrides, settingsHold, type YamlSetting } from './yamledit.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

export const MIN_INSTALLER = '4.3';
export const ZOOCASSA_OS_CHECK_UNTIL = '4.4.3';
export const MIN_ZOOCASSA_OS = '14.04.5';

/** BOSS V1 programs per node role, in the order R3 step 1 removes them. */
export const BOSS_V1_PROGRAMS: ReadonlyArray<readonly [role: string, programs: readonly string[]]> = [
  ['webservice', ['boss_collector', 'boss_aggregator', 'boss_aggregator_proxy']],
  ['boss', ['boss_hypervisor', 'boss_hypervisor_proxy', 'pitrix-boss-console']],
  ['hyper', ['boss_daemon']],
];
const V1_PROGRAM_SET = new Set(BOSS_V1_PROGRAMS.flatMap(([, p]) => p));

/** Packages BOSS V2 consists of (`django_manage.sh versions` lists them). */
export const BOSS_PACKAGES = [
  'pitrix-ks-boss2',
  'pitrix-ks-boss2-console',
  'pitrix-ks-boss2-conf',
  'pitrix-transit-upload-server',
] as const;

interface Flavor {
  /** The role whose nodes carry it, and the package and program that say it is there. */
  role: string;
  pkg: string;
  program: string;
}
const FLAVORS: Record<ComponentSpec['name'], Flavor> = {
  boss: { role: 'boss', pkg: 'pitrix-ks-boss2', program: 'boss2_server' },
  cronus: { role: 'webservice', pkg: 'pitrix-cronus', program: 'cronus_server' },
  websupervisor: {
    role: 'webservice',
    pkg: 'pitrix-ks-webservice-websupervisor',
    program: 'websupervisor',
  },
};

export interface ZoneView {
  zoneId: string;
  mode: 'standard' | 'fusion' | 'devops';
  global: boolean;
  /** Zone spec.proxyHost, used as the proxy VIP when it is an address. */
  proxyHost?: string;
}

export interface ComponentPlanInput {
  spec: ComponentSpec;
  zone: ZoneView;
  facts: ComponentFacts;
  /** A `cronus` Component of the same zone is Ready. */
  cronusReady: boolean;
  /** status.plan: the journal of the previous plan. */
  previous?: Plan;
}

export interface Prerequisite {
  /** Condition type: InstallerSupported, ZoneEligible, CronusReady, ZoocassaOsSupported. */
  type: string;
  ok: boolean;
  reason: string;
  message: string;
}

export interface Violation {
  reason: string;
  message: string;
}

export interface Health {
  healthy: boolean;
  message?: string;
}

export interface ComponentPlan {
  prerequisites: Prerequisite[];
  /** Failing prerequisites and other reasons nothing may run. */
  violations: Violation[];
  installed: boolean;
  v1Leftovers: string[];
  versions: Record<string, string>;
  health?: Health;
  /** The built-in account (`boss@DOMAIN`) and whether it still takes the default password. */
  defaultCredentials?: { account: string; accepted: boolean };
  /** state: Absent on something the runbooks cannot remove. */
  unsupported?: string;
  sections: string[];
  plan: PlannedRunbook;
}

const fb = { kind: 'firstbox' } as const;

export function planComponent(input: ComponentPlanInput): ComponentPlan {
  const { spec, zone, facts } = input;
  const zoneId = validated('ZONE_ID', zone.zoneId, 'zone.spec.zoneId');
  const flavor = FLAVORS[spec.name];
  const zoneNodes = facts.nodes.filter((n) => n.zoneId === zoneId);
  const roleNodes = zoneNodes.filter((n) => n.roles.includes(flavor.role) && n.status === 'deployed');
  const installed =
    roleNodes.length > 0 && roleNodes.every((n) => !!facts.nodeObs[n.nodeId]?.packages[flavor.pkg]);
  const v1Leftovers = bossV1Leftovers(facts);
  const report = observeRunning(spec.name, flavor, facts, roleNodes, installed);

  const result: ComponentPlan = {
    prerequisites: [],
    violations: [],
    installed,
    v1Leftovers,
    ...report,
    sections: [],
    plan: makePlan([]),
  };

  if (spec.state === 'Absent') {
    if (installed || (spec.name === 'boss' && v1Leftovers.length > 0))
      result.unsupported =
        `state: Absent: runbook R3 tells how to remove only BOSS V1, not ${describe(spec.name)}; nothing was ` +
        'removed. Remove it by hand with the vendor documentation, or set state: Present.';
    return result;
  }

  // ---- prerequisites: each one a condition; nothing runs while one fails ----
  const prereq = (type: string, ok: boolean, reason: string, message: string) =>
    result.prerequisites.push({ type, ok, reason, message });
  const installerOk = safeAtLeast(facts.installerVersion, MIN_INSTALLER);
  prereq(
    'InstallerSupported',
    installerOk,
    installerOk ? 'InstallerSupported' : 'InstallerTooOld',
    installerOk
      ? `installer ${facts.installerVersion} >= ${MIN_INSTALLER}`
      : `installer ${facts.installerVersion} on firstbox is older than ${MIN_INSTALLER}, which ${describe(spec.name)} needs (R3); upgrade the installer first`,
  );
  if (spec.name === 'boss') {
    const listed = facts.zones?.find((z) => z.zoneId === zoneId);
    const eligible = zone.global || !!listed?.isGlobalZone;
    prereq(
      'ZoneEligible',
      eligible,
      eligible ? 'GlobalZone' : 'SubZone',
      eligible
        ? `zone ${zoneId} is the global zone`
        : `zone ${zoneId} is a sub region/zone: R3 deploys only cronus there, BOSS only in the global zone (or a region's main zone); use name: cronus`,
    );
    if (!installed) {
      prereq(
        'CronusReady',
        input.cronusReady,
        input.cronusReady ? 'CronusReady' : 'CronusNotReady',
        input.cronusReady
          ? 'the cronus Component of this zone is Ready'
          : `BOSS V2 needs cronus deployed first (R3): create a Component with name: cronus and zoneRef ${zoneId}'s Zone, and wait for it to be Ready`,
      );
      const checkOs = !safeAtLeast(facts.installerVersion, ZOOCASSA_OS_CHECK_UNTIL);
      if (checkOs) {
        const zoocassa = zoneNodes.filter((n) => n.roles.includes('zoocassa'));
        const bad: string[] = [];
        for (const n of zoocassa) {
          const o = facts.nodeObs[n.nodeId];
          if (!o?.osVersion)
            bad.push(
              `${n.nodeId} (${n.mgmtIp}): OS unknown (${o?.error ?? 'lsb_release -ds printed nothing'})`,
            );
          else if (!safeAtLeast(o.osVersion, MIN_ZOOCASSA_OS))
            bad.push(`${n.nodeId} (${n.mgmtIp}) runs ${o.osDescription ?? o.osVersion}`);
        }
        prereq(
          'ZoocassaOsSupported',
          bad.length === 0,
          bad.length === 0 ? 'ZoocassaOsSupported' : 'ZoocassaOsTooOld',
          bad.length === 0
            ? `zoocassa nodes run Ubuntu >= ${MIN_ZOOCASSA_OS}`
            : `with installer ${facts.installerVersion} (< ${ZOOCASSA_OS_CHECK_UNTIL}) BOSS V2 needs zoocassa nodes on Ubuntu >= ${MIN_ZOOCASSA_OS}: ${bad.join('; ')}; upgrade their OS or the installer to ${ZOOCASSA_OS_CHECK_UNTIL}+`,
        );
      } else {
        prereq(
          'ZoocassaOsSupported',
          true,
          'NotRequired',
          `installer ${facts.installerVersion} >= ${ZOOCASSA_OS_CHECK_UNTIL} does not require a zoocassa OS version`,
        );
      }
    }
  }
  for (const p of result.prerequisites)
    if (!p.ok) result.violations.push({ reason: p.reason, message: p.message });
  if (result.violations.length > 0) return result;

  // ---- sections ----
  const steps: Step[] = [];
  const sticky = (prefix: string) =>
    !!input.previous &&
    !isComplete(input.previous) &&
    !!input.previous.steps?.some((s) => s.id.startsWith(prefix));
  const add = (section: string, make: () => Step[]) => {
    try {
      steps.push(...make());
      result.sections.push(section);
    } catch (err) {
      if (err instanceof ConfigError || err instanceof PlanError)
        result.violations.push({
          reason: err instanceof PlanError ? err.reason : 'InvalidConfig',
          message: err.message,
        });
      else throw err;
    }
  };

  if (spec.name === 'boss' && ((!installed && v1Leftovers.length > 0) || sticky('v1-')))
    add('removeV1', () => removeV1Steps(input));
  if (spec.name !== 'websupervisor' && (!installed || sticky('deploy-')))
    add('deploy', () =>
      deploySteps(
        input,
        zoneId,
        flavor,
        roleNodes.map((n) => n.nodeId),
      ),
    );
  if (spec.name === 'websupervisor' && (!installed || sticky('websupervisor-')))
    add('websupervisor', () =>
      websupervisorSteps(
        flavor,
        roleNodes.map((n) => n.nodeId),
      ),
    );
  if (installed || sticky('upgrade-') || sticky('conf-')) {
    const pins = spec.packages ?? [];
    if (spec.name === 'boss') {
      add('upgrade', () => {
        const outdated = outdatedPins(
          input,
          roleNodes.map((n) => n.nodeId),
        );
        return outdated.length > 0 || sticky('upgrade-')
          ? upgradeSteps(
              input,
              zoneId,
              roleNodes.map((n) => n.nodeId),
              outdated,
            )
          : [];
      });
      for (const c of CONFIGS) {
        const overrides = (spec.config as Record<string, unknown> | undefined)?.[c.key];
        if (!overrides || typeof overrides !== 'object') continue;
        add(`conf-${c.key}`, () => {
          const settings = flattenOverrides(overrides as Record<string, unknown>, `spec.config.${c.key}`);
          const path = c.path(zoneId);
          if (settings.length === 0) return [];
          if (settingsHold(facts.files[path], settings) && !sticky(`conf-${c.key}-`)) return [];
          return configSteps(c.key, path, c.pkg, facts.files[path], settings);
        });
      }
    } else {
      const installedVersions = report.versions;
      const newer = pins.filter(
        (p) => !installedVersions[p.name] || compareDebianVersions(p.version, installedVersions[p.name]!) > 0,
      );
      if (newer.length > 0)
        result.violations.push({
          reason: 'UpgradeUnsupported',
          message: `spec.packages: runbook R3 describes upgrades of BOSS V2 only, not of ${spec.name} (${newer.map((p) => `${p.name} ${p.version}`).join(', ')}); nothing was done`,
        });
    }
    if (spec.name !== 'boss' && spec.config && Object.keys(spec.config).length > 0)
      result.violations.push({
        reason: 'ConfigUnsupported',
        message: `spec.config: only BOSS V2 has configuration in runbook R3 (boss2, console); remove it from this ${spec.name} Component`,
      });
  }
  result.sections = result.sections.filter((s) => steps.some((st) => st.id.startsWith(sectionPrefix(s))));
  if (result.violations.length > 0) return result;
  result.plan = makePlan(steps);
  return result;
}

function sectionPrefix(section: string): string {
  return section === 'removeV1' ? 'v1-' : section === 'deploy' ? 'deploy-' : `${section}-`;
}

class PlanError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function describe(name: ComponentSpec['name']): string {
  return name === 'boss' ? 'BOSS V2' : name;
}

function safeAtLeast(actual: string, min: string): boolean {
  try {
    return versionAtLeast(actual, min);
  } catch {
    return false;
  }
}

/** BOSS V1 as R3 step 1 finds it: its programs on any node, its nginx site, boss.yaml* files. */
export function bossV1Leftovers(facts: ComponentFacts): string[] {
  const out: string[] = [];
  for (const n of facts.nodes) {
    const o = facts.nodeObs[n.nodeId];
    for (const p of o?.programs ?? []) if (V1_PROGRAM_SET.has(p.name)) out.push(`${n.nodeId}: ${p.name}`);
    for (const f of o?.nginxBossSite ?? []) out.push(`${n.nodeId}: ${f}`);
  }
  for (const f of facts.bossYamlFiles) out.push(`firstbox: ${SERVER_YAML_DIR}/${f}`);
  return out;
}

function observeRunning(
  name: ComponentSpec['name'],
  flavor: Flavor,
  facts: ComponentFacts,
  roleNodes: ComponentFacts['nodes'],
  installed: boolean,
): Pick<ComponentPlan, 'versions' | 'health' | 'defaultCredentials'> {
  if (!installed) return { versions: {} };
  if (name === 'boss') {
    const out: Pick<ComponentPlan, 'versions' | 'health' | 'defaultCredentials'> = {
      versions: facts.versions?.exitCode === 0 ? parseBossVersions(facts.versions.output) : {},
    };
    if (facts.health) {
      const ok = facts.health.exitCode === 0 && /^ok\b/m.test(facts.health.output);
      out.health = ok
        ? { healthy: true }
        : {
            healthy: false,
            message: `django_manage.sh areyouok (exit ${facts.health.exitCode}): ${facts.health.output.slice(0, 1500) || 'no output'}`,
          };
    }
    if (facts.password && (facts.password.exitCode === 0 || facts.password.exitCode === 3)) {
      const account = /^(\S+@\S+?):/m.exec(facts.password.output)?.[1] ?? 'boss@DOMAIN';
      out.defaultCredentials = { account, accepted: facts.password.exitCode === 0 };
    }
    return out;
  }
  const versions: Record<string, string> = {};
  const problems: string[] = [];
  for (const n of roleNodes) {
    const o = facts.nodeObs[n.nodeId];
    const v = o?.packages[flavor.pkg];
    if (v) {
      const prev = versions[flavor.pkg];
      versions[flavor.pkg] = prev && compareDebianVersions(prev, v) < 0 ? prev : (prev ?? v);
    }
    if (!o?.reached) problems.push(`${n.nodeId}: unreachable (${o?.error ?? 'no answer'})`);
    else {
      const p = o.programs?.find((x) => x.name === flavor.program);
      if (!p) problems.push(`${n.nodeId}: program ${flavor.program} missing`);
      else if (p.state !== 'RUNNING') problems.push(`${n.nodeId}: ${flavor.program} ${p.state}`);
    }
  }
  return {
    versions,
    health: problems.length ? { healthy: false, message: problems.join('; ') } : { healthy: true },
  };
}

// ---- R3 step 1: remove BOSS V1 ----

function execNodes(target: string, command: string, purpose: string): ShellCommand {
  return shell(['/pitrix/upgrade/exec_nodes.sh', '-f', target, command], purpose);
}

/** Every node of `nodeIds` answered through exec_nodes.sh (a refused connection is a failure). */
function verifyReached(nodeIds: readonly string[]) {
  return (stdout: string): string | undefined => {
    const blocks = splitExecNodes(stdout);
    const problems: string[] = [];
    for (const id of nodeIds) {
      const b = blocks.get(id);
      if (!b) problems.push(`${id}: no output from exec_nodes.sh`);
      else if (/ssh: connect to host|Connection refused|No route to host/.test(b.text))
        problems.push(`${id}: ${b.text.trim().split('\n')[0]}`);
    }
    return problems.length ? problems.join('; ') : undefined;
  };
}

function removeV1Steps(input: ComponentPlanInput): Step[] {
  const { facts, zone } = input;
  const steps: Step[] = [];
  const nodesOf = (role: string) =>
    facts.nodes.filter((n) => n.roles.includes(role) && n.status === 'deployed').map((n) => n.nodeId);
  for (const [role, programs] of BOSS_V1_PROGRAMS) {
    const ids = nodesOf(role);
    if (ids.length === 0) continue;
    for (const p of programs)
      steps.push({
        id: `v1-${role}-stop-${p}`,
        description: `R3.1 stop BOSS V1 program ${p} on ${role} nodes`,
        host: fb,
        command: execNodes(role, `supervisorctl stop ${p}`, `stop ${p}`),
        // `supervisorctl stop` of a program that is already gone fails on that node: fine here.
        acceptExitCodes: [0, 1],
        verify: verifyReached(ids),
        idempotent: true,
        timeoutMs: 10 * MIN,
      });
    for (const p of programs)
      steps.push({
        id: `v1-${role}-rm-${p}`,
        description: `R3.1 remove the supervisor config of ${p} on ${role} nodes`,
        host: fb,
        command: execNodes(role, `rm -f /etc/supervisor/conf.d/${p}.conf`, `remove ${p}.conf`),
        verify: verifyReached(ids),
        idempotent: true,
        timeoutMs: 10 * MIN,
      });
    for (const action of ['reread', 'update'])
      steps.push({
        id: `v1-${role}-${action}`,
        description: `R3.1 supervisorctl ${action} on ${role} nodes`,
        host: fb,
        command: execNodes(role, `supervisorctl ${action}`, `supervisorctl ${action}`),
        verify: verifyReached(ids),
        idempotent: true,
        timeoutMs: 10 * MIN,
      });
  }
  const proxies = nodesOf('proxy');
  if (proxies.length > 0) {
    for (const dir of ['sites-enabled', 'sites-available'])
      steps.push({
        id: `v1-proxy-rm-${dir}`,
        description: `R3.1 remove the BOSS V1 nginx site /etc/nginx/${dir}/boss.conf on proxy nodes`,
        host: fb,
        command: execNodes('proxy', `rm -f /etc/nginx/${dir}/boss.conf`, `remove ${dir}/boss.conf`),
        verify: verifyReached(proxies),
        idempotent: true,
        timeoutMs: 10 * MIN,
      });
    steps.push({
      id: 'v1-proxy-reload-nginx',
      description: 'R3.1 reload nginx on proxy nodes',
      host: fb,
      command: execNodes('proxy', 'service nginx reload', 'reload nginx'),
      verify: verifyReached(proxies),
      idempotent: true,
      timeoutMs: 10 * MIN,
    });
  }
  steps.push({
    id: 'v1-rm-boss-yaml',
    description: `R3.1 remove ${SERVER_YAML_DIR}/boss.yaml*`,
    host: fb,
    command: sh('remove boss.yaml*')`rm -f ${SERVER_YAML_DIR}/boss.yaml*`,
    idempotent: true,
    timeoutMs: MIN,
  });
  const vip = proxyVip(input);
  if (!vip)
    throw new PlanError(
      'ProxyVipUnknown',
      `R3.1 needs the proxy VIP of zone ${zone.zoneId} for the nf_server webhook: it is neither proxy_vip in ${zoneVariablesPath(zone.zoneId)} on firstbox nor an address in the Zone's spec.proxyHost; set one`,
    );
  const settings: YamlSetting[] = [
    { path: ['nf_server', 'notify_settings', 'system', 'enable_save_notifylog'], value: false },
    {
      path: ['nf_server', 'notify_settings', 'system', 'notifylog_third_parties', 'webhook'],
      value: { type: 'webhook', url: `http://${vip}:6777/alert_receiver/nf/` },
    },
  ];
  const files = Object.keys(facts.files)
    .filter((p) => p.startsWith(`${SERVER_YAML_DIR}/server.yaml.`))
    .sort();
  if (files.length === 0)
    throw new PlanError(
      'ServerYamlMissing',
      `no ${SERVER_YAML_DIR}/server.yaml.* on firstbox to set the nf_server notify settings in (R3.1)`,
    );
  for (const path of files) {
    const suffix = path.slice(`${SERVER_YAML_DIR}/server.yaml.`.length);
    if (!patternRegExp('ZONE_ID').test(suffix)) continue;
    steps.push(
      writeFileStep(
        `v1-nf-server-${suffix}`,
        `R3.1 set nf_server notify settings (no notify log, webhook http://${vip}:6777/alert_receiver/nf/) in ${path}`,
        path,
        applySettings(facts.files[path], settings, path),
      ),
    );
  }
  return steps;
}

function proxyVip(input: ComponentPlanInput): string | undefined {
  const text = input.facts.files[zoneVariablesPath(input.zone.zoneId)];
  const m = text ? /^proxy_vip:\s*['"]?([0-9.]+)['"]?\s*$/m.exec(text) : null;
  if (m && patternRegExp('IPV4').test(m[1]!)) return m[1];
  const host = input.zone.proxyHost;
  return host && patternRegExp('IPV4').test(host) ? host : undefined;
}

/**
 * Writes a file as computed, keeping a one-time copy of the original under /pitrix/backup/operator
 * (outside every directory the installer globs), and reads it back.
 */
function writeFileStep(id: string, description: string, path: string, text: string): Step {
  const backup = `/pitrix/backup/operator${path}.orig`;
  const tmp = `${path}.operator-tmp`;
  return {
    id,
    description,
    host: fb,
    command: sh(
      `write ${path}`,
    )`mkdir -p ${backup.slice(0, backup.lastIndexOf('/'))} && { [ -e ${backup} ] || [ ! -e ${path} ] || cp -p ${path} ${backup}; } && mkdir -p ${path.slice(0, path.lastIndexOf('/'))} && printf '%s' ${text} > ${tmp} && mv -f ${tmp} ${path} && printf '%s' ${text} | cmp - ${path}`,
    check: sh(`${path} already written?`)`printf '%s' ${text} | cmp -s - ${path}`,
    timeoutMs: MIN,
  };
}

// ---- R3 steps 2-4: deploy through deploy-qingcloud-component.py ----

/** The job id from the first line a job prints: `[HH:MM:SS] job JOB_ID`. */
const JOB_LINE_SED = String.raw`s/^\[[0-9:]*\] job \([^ ]*\)$/\1/p`;

// A constant program: exit 0 when the job status on stdin is one of argv, 3 when running, else 1.
const JOB_STATE_PY = [
  'import json, sys',
  'try:',
  '    s = json.loads(sys.stdin.read().strip().splitlines()[-1]).get("status")',
  'except Exception:',
  '    sys.exit(1)',
  'sys.exit(0 if s in sys.argv[1:] else 3 if s == "running" else 1)',
].join('\n');

function jobState(jobFile: string, doneStates: string[], purpose: string): ShellCommand {
  return sh(purpose)`[ -s ${jobFile} ] || exit 1; ${pipe([
    sh('job status')`/pitrix/cli/get-deploy-qingcloud-component-status.py -j "$(cat ${jobFile})"`,
    shell(['python3', '-c', JOB_STATE_PY, ...doneStates], 'judge job status'),
  ])}`;
}

function deploySteps(
  input: ComponentPlanInput,
  zoneId: string,
  flavor: Flavor,
  roleNodeIds: string[],
): Step[] {
  const { spec, facts, zone } = input;
  const name = spec.name;
  const template = facts.files[VM_TEMPLATE];
  if (template === undefined)
    throw new PlanError(
      'VmVariablesTemplateMissing',
      `${VM_TEMPLATE} is missing on firstbox (R3.2); restore it`,
    );
  const flags = ['deploy_boss', 'deploy_cronus', 'deploy_websupervisor'];
  const vars = applySettings(
    template,
    [
      { path: ['zone_id'], value: zoneId },
      ...flags.map((f) => ({ path: [f], value: f === `deploy_${name}` ? 1 : 0 })),
    ],
    VM_TEMPLATE,
  );
  if (zone.mode === 'fusion' && /^(floating_ip|mgmt_network_address):\s*\S/m.test(vars))
    throw new PlanError(
      'FusionForbidsManagementNetwork',
      `fusion mode: floating_ip and mgmt_network_address cannot be set (R3.2), but ${VM_TEMPLATE} sets them; comment them out`,
    );
  const varsPath = vmVariablesPath(zoneId);
  const jobFile = jobFilePath(zoneId, name);
  const log = deployLogPath(zoneId, name);
  const steps: Step[] = [
    writeFileStep(
      'deploy-vm-variables',
      `R3.2 write ${varsPath} from the template with deploy_${name}: 1 (one component per run)`,
      varsPath,
      vars,
    ),
    {
      id: 'deploy-start',
      description: `R3.3 start deploy-qingcloud-component.py -v ${varsPath} as an installer job`,
      host: fb,
      // Detached (its own session), so the job outlives this SSH command; its id is kept in a file
      // so every later reconcile polls exactly this job.
      command: sh(
        `start the ${name} deployment`,
      )`mkdir -p /pitrix/conf/operator /pitrix/log/operator && rm -f ${jobFile} || exit 1; setsid nohup /pitrix/cli/deploy-qingcloud-component.py -v ${varsPath} > ${log} 2>&1 < /dev/null & pid=$!; i=0; while [ $i -lt 240 ]; do id=$(sed -n ${JOB_LINE_SED} ${log} | head -n 1); if [ -n "$id" ]; then echo "$id" > ${jobFile}; echo "started job $id"; exit 0; fi; if ! kill -0 $pid 2>/dev/null && [ $i -gt 0 ]; then cat ${log}; exit 1; fi; sleep 0.5; i=$((i+1)); done; cat ${log}; exit 1`,
      check: jobState(jobFile, ['running', 'successful'], 'deployment already started?'),
      timeoutMs: 5 * MIN,
    },
    {
      id: 'deploy-wait',
      description:
        'R3.3 wait for the deployment job (get-deploy-qingcloud-component-status.py; progress in status.progress)',
      host: fb,
      // Reached only when the job is neither running nor successful: show why, and fail.
      command: sh(
        'report the failed deployment',
      )`id=$(cat ${jobFile}); /pitrix/cli/get-deploy-qingcloud-component-status.py -j "$id"; /pitrix/cli/get-deploy-qingcloud-component-log.py -j "$id" | tail -n 20; echo "deployment job $id did not succeed; fix the cause, then annotate ops.pitrix.io/retry-step=deploy-start"; exit 1`,
      check: jobState(jobFile, ['successful'], 'deployment finished?'),
      timeoutMs: 5 * MIN,
    },
  ];
  if (name === 'boss') {
    steps.push(
      {
        id: 'deploy-dump-hosts',
        description: 'R3.4 export the hosts entries (dump_hosts.py); the console is boss.DOMAIN',
        host: fb,
        command: shell(['/pitrix/bin/dump_hosts.py'], 'dump hosts'),
        idempotent: true,
        timeoutMs: 5 * MIN,
      },
      {
        id: 'deploy-health',
        description: 'R3 maintain: health check (django_manage.sh areyouok)',
        host: fb,
        command: shell([DJANGO_MANAGE, 'areyouok'], 'boss health'),
        verify: (out) =>
          /^ok\b/m.test(out.trim()) ? undefined : `areyouok said: ${out.trim().slice(0, 300)}`,
        idempotent: true,
        timeoutMs: 5 * MIN,
      },
      {
        id: 'deploy-versions',
        description: 'R3 maintain: record the installed versions (django_manage.sh versions)',
        host: fb,
        command: shell([DJANGO_MANAGE, 'versions'], 'boss versions'),
        verify: (out) =>
          parseBossVersions(out)['pitrix-ks-boss2']
            ? undefined
            : 'pitrix-ks-boss2 is not listed as installed',
        idempotent: true,
        timeoutMs: 5 * MIN,
      },
    );
  } else {
    steps.push(programCheckStep('deploy-health', flavor, roleNodeIds));
  }
  return steps;
}

function programCheckStep(id: string, flavor: Flavor, nodeIds: string[]): Step {
  return {
    id,
    description: `check ${flavor.program} is RUNNING on the zone's ${flavor.role} nodes`,
    host: fb,
    command: execNodes(flavor.role, `supervisorctl status ${flavor.program}`, `status of ${flavor.program}`),
    acceptExitCodes: [0, 1, 3, 4],
    verify: (stdout) => {
      const blocks = splitExecNodes(stdout);
      const bad = nodeIds.filter(
        (n) => !new RegExp(`^${flavor.program}\\s+RUNNING`, 'm').test(blocks.get(n)?.text ?? ''),
      );
      return bad.length ? `${flavor.program} is not RUNNING on ${bad.join(', ')}` : undefined;
    },
    idempotent: true,
    timeoutMs: 10 * MIN,
  };
}

function websupervisorSteps(flavor: Flavor, nodeIds: string[]): Step[] {
  return [
    {
      id: 'websupervisor-build',
      description: `R3 optional: build ${flavor.pkg} (build_pkgs.py)`,
      host: fb,
      command: shell(['/pitrix/build/build_pkgs.py', '-p', flavor.pkg], 'build websupervisor'),
      idempotent: true,
      timeoutMs: 30 * MIN,
    },
    {
      id: 'websupervisor-update',
      description: `R3 optional: install ${flavor.pkg} on webservice nodes (update.sh webservice)`,
      host: fb,
      command: shell(['/pitrix/upgrade/update.sh', 'webservice', flavor.pkg], 'install websupervisor'),
      idempotent: true,
      timeoutMs: HOUR,
    },
    programCheckStep('websupervisor-verify', flavor, nodeIds),
  ];
}

// ---- R3 maintain: configuration ----

const CONFIGS = [
  { key: 'boss2', path: boss2YamlPath, pkg: 'pitrix-ks-boss2-conf' },
  { key: 'console', path: () => LOCAL_CONFIG, pkg: 'pitrix-ks-boss2-console' },
] as const;

function configSteps(
  key: string,
  path: string,
  pkg: string,
  current: string | undefined,
  settings: YamlSetting[],
): Step[] {
  return [
    writeFileStep(
      `conf-${key}-write`,
      `R3 maintain: merge spec.config.${key} (${settings.map((s) => s.path.join('.')).join(', ')}) into ${path}`,
      path,
      applySettings(current, settings, path),
    ),
    {
      id: `conf-${key}-build`,
      description: `R3 maintain: build ${pkg} (build_pkgs.py)`,
      host: fb,
      command: shell(['/pitrix/build/build_pkgs.py', '-p', pkg], `build ${pkg}`),
      idempotent: true,
      timeoutMs: 30 * MIN,
    },
    {
      id: `conf-${key}-update`,
      description: `R3 maintain: install ${pkg} on boss nodes (update.sh boss)`,
      host: fb,
      command: shell(['/pitrix/upgrade/update.sh', 'boss', pkg], `update ${pkg}`),
      idempotent: true,
      timeoutMs: HOUR,
    },
  ];
}

// ---- R3 maintain: upgrade ----

interface PinPlan {
  name: string;
  version: string;
}

/** Pins newer than what the boss nodes run; each must be in the repository directories. */
function outdatedPins(input: ComponentPlanInput, bossNodeIds: string[]): PinPlan[] {
  const pins = input.spec.packages ?? [];
  const repo = repoVersions(input.facts.repoDebs);
  const out: PinPlan[] = [];
  const problems: string[] = [];
  for (const p of pins) {
    if (!(BOSS_PACKAGES as readonly string[]).includes(p.name)) {
      problems.push(`${p.name} is not part of BOSS V2 (${BOSS_PACKAGES.join(', ')})`);
      continue;
    }
    const installed = bossNodeIds
      .map((id) => input.facts.nodeObs[id]?.packages[p.name])
      .filter((v): v is string => !!v);
    const oldest = installed.sort(compareDebianVersions)[0];
    if (oldest && compareDebianVersions(p.version, oldest) <= 0) continue;
    if (!repo[p.name]?.includes(p.version)) {
      const dir = p.name === 'pitrix-ks-boss2-console' ? REPO_DIRS[0] : REPO_DIRS[1];
      problems.push(`${p.name}_${p.version}_all.deb is not in ${dir} on firstbox; place it there`);
      continue;
    }
    out.push({ name: p.name, version: p.version });
  }
  if (problems.length > 0)
    throw new PlanError('PackageNotInRepository', `spec.packages: ${problems.join('; ')} (R3 upgrade)`);
  return out;
}

function upgradeSteps(
  input: ComponentPlanInput,
  zoneId: string,
  bossNodeIds: string[],
  outdated: PinPlan[],
): Step[] {
  const first = bossNodeIds[0];
  if (!first) throw new PlanError('NoBossNodes', `zone ${zoneId} lists no deployed boss node to upgrade`);
  const firstBoss = validated('NODE_ID', first, 'boss node id');
  const pins = (input.spec.packages ?? []).filter((p) =>
    (BOSS_PACKAGES as readonly string[]).includes(p.name),
  );
  const what = outdated.map((p) => `${p.name} ${p.version}`).join(', ') || 'pinned packages';
  const upd = (id: string, pkg: string, description: string): Step => ({
    id,
    description,
    host: fb,
    command: shell(['/pitrix/upgrade/update.sh', 'boss', pkg], `update ${pkg}`),
    idempotent: true,
    timeoutMs: HOUR,
  });
  const manage = (id: string, sub: string): Step => ({
    id,
    description: `R3 upgrade: django_manage.sh ${sub} on the first boss node ${firstBoss}`,
    host: fb,
    command: execNodes(firstBoss, `${DJANGO_MANAGE} ${sub}`, `django_manage.sh ${sub}`),
    verify: verifyReached([firstBoss]),
    idempotent: true,
    timeoutMs: HOUR,
  });
  return [
    {
      id: 'upgrade-scan',
      description: `R3 upgrade to ${what}: index the packages placed in ${REPO_DIRS.join(' and ')} (scan_all.sh)`,
      host: fb,
      command: shell(['/pitrix/bin/scan_all.sh'], 'scan the repository'),
      idempotent: true,
      timeoutMs: 30 * MIN,
    },
    upd('upgrade-backend', 'boss', 'R3 upgrade: update.sh boss boss (backend packages)'),
    upd(
      'upgrade-transit',
      'pitrix-transit-upload-server',
      'R3 upgrade: update.sh boss pitrix-transit-upload-server',
    ),
    manage('upgrade-migrate', 'migrate'),
    manage('upgrade-init-data', 'init_data'),
    {
      id: 'upgrade-console-build',
      description: 'R3 upgrade: rebuild the console package (build_pkgs.py -p pitrix-ks-boss2-console)',
      host: fb,
      command: shell(['/pitrix/build/build_pkgs.py', '-p', 'pitrix-ks-boss2-console'], 'build console'),
      idempotent: true,
      timeoutMs: 30 * MIN,
    },
    upd(
      'upgrade-console-update',
      'pitrix-ks-boss2-console',
      'R3 upgrade: update.sh boss pitrix-ks-boss2-console',
    ),
    {
      id: 'upgrade-verify',
      description: `R3 upgrade: verify the versions (django_manage.sh versions) reach ${pins.map((p) => `${p.name} ${p.version}`).join(', ')}`,
      host: fb,
      command: shell([DJANGO_MANAGE, 'versions'], 'boss versions'),
      verify: (out) => {
        const v = parseBossVersions(out);
        const low = pins.filter((p) => !v[p.name] || compareDebianVersions(v[p.name]!, p.version) < 0);
        return low.length
          ? `still below spec.packages: ${low.map((p) => `${p.name} ${v[p.name] ?? 'none'} < ${p.version}`).join(', ')}`
          : undefined;
      },
      idempotent: true,
      timeoutMs: 5 * MIN,
    },
  ];
}
