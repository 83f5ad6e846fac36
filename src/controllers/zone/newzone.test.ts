import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  SETTINGS_TEMPLATE as SIM_SETTINGS,
  VARIABLES_TEMPLATE as SIM_VARIABLES,
} from '../../../hack/sim/templates.js';
import type { Plan } from '../../api/common.js';
import { type NewZone, parseZone } from '../../api/zone.js';
import type { PlatformNode, PlatformZone } from '../../facts/types.js';
import { SETTINGS_TEMPLATE, VARIABLES_TEMPLATE } from '../templatefill.js';
import { type NewZonePlanInput, planNewZone, renderListeners } from './newzone.js';

const node = (
  ip: string,
  id: string,
  zoneId: string,
  roles: string[],
  more: Partial<PlatformNode> = {},
): PlatformNode => ({
  nodeId: id,
  hostname: id,
  mgmtIp: ip,
  zoneId,
  roles,
  status: 'deployed',
  cpuCores: 8,
  arch: 'x86_64',
  memoryMiB: 1,
  osName: 'Ubuntu',
  osVersion: '16.04',
  disks: [],
  vip: false,
  ...more,
});

const zones: PlatformZone[] = [
  { zoneId: 'pek3a', regionId: 'pek3', isGlobalZone: true, mode: 'standard', status: 'active' },
  { zoneId: 'pek3b', regionId: 'pek3', isGlobalZone: false, mode: 'standard', status: 'active' },
];

const platformNodes: PlatformNode[] = [
  node('10.0.0.21', 'webservice-a1', 'pek3a', ['webservice']),
  node('10.0.0.22', 'webservice-a2', 'pek3a', ['webservice'], { vip: true }),
  node('10.0.0.25', 'zoocassa0', 'pek3a', ['zoocassa']),
  node('10.0.0.26', 'zoocassa1', 'pek3a', ['zoocassa']),
  node('10.0.0.41', 'webservice-b1', 'pek3b', ['webservice']),
  node('10.0.0.45', 'zoocassa-b0', 'pek3b', ['zoocassa']),
];

const newZone = (more: Partial<NewZone> = {}): NewZone => ({
  globalZoneRef: { name: 'pek3a' },
  nodes: [
    { address: '10.0.0.81', roles: ['proxy'] },
    { address: '10.0.0.82', roles: ['proxy'] },
    { address: '10.0.0.83', roles: ['webservice', 'zoocassa'] },
    { address: '10.0.0.84', roles: ['hyper'] },
    { address: '10.0.0.85', roles: ['hyper'] },
  ],
  cloudType: 'private',
  vlan: false,
  globalApiProtocol: 'https',
  approval: 'Automatic',
  ...more,
});

function input(more: Partial<NewZonePlanInput> = {}): NewZonePlanInput {
  return {
    zoneId: 'pek3d',
    regionId: 'pek3',
    global: false,
    mode: 'standard',
    newZone: newZone(),
    globalZone: { name: 'pek3a', zoneId: 'pek3a', global: true, regionId: 'pek3' },
    platformNodes,
    platformZones: zones,
    files: {
      [VARIABLES_TEMPLATE]: { text: SIM_VARIABLES },
      [SETTINGS_TEMPLATE]: { text: SIM_SETTINGS },
    },
    ...more,
  };
}

/** Parsed YAML, walked by key in the assertions. */
type Yaml = { [key: string]: Yaml } & Record<string, unknown>;

/** The filled-in variables and settings the plan writes (the fill steps' stdin). */
function filled(i: NewZonePlanInput): { variables: Yaml; settings: Yaml } {
  const r = planNewZone(i);
  if (r.kind !== 'add') throw new Error(`expected a plan, got ${r.kind}`);
  const content = (id: string) => r.plan.steps.find((s) => s.id === id)!.stdinContent!;
  return { variables: parse(content('fillVariables')), settings: parse(content('fillSettings')) };
}

function render(plan: {
  hash: string;
  steps: Array<{
    id: string;
    host: { kind: string };
    command: { script: string };
    check?: { script: string };
  }>;
}) {
  const body = plan.steps
    .map(
      (s) => `${s.id} @${s.host.kind}\n  ${s.command.script}${s.check ? `\n  check: ${s.check.script}` : ''}`,
    )
    .join('\n');
  return `hash ${plan.hash}\n${body}\n`;
}

