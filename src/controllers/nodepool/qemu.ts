/**
 * R4 "Maintaining the QingCloud platform / QEMU version" (seed 003, last section), as a pure
 * function: "If the QEMU version of newly scaled-out nodes … is inconsistent with that of the old
 * nodes, you need to modify server.yaml, and install the QEMU incremental package of the
 * corresponding version on the old nodes", then `build_global_conf.sh` and
 * `update.sh all pitrix-global-conf`.
 *
 * Decided from observed state after the scale: the new nodes' version (their `kvm --version`
 * facts) against the versions `compute_server.emulator` in the zone's server.yaml lists (the
 * platform's own record of what its hypers run). The runbook gives neither the package nor its
 * path: without `spec.qemuIncremental` naming them (and the same version), nothing runs and the
 * pool stops with a condition saying so. Every ASSUMPTION here is a row of
 * docs/platform-interface.md.
 */
import type { Plan } from '../../api/common.js';
import type { NodePoolSpec } from '../../api/nodepool.js';
import type { PlatformNode } from '../../facts/types.js';
import { HOUR, MIN } from '../../runbook/durations.js';
import { guardedStep } from '../../runbook/jobguard.js';
import type { Step } from '../../runbook/step.js';
import { shell, validated } from '../../ssh/command.js';
import { fileWriteStep } from '../filewrite.js';
import { serverYamlPath } from '../tagserver/observe.js';
import { editYaml, readPath, YamlEditError } from '../yamledit.js';

export interface QemuInput {
  zoneId: string;
  spec: NodePoolSpec;
  /** QEMU version per deployed node of this pool, from its facts (absent: not known). */
  newVersions: Record<string, string | undefined>;
  platformNodes: PlatformNode[];
  /** The zone's server.yaml as read from the firstbox; undefined: missing; null: not read. */
  serverYaml: string | undefined | null;
  /** status.plan: a QEMU run that started is carried to its end with its planned precondition. */
  journal?: Plan;
}

export type QemuDecision =
  | { kind: 'none'; why: string }
  | { kind: 'stop'; reason: string; message: string }
  | { kind: 'steps'; steps: Step[] };

export const QEMU_STEP_IDS = [
  'installQemuIncremental',
  'qemuServerYaml',
  'qemuBuildGlobalConf',
  'qemuPushGlobalConf',
];

/** A QEMU run in flight (its steps journaled, not all Succeeded): it is planned again whatever is read now. */
function inFlight(journal: Plan | undefined): boolean {
  const steps = journal?.steps?.filter((s) => QEMU_STEP_IDS.includes(s.id)) ?? [];
  return (
    steps.length > 0 && steps.some((s) => s.state !== 'Pending') && steps.some((s) => s.state !== 'Succeeded')
  );
}

