/**
 * Runbook R4 "new zone in a region" end to end: real kube-apiserver + etcd, the operator process,
 * and the simulated region over real sshd (examples/sim/new-zone.yaml: global zone pek3a, sub zone
 * pek3b on the platform, the spare machines of pek3d). What a platform engineer would check: a
 * Zone for an existing zone only observes; a Zone for a zone the installer does not list converges
 * (describe-zones.py lists it, its machines are deployed, the global webservices got the cache
 * clear and the ws_server/billing_resource restart, each new proxy got the region listeners and
 * was restarted after the previous one was back).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import type { CommandLogEntry } from '../../hack/sim/types.js';
import { waitUntil } from '../helpers/operator.js';
import { applyZone, condition, type Scenario, startScenario } from '../helpers/scenario.js';

const RUNBOOK =
  /add-nodes\.py|collect-nodes\.py|config-qingcloud\.py|scale-qingcloud-zone\.py|exec_nodes\.sh/;

let cp: ControlPlane;
let sc: Scenario;
beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
  // Strict: the simulator refuses all the originals do not name except the documented assumptions.
  sc = await startScenario(cp, 'new-zone.yaml', { subnet: 61, strict: 'assumed' });
  await applyZone(sc, 'pek3a', 'pek3a', { regionId: 'pek3', global: true });
  await sc.waitCondition('zone', 'pek3a', 'Ready', 'True', 30_000);
}, 120_000);
afterAll(async () => {
  await sc?.stop();
  await cp?.stop();
});

const addr = (id: string) => sc.sim.host(id).address;
const ended = (e: CommandLogEntry) => Date.parse(e.time) + e.durationMs;

function newZoneSpec(nodes: Array<{ id: string; roles: string[] }>) {
  return {
    globalZoneRef: { name: 'pek3a' },
    globalApiProtocol: 'http',
    nodes: nodes.map((n) => ({ address: addr(n.id), roles: n.roles })),
  };
}

describe('Zone: new zone in a region (R4)', () => {
  it('only observes a Zone whose zone the installer already lists', async () => {
    await applyZone(sc, 'pek3b', 'pek3b', {
      regionId: 'pek3',
      newZone: newZoneSpec([{ id: 'proxy-b1', roles: ['proxy'] }]),
    });
    const z = await sc.waitCondition('zone', 'pek3b', 'Ready', 'True', 30_000);
    expect(condition(z, 'Ready')!.reason).toBe('Observed');
    expect(z.status!.plan).toBeUndefined();
    const log = await sc.sim.commandLog();
    expect(log.filter((e) => RUNBOOK.test(e.command)).map((e) => e.command)).toEqual([]);
  });

  it('refuses, before any SSH command, a new zone whose globalZoneRef is not the global zone', async () => {
    const before = (await sc.sim.commandLog()).length;
    await applyZone(sc, 'pek3e', 'pek3e', {
      regionId: 'pek3',
      newZone: { ...newZoneSpec([{ id: 'proxy-d1', roles: ['proxy'] }]), globalZoneRef: { name: 'pek3b' } },
    });
    const z = await sc.waitCondition('zone', 'pek3e', 'Ready', 'False', 30_000, 'GlobalZoneRefNotGlobal');
    expect(condition(z, 'Ready')!.message).toContain('Zone pek3b (pek3b) is not the global zone');
    expect(z.status!.plan).toBeUndefined();
    const after = (await sc.sim.commandLog()).slice(before);
    expect(after.filter((e) => RUNBOOK.test(e.command)).map((e) => e.command)).toEqual([]);
    await cp.kubectl(['delete', 'zone', 'pek3e', '-n', sc.ns, '--wait=true']);
  });

  it('adds a zone the installer does not list: deployed, global services refreshed, proxies one at a time', async () => {
    const started = new Date().toISOString();
    await sc.sim.setTimeScale(4);
    await applyZone(sc, 'pek3d', 'pek3d', {
      regionId: 'pek3',
      newZone: newZoneSpec([
        { id: 'proxy-d1', roles: ['proxy'] },
        { id: 'proxy-d2', roles: ['proxy'] },
        { id: 'webservice-d1', roles: ['webservice', 'zoocassa'] },
        { id: 'hyper-d1', roles: ['hyper'] },
        { id: 'hyper-d2', roles: ['hyper'] },
      ]),
    });
    // Kill the operator in the middle of scale-qingcloud-zone.py (slowed down to be caught): the
    // restarted one finds the job still running (check exit 3), waits for it, never starts it again.
    await waitUntil(
      async () => {
        const d = await sc.get('zone', 'pek3d');
        return d.status?.plan?.steps?.find((s) => s.id === 'scaleQingcloudZone')?.state === 'Running';
      },
      90_000,
      'scaleQingcloudZone Running',
    );
    await sc.restartOperator('SIGKILL');
    // Slow until the restarted operator has asked the guard (on a loaded machine the restart may
    // otherwise outlast the job): then it finishes at normal speed.
    await waitUntil(
      async () =>
        (await sc.sim.commandLog(sc.sim.firstbox.id)).some(
          (e) =>
            e.time >= started &&
            /pitrix-job-\w+ check \S+scaleQingcloudZone-/.test(e.command) &&
            e.exitCode === 3,
        ),
      90_000,
      'the restarted operator asked the guard about scale-qingcloud-zone.py',
    );
    await sc.sim.setTimeScale(1);
    // Ready=True with reason Observed comes from the observation after the run: the zone is listed.
    const z = await sc.waitCondition('zone', 'pek3d', 'Ready', 'True', 90_000, 'Observed');
    const steps = z.status!.plan!.steps!;
    expect(steps.map((s) => `${s.id}:${s.state}`)).toEqual(steps.map((s) => `${s.id}:Succeeded`));
    expect(steps.find((s) => s.id === 'scaleQingcloudZone')!.outputTail).toMatch(/done/);
    expect(z.status!.lock).toBeUndefined();
    expect(z.status!.nodeCounts).toMatchObject({ proxy: 2, webservice: 1, zoocassa: 1, hyper: 2 });

    // The installer lists the zone in its region, its machines deployed with their roles.
    const fb = (await sc.sim.state(sc.sim.firstbox.id)).firstbox!;
    expect(fb.zones.find((x) => x.zone_id === 'pek3d')).toMatchObject({
      region_id: 'pek3',
      is_global_zone: 0,
    });
    for (const id of ['proxy-d1', 'proxy-d2', 'webservice-d1', 'hyper-d1', 'hyper-d2']) {
      expect(
        fb.nodes.find((n) => n.mgmt_ip === addr(id)),
        id,
      ).toMatchObject({ status: 'deployed', zone_id: 'pek3d' });
    }
    expect(fb.nodes.find((n) => n.mgmt_ip === addr('webservice-d1'))!.roles.sort()).toEqual([
      'webservice',
      'zoocassa',
    ]);
    const vars = await sc.sim.readState(sc.sim.firstbox.id, 'pitrix/config/variables.pek3d.yaml');
    // The template's copy, filled in where it says: its sections and comments stay as they were.
    const filled = parse(vars) as { base: Record<string, unknown>; common: Record<string, unknown> };
    expect(filled.base.is_global_zone).toBe(0);
    expect(filled.common.cloud_type).toBe('private');
    expect(filled.common.zone_id).toBe('pek3d');
    expect(vars).toContain('# never public: reserved for the public cloud');

    // Global webservice: the zone cache cleared once (on the VIP holder, against the global
    // zoocassa memcacheds), ws_server and billing_resource restarted on each node, one after the other.
    const a1 = (await sc.sim.commandLog('webservice-a1')).filter((e) => e.time >= started);
    const a2 = (await sc.sim.commandLog('webservice-a2')).filter((e) => e.time >= started);
    const cache = [...a1, ...a2].filter((e) => e.command.includes('operate_cache_by_re'));
    expect(cache).toHaveLength(1);
    expect(cache[0]).toMatchObject({ host: 'webservice-a2', exitCode: 0, via: 'exec_nodes' });
    expect(cache[0]!.command).toContain('-A delete -P Pitrix.Zone.Zone.UserZone.yunify');
    expect(cache[0]!.command).toContain('zoocassa0:11211;zoocassa1:11211');
    const restarts = [...a2, ...a1].filter((e) =>
      e.command.includes('supervisorctl restart ws_server billing_resource'),
    );
    expect(restarts.map((e) => [e.host, e.exitCode])).toEqual([
      ['webservice-a2', 0],
      ['webservice-a1', 0],
    ]);
    expect(ended(restarts[0]!)).toBeLessThanOrEqual(Date.parse(restarts[1]!.time));
    for (const id of ['webservice-a1', 'webservice-a2']) {
      const p = (await sc.sim.state(id)).supervisor.programs;
      for (const name of ['ws_server', 'billing_resource']) {
        expect(p[name]!.state, `${id} ${name}`).toBe('RUNNING');
        expect(p[name]!.startedAt, `${id} ${name} restarted`).toBeGreaterThanOrEqual(Date.parse(started));
      }
    }
    // The sub zone pek3b's webservice is not touched.
    expect((await sc.sim.commandLog('webservice-b1')).filter((e) => e.time >= started)).toEqual([]);

    // Each new proxy: the region listeners toward the global webservices (http: 7777), the
    // installer's own frontend kept, haproxy restarted and running; the second only after the first.
    const gw = [addr('webservice-a2'), addr('webservice-a1')];
    const haproxyRestarts: CommandLogEntry[] = [];
    for (const id of ['proxy-d1', 'proxy-d2']) {
      const cfg = await sc.sim.readState(id, 'etc/haproxy/haproxy.cfg');
      expect(cfg).toContain('listen proxy-front');
      expect(cfg).toMatch(/listen api-front\n {4}bind 0\.0\.0\.0:7777/);
      expect(cfg).toContain(`server  apiserver_0 ${gw[0]}:7777 check`);
      expect(cfg).toContain(`server  apiserver_1 ${gw[1]}:7777 check`);
      expect(cfg).toContain(`server  ws_server_1 ${gw[1]}:8565 check`);
      expect(cfg).toContain(`server  io_server_0 ${gw[0]}:8000 check`);
      expect(cfg.match(/^listen api-front$/gm)).toHaveLength(1);
      expect((await sc.sim.state(id)).services.haproxy).toBe('running');
      const r = (await sc.sim.commandLog(id)).filter((e) => /service haproxy restart/.test(e.command));
      expect(r.map((e) => e.exitCode)).toEqual([0]);
      haproxyRestarts.push(r[0]!);
    }
    expect(ended(haproxyRestarts[0]!)).toBeLessThanOrEqual(Date.parse(haproxyRestarts[1]!.time));
    const listenersOnD2 = (await sc.sim.commandLog('proxy-d2')).find((e) =>
      e.command.includes('pitrix-operator region listeners'),
    )!;
    expect(ended(haproxyRestarts[0]!)).toBeLessThanOrEqual(Date.parse(listenersOnD2.time));

    // Each runbook command ran once on the firstbox; pek3b was never the target of one.
    const fbLog = (await sc.sim.commandLog(sc.sim.firstbox.id)).filter((e) => e.time >= started);
    for (const re of [
      /add-nodes\.py -I \S+ -z pek3d/,
      /collect-nodes\.py -I/,
      /config-qingcloud\.py -v/,
      /scale-qingcloud-zone\.py -z pek3d/,
    ]) {
      expect(
        fbLog.filter((e) => re.test(e.command) && !/describe-nodes|get-/.test(e.command)).length,
        String(re),
      ).toBe(1);
    }
    expect(fbLog.some((e) => /-z pek3b/.test(e.command))).toBe(false);
    // The restarted operator asked the job guard and heard "still running" (3), not "not done".
    const scaleChecks = fbLog.filter((e) => /pitrix-job-\w+ check \S+scaleQingcloudZone-/.test(e.command));
    expect(scaleChecks.map((e) => e.exitCode)).toContain(3);
  });
});
