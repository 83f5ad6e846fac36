/**
 * Leader failover and later scale-outs, as a user running two replicas meets them (R4 on a fusion
 * zone, real control plane, real sshd, the simulator). Two operators elect a leader on a Lease with
 * short leases; the leader is SIGKILLed while configQingcloud runs, the next one while
 * scaleQingcloud runs and a third during updateHyperMirror (after the main effect): the standby
 * finishes the SAME plan, every step ran exactly once, and Ready=True comes only after the last step. Then a Manual scale-out: approved by its hash, it
 * finishes; a spec change adds a node, and the new plan waits for its own hash (the old approval
 * does not carry over), adds only the new node, and is Ready only once the installer lists both.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ControlPlane, startControlPlane, testNamespace } from '../../hack/controlplane.js';
import { type Platform, startPlatform } from '../../hack/sim/platform.js';
import { jobRecords, overlapping } from '../helpers/jobs.js';
import { type OperatorProcess, startOperator, waitUntil } from '../helpers/operator.js';
import { condition, type Resource, repoRoot, zoneManifests } from '../helpers/scenario.js';

const SUBNET = 161;
const LEASE = 'pitrix-operator-leader';

/** examples/sim/fusion.yaml with one more spare hyper: one for the failover, two for the Manual case. */
function scenario(): object {
  const s = parse(readFileSync(resolve(repoRoot, 'examples/sim/fusion.yaml'), 'utf8'));
  const third = s.spare.at(-1);
  return { ...s, spare: [...s.spare, { ...third, id: 'hyper4', address: 34 }] };
}

let cp: ControlPlane;
let sim: Platform;
let ns: string;
let leaseNs: string;
const ops: OperatorProcess[] = [];

async function startReplica(): Promise<OperatorProcess> {
  const op = await startOperator(cp.kubeconfig, [
    '--namespace',
    ns,
    '--leader-elect',
    '--leader-election-namespace',
    leaseNs,
    '--lease-duration',
    '4s',
    '--renew-deadline',
    '3s',
    '--retry-period',
    '1s',
  ]);
  ops.push(op);
  return op;
}

const apply = (obj: object) => cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(obj) });
const get = async (kind: string, name: string) =>
  JSON.parse((await cp.kubectl(['get', kind, name, '-n', ns, '-o', 'json'])).stdout) as Resource;

async function leaseHolder(): Promise<string | undefined> {
  const r = await cp.kubectl(['get', 'lease', LEASE, '-n', leaseNs, '-o', 'json'], { allowFailure: true });
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity || undefined;
}

/** The running replica whose identity (logged when it became leader) holds the Lease. */
async function leader(): Promise<OperatorProcess> {
  let found: OperatorProcess | undefined;
  await waitUntil(
    async () => {
      const holder = await leaseHolder();
      found = holder
        ? ops.find(
            (op) =>
              op.child.exitCode === null &&
              op.child.signalCode === null &&
              op.logs.some((l) => l.includes('became leader') && l.includes(holder)),
          )
        : undefined;
      return !!found;
    },
    30_000,
    'a running replica holding the Lease',
  );
  return found!;
}

/** A timeout with what a user would look at next: the conditions and each replica's last lines. */
const diagnosed = (e: unknown, p: Resource | undefined) =>
  new Error(
    `${e}\nconditions: ${JSON.stringify(p?.status?.conditions)}\n${ops.map((o) => o.logs.slice(-10).join('\n')).join('\n---\n')}`,
  );

const pool = (name: string, addresses: string[], approval: 'Automatic' | 'Manual' = 'Automatic') => ({
  apiVersion: 'ops.pitrix.io/v1alpha1',
  kind: 'NodePool',
  metadata: { name },
  spec: {
    zoneRef: { name: 'sh1a' },
    role: 'hyper',
    approval,
    nodes: addresses.map((address) => ({ address })),
  },
});

type Step = NonNullable<NonNullable<NonNullable<Resource['status']>['plan']>['steps']>[number] & {
  command?: string;
  startedAt?: string;
  finishedAt?: string;
};
const stepsOf = (p: Resource) => (p.status?.plan?.steps ?? []) as Step[];
const stepState = async (name: string, id: string) =>
  stepsOf(await get('nodepool', name)).find((s) => s.id === id)?.state;

/** How many times each step's own command reached a shell (checks are other commands). */
async function runsPerStep(steps: Step[]): Promise<Record<string, number>> {
  const log = await sim.commandLog();
  return Object.fromEntries(steps.map((s) => [s.id, log.filter((e) => e.command === s.command).length]));
}

