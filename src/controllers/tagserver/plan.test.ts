import { describe, expect, it } from 'vitest';
import { serverYaml } from '../../../hack/sim/templates.js';
import { TagServerSpec } from '../../api/tagserver.js';
import { auditTags, type Probe } from './migration.js';
import type { NodeObservation } from './observe.js';
import {
  type NodeInfo,
  planTagServer,
  staticPreconditions,
  subZonesOf,
  type TagServerPlanInput,
  verifyReadBack,
  workLeft,
  type ZoneInfo,
} from './plan.js';
import { editYaml } from './yamledit.js';

const ZONES = ['pek3a', 'pek3b', 'pek3c'];
const file = (zone: string) =>
  serverYaml(
    {
      zone_id: zone,
      region_id: 'pek3',
      is_global_zone: zone === 'pek3a' ? 1 : 0,
      mode: 'standard',
      status: 'active',
    },
    {
      domain: 'pek3.qingcloud.local',
      proxyVip: '127.77.3.5',
      globalZone: 'pek3a',
      qemu: 'QEMU emulator version 2.5.0',
    },
  );

const node = (nodeId: string, zoneId: string, role: string, vip = false): NodeInfo => ({
  nodeId,
  zoneId,
  roles: [role],
  status: 'deployed',
  vip,
});
const NODES: NodeInfo[] = [
  node('webservice-a1', 'pek3a', 'webservice'),
  node('webservice-a2', 'pek3a', 'webservice', true),
  node('proxy-a1', 'pek3a', 'proxy'),
  node('hyper-a1', 'pek3a', 'hyper'),
  node('webservice-b1', 'pek3b', 'webservice'),
  node('webservice-b3', 'pek3b', 'webservice', true),
  node('proxy-b1', 'pek3b', 'proxy'),
  node('webservice-c1', 'pek3c', 'webservice'),
  node('proxy-c1', 'pek3c', 'proxy'),
];

const spec = (extra: Record<string, unknown> = {}) =>
  TagServerSpec.parse({
    zoneRef: { name: 'global' },
    enabledZones: ['pek3'],
    migration: { zones: ['pek3a', 'pek3b'] },
    ...extra,
  });

const probes: Record<string, Probe> = {
  pek3a: {
    totalCount: 2,
    tags: [
      { tagId: 't1', owner: 'u1', tagName: 'web' },
      { tagId: 't2', owner: 'u2', tagName: 'db' },
    ],
  },
  pek3b: { totalCount: 1, tags: [{ tagId: 't3', owner: 'u1', tagName: 'web' }] },
};

const SUB = [
  { zoneId: 'pek3b', proxyHost: 'pek3b-proxy' },
  { zoneId: 'pek3c', proxyHost: 'pek3c-proxy' },
];

function fresh(overrides: Partial<TagServerPlanInput> = {}): TagServerPlanInput {
  const nodeObservations: Record<string, NodeObservation> = {};
  for (const n of NODES)
    if (n.roles[0] !== 'hyper')
      nodeObservations[n.nodeId] = {
        packages: { 'pitrix-node-base': '4.6.1-1' },
        pushedConfig: `# pushed by pitrix-global-conf\nzone_id: ${n.zoneId}\n`,
      };
  return {
    spec: spec(),
    globalZoneId: 'pek3a',
    subZones: SUB,
    nodes: NODES,
    serverYaml: Object.fromEntries(ZONES.map((z) => [z, file(z)])),
    nodeObservations,
    repoDebs: [],
    logs: {},
    audit: auditTags(['pek3a', 'pek3b'], probes),
    previous: {},
    ...overrides,
  };
}

const LOG = (total: number, ins: number, warn: number, err = 0) => ({
  present: true,
  text: `\nThere are ${total} tag items to migrate.\ntag: ${ins} +  0 ^  ${err} X  ${warn} W  resource_tag: ${ins} +  0 ^  0 X\nAll done.\nexec_nodes: 1 ok, 0 failed`,
});

