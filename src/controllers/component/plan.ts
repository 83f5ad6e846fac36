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
import { compareDebianVersions, versionAtLeast } from '../../facts/version.js';
import { isComplete } from '../../runbook/journal.js';
import { actionOf, makePlan, type PlannedRunbook, type Step } from '../../runbook/step.js';
import { validated } from '../../ssh/command.js';
import { DEPLOY_ACTIONS, deploySteps, WEBSUPERVISOR_ACTIONS, websupervisorSteps } from './deploy.js';
import { CONFIGS, configSteps, outdatedPins, UPGRADE_ACTIONS, upgradeSteps } from './maintain.js';
import { type ComponentFacts, parseBossVersions } from './observe.js';
import { bossV1Leftovers, REMOVE_V1_ACTIONS, removeV1Steps, V1_ROLES } from './removev1.js';
import { PlanError } from './steps-common.js';
import { ConfigError, flattenOverrides, settingsHold } from './yamledit.js';

export { BOSS_PACKAGES } from './maintain.js';
export { BOSS_V1_PROGRAMS, bossV1Leftovers } from './removev1.js';

export const MIN_INSTALLER = '4.3';
export const ZOOCASSA_OS_CHECK_UNTIL = '4.4.3';
export const MIN_ZOOCASSA_OS = '14.04.5';

export interface Flavor {
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

import type { Violation } from '../../runbook/violation.js';

export type { Violation };

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
  defaultCredentials?: { account: string; accepted: boolean | undefined; why?: string };
  /** state: Absent on something the runbooks cannot remove. */
  unsupported?: string;
  sections: string[];
  plan: PlannedRunbook;
}

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

  // A node whose answer is missing or not trusted (down, unreachable, a forged exec_nodes.sh
  // section) is unknown, never "not installed": planning on it would run the deployment again
  // on a guess. For BOSS, the nodes BOSS V1 may be left on count too (R3 step 1 removes it first).
  const judged = new Set(roleNodes.map((n) => n.nodeId));
  if (spec.name === 'boss')
    for (const n of zoneNodes)
      if (n.status === 'deployed' && n.roles.some((r) => V1_ROLES.has(r))) judged.add(n.nodeId);
  const unknown = [...judged].filter((id) => !facts.nodeObs[id]?.reached);
  if (unknown.length > 0) {
    result.violations.push({
      reason: 'NodeStateUnknown',
      message: `cannot tell what ${describe(spec.name)} needs: ${unknown
        .map((id) => `${id}: ${facts.nodeObs[id]?.error ?? 'no answer'}`)
        .join('; ')}; nothing is planned until every one of these nodes answers through exec_nodes.sh`,
    });
    return result;
  }

  // ---- sections ----
  const steps: Step[] = [];
  const sticky = (...sections: string[]) =>
    !!input.previous &&
    !isComplete(input.previous) &&
    !!input.previous.steps?.some((s) => sections.includes(sectionOf(s) ?? ''));
  const add = (section: string, make: () => Step[]) => {
    try {
      const made = make();
      const stray = made.find((s) => sectionOf(s) !== section);
      if (stray)
        throw new Error(
          `section ${section} made step ${stray.id}, which SECTION_ACTIONS does not list for it`,
        );
      steps.push(...made);
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

  if (spec.name === 'boss' && ((!installed && v1Leftovers.length > 0) || sticky('removeV1')))
    add('removeV1', () => removeV1Steps(input));
  if (spec.name !== 'websupervisor' && (!installed || sticky('deploy')))
    add('deploy', () =>
      deploySteps(
        input,
        zoneId,
        flavor,
        roleNodes.map((n) => n.nodeId),
      ),
    );
  if (spec.name === 'websupervisor' && (!installed || sticky('websupervisor')))
    add('websupervisor', () =>
      websupervisorSteps(
        zoneId,
        flavor,
        roleNodes.map((n) => n.nodeId),
      ),
    );
  if (installed || sticky('upgrade', ...CONFIGS.map(configSection))) {
    const pins = spec.packages ?? [];
    if (spec.name === 'boss') {
      add('upgrade', () => {
        const outdated = outdatedPins(
          input,
          roleNodes.map((n) => n.nodeId),
        );
        return outdated.length > 0 || sticky('upgrade')
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
        add(configSection(c), () => {
          const settings = flattenOverrides(overrides as Record<string, unknown>, `spec.config.${c.key}`);
          const path = c.path(zoneId);
          if (settings.length === 0) return [];
          if (settingsHold(facts.files[path], settings) && !sticky(configSection(c))) return [];
          return configSteps(zoneId, c, path, facts.files[path], settings, input.previous);
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
  result.sections = result.sections.filter((s) => steps.some((st) => sectionOf(st) === s));
  if (result.violations.length > 0) return result;
  result.plan = makePlan(steps);
  return result;
}

const configSection = (c: (typeof CONFIGS)[number]) => `conf-${c.key}`;

/** Each section's steps by action (the id of a step that has none): what sectionOf reads. */
const SECTION_ACTIONS: ReadonlyArray<readonly [section: string, actions: readonly string[]]> = [
  ['removeV1', REMOVE_V1_ACTIONS],
  ['deploy', DEPLOY_ACTIONS],
  ['websupervisor', WEBSUPERVISOR_ACTIONS],
  ['upgrade', UPGRADE_ACTIONS],
  ...CONFIGS.map((c) => [configSection(c), Object.values(c.steps)] as const),
];
const SECTION_OF = new Map(SECTION_ACTIONS.flatMap(([section, actions]) => actions.map((a) => [a, section])));

/** The section a step, planned or journaled, belongs to: by its action, never by parsing its id. */
function sectionOf(step: { id: string; action?: string }): string | undefined {
  return SECTION_OF.get(actionOf(step));
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
    // seed 002 line 117 names the account boss@DOMAIN and its default password, and no way to
    // check them: the probe is an ASSUMPTION (docs/platform-interface.md). Only its two agreed
    // answers are believed (0 accepted, 3 rejected); anything else (unknown subcommand, no boss
    // node) is Unknown, never "fine".
    const pw = facts.password;
    const known = !!pw && (pw.exitCode === 0 || pw.exitCode === 3);
    out.defaultCredentials = {
      account: (known && /^(\S+@\S+?):/m.exec(pw.output)?.[1]) || 'boss@DOMAIN',
      accepted: known ? pw.exitCode === 0 : undefined,
      ...(known
        ? {}
        : {
            why: pw
              ? `the default-password probe (django_manage.sh check_default_password, not a runbook command) answered exit ${pw.exitCode}: ${pw.output.slice(0, 200) || 'no output'}`
              : 'the default-password probe got no answer from the first boss node',
          }),
    };
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
