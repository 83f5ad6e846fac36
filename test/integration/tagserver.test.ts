/**
 * Runbook R1 end to end: real kube-apiserver + etcd, the operator process, and the simulated region
 * (global zone pek3a, sub zones pek3b and pek3c) over real sshd. What a platform engineer checks: an
 * old installer is refused before anything runs; the tag service ends up installed on the proxy and
 * webservice nodes, the exact server.yaml keys set with everything else kept, the tags migrated and
 * verified by numbers (including a predicted cross-zone warning); applying the same TagServer again
 * builds and migrates nothing; a migration whose counts do not add up is Degraded with its numbers
 * and its insert is not run again.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { waitUntil } from '../helpers/operator.js';
import { applyZone, condition, type Resource, type Scenario, startScenario } from '../helpers/scenario.js';

let cp: ControlPlane;
let sc: Scenario;
beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
  // Strict: the simulator refuses all the originals do not name except the documented assumptions.
  sc = await startScenario(cp, 'region.yaml', { subnet: 11, timeScale: 0.3, strict: 'assumed' });
});
afterAll(async () => {
  await sc?.stop();
  await cp?.stop();
});

const CONF = 'pitrix/conf/variables/global';
const TAG_COMMANDS =
  /build_pkgs\.py|update\.sh|build_global_conf\.sh|migrate_for_tag_server\.py|exec_nodes\.sh|server\.yaml/;

function tagServer(zones: string[]) {
  return {
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'TagServer',
    metadata: { name: 'tags' },
    spec: { zoneRef: { name: 'pek3a' }, enabledZones: ['pek3'], migration: { zones } },
  };
}

interface Migration {
  totalCount?: number;
  inserted?: number;
  warnings?: number;
  errors?: number;
  predictedWarnings?: number;
  updatePassInserted?: number;
  verified?: boolean;
  sameNameTags?: string[];
}
const migrationOf = (r: Resource) => (r.status?.migration ?? {}) as Record<string, Migration>;

async function firstboxCommands(since = 0) {
  return (await sc.sim.commandLog(sc.sim.firstbox.id)).slice(since).map((e) => e.command);
}

interface JobRecord {
  kind: string;
  step: string;
  startedAt: number;
  finishedAt?: number;
}

/** The firstbox's job records (hack/sim/cmd/jobs.ts): each start of update.sh or a build, with its times. */
async function jobs(): Promise<JobRecord[]> {
  return Object.values((await sc.sim.state(sc.sim.firstbox.id)).firstbox?.jobs ?? {}) as JobRecord[];
}

function overlapping(js: readonly JobRecord[]): string[] {
  const sorted = [...js].sort((a, b) => a.startedAt - b.startedAt);
  return sorted
    .slice(1)
    .filter((j, i) => j.startedAt < (sorted[i]!.finishedAt ?? Number.POSITIVE_INFINITY))
    .map((j, i) => `${sorted[i]!.kind} ${sorted[i]!.step} and ${j.kind} ${j.step}`);
}

async function events(reason: string): Promise<string[]> {
  const r = await cp.kubectl(['get', 'events', '-n', sc.ns, '-o', 'json']);
  const items = (
    JSON.parse(r.stdout) as {
      items: Array<{ reason: string; message: string; involvedObject: { kind: string } }>;
    }
  ).items;
  return items
    .filter((e) => e.involvedObject.kind === 'TagServer' && e.reason === reason)
    .map((e) => e.message);
}

