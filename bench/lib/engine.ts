/**
 * The engine benchmark's measurement, shared by `npm run bench -- engine` and the regression guard
 * (test/integration/bench-guard.test.ts): a plan of N steps whose command (`true`) and check
 * (`false`: not done, so the command runs) do nothing measurable, executed by the operator's own
 * `runPlan` (src/controllers/runner.ts: journal before and after each step, zone-lock check, the
 * StepSucceeded Event) against a real kube-apiserver + etcd, over SSH to an in-process ssh2 node.
 * Every API call and SSH exec is timed where the operator makes it, so the time above the
 * command's own is split into what it was spent on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { ControlPlane } from '../../hack/controlplane.js';
import { startInProcess } from '../../hack/sim/inprocess.js';
import { generateKeyPair } from '../../hack/sshd.js';
import { GROUP, VERSION } from '../../src/api/common.js';
import { nodePoolKind, zoneKind } from '../../src/api/kinds.js';
import type { ControllerDeps } from '../../src/controllers/deps.js';
import { resourceType } from '../../src/controllers/deps.js';
import { runPlan, StatusSession } from '../../src/controllers/runner.js';
import { makePlan, type Step } from '../../src/runbook/step.js';
import { KubeEventRecorder } from '../../src/runtime/events.js';
import { KubeClient, type KubeObject, loadKubeConfig } from '../../src/runtime/kube.js';
import { OperatorMetrics } from '../../src/runtime/metrics.js';
import { StatusWriter } from '../../src/runtime/status.js';
import { shell } from '../../src/ssh/command.js';
import { credentialsFromSecret } from '../../src/ssh/credentials.js';
import { HostKeyPolicy } from '../../src/ssh/hostkeys.js';
import { SshPool } from '../../src/ssh/pool.js';
import type { HostTarget } from '../../src/ssh/types.js';
import { median, percentile, round } from './stats.js';

export interface EngineFigures {
  steps: number;
  /** Operator time per step above the command's own exec (ms). */
  overheadMs: { median: number; p95: number; mean: number };
  /** The command's own SSH exec (`true`) per step (ms, median). */
  commandMs: number;
  /** Mean per step, by what the operator waited for (ms); `operator` is the rest (its own CPU). */
  breakdownMs: {
    statusWrites: number;
    zoneLockGet: number;
    check: number;
    operator: number;
  };
  statusWritesPerStep: number;
  statusWriteMs: { median: number; p95: number };
  /** Bytes of the last status write (the journal grows with the plan). */
  lastStatusBytes: number;
  events: { count: number; medianMs: number };
  /** Same-run references: a bare GET of the object and a bare SSH exec, sequential (ms, median). */
  reference: { apiGetMs: number; sshExecMs: number };
  /** overhead median ÷ (2 × API GET + SSH exec): the load-independent figure the guard holds. */
  ratio: number;
  /** CPU of this process per step (ms): the operator's code plus the in-process ssh2 server. */
  cpuMsPerStep: number;
  wallMs: number;
}

const silent = pino({ level: 'silent' });

