import { describe, expect, it } from 'vitest';
import type { Plan } from '../../api/common.js';
import type { NodePoolSpec } from '../../api/nodepool.js';
import type { PlatformNode } from '../../facts/types.js';
import { makePlan } from '../../runbook/step.js';
import { type QemuInput, qemuSection } from './qemu.js';

const SERVER_YAML = `# server.yaml.pek3a, hand-formatted
compute_server:
  # versions the hypers run
  emulator:
    '2.4.1.2':
        bin: '/usr/bin'   # the stock one
    default: '2.4.1.2'
  reserved_memory_mb: 0400
flags: {a: yes, b: no}
`;

const hyper = (ip: string, id: string): PlatformNode => ({
  nodeId: id,
  hostname: id,
  mgmtIp: ip,
  zoneId: 'pek3a',
  roles: ['hyper'],
  status: 'deployed',
  cpuCores: 32,
  arch: 'x86_64',
  memoryMiB: 1,
  osName: 'Ubuntu',
  osVersion: '16.04',
  disks: [],
  vip: false,
});

const spec = (more: Partial<NodePoolSpec> = {}): NodePoolSpec =>
  ({
    zoneRef: { name: 'pek3a' },
    role: 'hyper',
    nodes: [{ address: '127.77.0.21' }, { address: '127.77.0.22' }],
    sshPort: 22,
    approval: 'Automatic',
    paused: false,
    ...more,
  }) as NodePoolSpec;

const q = { version: '2.11.1.1', package: 'pitrix-qemu-2.11.1.1', bin: '/opt/qemu-2.11.1.1/usr/bin' };

function input(more: Partial<QemuInput> = {}): QemuInput {
  return {
    zoneId: 'pek3a',
    spec: spec({ qemuIncremental: q }),
    newVersions: { '127.77.0.21': '2.11.1.1', '127.77.0.22': '2.11.1.1' },
    platformNodes: [
      hyper('127.77.0.13', 'hyper1'),
      hyper('127.77.0.14', 'hyper2'),
      hyper('127.77.0.21', 'hyper3'),
      hyper('127.77.0.22', 'hyper4'),
    ],
    serverYaml: SERVER_YAML,
    ...more,
  };
}

describe('the QEMU section of R4', () => {
  it('does nothing when compute_server.emulator already lists the new nodes’ version', () => {
    expect(qemuSection(input({ newVersions: { '127.77.0.21': '2.4.1.2' } })).kind).toBe('none');
    expect(qemuSection(input({ newVersions: {} })).kind).toBe('none');
  });

  it('stops, naming the assumption, when the runbook leaves the package and path unsaid', () => {
    const r = qemuSection(input({ spec: spec() }));
    expect(r.kind).toBe('stop');
    if (r.kind !== 'stop') return;
    expect(r.reason).toBe('QemuIncrementalUnspecified');
    expect(r.message).toContain('ASSUMPTION QemuIncremental');
    expect(r.message).toContain("version: '2.11.1.1'");
    // A spec naming another version is not taken for this one.
    const other = qemuSection(input({ spec: spec({ qemuIncremental: { ...q, version: '2.12.0' } }) }));
    expect(other.kind === 'stop' && other.reason).toBe('QemuIncrementalUnspecified');
    expect(qemuSection(input({ serverYaml: undefined })).kind === 'stop').toBe(true);
    const mixed = qemuSection(input({ newVersions: { a: '2.11.1.1', b: '2.12.0' } }));
    expect(mixed.kind === 'stop' && mixed.reason).toBe('QemuVersionsMixed');
  });

  it('installs the package on the old nodes, edits only the emulator lines, rebuilds and pushes', () => {
    const r = qemuSection(input());
    expect(r.kind).toBe('steps');
    if (r.kind !== 'steps') return;
    expect(r.steps.map((s) => s.id)).toEqual([
      'installQemuIncremental',
      'qemuServerYaml',
      'qemuBuildGlobalConf',
      'qemuPushGlobalConf',
    ]);
    // The long ones under the job guard, each with the runbook's command as the job.
    const job = (i: number) => {
      expect(r.steps[i]!.job?.dir).toMatch(/^\/pitrix\/conf\/operator\/jobs\/pek3a\//);
      return r.steps[i]!.command.script;
    };
    expect(job(0)).toContain("'/pitrix/upgrade/update.sh hyper1,hyper2 pitrix-qemu-2.11.1.1'");
    expect(job(2)).toMatch(/ run \S+ \S+ \/pitrix\/upgrade\/build_global_conf\.sh$/);
    expect(job(3)).toContain("'/pitrix/upgrade/update.sh all pitrix-global-conf'");
    expect(r.steps[1]!.job).toBeUndefined();
    const written = r.steps[1]!.stdinContent!;
    // Byte for byte, except the new version's lines and the default.
    expect(written).toBe(
      SERVER_YAML.replace(
        "    default: '2.4.1.2'\n",
        "    default: '2.11.1.1'\n    2.11.1.1:\n      bin: /opt/qemu-2.11.1.1/usr/bin\n",
      ),
    );
    expect(r.steps[1]!.command.script).toContain('/pitrix/conf/variables/global/server.yaml.pek3a');
  });

  it('carries a started run to its end with the same plan, though server.yaml now lists the version', () => {
    const first = qemuSection(input());
    if (first.kind !== 'steps') throw new Error('expected steps');
    const plan = makePlan(first.steps);
    const edited = first.steps[1]!.stdinContent!;
    const journal: Plan = {
      hash: plan.hash,
      steps: plan.steps.map((s, i) => ({
        id: s.id,
        host: 'firstbox',
        command: s.command.script,
        // The guard's installation, the package install and the server.yaml write are done.
        state: i < 3 ? 'Succeeded' : 'Pending',
      })),
    } as Plan;
    const again = qemuSection(input({ serverYaml: edited, journal }));
    if (again.kind !== 'steps') throw new Error(`expected steps, got ${again.kind}`);
    expect(makePlan(again.steps).hash).toBe(plan.hash);
    // Once finished, nothing more.
    const done = { ...journal, steps: journal.steps!.map((s) => ({ ...s, state: 'Succeeded' })) } as Plan;
    expect(qemuSection(input({ serverYaml: edited, journal: done })).kind).toBe('none');
  });
});
