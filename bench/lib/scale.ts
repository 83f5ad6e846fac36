/**
 * What `burst` and `idle` share: the operator as a user runs it (`pitrix-operator run`, a child
 * process, test/helpers/operator.ts) against a real kube-apiserver + etcd, one simulated zone
 * (hack/sim/platform.ts: real sshd firstbox and nodes, examples/sim/standard.yaml) and P NodePools
 * of the zone's deployed hyper nodes, so every pool observes its nodes' facts through the
 * firstbox and converges to Ready. Reads of the operator process (/proc) and of the API server's
 * own request counters (its /metrics), never of the operator's internals.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type ControlPlane, startControlPlane, testNamespace } from '../../hack/controlplane.js';
import { type Platform, startPlatform } from '../../hack/sim/platform.js';
import { type OperatorProcess, startOperator } from '../../test/helpers/operator.js';
import { zoneManifests } from '../../test/helpers/scenario.js';
import { log, ROOT } from './result.js';

export interface Rig {
  cp: ControlPlane;
  sim: Platform;
  op: OperatorProcess;
  ns: string;
  stop(): Promise<void>;
}

export async function startRig(operatorArgs: string[], opts: { auditLog?: string } = {}): Promise<Rig> {
  const cp = await startControlPlane({ log, ...(opts.auditLog ? { auditLog: opts.auditLog } : {}) });
  let sim: Platform | undefined;
  let op: OperatorProcess | undefined;
  try {
    sim = await startPlatform({ scenario: resolve(ROOT, 'examples/sim/standard.yaml') });
    const ns = await testNamespace(cp, 'bench-scale');
    op = await startOperator(cp.kubeconfig, ['--no-leader-elect', '--namespace', ns, ...operatorArgs]);
    const rig: Rig = {
      cp,
      sim,
      op,
      ns,
      async stop() {
        await op?.stop();
        await sim?.stop();
        await cp.stop();
      },
    };
    await apply(rig, zoneManifests(sim, 'pek3a', 'pek3a'));
    await waitFor(rig, 'zones', 1, 120_000);
    return rig;
  } catch (err) {
    await op?.stop();
    await sim?.stop();
    await cp.stop();
    throw err;
  }
}

export async function apply(rig: Rig, items: object[]): Promise<void> {
  await rig.cp.kubectl(['apply', '-n', rig.ns, '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  });
}

export function pools(rig: Rig, count: number): object[] {
  const nodes = ['hyper1', 'hyper2'].map((id) => ({ address: rig.sim.host(id).address }));
  return Array.from({ length: count }, (_, i) => ({
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'NodePool',
    metadata: { name: `pool-${i + 1}` },
    spec: { zoneRef: { name: 'pek3a' }, role: 'hyper', nodes },
  }));
}

interface Listed {
  items: Array<{
    status?: {
      conditions?: Array<{ type: string; status: string }>;
      nodes?: Array<{ facts?: unknown }>;
      plan?: { hash?: string };
    };
  }>;
}

/** How many objects of `plural` are Ready=True (for pools: with every node's facts in status). */
export async function readyCount(rig: Rig, plural: string): Promise<number> {
  const r = await rig.cp.kubectl(['get', plural, '-n', rig.ns, '-o', 'json']);
  return (JSON.parse(r.stdout) as Listed).items.filter((o) => {
    const ready = o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (plural !== 'nodepools') return ready;
    return ready && (o.status?.nodes?.length ?? 0) > 0 && o.status!.nodes!.every((n) => n.facts);
  }).length;
}

export async function waitFor(
  rig: Rig,
  plural: string,
  count: number,
  timeoutMs: number,
  onPoll?: () => void,
): Promise<{ ms: number; polls: number }> {
  const t0 = performance.now();
  let polls = 0;
  for (;;) {
    onPoll?.();
    polls++;
    const n = await readyCount(rig, plural);
    if (n >= count) return { ms: performance.now() - t0, polls };
    if (performance.now() - t0 > timeoutMs)
      throw new Error(
        `${n} of ${count} ${plural} Ready after ${timeoutMs} ms; operator log tail:\n${rig.op.logs.slice(-10).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** CPU (ms, user + system) and RSS (bytes) of a process, from /proc. */
export function proc(pid: number): { cpuMs: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs: (ticks * 1000) / 100, rssBytes: Number(rss?.[1] ?? 0) * 1024 };
}

/** Established TCP connections of a process to `port` (its SSH connections to the firstbox). */
export function tcpConnections(pid: number, port: number): number {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( dport = :${port} )`], {
    encoding: 'utf8',
  });
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`)).length;
}

/** The API server's request counters (apiserver_request_total), summed by verb. */
export async function apiRequests(rig: Rig): Promise<Record<string, number>> {
  const r = await rig.cp.kubectl(['get', '--raw', '/metrics']);
  const byVerb: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const verb = /verb="([A-Z]+)"/.exec(line)?.[1] ?? 'OTHER';
    byVerb[verb] = (byVerb[verb] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return byVerb;
}

export const WRITE_VERBS = ['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY'];

export function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    [...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0)]),
  );
}