/** Runs the measurement on a started control plane; everything else it starts, it stops. */
export async function measureEngine(
  cp: ControlPlane,
  opts: { steps: number; port?: number; references?: number },
): Promise<EngineFigures> {
  const client = new KubeClient(loadKubeConfig(cp.kubeconfig));
  const ns = `bench-engine-${Math.random().toString(36).slice(2, 8)}`;
  await cp.kubectl(['create', 'namespace', ns]);
  const dir = await mkdtemp(join(tmpdir(), 'pitrix-bench-engine-'));
  const key = await generateKeyPair(dir, 'bench-engine');
  const sim = await startInProcess({
    count: 1,
    prefix: '127.79',
    port: opts.port ?? 2252,
    authorizedKeys: [key.publicKey],
  });
  const host = sim.hosts[0]!;
  const pool = new SshPool({
    hostKeys: new HostKeyPolicy({ knownHosts: host.knownHostsLine }),
    credentials: credentialsFromSecret({ stringData: { 'ssh-privatekey': key.privateKey } }),
  });
  const target: HostTarget = { name: host.address, address: host.address, port: host.port, user: 'root' };
  try {
    const zoneType = resourceType(zoneKind);
    const poolType = resourceType(nodePoolKind);
    const create = (plural: string, body: object) =>
      client.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural,
        body,
      });
    await create(zoneType.plural, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'Zone',
      metadata: { name: 'bench' },
      spec: {
        zoneId: 'bench1',
        firstbox: {
          host: host.address,
          port: host.port,
          credentialsSecretRef: { name: 'firstbox-ssh' },
          hostKeys: [host.hostKeyFingerprint],
        },
      },
    });
    const obj = (await create(poolType.plural, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'NodePool',
      metadata: { name: 'bench' },
      spec: { zoneRef: { name: 'bench' }, role: 'hyper', nodes: [{ address: '10.0.0.1' }] },
    })) as KubeObject;

    // Timing at the points the operator calls out.
    const t = { put: [] as number[], get: [] as number[], events: [] as number[] };
    let lastStatusBytes = 0;
    const timed =
      <A extends unknown[], R>(into: number[], fn: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        const t0 = performance.now();
        try {
          return await fn(...a);
        } finally {
          into.push(performance.now() - t0);
        }
      };
    const replaceStatus = client.replaceStatus.bind(client);
    client.replaceStatus = timed(t.put, (type, o) => {
      lastStatusBytes = Buffer.byteLength(JSON.stringify(o.status ?? {}));
      return replaceStatus(type, o);
    });
    client.get = timed(t.get, client.get.bind(client));
    const recorder = new KubeEventRecorder(client, 'pitrix-operator', silent);
    const pending: Promise<void>[] = [];
    recorder.event = (o, type, reason, message) => {
      pending.push(timed(t.events, () => recorder.record(o, type, reason, message))().catch(() => {}));
    };
    const exec = { check: [] as number[], command: [] as [number, number][] };
    const executor = {
      exec: async (...a: Parameters<SshPool['exec']>) => {
        const t0 = performance.now();
        const r = await pool.exec(...a);
        const t1 = performance.now();
        if (a[1].script === 'false') exec.check.push(t1 - t0);
        else exec.command.push([t0, t1]);
        return r;
      },
    };

    // References, in the same run: a bare GET of the object, a bare SSH exec.
    const refs = opts.references ?? 30;
    await pool.exec(target, shell(['true'], 'warm up'));
    const apiRef: number[] = [];
    const sshRef: number[] = [];
    for (let i = 0; i < refs; i++) {
      let t0 = performance.now();
      await client.custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: poolType.plural,
        name: 'bench',
      });
      apiRef.push(performance.now() - t0);
      t0 = performance.now();
      await pool.exec(target, shell(['true'], 'reference exec'));
      sshRef.push(performance.now() - t0);
    }
    t.get.length = 0;

    const steps = benchSteps(opts.steps);
    const plan = makePlan(steps);
    const metrics = new OperatorMetrics({ processMetrics: false });
    const deps = {
      client,
      status: new StatusWriter(client),
      events: recorder,
      metrics,
      log: silent,
      // Nothing pauses the benchmark's plan (the runner asks the kind's cache for spec.paused).
      informerOf: () => undefined,
    } as unknown as ControllerDeps;
    const session = new StatusSession(deps, poolType, obj, {});
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await runPlan(
      deps,
      {
        session,
        plan,
        approval: 'Automatic',
        executor,
        target: () => target,
        zoneLock: { zoneName: 'bench', operation: 'benchmark' },
        readyMessage: 'benchmark done',
      },
      { log: silent, reconcileId: 'bench', signal: new AbortController().signal },
    );
    const wallMs = performance.now() - w0;
    const cpu = process.cpuUsage(cpu0);
    await Promise.all(pending);
    const done = session.status.plan?.steps?.filter((s) => s.state === 'Succeeded').length ?? 0;
    if (done !== opts.steps)
      throw new Error(
        `engine benchmark: ${done} of ${opts.steps} steps succeeded; the journal: ${JSON.stringify(session.status.plan).slice(0, 800)}`,
      );

    // Step i's interval: from the end of step i-1's command to the end of its own; minus the command.
    const cmd = exec.command;
    const over: number[] = [];
    for (let i = 1; i < cmd.length; i++) over.push(cmd[i]![1] - cmd[i - 1]![1] - (cmd[i]![1] - cmd[i]![0]));
    const n = opts.steps;
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / (xs.length || 1);
    const perStep = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / n;
    const overheadMean = mean(over);
    const statusWrites = perStep(t.put);
    const zoneLockGet = perStep(t.get);
    const check = perStep(exec.check);
    const reference = { apiGetMs: round(median(apiRef), 2), sshExecMs: round(median(sshRef), 2) };
    return {
      steps: n,
      overheadMs: {
        median: round(median(over), 2),
        p95: round(percentile(over, 95), 2),
        mean: round(overheadMean, 2),
      },
      commandMs: round(median(cmd.map(([a, b]) => b - a)), 2),
      breakdownMs: {
        statusWrites: round(statusWrites, 2),
        zoneLockGet: round(zoneLockGet, 2),
        check: round(check, 2),
        operator: round(overheadMean - statusWrites - zoneLockGet - check, 2),
      },
      statusWritesPerStep: round(t.put.length / n, 2),
      statusWriteMs: { median: round(median(t.put), 2), p95: round(percentile(t.put, 95), 2) },
      lastStatusBytes,
      events: { count: t.events.length, medianMs: round(median(t.events), 2) },
      reference,
      ratio: round(median(over) / (2 * reference.apiGetMs + reference.sshExecMs), 2),
      cpuMsPerStep: round((cpu.user + cpu.system) / 1000 / n, 2),
      wallMs: round(wallMs),
    };
  } finally {
    await pool.close();
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
    await cp.kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
  }
}

/** N steps whose command (`true`) and check (`false`: not done) do nothing measurable. */
export function benchSteps(n: number): Step[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `benchStep${i + 1}`,
    description: `benchmark step ${i + 1} (does nothing)`,
    host: { kind: 'firstbox' },
    command: shell(['true'], `benchmark step ${i + 1}`),
    check: shell(['false'], `benchmark check ${i + 1}`),
    timeoutMs: 60_000,
  }));
}
