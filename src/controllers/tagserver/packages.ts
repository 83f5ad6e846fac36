/**
 * Runbook R1.1-2 and R1.8 (tag service) packages: which packages make up the tag server and proxy,
 * the steps that build and install them where missing, and the upgrade to the versions
 * spec.packages pins.
 *
 * Every build and push runs under the job guard (src/runbook/jobguard.ts): `update.sh` and
 * `build_pkgs.py` run for minutes and go on when the SSH session dies, so a retry after a dropped
 * connection, a timeout or an operator restart must find the running job, never start a second one.
 */
import type { TagServerSpec } from '../../api/tagserver.js';
import { compareDebianVersions } from '../../facts/version.js';
import { guardedStep } from '../../runbook/jobguard.js';
import { forSubject, type Step } from '../../runbook/step.js';
import { shell, validated } from '../../ssh/command.js';
import type { NodeObservation } from './observe.js';
import { fb, HOUR, MIN } from './steps-common.js';

export const SERVER_PACKAGES = ['pitrix-ks-tag-server', 'pitrix-tag-server'];
export const PROXY_PACKAGES = ['pitrix-ks-proxy-tag', 'pitrix-tag-proxy'];

export function installedOf(obs: NodeObservation | undefined, names: readonly string[]): string | undefined {
  for (const n of names) if (obs?.packages?.[n]) return obs.packages[n];
  return undefined;
}

/**
 * Where a guarded package job runs and what makes it a new job: the zone whose guarded jobs it
 * excludes (the zone the pushed nodes belong to; the global zone for builds and `all`) and what
 * it pushes and to whom (plan.ts), so that a later plan for other nodes or other content is a
 * new job, never "already done".
 */
export interface PackageGuard {
  lockScope: string;
  inputs: readonly string[];
}

export function build(id: string, pkg: string, guard: PackageGuard): Step {
  return guardedStep(
    {
      id,
      description: `R1.1 build ${pkg} (build_pkgs.py -p ${pkg})`,
      host: { kind: 'firstbox' },
      command: shell(['/pitrix/build/build_pkgs.py', '-p', pkg], `build ${pkg}`),
      timeoutMs: HOUR,
    },
    guard,
  );
}

/** `name`: the step's id, or its id and action when it is repeated per zone (`forSubject`). */
export function install(
  name: string | { id: string; action: string },
  target: string,
  pkg: string,
  guard: PackageGuard,
): Step {
  return guardedStep(
    {
      ...(typeof name === 'string' ? { id: name } : name),
      description: `R1.2 install ${pkg} on ${target} (update.sh ${target} ${pkg})`,
      host: { kind: 'firstbox' },
      command: shell(
        ['/pitrix/upgrade/update.sh', validated('NODE_ID', target, 'update target'), pkg],
        `install ${pkg}`,
      ),
      // The guard prints the job's whole log when it ends: update.sh's own lines are judged here.
      verify: (out) =>
        new RegExp(`^update ${pkg.replaceAll('.', '\\.')} on \\S+: \\S+ -> \\S+$`, 'm').test(out) &&
        /update\.sh: done/.test(out)
          ? undefined
          : `update.sh did not report ${pkg} installed on ${target}`,
      timeoutMs: HOUR,
    },
    guard,
  );
}

/** R1.8: index the placed packages, then update each target that runs an older one. */
export function upgradeSteps(
  packages: TagServerSpec['packages'],
  targets: ReadonlySet<string>,
  guardOf: (target: string, pins: readonly string[]) => PackageGuard,
): Step[] {
  const steps: Step[] = [
    {
      id: 'scanRepository',
      description: 'R1.8 index the packages placed in /pitrix/repo (scan_all.sh)',
      host: fb,
      command: shell(['/pitrix/bin/scan_all.sh'], 'scan the repository'),
      idempotent: true,
      timeoutMs: 30 * MIN,
    },
  ];
  const pins = (packages ?? []).filter((p) => [...SERVER_PACKAGES, ...PROXY_PACKAGES].includes(p.name));
  const pinText = pins.map((p) => `${p.name}=${p.version}`).sort();
  for (const target of [...targets].sort()) {
    steps.push(
      guardedStep(
        {
          ...forSubject('upgradeTag', target),
          description: `R1.8 upgrade the tag packages on ${target} (update.sh ${target} tag; the runbook's "webservice" target would also install the group on sub-zone webservice nodes that carry none)`,
          host: fb,
          command: shell(
            ['/pitrix/upgrade/update.sh', validated('NODE_ID', target, 'update target'), 'tag'],
            'upgrade tag packages',
          ),
          verify: (out) => verifyUpgrade(out, pins),
          timeoutMs: HOUR,
        },
        // The pins are part of the job: a later pin to a newer version is a new upgrade.
        guardOf(target, pinText),
      ),
    );
  }
  return steps;
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
