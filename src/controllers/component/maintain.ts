/**
 * Runbook R3 "maintain" for an installed BOSS V2: configuration (spec.config merged into boss2 and
 * console settings, then rebuilt and installed) and upgrade to the versions spec.packages pins.
 */

import type { Plan } from '../../api/common.js';
import { compareDebianVersions } from '../../facts/version.js';
import { guardedStep } from '../../runbook/jobguard.js';
import type { Step } from '../../runbook/step.js';
import { shell, validated } from '../../ssh/command.js';
import {
  BOSS_NODES_FILE,
  boss2YamlPath,
  LOCAL_CONFIG,
  onFirstBoss,
  parseBossVersions,
  REPO_DIRS,
  repoVersions,
} from './observe.js';
import type { ComponentPlanInput } from './plan.js';
import { fb, HOUR, MIN, PlanError, writeFileStep } from './steps-common.js';
import { applySettings, type YamlSetting } from './yamledit.js';

/** Packages BOSS V2 consists of (`django_manage.sh versions` lists them). */
export const BOSS_PACKAGES = [
  'pitrix-ks-boss2',
  'pitrix-ks-boss2-console',
  'pitrix-ks-boss2-conf',
  'pitrix-transit-upload-server',
] as const;

// ---- R3 maintain: configuration ----

/** The configuration files R3 maintains, each with its package and its section's step ids. */
export const CONFIGS = [
  {
    key: 'boss2',
    path: boss2YamlPath,
    pkg: 'pitrix-ks-boss2-conf',
    steps: { write: 'writeBoss2Config', build: 'buildBoss2Config', update: 'updateBoss2Config' },
  },
  {
    key: 'console',
    path: () => LOCAL_CONFIG,
    pkg: 'pitrix-ks-boss2-console',
    steps: { write: 'writeConsoleConfig', build: 'buildConsoleConfig', update: 'updateConsoleConfig' },
  },
] as const;
export type ConfigFile = (typeof CONFIGS)[number];

export function configSteps(
  zoneId: string,
  config: ConfigFile,
  path: string,
  current: string | undefined,
  settings: YamlSetting[],
  journal?: Plan,
): Step[] {
  const { key, pkg, steps: ids } = config;
  const write = writeFileStep(
    ids.write,
    `R3 maintain: merge spec.config.${key} (${settings.map((s) => s.path.join('.')).join(', ')}) into ${path}`,
    path,
    applySettings(current, settings, path),
    current ?? null,
    settings.map((s) => s.path.join('.')),
    journal,
  );
  // The build and the install are long jobs under the guard. Their job ids carry the write they
  // follow (its command holds the digests of the file before and after, stable for the plan's
  // whole run): a later change of the configuration, even back to an earlier content, is a new job.
  const guard = { lockScope: zoneId, inputs: [write.command.script] };
  return [
    write,
    guardedStep(
      {
        id: ids.build,
        description: `R3 maintain: build ${pkg} (build_pkgs.py) under the job guard`,
        host: fb,
        command: shell(['/pitrix/build/build_pkgs.py', '-p', pkg], `build ${pkg}`),
        timeoutMs: 30 * MIN,
      },
      guard,
    ),
    guardedStep(
      {
        id: ids.update,
        description: `R3 maintain: install ${pkg} on boss nodes (update.sh boss) under the job guard`,
        host: fb,
        command: shell(['/pitrix/upgrade/update.sh', 'boss', pkg], `update ${pkg}`),
        timeoutMs: HOUR,
      },
      guard,
    ),
  ];
}

// ---- R3 maintain: upgrade ----

/** The upgrade section's steps, in the order R3 runs them (plan.ts keeps an unfinished section by them). */
export const UPGRADE_ACTIONS = [
  'scanRepository',
  'updateBossBackend',
  'updateTransitUploadServer',
  'migrateDatabase',
  'initData',
  'buildConsole',
  'updateConsole',
  'checkUpgradedVersions',
] as const;

interface PinPlan {
  name: string;
  version: string;
}

/** Pins newer than what the boss nodes run; each must be in the repository directories. */
export function outdatedPins(input: ComponentPlanInput, bossNodeIds: string[]): PinPlan[] {
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

export function upgradeSteps(
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
  // update.sh and build_pkgs.py are long jobs under the guard. Their job ids carry the pins (from
  // the spec, stable while the plan runs, unlike what is still outdated): a later upgrade to other
  // versions is a new job, never "already done".
  const guard = {
    lockScope: zoneId,
    inputs: [JSON.stringify(pins.map((p) => [p.name, p.version]))],
  };
  const upd = (id: string, pkg: string, description: string): Step =>
    guardedStep(
      {
        id,
        description: `${description} under the job guard`,
        host: fb,
        command: shell(['/pitrix/upgrade/update.sh', 'boss', pkg], `update ${pkg}`),
        timeoutMs: HOUR,
      },
      guard,
    );
  // Database migrations must never run twice at once: under the job guard, one per upgrade (pins).
  const manage = (id: string, sub: string): Step =>
    guardedStep(
      {
        id,
        // seed 002 lines 193–195: `. /pitrix/conf/nodes/boss; ssh ${nodes[0]} "django_manage.sh SUB"`.
        description: `R3 upgrade: django_manage.sh ${sub} on the first boss node of ${BOSS_NODES_FILE} (${firstBoss} in the node list)`,
        host: fb,
        command: onFirstBoss(sub),
        verify: (out) =>
          /ssh: connect to host|Connection refused|No route to host/.test(out)
            ? `the first boss node did not answer: ${out.trim().split('\n').slice(-2).join(' ')}`
            : undefined,
        timeoutMs: HOUR,
      },
      guard,
    );
  return [
    {
      id: 'scanRepository',
      description: `R3 upgrade to ${what}: index the packages placed in ${REPO_DIRS.join(' and ')} (scan_all.sh)`,
      host: fb,
      command: shell(['/pitrix/bin/scan_all.sh'], 'scan the repository'),
      idempotent: true,
      timeoutMs: 30 * MIN,
    },
    upd('updateBossBackend', 'boss', 'R3 upgrade: update.sh boss boss (backend packages)'),
    upd(
      'updateTransitUploadServer',
      'pitrix-transit-upload-server',
      'R3 upgrade: update.sh boss pitrix-transit-upload-server',
    ),
    manage('migrateDatabase', 'migrate'),
    manage('initData', 'init_data'),
    guardedStep(
      {
        id: 'buildConsole',
        description:
          'R3 upgrade: rebuild the console package (build_pkgs.py -p pitrix-ks-boss2-console) under the job guard',
        host: fb,
        command: shell(['/pitrix/build/build_pkgs.py', '-p', 'pitrix-ks-boss2-console'], 'build console'),
        timeoutMs: 30 * MIN,
      },
      guard,
    ),
    upd('updateConsole', 'pitrix-ks-boss2-console', 'R3 upgrade: update.sh boss pitrix-ks-boss2-console'),
    {
      id: 'checkUpgradedVersions',
      // "on any one boss node" (seed 002), as checkBossVersions: the firstbox has no django_manage.sh.
      description: `R3 upgrade: verify the versions on the first boss node (django_manage.sh versions) reach ${pins.map((p) => `${p.name} ${p.version}`).join(', ')}`,
      host: fb,
      command: onFirstBoss('versions'),
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