/** The platform after the plan of `fresh()` ran: files edited, packages installed, config pushed, tags migrated. */
function configured(): TagServerPlanInput {
  const input = fresh();
  const plan = planTagServer(input);
  const serverYaml: Record<string, string> = { ...(input.serverYaml as Record<string, string>) };
  for (const z of ZONES) serverYaml[z] = plan.stdin[`writeServerYaml-${z}`]!;
  const nodeObservations: Record<string, NodeObservation> = {};
  for (const n of NODES) {
    if (n.roles[0] === 'hyper') continue;
    const packages: Record<string, string> = { 'pitrix-node-base': '4.6.1-1' };
    if (n.roles[0] === 'proxy') packages['pitrix-ks-proxy-tag'] = '4.6.2-2';
    if (n.roles[0] === 'webservice' && n.zoneId === 'pek3a') packages['pitrix-ks-tag-server'] = '4.6.2-2';
    nodeObservations[n.nodeId] = { packages, pushedConfig: serverYaml[n.zoneId]! };
  }
  return {
    ...input,
    serverYaml,
    nodeObservations,
    logs: {
      pek3a: { insert: LOG(2, 2, 0), update: LOG(2, 0, 0) },
      pek3b: { insert: LOG(1, 0, 1), update: LOG(1, 0, 0) },
    },
    audit: {},
    previous: { pek3a: { predictedWarnings: 0 }, pek3b: { predictedWarnings: 1 } },
  };
}

