/**
 * Runbook R3 end to end: real kube-apiserver + etcd, the operator process and the simulated
 * platform over real sshd (boss-v1.yaml: BOSS V1 leftovers, installer 4.4.0, a zoocassa node on
 * Ubuntu 14.04.4). What a platform engineer checks: prerequisites refuse with a condition naming
 * what is missing and nothing runs; cronus unblocks BOSS; V1 is removed as R3 lists and V2 deployed
 * with versions and health in status; health, default password, config and upgrade are followed.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { waitUntil } from '../helpers/operator.js';
import { applyZone, condition, type Scenario, startScenario } from '../helpers/scenario.js';

let cp: ControlPlane;
let sc: Scenario;
beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
  // Strict: the simulator refuses all the originals do not name except the documented assumptions.
  sc = await startScenario(cp, 'boss-v1.yaml', { subnet: 31, timeScale: 0.3, strict: 'assumed' });
}, 120_000);
afterAll(async () => {
  await sc?.stop();
  await cp?.stop();
});

const SERVER_YAML = 'pitrix/conf/variables/global/server.yaml.gd2a';

function component(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'Component',
    metadata: { name },
    spec: { zoneRef: { name: 'gd2a' }, name, healthCheckInterval: '2s', ...spec },
  };
}

async function setInstaller(version: string) {
  await sc.sim.mutate('firstbox', (s) => {
    s.firstbox!.installerVersion = version;
  });
  await sc.sim.writeFile('firstbox', 'pitrix/VERSION', `${version}\n`);
}

/** Guarded jobs (src/runbook/jobguard.ts) appear as `pitrix-job-… run DIR LOCK 'COMMAND'`. */
const GUARDED_RUN = /^\S+\/pitrix-job-\w+ run \S+ \S+ '([^']*)'$/;

/** What ran on the firstbox, a guarded job as the runbook command it started. */
async function firstboxCommands(): Promise<string[]> {
  return (await sc.sim.commandLog('firstbox')).map((e) => GUARDED_RUN.exec(e.command)?.[1] ?? e.command);
}

async function events(name: string): Promise<Array<{ reason: string; type: string; message: string }>> {
  const r = await cp.kubectl([
    'get',
    'events',
    '-n',
    sc.ns,
    '--field-selector',
    `involvedObject.name=${name},involvedObject.kind=Component`,
    '-o',
    'json',
  ]);
  return (JSON.parse(r.stdout) as { items: Array<{ reason: string; type: string; message: string }> }).items;
}

const ACTING = /supervisorctl stop|rm -f|deploy-qingcloud-component\.py -v|build_pkgs|update\.sh/;