describe('planNewZone (R4 new zone in a region)', () => {
  it('builds the whole runbook for a zone the installer does not list (golden)', async () => {
    const r = planNewZone(input());
    expect(r.kind).toBe('add');
    if (r.kind !== 'add') return;
    await expect(render(r.plan)).toMatchFileSnapshot('__golden__/new-zone-pek3d.txt');
    expect(r.plan.steps.map((s) => s.id)).toEqual([
      'writeNodeList',
      'addNodes',
      'listNewNodes',
      'installJobGuard',
      'collectNodes',
      'verifyNodes',
      'copyVariables',
      'fillVariables',
      'copySettings',
      'fillSettings',
      'configQingcloud',
      'scaleQingcloudZone',
      'clearZoneCache',
      // The VIP holder first, then the other global webservice: one at a time.
      'restartGlobalServices-10.0.0.22',
      'restartGlobalServices-10.0.0.21',
      'haproxyListeners-10.0.0.81',
      'restartHaproxy-10.0.0.81',
      'haproxyListeners-10.0.0.82',
      'restartHaproxy-10.0.0.82',
    ]);
    // The memcache servers are the global zone's zoocassa nodes, never the new or another zone's.
    const cache = r.plan.steps.find((s) => s.id === 'clearZoneCache')!.command.script;
    expect(cache).toContain("'zoocassa0:11211;zoocassa1:11211'");
    expect(cache).toContain('-A delete -P Pitrix.Zone.Zone.UserZone.yunify -F');
    expect(cache).toMatch(/^\/pitrix\/upgrade\/exec_nodes\.sh 10\.0\.0\.22 /);
    expect(r.proxies).toEqual(['10.0.0.81', '10.0.0.82']);
    // Every step that cannot tell "done" from the platform is safe to repeat.
    for (const s of r.plan.steps) expect(!!s.check || !!s.idempotent, s.id).toBe(true);
  });

  it('fills in copies of the templates: is_global_zone 0, the VBC mode, machines by role', () => {
    const auto = filled(input());
    // The keys are filled where the template has them (its sections), nothing else changes.
    expect(auto.variables.common).toEqual({
      zone_id: 'pek3d',
      region_id: 'pek3',
      cloud_type: 'private',
      mode: 'standard',
    });
    expect(auto.variables.base).toMatchObject({ is_global_zone: 0, installer_allocate_vbc: 1 });
    expect(auto.variables.advance).toEqual({ mgmt_network_address: '' });
    // VLAN mode: installer_allocate_vbc 0 without vbc.
    const vlan = filled(input({ newZone: newZone({ vlan: true }) }));
    expect(vlan.variables.base!.installer_allocate_vbc).toBe(0);
    expect(vlan.settings.vbc).toBeUndefined();
    // The VIP is the VBC's external address (not a hyper's); the Master is one of mgmt_ips.
    const vbc = {
      mgmtIps: ['10.0.0.84', '10.0.0.85'],
      ipv4Vbc: '10.18.0.0/16',
      ipv4Vip: '10.0.0.100',
      master: '10.0.0.85',
    };
    const manual = filled(input({ newZone: newZone({ vbc }) }));
    expect(manual.variables.base!.installer_allocate_vbc).toBe(0);
    expect(manual.settings.vbc!.ipv4_vip).toBe('10.0.0.100|10.0.0.85');
    expect(manual.settings.nodes).toMatchObject({
      webservice: ['10.0.0.83'],
      zoocassa: ['10.0.0.83'],
      proxy: ['10.0.0.81', '10.0.0.82'],
      hyper: ['10.0.0.84', '10.0.0.85'],
      vg: [],
    });
    const vg = filled(
      input({
        newZone: newZone({
          nodes: [
            ...newZone().nodes,
            { address: '10.0.0.86', roles: ['vg'], eips: ['139.198.10.10-139.198.10.50'] },
            { address: '10.0.0.87', roles: ['vg'], eips: ['139.198.20.0/26', '139.198.21.0/26'] },
          ],
        }),
      }),
    );
    // Each VG's own ranges under its own address, never one list copied to every VG.
    expect(vg.settings.eips).toEqual({
      '10.0.0.86': ['139.198.10.10-139.198.10.50'],
      '10.0.0.87': ['139.198.20.0/26', '139.198.21.0/26'],
    });
    // No template: nothing runs, and the reason names the file.
    const none = planNewZone(input({ files: { [SETTINGS_TEMPLATE]: { text: SIM_SETTINGS } } }));
    expect(none.kind === 'refuse' && none.violations.map((v) => v.reason)).toEqual([
      'SettingsTemplateMissing',
    ]);
  });

  it('falls back to restarting the global memcached, one zoocassa at a time, when the cache clear fails', () => {
    const r = planNewZone(input());
    if (r.kind !== 'add') throw new Error(r.kind);
    const script = r.plan.steps.find((s) => s.id === 'clearZoneCache')!.command.script;
    const [clear, fallback] = script.split(' || ');
    expect(clear).toContain('operate_cache_by_re -S');
    expect(fallback).toContain(
      "/pitrix/upgrade/exec_nodes.sh 10.0.0.25 'service memcached restart && service memcached status'",
    );
    expect(fallback!.indexOf('10.0.0.25')).toBeLessThan(fallback!.indexOf('10.0.0.26'));
  });

  it('refuses mixed physical and virtual pgpool/pgserver/zoocassa, and other roles on a fusion hyper (API rules)', () => {
    const zone = (nodes: NewZone['nodes'], mode = 'standard') =>
      parseZone({
        apiVersion: 'ops.pitrix.io/v1alpha1',
        kind: 'Zone',
        metadata: { name: 'pek3d', namespace: 'ns' },
        spec: {
          zoneId: 'pek3d',
          regionId: 'pek3',
          mode,
          firstbox: {
            host: '10.0.0.1',
            credentialsSecretRef: { name: 's' },
            hostKeyPolicy: 'TrustOnFirstUse',
          },
          newZone: { ...newZone(), nodes },
        },
      });
    const proxy = { address: '10.0.0.81', roles: ['proxy' as const] };
    expect(() =>
      zone([
        proxy,
        { address: '10.0.0.83', roles: ['zoocassa'] },
        { address: '10.0.0.84', roles: ['zoocassa'], virtual: true },
      ]),
    ).toThrow(/zoocassa machines must all be physical or all virtual/);
    expect(() =>
      zone([
        proxy,
        { address: '10.0.0.83', roles: ['pgpool'], virtual: true },
        { address: '10.0.0.84', roles: ['pgpool'], virtual: true },
      ]),
    ).not.toThrow();
    expect(() => zone([proxy, { address: '10.0.0.84', roles: ['hyper', 'pgserver'] }], 'fusion')).toThrow(
      /in fusion mode only seed, vbr and snapshot may be placed on a hyper machine/,
    );
    expect(() => zone([proxy, { address: '10.0.0.84', roles: ['hyper', 'seed'] }], 'fusion')).not.toThrow();
  });

  it('points api-front at 443 for an https global, 7777 for http', () => {
    expect(renderListeners(['10.0.0.21'], 'https', 'pek3a')).toContain(
      'server  apiserver_0 10.0.0.21:443 check',
    );
    const http = renderListeners(['10.0.0.21', '10.0.0.22'], 'http', 'pek3a');
    expect(http).toContain('server  apiserver_1 10.0.0.22:7777 check');
    expect(http).toContain('server  ws_server_1 10.0.0.22:8565 check');
    expect(http).toContain('server  io_server_0 10.0.0.21:8000 check');
  });

  it('observes a zone the installer lists, and a global or region-less zone', () => {
    const existing = planNewZone(input({ zoneId: 'pek3b' }));
    expect(existing).toEqual({ kind: 'observe', why: 'describe-zones.py lists zone pek3b' });
    expect(planNewZone(input({ global: true })).kind).toBe('observe');
    expect(planNewZone(input({ regionId: undefined })).kind).toBe('observe');
  });

  it('does not guess when the installer cannot list zones', () => {
    const r = planNewZone(input({ platformZones: undefined }));
    expect(r.kind).toBe('unknown');
    if (r.kind === 'unknown') expect(r.message).toMatch(/describe-zones\.py/);
  });

  it('carries a started run to its end after scale-qingcloud-zone lists the zone', () => {
    const first = planNewZone(input());
    if (first.kind !== 'add') throw new Error('expected a plan');
    const journal: Plan = {
      hash: first.plan.hash,
      steps: first.plan.steps.map((s, i) => ({ id: s.id, state: i <= 7 ? 'Succeeded' : 'Pending' })),
    };
    const listed = [
      ...zones,
      { zoneId: 'pek3d', regionId: 'pek3', isGlobalZone: false, mode: 'standard' as const, status: 'active' },
    ];
    const deployedNew = [
      ...platformNodes,
      ...newZone().nodes.map((n, i) => node(n.address, `new${i}`, 'pek3d', [...n.roles])),
    ];
    const next = planNewZone(input({ platformZones: listed, platformNodes: deployedNew, journal }));
    expect(next.kind).toBe('add');
    // Same steps, same hash: the journal carries on, nothing repeats.
    if (next.kind === 'add') expect(next.plan.hash).toBe(first.plan.hash);
    const done = { ...journal, steps: journal.steps!.map((s) => ({ ...s, state: 'Succeeded' as const })) };
    expect(
      planNewZone(input({ platformZones: listed, platformNodes: deployedNew, journal: done })).kind,
    ).toBe('observe');
    // A plan published but never started (awaiting approval) does not act on a zone that now exists.
    const unstarted = { ...journal, steps: journal.steps!.map((s) => ({ ...s, state: 'Pending' as const })) };
    expect(
      planNewZone(input({ platformZones: listed, platformNodes: deployedNew, journal: unstarted })).kind,
    ).toBe('observe');
  });

  it('refuses, before anything runs, what the runbook forbids', () => {
    const reasons = (i: NewZonePlanInput) => {
      const r = planNewZone(i);
      return r.kind === 'refuse' ? r.violations.map((v) => v.reason) : [];
    };
    expect(reasons(input({ newZone: newZone({ cloudType: 'public' as never }) }))).toEqual([
      'CloudTypePublic',
    ]);
    expect(
      reasons(
        input({
          newZone: newZone({
            vbc: {
              mgmtIps: ['10.0.0.84'],
              ipv4Vbc: '10.18.0.0/16',
              ipv4Vip: '10.0.0.100',
              master: '10.0.0.85',
            },
          }),
        }),
      ),
    ).toEqual(['VbcMasterNotInMgmtIps']);
    expect(
      reasons(
        input({
          newZone: newZone({
            vbc: {
              mgmtIps: ['10.0.0.81'],
              ipv4Vbc: '10.18.0.0/16',
              ipv4Vip: '10.0.0.100',
              master: '10.0.0.81',
            },
          }),
        }),
      ),
    ).toEqual(['VbcNotOnHyper']);
    expect(reasons(input({ globalZone: undefined }))).toEqual(['GlobalZoneNotFound']);
    expect(
      reasons(input({ globalZone: { name: 'pek3a', zoneId: 'pek3b', global: false, regionId: 'pek3' } })),
    ).toEqual(['GlobalZoneRefNotGlobal', 'GlobalZoneNotOnPlatform']);
    expect(reasons(input({ regionId: 'pek9' }))).toEqual(['RegionMismatch', 'RegionMismatch']);
    expect(
      reasons(input({ platformNodes: platformNodes.filter((n) => !n.roles.includes('zoocassa')) })),
    ).toEqual(['NoGlobalZoocassa']);
    expect(
      reasons(
        input({
          platformNodes: platformNodes.filter((n) => n.zoneId !== 'pek3a' || !n.roles.includes('webservice')),
        }),
      ),
    ).toEqual(['NoGlobalWebservice']);
    expect(
      reasons(
        input({ platformNodes: [...platformNodes, node('10.0.0.84', 'hyper-b9', 'pek3b', ['hyper'])] }),
      ),
    ).toEqual(['NodeInAnotherZone']);
    expect(
      reasons(input({ newZone: newZone({ nodes: [{ address: '10.0.0.83', roles: ['webservice'] }] }) })),
    ).toEqual(['NoProxy']);
    // A hostname the installer reports that a shell would read as syntax never reaches a command.
    const evil = platformNodes.map((n) => (n.nodeId === 'zoocassa0' ? { ...n, hostname: 'zc0;reboot' } : n));
    expect(reasons(input({ platformNodes: evil }))).toEqual(['UnsafeValue']);
  });
});
