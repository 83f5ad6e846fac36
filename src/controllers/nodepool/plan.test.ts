import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SETTINGS_TEMPLATE as SIM_SETTINGS_TEMPLATE } from '../../../hack/sim/templates.js';
import type { NodePoolSpec } from '../../api/nodepool.js';
import type { NodeFacts, PlatformNode } from '../../facts/types.js';
import { SETTINGS_TEMPLATE } from '../templatefill.js';
import { type NodePoolPlanInput, planNodePool } from './plan.js';

function facts(overrides: Partial<NodeFacts> = {}): NodeFacts {
  return {
    cpuCores: 32,
    arch: 'x86_64',
    memoryMiB: 131072,
    os: { name: 'Ubuntu', version: '16.04.5', description: 'Ubuntu 16.04.5 LTS' },
    kernel: '4.4.0-142-generic',
    disks: [
      {
        name: 'sda',
        type: 'disk',
        sizeBytes: 480e9,
        rotational: false,
        removable: false,
        transport: 'sata',
        model: 'INTEL',
        diskClass: 'ssd',
        parent: null,
        mountpoint: null,
      },
      {
        name: 'sda1',
        type: 'part',
        sizeBytes: 470e9,
        rotational: false,
        removable: false,
        transport: null,
        model: '',
        diskClass: 'ssd',
        parent: 'sda',
        mountpoint: '/',
      },
      {
        name: 'sdb',
        type: 'disk',
        sizeBytes: 960e9,
        rotational: true,
        removable: false,
        transport: 'sata',
        model: 'PERC H730P',
        diskClass: 'sata',
        parent: null,
        mountpoint: null,
      },
    ],
    nics: [],
    qemuVersion: '2.5.0',
    qemuBuild: null,
    packages: {},
    services: null,
    supervisor: 'absent',
    collectedAt: '2026-11-21T00:00:00Z',
    problems: [],
    ...overrides,
  };
}

const deployed = (ip: string, id: string, role = 'hyper'): PlatformNode => ({
  nodeId: id,
  hostname: id,
  mgmtIp: ip,
  zoneId: 'pek3a',
  roles: [role],
  status: 'deployed',
  cpuCores: 32,
  arch: 'x86_64',
  memoryMiB: 1,
  osName: 'Ubuntu',
  osVersion: '16.04',
  disks: [],
  vip: false,
});

function input(spec: Partial<NodePoolSpec>, more: Partial<NodePoolPlanInput> = {}): NodePoolPlanInput {
  const full: NodePoolSpec = {
    zoneRef: { name: 'pek3a' },
    role: 'hyper',
    nodes: [{ address: '127.77.0.21' }, { address: '127.77.0.22' }],
    sshPort: 22,
    approval: 'Automatic',
    paused: false,
    ...spec,
  } as NodePoolSpec;
  return {
    poolName: 'hyper-b',
    spec: full,
    zone: { zoneId: 'pek3a', mode: 'standard', installerVersion: '4.6.2' },
    platformNodes: [deployed('127.77.0.13', 'hyper1'), deployed('127.77.0.14', 'hyper2')],
    observations: Object.fromEntries(full.nodes.map((n) => [n.address, { facts: facts() }])),
    files: { [SETTINGS_TEMPLATE]: { text: SIM_SETTINGS_TEMPLATE } },
    ...more,
  };
}

