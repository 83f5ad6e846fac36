import { describe, expect, it } from 'vitest';
import { WebserviceUpgradeSpec } from '../../api/webserviceupgrade.js';
import type { PlatformNode } from '../../facts/types.js';
import { GUARD_PATH, JOB_ROOT } from '../../runbook/jobguard.js';
import type { Step } from '../../runbook/step.js';
import { quote } from '../../ssh/command.js';
import { parseFloatingIp, parseNodeSettings, splitSections, verifySupervisor } from './checks.js';
import {
  isNodeStep,
  type NodeSettings,
  PACKAGES,
  planUpgrade,
  swapPhysicalHosts,
  type UpgradePlanInput,
} from './plan.js';
import { planRollback } from './rollback.js';
import { msUntilOpen, windowOpen } from './window.js';

function ws(nodeId: string, zoneId: string, ip: string, vip = false): PlatformNode {
  return {
    nodeId,
    hostname: `${zoneId}-${nodeId}`,
    mgmtIp: ip,
    zoneId,
    roles: ['webservice'],
    status: 'deployed',
    cpuCores: 8,
    arch: 'x86_64',
    memoryMiB: 16384,
    osName: 'Ubuntu',
    osVersion: '16.04.5',
    disks: [],
    vip,
  };
}

/** A settings file as seed 004 lines 79–118 show it (values of this test zone). */
const settingsText = (zone: string, ip: string, host: string) =>
  [
    '## Role',
    'role="webservice"',
    '',
    '## Region',
    'is_region="0"',
    'region_id=""',
    `zone_id="${zone}"`,
    '',
    '## Feature',
    'feature_vmnode="on"',
    'feature_ksnode="on"',
    'feature_vgnode="off"',
    'feature_hypernode="off"',
    'feature_conntrack="off"',
    '',
    '## Firstbox',
    'firstbox_address="10.16.1.2"',
    '',
    '## General',
    'cpu_arch="x86_64"',
    'cpu_cores="8"',
    'memory_size="16000"',
    'os_name="xenial"',
    'os_version="16.04.5"',
    `hostname="${zone}-ws"`,
    '',
    '## Mgmt Network',
    'mgmt_network_interface="eth0"',
    `mgmt_network_address="${ip}"`,
    'mgmt_network_netmask="255.255.255.0"',
    'mgmt_network_gateway="10.16.1.1"',
    'mgmt_network_dns_servers="10.16.1.2"',
    'mgmt_network_mac_address="52:54:7e:00:00:01"',
    '',
    '## Host',
    `physical_host="${host}"`,
    'physical_host_network_interface="br0"',
    'physical_host_eip_network_interface=""',
    '',
  ].join('\n');

const settings = (zone: string, ip: string, host: string): NodeSettings =>
  parseNodeSettings(settingsText(zone, ip, host))!;

function input(
  over: Omit<Partial<UpgradePlanInput>, 'spec'> & { spec?: Record<string, unknown> } = {},
): UpgradePlanInput {
  const { spec, ...rest } = over;
  return {
    name: 'rebuild',
    spec: WebserviceUpgradeSpec.parse({
      zoneRef: { name: 'pek3a' },
      target: {
        osName: 'bionic',
        osVersion: '18.04',
        baseImage: '/pitrix/kernels/base/bionic.img',
        repository: '/pitrix/repo/bionic',
      },
      minReadySeconds: 30,
      ...spec,
    }),
    zone: { zoneId: 'pek3a', global: true, installerVersion: '4.6.2' },
    platformNodes: [
      ws('webservice1', 'pek3a', '10.16.1.21', true),
      ws('webservice2', 'pek3a', '10.16.1.22'),
      { ...ws('hyper1', 'pek3a', '10.16.1.31'), roles: ['hyper'] },
    ],
    settings: {
      webservice1: settings('pek3a', '10.16.1.21', 'hyper1'),
      webservice2: settings('pek3a', '10.16.1.22', 'hyper2'),
    },
    backupSuffix: '20261121',
    startedAt: '2026-11-21T08:00:00Z',
    done: [],
    started: [],
    ...rest,
  };
}

