/**
 * Runbook R1.3-5 (tag service) configuration: the keys each zone's server.yaml must hold, the steps
 * that write them (content on stdin, guarded by the hash the operator read) and read them back, and
 * the rebuild and push of pitrix-global-conf that carries them to the nodes.
 */
import type { TagServerSpec } from '../../api/tagserver.js';
import { guardedStep } from '../../runbook/jobguard.js';
import { forSubject, type Step } from '../../runbook/step.js';
import { seq, sh, shell } from '../../ssh/command.js';
import { fileWriteStep, keysSummary } from '../filewrite.js';
import { serverYamlPath } from './observe.js';
import type { PackageGuard } from './packages.js';
import { fb, HOUR, MIN } from './steps-common.js';
import { type KeyEdit, pendingEdits, readKey } from './yamledit.js';

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

/** A server.yaml whose edited content differs from what is on firstbox. */
export interface ServerYamlWrite {
  zone: string;
  path: string;
  before: string;
  after: string;
  keys: string[];
}

export function writeServerYamlStep(w: ServerYamlWrite, globalZone: string): Step {
  return fileWriteStep({
    ...forSubject('writeServerYaml', w.zone),
    description: `R1.${w.zone === globalZone ? 3 : 4} set ${w.keys.join(', ')} in ${w.path} (other keys and comments kept)`,
    path: w.path,
    content: w.after,
    before: w.before,
    backup: `${w.path}.before-tagserver`,
    tmp: `${w.path}.tagserver-new`,
    summary: `${w.path}: ${keysSummary(w.keys)}`,
    timeoutMs: MIN,
  });
}

export function verifyServerYamlStep(editsByZone: ReadonlyMap<string, KeyEdit[]>): Step {
  const zones = [...editsByZone.keys()];
  return {
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
  };
}

/**
 * R1.5 under the job guard: the rebuild and the push each take minutes and go on when the session
 * dies. Their inputs carry the digests of the server.yaml files they package, so the job of a plan
 * that pushes other content is a new one (plan.ts says what else identifies each).
 */
export function globalConfSteps(buildGuard: PackageGuard, pushGuard: PackageGuard): Step[] {
  return [
    guardedStep(
      {
        id: 'buildGlobalConf',
        description:
          'R1.5 rebuild pitrix-global-conf from /pitrix/conf/variables/global (build_global_conf.sh)',
        host: fb,
        command: shell(['/pitrix/upgrade/build_global_conf.sh'], 'build pitrix-global-conf'),
        timeoutMs: 30 * MIN,
      },
      buildGuard,
    ),
    guardedStep(
      {
        id: 'pushGlobalConf',
        description: 'R1.5 push pitrix-global-conf to all nodes (update.sh all pitrix-global-conf)',
        host: fb,
        command: shell(['/pitrix/upgrade/update.sh', 'all', 'pitrix-global-conf'], 'push pitrix-global-conf'),
        // The guard prints the job's whole log when it ends.
        verify: (out) =>
          /update\.sh: done/.test(out) ? undefined : 'update.sh did not print "update.sh: done"',
        timeoutMs: 2 * HOUR,
      },
      pushGuard,
    ),
  ];
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
