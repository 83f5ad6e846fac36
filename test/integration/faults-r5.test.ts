/**
 * Fail closed, R5: faults injected around the longest step of a webservice rebuild
 * (install_nodes.sh, under the job guard) on the real control plane, real sshd and the simulator.
 * Each case rebuilds webservice-a1 of the global zone pek3a onto the other OS of the previous case.
 * For every case: each of the rebuild's long tools (launch_vms.sh -f, install_nodes.sh, update.sh)
 * started at most once, no two of the firstbox's tool runs overlapped (the simulator's run log has
 * start and end times), at most one webservice node was down at once, and the upgrade ends
 * converged — after the stop that names what was unknown, where there is one. One line per case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane } from '../../hack/controlplane.js';
import { overlappingRuns } from '../../hack/sim/runs.js';
import type { Fault, ToolRun } from '../../hack/sim/types.js';
import { maxDownAtOnce } from '../helpers/availability.js';
import { waitUntil } from '../helpers/operator.js';
import { applyZone, condition, type Resource, type Scenario, startScenario } from '../helpers/scenario.js';

const SUBNET = 151;
const NODE = 'webservice-a1';
const STEP = `installNode-${NODE}`;
const RUN_INSTALL = `/pitrix-job-\\w+ run \\S+/${STEP}-/`;
const CHECK_INSTALL = `/pitrix-job-\\w+ check \\S+/${STEP}-/`;
const RUN_INSTALL_RE = new RegExp(`pitrix-job-\\w+ run \\S+/${STEP}-`);

let cp: ControlPlane;
let sc: Scenario;
beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
  // Scaled time 2: install_nodes.sh runs ~6 s, launch_vms.sh ~4 s — long enough for every case to land mid-job.
  sc = await startScenario(cp, 'region.yaml', { subnet: SUBNET, timeScale: 2 });
  await applyZone(sc, 'pek3a', 'pek3a', { global: true });
  await sc.waitCondition('zone', 'pek3a', 'Ready', 'True', 60_000);
  for (const c of ['bionic', 'focal']) {
    await sc.sim.writeFile('firstbox', `pitrix/kernels/base/${c}.img`, `base image ${c}\n`);
    await sc.sim.writeFile('firstbox', `pitrix/repo/${c}/Packages`, 'Package: pitrix-node-base\n');
  }
}, 180_000);
afterAll(async () => {
  await sc?.stop();
  await cp?.stop();
});

const TARGETS = [
  { osName: 'bionic', osVersion: '18.04' },
  { osName: 'focal', osVersion: '20.04' },
];
let rebuilds = 0;

const stepState = async (name: string, id: string) =>
  (await sc.get('webserviceupgrade', name)).status?.plan?.steps?.find((s) => s.id === id)?.state;

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 23);

/** The runs of the rebuild's long tools for NODE since `t0`, by tool. */
function longRuns(runs: ToolRun[]): Record<string, ToolRun[]> {
  const of = (tool: string, args: (a: string[]) => boolean) =>
    runs.filter((r) => r.tool === tool && args(r.args) && r.args.includes(NODE));
  return {
    'launch_vms.sh -f': of('launch_vms.sh', (a) => a.includes('-f')),
    'install_nodes.sh': of('install_nodes.sh', () => true),
    'update.sh': of('update.sh', () => true),
  };
}

/**
 * One rebuild of NODE with `during` acting on it; `during` returns the stop it observed (a
 * condition reason), if the case is one that stops, after it let the plan go on.
 */
async function rebuild(
  name: string,
  during: (name: string) => Promise<string | undefined>,
  fault?: Fault,
  /** The case must show the job running on after the SSH session that started it ended. */
  outlives = false,
): Promise<void> {
  const t0 = Date.now();
  const target = TARGETS[rebuilds++ % 2]!;
  if (fault) await sc.sim.setFault('firstbox', fault);
  try {
    await sc.apply({
      apiVersion: 'ops.pitrix.io/v1alpha1',
      kind: 'WebserviceUpgrade',
      metadata: { name, annotations: { 'ops.pitrix.io/keys-refreshed': 'true' } },
      spec: {
        zoneRef: { name: 'pek3a' },
        nodes: [NODE],
        target: {
          ...target,
          baseImage: `/pitrix/kernels/base/${target.osName}.img`,
          repository: `/pitrix/repo/${target.osName}`,
        },
        minReadySeconds: 1,
      },
    });
    const stopped = await during(name);
    const done = await sc.waitCondition('webserviceupgrade', name, 'Ready', 'True', 240_000);
    const runs = (await sc.sim.toolRuns('firstbox')).filter((r) => r.startedAt >= t0);
    const long = longRuns(runs);
    const overlaps = overlappingRuns(runs).map(
      ([a, b]) => `${a.tool} ${a.args.join(' ')} / ${b.tool} ${b.args.join(' ')}`,
    );
    const down = maxDownAtOnce(
      (await sc.sim.timeline()).filter((e) => e.time >= t0),
      ['webservice-a1', 'webservice-a2'],
    );
    const installs = long['install_nodes.sh']!;
    // When the guarded start's SSH session died (the simulator's command log), against the job's end.
    const sessions = (await sc.sim.commandLog('firstbox')).filter(
      (e) => Date.parse(e.time) >= t0 && RUN_INSTALL_RE.test(e.command),
    );
    const jobEnd = installs[0]?.finishedAt ?? Number.POSITIVE_INFINITY;
    const outlived = sessions.some(
      (e) => e.sessionEndedAfterMs !== undefined && Date.parse(e.time) + e.sessionEndedAfterMs < jobEnd,
    );
    console.log(
      `fault case ${name.padEnd(18)} step ${STEP}  outcome ${(stopped ?? 'converged').padEnd(36)} install_nodes.sh started ${installs.length}x ` +
        `(${installs.map((r) => `${clock(r.startedAt)}–${r.finishedAt ? clock(r.finishedAt) : 'no end'}`).join(', ')})  ` +
        `ran on after its session ended ${outlived ? 'yes' : 'no'}  launch_vms.sh -f ${long['launch_vms.sh -f']!.length}x  update.sh ${long['update.sh']!.length}x  overlaps ${overlaps.length}  ` +
        `webservice nodes down at once ${down}  (${Date.now() - t0} ms)`,
    );
    for (const [tool, rs] of Object.entries(long)) expect(rs.length, `${name}: ${tool} started`).toBe(1);
    expect(overlaps, `${name}: tool runs at the same time`).toEqual([]);
    if (outlives)
      expect(outlived, `${name}: install_nodes.sh outlived the session that started it`).toBe(true);
    expect(down).toBeLessThanOrEqual(1);
    expect(done.status?.plan?.steps?.every((s) => s.state === 'Succeeded')).toBe(true);
    expect((await sc.sim.state(NODE)).facts.os.version).toBe(target.osVersion);
  } finally {
    await sc.sim.clearFaults('firstbox');
    await cp.kubectl(['delete', 'webserviceupgrade', name, '-n', sc.ns, '--wait=true']);
  }
}

