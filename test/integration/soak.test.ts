/**
 * The seeded SIGKILL soak across runbooks (issue 11): a NodePool scale-out (R4), a TagServer with
 * its tag migration (R1) and a Component deploy (R3), each killed at random moments until it is
 * Ready (test/helpers/soak.ts says what is checked); the WebserviceUpgrade (R5) soak is in
 * webserviceupgrade.test.ts. Long: only with PITRIX_SOAK=1 (PITRIX_SOAK_KILLS kills per run,
 * default 6; PITRIX_SOAK_RUNS runs per kind, default 2; PITRIX_SOAK_SEED). The default `npm test`
 * has the short versions: faults*.test.ts (SIGKILL per runbook) and the WSU file's 2-kill loop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { applyZone, nodeCredentialsSecret, type Scenario, startScenario } from '../helpers/scenario.js';
import { mulberry32, type SoakFigures, soakKills } from '../helpers/soak.js';

const on = process.env.PITRIX_SOAK === '1';
const KILLS = Number(process.env.PITRIX_SOAK_KILLS ?? 6);
const RUNS = Number(process.env.PITRIX_SOAK_RUNS ?? 2);
const rand = mulberry32(Number(process.env.PITRIX_SOAK_SEED ?? 11));
const figures: SoakFigures[] = [];

describe.skipIf(!on)('SIGKILL soak (PITRIX_SOAK=1)', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ log: (m) => console.log(m) });
  });
  afterAll(async () => {
    for (const f of figures)
      console.log(
        `soak ${f.kind.padEnd(10)} ${f.name.padEnd(12)} kills ${String(f.kills).padStart(2)}  steps ${String(f.steps).padStart(3)}  finished steps re-run ${f.finishedStepsRerun}  overlapping jobs ${f.overlappingJobs}  ${(f.ms / 1000).toFixed(0)} s`,
      );
    const kills = figures.reduce((n, f) => n + f.kills, 0);
    console.log(
      `soak total: ${figures.length} runs, ${kills} kills, ${figures.reduce((n, f) => n + f.finishedStepsRerun, 0)} finished steps re-run, ${figures.reduce((n, f) => n + f.overlappingJobs, 0)} overlapping jobs`,
    );
    await cp?.stop();
  });

  async function run(file: string, subnet: number, body: (sc: Scenario) => Promise<SoakFigures>) {
    const sc = await startScenario(cp, file, { subnet, timeScale: 1 });
    try {
      figures.push(await body(sc));
    } finally {
      await sc.stop();
    }
  }

  it('NodePool scale-out (R4)', async () => {
    for (let i = 0; i < RUNS; i++)
      await run('standard.yaml', 181, async (sc) => {
        await applyZone(sc, 'pek3a', 'pek3a');
        await sc.waitCondition('zone', 'pek3a', 'Ready', 'True', 90_000);
        await sc.apply(nodeCredentialsSecret);
        const [a, b] = sc.sim.spare.map((h) => h.address);
        await sc.apply({
          apiVersion: 'ops.pitrix.io/v1alpha1',
          kind: 'NodePool',
          metadata: { name: `soak-${i}` },
          spec: {
            zoneRef: { name: 'pek3a' },
            role: 'hyper',
            nodes: [{ address: a }, { address: b }],
            nodeCredentialsSecretRef: { name: 'node-creds' },
            eraseDataDisks: { devices: ['sdb'], confirm: `soak-${i}` },
          },
        });
        return soakKills(sc, {
          kind: 'nodepool',
          name: `soak-${i}`,
          kills: KILLS,
          rand,
          readyTimeoutMs: 300_000,
        });
      });
  }, 3_600_000);

  it('TagServer with its migration (R1)', async () => {
    for (let i = 0; i < RUNS; i++)
      await run('region.yaml', 182, async (sc) => {
        await sc.sim.writeFile(sc.sim.firstbox.id, 'pitrix/VERSION', '4.6.2\n');
        await applyZone(sc, 'pek3a', 'pek3a', { global: true, regionId: 'pek3' });
        await applyZone(sc, 'pek3b', 'pek3b', { regionId: 'pek3' });
        await applyZone(sc, 'pek3c', 'pek3c', { regionId: 'pek3' });
        for (const z of ['pek3a', 'pek3b', 'pek3c'])
          await sc.waitCondition('zone', z, 'Ready', 'True', 60_000);
        await sc.apply({
          apiVersion: 'ops.pitrix.io/v1alpha1',
          kind: 'TagServer',
          metadata: { name: 'tags' },
          spec: {
            zoneRef: { name: 'pek3a' },
            enabledZones: ['pek3'],
            migration: { zones: ['pek3a', 'pek3b'] },
          },
        });
        return soakKills(sc, {
          kind: 'tagserver',
          name: 'tags',
          kills: KILLS,
          rand,
          readyTimeoutMs: 300_000,
        });
      });
  }, 3_600_000);

  it('Component deploy, cronus (R3)', async () => {
    for (let i = 0; i < RUNS; i++)
      await run('boss-v1.yaml', 183, async (sc) => {
        await sc.sim.mutate('firstbox', (s) => {
          s.firstbox!.installerVersion = '4.4.3';
        });
        await sc.sim.writeFile('firstbox', 'pitrix/VERSION', '4.4.3\n');
        await applyZone(sc, 'gd2a', 'gd2a', { global: true });
        await sc.waitCondition('zone', 'gd2a', 'Ready', 'True', 60_000);
        await sc.apply({
          apiVersion: 'ops.pitrix.io/v1alpha1',
          kind: 'Component',
          metadata: { name: 'cronus' },
          spec: { zoneRef: { name: 'gd2a' }, name: 'cronus', healthCheckInterval: '2s' },
        });
        return soakKills(sc, {
          kind: 'component',
          name: 'cronus',
          kills: KILLS,
          rand,
          readyTimeoutMs: 300_000,
        });
      });
  }, 3_600_000);

  it('adds up: every run converged with 0 finished steps re-run and 0 overlapping jobs', () => {
    expect(figures.length).toBe(3 * RUNS);
    expect(figures.every((f) => f.finishedStepsRerun === 0 && f.overlappingJobs === 0)).toBe(true);
  });
});
