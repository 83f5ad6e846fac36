/**
 * Fail closed, as a user meets it (R4 on a fusion zone, real control plane, sshd, simulator):
 * a later scale-out adds the new node and not the old one, with Ready only once the installer lists
 * both; a job that vanished stops the plan until a human's retry-step bound to the plan hash, which
 * acts once and disappears; two pools contending for one zone never execute at the same time.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { waitUntil } from '../helpers/operator.js';
import { applyZone, condition, type Resource, type Scenario, startScenario } from '../helpers/scenario.js';

const execFileP = promisify(execFile);
let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
});
afterAll(async () => {
  await cp?.stop();
});

const pool = (name: string, addresses: string[]) => ({
  apiVersion: 'ops.pitrix.io/v1alpha1',
  kind: 'NodePool',
  metadata: { name },
  spec: { zoneRef: { name: 'sh1a' }, role: 'hyper', nodes: addresses.map((address) => ({ address })) },
});

async function fusion(fn: (sc: Scenario) => Promise<void>, timeScale = 1) {
  const sc = await startScenario(cp, 'fusion.yaml', { timeScale, subnet: 71 });
  try {
    await applyZone(sc, 'sh1a', 'sh1a', { mode: 'fusion' });
    await sc.waitCondition('zone', 'sh1a', 'Ready', 'True', 90_000);
    await fn(sc);
  } finally {
    await sc.stop();
  }
}

async function jobKinds(
  sc: Scenario,
): Promise<Array<{ kind: string; startedAt: number; finishedAt?: number }>> {
  const st = await sc.sim.state(sc.sim.firstbox.id);
  return Object.values(st.firstbox?.jobs ?? {}) as Array<{
    kind: string;
    startedAt: number;
    finishedAt?: number;
  }>;
}

async function events(sc: Scenario, name: string): Promise<string[]> {
  const r = await cp.kubectl([
    'get',
    'events',
    '-n',
    sc.ns,
    '--field-selector',
    `involvedObject.name=${name}`,
    '-o',
    'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}',
  ]);
  return r.stdout.split('\n').filter(Boolean);
}

describe('fail closed (R4, fusion zone)', () => {
  it('a later spec change adds the new node, never re-adds the old one, and is Ready only when both are deployed', async () => {
    await fusion(async (sc) => {
      const [a, b] = sc.sim.spare.map((h) => h.address) as [string, string];
      await sc.apply(pool('grow', [a]));
      await waitUntil(
        async () => (await sc.get('nodepool', 'grow')).status?.nodesReady === '1/1',
        150_000,
        '1/1',
      );
      const first = await sc.waitCondition('nodepool', 'grow', 'Ready', 'True', 60_000);
      await sc.apply(pool('grow', [a, b]));
      // From the edit on, Ready=True must mean 2/2.
      let wrongReady = '';
      await waitUntil(
        async () => {
          const p = await sc.get('nodepool', 'grow');
          const ready = condition(p, 'Ready');
          // A condition computed from the edited spec (not the one left from before the edit).
          const current =
            p.metadata.generation > first.metadata.generation &&
            ready?.observedGeneration === p.metadata.generation;
          if (!current || ready?.status !== 'True') return false;
          if (p.status?.nodesReady !== '2/2') wrongReady = `Ready=True with ${p.status?.nodesReady}`;
          return true;
        },
        150_000,
        'Ready after the second node',
      );
      expect(wrongReady).toBe('');
      const p = await sc.get('nodepool', 'grow');
      expect(p.status?.nodesReady).toBe('2/2');
      const js = await jobKinds(sc);
      expect(js.filter((j) => j.kind === 'scale-qingcloud')).toHaveLength(2);
      const adds = (await sc.sim.commandLog(sc.sim.firstbox.id)).filter((e) =>
        /add-nodes\.py -I/.test(e.command),
      );
      expect(adds).toHaveLength(2);
      const st = await sc.sim.state(sc.sim.firstbox.id);
      for (const ip of [a, b]) expect(st.firstbox!.nodes.filter((n) => n.mgmt_ip === ip)).toHaveLength(1);
    });
  });

  it('a job that vanished stops the plan (JobLost); a stale retry-step does nothing; the right one acts once and is removed', async () => {
    await fusion(async (sc) => {
      const [a] = sc.sim.spare.map((h) => h.address) as [string];
      await sc.apply(pool('lost', [a]));
      await waitUntil(
        async () =>
          (await sc.get('nodepool', 'lost')).status?.plan?.steps?.find((s) => s.id === 'scaleQingcloud')
            ?.state === 'Running',
        120_000,
        'scaleQingcloud Running',
      );
      await new Promise((r) => setTimeout(r, 1500));
      // The installer's job dies without a trace, as after a firstbox reboot.
      await execFileP('pkill', [
        '-KILL',
        '-f',
        'scale-qingcloud.py -z sh1a -I /pitrix/conf/operator/sh1a-lost.list',
      ]).catch(() => undefined);
      const stopped = await sc.waitCondition('nodepool', 'lost', 'Degraded', 'True', 60_000, 'JobLost');
      const hash = stopped.status!.plan!.hash;
      expect(condition(stopped, 'Degraded')!.message).toContain(`retry-step=${hash}/scaleQingcloud`);
      await new Promise((r) => setTimeout(r, 8000));
      expect((await jobKinds(sc)).filter((j) => j.kind === 'scale-qingcloud')).toHaveLength(1);

      const annotate = (v: string) =>
        cp.kubectl([
          'annotate',
          'nodepool',
          'lost',
          '-n',
          sc.ns,
          '--overwrite',
          `ops.pitrix.io/retry-step=${v}`,
        ]);
      await annotate('0123456789abcdef/scaleQingcloud');
      const refused = await sc.waitCondition('nodepool', 'lost', 'StepRequest', 'False', 30_000, 'Refused');
      expect(condition(refused, 'StepRequest')!.message).toContain(hash);
      expect((await jobKinds(sc)).filter((j) => j.kind === 'scale-qingcloud')).toHaveLength(1);

      await annotate(`${hash}/scaleQingcloud`);
      const done: Resource = await sc.waitCondition('nodepool', 'lost', 'Ready', 'True', 150_000);
      expect(done.metadata.annotations?.['ops.pitrix.io/retry-step']).toBeUndefined();
      expect((await jobKinds(sc)).filter((j) => j.kind === 'scale-qingcloud')).toHaveLength(2);
      expect((await events(sc, 'lost')).some((e) => e.startsWith('StepRetryRequested'))).toBe(true);
    }, 4);
  });

  it('two pools contending for one zone never execute at the same time; the loser waits on the zone lock', async () => {
    await fusion(async (sc) => {
      const [a, b] = sc.sim.spare.map((h) => h.address) as [string, string];
      await Promise.all([sc.apply(pool('left', [a])), sc.apply(pool('right', [b]))]);
      let waited = false;
      await waitUntil(
        async () => {
          const ps = await Promise.all([sc.get('nodepool', 'left'), sc.get('nodepool', 'right')]);
          if (ps.some((p) => condition(p, 'Progressing')?.reason === 'WaitingForZoneLock')) waited = true;
          return ps.every((p) => condition(p, 'Ready')?.status === 'True' && p.status?.nodesReady === '1/1');
        },
        240_000,
        'both pools Ready',
      );
      expect(waited).toBe(true);
      const span = async (name: string) => {
        const steps = (await sc.get('nodepool', name)).status!.plan!.steps! as Array<{
          startedAt?: string;
          finishedAt?: string;
        }>;
        const starts = steps.map((s) => Date.parse(s.startedAt ?? '')).filter((t) => !Number.isNaN(t));
        const ends = steps.map((s) => Date.parse(s.finishedAt ?? '')).filter((t) => !Number.isNaN(t));
        return [Math.min(...starts), Math.max(...ends)] as const;
      };
      const [l, r] = [await span('left'), await span('right')];
      expect(l[1] <= r[0] || r[1] <= l[0], `left ${l} and right ${r} overlap`).toBe(true);
    });
  });
});
