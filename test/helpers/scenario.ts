/**
 * A test scenario end to end: a real control plane, the simulated platform over real sshd, and
 * the operator process, with helpers to apply manifests and read status the way a user would.
 */

import { resolve } from 'node:path';
import { type ControlPlane, testNamespace } from '../../hack/controlplane.js';
import { keepClusterEvidence, keepEvidence } from '../../hack/evidence.js';
import { type Platform, startPlatform } from '../../hack/sim/platform.js';
import type { Condition } from '../../src/runtime/conditions.js';
import { type OperatorProcess, startOperator, waitUntil } from './operator.js';

export const repoRoot = resolve(import.meta.dirname, '../..');

export interface Scenario {
  ns: string;
  sim: Platform;
  op: OperatorProcess;
  apply(obj: object): Promise<void>;
  get(kind: string, name: string): Promise<Resource>;
  /** The messages of the namespace's Events with this reason. */
  events(reason: string): Promise<string[]>;
  waitCondition(
    kind: string,
    name: string,
    type: string,
    status: string,
    timeoutMs?: number,
    reason?: string,
  ): Promise<Resource>;
  restartOperator(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export interface Resource {
  metadata: { name: string; generation: number; annotations?: Record<string, string>; uid: string };
  spec: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    plan?: {
      hash: string;
      steps?: Array<{ id: string; state: string; outputTail?: string; exitCode?: number; host?: string }>;
    };
    currentStep?: string;
    nodes?: Array<{
      address: string;
      phase: string;
      message?: string;
      hostKey?: string;
      facts?: Record<string, unknown>;
    }>;
    [k: string]: unknown;
  };
}

export function condition(r: Resource, type: string): Condition | undefined {
  return r.status?.conditions?.find((c) => c.type === type);
}

export async function startScenario(
  cp: ControlPlane,
  scenario: string,
  opts: {
    timeScale?: number;
    operatorArgs?: string[];
    subnet?: number;
    /** `'assumed'`: refuse all the originals do not name except the documented assumptions. */
    strict?: boolean | 'assumed';
    entry?: string;
    /** The namespace to create (default: a fresh `sc-…` one); the demo names its own. */
    namespace?: string;
  } = {},
): Promise<Scenario> {
  const ns = opts.namespace ?? (await testNamespace(cp, 'sc'));
  if (opts.namespace) await cp.kubectl(['create', 'namespace', ns]);
  const sim = await startPlatform({
    scenario: resolve(repoRoot, 'examples/sim', scenario),
    timeScale: opts.timeScale,
    ...(opts.strict ? { strict: opts.strict } : {}),
    ...(opts.subnet !== undefined ? { subnet: opts.subnet } : {}),
  });
  const args = ['--no-leader-elect', '--namespace', ns, ...(opts.operatorArgs ?? [])];
  let op = await startOperator(cp.kubeconfig, args, {}, opts.entry);
  const sc: Scenario = {
    ns,
    sim,
    get op() {
      return op;
    },
    async apply(obj) {
      await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(obj) });
    },
    async get(kind, name) {
      const r = await cp.kubectl(['get', kind, name, '-n', ns, '-o', 'json']);
      return JSON.parse(r.stdout) as Resource;
    },
    async events(reason) {
      const r = await cp.kubectl([
        'get',
        'events',
        '-n',
        ns,
        '--field-selector',
        `reason=${reason}`,
        '-o',
        'json',
      ]);
      return (JSON.parse(r.stdout) as { items: Array<{ message: string }> }).items.map((e) => e.message);
    },
    async waitCondition(kind, name, type, status, timeoutMs = 60_000, reason) {
      let last: Resource | undefined;
      await waitUntil(
        async () => {
          last = await sc.get(kind, name);
          const c = condition(last, type);
          return c?.status === status && (!reason || c.reason === reason);
        },
        timeoutMs,
        `${kind}/${name} ${type}=${status}${reason ? ` (${reason})` : ''}`,
      ).catch((err) => {
        throw new Error(
          `${(err as Error).message}\nlast status: ${JSON.stringify(last?.status, null, 1)?.slice(0, 3000)}\noperator log tail:\n${op.logs.slice(-15).join('\n')}`,
        );
      });
      return last!;
    },
    async restartOperator(signal = 'SIGTERM') {
      await op.stop(signal);
      op = await startOperator(cp.kubeconfig, args, {}, opts.entry);
    },
    async stop() {
      await op.stop();
      // For the suite's leak check, before the namespace goes: what it showed, what hosts ran.
      await keepClusterEvidence(cp.kubectl, ns).catch(() => undefined);
      keepEvidence('shown', JSON.stringify(await sim.commandLog().catch(() => [])));
      await sim.stop();
      await cp.kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
    },
  };
  return sc;
}

/** The non-default node credentials of the simulator's spare machines (examples/sim/*.yaml). */
export const nodeCredentialsSecret = {
  apiVersion: 'v1',
  kind: 'Secret',
  // The consent label: the operator uses only Secrets labelled for it (controllers/consent.ts).
  metadata: { name: 'node-creds', labels: { 'ops.pitrix.io/credentials': 'true' } },
  stringData: { username: 'ubuntu', password: 'n0t-default' },
};

/** The Secret and Zone for the simulated firstbox, pinned to its real host key. */
export function zoneManifests(
  sim: Platform,
  name: string,
  zoneId: string,
  extra: Record<string, unknown> = {},
): object[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'firstbox-ssh', labels: { 'ops.pitrix.io/credentials': 'true' } },
      type: 'kubernetes.io/ssh-auth',
      stringData: { 'ssh-privatekey': sim.clientKey.privateKey },
    },
    {
      apiVersion: 'ops.pitrix.io/v1alpha1',
      kind: 'Zone',
      metadata: { name },
      spec: {
        zoneId,
        firstbox: {
          host: sim.firstbox.address,
          port: sim.firstbox.port,
          credentialsSecretRef: { name: 'firstbox-ssh' },
          hostKeys: [sim.firstbox.hostKeyFingerprint],
        },
        ...extra,
      },
    },
  ];
}

export async function applyZone(
  sc: Scenario,
  name: string,
  zoneId: string,
  extra: Record<string, unknown> = {},
) {
  for (const m of zoneManifests(sc.sim, name, zoneId, extra)) await sc.apply(m);
}

/** How many times each command matching `pattern` ran on a host, per the simulator's log. */
export async function countCommands(sim: Platform, host: string, pattern: RegExp): Promise<number> {
  return (await sim.commandLog(host)).filter((e) => pattern.test(e.command)).length;
}