describe('Component BOSS V2 (R3)', () => {
  it('refuses on unmet prerequisites, waits for cronus, removes V1 and deploys V2', async () => {
    await setInstaller('4.2.0');
    await applyZone(sc, 'gd2a', 'gd2a', { global: true });
    await sc.waitCondition('zone', 'gd2a', 'Ready', 'True', 30_000);
    await sc.apply(component('boss'));

    // Installer 4.2: refused, with a condition naming it.
    let boss = await sc.waitCondition(
      'component',
      'boss',
      'InstallerSupported',
      'False',
      60_000,
      'InstallerTooOld',
    );
    expect(condition(boss, 'Ready')?.message).toMatch(/installer 4\.2\.0 .* older than 4\.3/);

    // 4.4.0 with a zoocassa node on 14.04.4, and no cronus: both named, nothing runs.
    await setInstaller('4.4.0');
    await sc.waitCondition('component', 'boss', 'InstallerSupported', 'True', 30_000);
    boss = await sc.waitCondition(
      'component',
      'boss',
      'ZoocassaOsSupported',
      'False',
      30_000,
      'ZoocassaOsTooOld',
    );
    expect(condition(boss, 'ZoocassaOsSupported')?.message).toMatch(
      /zoocassa1 \(\S+\) runs Ubuntu 14\.04\.4/,
    );
    expect(condition(boss, 'CronusReady')).toMatchObject({ status: 'False', reason: 'CronusNotReady' });
    expect(condition(boss, 'InstallerSupported')?.status).toBe('True');
    expect((await firstboxCommands()).filter((c) => ACTING.test(c))).toEqual([]);

    // cronus deploys through the same mechanism and unblocks the CronusReady prerequisite.
    await sc.apply(component('cronus'));
    const cronus = await sc.waitCondition('component', 'cronus', 'Ready', 'True', 90_000, 'Healthy');
    expect(cronus.status?.versions).toMatchObject({ 'pitrix-cronus': expect.any(String) });
    boss = await sc.waitCondition('component', 'boss', 'CronusReady', 'True', 30_000);
    expect(condition(boss, 'ZoocassaOsSupported')?.status).toBe('False');
    expect((await firstboxCommands()).some((c) => /supervisorctl stop boss_/.test(c))).toBe(false);

    // Same OS, installer 4.4.3: proceeds.
    await setInstaller('4.4.3');
    boss = await sc.waitCondition('component', 'boss', 'Ready', 'True', 150_000, 'Healthy');

    // V1 gone from the platform: programs, nginx site, boss.yaml*; nf_server set, other keys intact.
    for (const id of ['webservice1', 'webservice2', 'boss1', 'hyper1', 'hyper2']) {
      const programs = Object.keys((await sc.sim.state(id)).supervisor.programs);
      expect(programs.filter((p) => p.startsWith('boss_') || p === 'pitrix-boss-console')).toEqual([]);
    }
    await expect(sc.sim.readState('proxy1', 'etc/nginx/sites-enabled/boss.conf')).rejects.toThrow();
    await expect(sc.sim.readState('proxy1', 'etc/nginx/sites-available/boss.conf')).rejects.toThrow();
    await expect(
      sc.sim.readState('firstbox', 'pitrix/conf/variables/global/boss.yaml.gd2a'),
    ).rejects.toThrow();
    const vip = /proxy_vip: (\S+)/.exec(
      await sc.sim.readState('firstbox', 'pitrix/config/variables.gd2a.yaml'),
    )![1];
    const serverText = await sc.sim.readState('firstbox', SERVER_YAML);
    const server = parse(serverText);
    expect(server.nf_server.notify_settings.system).toEqual({
      enable_save_notifylog: false,
      retention_days: 30,
      notifylog_third_parties: { webhook: { type: 'webhook', url: `http://${vip}:6777/alert_receiver/nf/` } },
    });
    expect(server.common).toMatchObject({ zone_id: 'gd2a', domain: 'gd2.qingcloud.local', mode: 'standard' });
    expect(server.billing).toEqual({ enable: true, currency: 'cny' });
    expect(serverText).toContain('# deployment mode: standard | fusion | devops');

    // The R3 order, role by role, then the deployment.
    const log = await firstboxCommands();
    // The last match: cronus was deployed through the same command before.
    const at = (re: RegExp) => log.findLastIndex((c) => re.test(c));
    const order = [
      /exec_nodes\.sh -f webservice 'supervisorctl stop boss_collector'/,
      /exec_nodes\.sh -f webservice 'supervisorctl update'/,
      /exec_nodes\.sh -f boss 'supervisorctl stop boss_hypervisor'/,
      /exec_nodes\.sh -f hyper 'supervisorctl update'/,
      /exec_nodes\.sh -f proxy 'service nginx reload'/,
      /rm -f \/pitrix\/conf\/variables\/global\/boss\.yaml\*/,
      /deploy-qingcloud-component\.py -v \/pitrix\/config\/vm_variables\.gd2a\.yaml/,
      /dump_hosts\.py/,
    ].map(at);
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(await sc.sim.readState('firstbox', 'pitrix/config/vm_variables.gd2a.yaml')).toMatch(
      /^deploy_boss: 1$/m,
    );

    // Status: versions, health, the job's progress.
    expect(boss.status?.versions).toMatchObject({ 'pitrix-ks-boss2': expect.stringMatching(/^4\.4\./) });
    expect(boss.status?.health).toMatchObject({ healthy: true });
    expect(boss.status?.progress).toMatchObject({ status: 'successful', percent: 100 });

    // Health checked every 2 s with the same verdict: nothing is written (no write per resync).
    await sc.waitCondition('component', 'boss', 'DefaultCredentials', 'True', 30_000);
    const version = async () =>
      (
        await cp.kubectl([
          'get',
          'component',
          'boss',
          '-n',
          sc.ns,
          '-o',
          'jsonpath={.metadata.resourceVersion}',
        ])
      ).stdout;
    const settled = await version();
    await new Promise((r) => setTimeout(r, 5_000));
    expect(await version(), 'status rewritten by an unchanged health check').toBe(settled);
  }, 420_000);

  it('flags the default password until it is changed', async () => {
    const boss = await sc.waitCondition('component', 'boss', 'DefaultCredentials', 'True', 30_000);
    expect(boss.status?.defaultCredentials).toBe(true);
    expect(condition(boss, 'DefaultCredentials')?.message).toMatch(/boss@gd2\.qingcloud\.local/);
    expect(
      (await events('boss')).some((e) => e.type === 'Warning' && e.reason === 'DefaultCredentials'),
    ).toBe(true);
    expect(await sc.op.metric('pitrix_component_default_credentials', { name: 'boss' })).toBe(1);
    expect(sc.op.logs.join('\n')).not.toMatch(/zhu88jie/);

    await sc.sim.updateBoss((b) => {
      b.defaultPassword = false;
    });
    await sc.waitCondition('component', 'boss', 'DefaultCredentials', 'False', 30_000);
    expect(await sc.op.metric('pitrix_component_default_credentials', { name: 'boss' })).toBe(0);
  }, 90_000);

  it('a failing health check degrades the component, recovery makes it Ready again', async () => {
    await sc.sim.updateBoss((b) => {
      b.healthy = false;
    });
    const bad = await sc.waitCondition('component', 'boss', 'Degraded', 'True', 30_000, 'HealthCheckFailed');
    expect(condition(bad, 'Ready')?.status).toBe('False');
    expect(bad.status?.health).toMatchObject({ healthy: false, message: expect.stringMatching(/not ok/) });
    expect((await events('boss')).some((e) => e.reason === 'HealthCheckFailed' && e.type === 'Warning')).toBe(
      true,
    );

    await sc.sim.updateBoss((b) => {
      b.healthy = true;
    });
    await sc.waitCondition('component', 'boss', 'Ready', 'True', 30_000, 'Healthy');
    expect(condition(await sc.get('component', 'boss'), 'Degraded')?.status).toBe('False');
  }, 90_000);

  it('a config change rebuilds and updates only the conf package', async () => {
    const before = (await firstboxCommands()).length;
    const pkgsBefore = (await sc.sim.state('boss1')).packages;
    await sc.apply(component('boss', { config: { boss2: { boss2: { debug: true } } } }));
    await waitUntil(
      async () =>
        (await firstboxCommands()).slice(before).some((c) => /update\.sh boss pitrix-ks-boss2-conf/.test(c)),
      60_000,
      'update.sh boss pitrix-ks-boss2-conf',
    );
    await sc.waitCondition('component', 'boss', 'Ready', 'True', 60_000, 'Healthy');
    const ran = (await firstboxCommands()).slice(before);
    expect(ran.filter((c) => /build_pkgs\.py|update\.sh/.test(c))).toEqual([
      '/pitrix/build/build_pkgs.py -p pitrix-ks-boss2-conf',
      '/pitrix/upgrade/update.sh boss pitrix-ks-boss2-conf',
    ]);
    const conf = await sc.sim.readState('firstbox', 'pitrix/conf/variables/boss2/boss2.yaml.gd2a');
    expect(parse(conf)).toMatchObject({ boss2: { debug: true, workers: 4 }, database: { port: 5432 } });
    expect(conf).toContain('# BOSS V2 backend configuration');
    const pkgsAfter = (await sc.sim.state('boss1')).packages;
    expect(pkgsAfter['pitrix-ks-boss2-conf']).not.toBe(pkgsBefore['pitrix-ks-boss2-conf']);
    expect(pkgsAfter['pitrix-ks-boss2-console']).toBe(pkgsBefore['pitrix-ks-boss2-console']);
  }, 120_000);

  it('an upgrade runs the R3 sequence in order and verifies the versions', async () => {
    await sc.sim.writeFile(
      'firstbox',
      'pitrix/repo/indep/boss2/pitrix-ks-boss2_4.4.3-5_all.deb',
      'pitrix-ks-boss2 4.4.3-5\n',
    );
    const before = (await firstboxCommands()).length;
    await sc.apply(
      component('boss', {
        config: { boss2: { boss2: { debug: true } } },
        packages: [{ name: 'pitrix-ks-boss2', version: '4.4.3-5' }],
      }),
    );
    await waitUntil(
      async () =>
        ((await sc.get('component', 'boss')).status?.versions as Record<string, string> | undefined)?.[
          'pitrix-ks-boss2'
        ] === '4.4.3-5',
      90_000,
      'pitrix-ks-boss2 4.4.3-5 in status.versions',
    );
    await sc.waitCondition('component', 'boss', 'Ready', 'True', 60_000, 'Healthy');
    const ran = (await sc.sim.commandLog()).slice(0).map((e) => e.command);
    const fbRan = (await firstboxCommands()).slice(before);
    // In the R3 order; migrate and init_data go to the first node of /pitrix/conf/nodes/boss.
    const seq: Array<[string, RegExp]> = [
      ['scan_all', /^\/pitrix\/bin\/scan_all\.sh$/],
      ['update boss', /^\/pitrix\/upgrade\/update\.sh boss boss$/],
      ['update transit', /^\/pitrix\/upgrade\/update\.sh boss pitrix-transit-upload-server$/],
      ['migrate', /exec_nodes\.sh .*django_manage\.sh migrate/],
      ['init_data', /exec_nodes\.sh .*django_manage\.sh init_data/],
      ['build console', /^\/pitrix\/build\/build_pkgs\.py -p pitrix-ks-boss2-console$/],
      ['update console', /^\/pitrix\/upgrade\/update\.sh boss pitrix-ks-boss2-console$/],
    ];
    const order = fbRan.flatMap((c) => seq.filter(([, re]) => re.test(c)).map(([label]) => label));
    expect(order).toEqual(seq.map(([label]) => label));
    // migrate and init_data ran on the first boss node itself.
    expect(ran.some((c) => c === '/pitrix/bin/boss2-manager/django_manage.sh migrate')).toBe(true);
    const b = await sc.sim.boss();
    expect(b.migrations).toBeGreaterThan(0);
    expect(b.initData).toBeGreaterThan(0);
    const plan = (await sc.get('component', 'boss')).status?.plan;
    expect(plan?.steps?.find((s) => s.id === 'checkUpgradedVersions')?.state).toBe('Succeeded');
  }, 150_000);
});