const step = (r: { plan: { steps: Step[] } }, id: string) => r.plan.steps.find((s) => s.id === id)!;

/** The runbook's command, run by the job guard in this step's job directory under the zone's lock. */
function expectGuarded(s: Step, runbook: string, zone = 'pek3a') {
  expect(s.job?.dir).toMatch(new RegExp(`^${JOB_ROOT}/${zone}/${s.id}-[0-9a-f]{16}$`));
  expect(s.command.script).toBe(`${GUARD_PATH} run ${s.job!.dir} ${JOB_ROOT}/${zone}.lock ${quote(runbook)}`);
}

function golden(r: ReturnType<typeof planUpgrade>): string {
  const steps = r.plan.steps
    .map((s) => `${s.id} @${s.host.kind === 'firstbox' ? 'firstbox' : s.host.address}\n  ${s.command.script}`)
    .join('\n');
  return `hash ${r.plan.hash}\n${steps}\n`;
}

describe('planUpgrade (R5)', () => {
  it('global zone: VIP holder last, .py tools, global packages, floating IP assigned (golden)', async () => {
    const r = planUpgrade(input({ spec: { floatingIP: '10.16.1.100', temporaryAddresses: ['10.16.1.90'] } }));
    expect(r.violations).toEqual([]);
    expect(r.order.map((n) => [n.name, n.holdsVip, n.physicalHost, n.newPhysicalHost])).toEqual([
      ['webservice2', false, 'hyper2', 'hyper1'],
      ['webservice1', true, 'hyper1', 'hyper2'],
    ]);
    const ids = r.plan.steps.map((s) => s.id);
    expect(ids.slice(0, 6)).toEqual([
      'checkBaseImage',
      'backupSettings',
      'backupNode-webservice2',
      'backupNode-webservice1',
      'assignFloatingIp',
      'refreshKeys',
    ]);
    expect(r.nodeSteps.webservice2).toEqual([
      'preflight-webservice2',
      'writeNodeSettings-webservice2',
      'checkBridge-webservice2',
      'genNodeList-webservice2',
      'checkImage-webservice2',
      'stopServices-webservice2',
      'keepOldImage-webservice2',
      'launchVm-webservice2',
      'installNode-webservice2',
      'nginxConfig-webservice2',
      'keepalived-webservice2',
      'deployServices-webservice2',
      'restoreAddress-webservice2',
      'verifyAddressRestored-webservice2',
      'removeStaleHostKeys-webservice2',
      'repinHostKey-webservice2',
      'verifyServices-webservice2',
      'healthGate-webservice2',
    ]);
    const cmd = (id: string) => r.plan.steps.find((s) => s.id === id)!.command.script;
    expectGuarded(
      step(r, 'deployServices-webservice1'),
      `/pitrix/upgrade/update.sh webservice1 ${PACKAGES.global}`,
    );
    expectGuarded(
      step(r, 'genNodeList-webservice1'),
      '/pitrix/bin/gen_node_list.py && /pitrix/build/build_pkgs_allinone.py',
    );
    expect(cmd('assignFloatingIp')).toContain('/pitrix/conf/variables/variables.yaml');
    expect(cmd('healthGate-webservice1')).toContain('http://10.16.1.21/');
    expect(cmd('healthGate-webservice1')).toContain('http://10.16.1.100:7777/');
    await expect(golden(r)).toMatchFileSnapshot('__golden__/global-two-nodes.txt');
  });

  it('runs the package build, launch_vms.sh -f, install_nodes.sh and update.sh under the job guard, one job identity per rollout', () => {
    const r = planUpgrade(input());
    const ids = r.plan.steps.map((s) => s.id);
    // The guard is installed once, before the first guarded job (the first node's package build).
    expect(ids.indexOf('installJobGuard')).toBe(ids.indexOf('genNodeList-webservice2') - 1);
    expect(ids.filter((id) => id === 'installJobGuard')).toHaveLength(1);
    for (const n of ['webservice1', 'webservice2']) {
      expectGuarded(step(r, `launchVm-${n}`), `/pitrix/install/launch_vms.sh -f ${n}`);
      expectGuarded(step(r, `installNode-${n}`), `/pitrix/install/install_nodes.sh ${n}`);
      // The runbook's own status check answers when the guard has no record; install has none.
      expect(step(r, `launchVm-${n}`).check!.script).toMatch(/ check \S+ .*lsb_release -rs.*grep -qx 18\.04/);
      expect(step(r, `installNode-${n}`).check!.script).toBe(
        `${GUARD_PATH} check ${step(r, `installNode-${n}`).job!.dir}`,
      );
    }
    const guarded = r.plan.steps.filter((s) => s.job).map((s) => s.id);
    expect(guarded.sort()).toEqual(
      ['genNodeList', 'launchVm', 'installNode', 'deployServices']
        .flatMap((k) => [`${k}-webservice1`, `${k}-webservice2`])
        .sort(),
    );
    const dirs = (x: typeof r) => x.plan.steps.filter((s) => s.job).map((s) => s.job!.dir);
    // Planned again for the same rollout: the same jobs (a running one is followed, not restarted).
    expect(dirs(planUpgrade(input()))).toEqual(dirs(r));
    // Another rollout, or other settings for the node: other jobs, never "already done".
    const later = dirs(planUpgrade(input({ startedAt: '2026-11-22T08:00:00Z' })));
    expect(later.filter((d) => dirs(r).includes(d))).toEqual([]);
    const moved = planUpgrade(input({ spec: { temporaryAddresses: ['10.16.1.90'] } }));
    expect(step(moved, 'launchVm-webservice2').job!.dir).not.toBe(step(r, 'launchVm-webservice2').job!.dir);
  });

  it('sub zone before installer 4.3.0: .sh tools, sub zone packages, floating IP file per zone, no console keys', async () => {
    const r = planUpgrade(
      input({
        spec: { zoneRef: { name: 'pek3b' }, floatingIP: '10.16.2.100' },
        zone: { zoneId: 'pek3b', global: false, installerVersion: '4.2.1' },
        platformNodes: [
          ws('webservice1', 'pek3b', '10.16.2.21'),
          ws('webservice2', 'pek3b', '10.16.2.22', true),
          ws('webservice3', 'pek3b', '10.16.2.23'),
        ],
        settings: {
          webservice1: settings('pek3b', '10.16.2.21', 'hyper1'),
          webservice2: settings('pek3b', '10.16.2.22', 'hyper2'),
          webservice3: settings('pek3b', '10.16.2.23', 'hyper1'),
        },
      }),
    );
    expect(r.violations).toEqual([]);
    expect(r.order.map((n) => n.name)).toEqual(['webservice1', 'webservice3', 'webservice2']);
    const cmd = (id: string) => r.plan.steps.find((s) => s.id === id)!.command.script;
    expectGuarded(
      step(r, 'genNodeList-webservice3'),
      '/pitrix/bin/gen_node_list.sh && /pitrix/build/build_pkgs_allinone.sh',
      'pek3b',
    );
    expectGuarded(
      step(r, 'deployServices-webservice2'),
      `/pitrix/upgrade/update.sh webservice2 ${PACKAGES.sub}`,
      'pek3b',
    );
    expect(cmd('assignFloatingIp')).toContain('/pitrix/conf/variables/webservice_floating_ip.pek3b');
    expect(cmd('refreshKeys')).toContain(' sub ');
    expect(cmd('backupNode-webservice1')).not.toContain('web_console_settings.py');
    expect(r.plan.steps.some((s) => s.id.startsWith('restoreAddress-'))).toBe(false);
    // Sub zones have no console: the API on the node and through the VIP.
    expect(cmd('healthGate-webservice1')).toContain('http://10.16.2.21:7777/');
    await expect(golden(r)).toMatchFileSnapshot('__golden__/sub-three-nodes.txt');
  });

  it('re-plans when the VIP moves between pending nodes; a started node keeps its place', () => {
    const base = input();
    const moved = input({
      platformNodes: [
        ws('webservice1', 'pek3a', '10.16.1.21'),
        ws('webservice2', 'pek3a', '10.16.1.22', true),
      ],
    });
    expect(planUpgrade(base).order.map((n) => n.name)).toEqual(['webservice2', 'webservice1']);
    expect(planUpgrade(moved).order.map((n) => n.name)).toEqual(['webservice1', 'webservice2']);
    expect(planUpgrade(moved).plan.hash).not.toBe(planUpgrade(base).plan.hash);
    // Once webservice2 started, the VIP moving to it changes nothing: started nodes finish first.
    const startedMoved = planUpgrade({
      ...moved,
      started: ['webservice2'],
      recordedVip: { webservice2: false },
    });
    expect(startedMoved.order.map((n) => [n.name, n.holdsVip])).toEqual([
      ['webservice2', false],
      ['webservice1', false],
    ]);
  });

  it('refuses what it cannot do before anything runs', () => {
    const unknown = planUpgrade(input({ spec: { nodes: ['webservice9'] } }));
    expect(unknown.violations.map((v) => v.reason)).toEqual(['UnknownNode']);
    expect(unknown.plan.steps).toEqual([]);
    const noSettings = planUpgrade(input({ settings: { webservice1: undefined, webservice2: undefined } }));
    expect(noSettings.violations.map((v) => v.reason)).toContain('SettingsMissing');
    const usedTemp = planUpgrade(input({ spec: { temporaryAddresses: ['10.16.1.31'] } }));
    expect(usedTemp.violations.map((v) => v.reason)).toContain('TemporaryAddressInUse');
    const mismatch = planUpgrade(input({ floatingIp: '10.16.1.99', spec: { floatingIP: '10.16.1.100' } }));
    expect(mismatch.violations.map((v) => v.reason)).toEqual(['FloatingIPMismatch']);
    expect(() => WebserviceUpgradeSpec.parse({ ...input().spec, maxUnavailable: 2 })).toThrow(
      /maxUnavailable/,
    );
  });

  it('keeps ids and commands of finished nodes stable, and every step has a check or is safe to repeat', () => {
    const a = planUpgrade(input());
    const b = planUpgrade(input({ done: ['webservice2'], recordedVip: { webservice2: false } }));
    expect(b.plan.hash).toBe(a.plan.hash);
    for (const s of a.plan.steps) expect(!!s.check || !!s.idempotent, s.id).toBe(true);
  });

  it('judges "a node started" by its own rollout steps, never by its prep backup', () => {
    expect(isNodeStep({ action: 'backupNode' })).toBe(false);
    expect(isNodeStep({})).toBe(false);
    expect(isNodeStep({ action: 'preflight' })).toBe(true);
    expect(isNodeStep({ action: 'healthGate' })).toBe(true);
  });

  it('swaps the physical hosts of the pair, rotates across more hosts', () => {
    expect(
      swapPhysicalHosts([
        { name: 'a', physicalHost: 'h1' },
        { name: 'b', physicalHost: 'h2' },
      ]),
    ).toEqual({ a: 'h2', b: 'h1' });
    expect(swapPhysicalHosts([{ name: 'a', physicalHost: 'h1' }])).toEqual({ a: 'h1' });
  });
});