export function qemuSection(input: QemuInput): QemuDecision {
  const { spec, zoneId } = input;
  if (spec.role !== 'hyper') return { kind: 'none', why: 'only hyper nodes run QEMU' };
  const versions = [...new Set(Object.values(input.newVersions).filter((v): v is string => !!v))];
  if (versions.length === 0)
    return { kind: 'none', why: 'no deployed node of the pool reports a QEMU version' };
  const path = serverYamlPath(zoneId);
  const resuming = inFlight(input.journal);
  if (input.serverYaml === null || input.serverYaml === undefined) {
    return {
      kind: 'stop',
      reason: 'ServerYamlUnavailable',
      message: `${path} ${input.serverYaml === null ? 'could not be read' : 'does not exist'} on the firstbox, so whether the new nodes' QEMU ${versions.join(', ')} is in compute_server.emulator cannot be told (ASSUMPTION: the runbook's server.yaml is this file, as in runbooks R1 and R3)`,
    };
  }
  let listed: string[];
  try {
    const emulator = readPath(input.serverYaml, ['compute_server', 'emulator'], path);
    if (!emulator || typeof emulator !== 'object' || Array.isArray(emulator))
      throw new YamlEditError('no compute_server.emulator mapping');
    listed = Object.keys(emulator).filter((k) => k !== 'default');
  } catch (err) {
    return {
      kind: 'stop',
      reason: 'ServerYamlUnreadable',
      message: `${path}: ${(err as Error).message}; the QEMU section (runbook R4) edits compute_server.emulator, fix the file by hand`,
    };
  }
  const unlisted = versions.filter((v) => !listed.includes(v));
  if (unlisted.length === 0 && !resuming)
    return { kind: 'none', why: `compute_server.emulator lists QEMU ${versions.join(', ')}` };
  const wanted = resuming ? (spec.qemuIncremental?.version ?? unlisted[0]!) : unlisted[0]!;
  if (!resuming && unlisted.length > 1) {
    return {
      kind: 'stop',
      reason: 'QemuVersionsMixed',
      message: `the pool's new hyper nodes run QEMU ${unlisted.join(' and ')}, none listed in compute_server.emulator of ${path}; the runbook adds one version: deploy nodes of one QEMU version per pool`,
    };
  }
  const q = spec.qemuIncremental;
  if (!q || q.version !== wanted) {
    return {
      kind: 'stop',
      reason: 'QemuIncrementalUnspecified',
      message:
        `the new hyper nodes run QEMU ${wanted}, which compute_server.emulator in ${path} does not list (${listed.join(', ') || 'none'}): ` +
        'runbook R4 adds it (version → bin, and default) and installs the matching QEMU incremental package on the old nodes, ' +
        'but names neither the package nor its path (ASSUMPTION QemuIncremental): set spec.qemuIncremental ' +
        `{version: '${wanted}', package, bin}${q ? ` (it names version ${q.version})` : ''}`,
    };
  }
  const version = validated('OS_VERSION', q.version, 'spec.qemuIncremental.version');
  const pkg = validated('PACKAGE', q.package, 'spec.qemuIncremental.package');
  const bin = validated('FIRSTBOX_PATH', q.bin, 'spec.qemuIncremental.bin');
  const poolNodes = new Set(spec.nodes.map((n) => n.address));
  const old = input.platformNodes
    .filter(
      (p) =>
        p.zoneId === zoneId &&
        p.status === 'deployed' &&
        p.roles.includes('hyper') &&
        !poolNodes.has(p.mgmtIp),
    )
    .map((p) => validated('NODE_ID', p.nodeId, `node id of ${p.mgmtIp}`));
  let edited: string;
  try {
    edited = editYaml(
      input.serverYaml,
      [
        { path: ['compute_server', 'emulator', version, 'bin'], value: bin },
        { path: ['compute_server', 'emulator', 'default'], value: version },
      ],
      path,
    ).text;
  } catch (err) {
    if (!(err instanceof YamlEditError)) throw err;
    return {
      kind: 'stop',
      reason: 'ServerYamlUnreadable',
      message: `${err.message}; edit compute_server.emulator by hand (runbook R4)`,
    };
  }
  const steps: Step[] = [];
  if (old.length > 0) {
    steps.push(
      guardedStep(
        {
          id: 'installQemuIncremental',
          description: `R4 QEMU: install the QEMU ${version} incremental package ${pkg} on the ${old.length} old hyper node(s) (update.sh; ASSUMPTION: the runbook does not say how)`,
          host: { kind: 'firstbox' },
          command: shell(
            ['/pitrix/upgrade/update.sh', old.join(','), pkg],
            'install the QEMU incremental package',
          ),
          verify: (out) =>
            /update\.sh: done/.test(out) ? undefined : 'update.sh did not print "update.sh: done"',
          timeoutMs: HOUR,
        },
        // Long, on many nodes: under the job guard (never two pushes at once); no record, not done.
        { lockScope: input.zoneId, inputs: [pkg, old.join(',')] },
      ),
    );
  }
  steps.push(
    fileWriteStep({
      id: 'qemuServerYaml',
      description: `R4 QEMU: add ${version} to compute_server.emulator in ${path} and make it the default`,
      path,
      content: edited,
      before: input.serverYaml,
      backup: `${path}.pre-operator-qemu-${version}`,
      summary: `keys compute_server.emulator['${version}'].bin, compute_server.emulator.default`,
      journal: input.journal,
      timeoutMs: MIN,
    }),
    // The build and the push are long: under the job guard, their identity the server.yaml they
    // package (another edit is another build and push, never "already done").
    guardedStep(
      {
        id: 'qemuBuildGlobalConf',
        description: 'R4 QEMU: re-build the package (build_global_conf.sh)',
        host: { kind: 'firstbox' },
        command: shell(['/pitrix/upgrade/build_global_conf.sh'], 'build pitrix-global-conf'),
        timeoutMs: 30 * MIN,
      },
      { lockScope: input.zoneId, inputs: [edited] },
    ),
    guardedStep(
      {
        id: 'qemuPushGlobalConf',
        description: 'R4 QEMU: push out the pitrix-global-conf package (update.sh all pitrix-global-conf)',
        host: { kind: 'firstbox' },
        command: shell(['/pitrix/upgrade/update.sh', 'all', 'pitrix-global-conf'], 'push pitrix-global-conf'),
        verify: (out) =>
          /update\.sh: done/.test(out) ? undefined : 'update.sh did not print "update.sh: done"',
        timeoutMs: 2 * HOUR,
      },
      { lockScope: input.zoneId, inputs: [edited] },
    ),
  );
  return { kind: 'steps', steps };
}
