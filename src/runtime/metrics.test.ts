/** The gauges the dashboard reads that are not plain counters: SSH connections open, zone locks. */
import { describe, expect, it } from 'vitest';
import { OperatorMetrics, stepLabel } from './metrics.js';
import { zoneLockLabels } from './zonelocks.js';

async function value(m: OperatorMetrics, name: string): Promise<Array<{ labels: object; value: number }>> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  return (await metric.get()).values.map((v) => ({ labels: v.labels, value: v.value }));
}

describe('SSH observer', () => {
  it('counts connections open per host and failures by reason', async () => {
    const m = new OperatorMetrics({ processMetrics: false });
    const o = m.sshObserver();
    o.onConnect?.('firstbox', 12);
    o.onConnect?.('firstbox', 9);
    o.onConnect?.('10.16.0.33', 5);
    o.onDisconnect?.('firstbox');
    o.onFailure?.('10.16.0.34', 'auth');
    expect(await value(m, 'pitrix_operator_ssh_connections')).toEqual([
      { labels: { host: 'firstbox' }, value: 1 },
      { labels: { host: '10.16.0.33' }, value: 1 },
    ]);
    expect(await value(m, 'pitrix_operator_ssh_failures_total')).toEqual([
      { labels: { host: '10.16.0.34', reason: 'auth' }, value: 1 },
    ]);
  });
});

describe('zone locks held', () => {
  const locked = (name: string, lock?: object) => ({
    metadata: { namespace: 'zones', name },
    status: { lock },
  });

  it('reports the locks the Zones record at scrape time, and drops released ones', async () => {
    const m = new OperatorMetrics({ processMetrics: false });
    let zones = [
      locked('pek3a', { holder: { kind: 'NodePool', name: 'hyper-b', uid: 'u1' }, operation: 'ScaleOut' }),
      locked('pek3b'),
    ];
    m.zoneLocksFrom(() => zones);
    expect(await value(m, 'pitrix_operator_zone_locks_held')).toEqual([
      {
        labels: {
          namespace: 'zones',
          zone: 'pek3a',
          operation: 'ScaleOut',
          holder_kind: 'NodePool',
          holder_name: 'hyper-b',
        },
        value: 1,
      },
    ]);
    zones = [locked('pek3a'), locked('pek3b')];
    expect(await value(m, 'pitrix_operator_zone_locks_held')).toEqual([]);
  });

  it('reads no lock from a Zone without status, and empty labels from a malformed one', () => {
    expect(zoneLockLabels({ metadata: { name: 'z' } })).toBeUndefined();
    expect(zoneLockLabels({ metadata: { name: 'z' }, status: { lock: { holder: { kind: 7 } } } })).toEqual({
      namespace: '',
      zone: 'z',
      operation: '',
      holder_kind: '',
      holder_name: '',
    });
  });
});

describe('step label', () => {
  it("is the step's typed action, or its id when it has none, never a piece of the id", async () => {
    expect(stepLabel({ id: 'scaleQingcloud' })).toBe('scaleQingcloud');
    expect(stepLabel({ id: 'launchVm-webservice1', action: 'launchVm' })).toBe('launchVm');
    expect(stepLabel({ id: 'modifyNodeAttributes-10.0.0.5-sdb', action: 'modifyNodeAttributes' })).toBe(
      'modifyNodeAttributes',
    );
    const m = new OperatorMetrics({ processMetrics: false });
    m.stepFinished('NodePool', { id: 'checkServices-hyper', action: 'checkServices' }, 'Failed', 2);
    m.stepFinished('NodePool', { id: 'checkServices-vg', action: 'checkServices' }, 'Failed', 1);
    expect(await value(m, 'pitrix_operator_step_failures_total')).toEqual([
      { labels: { kind: 'NodePool', step: 'checkServices' }, value: 2 },
    ]);
  });
});

describe('controller counters', () => {
  it('exist at 0 for each controller from its start, as controller-runtime initialises them', async () => {
    const m = new OperatorMetrics({ processMetrics: false });
    expect(await value(m, 'controller_runtime_reconcile_errors_total')).toEqual([]);
    m.initController('nodepool');
    expect(await value(m, 'controller_runtime_reconcile_errors_total')).toEqual([
      { labels: { controller: 'nodepool' }, value: 0 },
    ]);
    expect(await value(m, 'workqueue_retries_total')).toEqual([
      { labels: { name: 'nodepool', controller: 'nodepool' }, value: 0 },
    ]);
    expect((await value(m, 'controller_runtime_reconcile_total')).map((v) => v.labels)).toEqual(
      ['success', 'error', 'requeue', 'requeue_after'].map((result) => ({ controller: 'nodepool', result })),
    );
  });
});