describe('rollback plan', () => {
  it('stops the new VM, restores the old image and settings, boots it, re-pins and verifies', () => {
    const r = planRollback({
      node: 'webservice1',
      address: '10.16.1.21',
      original: settings('pek3a', '10.16.1.21', 'hyper1'),
      backupSuffix: '20261121',
      installerVersion: '4.6.2',
      zoneId: 'pek3a',
      rollout: 'rebuild@2026-11-21T08:00:00Z',
    });
    expect(r.plan.steps.map((s) => s.id)).toEqual([
      'setAsideNodeJobs-webservice1',
      'rollbackStop-webservice1',
      'restoreOldImage-webservice1',
      'installJobGuard',
      'restoreSettings-webservice1',
      'relaunchOldVm-webservice1',
      'removeRolledBackHostKeys-webservice1',
      'repinRolledBackKey-webservice1',
      'verifyRolledBack-webservice1',
    ]);
    const launch = r.plan.steps.find((s) => s.id === 'relaunchOldVm-webservice1')!;
    expectGuarded(launch, '/pitrix/install/launch_vms.sh webservice1');
    expect(launch.check!.script).toContain('lsb_release -rs');
    expect(r.plan.steps[2]!.command.script).toContain('hyper1');
  });
});

describe('window', () => {
  const w = {
    days: ['Sat' as const, 'Sun' as const],
    start: '22:00',
    end: '04:00',
    timezone: 'Asia/Shanghai',
  };
  it('opens only inside the window, across midnight, in its time zone', () => {
    // Sat 2026-11-21 22:30 in Shanghai is 14:30 UTC.
    expect(windowOpen(w, new Date('2026-11-21T14:30:00Z'))).toBe(true);
    // Sun 03:00 Shanghai (window started Sat): open; Mon 03:00 (started Sun): open; Mon 05:00: closed.
    expect(windowOpen(w, new Date('2026-11-21T19:00:00Z'))).toBe(true);
    expect(windowOpen(w, new Date('2026-11-22T19:00:00Z'))).toBe(true);
    expect(windowOpen(w, new Date('2026-11-22T21:00:00Z'))).toBe(false);
    // Fri 23:00: Friday is not a window day.
    expect(windowOpen(w, new Date('2026-11-20T15:00:00Z'))).toBe(false);
    expect(windowOpen(undefined, new Date())).toBe(true);
    expect(msUntilOpen(w, new Date('2026-11-21T13:30:00Z'))).toBe(1_800_000);
  });
});