/**
 * Watches a pool until stopped, keeping every plan hash it saw and every moment Ready was True
 * while the journal was unfinished or the platform did not show the spec's nodes (a violation).
 */
function watchPool(name: string, nodes: string[], sinceGeneration = 0) {
  const hashes = new Set<string>();
  const violations: string[] = [];
  let firstReady: number | undefined;
  let stop = false;
  const done = (async () => {
    while (!stop) {
      try {
        const p = await get('nodepool', name);
        const at = Date.now();
        if (p.status?.plan?.hash) hashes.add(p.status.plan.hash);
        const ready = condition(p, 'Ready');
        const current = ready?.observedGeneration === p.metadata.generation;
        if (current && ready?.status === 'True' && p.metadata.generation >= sinceGeneration) {
          firstReady ??= at;
          const unfinished = stepsOf(p).filter((s) => s.state !== 'Succeeded' && s.state !== 'Skipped');
          if (unfinished.length)
            violations.push(`Ready=True with ${unfinished.map((s) => `${s.id} ${s.state}`).join(', ')}`);
          const fb = (await sim.state(sim.firstbox.id)).firstbox!;
          for (const ip of nodes)
            if (!fb.nodes.some((n) => n.mgmt_ip === ip && n.status === 'deployed'))
              violations.push(`Ready=True while the installer does not list ${ip} as deployed`);
        }
      } catch {
        // The API server is there throughout; a failed read is retried on the next poll.
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    hashes,
    violations,
    firstReady: () => firstReady,
    async stop() {
      stop = true;
      await done;
    },
  };
}

beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
  ns = await testNamespace(cp, 'fo');
  leaseNs = await testNamespace(cp, 'fo-lease');
  sim = await startPlatform({ scenario: scenario(), timeScale: 1, subnet: SUBNET });
  await Promise.all([startReplica(), startReplica()]);
  for (const m of zoneManifests(sim, 'sh1a', 'sh1a', { mode: 'fusion' })) await apply(m);
  await waitUntil(
    async () => condition(await get('zone', 'sh1a'), 'Ready')?.status === 'True',
    90_000,
    'Zone Ready',
  );
});
afterAll(async () => {
  await Promise.all(ops.map((op) => op.stop()));
  await sim?.stop();
  await cp?.stop();
});

describe('leader failover (two replicas, 4 s leases)', () => {
  it('the leader SIGKILLed during configQingcloud, scaleQingcloud and updateHyperMirror: the standby finishes the same plan, each step once, Ready only after the last', async () => {
    const [a] = sim.spare.map((h) => h.address) as [string];
    await apply(pool('failover', [a]));
    const watch = watchPool('failover', [a]);
    const kills: Array<{ step: string; at: number; holder: string }> = [];
    // A job with a record of its own, or a tool the simulator logs runs of (update_hyper_mirror.sh).
    const underWay = async (job: string) =>
      job.endsWith('.sh')
        ? (await sim.toolRuns(sim.firstbox.id)).some((r) => r.tool === job && r.finishedAt === undefined)
        : (await jobRecords(sim)).some((j) => j.kind === job && j.finishedAt === undefined);
    const killDuring = async (step: string, job: string) => {
      const op = await leader();
      const holder = (await leaseHolder())!;
      // The job is under way on the firstbox (its wrapper started it), not merely journaled.
      await waitUntil(async () => underWay(job), 120_000, `${job} running on the firstbox`);
      expect(await stepState('failover', step)).toBe('Running');
      kills.push({ step, at: Date.now(), holder });
      await op.stop('SIGKILL');
    };
    try {
      // The long steps run 3x slower than the simulator's clock (the steps before at its own pace),
      // so that a kill lands while each runs.
      await waitUntil(
        async () => (await stepState('failover', 'collectNodes')) === 'Succeeded',
        120_000,
        'collectNodes Succeeded',
      );
      await sim.setTimeScale(3);
      await killDuring('configQingcloud', 'config-qingcloud');
      // A Deployment brings the killed replica back as a standby (started alongside, so that a slow
      // start cannot let scaleQingcloud finish before the second kill).
      const standby = startReplica();
      await killDuring('scaleQingcloud', 'scale-qingcloud');
      await standby;
      // And once more during a step after the main effect (the node is deployed by now): the
      // refresh of the hyper mirror, which restarts compute_server on the nodes.
      const third = startReplica();
      await killDuring('updateHyperMirror', 'update_hyper_mirror.sh');
      await third;
      await waitUntil(
        async () => (await stepState('failover', 'updateHyperMirror')) === 'Succeeded',
        120_000,
        'updateHyperMirror Succeeded',
      );
      await sim.setTimeScale(1);
      await waitUntil(
        async () => condition(await get('nodepool', 'failover'), 'Ready')?.status === 'True',
        150_000,
        'Ready after the failovers',
      ).catch(async (e) => {
        throw diagnosed(e, await get('nodepool', 'failover'));
      });
      // The watcher polls on its own clock: let it see the Ready this loop saw before it stops.
      await waitUntil(async () => watch.firstReady() !== undefined, 10_000, 'the watcher saw Ready');
    } finally {
      await watch.stop();
    }
    const p = await get('nodepool', 'failover');
    const steps = stepsOf(p);
    const hash = p.status!.plan!.hash;
    const finished = Math.max(...steps.map((s) => Date.parse(s.finishedAt ?? '')));
    const runs = await runsPerStep(steps);
    const js = await jobRecords(sim);
    const byKind = (k: string) => js.filter((j) => j.kind === k);
    const holders = new Set(kills.map((k) => k.holder));
    console.log(
      `failover: plan ${hash}, ${steps.length} steps, leaders killed ${kills.map((k) => `during ${k.step}`).join(', ')}; ` +
        `Ready ${((watch.firstReady() ?? 0) - finished) / 1000}s after the last step; runs ${JSON.stringify(runs)}`,
    );

    const takeovers: string[] = [];
    // Three different leaders were killed, each while its step's job was running on the firstbox.
    expect(holders.size).toBe(3);
    expect(await leaseHolder()).not.toBe(kills[2]!.holder);
    const mirror = (await sim.toolRuns(sim.firstbox.id)).filter((r) => r.tool === 'update_hyper_mirror.sh');
    expect(mirror, 'update_hyper_mirror.sh started once').toHaveLength(1);
    expect(mirror[0]!.startedAt).toBeLessThan(kills[2]!.at);
    expect(
      mirror[0]!.finishedAt ?? Number.POSITIVE_INFINITY,
      'the mirror refresh ran on past the kill',
    ).toBeGreaterThan(kills[2]!.at);
    for (const [kind, kill] of [
      ['config-qingcloud', kills[0]!],
      ['scale-qingcloud', kills[1]!],
    ] as const) {
      expect(byKind(kind), kind).toHaveLength(1);
      const job = byKind(kind)[0]!;
      expect(job.startedAt, `${kind} started before the kill`).toBeLessThan(kill.at);
      expect(job.finishedAt ?? Number.POSITIVE_INFINITY, `${kind} ran on past the kill`).toBeGreaterThan(
        kill.at,
      );
      // The standby took it up within a lease, a retry period and a check's requeue, not after a backoff.
      const step = steps.find(
        (s) => s.id === (kind === 'config-qingcloud' ? 'configQingcloud' : 'scaleQingcloud'),
      )!;
      takeovers.push(`${step.id} ${((Date.parse(step.finishedAt!) - job.finishedAt!) / 1000).toFixed(1)}s`);
      expect(
        Date.parse(step.finishedAt!) - job.finishedAt!,
        `${step.id} journaled after its job`,
      ).toBeLessThan(15_000);
    }
    console.log(
      `failover: each killed step journaled Succeeded after its job ended: ${takeovers.join(', ')}`,
    );
    // The same plan to the end: one hash seen throughout, every step Succeeded and run exactly once.
    expect([...watch.hashes]).toEqual([hash]);
    expect(steps.map((s) => `${s.id} ${s.state}`)).toEqual(steps.map((s) => `${s.id} Succeeded`));
    expect(runs).toEqual(Object.fromEntries(steps.map((s) => [s.id, 1])));
    // The steps after the main effect ran too (the plan was not dropped once the node was seen deployed).
    expect(steps.map((s) => s.id)).toEqual(expect.arrayContaining(['scaleQingcloud', 'updateHyperMirror']));
    // Ready=True only after the last step, and it says so from the moment it turned True.
    expect(watch.violations).toEqual([]);
    const readyAt = Date.parse(condition(p, 'Ready')!.lastTransitionTime);
    expect(readyAt).toBeGreaterThanOrEqual(Math.floor(finished / 1000) * 1000);
    expect(watch.firstReady()).toBeGreaterThanOrEqual(finished);
    expect(p.status?.nodesReady).toBe('1/1');
    expect(overlapping(js)).toEqual([]);
  });
});

const APPROVE = 'ops.pitrix.io/approve-plan';
const approve = (name: string, hash: string) =>
  cp.kubectl(['annotate', 'nodepool', name, '-n', ns, '--overwrite', `${APPROVE}=${hash}`]);

/** The plan published for the pool's current generation, waiting for approval of its hash. */
async function awaitingApproval(name: string, generation: number): Promise<Resource> {
  let p: Resource | undefined;
  await waitUntil(
    async () => {
      p = await get('nodepool', name);
      const c = condition(p, 'Progressing');
      return (
        p.metadata.generation >= generation &&
        c?.observedGeneration === p.metadata.generation &&
        c.reason === 'AwaitingApproval'
      );
    },
    60_000,
    `${name} awaiting approval (generation ${generation})`,
  ).catch((e) => {
    throw diagnosed(e, p);
  });
  return p!;
}

async function readyAt(name: string, generation: number, timeoutMs: number): Promise<Resource> {
  let p: Resource | undefined;
  await waitUntil(
    async () => {
      p = await get('nodepool', name);
      const c = condition(p, 'Ready');
      return (
        p.metadata.generation >= generation &&
        c?.observedGeneration === p.metadata.generation &&
        c.status === 'True'
      );
    },
    timeoutMs,
    `${name} Ready (generation ${generation})`,
  ).catch((e) => {
    throw diagnosed(e, p);
  });
  return p!;
}

describe('a completed Manual scale-out, then a spec change that adds a node', () => {
  it('the new plan waits for approval of its own hash, adds only the new node, and is Ready only when the installer lists both', async () => {
    // Nothing is killed here: a fast simulator clock keeps the file inside its budget.
    await sim.setTimeScale(0.3);
    const [, b, c] = sim.spare.map((h) => h.address) as [string, string, string];
    const addNodes = async () =>
      (await sim.commandLog(sim.firstbox.id)).filter((e) =>
        /add-nodes\.py -I \S+-grow\.list/.test(e.command),
      );
    const scaleJobsBefore = (await jobRecords(sim)).filter((j) => j.kind === 'scale-qingcloud').length;

    await apply(pool('grow', [b], 'Manual'));
    const first = await awaitingApproval('grow', 1);
    const h1 = first.status!.plan!.hash;
    expect(await addNodes()).toEqual([]);
    await approve('grow', h1);
    const done1 = await readyAt('grow', first.metadata.generation, 90_000);
    expect(done1.status?.nodesReady).toBe('1/1');
    expect(done1.status?.plan?.hash).toBe(h1);

    const gen2 = done1.metadata.generation + 1;
    const watch = watchPool('grow', [b, c], gen2);
    try {
      await apply(pool('grow', [b, c], 'Manual'));
      const second = await awaitingApproval('grow', gen2);
      const h2 = second.status!.plan!.hash;
      expect(h2).not.toBe(h1);
      // The approval of the first plan is still on the object and does not carry over: nothing of
      // the new plan runs while it waits.
      expect(second.metadata.annotations?.[APPROVE]).toBe(h1);
      await new Promise((r) => setTimeout(r, 2000));
      const waiting = await get('nodepool', 'grow');
      expect(waiting.status?.plan?.hash).toBe(h2);
      expect(condition(waiting, 'Progressing')?.reason).toBe('AwaitingApproval');
      expect(condition(waiting, 'Ready')?.status).toBe('False');
      expect(stepsOf(waiting).every((s) => s.state === 'Pending')).toBe(true);
      expect(await addNodes()).toHaveLength(1);

      await approve('grow', h2);
      const done2 = await readyAt('grow', gen2, 120_000);
      expect(done2.status?.plan?.hash).toBe(h2);
      expect(done2.status?.nodesReady).toBe('2/2');
      expect(stepsOf(done2).every((s) => s.state === 'Succeeded')).toBe(true);
      // The second plan's node list names the new node only; each machine was added exactly once.
      const list = stepsOf(done2).find((s) => s.id === 'writeNodeList')!.command!;
      expect(list).toContain(c);
      expect(list).not.toContain(`${b}\n`);
      expect(await addNodes()).toHaveLength(2);
      const fb = (await sim.state(sim.firstbox.id)).firstbox!;
      for (const ip of [b, c]) expect(fb.nodes.filter((n) => n.mgmt_ip === ip)).toHaveLength(1);
      expect(
        (await jobRecords(sim)).filter((j) => j.kind === 'scale-qingcloud').length - scaleJobsBefore,
      ).toBe(2);
    } finally {
      await watch.stop();
    }
    console.log(
      `manual: plan ${h1} approved and done; plan ${[...watch.hashes].filter((h) => h !== h1).join(', ')} for the added node; add-nodes.py ran ${(await addNodes()).length}x; Ready=True only with both deployed (${watch.violations.length} violations)`,
    );
    expect(watch.violations).toEqual([]);
    expect([...watch.hashes].filter((h) => h !== h1)).toHaveLength(1);
    expect(overlapping(await jobRecords(sim))).toEqual([]);
  });
});
