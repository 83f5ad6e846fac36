/**
 * The SIGKILL soak, once for every kind (issue 11): while one plan runs, the operator is killed at
 * seeded random moments (inside or just after a step) and restarted, until the resource is Ready.
 * What it holds the operator to, checked against the journal and the simulator's own records:
 * - no step that had Succeeded at a kill is started again (its attempts and command unchanged),
 *   and the plan is the same plan after every restart (its hash unchanged);
 * - the firstbox ran no journaled mutating command more often than the final journal's attempts say;
 * - no two of the zone's long installer jobs ran at once (the simulator's job records).
 */
import { expect } from 'vitest';
import { jobRecords, overlapping } from './jobs.js';
import { waitUntil } from './operator.js';
import { condition, type Resource, type Scenario } from './scenario.js';

/** Commands of the runbooks that change the platform (R1, R3, R4, R5). */
export const MUTATING = [
  /add-nodes\.py/,
  /collect-nodes\.py -I/,
  /config-qingcloud\.py/,
  /scale-qingcloud/,
  /erase_data_disks\.sh/,
  /modify-node-attributes\.py/,
  /update\.sh /,
  /build_global_conf\.sh/,
  /deploy-qingcloud-component\.py/,
  /launch_vms\.sh/,
  /install_nodes\.sh/,
  /migrate_for_tag_server\.py -z/,
];

type Journaled = { id: string; state: string; host?: string; command?: string; attempts?: number };

export interface SoakFigures {
  kind: string;
  name: string;
  kills: number;
  steps: number;
  finishedStepsRerun: number;
  overlappingJobs: number;
  ms: number;
}

/** Seeded, so a failure is replayed with PITRIX_SOAK_SEED. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const stepsOf = (r: Resource | undefined) => (r?.status?.plan?.steps ?? []) as Journaled[];

/**
 * Kills the operator up to `kills` times while `kind/name` runs its plan (which the caller has just
 * applied), then waits for Ready=True and checks the run as the header says.
 */
export async function soakKills(
  sc: Scenario,
  opts: { kind: string; name: string; kills: number; rand: () => number; readyTimeoutMs: number },
): Promise<SoakFigures> {
  const { kind, name, rand } = opts;
  const t0 = Date.now();
  const snapshots: Resource[] = [];
  let hash: string | undefined;
  let r: Resource | undefined;
  for (let k = 0; k < opts.kills; k++) {
    await waitUntil(
      async () => {
        r = await sc.get(kind, name);
        return stepsOf(r).length > 0 || condition(r!, 'Ready')?.status === 'True';
      },
      120_000,
      `${kind}/${name}: plan published`,
    );
    const pending = stepsOf(r).filter((s) => s.state === 'Pending');
    if (pending.length === 0 || (r && condition(r, 'Ready')?.status === 'True')) break;
    hash ??= r!.status!.plan!.hash;
    const victim = pending[Math.floor(rand() * pending.length)]!.id;
    await waitUntil(
      async () => {
        r = await sc.get(kind, name);
        const s = stepsOf(r).find((x) => x.id === victim);
        return s?.state !== 'Pending' || r.status?.plan?.hash !== hash;
      },
      opts.readyTimeoutMs,
      `${kind}/${name}: step ${victim} started`,
    );
    await new Promise((res) => setTimeout(res, Math.floor(rand() * 800)));
    await sc.op.stop('SIGKILL');
    snapshots.push(await sc.get(kind, name));
    await sc.restartOperator();
  }
  const end = await sc.waitCondition(kind, name, 'Ready', 'True', opts.readyTimeoutMs);
  const final = stepsOf(end);
  const label = `${kind}/${name}`;

  let rerun = 0;
  // When a plan was replaced, the Events say which steps it abandoned.
  const superseded = snapshots.some((x) => x.status?.plan?.hash !== end.status?.plan?.hash)
    ? (await sc.events('PlanSuperseded')).join('; ')
    : '';
  for (const snap of snapshots) {
    const shown = (x: Resource) =>
      stepsOf(x)
        .map((e) => `${e.id}:${e.state}`)
        .join(' ');
    expect(
      snap.status?.plan?.hash,
      `${label}: the plan changed across a restart (at the kill: ${shown(snap)}; at the end: ${shown(end)}; ${superseded})`,
    ).toBe(end.status?.plan?.hash);
    const before = new Map(stepsOf(snap).map((s) => [s.id, s]));
    for (const s of final) {
      const b = before.get(s.id);
      if (b?.state !== 'Succeeded') continue;
      if ((s.attempts ?? 0) !== (b.attempts ?? 0) || s.command !== b.command) rerun++;
      expect(s.attempts ?? 0, `${label}: ${s.id} ran again after it had succeeded`).toBe(b.attempts ?? 0);
    }
  }

  const log = await sc.sim.commandLog(sc.sim.firstbox.id);
  const counts = new Map<string, number>();
  for (const e of log) counts.set(e.command, (counts.get(e.command) ?? 0) + 1);
  const allowed = new Map<string, number>();
  const mutating = (c: string) => MUTATING.some((re) => re.test(c));
  for (const s of final.filter((x) => x.host === 'firstbox' && x.command && mutating(x.command)))
    allowed.set(s.command!, (allowed.get(s.command!) ?? 0) + Math.max(s.attempts ?? 0, 1));
  for (const [cmd, n] of allowed)
    expect(
      counts.get(cmd) ?? 0,
      `${label}: ran more often than journaled: ${cmd.slice(0, 160)}`,
    ).toBeLessThanOrEqual(n);

  const overlaps = overlapping(await jobRecords(sc.sim));
  expect(overlaps, `${label}: installer jobs ran at the same time`).toEqual([]);

  return {
    kind,
    name,
    kills: snapshots.length,
    steps: final.length,
    finishedStepsRerun: rerun,
    overlappingJobs: overlaps.length,
    ms: Date.now() - t0,
  };
}