const running = (name: string) =>
  waitUntil(async () => (await stepState(name, STEP)) === 'Running', 180_000, `${STEP} Running`);

/** Waits for the stop, checks it names the step and what is unknown, and that nothing ran. */
async function expectStop(name: string, reason: string, t0: number): Promise<Resource> {
  const r = await sc.waitCondition('webserviceupgrade', name, 'Degraded', 'True', 180_000, reason);
  expect(condition(r, 'Degraded')!.message).toContain(STEP);
  const runs = (await sc.sim.toolRuns('firstbox')).filter((x) => x.startedAt >= t0);
  expect(longRuns(runs)['install_nodes.sh']).toEqual([]);
  return r;
}

// The default run keeps the suite under its time budget; PITRIX_FAULTS=all runs every case.
const all = process.env.PITRIX_FAULTS === 'all' || process.env.PITRIX_SOAK === '1';
const extra = all ? it : it.skip;
const T = 300_000;

describe(`fail closed around install_nodes.sh (R5, ${STEP})`, () => {
  it(
    'drop after the command was sent: the job runs on, detached, and is followed by its check',
    () =>
      rebuild(
        'drop-after',
        async () => undefined,
        { kind: 'drop', match: RUN_INSTALL, afterMs: 1500, times: 1 },
        true,
      ),
    T,
  );

  it(
    'operator SIGKILL while the job runs',
    () =>
      rebuild(
        'sigkill',
        async (name) => {
          await running(name);
          await new Promise((r) => setTimeout(r, 1000));
          await sc.restartOperator('SIGKILL');
          return undefined;
        },
        undefined,
        true,
      ),
    T,
  );

  extra(
    'drop before the command reaches the shell',
    () =>
      rebuild('drop-before', async () => undefined, {
        kind: 'drop',
        phase: 'before',
        match: RUN_INSTALL,
        times: 1,
      }),
    T,
  );

  extra(
    'the check hangs until its timeout: the plan stops as CheckTimedOut and runs nothing until it answers',
    () => {
      const t0 = Date.now();
      return rebuild(
        'check-hangs',
        async (name) => {
          await expectStop(name, 'CheckTimedOut', t0);
          return 'CheckTimedOut, then asked again';
        },
        { kind: 'hang', match: CHECK_INSTALL, times: 1 },
      );
    },
    T,
  );

  extra(
    'a check cancelled by shutdown answers nothing and runs nothing',
    () =>
      rebuild(
        'check-cancelled',
        async (name) => {
          await waitUntil(
            async () => (await stepState(name, `launchVm-${NODE}`)) === 'Succeeded',
            180_000,
            'launchVm done',
          );
          await new Promise((r) => setTimeout(r, 1500)); // the install check is hanging now
          await sc.restartOperator('SIGTERM');
          return 'cancelled by shutdown';
        },
        { kind: 'hang', match: CHECK_INSTALL, times: 1 },
      ),
    T,
  );

  extra(
    'operator SIGTERM while the job runs',
    () =>
      rebuild('sigterm', async (name) => {
        await running(name);
        await new Promise((r) => setTimeout(r, 1000));
        await sc.restartOperator('SIGTERM');
        return undefined;
      }),
    T,
  );

  extra(
    'kube-apiserver restarted while the job runs (the journal write after it fails)',
    () =>
      rebuild('apiserver-restart', async (name) => {
        await running(name);
        await cp.restartApiserver();
        return undefined;
      }),
    T,
  );

  extra(
    'an unrecognised check answer (usage error) stops the plan and runs nothing',
    () => {
      const t0 = Date.now();
      return rebuild(
        'check-usage-error',
        async (name) => {
          await expectStop(name, 'CheckUnrecognised', t0);
          await sc.sim.clearFaults('firstbox');
          return 'CheckUnrecognised';
        },
        {
          kind: 'fail',
          match: CHECK_INSTALL,
          exitCode: 2,
          message: 'usage: pitrix-job run|check|release DIR ...',
        },
      );
    },
    T,
  );
});
