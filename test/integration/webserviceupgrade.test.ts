/**
 * Runbook R5 end to end: real kube-apiserver + etcd, the operator process, and the simulated region
 * (global zone pek3a with 2 webservice nodes, sub zone pek3b with 3, pek3c with 1) over real sshd.
 * What a platform engineer checks: every node rebuilt on the new OS, never more than one webservice
 * node down, the VIP holder last, the right packages per zone kind, backups on the firstbox, the
 * re-pin of exactly the rebuilt node, the health gate stopping the rollout, rollback, crash safety
 * (seeded SIGKILL loop) and the zone lock against a NodePool scale-out.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import type { TimelineEvent } from '../../hack/sim/types.js';
import { waitUntil } from '../helpers/operator.js';
import {
  applyZone,
  condition,
  type Resource,
  repoRoot,
  type Scenario,
  startScenario,
} from '../helpers/scenario.js';

const SUBNET = 21;

let cp: ControlPlane;
let sc: Scenario;
let scenarioFile: string;

/** region.yaml plus two spare hypers (for the NodePool that must wait on the zone lock). */
function regionWithSpares(): string {
  const doc = parse(readFileSync(resolve(repoRoot, 'examples/sim/region.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  doc.spare = [
    {
      id: 'spare1',
      roles: [],
      address: 81,
      disks: [
        { name: 'sda', size: '480G' },
        { name: 'sdb', size: '960G' },
      ],
    },
    {
      id: 'spare2',
      roles: [],
      address: 82,
      disks: [
        { name: 'sda', size: '480G' },
        { name: 'sdb', size: '960G' },
      ],
    },
  ];
  const file = join(mkdtempSync(join(tmpdir(), 'wsu-')), 'region-spares.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
  scenarioFile = regionWithSpares();
  sc = await startScenario(cp, scenarioFile, { subnet: SUBNET, timeScale: 0.3 });
  await applyZone(sc, 'pek3a', 'pek3a', { global: true });
  await sc.apply({
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'Zone',
    metadata: { name: 'pek3b' },
    spec: {
      zoneId: 'pek3b',
      firstbox: {
        host: sc.sim.firstbox.address,
        port: sc.sim.firstbox.port,
        credentialsSecretRef: { name: 'firstbox-ssh' },
        hostKeys: [sc.sim.firstbox.hostKeyFingerprint],
      },
    },
  });
  await sc.waitCondition('zone', 'pek3a', 'Ready', 'True', 30_000);
  await sc.waitCondition('zone', 'pek3b', 'Ready', 'True', 30_000);
}, 120_000);

afterAll(async () => {
  await sc?.stop();
  await cp?.stop();
});

function upgrade(name: string, zone: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'WebserviceUpgrade',
    metadata: { name },
    spec: {
      zoneRef: { name: zone },
      target: { osName: 'ubuntu', osVersion: '18.04' },
      minReadySeconds: 1,
      ...extra,
    },
  };
}

type WsuStatus = {
  phase?: string;
  progress?: string;
  currentNode?: string;
  nodes?: Array<{
    name: string;
    address?: string;
    phase: string;
    holdsVip?: boolean;
    oldHostKey?: string;
    newHostKey?: string;
    rollbackAvailable?: boolean;
    startedAt?: string;
    finishedAt?: string;
    message?: string;
  }>;
};
const wsuStatus = (r: Resource) => r.status as unknown as WsuStatus & Resource['status'];

/** Webservice nodes of a zone that were down at some instant, from the availability timeline. */
function maxDownAtOnce(events: TimelineEvent[], hosts: string[]): number {
  const down = new Set<string>();
  let max = 0;
  for (const e of [...events].sort((a, b) => a.time - b.time)) {
    if (!hosts.includes(e.host)) continue;
    if (e.event === 'down') down.add(e.host);
    if (e.event === 'up') down.delete(e.host);
    max = Math.max(max, down.size);
  }
  return max;
}

function poweroffOrder(events: TimelineEvent[], hosts: string[]): string[] {
  return events.filter((e) => e.event === 'poweroff' && hosts.includes(e.host)).map((e) => e.host);
}

async function waitReady(name: string, timeoutMs = 150_000): Promise<Resource> {
  return sc.waitCondition('webserviceupgrade', name, 'Ready', 'True', timeoutMs);
}

describe('WebserviceUpgrade (R5)', () => {
  it('rebuilds the global zone (2 nodes): one at a time, VIP holder last, floating IP, global packages; a NodePool waits on the lock', async () => {
    const t0 = Date.now();
    await sc.apply(upgrade('pek3a-bionic', 'pek3a', { floatingIP: `127.77.${SUBNET}.100` }));
    // Once the rollout holds the zone, a scale-out of the same zone waits for it.
    await waitUntil(
      async () => {
        const z = await sc.get('zone', 'pek3a');
        return (z.status?.lock as { operation?: string } | undefined)?.operation === 'Upgrade';
      },
      60_000,
      'upgrade holds the zone lock',
    );
    const [s1, s2] = sc.sim.spare.map((h) => h.address);
    await sc.apply({
      apiVersion: 'ops.pitrix.io/v1alpha1',
      kind: 'NodePool',
      metadata: { name: 'hyper-more' },
      spec: { zoneRef: { name: 'pek3a' }, role: 'hyper', nodes: [{ address: s1 }, { address: s2 }] },
    });
    await sc.waitCondition('nodepool', 'hyper-more', 'Progressing', 'False', 60_000, 'WaitingForZoneLock');

    const done = await waitReady('pek3a-bionic');
    const st = wsuStatus(done);
    expect(st.phase).toBe('Succeeded');
    expect(st.progress).toBe('2/2');
    // The VIP holder of the scenario (webservice-a2) was planned last and rebuilt last.
    expect(st.nodes!.map((n) => [n.name, n.holdsVip, n.phase])).toEqual([
      ['webservice-a1', false, 'Succeeded'],
      ['webservice-a2', true, 'Succeeded'],
    ]);
    for (const n of st.nodes!) {
      expect(n.oldHostKey).toMatch(/^SHA256:/);
      expect(n.newHostKey).toBe(sc.sim.host(n.name).hostKeyFingerprint);
      expect(n.newHostKey).not.toBe(n.oldHostKey);
      expect(n.rollbackAvailable).toBe(true);
    }
    const timeline = (await sc.sim.timeline()).filter((e) => e.time >= t0);
    const ws = ['webservice-a1', 'webservice-a2'];
    expect(maxDownAtOnce(timeline, ws)).toBe(1);
    expect(poweroffOrder(timeline, ws)).toEqual(['webservice-a1', 'webservice-a2']);
    for (const id of ws) {
      const s = await sc.sim.state(id);
      expect(s.facts.os.version).toBe('18.04');
      expect(s.vm?.physicalHost).toBe(id === 'webservice-a1' ? 'hyper-a2' : 'hyper-a1');
      // Global zone packages: global-webservice + global-website, no sub zone package.
      expect(Object.keys(s.packages)).toEqual(
        expect.arrayContaining(['pitrix-ks-webservice', 'pitrix-ks-api', 'pitrix-ks-console']),
      );
      expect(s.packages['pitrix-ks-zone-webservice']).toBeUndefined();
      expect(Object.values(s.supervisor.programs).every((p) => p.state === 'RUNNING')).toBe(true);
      expect(s.services.keepalived).toBe('running');
      // Backups on the firstbox.
      const bak = `root/${id}-bak/pek3a-bionic`;
      expect(await sc.sim.readState('firstbox', `${bak}/local_config.yaml`)).toContain('site_name');
      expect(await sc.sim.readState('firstbox', `${bak}/static/images/logo.png`)).toContain('logo');
      expect(await sc.sim.readState('firstbox', `${bak}/rc.local`)).toContain('exit 0');
    }
    expect(await sc.sim.readState('firstbox', 'pitrix/conf/variables/variables.yaml')).toContain(
      `webservice_floating_ip: 127.77.${SUBNET}.100`,
    );
    expect(await sc.sim.readState('firstbox', 'pitrix/conf/variables/keys/.console_key_id')).toBe(
      'PEK3ACONSOLEKEY',
    );
    // Re-pin events name old and new fingerprints.
    const events = await cp.kubectl(['get', 'events', '-n', sc.ns, '-o', 'json']);
    const repins = (JSON.parse(events.stdout).items as Array<{ reason: string; message: string }>).filter(
      (e) => e.reason === 'HostKeyRepinned',
    );
    expect(repins.length).toBeGreaterThanOrEqual(2);
    // The scale-out ran after the rollout released the zone.
    await sc.waitCondition('nodepool', 'hyper-more', 'Ready', 'True', 120_000);
  }, 300_000);
});
