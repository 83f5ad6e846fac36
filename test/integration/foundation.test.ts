/**
 * The foundation against a real kube-apiserver + etcd: the API server enforces our schemas, the
 * operator process reconciles through its queue, writes status only when it changed, elects one
 * leader, and its watches survive an apiserver restart.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane, testNamespace } from '../../hack/controlplane.js';
import { ed25519KeyPair } from '../../hack/ed25519.js';
import { zoneKind } from '../../src/api/kinds.js';
import { resourceType } from '../../src/controllers/deps.js';
import type { Condition } from '../../src/runtime/conditions.js';
import { Controller } from '../../src/runtime/controller.js';
import { Informer } from '../../src/runtime/informer.js';
import { KubeClient, loadKubeConfig } from '../../src/runtime/kube.js';
import { createLogger } from '../../src/runtime/log.js';
import { OperatorMetrics } from '../../src/runtime/metrics.js';
import { startOperator, waitUntil } from '../helpers/operator.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const zoneType = resourceType(zoneKind);
let cp: ControlPlane;
let client: KubeClient;
const log = createLogger({ level: 'silent' });

beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
  client = new KubeClient(loadKubeConfig(cp.kubeconfig));
});
afterAll(async () => {
  await cp?.stop();
});

function sshSecret(ns: string, name = 'firstbox-ssh'): string {
  const { private: privateKey } = ed25519KeyPair();
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ns, labels: { 'ops.pitrix.io/credentials': 'true' } },
    type: 'kubernetes.io/ssh-auth',
    stringData: { 'ssh-privatekey': privateKey },
  });
}

function unreachableZone(ns: string, name: string, refresh = '5m'): string {
  return JSON.stringify({
    apiVersion: 'ops.pitrix.io/v1alpha1',
    kind: 'Zone',
    metadata: { name, namespace: ns },
    spec: {
      zoneId: 'pek3a',
      firstbox: {
        host: '127.0.0.1',
        port: 1,
        credentialsSecretRef: { name: 'firstbox-ssh' },
        hostKeyPolicy: 'TrustOnFirstUse',
      },
      refreshInterval: refresh,
    },
  });
}

async function getZone(ns: string, name: string) {
  return (await client.get(zoneType, ns, name)) as {
    metadata: { generation: number };
    status?: { conditions?: Condition[]; observedGeneration?: number; reachable?: boolean };
  };
}

describe('the API server enforces the CRD schemas', () => {
  it('refuses every invalid manifest with a message naming the field', async () => {
    const ns = await testNamespace(cp, 'invalid');
    const dir = join(repoRoot, 'test/fixtures/invalid');
    const files = (await readdir(dir))
      .filter((f) => f.endsWith('.yaml') && !f.endsWith('.update.yaml'))
      .sort();
    expect(files.length).toBeGreaterThanOrEqual(15);
    const failures: string[] = [];
    for (const file of files) {
      const update = file.replace(/\.yaml$/, '.update.yaml');
      const hasUpdate = (await readdir(dir)).includes(update);
      const target = hasUpdate ? update : file;
      if (hasUpdate) await cp.kubectl(['apply', '-n', ns, '-f', join(dir, file)]);
      const text = await readFile(join(dir, target), 'utf8');
      const expected = /^# expect: (.*)$/m.exec(text)?.[1]?.trim();
      const field = /^# field: (.*)$/m.exec(text)?.[1]?.trim();
      const r = await cp.kubectl(['apply', '-n', ns, '-f', join(dir, target)], { allowFailure: true });
      if (r.code === 0) failures.push(`${target}: accepted`);
      else if (expected && !r.stderr.includes(expected))
        failures.push(`${target}: "${expected}" not in: ${r.stderr}`);
      else if (field && !r.stderr.includes(field))
        failures.push(`${target}: field ${field} not named in: ${r.stderr}`);
    }
    expect(failures).toEqual([]);
  });

  it('accepts the examples', async () => {
    const ns = await testNamespace(cp, 'examples');
    const r = await cp.kubectl(['apply', '-n', ns, '--dry-run=server', '-f', join(repoRoot, 'examples')], {
      allowFailure: true,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('groups the kinds under `kubectl get pitrix`', async () => {
    const ns = await testNamespace(cp, 'cat');
    await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: unreachableZone(ns, 'z1') });
    const r = await cp.kubectl(['get', 'pitrix', '-n', ns]);
    expect(r.stdout).toContain('zone.ops.pitrix.io/z1');
  });
});

describe('the operator process', () => {
  it('reports an unreachable firstbox within seconds, tracks generations, and writes nothing on resync', async () => {
    const ns = await testNamespace(cp, 'zone');
    await cp.kubectl(['apply', '-f', '-'], { input: sshSecret(ns) });
    const op = await startOperator(cp.kubeconfig, ['--no-leader-elect', '--resync-period', '2s']);
    try {
      const t0 = Date.now();
      await cp.kubectl(['apply', '-f', '-'], { input: unreachableZone(ns, 'far') });
      await waitUntil(
        async () => {
          const z = await getZone(ns, 'far');
          const ready = z.status?.conditions?.find((c: Condition) => c.type === 'Ready');
          return ready?.status === 'False' && z.status?.observedGeneration === z.metadata.generation;
        },
        15_000,
        'Ready=False',
      );
      const elapsed = Date.now() - t0;
      const z = await getZone(ns, 'far');
      const ready = z.status!.conditions!.find((c: Condition) => c.type === 'Ready');
      expect(ready!.reason).toBe('Unreachable');
      expect(ready!.message).toContain('127.0.0.1');
      expect(z.status!.reachable).toBe(false);
      console.log(`Ready=False after ${elapsed} ms: ${ready!.message}`);
      expect(elapsed).toBeLessThan(10_000);

      // Several resyncs (2 s) and backoff retries later, nothing changed: no further status write.
      await new Promise((r) => setTimeout(r, 1500));
      const written = await op.metric('pitrix_operator_status_writes_total', {
        kind: 'Zone',
        outcome: 'written',
      });
      const reconcilesBefore = await op.metric('controller_runtime_reconcile_total', { controller: 'zone' });
      await new Promise((r) => setTimeout(r, 7000));
      const reconcilesAfter = await op.metric('controller_runtime_reconcile_total', { controller: 'zone' });
      expect(reconcilesAfter).toBeGreaterThan(reconcilesBefore);
      expect(
        await op.metric('pitrix_operator_status_writes_total', { kind: 'Zone', outcome: 'written' }),
      ).toBe(written);
      expect(
        await op.metric('pitrix_operator_status_writes_total', { kind: 'Zone', outcome: 'unchanged' }),
      ).toBeGreaterThan(0);

      await cp.kubectl([
        'patch',
        'zone',
        'far',
        '-n',
        ns,
        '--type=merge',
        '-p',
        '{"spec":{"refreshInterval":"10m"}}',
      ]);
      await waitUntil(
        async () => {
          const z2 = await getZone(ns, 'far');
          return z2.metadata.generation === 2 && z2.status?.observedGeneration === 2;
        },
        10_000,
        'observedGeneration 2',
      );
      // Deleting the Zone completes (the finalizer touches nothing on the platform).
      await cp.kubectl(['delete', 'zone', 'far', '-n', ns, '--timeout=20s']);
    } finally {
      expect(await op.stop('SIGTERM')).toBe(0);
    }
  });

  it('elects one leader; a standby takes over within about a lease after the leader is killed', async () => {
    const ns = await testNamespace(cp, 'le');
    await cp.kubectl(['apply', '-f', '-'], { input: sshSecret(ns) });
    const args = [
      '--leader-election-namespace',
      ns,
      '--lease-duration',
      '6s',
      '--renew-deadline',
      '4s',
      '--retry-period',
      '1s',
    ];
    const a = await startOperator(cp.kubeconfig, args);
    const b = await startOperator(cp.kubeconfig, args);
    try {
      await waitUntil(
        async () =>
          (await a.metric('leader_election_master_status')) +
            (await b.metric('leader_election_master_status')) ===
          1,
        20_000,
        'a leader',
      );
      const [leader, standby] = (await a.metric('leader_election_master_status')) === 1 ? [a, b] : [b, a];
      await cp.kubectl(['apply', '-f', '-'], { input: unreachableZone(ns, 'le-zone') });
      await waitUntil(
        async () => (await leader.metric('controller_runtime_reconcile_total', { controller: 'zone' })) > 0,
        15_000,
        'leader reconciles',
      );
      expect(await standby.metric('controller_runtime_reconcile_total', { controller: 'zone' })).toBe(0);
      // The standby is ready (serves health and metrics) though it acts on nothing.
      expect((await fetch(`http://127.0.0.1:${standby.metricsPort}/readyz`)).status).toBe(200);

      const killedAt = Date.now();
      await leader.stop('SIGKILL');
      await waitUntil(
        async () => (await standby.metric('leader_election_master_status')) === 1,
        20_000,
        'takeover',
      );
      const takeover = Date.now() - killedAt;
      console.log(`standby took over ${takeover} ms after SIGKILL of the leader (lease 6 s)`);
      expect(takeover).toBeLessThan(6000 + 4000);
      await cp.kubectl(['annotate', 'zone', 'le-zone', '-n', ns, 'touch=1']);
      await waitUntil(
        async () => (await standby.metric('controller_runtime_reconcile_total', { controller: 'zone' })) > 0,
        15_000,
        'new leader reconciles',
      );
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe('the controller runtime', () => {
  it('folds a burst of 100 updates into far fewer reconciles, never two at once for a key', async () => {
    const ns = await testNamespace(cp, 'burst');
    await cp.kubectl(['apply', '-f', '-'], { input: unreachableZone(ns, 'busy') });
    const informer = new Informer(client, zoneType, { namespace: ns, log });
    let reconciles = 0;
    let running = 0;
    let maxRunning = 0;
    const controller = new Controller({
      name: 'burst',
      metrics: new OperatorMetrics({ processMetrics: false }),
      log,
      maxConcurrentReconciles: 4,
      reconciler: {
        async reconcile() {
          reconciles++;
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((r) => setTimeout(r, 100));
          running--;
          return undefined;
        },
      },
    });
    controller.watchPrimary(informer);
    await informer.start();
    controller.start();
    await waitUntil(() => reconciles >= 1 && running === 0, 5000, 'first reconcile');
    const before = reconciles;
    const patches = Array.from({ length: 100 }, (_, i) => i);
    for (let i = 0; i < patches.length; i += 10) {
      await Promise.all(
        patches
          .slice(i, i + 10)
          .map((n) =>
            client.mergePatch(zoneType, ns, 'busy', { metadata: { annotations: { burst: String(n) } } }),
          ),
      );
    }
    await waitUntil(
      async () => {
        const o = informer.get(ns, 'busy');
        return (
          !!o &&
          Object.keys(o.metadata.annotations ?? {}).includes('burst') &&
          running === 0 &&
          controller.queue.length === 0
        );
      },
      10_000,
      'burst absorbed',
    );
    await new Promise((r) => setTimeout(r, 300));
    const burstReconciles = reconciles - before;
    console.log(`100 updates -> ${burstReconciles} reconciles, max concurrent for the key ${maxRunning}`);
    expect(maxRunning).toBe(1);
    expect(burstReconciles).toBeGreaterThan(0);
    expect(burstReconciles).toBeLessThan(40);
    await controller.stop();
    await informer.stop();
  });

  it('recovers its watch when kube-apiserver restarts, without restarting', async () => {
    const ns = await testNamespace(cp, 'watch');
    const informer = new Informer(client, zoneType, { namespace: ns, log, staleMs: 10_000 });
    const seen: string[] = [];
    informer.on((event, obj) => seen.push(`${event}:${obj.metadata.name}`));
    await informer.start();
    await cp.kubectl(['apply', '-f', '-'], { input: unreachableZone(ns, 'before') });
    await waitUntil(() => seen.includes('added:before'), 5000, 'event before restart');
    const t0 = Date.now();
    await cp.restartApiserver();
    console.log(`kube-apiserver restarted in ${Date.now() - t0} ms`);
    await cp.kubectl(['apply', '-f', '-'], { input: unreachableZone(ns, 'after') });
    await waitUntil(() => seen.includes('added:after'), 20_000, 'event after restart');
    console.log(`watch delivered the new object ${Date.now() - t0} ms after the restart began`);
    await informer.stop();
  });
});
