/**
 * R5 fidelity (seed 004): the settings file keeps the node's own bytes except the keys the runbook
 * changes; the image check stops a node's rebuild before its shutdown; the precondition on the
 * base image and repository; the kernels directory and virsh.
 */
import { describe, expect, it } from 'vitest';
import { WebserviceUpgradeSpec } from '../../api/webserviceupgrade.js';
import type { PlatformNode } from '../../facts/types.js';
import { parseNodeSettings, parseVirshList, verifyVmDefined } from './checks.js';
import { planUpgrade } from './plan.js';
import { editSettingsText, parseSettingsText } from './settingsfile.js';

// seed 004 lines 80–117 with this test's values, plus a hand-written comment the edit must keep.
const ORIGINAL = `## Role
role="webservice"

## Region
is_region="0"
region_id=""
zone_id="pek3a"

## Feature
feature_vmnode="on"
feature_ksnode="on"
feature_vgnode="off"
feature_hypernode="off"
feature_conntrack="off"

## Firstbox
firstbox_address="10.16.1.2"

## General
cpu_arch="x86_64"
cpu_cores="4"
memory_size="8000"
os_name="xenial"
os_version="16.04.5"
hostname="webservice1"

## Mgmt Network
mgmt_network_interface="eth0"
mgmt_network_address="10.16.1.21"
mgmt_network_netmask="255.255.255.0"
mgmt_network_gateway="10.16.1.1"
mgmt_network_dns_servers="10.16.1.2"
mgmt_network_mac_address="52:54:7e:00:00:01"

## Host
# set by hand in 2019: br1 is the management bridge here
physical_host="hyper1"
physical_host_network_interface="br1"
physical_host_eip_network_interface=""
`;

const changedLines = (a: string, b: string) => {
  const x = a.split('\n');
  const y = b.split('\n');
  expect(y.length).toBe(x.length);
  return x.flatMap((l, i) => (l === y[i] ? [] : [`${l} -> ${y[i]}`]));
};

function ws(name: string, ip: string, vip = false): PlatformNode {
  return {
    nodeId: name,
    hostname: name,
    mgmtIp: ip,
    zoneId: 'pek3a',
    roles: ['webservice'],
    status: 'deployed',
    cpuCores: 4,
    arch: 'x86_64',
    memoryMiB: 8000,
    osName: 'Ubuntu',
    osVersion: '16.04.5',
    disks: [],
    vip,
  };
}

function plan(target: Record<string, string> = {}) {
  const second = ORIGINAL.replaceAll('webservice1', 'webservice2')
    .replace('10.16.1.21', '10.16.1.22')
    .replace('physical_host="hyper1"', 'physical_host="hyper2"');
  return planUpgrade({
    name: 'rebuild',
    spec: WebserviceUpgradeSpec.parse({
      zoneRef: { name: 'pek3a' },
      target: {
        osName: 'bionic',
        osVersion: '18.04.6',
        baseImage: '/pitrix/kernels/base/bionic.img',
        repository: '/pitrix/repo/bionic',
        ...target,
      },
    }),
    zone: { zoneId: 'pek3a', global: true, installerVersion: '4.6.2' },
    platformNodes: [ws('webservice1', '10.16.1.21', true), ws('webservice2', '10.16.1.22')],
    settings: { webservice1: parseNodeSettings(ORIGINAL), webservice2: parseNodeSettings(second) },
    backupSuffix: '20261121',
    startedAt: '2026-11-21T08:00:00Z',
    done: [],
    started: [],
  });
}

