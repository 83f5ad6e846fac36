/**
 * Field ownership, read the way a user or a GitOps tool reads it: `kubectl get -o json
 * --show-managed-fields` on a real API server after a real reconcile. Every write of the operator
 * (finalizer, status, Events, the leader Lease) names `pitrix-operator`; `kubectl pitrix pause`
 * names `kubectl-pitrix`; the client library's default manager (`kubernetes-client-javascript`,
 * derived from its User-Agent) appears nowhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, startControlPlane, testNamespace } from '../../hack/controlplane.js';
import { pluginCommand } from '../../src/cli/kubectl-plugin.js';
import { KubeClient, loadKubeConfig } from '../../src/runtime/kube.js';
import { LeaderElector } from '../../src/runtime/leader.js';
import { waitUntil } from '../helpers/operator.js';
import { applyZone, nodeCredentialsSecret, startScenario } from '../helpers/scenario.js';

interface ManagedFieldsEntry {
  manager: string;
  operation: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}
interface WithManagedFields {
  metadata: { name: string; managedFields?: ManagedFieldsEntry[] };
  source?: { component?: string };
  spec?: { renewTime?: string };
}

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane({ log: (m) => console.log(m) });
});
afterAll(async () => {
  await cp?.stop();
});

async function managed(args: string[]): Promise<WithManagedFields> {
  const r = await cp.kubectl(['get', ...args, '-o', 'json', '--show-managed-fields']);
  return JSON.parse(r.stdout) as WithManagedFields;
}

/** manager → the top-level fields it owns (`f:status`, `f:metadata`…), per subresource. */
function owners(obj: WithManagedFields): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of obj.metadata.managedFields ?? []) {
    const key = e.subresource ? `${e.manager}/${e.subresource}` : e.manager;
    out[key] = [...(out[key] ?? []), ...Object.keys(e.fieldsV1 ?? {})].sort();
  }
  return out;
}

const DEFAULT_MANAGER = /kubernetes-client-javascript/;

describe('field manager', () => {
  it('names pitrix-operator on the status, finalizers and Events of a reconciled Zone and NodePool', async () => {
    const sc = await startScenario(cp, 'standard.yaml', { subnet: 91 });
    try {
      await applyZone(sc, 'pek3a', 'pek3a');
      await sc.waitCondition('zone', 'pek3a', 'Ready', 'True', 90_000);
      await sc.apply(nodeCredentialsSecret);
      const [a, b] = sc.sim.spare.map((h) => h.address);
      await sc.apply({
        apiVersion: 'ops.pitrix.io/v1alpha1',
        kind: 'NodePool',
        metadata: { name: 'hyper-fm' },
        spec: {
          zoneRef: { name: 'pek3a' },
          role: 'hyper',
          // As in nodepool.test.ts: the spare machines of standard.yaml carry data on sdb.
          nodes: [
            {
              address: a,
              diskOverrides: [
                { device: 'sdb', type: 'ssd' },
                { device: 'sdc', enabled: false },
              ],
            },
            { address: b },
          ],
          nodeCredentialsSecretRef: { name: 'node-creds' },
          eraseDataDisks: { devices: ['sdb'], confirm: 'hyper-fm' },
        },
      });
      await sc.waitCondition('nodepool', 'hyper-fm', 'Ready', 'True', 120_000);

      for (const [kind, name] of [
        ['zone', 'pek3a'],
        ['nodepool', 'hyper-fm'],
      ] as const) {
        const obj = await managed([kind, name, '-n', sc.ns]);
        const own = owners(obj);
        console.log(`${kind}/${name} managedFields: ${JSON.stringify(own)}`);
        expect(own['pitrix-operator/status'], `${kind} status`).toEqual(['f:status']);
        // The finalizer is the operator's merge patch of metadata.
        expect(own['pitrix-operator'], `${kind} finalizer`).toContain('f:metadata');
        for (const e of obj.metadata.managedFields ?? [])
          expect(e.manager, `${kind} manager`).not.toMatch(DEFAULT_MANAGER);
      }

      // Events the operator recorded (created, and folded repeats patched) name it too.
      const events = JSON.parse(
        (await cp.kubectl(['get', 'events', '-n', sc.ns, '-o', 'json', '--show-managed-fields'])).stdout,
      ) as { items: WithManagedFields[] };
      const ours = events.items.filter((e) => e.source?.component === 'pitrix-operator');
      expect(ours.length).toBeGreaterThan(0);
      for (const e of ours)
        expect([...new Set((e.metadata.managedFields ?? []).map((m) => m.manager))], e.metadata.name).toEqual(
          ['pitrix-operator'],
        );

      // A person's pause through the plugin is recorded as theirs, not the operator's.
      const out: string[] = [];
      const code = await pluginCommand(
        'pause',
        ['nodepool', 'hyper-fm', '-n', sc.ns, '--kubeconfig', cp.kubeconfig],
        { output: { out: (t) => out.push(t), err: (t) => out.push(t) } },
      );
      expect(code, out.join('')).toBe(0);
      const paused = await managed(['nodepool', 'hyper-fm', '-n', sc.ns]);
      const plugin = paused.metadata.managedFields?.find((e) => e.manager === 'kubectl-pitrix');
      expect(plugin?.fieldsV1).toEqual({ 'f:spec': { 'f:paused': {} } });
    } finally {
      await sc.stop();
    }
  });

  it('names pitrix-operator on the leader-election Lease it creates and renews', async () => {
    const ns = await testNamespace(cp, 'fm');
    const client = new KubeClient(loadKubeConfig(cp.kubeconfig));
    let leading = false;
    const le = new LeaderElector(client, {
      namespace: ns,
      name: 'pitrix-operator-leader',
      retryPeriodMs: 300,
      onStartedLeading: () => {
        leading = true;
      },
      onStoppedLeading: () => {
        leading = false;
      },
    });
    le.start();
    try {
      await waitUntil(async () => leading, 10_000, 'leadership');
      // Let it renew (a replace) at least once after the create.
      const first = await managed(['lease', 'pitrix-operator-leader', '-n', ns]);
      await waitUntil(
        async () =>
          (await managed(['lease', 'pitrix-operator-leader', '-n', ns])).spec?.renewTime !==
          first.spec?.renewTime,
        10_000,
        'a renewal',
      );
      await le.release();
      const lease = await managed(['lease', 'pitrix-operator-leader', '-n', ns]);
      console.log(`lease managedFields: ${JSON.stringify(owners(lease))}`);
      const managers = [...(first.metadata.managedFields ?? []), ...(lease.metadata.managedFields ?? [])].map(
        (e) => e.manager,
      );
      expect(new Set(managers)).toEqual(new Set(['pitrix-operator']));
    } finally {
      await le.release();
    }
  });
});