describe('R5 output readers', () => {
  it('parses settings, floating IPs, sections and supervisor status', () => {
    expect(parseNodeSettings(settingsText('pek3a', '10.16.1.21', 'hyper1'))).toMatchObject({
      physicalHost: 'hyper1',
      osName: 'xenial',
      osVersion: '16.04.5',
      bridge: 'br0',
      mgmtIp: '10.16.1.21',
    });
    // Not R5's key="value" format (seed 004 lines 79–118): not read as settings at all.
    expect(parseNodeSettings("physical_host: hyper1\nos_version: '18.04'\nbridge: br0\n")).toBeUndefined();
    expect(parseNodeSettings('physical_host="hyper1"\nx=$(reboot)\n')).toBeUndefined();
    expect(parseFloatingIp('a: 1\nwebservice_floating_ip: 10.0.0.5\n', 'webservice_floating_ip')).toBe(
      '10.0.0.5',
    );
    expect(parseFloatingIp('10.0.0.6\n', undefined)).toBe('10.0.0.6');
    expect(parseFloatingIp('', undefined)).toBeUndefined();
    expect(splitSections('@@wsu:a@@\nx\n@@wsu:b@@\ny\nz')).toEqual(
      new Map([
        ['a', 'x'],
        ['b', 'y\nz'],
      ]),
    );
    expect(
      verifySupervisor('ws_server                        RUNNING   pid 1, uptime 0:01:00\n', 'n'),
    ).toBeUndefined();
    expect(verifySupervisor('ws_server                        FATAL     Exited too quickly\n', 'n')).toMatch(
      /FATAL/,
    );
    expect(verifySupervisor('', 'n')).toMatch(/no supervisor programs/);
  });
});