describe('settings/N (seed 004 lines 72–118)', () => {
  it('changes only the keys R5 changes, every other byte kept', () => {
    const r = editSettingsText(ORIGINAL, {
      mgmt_network_address: '10.16.1.90',
      mgmt_network_mac_address: '52:54:9e:00:00:07',
      physical_host: 'hyper2',
      os_name: 'bionic',
      os_version: '18.04.6',
    });
    if ('error' in r) throw new Error(r.error);
    expect(changedLines(ORIGINAL, r.text)).toEqual([
      'os_name="xenial" -> os_name="bionic"',
      'os_version="16.04.5" -> os_version="18.04.6"',
      'mgmt_network_address="10.16.1.21" -> mgmt_network_address="10.16.1.90"',
      'mgmt_network_mac_address="52:54:7e:00:00:01" -> mgmt_network_mac_address="52:54:9e:00:00:07"',
      'physical_host="hyper1" -> physical_host="hyper2"',
    ]);
  });

  it('never adds a key the node file lacks', () => {
    const r = editSettingsText('role="webservice"\n', { physical_host: 'hyper2' });
    expect(r).toEqual({ error: 'no physical_host line to change' });
  });

  it('reads every key of the seed example and refuses other shapes', () => {
    const r = parseSettingsText(ORIGINAL);
    if ('error' in r) throw new Error(r.error);
    expect(Object.keys(r.values)).toHaveLength(25);
    expect(parseSettingsText('physical_host: hyper1\n')).toMatchObject({
      error: expect.stringMatching(/line 1/),
    });
  });

  it('the plan writes the node file with gen_mac.py at /pitrix/bin and the rest unchanged', () => {
    const p = plan();
    expect(p.violations).toEqual([]);
    const write = p.plan.steps.find((s) => s.id === 'writeNodeSettings-webservice2')!;
    expect(write.command.script).toContain('mac=$(/pitrix/bin/gen_mac.py)');
    expect(write.command.script).toContain('physical_host="hyper1"');
    expect(write.command.script).toContain('# set by hand in 2019: br1 is the management bridge here');
    expect(write.command.script).toContain('physical_host_network_interface="br1"');
    expect(write.command.script).toContain('os_name="bionic"');
    expect(write.command.script).not.toContain('hyper2"');
  });
});

describe('the old image (seed 004 lines 136–143)', () => {
  const listing = (state: string, files: string[]) =>
    `==== hyper1 (10.16.1.31) ====\n Id    Name                           State\n----------------------------------------------------\n 3     webservice1                    ${state}\n -     other                          shut off\n@@kernels@@\n${files.join('\n')}\nexec_nodes: 1 ok, 0 failed\n`;

  it('is checked on the physical host before the node is shut down', () => {
    const ids = plan().plan.steps.map((s) => s.id);
    expect(ids.indexOf('checkImage-webservice1')).toBeLessThan(ids.indexOf('stopServices-webservice1'));
    const check = plan().plan.steps.find((s) => s.id === 'checkImage-webservice1')!;
    expect(check.command.script).toContain('virsh list --all');
    expect(check.command.script).toContain('/pitrix/kernels/');
    expect(
      check.verify!(listing('running', ['webservice1.img', 'webservice1.xml', 'webservice1.Done'])),
    ).toBeUndefined();
    // A missing image stops the node's rebuild here, before its shutdown.
    expect(check.verify!(listing('running', ['webservice1.xml']))).toMatch(
      /no webservice1\.img.*not shut down/,
    );
    // An earlier rebuild's old image is replaced by R5's own mv (seed 004 line 141).
    expect(
      check.verify!(listing('running', ['webservice1.img', 'webservice1.xml', 'old-webservice1.img'])),
    ).toBeUndefined();
    expect(
      verifyVmDefined(
        listing('running', []).replace('webservice1 ', 'webservice9 '),
        'webservice1',
        'hyper1',
      ),
    ).toMatch(/does not list webservice1/);
  });

  it('is moved in /pitrix/kernels only when virsh shows the domain shut off', () => {
    const keep = plan().plan.steps.find((s) => s.id === 'keepOldImage-webservice1')!;
    expect(keep.command.script).toContain('virsh list --all');
    expect(keep.command.script).toContain("'shut off'");
    expect(keep.command.script).toContain(
      'cd /pitrix/kernels/ && rm -f webservice1.Done && mv webservice1.img old-webservice1.img && mv webservice1.xml old-webservice1.xml',
    );
    expect(keep.command.script).not.toContain('test ! -e');
    expect(parseVirshList(listing('shut off', []))).toEqual(
      new Map([
        ['webservice1', 'shut off'],
        ['other', 'shut off'],
      ]),
    );
  });
});

describe('preconditions', () => {
  it('the base image and repository on firstbox are named and checked before any node', () => {
    expect(plan({ baseImage: undefined } as never).violations.map((v) => v.reason)).toContain(
      'BaseImageUnknown',
    );
    const p = plan();
    expect(p.plan.steps[0]!.id).toBe('checkBaseImage');
    expect(p.plan.steps[0]!.command.script).toContain('test -s /pitrix/kernels/base/bionic.img');
  });

  it('os_name takes the release code name', () => {
    expect(() =>
      WebserviceUpgradeSpec.parse({
        zoneRef: { name: 'z' },
        target: { osName: 'ubuntu', osVersion: '18.04' },
      }),
    ).toThrow(/release code name/);
  });
});