describe('TagServer (R1)', () => {
  it('refuses an installer older than 4.6 with a clear condition, and runs nothing', async () => {
    await sc.sim.writeFile(sc.sim.firstbox.id, 'pitrix/VERSION', '4.5.0\n');
    await applyZone(sc, 'pek3a', 'pek3a', { global: true, regionId: 'pek3' });
    await applyZone(sc, 'pek3b', 'pek3b', { regionId: 'pek3' });
    await applyZone(sc, 'pek3c', 'pek3c', { regionId: 'pek3' });
    for (const z of ['pek3a', 'pek3b', 'pek3c']) await sc.waitCondition('zone', z, 'Ready', 'True', 30_000);
    expect((await sc.get('zone', 'pek3a')).status!.installerVersion).toBe('4.5.0');
    const mark = (await sc.sim.commandLog(sc.sim.firstbox.id)).length;

    await sc.apply(tagServer(['pek3a', 'pek3b']));
    const ts = await sc.waitCondition('tagserver', 'tags', 'Ready', 'False', 30_000, 'InstallerTooOld');
    expect(condition(ts, 'PreconditionsMet')).toMatchObject({ status: 'False', reason: 'InstallerTooOld' });
    expect(condition(ts, 'Ready')!.message).toBe(
      'installer 4.5.0 on the firstbox of pek3a is older than 4.6, which the tag service needs (R1); upgrade the installer first',
    );
    expect(await events('InstallerTooOld')).toHaveLength(1);
    // Nothing ran for the TagServer: the firstbox saw only the Zone controller's fact collection.
    expect((await firstboxCommands(mark)).filter((c) => TAG_COMMANDS.test(c))).toEqual([]);
  });

  it('converges: packages on proxy and webservice nodes, exact keys set, tags migrated and verified', async () => {
    const original: Record<string, string> = {};
    for (const z of ['pek3a', 'pek3b', 'pek3c'])
      original[z] = await sc.sim.readState(sc.sim.firstbox.id, `${CONF}/server.yaml.${z}`);
    // The installer is upgraded; the Zone sees it on its next observation.
    await sc.sim.writeFile(sc.sim.firstbox.id, 'pitrix/VERSION', '4.6.2\n');
    await cp.kubectl(['annotate', 'zone', 'pek3a', '-n', sc.ns, 'refresh=1', '--overwrite']);
    const ts = await sc.waitCondition('tagserver', 'tags', 'Ready', 'True', 150_000);
    expect(condition(ts, 'Ready')!.reason).toBe('UpToDate');
    expect(condition(ts, 'PreconditionsMet')!.status).toBe('True');

    // Packages: the tag server on the global zone's webservice nodes, the tag proxy on every zone's proxy.
    for (const n of ['webservice-a1', 'webservice-a2'])
      expect((await sc.sim.state(n)).packages['pitrix-ks-tag-server'], n).toBe('4.6.2-2');
    for (const n of ['proxy-a1', 'proxy-b1', 'proxy-c1'])
      expect((await sc.sim.state(n)).packages['pitrix-ks-proxy-tag'], n).toBe('4.6.2-2');
    expect((await sc.sim.state('webservice-b1')).packages['pitrix-ks-tag-server']).toBeUndefined();
    expect((await sc.sim.state('webservice-a1')).supervisor.programs.tag_server?.state).toBe('RUNNING');
    expect(ts.status!.installedVersions).toEqual({
      'pitrix-ks-tag-server': '4.6.2-2',
      'pitrix-ks-proxy-tag': '4.6.2-2',
    });

    // server.yaml: exactly the R1 keys changed; every other key and every comment kept.
    const now: Record<string, string> = {};
    for (const z of ['pek3a', 'pek3b', 'pek3c'])
      now[z] = await sc.sim.readState(sc.sim.firstbox.id, `${CONF}/server.yaml.${z}`);
    const g0 = parse(original.pek3a!);
    const g1 = parse(now.pek3a!);
    expect(g1.common.enable_global_tag_server).toBe(true);
    expect(g1.common.zones_enable_tag_server).toBe('pek3');
    expect(g1.tag_server.register_to_zk).toBe(true);
    g0.common.enable_global_tag_server = true;
    g0.common.zones_enable_tag_server = 'pek3';
    g0.tag_server.register_to_zk = true;
    expect(g1).toEqual(g0);
    for (const line of original.pek3a!.split('\n').filter((l) => l.trim().startsWith('#')))
      expect(now.pek3a).toContain(line);
    for (const z of ['pek3b', 'pek3c'])
      expect(now[z]).toBe(
        original[z]!.replace('enable_global_tag_server: false', 'enable_global_tag_server: true').replace(
          "tag_proxy_host: ''",
          `tag_proxy_host: '${z}-proxy'`,
        ),
      );
    expect(await sc.sim.readState(sc.sim.firstbox.id, `${CONF}/server.yaml.pek3b.before-tagserver`)).toBe(
      original.pek3b,
    );
    // ... and pushed to the nodes (pitrix-global-conf).
    expect(
      parse(await sc.sim.readState('proxy-b1', 'pitrix/conf/server.yaml')).fg_server.tag_proxy_host,
    ).toBe('pek3b-proxy');
    expect(
      parse(await sc.sim.readState('webservice-a1', 'pitrix/conf/server.yaml')).common
        .zones_enable_tag_server,
    ).toBe('pek3');

    // Tags: pek3a (40) and pek3b (25, one same-named tag of the same owner in pek3a) migrated.
    const m = migrationOf(ts);
    expect(m.pek3a).toMatchObject({
      totalCount: 40,
      inserted: 40,
      warnings: 0,
      errors: 0,
      predictedWarnings: 0,
      updatePassInserted: 0,
      verified: true,
    });
    expect(m.pek3b).toMatchObject({
      totalCount: 25,
      inserted: 24,
      warnings: 1,
      errors: 0,
      predictedWarnings: 1,
      updatePassInserted: 0,
      verified: true,
    });
    expect(m.pek3b!.sameNameTags).toHaveLength(1);
    expect(m.pek3b!.sameNameTags![0]).toMatch(/also in pek3a/);
    const db = await sc.sim.tagDb();
    const migrated = Object.values(db.migrated);
    expect(migrated.filter((t) => t.zone_id === 'pek3a')).toHaveLength(40);
    expect(migrated.filter((t) => t.zone_id === 'pek3b')).toHaveLength(25);
    expect(migrated.filter((t) => t.merged)).toHaveLength(1);
    expect(
      (await events('TagAudit')).some((e) => e.startsWith('zone pek3b: 25 tag(s), 1 warning(s) predicted')),
    ).toBe(true);

    // Each runbook command ran once: two package builds, one push per target, one insert and one
    // update pass per zone; every build and push ran under the job guard, never two at once.
    const cmds = await firstboxCommands();
    const js = await jobs();
    const started = (kind: string) =>
      js
        .filter((j) => j.kind === kind)
        .map((j) => j.step)
        .sort();
    expect(started('build_pkgs.py')).toEqual(['pitrix-ks-proxy-tag', 'pitrix-ks-tag-server']);
    expect(started('build_global_conf.sh')).toEqual(['pitrix-global-conf']);
    expect(started('update.sh')).toEqual([
      'all pitrix-global-conf',
      'pek3a-proxy pitrix-ks-proxy-tag',
      'pek3a-webservice pitrix-ks-tag-server',
      'pek3b-proxy pitrix-ks-proxy-tag',
      'pek3c-proxy pitrix-ks-proxy-tag',
    ]);
    expect(overlapping(js)).toEqual([]);
    for (const c of cmds.filter((x) => /build_pkgs\.py|update\.sh|build_global_conf\.sh/.test(x)))
      expect(c).toMatch(/^\/pitrix\/conf\/operator\/bin\/pitrix-job-\w+ run /);
    for (const z of ['pek3a', 'pek3b'])
      for (const a of ['insert', 'update'])
        expect(
          cmds.filter((c) => c.includes(`-z ${z} -f /pitrix/conf/admin_beta.yaml -a ${a}`)),
          `${z} ${a}`,
        ).toHaveLength(1);

    // Metrics for alerts.
    expect(await sc.op.metric('pitrix_tagserver_migrated_tags', { zone: 'pek3b' })).toBe(24);
    expect(await sc.op.metric('pitrix_tagserver_warned_tags', { zone: 'pek3b' })).toBe(1);
    expect(await sc.op.metric('pitrix_tagserver_errored_tags', { zone: 'pek3a' })).toBe(0);
    expect(await sc.op.metric('pitrix_tagserver_migration_verified', { zone: 'pek3a' })).toBe(1);
  });

  it('a second apply of the same TagServer runs no build and no migration', async () => {
    const before = (await sc.get('tagserver', 'tags')).metadata.uid;
    const mark = (await sc.sim.commandLog(sc.sim.firstbox.id)).length;
    // Deleted and applied again: its status (journal, migration results) is gone; the platform is the truth.
    await cp.kubectl(['delete', 'tagserver', 'tags', '-n', sc.ns, '--wait=true']);
    await sc.apply(tagServer(['pek3a', 'pek3b']));
    let ts: Resource | undefined;
    await waitUntil(
      async () => {
        ts = await sc.get('tagserver', 'tags');
        return ts.metadata.uid !== before && condition(ts, 'Ready')?.status === 'True';
      },
      60_000,
      'recreated TagServer Ready',
    );
    expect(condition(ts!, 'Ready')!.reason).toBe('UpToDate');
    expect(ts!.status!.plan).toBeUndefined();
    const m = migrationOf(ts!);
    expect(m.pek3b).toMatchObject({
      totalCount: 25,
      inserted: 24,
      warnings: 1,
      predictedWarnings: 1,
      verified: true,
    });
    const ran = await firstboxCommands(mark);
    expect(ran.filter((c) => /build_pkgs|build_global_conf|update\.sh|-a insert|-a update/.test(c))).toEqual(
      [],
    );
    // What it did run: read-only observation and the pre-flight probes.
    expect(ran.some((c) => c.includes('-a describe'))).toBe(true);
  });

  it('upgrades (R1.8) to a pinned version placed in the repository; status shows it', async () => {
    const mark = (await sc.sim.commandLog(sc.sim.firstbox.id)).length;
    const pinned = tagServer(['pek3a', 'pek3b']);
    (pinned.spec as Record<string, unknown>).packages = [
      { name: 'pitrix-ks-tag-server', version: '4.6.3-1' },
    ];
    await sc.apply(pinned);
    // Not in the repository yet: refused, with the remedy.
    const refused = await sc.waitCondition(
      'tagserver',
      'tags',
      'Ready',
      'False',
      30_000,
      'PackageNotInRepository',
    );
    expect(condition(refused, 'Ready')!.message).toContain(
      'place pitrix-ks-tag-server_4.6.3-1_all.deb in /pitrix/repo/indep/',
    );
    await sc.sim.writeFile(
      sc.sim.firstbox.id,
      'pitrix/repo/indep/pitrix-ks-tag-server_4.6.3-1_all.deb',
      'deb',
    );
    await cp.kubectl(['annotate', 'tagserver', 'tags', '-n', sc.ns, 'placed=1', '--overwrite']);
    await waitUntil(
      async () => {
        const t = await sc.get('tagserver', 'tags');
        return (
          condition(t, 'Ready')?.status === 'True' &&
          (t.status!.installedVersions as Record<string, string>)['pitrix-ks-tag-server'] === '4.6.3-1'
        );
      },
      60_000,
      'upgraded and Ready',
    );
    for (const n of ['webservice-a1', 'webservice-a2'])
      expect((await sc.sim.state(n)).packages['pitrix-ks-tag-server'], n).toBe('4.6.3-1');
    const ran = await firstboxCommands(mark);
    expect(ran.filter((c) => /scan_all|update\.sh|build_pkgs|-a insert/.test(c))).toEqual([
      '/pitrix/bin/scan_all.sh',
      expect.stringMatching(
        /^\/pitrix\/conf\/operator\/bin\/pitrix-job-\w+ run \S+\/upgradeTag-pek3a-webservice-\w+ \S+ '\/pitrix\/upgrade\/update\.sh pek3a-webservice tag'$/,
      ),
    ]);
  });

  it('a migration whose counts do not add up is Degraded with the numbers, and its insert is not re-run', async () => {
    // pek3c's migration loses two tags: the script prints 10 inserted for 12 tags.
    await sc.sim.setFault('webservice-c1', {
      kind: 'output',
      match: '-a insert',
      via: 'exec_nodes',
      phase: 'after',
      stdout:
        "{'action': 'DescribeTagsResponse', 'ret_code': 0, 'total_count': 12, 'tag_set': []}\nThere are 12 tag items to migrate.\ntag: 10 +  0 ^  0 X  0 W  resource_tag: 10 +  0 ^  0 X\nAll done.\n",
    });
    // And its script has no -a describe (not a runbook action): refused like a real script would.
    await sc.sim.setFault('webservice-c1', {
      kind: 'fail',
      match: '-a describe',
      via: 'exec_nodes',
      exitCode: 2,
      message: 'usage: migrate_for_tag_server.py -z ZONE_ID -f ADMIN_CONF -a insert|update',
    });
    await sc.apply(tagServer(['pek3a', 'pek3b', 'pek3c']));
    const ts = await sc.waitCondition(
      'tagserver',
      'tags',
      'Degraded',
      'True',
      90_000,
      'MigrationNotVerified',
    );
    const msg = condition(ts, 'Degraded')!.message;
    expect(msg).toContain(
      // Migrated without a prediction (the describe was refused); the runbook's rule decided.
      'zone pek3c: total_count 12, inserted 10, updated 0, errors 0, warnings 0 (predicted ?)',
    );
    expect(msg).toContain('total_count 12 != inserted 10 + warnings 0 (2 unaccounted)');
    expect(msg).toContain('not run again automatically');
    expect(condition(ts, 'Ready')).toMatchObject({ status: 'False', reason: 'MigrationNotVerified' });
    expect(migrationOf(ts).pek3c).toMatchObject({
      totalCount: 12,
      inserted: 10,
      warnings: 0,
      verified: false,
    });
    expect(migrationOf(ts).pek3a!.verified).toBe(true);
    expect((await events('MigrationNotVerified')).length).toBeGreaterThanOrEqual(1);
    expect(await sc.op.metric('pitrix_tagserver_migration_verified', { zone: 'pek3c' })).toBe(0);

    // Later reconciles (forced by a metadata change) observe again but never insert again. The
    // audit's checkedAt moves only when its findings change, so the firstbox's log shows the look.
    const seen = (await sc.sim.commandLog(sc.sim.firstbox.id)).length;
    await cp.kubectl(['annotate', 'tagserver', 'tags', '-n', sc.ns, 'poke=1', '--overwrite']);
    await waitUntil(
      async () => (await sc.sim.commandLog(sc.sim.firstbox.id)).length > seen,
      30_000,
      'another observation',
    );
    await new Promise((r) => setTimeout(r, 2000));
    const c1 = await sc.sim.commandLog('webservice-c1');
    const inserts = c1.filter((e) => e.command.includes('-a insert'));
    expect(inserts).toHaveLength(1);
    expect(c1.some((e) => e.command.includes('-a describe'))).toBe(true);
    expect(
      (await firstboxCommands()).filter((c) =>
        c.includes('-z pek3c -f /pitrix/conf/admin_beta.yaml -a update'),
      ),
    ).toEqual([]);
    expect(condition(await sc.get('tagserver', 'tags'), 'Degraded')!.reason).toBe('MigrationNotVerified');
  });
});