describe('planNodePool (R4)', () => {
  it('scales a standard zone by a pair of hyper nodes with the runbook sequence', async () => {
    const r = planNodePool(
      input({
        nodes: [
          { address: '127.77.0.21', diskOverrides: [{ device: 'sdb', type: 'ssd' }] },
          { address: '127.77.0.22' },
        ],
      }),
    );
    expect(r.violations).toEqual([]);
    expect(r.deploying).toEqual(['127.77.0.21', '127.77.0.22']);
    const golden = r.plan.steps
      .map((s) => `${s.id} @${s.host.kind}${s.destructive ? ' [destructive]' : ''}\n  ${s.command.script}`)
      .join('\n');
    await expect(`hash ${r.plan.hash}\n${golden}\n`).toMatchFileSnapshot('__golden__/standard-two-hyper.txt');
    expect(r.plan.steps.map((s) => s.id)).toEqual([
      'writeNodeList',
      'addNodes',
      'listNewNodes',
      'installJobGuard',
      'collectNodes',
      'modifyNodeAttributes-127.77.0.21-sdb',
      'verifyNodes',
      'copyScaleSettings',
      'fillScaleSettings',
      'configQingcloud',
      'scaleQingcloud',
      'checkServices-hyper',
      'dumpVbcRoutes',
    ]);
  });

  it('checks supervisor on every vg and hyper node of the zone, old ones too, verbatim (R4 §2.3)', () => {
    const r = planNodePool(
      input({}, { platformNodes: [...input({}).platformNodes, deployed('127.77.0.31', 'vg1', 'vg')] }),
    );
    const vg = r.plan.steps.find((s) => s.id === 'checkServices-vg')!;
    const hyper = r.plan.steps.find((s) => s.id === 'checkServices-hyper')!;
    expect(vg.command.script).toBe("/pitrix/upgrade/exec_nodes.sh vg 'supervisorctl status'");
    expect(hyper.command.script).toBe("/pitrix/upgrade/exec_nodes.sh hyper 'supervisorctl status'");
    const node = (id: string, ip: string, state = 'RUNNING') =>
      `==== ${id} (${ip}) ====\ncompute_server                   ${state}   pid 1, uptime 0:01:00`;
    const all = ['127.77.0.13', '127.77.0.14', '127.77.0.21', '127.77.0.22'];
    const out = (lines: string[]) => `${lines.join('\n')}\nexec_nodes: ${lines.length} ok, 0 failed\n`;
    expect(hyper.verify!(out(all.map((ip, i) => node(`hyper${i + 1}`, ip))))).toBeUndefined();
    // An old node with a stopped program fails the check, as the runbook's check would.
    expect(
      hyper.verify!(out(all.map((ip, i) => node(`hyper${i + 1}`, ip, i === 0 ? 'STOPPED' : 'RUNNING')))),
    ).toMatch(/127\.77\.0\.13: compute_server STOPPED/);
    // exec_nodes.sh without -f stops at the first failing node: the silent ones are not fine.
    expect(hyper.verify!(out([node('hyper1', '127.77.0.13', 'FATAL')]))).toMatch(
      /127\.77\.0\.14, 127\.77\.0\.21, 127\.77\.0\.22: no output from exec_nodes\.sh hyper/,
    );
    expect(vg.verify!(out([node('vg1', '127.77.0.31')]))).toBeUndefined();
    // No vg node in the zone: no vg check (exec_nodes.sh would only say no node matches).
    expect(planNodePool(input({})).plan.steps.some((s) => s.id === 'checkServices-vg')).toBe(false);
  });

  it('views the newly added nodes (describe-nodes.py -s new) after add-nodes.py', () => {
    const r = planNodePool(input({}, { observations: {} }));
    const ids = r.plan.steps.map((s) => s.id);
    expect(ids.indexOf('listNewNodes')).toBe(ids.indexOf('addNodes') + 1);
    const step = r.plan.steps.find((s) => s.id === 'listNewNodes')!;
    expect(step.command.script).toBe('/pitrix/cli/describe-nodes.py -s new -f json');
    const answer = (ips: string[]) =>
      JSON.stringify({
        action: 'DescribeNodesResponse',
        ret_code: 0,
        node_set: ips.map((ip, i) => ({
          node_id: `hyper${i + 3}`,
          hostname: `hyper${i + 3}`,
          mgmt_ip: ip,
          zone_id: 'pek3a',
          roles: [],
          status: 'new',
          disks: [],
        })),
      });
    expect(step.verify!(answer(['127.77.0.21', '127.77.0.22']))).toBeUndefined();
    expect(step.verify!(answer(['127.77.0.21']))).toMatch(
      /not listed as new after add-nodes\.py: 127\.77\.0\.22/,
    );
  });

  it('after the scale, runs the QEMU section when the new nodes run a version server.yaml does not list', async () => {
    const serverYaml = {
      text: "compute_server:\n  emulator:\n    '2.4.1.2':\n        bin: '/usr/bin'\n    default: '2.4.1.2'\n",
    };
    const deployedPool = {
      platformNodes: [
        ...input({}).platformNodes,
        deployed('127.77.0.21', 'hyper3'),
        deployed('127.77.0.22', 'hyper4'),
      ],
      files: { ...input({}).files, '/pitrix/conf/variables/global/server.yaml.pek3a': serverYaml },
    };
    const stop = planNodePool(input({}, deployedPool));
    expect(stop.violations.map((v) => v.reason)).toEqual(['QemuIncrementalUnspecified']);
    const r = planNodePool(
      input(
        {
          qemuIncremental: {
            version: '2.5.0',
            package: 'pitrix-qemu-2.5.0',
            bin: '/opt/qemu-2.5.0/usr/bin',
          },
        },
        deployedPool,
      ),
    );
    expect(r.violations).toEqual([]);
    const golden = r.plan.steps.map((s) => `${s.id} @${s.host.kind}\n  ${s.command.script}`).join('\n');
    await expect(`hash ${r.plan.hash}\n${golden}\n`).toMatchFileSnapshot('__golden__/qemu-section.txt');
    // Without the server.yaml observation (plan --kubeconfig of another role), no QEMU section.
    expect(planNodePool(input({}, { platformNodes: deployedPool.platformNodes })).plan.steps).toEqual([]);
  });

  it('copies settings.template.yaml to scale_settings.ZONE_ID.yaml, backs up anything else, fills it in', () => {
    const r = planNodePool(input({}));
    const ids = r.plan.steps.map((s) => s.id);
    expect(ids.indexOf('copyScaleSettings') + 1).toBe(ids.indexOf('fillScaleSettings'));
    const copy = r.plan.steps.find((s) => s.id === 'copyScaleSettings')!;
    expect(copy.command.script).toContain(
      'cp -f /pitrix/config/templates/settings.template.yaml /pitrix/config/scale_settings.pek3a.yaml',
    );
    // A dated backup with a unique name (mktemp), never a name a second backup could reuse.
    expect(copy.command.script).toContain('mktemp "$f.bak-$(date -u +%Y%m%d)-XXXXXX"');
    const filled = r.plan.steps.find((s) => s.id === 'fillScaleSettings')!.stdinContent!;
    // The template's text and comments stay; only the named keys change.
    expect(filled).toContain('# VG nodes need EIP ranges, keyed by the VG');
    expect(filled).toMatch(/^# Filled in by pitrix-operator from a copy of/);
    expect(filled).toContain('zone_id: pek3a\n');
    expect(filled).toContain('  hyper: [127.77.0.21, 127.77.0.22]\n  vg: []\n');
    // No template on the firstbox: nothing deploys, and the condition says which file.
    const missing = planNodePool(input({}, { files: { [SETTINGS_TEMPLATE]: {} } }));
    expect(missing.violations.map((v) => v.reason)).toEqual(['SettingsTemplateMissing']);
    expect(missing.plan.steps).toEqual([]);
  });

  it('rebuilds the BOSS V2 cache when the firstbox lists a deployed boss node, on the first boss node', () => {
    expect(planNodePool(input({})).plan.steps.some((s) => s.id === 'rebuildBossCache')).toBe(false);
    const r = planNodePool(
      input({}, { platformNodes: [...input({}).platformNodes, deployed('127.77.0.51', 'boss0', 'boss')] }),
    );
    const ids = r.plan.steps.map((s) => s.id);
    expect(ids.indexOf('rebuildBossCache')).toBe(ids.indexOf('checkServices-hyper') + 1);
    expect(r.plan.steps.find((s) => s.id === 'rebuildBossCache')!.command.script).toBe(
      '. /pitrix/conf/nodes/boss && test -n "${nodes[0]}" && /pitrix/upgrade/exec_nodes.sh "${nodes[0]}" \'/pitrix/bin/boss2-manager/django_manage.sh rebuild_cache\'',
    );
  });

  it('runs the optional R4 steps: key access, disk wipe, all corrections, mirror, vg check, BOSS cache (golden)', async () => {
    const r = planNodePool(
      input(
        {
          nodes: [
            {
              address: '127.77.0.21',
              diskOverrides: [
                { device: 'sdb', type: 'ssd' },
                { device: 'sdc', sizeGiB: 3200 },
                { device: 'sdd', enabled: false },
              ],
            },
          ],
          nodeCredentialsSecretRef: { name: 'node-creds' },
          eraseDataDisks: { devices: ['nvme0n1'], confirm: 'hyper-b' },
        },
        {
          zone: { zoneId: 'pek3a', mode: 'fusion', installerVersion: '4.6.2' },
          platformNodes: [
            ...input({}).platformNodes,
            deployed('127.77.0.31', 'vg1', 'vg'),
            deployed('127.77.0.51', 'boss0', 'boss'),
          ],
        },
      ),
    );
    expect(r.violations).toEqual([]);
    const golden = r.plan.steps
      .map(
        (s) =>
          `${s.id} @${s.host.kind}${s.destructive ? ' [destructive]' : ''}\n  ${s.command.script}${s.check ? `\n  check: ${s.check.script}` : ''}`,
      )
      .join('\n');
    await expect(`hash ${r.plan.hash}\n${golden}\n`).toMatchFileSnapshot(
      '__golden__/fusion-one-hyper-extras.txt',
    );
    expect(r.plan.steps.map((s) => s.id)).toEqual([
      'writeNodeList',
      'addNodes',
      'listNewNodes',
      'establishSsh',
      'installJobGuard',
      'eraseDataDisks',
      'collectNodes',
      'modifyNodeAttributes-127.77.0.21-sdb',
      'modifyNodeAttributes-127.77.0.21-sdc',
      'modifyNodeAttributes-127.77.0.21-sdd',
      'verifyNodes',
      'copyScaleSettings',
      'fillScaleSettings',
      'configQingcloud',
      'scaleQingcloud',
      'updateHyperMirror',
      'checkServices-vg',
      'checkServices-hyper',
      'rebuildBossCache',
      'dumpVbcRoutes',
    ]);
  });

  it('refuses an odd hyper count in standard mode before anything runs', () => {
    const r = planNodePool(input({ nodes: [{ address: '127.77.0.21' }] }));
    expect(r.violations.map((v) => v.reason)).toEqual(['HyperNodesNotInPairs']);
    expect(r.plan.steps).toEqual([]);
  });

  it('counts the hyper nodes being added, not spec.nodes: one deployed plus a new pair is a pair', () => {
    const r = planNodePool(
      input({ nodes: [{ address: '127.77.0.13' }, { address: '127.77.0.21' }, { address: '127.77.0.22' }] }),
    );
    expect(r.violations).toEqual([]);
    expect(r.deploying).toEqual(['127.77.0.21', '127.77.0.22']);
    const odd = planNodePool(input({ nodes: [{ address: '127.77.0.13' }, { address: '127.77.0.21' }] }));
    expect(odd.violations.map((v) => v.reason)).toEqual(['HyperNodesNotInPairs']);
    expect(odd.violations[0]!.message).toContain('would add 1 node(s) (127.77.0.21)');
  });

  it("names only this pool's own deployed nodes as not in spec, never another pool's hypers", () => {
    // 127.77.0.13/14 are deployed hypers of the zone this pool never reported.
    const r = planNodePool(input({}, { previouslyDeployed: [] }));
    expect(r.notInSpec).toEqual([]);
    const own = planNodePool(
      input(
        { nodes: [{ address: '127.77.0.13' }] },
        { previouslyDeployed: ['127.77.0.13', '127.77.0.14', '127.77.0.99'] },
      ),
    );
    // 127.77.0.99 is no longer deployed on the platform: nothing to report for it.
    expect(own.notInSpec).toEqual(['127.77.0.14']);
  });

  it('allows any hyper count in fusion mode and refreshes the hyper mirror', () => {
    const r = planNodePool(
      input({ nodes: [{ address: '127.77.0.21' }] }, { zone: { zoneId: 'pek3a', mode: 'fusion' } }),
    );
    expect(r.violations).toEqual([]);
    expect(r.plan.steps.map((s) => s.id)).toContain('updateHyperMirror');
  });

  it("requires eips on every VG node and writes each VG's own ranges under its management address", () => {
    const noEips = planNodePool(
      input({
        role: 'vg',
        nodes: [{ address: '127.77.0.31', eips: ['10.0.0.10-10.0.0.20'] }, { address: '127.77.0.32' }],
      }),
    );
    expect(noEips.violations.map((v) => v.reason)).toEqual(['EipsRequired']);
    expect(noEips.violations[0]!.message).toContain('127.77.0.32');
    const r = planNodePool(
      input({
        role: 'vg',
        nodes: [
          { address: '127.77.0.31', eips: ['10.0.0.10-10.0.0.20', '10.0.1.0/26'] },
          { address: '127.77.0.32', eips: ['10.0.2.10-10.0.2.20'] },
        ],
      }),
    );
    const doc = parse(r.plan.steps.find((s) => s.id === 'fillScaleSettings')!.stdinContent!) as {
      eips: Record<string, string[]>;
    };
    // Several ranges per node, and never the same ranges copied to every VG.
    expect(doc.eips).toEqual({
      '127.77.0.31': ['10.0.0.10-10.0.0.20', '10.0.1.0/26'],
      '127.77.0.32': ['10.0.2.10-10.0.2.20'],
    });
  });

  it('never re-collects or re-deploys a deployed node, and reports removed ones without scaling in', () => {
    const r = planNodePool(input({ nodes: [{ address: '127.77.0.13' }, { address: '127.77.0.14' }] }));
    expect(r.plan.steps).toEqual([]);
    expect(r.nodes.every((n) => n.phase === 'Deployed')).toBe(true);
    const removed = planNodePool(
      input({ nodes: [{ address: '127.77.0.13' }] }, { previouslyDeployed: ['127.77.0.13', '127.77.0.14'] }),
    );
    expect(removed.notInSpec).toEqual(['127.77.0.14']);
    expect(removed.plan.steps).toEqual([]);
  });

  const collected = (
    ip: string,
    id: string,
    disks: PlatformNode['disks'],
    osName = 'Ubuntu',
  ): PlatformNode => ({
    ...deployed(ip, id),
    roles: [],
    status: 'collected',
    osName,
    disks,
  });
  const dataDisk = { device: 'sdb', type: 'sata' as const, sizeGiB: 894, enabled: true };
  const listed = (disksA = [dataDisk], osA = 'Ubuntu') => [
    deployed('127.77.0.13', 'hyper1'),
    deployed('127.77.0.14', 'hyper2'),
    collected('127.77.0.21', 'hyper3', disksA, osA),
    collected('127.77.0.22', 'hyper4', [dataDisk]),
  ];

  it('reports machines the installer does not list yet as Pending, without facts, and plans them', () => {
    const r = planNodePool(input({}, { observations: {} }));
    expect(r.violations).toEqual([]);
    for (const n of r.nodes) {
      expect(n.phase).toBe('Deploying');
      expect(n.message).toBe('not listed by the installer yet: facts come from collect-nodes.py');
    }
    expect(r.plan.steps.map((s) => s.id)).toContain('verifyNodes');
  });

  it('reports an unreachable listed node and holds its pair partner in standard mode', () => {
    const r = planNodePool(
      input(
        {},
        {
          platformNodes: listed(),
          observations: { '127.77.0.21': { facts: facts() }, '127.77.0.22': { error: 'connect refused' } },
        },
      ),
    );
    expect(r.nodes.find((n) => n.address === '127.77.0.22')!.phase).toBe('Unreachable');
    expect(r.violations[0]!.reason).toBe('HyperPairIncomplete');
    expect(r.plan.steps).toEqual([]);
  });

  it('rejects a collected node without a data disk, or not on Ubuntu, from what the installer collected', () => {
    const noData = planNodePool(input({}, { platformNodes: listed([{ ...dataDisk, enabled: false }]) }));
    const a = noData.nodes.find((n) => n.address === '127.77.0.21')!;
    expect(a.phase).toBe('Rejected');
    expect(a.message).toMatch(/no enabled data disk/);
    const centos = planNodePool(input({}, { platformNodes: listed([dataDisk], 'CentOS') }));
    expect(centos.nodes.find((n) => n.address === '127.77.0.21')!.message).toMatch(/runs CentOS/);
  });

  it('judges the new nodes at verifyNodes (R4.4) on the collected facts: data disk and Ubuntu', () => {
    const r = planNodePool(input({}, { observations: {} }));
    const verify = r.plan.steps.find((s) => s.id === 'verifyNodes')!.verify!;
    const answer = (disks: object[], os = 'Ubuntu') =>
      JSON.stringify({
        action: 'DescribeNodesResponse',
        ret_code: 0,
        node_set: ['127.77.0.21', '127.77.0.22'].map((ip, i) => ({
          node_id: `hyper${i + 3}`,
          hostname: `hyper${i + 3}`,
          mgmt_ip: ip,
          zone_id: 'pek3a',
          roles: [],
          status: 'available',
          os_name: i === 0 ? os : 'Ubuntu',
          disks: i === 0 ? disks : [{ device: 'sdb', type: 'sata', size_gib: 894, enabled: 1 }],
        })),
      });
    expect(verify(answer([{ device: 'sdb', type: 'sata', size_gib: 894, enabled: 1 }]))).toBeUndefined();
    expect(verify(answer([]))).toMatch(/127\.77\.0\.21 has no enabled data disk/);
    expect(verify(answer([{ device: 'sdb', type: 'sata', size_gib: 894, enabled: 1 }], 'CentOS'))).toMatch(
      /127\.77\.0\.21 runs CentOS/,
    );
  });

  it('erases disks only when asked, marks the step destructive, and runs it before collection', () => {
    const r = planNodePool(input({ eraseDataDisks: { devices: ['sdb'], confirm: 'hyper-b' } }));
    const ids = r.plan.steps.map((s) => s.id);
    expect(ids.indexOf('eraseDataDisks')).toBeLessThan(ids.indexOf('collectNodes'));
    expect(r.plan.steps.find((s) => s.id === 'eraseDataDisks')!.destructive).toBe(true);
  });

  it('refuses a shell-injection address even if it got past the API server', () => {
    expect(() =>
      planNodePool(input({ nodes: [{ address: '127.0.0.1;reboot' }, { address: '127.77.0.22' }] })),
    ).toThrow(/spec\.nodes\[0\]\.address/);
  });

  it('keeps the password out of the command text and the plan hash', () => {
    const r = planNodePool(input({ nodeCredentialsSecretRef: { name: 'node-creds' } }));
    const step = r.plan.steps.find((s) => s.id === 'establishSsh')!;
    expect(step.command.script).toContain('"$PITRIX_PASSWD"');
    expect(step.stdinSecret?.secretName).toBe('node-creds');
  });

  it('has a stable hash for the same inputs and a new one when the spec changes', () => {
    expect(planNodePool(input({})).plan.hash).toBe(planNodePool(input({})).plan.hash);
    expect(planNodePool(input({})).plan.hash).not.toBe(
      planNodePool(input({ nodes: [{ address: '127.77.0.21' }, { address: '127.77.0.23' }] })).plan.hash,
    );
  });
});

describe('vbcRoutes (R4.11, captured from the whole output)', () => {
  it('keeps every route of a large zone: nothing is cut at an output-tail bound', async () => {
    const { vbcRoutes } = await import('./plan.js');
    const lines = Array.from(
      { length: 120 },
      (_, i) =>
        `ip route add 10.${100 + Math.floor(i / 250)}.${i % 250}.0/24 via 192.168.10.${(i % 250) + 1}  # hyp${i}`,
    );
    const out = `${lines.join('\n')}\n`;
    expect(out.length).toBeGreaterThan(4096);
    const routes = vbcRoutes(out);
    expect(routes).toHaveLength(120);
    expect(routes[119]).toEqual({ destination: '10.100.119.0/24', gateway: '192.168.10.120' });
  });
});