describe('TagServer plan (R1)', () => {
  it('golden: a region whose tag service is not deployed yet', async () => {
    const r = planTagServer(fresh());
    expect(r.violations).toEqual([]);
    const golden = r.plan.steps
      .map(
        (s) =>
          `${s.id} @${s.host.kind}\n  ${s.command.script}${s.check ? `\n  check: ${s.check.script}` : ''}`,
      )
      .join('\n');
    await expect(`hash ${r.plan.hash}\n${golden}\n`).toMatchFileSnapshot('__golden__/region-fresh.txt');
    expect(r.plan.steps.map((s) => s.id)).toEqual([
      'writeServerYaml-pek3a',
      'writeServerYaml-pek3b',
      'writeServerYaml-pek3c',
      'verifyServerYaml',
      'installJobGuard',
      'buildProxyTag',
      'buildTagServer',
      'installTagServer',
      'installProxyTag-pek3a',
      'installProxyTag-pek3b',
      'installProxyTag-pek3c',
      'buildGlobalConf',
      'pushGlobalConf',
      'migrateInsert-pek3a',
      'migrateUpdate-pek3a',
      'migrateInsert-pek3b',
      'migrateUpdate-pek3b',
    ]);
    // The edited files arrive on stdin, never in the command (or the journal).
    expect(r.plan.steps[0]!.command.script).not.toContain('enable_global_tag_server');
    expect(r.stdin['writeServerYaml-pek3b']).toContain("tag_proxy_host: 'pek3b-proxy'");
    expect(r.findings).toContainEqual({
      zone: 'pek3a',
      key: 'common.zones_enable_tag_server',
      expected: "'pek3'",
    });
    // The migration runs on the VIP holder of each zone.
    expect(r.plan.steps.find((s) => s.id === 'migrateInsert-pek3b')!.command.script).toContain(
      'exec_nodes.sh webservice-b3',
    );
    expect(r.migration.map((m) => [m.zone, m.state, m.result.predictedWarnings])).toEqual([
      ['pek3a', 'pending', 0],
      ['pek3b', 'pending', 1],
    ]);
  });

  it('an already configured platform gets an empty plan: no build, no migration', () => {
    const r = planTagServer(configured());
    expect(r.violations).toEqual([]);
    expect(r.findings).toEqual([]);
    expect(r.plan.steps).toEqual([]);
    expect(r.migration.map((m) => [m.zone, m.state])).toEqual([
      ['pek3a', 'verified'],
      ['pek3b', 'verified'],
    ]);
    expect(r.installedVersions).toEqual({
      'pitrix-ks-tag-server': '4.6.2-2',
      'pitrix-ks-proxy-tag': '4.6.2-2',
    });
  });

  it('files right but never pushed: only rebuild and push pitrix-global-conf', () => {
    const input = configured();
    const obs = { ...input.nodeObservations };
    obs['proxy-c1'] = { ...obs['proxy-c1']!, pushedConfig: 'zone_id: pek3c\n' };
    const r = planTagServer({ ...input, nodeObservations: obs });
    expect(r.plan.steps.map((s) => s.id)).toEqual(['installJobGuard', 'buildGlobalConf', 'pushGlobalConf']);
  });

  it('a push that reached some nodes before the operator died is still the same job (status.pushing)', () => {
    const input = configured();
    const unpushed = { ...input.nodeObservations };
    for (const id of ['proxy-b1', 'proxy-c1'])
      unpushed[id] = {
        ...unpushed[id]!,
        pushedConfig: `zone_id: ${id.slice(-2, -1) === 'b' ? 'pek3b' : 'pek3c'}\n`,
      };
    const published = planTagServer({ ...input, nodeObservations: unpushed });
    expect(published.pushing).toEqual({ pushGlobalConf: ['proxy-b1', 'proxy-c1'] });
    const push = (r: ReturnType<typeof planTagServer>) => r.plan.steps.find((s) => s.id === 'pushGlobalConf');

    // update.sh got as far as proxy-b1: one node is still pending.
    const halfway = { ...unpushed, 'proxy-b1': input.nodeObservations['proxy-b1']! };
    // Planned from what is observed, the push is another job: the plan in flight would be replaced.
    expect(push(planTagServer({ ...input, nodeObservations: halfway }))!.job!.dir).not.toBe(
      push(published)!.job!.dir,
    );
    // With the node set recorded at publish, the job and the plan stay the same.
    const resumed = planTagServer({ ...input, nodeObservations: halfway, pushInFlight: published.pushing });
    expect(push(resumed)!.job!.dir).toBe(push(published)!.job!.dir);
    expect(resumed.plan.hash).toBe(published.plan.hash);
    // Every node received it while the step was still Running: the step stays, for its check to answer.
    const done = planTagServer({ ...input, pushInFlight: published.pushing });
    expect(done.plan.hash).toBe(published.plan.hash);
    // No plan in flight and nothing pending: nothing to push, nothing recorded.
    expect(planTagServer(input).pushing).toEqual({});

    // The same for a package push: update.sh pek3a-webservice pitrix-ks-tag-server reached one node,
    // then every node, while the step was Running.
    const fresh0 = planTagServer(fresh());
    expect(fresh0.pushing.installTagServer).toEqual(['webservice-a1', 'webservice-a2']);
    expect(fresh0.pushing['installProxyTag-pek3b']).toEqual(['proxy-b1']);
    const withServer = (ids: string[]) => {
      const obs = { ...fresh().nodeObservations };
      for (const id of ids) obs[id] = { ...obs[id]!, packages: { 'pitrix-ks-tag-server': '4.6.2-2' } };
      return obs;
    };
    for (const ids of [['webservice-a1'], ['webservice-a1', 'webservice-a2']]) {
      const again = planTagServer({
        ...fresh(),
        nodeObservations: withServer(ids),
        pushInFlight: fresh0.pushing,
      });
      expect(again.plan.hash, ids.join()).toBe(fresh0.plan.hash);
    }
    expect(planTagServer({ ...fresh(), nodeObservations: withServer(['webservice-a1']) }).plan.hash).not.toBe(
      fresh0.plan.hash,
    );
  });

  it('builds and pushes run under the job guard, one job per thing served, the same job after a re-plan', () => {
    const first = planTagServer(fresh());
    const byId = (r: ReturnType<typeof planTagServer>, id: string) => r.plan.steps.find((s) => s.id === id)!;
    const guarded = [
      'buildProxyTag',
      'buildTagServer',
      'installTagServer',
      'installProxyTag-pek3a',
      'installProxyTag-pek3b',
      'installProxyTag-pek3c',
      'buildGlobalConf',
      'pushGlobalConf',
    ];
    for (const id of guarded) {
      const s = byId(first, id);
      expect(s.job, id).toBeDefined();
      // Never simply run again: the guard's check (pidfile, exit code) decides after an interruption.
      expect(s.idempotent, id).toBeUndefined();
      expect(s.command.script, id).toMatch(/^\/pitrix\/conf\/operator\/bin\/pitrix-job-\w+ run /);
      expect(s.check!.script, id).toMatch(/^\/pitrix\/conf\/operator\/bin\/pitrix-job-\w+ check /);
    }
    // Lock scope: the zone whose nodes the job pushes to; builds and `all` hold the global zone.
    expect(byId(first, 'installProxyTag-pek3b').job!.dir).toMatch(/\/jobs\/pek3b\/installProxyTag-pek3b-/);
    expect(byId(first, 'installProxyTag-pek3b').command.script).toContain('/jobs/pek3b.lock');
    expect(byId(first, 'pushGlobalConf').command.script).toContain('/jobs/pek3a.lock');
    expect(byId(first, 'buildTagServer').command.script).toContain('/jobs/pek3a.lock');
    // A verify still reads update.sh's own lines: the guard prints the job's log when it ends.
    const push = byId(first, 'pushGlobalConf');
    expect(
      push.verify!('update pitrix-global-conf on proxy-a1: none -> 4.6.2-1\nupdate.sh: done'),
    ).toBeUndefined();
    expect(
      push.verify!('pitrix-job: another guarded job holds /pitrix/conf/operator/jobs/pek3a.lock'),
    ).toMatch(/did not print/);

    // Re-planned after the server.yaml writes and the builds (an interruption while installTagServer
    // runs): every remaining job keeps its directory, so the guard finds the one already started.
    const files = configured();
    const midway = planTagServer({
      ...files,
      nodeObservations: fresh().nodeObservations,
      repoDebs: [
        { name: 'pitrix-ks-tag-server', version: '4.6.2-2' },
        { name: 'pitrix-ks-proxy-tag', version: '4.6.2-2' },
      ],
    });
    expect(midway.plan.steps.some((s) => s.id.startsWith('writeServerYaml'))).toBe(false);
    for (const id of guarded) expect(byId(midway, id).job!.dir, id).toBe(byId(first, id).job!.dir);

    // The same nodes losing the package later (a rebuilt webservice node): a new push, never
    // "already done" by the old job. Re-planned while update.sh is halfway: a new job too, which
    // the zone's lock refuses (exit 74) until the first has ended.
    const obsHalf = { ...fresh().nodeObservations };
    obsHalf['webservice-a1'] = {
      ...obsHalf['webservice-a1']!,
      packages: { 'pitrix-ks-tag-server': '4.6.2-2' },
    };
    const half = planTagServer({ ...fresh(), nodeObservations: obsHalf });
    expect(byId(half, 'installTagServer').job!.dir).not.toBe(byId(first, 'installTagServer').job!.dir);
    expect(byId(half, 'buildTagServer').job!.dir).toBe(byId(first, 'buildTagServer').job!.dir);

    // Other content to push, or other nodes to serve: a new job, never "already done".
    const pushedOther = planTagServer({ ...fresh(), spec: spec({ registerToZk: false }) });
    expect(byId(pushedOther, 'pushGlobalConf').job!.dir).not.toBe(push.job!.dir);
    const base = fresh();
    const more = planTagServer({
      ...base,
      nodes: [...NODES, node('proxy-b2', 'pek3b', 'proxy')],
      nodeObservations: { ...base.nodeObservations, 'proxy-b2': base.nodeObservations['proxy-b1']! },
    });
    expect(byId(more, 'installProxyTag-pek3b').job!.dir).not.toBe(
      byId(first, 'installProxyTag-pek3b').job!.dir,
    );
    expect(byId(more, 'installProxyTag-pek3a').job!.dir).toBe(byId(first, 'installProxyTag-pek3a').job!.dir);
  });

  it('Ready only when a fresh plan is empty: a finished plan still needed names its steps and jobs', () => {
    expect(workLeft(planTagServer(configured()).plan)).toBeUndefined();
    const input = configured();
    const obs = { ...input.nodeObservations };
    obs['webservice-a1'] = { ...obs['webservice-a1']!, packages: {} };
    const r = planTagServer({ ...input, nodeObservations: obs });
    const left = workLeft(r.plan)!;
    expect(left).toMatch(/^the platform still shows work for buildTagServer, installTagServer \(R1\.1 build/);
    expect(left).toContain(`plan ${r.plan.hash} finished`);
    expect(left).toContain(`release ${r.plan.steps.find((s) => s.id === 'installTagServer')!.job!.dir}`);
  });

  it('a migration that does not add up is failed with its numbers and never planned again', () => {
    const input = configured();
    const r = planTagServer({
      ...input,
      logs: { pek3a: { insert: LOG(2, 2, 0), update: LOG(2, 0, 0) }, pek3b: { insert: LOG(25, 20, 1) } },
      spec: spec({ migration: { zones: ['pek3a', 'pek3b', 'pek3c'] } }),
      audit: auditTags(['pek3a', 'pek3b', 'pek3c'], { ...probes, pek3c: { totalCount: 0, tags: [] } }),
    });
    const b = r.migration.find((m) => m.zone === 'pek3b')!;
    expect(b.state).toBe('failed');
    expect(b.result).toMatchObject({
      totalCount: 25,
      inserted: 20,
      warnings: 1,
      predictedWarnings: 1,
      verified: false,
    });
    expect(b.problems).toEqual(['total_count 25 != inserted 20 + warnings 1 (4 unaccounted)']);
    // Nothing for pek3b (no insert again, no update pass) nor for the zones after it.
    expect(r.plan.steps).toEqual([]);
  });

  it('warnings that differ from the prediction are reported; the runbook rule decides', () => {
    const input = configured();
    const r = planTagServer({
      ...input,
      previous: { pek3a: { predictedWarnings: 0 }, pek3b: { predictedWarnings: 0 } },
    });
    expect(r.migration[1]!.state).not.toBe('failed');
    expect(r.migration[1]!.problems).toEqual([]);
    expect(r.migration[1]!.result.message).toMatch(
      /1 warning\(s\) \(W\) where the pre-flight audit predicted 0/,
    );
  });

  it('an insert done and verified without its update pass plans only the update pass', () => {
    const input = configured();
    const r = planTagServer({ ...input, logs: { ...input.logs, pek3b: { insert: LOG(1, 0, 1) } } });
    expect(r.plan.steps.map((s) => s.id)).toEqual(['installJobGuard', 'migrateUpdate-pek3b']);
    expect(r.plan.steps[1]!.check!.script).toContain('/pitrix/conf/operator/tagserver/pek3b.update.log');
  });

  it('upgrade (R1.8): a pinned newer version present in the repository', () => {
    const input = configured();
    const pinned = spec({ packages: [{ name: 'pitrix-ks-tag-server', version: '4.6.3-1' }] });
    const missing = planTagServer({ ...input, spec: pinned });
    expect(missing.violations[0]!.reason).toBe('PackageNotInRepository');
    expect(missing.plan.steps).toEqual([]);
    const r = planTagServer({
      ...input,
      spec: pinned,
      repoDebs: [{ name: 'pitrix-ks-tag-server', version: '4.6.3-1' }],
    });
    expect(r.plan.steps.map((s) => s.id)).toEqual([
      'scanRepository',
      'installJobGuard',
      'upgradeTag-pek3a-webservice',
    ]);
    const upgrade = r.plan.steps[2]!;
    expect(upgrade.command.script).toMatch(
      /pitrix-job-\w+ run \/pitrix\/conf\/operator\/jobs\/pek3a\/upgradeTag-pek3a-webservice-\w+ \/pitrix\/conf\/operator\/jobs\/pek3a\.lock '\/pitrix\/upgrade\/update\.sh pek3a-webservice tag'$/,
    );
    // A later pin is a later upgrade: a new job, never "already done" by this one.
    const later = planTagServer({
      ...input,
      spec: spec({ packages: [{ name: 'pitrix-ks-tag-server', version: '4.6.4-1' }] }),
      repoDebs: [{ name: 'pitrix-ks-tag-server', version: '4.6.4-1' }],
    });
    expect(later.plan.steps[2]!.job!.dir).not.toBe(upgrade.job!.dir);
    const verify = upgrade.verify!;
    expect(
      verify('update pitrix-ks-tag-server on webservice-a1: 4.6.2-2 -> 4.6.3-1\nupdate.sh: done'),
    ).toBeUndefined();
    expect(
      verify('update pitrix-ks-tag-server on webservice-a1: 4.6.2-2 -> 4.6.2-3\nupdate.sh: done'),
    ).toMatch(/pinned 4.6.3-1/);
    // Already at the pinned version: nothing.
    const obs = { ...input.nodeObservations };
    for (const id of ['webservice-a1', 'webservice-a2'])
      obs[id] = { ...obs[id]!, packages: { 'pitrix-ks-tag-server': '4.6.3-1' } };
    expect(planTagServer({ ...input, spec: pinned, nodeObservations: obs }).plan.steps).toEqual([]);
  });

  it('golden: upgrade (R1.8) of both tag packages, per zone target (the ledger cites it)', async () => {
    const r = planTagServer({
      ...configured(),
      spec: spec({
        packages: [
          { name: 'pitrix-ks-tag-server', version: '4.6.3-1' },
          { name: 'pitrix-ks-proxy-tag', version: '4.6.3-1' },
        ],
      }),
      repoDebs: [
        { name: 'pitrix-ks-tag-server', version: '4.6.3-1' },
        { name: 'pitrix-ks-proxy-tag', version: '4.6.3-1' },
      ],
    });
    expect(r.violations).toEqual([]);
    const golden = r.plan.steps
      .map(
        (s) =>
          `${s.id} @${s.host.kind}\n  ${s.command.script}${s.check ? `\n  check: ${s.check.script}` : ''}`,
      )
      .join('\n');
    await expect(`hash ${r.plan.hash}\n${golden}\n`).toMatchFileSnapshot('__golden__/upgrade-both.txt');
    expect(r.plan.steps.map((s) => s.id)).toEqual([
      'scanRepository',
      'installJobGuard',
      'upgradeTag-pek3a-proxy',
      'upgradeTag-pek3a-webservice',
      'upgradeTag-pek3b-proxy',
      'upgradeTag-pek3c-proxy',
    ]);
  });

  it('refuses what it cannot do safely', () => {
    const input = fresh();
    const r = planTagServer({
      ...input,
      serverYaml: { ...input.serverYaml, pek3c: undefined },
      nodeObservations: {
        ...input.nodeObservations,
        'proxy-b1': { error: 'ssh: connect to host 127.77.3.44 port 22: Connection refused' },
      },
    });
    expect(r.violations.map((v) => v.reason)).toEqual(['NodeUnobservable', 'ConfigMissing']);
    expect(r.plan.steps).toEqual([]);
    // Without the pre-flight -a describe (not a runbook step) the zones migrate without a prediction.
    const noAudit = planTagServer({ ...input, audit: {} });
    expect(noAudit.violations).toEqual([]);
    expect(noAudit.plan.steps.some((s) => s.id.startsWith('migrateInsert-'))).toBe(true);
    expect(noAudit.migration[0]!.result.message).toMatch(/no warnings prediction/);
  });

  it('read-back verification of the written files', () => {
    const edits = new Map([['pek3b', [{ key: 'fg_server.tag_proxy_host', value: 'pek3b-proxy' }]]]);
    const good = editYaml(file('pek3b'), edits.get('pek3b')!).text;
    expect(verifyReadBack(`@@file pek3b@@\n${good}`, edits)).toBeUndefined();
    expect(verifyReadBack(`@@file pek3b@@\n${file('pek3b')}`, edits)).toBe(
      "server.yaml.pek3b: fg_server.tag_proxy_host is '', expected 'pek3b-proxy'",
    );
  });
});

describe('preconditions', () => {
  const zone = (name: string, zoneId: string, extra: Partial<ZoneInfo> = {}): ZoneInfo => ({
    name,
    zoneId,
    global: false,
    ready: true,
    installerVersion: '4.6.2',
    ...extra,
  });
  it('global, Ready, installer >= 4.6, migration zones present and Ready', () => {
    const ok = [zone('global', 'pek3a', { global: true }), zone('b', 'pek3b')];
    expect(staticPreconditions(spec(), ok)).toEqual([]);
    expect(
      staticPreconditions(spec(), [
        zone('global', 'pek3a', { global: true, installerVersion: '4.5.0' }),
        zone('b', 'pek3b'),
      ]),
    ).toEqual([
      {
        reason: 'InstallerTooOld',
        message:
          'installer 4.5.0 on the firstbox of global is older than 4.6, which the tag service needs (R1); upgrade the installer first',
      },
    ]);
    expect(
      staticPreconditions(spec(), [
        zone('global', 'pek3a'),
        zone('b', 'pek3b', { ready: false, readyMessage: 'Unreachable: x' }),
      ]).map((v) => v.reason),
    ).toEqual(['NotGlobalZone', 'ZoneNotReady']);
    expect(staticPreconditions(spec(), [zone('global', 'pek3a', { global: true })])[0]!.message).toMatch(
      /zone pek3b \(spec.migration.zones\) has no Zone object in this namespace/,
    );
  });
  it('sub zones: the non-global zones of the enabled regions', () => {
    const platform = [
      { zoneId: 'pek3a', regionId: 'pek3', isGlobalZone: true },
      { zoneId: 'pek3b', regionId: 'pek3', isGlobalZone: false },
      { zoneId: 'gd2a', regionId: 'gd2', isGlobalZone: false },
      { zoneId: 'sh1a', regionId: null, isGlobalZone: false },
    ];
    expect(subZonesOf(['pek3'], 'pek3a', platform, [])).toEqual(['pek3b']);
    expect(subZonesOf(['pek3', 'sh1a'], 'pek3a', platform, [])).toEqual(['pek3b', 'sh1a']);
    expect(subZonesOf(['pek3'], 'pek3a', undefined, [zone('b', 'pek3b', { regionId: 'pek3' })])).toEqual([
      'pek3b',
    ]);
  });
});
